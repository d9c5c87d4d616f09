"""How the feature map is made and combined with the models' maps: alternatives compared on
the same fitted models (validation data).

Reuses ``image_score.py``'s fits of ``IGDDetector(random_state=0)`` (or ``--config``) and
their stored parts (``--parts``; fitted first when missing) on the texture crops of
validation draws and on silhouettes. The models' maps (global ``G`` + local ``L``) do not
depend on the feature map, so each variant rebuilds only the feature map ``F`` from the
detector's own trunk (``fit_feature_map``) and adds it to the models' maps as the detector
does, with one thing changed:

- ``current``: the detector's heatmap, ``G + L + w F`` with ``F`` the package's feature
  map of the method the detector was fitted with (the default, ``student``, unless
  ``--config`` sets ``feature_map``; seeded and batched as the detector does) and ``w``
  the standard deviation of ``G + L`` over the training pixels divided by that of ``F``
  (``feature_weight_``); checked against the stored heatmap when the parts record the
  package's trunk;
- ``method=M``: ``F`` the package's feature map of method ``M`` (``nearest``,
  ``gaussian`` or ``student``), weighted as ``current``;
- ``bank=N``: ``F`` the package's nearest-neighbour map with a bank of ``N`` vectors;
- ``weight=K``: ``w`` times ``K`` (``weight=0``: the models' maps alone);
- ``sigma=S``: ``F`` smoothed with a Gaussian of ``S`` pixels instead of the models' sigma;
- ``global=K`` / ``local=K``: ``G`` / ``L`` times ``K`` (``w`` from the weighted sum);
The other variants change ``current``'s combination, or compute ``F`` by their own code
from the trunk's features:

- ``knn=N``: ``F`` the squared distance of each location's whitened feature vector to the
  nearest of ``N`` training locations chosen by greedy k-centre selection (PatchCore's
  coreset, on a 16-d random projection); the training images' maps come from a bank of
  the other half of the training images, so that no location meets itself;
- ``knnin=N``: the same, but the training images' maps from the same bank as the test
  images' (as a detector that scores its training images would compute them);
- ``knear=K``: the mean squared distance to the ``K`` nearest vectors of the package's
  bank instead of the nearest one's;
- ``gmm=K``: ``F`` the negative log-likelihood (times 2) under a ``K``-component Gaussian
  mixture (scikit-learn, full covariances, the ridge as ``reg_covar``) fitted on at most
  40,000 training locations;
- ``student=N``: ``F`` the package's ``"student"`` map (``fit_feature_map(method=
  "student")``) with its student trained for ``N`` steps (``method=student``: the
  package's default steps);
- ``flipbank=K``: the package's ``"student"`` map (the same student) with its bank chosen
  among the locations of the training images and of their ``K - 1`` other mirror images
  and rotations (``K`` = 4: the three flips; 8: also the transposed image and its
  flips), the maps' scales measured again;
- ``tta=K``: the package's ``"student"`` map (the same fit) of each image averaged with
  those of its ``K - 1`` other mirror images (``K`` = 2: the horizontal flip; 4: the
  three flips), each flipped back (test-time augmentation, training and test images
  alike);
- ``intensity``: ``F``'s Gaussian also over the local mean and standard deviation of the
  image's intensity (over 7x7 cells of the feature grid), for stains and colour changes;
- ``lowfreq=K``: ``F / sd(F) + K I / sd(I)`` in place of ``F``, with ``I`` the squared
  z-score of each pixel of the image smoothed as the models' maps are (by the mean and
  standard deviation of the smoothed training pixels) and ``sd`` over the training
  pixels: a brightness change the size of a stain, added to the package's map.

Reports pooled pixel ROC AUC of the heatmap and of ``F`` alone and each defect type's pixel
ROC AUC of the heatmap (that type's test images and the defect-free ones) on textures, and
the image ROC AUC of the default image score, ``z(s_G) + z(top 10% of the heatmap)``, on
textures and silhouettes.

    python benchmarks/feature_variants.py --parts /tmp/igd_image_score

Appends a section to ``benchmarks/results/feature_variants.md`` (``--out``) with the
command, the machine and the date.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture
from torch.nn import functional as F

from sklearn_igd._feature_map import (
    FEATURE_MAP_METHODS,
    FEATURE_MAP_POOL,
    FEATURE_MAP_RIDGE,
    FeatureNearestMap,
    FeatureStudentMap,
    fit_feature_map,
    local_features,
    scale_student_map,
)
from sklearn_igd._feature_map import greedy_coreset as package_coreset
from sklearn_igd._scoring import (
    HEATMAP_TOP_FRACTION,
    auto_heatmap_sigma,
    gaussian_kernel_1d,
    smooth_maps,
)
from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from feature_trunk import detector_input, in_batches, table  # noqa: E402  (the same input)
from image_score import (  # noqa: E402  (the same data, fits and image score)
    FEATURE_METHOD,
    FEATURE_TRUNK,
    add_data_arguments,
    data_description,
    feature_map_kwargs,
    fitted_method,
    parse_config,
    parse_data_arguments,
    silhouette_sets,
    texture_sets,
    top,
)

HERE = Path(__file__).resolve().parent
TOP = HEATMAP_TOP_FRACTION
DEFAULT_VARIANTS = (
    "current,weight=1.5,weight=2,sigma=2,sigma=6,global=0.5,local=0.5,knn=4000,gmm=4,intensity"
)
#: The columns of a row that are not defect types.
COLUMNS = ("pixel", "pixel F", "image")
#: Training locations a mixture is fitted on, at most.
GMM_LOCATIONS = 40_000
#: The side, in cells of the feature grid, of the intensity statistics' window.
INTENSITY_WINDOW = 7


#: What each variant's name before ``=`` changes: the combination, or the feature map.
COMBINATIONS = ("current", "weight", "sigma", "global", "local", "lowfreq")
METHODS = (
    "method", "bank", "knear", "knn", "knnin", "gmm", "intensity", "student", "flipbank",
    "tta",
)  # fmt: skip
#: The images' transforms of ``flipbank=K``: the first ``K`` of these (flip dims, transpose).
BANK_TRANSFORMS = (
    ((), False), ((-1,), False), ((-2,), False), ((-1, -2), False),
    ((), True), ((-1,), True), ((-2,), True), ((-1, -2), True),
)  # fmt: skip


def check_variant(variant):
    """``variant`` itself, or a ValueError naming it and the known kinds."""
    kind, sep, value = variant.partition("=")
    numeric = kind not in ("current", "intensity", "method")
    try:
        known = kind in COMBINATIONS + METHODS and bool(sep) == (kind != "current" and (
            kind != "intensity"))  # fmt: skip
        if kind == "method":
            known = known and value in FEATURE_MAP_METHODS
        if kind in ("flipbank", "tta"):
            known = known and value in {"flipbank": ("4", "8"), "tta": ("2", "4")}[kind]
        # weight=0: the models' maps alone
        known = known and (not numeric or float(value) > 0 or (kind == "weight" and value == "0"))
    except ValueError:
        known = False
    if not known:
        numbered = tuple(k for k in METHODS[1:] if k != "intensity")
        raise ValueError(
            f"unknown feature-map variant {variant!r}: expected current, intensity, "
            f"method=<{'|'.join(FEATURE_MAP_METHODS)}>, or one of "
            + ", ".join(f"{k}=<positive number>" for k in COMBINATIONS[1:] + numbered)
        )
    return variant


def z(train, test):
    return (test - train.mean()) / train.std()


def vectors(f):
    """Feature maps (n, d, h, w) -> location vectors (n * h * w, d) float64."""
    return f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).double()


def gaussian(v):
    """Mean and precision of location vectors, the ridge on the covariance's diagonal."""
    cov = torch.cov(v.T) + FEATURE_MAP_RIDGE * torch.eye(v.shape[1], dtype=v.dtype)
    return v.mean(0), torch.linalg.inv(cov)


def squared_nearest(queries, bank, chunk=8192):
    """Squared Euclidean distance of each query (m, d) to its nearest bank row (k, d)."""
    norms = (bank * bank).sum(1)
    out = []
    for q in queries.split(chunk):
        d = (q * q).sum(1, keepdim=True) - 2 * q @ bank.T + norms
        out.append(d.min(1).values.clamp_min(0))
    return torch.cat(out)


def mean_nearest(features, mean, whiten, bank, k, block=512):
    """Mean squared distance (n, h, w) of each location's whitened feature vector
    (features (n, d, h, w)) to its ``k`` nearest bank rows (k, d)."""
    n, d, h, w = features.shape
    q = (features.float().permute(0, 2, 3, 1).reshape(-1, d) - mean) @ whiten
    norms = (bank * bank).sum(1)
    out = [
        ((b * b).sum(1, keepdim=True) + torch.addmm(norms, b, bank.T, alpha=-2))
        .topk(k, dim=1, largest=False)
        .values.clamp_min(0)
        .mean(1)
        for b in q.split(block)
    ]
    return torch.cat(out).reshape(n, h, w)


class MeanNearestMap(FeatureNearestMap):
    """A fitted nearest-neighbour map ``fm`` whose distance is the mean over the ``k``
    nearest bank rows (:func:`mean_nearest`); resized as the package's maps are."""

    def __init__(self, fm, k):
        super().__init__(fm.trunk, fm.mean, fm.whiten, fm.bank, fm.image_size)
        self.k = k

    def distance(self, features):
        return mean_nearest(features, self.mean, self.whiten, self.bank, self.k)


def greedy_coreset(v, n, seed=0):
    """Indices of ``n`` rows of ``v`` chosen by greedy k-centre selection on a 16-d random
    projection (PatchCore's approximate coreset)."""
    g = torch.Generator().manual_seed(seed)
    w = v @ (torch.randn(v.shape[1], 16, generator=g, dtype=v.dtype) / 4)
    idx = [int(torch.randint(len(v), (1,), generator=g))]
    d = ((w - w[idx[0]]) ** 2).sum(1)
    for _ in range(min(n, len(v)) - 1):
        idx.append(int(torch.argmax(d)))
        d = torch.minimum(d, ((w - w[idx[-1]]) ** 2).sum(1))
    return torch.tensor(idx)


def intensity(x, grid):
    """Local mean and standard deviation (n, 2, h, w) of images ``x`` (n, 1, H, W) in [0, 1]
    on the feature ``grid`` (h, w), over ``INTENSITY_WINDOW`` cells, times 10."""
    pool = dict(kernel_size=INTENSITY_WINDOW, stride=1, padding=INTENSITY_WINDOW // 2)
    m = F.avg_pool2d(F.adaptive_avg_pool2d(x, grid), count_include_pad=False, **pool)
    m2 = F.avg_pool2d(F.adaptive_avg_pool2d(x * x, grid), count_include_pad=False, **pool)
    return torch.cat([m, (m2 - m * m).clamp_min(0).sqrt()], 1) * 10


def flip_bank_map(fm, x_train, f_train, k, seed, sigma, size=None):
    """A copy of the fitted :class:`FeatureStudentMap` ``fm`` whose bank of ``size`` rows
    (None: as many as ``fm``'s) is chosen (the package's coreset, ``seed``) among the
    whitened locations of the training images ``x_train`` (features ``f_train``) and of
    their ``k - 1`` other :data:`BANK_TRANSFORMS`; its scales measured again
    (``sigma``)."""
    feats = [f_train]
    for dims, transpose in BANK_TRANSFORMS[1:k]:
        x = x_train.transpose(-1, -2) if transpose else x_train
        feats.append(in_batches(partial(local_features, fm.trunk), x.flip(dims) if dims else x))
    v = torch.cat([vectors(f) for f in feats])
    w = ((v - fm.mean.double()) @ fm.whiten.double()).float()
    size = fm.bank.shape[0] if size is None else size
    bank = w[package_coreset(w, size, torch.Generator().manual_seed(seed))]
    new = FeatureStudentMap(
        fm.trunk, fm.mean, fm.whiten, bank, fm.image_size, fm.student, fm.teacher_mean,
        fm.teacher_std, torch.ones(2),
    )  # fmt: skip
    with torch.no_grad():
        return scale_student_map(
            new, x_train, batch_size=16, device="cpu", sigma=sigma, features=f_train
        )


def raw_maps(method, fm, features, x_train, x_test, fit, fitted=None):
    """Unsmoothed maps ``(train, test)`` (n, H, W) float64 of a feature-map ``method``;
    ``fm`` the package's Gaussian map (its trunk and statistics), ``features`` its
    trunk's local features ``(train, test)`` (n, d, h, w), ``fit`` the detector's
    ``fit_feature_map`` keywords (:func:`feature_map_kwargs`); ``fitted`` a dict that
    keeps the package's student map once fitted (for ``flipbank``)."""
    kind, _, value = method.partition("=")
    f_train, f_test = features
    grid = f_train.shape[-2:]
    size = x_train.shape[-2:]
    fitted = {} if fitted is None else fitted
    if kind in ("student", "flipbank", "tta") or (kind == "method" and value == "student"):
        steps = {"student_steps": int(value)} if kind == "student" else {}
        sigma = auto_heatmap_sigma(*size)
        fm = None if kind == "student" else fitted.get("student")
        if fm is None:
            fm = fit_feature_map(
                x_train, device="cpu", method="student", sigma=sigma, **fit, **steps
            )
            if kind != "student":  # the package's student, shared by flipbank
                fitted["student"] = fm
        if kind == "flipbank":
            fm = flip_bank_map(fm, x_train, f_train, int(value), fit.get("seed", 0), sigma)
        if kind == "tta":
            return [
                mirrored_maps(fm, x, f, int(value)) for x, f in zip((x_train, x_test), features)
            ]
        return [student_maps(fm, x, f) for x, f in zip((x_train, x_test), features)]
    if kind in ("method", "bank", "knear"):
        if value != "gaussian":
            kwargs = {"method": value} if kind == "method" else {}
            if kind == "bank":
                kwargs = {"method": "nearest", "bank_size": int(value)}
            if kind == "knear":
                kwargs = {"method": "nearest"}
            fm = fit_feature_map(x_train, device="cpu", **fit, **kwargs)
            if kind == "knear":
                fm = MeanNearestMap(fm, int(value))
        return [fm.map_of_features(f).double() for f in features]  # computed once
    if kind == "intensity":
        f_train = torch.cat([f_train, intensity(x_train, grid)], 1)
        f_test = torch.cat([f_test, intensity(x_test, grid)], 1)
    v_train, v_test = vectors(f_train), vectors(f_test)
    if kind in ("knn", "knnin"):
        mean, precision = gaussian(v_train)
        whiten = torch.linalg.cholesky(precision)
        w_train, w_test = ((v - mean) @ whiten for v in (v_train, v_test))
        n = int(value)
        bank = w_train[greedy_coreset(w_train, n)]
        maps = [squared_nearest(w_train, bank), squared_nearest(w_test, bank)]
        if kind == "knn":  # the training maps from the other half's bank
            half = (len(x_train) // 2) * grid[0] * grid[1]
            first, second = w_train[:half], w_train[half:]
            maps[0] = torch.cat(
                [
                    squared_nearest(first, second[greedy_coreset(second, n // 2)]),
                    squared_nearest(second, first[greedy_coreset(first, n // 2)]),
                ]
            )
    elif kind == "gmm":
        rng = np.random.RandomState(0)
        v = v_train.numpy()
        v = v[rng.choice(len(v), min(len(v), GMM_LOCATIONS), replace=False)]
        gmm = GaussianMixture(
            int(value), covariance_type="full", reg_covar=FEATURE_MAP_RIDGE, random_state=0
        ).fit(v)
        maps = [torch.from_numpy(-2 * gmm.score_samples(v.numpy())) for v in (v_train, v_test)]
    else:  # intensity
        mean, precision = gaussian(v_train)
        maps = [(((v - mean) @ precision) * (v - mean)).sum(1) for v in (v_train, v_test)]
    return [
        F.interpolate(
            m.reshape(-1, 1, *grid).float(), size=size, mode="bilinear", align_corners=False
        )[:, 0].double()
        for m in maps
    ]


def student_maps(fm, x, features):
    """The :class:`FeatureStudentMap` ``fm`` of images ``x`` from their trunk features (the
    trunk's pass shared with the other variants), in batches of 16: (n, H, W) float64."""
    with torch.no_grad():
        out = [fm.map_of_images(xb, fb) for xb, fb in zip(x.split(16), features.split(16))]
    return torch.cat(out).double()


def mirrored_maps(fm, x, features, k):
    """:func:`student_maps` of images ``x`` averaged with those of their ``k - 1`` other
    flips (:data:`BANK_TRANSFORMS`' first ``k``, no transposes), each flipped back."""
    total = student_maps(fm, x, features)
    for dims, _ in BANK_TRANSFORMS[1:k]:
        flipped = x.flip(dims)
        f = in_batches(partial(local_features, fm.trunk), flipped)
        total += student_maps(fm, flipped, f).flip(dims)
    return total / k


def add_lowfreq(maps, images, kernel, k):
    """``F / sd(F) + k I / sd(I)`` for the feature maps ``(train, test)`` (n, H, W), with
    ``I`` the squared z-score of the images ``(train, test)`` (n, 1, H, W) smoothed by
    ``kernel`` (:func:`smooth_maps`), both standardised by the training images'
    pixels."""
    smooth = [smooth_maps(x[:, 0].double(), kernel).numpy() for x in images]
    i_train, i_test = (z(smooth[0], s) ** 2 for s in smooth)
    f_sd, i_sd = maps[0].std(), i_train.std()
    return [f / f_sd + k * i / i_sd for f, i in zip(maps, (i_train, i_test))]


def rebuilds_stored(parts):
    """Whether ``parts`` were fitted with the package's trunk and one of its feature-map
    methods (``current`` then rebuilds the stored heatmap)."""
    trunk = str(parts.get("feature_trunk", ""))
    return trunk == FEATURE_TRUNK and fitted_method(parts) in FEATURE_MAP_METHODS


def current_method(parts):
    """The ``method=M`` variant ``current`` computes: the method ``parts`` were fitted
    with, or the package's default for parts fitted without a feature map."""
    fitted = fitted_method(parts)
    return f"method={fitted if fitted in FEATURE_MAP_METHODS else FEATURE_METHOD}"


def measure(v, variants, fit):
    """``{variant: {column: value}}`` of one validation set; ``fit`` the detector's
    ``fit_feature_map`` keywords (:func:`feature_map_kwargs`)."""
    x_train, x_test = detector_input(v)
    start = time.perf_counter()
    fm = fit_feature_map(x_train, device="cpu", method="gaussian", **fit)
    features = [in_batches(partial(local_features, fm.trunk), x) for x in (x_train, x_test)]
    print(v.name, f"features {time.perf_counter() - start:.0f} s", flush=True)
    sigma = auto_heatmap_sigma(*v.X_train.shape[1:])
    p = v.parts
    g = [p[f"{s}_global_heatmap"].astype(np.float64) for s in ("tr", "te")]
    loc = [p[f"{s}_local_heatmap"].astype(np.float64) for s in ("tr", "te")]
    z_g = z(p["tr_global_score"], p["te_global_score"])
    raw, rows, fitted = {}, {}, {}
    for variant in variants:
        kind, _, value = variant.partition("=")
        method = variant if kind in METHODS else current_method(p)
        if method not in raw:
            start = time.perf_counter()
            raw[method] = raw_maps(method, fm, features, x_train, x_test, fit, fitted)
            print(v.name, method, f"{time.perf_counter() - start:.0f} s", flush=True)
        kernel = gaussian_kernel_1d(float(value) if kind == "sigma" else sigma)
        f_train, f_test = (smooth_maps(m, kernel).numpy() for m in raw[method])
        if kind == "lowfreq":
            # kernel is the models' sigma here (kind is not "sigma")
            f_train, f_test = add_lowfreq(
                (f_train, f_test), (x_train, x_test), kernel, float(value)
            )
        a = float(value) if kind == "global" else 1.0
        b = float(value) if kind == "local" else 1.0
        models = [a * g[i] + b * loc[i] for i in (0, 1)]
        weight = models[0].std() / f_train.std() * (float(value) if kind == "weight" else 1.0)
        heat_train, heat_test = models[0] + weight * f_train, models[1] + weight * f_test
        if variant == "current" and rebuilds_stored(p):
            # the recomputation is the detector's own heatmap
            np.testing.assert_allclose(heat_test, p["te_heatmap"], rtol=1e-3, atol=1e-4)
        z_top = z(top(heat_train, TOP), top(heat_test, TOP))
        row = {"image": roc_auc_score(v.anomalous, z_g + z_top)}
        if v.masks is not None:  # textures
            row["pixel"] = pixel_roc_auc(v.masks, heat_test)
            row["pixel F"] = pixel_roc_auc(v.masks, f_test)
            good = ~v.masks.any(axis=(1, 2))
            for t in sorted(set(v.types) - {"good"}):
                keep = (v.types == t) | good
                row[t] = pixel_roc_auc(v.masks[keep], heat_test[keep])
        rows[variant] = row
        print(v.name, variant, {k: round(x, 4) for k, x in row.items()}, flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma-separated")
    parser.add_argument("--out", default=str(HERE / "results" / "feature_variants.md"))
    args = parse_data_arguments(parser, argv)
    config = parse_config(args.config)
    variants = [check_variant(v) for v in dict.fromkeys(["current"] + args.variants.split(","))]
    results, checked, methods = [], [], set()
    for group in (texture_sets(args, config), silhouette_sets(args, config)):
        for v in group:
            results.append((v.name, measure(v, variants, feature_map_kwargs(config))))
            checked.append(rebuilds_stored(v.parts))
            methods.add(f"`{current_method(v.parts).partition('=')[2]}`")
    all_types = sorted({t for _, rows in results for t in rows["current"]} - set(COLUMNS))
    lines = [
        "",
        f"## Feature-map variants on the fits of `IGDDetector(random_state=0"
        f"{', ' + args.config if args.config else ''})`",
        "",
        command_line(),
        f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}.  ",
        data_description(args)
        + f" Trunk {FEATURE_TRUNK}, pool {FEATURE_MAP_POOL}; `current` is the "
        f"{' or '.join(sorted(methods))} map; the models are the same for every variant; "
        "`current` "
        f"rebuilt the stored heatmap on {sum(checked)} of {len(checked)} sets"
        + ("." if all(checked) else " (the others were fitted with another trunk or map)."),
    ]
    for title, column in zip(
        (
            "Pooled pixel ROC AUC of the heatmap:",
            "Pooled pixel ROC AUC of the feature map alone:",
            "Image ROC AUC, `z(s_G) + z(top 10% of the heatmap)`:",
        ),
        COLUMNS,
    ):
        lines += table(title, variants, results, column, label="variant")
    textures = [(name, rows) for name, rows in results if "pixel" in rows["current"]]
    lines += (
        []
        if not textures
        else [
            "",
            "Pixel ROC AUC of the heatmap per defect type (that type's test images and the "
            "defect-free ones), mean over the sets:",
            "",
            "| variant | " + " | ".join(all_types) + " |",
            "|---" * (len(all_types) + 1) + "|",
        ]
    )
    for variant in variants if textures else ():
        cells = [np.mean([rows[variant][t] for _, rows in textures]) for t in all_types]
        lines.append(f"| {variant} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    append_section(args.out, "Feature-map variants (validation data)", "\n".join(lines))


if __name__ == "__main__":
    main()
