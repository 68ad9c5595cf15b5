"""Benchmark: every session statistic with 1,000-replicate bootstrap intervals, fast path vs the naive way.

Data: a seeded synthetic session (default 200,000 items x 5 judges, 3 labels, 10% of judgments missing,
2% control items), each judgment labelling both systems' answers. The fast path is
``compute_session_statistics`` on the integer arrays (pattern bootstrap). The naive path is
``tests.support.stats_reference``: per-item Python loops and one krippendorff / scikit-learn / statsmodels /
SciPy call per statistic, repeated per bootstrap replicate on resampled items. The naive bootstrap is timed
on --naive-replicates replicates (100 by default) and scaled linearly to --replicates.

Run: .venv/bin/python bench/statistics.py [--items 200000 --judges 5 --naive-replicates 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# This file is named like the standard library's ``statistics`` (which SciPy and our code import): take
# its own folder off the import path, and put the repository root on it instead.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

from analysis.stats.bootstrap import percentile_interval  # noqa: E402
from analysis.stats.summary import bootstrap_groups, compute_session_statistics, prepare_session  # noqa: E402
from analysis.stats.synthetic import synthetic_session  # noqa: E402
from tests.support import stats_reference as reference  # noqa: E402

TARGET_FAST_S = 1.0
TARGET_RATIO = 50.0
TOLERANCE = 1e-9


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    start = time.perf_counter()
    value = fn(*args, **kwargs)
    return value, time.perf_counter() - start


def compare_points(result: dict, naive: dict) -> tuple[int, float, list[str]]:
    """How many naive figures were compared, the largest absolute difference, and any mismatches."""
    flat = reference.flatten(result)
    worst, problems = 0.0, []
    for key, value in naive.items():
        fast = flat.get(key, "absent")
        if value is None or fast is None or fast == "absent":
            if fast != value:
                problems.append(f"{key}: fast {fast!r}, naive {value!r}")
            continue
        diff = abs(float(fast) - float(value))
        worst = max(worst, diff)
        if diff > TOLERANCE:
            problems.append(f"{key}: fast {fast!r}, naive {value!r}")
    return len(naive), worst, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--judges", type=int, default=5)
    parser.add_argument("--missing", type=float, default=0.1)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--naive-replicates", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3, help="fast-path runs; the best is reported")
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    data = synthetic_session(args.items, args.judges, missing=args.missing, seed=args.seed)
    judged = (data["labels_a"] >= 0) | (data["labels_b"] >= 0) | (data["preference"] >= 0)
    n_labels = int((data["labels_a"] >= 0).sum() + (data["labels_b"] >= 0).sum())
    print(
        f"data: {args.items:,} items x {args.judges} judges, {int(judged.sum()):,} judgments "
        f"({n_labels:,} correctness labels: two answers each), {int(data['control'].sum()):,} control items, "
        f"seed {args.seed}"
    )
    session = prepare_session(**data)
    patterns = {name: g.patterns.n_patterns for name, g in bootstrap_groups(session).items()}
    print(
        f"distinct per-item patterns resampled: joint (A, B label counts) {patterns['joint']}, "
        f"Cohen pairs {min(v for k, v in patterns.items() if k != 'joint')}-"
        f"{max(v for k, v in patterns.items() if k != 'joint')}"
    )

    fast_times = []
    for _ in range(args.repeats):
        result, seconds = timed(
            compute_session_statistics, **data, n_boot=args.replicates, seed=args.seed, include_items=False
        )
        fast_times.append(seconds)
    fast = min(fast_times)
    _, with_items = timed(compute_session_statistics, **data, n_boot=args.replicates, include_items=True)
    print(
        f"fast: every statistic + {args.replicates:,}-replicate bootstrap intervals from integer arrays: "
        f"{fast:.3f} s (best of {args.repeats}: {', '.join(f'{t:.3f}' for t in fast_times)}); "
        f"with the {args.items:,}-row per-item table as JSON lists: {with_items:.3f} s"
    )

    naive, naive_point = timed(reference.session_point_estimates, **data)
    print(f"naive point estimates (per-item loops + library calls): {naive_point:.2f} s")

    items = session.resampled_items
    labels_a, labels_b = session.labels_a[items], session.labels_b[items]
    rng = np.random.default_rng(args.seed)
    replicates: dict[str, list[float]] = {}
    start = time.perf_counter()
    for _ in range(args.naive_replicates):
        row = rng.integers(0, len(items), size=len(items))
        for key, value in reference.resampled_statistics(labels_a[row], labels_b[row]).items():
            replicates.setdefault(key, []).append(np.nan if value is None else value)
    naive_boot = time.perf_counter() - start
    scaled = naive_boot * args.replicates / args.naive_replicates
    naive_total = naive_point + scaled
    print(
        f"naive bootstrap: {args.naive_replicates} replicates took {naive_boot:.1f} s "
        f"({naive_boot / args.naive_replicates:.2f} s each); scaled linearly to {args.replicates:,}: {scaled:.0f} s"
    )
    ratio = naive_total / fast
    print(f"naive total (points + scaled bootstrap): {naive_total:.0f} s; ratio naive / fast = {ratio:,.0f}x")

    compared, worst, problems = compare_points(result, naive)
    print(f"point estimates: {compared} figures compared, largest absolute difference {worst:.2e}")
    for problem in problems[:20]:
        print(f"  MISMATCH {problem}")

    print("95% intervals, fast (pattern bootstrap) vs naive (index bootstrap, fewer replicates):")
    agreement = result["agreement"]
    for stat in ("percent_agreement", "fleiss_kappa", "gwet_ac1", "krippendorff_alpha_nominal"):
        naive_ci = percentile_interval(np.array(replicates[f"joint/{stat}"]))
        print(f"  {stat:28s} {agreement[stat]['estimate']:.4f}  fast {agreement[stat]['ci']}  naive {naive_ci}")
    diff = result["comparison"]["accuracy_difference"]["by_majority"]["correct"]
    naive_ci = percentile_interval(np.array(replicates["joint/accuracy_difference.by_majority.correct"]))
    print(f"  {'accuracy difference (maj.)':28s} {diff['estimate']:.4f}  fast {diff['ci']}  naive {naive_ci}")

    fast_ok, ratio_ok = fast < TARGET_FAST_S, ratio >= TARGET_RATIO
    print(
        f"targets: fast < {TARGET_FAST_S:.0f} s: {'met' if fast_ok else 'MISSED'}; "
        f"ratio >= {TARGET_RATIO:.0f}x: {'met' if ratio_ok else 'MISSED'}; "
        f"point estimates within {TOLERANCE:g}: {'met' if not problems else 'MISSED'}"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
