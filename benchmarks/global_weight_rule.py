"""Can the training images choose ``global_score_weight``? A stationarity rule (validation
data; a negative result).

With the local model the image score is ``s = g z_G + z_L``. On validation data ``g = 0``
(the heatmap's top 10% alone) ranked painted defects better on 17 of 18 photograph and
texture sets, and ``g = 1`` (the default) ranked silhouettes of another shape far better
(``picture_weights.md``). Both kinds of training set differ in one visible way: crops of
a surface are *stationary* (any content can be anywhere), centred objects are not. This
measures whether a statistic of the training images alone could pick ``g``:

    S = var over pixels of the per-pixel mean  /  mean over pixels of the per-pixel variance

of the grey training images (0 when every pixel has the same mean; large when the mean
image shows an object). A rule "``g = 0`` when S is small" would need S to separate the
sets where ``g = 0`` wins from those where ``g = 1`` wins. Measured on

- the sets ``picture_weights.md`` decided on: the validation texture draws 1-2,
  the validation photographs (draws 1-2) and the silhouettes of ``default_budget.py``
  (radius 0.2-0.35 of the side, shape seed 7);
- sets the rule has to get right too: the same photographs cropped at 96 and 128 px,
  smaller silhouettes placed anywhere (radius ``--radius``), and MNIST-5k digits pasted
  at random places of a 64 px canvas;
- ``--fit-shapes``: the defaults fitted on the smaller silhouettes (``picture_weights``'
  protocol and cache, ``IGDDetector(random_state=draw)``), their image ROC AUC for
  ``g`` in 0, 0.25, 0.5, 1 rebuilt from the fit's parts.

    python benchmarks/global_weight_rule.py --fit-shapes disk,square --cache /tmp/gw

Writes ``benchmarks/results/global_weight_rule.md`` (``--out``) with the command, the
machine and the date.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sklearn_igd.datasets import load_mnist_5k, make_texture_defects

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from default_budget import SHAPES, TEXTURES, peers  # noqa: E402
from heatmap_reference import VALIDATION_PICTURES  # noqa: E402
from heldout_pictures import load_picture  # noqa: E402
from picture_weights import (  # noqa: E402
    SILHOUETTE_PARAMS,
    fit_set,
    image_score,
    rebuild,
    silhouette_set,
)

HERE = Path(__file__).resolve().parent
GLOBAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0)


def stationarity(X):
    """``S`` of images ``X`` (n, H, W) or (n, H, W, C) (channels averaged): the variance
    over the pixels of the per-pixel mean over the images, divided by the mean over the
    pixels of the per-pixel variance."""
    X = np.asarray(X, np.float64)
    if X.ndim == 4:
        X = X.mean(axis=-1)
    X = X.reshape(len(X), -1)
    return float(X.mean(axis=0).var() / max(X.var(axis=0).mean(), 1e-12))


def pasted_digits(digits, size, rng):
    """MNIST digits (n, 28, 28) pasted at uniform random places of black ``size`` px
    canvases."""
    out = np.zeros((len(digits), size, size), digits.dtype)
    for i, d in enumerate(digits):
        r, c = rng.randint(0, size - 28 + 1, 2)
        out[i, r : r + 28, c : c + 28] = d
    return out


def statistic_rows(args):
    """``[(group, set, S)]`` of the sets in the module docstring."""
    rows = []

    def add(group, name, X):
        rows.append((group, name, stationarity(X)))

    def crops(source, draw, size):
        data = make_texture_defects(source, n_train=100, n_test=4, size=size, random_state=draw)
        return data.images_train

    low, high = args.radius
    for draw in args.draws:
        for t in TEXTURES:
            add("textures (g = 0 won)", f"{t}-{draw}", crops(t, draw, 64))
    for draw in args.picture_draws:
        for p in args.pictures:
            add("photographs, 64 px (g = 0 won)", f"{p}-{draw}", crops(load_picture(p), draw, 64))
    for s in SHAPES:
        X = silhouette_set(s, args.shape_seed, **SILHOUETTE_PARAMS)[0]
        add("silhouettes, radius 0.2-0.35 (g = 1 won)", f"{s}-{args.shape_seed}", X)
    draw = args.picture_draws[0]
    for size in (96, 128):
        for p in args.pictures:
            add(f"photographs, {size} px", f"{p}-{draw}", crops(load_picture(p), draw, size))
    for s in SHAPES:
        X = silhouette_set(s, args.shape_seed, **SILHOUETTE_PARAMS, radius=(low, high))[0]
        add(f"silhouettes, radius {low}-{high}", f"{s}-{args.shape_seed}", X)
    X, y = load_mnist_5k(return_X_y=True)
    rng = np.random.RandomState(args.shape_seed)
    for digit in range(10):
        digits = X[y == digit][:200].reshape(-1, 28, 28)
        add("MNIST-5k digits pasted on 64 px", f"digit {digit}", pasted_digits(digits, 64, rng))
    return rows


def statistic_table(rows):
    groups = list(dict.fromkeys(g for g, _, _ in rows))
    lines = ["| training images | sets | S: min | S: max | S per set |", "|---|---|---|---|---|"]
    for g in groups:
        vals = [(n, v) for gg, n, v in rows if gg == g]
        each = ", ".join(f"{n} {v:.3f}" for n, v in vals)
        lo, hi = min(v for _, v in vals), max(v for _, v in vals)
        lines.append(f"| {g} | {len(vals)} | {lo:.4f} | {hi:.4f} | {each} |")
    return "\n".join(lines)


def fitted_table(args):
    """Image ROC AUC of the defaults fitted on the smaller silhouettes: for each ``g``, of
    the global part alone, and of the peers on the same images."""
    radius = tuple(args.radius)
    lines = [
        "| normal shape | S | "
        + " | ".join(f"g = {g}" for g in GLOBAL_WEIGHTS)
        + " | global part alone | IsolationForest | OneClassSVM | fit s |",
        "|---" * (len(GLOBAL_WEIGHTS) + 6) + "|",
    ]
    for s in args.fit_shapes:
        path = fit_set(s, args.shape_seed, args.cache, dict(radius=radius))
        d = dict(np.load(path))
        z, _ = rebuild(d, 1.0)
        X_train, X_test, anomalous, _ = silhouette_set(
            s, args.shape_seed, **SILHOUETTE_PARAMS, radius=radius
        )
        assert (anomalous == d["y"]).all(), "the cached fit is of other images"
        aucs = [roc_auc_score(d["y"], image_score(z, g)) for g in GLOBAL_WEIGHTS]
        aucs.append(roc_auc_score(d["y"], z[0]))
        aucs += peers(X_train, X_test, anomalous).values()
        cells = " | ".join(f"{a:.4f}" for a in aucs)
        lines.append(f"| {s} | {stationarity(X_train):.4f} | {cells} | {float(d['fit_s']):.0f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda t: [int(v) for v in t.split(",") if v]  # noqa: E731
    names = lambda t: [v for v in t.split(",") if v]  # noqa: E731
    parser.add_argument("--draws", type=ints, default=[1, 2], help="texture draws")
    parser.add_argument("--pictures", type=names, default=list(VALIDATION_PICTURES))
    parser.add_argument("--picture-draws", type=ints, default=[1, 2])
    parser.add_argument("--shape-seed", type=int, default=7)
    floats = lambda t: tuple(float(v) for v in t.split(","))  # noqa: E731
    parser.add_argument("--radius", type=floats, default=(0.1, 0.2),
                        help="the smaller silhouettes' radius: low,high")  # fmt: skip
    parser.add_argument("--fit-shapes", type=names, default=[])
    parser.add_argument("--cache", default="/tmp/igd_global_weight_rule")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "results" / "global_weight_rule.md"))
    args = parser.parse_args(argv)
    if {0, 3, 4, 5} & set(args.draws) or 0 in args.picture_draws or args.shape_seed in (0, 101):
        parser.error("expected validation draws (not 0, the tests' and demos' data; not "
                     "texture draws 3-5 nor shape seed 101, the held-out ones)")  # fmt: skip
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    text = statistic_table(statistic_rows(args))
    if args.fit_shapes:
        text += (
            "\n\nThe defaults fitted on the smaller silhouettes (radius "
            f"{args.radius[0]}-{args.radius[1]}, shape seed {args.shape_seed}, 200 training "
            "images, 300 test images, half of them the other three shapes), image ROC AUC "
            "of `g z_G + z_L`:\n\n" + fitted_table(args)
        )
    header = (
        f"\n## The stationarity statistic S of the training images\n\n{command_line()}\n"
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch thread(s), torch "
        f"{torch.__version__}; {time.strftime('%Y-%m-%d')}; {time.perf_counter() - t0:.0f} s "
        "(the fits' own seconds in their column).\n\n"
    )
    print(header + text)
    if args.out:
        append_section(args.out, "Can the training images choose global_score_weight?",
                       header + text)  # fmt: skip


if __name__ == "__main__":
    main()
