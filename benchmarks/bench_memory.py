"""Peak memory of fitting and of heatmaps with the local model, versus the image size.

For each image side (64 to 512 px) a fresh process fits
``IGDDetector(local=True, max_epochs=1, pretrain=None)`` on ``--n-train`` texture crops
(the auto patch, ``max(8, side // 8)``, and the auto local batch, sized by a pixel
budget), then computes ``predict_heatmap`` of ``--n-test`` crops. It reports the resident
memory before fitting, the peak during the fit, and the peak during the heatmaps (Linux
``VmHWM``, reset between the two with ``/proc/self/clear_refs``). Target: <= 2 GB peak
for 512 px images on the CPU.

    python benchmarks/bench_memory.py [--sizes 64,128,256,512] [--n-train 2] [--n-test 4]

Writes ``benchmarks/results/memory_cpu.md``.
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

from _memory import reset_peak_rss, status_mb

HERE = Path(__file__).resolve().parent


def measure(size, n_train, n_test):
    import numpy as np

    from sklearn_igd import IGDDetector
    from sklearn_igd.datasets import make_texture_defects

    side = min(size, 256)  # the generator's largest crop; larger images repeat it
    data = make_texture_defects("brick", n_train=n_train, n_test=n_test, size=side, random_state=0)
    reps = (1, -(-size // side), -(-size // side))
    X_train = np.tile(data.images_train, reps)[:, :size, :size]
    X_test = np.tile(data.images_test, reps)[:, :size, :size]
    det = IGDDetector(local=True, max_epochs=1, pretrain=None, random_state=0)
    reset_peak_rss()
    before = status_mb("VmRSS")
    t0 = time.perf_counter()
    det.fit(X_train)
    fit_s = time.perf_counter() - t0
    fit_peak = status_mb("VmHWM")
    reset_peak_rss()
    t0 = time.perf_counter()
    det.predict_heatmap(X_test)
    heat_s = time.perf_counter() - t0
    return dict(
        size=size,
        n_train=n_train,
        n_test=n_test,
        patch=det.patch_size_,
        local_batch=det.local_net_.batch_size,
        before_mb=before,
        fit_peak_mb=fit_peak,
        heatmap_peak_mb=status_mb("VmHWM"),
        fit_s=fit_s,
        heatmap_s=heat_s,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,128,256,512")
    parser.add_argument("--n-train", type=int, default=2)
    parser.add_argument("--n-test", type=int, default=4)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(int(args.child), args.n_train, args.n_test)))
        return
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--child", str(size), "--n-train", str(args.n_train),
               "--n-test", str(args.n_test)]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    import torch

    lines = [
        "# Peak memory of fitting and heatmaps with the local model (CPU)",
        "",
        f"Command: `python benchmarks/bench_memory.py --sizes {args.sizes} --n-train "
        f"{args.n_train} --n-test {args.n_test}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch "
        f"{torch.__version__}, {torch.get_num_threads()} torch thread(s), load average "
        f"{os.getloadavg()[0]:.1f}  ",
        f"Date: {time.strftime('%Y-%m-%d')}  ",
        "`IGDDetector(local=True, max_epochs=1, pretrain=None)`, defaults otherwise (lite "
        "backbone on the CPU, auto patch and auto local batch); brick crops of "
        "`make_texture_defects` (256 px crops repeated 2x2 for 512 px). Each row is a fresh "
        "process; peaks are Linux `VmHWM`.",
        "",
        "| image px | train / test images | patch | local batch (patches) | RSS before MB "
        "| peak during fit MB | peak during heatmaps MB | fit s | heatmap s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['n_train']} / {r['n_test']} | {r['patch']} | "
            f"{r['local_batch']} | {r['before_mb']:.0f} | {r['fit_peak_mb']:.0f} | "
            f"{r['heatmap_peak_mb']:.0f} | {r['fit_s']:.1f} | {r['heatmap_s']:.1f} |"
        )
    out = HERE / "results" / "memory_cpu.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
