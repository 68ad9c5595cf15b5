"""The experiment orchestrator, in-process with quick fake stage jobs: grid, order, concurrency limit, failures,
and the human baseline trained first when its adapter reads the generation runs' round trip."""

from __future__ import annotations

import pytest

from core.models import Job, JobStatus, ModelEntry, ModelRole
from core.services import jobs
from core.services.jobs import job_handler
from tests.training.web_helpers import make_dataset, make_eval_corpus, tiny_entry
from training.models import EvaluationRun, Experiment, ExperimentCell, TrainingRun
from training.services import experiments

FAKE_KIND = "trainweb.fake_stage"
FAILING: set[int] = set()
GIVEN_READERS: list = []  # the round-trip reader each fake generation run was given


@job_handler(FAKE_KIND, description="Test stand-in for a generation, training or evaluation job.")
def fake_stage(ctx) -> dict:
    return {"ok": True}


def _fail(job: Job) -> None:
    """What a failed job looks like. (A handler that raises inside run_job would close this test's
    connection: the runtime drops connections after errors, which ends the test transaction.)"""
    Job.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error="told to fail", lease_owner="")


@pytest.fixture
def in_process(settings, monkeypatch):
    settings.QASYNTH_HEARTBEAT_SECONDS = 3600
    monkeypatch.setattr(jobs, "publish", lambda job_id: False)
    FAILING.clear()
    GIVEN_READERS.clear()


@pytest.fixture
def fake_stages(monkeypatch):
    """Every stage creates its real rows (datasets, runs) but a quick fake job instead of real work."""
    entry = tiny_entry()
    made: list[tuple[str, int]] = []

    def fake_job(title: str) -> Job:
        job = jobs.create_job(FAKE_KIND, {}, title=title)
        made.append((title, job.pk))
        return job

    def start_generation(cell, reader=None):
        GIVEN_READERS.append(reader)
        return fake_job(f"generate {cell.label}")

    def dataset(cell):
        return make_dataset(f"data for {cell.label}")

    def start_training(cell, dataset):
        return TrainingRun.objects.create(
            name=cell.label, base_model=entry, dataset=dataset, job=fake_job(f"train {cell.label}")
        )

    def start_evaluation(cell):
        return EvaluationRun.objects.create(
            name=cell.label,
            base_model=entry,
            training_run=cell.training_run,
            corpus=cell.experiment.corpus,
            job=fake_job(f"evaluate {cell.label}"),
        )

    monkeypatch.setattr(experiments, "start_generation", start_generation)
    monkeypatch.setattr(experiments, "synthetic_dataset", dataset)
    monkeypatch.setattr(experiments, "human_dataset", dataset)
    monkeypatch.setattr(experiments, "start_training", start_training)
    monkeypatch.setattr(experiments, "start_evaluation", start_evaluation)
    return made


def _experiment(max_concurrent: int, **fields) -> Experiment:
    corpus = make_eval_corpus()
    values = dict(
        name="grid",
        corpus=corpus,
        qa_base=tiny_entry(name="tiny base"),
        generator=tiny_entry(name="tiny generator"),
        context_sources=[corpus.name],
        shots=[0, 1],
        pairs_per_passage=[1, 3],
        max_concurrent=max_concurrent,
    )
    values.update(fields)
    return Experiment.objects.create(**values)


def _active_stage_jobs() -> list[Job]:
    return list(Job.objects.filter(kind=FAKE_KIND, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]).order_by("pk"))


def _drive(experiment: Experiment, *, limit: int) -> int:
    """Run stage jobs one at a time, then the advance jobs they release; return the most ever in flight."""
    most = len(_active_stage_jobs())
    for _ in range(200):
        experiment.refresh_from_db()
        if experiment.status != Experiment.Status.RUNNING:
            return most
        active = _active_stage_jobs()
        assert 0 < len(active) <= limit
        most = max(most, len(active))
        if active[0].pk in FAILING:
            _fail(active[0])
        else:
            assert jobs.run_job(active[0].pk, owner="test:stage") == "succeeded"
        for advance_job in Job.objects.filter(kind=experiments.ADVANCE_KIND, status=JobStatus.QUEUED):
            if jobs.dependencies_ready(advance_job):
                assert jobs.run_job(advance_job.pk, owner="test:advance") == "succeeded"
        most = max(most, len(_active_stage_jobs()))
        assert len(_active_stage_jobs()) <= limit
    raise AssertionError("the experiment did not finish in 200 rounds")


def test_launch_creates_the_grid_and_starts_only_as_many_jobs_as_the_limit(db, in_process, fake_stages):
    experiment = _experiment(max_concurrent=2)

    report = experiments.launch(experiment)

    cells = list(experiment.cells.order_by("position"))
    assert [(c.kind, c.shots, c.pairs_per_passage) for c in cells] == [
        ("synthetic", 0, 1),
        ("synthetic", 0, 3),
        ("synthetic", 1, 1),
        ("synthetic", 1, 3),
        ("human", None, None),
    ]
    assert len(report.started) == 2 and len(_active_stage_jobs()) == 2
    assert [c.stage for c in cells] == ["generating", "generating", "pending", "pending", "pending"]
    assert [c.current_job_id is not None for c in cells] == [True, True, False, False, False]
    # each stage job has an advance job that waits for it
    for cell in cells[:2]:
        waiting = Job.objects.get(kind=experiments.ADVANCE_KIND, params__after_job=cell.current_job_id)
        assert list(waiting.depends_on.all()) == [cell.current_job]
    assert experiments.advance(experiment).started == []  # idempotent: nothing more to start
    with pytest.raises(experiments.ExperimentError, match="already launched"):
        experiments.launch(experiment)


def test_the_grid_runs_to_the_end_without_exceeding_the_limit(db, in_process, fake_stages):
    experiment = _experiment(max_concurrent=2)
    experiments.launch(experiment)

    most = _drive(experiment, limit=2)

    experiment.refresh_from_db()
    assert experiment.status == "succeeded" and experiment.finished_at is not None
    assert most == 2
    cells = list(experiment.cells.order_by("position"))
    assert all(c.stage == "done" and c.evaluation_run_id and c.training_run_id and c.dataset_id for c in cells)
    kinds = [title.split()[0] for title, _ in fake_stages]
    assert kinds.count("generate") == 4 and kinds.count("train") == 5 and kinds.count("evaluate") == 5
    # a cell's stages ran in order: generation before its training before its evaluation
    for cell in cells:
        ids = [pk for title, pk in fake_stages if title.endswith(cell.label)]
        assert ids == sorted(ids)
    assert experiments.finished_job_count(experiment) == (14, 14)


def test_a_limit_of_one_runs_the_grid_strictly_one_job_at_a_time(db, in_process, fake_stages):
    experiment = _experiment(max_concurrent=1, shots=[0], pairs_per_passage=[1, 3])
    experiments.launch(experiment)
    assert _drive(experiment, limit=1) == 1
    experiment.refresh_from_db()
    assert experiment.status == "succeeded"


def test_a_failed_stage_stops_only_its_cell_and_a_retry_finishes_the_grid(db, in_process, fake_stages):
    experiment = _experiment(max_concurrent=2, shots=[0], pairs_per_passage=[1, 3])
    experiments.launch(experiment)
    doomed = experiment.cells.get(pairs_per_passage=3)
    FAILING.add(doomed.current_job_id)

    _drive(experiment, limit=2)
    experiments.advance(experiment)  # the periodic task's call: nothing else triggers after a failure

    experiment.refresh_from_db()
    assert experiment.status == "failed"  # shown as "Needs attention"
    states = {v.cell.label: v.state for v in experiments.cell_views(experiment)}
    assert states == {
        f"{experiment.corpus.name}, 0-shot, N=1": "done",
        f"{experiment.corpus.name}, 0-shot, N=3": "failed",
        "human reference pairs": "done",
    }
    stale = Job.objects.get(kind=experiments.ADVANCE_KIND, params__after_job=doomed.current_job_id)
    assert stale.status == "cancelled"

    FAILING.clear()
    experiments.retry_failed(experiment)
    experiment.refresh_from_db()
    assert experiment.status == "running"
    _drive(experiment, limit=2)
    experiment.refresh_from_db()
    assert experiment.status == "succeeded"
    assert all(c.stage == ExperimentCell.Stage.DONE for c in experiment.cells.all())


def test_a_stage_that_cannot_start_marks_its_cell_with_the_reason(db, in_process, fake_stages, monkeypatch):
    def no_pairs(cell):
        raise ValueError("the chosen runs have no accepted pairs")

    monkeypatch.setattr(experiments, "synthetic_dataset", no_pairs)
    experiment = _experiment(max_concurrent=3, shots=[0], pairs_per_passage=[1])
    experiments.launch(experiment)

    _drive(experiment, limit=3)

    experiment.refresh_from_db()
    cell = experiment.cells.get(kind="synthetic")
    assert cell.error == "the chosen runs have no accepted pairs" and cell.training_run_id is None
    assert experiment.cells.get(kind="human").stage == "done"
    assert experiment.status == "failed"


def test_cancel_stops_the_grid_and_its_waiting_jobs(db, in_process, fake_stages):
    experiment = _experiment(max_concurrent=2)
    experiments.launch(experiment)

    experiments.cancel(experiment)

    experiment.refresh_from_db()
    assert experiment.status == "cancelled"
    assert _active_stage_jobs() == []
    assert not Job.objects.filter(kind=experiments.ADVANCE_KIND, status="queued").exists()
    assert experiments.advance(experiment).started == []


def test_an_empty_grid_or_unknown_source_cannot_be_launched(db, in_process):
    experiment = _experiment(max_concurrent=1, context_sources=["no such corpus"], include_human_baseline=False)
    with pytest.raises(experiments.ExperimentError, match="'no such corpus' is not a corpus"):
        experiments.launch(experiment)
    experiment.refresh_from_db()
    assert experiment.status == "draft" and not experiment.cells.exists()


# --- the human baseline's adapter as the round-trip reader ----------------------------------------------


@pytest.fixture
def baseline_adapters(monkeypatch, tmp_path):
    """The fake human-baseline training leaves an adapter directory, as a finished training run does."""
    start_training = experiments.start_training

    def training_with_adapter(cell, dataset):
        run = start_training(cell, dataset)
        if cell.kind == ExperimentCell.Kind.HUMAN:
            adapter = tmp_path / f"adapter-{run.pk}"
            adapter.mkdir()
            (adapter / "adapter_config.json").write_text("{}")
            TrainingRun.objects.filter(pk=run.pk).update(adapter_dir=str(adapter))
            run.refresh_from_db()
        return run

    monkeypatch.setattr(experiments, "start_training", training_with_adapter)


def test_the_baseline_trains_first_and_its_adapter_reads_every_generation_run(
    db, in_process, fake_stages, baseline_adapters
):
    experiment = _experiment(max_concurrent=3, reader_from_baseline=True, generation_settings={"round_trip": True})

    experiments.launch(experiment)

    # slots are free, yet only the baseline's training runs: the generation runs need its adapter
    assert [job.title for job in _active_stage_jobs()] == ["train human reference pairs"]
    waiting = [v for v in experiments.cell_views(experiment) if v.cell.kind == "synthetic"]
    assert len(waiting) == 4 and all(v.state == "waiting" and "human baseline's adapter" in v.note for v in waiting)
    _drive(experiment, limit=3)
    experiment.refresh_from_db()
    assert experiment.status == "succeeded"
    human_run = experiment.cells.get(kind="human").training_run
    reader = ModelEntry.objects.get(role=ModelRole.QA_READER)
    assert reader.adapter_path == human_run.adapter_dir
    assert [reader] * 4 == GIVEN_READERS
    titles = [title for title, _ in fake_stages]
    assert titles.index("train human reference pairs") < min(
        i for i, title in enumerate(titles) if title.startswith("generate")
    )


def test_generation_never_starts_when_the_baseline_fails_and_a_retry_resumes_it(
    db, in_process, fake_stages, baseline_adapters
):
    experiment = _experiment(
        max_concurrent=2, shots=[1], pairs_per_passage=[1], reader_from_baseline=True,
        generation_settings={"round_trip": True},
    )  # fmt: skip
    experiments.launch(experiment)

    _fail(experiment.cells.get(kind="human").current_job)
    experiments.advance(experiment)  # the periodic task's call

    experiment.refresh_from_db()
    assert experiment.status == "failed"  # not "running" forever with nothing able to start
    assert experiment.cells.get(kind="synthetic").generation_job_id is None and GIVEN_READERS == []

    experiments.retry_failed(experiment)
    _drive(experiment, limit=2)
    experiment.refresh_from_db()
    assert experiment.status == "succeeded" and len(GIVEN_READERS) == 1 and GIVEN_READERS[0] is not None


def test_a_registered_reader_is_given_to_every_generation_run_without_waiting(db, in_process, fake_stages):
    reader = tiny_entry(name="tiny reader")
    experiment = _experiment(
        max_concurrent=2, shots=[0], round_trip_reader=reader, generation_settings={"round_trip": True}
    )
    experiments.launch(experiment)

    _drive(experiment, limit=2)

    experiment.refresh_from_db()
    assert experiment.status == "succeeded" and [reader, reader] == GIVEN_READERS
    assert experiment.cells.order_by("position").first().kind == "synthetic"  # the usual order


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reader_from_baseline": True, "include_human_baseline": False}, "the grid has no human baseline"),
        ({"reader_from_baseline": True, "generation_settings": {}}, "turn the round-trip filter off"),
        ({"reader_from_baseline": True, "with_reader": True}, "not both"),
    ],
)
def test_a_reader_that_cannot_serve_stops_the_launch_with_the_reason(db, in_process, fields, message):
    fields = {"generation_settings": {"round_trip": True}, **fields}
    if fields.pop("with_reader", False):
        fields["round_trip_reader"] = tiny_entry(name="tiny reader")
    experiment = _experiment(max_concurrent=1, **fields)

    with pytest.raises(experiments.ExperimentError, match=message):
        experiments.launch(experiment)

    experiment.refresh_from_db()
    assert experiment.status == "draft" and not experiment.cells.exists()
