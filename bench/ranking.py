"""Benchmark: Bradley-Terry ranking with 1,000 bootstrap replicates, fast path vs refitting choix per replicate.

Data: seeded synthetic judgments (default 50 systems, 1,000,000 pairwise judgments on 2,000 items, Davidson
ties). Fast path: ``rank_systems`` from validated arrays (both tie models, point fits, 1,000 replicates, rank
intervals), and the whole ``compute_ranking_statistics`` (accuracy and pairwise tables too). Naive path: per
replicate, gather the judgments of the resampled items, build the comparison matrix (ties half a win each
way) and refit ``choix.ilsr_pairwise_dense``; timed on --naive-replicates replicates and scaled linearly.
Both paths use the same resampled item indices, and the half-wins strengths are checked to agree.

Run: .venv/bin/python bench/ranking.py [--systems 50 --judgments 1000000 --items 2000 --replicates 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

# bench/ holds a statistics.py that would shadow the standard library's: take bench/ off the import path.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import choix  # noqa: E402

from analysis.stats.pairwise import prepare_comparisons  # noqa: E402
from analysis.stats.ranking import (  # noqa: E402
    comparison_structure,
    compute_ranking_statistics,
    fit_point,
    item_features,
    rank_systems,
    ranking_replicates,
    tallies_from_sums,
)
from analysis.stats.synthetic_ranking import synthetic_comparisons  # noqa: E402

TARGET_FAST_S = 2.0
TARGET_RATIO = 50.0


def naive_replicate(comp, items_sorted, starts, counts, indices_row, k):  # noqa: ANN001, ANN201
    """One replicate the obvious way: every judgment of every drawn item, then one choix fit."""
    drawn = items_sorted[indices_row]
    take = np.concatenate([np.arange(starts[i], starts[i] + counts[i]) for i in drawn])
    low, high, outcome = comp.low[take], comp.high[take], comp.outcome[take]
    mat = np.zeros((k, k))
    np.add.at(mat, (low[outcome == 0], high[outcome == 0]), 1.0)
    np.add.at(mat, (high[outcome == 2], low[outcome == 2]), 1.0)
    np.add.at(mat, (low[outcome == 1], high[outcome == 1]), 0.5)
    np.add.at(mat, (high[outcome == 1], low[outcome == 1]), 0.5)
    return choix.ilsr_pairwise_dense(mat, tol=1e-10, max_iter=1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=50)
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--judges", type=int, default=100)
    parser.add_argument("--replicates", type=int, default=1_000)
    parser.add_argument("--naive-replicates", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="fast-path timings (the best is reported)")
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()}  (2 shared cores)")
    data = synthetic_comparisons(args.systems, args.judgments, args.items, n_judges=args.judges, seed=1)
    strengths = data.pop("strengths")
    arrays = {key: data[key] for key in ("item", "system_a", "system_b", "preference", "label_a", "label_b", "judge")}
    print(
        f"data: {args.systems} systems, {args.judgments:,} judgments, {args.items:,} items, {args.judges} judges, "
        f"{args.replicates} replicates"
    )

    start, cpu = time.perf_counter(), time.process_time()
    comp = prepare_comparisons(**arrays, n_items=args.items)
    prepare_s = time.perf_counter() - start
    prepare_cpu = time.process_time() - cpu
    ranking_times, ranking_cpu = [], []
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        ranking = rank_systems(comp, n_boot=args.replicates, seed=0)
        ranking_times.append(time.perf_counter() - start)
        ranking_cpu.append(time.process_time() - cpu)
    fast_s = prepare_s + min(ranking_times)
    start = time.perf_counter()
    compute_ranking_statistics(**arrays, n_items=args.items, n_boot=args.replicates, seed=0)
    full_s = time.perf_counter() - start

    # Naive: the same resampled indices through choix, one fit per replicate.
    features = item_features(comp)
    structure = comparison_structure(comp)
    k = args.systems
    members = np.arange(k)
    point_sums = features.totals()
    point_t = tallies_from_sums(point_sums, k, members)
    points = {int(structure.component[0]): (members, point_t, fit_point(point_t))}
    indices = np.random.default_rng(5).integers(0, features.n_items, size=(args.naive_replicates, features.n_items))
    voted = comp.outcome >= 0
    order = np.argsort(comp.item, kind="stable")
    order = order[voted[order]]
    sorted_comp = type(comp)(
        **{
            **comp.__dict__,
            **{
                f: getattr(comp, f)[order]
                for f in ("item", "judge", "low", "high", "pair", "outcome", "label_low", "label_high")
            },
        }
    )
    counts = np.bincount(sorted_comp.item, minlength=comp.n_items)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    start = time.perf_counter()
    naive = np.array([naive_replicate(sorted_comp, features.items, starts, counts, row, k) for row in indices])
    naive_s = (time.perf_counter() - start) / args.naive_replicates * args.replicates
    fast_reps = ranking_replicates(features, indices, points)[next(iter(points))]["half_wins"]
    worst = float(np.abs(fast_reps - naive).max())

    rho = np.corrcoef(strengths, [row["davidson"]["strength"] for row in ranking["systems"]])[0, 1]
    print(f"validate + orient arrays:            {prepare_s:7.3f} s  (CPU {prepare_cpu:.3f} s)")
    print(
        f"ranking (both models, {args.replicates} replicates): {min(ranking_times):7.3f} s  (runs: "
        + ", ".join(f"{t:.3f}" for t in ranking_times)
        + ")"
    )
    print("  CPU time of those runs (all threads): " + ", ".join(f"{t:.3f}" for t in ranking_cpu) + " s")
    print(
        f"fast path from arrays:               {fast_s:7.3f} s   target < {TARGET_FAST_S} s: "
        f"{'met' if fast_s < TARGET_FAST_S else 'NOT met'}"
    )
    fast_cpu = prepare_cpu + min(ranking_cpu)
    print(
        f"fast path CPU time:                  {fast_cpu:7.3f} s   (what a busy machine stretches into the wall time "
        f"above: load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(f"whole compute_ranking_statistics:    {full_s:7.3f} s   (adds accuracy, pairwise tables, Holm)")
    print(
        f"naive choix refit, {args.naive_replicates} replicates scaled to {args.replicates}: {naive_s:7.3f} s "
        f"(half-wins model only)"
    )
    print(
        f"ratio naive / fast:                  {naive_s / fast_s:7.1f}x  target >= {TARGET_RATIO}x: "
        f"{'met' if naive_s / fast_s >= TARGET_RATIO else 'NOT met'}"
    )
    print(f"same indices, fast vs choix strengths: max |diff| = {worst:.2e}")
    print(f"true vs fitted strengths correlation: {rho:.4f}")
    comp0 = ranking["components"][0]
    print(f"finite replicates: {comp0['replicates']}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
