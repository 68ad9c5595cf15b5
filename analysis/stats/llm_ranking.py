"""Would an LLM judge have ranked K systems as the human judges did? Two results of
``compute_ranking_statistics`` (one from human judgments, one from the LLM's order-consistent verdicts on the
same items and pairs) set side by side. NumPy/SciPy only, like the rest of the engine.

The comparison reads only the two results, so it holds whatever produced them: the LLM's figures never enter
the human result (each is computed from its own arrays).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from analysis.stats.llm_agreement import intervals_overlap

RULES: tuple[str, ...] = (
    "The LLM's ranking is computed exactly as the human one (same items, same models and bootstrap), from one "
    "verdict per item and pair of systems: its order-consistent labels and preference (an order-inconsistent "
    "preference is a tie).",
    "Kendall's tau-b between the human and the LLM headline strengths when both rankings give every system a "
    "finite strength; otherwise (a system that never lost, e.g. a perfectly consistent judge, or only ties) "
    "between their win shares (each system's share of its decisive comparisons won). The best system is the one "
    "with the highest value on that basis; the same best system means the same one in both.",
    "A pair's conclusion is the system preferred on more items when its Holm-adjusted sign test is below "
    "{alpha}, else 'no difference'. The LLM reaches the humans' conclusion on a pair when the two conclusions "
    "are equal; 'same direction' only compares which system won more items.",
    "An LLM rank is inside the human rank interval when it lies within the human {level} bootstrap rank interval.",
)


def _headline(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    ranking = result.get("ranking") or {}
    model = ranking.get("headline") or "davidson"
    return {row["system"]: dict(row.get(model) or {}) for row in ranking.get("systems") or []}


def _pairs(result: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {tuple(pair["systems"]): pair for pair in (result.get("pairwise") or {}).get("pairs") or []}


def pair_conclusion(pair: Mapping[str, Any], alpha: float) -> str | None:
    """ "a", "b" or "none" (no significant difference); None when the sign test is undefined (no decisive item)."""
    by_item = pair["preference"]["by_item"]
    p = by_item.get("sign_test_p_holm")
    if p is None:
        return None
    if p >= alpha or by_item["a_wins"] == by_item["b_wins"]:
        return "none"
    return "a" if by_item["a_wins"] > by_item["b_wins"] else "b"


def _direction(pair: Mapping[str, Any]) -> int | None:
    by_item = pair["preference"]["by_item"]
    if by_item["a_wins"] + by_item["b_wins"] == 0:
        return None
    return int(np.sign(by_item["a_wins"] - by_item["b_wins"]))


def _inside(rank: int | None, interval: list[int] | None) -> bool | None:
    if rank is None or interval is None:
        return None
    return bool(interval[0] <= rank <= interval[1])


def win_shares(result: Mapping[str, Any]) -> dict[str, float | None]:
    """Per system, the share of its decisive comparisons (judgments with a preference, ties left out) it won,
    over every pair: finite even when a system never lost, where Bradley-Terry strengths are unbounded."""
    won: dict[str, int] = dict.fromkeys(result["systems"], 0)
    decisive = dict(won)
    for pair in (result.get("pairwise") or {}).get("pairs") or []:
        first, second = pair["systems"]
        counts = pair["preference"]["by_judgment"]
        won[first] += counts["a_wins"]
        won[second] += counts["b_wins"]
        decisive[first] += counts["a_wins"] + counts["b_wins"]
        decisive[second] += counts["a_wins"] + counts["b_wins"]
    return {name: (won[name] / decisive[name] if decisive[name] else None) for name in won}


def _top(names: list[str], values: np.ndarray) -> list[str]:
    if not np.isfinite(values).any():
        return []
    best = np.nanmax(values)
    return sorted(name for name, value in zip(names, values, strict=True) if np.isfinite(value) and value == best)


def compare_rankings(human: Mapping[str, Any], llm: Mapping[str, Any], *, confidence: float = 0.95) -> dict[str, Any]:
    """The human and LLM rankings of the same systems, per system and per pair, and whether they agree.

    Both arguments are ``compute_ranking_statistics`` results over the same systems (raises ValueError if not)."""
    if list(human["systems"]) != list(llm["systems"]):
        raise ValueError(f"the rankings are of different systems: {human['systems']} and {llm['systems']}")
    alpha = 1 - confidence
    names = list(human["systems"])
    human_rows, llm_rows = _headline(human), _headline(llm)
    systems: list[dict[str, Any]] = []
    for name in names:
        h, m = human_rows.get(name, {}), llm_rows.get(name, {})
        h_acc = human["accuracy"][name]["by_majority"]["correct"]
        m_acc = llm["accuracy"][name]["by_majority"]["correct"]
        systems.append(
            {
                "system": name,
                "human": {k: h.get(k) for k in ("strength", "strength_ci", "rank", "rank_interval")},
                "llm": {k: m.get(k) for k in ("strength", "strength_ci", "rank", "rank_interval")},
                "accuracy_correct": {"human": h_acc, "llm": m_acc},
                "llm_rank_inside_human_interval": _inside(m.get("rank"), h.get("rank_interval")),
            }
        )
    h_share, m_share = win_shares(human), win_shares(llm)
    for row in systems:
        row["win_share"] = {"human": h_share.get(row["system"]), "llm": m_share.get(row["system"])}
    finite = all(row[who]["strength"] is not None for row in systems for who in ("human", "llm"))
    basis = "strength" if finite else "win_share"
    if finite:
        h_values = np.array([row["human"]["strength"] for row in systems], dtype=float)
        m_values = np.array([row["llm"]["strength"] for row in systems], dtype=float)
    else:
        h_values = np.array([np.nan if h_share.get(n) is None else h_share[n] for n in names], dtype=float)
        m_values = np.array([np.nan if m_share.get(n) is None else m_share[n] for n in names], dtype=float)
    usable = np.isfinite(h_values) & np.isfinite(m_values)
    tau = p_value = None
    if usable.sum() >= 2:
        tau_value, p = stats.kendalltau(h_values[usable], m_values[usable])
        if np.isfinite(tau_value):
            tau, p_value = float(tau_value), float(p)
    best_h, best_m = _top(names, h_values), _top(names, m_values)
    human_pairs, llm_pairs = _pairs(human), _pairs(llm)
    pairs: list[dict[str, Any]] = []
    for key, h_pair in human_pairs.items():
        m_pair = llm_pairs.get(key)
        if m_pair is None:
            continue
        h_conclusion, m_conclusion = pair_conclusion(h_pair, alpha), pair_conclusion(m_pair, alpha)
        h_dir, m_dir = _direction(h_pair), _direction(m_pair)
        h_rate = h_pair["preference"]["by_judgment"]["win_rate_a"]
        m_rate = m_pair["preference"]["by_judgment"]["win_rate_a"]
        pairs.append(
            {
                "systems": list(key),
                "human": {
                    "by_item": {k: h_pair["preference"]["by_item"][k] for k in ("a_wins", "ties", "b_wins")},
                    "win_rate_a": h_rate,
                    "sign_test_p_holm": h_pair["preference"]["by_item"].get("sign_test_p_holm"),
                    "conclusion": h_conclusion,
                },
                "llm": {
                    "by_item": {k: m_pair["preference"]["by_item"][k] for k in ("a_wins", "ties", "b_wins")},
                    "win_rate_a": m_rate,
                    "sign_test_p_holm": m_pair["preference"]["by_item"].get("sign_test_p_holm"),
                    "conclusion": m_conclusion,
                },
                "same_direction": None if h_dir is None or m_dir is None else h_dir == m_dir,
                "same_conclusion": None
                if h_conclusion is None or m_conclusion is None
                else h_conclusion == m_conclusion,
                "win_rate_intervals_overlap": intervals_overlap(h_rate.get("ci"), m_rate.get("ci")),
            }
        )
    decided = [p["same_conclusion"] for p in pairs if p["same_conclusion"] is not None]
    return {
        "rules": [r.replace("{alpha}", f"{alpha:g}").replace("{level}", f"{confidence:.0%}") for r in RULES],
        "headline_model": (human.get("ranking") or {}).get("headline"),
        "systems": systems,
        "basis": basis,
        "kendall_tau": {"tau": tau, "p_value": p_value, "n_systems": int(usable.sum()), "basis": basis},
        "best": {"human": best_h, "llm": best_m, "same": (best_h == best_m) if best_h and best_m else None},
        "pairs": pairs,
        "n_pairs_same_conclusion": int(sum(decided)),
        "n_pairs_compared": len(decided),
        "same_conclusion": (all(decided) and bool(best_h) and best_h == best_m) if decided else None,
    }
