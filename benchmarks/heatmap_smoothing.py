"""Pixel AUROC of the heatmap against the Gaussian smoothing that ``heatmap_sigma`` applies.

Fits ``IGDDetector`` (local model on, ``heatmap_sigma=0``) on the normal crops of
``make_texture_defects`` for each texture and validation draw (``random_state`` of the
data: 1, 2, ... never the tests' and demos' 0), then smooths its maps with scipy's
Gaussian filter with reflected borders (``mode="mirror"``, the package's own smoothing,
``tests/test_scoring.py`` checks they agree) for each sigma, and reports the pooled pixel
ROC AUC of the combined map and of the global model's map alone.

    python benchmarks/heatmap_smoothing.py --size 32 --n-train 64 --epochs 5 --draws 1,2,3
    python benchmarks/heatmap_smoothing.py --size 64 --n-train 100 --epochs 5 --draws 1

Appends a section to ``benchmarks/results/heatmap_smoothing.md`` with the command, the
machine and the date.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import pixel_roc_auc

HERE = Path(__file__).resolve().parent
TEXTURES = ("brick", "grass", "gravel")


def smoothed_aucs(masks, maps, sigmas):
    """Pooled pixel ROC AUC of ``maps`` (n, H, W) smoothed by each sigma (0: as is)."""
    out = []
    for s in sigmas:
        m = gaussian_filter(maps, sigma=(0, s, s), mode="mirror", truncate=4.0) if s else maps
        out.append(pixel_roc_auc(masks, m))
    return out


def run(args):
    sigmas = [float(s) for s in args.sigmas.split(",")]
    rows = []
    for draw in (int(d) for d in args.draws.split(",")):
        for texture in args.textures.split(","):
            data = make_texture_defects(
                texture,
                n_train=args.n_train,
                n_test=args.n_test,
                size=args.size,
                random_state=draw,
            )
            t0 = time.perf_counter()
            det = IGDDetector(
                max_epochs=args.epochs,
                batch_size=16,
                local=True,
                heatmap_sigma=0,
                random_state=0,
            ).fit(data.images_train)
            parts = det.score_parts(data.images_test, heatmap=True)
            rows.append(
                dict(
                    draw=draw,
                    texture=texture,
                    fit_s=time.perf_counter() - t0,
                    combined=smoothed_aucs(data.masks_test, parts.heatmap, sigmas),
                    global_=smoothed_aucs(data.masks_test, parts.global_heatmap, sigmas),
                )
            )
            print(rows[-1], flush=True)
    return sigmas, rows


def report(args, sigmas, rows):
    cmd = shlex.join(["python", "benchmarks/heatmap_smoothing.py", *sys.argv[1:]])
    auto = args.size / 16
    head = " | ".join(f"sigma {s:g}" + (" (auto)" if s == auto else "") for s in sigmas)
    lines = [
        f"## {args.size} px crops, {args.n_train} training crops, {args.epochs} epochs",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch "
        f"{torch.__version__}, {torch.get_num_threads()} torch threads; "
        f"{time.strftime('%Y-%m-%d %H:%M')}  ",
        f"Data: `make_texture_defects(texture, n_train={args.n_train}, n_test={args.n_test}, "
        f"size={args.size}, random_state=draw)`; detector `IGDDetector(max_epochs="
        f"{args.epochs}, batch_size=16, local=True, heatmap_sigma=0, random_state=0)`. "
        "Cells: pooled pixel ROC AUC of the combined map / of the global model's map alone.",
        "",
        f"| draw | texture | fit s | {head} |",
        "|---|---|---|" + "---|" * len(sigmas),
    ]
    for r in rows:
        cells = " | ".join(f"{c:.3f} / {g:.3f}" for c, g in zip(r["combined"], r["global_"]))
        lines.append(f"| {r['draw']} | {r['texture']} | {r['fit_s']:.0f} | {cells} |")
    comb = np.array([r["combined"] for r in rows])
    glob = np.array([r["global_"] for r in rows])
    cells = " | ".join(f"{c:.3f} / {g:.3f}" for c, g in zip(comb.mean(0), glob.mean(0)))
    lines.append(f"| mean | | | {cells} |")
    gain = comb - comb[:, :1]
    cells = " | ".join(f"{lo:+.3f} to {hi:+.3f}" for lo, hi in zip(gain.min(0), gain.max(0)))
    lines.append(f"| combined: change against sigma 0, min to max | | | {cells} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--n-train", type=int, default=64)
    parser.add_argument("--n-test", type=int, default=60)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--draws", default="1,2,3", help="data random_states (not 0)")
    parser.add_argument("--textures", default=",".join(TEXTURES))
    parser.add_argument("--sigmas", default="0,0.5,1,2,3,4")
    parser.add_argument("--out", default=str(HERE / "results" / "heatmap_smoothing.md"))
    args = parser.parse_args(argv)
    if "0" in args.draws.split(","):
        parser.error("--draws: 0 is the tests' and demos' draw; validate on others")
    sigmas, rows = run(args)
    out = Path(args.out)
    text = report(args, sigmas, rows)
    if not out.exists():
        text = (
            "# Heatmap smoothing on validation draws of the texture defects\n\n"
            'How `heatmap_sigma="auto"` (min(H, W) / 16) was chosen. Validation draws '
            "only (`random_state` 1, 2, ...); the tests and demos use draw 0.\n\n" + text
        )
    else:
        text = "\n" + text
    with out.open("a") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
