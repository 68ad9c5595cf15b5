"""How much usable data a generation run produced: the yield report on the run page, in the experiment
table and in bench/synthesis_yield.py's terms.

Counting accepted pairs alone hides the failure that matters for small models: a run can accept a few
pairs from a handful of passages while most outputs echo the one-shot example. The report therefore
counts passages with at least one accepted pair, accepted pairs per passage, the share of outputs with a
pair rejected as an exemplar copy, the round-trip support among accepted pairs (where it was checked) and
the rejection reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from generation.models import GenerationRun, PairStatus, RawOutput, SyntheticPair, reason_label
from generation.synthesis import SynthesisOptions
from generation.validation import RejectionReason


@dataclass(frozen=True)
class YieldReport:
    run_id: int
    passages_total: int
    passages_done: int
    passages_with_pair: int
    accepted: int
    outputs_copying_exemplar: int
    round_trip_checked: int
    round_trip_supported: int
    method: str  # "paper's method" or the options used
    reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passage_yield(self) -> float | None:
        return self.passages_with_pair / self.passages_done if self.passages_done else None

    @property
    def pairs_per_passage(self) -> float | None:
        return self.accepted / self.passages_done if self.passages_done else None

    @property
    def copy_share(self) -> float | None:
        return self.outputs_copying_exemplar / self.passages_done if self.passages_done else None

    @property
    def round_trip_share(self) -> float | None:
        return self.round_trip_supported / self.round_trip_checked if self.round_trip_checked else None

    def summary(self) -> str:
        """One line for tables: "9/12 passages (75%) · 1.50 pairs/passage · 0% copies"."""
        if not self.passages_done:
            return "no outputs yet"
        parts = [
            f"{self.passages_with_pair}/{self.passages_done} passages ({self.passage_yield:.0%})",
            f"{self.pairs_per_passage:.2f} pairs/passage",
            f"{self.copy_share:.0%} exemplar copies",
        ]
        if self.round_trip_checked:
            parts.append(f"{self.round_trip_share:.0%} round-trip supported")
        return " · ".join(parts)


def yield_reports(runs: Iterable[GenerationRun]) -> dict[int, YieldReport]:
    """Reports for several runs in a fixed number of queries (the experiment table shows one per cell)."""
    runs = list(runs)
    ids = [r.pk for r in runs]
    if not ids:
        return {}
    accepted_pair = SyntheticPair.objects.filter(raw_output=OuterRef("pk"), status=PairStatus.ACCEPTED)
    # the main reason: an exemplar copy outranks every reason but an empty question or answer
    copied_pair = SyntheticPair.objects.filter(
        raw_output=OuterRef("pk"), rejection_reason=RejectionReason.EXEMPLAR_COPY
    )
    outputs = (
        RawOutput.objects.filter(run_id__in=ids)
        .annotate(has_pair=Exists(accepted_pair), copies=Exists(copied_pair))
        .values("run_id")
        .annotate(
            done=Count("id"),
            with_pair=Count("id", filter=Q(has_pair=True)),
            copying=Count("id", filter=Q(copies=True)),
        )
    )
    per_run = {row["run_id"]: row for row in outputs}
    pairs = (
        SyntheticPair.objects.filter(run_id__in=ids)
        .values("run_id")
        .annotate(
            accepted=Count("id", filter=Q(status=PairStatus.ACCEPTED)),
            rt_checked=Count("id", filter=Q(status=PairStatus.ACCEPTED, round_trip_supported__isnull=False)),
            rt_supported=Count("id", filter=Q(status=PairStatus.ACCEPTED, round_trip_supported=True)),
        )
    )
    per_run_pairs = {row["run_id"]: row for row in pairs}
    reason_rows = (
        SyntheticPair.objects.filter(run_id__in=ids)
        .exclude(status=PairStatus.ACCEPTED)
        .values("run_id", "rejection_reason")
        .annotate(n=Count("id"))
        .order_by("run_id", "-n", "rejection_reason")
    )
    reasons: dict[int, list[dict[str, Any]]] = {}
    for row in reason_rows:
        reasons.setdefault(row["run_id"], []).append(
            {"reason": row["rejection_reason"], "label": reason_label(row["rejection_reason"]), "count": row["n"]}
        )
    reports = {}
    for run in runs:
        out = per_run.get(run.pk, {})
        pr = per_run_pairs.get(run.pk, {})
        reports[run.pk] = YieldReport(
            run_id=run.pk,
            passages_total=run.passages_total,
            passages_done=out.get("done", 0),
            passages_with_pair=out.get("with_pair", 0),
            accepted=pr.get("accepted", 0),
            outputs_copying_exemplar=out.get("copying", 0),
            round_trip_checked=pr.get("rt_checked", 0),
            round_trip_supported=pr.get("rt_supported", 0),
            method=SynthesisOptions.from_dict(run.synthesis).describe(),
            reasons=reasons.get(run.pk, []),
        )
    return reports


def yield_report(run: GenerationRun) -> YieldReport:
    return yield_reports([run])[run.pk]
