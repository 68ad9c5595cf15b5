"""The copy guard: while a local model writes a question, the words of the one-shot example's questions and
answers that the passage asked about does not contain are made less likely (a logit penalty per token,
decoding.engine.RowTokenPenalty).

Why: small models asked about a passage with an example in front of them often write about the example
instead ("質点に働く力のポテンシャルエネルギーの微分係数は何ですか？" of a passage on something else). Validation
rejects those pairs (``exemplar_copy``), so a copy costs a completion and yields nothing. A question about
the passage needs the passage's words, the answer and question phrasing; the example pairs' content words
are what a copy is made of (the rest of the example's passage matters less: exemplars cut to their answers'
sentences copied as often, README). Words of an example question that its passage lacks are phrasing, as the
copy check treats them (generation.validation), and a short list of phrasing words is allowed even where
the example's passage happens to use them ("何", "年", "what"). A deviation from the paper's method, measured
in bench/synthesis_yield.py (setting ``answerg``).
"""

from __future__ import annotations

from generation.engine.base import CopyGuard
from generation.exemplars import Exemplar

PENALTY: float = CopyGuard.penalty  # one literal, in CopyGuard
"""Logits, subtracted: e^-8 makes a guarded token ~3,000 times less likely, so greedy decoding takes it only
when the model is all but sure of it (a finite penalty, not a ban, so a word the phrasing list lacks can
still be written when nothing else fits)."""

PHRASING = {
    "ja": (
        "何 なに なん 何年 何月 何日 何人 何回 何歳 何番目 何か 何が 何を 誰 だれ どこ いつ どの どんな どう"
        " どのように どのような どれ どちら いくつ いくら なぜ 何故 ですか ますか でしたか ましたか ですか？ か？ ？"
        " 年 月 日 人 回 つ 個"
        " 歳 番目 最も 一番 主な 主に 初めて 最初 呼ばれる 呼ばれた 呼ぶ 言う いう 名前 名称 する した される"
        " された ある あった いる いた なる なった もの こと ところ 場所 時期 理由 目的 方法"
    ),
    "en": (
        "what which who whom whose where when why how many much long does do did is are was were has have had"
        " the a an of in on at to for by with from as that this called named known year years first most ?"
    ),
}


def guard_for(exemplar: Exemplar, passage: str, answer: str, language: str, *, penalty: float = PENALTY) -> CopyGuard:
    """The guard for one prompt: avoid the content words of the example's questions and answers (those its
    passage has too); allow the passage, the answer asked about (answer-aware prompts) and the language's
    question phrasing."""
    avoid = tuple(text for pair in exemplar.pairs for text in pair)
    phrasing = PHRASING.get(language, PHRASING["en"]).split()
    allow = tuple(part for part in (passage, answer, *phrasing) if part)
    return CopyGuard(avoid=avoid, allow=allow, content=(exemplar.passage,), penalty=penalty)
