"""How well the Japanese "is this a question?" rule (generation.validation.is_question) separates questions
from statements, on JSQuAD validation: every human question should pass, and no passage sentence should.
Also how many human pairs the answer-type check (generation.answer_types) would reject: ideally none.

- questions: the 4,442 human questions (each should pass; the ones rejected are listed with --show);
- statements: every sentence of the passages longer than 8 characters that does not end in "？", and the
  first two-thirds of each one longer than 20 characters, since a model cut at its token limit leaves a
  statement unfinished (none should pass).

Prints the counts for the rule in generation/validation.py and for the rule before it (a question form at
the end, or a question word anywhere), so a change to either list shows its price in human questions.

    .venv/bin/python bench/japanese_question_rule.py [--jsquad PATH] [--show 20]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from generation.answer_types import answer_fits, expected_type  # noqa: E402
from generation.validation import _JA_QUESTION_END, _ZH_QUESTION_WORDS, is_question  # noqa: E402

JSQUAD = ROOT.parent / "shared" / "data" / "jsquad-valid-v1.3.json"


def human_pairs(data: dict) -> list[tuple[str, str]]:
    return [
        (qa["question"], qa["answers"][0]["text"])
        for article in data["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
        if qa["answers"]
    ]


def questions_and_statements(data: dict) -> tuple[list[str], list[str]]:
    questions: list[str] = []
    statements: list[str] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"].split("[SEP]")[-1]
            for sentence in re.split(r"(?<=。)", context):
                sentence = sentence.strip()
                if len(sentence) > 8 and not sentence.endswith(("？", "?")):
                    statements.append(sentence)
                    if len(sentence) > 20:
                        statements.append(sentence[: len(sentence) * 2 // 3])
            questions += [qa["question"] for qa in paragraph["qas"]]
    return questions, statements


# The question forms as they were before.
_BEFORE_END = re.compile(
    r"(?:[?？]|か|かい|かな|の|は|とは|という|って|でしょう|(?:答え|こたえ|あげ|挙げ|述べ)(?:よ|なさい)|教えて(?:ください)?|言うと)"
    r"[\s。．.」』)）]*$"
)


def before(text: str) -> bool:
    """The rule before the question-word refinement: a question form at the end or a question word anywhere."""
    text = text.strip()
    return bool(text) and bool(_BEFORE_END.search(text) or _ZH_QUESTION_WORDS.search(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jsquad", type=Path, default=JSQUAD)
    parser.add_argument("--show", type=int, default=0, help="list this many misjudged texts of each kind")
    args = parser.parse_args()
    data = json.loads(args.jsquad.read_text(encoding="utf-8"))
    questions, statements = questions_and_statements(data)
    rules = {
        "before (question word anywhere)": (before, _BEFORE_END),
        "now (generation.validation)": (lambda t: is_question(t, "ja"), _JA_QUESTION_END),
    }
    print(f"JSQuAD validation: {len(questions)} human questions, {len(statements)} statements")
    for name, (rule, end) in rules.items():
        rejected = [q for q in questions if not rule(q)]
        passed = [s for s in statements if rule(s)]
        by_word = [s for s in passed if not end.search(s)]
        print(
            f"  {name:34} human questions rejected {len(rejected):4} ({len(rejected) / len(questions):.1%}); "
            f"statements passed {len(passed):4} ({len(passed) / len(statements):.1%}), "
            f"{len(by_word)} of them through a question word"
        )
        if args.show:
            rng = random.Random(0)
            for text in rng.sample(rejected, min(args.show, len(rejected))):
                print(f"      rejected question: {text}")
            for text in rng.sample(by_word, min(args.show, len(by_word))):
                print(f"      passed statement:  {text}")
    pairs = human_pairs(data)
    typed = [(q, a) for q, a in pairs if expected_type(q, "ja")]
    mismatched = [(q, a) for q, a in typed if not answer_fits(q, a, "ja")]
    print(
        f"answer types: {len(typed)} of {len(pairs)} human pairs ask for a count or a time; {len(mismatched)} rejected"
    )
    for question, answer in mismatched[: args.show]:
        print(f"      rejected pair: {question} -> {answer}")


if __name__ == "__main__":
    main()
