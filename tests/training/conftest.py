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
