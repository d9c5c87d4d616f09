"""The defaults on images of 64 px and more: fit time and quality on validation data.

``IGDDetector(random_state=0)`` with nothing else set (or a configuration given with
``--config``) is fitted on

- ``textures``: the normal crops of ``make_texture_defects`` (brick, grass, gravel) of
  validation draws (``random_state`` of the data 1, 2, ...; never the tests' and demos'
  0); pooled pixel ROC AUC of ``predict_heatmap`` and of the global model's map alone,
  image ROC AUC of ``anomaly_score``;
- ``silhouettes``: filled white shapes (disk, square, triangle, ellipse) of random size,
  position and rotation on black; one shape is normal, the test images are held-back
  images of it and of the three others in equal parts; image ROC AUC.

IsolationForest and OneClassSVM on raw pixels / 255 are measured on the same images.
The fit time is wall-clock seconds with ``--threads`` torch threads.

    python benchmarks/default_budget.py --data textures --draws 1
    python benchmarks/default_budget.py --data silhouettes --normal disk,triangle
    python benchmarks/default_budget.py --data textures --config "max_epochs=5,batch_size=16"

Appends a section to ``benchmarks/results/default_budget.md`` with the command, the
machine and the date.
"""

from __future__ import annotations

import argparse
import ast
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402

HERE = Path(__file__).resolve().parent
TEXTURES = ("brick", "grass", "gravel")
SHAPES = ("disk", "square", "triangle", "ellipse")


def parse_config(text):
    """``"a=1,b='x'"`` -> ``{"a": 1, "b": "x"}`` (values are Python literals)."""
    config = {}
    for item in filter(None, text.split(",")):
        key, value = item.split("=", 1)
        config[key.strip()] = ast.literal_eval(value.strip())
    return config


def silhouettes(shape, n, rng, size=64, radius=(0.2, 0.35)):
    """``n`` images (n, size, size) uint8 of one filled ``shape``, white on black, radius
    ``radius`` (low, high) of the side, random centre and rotation."""
    from skimage.draw import disk, ellipse, polygon

    out = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        r = rng.uniform(*radius) * size
        cy, cx = rng.uniform(r + 2, size - r - 2, 2)
        angle = rng.uniform(0, 2 * np.pi)
        if shape == "disk":
            rr, cc = disk((cy, cx), r, shape=(size, size))
        elif shape == "ellipse":
            rr, cc = ellipse(cy, cx, r, r * 0.55, shape=(size, size), rotation=angle)
        else:
            k = 3 if shape == "triangle" else 4
            corners = angle + np.arange(k) * 2 * np.pi / k
            rr, cc = polygon(cy + r * np.sin(corners), cx + r * np.cos(corners), (size, size))
        out[i, rr, cc] = 255
    return out


def peers(X_train, X_test, anomalous):
    """Image ROC AUC of IsolationForest and OneClassSVM on raw pixels / 255."""
    flat = lambda X: X.reshape(len(X), -1) / 255.0  # noqa: E731
    return {
        name: roc_auc_score(anomalous, -est.fit(flat(X_train)).decision_function(flat(X_test)))
        for name, est in (
            ("IsolationForest", IsolationForest(random_state=0)),
            ("OneClassSVM", OneClassSVM()),
        )
    }


def fitted(config, X):
    """``(detector, seconds)``: ``IGDDetector(random_state=0, **config)`` fitted on X."""
    start = time.perf_counter()
    det = IGDDetector(random_state=0, **config).fit(X)
    return det, time.perf_counter() - start


def texture_rows(args, config):
    """``(name, {column: value}, detector, fit seconds)`` per texture and draw."""
    for draw in args.draws:
        for texture in TEXTURES:
            data = make_texture_defects(
                texture,
                n_train=args.n_train,
                n_test=args.n_test,
                size=args.size,
                random_state=draw,
            )
            det, seconds = fitted(config, data.images_train)
            anomalous = data.y_test == -1
            parts = det.score_parts(data.images_test, heatmap=True)
            row = {
                "image AUROC": roc_auc_score(anomalous, parts.score),
                "pixel AUROC": pixel_roc_auc(data.masks_test, parts.heatmap),
                "pixel AUROC global map": pixel_roc_auc(data.masks_test, parts.global_heatmap),
                **peers(data.images_train, data.images_test, anomalous),
            }
            yield f"{texture} {draw}", row, det, seconds


def silhouette_rows(args, config):
    """``(name, {column: value}, detector, fit seconds)`` per normal silhouette."""
    rng = np.random.RandomState(args.shape_seed)
    n_test = args.n_test // 2
    data = {
        s: (silhouettes(s, args.n_train, rng, args.size), silhouettes(s, n_test, rng, args.size))
        for s in SHAPES
    }
    for normal in args.normal:
        X_train = data[normal][0]
        others = [s for s in SHAPES if s != normal]
        per_other = n_test // len(others)
        X_test = np.concatenate([data[normal][1]] + [data[s][1][:per_other] for s in others])
        anomalous = np.r_[np.zeros(n_test, bool), np.ones(per_other * len(others), bool)]
        det, seconds = fitted(config, X_train)
        parts = det.score_parts(X_test)
        row = {
            "image AUROC": roc_auc_score(anomalous, parts.score),
            "image AUROC global": roc_auc_score(anomalous, parts.global_score),
            **peers(X_train, X_test, anomalous),
        }
        yield normal, row, det, seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("textures", "silhouettes"), required=True)
    parser.add_argument("--draws", default="1", help="texture draws (not 0)")
    parser.add_argument("--normal", default="disk,triangle", help="normal silhouettes")
    parser.add_argument("--shape-seed", type=int, default=7, help="silhouette draw (not 0)")
    parser.add_argument("--n-train", type=int, default=None, help="100 textures, 200 shapes")
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--size", type=int, default=64, help="image side in px")
    parser.add_argument("--config", default="", help="IGDDetector keywords, e.g. max_epochs=5")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "default_budget.md"))
    args = parser.parse_args(argv)
    args.draws = [int(d) for d in args.draws.split(",")]
    args.normal = args.normal.split(",")
    if 0 in args.draws or args.shape_seed == 0:
        parser.error("draw 0 is the tests' and demos' data; choose on other draws")
    if args.n_train is None:
        args.n_train = 100 if args.data == "textures" else 200
    config = parse_config(args.config)
    torch.set_num_threads(args.threads)
    rows = texture_rows if args.data == "textures" else silhouette_rows
    table = []
    for name, row, det, seconds in rows(args, config):
        local = getattr(det, "n_local_epochs_", None)
        epochs = f"{det.n_epochs_}" + (f" / {local}" if local is not None else "")
        table.append((name, row, epochs, seconds))
        print(name, {k: round(v, 4) for k, v in row.items()}, epochs, f"{seconds:.0f} s")
    columns = list(table[0][1])
    shown = ", ".join(f"{k}={v!r}" for k, v in config.items())
    lines = [
        "",
        f"## {args.data}, {args.n_train} training images of {args.size} px, {args.n_test} test "
        f"images: `IGDDetector(random_state=0{', ' + shown if shown else ''})`",
        "",
        command_line(),
        f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}.  ",
        "Epochs: `n_epochs_` / `n_local_epochs_` (the global / the local model). ROC AUC "
        "with anomalous images (pixels) "
        "positive; pixel AUROC pooled over the test images.",
        "",
        "| data | " + " | ".join(columns) + " | epochs | fit s |",
        "|---" * (len(columns) + 3) + "|",
    ]
    for name, row, epochs, seconds in table:
        values = " | ".join(f"{row[c]:.4f}" for c in columns)
        lines.append(f"| {name} | {values} | {epochs} | {seconds:.0f} |")
    means = " | ".join(f"**{np.mean([r[c] for _, r, _, _ in table]):.4f}**" for c in columns)
    total = sum(s for *_, s in table)
    lines.append(f"| **mean** | {means} | | {total:.0f} (total) |")
    append_section(
        args.out, "The defaults on images of 64 px and more (validation data)", "\n".join(lines)
    )


if __name__ == "__main__":
    main()
