"""The generation run page follows its job: figures read for people (pairs/min, ETA m:ss, no raw keys),
attempts agree with the log, and the run's own details (passages done, outputs) update when the job moves."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from core.models import Job, JobStatus
from core.views import describe_progress_data, job_as_dict
from tests.generation.synth_helpers import CannedBackend, FakeContext, endpoint_model, make_corpus
from tests.support.layout import CHROMIUM, LAPTOP, chromium, log_in

GENERATION_DATA = {"passages_done": 1, "passages_total": 2, "pairs_accepted": 2, "pairs_rejected": 4,
                   "pairs_per_s": 0.033, "passages_per_s": 0.011, "eta_s": 0}  # fmt: skip


def test_generation_figures_read_as_rates_per_minute_and_an_eta_clock_without_raw_keys():
    text = describe_progress_data(GENERATION_DATA)

    assert text == "2.0 pairs/min · 0.7 passages/min · ETA 0:00"
    assert "_" not in text and "eta" not in text


@pytest.mark.parametrize(("seconds", "shown"), [(0, "0:00"), (59.6, "1:00"), (125, "2:05"), (3725, "1:02:05")])
def test_the_eta_is_a_clock(seconds, shown):
    assert describe_progress_data({"eta_s": seconds}) == f"ETA {shown}"


def test_fast_rates_read_per_second_and_training_figures_have_words():
    text = describe_progress_data({"tokens_per_s": 812.44, "loss": 1.234567, "learning_rate": 0.0002, "epoch": 1.5})

    assert text == "812.4 tokens/s · loss 1.235 · learning rate 2.00e-04 · epoch 1.5"


def test_a_finished_job_shows_no_eta():
    assert describe_progress_data({"eta_s": 12, "pairs_per_s": 2.0}, finished=True) == "2.0 pairs/s"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("attempts", "status", "shown"),
    [(0, JobStatus.QUEUED, "not started yet (at most 3 attempts)"), (1, JobStatus.RUNNING, "attempt 1 of 3")],
)
def test_attempts_are_counted_as_the_log_counts_them(alice_client, attempts, status, shown):
    job = Job.objects.create(kind="generation", status=status, attempts=attempts, progress_data=GENERATION_DATA)

    page = re.sub(r"\s+", " ", alice_client.get(job.get_absolute_url()).content.decode())
    data = alice_client.get(reverse("job-status", args=[job.pk])).json()

    assert f'<span data-field="attempts">{shown}</span>' in page and data["attempts_text"] == shown
    assert "pairs_per_s" not in page and "2.0 pairs/min" in page
    assert data["data_text"] == job_as_dict(job)["data_text"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium")
@pytest.mark.django_db(transaction=True)
def test_the_run_details_follow_the_job_without_a_reload(live_server, alice, settings):
    from generation.services.generation_runs import RunSettings, create_run, execute_run
    from generation.services.prompt_templates import default_template_for

    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    corpus = make_corpus(passages=["Kyoto was the capital of Japan.", "Osaka is known for its food."])
    generator = endpoint_model("http://127.0.0.1:9/v1", name="canned-endpoint")
    template = default_template_for("en", 0)
    run = create_run(
        corpus, generator, template, settings=RunSettings(pairs_per_passage=3, batch_size=4), enqueue=False
    )
    with chromium() as browser:
        page = browser.new_page(viewport=LAPTOP)
        page.set_default_timeout(20_000)
        log_in(page, live_server.url, "alice")
        page.goto(f"{live_server.url}{run.get_absolute_url()}")
        assert "Passages done 0 of 2" in re.sub(r"\s+", " ", page.inner_text("#run-details"))
        assert "No outputs yet" in page.inner_text("#run-details")
        marker = page.evaluate("() => { window.notReloaded = true; return true; }")

        # What a worker does meanwhile: claim the job, store outputs, finish.
        Job.objects.filter(pk=run.job_id).update(status=JobStatus.RUNNING, attempts=1)
        execute_run(run, FakeContext(), backend=CannedBackend())
        Job.objects.filter(pk=run.job_id).update(status=JobStatus.SUCCEEDED, progress_done=2, progress_total=2)

        page.wait_for_function("() => /Passages done\\s+2 of 2/.test(document.getElementById('run-details').innerText)")
        details = page.inner_text("#run-details")
        assert "Kyoto was the capital of Japan." in details and "No outputs yet" not in details
        assert marker and page.evaluate("() => window.notReloaded === true")  # updated in place
        assert "attempt 1 of 3" in page.inner_text("[data-field=attempts]")


def test_figures_read_in_the_same_order_whatever_order_the_database_kept_the_keys_in():
    # PostgreSQL's jsonb returns keys sorted by length, SQLite as written: the text must not depend on it.
    written = {"pairs_per_s": 0.033, "passages_per_s": 0.011, "eta_s": 65, "loss": 1.5}
    by_length = dict(sorted(written.items(), key=lambda item: (len(item[0]), item[0])))
    assert list(by_length) != list(written)
    assert describe_progress_data(by_length) == describe_progress_data(written)
    assert describe_progress_data(written).endswith("ETA 1:05")
