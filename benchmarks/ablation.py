"""Ablation of IGD's components on the demo's MNIST-5k protocol (in the spirit of Table 5).

Variants, all with the demo's CPU configuration (``examples/demo.py``'s DEMO_PARAMS):

- REC: autoencoder with the MAE + MS-SSIM loss only, scored by its reconstruction loss
  (no Gaussian classifier, no critic: lambda1 = lambda3 = 0);
- REC+GAC: plus the Gaussian anomaly classifier and the E-step (score l_r + l_h);
- REC+GAC+INTER = IGD: plus the adversarial interpolation critic (the defaults);
- IGD global-pool: IGD with the lite backbone's last stage pooled globally (128-d)
  instead of on a 2x2 grid (512-d), to measure that architectural choice.

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

from sklearn_igd import IGDDetector, _networks  # noqa: E402


class _RecOnly(IGDDetector):
    _use_gaussian = False


VARIANTS = {
    "REC": (_RecOnly, dict(lambda1=0.0, lambda3=0.0), 2),
    "REC+GAC": (IGDDetector, dict(lambda1=0.0, lambda3=0.0), 2),
    "REC+GAC+INTER (IGD)": (IGDDetector, {}, 2),
    "IGD global-pool": (IGDDetector, {}, 1),
}


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
        cls, extra, pool = VARIANTS[name]
        old_pool = _networks.BACKBONE_POOL["resnet18-lite"]
        _networks.BACKBONE_POOL["resnet18-lite"] = pool
        try:
            for d in digits:
                det = cls(random_state=0, **DEMO_PARAMS, **extra).fit(X_a[y_a == d])
                auc = roc_auc_score(y_b == d, det.decision_function(X_b))
                results[(name, d)] = auc
                print(f"{name:<22} digit {d}: AUC {auc:.4f}", flush=True)
        finally:
            _networks.BACKBONE_POOL["resnet18-lite"] = old_pool
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
