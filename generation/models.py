"""Corpora, passages, human reference QA pairs and frozen QA datasets.

These are the rows every later stage reads: generation writes synthetic pairs from passages, training
reads a frozen QADataset, evaluation reads a corpus split's reference pairs.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models


class Split(models.TextChoices):
    TRAIN = "train", "train"
    VALIDATION = "validation", "validation"
    TEST = "test", "test"
    NONE = "", "unsplit"


def content_hash(text: str) -> str:
    """Hash of whitespace-normalised text: re-importing the same passage finds the existing row."""
    normalised = " ".join(text.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


class Corpus(models.Model):
    name = models.CharField(max_length=200, unique=True)
    language = models.CharField(max_length=8, default="en", help_text="ISO code: 'en', 'ja', ...")
    source = models.CharField(max_length=100, blank=True, help_text="e.g. 'wikipedia', 'news', 'jsquad'.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "corpora"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Passage(models.Model):
    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="passages")
    text = models.TextField()
    title = models.CharField(max_length=500, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=16, choices=Split.choices, blank=True, default="")
    content_hash = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["corpus", "split"])]

    def __str__(self) -> str:
        return (self.title or self.text[:60]) + ("" if self.title else "…")

    def save(self, *args, **kwargs):
        if not self.content_hash:
            self.content_hash = content_hash(self.text)
        super().save(*args, **kwargs)


class ReferenceQA(models.Model):
    """A human-written question with its answers (SQuAD-style: several accepted answers)."""

    passage = models.ForeignKey(Passage, on_delete=models.CASCADE, related_name="reference_pairs")
    question = models.TextField()
    answers = models.JSONField(default=list, help_text="List of accepted answer strings; the first is primary.")
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "reference QA pair"

    def __str__(self) -> str:
        return self.question[:80]

    @property
    def answer(self) -> str:
        return self.answers[0] if self.answers else ""


class QADataset(models.Model):
    """A frozen, versioned selection of QA examples that training reads. Never edited after freezing."""

    class Source(models.TextChoices):
        SYNTHETIC = "synthetic", "synthetic (generated)"
        HUMAN = "human", "human reference pairs"

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    language = models.CharField(max_length=8, default="en")
    source = models.CharField(max_length=16, choices=Source.choices)
    description = models.TextField(blank=True)
    provenance = models.JSONField(default=dict, blank=True, help_text="Runs, corpus, split and filters used.")
    frozen = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="qadataset_name_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class QAExample(models.Model):
    """One (context, question, answer) training example, copied into the dataset so it stays frozen."""

    dataset = models.ForeignKey(QADataset, on_delete=models.CASCADE, related_name="examples")
    passage = models.ForeignKey(Passage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    context = models.TextField()
    question = models.TextField()
    answer = models.TextField()
    source_ref = models.CharField(max_length=100, blank=True, help_text="e.g. 'synthetic:123' or 'reference:45'.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.question[:80]
