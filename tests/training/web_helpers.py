"""Small world for the training app's Django tests: tiny models as registry entries, datasets, a corpus."""

from __future__ import annotations

from core.models import ModelEntry, ModelKind, ModelRole
from core.services.model_registry import minilm_dir
from generation.models import Corpus, Passage, QADataset, QAExample, ReferenceQA
from tests.support.tiny_models import tiny_model_dir

TRAIN_TRIPLES = [
    ("Paris is the capital of France.", "What is the capital of France?", "Paris"),
    ("The Nile flows through Egypt.", "Which country does the Nile flow through?", "Egypt"),
    ("Water boils at 100 degrees.", "At what temperature does water boil?", "100 degrees"),
    ("Tokyo is the capital of Japan.", "What is the capital of Japan?", "Tokyo"),
    ("Bees make honey from nectar.", "What do bees make?", "honey"),
    ("The sun rises in the east.", "Where does the sun rise?", "in the east"),
]

# (passage, [(question, [gold answers])]) for the validation split; two items have two gold answers.
EVAL_PASSAGES = [
    (
        "Mount Fuji is the highest mountain in Japan.",
        [("What is the highest mountain in Japan?", ["Mount Fuji", "Fuji"])],
    ),
    (
        "The Amazon river flows through Brazil and Peru.",
        [("Which countries does the Amazon flow through?", ["through Brazil and Peru", "Brazil"])],
    ),
    ("Owls hunt at night.", [("When do owls hunt?", ["at night"]), ("What hunts at night?", ["Owls"])]),
    ("Rome is the capital of Italy.", [("What is the capital of Italy?", ["Rome"])]),
]


def tiny_entry(arch: str = "llama", *, name: str | None = None) -> ModelEntry:
    return ModelEntry.objects.create(
        name=name or f"tiny-{arch}",
        kind=ModelKind.HF,
        role=ModelRole.QA_BASE,
        path=str(tiny_model_dir(arch)),
        is_default=True,
    )


def minilm_entry() -> ModelEntry:
    entry, _ = ModelEntry.objects.get_or_create(
        name="all-MiniLM-L6-v2",
        defaults=dict(
            kind=ModelKind.HF,
            role=ModelRole.BERTSCORE,
            language="en",
            is_default=True,
            path=str(minilm_dir()),
            num_layers=6,
        ),
    )
    return entry


def make_dataset(name: str = "tiny set", triples=TRAIN_TRIPLES, *, language: str = "en") -> QADataset:
    dataset = QADataset.objects.create(name=name, language=language, source=QADataset.Source.HUMAN, frozen=True)
    QAExample.objects.bulk_create([QAExample(dataset=dataset, context=c, question=q, answer=a) for c, q, a in triples])
    return dataset


def make_eval_corpus(name: str = "tiny eval corpus") -> Corpus:
    corpus = Corpus.objects.create(name=name, language="en")
    for text, pairs in EVAL_PASSAGES:
        passage = Passage.objects.create(corpus=corpus, text=text, split="validation")
        for question, answers in pairs:
            ReferenceQA.objects.create(passage=passage, question=question, answers=answers)
    for c, q, a in TRAIN_TRIPLES:
        passage = Passage.objects.create(corpus=corpus, text=c, split="train")
        ReferenceQA.objects.create(passage=passage, question=q, answers=[a])
    return corpus
