"""Which Gemma 3 270M layer to use as the offline Japanese BERTScore encoder (through bert-score).

No multilingual BERT is available offline, so Japanese BERTScore uses a decoder model's hidden states.
This script scores hand-written Japanese answer pairs for the demo questions: pairs that mean the same
(the gold answer and a correct answer written differently) and pairs that do not (the gold answer and a
wrong answer of the same type). For every layer it prints the AUC (how often a same-meaning pair scores
above a different-meaning pair) and the mean F1 gap; the layer with the best AUC (then the best gap) is the
one to use (training.services.evaluation_runs.GEMMA_BERTSCORE_LAYER).

    .venv/bin/python bench/bertscore_layers.py [--model DIR] [--layers 1-18]

It is a small proxy (24 + 24 pairs), not a human-correlation study: the README says so next to the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts bench/ first on the path, where bench/statistics.py would shadow the stdlib.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

import numpy as np  # noqa: E402

DEFAULT_MODEL = "/tmp/fresh-var/models/converted/Gemma-3-270M"

SAME = [
    ("634メートル", "634m"),
    ("墨田区", "東京都墨田区"),
    ("滋賀県", "滋賀"),
    ("瀬田川", "瀬田川という川"),
    ("1958年", "1958年のことです"),
    ("江戸の屋台", "江戸時代の屋台"),
    ("6回", "年に6回"),
    ("横綱", "横綱です"),
    ("十七音", "17音"),
    ("おくのほそ道", "奥の細道"),
    ("ソメイヨシノ", "染井吉野"),
    ("靖国神社", "靖国神社の境内"),
    ("札幌市", "札幌"),
    ("旭川市", "旭川"),
    ("千利休", "千利休です"),
    ("石臼", "石うす"),
    ("約8分20秒", "8分20秒ほど"),
    ("約340メートル", "340m"),
    ("794年", "西暦794年"),
    ("祇園祭", "京都の祇園祭"),
    ("長野県", "長野"),
    ("下北半島", "青森県の下北半島"),
    ("1988年3月", "1988年の3月"),
    ("津軽海峡", "津軽海峡の下"),
]
DIFFERENT = [
    ("634メートル", "333メートル"),
    ("墨田区", "港区"),
    ("滋賀県", "岐阜県"),
    ("瀬田川", "鴨川"),
    ("1958年", "1964年"),
    ("江戸の屋台", "大阪の料亭"),
    ("6回", "3回"),
    ("横綱", "大関"),
    ("十七音", "三十一音"),
    ("おくのほそ道", "源氏物語"),
    ("ソメイヨシノ", "ヤマザクラ"),
    ("靖国神社", "上野公園"),
    ("札幌市", "函館市"),
    ("旭川市", "釧路市"),
    ("千利休", "織田信長"),
    ("石臼", "包丁"),
    ("約8分20秒", "約1秒"),
    ("約340メートル", "約30万キロメートル"),
    ("794年", "1603年"),
    ("祇園祭", "天神祭"),
    ("長野県", "新潟県"),
    ("下北半島", "知床半島"),
    ("1988年3月", "1964年10月"),
    ("津軽海峡", "関門海峡"),
]


def auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a same-meaning pair scores above a different-meaning one), ties counting half."""
    diff = positive[:, None] - negative[None, :]
    return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--layers", default="1-18")
    args = parser.parse_args()
    first, _, last = args.layers.partition("-")
    layers = range(int(first), int(last or first) + 1)

    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    from training.metrics import BertScorer

    candidates = [c for _, c in SAME] + [c for _, c in DIFFERENT]
    golds = [[g] for g, _ in SAME] + [[g] for g, _ in DIFFERENT]
    rows = []
    print(f"model {args.model}; {len(SAME)} same-meaning and {len(DIFFERENT)} different-meaning pairs")
    print(f"{'layer':>5} {'AUC':>6} {'F1 same':>8} {'F1 diff':>8} {'gap':>7} {'s':>6}")
    for layer in layers:
        began = time.perf_counter()
        scores = BertScorer(args.model, layer, language="ja").score(candidates, golds).f1
        same, different = scores[: len(SAME)], scores[len(SAME) :]
        row = {
            "layer": layer,
            "auc": auc(same, different),
            "same": float(same.mean()),
            "different": float(different.mean()),
            "gap": float(same.mean() - different.mean()),
            "seconds": time.perf_counter() - began,
        }
        rows.append(row)
        print(
            f"{layer:>5} {row['auc']:>6.3f} {row['same']:>8.4f} {row['different']:>8.4f} {row['gap']:>7.4f} "
            f"{row['seconds']:>6.1f}",
            flush=True,
        )
    best = max(rows, key=lambda r: (round(r["auc"], 6), r["gap"]))
    print(f"best layer: {best['layer']} (AUC {best['auc']:.3f}, gap {best['gap']:.4f})")
    print(json.dumps({"best": best, "rows": rows}))


if __name__ == "__main__":
    main()
