"""Why the global part lies far outside its training range on new normal crops
(validation data): the whitening's components and the training, probed.

With 100 training crops of 64 px, the global model's score of new *normal* test crops lies
5-72 training standard deviations above its training crops (``calibration_split_val.md``,
``score_combination.md``), which is what lets it swamp the local part in the image score.
Two suspects, each probed on the global model alone (``IGDDetector(random_state=0,
local=False, feature_map=False)``, which is the default's global model):

- the whitening of the frozen 320-d ImageNet features keeps 128 components
  (``IMAGENET_COMPONENTS``), but 100 images span only 99 directions: the other 29 are
  *flat* (the shrunk covariance is constant there and the training crops have no
  variance along them), so every new crop, normal or not, adds distance along them.
  ``span`` keeps only the directions the training features span; ``all`` keeps all 320;
- the training pulls the training codes in (``l_h``): ``epochs=1`` stops after one epoch.

For each set: ROC AUC of the global score and of its Gaussian term alone, the median of
the normal and of the anomalous test crops' score in training standard deviations
(``z``), and the training features' rank. ``span`` and ``all`` replace the package's
``_fit_whitening`` in the worker (a probe, not an option of the package).

    python benchmarks/global_whitening.py --jobs 2

Appends a section to ``benchmarks/results/global_whitening.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from image_score import silhouette_data  # noqa: E402

HERE = Path(__file__).resolve().parent
VARIANTS = ("default", "span", "all", "epochs=1")
DEFAULT_SETS = "brick:1,grass:1,gravel:1,brick:2,grass:2,gravel:2,square:11,ellipse:11"


def set_data(spec):
    """``(X_train, X_test, anomalous)``: a texture ``name:draw`` (100 training, 300 test
    crops of 64 px) or a silhouette ``shape:seed`` (``image_score.py``'s protocol)."""
    name, draw = spec.split(":")
    if int(draw) == 0:
        raise ValueError(f"{spec}: draw 0 is the demo's test draw")
    if name in ("brick", "grass", "gravel"):
        d = make_texture_defects(name, n_train=100, n_test=300, size=64, random_state=int(draw))
        return d.images_train, d.images_test, d.y_test == -1
    return silhouette_data(int(draw), name, 200, 150, 64)


def probe(spec, variant, threads=1):
    """One row: ``{set, variant, rank, auc, auc_gaussian, z_normal, z_anomalous, fit_s}``."""
    import sklearn_igd._pretrain as pretrain

    torch.set_num_threads(threads)
    original = pretrain._fit_whitening
    seen = {}

    def whitening(features, n_components):
        centred = features.double().cpu().numpy()
        centred = centred - centred.mean(0)
        s = np.linalg.svd(centred, compute_uv=False)
        seen["rank"] = int((s > s.max() * max(centred.shape) * np.finfo(float).eps).sum())
        if variant == "span":
            n_components = min(n_components, seen["rank"])
        elif variant == "all":
            n_components = features.shape[1]
        return original(features, n_components)

    pretrain._fit_whitening = whitening
    try:
        X_train, X_test, anomalous = set_data(spec)
        extra = {"max_epochs": 1} if variant == "epochs=1" else {}
        start = time.perf_counter()
        det = IGDDetector(random_state=0, local=False, feature_map=False, **extra)
        det.fit(X_train)
        fit_s = time.perf_counter() - start
        train, test = det.score_parts(X_train), det.score_parts(X_test)
    finally:
        pretrain._fit_whitening = original
    z = (test.score - train.score.mean()) / train.score.std()
    return {
        "set": spec,
        "variant": variant,
        "rank": seen.get("rank"),
        "auc": roc_auc_score(anomalous, test.score),
        "auc_gaussian": roc_auc_score(anomalous, test.global_gaussian),
        "z_normal": float(np.median(z[~anomalous])),
        "z_anomalous": float(np.median(z[anomalous])),
        "fit_s": fit_s,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=DEFAULT_SETS, help="texture:draw or shape:seed")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "global_whitening.md"))
    args = parser.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {unknown}; expected some of {list(VARIANTS)}")
    start = time.perf_counter()
    rows = Parallel(n_jobs=args.jobs)(delayed(probe)(s, v) for s in sets for v in variants)
    by = {(r["set"], r["variant"]): r for r in rows}
    lines = [
        "",
        f"## The global model alone, by whitening and training ({time.strftime('%Y-%m-%d')})",
        "",
        command_line(argv and ["benchmarks/global_whitening.py", *argv]),
        f"Machine: {platform.machine()}, one torch thread per fit, {args.jobs} side by side, "
        f"torch {torch.__version__}; {time.perf_counter() - start:.0f} s in all.  ",
        "Per variant: ROC AUC of the global score / of its Gaussian term alone; median "
        "`z` of the normal / anomalous test images (in training standard deviations).",
        "",
        "| set | rank | " + " | ".join(variants) + " |",
        "|---" * (2 + len(variants)) + "|",
    ]
    for s in sets:
        cells = [
            f"{by[s, v]['auc']:.4f} / {by[s, v]['auc_gaussian']:.4f}; "
            f"z {by[s, v]['z_normal']:.1f} / {by[s, v]['z_anomalous']:.1f}"
            for v in variants
        ]
        lines.append(f"| {s} | {by[s, variants[0]]['rank']} | " + " | ".join(cells) + " |")
    means = [np.mean([by[s, v]["auc"] for s in sets]) for v in variants]
    lines.append("| **mean AUC** | | " + " | ".join(f"**{m:.4f}**" for m in means) + " |")
    text = "\n".join(lines) + "\n"
    out = append_section(args.out, "The global model's whitening and training (validation)", text)
    print(text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
