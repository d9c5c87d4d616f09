"""Standardise the image score's two parts on held-back training images? (validation
photographs, texture draws and silhouettes; nothing here was used to report a result)

With the local model the image score is ``s = z_G + z_L``, each part standardised by its
mean and standard deviation over the *training* images (``score_center_``,
``score_scale_``). The models have seen those images: on the normal test crops of the
validation photographs ``z_G`` lies 5-34 training standard deviations out, ``z_L`` 3-19
(``picture_weights.md``), so the sum weighs each part by how much its model overfits the
training crops rather than by how well it ranks new ones. This script measures the
alternative: hold back a fraction of the training images (``--holdout``), fit the
defaults on the rest, and standardise on the held-back images, which the models have not
seen.

Per set (``picture_weights.py``'s data: ``source-draw`` names a validation photograph or
texture with its draw, ``shape-seed`` a silhouette set), one fit
``IGDDetector(random_state=draw)`` on the kept images and, with ``--full``, one on all the
training images (the default as it is). Image ROC AUC of:

- ``full``: the default fitted on all the training images (``--full``);
- ``train z``: the fit on the kept images, standardised on them (the default's rule);
- ``held-back z``: the same fit, standardised on the held-back images;
- ``z_G``, ``z_L``: each part alone (the same fit; standardising does not change them);
- ``train max``, ``held-back max``: the larger of the two standardised parts instead of
  their sum, standardised on the kept / the held-back images.

    python benchmarks/calibration_split.py --sets coins-1,coffee-1,grass-1,ellipse-7 \\
        --full --jobs 2 --out /tmp/calibration_split.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from picture_weights import SILHOUETTE_PARAMS, VALIDATION_PICTURES, silhouette_set  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from default_budget import SHAPES, parse_config  # noqa: E402
from demo_textures import DATA_PARAMS, TEXTURE_PARAMS, TEXTURES  # noqa: E402

#: the held-out photographs, texture draws and silhouette seed that results are reported on
TEST_DRAWS = {"textures": {0, 3, 4, 5}, "pictures": {0}, "shapes": {0}}


def load_set(name, draw, data_params=None):
    """``(X_train, X_test, anomalous)`` of one validation set; ``data_params``:
    ``n_train``, ``n_test`` and ``size`` where they differ from the protocol's."""
    data_params = data_params or {}
    if name in SHAPES:
        params = SILHOUETTE_PARAMS | data_params
        X_train, X_test, anomalous, _ = silhouette_set(name, draw, **params)
        return X_train, X_test, anomalous
    from heldout_pictures import load_picture

    from sklearn_igd.datasets import make_texture_defects

    source = name if name in TEXTURES else load_picture(name)
    data = make_texture_defects(source, random_state=draw, **(DATA_PARAMS | data_params))
    return data.images_train, data.images_test, data.y_test == -1


def parts(det, X):
    """``(s_G, s_L)`` (2, n): the two unstandardised parts of ``det``'s score on ``X``."""
    p = det.score_parts(X)
    return np.vstack([p.global_score, p.local_score])


def measure(name, draw, holdout, full, data_params=None, config=None):
    """The image ROC AUCs of one set (a dict); fits with one torch thread. ``config``:
    detector parameters beside the defaults (tiny runs only: the results use none)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _measure(name, draw, holdout, full, data_params, config)
    finally:
        torch.set_num_threads(threads)


def _measure(name, draw, holdout, full, data_params, config):
    from sklearn_igd import IGDDetector

    X_train, X_test, y = load_set(name, draw, data_params)
    params = TEXTURE_PARAMS | (config or {})
    rng = np.random.RandomState(draw + 4000)
    order = rng.permutation(len(X_train))
    n_cal = int(round(holdout * len(X_train)))
    cal, kept = order[:n_cal], order[n_cal:]
    t0 = time.perf_counter()
    det = IGDDetector(random_state=draw, **params).fit(X_train[kept])
    fit_s = time.perf_counter() - t0
    test, held = parts(det, X_test), parts(det, X_train[cal])
    z_train = (test - det.score_center_[:, None]) / det.score_scale_[:, None]
    center, scale = held.mean(axis=1), held.std(axis=1)
    z_held = (test - center[:, None]) / scale[:, None]
    normal = ~y
    row = dict(
        set=f"{name}-{draw}",
        n_kept=len(kept),
        n_held=n_cal,
        train_z=roc_auc_score(y, z_train.sum(0)),
        held_z=roc_auc_score(y, z_held.sum(0)),
        train_max=roc_auc_score(y, z_train.max(0)),
        held_max=roc_auc_score(y, z_held.max(0)),
        z_G=roc_auc_score(y, test[0]),
        z_L=roc_auc_score(y, test[1]),
        # the weight the held-back rule gives s_G relative to s_L, over the training rule's
        relative_weight=float((det.score_scale_[0] / scale[0]) / (det.score_scale_[1] / scale[1])),
        normal_z_train=z_train[:, normal].mean(axis=1).tolist(),
        normal_z_held=z_held[:, normal].mean(axis=1).tolist(),
        fit_s=fit_s,
    )
    if full:
        t0 = time.perf_counter()
        det_full = IGDDetector(random_state=draw, **params).fit(X_train)
        row["full_fit_s"] = time.perf_counter() - t0
        row["full"] = roc_auc_score(y, det_full.anomaly_score(X_test))
    return row


def parse_set(text):
    name, draw = text.rsplit("-", 1)
    draw = int(draw)
    kind = "shapes" if name in SHAPES else "textures" if name in TEXTURES else "pictures"
    if draw in TEST_DRAWS[kind]:
        raise SystemExit(f"{text!r}: draw {draw} is a test draw for {kind}; expected another")
    if kind == "pictures" and name not in VALIDATION_PICTURES:
        raise SystemExit(f"{text!r}: expected one of {VALIDATION_PICTURES}")
    return name, draw


def markdown(rows, argv, total_s, holdout):
    cols = ["full", "train_z", "held_z", "z_G", "z_L", "train_max", "held_max"]
    head = (
        "| set | "
        + " | ".join(cols)
        + " | held-back minus train z | weight of s_G | normal z_G, z_L (train z)"
        + " | normal z_G, z_L (held-back z) |"
    )
    lines = [head, "|---" * (len(cols) + 5) + "|"]
    for r in rows:
        cells = [f"{r[c]:.4f}" if c in r else "" for c in cols]  # older logs: no max
        lines.append(
            f"| {r['set']} | "
            + " | ".join(cells)
            + f" | {r['held_z'] - r['train_z']:+.4f} | x{r['relative_weight']:.2f} | "
            + ", ".join(f"{v:.1f}" for v in r["normal_z_train"])
            + " | "
            + ", ".join(f"{v:.1f}" for v in r["normal_z_held"])
            + " |"
        )
    mean = {c: np.mean([r[c] for r in rows]) for c in cols if all(c in r for r in rows)}
    lines.append(
        "| **mean** | "
        + " | ".join(f"**{mean[c]:.4f}**" if c in mean else "" for c in cols)
        + f" | {mean['held_z'] - mean['train_z']:+.4f} | | | |"
    )
    import torch

    return "\n\n".join(
        [
            "# Standardising the image score on held-back training images (validation)",
            f"Command: `python benchmarks/calibration_split.py {shlex.join(argv)}`  \n"
            f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch "
            f"{torch.__version__}, one torch thread per fit; "
            f"{datetime.date.today().isoformat()}; total {total_s:.0f} s.  \n"
            f"Held back: {holdout:.0%} of the training images (seeded per set). Image ROC "
            "AUC; 'weight of s_G': how much more the held-back rule weighs the global "
            "part than the training rule does.",
            "\n".join(lines),
        ]
    )


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", required=True, help="e.g. coins-1,grass-1,ellipse-7")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--full", action="store_true", help="also fit on all the images")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--n-train", type=int, default=None, help="default: the protocol's")
    parser.add_argument("--n-test", type=int, default=None, help="default: the protocol's")
    parser.add_argument("--size", type=int, default=None, help="default: 64")
    parser.add_argument("--config", default="", help="extra detector parameters (tiny runs)")
    parser.add_argument("--log", default=None, help="JSON lines, one per set")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if not 0 < args.holdout < 1:
        parser.error(f"--holdout {args.holdout}: expected a fraction in (0, 1)")
    sets = [parse_set(s) for s in args.sets.split(",") if s]
    data_params = {
        k: v
        for k, v in dict(n_train=args.n_train, n_test=args.n_test, size=args.size).items()
        if v is not None
    }
    config = parse_config(args.config)
    t0 = time.perf_counter()
    rows = Parallel(n_jobs=args.jobs)(
        delayed(measure)(n, d, args.holdout, args.full, data_params, config) for n, d in sets
    )
    if args.log:
        with open(args.log, "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    text = markdown(rows, argv, time.perf_counter() - t0, args.holdout)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
