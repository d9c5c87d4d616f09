"""Choose ``global_score_weight`` without labels, on synthetic local defects? (CutPaste)

With the local model, ``IGDDetector``'s image score is ``w * z_G + z_L`` (the standardised
global and local parts). The default ``w = 1`` is a compromise: local defects on a surface
are ranked better by the local part alone (``w = 0``), whole images of another kind (the
silhouettes) need the global part (``picture_weights.md``, ``weight_selection.md``). No
statistic of the normal training images has told the two kinds of data apart
(``global_weight_rule.md``, ``calibration_split_val.md``, ``score_combination.md``).

This script measures a rule that needs no labels: hold back a fifth of the training
images, fit on the rest, make synthetic local defects on the held-back images with
CutPaste (:func:`sklearn_igd.datasets.make_cutpaste_defects`, after Li et al., CVPR
2021: a rectangle of 2-15% of the image, aspect ratio 0.3-3.3, cut at one place, its
brightness and contrast jittered by up to 10%, pasted at another),
and choose among ``GLOBAL_SCORE_WEIGHTS`` the weight whose score tells the held-back
images from their CutPaste copies best. The idea: where the global part dilutes local
defects, it dilutes the synthetic ones too, so the rule moves towards 0; on the
silhouettes any pasted rectangle is glaring to both parts, the candidates tie and the
default stays. The synthetic defects are made by a generator unrelated to
``make_texture_defects`` (which paints the test defects), so the rule does not see the
test defects' kind.

Two rules, fixed before any run:

- ``argmax``: the candidate with the highest ROC AUC on held-back vs CutPaste images
  (:func:`sklearn_igd.thresholds.best_global_score_weight`: ties go to the candidate
  closest to 1, then the larger);
- ``margin``: the default 1 unless a candidate beats it there by at least 0.01, then the
  ``argmax`` candidate (the package's
  :func:`sklearn_igd.thresholds.select_global_score_weight` without labels, whose
  synthetic defects are the ``thin`` variant below since the third-tier run; without
  ``--variant`` the rules use the rectangles described above).

A third column, ``seen``, applies ``argmax`` to as many training images the model *was*
fitted on and their copies (no held-back images needed).

Per set, one fit ``IGDDetector(random_state=0)`` on the kept four fifths of the training
images; reported: test ROC AUC with ``w = 1`` (the default rule on that fit), ``w = 0``,
the best candidate on the test images (a bound no user has) and each rule's weight and
test AUC. Sets (``--sets``, comma-separated): ``name-draw`` for the validation sets of
``calibration_split.py`` (textures of draws 1, 2, the validation photographs, the
silhouettes of seeds 7, 11) or ``kind:name:draw`` for ``weight_selection.py``'s held-out
sets.

``--size 128`` cuts the validation textures and photographs at 128 px. ``--variants
small,thin`` also scores, on the same fits, CutPaste copies with other settings
(:data:`VARIANTS`: rectangles of 0.5-3% of the image; thin strips of that area, aspect
0.05-0.2), and ``--variant NAME`` makes the rules use one of them (cached fits are
reused, so this re-reads the stored parts without fitting again).

    python benchmarks/synthetic_weight.py --cache /tmp/sw --jobs 2 \\
        --sets brick-1,grass-1,gravel-1,brick-2,grass-2,gravel-2,coins-1,coffee-1,...

Appends a section to ``benchmarks/results/synthetic_weight.md`` (``--out``).
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
from sklearn_igd.datasets import make_cutpaste_defects
from sklearn_igd.thresholds import (
    GLOBAL_SCORE_WEIGHTS,
    SYNTHETIC_DEFECT_PARAMS,
    best_global_score_weight,
    standardised_score_parts,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402

HERE = Path(__file__).resolve().parent
HOLDOUT = 0.2  # the share of the training images held back for the rule
COPIES = 5  # CutPaste copies of each held-back image
MARGIN = 0.01  # the ``margin`` rule's least gain over the default (``--margin``; the
# package's SYNTHETIC_WEIGHT_MARGIN is 0.02 since the fourth tier)
#: other CutPaste settings scored on the same fits (``--variants``; ``--variant`` picks
#: the one the rules use): smaller rectangles, and thin strips (a stand-in for
#: CutPaste's "scar")
VARIANTS = {
    "small": dict(area=(0.005, 0.03)),
    "thin": dict(SYNTHETIC_DEFECT_PARAMS),  # area (0.005, 0.03), aspect (0.05, 0.2)
}


def set_data(spec, size=64):
    """``(X_train, X_test, test_anomalous, draw)`` of a set spec (see the module doc);
    ``size``: the crop side of the validation textures and photographs."""
    if ":" in spec:
        from weight_selection import set_data as heldout_set

        X_train, _, _, X_test, anomalous = heldout_set(spec)
        return X_train, X_test, anomalous, int(spec.rsplit(":", 1)[1])
    from calibration_split import TEST_DRAWS, load_set

    name, draw = spec.rsplit("-", 1)
    draw = int(draw)
    if draw in set().union(*TEST_DRAWS.values()) or draw == 101:
        raise ValueError(f"{spec}: draw {draw} is a test draw; held-out sets use kind:name:draw")
    X_train, X_test, anomalous = load_set(name, draw, {"size": size} if size != 64 else None)
    return X_train, X_test, anomalous, draw


def fit_set(spec, cache, threads, size=64, variants=()):
    """The stored parts ``{held_zg, held_zl, syn_zg, syn_zl, test_zg, test_zl, test_y,
    fit_s}`` of one set (and ``syn_<variant>_zg`` ... for ``variants``), fitted and scored
    first when ``cache`` lacks them."""
    name = spec.replace(":", "_") + (f"_{size}px" if size != 64 else "")
    path = Path(cache) / (name + "".join(f"_{v}" for v in variants) + ".npz")
    if not path.exists():
        torch.set_num_threads(threads)
        X_train, X_test, test_y, draw = set_data(spec, size)
        rng = np.random.RandomState(draw + 5000)
        order = rng.permutation(len(X_train))
        n_held = int(round(HOLDOUT * len(X_train)))
        held, kept = order[:n_held], order[n_held:]
        start = time.perf_counter()
        det = IGDDetector(random_state=0).fit(X_train[kept])
        fit_s = time.perf_counter() - start
        X_syn, _ = make_cutpaste_defects(X_train[held], n_copies=COPIES, random_state=rng)
        seen = kept[:n_held]
        X_seen_syn, _ = make_cutpaste_defects(X_train[seen], n_copies=COPIES, random_state=rng)
        out = {"fit_s": fit_s, "test_y": np.asarray(test_y, bool)}
        for prefix, X in (
            ("held", X_train[held]),
            ("syn", X_syn),
            ("seen", X_train[seen]),
            ("seensyn", X_seen_syn),
            ("test", X_test),
        ):
            out[f"{prefix}_zg"], out[f"{prefix}_zl"] = standardised_score_parts(det, X)
        variant_rng = np.random.RandomState(draw + 6000)
        for v in variants:
            X_v, _ = make_cutpaste_defects(
                X_train[held], n_copies=COPIES, random_state=variant_rng, **VARIANTS[v]
            )
            out[f"syn_{v}_zg"], out[f"syn_{v}_zl"] = standardised_score_parts(det, X_v)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **out)
    with np.load(path) as stored:
        return dict(stored)


def choose(p, normal="held", synthetic="syn", margin=MARGIN):
    """``(argmax weight, margin weight, synthetic AUCs per candidate)`` of one set: on the
    held-back images and their copies, or (``"seen"``, ``"seensyn"``) on as many training
    images the model was fitted on and their copies."""
    zg = np.r_[p[f"{normal}_zg"], p[f"{synthetic}_zg"]]
    zl = np.r_[p[f"{normal}_zl"], p[f"{synthetic}_zl"]]
    y = np.r_[np.zeros(len(p[f"{normal}_zg"]), bool), np.ones(len(p[f"{synthetic}_zg"]), bool)]
    weights = list(GLOBAL_SCORE_WEIGHTS)
    w_argmax, aucs = best_global_score_weight(zg, zl, y, weights)
    w_margin, _ = best_global_score_weight(zg, zl, y, weights, 1.0, margin)
    return w_argmax, w_margin, aucs


def test_auc(p, w):
    return roc_auc_score(p["test_y"], w * p["test_zg"] + p["test_zl"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", required=True)
    parser.add_argument("--jobs", type=int, default=2, help="fits side by side")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fit")
    parser.add_argument("--cache", required=True, help="folder for the fitted parts (npz)")
    parser.add_argument("--title", default="", help="what the sets are, for the heading")
    parser.add_argument("--size", type=int, default=64, help="validation crop side")
    parser.add_argument(
        "--variants", default="", help=f"other CutPaste settings to score: {list(VARIANTS)}"
    )
    parser.add_argument("--variant", default="", help="the one the rules use ('': the default)")
    parser.add_argument(
        "--margin", type=float, default=MARGIN, help="the margin rule's least gain"
    )
    parser.add_argument("--out", default=str(HERE / "results" / "synthetic_weight.md"))
    args = parser.parse_args(argv)
    specs = [s for s in args.sets.split(",") if s]
    variants = tuple(v for v in args.variants.split(",") if v)
    if set(variants) - set(VARIANTS) or args.variant and args.variant not in variants:
        parser.error(f"--variants must be among {list(VARIANTS)} and hold --variant")
    synthetic = f"syn_{args.variant}" if args.variant else "syn"
    start = time.perf_counter()
    parts = Parallel(n_jobs=args.jobs)(
        delayed(fit_set)(s, args.cache, args.threads, args.size, variants) for s in specs
    )
    seconds = time.perf_counter() - start
    weights = list(GLOBAL_SCORE_WEIGHTS)
    head = [
        "set",
        "w = 1 (default)",
        "w = 0",
        "best on test",
        "argmax: w",
        "argmax",
        "margin: w",
        "margin",
        "seen argmax: w",
        "seen argmax",
        "synthetic AUC per candidate " + str(weights),
    ]
    lines = [
        "",
        f"## {args.title or 'Synthetic-defect weight rules'} ({time.strftime('%Y-%m-%d')})",
        "",
        command_line(argv and ["benchmarks/synthetic_weight.py", *argv]),
        f"Machine: {platform.machine()}, {args.threads} torch thread(s) per fit, {args.jobs} "
        f"fits side by side, torch {torch.__version__}; {seconds:.0f} s in all.  ",
        f"Each fit on {1 - HOLDOUT:.0%} of the training images; {COPIES} CutPaste copies of "
        "each held-back image"
        + (f" ({args.variant}: {VARIANTS[args.variant]})" if args.variant else "")
        + f"; margin {args.margin}. Test ROC AUC.",
        "",
        "| " + " | ".join(head) + " |",
        "|---" * len(head) + "|",
    ]
    cols = {c: [] for c in ("default", "zero", "best", "argmax", "margin", "seen")}
    for spec, p in zip(specs, parts):
        w_a, w_m, aucs = choose(p, "held", synthetic, args.margin)
        w_s, _, _ = choose(p, "seen", "seensyn")
        test = {w: test_auc(p, w) for w in weights}
        row = dict(
            default=test[1.0],
            zero=test[0.0],
            best=max(test.values()),
            argmax=test[w_a],
            margin=test[w_m],
            seen=test[w_s],
        )
        for c, x in row.items():
            cols[c].append(x)
        cells = [
            f"{row['default']:.4f}",
            f"{row['zero']:.4f}",
            f"{row['best']:.4f}",
            f"{w_a:g}",
            f"{row['argmax']:.4f}",
            f"{w_m:g}",
            f"{row['margin']:.4f}",
            f"{w_s:g}",
            f"{row['seen']:.4f}",
            " / ".join(f"{a:.3f}" for a in aucs),
        ]
        lines.append(f"| {spec} (fit {float(p['fit_s']):.0f} s) | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    m = {c: np.mean(v) for c, v in cols.items()}
    lines.append(
        f"| **mean** | **{m['default']:.4f}** | **{m['zero']:.4f}** | **{m['best']:.4f}** | | "
        f"**{m['argmax']:.4f}** | | **{m['margin']:.4f}** | | **{m['seen']:.4f}** | |"
    )
    out = append_section(
        args.out, "Choosing global_score_weight on synthetic defects", "\n".join(lines) + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
