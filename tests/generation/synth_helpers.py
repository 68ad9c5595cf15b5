"""Small builders shared by the generation app's DB tests (corpora, files, runs with stored outputs)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.models import ModelEntry, ModelKind, ModelRole
from generation.models import Corpus, Passage, ReferenceQA

# The JSQuAD validation file is not shipped (size, licence): tests read it from QASYNTH_JSQUAD_PATH, by
# default from a `shared/data` folder beside the repository root, and skip saying so where it is absent.
JSQUAD_PATH = Path(
    os.environ.get("QASYNTH_JSQUAD_PATH")
    or Path(__file__).resolve().parents[2].parent / "shared" / "data" / "jsquad-valid-v1.3.json"
)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def squad(articles: list[tuple[str, list[tuple[str, list[tuple[str, str]]]]]]) -> str:
    """SQuAD JSON from [(title, [(context, [(question, answer), ...]), ...]), ...]."""
    data = []
    for a, (title, paragraphs) in enumerate(articles):
        pars = []
        for p, (context, qas) in enumerate(paragraphs):
            pars.append(
                {
                    "context": context,
                    "qas": [
                        {
                            "id": f"a{a}p{p}q{q}",
                            "question": question,
                            "answers": [{"text": answer, "answer_start": context.find(answer)}],
                        }
                        for q, (question, answer) in enumerate(qas)
                    ],
                }
            )
        data.append({"title": title, "paragraphs": pars})
    return json.dumps({"version": "1.1", "data": data}, ensure_ascii=False)


def make_corpus(name: str = "news", language: str = "en", passages: list[str] | None = None, **kwargs) -> Corpus:
    corpus = Corpus.objects.create(name=name, language=language, source=kwargs.pop("source", "test"))
    for i, text in enumerate(passages or []):
        passage = Passage.objects.create(
            corpus=corpus,
            text=text,
            title=kwargs.get("title", f"T{i}"),
            **{k: v for k, v in kwargs.items() if k in ("split",)},
        )
        for question, answer in kwargs.get("qas", {}).get(i, []):
            ReferenceQA.objects.create(passage=passage, question=question, answers=[answer])
    return corpus


def hf_model(path: str | Path, name: str = "tiny-llama") -> ModelEntry:
    return ModelEntry.objects.create(name=name, kind=ModelKind.HF, role=ModelRole.GENERATOR, path=str(path))


def endpoint_model(base_url: str, name: str = "fake-endpoint") -> ModelEntry:
    return ModelEntry.objects.create(
        name=name, kind=ModelKind.OPENAI, role=ModelRole.GENERATOR, base_url=base_url, api_model="fake-model"
    )


class FakeContext:
    """Stands in for core.services.jobs.JobContext when a test runs the generation service in-process.

    `crash_after_batches=K` raises Crash from the K-th progress report that follows a written batch, which
    is where a worker killed between batches would stop."""

    class Crash(Exception):
        pass

    def __init__(self, crash_after_batches: int | None = None) -> None:
        self.crash_after_batches = crash_after_batches
        self.reports: list[dict] = []
        self.lines: list[str] = []
        self.batches = 0

    def progress(self, done=None, total=None, message=None, **data) -> None:
        self.reports.append({"done": done, "total": total, "message": message, **data})
        if "passages_done" in data:
            self.batches += 1
            if self.crash_after_batches is not None and self.batches >= self.crash_after_batches:
                raise FakeContext.Crash(f"simulated crash after {self.batches} batches")

    def check_cancelled(self) -> None:
        pass

    def log(self, line: str) -> None:
        self.lines.append(line)


class FakeOpenAIServer:
    """A tiny OpenAI-compatible /v1/chat/completions server on 127.0.0.1 for endpoint tests.

    For each request it answers with pairs built from the passage in the last user message: one pair whose
    answer is the passage's first word (accepted by validation), one whose answer is not in the passage
    (rejected), and one statement that is not a question (rejected). It records the requests and the
    largest number it served at the same time."""

    def __init__(self, delay: float = 0.05) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = delay
        lock = threading.Lock()
        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                import time

                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with lock:
                    server_self.requests.append({"path": self.path, "body": body})
                    server_self.in_flight += 1
                    server_self.max_in_flight = max(server_self.max_in_flight, server_self.in_flight)
                try:
                    time.sleep(server_self.delay)
                    content = server_self.answer(body)
                finally:
                    # Done before the reply is sent: the client may send its next request the moment it has
                    # the reply, and on a loaded machine this thread may run again only after that.
                    with lock:
                        server_self.in_flight -= 1
                payload = {
                    "id": "cmpl-1",
                    "object": "chat.completion",
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 20},
                }
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def passage_of(body: dict) -> str:
        content = body["messages"][-1]["content"]
        return content.rsplit("\n", 1)[-1].strip()

    def answer(self, body: dict) -> str:
        passage = self.passage_of(body)
        first_word = passage.split()[0].strip(".,")
        return (
            f"Q1: What does the passage start with?\nA1: {first_word}\n"
            "Q2: Who wrote it?\nA2: Zebediah Quartermaine\n"
            "Q3: This is a statement.\nA3: " + first_word
        )

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


class CannedBackend:
    """A generation backend that answers every passage with the same kind of text a model might write:
    one pair whose answer is the passage's first word, one with an answer not in the passage, and one
    statement instead of a question. No model is loaded."""

    def __init__(self) -> None:
        self.calls = 0

    def render(self, template, passage):
        from generation.prompts import render_prompt

        return render_prompt(template, passage.text, title=passage.title, mode="chat")

    def generate(self, prompts, params, reporter):
        from generation.engine.base import GenerationOutput

        self.calls += 1
        outputs = []
        for prompt in prompts:
            passage = prompt.messages[-1]["content"].rsplit("\n", 1)[-1].strip()
            first = passage.split()[0].strip(".,")
            text = (
                f"Q1: What does the passage start with?\nA1: {first}\n"
                "Q2: Who wrote it?\nA2: Zebediah Quartermaine\nQ3: This is a statement.\nA3: " + first
            )
            outputs.append(GenerationOutput(text, "stop", 10, 20))
        return outputs

    def close(self) -> None:
        pass


def finished_run(corpus, *, name: str = "canned", pairs_per_passage: int = 3, **create_kwargs):
    """A generation run over `corpus`, executed with CannedBackend and marked succeeded."""
    from core.models import JobStatus
    from generation.services.generation_runs import RunSettings, create_run, execute_run
    from generation.services.prompt_templates import default_template_for

    generator = ModelEntry.objects.filter(name="canned-endpoint").first() or endpoint_model(
        "http://127.0.0.1:9/v1", name="canned-endpoint"
    )
    template = default_template_for(corpus.language, 0)
    settings = RunSettings(pairs_per_passage=pairs_per_passage, batch_size=4)
    run = create_run(corpus, generator, template, settings=settings, name=name, enqueue=False, **create_kwargs)
    execute_run(run, FakeContext(), backend=CannedBackend())
    run.job.status = JobStatus.SUCCEEDED
    run.job.save(update_fields=["status"])
    return run
