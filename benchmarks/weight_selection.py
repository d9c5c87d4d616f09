"""Choosing ``global_score_weight`` on a few labelled validation images: how many are needed.

With the local model, ``IGDDetector``'s image score is ``w * z_G + z_L`` (the standardised
global and local parts). The default ``w = 1`` is a compromise between local defects, which
the local part ranks better alone (``w = 0``), and whole images of another kind, which only
the global part sees (``picture_weights.md``, ``global_weight_rule.md``). No rule on the
normal training images has told the two apart, so the package offers
:func:`sklearn_igd.thresholds.select_global_score_weight`: pick the weight on labelled
validation images. This script measures what that gives on test images it did not see.

For each set, ``IGDDetector(random_state=0)`` is fitted once on the training images; its
two standardised parts are computed for a labelled validation pool (another draw of the
same kind of data) and for the test images. Then, ``--repeats`` times for each ``k`` of
``--ks``, ``k`` normal and ``k`` anomalous images are drawn from the pool, the weight is
chosen on them (the package's :func:`~sklearn_igd.thresholds.best_global_score_weight`,
candidates ``GLOBAL_SCORE_WEIGHTS``) and the test ROC AUC of the chosen weight recorded.
Reported beside it: the default (``w = 1``), the local part alone (``w = 0``) and the
best candidate on the test images themselves (an upper bound no user has).

Sets (``--sets``, comma-separated ``kind:name:draw``):

- ``tex64:<texture>:<draw>`` / ``tex128:<texture>:<draw>``: ``make_texture_defects(texture,
  n_train=100, n_test=500, size=64 or 128, random_state=draw)``; the pool is the 300 test
  crops of ``random_state=draw + 1000`` (the same bottom half of the photograph, other
  positions and defects);
- ``pic:<photograph>:<draw>``: the same on one of ``heldout_pictures.py``'s photographs
  (64 px, ``split="tiles"``: training and test crops from alternate 128 px squares);
- ``sil:<shape>:<seed>``: 200 training silhouettes of ``shape`` (``image_score.py``'s
  ``silhouette_data``, ``RandomState(seed)``), 150 held-back normal ones and 50 of each
  other shape;
  the pool is the same kind of test set drawn with ``seed + 1000``.

    python benchmarks/weight_selection.py --cache /tmp/ws --jobs 2

Appends a section to ``benchmarks/results/weight_selection.md`` (``--out``).
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
from sklearn_igd.thresholds import (
    GLOBAL_SCORE_WEIGHTS,
    best_global_score_weight,
    standardised_score_parts,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from heldout_pictures import load_picture  # noqa: E402
from image_score import silhouette_data  # noqa: E402  (the silhouette protocol)

HERE = Path(__file__).resolve().parent
DEFAULT_SETS = (
    "tex128:brick:3,tex128:grass:3,tex128:gravel:3,"
    "tex64:brick:3,tex64:grass:3,tex64:gravel:3,"
    "sil:square:101,sil:ellipse:101,"
    "pic:immunohistochemistry:3,pic:moon:3,pic:camera:3,pic:cell:3"
)
POOL_OFFSET = 1000  # the validation pool's draw: draw + POOL_OFFSET


def painted_sets(source, draw, **kwargs):
    """``(X_train, X_pool, pool_anomalous, X_test, test_anomalous)`` of
    ``make_texture_defects(source, n_train=100, **kwargs)``: the test set of ``draw``
    (500 crops) and the pool of ``draw + POOL_OFFSET`` (300)."""
    test = make_texture_defects(source, n_train=100, n_test=500, random_state=draw, **kwargs)
    pool = make_texture_defects(
        source, n_train=100, n_test=300, random_state=draw + POOL_OFFSET, **kwargs
    )
    return (
        test.images_train,
        pool.images_test,
        pool.y_test == -1,
        test.images_test,
        test.y_test == -1,
    )


def set_data(spec):
    """``(X_train, X_pool, pool_anomalous, X_test, test_anomalous)`` of one set spec."""
    kind, name, draw = spec.split(":")
    draw = int(draw)
    if draw == 0 or draw in (1, 2) and kind != "sil":
        raise ValueError(f"{spec}: draw 0 is the demo's and 1, 2 the validation draws")
    if kind in ("tex64", "tex128"):
        return painted_sets(name, draw, size=int(kind[3:]))
    if kind == "pic":
        return painted_sets(load_picture(name), draw, size=64, split="tiles")
    if kind == "sil":
        X_train, X_test, anomalous = silhouette_data(draw, name, 200, 150, 64)
        _, X_pool, pool_anomalous = silhouette_data(draw + POOL_OFFSET, name, 200, 150, 64)
        return X_train, X_pool, pool_anomalous, X_test, anomalous
    raise ValueError(f"{spec}: expected tex64:, tex128:, pic: or sil: sets")


def fit_set(spec, cache, threads):
    """The stored ``{pool_zg, pool_zl, pool_y, test_zg, test_zl, test_y, fit_s}`` of one set,
    fitted and scored first when ``cache`` lacks them."""
    path = Path(cache) / (spec.replace(":", "_") + ".npz")
    if not path.exists():
        torch.set_num_threads(threads)
        X_train, X_pool, pool_y, X_test, test_y = set_data(spec)
        start = time.perf_counter()
        det = IGDDetector(random_state=0).fit(X_train)
        fit_s = time.perf_counter() - start
        out = {"fit_s": fit_s, "pool_y": pool_y, "test_y": test_y}
        for prefix, X in (("pool", X_pool), ("test", X_test)):
            zg, zl = standardised_score_parts(det, X)
            out[f"{prefix}_zg"], out[f"{prefix}_zl"] = zg, zl
        # the parts rebuild the detector's own score
        np.testing.assert_allclose(out["test_zg"] + out["test_zl"], det.anomaly_score(X_test))
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **out)
    with np.load(path) as stored:
        return dict(stored)


def auc_of(p, prefix, w):
    return roc_auc_score(p[f"{prefix}_y"], w * p[f"{prefix}_zg"] + p[f"{prefix}_zl"])


def selection(p, k, repeats, seed):
    """Test ROC AUCs (repeats,) of the weight chosen on ``k`` + ``k`` pool images, and the
    chosen weights."""
    rng = np.random.RandomState(seed)
    normal, anomalous = np.flatnonzero(~p["pool_y"]), np.flatnonzero(p["pool_y"])
    weights = list(GLOBAL_SCORE_WEIGHTS)
    test = {w: auc_of(p, "test", w) for w in weights}
    aucs, chosen = [], []
    for _ in range(repeats):
        idx = np.r_[rng.choice(normal, k, replace=False), rng.choice(anomalous, k, replace=False)]
        w, _ = best_global_score_weight(
            p["pool_zg"][idx], p["pool_zl"][idx], p["pool_y"][idx], weights
        )
        aucs.append(test[w])
        chosen.append(w)
    return np.array(aucs), np.array(chosen)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=DEFAULT_SETS)
    parser.add_argument("--ks", default="5,10,25,50", help="labelled images of each class")
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2, help="fits side by side")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fit")
    parser.add_argument("--cache", required=True, help="folder for the fitted parts (npz)")
    parser.add_argument("--out", default=str(HERE / "results" / "weight_selection.md"))
    args = parser.parse_args(argv)
    specs = [s for s in args.sets.split(",") if s]
    ks = [int(k) for k in args.ks.split(",")]
    start = time.perf_counter()
    parts = Parallel(n_jobs=args.jobs)(
        delayed(fit_set)(s, args.cache, args.threads) for s in specs
    )
    seconds = time.perf_counter() - start
    head = ["set", "w = 1 (default)", "w = 0", "best on test"] + [f"chosen, k = {k}" for k in ks]
    lines = [
        "",
        "## Choosing the weight on k normal + k anomalous validation images "
        f"({time.strftime('%Y-%m-%d')})",
        "",
        command_line(argv and ["benchmarks/weight_selection.py", *argv]),
        f"Machine: {platform.machine()}, {args.threads} torch thread(s) per fit, {args.jobs} "
        f"fits side by side, torch {torch.__version__}; {seconds:.0f} s in all.  ",
        f"Candidates {list(GLOBAL_SCORE_WEIGHTS)}; {args.repeats} draws of the labelled "
        "images per k. Test ROC AUC: the chosen weight's mean over the draws [5th "
        "percentile].",
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
    ]
    chosen_lines = [
        "",
        "How often each weight was chosen (share of the draws, per k):",
        "",
        "| set | k | " + " | ".join(f"w = {w:g}" for w in GLOBAL_SCORE_WEIGHTS) + " |",
        "|---" * (2 + len(GLOBAL_SCORE_WEIGHTS)) + "|",
    ]
    summary = {c: [] for c in head[1:]}
    for spec, p in zip(specs, parts):
        test = {w: auc_of(p, "test", w) for w in GLOBAL_SCORE_WEIGHTS}
        row = [test[1.0], test[0.0], max(test.values())]
        cells = [f"{x:.4f}" for x in row]
        for c, x in zip(head[1:4], row):
            summary[c].append(x)
        for k, c in zip(ks, head[4:]):
            aucs, chosen = selection(p, k, args.repeats, seed=k)
            cells.append(f"{aucs.mean():.4f} [{np.percentile(aucs, 5):.4f}]")
            summary[c].append(aucs.mean())
            shares = " | ".join(f"{np.mean(chosen == w):.2f}" for w in GLOBAL_SCORE_WEIGHTS)
            chosen_lines.append(f"| {spec} | {k} | {shares} |")
        lines.append(f"| {spec} (fit {float(p['fit_s']):.0f} s) | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines.append(
        "| **mean** | " + " | ".join(f"**{np.mean(v):.4f}**" for v in summary.values()) + " |"
    )
    out = append_section(
        args.out,
        "Choosing global_score_weight on labelled validation images",
        "\n".join(lines + chosen_lines) + "\n",
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
