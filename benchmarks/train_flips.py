"""Training on the images and their mirror images: does it help the defaults? (validation)

The global model of ``IGDDetector`` fits its 100 training crops far better than any new
crop of the same texture (``calibration_split_val.md``: normal test crops score many
training standard deviations above the training crops), which is where the global part of
the image score loses on local defects. More varied training images are the usual remedy;
for a surface (a texture, a photograph of one material) the crops' mirror images are
images of the same surface. This script fits the defaults on the training images alone
(``none``) and on the images with their mirror images added (``h``: left-right, 2x the
images; ``hv``: left-right, up-down and both, 4x), and scores the same test images:

- validation texture draws (``make_texture_defects``, ``random_state`` 1, 2; never the
  tests' and demos' 0): image ROC AUC and pooled pixel ROC AUC of ``predict_heatmap``;
- validation silhouettes (``image_score.silhouette_data``): image ROC AUC, where another
  shape is the anomaly and the global part carries the score.

Everything else is the defaults (``IGDDetector(random_state=0)``, or ``--config``): the
epochs, the local model's patches and the feature map's bank follow from the (larger)
training set as they would for a user who passed it. ::

    python benchmarks/train_flips.py --draws 1,2 --silhouettes 7:triangle,11:square \\
        --flips none,hv --jobs 2 --cache /tmp/train_flips

Each fit's test scores are kept in ``--cache`` (``<set>_<flips>.npz``) and reused, so that
the table can be rebuilt without refitting. Appends a section to
``benchmarks/results/train_flips.md`` (``--out``).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from default_budget import parse_config  # noqa: E402
from image_score import (  # noqa: E402
    add_data_arguments,
    data_description,
    parse_data_arguments,
    silhouette_data,
)

HERE = Path(__file__).resolve().parent
#: The training sets each ``--flips`` value fits on: the mirror images added.
FLIPS = ("none", "h", "hv")


def with_flips(X, flips):
    """``X`` (n, H, W) or (n, H, W, C) followed by its mirror images: ``"none"`` gives
    ``X``; ``"h"`` adds the left-right mirror images (2n images); ``"hv"`` also the
    up-down ones and both (4n)."""
    if flips not in FLIPS:
        raise ValueError(f"flips must be one of {FLIPS}, got {flips!r}")
    X = np.asarray(X)
    out = [X]
    if flips in ("h", "hv"):
        out.append(X[:, :, ::-1])
    if flips == "hv":
        out += [X[:, ::-1], X[:, ::-1, ::-1]]
    return np.ascontiguousarray(np.concatenate(out))


def set_data(args, kind, key):
    """``(X_train, X_test, anomalous, masks)`` of one validation set: a texture draw
    (``key`` ``"texture:draw"``) or a silhouette set (``"seed:shape"``, masks None)."""
    if kind == "texture":
        texture, draw = key.split(":")
        d = make_texture_defects(
            texture, n_train=args.n_train, n_test=args.n_test, size=args.size,
            random_state=int(draw),
        )  # fmt: skip
        return d.images_train, d.images_test, d.y_test == -1, d.masks_test
    seed, shape = key.split(":")
    X_train, X_test, anomalous = silhouette_data(
        int(seed), shape, args.sil_train, args.sil_test, args.size
    )
    return X_train, X_test, anomalous, None


def fit_scores(X_train, X_test, flips, threads, heatmap, config=None):
    """``{"score", "heatmap" (when asked), "fit_s", "n_epochs", "n_local_epochs"}`` of
    ``IGDDetector(random_state=0, **config)`` fitted on ``with_flips(X_train, flips)``."""
    torch.set_num_threads(threads)
    start = time.perf_counter()
    det = IGDDetector(random_state=0, **(config or {})).fit(with_flips(X_train, flips))
    out = {
        "fit_s": time.perf_counter() - start,
        "score": det.anomaly_score(X_test),
        "n_epochs": det.n_epochs_,
        "n_local_epochs": -1 if det.n_local_epochs_ is None else det.n_local_epochs_,
    }
    if heatmap:
        out["heatmap"] = np.asarray(det.predict_heatmap(X_test), np.float32)
    return out


def run_set(args, kind, key, flips):
    """Fit (or load) one set with one ``flips``; returns its cached arrays."""
    path = Path(args.parts) / f"{key.replace(':', '-')}_{flips}.npz"
    if not path.exists():
        X_train, X_test, _, _ = set_data(args, kind, key)
        out = fit_scores(
            X_train, X_test, flips, args.threads, kind == "texture", parse_config(args.config)
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **out)
    with np.load(path) as stored:
        return dict(stored)


def parse_args(argv=None):
    """``image_score.py``'s data options (draw 0 and seed 0 refused; ``--parts``, alias
    ``--cache``, holds the fits' scores), ``--flips`` and ``--jobs``; ``args.sets`` lists
    ``(kind, key)`` of every set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--cache", dest="parts", help="alias of --parts")
    parser.set_defaults(silhouettes="7:triangle,11:square", parts="/tmp/train_flips")
    parser.add_argument("--flips", default="none,hv", help=f"comma-separated, of {FLIPS}")
    parser.add_argument("--jobs", type=int, default=2, help="fits side by side")
    parser.add_argument("--out", default=str(HERE / "results" / "train_flips.md"))
    args = parse_data_arguments(parser, argv)
    args.flips = [f for f in args.flips.split(",") if f]
    if any(f not in FLIPS for f in args.flips):
        parser.error(f"--flips: each of {FLIPS}")
    args.sets = [("texture", f"{t}:{d}") for d in args.draws for t in args.textures]
    args.sets += [("silhouette", f"{seed}:{shape}") for seed, shape in args.silhouettes]
    return args


def main(argv=None):
    args = parse_args(argv)
    start = time.perf_counter()
    jobs = [(kind, key, f) for kind, key in args.sets for f in args.flips]
    columns = zip(*[(args, *j) for j in jobs])
    if args.jobs == 1:  # in this process (stored fits, a debugger)
        results = list(map(run_set, *columns))
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_set, *columns))
    res = {(key, f): r for (kind, key, f), r in zip(jobs, results)}

    head = "| set | " + " | ".join(
        f"{f}: image AUROC | {f}: pixel AUROC | {f}: epochs (global, local) | {f}: fit s"
        for f in args.flips
    )
    lines = [head + " |", "|---|" + "---|---|---|---|" * len(args.flips)]
    sums = {f: {"image": [], "pixel": [], "sil": []} for f in args.flips}
    for kind, key in args.sets:
        _, _, anomalous, masks = set_data(args, kind, key)
        cells = [key]
        for f in args.flips:
            r = res[(key, f)]
            image = roc_auc_score(anomalous, r["score"])
            pixel = np.nan
            if masks is not None:
                pixel = roc_auc_score(masks.ravel() > 0, r["heatmap"].ravel())
                sums[f]["pixel"].append(pixel)
            sums[f]["image" if kind == "texture" else "sil"].append(image)
            local = int(r["n_local_epochs"])
            cells += [
                f"{image:.4f}",
                "" if np.isnan(pixel) else f"{pixel:.4f}",
                f"{int(r['n_epochs'])}, {local if local >= 0 else '-'}",
                f"{float(r['fit_s']):.0f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    means = ["**mean: textures image / pixel; silhouettes image**"]
    for f in args.flips:
        s = sums[f]
        tex, pix, sil = (np.mean(s[k]) if s[k] else np.nan for k in ("image", "pixel", "sil"))
        means += [f"**{tex:.4f}** / sil **{sil:.4f}**", f"**{pix:.4f}**", "", ""]
    lines.append("| " + " | ".join(means) + " |")

    text = "\n".join(
        [
            "",
            f"## Training on mirror images ({time.strftime('%Y-%m-%d')})",
            "",
            command_line(),
            f"Machine: {platform.machine()}, {args.threads} torch thread(s) per fit, "
            f"{args.jobs} fit(s) at a time, torch {torch.__version__}; "
            f"total {time.perf_counter() - start:.0f} s (cached fits count 0).  ",
            data_description(args)
            + f" `IGDDetector(random_state=0{', ' + args.config if args.config else ''})` "
            "fitted on the training images with their mirror images added (`none`: the "
            "images alone); image ROC AUC of `anomaly_score`, pooled pixel ROC AUC of "
            "`predict_heatmap`.",
            "",
            *lines,
            "",
        ]
    )
    out = append_section(args.out, "Training on mirror images (validation)", text)
    print(text)
    print(f"appended to {out}")


if __name__ == "__main__":
    main()
