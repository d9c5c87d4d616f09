"""Image ROC AUC of candidate image scores from the same fitted models (validation data).

Fits ``IGDDetector(random_state=0)`` (or ``--config``) on validation data of 64 px
images, where the local model and the feature map are on:

- the normal crops of ``make_texture_defects`` (brick, grass, gravel) of validation draws
  (``random_state`` 1, 2, ...; never the tests' and demos' 0);
- silhouettes (``default_budget.silhouettes``): one shape normal, held-back images of it
  and of the three other shapes in equal parts, for each ``seed:shape`` pair.

From each fit's parts on the training and the test images (``score_parts(heatmap=True)``)
it ranks the test images by candidate image scores, every part standardised by its mean
and standard deviation over the training images (``z``):

- ``global``: ``s_G = l_r + l_h`` alone;
- ``z(G) + z(local map + feature map max)``: the local score ``local_score="heatmap_max"``;
- ``heatmap top q``: the mean of the highest share ``q`` of the pixels of the whole
  heatmap (``predict_heatmap``) alone (q = 0: the maximum);
- ``a z(G) + z(heatmap top q)``: with weight ``a`` on the global part;
  ``local_score="heatmap_top"`` is ``a = 1``, ``q = HEATMAP_TOP_FRACTION``.

For the textures it also gives, for the two local scores, the paired bootstrap interval
(1,000 resamples of the test crops) of the difference to IsolationForest and OneClassSVM
on raw pixels / 255.

    python benchmarks/image_score.py --draws 1,2 \
        --silhouettes 7:disk,7:triangle,11:square,11:ellipse

Each fit's parts are kept in ``--parts`` (``parts_<texture>_<draw>.npz``,
``sil_<shape>_<seed>.npz``) and reused when present, so that the analysis can be rerun
without refitting. Writes ``benchmarks/results/image_score.md`` (``--out``) with the
command, the machine and the date.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd._config import shared_seed
from sklearn_igd._feature_map import (
    FEATURE_MAP_BLOCK,
    FEATURE_MAP_DEFAULT_METHOD,
    FEATURE_MAP_METHODS,
    FEATURE_MAP_MIN_SIDE,
)
from sklearn_igd._scoring import HEATMAP_TOP_FRACTION, top_fraction_mean
from sklearn_igd.datasets import make_texture_defects

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from default_budget import SHAPES, TEXTURES, parse_config, silhouettes  # noqa: E402
from demo_textures import auc_difference_ci, peer_scores  # noqa: E402

HERE = Path(__file__).resolve().parent
#: The feature map's trunk (``block:min_side``) of the fits, kept with their parts.
FEATURE_TRUNK = f"{FEATURE_MAP_BLOCK}:{FEATURE_MAP_MIN_SIDE}"
#: The detector's default feature-map method (``feature_map="auto"``'s).
FEATURE_METHOD = FEATURE_MAP_DEFAULT_METHOD
PART_KEYS = ("global_score", "global_heatmap", "local_heatmap", "feature_heatmap", "heatmap")
TOPS = (0.0, 0.01, 0.05, 0.1, 0.2)
GLOBAL_WEIGHTS = (1.0, 0.5, 0.25)
#: The two local scores compared with the peers: ``"heatmap_max"`` and ``"heatmap_top"``.
BEFORE = "z(G) + z(local map + feature map max)"
DEFAULT = f"1.0 z(G) + z(heatmap top {HEATMAP_TOP_FRACTION})"


class ValidationSet(NamedTuple):
    """One validation set: its images (uint8), which test images are anomalous, the test
    images' pixel masks and defect types (textures; None for silhouettes), the fit's parts
    (:func:`fit_parts`) and the peers' test scores (textures; None for silhouettes)."""

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    anomalous: np.ndarray
    masks: np.ndarray | None
    types: np.ndarray | None
    parts: dict
    peers: dict | None


def feature_map_kwargs(config):
    """The seed and the batch size the detector of ``config`` (``random_state=0`` unless
    set) fits its feature map with (``IGDDetector.fit``), so that a rebuilt feature map is
    the detector's: the trunk's float rounding depends on the batch, and the bank's greedy
    selection on that rounding where locations nearly tie."""
    return {
        "seed": shared_seed(config.get("random_state", 0)) + 3,
        "batch_size": int(config.get("batch_size", IGDDetector().batch_size)),
    }


def config_method(config):
    """The feature-map method a detector of ``config`` fits (its ``feature_map`` when that
    names a method, else the package's default)."""
    method = config.get("feature_map", "auto")
    return method if method in FEATURE_MAP_METHODS else FEATURE_METHOD


def fitted_method(parts):
    """The feature-map method ``parts`` were fitted with (parts stored before it was
    recorded had the Gaussian)."""
    return str(parts.get("feature_method", "gaussian"))


def fit_parts(config, X_train, X_test):
    """``{"tr_<part>": ..., "te_<part>": ..., "fit_s": ..., "feature_trunk": ...}`` of one
    fitted detector."""
    start = time.perf_counter()
    det = IGDDetector(random_state=0, **config).fit(X_train)
    out = {
        "fit_s": time.perf_counter() - start,
        "feature_trunk": np.array(FEATURE_TRUNK),
        "feature_method": np.array(getattr(det.feature_map_, "method", "none")),
    }
    for prefix, X in (("tr", X_train), ("te", X_test)):
        parts = det.score_parts(X, heatmap=True)
        for key in PART_KEYS:
            if parts[key] is not None:
                out[f"{prefix}_{key}"] = np.asarray(parts[key], np.float32)
    return out


def cached(path, make, *args):
    """The arrays stored at ``path``, or ``make(*args)``'s, stored there first."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **make(*args))
    with np.load(path) as stored:
        return dict(stored)


def top(maps, q):
    """The detector's ``top_fraction_mean`` of float64 maps (n, H, W) as an ndarray: the
    mean of the ``max(1, round(q * H * W))`` highest pixels of each map."""
    return top_fraction_mean(torch.from_numpy(np.asarray(maps, np.float64)), q).numpy()


def candidates(p):
    """``{name: test scores}`` of the candidate image scores of one fit's parts."""

    def z(train, test):
        return (test - train.mean()) / train.std()

    z_g = z(p["tr_global_score"], p["te_global_score"])
    out = {"global": z_g}
    if "tr_feature_heatmap" in p:
        local = {s: p[f"{s}_local_heatmap"] + p[f"{s}_feature_heatmap"] for s in ("tr", "te")}
    else:
        local = {s: p[f"{s}_local_heatmap"] for s in ("tr", "te")}
    out[BEFORE] = z_g + z(top(local["tr"], 0), top(local["te"], 0))
    for q in TOPS:
        z_top = z(top(p["tr_heatmap"], q), top(p["te_heatmap"], q))
        out[f"heatmap top {q}"] = z_top
        for a in GLOBAL_WEIGHTS:
            out[f"{a} z(G) + z(heatmap top {q})"] = a * z_g + z_top
    return out


def texture_sets(args, config=None):
    """One :class:`ValidationSet` per texture and draw, with the peers' test scores; with
    ``config`` None nothing is fitted (``parts`` and ``peers`` None)."""
    for draw in args.draws:
        for texture in args.textures:
            data = make_texture_defects(
                texture,
                n_train=args.n_train,
                n_test=args.n_test,
                size=args.size,
                random_state=draw,
            )
            X_train, X_test = data.images_train, data.images_test
            parts = peers = None
            if config is not None:
                path = Path(args.parts) / f"parts_{texture}_{draw}.npz"
                parts = cached(path, fit_parts, config, X_train, X_test)
                peers = peer_scores(X_train, X_test)
            name = f"{texture} {draw}"
            yield ValidationSet(
                name,
                X_train,
                X_test,
                data.y_test == -1,
                data.masks_test,
                np.asarray(data.defect_type),
                parts,
                peers,
            )


def silhouette_sets(args, config):
    """One :class:`ValidationSet` per ``seed:shape`` (no masks, no peers):
    ``--sil-train`` training images, ``--sil-test`` held-back normal ones and a third as
    many of each other shape (200, 150 and 50: ``default_budget.py``'s images)."""
    for seed, normal in args.silhouettes:
        X_train, X_test, anomalous = silhouette_data(
            seed, normal, args.sil_train, args.sil_test, args.size
        )
        path = Path(args.parts) / f"sil_{normal}_{seed}.npz"
        parts = cached(path, fit_parts, config, X_train, X_test)
        yield ValidationSet(
            f"{normal} {seed}", X_train, X_test, anomalous, None, None, parts, None
        )


def silhouette_data(seed, normal, n_train, n_test, size):
    """``(X_train, X_test, anomalous)`` of :func:`silhouette_sets`' set ``seed:normal``."""
    rng = np.random.RandomState(seed)
    data = {
        s: (silhouettes(s, n_train, rng, size), silhouettes(s, n_test, rng, size)) for s in SHAPES
    }
    others = [s for s in SHAPES if s != normal]
    X_test = np.concatenate([data[normal][1]] + [data[s][1][: n_test // 3] for s in others])
    anomalous = np.r_[np.zeros(n_test, bool), np.ones(3 * (n_test // 3), bool)]
    return data[normal][0], X_test, anomalous


def add_data_arguments(parser):
    """The validation data's and the fits' command-line options (shared with
    ``feature_trunk.py``, which scores the same fits)."""
    parser.add_argument("--draws", default="1,2", help="texture draws (not 0); '' for none")
    parser.add_argument(
        "--silhouettes",
        default="7:disk,7:triangle,11:square,11:ellipse",
        help="seed:shape pairs (seed not 0); '' for none",
    )
    parser.add_argument("--textures", default=",".join(TEXTURES), help="comma-separated")
    parser.add_argument("--n-train", type=int, default=100, help="texture training crops")
    parser.add_argument("--n-test", type=int, default=300, help="texture test crops")
    parser.add_argument("--sil-train", type=int, default=200, help="silhouette training images")
    parser.add_argument("--sil-test", type=int, default=150, help="held-back normal silhouettes")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--config", default="", help="IGDDetector keywords, e.g. max_epochs=1")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--parts", default="/tmp/igd_image_score", help="fits' parts cache")


def parse_data_arguments(parser, argv):
    """``parser``'s arguments with ``draws`` and ``silhouettes`` parsed (draw 0 and seed 0
    refused) and the torch threads set."""
    args = parser.parse_args(argv)
    args.draws = [int(d) for d in args.draws.split(",") if d]
    args.textures = [t for t in args.textures.split(",") if t]
    args.silhouettes = [
        (int(p.split(":")[0]), p.split(":")[1]) for p in args.silhouettes.split(",") if p
    ]
    if 0 in args.draws or any(seed == 0 for seed, _ in args.silhouettes):
        parser.error("draw 0 is the tests' and demos' data; choose on other draws")
    torch.set_num_threads(args.threads)
    return args


def data_description(args):
    """The data's sentence of a results section."""
    textures = f"Textures: {args.n_train} training and {args.n_test} test crops of {args.size} px"
    if not args.silhouettes:
        return textures + "."
    return (
        f"{textures}; silhouettes: {args.sil_train} training images, {args.sil_test} held-back "
        f"normal ones and {args.sil_test // 3} of each other shape."
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--out", default=str(HERE / "results" / "image_score.md"))
    args = parse_data_arguments(parser, argv)
    config = parse_config(args.config)

    columns, aucs, intervals, fits = [], {}, [], []
    for sets in (texture_sets, silhouette_sets):
        for v in sets(args, config):
            name, y, parts, peers = v.name, v.anomalous, v.parts, v.peers
            columns.append(name)
            fits.append(float(parts.get("fit_s", np.nan)))  # nan: not recorded
            cands = candidates(parts)
            for cand, s in cands.items():
                aucs.setdefault(cand, []).append(roc_auc_score(y, s))
            if peers is not None:
                for cand in (BEFORE, DEFAULT):
                    cells = [cand]
                    for s in peers.values():
                        d = roc_auc_score(y, cands[cand]) - roc_auc_score(y, s)
                        lo, hi = auc_difference_ci(y, cands[cand], s)
                        cells.append(f"{roc_auc_score(y, s):.4f}: {d:+.3f} [{lo:+.3f}, {hi:+.3f}]")
                    intervals.append((name, cells))
            print(name, f"fit {fits[-1]:.0f} s", flush=True)

    lines = [
        "",
        f"## Candidate image scores: `IGDDetector(random_state=0"
        f"{', ' + args.config if args.config else ''})`",
        "",
        command_line(),
        f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}. Fits of {np.nanmin(fits):.0f}-{np.nanmax(fits):.0f} s.  ",
        data_description(args) + " Image ROC AUC, anomalies positive.",
        "",
        "| image score | " + " | ".join(columns) + " | mean | min |",
        "|---" * (len(columns) + 3) + "|",
    ]
    for cand, values in aucs.items():
        cells = " | ".join(f"{v:.4f}" for v in values)
        lines.append(f"| {cand} | {cells} | {np.mean(values):.4f} | {np.min(values):.4f} |")
    if intervals:
        lines += [
            "",
            "Textures: the peers' image AUROC and the difference of the two local scores' "
            "to it, with a paired bootstrap 95% interval over the test crops:",
            "",
            "| data | image score | IsolationForest | OneClassSVM |",
            "|---|---|---|---|",
        ]
        lines += [f"| {name} | " + " | ".join(cells) + " |" for name, cells in intervals]
    append_section(args.out, "Candidate image scores (validation data)", "\n".join(lines))


if __name__ == "__main__":
    main()
