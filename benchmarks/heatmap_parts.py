"""Which parts the heatmap and the image score need: the default sum against subsets and
other combinations of its parts, on the same fits (validation data).

The default heatmap adds three maps: the global model's ``G``, the local model's ``L``
and the feature map ``F`` (each weighted and smoothed as the detector does), and the
image score is ``z(s_G) + z(top 10% of the heatmap)``, every part standardised by its
mean and standard deviation over the training images (``z``). Each variant replaces the
heatmap, and so the top 10% in the image score, by:

- ``G + L + F``: the default;
- ``F``: the feature map alone; ``G + L``: the models' maps alone;
- ``L + F`` / ``G + F``: without the global / the local model's map;
- ``max(z(G + L), z(F))``: the larger of the two standardised over the training pixels.

Data: ``image_score.py``'s fits (its parts cache, fitted first when missing) of the
texture crops of validation draws and of the silhouettes, and ``heatmap_reference.py``'s
fits of the six validation photographs. Pooled pixel ROC AUC where there are pixel masks
(textures, photographs), image ROC AUC everywhere.

    python benchmarks/heatmap_parts.py

Writes ``benchmarks/results/heatmap_parts.md`` (``--out``) with the command, the machine
and the date.
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

from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from default_budget import parse_config  # noqa: E402
from heatmap_reference import VALIDATION_PICTURES, fitted_parts  # noqa: E402
from image_score import (  # noqa: E402
    add_data_arguments,
    parse_data_arguments,
    silhouette_sets,
    texture_sets,
    top,
)

HERE = Path(__file__).resolve().parent
VARIANTS = ("G + L + F", "F", "G + L", "L + F", "G + F", "max(z(G + L), z(F))")


def z(values, train):
    """``values`` standardised by the mean and standard deviation of ``train``."""
    return (values - train.mean()) / train.std()


def variant_maps(parts, prefix):
    """``{variant: maps (n, H, W)}`` of the ``prefix`` (``"tr"`` or ``"te"``) images."""
    G, L, F = (
        parts[f"{prefix}_{k}_heatmap"].astype(np.float64) for k in ("global", "local", "feature")
    )
    train_models = parts["tr_global_heatmap"].astype(np.float64) + parts["tr_local_heatmap"]
    train_feature = parts["tr_feature_heatmap"].astype(np.float64)
    return {
        "G + L + F": G + L + F,
        "F": F,
        "G + L": G + L,
        "L + F": L + F,
        "G + F": G + F,
        "max(z(G + L), z(F))": np.maximum(z(G + L, train_models), z(F, train_feature)),
    }


def evaluate(parts, anomalous, masks):
    """``{variant: (pixel AUROC or nan, image AUROC)}`` of one fit's parts."""
    train, test = variant_maps(parts, "tr"), variant_maps(parts, "te")
    g_tr, g_te = (parts[f"{s}_global_score"].astype(np.float64) for s in ("tr", "te"))
    z_g = z(g_te, g_tr)
    out = {}
    for v in VARIANTS:
        score = z_g + z(top(test[v], 0.1), top(train[v], 0.1))
        pixel = pixel_roc_auc(masks, test[v]) if masks is not None else np.nan
        out[v] = (pixel, roc_auc_score(anomalous, score))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--pictures", default=",".join(VALIDATION_PICTURES))
    parser.add_argument("--picture-draw", type=int, default=1)
    parser.add_argument("--out", default=str(HERE / "results" / "heatmap_parts.md"))
    args = parse_data_arguments(parser, argv)
    args.pictures = [p for p in args.pictures.split(",") if p]
    config = parse_config(args.config)
    start = time.perf_counter()
    groups = {"textures": [], "photographs": [], "silhouettes": []}
    for v in texture_sets(args, config):
        groups["textures"].append((v.name, evaluate(v.parts, v.anomalous, v.masks)))
    for p in args.pictures:
        data, parts = fitted_parts(args, config, f"{p} {args.picture_draw}", p, args.picture_draw)
        groups["photographs"].append(
            (f"{p} {args.picture_draw}", evaluate(parts, data.y_test == -1, data.masks_test))
        )
    for v in silhouette_sets(args, config):
        groups["silhouettes"].append((v.name, evaluate(v.parts, v.anomalous, None)))
    groups = {g: rows for g, rows in groups.items() if rows}

    data = []
    if "textures" in groups:
        data.append(
            f"Textures: {args.n_train} training and {args.n_test} test crops of {args.size} px, "
            f"draws {args.draws}"
        )
    if "photographs" in groups:
        data.append(f"photographs {args.pictures}: the same sizes, draw {args.picture_draw}")
    if "silhouettes" in groups:
        data.append(
            f"silhouettes {[f'{s}:{n}' for s, n in args.silhouettes]}: {args.sil_train} "
            f"training images, {args.sil_test} held-back normal ones and {args.sil_test // 3} "
            "of each other shape"
        )
    lines = [
        "",
        f"## The heatmap's parts: `IGDDetector(random_state=0"
        f"{', ' + args.config if args.config else ''})`",
        "",
        command_line(),
        f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}; {time.perf_counter() - start:.0f} s (cached fits count "
        "0).  ",
        "; ".join(data)
        + ". Means over each group's sets; in brackets the sets where the variant is above "
        "the default.",
        "",
        "| variant | "
        + " | ".join(
            f"pixel AUROC {g} | image AUROC {g}" if g != "silhouettes" else f"image AUROC {g}"
            for g in groups
        )
        + " |",
        "|---" * (1 + sum(1 if g == "silhouettes" else 2 for g in groups)) + "|",
    ]
    for v in VARIANTS:
        cells = []
        for g, rows in groups.items():
            for i in (0, 1) if g != "silhouettes" else (1,):
                values = np.array([r[v][i] for _, r in rows])
                base = np.array([r[VARIANTS[0]][i] for _, r in rows])
                cells.append(
                    f"{values.mean():.4f} ({int((values > base + 1e-12).sum())}/{len(rows)})"
                )
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += ["", "Per set, pixel AUROC / image AUROC:", ""]
    names = [n for rows in groups.values() for n, _ in rows]
    lines += ["| variant | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for v in VARIANTS:
        cells = []
        for rows in groups.values():
            for _, r in rows:
                pixel, image = r[v]
                cells.append(f"{image:.4f}" if np.isnan(pixel) else f"{pixel:.4f} / {image:.4f}")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    append_section(args.out, "Which parts the heatmap needs", text)


if __name__ == "__main__":
    main()
