"""The admin: its pages for the training app render, and adding a run there queues its job like the form."""

from __future__ import annotations

from django.urls import reverse

from tests.training.web_helpers import make_dataset, make_eval_corpus, tiny_entry
from training.models import EvaluationRun, TrainingRun


def test_the_training_admin_pages_render_for_staff(alice_client, db):
    for model in ("trainingrun", "evaluationrun", "prediction", "experiment", "losspoint"):
        assert alice_client.get(reverse(f"admin:training_{model}_changelist")).status_code == 200, model
        assert alice_client.get(reverse(f"admin:training_{model}_add")).status_code == 200, model


def test_adding_a_training_run_in_the_admin_queues_its_job_with_the_architecture_defaults(alice_client, alice, db):
    entry, dataset = tiny_entry(), make_dataset()
    form = {
        "name": "from admin", "base_model": entry.pk, "dataset": dataset.pk, "language": "en", "template": "{}",
        "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.05, "target_modules": "null", "epochs": 1,
        "learning_rate": 1e-3, "batch_size": 2, "gradient_accumulation_steps": 1, "max_seq_length": 128,
        "seed": 1, "warmup_ratio": 0.0, "checkpoint_every": 5, "device": "auto", "dtype": "auto",
    }  # fmt: skip
    response = alice_client.post(reverse("admin:training_trainingrun_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    run = TrainingRun.objects.get()
    assert run.job.kind == "training" and run.job.created_by == alice and run.created_by == alice
    assert run.target_modules == ["q_proj", "v_proj"] and run.template["prompt"].startswith("Answer the question")

    corpus = make_eval_corpus()
    response = alice_client.post(
        reverse("admin:training_evaluationrun_add"),
        {"name": "eval", "training_run": run.pk, "base_model": entry.pk, "corpus": corpus.pk, "split": "validation",
         "language": "en", "template": "{}", "batch_size": 4, "max_new_tokens": 8, "bootstrap_resamples": 100},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    evaluation = EvaluationRun.objects.get()
    assert evaluation.job.kind == "evaluation" and evaluation.job.params == {"evaluation_run_id": evaluation.pk}
