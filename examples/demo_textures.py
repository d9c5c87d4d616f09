"""Texture-defect demo: IGDDetector's scores and heatmaps beside IsolationForest/OneClassSVM.

For each of scikit-image's brick, grass and gravel photographs, ``make_texture_defects``
cuts 64 px crops: normal training crops from the top half, test crops from the bottom half,
half of them with one drawn defect (scratch, crack, stain, hole, foreign patch or colour
change) and its exact pixel mask. IGDDetector (global and local models) is fitted on the
normal crops; for the combined detector and for each of its two models alone the demo
reports the image ROC AUC, the pixel ROC AUC (pooled over all test pixels, and per
defective image then averaged, as the paper reports it) and the AUPRO, beside the image
ROC AUC of IsolationForest and OneClassSVM on the flattened pixels (they give no maps),
with paired bootstrap intervals of the differences. Writes a figure per texture in the
paper's Fig. 3 layout (test images, ground-truth masks, combined heatmaps overlaid) and a
Markdown table to ``demo_results/``. Runs in about 21 minutes on two CPU cores (7 per texture).

    python examples/demo_textures.py [--textures brick,grass,gravel] [--out demo_results]
        [--n-train 100] [--n-test 500] [--epochs auto] [--backbone resnet18-lite]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import aupro, pixel_roc_auc
from sklearn_igd.plotting import HeatmapDisplay

#: Configuration of the texture demo: IGDDetector's defaults (on a CPU the lite backbone,
#: the frozen ImageNet encoder for the global model, the local model and the feature map
#: for 64 px crops, and ``max_epochs="auto"``: 10 epochs for 100 crops of 64 px).
TEXTURE_PARAMS = dict(backbone="auto", max_epochs="auto")

#: ``make_texture_defects`` arguments: 100 normal training crops, 500 test crops (250
#: defective), 64 px. Scoring is cheap next to fitting; 500 test crops narrow the paired
#: bootstrap interval of an image ROC AUC difference to about +-0.05 (+-0.08 with 200).
DATA_PARAMS = dict(n_train=100, n_test=500, size=64)

TEXTURES = ("brick", "grass", "gravel")

#: Rows of the IGD part of the table: the combined detector, then each model alone.
IGD_PARTS = ("combined", "global", "local")


def plot_heatmaps(images, masks, heatmaps, titles, path, n_show=8):
    """Fig. 3 layout: test images, ground-truth masks, heatmaps overlaid (red = high)."""
    import matplotlib

    matplotlib.use("Agg")  # a script writing files: no window needed
    import matplotlib.pyplot as plt

    disp = HeatmapDisplay.from_predictions(images, heatmaps, masks, n_images=n_show, titles=titles)
    disp.figure_.tight_layout()
    disp.figure_.savefig(path, dpi=100)
    plt.close(disp.figure_)
    return disp


def igd_parts(det, X):
    """Image scores and heatmaps of the fitted detector and of each of its two models.

    Parameters
    ----------
    det : IGDDetector
        Fitted on images with the local model (``local=True``).
    X : ndarray of shape (n, H, W)
        Test images.

    Returns
    -------
    dict
        ``{"combined": (s, heat), "global": (s_G, E_G), "local": (s_L, E_L)}`` with scores
        of shape (n,) and maps of shape (n, H, W): ``anomaly_score`` and
        ``predict_heatmap``; the global model's score (eq. 14) and its part of the
        heatmap; the local part of the score (``local_score``: by default the mean of the
        top 10% of the heatmap's pixels) and the local model's
        part of the heatmap (``heat = E_G + E_L + E_F``, each model's terms weighted as
        the detector's ``heatmap`` says, ``E_F`` the weighted feature map; the feature
        map has no column of its own here, ``benchmarks/feature_map.py`` measures it
        alone). The parts are not
        standardised: AUROC does not depend on a shift and a positive scale factor. The
        combined pair is built from the parts the way ``anomaly_score`` and
        ``predict_heatmap`` build it (same values), so each model runs once.
    """
    p = det.score_parts(X, heatmap=True)
    return {
        "combined": (p.score, p.heatmap),
        "global": (p.global_score, p.global_heatmap),
        "local": (p.local_score, p.local_heatmap),
    }


PEERS = ("IsolationForest", "OneClassSVM")


def peer_scores(X_train, X_test, seed=0):
    """Anomaly scores (higher = more anomalous) of IsolationForest and OneClassSVM fitted
    on flattened pixels / 255: ``{name: ndarray of shape (n_test,)}``."""
    flat = lambda X: X.reshape(len(X), -1) / 255.0  # noqa: E731
    scores = {}
    for name, est in zip(PEERS, (IsolationForest(random_state=seed), OneClassSVM())):
        est.fit(flat(X_train))
        scores[name] = -est.decision_function(flat(X_test))
    return scores


def _auc(positive, score):
    """ROC AUC by the Mann-Whitney rank statistic (ties counted half): the value of
    ``roc_auc_score(positive, score)``, without its input checks (the bootstrap calls it
    thousands of times)."""
    ranks = rankdata(score)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auc_difference_ci(anomalous, score_a, score_b, n_boot=1000, level=0.95, seed=0):
    """Paired bootstrap interval of ``roc_auc(score_a) - roc_auc(score_b)``.

    Test images are resampled with replacement (both scores together); resamples with a
    single class are skipped. Returns ``(low, high)``, the central ``level`` interval.
    """
    rng = np.random.RandomState(seed)
    anomalous = np.asarray(anomalous, bool)
    n, diffs = len(anomalous), []
    for _ in range(n_boot):
        i = rng.randint(0, n, n)
        if anomalous[i].all() or not anomalous[i].any():
            continue
        diffs.append(_auc(anomalous[i], score_a[i]) - _auc(anomalous[i], score_b[i]))
    tail = 100 * (1 - level) / 2
    return tuple(np.percentile(diffs, [tail, 100 - tail]))


def showcase(defect_type, n_show=6):
    """Indices of up to ``n_show`` defective crops, one per defect type first."""
    defective = np.flatnonzero(defect_type != "good")
    first = [
        defective[defect_type[defective] == t][0] for t in dict.fromkeys(defect_type[defective])
    ]
    rest = [i for i in defective if i not in first]
    return np.asarray((first + rest)[:n_show])


def run_texture(
    texture, params=TEXTURE_PARAMS, seed=0, out=None, log=print, data_params=None, photo=None
):
    """Fit, score and plot one texture; return a dict of results.

    ``data_params`` (default :data:`DATA_PARAMS`) are ``make_texture_defects``'s sizes.
    ``photo``: a grayscale uint8 photograph to cut the crops from instead of the texture
    ``texture`` (which then only names it).
    """
    data_params = DATA_PARAMS if data_params is None else data_params
    source = texture if photo is None else photo
    data = make_texture_defects(source, random_state=seed, **data_params)
    anomalous = data.y_test == -1
    t0 = time.perf_counter()
    det = IGDDetector(random_state=seed, **params).fit(data.images_train)
    t1 = time.perf_counter()
    parts = igd_parts(det, data.images_test)
    t2 = time.perf_counter()
    row = dict(texture=texture, fit_s=t1 - t0, score_s=t2 - t1)
    for name, (score, heat) in parts.items():
        row[f"image_{name}"] = roc_auc_score(anomalous, score)
        row[f"pixel_{name}"] = pixel_roc_auc(data.masks_test, heat)
        row[f"pixel_per_image_{name}"] = pixel_roc_auc(data.masks_test, heat, average="per_image")
        row[f"aupro_{name}"] = aupro(data.masks_test, heat)
    for name, score in peer_scores(data.images_train, data.images_test, seed).items():
        row[name] = roc_auc_score(anomalous, score)
        row[f"ci_{name}"] = auc_difference_ci(anomalous, parts["combined"][0], score, seed=seed)
    log(
        f"{texture:<7} image AUROC "
        + " ".join(f"{n} {row[f'image_{n}']:.4f}" for n in IGD_PARTS)
        + "".join(
            f" | {p} {row[p]:.4f} (combined - {p}: 95% CI {_ci(row[f'ci_{p}'])})" for p in PEERS
        ),
        flush=True,
    )
    log(
        f"{'':<7} pixel AUROC "
        + " ".join(f"{n} {row[f'pixel_{n}']:.4f}" for n in IGD_PARTS)
        + " | AUPRO "
        + " ".join(f"{n} {row[f'aupro_{n}']:.4f}" for n in IGD_PARTS)
        + f" | fit {row['fit_s']:.0f} s, score {row['score_s']:.1f} s",
        flush=True,
    )
    if out is not None:
        idx = showcase(data.defect_type)
        Path(out).mkdir(parents=True, exist_ok=True)
        path = Path(out) / f"textures_{texture}.png"
        plot_heatmaps(
            data.images_test[idx],
            data.masks_test[idx],
            parts["combined"][1][idx],
            list(data.defect_type[idx]),
            path,
            n_show=len(idx),
        )
        row["figure"] = str(path)
    return row


def _ci(interval):
    return f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"


def ci_table(rows):
    """A Markdown table of the image AUROC differences to the peers with their intervals."""
    lines = [
        "| texture | " + " | ".join(f"combined - {p}: difference, 95% CI" for p in PEERS) + " |",
        "|---" * (len(PEERS) + 1) + "|",
    ]
    for r in rows:
        lines.append(
            f"| {r['texture']} | "
            + " | ".join(f"{r['image_combined'] - r[p]:+.3f} {_ci(r[f'ci_{p}'])}" for p in PEERS)
            + " |"
        )
    return "\n".join(lines)


def table(rows):
    """A Markdown table: one row per texture and a mean row."""
    cols = (
        [(f"image AUROC {n}", f"image_{n}") for n in IGD_PARTS]
        + [
            ("image AUROC IsolationForest", "IsolationForest"),
            ("image AUROC OneClassSVM", "OneClassSVM"),
        ]
        + [(f"pixel AUROC {n}", f"pixel_{n}") for n in IGD_PARTS]
        + [(f"pixel AUROC per image {n}", f"pixel_per_image_{n}") for n in IGD_PARTS]
        + [(f"AUPRO {n}", f"aupro_{n}") for n in IGD_PARTS]
    )
    lines = [
        "| texture | " + " | ".join(c for c, _ in cols) + " | fit s | score s |",
        "|---" * (len(cols) + 3) + "|",
    ]
    for r in rows:
        lines.append(
            f"| {r['texture']} | "
            + " | ".join(f"{r[k]:.4f}" for _, k in cols)
            + f" | {r['fit_s']:.0f} | {r['score_s']:.1f} |"
        )
    lines.append(
        "| **mean** | "
        + " | ".join(f"**{np.mean([r[k] for r in rows]):.4f}**" for _, k in cols)
        + f" | {sum(r['fit_s'] for r in rows):.0f} (total) | "
        f"{sum(r['score_s'] for r in rows):.1f} (total) |"
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--textures", default=",".join(TEXTURES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="demo_results")
    parser.add_argument(
        "--n-train",
        type=int,
        default=DATA_PARAMS["n_train"],
        help="normal training crops per texture",
    )
    parser.add_argument(
        "--n-test",
        type=int,
        default=DATA_PARAMS["n_test"],
        help="test crops per texture (half defective)",
    )
    parser.add_argument(
        "--epochs",
        type=lambda v: v if v == "auto" else int(v),
        default=TEXTURE_PARAMS["max_epochs"],
        help="max_epochs of IGDDetector (default: 'auto', its default)",
    )
    parser.add_argument(
        "--backbone",
        default=TEXTURE_PARAMS["backbone"],
        choices=("auto", "resnet18-lite", "resnet18"),
        help="IGDDetector backbone (resnet18 is the paper's; GPU territory)",
    )
    args = parser.parse_args(argv)
    params = {**TEXTURE_PARAMS, "max_epochs": args.epochs, "backbone": args.backbone}
    data_params = {**DATA_PARAMS, "n_train": args.n_train, "n_test": args.n_test}

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data_args = ", ".join(f"{k}={v!r}" for k, v in data_params.items())
    header = (
        f"Texture defects: make_texture_defects(texture, {data_args}, random_state="
        f"{args.seed}): crops of scikit-image's photographs, normal "
        "training crops, test crops half defective with pixel masks.\n"
        f"IGDDetector({', '.join(f'{k}={v!r}' for k, v in params.items())}, "
        f"random_state={args.seed}); 'combined' = anomaly_score (the global score and the "
        "mean of the top 10% of the heatmap's pixels, each standardised on the "
        "training crops) and predict_heatmap (heatmap='balanced': "
        "each model's absolute-error and 1 - MS-SSIM terms divided by their training "
        "mean, plus the feature map weighted to their spread, each map smoothed by a "
        "Gaussian of heatmap_sigma='auto' = 4 px at 64 px), 'global' = the global "
        "model's score and map alone, 'local' = the local part of the score (the "
        "heatmap's top 10%) and the local model's map alone. IsolationForest(random_state="
        f"{args.seed}) and OneClassSVM() on raw pixels / 255 (image AUROC only). Pixel "
        "AUROC pooled over all test pixels, and per defective image then averaged (as the "
        "paper reports it); AUPRO up to FPR 0.3.\n"
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s), torch "
        f"{torch.__version__} with {torch.get_num_threads()} thread(s), device "
        f"{'cuda' if torch.cuda.is_available() else 'cpu'}; "
        f"{datetime.date.today().isoformat()}."
    )
    print(header, flush=True)
    t0 = time.perf_counter()
    rows = [
        run_texture(t, params=params, seed=args.seed, out=out, data_params=data_params)
        for t in args.textures.split(",")
    ]
    text = (
        f"{header}\n\n{table(rows)}\n\nImage AUROC of the combined score minus the "
        "peers', with a paired bootstrap interval over the test crops (1,000 "
        f"resamples):\n\n{ci_table(rows)}\n\nFigures: "
        + ", ".join(Path(r["figure"]).name for r in rows)
        + f"\n\nTotal wall time: {time.perf_counter() - t0:.0f} s\n"
    )
    print("\n" + text)
    (out / "textures.md").write_text(text)
    print(f"Written to {out / 'textures.md'}")


if __name__ == "__main__":
    main()
