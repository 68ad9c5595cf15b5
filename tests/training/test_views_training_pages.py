"""Staff pages of the training app: access, the run form, the run page with its loss curve, the adapter zip."""

from __future__ import annotations

import io
import zipfile

from django.urls import reverse

from core.models import Job
from core.services import jobs
from tests.training.web_helpers import make_dataset, make_eval_corpus, tiny_entry
from training.models import EvaluationRun, Experiment, LossPoint, TrainingRun

PAGES = [
    ("training:run-list", []),
    ("training:run-create", []),
    ("training:results", []),
    ("training:results-csv", []),
    ("training:experiment-list", []),
    ("training:evaluation-create", []),
]


def _object_pages(run: TrainingRun) -> list[str]:
    evaluation = EvaluationRun.objects.create(name="e", base_model=run.base_model, corpus=make_eval_corpus())
    experiment = Experiment.objects.create(name="x", corpus=evaluation.corpus, qa_base=run.base_model)
    return [
        reverse("training:run-detail", args=[run.pk]),
        reverse("training:run-loss-svg", args=[run.pk]),
        reverse("training:run-adapter", args=[run.pk]),
        reverse("training:evaluation-detail", args=[evaluation.pk]),
        reverse("training:evaluation-predictions-csv", args=[evaluation.pk]),
        reverse("training:experiment-detail", args=[experiment.pk]),
    ] + [reverse(name, args=args) for name, args in PAGES]


def test_judges_get_403_and_anonymous_users_the_login_page_everywhere(client, bob, run):
    urls = _object_pages(run)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url
    client.force_login(bob)
    for url in urls:
        assert client.get(url).status_code == 403, url
    for name in ("training:experiment-launch", "training:experiment-cancel", "training:experiment-retry"):
        assert client.post(reverse(name, args=[Experiment.objects.get().pk])).status_code == 403
    assert Experiment.objects.get().status == "draft"


def test_staff_queue_a_training_run_from_the_form(alice_client, db):
    entry, dataset = tiny_entry(), make_dataset()
    page = alice_client.get(reverse("training:run-create") + f"?base_model={entry.pk}")
    assert page.status_code == 200 and b"LoRA" in page.content

    response = alice_client.post(
        reverse("training:run-create"),
        {
            "base_model": entry.pk,
            "dataset": dataset.pk,
            "lora_r": 4,
            "lora_alpha": 8,
            "lora_dropout": 0.1,
            "target_modules": "q_proj, v_proj",
            "epochs": 2,
            "batch_size": 3,
            "gradient_accumulation_steps": 1,
            "seed": 5,
            "checkpoint_every": 10,
            "device": "auto",
            "dtype": "auto",
            "prompt": "Context: {context}\nQuestion: {question}\nAnswer:",
        },
    )

    run = TrainingRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert (run.lora_r, run.lora_alpha, run.target_modules, run.epochs, run.max_steps) == (
        4,
        8,
        ["q_proj", "v_proj"],
        2,
        None,
    )
    assert run.template["prompt"].startswith("Context: {context}") and run.template["answer_prefix"] == " "
    assert run.learning_rate == 2e-4 and run.max_seq_length == 256  # architecture defaults (llama)
    assert run.job.kind == "training" and run.job.queue == "gpu" and run.job.status == "queued"
    assert run.job.params == {"training_run_id": run.pk}


def test_a_bad_template_is_refused_with_the_reason(alice_client, db):
    entry, dataset = tiny_entry(), make_dataset()
    response = alice_client.post(
        reverse("training:run-create"),
        {"base_model": entry.pk, "dataset": dataset.pk, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05,
         "epochs": 1, "batch_size": 2, "gradient_accumulation_steps": 1, "seed": 1, "checkpoint_every": 5,
         "device": "auto", "dtype": "auto", "prompt": "Question: {question}"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "exactly the placeholders {context} and {question}" in response.content.decode()
    assert not TrainingRun.objects.exists() and not Job.objects.exists()


def test_the_run_page_draws_the_stored_loss_curve(alice_client, run):
    LossPoint.objects.bulk_create(
        [LossPoint(training_run=run, step=s, loss=3.0 - 0.1 * s, learning_rate=1e-3) for s in range(1, 11)]
    )
    page = alice_client.get(run.get_absolute_url())
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html and "Training loss" in html and "10 steps stored" in html
    assert html.count("<circle") == 10  # one per step (a 10-step curve needs no moving average)
    svg = alice_client.get(reverse("training:run-loss-svg", args=[run.pk]))
    assert svg["Content-Type"] == "image/svg+xml" and svg.content.startswith(b"<svg")
    assert alice_client.get(reverse("training:run-adapter", args=[run.pk])).status_code == 404


def test_the_adapter_downloads_as_a_zip_that_peft_loads(alice_client, run, in_process, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert jobs.run_job(run.job_id, owner="test:1") == "succeeded"
    run.refresh_from_db()

    response = alice_client.get(reverse("training:run-adapter", args=[run.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f'filename="adapter-run-{run.pk}.zip"' in response["Content-Disposition"]
    data = b"".join(response.streaming_content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        assert {"adapter_config.json", "adapter_model.safetensors", "qasynth_training.json"} <= names
        archive.extractall(tmp_path / "adapter")
    base = AutoModelForCausalLM.from_pretrained(run.base_model.path)
    model = PeftModel.from_pretrained(base, str(tmp_path / "adapter"))
    assert sorted(model.peft_config["default"].target_modules) == ["q_proj", "v_proj"]
