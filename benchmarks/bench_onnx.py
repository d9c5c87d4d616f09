"""Scoring throughput of the ONNX export (onnxruntime, CPU) beside torch eager.

Two fitted detectors, each scored on the same images by ``anomaly_score`` (torch eager,
input checks included) and by onnxruntime running ``sklearn_igd.to_onnx``'s graph (the
uint8 -> float32 / 255 conversion included):

- ``global 28 px``: resnet18-lite, global model only, fitted on MNIST-5k's digit 0 (the
  250 images of one stratified half), scoring the 2,500 images of the other half;
- ``local 64 px``: resnet18-lite with the local model (8 px patches, stride 4: 225
  patches per image), fitted on 100 brick crops of ``make_texture_defects``, scoring
  its 100 test crops.

The models train for one epoch only (throughput does not depend on how well they are
trained). Both engines use the same number of threads (``--threads``); each timing is
the best of ``--repeats`` runs, because the machine may be shared. The load average is
recorded before and after.

    python benchmarks/bench_onnx.py --threads 1

Writes ``benchmarks/results/onnx_cpu.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _as_nchw_float(X):
    X = np.asarray(X)
    X = X[:, None] if X.ndim == 3 else np.moveaxis(X, -1, 1) if X.shape[-1] == 3 else X
    return np.ascontiguousarray(X, dtype=np.float32) / np.float32(255)


def _cases():
    from sklearn.model_selection import train_test_split

    from sklearn_igd.datasets import load_mnist_5k, make_texture_defects

    X, y = load_mnist_5k(return_X_y=True)
    X_a, X_b, y_a, _ = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    yield "global 28 px", dict(local=False), X_a[y_a == 0], X_b
    data = make_texture_defects("brick", n_train=100, n_test=100, random_state=0)
    yield "local 64 px", dict(local=True), data.images_train, data.images_test


def measure(name, params, X_train, X_test, *, threads, repeats, batch_size):
    import onnxruntime as ort
    import torch

    from sklearn_igd import IGDDetector, to_onnx

    det = IGDDetector(
        backbone="resnet18-lite",
        max_epochs=1,
        batch_size=16,
        pretrain=None,
        n_threads=threads,
        random_state=0,
        **params,
    ).fit(X_train)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = to_onnx(det, os.path.join(tmp, "igd.onnx"))
        export_s = time.perf_counter() - t0
        size_mb = os.path.getsize(path) / 2**20
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def run_ort():
        out = []
        for start in range(0, len(X_test), batch_size):
            x = _as_nchw_float(X_test[start : start + batch_size])
            out.append(session.run(None, {"images": x})[0])
        return np.concatenate(out)

    torch.set_num_threads(threads)
    torch_s, ref = _best_time(lambda: det.anomaly_score(X_test), repeats)
    ort_s, got = _best_time(run_ort, repeats)
    return dict(
        case=name,
        patches=0 if det.patch_grid_ is None else int(np.prod([len(g) for g in det.patch_grid_])),
        n=len(X_test),
        torch_img_s=len(X_test) / torch_s,
        ort_img_s=len(X_test) / ort_s,
        speedup=torch_s / ort_s,
        max_rel_diff=float(np.max(np.abs(got - ref) / np.abs(ref))),
        export_s=export_s,
        size_mb=size_mb,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="onnxruntime batch")
    args = parser.parse_args(argv)

    import onnxruntime
    import torch

    load_before = os.getloadavg()
    rows = []
    for name, params, X_train, X_test in _cases():
        row = measure(
            name,
            params,
            X_train,
            X_test,
            threads=args.threads,
            repeats=args.repeats,
            batch_size=args.batch_size,
        )
        print(row, flush=True)
        rows.append(row)
    load_after = os.getloadavg()
    cmd = f"python benchmarks/bench_onnx.py --threads {args.threads}"
    if args.repeats != 3 or args.batch_size != 64:
        cmd += f" --repeats {args.repeats} --batch-size {args.batch_size}"
    lines = [
        "# ONNX export: onnxruntime beside torch eager, CPU",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), "
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}  ",
        f"Threads: {args.threads} for both engines (torch intra-op; onnxruntime intra-op, "
        "one inter-op)  ",
        "Load average (1, 5, 15 min): before "
        + ", ".join(f"{v:.2f}" for v in load_before)
        + "; after "
        + ", ".join(f"{v:.2f}" for v in load_after)
        + "  ",
        f"Date: {time.strftime('%Y-%m-%d')}  ",
        "Scores: torch = `anomaly_score(X)` on uint8 images (its own batching, input "
        f"checks included); onnxruntime = the `to_onnx` graph in batches of "
        f"{args.batch_size}, uint8 -> float32 / 255 included. Best of {args.repeats} runs. "
        "resnet18-lite, one training epoch, `pretrain=None`.",
        "",
        "| model | patches / image | images | torch img/s | onnxruntime img/s | speed-up "
        "| max rel. score diff | export s | graph MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['patches']} | {r['n']} | {r['torch_img_s']:.3g} | "
            f"{r['ort_img_s']:.3g} | {r['speedup']:.2f}x | {r['max_rel_diff']:.1e} | "
            f"{r['export_s']:.1f} | {r['size_mb']:.1f} |"
        )
    out = HERE / "results" / "onnx_cpu.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"Written to {out}")


if __name__ == "__main__":
    main()
