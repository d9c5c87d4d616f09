"""Which frozen features the feature map reads: EfficientNet blocks and input sizes compared
on the same fitted models (validation data).

Reuses ``image_score.py``'s fits of ``IGDDetector(random_state=0)`` (or ``--config``) and
their stored parts (``--parts``; fitted first when missing) on the texture crops of
validation draws and on silhouettes. The models' maps (global + local) do not depend on the
feature map, so for each candidate trunk (``block:min_side``: EfficientNet-Lite0 up to
``block``, on images upsampled to a shorter side of at least ``min_side`` pixels;
``a+b:min_side``: the outputs of blocks ``a`` and ``b`` concatenated, ``b``'s resized to
``a``'s grid, as PatchCore concatenates two stages) the
script fits the feature map with the package's ``fit_feature_map``, smooths and weighs it
as the detector does (``feature_weight_``: the standard deviation of the models' maps over
the training pixels divided by the feature map's) and adds it to the models' maps. It
checks that the detector's own trunk rebuilds the stored heatmap, then reports:

- pooled pixel ROC AUC of the whole heatmap and of the feature map alone (textures);
- image ROC AUC of the default image score, ``z(s_G) + z(top 10% of the heatmap)``
  (``local_score="heatmap_top"``; textures and silhouettes);
- the feature map's seconds per image (fit and score passes together).

    python benchmarks/feature_trunk.py --trunks 4:256,3:320,3:384

With ``--feature-only`` nothing is fitted: the pooled pixel ROC AUC of the feature map
alone (the method of ``--config``'s ``feature_map``, else the package's default) on the
texture draws, for example on 32 px crops (``--size 32``).

Appends a section to ``benchmarks/results/feature_trunk.md`` (``--out``) with the command,
the machine and the date.
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
from torch.nn import functional as F

from sklearn_igd._feature_map import feature_min_side, feature_trunk, fit_feature_map
from sklearn_igd._pretrain import (
    EfficientNetLite0Blocks,
    FrozenEncoder,
    ImageNetInput,
    efficientnet_lite0_net,
)
from sklearn_igd._scoring import (
    HEATMAP_TOP_FRACTION,
    auto_heatmap_sigma,
    gaussian_kernel_1d,
    smooth_maps,
)
from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from image_score import (  # noqa: E402  (the same data, fits and image score)
    FEATURE_TRUNK,
    add_data_arguments,
    config_method,
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
CURRENT = FEATURE_TRUNK
TOP = HEATMAP_TOP_FRACTION


def detector_input(v):
    """One validation set's uint8 images (n, H, W) as the detector's input: ``(train,
    test)``, each (n, 1, H, W) float32 in [0, 1]."""
    return [torch.from_numpy(X[:, None].astype(np.float32) / 255) for X in (v.X_train, v.X_test)]


def in_batches(fn, x):
    """``fn`` (a module or function of images) applied to ``x`` in batches of 16 images, as
    the detector scores, without gradients; the outputs concatenated."""
    with torch.no_grad():
        return torch.cat([fn(b) for b in x.split(16)])


class TappedBlocks(EfficientNetLite0Blocks):
    """The package's EfficientNet-Lite0 trunk up to block ``max(taps)``: ``(n, 3, h, w) ->
    (n, sum C_tap, h_0, w_0)``, the outputs of the blocks ``taps`` concatenated, each
    resized (bilinear) to the grid of the first."""

    def __init__(self, net, taps):
        super().__init__(net, last=max(taps), grid=None)
        self.taps = tuple(taps)

    def forward(self, x):
        h, outs = self.swish(self.stem(x)), []
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i in self.taps:
                outs.append(h)
        size = outs[0].shape[-2:]
        resized = [F.interpolate(o, size=size, mode="bilinear", align_corners=False)
                   for o in outs[1:]]  # fmt: skip
        return torch.cat([outs[0], *resized], 1)


def trunk_of(spec, image_size):
    """The frozen trunk of ``spec`` (``block:min_side`` or ``a+b:min_side``) for images of
    ``image_size`` (H, W), upsampled as the detector does (:func:`feature_min_side`)."""
    blocks, min_side = spec.split(":")
    taps = [int(b) for b in blocks.split("+")]
    side = feature_min_side(image_size, int(min_side))
    if len(taps) == 1:
        return feature_trunk(taps[0], side)
    return FrozenEncoder(TappedBlocks(efficientnet_lite0_net(), taps), ImageNetInput(side))


def feature_heatmaps(v, trunk, method, fit):
    """The smoothed, unweighted feature maps ``(train, test)`` of one validation set
    (the trunk of spec ``trunk``, ``fit_feature_map``'s ``method`` and the detector's
    keywords ``fit``), and the seconds they took."""
    start = time.perf_counter()
    x_train, x_test = detector_input(v)
    sigma = auto_heatmap_sigma(*v.X_train.shape[1:])
    fm = fit_feature_map(
        x_train,
        device="cpu",
        method=method,
        trunk=trunk_of(trunk, v.X_train.shape[1:]),
        sigma=sigma,  # the student map's scales are measured after the detector's smoothing
        **fit,
    )
    kernel = gaussian_kernel_1d(sigma)
    maps = [smooth_maps(in_batches(fm, x).double(), kernel).numpy() for x in (x_train, x_test)]
    return maps, time.perf_counter() - start


def measure(v, trunks, fit, method):
    """``{trunk: {column: value}}`` of one validation set (without parts: the feature
    map alone), with the feature-map method of the parts (``method`` without them) and
    the detector's ``fit_feature_map`` keywords ``fit`` (``feature_map_kwargs``)."""

    def z(train, test):
        return (test - train.mean()) / train.std()

    p = v.parts
    method = method if p is None else fitted_method(p)
    if p is not None:
        models = [p[f"{s}_global_heatmap"].astype(np.float64) + p[f"{s}_local_heatmap"]
                  for s in ("tr", "te")]  # fmt: skip
        z_g = z(p["tr_global_score"], p["te_global_score"])
        fitted_with = str(p.get("feature_trunk", CURRENT))  # parts stored before it was kept
        if fitted_with not in trunks:
            raise ValueError(
                f"{v.name}: the parts were fitted with trunk {fitted_with}; pass it "
                "in --trunks, so that the rebuilt heatmap is checked against them"
            )
    rows = {}
    for trunk in trunks:
        (f_train, f_test), seconds = feature_heatmaps(v, trunk, method, fit)
        row = {"s/image": seconds / (len(v.X_train) + len(v.X_test))}
        if p is not None:
            weight = models[0].std() / f_train.std()
            heat_train, heat_test = models[0] + weight * f_train, models[1] + weight * f_test
            if trunk == fitted_with:  # the recomputation is the detector's own heatmap
                np.testing.assert_allclose(heat_test, p["te_heatmap"], rtol=1e-3, atol=1e-4)
            z_top = z(top(heat_train, TOP), top(heat_test, TOP))
            row["image"] = roc_auc_score(v.anomalous, z_g + z_top)
            if v.masks is not None:
                row["pixel"] = pixel_roc_auc(v.masks, heat_test)
        if v.masks is not None:
            row["pixel F"] = pixel_roc_auc(v.masks, f_test)
        rows[trunk] = row
        print(v.name, trunk, {k: round(x, 4) for k, x in row.items()}, flush=True)
    return rows


def table(title, trunks, results, column, label="trunk"):
    """Markdown lines: one row per trunk (or other ``label``), one column per validation
    set, mean and min."""
    names = [name for name, rows in results if column in rows[trunks[0]]]
    if not names:
        return []
    lines = [
        "",
        title,
        "",
        f"| {label} | " + " | ".join(names) + " | mean | min |",
        "|---" * (len(names) + 3) + "|",
    ]
    for trunk in trunks:
        values = [rows[trunk][column] for name, rows in results if name in names]
        cells = " | ".join(f"{x:.4f}" for x in values)
        name = f"{trunk} (current)" if trunk == CURRENT else trunk
        lines.append(f"| {name} | {cells} | {np.mean(values):.4f} | {np.min(values):.4f} |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument(
        "--trunks", default=f"{CURRENT},3:320", help="block:min_side or a+b:min_side, ..."
    )
    parser.add_argument(
        "--feature-only",
        action="store_true",
        help="no fits: the feature map alone on the texture draws (e.g. with --size 32)",
    )
    parser.add_argument("--out", default=str(HERE / "results" / "feature_trunk.md"))
    args = parse_data_arguments(parser, argv)
    config = parse_config(args.config)
    fit = feature_map_kwargs(config)
    trunks = list(dict.fromkeys([CURRENT] + args.trunks.split(",")))
    # the detector's own trunk is always measured, so that its heatmap is checked
    if args.feature_only:
        method = config_method(config)  # no fits: the map of --config's feature_map
        results = [(v.name, measure(v, trunks, fit, method)) for v in texture_sets(args)]
    else:
        sets = (texture_sets(args, config), silhouette_sets(args, config))
        results = [(v.name, measure(v, trunks, fit, None)) for group in sets for v in group]
    seconds = {t: np.mean([rows[t]["s/image"] for _, rows in results]) for t in trunks}
    lines = [
        "",
        "## Feature-map trunks, the feature map alone (no fits)"
        if args.feature_only
        else f"## Feature-map trunks on the fits of `IGDDetector(random_state=0"
        f"{', ' + args.config if args.config else ''})`",
        "",
        command_line(),
        f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}.  ",
        (
            f"Textures: {args.n_train} training and {args.n_test} test crops of {args.size} "
            f"px; nothing fitted but the feature map (`{config_method(config)}`)."
            if args.feature_only
            else data_description(args) + " The models are the same for every trunk."
        )
        + " Trunk `block:min_side`. Feature-map seconds per image (fit + score): "
        + ", ".join(f"{t} {s * 1000:.0f} ms" for t, s in seconds.items())
        + ".",
    ]
    lines += table("Pooled pixel ROC AUC of the heatmap:", trunks, results, "pixel")
    lines += table("Pooled pixel ROC AUC of the feature map alone:", trunks, results, "pixel F")
    lines += table(
        "Image ROC AUC, `z(s_G) + z(top 10% of the heatmap)`:", trunks, results, "image"
    )
    append_section(args.out, "Feature-map trunks (validation data)", "\n".join(lines))


if __name__ == "__main__":
    main()
