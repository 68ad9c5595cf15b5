"""Model faults end a job as failed with a message that names the problem, and keep what it finished: a
missing model directory or weights file, an endpoint that times out, answers 500 or answers garbage, a
tokenizer without a chat template, and CUDA running out of memory (simulated: the generate/forward call
raises torch.cuda.OutOfMemoryError, as it would on a GPU). A retry after the fault is gone finishes the
work without redoing what was stored."""

from __future__ import annotations

import json
import shutil
import threading
import time
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from core.models import Job, JobStatus
from core.services import jobs
from generation.models import RawOutput
from generation.services.generation_runs import RunSettings, create_run
from generation.services.prompt_templates import default_template_for
from tests.generation.synth_helpers import endpoint_model, hf_model, make_corpus
from tests.hardening.helpers import describe
from tests.support.tiny_models import tiny_model_dir
from tests.training.web_helpers import make_dataset, make_eval_corpus, minilm_entry, tiny_entry
from training.models import TrainingRun
from training.services.evaluation_runs import create_evaluation_run
from training.services.training_runs import create_training_run

PASSAGES = 4


def _run_here(job_id: int) -> Job:
    jobs.run_job(job_id, owner="hardening")
    return Job.objects.get(pk=job_id)


def _retry_here(job: Job) -> Job:
    jobs.retry_job(job)
    return _run_here(job.pk)


def _generation(in_process, generator, **settings):
    name = f"comets-{generator.name}-{settings.get('prompt_mode', 'auto')}"
    corpus = make_corpus(name, passages=[f"Comet{i} returns every {70 + i} years." for i in range(PASSAGES)])
    options = {"pairs_per_passage": 2, "batch_size": 1, "concurrency": 1, "max_new_tokens": 8, **settings}
    run = create_run(corpus, generator, default_template_for("en", 0), settings=RunSettings(**options), enqueue=False)
    in_process(run.job_id)
    return run


# --- missing files -----------------------------------------------------------------------------------------


def test_a_missing_model_directory_fails_each_job_kind_with_the_path(in_process, tmp_path):
    missing = tmp_path / "no-such-model"
    generation = _generation(in_process, hf_model(missing, name="gone"))
    entry = tiny_entry()
    entry.path = str(missing)
    entry.save()
    training = create_training_run(base_model=entry, dataset=make_dataset(), max_steps=2, batch_size=3, enqueue=False)
    evaluation = create_evaluation_run(corpus=make_eval_corpus(), base_model=entry, split="validation", enqueue=False)
    in_process(training.job_id, evaluation.job_id)

    for job_id in (generation.job_id, training.job_id, evaluation.job_id):
        job = _run_here(job_id)
        assert job.status == JobStatus.FAILED, describe(job)
        assert f"directory {missing} does not exist" in job.error, job.error


def test_a_model_directory_without_weights_fails_with_the_missing_file_named(in_process, tmp_path):
    broken = tmp_path / "no-weights"
    shutil.copytree(tiny_model_dir("gpt_neox"), broken)
    (broken / "model.safetensors").unlink()
    run = _generation(in_process, hf_model(broken, name="weightless"))

    job = _run_here(run.job_id)

    assert job.status == JobStatus.FAILED
    assert "model.safetensors" in job.error and str(broken) in job.error, job.error
    assert not RawOutput.objects.filter(run=run).exists()


# --- endpoints -------------------------------------------------------------------------------------------


class FlakyEndpoint:
    """An OpenAI-compatible server on 127.0.0.1 that answers `good` requests well, then misbehaves
    (`mode`: "timeout" sleeps past the client's timeout, "500" answers HTTP 500, "garbage" answers 200 with
    a body that is not JSON, "wrong-shape" answers JSON without choices) until `healed` is set."""

    def __init__(self, mode: str, good: int) -> None:
        self.mode, self.good, self.served, self.healed = mode, good, 0, False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.served += 1
                if outer.healed or outer.served <= outer.good:
                    passage = body["messages"][-1]["content"].rsplit("\n", 1)[-1].strip()
                    content = f"Q1: How often does it return?\nA1: {passage.split()[-2]}"
                    return self.reply(200, json.dumps({"choices": [{"message": {"content": content}}]}).encode())
                if outer.mode == "timeout":
                    time.sleep(2.0)
                    return self.reply(200, b"{}")
                if outer.mode == "500":
                    return self.reply(
                        500, json.dumps({"error": {"message": "CUDA error: device-side assert"}}).encode()
                    )
                if outer.mode == "garbage":
                    return self.reply(200, b"<html>502 Bad Gateway from the proxy</html>")
                return self.reply(200, json.dumps({"id": "x", "object": "chat.completion"}).encode())

            def reply(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("timeout", "no answer within 0.5 s (after 2 attempts)"),
        ("500", "HTTP 500: CUDA error: device-side assert (after 2 attempts)"),
        ("garbage", "the response is not JSON: <html>502 Bad Gateway"),
        ("wrong-shape", "the response has no choices[0] message"),
    ],
)
def test_an_endpoint_fault_fails_the_run_clearly_keeps_finished_passages_and_a_retry_completes(
    in_process, monkeypatch, mode, expected
):
    import generation.engine.openai_client as client

    # The production timeout is 120 s with 2 retries; the same code path with a short clock.
    monkeypatch.setattr(
        client, "EndpointConfig", partial(client.EndpointConfig, timeout_s=0.5, max_retries=1, retry_backoff_s=0.05)
    )
    server = FlakyEndpoint(mode, good=2)
    try:
        run = _generation(in_process, endpoint_model(server.base_url, name=f"flaky-{mode}"))

        job = _run_here(run.job_id)

        assert job.status == JobStatus.FAILED
        assert job.error.startswith(f"generation failed: {server.base_url}/chat/completions: "), job.error
        assert expected in job.error, job.error
        assert RawOutput.objects.filter(run=run).count() == 2  # the passages finished before the fault

        server.healed = True
        job = _retry_here(job)
        assert job.status == JobStatus.SUCCEEDED, describe(job)
        assert RawOutput.objects.filter(run=run).count() == PASSAGES
        assert "resuming: 2 of 4 passages already have output" in job.log
    finally:
        server.close()


# --- chat template ----------------------------------------------------------------------------------------


def test_chat_mode_on_a_tokenizer_without_a_chat_template_fails_with_what_to_choose_and_auto_works(
    in_process, tmp_path
):
    plain = tmp_path / "base-model"
    shutil.copytree(tiny_model_dir("gpt_neox"), plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    generator = hf_model(plain, name="base-without-template")

    chat = _generation(in_process, generator, prompt_mode="chat")
    job = _run_here(chat.job_id)
    assert job.status == JobStatus.FAILED
    assert "no chat template" in job.error and "plain" in job.error, job.error
    assert "base-without-template" in job.error, job.error

    auto = _generation(in_process, generator, prompt_mode="auto")
    job = _run_here(auto.job_id)
    assert job.status == JobStatus.SUCCEEDED, describe(job)
    assert not RawOutput.objects.filter(run=auto, prompt__contains="<|im_start|>").exists()


# --- out of GPU memory -----------------------------------------------------------------------------------


def _oom(after: int, real):
    calls = {"n": 0}

    def maybe_fail(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.77 GiB total)")
        return real(*args, **kwargs)

    return maybe_fail


def _assert_clear_oom(job: Job) -> None:
    assert job.status == JobStatus.FAILED
    assert job.error.startswith("Out of GPU memory (CUDA out of memory. Tried to allocate 2.00 GiB"), job.error
    assert "Lower the batch size" in job.error and "finished work is kept" in job.error


def test_out_of_gpu_memory_in_generation_fails_clearly_and_keeps_finished_batches(in_process, monkeypatch):
    from generation.engine.local import LocalGenerator

    run = _generation(in_process, hf_model(tiny_model_dir("gpt_neox"), name="tiny"))
    with monkeypatch.context() as patch:
        patch.setattr(LocalGenerator, "generate", _oom(2, LocalGenerator.generate))
        _assert_clear_oom(_run_here(run.job_id))
    assert RawOutput.objects.filter(run=run).count() == 2

    job = _retry_here(Job.objects.get(pk=run.job_id))
    assert job.status == JobStatus.SUCCEEDED and RawOutput.objects.filter(run=run).count() == PASSAGES


def test_out_of_gpu_memory_in_evaluation_fails_clearly_and_keeps_stored_predictions(in_process, monkeypatch):
    import training.engine.predict as predict

    minilm_entry()
    run = create_evaluation_run(
        corpus=make_eval_corpus(),
        base_model=tiny_entry(),
        split="validation",
        batch_size=1,
        max_new_tokens=4,
        enqueue=False,
    )
    in_process(run.job_id)
    real = predict.iter_predictions

    def batches_then_oom(*args, **kwargs):
        for number, batch in enumerate(real(*args, **kwargs)):
            if number == 2:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0)")
            yield batch

    with monkeypatch.context() as patch:
        patch.setattr(predict, "iter_predictions", batches_then_oom)
        _assert_clear_oom(_run_here(run.job_id))
    assert sorted(run.predictions.values_list("item_index", flat=True)) == [0, 1]

    job = _retry_here(Job.objects.get(pk=run.job_id))
    assert job.status == JobStatus.SUCCEEDED, describe(job)
    assert sorted(run.predictions.values_list("item_index", flat=True)) == [0, 1, 2, 3, 4]


def test_out_of_gpu_memory_in_training_fails_clearly_and_resumes_from_the_checkpoint(in_process, monkeypatch):
    import training.engine.trainer as trainer

    run = create_training_run(
        base_model=tiny_entry(), dataset=make_dataset(), max_steps=6, batch_size=3, checkpoint_every=2,
        learning_rate=1e-2, warmup_ratio=0.0, enqueue=False,
    )  # fmt: skip
    in_process(run.job_id)
    with monkeypatch.context() as patch:
        patch.setattr(trainer, "batch_loss_sum", _oom(3, trainer.batch_loss_sum))  # dies in step 4
        _assert_clear_oom(_run_here(run.job_id))
    run = TrainingRun.objects.get(pk=run.pk)
    assert run.steps_done == 3 and not run.has_adapter

    job = _retry_here(Job.objects.get(pk=run.job_id))
    assert job.status == JobStatus.SUCCEEDED, describe(job)
    assert job.result["resumed_from_step"] == 2
    assert list(run.loss_points.order_by("step").values_list("step", flat=True)) == [1, 2, 3, 4, 5, 6]
