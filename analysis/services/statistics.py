"""A judging session's statistics: read the latest judgments in one query, compute, store, and serve them.

The figures themselves come from the pure engine (``analysis.stats``); this module turns the session's
rows into its (items x judges) arrays, adds what the pages need beyond the engine (label counts and
time quantiles per judge, automatic metrics and their correlation with human labels per system), and
keeps the result in ``SessionStatistics`` keyed by a fingerprint of the judgments. Small sessions are
computed inline on the first view after a change; large ones by a job of kind ``analysis.statistics``,
and the previous result is shown, marked stale, until the job has stored the new one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, Count, F, IntegerField, Max, QuerySet, Value, When
from django.db.models.functions import Cast
from django.utils import timezone

from analysis import plots
from analysis.models import ItemPrediction, SessionStatistics
from analysis.services.judge_policy import counted_judgments, excluded_judges, exclusion_key
from analysis.services.pseudonyms import display_names
from analysis.stats import LABELS, MISSING, PREFERENCES, compute_session_statistics
from analysis.stats.accuracy import CRITERIA, success_mask
from analysis.stats.coding import CORRECT, INCORRECT, PARTIAL, category_counts, plurality
from analysis.stats.correlation import auc_delong, point_biserial
from annotation.models import ItemFlag, JudgingSession, Judgment, SessionItem
from core.models import FINISHED_STATUSES, Job
from core.services.jobs import JobError, create_job
from training.models import Prediction

JOB_KIND = "analysis.statistics"
DEFAULT_INLINE_LIMIT = 20_000
DEFAULT_REPLICATES = 10_000
METRIC_NAMES = ("exact_match", "f1", "bleu_sentence", "bertscore_f1")
"""Per-item automatic scores, read from the Prediction rows that items of sessions built from evaluation runs
link to (typed float columns: much cheaper to read than the JSON copies on the items)."""
JUDGMENT_COLUMNS = ("item_id", "judge_id", "label_a", "label_b", "preference", "time_on_item_ms")
ITEM_COLUMNS = ("id", "is_control", "expected_label_a", "expected_label_b")


class StatisticsError(ValueError):
    """The session's judgments cannot be turned into statistics; the message names the row and value."""


def inline_limit() -> int:
    """Sessions with more judgments than this are computed by a background job."""
    return int(getattr(settings, "QASYNTH_STATS_INLINE_MAX_JUDGMENTS", DEFAULT_INLINE_LIMIT))


PAIR_REPLICATE_BUDGET = 200_000
"""Inline only while (judge pairs + 1) x replicates stays under this: every pair of judges gets its own
bootstrapped Cohen's kappa, about 0.2 s per pair at 10,000 replicates here, so 20 judges (190 pairs) would
keep a page waiting ~35 s even on a small session. Six judges at 10,000 replicates still run inline."""


def cheap_enough(session: JudgingSession, fp: Fingerprint, variant: Variant) -> bool:
    """Whether the page may compute the statistics while the staff member waits."""
    if fp.n_judgments > inline_limit():
        return False
    n_judges = Judgment.objects.filter(session=session).order_by().values("judge_id").distinct().count()
    return (n_judges * (n_judges - 1) // 2 + 1) * variant.n_boot <= PAIR_REPLICATE_BUDGET


@dataclass(frozen=True)
class Variant:
    """Computation settings; each variant is stored separately (the page and the bench differ in n_boot)."""

    n_boot: int = DEFAULT_REPLICATES
    seed: int = 0
    confidence: float = 0.95
    exclude_flagged: bool = False  # leave out items a judge flagged (default: kept, and counted on the page)

    @classmethod
    def default(cls) -> Variant:
        return cls(n_boot=int(getattr(settings, "QASYNTH_STATS_REPLICATES", DEFAULT_REPLICATES)))

    @property
    def key(self) -> str:
        key = f"boot={self.n_boot};seed={self.seed};conf={self.confidence:g}"
        return key + ";flagged=out" if self.exclude_flagged else key


# --- labels ------------------------------------------------------------------------------------------


def label_codes(session: JudgingSession) -> dict[str, int]:
    """Session label key -> engine code. Sessions order 2-3 labels best first; the engine's are
    incorrect < partial < correct, so the best label is "correct", the worst "incorrect" and a middle one
    "partial" (a 2-label session has no partial, and lenient accuracy equals correct accuracy there)."""
    keys = session.label_keys
    codes = {keys[0]: CORRECT, keys[-1]: INCORRECT}
    for key in keys[1:-1]:
        codes[key] = PARTIAL
    return codes


def label_names(session: JudgingSession) -> dict[str, str]:
    """Engine label name -> what this session calls it (for pages and exports)."""
    names = {LABELS[code]: key for key, code in label_codes(session).items()}
    return {name: names.get(name, name) for name in LABELS}


UNKNOWN = -9
"""Code the query gives a label that is not one of the session's (refused with the row named)."""


def _coded(field: str, codes: dict[str, int]) -> Case:
    """SQL that turns a label column into the engine's integer code: the database sends small ints, not text."""
    whens = [When(**{field: key}, then=Value(code)) for key, code in codes.items()]
    return Case(*whens, When(**{field: ""}, then=Value(MISSING)), default=Value(UNKNOWN), output_field=IntegerField())


@dataclass(frozen=True)
class Column:
    """One column of a values_list query: read into a NumPy array (with its value for NULL), or only its
    maximum (``aggregate="max"``, e.g. the latest update for the fingerprint)."""

    name: str
    dtype: str  # "i8", "i4" or "f8"
    null: float | int = 0
    aggregate: str = "array"


PACK = 16
"""Codes (-9 .. 2) are shifted by this into 5 bits, so three codes travel as one 15-bit integer..."""
CODE_SPAN = 1 << 15
"""...and a judgment's time on item (milliseconds, < 2**31) sits above them in the same 64-bit integer:
fewer and smaller arrays to aggregate and send (a million judgments: 32 MB instead of 44 MB)."""


def _flagged_items(session: JudgingSession) -> QuerySet:
    return ItemFlag.objects.filter(session=session).values("item_id")


def judgment_rows(
    session: JudgingSession, excluded: dict[int, str] | None = None, *, exclude_flagged: bool = False
) -> tuple[QuerySet, list[Column]]:
    """The one query the statistics read: the latest judgment of every (item, judge), its labels,
    preference and time on item packed by the database into one integer, plus the latest update and highest id.

    Judgment rows hold the latest revision (older ones live in JudgmentRevision), and (item, judge) is
    unique, so nothing here has to pick among revisions. Judges in ``excluded`` are left out.
    """
    codes = label_codes(session)
    judgments = counted_judgments(session, excluded or {})
    if exclude_flagged:
        judgments = judgments.exclude(item_id__in=_flagged_items(session))
    qs = (
        judgments.order_by()
        .annotate(
            code_a=_coded("label_a", codes),
            code_b=_coded("label_b", codes),
            code_pref=_coded("preference", {p: i for i, p in enumerate(PREFERENCES)}),
        )
        .annotate(
            packed=Cast("time_on_item_ms", BigIntegerField()) * CODE_SPAN
            + (F("code_a") + PACK) * 1024
            + (F("code_b") + PACK) * 32
            + F("code_pref")
            + PACK
        )
        .values_list("item_id", "judge_id", "packed", "updated_at", "id")
    )
    columns = [Column("item_id", "i8"), Column("judge_id", "i4"), Column("packed", "i8"),
               Column("last_update", "", aggregate="max"), Column("top_id", "", aggregate="max")]  # fmt: skip
    return qs, columns


def item_rows(session: JudgingSession, *, exclude_flagged: bool = False) -> tuple[QuerySet, list[Column]]:
    """Every item (unjudged ones count as unjudged): control flag and expected labels packed into one
    integer."""
    codes = label_codes(session)
    control = Case(When(is_control=True, then=Value(1)), default=Value(0), output_field=IntegerField())
    items = SessionItem.objects.filter(session=session)
    if exclude_flagged:
        items = items.exclude(pk__in=_flagged_items(session))
    qs = (
        items.order_by()
        .annotate(gold_a=_coded("expected_label_a", codes), gold_b=_coded("expected_label_b", codes))
        .annotate(codes=(control + PACK) * 1024 + (F("gold_a") + PACK) * 32 + F("gold_b") + PACK)
        .values_list("id", "codes")
    )
    return qs, [Column("id", "i8"), Column("codes", "i4")]


def link_rows(session: JudgingSession) -> tuple[QuerySet, list[Column]]:
    """The Prediction rows the items' answers came from (sessions built from evaluation runs; none for
    uploads): item id, side (0 = system A, 1 = system B) and prediction id."""
    side = Case(When(side="a", then=Value(0)), default=Value(1), output_field=IntegerField())
    qs = ItemPrediction.objects.filter(item__session=session).order_by().annotate(code=side)
    return qs.values_list("item_id", "code", "prediction_id"), [
        Column("item_id", "i8"), Column("side", "i4"), Column("prediction_id", "i8")
    ]  # fmt: skip


def linked_predictions(item_ids: np.ndarray, links: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per item (``item_ids`` sorted) the prediction id of system A's and of system B's answer, 0 if none."""
    out = (np.zeros(len(item_ids), dtype=np.int64), np.zeros(len(item_ids), dtype=np.int64))
    if len(item_ids) and len(links["item_id"]):
        position = np.searchsorted(item_ids, links["item_id"]).clip(max=len(item_ids) - 1)
        known = item_ids[position] == links["item_id"]
        for side, target in enumerate(out):
            chosen = known & (links["side"] == side)
            target[position[chosen]] = links["prediction_id"][chosen]
    return out


def prediction_rows(predictions: QuerySet) -> tuple[QuerySet, list[Column]]:
    """Per-item scores of Prediction rows (typed float columns)."""
    qs = predictions.order_by().values_list("id", *METRIC_NAMES)
    return qs, [Column("id", "i8"), *(Column(name, "f8", np.nan) for name in METRIC_NAMES)]


def read_item_scores(session: JudgingSession, prediction_ids: np.ndarray) -> dict[str, np.ndarray]:
    """Scores of the linked predictions, by prediction id (sorted). Read by evaluation run (sessions built
    from runs name them in ``source``): two plain scans, much cheaper than joining every item twice; any
    prediction not found that way is read by id."""
    wanted = sorted_unique(prediction_ids[prediction_ids > 0])
    empty = {"id": np.zeros(0, dtype=np.int64), **{name: np.zeros(0) for name in METRIC_NAMES}}
    if not wanted.size:
        return empty
    runs = [int(run) for run in (session.source or {}).get("evaluation_runs", []) if str(run).isdigit()]
    parts = [read_columns(*prediction_rows(Prediction.objects.filter(evaluation_run_id__in=runs)))[1]] if runs else []
    found = sorted_unique(np.concatenate([part["id"] for part in parts])) if parts else empty["id"]
    missing = wanted[~_contains(found, wanted)]
    if missing.size:  # links outside the named runs: read them through the items (a semi-join)
        linked = ItemPrediction.objects.filter(item__session=session).values("prediction_id")
        other = Prediction.objects.filter(pk__in=linked).exclude(evaluation_run_id__in=runs)
        parts.append(read_columns(*prediction_rows(other))[1])
    scores = {name: np.concatenate([part[name] for part in parts]) for name in ("id", *METRIC_NAMES)}
    order = np.argsort(scores["id"], kind="stable")
    return {name: values[order] for name, values in scores.items()}


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Distinct values, sorted. A plain sort: NumPy 2's hash-based ``np.unique`` takes ~1 s on 400,000 ids."""
    ordered = np.sort(values, kind="stable")
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if ordered.size else ordered


def _contains(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    if not sorted_values.size:
        return np.zeros(len(queries), dtype=bool)
    position = np.searchsorted(sorted_values, queries).clip(max=len(sorted_values) - 1)
    return sorted_values[position] == queries


def _scores_for(prediction_ids: np.ndarray, scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-item metric arrays (NaN where an item links no prediction)."""
    position = np.searchsorted(scores["id"], prediction_ids).clip(max=max(len(scores["id"]) - 1, 0))
    linked = (prediction_ids > 0) & (scores["id"][position] == prediction_ids) if len(scores["id"]) else None
    out = {}
    for name in METRIC_NAMES:
        values = np.full(len(prediction_ids), np.nan)
        if linked is not None:
            values[linked] = scores[name][position[linked]]
        out[name] = values
    return out


PG_TYPES = {"i8": "int8", "i4": "int4", "f8": "float8"}


def _select(column: Column, name: str) -> str:
    """The aggregate that carries a column: a binary array of a fixed-width type (NULL replaced, so every
    element has the same size), or its maximum."""
    if column.aggregate == "max":
        return f"max(q.{name})"
    null = "'NaN'::float8" if column.dtype == "f8" and np.isnan(column.null) else str(column.null)
    return f"array_send(array_agg(COALESCE(q.{name}::{PG_TYPES[column.dtype]}, {null})))"


def read_columns(queryset: QuerySet, columns: list[Column]) -> tuple[int, dict[str, Any]]:
    """All rows of a values_list query: the row count and, per column, a NumPy array or the maximum.

    On PostgreSQL every array column is aggregated into one array and sent in binary
    (``array_send(array_agg(...))``): the answer is one row of a few blobs that NumPy reads with
    ``frombuffer``, so a million judgments cost no Python object per row (fetching rows, or COPY, spends
    about 2 s per million rows in Python alone). Elsewhere the rows come as tuples.
    """
    if connection.vendor != "postgresql":
        rows = list(queryset)
        out: dict[str, Any] = {}
        for i, column in enumerate(columns):
            values = [row[i] for row in rows]
            if column.aggregate == "max":
                out[column.name] = max((v for v in values if v is not None), default=None)
                continue
            if column.dtype == "f8":
                values = [v if isinstance(v, int | float) and not isinstance(v, bool) else np.nan for v in values]
            else:
                values = [column.null if v is None else v for v in values]
            out[column.name] = np.asarray(values, dtype=column.dtype).reshape(len(rows))
        return len(rows), out
    sql, params = queryset.query.sql_with_params()
    names = [f"c{i}" for i in range(len(columns))]
    selects = ", ".join(_select(column, name) for column, name in zip(columns, names, strict=True))
    statement = f"SELECT count(*), {selects} FROM ({sql}) AS q ({', '.join(names)})"
    connection.ensure_connection()
    # A server-side-binding cursor on Django's own connection (same transaction), which may return binary.
    with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
        # Every array_agg reads the same row stream; without a parallel plan there is no doubt about that.
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        # The items' joins to both runs' predictions hash 2 x 200,000 rows for a large session: in memory.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(statement, params, binary=True)
        count, *values = cursor.fetchone()
    out = {}
    for column, value in zip(columns, values, strict=True):
        out[column.name] = value if column.aggregate == "max" else _parse_array(value, column, count)
    return count, out


def _parse_array(blob: bytes | None, column: Column, count: int) -> np.ndarray:
    """A one-dimensional array in PostgreSQL's binary format (array_send) -> NumPy, layout checked."""
    if count == 0:
        return np.zeros(0, dtype=column.dtype)
    header = np.frombuffer(blob, dtype=">i4", count=5)  # dimensions, has nulls, element type, length, lower bound
    if header[0] != 1 or header[1] != 0 or header[3] != count:
        raise StatisticsError(f"unexpected array from the database for {column.name} (header {header.tolist()})")
    layout = np.dtype([("length", ">i4"), ("value", f">{column.dtype}")])
    elements = np.frombuffer(blob, dtype=layout, offset=20)
    if len(elements) != count or (elements["length"] != layout["value"].itemsize).any():
        raise StatisticsError(f"unexpected array from the database for {column.name} (element sizes)")
    return elements["value"].astype(column.dtype)


def _unpack(packed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three codes packed by the queries above: (x + PACK) * 1024 + (y + PACK) * 32 + (z + PACK)."""
    packed = packed.astype(np.int64)
    return (packed >> 10) - PACK, ((packed >> 5) & 31) - PACK, (packed & 31) - PACK


@dataclass(frozen=True)
class Fingerprint:
    n_judgments: int
    key: str


def _fingerprint(session: JudgingSession, n_judgments: int, last, top_judgment, n_items: int, top_item,  # noqa: ANN001
                 excluded: dict[int, str] | None = None) -> Fingerprint:  # fmt: skip
    config = json.dumps([session.system_a, session.system_b, session.label_keys, exclusion_key(excluded or {})])
    digest = hashlib.sha256(config.encode()).hexdigest()[:12]
    last_text = last.isoformat() if last else "-"
    key = f"j{n_judgments}:{last_text}:{top_judgment or 0}:i{n_items}:{top_item or 0}:{digest}{_flag_key(session)}"
    return Fingerprint(int(n_judgments), key)


def _flag_key(session: JudgingSession) -> str:
    """Flags change which items a "flagged left out" result uses and the count every result shows."""
    flags = ItemFlag.objects.filter(session=session).aggregate(n=Count("pk"), last=Max("updated_at"))
    return f":f{flags['n']}:{flags['last'].isoformat()}" if flags["n"] else ""


def fingerprint(session: JudgingSession) -> Fingerprint:
    """What the statistics depend on, in two aggregate queries: judgments (count, latest change, highest id),
    items (count, highest id), the session's labels and system names, and the judges left out. A new or
    edited judgment, a new item, a renamed system or a change of who is excluded changes it."""
    excluded = excluded_judges(session)
    judged = counted_judgments(session, excluded).aggregate(n=Count("pk"), last=Max("updated_at"), top=Max("pk"))
    items = SessionItem.objects.filter(session=session).aggregate(n=Count("pk"), top=Max("pk"))
    return _fingerprint(session, judged["n"], judged["last"], judged["top"], items["n"], items["top"], excluded)


@dataclass
class SessionData:
    """A session's judgments laid out for the engine, plus per-item scores for the metric tables."""

    fingerprint: Fingerprint
    excluded: dict[int, str]
    item_ids: np.ndarray
    judge_ids: np.ndarray
    labels_a: np.ndarray
    labels_b: np.ndarray
    preference: np.ndarray
    seconds: np.ndarray
    control: np.ndarray
    control_gold_a: np.ndarray
    control_gold_b: np.ndarray
    metrics_a: dict[str, np.ndarray]
    metrics_b: dict[str, np.ndarray]

    def engine_kwargs(self) -> dict[str, Any]:
        bert_a, bert_b = self.metrics_a["bertscore_f1"], self.metrics_b["bertscore_f1"]
        has_bert = bool(np.isfinite(bert_a).any() or np.isfinite(bert_b).any())
        return {
            "labels_a": self.labels_a,
            "labels_b": self.labels_b,
            "preference": self.preference,
            "seconds": self.seconds,
            "control": self.control,
            "control_gold_a": self.control_gold_a,
            "control_gold_b": self.control_gold_b,
            "item_ids": self.item_ids,
            "judge_ids": self.judge_ids,
            "bertscore_a": bert_a if has_bert else None,
            "bertscore_b": bert_b if has_bert else None,
        }


def pivot(
    item_ids: np.ndarray, judgment_items: np.ndarray, judgment_judges: np.ndarray, columns: dict[str, np.ndarray]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Long judgment rows -> (items, judges) arrays, vectorised; ``item_ids`` must be sorted.

    Same layout as ``analysis.stats.pivot_judgments`` (a test checks they agree), without its per-value
    string encoding, which costs seconds on a million rows. The database guarantees one Judgment per
    (item, judge), so there are no revisions to resolve here.
    """
    judge_ids = sorted_unique(judgment_judges)
    judge_index = np.searchsorted(judge_ids, judgment_judges)
    item_index = np.searchsorted(item_ids, judgment_items).clip(max=max(len(item_ids) - 1, 0))
    known = item_ids[item_index] == judgment_items if len(item_ids) else np.zeros(len(judgment_items), dtype=bool)
    if not known.all():
        row = int(np.flatnonzero(~known)[0])
        raise StatisticsError(f"judgment row {row} refers to item {judgment_items[row]}, which is not in the session")
    shape = (len(item_ids), len(judge_ids))
    out = {}
    for name, values in columns.items():
        fill = np.nan if values.dtype.kind == "f" else MISSING
        grid = np.full(shape, fill, dtype=values.dtype)
        grid[item_index, judge_index] = values
        out[name] = grid
    return judge_ids, out


def _check_codes(codes: np.ndarray, what: str, describe: Callable[[int], str], allowed: list[str]) -> np.ndarray:
    if (codes == UNKNOWN).any():
        row = int(np.flatnonzero(codes == UNKNOWN)[0])
        raise StatisticsError(f"{describe(row)}: {what} is not one of this session's values {allowed}")
    return codes.astype(np.int64)


def load_session_data(session: JudgingSession, *, exclude_flagged: bool = False) -> SessionData:
    """Read items and judgments (two queries, one snapshot: REPEATABLE READ on PostgreSQL) into arrays.

    The fingerprint comes from the same rows (count, latest update, highest ids), so a stored result
    always names exactly the judgments it was computed from.
    """
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:  # SET TRANSACTION must be its first statement
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        excluded = excluded_judges(session)
        n_items, items = read_columns(*item_rows(session, exclude_flagged=exclude_flagged))
        n_judgments, judgments = read_columns(*judgment_rows(session, excluded, exclude_flagged=exclude_flagged))
        _, links = read_columns(*link_rows(session))
        scores = read_item_scores(session, links["prediction_id"])
    top_item = int(items["id"].max()) if n_items else None
    fp = _fingerprint(session, n_judgments, judgments["last_update"], judgments["top_id"], n_items, top_item, excluded)
    order = np.argsort(items["id"], kind="stable")
    item_ids = items["id"][order]
    prediction_a, prediction_b = linked_predictions(item_ids, links)
    control, gold_a, gold_b = _unpack(items["codes"][order])
    code_a, code_b, code_pref = _unpack(judgments["packed"] & (CODE_SPAN - 1))
    judgment_items, judgment_judges = judgments["item_id"], judgments["judge_id"]
    keys = session.label_keys

    def where(row: int) -> str:
        return f"the judgment of item {judgment_items[row]} by user {judgment_judges[row]}"

    def item_where(row: int) -> str:
        return f"item {item_ids[row]}"

    columns = {
        "labels_a": _check_codes(code_a, "label_a", where, keys),
        "labels_b": _check_codes(code_b, "label_b", where, keys),
        "preference": _check_codes(code_pref, "preference", where, list(PREFERENCES)),
        "seconds": (judgments["packed"] >> 15) / 1000.0,
    }
    judge_ids, grids = pivot(item_ids, judgment_items, judgment_judges, columns)
    return SessionData(
        excluded=excluded,
        fingerprint=fp,
        item_ids=item_ids,
        judge_ids=judge_ids,
        labels_a=grids["labels_a"],
        labels_b=grids["labels_b"],
        preference=grids["preference"],
        seconds=grids["seconds"],
        control=control.astype(bool),
        control_gold_a=_check_codes(gold_a, "expected_label_a", item_where, keys),
        control_gold_b=_check_codes(gold_b, "expected_label_b", item_where, keys),
        metrics_a=_scores_for(prediction_a, scores),
        metrics_b=_scores_for(prediction_b, scores),
    )


# --- what the engine does not compute ---------------------------------------------------------------

EXTRA_RULES: tuple[str, ...] = (
    "Only the latest revision of each judgment counts (a judge who changes a label replaces it).",
    "Session labels map onto the engine's by order: the first (best) label counts as correct, the last as "
    "incorrect, a middle one as partial. With two labels nothing is partial, so lenient equals correct.",
    "Automatic metrics per system (EM, F1, sentence BLEU, BERTScore F1) are means of the per-item scores "
    "of the evaluation runs' predictions, over the non-control items judged at least once; the "
    "per-system correlation sets each system's per-item BERTScore against its majority label on those items.",
)


def _quantiles(values: np.ndarray) -> dict[str, object] | None:
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    p10, q1, med, q3, p90 = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9])
    return {"n": int(values.size), "p10": p10, "q1": q1, "median": med, "q3": q3, "p90": p90}


def _system_extras(data: SessionData, side: str, confidence: float) -> dict[str, object]:
    main = ~data.control
    labels = data.labels_a if side == "a" else data.labels_b
    metrics = data.metrics_a if side == "a" else data.metrics_b
    judged = main & (labels != MISSING).any(axis=1)
    majority = plurality(category_counts(labels[judged], len(LABELS)))
    out: dict[str, object] = {"n_items_judged": int(judged.sum()), "metrics": {}, "correlation": {}}
    for name in METRIC_NAMES:
        values = metrics[name][judged]
        finite = values[np.isfinite(values)]
        out["metrics"][name] = {"mean": float(finite.mean()) if finite.size else None, "n": int(finite.size)}
    scores = metrics["bertscore_f1"][judged]
    usable = np.isfinite(scores) & (majority >= 0)
    for criterion in CRITERIA:
        outcome = success_mask(majority[usable], criterion)
        out["correlation"][criterion] = {
            "point_biserial": point_biserial(scores[usable], outcome, confidence),
            "auc": auc_delong(scores[usable], outcome, confidence),
        }
    out["correlation"]["n_answers"] = int(usable.sum())
    return out


def session_extras(data: SessionData, confidence: float) -> dict[str, object]:
    """Per-judge label counts and time quantiles (for the plots) and per-system automatic metrics."""
    main = ~data.control
    judges = []
    for j, judge in enumerate(data.judge_ids.tolist()):
        labels = np.concatenate([data.labels_a[main, j], data.labels_b[main, j]])
        prefs = data.preference[main, j]
        judges.append(
            {
                "judge": judge,
                "labels": np.bincount(labels[labels >= 0], minlength=len(LABELS)).tolist(),
                "preferences": np.bincount(prefs[prefs >= 0], minlength=len(PREFERENCES)).tolist(),
                "seconds": _quantiles(data.seconds[main, j]),
            }
        )
    has_metrics = any(np.isfinite(m).any() for m in (*data.metrics_a.values(), *data.metrics_b.values()))
    return {
        "judges": judges,
        "systems": [_system_extras(data, "a", confidence), _system_extras(data, "b", confidence)],
        "has_metrics": has_metrics,
        "n_items_in_session": int(len(data.item_ids)),
    }


def _plain(value: object) -> object:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None (undefined is None, never NaN)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def compute(session: JudgingSession, variant: Variant, progress: Callable[[int, str], None] | None = None) -> dict:
    """Everything the page, the API and the exports show, from the current judgments (not stored)."""
    step = progress or (lambda done, message: None)
    step(0, "reading judgments")
    data = load_session_data(session, exclude_flagged=variant.exclude_flagged)
    step(1, "computing statistics")
    result = compute_session_statistics(
        **data.engine_kwargs(),
        system_names=(session.system_a, session.system_b),
        n_boot=variant.n_boot,
        seed=variant.seed,
        confidence=variant.confidence,
        include_items=False,
    )
    # The engine says "None" (its JSON value); the pages say "undefined" and the API and exports null.
    shown = 'shown as "undefined" on the pages and as null in the API and exports'
    result["rules"] = [*EXTRA_RULES, *(rule.replace("shown as None", shown) for rule in result["rules"])]
    result["excluded_judges"] = [{"judge": judge, "reason": reason} for judge, reason in sorted(data.excluded.items())]
    if data.excluded:
        result["rules"].insert(0, f"{len(data.excluded)} judge(s) left out of every figure (listed with the reason).")
    result["label_names"] = label_names(session)
    result["extras"] = session_extras(data, variant.confidence)
    result["session"] = {"id": session.pk, "name": session.name, "fingerprint": data.fingerprint.key}
    result["rules"].append(
        "Items a judge flagged (and skipped) are left out of every figure."
        if variant.exclude_flagged
        else "Items a judge flagged (and skipped) are kept; the flagging judge gave them no labels."
    )
    result["flags"] = {
        "flagged_items": ItemFlag.objects.filter(session=session).values("item_id").distinct().count(),
        "excluded": variant.exclude_flagged,
    }
    return {"result": _plain(result), "fingerprint": data.fingerprint}


def compute_and_store(
    session: JudgingSession, variant: Variant, progress: Callable[[int, str], None] | None = None
) -> SessionStatistics:
    """Compute, draw the plots and store them under the fingerprint of the judgments they came from."""

    started = time.perf_counter()
    computed = compute(session, variant, progress)
    result = computed["result"]
    if progress:
        progress(2, "drawing plots")
    names = display_names(session, named_judge_ids(result), usernames=True)
    svgs = plots.session_plots(with_judge_names(result, names))
    seconds = time.perf_counter() - started
    row, _ = SessionStatistics.objects.update_or_create(
        session=session,
        variant=variant.key,
        defaults={
            "fingerprint": computed["fingerprint"].key,
            "n_judgments": computed["fingerprint"].n_judgments,
            "result": result,
            "plots": svgs,
            "seconds": seconds,
            "computed_at": timezone.now(),
        },
    )
    return row


# --- serving ----------------------------------------------------------------------------------------


@dataclass
class StoredResultState:
    """What a page, export or API call can show now of a result computed by a job: the stored result (maybe
    stale) and the job computing a newer one. Shared by the two-system statistics and the K-system ranking."""

    session: JudgingSession
    row: SessionStatistics | None
    fresh: bool
    job: Job | None
    n_judgments: int

    @property
    def result(self) -> dict | None:
        return self.row.result if self.row is not None else None

    @property
    def computing(self) -> bool:
        return self.job is not None and self.job.status not in FINISHED_STATUSES

    @property
    def failed(self) -> bool:
        return not self.fresh and self.job is not None and self.job.status in FINISHED_STATUSES

    @property
    def status(self) -> str:
        if self.fresh:
            return "ready"
        if self.computing:
            return "computing"
        return "failed" if self.failed else "stale"


@dataclass
class StatisticsState(StoredResultState):
    """The two-system statistics of one variant (judges left out or not, bootstrap size)."""

    variant: Variant

    @property
    def plots(self) -> dict[str, str]:
        return (self.row.plots or {}) if self.row is not None else {}


def _stored(session: JudgingSession, variant: Variant) -> SessionStatistics | None:
    return SessionStatistics.objects.filter(session=session, variant=variant.key).select_related("job").first()


def statistics_for(
    session: JudgingSession, variant: Variant | None = None, *, user=None, inline: bool | None = None
) -> StatisticsState:
    """The session's statistics: stored if still current, else computed now (small sessions) or by a job
    (more than ``inline_limit()`` judgments, or many judges: see ``cheap_enough``), in which case the last
    stored result is returned as stale."""
    variant = variant or Variant.default()
    row = _stored(session, variant)
    if inline and (row is None or row.result is None):  # nothing to compare with: no fingerprint query
        row = compute_and_store(session, variant)
        return StatisticsState(session, row, True, row.job, row.n_judgments, variant)
    fp = fingerprint(session)
    if row is not None and row.result is not None and row.fingerprint == fp.key:
        return StatisticsState(session, row, True, row.job, fp.n_judgments, variant)
    run_inline = inline if inline is not None else cheap_enough(session, fp, variant)
    if run_inline:
        row = compute_and_store(session, variant)
        return StatisticsState(session, row, True, row.job, row.n_judgments, variant)
    job = ensure_job(session, variant, fp, user=user)
    row = _stored(session, variant)
    return StatisticsState(session, row, False, job, fp.n_judgments, variant)


def ensure_job(session: JudgingSession, variant: Variant, fp: Fingerprint, *, user=None) -> Job:
    """The job computing these statistics: the one in flight, else a new one. A job that failed on the same
    judgments is returned rather than repeated on every page view (staff retry it from the job page)."""
    SessionStatistics.objects.get_or_create(session=session, variant=variant.key)
    with transaction.atomic():
        row = SessionStatistics.objects.select_for_update().get(session=session, variant=variant.key)
        job = Job.objects.filter(pk=row.job_id).first() if row.job_id else None
        in_flight = job is not None and job.status not in FINISHED_STATUSES
        failed_on_same = job is not None and job.status != "succeeded" and job.params.get("fingerprint") == fp.key
        if in_flight or failed_on_same:
            return job
        job = create_job(
            JOB_KIND,
            {"session_id": session.pk, "variant": variant.__dict__, "fingerprint": fp.key},
            user=user,
            title=f"Statistics of session “{session.name}” ({fp.n_judgments:,} judgments)",
        )
        row.job = job
        row.save(update_fields=["job"])
    return job


def run_job(ctx) -> dict:
    """Body of the ``analysis.statistics`` job. Idempotent: a retried job whose result is already stored
    for the current judgments stops at once; otherwise it recomputes and replaces the one stored row."""
    session = JudgingSession.objects.filter(pk=ctx.params.get("session_id")).first()
    if session is None:
        raise JobError(f"Judging session {ctx.params.get('session_id')} no longer exists.")
    variant = Variant(**ctx.params.get("variant", {}))
    row = _stored(session, variant)
    if row is not None and row.result is not None:
        fp = fingerprint(session)
        if row.fingerprint == fp.key:
            return {"session_id": session.pk, "n_judgments": fp.n_judgments, "already_current": True}

    def progress(done: int, message: str) -> None:
        ctx.check_cancelled()
        ctx.progress(done, 3, message)

    try:
        row = compute_and_store(session, variant, progress)
    except StatisticsError as exc:
        raise JobError(str(exc)) from exc
    ctx.progress(3, 3, f"{row.n_judgments:,} judgments in {row.seconds:.1f} s")
    return {"session_id": session.pk, "n_judgments": row.n_judgments, "seconds": round(row.seconds, 3)}


# --- presenting -------------------------------------------------------------------------------------


def with_judge_names(result: dict, names: dict[int, str]) -> dict:
    """A copy of a stored result with judge ids replaced by display names (usernames or pseudonyms)."""
    out = copy.deepcopy(result)
    for row in out.get("judges", []):
        row["judge"] = names.get(row["judge"], str(row["judge"]))
    for pair in out.get("agreement", {}).get("cohen_kappa", []):
        pair["judges"] = [names.get(j, str(j)) for j in pair["judges"]]
    for row in out.get("extras", {}).get("judges", []):
        row["judge"] = names.get(row["judge"], str(row["judge"]))
    for row in out.get("excluded_judges", []):
        row["judge"] = names.get(row["judge"], str(row["judge"]))
    return out


def named_judge_ids(result: dict) -> list[int]:
    """Every judge id a stored result names (its judges and those it left out), for display_names."""
    return [row["judge"] for row in result.get("judges", [])] + [
        row["judge"] for row in result.get("excluded_judges", [])
    ]
