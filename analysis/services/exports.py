"""Session exports (judgments, items, statistics summary) as CSV, JSON Lines and Parquet, streamed.

Rows are read in keyset-paged chunks (``id > last`` ordered by id, one short query each: no transaction
or cursor stays open while a slow client downloads) and written chunk by chunk, so a million judgments
keep the server's memory flat and the first bytes leave at once. Parquet is streamed too: the writer
writes row groups sequentially into a small in-memory sink that the response drains after each group
(the format needs no seeking; the footer comes last).

Judges are pseudonymised by default (see ``pseudonyms``); staff may ask for usernames.

Judges the statistics leave out (``judge_policy.excluded_judges``: screened out by the qualification block,
or below the control threshold when the session's switch is on) are left out of the raw tables too, by the
same rule, so a notebook that reads the CSV counts what the statistics page counts. ``include_excluded``
keeps them, each of their rows flagged (``counted`` false, ``excluded_reason`` saying why).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from analysis.models import ItemPrediction
from analysis.services import ranking
from analysis.services.from_runs import METRIC_FIELDS
from analysis.services.judge_policy import counted_judgments, excluded_judges
from analysis.services.pseudonyms import display_names, session_judge_ids
from analysis.stats.flatten import flatten
from annotation.models import ItemFlag, JudgingSession, Judgment, SessionItem

CHUNK_ROWS = 5000
PARQUET_ROW_GROUP_ROWS = 50_000
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/x-ndjson; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
TABLES = ("judgments", "items", "summary", "pairwise", "ranking")
TIMESTAMP = pa.timestamp("us", tz="UTC")


class ExportError(ValueError):
    """The export cannot be made as asked (unknown table or format, statistics not ready)."""


JUDGMENT_SCHEMA = pa.schema(
    [
        ("judgment_id", pa.int64()),
        ("session_id", pa.int64()),
        ("item_id", pa.int64()),
        ("external_id", pa.string()),
        ("item_position", pa.int64()),
        ("is_control", pa.bool_()),
        ("judge", pa.string()),
        ("system_a", pa.string()),
        ("system_b", pa.string()),
        ("slot_a", pa.string()),
        ("slot_b", pa.string()),
        ("label_a", pa.string()),
        ("label_b", pa.string()),
        ("preference", pa.string()),
        ("preferred_system", pa.string()),
        ("comment", pa.string()),
        ("time_on_item_ms", pa.int64()),
        ("revisions", pa.int64()),
        ("created_at", TIMESTAMP),
        ("updated_at", TIMESTAMP),
        ("counted", pa.bool_()),
        ("excluded_reason", pa.string()),
    ]
)
"""One row per judgment (its latest revision), in system terms: label_a is about system A's answer, slot_a
says where that answer was shown to the judge (left/right), preference is "a", "tie", "b" or empty. counted:
whether the statistics use it; excluded_reason: why not (rows of excluded judges appear only on request)."""

ITEM_SCHEMA = pa.schema(
    [
        ("item_id", pa.int64()),
        ("position", pa.int64()),
        ("block", pa.int64()),
        ("external_id", pa.string()),
        ("is_control", pa.bool_()),
        ("control_kind", pa.string()),
        ("question", pa.string()),
        ("context", pa.string()),
        ("gold_answers", pa.list_(pa.string())),
        ("system_a", pa.string()),
        ("system_b", pa.string()),
        ("answer_a", pa.string()),
        ("answer_b", pa.string()),
        ("expected_label_a", pa.string()),
        ("expected_label_b", pa.string()),
        ("prediction_a_id", pa.int64()),
        ("prediction_b_id", pa.int64()),
        *((f"{name}_{side}", pa.float64()) for name in METRIC_FIELDS for side in "ab"),
        ("n_judgments", pa.int64()),
        ("n_flags", pa.int64()),
        ("flags", pa.list_(pa.string())),
    ]
)

SUMMARY_SCHEMA = pa.schema([("metric", pa.string()), ("value", pa.float64()), ("text", pa.string())])
"""The statistics summary flattened to dotted paths: numbers in ``value``, words (rules, names) in ``text``."""


# --- rows -----------------------------------------------------------------------------------------------


FIRST_CHUNK_ROWS = 200
"""The first chunk is small, so the first rows leave within a fraction of a second."""


def keyset_chunks(queryset: QuerySet, size: int | None = None) -> Iterator[list[tuple]]:
    """values_list rows in id order, ``size`` (default CHUNK_ROWS) at a time; the first value must be the id."""
    size = size or CHUNK_ROWS
    step = min(size, FIRST_CHUNK_ROWS)
    last = 0
    while True:
        rows = list(queryset.filter(pk__gt=last).order_by("pk")[:step])
        if not rows:
            return
        yield rows
        last = rows[-1][0]
        step = size


JUDGMENT_COLUMNS = (
    "pk", "item_id", "item__external_id", "item__position", "item__is_control", "judge_id", "assignment__swapped",
    "label_a", "label_b", "preference", "comment", "time_on_item_ms", "revisions_count", "created_at", "updated_at",
)  # fmt: skip
ITEM_COLUMNS = (
    "pk", "position", "block", "external_id", "is_control", "control_kind", "question", "context", "gold_answers",
    "answer_a", "answer_b", "expected_label_a", "expected_label_b", "prediction_a_id", "prediction_b_id",
    "metrics_a", "metrics_b", "n_judgments",
)  # fmt: skip


def _judgment_tuples(
    session: JudgingSession, rows: list[tuple], names: dict[int, str], excluded: dict[int, str] | None = None
) -> list[tuple]:
    system = {"a": session.system_a, "b": session.system_b, "tie": "tie", "": ""}
    excluded = excluded or {}
    return [
        (
            pk, session.pk, item_id, external_id, position, is_control, names[judge_id], session.system_a,
            session.system_b, "right" if swapped else "left", "left" if swapped else "right", label_a, label_b,
            preference, system[preference], comment, time_ms, revisions, created, updated,
            judge_id not in excluded, excluded.get(judge_id, ""),
        )  # fmt: skip
        for (pk, item_id, external_id, position, is_control, judge_id, swapped, label_a, label_b, preference,
             comment, time_ms, revisions, created, updated) in rows
    ]  # fmt: skip


def _flags_of(item_ids: list[int]) -> dict[int, list[str]]:
    """Judges' flags of these items as "reason: note" (one query per chunk; judges are not named here)."""
    flags: dict[int, list[str]] = {}
    for item_id, reason, note in (
        ItemFlag.objects.filter(item_id__in=item_ids).order_by("item_id", "pk").values_list("item_id", "reason", "note")
    ):
        flags.setdefault(item_id, []).append(f"{reason}: {note}" if note else reason)
    return flags


def _item_tuples(session: JudgingSession, rows: list[tuple]) -> list[tuple]:
    out = []
    flags = _flags_of([row[0] for row in rows])
    for row in rows:
        (pk, position, block, external_id, is_control, control_kind, question, context, gold, answer_a, answer_b,
         expected_a, expected_b, prediction_a, prediction_b, metrics_a, metrics_b, n_judgments) = row  # fmt: skip
        scores = [_score(metrics, name) for name in METRIC_FIELDS for metrics in (metrics_a, metrics_b)]
        out.append(
            (pk, position, block, external_id, is_control, control_kind, question, context,
             [str(answer) for answer in (gold or [])], session.system_a, session.system_b, answer_a, answer_b,
             expected_a, expected_b, prediction_a, prediction_b, *scores, n_judgments,
             len(flags.get(pk, [])), flags.get(pk, []))
        )  # fmt: skip
    return out


def judgment_queryset(session: JudgingSession, excluded: dict[int, str], *, include_excluded: bool) -> QuerySet:
    """The session's judgments an export shows: those the statistics count, or all with include_excluded."""
    return Judgment.objects.filter(session=session) if include_excluded else counted_judgments(session, excluded)


def _judgment_query(session: JudgingSession, excluded: dict[int, str], *, include_excluded: bool) -> QuerySet:
    return judgment_queryset(session, excluded, include_excluded=include_excluded).values_list(*JUDGMENT_COLUMNS)


def _judgments_per_item(excluded: dict[int, str]) -> Coalesce:
    """A per-row subquery (an index lookup per item), so a keyset page never aggregates the whole session.
    Judgments of excluded judges are not counted, as the statistics do not count them."""
    per_item = Judgment.objects.filter(item=OuterRef("pk"))
    if excluded:
        per_item = per_item.exclude(judge_id__in=sorted(excluded))
    per_item = per_item.order_by().values("item").annotate(n=Count("pk"))
    return Coalesce(Subquery(per_item.values("n"), output_field=IntegerField()), 0)


def _linked_prediction(side: str) -> Subquery:
    """The Prediction a side's answer came from (an index lookup per item; NULL for uploaded items)."""
    links = ItemPrediction.objects.filter(item=OuterRef("pk"), side=side).values("prediction_id")[:1]
    return Subquery(links, output_field=IntegerField())


def _item_query(session: JudgingSession, excluded: dict[int, str]) -> QuerySet:
    return (
        SessionItem.objects.filter(session=session)
        .annotate(
            n_judgments=_judgments_per_item(excluded),
            prediction_a_id=_linked_prediction("a"),
            prediction_b_id=_linked_prediction("b"),
        )
        .values_list(*ITEM_COLUMNS)
    )


def judgment_chunks(
    session: JudgingSession, *, usernames: bool = False, include_excluded: bool = False
) -> Iterator[list[tuple]]:
    names = display_names(session, session_judge_ids(session), usernames=usernames)
    excluded = excluded_judges(session)
    for rows in keyset_chunks(_judgment_query(session, excluded, include_excluded=include_excluded)):
        yield _judgment_tuples(session, rows, names, excluded)


def item_chunks(session: JudgingSession) -> Iterator[list[tuple]]:
    for rows in keyset_chunks(_item_query(session, excluded_judges(session))):
        yield _item_tuples(session, rows)


def judgment_rows_for(
    session: JudgingSession, ids: Sequence[int], names: dict[int, str], excluded: dict[int, str] | None = None
) -> list[tuple]:
    """Export rows of these judgments (one API page, already filtered by the caller), in id order."""
    excluded = excluded_judges(session) if excluded is None else excluded
    rows = list(_judgment_query(session, excluded, include_excluded=True).filter(pk__in=ids).order_by("pk"))
    return _judgment_tuples(session, rows, names, excluded)


def item_rows_for(session: JudgingSession, ids: Sequence[int]) -> list[tuple]:
    return _item_tuples(session, list(_item_query(session, excluded_judges(session)).filter(pk__in=ids).order_by("pk")))


def _score(metrics: dict | None, name: str) -> float | None:
    value = (metrics or {}).get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def summary_rows(result: dict) -> list[tuple]:
    rows = []
    for metric, value in flatten(result).items():
        if isinstance(value, bool) or value is None or isinstance(value, str):
            rows.append((metric, None, None if value is None else str(value)))
        elif isinstance(value, int | float):
            rows.append((metric, float(value), None))
        else:  # lists of names or labels
            rows.append((metric, None, json.dumps(value, ensure_ascii=False)))
    return rows


# --- writers ----------------------------------------------------------------------------------------------


def _iso(value: datetime) -> str:
    return value.isoformat()


def _json_list(value: list) -> str:
    return json.dumps(value, ensure_ascii=False)


def _converters(schema: pa.Schema, *, text: bool) -> list[tuple[int, Callable[[object], object]]]:
    """Per-column conversions for the text formats: timestamps to ISO 8601, and (CSV only) lists to JSON.
    Applied to those columns only: a million rows x 20 columns of per-value checks would cost seconds."""
    out: list[tuple[int, Callable[[object], object]]] = []
    for index, field in enumerate(schema):
        if pa.types.is_timestamp(field.type):
            out.append((index, _iso))
        elif text and pa.types.is_list(field.type):
            out.append((index, _json_list))
    return out


def _convert(rows: list[tuple], converters: list[tuple[int, Callable[[object], object]]]) -> list:
    if not converters:
        return rows
    out = []
    for row in rows:
        row = list(row)
        for index, convert in converters:
            if row[index] is not None:
                row[index] = convert(row[index])
        out.append(row)
    return out


def write_csv(schema: pa.Schema, chunks: Iterator[list[tuple]]) -> Iterator[bytes]:
    """CSV with a header; empty cells for missing values, ISO 8601 timestamps, lists as JSON."""
    converters = _converters(schema, text=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(schema.names)
    yield buffer.getvalue().encode()
    for rows in chunks:
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(_convert(rows, converters))
        yield buffer.getvalue().encode()


def write_jsonl(schema: pa.Schema, chunks: Iterator[list[tuple]]) -> Iterator[bytes]:
    """One JSON object per line; missing values are null, timestamps ISO 8601, lists stay lists."""
    names = schema.names
    converters = _converters(schema, text=False)
    for rows in chunks:
        lines = (
            json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False, allow_nan=False)
            for row in _convert(rows, converters)
        )
        yield ("\n".join(lines) + "\n").encode()


class _DrainableSink:
    """A write-only file for ParquetWriter whose bytes the response takes after each row group."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data) -> int:  # noqa: ANN001 - bytes-like from pyarrow
        data = bytes(data)
        self._parts.append(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def _batch(schema: pa.Schema, rows: list[tuple]) -> pa.RecordBatch:
    columns = zip(*rows, strict=True)
    return pa.RecordBatch.from_arrays(
        [pa.array(column, type=field.type) for column, field in zip(columns, schema, strict=True)], schema=schema
    )


def write_parquet(schema: pa.Schema, chunks: Iterator[list[tuple]]) -> Iterator[bytes]:
    sink = _DrainableSink()
    writer = pq.ParquetWriter(pa.PythonFile(sink, mode="w"), schema, compression="zstd")
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    yield sink.drain()  # the "PAR1" magic: the download starts before the first row group is read
    try:
        for rows in chunks:
            pending.append(_batch(schema, rows))
            pending_rows += len(rows)
            if pending_rows >= PARQUET_ROW_GROUP_ROWS:
                writer.write_table(pa.Table.from_batches(pending, schema=schema), row_group_size=pending_rows)
                pending, pending_rows = [], 0
                yield sink.drain()
        if pending:
            writer.write_table(pa.Table.from_batches(pending, schema=schema), row_group_size=pending_rows)
    finally:
        writer.close()
    yield sink.drain()


WRITERS: dict[str, Callable[[pa.Schema, Iterator[list[tuple]]], Iterator[bytes]]] = {
    "csv": write_csv,
    "jsonl": write_jsonl,
    "parquet": write_parquet,
}


@dataclass(frozen=True)
class Export:
    filename: str
    content_type: str
    chunks: Iterator[bytes]


def export(
    session: JudgingSession,
    table: str,
    fmt: str,
    *,
    usernames: bool = False,
    summary: dict | None = None,
    include_excluded: bool = False,
    ranking_result: dict | None = None,
) -> Export:
    """The byte stream of one export. ``summary`` is the statistics result (judges already named);
    ``ranking_result`` the current ranking for the `ranking`/`pairwise` tables (computed now if not given).
    include_excluded: the judgments table also holds the rows of judges the statistics leave out (flagged)."""
    if table not in TABLES:
        raise ExportError(f"Unknown table {table!r}; choose one of {', '.join(TABLES)}.")
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format {fmt!r}; choose one of {', '.join(FORMATS)}.")
    if table == "judgments":
        schema, chunks = (
            JUDGMENT_SCHEMA,
            judgment_chunks(session, usernames=usernames, include_excluded=include_excluded),
        )
    elif table == "items":
        schema, chunks = ITEM_SCHEMA, item_chunks(session)
    elif table in ("pairwise", "ranking"):
        schema, chunks = k_system_table(session, table, ranking_result)
    else:
        if summary is None:
            raise ExportError("The statistics summary is not ready yet.")
        schema, chunks = SUMMARY_SCHEMA, iter([summary_rows(summary)])
    suffix = "-usernames" if usernames and table != "items" else ""
    if include_excluded and table == "judgments":
        suffix += "-with-excluded"
    return Export(f"session-{session.pk}-{table}{suffix}.{fmt}", FORMATS[fmt], WRITERS[fmt](schema, chunks))


RANKING_SCHEMA = pa.schema(
    [("system", pa.string()), ("status", pa.string()), ("component", pa.int64()), ("model", pa.string()),
     ("strength", pa.float64()), ("strength_low", pa.float64()), ("strength_high", pa.float64()),
     ("rank", pa.int64()), ("rank_low", pa.int64()), ("rank_high", pa.int64()),
     ("half_wins_strength", pa.float64()), ("accuracy_correct", pa.float64()), ("accuracy_correct_low", pa.float64()),
     ("accuracy_correct_high", pa.float64()), ("accuracy_lenient", pa.float64()),
     ("accuracy_lenient_low", pa.float64()), ("accuracy_lenient_high", pa.float64()), ("n_items", pa.int64()),
     *[(f"mean_{name}", pa.float64()) for name in ranking.METRICS]]
)  # fmt: skip
PAIRWISE_SCHEMA = pa.schema(
    [("system_a", pa.string()), ("system_b", pa.string()), ("a_wins", pa.int64()), ("ties", pa.int64()),
     ("b_wins", pa.int64()), ("win_rate_a", pa.float64()), ("win_rate_a_low", pa.float64()),
     ("win_rate_a_high", pa.float64()), ("sign_test_p", pa.float64()), ("sign_test_p_holm", pa.float64()),
     ("accuracy_difference_correct", pa.float64()), ("accuracy_difference_lenient", pa.float64()),
     ("mcnemar_p_holm_correct", pa.float64()), ("mcnemar_p_holm_lenient", pa.float64())]
)  # fmt: skip


def _pair(values: list | None) -> tuple:
    return tuple(values) if values else (None, None)


def k_system_table(
    session: JudgingSession, table: str, result: dict | None = None
) -> tuple[pa.Schema, Iterator[list[tuple]]]:
    """The `ranking` (one row per system) or `pairwise` (one row per pair) table; no judge appears in either.
    ``result`` is the session's current ranking (the API passes the stored one); computed now when not given."""
    result = result if result is not None else ranking.session_ranking(session)
    if table == "pairwise":
        rows = [
            (p["system_a"], p["system_b"], p["a_wins"], p["ties"], p["b_wins"], p["win_rate_a"],
             *_pair(p["win_rate_a_ci"]), p["sign_test_p"], p["sign_test_p_holm"], p["accuracy_difference_correct"],
             p["accuracy_difference_lenient"], p["mcnemar_p_holm_correct"], p["mcnemar_p_holm_lenient"])
            for p in ranking.pairwise_table(result)
        ]  # fmt: skip
        return PAIRWISE_SCHEMA, iter([rows])
    rows = [
        (r["system"], r["status"], r["component"], r["model"], r["strength"], *_pair(r["strength_ci"]), r["rank"],
         *_pair(r["rank_interval"]), r["half_wins_strength"], r["accuracy_correct"], *_pair(r["accuracy_correct_ci"]),
         r["accuracy_lenient"], *_pair(r["accuracy_lenient_ci"]), r["n_items"],
         *[r["metrics"].get(name) for name in ranking.METRICS])
        for r in ranking.ranking_table(result, ranking.metric_means(session))
    ]  # fmt: skip
    return RANKING_SCHEMA, iter([rows])


def rows_as_dicts(schema: pa.Schema, rows: Sequence[tuple]) -> list[dict]:
    """API rows: the export's columns as JSON-ready dicts (timestamps as ISO 8601)."""
    converted = _convert(list(rows), _converters(schema, text=False))
    return [dict(zip(schema.names, row, strict=True)) for row in converted]
