"""Statistics plots drawn on the server with matplotlib (Agg) as inline SVG: no JavaScript, works offline.

Built with the object-oriented API (``Figure``, never pyplot), so nothing global changes and web threads
can draw at once. Text is kept as SVG text (small files; matplotlib escapes it), and dollar signs in
names are escaped so a username is never parsed as mathtext.
"""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from analysis.stats import LABELS

SVG_RC = {"svg.fonttype": "none", "svg.hashsalt": "qasynth", "font.size": 9}
COLOURS = {"incorrect": "#c0392b", "partial": "#e6a23c", "correct": "#2e8b57"}
SYSTEM_COLOURS = ("#3b6fd8", "#8e44ad")


def _text(value: object) -> str:
    return str(value).replace("$", r"\$")


def _short(name: str, limit: int = 48) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def to_svg(fig: Figure) -> str:
    """The figure as an <svg> element (no XML prolog or DOCTYPE, so it can sit inside HTML)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(SVG_RC):
        # The figures use the constrained layout already; bbox_inches="tight" would draw each one twice.
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg") :]


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(SVG_RC):
        return Figure(figsize=(width, height), layout="constrained")


def accuracy_plot(result: dict) -> str | None:
    """Majority-label accuracy (correct and lenient) per system with Wilson interval bars."""
    systems = result["systems"]
    rows = []
    for criterion in ("correct", "lenient"):
        for system in systems:
            entry = result["accuracy"][system]["by_majority"][criterion]
            rows.append((criterion, system, entry["rate"], entry["ci"]))
    if all(rate is None for _, _, rate, _ in rows):
        return None
    fig = _figure(6.4, 3.1)
    ax = fig.add_subplot()
    width = 0.38
    for s, system in enumerate(systems):
        rates, low, high = [], [], []
        for criterion in ("correct", "lenient"):
            entry = result["accuracy"][system]["by_majority"][criterion]
            rate = entry["rate"] if entry["rate"] is not None else 0.0
            ci = entry["ci"] or [rate, rate]
            rates.append(100 * rate)
            # Clipped at 0: an interval that excludes its own point estimate by a rounding error (or by its
            # method, e.g. a bootstrap percentile interval) must not stop the plot (matplotlib refuses it).
            low.append(max(0.0, 100 * (rate - ci[0])))
            high.append(max(0.0, 100 * (ci[1] - rate)))
        x = np.arange(2) + (s - 0.5) * width
        label = f"{'AB'[s]}: {_text(_short(system))}"
        ax.bar(x, rates, width, yerr=[low, high], capsize=4, color=SYSTEM_COLOURS[s], label=label)
        for xi, rate in zip(x, rates, strict=True):  # inside the bar's foot: clear of the interval bars
            ax.text(xi, 2, f"{rate:.1f}%", ha="center", va="bottom", color="white", fontweight="bold")
    ax.set_xticks(range(2), ["correct", "correct or partial (lenient)"])
    ax.set_ylabel("accuracy by majority label (%)")
    ax.set_ylim(0, 100)
    fig.legend(loc="outside lower center", ncols=1, fontsize=7, frameon=False)
    return to_svg(fig)


def label_distribution_plot(result: dict) -> str | None:
    """Share of each label per judge (both answers), stacked: shows lenient or harsh judges at a glance."""
    judges = result["extras"]["judges"]
    counts = np.array([row["labels"] for row in judges], dtype=float).reshape(-1, len(LABELS))
    totals = counts.sum(axis=1)
    if not len(judges) or totals.sum() == 0:
        return None
    shares = 100 * counts / np.where(totals > 0, totals, 1)[:, None]
    names = [_text(_short(str(row["judge"]), 24)) for row in judges]
    fig = _figure(6.4, 0.9 + 0.28 * len(judges))
    ax = fig.add_subplot()
    left = np.zeros(len(judges))
    display = result.get("label_names", {})
    for k, label in enumerate(LABELS):
        ax.barh(names, shares[:, k], left=left, color=COLOURS[label], label=_text(display.get(label, label)))
        left += shares[:, k]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of the judge's labels (%)")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=7, frameon=False)
    return to_svg(fig)


def agreement_matrix_plot(result: dict) -> str | None:
    """Cohen's kappa for every pair of judges; pairs with no shared answer or an undefined kappa are grey."""
    judges = [str(row["judge"]) for row in result["judges"]]
    n = len(judges)
    if n < 2:
        return None
    index = {name: i for i, name in enumerate(judges)}
    matrix = np.full((n, n), np.nan)
    for pair in result["agreement"]["cohen_kappa"]:
        first, second = (index[str(j)] for j in pair["judges"])
        if pair["estimate"] is not None:
            matrix[first, second] = matrix[second, first] = pair["estimate"]
    size = min(9.0, 1.6 + 0.45 * n)
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=-1, vmax=1)
    names = [_text(_short(name, 18)) for name in judges]
    ax.set_xticks(range(n), names, rotation=60, ha="right")
    ax.set_yticks(range(n), names)
    if n <= 15:
        for i in range(n):
            for j in range(n):
                if i != j:
                    value = matrix[i, j]
                    ax.text(j, i, "undef." if math.isnan(value) else f"{value:.2f}", ha="center", va="center",
                            fontsize=7)  # fmt: skip
    fig.colorbar(image, ax=ax, label="Cohen's kappa", shrink=0.8)
    return to_svg(fig)


def judge_time_plot(result: dict) -> str | None:
    """Seconds per item per judge: box = quartiles, whiskers = 10th and 90th percentiles."""
    rows = [row for row in result["extras"]["judges"] if row["seconds"]]
    if not rows:
        return None
    stats = [
        {
            "label": _text(_short(str(row["judge"]), 24)),
            "med": row["seconds"]["median"],
            "q1": row["seconds"]["q1"],
            "q3": row["seconds"]["q3"],
            "whislo": row["seconds"]["p10"],
            "whishi": row["seconds"]["p90"],
            "fliers": [],
        }
        for row in rows
    ]
    fig = _figure(6.4, 0.9 + 0.3 * len(rows))
    ax = fig.add_subplot()
    ax.bxp(stats, orientation="horizontal", showfliers=False)
    ax.invert_yaxis()
    ax.set_xlabel("seconds per item (box: quartiles, whiskers: 10th-90th percentile)")
    if max(s["whishi"] for s in stats) > 20 * max(min(s["whislo"] for s in stats), 0.1):
        ax.set_xscale("log")
    return to_svg(fig)


def session_plots(named: dict) -> dict[str, str]:
    """Every plot of the statistics page, from a result whose judges already carry display names."""
    plots = {
        "accuracy": accuracy_plot(named),
        "labels_per_judge": label_distribution_plot(named),
        "agreement_matrix": agreement_matrix_plot(named),
        "judge_time": judge_time_plot(named),
    }
    return {name: svg for name, svg in plots.items() if svg}


def win_rate_heatmap(result: dict) -> str | None:
    """K x K share of decided comparisons the row system won (ties left out); blank where never compared."""
    matrices = result["pairwise"]["matrices"]
    names = matrices["systems"]
    values = np.array([[np.nan if v is None else v for v in row] for row in matrices["win_rate_by_judgment"]])
    if not np.isfinite(values).any():
        return None
    size = 1.2 + 0.55 * len(names)
    fig = _figure(size + 1.6, size)
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(values), vmin=0, vmax=1, cmap="RdBu")
    labels = [_text(_short(name, 28)) for name in names]
    ax.set_xticks(range(len(names)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), labels)
    for (r, c), value in np.ndenumerate(values):
        if np.isfinite(value):
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=8)
    ax.set_title("Win rate of row system against column system")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return to_svg(fig)


def strength_forest_plot(rows: list[dict]) -> str | None:
    """Headline Bradley-Terry strength of each system with its bootstrap interval, best on top."""
    shown = [row for row in rows if row["strength"] is not None]
    if not shown:
        return None
    fig = _figure(6.4, 1.0 + 0.4 * len(shown))
    ax = fig.add_subplot()
    for y, row in enumerate(reversed(shown)):
        low, high = row["strength_ci"] or (row["strength"], row["strength"])
        ax.plot([low, high], [y, y], color=SYSTEM_COLOURS[0])
        ax.plot([row["strength"]], [y], "o", color=SYSTEM_COLOURS[0])
    ax.set_yticks(range(len(shown)), [_text(_short(row["system"], 36)) for row in reversed(shown)])
    ax.axvline(0, color="#999", linewidth=0.8)
    ax.set_xlabel("strength (log-odds, mean zero) with bootstrap interval")
    return to_svg(fig)
