"""Fixtures for the pure training/evaluation engine tests: tiny random models and a small QA set."""

from __future__ import annotations

import pytest
import torch

from tests.support.tiny_models import tiny_model_dir

torch.set_num_threads(1)

_TRIPLES = [
    ("Paris is the capital of France.", "What is the capital of France?", "Paris"),
    ("The Nile flows through Egypt.", "Which country does the Nile flow through?", "Egypt"),
    ("Water boils at 100 degrees.", "At what temperature does water boil?", "100 degrees"),
    ("Tokyo is the capital of Japan.", "What is the capital of Japan?", "Tokyo"),
    ("Bees make honey from nectar.", "What do bees make?", "honey"),
    ("The sun rises in the east.", "Where does the sun rise?", "in the east"),
]
QA_SET = [{"context": c, "question": q, "answer": a} for c, q, a in _TRIPLES]


@pytest.fixture(scope="session")
def gpt_neox_dir() -> str:
    return str(tiny_model_dir("gpt_neox"))


@pytest.fixture(scope="session")
def llama_dir() -> str:
    return str(tiny_model_dir("llama"))


@pytest.fixture(params=["gpt_neox", "llama"])
def tiny_dir(request) -> str:
    return str(tiny_model_dir(request.param))


@pytest.fixture
def qa_set() -> list[dict[str, str]]:
    return [dict(item) for item in QA_SET]


@pytest.fixture(scope="session")
def minilm_scorer():
    from training.metrics import BertScorer

    return BertScorer.for_language("en")


@pytest.fixture
def in_process(settings, monkeypatch):
    """Run jobs in this test's process and transaction: no heartbeat thread (it could not see uncommitted
    rows), no broker. Modules that need more (a scorer, failing handlers) override it."""
    from core.services import jobs

    settings.QASYNTH_HEARTBEAT_SECONDS = 3600
    monkeypatch.setattr(jobs, "publish", lambda job_id: False)


@pytest.fixture
def run(db, alice):
    """A queued two-step training run of the tiny llama on the tiny set, created by alice (staff)."""
    from tests.training.web_helpers import make_dataset, tiny_entry
    from training.services.training_runs import create_training_run

    return create_training_run(base_model=tiny_entry(), dataset=make_dataset(), user=alice, max_steps=2, batch_size=3)
