"""Fit and scoring throughput and peak memory: IGDDetector beside OneClassSVM and IsolationForest.

Data: MNIST-5k as in the demo (train on one digit's ~250 images of one stratified half,
score the 2,500 images of the other half). Each measurement runs in a fresh Python process:
its resident memory after imports and data loading is recorded, the peak-RSS counter is
reset (Linux ``/proc/self/clear_refs``), and the peak during fit and scoring is read
back (``VmHWM``), so the difference is what the detector itself needed.

    python benchmarks/bench_throughput.py                 # CPU configuration
    python benchmarks/bench_throughput.py --device cuda   # on a GPU machine

Writes ``benchmarks/results/throughput_<device>.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

CONFIGS = {
    "IGDDetector resnet18-lite": dict(kind="igd", backbone="resnet18-lite", epochs=5),
    "IGDDetector resnet18": dict(kind="igd", backbone="resnet18", epochs=1),
    "OneClassSVM": dict(kind="ocsvm"),
    "IsolationForest": dict(kind="iforest"),
}


def _status_mb(field):
    """A memory field of /proc/self/status (Linux) in MB: VmRSS now, VmHWM peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise KeyError(field)


def _reset_peak_rss():
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak is the detector's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def measure(name, device, digit=0):
    """Run in the child process: one detector, returns a dict of measurements."""
    import torch
    from sklearn.ensemble import IsolationForest
    from sklearn.model_selection import train_test_split
    from sklearn.svm import OneClassSVM

    from sklearn_igd import IGDDetector
    from sklearn_igd.datasets import load_mnist_5k

    cfg = CONFIGS[name]
    X, y = load_mnist_5k(return_X_y=True)
    X_a, X_b, y_a, _ = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    X_train = X_a[y_a == digit]
    base_mb = _status_mb("VmRSS")
    _reset_peak_rss()
    if cfg["kind"] == "igd":
        det = IGDDetector(
            backbone=cfg["backbone"],
            max_epochs=cfg["epochs"],
            batch_size=16,
            lr=3e-4,
            local=False,
            pretrain=None,
            device=device,
            random_state=0,
        )
        prep = lambda a: a  # noqa: E731
        epochs = cfg["epochs"]
    else:
        det = OneClassSVM() if cfg["kind"] == "ocsvm" else IsolationForest(random_state=0)
        prep = lambda a: a.reshape(len(a), -1) / 255.0  # noqa: E731
        epochs = 1
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    det.fit(prep(X_train))
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    det.decision_function(prep(X_b))
    score_s = time.perf_counter() - t0
    out = dict(
        detector=name,
        n_train=len(X_train),
        n_test=len(X_b),
        epochs=epochs,
        fit_s=fit_s,
        fit_img_per_s_per_epoch=len(X_train) * epochs / fit_s,
        score_s=score_s,
        score_img_per_s=len(X_b) / score_s,
        base_rss_mb=base_mb,
        peak_rss_mb=_status_mb("VmHWM"),
    )
    if device.startswith("cuda"):
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default=None, help="measure one detector (child mode)")
    parser.add_argument("--detectors", default=",".join(CONFIGS))
    args = parser.parse_args(argv)
    if args.only:
        print(json.dumps(measure(args.only, args.device)))
        return
    rows = []
    for name in args.detectors.split(","):
        res = subprocess.run(
            [sys.executable, __file__, "--only", name, "--device", args.device],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(row, flush=True)
    import torch

    cuda = args.device.startswith("cuda")
    lines = [
        f"# Throughput and memory, device `{args.device}`",
        "",
        f"Command: `python benchmarks/bench_throughput.py --device {args.device}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch {torch.__version__}"
        + (f", {torch.cuda.get_device_name(0)}" if cuda else "")
        + "  ",
        f"Date: {time.strftime('%Y-%m-%d')}  ",
        "Data: MNIST-5k, digit 0 normal: fit on its 250 images of one stratified half, score "
        "the 2,500 images of the other half. IGDDetector: global model (local=False), "
        "batch 16, lr 3e-4; epochs as "
        "listed (fit throughput = images x epochs / fit seconds, E-steps included).",
        "",
        "| detector | epochs | fit s | fit img/s per epoch | score s | score img/s "
        "| RSS before fit MB | peak RSS fit+score MB |" + (" peak CUDA MB |" if cuda else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if cuda else ""),
    ]
    for r in rows:
        lines.append(
            f"| {r['detector']} | {r['epochs']} | {r['fit_s']:.2f} | "
            f"{r['fit_img_per_s_per_epoch']:.0f} | {r['score_s']:.2f} | "
            f"{r['score_img_per_s']:.0f} | {r['base_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} |"
            + (f" {r.get('peak_cuda_mb', 0):.0f} |" if cuda else "")
        )
    out = HERE / "results" / f"throughput_{args.device.split(':')[0]}.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"Written to {out}")


if __name__ == "__main__":
    main()
