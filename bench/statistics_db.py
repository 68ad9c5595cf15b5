"""Benchmark: a session with 1,000,000 judgments in PostgreSQL -> statistics end to end, and streamed exports.

Data: a seeded synthetic session (``analysis.stats.synthetic``; default 200,000 items x 5 judges, every
judge judges every item = 1,000,000 judgments, 2% control items, per-item BERTScore/EM/F1/BLEU on the
items, 3% of judgments with a comment holding commas, quotes, a newline and Japanese). Rows are bulk
loaded with COPY into a database this run creates (--db-name, default qasynth_bench_statistics; an existing
database of that name is refused, never dropped) and drops at the end unless --keep; --reuse runs on a kept one.

Measured:
- statistics end to end through the service the page and the job use (``statistics_for``, inline, with
  nothing stored; median of --repeats runs in one process whose imports are warm, as a server's or a
  worker's are): the fingerprint check, one aggregate query for the judgments, one for the items and one
  per evaluation run for the prediction scores, the (items x judges) arrays, every figure with n_boot=1000
  bootstrap replicates (the page default is 10,000), per-judge and per-system extras, four matplotlib SVG
  plots, and storing the result; then a breakdown run, the cached read and the statistics page render;
- each export of the judgments (CSV, JSONL, Parquet) through the real view, in a fresh child process:
  time to the first chunk, total time, bytes, and the child's own peak RSS (VmHWM of its address space, not
  ru_maxrss, which on Linux carries the parent's peak across fork+exec) against its peak before the export.

Run: .venv/bin/python bench/statistics_db.py [--items 200000 --judges 5 --replicates 1000 --db-name N --keep]
     (PG_URL=postgres://postgres@127.0.0.1:5432 by default)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
# This folder holds bench/statistics.py, named like the standard library's module: keep it off sys.path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(REPO))

DB_NAME = "qasynth_bench_statistics"  # the default of --db-name
TARGET_STATS_S = 5.0


def rss_mib() -> float:
    """Current resident set size of this process (Linux /proc)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """This process's own peak RSS so far: VmHWM of its address space (Linux /proc). ru_maxrss would not do in
    a child started by fork+exec: Linux keeps the larger of the forked copy's and the new image's peak."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def setup_django(pg_url: str, data_dir: str, db_name: str) -> None:
    os.environ["DATABASE_URL"] = f"{pg_url.rstrip('/')}/{db_name}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "qasynth_web.settings"
    os.environ.setdefault("QASYNTH_DATA_DIR", data_dir)
    os.environ.setdefault("SECRET_KEY", "bench-statistics-secret-key-not-for-production")
    os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
    os.environ.setdefault("AXES_ENABLED", "0")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    import django

    from qasynth_lib.secret_key import ensure_for_this_process

    ensure_for_this_process(Path(__file__).resolve().parent.parent)

    django.setup()


def create_database(pg_url: str, db_name: str) -> None:
    """Create the bench's database; refuse (never drop) one that exists: it may be someone else's."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone():
            raise SystemExit(
                f"database {db_name!r} already exists: pass --reuse to run on it (a database kept with --keep), or "
                "--db-name to create another. This bench never drops a database it did not create in this run."
            )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))


def drop_created_database(pg_url: str, db_name: str) -> None:
    """Drop the database this run created (only that one)."""
    import psycopg
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with psycopg.connect(f"{pg_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(db_name)))


def copy_rows(table: str, columns: list[str], frame) -> float:  # noqa: ANN001
    """COPY a DataFrame into a table (CSV through memory, in 200,000-row chunks)."""
    import pandas as pd
    from django.db import connection

    started = time.perf_counter()
    # Empty strings are values here, not NULL (COPY's CSV default reads an empty field as NULL).
    text_columns = [name for name in columns if pd.api.types.is_string_dtype(frame[name])]
    options = f", FORCE_NOT_NULL ({', '.join(text_columns)})" if text_columns else ""
    with connection.cursor() as cursor:
        for start in range(0, len(frame), 200_000):
            buffer = io.StringIO()
            frame.iloc[start : start + 200_000].to_csv(buffer, header=False, index=False)
            statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv{options})"
            with cursor.cursor.copy(statement) as copy:
                copy.write(buffer.getvalue())
    return time.perf_counter() - started


def load_session(n_items: int, n_judges: int, seed: int) -> int:
    """Create judges, one session, its items, slots and judgments; return the session id."""
    import numpy as np
    import pandas as pd
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from analysis.models import ItemPrediction
    from analysis.stats.coding import LABELS, PREFERENCES
    from analysis.stats.synthetic import synthetic_session
    from annotation.models import Assignment, JudgingSession, Judgment, SessionItem

    data = synthetic_session(n_items, n_judges, missing=0.0, control_rate=0.02, seed=seed)
    rng = np.random.default_rng(seed)
    judges = User.objects.bulk_create([User(username=f"bench-judge-{j}") for j in range(n_judges)])
    session = JudgingSession.objects.create(
        name="Benchmark session", system_a="synthetic QA (bench)", system_b="human QA (bench)", judges_per_item=n_judges
    )  # source is filled in below, once the evaluation runs exist (as sessions built from runs record them)
    keys = ["incorrect", "partial", "correct"]  # the default session labels, by engine code
    assert [label["key"] for label in session.accuracy_labels][::-1] == keys == list(LABELS)
    item_ids = np.arange(1, n_items + 1)
    control = data["control"]
    gold_a = np.where(control & (data["control_gold_a"] >= 0), np.array(keys, dtype=object)[data["control_gold_a"]], "")
    gold_b = np.where(control & (data["control_gold_b"] >= 0), np.array(keys, dtype=object)[data["control_gold_b"]], "")
    em_a, em_b = (rng.random(n_items) < 0.3).astype(float), (rng.random(n_items) < 0.25).astype(float)
    scores = {}
    for side, bert, em in (("a", data["bertscore_a"], em_a), ("b", data["bertscore_b"], em_b)):
        scores[side] = {
            "exact_match": em,
            "f1": np.round(np.clip(em + rng.random(n_items) * 0.5, 0, 1), 4),
            "bleu_sentence": np.round(bert * 40, 3),
            "bertscore_f1": np.round(bert, 5),
        }

    # Two evaluation runs whose predictions the items link to (as sessions built from runs do).
    from core.models import ModelEntry
    from generation.models import Corpus
    from training.models import EvaluationRun, Prediction

    base = ModelEntry.objects.create(name="bench-base", kind="hf", role="qa_base", path="/nonexistent")
    corpus = Corpus.objects.create(name="bench corpus")
    prediction_ids = {}
    runs = []
    t_pred = 0.0
    for offset, side in enumerate("ab"):
        run = EvaluationRun.objects.create(name=f"bench run {side}", base_model=base, corpus=corpus)
        runs.append(run.pk)
        ids = np.arange(1, n_items + 1) + offset * n_items
        prediction_ids[side] = ids
        frame = pd.DataFrame(
            {
                "id": ids,
                "evaluation_run_id": run.pk,
                "item_index": np.arange(n_items),
                "item_key": [f"reference:{i}" for i in range(n_items)],
                "context": "",
                "question": "q",
                "gold_answers": '["a gold answer"]',
                "prediction": f"answer {side}",
                "raw_output": "",
                "context_truncated": False,
                **scores[side],
                "created_at": timezone.now(),
            }
        )
        t_pred += copy_rows(Prediction._meta.db_table, list(frame.columns), frame)
    session.source = {"kind": "evaluation_runs", "evaluation_runs": list(runs)}
    session.save(update_fields=["source"])

    def metrics(side: str) -> list[str]:
        columns = [scores[side][name].tolist() for name in ("exact_match", "f1", "bleu_sentence", "bertscore_f1")]
        return [
            json.dumps({"exact_match": e, "f1": f, "bleu_sentence": b, "bertscore_f1": s})
            for e, f, b, s in zip(*columns, strict=True)
        ]

    items = pd.DataFrame(
        {
            "id": item_ids,
            "session_id": session.pk,
            "position": item_ids - 1,
            "block": (item_ids - 1) // 10,
            "shuffle_key": rng.integers(0, 2**31 - 1, n_items),
            "external_id": [f"bench-{i}" for i in range(n_items)],
            "question": [
                f"Question {i}: what does passage {i % 997} say about topic {i % 89}?" for i in range(n_items)
            ],
            "context": "",
            "gold_answers": '["a gold answer"]',
            "answer_a": [f"answer alpha {i}" for i in range(n_items)],
            "answer_b": [f"answer beta {i}" for i in range(n_items)],
            "metrics_a": metrics("a"),
            "metrics_b": metrics("b"),
            "is_control": control,
            "control_kind": np.where(control, "gold", ""),
            "expected_label_a": gold_a,
            "expected_label_b": gold_b,
        }
    )
    t_items = copy_rows(SessionItem._meta.db_table, list(items.columns), items)
    links = pd.DataFrame(
        {
            "item_id": np.concatenate([item_ids, item_ids]),
            "side": ["a"] * n_items + ["b"] * n_items,
            "prediction_id": np.concatenate([prediction_ids["a"], prediction_ids["b"]]),
        }
    )
    t_items += copy_rows(ItemPrediction._meta.db_table, list(links.columns), links)

    n = n_items * n_judges
    judgment_ids = np.arange(1, n + 1)
    item_of = np.repeat(item_ids, n_judges)
    slot = np.tile(np.arange(n_judges), n_items)
    judge_of = np.array([u.pk for u in judges])[slot]
    now = timezone.now()
    offsets = rng.integers(0, 30 * 86400 * 10**6, n)
    stamps = pd.to_datetime(now.timestamp() * 10**6 - offsets, unit="us", utc=True)
    seconds = data["seconds"].reshape(-1)
    swapped = rng.random(n) < 0.5
    assignments = pd.DataFrame(
        {
            "id": judgment_ids,
            "session_id": session.pk,
            "item_id": item_of,
            "slot": slot,
            "block": (item_of - 1) // 10,
            "judge_id": judge_of,
            "seed": rng.integers(0, 2**62, n),
            "swapped": swapped,
            "sequence": judgment_ids // n_judges,
            "assigned_at": stamps,
            "submitted_at": stamps,
            "times_released": 0,
        }
    )
    t_assign = copy_rows(Assignment._meta.db_table, list(assignments.columns), assignments)
    del assignments
    labels = np.array(keys, dtype=object)
    prefs = np.array(PREFERENCES, dtype=object)
    comments = np.where(rng.random(n) < 0.03, 'fine, but "vague"\nsecond line: 日本語の説明', "")
    judgments = pd.DataFrame(
        {
            "id": judgment_ids,
            "assignment_id": judgment_ids,
            "session_id": session.pk,
            "item_id": item_of,
            "judge_id": judge_of,
            "label_a": labels[data["labels_a"].reshape(-1)],
            "label_b": labels[data["labels_b"].reshape(-1)],
            "preference": prefs[data["preference"].reshape(-1)],
            "comment": comments,
            "time_on_item_ms": np.round(seconds * 1000).astype(np.int64),
            "revisions_count": 1,
            "created_at": stamps,
            "updated_at": stamps,
        }
    )
    t_judg = copy_rows(Judgment._meta.db_table, list(judgments.columns), judgments)
    with connection.cursor() as cursor:
        for model in (Prediction, SessionItem, Assignment, Judgment):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        cursor.execute("ANALYZE")
    print(
        f"loaded with COPY: {2 * n_items:,} predictions in {t_pred:.1f} s, {n_items:,} items in {t_items:.1f} s, "
        f"{n:,} assignments in {t_assign:.1f} s, {n:,} judgments in {t_judg:.1f} s"
    )
    return session.pk


def time_statistics(session_id: int, replicates: int, repeats: int) -> float:
    """Cold statistics through the service (no stored result), a breakdown run, the cached read and the page."""
    from django.contrib.auth.models import User
    from django.test import Client, override_settings
    from django.urls import reverse

    import analysis.plots  # noqa: F401 - a running server or worker has imported matplotlib long ago
    from analysis.models import SessionStatistics
    from analysis.services import statistics
    from annotation.models import JudgingSession

    session = JudgingSession.objects.get(pk=session_id)
    variant = statistics.Variant(n_boot=replicates)
    times = []
    for _ in range(repeats):
        SessionStatistics.objects.filter(session=session).delete()  # nothing stored: a full computation
        started = time.perf_counter()
        state = statistics.statistics_for(session, variant, inline=True)
        times.append(time.perf_counter() - started)
    total = sorted(times)[len(times) // 2]
    print(
        f"statistics end to end (read, compute, plots, store; n_boot={replicates:,}, "
        f"{state.n_judgments:,} judgments): median {total:.2f} s of {', '.join(f'{t:.2f}' for t in times)}"
    )

    SessionStatistics.objects.filter(session=session).delete()
    marks: dict[int, float] = {}
    started = time.perf_counter()
    row = statistics.compute_and_store(
        session, variant, lambda done, message: marks.setdefault(done, time.perf_counter())
    )
    end = time.perf_counter()
    print(
        f"  breakdown (one more run, {end - started:.2f} s): read items + judgments into arrays "
        f"{marks[1] - marks[0]:.2f} s; engine + extras {marks[2] - marks[1]:.2f} s; "
        f"four SVG plots + store {end - marks[2]:.2f} s"
    )
    accuracy = row.result["accuracy"]
    print(
        "  accuracy by majority (correct): "
        + ", ".join(f"{name} {100 * acc['by_majority']['correct']['rate']:.1f}%" for name, acc in accuracy.items())
    )
    started = time.perf_counter()
    assert statistics.statistics_for(session, variant).fresh
    cached = time.perf_counter() - started
    staff, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(staff)
    with override_settings(QASYNTH_STATS_REPLICATES=replicates):
        client.get(reverse("analysis:session-stats", args=[session.pk]))  # compiles the templates once
        started = time.perf_counter()
        response = client.get(reverse("analysis:session-stats", args=[session.pk]))
        page = time.perf_counter() - started
    assert response.status_code == 200 and b"<svg" in response.content, response.status_code
    print(f"  stored result reused: fingerprint check {cached:.2f} s; statistics page from it {page:.2f} s")
    return total


def child_export(session_id: int, fmt: str) -> None:
    """Run in a fresh process: stream one export through the view, print figures as JSON."""
    import gc

    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    staff, _ = User.objects.get_or_create(username="bench-exporter", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(staff)
    url = reverse("api:session-export", args=[session_id, "judgments", fmt])
    gc.collect()
    before = rss_mib()
    peak_before = peak_rss_mib()  # start-up (imports) may have peaked higher than the export ever goes
    started = time.perf_counter()
    response = client.get(url)
    first = None
    size = 0
    samples = []  # (bytes sent so far, current RSS) every 20 chunks: flat memory shows as a flat line
    for index, chunk in enumerate(response.streaming_content):
        if first is None:
            first = time.perf_counter() - started
        size += len(chunk)
        if index % 20 == 0:
            samples.append((size, rss_mib()))
    total = time.perf_counter() - started
    samples.append((size, rss_mib()))
    figures = {
        "format": fmt,
        "status": response.status_code,
        "first_chunk_s": first,
        "total_s": total,
        "bytes": size,
        "rss_before_mib": before,
        "rss_samples_mib": [round(rss) for _, rss in samples[:: max(1, len(samples) // 5)]] + [round(samples[-1][1])],
        "peak_rss_mib": peak_rss_mib(),
        "peak_rss_before_mib": peak_before,
    }
    print(json.dumps(figures))


def time_exports(session_id: int, formats: list[str], pg_url: str, data_dir: str, db_name: str) -> None:
    for fmt in formats:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cmd = [sys.executable, __file__, "--child-export", fmt, "--session", str(session_id), "--data-dir", data_dir]
        cmd += ["--db-name", db_name]
        out = subprocess.run(cmd + ["--pg-url", pg_url], env=env, capture_output=True, text=True, timeout=1200)
        if out.returncode != 0:
            print(f"export {fmt}: FAILED\n{out.stderr[-3000:]}")
            continue
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        raised = "unchanged" if figures["peak_rss_mib"] <= figures["peak_rss_before_mib"] else "raised"
        print(
            f"export judgments.{fmt}: first chunk after {figures['first_chunk_s']:.2f} s, all "
            f"{figures['bytes'] / 2**20:,.0f} MiB in {figures['total_s']:.1f} s; RSS before "
            f"{figures['rss_before_mib']:.0f} MiB, during {figures['rss_samples_mib']} MiB; process peak "
            f"{figures['peak_rss_mib']:.0f} MiB ({raised} by the export: {figures['peak_rss_before_mib']:.0f} MiB "
            f"before it)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--judges", type=int, default=5)
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeats", type=int, default=3, help="full computations timed; the median is reported")
    parser.add_argument("--db-name", default=DB_NAME, help="database to create (refused if it exists) or --reuse")
    parser.add_argument("--reuse", action="store_true", help="run on the database a previous run kept (--keep)")
    parser.add_argument("--keep", action="store_true", help="keep the database this run creates (for --reuse)")
    parser.add_argument("--exports", default="csv,jsonl,parquet", help="formats to time ('' for none)")
    parser.add_argument("--pg-url", default=os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--child-export", default="", help=argparse.SUPPRESS)
    parser.add_argument("--session", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="qasynth-bench-stats-")

    if args.child_export:
        setup_django(args.pg_url, data_dir, args.db_name)
        child_export(args.session, args.child_export)
        return 0

    created = not args.reuse
    if created:
        create_database(args.pg_url, args.db_name)
    setup_django(args.pg_url, data_dir, args.db_name)
    try:
        return run_bench(args, data_dir)
    finally:
        if created and not args.keep:
            drop_created_database(args.pg_url, args.db_name)
            print(f"dropped database {args.db_name!r} (created by this run; --keep keeps it)")


def run_bench(args: argparse.Namespace, data_dir: str) -> int:
    from django.core.management import call_command

    from annotation.models import JudgingSession

    call_command("migrate", verbosity=0)
    session = JudgingSession.objects.filter(name="Benchmark session").order_by("-pk").first()
    if session is None or not args.reuse:
        started = time.perf_counter()
        session_id = load_session(args.items, args.judges, args.seed)
        print(f"data: {args.items:,} items x {args.judges} judges in {time.perf_counter() - started:.1f} s")
    else:
        session_id = session.pk
        print(f"data: reusing session {session_id}")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    total = time_statistics(session_id, args.replicates, args.repeats)
    formats = [f for f in args.exports.split(",") if f]
    time_exports(session_id, formats, args.pg_url, data_dir, args.db_name)
    ok = total < TARGET_STATS_S
    verdict = "met" if ok else "MISSED"
    print(f"target: statistics end to end < {TARGET_STATS_S:.0f} s with n_boot={args.replicates}: {verdict}")
    print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
