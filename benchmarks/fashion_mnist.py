"""Fashion-MNIST one-class benchmark (the paper's Table 1 protocol), IGD beside peers.

For each class c of the ten: train on the images of class c in the training split (6,000)
and score the test split (10,000 images, 10% normal); ROC AUC with class c as normal.
Detectors: ``IGDDetector`` with ``pretrain=None`` (scratch), ``"kd"`` and ``"ssl"`` (``"kd"``
is the frozen ImageNet teacher since it stopped distilling a student; the student's rows in
``results/fashion_mnist_cpu.md`` predate that), and
``OneClassSVM`` and ``IsolationForest`` on raw pixels (scaled to [0, 1]), all in the same
run, with wall time (fit + scoring) per class.

    python benchmarks/fashion_mnist.py                       # the CPU configuration
    python benchmarks/fashion_mnist.py --n-train 6000 --n-test 10000 --epochs 256 \
        --pretrain-epochs 100 --backbone resnet18 --device cuda   # the paper's scale

The default is the CPU configuration (``CPU_CONFIG``): ``resnet18-lite``, a random subset
of ``--n-train`` training images of the class and of ``--n-test`` test images (the same
subset for every detector and class), few epochs. The data come from
:func:`sklearn_igd.datasets.fetch_fashion_mnist` (``$SKLEARN_IGD_DATA``, Debian's
``dataset-fashion-mnist``, or ``--download``). Writes a Markdown table to
``benchmarks/results/fashion_mnist_<tag>.md`` with the command, machine and settings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import fetch_fashion_mnist

HERE = Path(__file__).resolve().parent

#: The CPU configuration the script defaults to (see the module docstring).
CPU_CONFIG = dict(
    n_train=1000,
    n_test=2000,
    epochs=20,
    pretrain_epochs=20,
    backbone="resnet18-lite",
    batch_size=16,
    lr=3e-4,
)

MODES = {"scratch": None, "kd": "kd", "ssl": "ssl"}


def detectors(args, seed):
    """Name -> (unfitted detector, input transform)."""
    flat = lambda X: X.reshape(len(X), -1) / 255.0  # noqa: E731 - peers see raw pixels
    igd = dict(
        backbone=args.backbone,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        pretrain_epochs=args.pretrain_epochs,
        local=False,
        device=args.device,
        random_state=seed,
    )
    out = {}
    for mode in args.modes:
        out[f"IGD {mode}"] = (IGDDetector(pretrain=MODES[mode], **igd), lambda X: X)
    if not args.no_peers:
        out["OneClassSVM"] = (OneClassSVM(), flat)
        out["IsolationForest"] = (IsolationForest(random_state=seed), flat)
    return out


def load(args):
    """The training split and the (sub-sampled) test split."""
    kw = dict(download_if_missing=args.download, return_X_y=True)
    X_tr, y_tr = fetch_fashion_mnist(subset="train", **kw)
    X_te, y_te = fetch_fashion_mnist(subset="test", **kw)
    if args.n_test < len(X_te):
        keep = np.random.RandomState(args.seed).choice(len(X_te), args.n_test, replace=False)
        X_te, y_te = X_te[keep], y_te[keep]
    return X_tr, y_tr, X_te, y_te


def run_class(c, args, threads=None):
    """All detectors with class ``c`` as normal: a list of result rows."""
    if threads:
        torch.set_num_threads(threads)
    X_tr, y_tr, X_te, y_te = load(args)
    X_c = X_tr[y_tr == c]
    if args.n_train < len(X_c):
        X_c = X_c[
            np.random.RandomState(args.seed + c).choice(len(X_c), args.n_train, replace=False)
        ]
    normal = (y_te == c).astype(int)
    rows = []
    for name, (det, prep) in detectors(args, args.seed).items():
        t0 = time.perf_counter()
        det.fit(prep(X_c))
        t1 = time.perf_counter()
        auc = roc_auc_score(normal, det.decision_function(prep(X_te)))
        t2 = time.perf_counter()
        rows.append(dict(cls=c, detector=name, auc=auc, fit_s=t1 - t0, score_s=t2 - t1))
        print(
            f"class {c}  {name:<16} AUC {auc:.4f}  fit {t1 - t0:6.1f}s  score {t2 - t1:5.1f}s",
            flush=True,
        )
    return rows


def run(args):
    """Every class, in ``args.jobs`` processes (each with its share of the threads)."""
    if args.jobs == 1:
        return [row for c in args.classes for row in run_class(c, args)]
    threads = max(1, torch.get_num_threads() // args.jobs)
    per_class = Parallel(n_jobs=args.jobs)(
        delayed(run_class)(c, args, threads) for c in args.classes
    )
    return [row for rows in per_class for row in rows]


def table(rows):
    names = list(dict.fromkeys(r["detector"] for r in rows))
    classes = list(dict.fromkeys(r["cls"] for r in rows))
    get = {(r["cls"], r["detector"]): r for r in rows}
    lines = [
        "| class | " + " | ".join(f"{n} AUC | s" for n in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for c in classes:
        cells = []
        for n in names:
            r = get[(c, n)]
            cells += [f"{r['auc']:.4f}", f"{r['fit_s'] + r['score_s']:.0f}"]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    means = []
    for n in names:
        sel = [get[(c, n)] for c in classes]
        means += [
            f"**{np.mean([r['auc'] for r in sel]):.4f}**",
            f"{np.mean([r['fit_s'] + r['score_s'] for r in sel]):.0f}",
        ]
    lines.append("| mean | " + " | ".join(means) + " |")
    return "\n".join(lines)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-train", type=int, default=CPU_CONFIG["n_train"])
    p.add_argument("--n-test", type=int, default=CPU_CONFIG["n_test"])
    p.add_argument("--epochs", type=int, default=CPU_CONFIG["epochs"])
    p.add_argument("--pretrain-epochs", type=int, default=CPU_CONFIG["pretrain_epochs"])
    p.add_argument("--backbone", default=CPU_CONFIG["backbone"])
    p.add_argument("--batch-size", type=int, default=CPU_CONFIG["batch_size"])
    p.add_argument("--lr", type=float, default=CPU_CONFIG["lr"])
    p.add_argument(
        "--modes", default="scratch,kd,ssl", type=lambda s: [m for m in s.split(",") if m]
    )
    p.add_argument(
        "--classes",
        default="0,1,2,3,4,5,6,7,8,9",
        type=lambda s: [int(c) for c in s.split(",") if c],
    )
    p.add_argument("--no-peers", action="store_true")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="classes run in this many processes, sharing the torch threads",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--download", action="store_true")
    p.add_argument(
        "--merge",
        nargs="*",
        default=[],
        help="JSON files of earlier runs of other classes to add to the table",
    )
    p.add_argument("--tag", default=None, help="suffix of the results file (default: cpu/cuda)")
    args = p.parse_args(argv)
    unknown = set(args.modes) - set(MODES)
    if unknown:
        p.error(f"--modes must be among {sorted(MODES)}; got {sorted(unknown)}")
    return args


def main(argv=None):
    args = parse(argv)
    t0 = time.perf_counter()
    rows = run(args)
    wall = time.perf_counter() - t0
    for path in args.merge:  # rows of earlier runs (other classes), e.g. on other cores
        rows += json.loads(Path(path).read_text())["rows"]
    rows.sort(key=lambda r: r["cls"])
    device = "cuda" if (args.device == "auto" and torch.cuda.is_available()) else args.device
    tag = args.tag or ("cuda" if device.startswith("cuda") else "cpu")
    machine = (
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads in {args.jobs} process(es)), "
        f"device {device}"
    )
    if torch.cuda.is_available() and device != "cpu":
        machine += f" ({torch.cuda.get_device_name(0)})"
    text = "\n".join(
        [
            "# Fashion-MNIST one-class AUC (train on one class, test on the test split)",
            "",
            (
                f"Command: `python benchmarks/{Path(__file__).name} {' '.join(sys.argv[1:])}`"
            ).rstrip(),
            f"Machine: {machine}. Wall time of this run {wall / 60:.1f} min"
            + (f" (plus the merged runs {args.merge})." if args.merge else "."),
            f"Settings: {vars(args)}. IGD is the global model (local=False); `s` = fit + "
            "scoring seconds per class.",
            "",
            table(rows),
            "",
            "Paper (Table 1, ResNet18, 256 epochs, full data): scratch 0.9201, KD 0.9357, "
            "SSL 0.9441.",
            "",
        ]
    )
    out = HERE / "results" / f"fashion_mnist_{tag}.md"
    out.write_text(text)
    out.with_suffix(".json").write_text(
        json.dumps({"args": vars(args), "rows": rows}, indent=1, default=str)
    )
    print(text)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
