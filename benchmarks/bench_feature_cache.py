"""Feature caching of a frozen pre-trained encoder: IGD training time with and without.

With a frozen pre-trained encoder (``"imagenet"``, ``"kd"`` or a module)
``cache_features=True`` computes its features of every training image once instead of in
every epoch. This fits the same detector (same seed, the same frozen encoder of the
backbone's size: the encoder of a one-epoch ``pretrain="ssl"`` fit, passed as a module)
both
ways on MNIST-5k digit 0 (one stratified half, about 250 images, as in the demo) and
reports the IGD stage's time (the sum of the epochs' ``dur`` plus the cache pass), the
whole fit, and the largest score difference on the other half (2,500 images).

    python benchmarks/bench_feature_cache.py [--device cuda] [--epochs 20]

Writes ``benchmarks/results/feature_cache_<device>.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import load_mnist_5k

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--backbones", default="resnet18-lite,resnet18")
    args = p.parse_args(argv)
    X, y = load_mnist_5k(return_X_y=True)  # the demo's halves
    X_a, X_b, y_a, _ = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    X_train = X_a[y_a == 0]
    rows = []
    for backbone in args.backbones.split(","):
        # pre-train once, then reuse the frozen encoder in both fits (pretrain=<module>)
        pre = IGDDetector(
            backbone=backbone,
            pretrain="ssl",
            pretrain_epochs=5,
            max_epochs=1,
            batch_size=16,
            local=False,
            device=args.device,
            random_state=0,
        ).fit(X_train)
        encoder = pre.net_.module_.backbone.cpu()
        result = {}
        for cache in (True, False):
            det = IGDDetector(
                backbone=backbone,
                pretrain=encoder,
                cache_features=cache,
                max_epochs=args.epochs,
                batch_size=16,
                lr=3e-4,
                local=False,
                device=args.device,
                random_state=0,
            )
            t0 = time.perf_counter()
            det.fit(X_train)
            fit_s = time.perf_counter() - t0
            epochs_s = float(np.sum(det.history_[:, "dur"]))
            result[cache] = (fit_s, epochs_s, det.decision_function(X_b))
            print(
                f"{backbone} cache={cache}: fit {fit_s:.1f}s, epochs {epochs_s:.1f}s", flush=True
            )
        diff = float(np.max(np.abs(result[True][2] - result[False][2])))
        rows.append((backbone, result[True][:2], result[False][:2], diff))
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), device {args.device}"
    )
    lines = [
        "# Feature caching: IGD training with a frozen pre-trained encoder",
        "",
        f"Command: `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}`".rstrip(),
        f"Machine: {machine}.",
        f"Data: MNIST-5k digit 0, {len(X_train)} training images, {args.epochs} epochs, "
        "batch 16, global model; the encoder of `IGDDetector(pretrain='ssl', "
        "pretrain_epochs=5, max_epochs=1)` passed as `pretrain=<module>` to both fits. "
        "`fit` includes the cache pass and the offset scoring; `epochs` is the sum of the "
        "epochs' `dur`.",
        "",
        "| backbone | fit, cached (s) | fit, uncached (s) | speed-up (fit) "
        "| epochs, cached (s) | epochs, uncached (s) | max abs score difference |",
        "|---|---|---|---|---|---|---|",
    ]
    for backbone, (fc, ec), (fu, eu), diff in rows:
        lines.append(
            f"| {backbone} | {fc:.1f} | {fu:.1f} | {fu / fc:.2f}x | {ec:.1f} | "
            f"{eu:.1f} | {diff:.1e} |"
        )
    text = "\n".join(lines) + "\n"
    out = HERE / "results" / f"feature_cache_{'cuda' if 'cuda' in args.device else 'cpu'}.md"
    out.write_text(text)
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
