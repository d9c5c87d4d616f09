"""Scoring and heatmap throughput and peak memory of IGDDetector versus image size.

For each image size (64, 128, 256 px), a detector (global + local model, resnet18-lite)
is fitted briefly on brick-texture crops (the speed of scoring does not depend on how well
it is trained), then ``anomaly_score`` and ``predict_heatmap`` are timed on n test crops.
Each measurement runs in a fresh process: resident memory before scoring, then the peak
during scoring (Linux ``VmHWM`` after resetting it), so the growth is the scoring's own.
Memory is also measured for a growing number of images at 64 px: it should stay flat,
since images are scored in batches. At 64 px the default (nearest-neighbour) feature map
is also compared with the single Gaussian and with no feature map.

    python benchmarks/bench_heatmap.py [--device cpu]

Writes ``benchmarks/results/heatmap_<device>.md``.
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


def measure(size, n_test, device, feature_map="auto"):
    import numpy as np
    import torch

    from sklearn_igd import IGDDetector
    from sklearn_igd.datasets import make_texture_defects

    data = make_texture_defects(
        "brick", n_train=8, n_test=max(n_test, 1), size=size, random_state=0
    )
    X_test = np.resize(data.images_test, (n_test, size, size))
    det = IGDDetector(
        backbone="resnet18-lite",
        max_epochs=1,
        batch_size=16,
        device=device,
        pretrain=None,
        feature_map=feature_map,
        random_state=0,
    ).fit(data.images_train)
    base = status_mb("VmRSS")
    reset_peak_rss()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    det.anomaly_score(X_test)
    t1 = time.perf_counter()
    det.predict_heatmap(X_test)
    t2 = time.perf_counter()
    out = dict(
        size=size,
        n=n_test,
        feature_map=getattr(det.feature_map_, "method", "none"),
        patch=det.patch_size_,
        stride=det.patch_stride_,
        patches_per_image=len(det.patch_grid_[0]) * len(det.patch_grid_[1]),
        score_img_s=n_test / (t1 - t0),
        heatmap_img_s=n_test / (t2 - t1),
        base_mb=base,
        peak_mb=status_mb("VmHWM"),
    )
    if device.startswith("cuda"):
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        size, n, feature_map = args.child.split(",")
        feature_map = {"False": False}.get(feature_map, feature_map)
        print(json.dumps(measure(int(size), int(n), args.device, feature_map)))
        return
    runs = [(64, 64), (128, 64), (256, 64), (64, 16), (64, 256), (64, 1024)]
    runs = [(size, n, "auto") for size, n in runs]
    runs += [(64, 64, "gaussian"), (64, 64, "False")]  # the feature map's cost
    rows = []
    for size, n, feature_map in runs:
        res = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                f"{size},{n},{feature_map}",
                "--device",
                args.device,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    import torch

    lines = [
        f"# Scoring and heatmap throughput and memory, device `{args.device}`",
        "",
        f"Command: `python benchmarks/bench_heatmap.py --device {args.device}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch "
        f"{torch.__version__}  ",
        f"Date: {time.strftime('%Y-%m-%d')}  ",
        "IGDDetector(backbone='resnet18-lite', max_epochs=1, batch_size=16, pretrain=None) "
        "fitted on 8 brick-texture crops, the local model on (64 px and up), patch 'auto' "
        "(max(8, side // 8)), stride half the patch; the feature map as `feature_map` "
        "resolves (`auto`: nearest), or the single Gaussian, or none.",
        "",
        "| image px | images | feature map | patch / stride | patches per image | score img/s "
        "| heatmap img/s | RSS before MB | peak RSS while scoring MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['size']} | {r['n']} | {r['feature_map']} | {r['patch']} / {r['stride']} | "
            f"{r['patches_per_image']} | {r['score_img_s']:.1f} | {r['heatmap_img_s']:.1f} | "
            f"{r['base_mb']:.0f} | {r['peak_mb']:.0f} |"
        )
    out = HERE / "results" / f"heatmap_{args.device.split(':')[0]}.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
