"""From votes to verdicts: the majority of n votes per order, then one order-consistent verdict per pair.

Rules (also stated in ``RULES`` for pages and exports):
- A vote is a complete parsed output; incomplete or unparseable outputs are counted, never used.
- Per order, each field (label of answer 1, label of answer 2, preference) takes the value given by strictly
  more votes than any other value; otherwise that order has no value for it (a vote tie).
- Positions are turned into systems: in order "ab" answer 1 is system A's, in "ba" it is system B's.
- The pair's label for a system is the label both orders agree on; when they differ the label is
  inconsistent and the pair has no label for that system (like a human tie, it is left out of accuracy).
- The pair's preference is the one both orders agree on. When the orders disagree (the verdict follows
  the position, not the answers), the pair is inconsistent and its preference counts as a tie.
- A pair with an order lacking a value is incomplete for that field: no value, counted separately.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from analysis.engine.parsing import ParsedVerdict
from analysis.engine.templates import ORDERS, Order

SystemPreference = Literal["a", "b", "tie"]
PairStatus = Literal["consistent", "inconsistent", "incomplete"]

RULES: tuple[str, ...] = (
    "Every pair is judged twice: once with system A's answer shown first and once with system B's answer first.",
    "A vote is one model output with a label for each answer and a preference; an output without all three "
    "is counted as unparseable and not used (its raw text is kept).",
    "With n votes per order, each field takes the value given by strictly more votes than any other value; "
    "a vote tie leaves the order without a value for that field.",
    "The final label of a system's answer is the label both orders agree on; if they differ the label is "
    "inconsistent and the answer has no LLM label (left out of accuracy, like a human tie).",
    "The final preference is the one both orders agree on; if the orders disagree the pair is inconsistent "
    "and its preference counts as a tie. The position flip rate is inconsistent pairs / pairs with a "
    "preference in both orders.",
)


@dataclass(frozen=True)
class Vote:
    """One output for one (pair, order): the raw text is kept whatever the parse gave."""

    pair_key: Hashable
    order: Order
    vote: int
    raw: str
    parsed: ParsedVerdict
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def key(self) -> tuple[Hashable, Order, int]:
        return (self.pair_key, self.order, self.vote)


def strict_majority(values: Iterable[Any]) -> tuple[Any | None, int]:
    """The value given strictly more often than any other, and how often; (None, top count) on a tie."""
    counts = Counter(v for v in values if v is not None).most_common()
    if not counts:
        return None, 0
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None, counts[0][1]
    return counts[0]


@dataclass(frozen=True)
class OrderVerdict:
    """The majority of one order's votes, in position terms."""

    order: Order
    n_outputs: int
    n_votes: int  # complete (parsed) outputs
    label_1: str | None
    label_2: str | None
    preference: str | None  # "1", "2", "tie"
    preference_share: float | None  # votes for the majority preference / votes

    @property
    def n_unparseable(self) -> int:
        return self.n_outputs - self.n_votes

    def in_systems(self) -> tuple[str | None, str | None, SystemPreference | None]:
        """(label of A's answer, label of B's answer, preference "a"/"b"/"tie")."""
        first, second = ("a", "b") if self.order == "ab" else ("b", "a")
        labels = {first: self.label_1, second: self.label_2}
        pref = {"1": first, "2": second, "tie": "tie", None: None}[self.preference]
        return labels["a"], labels["b"], pref  # type: ignore[return-value]


def order_verdict(order: Order, outputs: Sequence[ParsedVerdict]) -> OrderVerdict:
    votes = [o for o in outputs if o.complete]
    pref, pref_count = strict_majority(v.preference for v in votes)
    return OrderVerdict(
        order=order,
        n_outputs=len(outputs),
        n_votes=len(votes),
        label_1=strict_majority(v.label_1 for v in votes)[0],
        label_2=strict_majority(v.label_2 for v in votes)[0],
        preference=pref,
        preference_share=(pref_count / len(votes)) if (votes and pref is not None) else None,
    )


@dataclass(frozen=True)
class PairVerdict:
    """The final, order-consistent verdict of one pair, in system terms, with what led to it."""

    pair_key: Hashable
    label_a: str | None
    label_b: str | None
    preference: SystemPreference | None
    status: PairStatus  # of the preference: consistent, inconsistent (counted as a tie) or incomplete
    labels_consistent: tuple[bool | None, bool | None]  # per system; None when an order has no label
    first_position_both: bool  # inconsistent because answer 1 won in both orders
    confidence: float | None  # lowest majority share of the preference over the two orders
    orders: dict[str, OrderVerdict] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label_a": self.label_a,
            "label_b": self.label_b,
            "preference": self.preference,
            "status": self.status,
            "labels_consistent": list(self.labels_consistent),
            "first_position_both": self.first_position_both,
            "confidence": self.confidence,
        }


def _agreed(first: str | None, second: str | None) -> tuple[str | None, bool | None]:
    if first is None or second is None:
        return None, None
    return (first, True) if first == second else (None, False)


def pair_verdict(pair_key: Hashable, ab: OrderVerdict, ba: OrderVerdict) -> PairVerdict:
    """Combine the two orders of one pair (see the module rules)."""
    if (ab.order, ba.order) != ORDERS:
        raise ValueError(f"pair {pair_key!r}: expected orders ('ab', 'ba'), got ({ab.order!r}, {ba.order!r})")
    a1, b1, p1 = ab.in_systems()
    a2, b2, p2 = ba.in_systems()
    label_a, consistent_a = _agreed(a1, a2)
    label_b, consistent_b = _agreed(b1, b2)
    status: PairStatus
    if p1 is None or p2 is None:
        preference, status = None, "incomplete"
    elif p1 == p2:
        preference, status = p1, "consistent"
    else:
        preference, status = "tie", "inconsistent"
    shares = [s for s in (ab.preference_share, ba.preference_share) if s is not None]
    return PairVerdict(
        pair_key=pair_key,
        label_a=label_a,
        label_b=label_b,
        preference=preference,
        status=status,
        labels_consistent=(consistent_a, consistent_b),
        first_position_both=ab.preference == "1" and ba.preference == "1",
        confidence=min(shares) if len(shares) == 2 else None,
        orders={"ab": ab, "ba": ba},
    )


def aggregate(votes: Iterable[Vote], pair_keys: Sequence[Hashable] | None = None) -> dict[Hashable, PairVerdict]:
    """Final verdicts of every pair from all its stored votes (pairs without any output are left out unless
    named in ``pair_keys``, where they come out incomplete)."""
    by_pair: dict[Hashable, dict[str, list[ParsedVerdict]]] = {}
    seen: set[tuple[Hashable, Order, int]] = set()
    for vote in votes:
        if vote.key in seen:
            raise ValueError(f"vote {vote.vote} of pair {vote.pair_key!r} in order {vote.order!r} appears twice")
        seen.add(vote.key)
        by_pair.setdefault(vote.pair_key, {"ab": [], "ba": []})[vote.order].append(vote.parsed)
    keys = list(pair_keys) if pair_keys is not None else list(by_pair)
    out = {}
    for key in keys:
        outputs = by_pair.get(key, {"ab": [], "ba": []})
        out[key] = pair_verdict(key, order_verdict("ab", outputs["ab"]), order_verdict("ba", outputs["ba"]))
    return out


def run_summary(verdicts: Iterable[PairVerdict]) -> dict[str, Any]:
    """Counts of a run: outputs, unparseable ones, consistent/inconsistent/incomplete pairs, flip rate,
    how often answer 1 won when the verdict flipped, and how often each system's label was inconsistent."""
    verdicts = list(verdicts)
    n_outputs = sum(o.n_outputs for v in verdicts for o in v.orders.values())
    n_unparseable = sum(o.n_unparseable for v in verdicts for o in v.orders.values())
    status = Counter(v.status for v in verdicts)
    both_orders = status["consistent"] + status["inconsistent"]
    decisive_orders = [o.preference for v in verdicts for o in v.orders.values() if o.preference in ("1", "2")]
    label_checks = [c for v in verdicts for c in v.labels_consistent if c is not None]
    return {
        "n_pairs": len(verdicts),
        "n_outputs": n_outputs,
        "n_unparseable": n_unparseable,
        "unparseable_rate": n_unparseable / n_outputs if n_outputs else None,
        "n_consistent": status["consistent"],
        "n_inconsistent": status["inconsistent"],
        "n_incomplete": status["incomplete"],
        "position_flip_rate": status["inconsistent"] / both_orders if both_orders else None,
        "n_first_position_both": sum(v.first_position_both for v in verdicts),
        "first_position_win_share": (
            sum(p == "1" for p in decisive_orders) / len(decisive_orders) if decisive_orders else None
        ),
        "n_label_inconsistent": sum(not c for c in label_checks),
        "label_flip_rate": sum(not c for c in label_checks) / len(label_checks) if label_checks else None,
    }
