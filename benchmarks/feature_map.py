"""What the feature map adds: texture defects with and without it, on validation draws.

Fits ``IGDDetector`` with its defaults (64 px crops: the local model and, with
``feature_map="auto"``, the feature map are on) on the normal crops of
``make_texture_defects`` for each texture and validation draw (``random_state`` of the
data: 1, 2, ... never the tests' and demos' 0). The feature map is fitted after the
models and involves no randomness, so the same detector without it (``feature_map_``
removed, the score's scales refitted on the training crops) is exactly what
``feature_map=False`` fits. For each, on the test crops:

- pixel ROC AUC (pooled) of ``predict_heatmap``, and of the feature map alone;
- image ROC AUC of ``anomaly_score``;
- image ROC AUC of IsolationForest and OneClassSVM on raw pixels / 255.

    python benchmarks/feature_map.py --draws 1,2

Appends a section to ``benchmarks/results/feature_map.md`` with the command, the machine
and the date.
"""

from __future__ import annotations

import argparse
import copy
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from default_budget import peers  # noqa: E402  (the peers' image AUROC, one place)

HERE = Path(__file__).resolve().parent
TEXTURES = ("brick", "grass", "gravel")
COLUMNS = (
    "pixel AUROC without",
    "pixel AUROC with",
    "pixel AUROC feature map alone",
    "image AUROC without",
    "image AUROC with",
    "image AUROC IsolationForest",
    "image AUROC OneClassSVM",
)


def without_feature_map(det, X_train):
    """The same fitted models without the feature map, scales refitted on ``X_train``."""
    off = copy.copy(det)
    off._fit_thresholds(off._prepare(X_train))  # without a feature map
    return off


def measure(det, data):
    """``{column: value}`` of one fitted detector on one draw."""
    anomalous = data.y_test == -1
    off = without_feature_map(det, data.images_train)
    on_parts = det.score_parts(data.images_test, heatmap=True)
    off_parts = off.score_parts(data.images_test, heatmap=True)
    values = (
        pixel_roc_auc(data.masks_test, off_parts.heatmap),
        pixel_roc_auc(data.masks_test, on_parts.heatmap),
        pixel_roc_auc(data.masks_test, on_parts.feature_heatmap),
        roc_auc_score(anomalous, off_parts.score),
        roc_auc_score(anomalous, on_parts.score),
        *peers(data.images_train, data.images_test, anomalous).values(),
    )
    return dict(zip(COLUMNS, values))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", default="1,2")
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "feature_map.md"))
    args = parser.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    if 0 in draws:
        parser.error("draw 0 is the tests' and demos' data; choose on other draws")
    torch.set_num_threads(2)
    rows, seconds = [], 0.0
    for draw in draws:
        for texture in TEXTURES:
            data = make_texture_defects(
                texture, n_train=args.n_train, n_test=args.n_test, size=64, random_state=draw
            )
            start = time.perf_counter()
            det = IGDDetector(max_epochs=args.epochs, batch_size=16, random_state=0)
            det.fit(data.images_train)
            seconds += time.perf_counter() - start
            rows.append((f"{texture} {draw}", measure(det, data)))
            print(rows[-1][0], {k: round(v, 4) for k, v in rows[-1][1].items()}, flush=True)
    lines = [
        "",
        f"## 64 px, {args.n_train} training crops, {args.n_test} test crops, "
        f"{args.epochs} epochs, draws {args.draws}",
        "",
        command_line(),
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}; {time.strftime('%Y-%m-%d')}; {seconds:.0f} s of fitting.  ",
        f"Detector: `IGDDetector(max_epochs={args.epochs}, batch_size=16, random_state=0)`, "
        "otherwise the defaults; 'without' = the same models without the feature map. "
        "Pooled pixel ROC AUC; image ROC AUC with defective crops positive.",
        "",
        "| texture, draw | " + " | ".join(COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    for name, row in rows:
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.4f}" for c in COLUMNS) + " |")
    means = [np.mean([row[c] for _, row in rows]) for c in COLUMNS]
    lines.append("| **mean** | " + " | ".join(f"**{m:.4f}**" for m in means) + " |")
    append_section(args.out, "What the feature map adds (validation draws)", "\n".join(lines))


if __name__ == "__main__":
    main()
