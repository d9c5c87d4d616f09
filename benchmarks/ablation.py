"""Ablation of IGD's components on the demo's MNIST-5k protocol (in the spirit of Table 5).

Variants, all with the demo's CPU configuration (``examples/demo.py``'s DEMO_PARAMS):

- REC (``variant="rec"``): autoencoder with the MAE + MS-SSIM loss only, scored by its
  reconstruction loss (no Gaussian classifier, no critic);
- REC+GAC (``variant="rec+gac"``): plus the Gaussian anomaly classifier and the E-step
  (score l_r + l_h);
- REC+GAC+INTER = IGD (``variant="igd"``): plus the adversarial interpolation critic.

    python benchmarks/ablation.py [--digits 0,1,...] [--variants REC,IGD]

Writes ``benchmarks/results/ablation_mnist5k.md``.
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
from sklearn.metrics import roc_auc_score

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))

from demo import DEMO_PARAMS, mnist_halves  # noqa: E402

from sklearn_igd import IGDDetector  # noqa: E402

#: Table 5's rows: ``IGDDetector(variant=...)``.
VARIANTS = {"REC": "rec", "REC+GAC": "rec+gac", "REC+GAC+INTER (IGD)": "igd"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", default=str(HERE / "results" / "ablation_mnist5k.md"))
    args = parser.parse_args(argv)
    digits = [int(d) for d in args.digits.split(",")]
    (X_a, y_a), (X_b, y_b) = mnist_halves(0)
    results = {}
    t_start = time.perf_counter()
    for name in args.variants.split(","):
        for d in digits:
            det = IGDDetector(random_state=0, variant=VARIANTS[name], **DEMO_PARAMS)
            det.fit(X_a[y_a == d])
            auc = roc_auc_score(y_b == d, det.decision_function(X_b))
            results[(name, d)] = auc
            print(f"{name:<22} digit {d}: AUC {auc:.4f}", flush=True)
    names = args.variants.split(",")
    lines = [
        "# Ablation on MNIST-5k (demo protocol)",
        "",
        f"Command: `python benchmarks/ablation.py --digits {args.digits} --variants "
        f'"{args.variants}" --out {args.out}`  ',
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s)  ",
        f"Date: {time.strftime('%Y-%m-%d')}; total {time.perf_counter() - t_start:.0f} s  ",
        f"IGD settings: {DEMO_PARAMS}, random_state=0. Train on the normal digit's images "
        "of one stratified half (~250), test on the other half (2,500).",
        "",
        "| variant | " + " | ".join(str(d) for d in digits) + " | mean |",
        "|---" * (len(digits) + 2) + "|",
    ]
    for name in names:
        aucs = [results[(name, d)] for d in digits]
        lines.append(
            f"| {name} | " + " | ".join(f"{a:.4f}" for a in aucs) + f" | **{np.mean(aucs):.4f}** |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
