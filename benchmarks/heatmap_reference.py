"""Pooled pixel AUROC and AUPRO of heatmaps referenced to each image's own level
(validation data).

A pooled pixel metric ranks the pixels of all test images together, so a normal test
crop whose whole map sits higher than the training crops' (new content: another part of
a photograph, other lighting) puts its normal pixels above the defects of other crops.
Each variant subtracts a per-image reference from the detector's heatmap (the test
images' ``score_parts(heatmap=True)["heatmap"]``, ``IGDDetector(random_state=0)`` or
``--config``), which leaves the ranking of the pixels within each image, and so the
per-image pixel AUROC, unchanged:

- ``none``: the map as fitted;
- ``mean``: minus the image's mean over its pixels;
- ``median`` / ``q0.25``: minus the image's median / lower quartile;
- ``0.5 median``: minus half the image's median;
- ``local 16``: minus the map smoothed by a Gaussian of 16 pixels (a local background).

Data (``random_state`` of the data 1, 2, ...: never the tests' and demos' 0):

- the texture crops of ``make_texture_defects`` (brick, grass, gravel) of ``--draws``,
  whose training and test crops come from one surface;
- ``--pictures``: the same defects painted on scikit-image photographs that neither the
  design nor ``heldout_pictures.py`` uses (coins, coffee, rocket, chelsea, retina,
  clock), converted to grey, draw ``--picture-draw``: the training crops come from the
  top half of a photograph and the test crops from the bottom half, which on some of
  them shows other content (``heldout_pictures.py --halves`` measures how much).

    python benchmarks/heatmap_reference.py --jobs 2

Each fit's parts are kept in ``--parts`` (``image_score.py``'s cache: the texture fits are
shared with it) and reused when present. Writes ``benchmarks/results/heatmap_reference.md``
(``--out``) with the command, the machine and the date.
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
from scipy.ndimage import gaussian_filter

from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import aupro, pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from default_budget import TEXTURES, parse_config  # noqa: E402
from heldout_pictures import PICTURES, half_shift_auc, load_picture  # noqa: E402
from image_score import cached, fit_parts  # noqa: E402

HERE = Path(__file__).resolve().parent
#: scikit-image photographs (no download) that no design choice and no held-out
#: benchmark used: at least 128 px high.
VALIDATION_PICTURES = ("coins", "coffee", "rocket", "chelsea", "retina", "clock")


def reference_variants(maps):
    """``{name: maps minus a per-image reference}`` of float64 maps (n, H, W)."""
    flat = maps.reshape(len(maps), -1)

    def per_image(values):
        return maps - values[:, None, None]

    return {
        "none": maps,
        "mean": per_image(flat.mean(axis=1)),
        "median": per_image(np.median(flat, axis=1)),
        "q0.25": per_image(np.quantile(flat, 0.25, axis=1)),
        "0.5 median": per_image(0.5 * np.median(flat, axis=1)),
        "local 16": maps - gaussian_filter(maps, sigma=(0, 16, 16), mode="mirror"),
    }


def data_sets(args):
    """``(name, source, draw)`` of every validation set: textures, then pictures."""
    sets = [(f"{t} {d}", t, d) for d in args.draws for t in args.textures]
    sets += [(f"{p} {args.picture_draw}", p, args.picture_draw) for p in args.pictures]
    return sets


def make_data(args, source, draw):
    photo = load_picture(source) if source not in TEXTURES else source
    return make_texture_defects(
        photo, n_train=args.n_train, n_test=args.n_test, size=args.size, random_state=draw
    )


def fitted_parts(args, config, name, source, draw):
    """``(data, parts)`` of one set: its ``make_texture_defects`` data and the cached parts
    of its fit (fitted and stored first when missing)."""
    torch.set_num_threads(args.threads)
    # image_score.py's names: one cache folder (--parts) per data sizes and configuration
    stem = f"parts_{source}_{draw}" if source in TEXTURES else f"picture_{source}_{draw}"
    data = make_data(args, source, draw)
    path = Path(args.parts) / f"{stem}.npz"
    parts = cached(path, fit_parts, config, data.images_train, data.images_test)
    print(name, f"fit {float(parts['fit_s']):.0f} s", flush=True)
    return data, parts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", default="1,2", help="texture draws (not 0); '' for none")
    parser.add_argument("--textures", default=",".join(TEXTURES))
    parser.add_argument("--pictures", default=",".join(VALIDATION_PICTURES))
    parser.add_argument("--picture-draw", type=int, default=1)
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--config", default="", help="IGDDetector keywords, e.g. max_epochs=1")
    parser.add_argument("--jobs", type=int, default=1, help="fits side by side")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fit")
    parser.add_argument("--parts", default="/tmp/igd_image_score", help="fits' parts cache")
    parser.add_argument("--out", default=str(HERE / "results" / "heatmap_reference.md"))
    args = parser.parse_args(argv)
    args.draws = [int(d) for d in args.draws.split(",") if d]
    args.textures = [t for t in args.textures.split(",") if t]
    args.pictures = [p for p in args.pictures.split(",") if p]
    if 0 in args.draws or args.picture_draw == 0:
        parser.error("draw 0 is the tests' and demos' data; choose on other draws")
    if set(args.pictures) & set(PICTURES):
        parser.error(f"{sorted(set(args.pictures) & set(PICTURES))} are held-out pictures")
    config = parse_config(args.config)

    start = time.perf_counter()
    sets = data_sets(args)
    fitted = Parallel(n_jobs=args.jobs)(delayed(fitted_parts)(args, config, *s) for s in sets)
    pixel, pro, shift, fits = {}, {}, [], []
    for (_, source, _), (data, parts) in zip(sets, fitted):
        masks = data.masks_test
        fits.append(float(parts["fit_s"]))
        photo = source if source in TEXTURES else load_picture(source)
        shift.append(half_shift_auc(photo))
        for variant, maps in reference_variants(parts["te_heatmap"].astype(np.float64)).items():
            pixel.setdefault(variant, []).append(pixel_roc_auc(masks, maps))
            pro.setdefault(variant, []).append(aupro(masks, maps))

    names = [s[0] for s in sets]
    n_tex = len(args.draws) * len(args.textures)
    groups = [("textures", slice(0, n_tex)), ("pictures", slice(n_tex, len(names)))]
    groups = [(g, s) for g, s in groups if s.stop > s.start]
    lines = [
        "",
        f"## Per-image references: `IGDDetector(random_state=0"
        f"{', ' + args.config if args.config else ''})`",
        "",
        command_line(),
        f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{args.threads} torch thread(s) per fit, {args.jobs} fit(s) side by side, torch "
        f"{torch.__version__}; {time.strftime('%Y-%m-%d')}; fits of {min(fits):.0f}-"
        f"{max(fits):.0f} s, {time.perf_counter() - start:.0f} s in all (cached fits count "
        "0).  ",
        f"Data: `make_texture_defects(source, n_train={args.n_train}, n_test={args.n_test}, "
        f"size={args.size}, random_state=draw)`. Shift: `heldout_pictures.py --halves`'s ROC "
        "AUC telling the source's top-half crops from its bottom-half crops (0.5: alike).",
    ]
    for title, table in (("pooled pixel AUROC", pixel), ("AUPRO (FPR up to 0.3)", pro)):
        lines += [
            "",
            f"{title}; the mean of each group and the sets where the variant is above `none`:",
            "",
            "| reference | "
            + " | ".join(names)
            + " | "
            + " | ".join(f"mean {g} | above none ({g})" for g, _ in groups)
            + " |",
            "|---" * (len(names) + 2 * len(groups) + 1) + "|",
            "| shift | "
            + " | ".join(f"{s:.3f}" for s in shift)
            + " | "
            + " | ".join(" | " for _ in groups)
            + " |",
        ]
        base = np.array(table["none"])
        for variant, values in table.items():
            v = np.array(values)
            cells = [f"{x:.4f}" for x in v]
            for _, s in groups:
                above = int((v[s] > base[s] + 1e-12).sum())
                cells += [f"**{v[s].mean():.4f}**", f"{above} / {s.stop - s.start}"]
            lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    append_section(args.out, "Heatmaps referenced to each image's level (validation)", text)


if __name__ == "__main__":
    main()
