"""How many crops per step should the ``"student"`` feature map's student train on?
(validation draws; the feature map alone, no IGD fit)

The student (``sklearn_igd._feature_map.train_student``) trains for a fixed number of
steps on batches of at most ``FEATURE_STUDENT_PIXELS`` pixels (``fit_feature_map``'s
``student_pixels``), so its cost is that
budget times the steps. For each validation draw and texture
(``make_texture_defects(texture, n_train=100, n_test=200, size=64, random_state=draw)``,
``--n-train`` and ``--n-test``),
this fits ``fit_feature_map(method="student")`` (seed 3, the detector's smoothing of
4 px) once per budget of ``--crops`` 64 px crops per step, and reports the pooled pixel
ROC AUC of the smoothed map on the test crops and the fit's seconds.

    python benchmarks/student_batch.py --draws 1 --crops 16,5 --out /tmp/batch_1.md

(one process per draw, one torch thread each: ``--draws 1`` and ``--draws 2`` side by
side on two cores).
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

from sklearn_igd._feature_map import fit_feature_map
from sklearn_igd._scoring import auto_heatmap_sigma, gaussian_kernel_1d, smooth_maps
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import pixel_roc_auc

HERE = Path(__file__).resolve().parent
TEXTURES = ("brick", "grass", "gravel")
SIZE = 64


def measure(draw, texture, crops, n_train=100, n_test=200, steps=None):
    """``{crops: (pixel AUROC, fit seconds)}`` of one validation set."""
    d = make_texture_defects(texture, n_train=n_train, n_test=n_test, size=SIZE, random_state=draw)
    x_train = torch.from_numpy(d.images_train[:, None].astype(np.float32) / 255)
    x_test = torch.from_numpy(d.images_test[:, None].astype(np.float32) / 255)
    sigma = auto_heatmap_sigma(SIZE, SIZE)  # the detector's smoothing
    kernel = gaussian_kernel_1d(sigma)
    out = {}
    for n in crops:
        start = time.perf_counter()
        fm = fit_feature_map(
            x_train,
            batch_size=16,
            device="cpu",
            method="student",
            seed=3,
            sigma=sigma,
            student_steps=steps,
            student_pixels=n * SIZE * SIZE,
        )
        seconds = time.perf_counter() - start
        with torch.no_grad():
            m = torch.cat([fm(b) for b in x_test.split(16)]).double()
        out[n] = (pixel_roc_auc(d.masks_test, smooth_maps(m, kernel).numpy()), seconds)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", default="1,2")
    parser.add_argument("--textures", default=",".join(TEXTURES))
    parser.add_argument("--crops", default="16,5", help="64 px crops per step, comma-separated")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=200)
    parser.add_argument("--steps", type=int, default=None, help="default: the package's")
    parser.add_argument("--out", default=str(HERE / "results" / "student_batch.md"))
    args = parser.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    if 0 in draws:
        sys.exit("draw 0 is the demo's test draw; use validation draws (1, 2, ...)")
    torch.set_num_threads(args.threads)
    crops = [int(c) for c in args.crops.split(",")]
    rows = []
    for draw in draws:
        for texture in args.textures.split(","):
            res = measure(draw, texture, crops, args.n_train, args.n_test, args.steps)
            rows.append((f"{texture} {draw}", res))
            print(rows[-1], flush=True)
    command = "python benchmarks/student_batch.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    lines = [
        f"# {__doc__.splitlines()[0]}",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), {args.threads} torch "
        f"thread(s), torch {torch.__version__}; {time.strftime('%Y-%m-%d')}",
        "",
        "| set | " + " | ".join(f"{n} crops/step: pixel AUROC, fit s" for n in crops) + " |",
        "|---|" + "---|" * len(crops),
    ]
    for name, res in rows:
        cells = [f"{res[n][0]:.4f}, {res[n][1]:.0f}" for n in crops]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    means = [np.mean([res[n][0] for _, res in rows]) for n in crops]
    lines.append("| **mean** | " + " | ".join(f"**{m:.4f}**" for m in means) + " |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
