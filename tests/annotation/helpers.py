"""Small builders for judging tests: a session with n items and k slots, and a quick judge."""

from __future__ import annotations

from annotation.models import JudgingSession
from annotation.services.judging import Submission
from annotation.services.sessions import ItemData, create_session

SYSTEM_A = "zeroshot-smollm2-run-4711"
SYSTEM_B = "oneshot-smollm2-run-4712"


def items(n: int, *, japanese: bool = False) -> list[ItemData]:
    result = []
    for i in range(n):
        if japanese:
            result.append(
                ItemData(
                    question=f"富士山の高さは何メートルですか。（{i + 1}）",
                    context="富士山は日本で最も高い山で、標高は3776メートルです。静岡県と山梨県にまたがっています。",
                    gold_answers=["3776メートル"],
                    answer_a=f"3776メートル{'です' if i % 2 else ''}",
                    answer_b="およそ4000メートル",
                    external_id=f"ja-{i}",
                )
            )
        else:
            result.append(
                ItemData(
                    question=f"Question number {i + 1}: what colour is item {i + 1}?",
                    context=f"Item {i + 1} is painted blue. It was made in {1900 + i}.",
                    gold_answers=[f"blue {i + 1}"],
                    answer_a=f"left-or-right answer alpha {i + 1}",
                    answer_b=f"left-or-right answer beta {i + 1}",
                    external_id=f"item-{i}",
                )
            )
    return result


def make_session(n: int = 6, k: int = 2, judges=(), **kwargs) -> JudgingSession:
    defaults = dict(
        name="Which answer is better?",
        system_a=SYSTEM_A,
        system_b=SYSTEM_B,
        items=items(n, japanese=kwargs.pop("japanese", False)),
        judges_per_item=k,
        judges=judges,
    )
    defaults.update(kwargs)
    return create_session(**defaults)


def answer(left: str = "correct", right: str = "incorrect", preference: str = "left", **kwargs) -> Submission:
    return Submission(left_label=left, right_label=right, preference=preference, **kwargs)
