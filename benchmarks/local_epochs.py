"""Does the local model need all its epochs? The default heatmap with the local model
trained for fewer epochs than the global one (validation textures and photographs).

The local model trained for the global model's epochs over every patch of every image:
about 60% of a default fit at 64 px (``fit_phases.md``); this benchmark chose
``local_epochs="auto"`` (about 45,000 patch passes, at least 2 epochs). The variant 'global' (named
'default' in the tables made before the change) trains it for the global model's epochs,
the others for ``--epochs`` epochs (``_fit_local`` given the fit's plan with another
``n_local_epochs``; nothing else changes: the global model, the feature map and their
seeds are the default's, so only the local model's map differs, and with it the feature map's
weight, which the detector fits to the spread of the models' maps). Fitted on the
texture crops of ``make_texture_defects`` (brick, grass, gravel) of validation draws
(``--draws``; never 0 or the held-out 3-5), and with ``--pictures`` on the validation
photographs of ``heatmap_reference.py`` (draw ``--picture-draw``) and with
``--silhouettes`` on ``image_score.py``'s silhouette sets (image AUROC only);
``IGDDetector(random_state=0)``, one torch thread per fit, ``--jobs`` fits at a time.
The default's parts are read from ``image_score.py``'s and ``heatmap_reference.py``'s
cache (``--default-parts``, fitted first when missing).

``--heldout`` is the check of a choice made on the validation sets, run once: it takes
the held-out texture draws (3-5), the held-out photographs of ``heldout_pictures.py`` and
the held-out silhouettes (shape seed 101) instead, refuses the validation ones, and
appends to its own section.

Reports the pooled pixel ROC AUC of the heatmap and of the local model's map alone, the
image ROC AUC of the default image score ``z(s_G) + z(top 10% of the heatmap)``, and the
local model's training seconds.

    python benchmarks/local_epochs.py --epochs 4,2 --jobs 2

Appends a section to ``benchmarks/results/local_epochs.md`` (``--out``) with the command,
the machine and the date.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from default_budget import SHAPES, TEXTURES, parse_config  # noqa: E402
from heatmap_parts import z  # noqa: E402
from heatmap_reference import VALIDATION_PICTURES, make_data  # noqa: E402
from heldout_pictures import PICTURES  # noqa: E402
from image_score import cached, fit_parts, silhouette_data, top  # noqa: E402

HERE = Path(__file__).resolve().parent


def load(source, draw, args):
    """``(X_train, X_test, anomalous, masks or None, cache stem)`` of one set: a texture or
    a photograph (``heatmap_reference.make_data``), or a silhouette set ``draw:source`` of
    ``image_score.py`` (no masks); the stem is that of the default's cached parts."""
    if source in SHAPES:
        X_train, X_test, y = silhouette_data(
            draw, source, args.sil_train, args.sil_test, args.size
        )
        return X_train, X_test, y, None, f"sil_{source}_{draw}"
    d = make_data(args, source, draw)
    stem = "parts" if source in TEXTURES else "picture"
    return d.images_train, d.images_test, d.y_test == -1, d.masks_test, f"{stem}_{source}_{draw}"


def fit_variant(source, draw, epochs, args, config):
    """The parts of one fit (cached) with the local model trained for ``epochs`` epochs
    (None: the default), with one torch thread; ``local_s``: its training seconds."""
    torch.set_num_threads(1)
    folder = Path(args.default_parts if epochs is None else f"{args.parts}/local{epochs}")
    X_train, X_test, _, _, stem = load(source, draw, args)
    path = folder / f"{stem}.npz"
    original = IGDDetector._fit_local
    seconds = []

    def fit_local(self, X, plan):
        # None: the global model's epochs (the default before local_epochs="auto")
        n = plan.n_epochs if epochs is None else int(epochs)
        plan = dataclasses.replace(plan, n_local_epochs=n)
        t0 = time.perf_counter()
        try:
            return original(self, X, plan)
        finally:
            seconds.append(time.perf_counter() - t0)

    def make():
        IGDDetector._fit_local = fit_local
        try:
            out = fit_parts(config, X_train, X_test)
        finally:
            IGDDetector._fit_local = original
        out["local_s"] = np.array(seconds[0] if seconds else np.nan)
        return out

    return cached(path, make)


def evaluate(parts, y, masks):
    """``(pixel AUROC of the heatmap, of the local map, image AUROC)``; the pixel AUROCs
    nan without masks."""
    heat_tr, heat_te = (parts[f"{s}_heatmap"].astype(np.float64) for s in ("tr", "te"))
    score = z(parts["te_global_score"], parts["tr_global_score"]) + z(
        top(heat_te, 0.1), top(heat_tr, 0.1)
    )
    if masks is None:
        return np.nan, np.nan, roc_auc_score(y, score)
    return (
        pixel_roc_auc(masks, heat_te),
        pixel_roc_auc(masks, parts["te_local_heatmap"]),
        roc_auc_score(y, score),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ints = lambda t: [int(v) for v in t.split(",") if v]  # noqa: E731
    parser.add_argument("--epochs", type=ints, default=[4, 2], help="the local model's")
    parser.add_argument("--draws", type=ints, default=[1, 2])
    parser.add_argument("--textures", default=",".join(TEXTURES))
    parser.add_argument("--pictures", default="", help=f"of {VALIDATION_PICTURES}")
    parser.add_argument("--picture-draw", type=int, default=1)
    parser.add_argument("--silhouettes", default="", help="seed:shape,... (image AUROC)")
    parser.add_argument("--sil-train", type=int, default=200)
    parser.add_argument("--sil-test", type=int, default=150, help="held-back normal ones")
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--config", default="", help="IGDDetector keywords (tiny runs)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--parts", default="/tmp/igd_local_epochs")
    parser.add_argument(
        "--default-parts", help="default: /tmp/igd_image_score, /tmp/igd_heldout_parts held out"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "local_epochs.md"))
    parser.add_argument(
        "--heldout", action="store_true", help="held-out sets only (the check, run once)"
    )
    args = parser.parse_args(argv)
    pictures = [p for p in args.pictures.split(",") if p]
    silhouettes = [v for v in args.silhouettes.split(",") if v]
    if not all(re.fullmatch(rf"\d+:({'|'.join(SHAPES)})", v) for v in silhouettes):
        parser.error(f"--silhouettes {args.silhouettes}: expected seed:shape, shapes of {SHAPES}")
    seeds = {int(v.split(":")[0]) for v in silhouettes}
    if 0 in args.draws or 0 in seeds or args.picture_draw == 0:
        parser.error("draw and shape seed 0 are the tests' and demos' data")
    if args.heldout:
        kind = "held-out"
        wrong = (set(args.draws) - {3, 4, 5}, set(pictures) - set(PICTURES), seeds - {101})
        expected = f"texture draws 3-5, pictures of {PICTURES}, shape seed 101"
    else:
        kind = "validation"
        wrong = ({3, 4, 5} & set(args.draws), set(pictures) & set(PICTURES), seeds & {101})
        expected = "validation draws (not 3-5), pictures (not those of heldout_pictures.py) "
        expected += "and shape seeds (not 101); --heldout for the held-out check"
    if args.default_parts is None:
        args.default_parts = "/tmp/igd_heldout_parts" if args.heldout else "/tmp/igd_image_score"
    if any(wrong):
        parser.error(
            f"{sorted(set().union(*wrong), key=str)} are not {kind} data; expected {expected}"
        )
    sets = [(t, k) for k in args.draws for t in args.textures.split(",") if t]
    sets += [(p, args.picture_draw) for p in pictures]
    sets += [(shape, int(seed)) for seed, shape in (v.split(":") for v in silhouettes)]
    config = parse_config(args.config)
    variants = [None] + args.epochs
    jobs = [(t, k, e) for t, k in sets for e in variants]
    start = time.perf_counter()
    fitted = Parallel(n_jobs=args.jobs)(
        delayed(fit_variant)(t, k, e, args, config) for t, k, e in jobs
    )
    labels = {(t, k): load(t, k, args)[2:4] for t, k in sets}  # (anomalous, masks)
    rows = {}
    for (t, k, e), parts in zip(jobs, fitted):
        local_s = float(parts.get("local_s", np.nan))
        rows[t, k, e] = evaluate(parts, *labels[t, k]) + (local_s,)
    names = [f"{t} {k}" for t, k in sets]
    label = lambda e: "global" if e is None else f"{e}"  # noqa: E731
    lines = []
    for title, i, fmt in (
        ("Pooled pixel ROC AUC of the heatmap", 0, ".4f"),
        ("Pooled pixel ROC AUC of the local model's map alone", 1, ".4f"),
        ("Image ROC AUC of the default image score", 2, ".4f"),
        ("The local model's training seconds (one torch thread)", 3, ".0f"),
    ):
        lines += ["", f"{title}:", "", "| local epochs | " + " | ".join(names) + " | mean |"]
        lines.append("|---" * (len(names) + 2) + "|")
        for e in variants:
            vals = [rows[t, k, e][i] for t, k in sets]
            # the default's parts from image_score.py's cache have no local_s: blank
            cells = " | ".join(format(v, fmt) if np.isfinite(v) else "" for v in vals)
            finite = [v for v in vals if np.isfinite(v)]
            mean = format(np.mean(finite), fmt) if finite else ""
            lines.append(f"| {label(e)} | {cells} | {mean} |")
    text = "\n".join(
        [
            "",
            f"## The local model's epochs ({kind} data): `IGDDetector(random_state=0"
            + (f", {args.config}" if args.config else "")
            + ")`",
            "",
            command_line(),
            f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), one torch "
            f"thread per fit, {args.jobs} at a time, torch {torch.__version__}; "
            f"{time.strftime('%Y-%m-%d')}; {time.perf_counter() - start:.0f} s (cached "
            f"fits count 0). Textures: {args.n_train} training and {args.n_test} test crops "
            f"of {args.size} px, draws {args.draws}"
            + (f"; photographs {pictures}, draw {args.picture_draw}" if pictures else "")
            + (
                f"; silhouettes {silhouettes} ({args.sil_train} training images, "
                f"{args.sil_test} normal and {args.sil_test // 3} of each other shape to "
                "test; image AUROC only)"
                if silhouettes
                else ""
            )
            + "; 'global': the local model trained for "
            "the global model's epochs.",
            *lines,
        ]
    )
    print(text)
    if args.out:
        append_section(args.out, f"The local model's epochs ({kind} data)", text)


if __name__ == "__main__":
    main()
