"""Small builders shared by the generation app's DB tests (corpora, files, runs with stored outputs)."""

from __future__ import annotations

import json
from pathlib import Path

from core.models import ModelEntry, ModelKind, ModelRole
from generation.models import Corpus, Passage, ReferenceQA


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
