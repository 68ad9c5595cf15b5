"""bench/judging.py --runs: the pooled summary over several runs of the K-system latency comparison."""

from __future__ import annotations

from bench.judging import SIDE_MODE, percentiles, pooled


def _mode(samples: dict[str, list[float]]) -> dict:
    return {"samples_ms": samples, "latency_ms": {kind: percentiles(values) for kind, values in samples.items()}}


def _run(two: dict[str, list[float]], k: dict[str, list[float]]) -> dict:
    return {f"{SIDE_MODE}-two": _mode(two), f"{SIDE_MODE}-k": _mode(k), "backend": "postgres"}


def test_pooled_percentiles_cover_every_sample_and_ratios_compare_the_pools():
    base = [float(v) for v in range(1, 101)]  # p95 95
    runs = [
        _run({"page": base, "submit": base}, {"page": [v * 1.1 for v in base], "submit": base}),  # 1.1x: met
        _run({"page": base, "submit": base}, {"page": base, "submit": [v * 1.3 for v in base]}),  # 1.3x: not met
    ]
    pool = pooled(runs)
    k = pool[f"{SIDE_MODE}-k"]
    assert k["page"]["n"] == 200 and k["submit"]["n"] == 200
    assert k["page"]["p95"] == percentiles(base + [v * 1.1 for v in base])["p95"]
    assert k["page"]["ratio"] == round(k["page"]["p95"] / pool[f"{SIDE_MODE}-two"]["page"]["p95"], 2)
    assert k["runs_meeting_target"] == {"met": 1, "runs": 2}


def test_runs_without_raw_samples_pool_nothing_but_still_count_the_target():
    run = _run({"page": [5.0], "submit": [5.0]}, {"page": [5.0], "submit": [5.0]})
    for mode in (f"{SIDE_MODE}-two", f"{SIDE_MODE}-k"):
        run[mode].pop("samples_ms")  # a JSON written before samples were kept
    pool = pooled([run, run])
    assert pool[f"{SIDE_MODE}-k"] == {"runs_meeting_target": {"met": 2, "runs": 2}}
