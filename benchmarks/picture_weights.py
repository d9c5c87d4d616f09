"""How much should the student and the global model weigh? (validation photographs and
validation texture draws; nothing here was used to report a result)

On the six held-out photographs (``heldout_pictures.md``) the student feature map (the
default since it raised every validation texture set) lowered the image AUROC, and the
local part of the image score alone ranked better than the combined score. Those six
are a test set, so this measures the same two questions on *other* data:

- validation photographs: scikit-image pictures that are neither the design textures nor
  the six held-out photographs (``--pictures``), painted as ``heldout_pictures.py``
  paints them (``make_texture_defects(photo, n_train=100, n_test=500, size=64,
  random_state=draw)``, grey);
- the validation texture draws the defaults were chosen on (``--textures``, ``--draws``;
  never the demo's draw 0 or the held-out draws 3-5);
- validation silhouettes (``--shapes``, ``--shape-seed``, not 0): ``default_budget.py``'s
  protocol (200 training images of one filled shape, 300 test images, half of them the
  three other shapes), where the whole image is the anomaly and there is no mask.

Each set is fitted once with ``IGDDetector(random_state=draw)`` (the defaults); the
script keeps the parts of its score and heatmap on the training and the test crops
(``score_parts(heatmap=True)``) and the two unscaled parts of the student feature map
(``feature_map_.parts``: the nearest-neighbour distance ``N`` and the student's error
``E``, smoothed as the detector smooths), and rebuilds the detector's score for each
variant exactly as ``_fit_thresholds`` and the scorer do:

- ``student`` weight ``b``: the feature map ``N / s_N + b E / s_E`` (``s``: the parts'
  training spreads, ``feature_map_.scales``; ``b = 1`` is the default, ``b = 0`` the
  nearest map), weighted to the models' spread over the training pixels
  (``feature_weight_``), added to the models' maps; the local score is the mean of the
  top 10% of that heatmap;
- ``global`` weight ``g``: ``s = g z_G + z_L`` with each part standardised on the
  training crops (``g = 1`` is the default, ``g = 0`` the local score alone;
  ``IGDDetector(global_score_weight=g)``); ``max``: ``max(z_G, z_L)``;
- feature-map weight ``m`` (with the default student ``b = 1``): the heatmap is the
  models' maps plus ``m`` times the weighted feature map (``m = 1`` is the default,
  ``m = 0`` the models' maps alone); ``"alone"``: the feature map alone, as heatmap and
  as the local score's source.

The default variant is rebuilt and compared with the detector's own score and heatmap
(the largest difference is printed; it must be at rounding level). Image ROC AUC and
pooled pixel ROC AUC per set; means over the photographs, the textures and the
silhouettes; and how far the default's standardised parts ``z_G``, ``z_L`` of the
normal test crops lie from the training crops' (0, 1).

    python benchmarks/picture_weights.py --picture-draws 1,2 --shapes ellipse,square \\
        --cache /tmp/pw --out benchmarks/results/picture_weights.md
    python benchmarks/picture_weights.py --cache /tmp/pw --analyse-only --out ...
"""

from __future__ import annotations

import argparse
import datetime
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd._detector import FEATURE_WEIGHT_IMAGES
from sklearn_igd._feature_map import local_features
from sklearn_igd._scoring import gaussian_kernel_1d, smooth_maps, top_fraction_mean
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from heldout_pictures import PICTURES, load_picture  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from default_budget import SHAPES, parse_config, silhouettes  # noqa: E402
from demo_textures import DATA_PARAMS, TEXTURE_PARAMS, TEXTURES  # noqa: E402

#: scikit-image photographs (no download, at least 128 px high) that are neither a design
#: texture nor one of the held-out photographs.
VALIDATION_PICTURES = ("coins", "coffee", "chelsea", "rocket", "clock", "retina")
STUDENT_WEIGHTS = (0.0, 0.5, 1.0, 2.0)
#: ``"max"``: ``s = max(z_G, z_L)`` instead of a weighted sum.
GLOBAL_WEIGHTS = (0.0, 0.25, 0.5, 1.0, "max")
#: ``"alone"``: the feature map without the models' maps.
FEATURE_WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, "alone")
#: silhouette sets as ``default_budget.py --data silhouettes`` draws them.
SILHOUETTE_PARAMS = dict(n_train=200, n_test=300, size=64)
assert not set(VALIDATION_PICTURES) & set(PICTURES + TEXTURES)


def feature_parts(det, X, batch=32):
    """The smoothed, unscaled ``(N, E)`` maps (n, H, W) float64 of the student feature
    map of ``det`` on images ``X`` (n, H, W) uint8."""
    fm = det.feature_map_.cpu().eval()
    kernel = gaussian_kernel_1d(det.heatmap_sigma_)
    x_all = torch.from_numpy(det._prepare(X))
    out = [[], []]
    with torch.no_grad():
        for i in range(0, len(x_all), batch):
            x = x_all[i : i + batch]
            for j, m in enumerate(fm.parts(x, local_features(fm.trunk, x))):
                out[j].append(smooth_maps(m.double(), kernel).numpy())
    return [np.concatenate(o) for o in out]


def collect(det, X):
    """The score and heatmap parts of ``det`` on ``X`` that the variants are built from."""
    p = det.score_parts(X, heatmap=True)
    n, e = feature_parts(det, X)
    return dict(
        score=p.score,
        heatmap=p.heatmap.astype(np.float32),
        global_score=p.global_score,
        models=(p.global_heatmap + p.local_heatmap).astype(np.float32),
        near=n.astype(np.float32),
        error=e.astype(np.float32),
        scales=det.feature_map_.scales.double().numpy(),
    )


def silhouette_set(normal, draw, n_train, n_test, size, radius=(0.2, 0.35)):
    """``(X_train, X_test, anomalous, masks)`` of ``default_budget.py``'s silhouette
    protocol (shape seed ``draw``; ``radius``: the shapes' (low, high) radius as a
    fraction of the side): no masks, the whole other shape is the anomaly."""
    rng = np.random.RandomState(draw)
    half = n_test // 2
    data = {
        s: (silhouettes(s, n_train, rng, size, radius), silhouettes(s, half, rng, size, radius))
        for s in SHAPES
    }
    others = [s for s in SHAPES if s != normal]
    per_other = half // len(others)
    X_test = np.concatenate([data[normal][1]] + [data[s][1][:per_other] for s in others])
    anomalous = np.r_[np.zeros(half, bool), np.ones(per_other * len(others), bool)]
    return data[normal][0], X_test, anomalous, np.zeros((0,), bool)


def fit_set(name, draw, cache, data_params=None, config=None):
    """Fit the defaults on one set and cache its parts (``cache/name-draw.npz``).

    ``data_params``: ``n_train``, ``n_test`` and ``size`` where they differ from the
    protocol's (``DATA_PARAMS``, ``SILHOUETTE_PARAMS``); ``config``: detector parameters
    beside the defaults (tiny runs only: the results use none)."""
    path = Path(cache) / f"{name}-{draw}.npz"
    if path.exists():
        return path
    data_params = data_params or {}
    if name in SHAPES:
        params = SILHOUETTE_PARAMS | data_params
        X_train, X_test, anomalous, masks = silhouette_set(name, draw, **params)
    else:
        source = name if name in TEXTURES else load_picture(name)
        data = make_texture_defects(source, random_state=draw, **(DATA_PARAMS | data_params))
        X_train, X_test = data.images_train, data.images_test
        anomalous, masks = data.y_test == -1, data.masks_test.astype(bool)
    t0 = time.perf_counter()
    params = TEXTURE_PARAMS | (config or {})
    det = IGDDetector(random_state=draw, **params).fit(X_train)
    fit_s = time.perf_counter() - t0
    tr, te = collect(det, X_train), collect(det, X_test)
    arrays = {f"train_{k}": v for k, v in tr.items()} | {f"test_{k}": v for k, v in te.items()}
    Path(cache).mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        y=anomalous,
        masks=masks,
        fit_s=fit_s,
        feature_weight=det.feature_weight_,
        **arrays,
    )
    print(f"{name} draw {draw}: fitted in {fit_s:.0f} s", flush=True)
    return path


def rebuild(d, b, m=1.0):
    """``(z, heatmap)``: the standardised parts ``(z_G, z_L)`` (2, n_test) and the heatmap
    (n_test, H, W) of the test crops for student weight ``b`` and feature-map weight
    ``m``, built as the detector builds its own (see the module docstring)."""
    s_n, s_e = d["train_scales"]

    def fmap(split):
        return d[f"{split}_near"].astype(np.float64) / s_n + b * d[f"{split}_error"] / s_e

    n_train = len(d["train_models"])
    idx = np.unique(np.linspace(0, n_train - 1, min(n_train, FEATURE_WEIGHT_IMAGES)).astype(int))
    weight = d["train_models"][idx].astype(np.float64).std() / fmap("train")[idx].std()
    parts = {}
    for split in ("train", "test"):
        if m == "alone":
            heat = fmap(split)
        else:
            heat = d[f"{split}_models"] + m * weight * fmap(split)
        local = top_fraction_mean(torch.from_numpy(heat)).numpy()
        parts[split] = (np.vstack([d[f"{split}_global_score"], local]), heat)
    center = parts["train"][0].mean(axis=1, keepdims=True)
    scale = parts["train"][0].std(axis=1, keepdims=True)
    return (parts["test"][0] - center) / scale, parts["test"][1]


def image_score(z, g):
    """The image score from the standardised parts ``z`` (2, n) for global weight ``g``."""
    return np.maximum(z[0], z[1]) if g == "max" else g * z[0] + z[1]


def analyse(paths):
    """Per set and variant: image and pooled pixel ROC AUC (the heatmap, which does not
    depend on ``g``, is rebuilt and scored once per ``b`` and ``m``); and the rebuild's
    check."""
    rows, worst, shift = {}, 0.0, {}
    for path in paths:
        d = dict(np.load(path))
        name = Path(path).stem
        has_masks = d["masks"].ndim == 3  # silhouettes have none
        z, heat = rebuild(d, 1.0)
        shift[name] = (z[:, ~d["y"]].mean(axis=1), z[:, ~d["y"]].std(axis=1))
        score = image_score(z, 1.0)
        worst = max(
            worst,
            np.abs(score - d["test_score"]).max() / np.abs(d["test_score"]).max(),
            np.abs(heat - d["test_heatmap"]).max() / np.abs(d["test_heatmap"]).max(),
        )
        for b in STUDENT_WEIGHTS:
            z, heat = rebuild(d, b)
            pixel = pixel_roc_auc(d["masks"], heat) if has_masks else np.nan
            for g in GLOBAL_WEIGHTS:
                rows[name, b, g] = (roc_auc_score(d["y"], image_score(z, g)), pixel)
        for m in FEATURE_WEIGHTS:
            z, heat = rebuild(d, 1.0, m)
            pixel = pixel_roc_auc(d["masks"], heat) if has_masks else np.nan
            for g in (1.0, 0.0):
                rows[name, "m", m, g] = (roc_auc_score(d["y"], image_score(z, g)), pixel)
    return rows, worst, shift


def groups_of(names, with_shapes=True):
    """``{group: [set names]}``: photographs, textures and (``with_shapes``) silhouettes,
    and the photographs and textures per draw where there is more than one draw."""
    kind = {n: n.rsplit("-", 1)[0] for n in names}
    draw = {n: n.rsplit("-", 1)[1] for n in names}
    groups = {}
    for label, test in (
        ("photographs", lambda n: kind[n] not in TEXTURES + SHAPES),
        ("textures", lambda n: kind[n] in TEXTURES),
        ("silhouettes", lambda n: kind[n] in SHAPES and with_shapes),
    ):
        members = [n for n in names if test(n)]
        if not members:
            continue
        groups[label] = members
        draws = sorted({draw[n] for n in members})
        if len(draws) > 1:
            for k in draws:
                groups[f"{label} {k}"] = [n for n in members if draw[n] == k]
    return groups


def markdown(title, names, metric, rows):
    """Markdown: ``rows`` ``[(label cells, {set: value})]``, one column per set (no
    silhouettes for the pixel metric, ``metric == 1``: they have no masks), then the mean
    of each group (and its minimum for the groups over all draws)."""
    if metric == 1:
        names = [n for n in names if n.rsplit("-", 1)[0] not in SHAPES]
    groups = groups_of(names, with_shapes=metric == 0)
    stat_names = [f"mean {k}" + ("" if " " in k else f" | min {k}") for k in groups]
    n_stats = sum(1 if " " in k else 2 for k in groups)
    n_labels = len(rows[0][0])
    lines = [f"{title}\n", "| " + " | ".join(list(LABELS[n_labels]) + names + stat_names) + " |"]
    lines.append("|---" * (n_labels + len(names) + n_stats) + "|")
    for labels, v in rows:
        stats = []
        for k, group in groups.items():
            stats.append(np.mean([v[n] for n in group]))
            if " " not in k:
                stats.append(np.min([v[n] for n in group]))
        lines.append(
            "| "
            + " | ".join(
                list(labels) + [f"{v[n]:.4f}" for n in names] + [f"{x:.4f}" for x in stats]
            )
            + " |"
        )
    return "\n".join(lines)


#: The label columns of :func:`markdown`'s tables, by their number.
LABELS = {1: ("feature weight m",), 2: ("student b", "global g")}


def table(rows, names, metric, title):
    """One row per student and global weight, one column per set, the group means."""
    lines = []
    for b in STUDENT_WEIGHTS:
        for g in GLOBAL_WEIGHTS:
            if metric == 1 and g != 1.0:
                continue  # the heatmap does not depend on g
            mark = " (default)" if (b, g) == (1.0, 1.0) else ""
            lines.append(((f"{b:g}{mark}", str(g)), {n: rows[n, b, g][metric] for n in names}))
    return markdown(title, names, metric, lines)


def feature_table(rows, names, metric, g, title):
    """One row per feature-map weight ``m`` (student ``b = 1``, global weight ``g``)."""
    lines = []
    for m in FEATURE_WEIGHTS:
        label = f"{m:g}" + (" (default)" if m == 1.0 else "") if m != "alone" else m
        lines.append(((label,), {n: rows[n, "m", m, g][metric] for n in names}))
    return markdown(title, names, metric, lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", default=",".join(VALIDATION_PICTURES))
    parser.add_argument("--textures", default=",".join(TEXTURES))
    parser.add_argument("--draws", default="1,2", help="texture draws (validation)")
    parser.add_argument("--picture-draws", default="1", help="photograph draws, e.g. 1,2")
    parser.add_argument("--shapes", default="", help="normal silhouettes, e.g. disk,square")
    parser.add_argument("--shape-seed", type=int, default=7, help="silhouette draw (not 0)")
    parser.add_argument("--n-train", type=int, default=None, help="default: the protocol's")
    parser.add_argument("--n-test", type=int, default=None, help="default: the protocol's")
    parser.add_argument("--size", type=int, default=None, help="default: 64")
    parser.add_argument("--config", default="", help="extra detector parameters (tiny runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", required=True, help="folder for the fitted parts (npz)")
    parser.add_argument("--analyse-only", action="store_true")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    draws = [int(k) for k in args.draws.split(",") if k]
    picture_draws = [int(k) for k in args.picture_draws.split(",") if k]
    if {0, 3, 4, 5} & set(draws) or 0 in picture_draws + [args.shape_seed]:
        parser.error(
            f"--draws {args.draws!r}, --picture-draws {args.picture_draws!r}, --shape-seed "
            f"{args.shape_seed}: expected validation draws (not 0, the tests' and demos' "
            "data; texture draws not 3-5 either, texture_draws.py's held-out draws)"
        )
    torch.set_num_threads(args.threads)
    sets = [(p, k) for k in picture_draws for p in args.pictures.split(",") if p]
    sets += [(t, k) for k in draws for t in args.textures.split(",") if t]
    sets += [(s, args.shape_seed) for s in args.shapes.split(",") if s]
    data_params = {
        k: v
        for k, v in dict(n_train=args.n_train, n_test=args.n_test, size=args.size).items()
        if v is not None
    }
    config = parse_config(args.config)
    t0 = time.perf_counter()
    if args.analyse_only:
        paths = [Path(args.cache) / f"{n}-{k}.npz" for n, k in sets]
    else:
        paths = [fit_set(n, k, args.cache, data_params, config) for n, k in sets]
    rows, worst, shift = analyse(paths)
    data = DATA_PARAMS | data_params
    names = [Path(p).stem for p in paths]
    fit_s = sum(float(np.load(p)["fit_s"]) for p in paths)
    text = "\n\n".join(
        [
            "# Student, global and feature-map weights on validation photographs and textures",
            f"Command: `python benchmarks/picture_weights.py {shlex.join(sys.argv[1:])}`  \n"
            f"Machine: {platform.machine()}, {torch.get_num_threads()} torch thread(s), torch "
            f"{torch.__version__}; {datetime.date.today().isoformat()}; fits {fit_s:.0f} s, "
            f"this run {time.perf_counter() - t0:.0f} s.  \n"
            f"Data: `make_texture_defects(source, n_train={data['n_train']}, "
            f"n_test={data['n_test']}, size={data['size']}, random_state=draw)`"
            "; sets named `source-draw`. `IGDDetector(random_state=draw)`, one fit per set; "
            "the variants are rebuilt from its parts (module docstring). The default "
            f"rebuilt differs from the detector's own output by at most {worst:.1e} "
            "(relative).",
            table(rows, names, 0, "Image ROC AUC:"),
            table(rows, names, 1, "Pooled pixel ROC AUC (does not depend on g):"),
            feature_table(rows, names, 1, 1.0, "Pooled pixel ROC AUC by feature-map weight m:"),
            feature_table(rows, names, 0, 1.0, "Image ROC AUC by feature-map weight m (g = 1):"),
            feature_table(rows, names, 0, 0.0, "Image ROC AUC by feature-map weight m (g = 0):"),
            "The default's standardised parts on the *normal* test crops, mean (standard "
            "deviation); 0 (1) on the training crops by construction:\n\n"
            "| part | "
            + " | ".join(names)
            + " |\n"
            + "|---" * (len(names) + 1)
            + "|\n"
            + "\n".join(
                f"| {part} | "
                + " | ".join(f"{shift[n][0][i]:.1f} ({shift[n][1][i]:.1f})" for n in names)
                + " |"
                for i, part in enumerate(("z_G", "z_L"))
            ),
        ]
    )
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
