"""Agreement among judges: percent agreement, Fleiss' kappa, Gwet's AC1, Krippendorff's alpha, Cohen's kappa.

Each multi-judge coefficient is a function of a few sums of per-unit features (``unit_features``), so the
point estimate sums over units and a bootstrap replicate sums the same features with resampling weights:
one matrix product instead of one library call per replicate. Cohen's kappa per pair follows from the
pair's contingency table in the same way. Undefined coefficients (chance agreement 1, e.g. one label used
by everyone, or no unit rated twice) come out as NaN here and as None in the summary.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analysis.stats.coding import (
    LOOKUP_LIMIT,
    MISSING,
    TIE,
    category_counts,
    check_codes,
    count_strides,
    pack_counts,
    plurality,
    plurality_table,
)

UNDEFINED_TOLERANCE = 1e-12
"""A denominator this close to zero means the coefficient is undefined, not huge."""


def feature_names(n_categories: int) -> list[str]:
    """Column names of ``unit_features`` (for reading and debugging)."""
    return (
        ["rated", "pairable", "pair_agreement"]
        + [f"share_{k}" for k in range(n_categories)]
        + [f"coincidence_{c}_{k}" for c in range(n_categories) for k in range(n_categories)]
    )


def unit_features(counts: np.ndarray) -> np.ndarray:
    """Per-unit additive features for every multi-judge coefficient, from (units, categories) label counts.

    - rated: the unit has at least one label (Gwet's chance term averages label shares over these units);
    - pairable: at least two labels (only these carry agreement; Fleiss 1971 / Gwet 2014 observed agreement);
    - pair_agreement: share of agreeing ordered judge pairs in the unit, sum_k n_k (n_k - 1) / (m (m - 1));
    - share_k: n_k / m, the unit's label distribution (Gwet's generalisation of Fleiss to unequal raters);
    - coincidence_c_k: Krippendorff's coincidences, n_c (n_k - [c = k]) / (m - 1) for pairable units.
    """
    counts = np.asarray(counts, dtype=np.float64)
    n_units, n_cat = counts.shape
    m = counts.sum(axis=1)
    rated = m >= 1
    pairable = m >= 2
    safe_m = np.where(rated, m, 1.0)
    safe_pairs = np.where(pairable, m * (m - 1), 1.0)
    pair_agreement = np.where(pairable, (counts * (counts - 1)).sum(axis=1) / safe_pairs, 0.0)
    shares = counts / safe_m[:, None]
    outer = counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(n_cat)[None]
    coincidences = np.where(pairable[:, None, None], outer / np.where(pairable, m - 1, 1.0)[:, None, None], 0.0)
    columns = [rated[:, None], pairable[:, None], pair_agreement[:, None], shares]
    return np.concatenate([*columns, coincidences.reshape(n_units, n_cat * n_cat)], axis=1)


def _defined(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is (numerically) zero."""
    ok = np.abs(denominator) > UNDEFINED_TOLERANCE
    return np.where(ok, numerator / np.where(ok, denominator, 1.0), np.nan)


def ordinal_distances(marginals: np.ndarray) -> np.ndarray:
    """Krippendorff's ordinal metric per row: delta_ck^2 = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2.

    ``marginals`` is (rows, categories) -> (rows, categories, categories).
    """
    cum = np.cumsum(marginals, axis=1)
    n_cat = marginals.shape[1]
    c = np.arange(n_cat)[:, None]
    k = np.arange(n_cat)[None, :]
    lo, hi = np.minimum(c, k), np.maximum(c, k)
    between = cum[:, hi] - cum[:, lo] + marginals[:, lo]
    weights: npt.NDArray[np.float64] = (between - (marginals[:, c] + marginals[:, k]) / 2) ** 2
    return weights


def krippendorff_from_coincidences(coincidences: np.ndarray, level: str) -> np.ndarray:
    """Alpha = 1 - D_o / D_e from (rows, K, K) coincidence matrices (Krippendorff 2011, section C/E)."""
    n_cat = coincidences.shape[1]
    marginals = coincidences.sum(axis=2)
    n = marginals.sum(axis=1)
    if level == "nominal":
        delta = np.broadcast_to(1.0 - np.eye(n_cat), coincidences.shape)
    elif level == "ordinal":
        delta = ordinal_distances(marginals)
    else:
        raise ValueError(f"unknown level of measurement {level!r}; use 'nominal' or 'ordinal'")
    observed = (coincidences * delta).sum(axis=(1, 2))
    expected = np.einsum("rc,rk,rck->r", marginals, marginals, delta)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(n > 1, expected / np.where(n > 1, n - 1, 1.0), 0.0)
    return 1.0 - _defined(observed, expected)


def agreement_from_sums(sums: np.ndarray, n_categories: int) -> dict[str, np.ndarray]:
    """Every multi-judge coefficient from summed ``unit_features`` (rows = replicates)."""
    sums = np.atleast_2d(sums)
    rated, pairable, pair_agreement = sums[:, 0], sums[:, 1], sums[:, 2]
    shares = sums[:, 3 : 3 + n_categories]
    coincidences = sums[:, 3 + n_categories :].reshape(-1, n_categories, n_categories)
    with np.errstate(invalid="ignore", divide="ignore"):
        observed = _defined(pair_agreement, pairable)
        pi = shares / np.where(rated > 0, rated, np.nan)[:, None]
    chance_fleiss = (pi**2).sum(axis=1)
    chance_gwet = (pi * (1 - pi)).sum(axis=1) / (n_categories - 1)
    return {
        "percent_agreement": observed,
        "fleiss_kappa": _defined(observed - chance_fleiss, 1 - chance_fleiss),
        "gwet_ac1": _defined(observed - chance_gwet, 1 - chance_gwet),
        "krippendorff_alpha_nominal": krippendorff_from_coincidences(coincidences, "nominal"),
        "krippendorff_alpha_ordinal": krippendorff_from_coincidences(coincidences, "ordinal"),
    }


def multi_judge_agreement(codes: np.ndarray, n_categories: int) -> dict[str, float | None]:
    """Point estimates of every multi-judge coefficient from (units, judges) codes with -1 for missing."""
    codes = check_codes("codes", codes, n_categories, 2)
    sums = unit_features(category_counts(codes, n_categories)).sum(axis=0, keepdims=True)
    return {name: _scalar(values[0]) for name, values in agreement_from_sums(sums, n_categories).items()}


def pair_cells(first: np.ndarray, second: np.ndarray, n_categories: int) -> np.ndarray:
    """Contingency cell of each unit for a pair of judges; ``n_categories**2`` where either label is missing."""
    both = (first != MISSING) & (second != MISSING)
    return np.where(both, first * n_categories + second, n_categories * n_categories)


def cohen_from_tables(tables: np.ndarray) -> np.ndarray:
    """Cohen's kappa from (rows, K, K) contingency tables: (p_o - p_e) / (1 - p_e), NaN when p_e = 1."""
    tables = np.asarray(tables, dtype=np.float64)
    n = tables.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        safe_n = np.where(n > 0, n, np.nan)
        observed = np.trace(tables, axis1=1, axis2=2) / safe_n
        chance = (tables.sum(axis=2) * tables.sum(axis=1)).sum(axis=1) / safe_n**2
    return _defined(observed - chance, 1 - chance)


def cohen_kappa(first: object, second: object, n_categories: int) -> float | None:
    """Cohen's kappa of two judges on the units both labelled; None when undefined."""
    a = check_codes("first", first, n_categories, 1)
    b = check_codes("second", second, n_categories, 1)
    cells = pair_cells(a, b, n_categories)
    table = np.bincount(cells, minlength=n_categories**2 + 1)[:-1].reshape(1, n_categories, n_categories)
    return _scalar(cohen_from_tables(table)[0])


def agreement_with_others(codes: np.ndarray, counts: np.ndarray) -> list[dict[str, int]]:
    """For each judge: how often their label equals the strict-plurality label of the other judges.

    Units where the judge gave no label, nobody else did, or the others tie are left out (counted).
    The others' counts are the unit's counts minus the judge's own label, so with packed count vectors
    removing a label is one subtraction and the others' majority one table lookup.
    """
    n_units, n_categories = counts.shape
    max_count = int(counts.max()) if counts.size else 0
    use_table = (max_count + 1) ** n_categories <= LOOKUP_LIMIT
    if use_table:
        strides = count_strides(max_count, n_categories)
        table = plurality_table(max_count, n_categories)
        packed = pack_counts(counts, strides)
    n_labels = counts.sum(axis=1)
    out = []
    for j in range(codes.shape[1]):  # loop over judges (few), vectorised over units
        own = codes[:, j]
        rated = own != MISSING
        if use_table:
            majority = table[packed - np.where(rated, strides[np.maximum(own, 0)], 0)]
        else:
            others = counts.copy()
            others[np.flatnonzero(rated), own[rated]] -= 1
            majority = plurality(others)
        compared = rated & (majority >= 0)
        out.append(
            {
                "agreed": int((compared & (majority == own)).sum()),
                "n": int(compared.sum()),
                "n_others_tied": int((rated & (majority == TIE) & (n_labels > 1)).sum()),
            }
        )
    return out


def _scalar(value: float) -> float | None:
    """A finite float, or None for an undefined (NaN) coefficient."""
    value = float(value)
    return value if np.isfinite(value) else None
