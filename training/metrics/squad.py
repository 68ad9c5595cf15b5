"""Exact match and token F1 with SQuAD's answer normalisation; character-level for Japanese and Chinese.

SQuAD splits on whitespace, which makes no sense for Japanese (no spaces): there each character is a token,
the usual convention for JSQuAD-style evaluation. With several gold answers an item scores the max over them.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence

CHAR_LEVEL_LANGUAGES = frozenset({"ja", "zh"})
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_ASCII_PUNCT = set(string.punctuation)


def _lang(language: str) -> str:
    return (language or "en").lower().split("-")[0]


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str, language: str = "en") -> str:
    """SQuAD v1.1 normalisation (lower, drop punctuation, drop English articles, squeeze spaces).

    For character-level languages the text is NFKC-normalised first (full-width letters and digits become
    ASCII, as Japanese answers mix both) and all whitespace is removed.
    """
    lang = _lang(language)
    if lang in CHAR_LEVEL_LANGUAGES:
        text = unicodedata.normalize("NFKC", text).lower()
        return "".join(ch for ch in text if not _is_punct(ch) and not ch.isspace())
    text = text.lower()
    text = "".join(ch for ch in text if not _is_punct(ch))
    if lang == "en":
        text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def answer_tokens(text: str, language: str = "en") -> list[str]:
    normalized = normalize_answer(text, language)
    if _lang(language) in CHAR_LEVEL_LANGUAGES:
        return list(normalized)
    return normalized.split()


def exact_match(prediction: str, gold: str, language: str = "en") -> float:
    return float(normalize_answer(prediction, language) == normalize_answer(gold, language))


def token_f1(prediction: str, gold: str, language: str = "en") -> float:
    """Harmonic mean of token precision and recall (bag of tokens, as SQuAD); both empty counts as a match."""
    pred, ref = answer_tokens(prediction, language), answer_tokens(gold, language)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_exact_match(prediction: str, golds: Sequence[str], language: str = "en") -> float:
    return max(exact_match(prediction, g, language) for g in golds)


def best_token_f1(prediction: str, golds: Sequence[str], language: str = "en") -> float:
    return max(token_f1(prediction, g, language) for g in golds)
