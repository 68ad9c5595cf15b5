"""The results table (one row per evaluation run), its CSV, and the paired bootstrap test between two runs.

Values and intervals come from what the evaluation job stored (`EvaluationRun.metrics`); the paired test is
computed on demand from the stored per-item scores, so nothing is re-generated or re-scored here.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from training.models import EvaluationRun, ExperimentCell, Prediction

# (key in EvaluationRun.metrics, column label, digits shown)
TABLE_METRICS: list[tuple[str, str, int]] = [
    ("bertscore_f1", "BERTScore F1", 4),
    ("bleu", "BLEU", 2),
    ("exact_match", "EM", 1),
    ("f1", "F1", 1),
]
SORT_KEYS = {"id", "dataset", "source", "shots", "n", "model", "items", *(m for m, _, _ in TABLE_METRICS)}


@dataclass
class ResultRow:
    run: EvaluationRun
    dataset: str
    source: str
    shots: int | None
    n: int | None
    model: str
    items: int | None
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    comparable: bool = True
    encoder_note: str = ""

    def value(self, key: str) -> Any:
        if key in self.metrics:
            return self.metrics[key]["value"]
        return {
            "id": self.run.pk,
            "dataset": self.dataset,
            "source": self.source,
            "shots": self.shots,
            "n": self.n,
            "model": self.model,
            "items": self.items,
        }.get(key)

    def cells(self) -> list[dict[str, Any]]:
        """Metric cells in column order, each with value and 95% interval (None when not scored)."""
        out = []
        for key, label, digits in TABLE_METRICS:
            m = self.metrics.get(key)
            out.append({"key": key, "label": label, "digits": digits, "metric": m})
        return out


def _grid_point(run: EvaluationRun) -> tuple[str, int | None, int | None]:
    """(source, shots, N): from the experiment cell that made the run, else from the dataset's provenance."""
    cell = next(iter(run.experiment_cells.all()), None)
    if cell is not None:
        if cell.kind == ExperimentCell.Kind.SYNTHETIC:
            return f"synthetic ({cell.context_source})", cell.shots, cell.pairs_per_passage
        return cell.get_kind_display(), None, None
    training = run.training_run
    if training is None:
        return "base model", None, None
    dataset = training.dataset
    provenance = dataset.provenance or {}
    shots = provenance.get("shots")
    n = provenance.get("pairs_per_passage", provenance.get("n_pairs"))  # n_pairs: written before the rename
    if dataset.source == "synthetic" and (shots is None or n is None):
        generation = dataset.runs.first() if hasattr(dataset, "runs") else None
        if generation is not None:
            n = n if n is not None else generation.pairs_per_passage
            shots = shots if shots is not None else (generation.template_snapshot or {}).get("shots")
    return dataset.get_source_display(), shots, n


def result_rows(queryset: Iterable[EvaluationRun] | None = None) -> list[ResultRow]:
    qs = queryset
    if qs is None:
        qs = EvaluationRun.objects.all()
    qs = qs.select_related("training_run__dataset", "base_model", "corpus", "job").prefetch_related(
        "experiment_cells", "training_run__dataset__runs"
    )
    rows = []
    for run in qs:
        source, shots, n = _grid_point(run)
        bert = (run.metrics_info or {}).get("bertscore") or {}
        rows.append(
            ResultRow(
                run=run,
                dataset=str(run.training_run.dataset) if run.training_run_id else "—",
                source=source,
                shots=shots,
                n=n,
                model=run.model_label,
                items=run.n_items,
                metrics=run.metrics or {},
                comparable=bool(bert.get("comparable_with_paper", False)),
                encoder_note=str(bert.get("note", "")),
            )
        )
    return rows


def sort_rows(rows: list[ResultRow], key: str, descending: bool) -> list[ResultRow]:
    """Sort by a column; rows without a value go last whatever the direction."""
    if key not in SORT_KEYS:
        key = "id"
    present = [r for r in rows if r.value(key) is not None]
    missing = [r for r in rows if r.value(key) is None]
    present.sort(key=lambda r: (r.value(key), r.run.pk), reverse=descending)
    return present + missing


CSV_COLUMNS = [
    "evaluation_run",
    "name",
    "status",
    "dataset",
    "source",
    "shots",
    "n",
    "model",
    "corpus",
    "split",
    "items",
]


def csv_lines(rows: list[ResultRow]) -> Iterator[str]:
    """The table as CSV lines (value, ci_low, ci_high per metric; encoder note for BERTScore)."""
    header = list(CSV_COLUMNS)
    for key, _, _ in TABLE_METRICS:
        header += [key, f"{key}_ci_low", f"{key}_ci_high"]
    header += ["bertscore_encoder_note"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(header)
    yield take()
    for row in rows:
        run = row.run
        line: list[Any] = [
            run.pk,
            run.name,
            run.status,
            row.dataset,
            row.source,
            "" if row.shots is None else row.shots,
            "" if row.n is None else row.n,
            row.model,
            str(run.corpus),
            run.split,
            "" if row.items is None else row.items,
        ]
        for key, _, _ in TABLE_METRICS:
            m = row.metrics.get(key)
            line += [repr(m["value"]), repr(m["ci_low"]), repr(m["ci_high"])] if m else ["", "", ""]
        line.append(row.encoder_note)
        writer.writerow(line)
        yield take()


# --- paired bootstrap between two runs ----------------------------------------------------------------


class ComparisonError(ValueError):
    """The two runs cannot be compared (not scored, or no items in common); the message says why."""


@dataclass
class Comparison:
    run_a: EvaluationRun
    run_b: EvaluationRun
    n_items: int
    only_a: int
    only_b: int
    metrics: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _item_scores(predictions: list[Prediction]):
    from training.metrics import ItemScores

    return [
        ItemScores(
            exact_match=p.exact_match,
            f1=p.f1,
            bleu=p.bleu_sentence,
            bleu_stats=list(p.bleu_stats or []),
            bertscore_precision=p.bertscore_precision,
            bertscore_recall=p.bertscore_recall,
            bertscore_f1=p.bertscore_f1,
        )
        for p in predictions
    ]


def compare(run_a: EvaluationRun, run_b: EvaluationRun, *, n_resamples: int = 1000, seed: int = 0) -> Comparison:
    """Paired bootstrap per metric on the items both runs answered (matched by item key, e.g. the reference
    pair id), so a run on a subset of the split is still compared item by item, never by position."""
    from training.metrics import compare_runs

    if run_a.pk == run_b.pk:
        raise ComparisonError("choose two different evaluation runs")
    for run in (run_a, run_b):
        if not run.scored_at:
            raise ComparisonError(f"evaluation run #{run.pk} ({run}) is not scored yet")
    by_key_a = {p.item_key or f"index:{p.item_index}": p for p in run_a.predictions.order_by("item_index")}
    by_key_b = {p.item_key or f"index:{p.item_index}": p for p in run_b.predictions.order_by("item_index")}
    common = [k for k in by_key_a if k in by_key_b]
    if not common:
        raise ComparisonError(f"runs #{run_a.pk} and #{run_b.pk} have no evaluation items in common")
    pa, pb = [by_key_a[k] for k in common], [by_key_b[k] for k in common]
    if run_a.language != run_b.language:
        raise ComparisonError(f"runs are in different languages ({run_a.language} vs {run_b.language})")
    a_scores, b_scores = _item_scores(pa), _item_scores(pb)
    names = [key for key, _, _ in TABLE_METRICS]
    notes = []
    encoders = [((r.metrics_info or {}).get("bertscore") or {}) for r in (run_a, run_b)]
    same_encoder = len({(e.get("model"), e.get("num_layers")) for e in encoders}) == 1
    if any(p.bertscore_f1 is None for p in pa + pb):
        names.remove("bertscore_f1")
    elif not same_encoder:
        names.remove("bertscore_f1")
        notes.append("BERTScore left out: the runs were scored with different encoders or layers")
    results = compare_runs(a_scores, b_scores, metrics=names, n_resamples=n_resamples, seed=seed)
    labels = {key: (label, digits) for key, label, digits in TABLE_METRICS}
    metrics = []
    for name, r in results.items():
        label, digits = labels[name]
        metrics.append(
            {
                "key": name,
                "label": label,
                "digits": digits,
                "a": r.value_a,
                "b": r.value_b,
                "delta": r.delta,
                "ci_low": r.ci_low,
                "ci_high": r.ci_high,
                "p_value": r.p_value,
                "significant": r.p_value < 0.05,
            }
        )
    return Comparison(
        run_a=run_a,
        run_b=run_b,
        n_items=len(common),
        only_a=len(by_key_a) - len(common),
        only_b=len(by_key_b) - len(common),
        metrics=metrics,
        notes=notes,
    )
