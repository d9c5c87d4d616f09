"""Which per-pixel error terms localise texture defects, and how to add them up.

``IGDDetector.predict_heatmap`` adds four per-pixel terms: the absolute error
``A = |x - x_hat|`` and ``S = 1 - MS-SSIM map`` of the global model and of the local
model's folded patches. This benchmark fits the texture demo's detector (same parameters)
on a *validation* draw of ``make_texture_defects`` (``random_state=1``; the demo and its
reported numbers use ``random_state=0``) and reports the pooled pixel ROC AUC of

- each term alone;
- ``heatmap="paper"``: eq. 16-17 as written, ``rho A + (1 - rho) S`` per model, summed;
- ``heatmap="balanced"``: each term divided by its training mean, summed;
- "two scales" (the first version of the combined map): each model's eq. 17 map divided
  by its training mean, summed;

for the global model's map, the local model's map and their sum. This is the measurement
behind ``heatmap="balanced"`` being the default. One fit per texture; every sum is
computed from the same fitted nets, from the unweighted terms that
``IGDDetector.score_parts(X, terms=True)`` returns.

    OMP_NUM_THREADS=1 python benchmarks/heatmap_terms.py [--textures brick,grass,gravel]
        [--out benchmarks/results/heatmap_terms.md]
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects

#: The texture demo's configuration (``examples/demo_textures.py``) and textures.
TEXTURE_PARAMS = dict(max_epochs=10, batch_size=16)
TEXTURES = ("brick", "grass", "gravel")
from sklearn_igd.metrics import pixel_roc_auc  # noqa: E402

#: The validation draw: the demo's crop size and set sizes, another seed.
VALIDATION = dict(n_train=100, n_test=100, size=64, random_state=1)


def term_maps(det, X):
    """The four unweighted error terms of images ``X``: dict of float64 (n, H, W) arrays.

    One pass per model over ``X`` (``IGDDetector.score_parts(X, terms=True)``).
    """
    parts = det.score_parts(X, terms=True)
    maps = {}
    for model, terms in (("G", parts.global_terms), ("L", parts.local_terms)):
        maps[f"A_{model}"], maps[f"S_{model}"] = terms[:, 0], terms[:, 1]
    return maps


def run_texture(texture, log=print):
    data = make_texture_defects(texture, **VALIDATION)
    t0 = time.perf_counter()
    det = IGDDetector(random_state=0, heatmap="balanced", **TEXTURE_PARAMS)
    det.fit(data.images_train)
    fit_s = time.perf_counter() - t0
    t = term_maps(det, data.images_test)
    rho, m = det.rho, det.heatmap_scale_
    paper = {k: rho * t[f"A_{k}"] + (1 - rho) * t[f"S_{k}"] for k in "GL"}
    # training means of the paper's per-model maps are linear in the term means
    two_scales = {k: paper[k] / (rho * m[i, 0] + (1 - rho) * m[i, 1]) for i, k in enumerate("GL")}
    balanced = {k: t[f"A_{k}"] / m[i, 0] + t[f"S_{k}"] / m[i, 1] for i, k in enumerate("GL")}
    masks = data.masks_test
    row = {"texture": texture, "fit_s": fit_s}
    row.update({name: pixel_roc_auc(masks, v) for name, v in t.items()})
    for label, parts in (("paper", paper), ("two_scales", two_scales), ("balanced", balanced)):
        row[f"{label}_G"] = pixel_roc_auc(masks, parts["G"])
        row[f"{label}_L"] = pixel_roc_auc(masks, parts["L"])
        row[f"{label}_C"] = pixel_roc_auc(masks, parts["G"] + parts["L"])
    # the detector's own map is the balanced sum
    assert np.allclose(det.predict_heatmap(data.images_test), balanced["G"] + balanced["L"])
    log(
        f"{texture:<7} "
        + " ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("texture", "fit_s"))
        + f" | fit {fit_s:.0f} s",
        flush=True,
    )
    return row


COLUMNS = ["A_G", "S_G", "A_L", "S_L"] + [
    f"{a}_{b}" for a in ("paper", "two_scales", "balanced") for b in "GLC"
]


def table(rows):
    head = {
        "A_G": "A global",
        "S_G": "S global",
        "A_L": "A local",
        "S_L": "S local",
        "paper_G": "paper global",
        "paper_L": "paper local",
        "paper_C": "paper combined",
        "two_scales_G": "two scales global",
        "two_scales_L": "two scales local",
        "two_scales_C": "two scales combined",
        "balanced_G": "balanced global",
        "balanced_L": "balanced local",
        "balanced_C": "balanced combined",
    }
    lines = [
        "| texture | " + " | ".join(head[c] for c in COLUMNS) + " | fit s |",
        "|---" * (len(COLUMNS) + 2) + "|",
    ]
    for r in rows + [
        {
            "texture": "**mean**",
            "fit_s": sum(r["fit_s"] for r in rows),
            **{c: np.mean([r[c] for r in rows]) for c in COLUMNS},
        }
    ]:
        lines.append(
            f"| {r['texture']} | "
            + " | ".join(f"{r[c]:.4f}" for c in COLUMNS)
            + f" | {r['fit_s']:.0f} |"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--textures", default=",".join(TEXTURES))
    ap.add_argument("--out", default=None, help="Markdown file for the table")
    args = ap.parse_args(argv)
    rows = [run_texture(t) for t in args.textures.split(",")]
    text = (
        f"Command: `OMP_NUM_THREADS={torch.get_num_threads()} python "
        f"benchmarks/heatmap_terms.py --textures {args.textures}`  \n"
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch thread(s), "
        f"torch {torch.__version__}. Date: {datetime.date.today()}.  \n"
        "Data: `make_texture_defects(texture, "
        f"{', '.join(f'{k}={v}' for k, v in VALIDATION.items())})`."
        f"  \nIGDDetector({', '.join(f'{k}={v!r}' for k, v in TEXTURE_PARAMS.items())}, "
        "random_state=0). Pooled pixel ROC AUC.\n\n" + table(rows) + "\n"
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
