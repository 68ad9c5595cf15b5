"""Automatic QA metrics: BERTScore, BLEU, exact match and token F1, with bootstrap CIs and paired tests.

Pure Python (no Django). Per-item scores and corpus aggregates are computed with the metric libraries
themselves (`bert_score`, `sacrebleu`), so the aggregate equals what those libraries report.
"""

from training.metrics.bertscore import BertScorer, BertScores, EncoderSpec, default_encoder, minilm_model_dir
from training.metrics.bleu import BleuResult, bleu_tokenizer_for, corpus_bleu, reference_streams
from training.metrics.bootstrap import ConfidenceInterval, PairedBootstrapResult, bootstrap_ci, paired_bootstrap
from training.metrics.report import (
    METRICS,
    EvaluationScores,
    ItemScores,
    MetricSummary,
    compare_runs,
    score_answers,
)
from training.metrics.squad import best_exact_match, best_token_f1, exact_match, normalize_answer, token_f1

__all__ = [
    "METRICS",
    "BertScorer",
    "BertScores",
    "BleuResult",
    "ConfidenceInterval",
    "EncoderSpec",
    "EvaluationScores",
    "ItemScores",
    "MetricSummary",
    "PairedBootstrapResult",
    "best_exact_match",
    "best_token_f1",
    "bleu_tokenizer_for",
    "bootstrap_ci",
    "compare_runs",
    "corpus_bleu",
    "default_encoder",
    "exact_match",
    "minilm_model_dir",
    "normalize_answer",
    "paired_bootstrap",
    "reference_streams",
    "score_answers",
    "token_f1",
]
