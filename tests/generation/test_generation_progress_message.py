"""While a batch is generated, the job's progress names that batch (not "loading <model>")."""

from __future__ import annotations

import pytest

from generation.services.generation_runs import RunSettings, create_run, execute_run
from generation.services.prompt_templates import default_template_for
from tests.generation.synth_helpers import CannedBackend, FakeContext, endpoint_model, make_corpus

pytestmark = pytest.mark.django_db


class MessageRecordingBackend(CannedBackend):
    """Notes the job's progress message at the moment each batch is sent to the model."""

    def __init__(self) -> None:
        super().__init__()
        self.messages_during_batches: list[str] = []

    def generate(self, prompts, params, reporter):
        self.messages_during_batches.append(reporter.reports[-1]["message"])
        return super().generate(prompts, params, reporter)


def test_each_batch_is_reported_while_it_runs():
    corpus = make_corpus(passages=[f"Passage {i} is about the {w}." for i, w in enumerate("abcde")])
    run = create_run(corpus, endpoint_model("http://127.0.0.1:9/v1"), default_template_for("en", 0),
                     settings=RunSettings(pairs_per_passage=2, batch_size=2, concurrency=2), enqueue=False)  # fmt: skip
    backend = MessageRecordingBackend()

    execute_run(run, FakeContext(), backend=backend)

    assert backend.messages_during_batches == [
        "0 of 5 passages done; generating passages 1-2",
        "2 of 5 passages done; generating passages 3-4",
        "4 of 5 passages done; generating passage 5",
    ]
