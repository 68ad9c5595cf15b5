"""Answer-type consistency: a question that asks for a count, an amount or a date is not answered by a name.

Small generators often write a fair-looking question whose question word does not fit the answer they were
given or chose: "ドミニカ国にいる人が何人か？" -> "ドミニカ国", "How many people live there?" -> "the capital".
Such a pair reads as a question and its answer is in the passage, so the other rules accept it, yet it
teaches a QA model the wrong thing. Only two types are checked, because only they can be checked from the
strings alone with few false alarms on human pairs (bench/japanese_question_rule.py reports the rate on
JSQuAD). Japanese and English only; other languages are not checked:

- count: 何 with a counter ("何年", "何人", "何メートル"), いくつ, いくら, どれくらい; "how many", "how much",
  "how old", "what year", "what percentage": the answer must hold a number (digits, kanji numerals, or a
  number word; "何人" may also ask for a nationality: "ポルトガル人");
- time: いつ, "when": the answer must hold a number or a word of time ("江戸時代", "戦後", "the Middle Ages").

A question word used as an indefinite ("いくつかの国", "何年も", "いつも") asks for nothing. No Django here.
"""

from __future__ import annotations

import re
from enum import StrEnum

from generation.ja_question_words import CLAUSE_BREAK, EMBEDDED, INDEFINITE_TAIL


class AnswerType(StrEnum):
    COUNT = "count"
    TIME = "time"


_JA_COUNTERS = (
    "年代|年間|年|か月|ヶ月|カ月|ヵ月|月|日間|日|時間|分|秒|歳|才|回|個|本|度|％|%|パーセント|番目|番|世紀|割|倍|曲|点|位|"
    "キロメートル|キロ|メートル|トン|円|ドル|冊|枚|台|隻|機|頭|羽|匹|カ国|か国|ヶ国|ヵ国|万|億|千|百|名|階|件|社|校|種類|種|"
    "巻|話|作品|代目|代|号|条|か所|ヶ所|カ所|箇所|週|平方|グラム|リットル|段階|段|票|議席|試合|勝|敗|駅|字|文字|次|期|人"
)
_JA_INDEFINITE = rf"(?!{INDEFINITE_TAIL})"  # "何年も", "いくつかの": not asking
# A kanji counter followed by another kanji is part of a longer word: "何分解" (what decomposition), "何社会".
_JA_COUNT = re.compile(
    rf"(?:何(?P<counter>{_JA_COUNTERS})(?:(?<![\u4e00-\u9fff])|(?![\u4e00-\u9fff]))|いくつ|幾つ|いくら|どれくらい|どのくらい|どれぐらい|どのぐらい"
    rf"|どれほど|どれだけ){_JA_INDEFINITE}"
)
_JA_TIME = re.compile(rf"いつ{_JA_INDEFINITE}")
# Nor inside a quotation ("「生命は、いつ、どこで誕生したのか」という問い") or an embedded question (EMBEDDED).
_JA_QUOTED = re.compile(r"「[^「」]*」|『[^『』]*』")

_EN_COUNT = re.compile(
    r"\b(?:how (?:many|much|old)|(?:what|which) (?:year|percentage|percent|number|age)|in (?:what|which) year)\b",
    re.IGNORECASE,
)
_EN_TIME = re.compile(r"^\W*when\b|\bwhen (?:did|was|were|is|are|do|does|will|had|has|have)\b", re.IGNORECASE)

_JA_NUMBER = re.compile(r"[0-9０-９〇零一二三四五六七八九十百千万億兆半数幾]")
_JA_TIME_WORD = re.compile(
    r"時代|世紀|年|頃|ころ|期|前|後|末|初|中|明治|大正|昭和|平成|令和|江戸|戦|春|夏|秋|冬|朝|夜|昼|当時|現在|以降|以前|まで|から|時|代"
)
_EN_NUMBER = re.compile(
    r"\d|\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
    r"thousands?|millions?|billions?|trillions?|dozens?|half|quarter|several|few|many|couple|percent|none|no)\b",
    re.IGNORECASE,
)
_EN_TIME_WORD = re.compile(
    r"\b(?:century|centuries|era|age|ages|year|years|decade|month|week|day|today|yesterday|tomorrow|morning|"
    r"afternoon|evening|night|spring|summer|autumn|fall|winter|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|before|after|"
    r"during|until|since|ago|war|period|dynasty|reign|times?|when|once|now|then|later|early|late)\b",
    re.IGNORECASE,
)


def _base(language: str) -> str:
    return language.split("-")[0].lower()


def _ja_asking(pattern: re.Pattern[str], question: str) -> re.Match[str] | None:
    text = _JA_QUOTED.sub("「」", question)
    for match in pattern.finditer(text):
        clause = CLAUSE_BREAK.split(text[match.end() :])[0]
        if not EMBEDDED.search(clause):
            return match
    return None


def _asked(question: str, language: str) -> tuple[AnswerType, str | None] | None:
    """The type the question asks for and, for a Japanese count, the counter it asks with ("人" in "何人")."""
    base = _base(language)
    if base == "ja":
        count = _ja_asking(_JA_COUNT, question)
        if count:
            return AnswerType.COUNT, count.group("counter")
        return (AnswerType.TIME, None) if _ja_asking(_JA_TIME, question) else None
    if base != "en":
        return None
    if _EN_COUNT.search(question):
        return AnswerType.COUNT, None
    return (AnswerType.TIME, None) if _EN_TIME.search(question) else None


def expected_type(question: str, language: str) -> AnswerType | None:
    """The type the question asks for, or None when it does not ask for a checked type."""
    asked = _asked(question, language)
    return asked[0] if asked else None


def answer_fits(question: str, answer: str, language: str) -> bool:
    """False only when the question asks for a count or a time and the answer holds none. A Japanese answer
    that ends in the question's counter names rather than counts, which "何人" / "何社" may also ask for
    ("ポルトガル人", "フィリップス社"); so does one ending in 族 or 系 for "何人"."""
    asked = _asked(question, language)
    if asked is None:
        return True
    expected, counter = asked
    japanese = _base(language) == "ja"
    if (_JA_NUMBER if japanese else _EN_NUMBER).search(answer):
        return True
    if expected is AnswerType.TIME:
        return bool((_JA_TIME_WORD if japanese else _EN_TIME_WORD).search(answer))
    names = (counter, "族", "系") if counter == "人" else (counter,) if counter else ()
    return bool(names) and answer.rstrip().endswith(names)
