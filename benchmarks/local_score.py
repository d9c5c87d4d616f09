"""Image ROC AUC of candidate image scores of the global + local model on texture defects.

Fits ``IGDDetector`` with its defaults (64 px crops: the local model is on) on the normal
crops of ``make_texture_defects`` for each texture and validation draw (``random_state``
of the data: 1, 2, ... never the tests' and demos' 0), then ranks the test crops by
candidate image scores computed from the same fitted models:

- ``global``: the global model's ``s_G = l_r + l_h`` alone;
- ``local worst patch``: eq. 15, the worst patch's ``l_r + l_h``; ``... l_r`` / ``... l_h``:
  the worst patch of each term alone;
- ``local heatmap max``: the maximum over the pixels of the local model's part of the
  (balanced, smoothed) heatmap;
- ``mean-scaled: G + worst patch``: each part divided by its training mean, then added
  (the package's score before ``local_score`` existed); ``mean-scaled: G + heatmap max``;
- ``standardised: G + worst patch`` / ``standardised: G + heatmap max``: each part minus
  its training mean, divided by its training standard deviation, then added (the
  latter is the default, ``local_score="heatmap_max"``).

    python benchmarks/local_score.py --draws 1,2 --epochs 5
    python benchmarks/local_score.py --timing --draws 1 --epochs 1

``--timing`` instead measures what each ``local_score`` costs: one detector fitted on
brick, then the best of 3 ``anomaly_score`` passes over the test crops with each setting
(the same fitted models; the scales are not refitted, only the time matters).

Appends a section to ``benchmarks/results/local_score.md`` with the command, the machine
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

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402

HERE = Path(__file__).resolve().parent
TEXTURES = ("brick", "grass", "gravel")


def patch_terms(det, images, batch=16):
    """Per-patch ``(l_r, l_h)`` of the local model, two float64 arrays (n, P)."""
    X = torch.as_tensor(det._prepare(images))
    local = det._scorer().local_model.eval()
    out = []
    with torch.inference_mode():
        for start in range(0, len(X), batch):
            out.append([t.double().numpy() for t in local.score_terms(X[start : start + batch])])
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


def candidate_scores(det, images_train, images_test):
    """``{name: (n_test,) score}`` of every candidate, from one fitted detector."""
    parts = {}
    for name, images in (("train", images_train), ("test", images_test)):
        p = det.score_parts(images, heatmap=True)
        p_r, p_h = patch_terms(det, images)
        parts[name] = {
            "global": p.global_score,
            "worst patch": (p_r + p_h).max(axis=1),
            "worst l_r": p_r.max(axis=1),
            "worst l_h": p_h.max(axis=1),
            "heatmap max": p.local_heatmap.max(axis=(1, 2)),
            "score": p.score,
        }
    tr, te = parts["train"], parts["test"]

    def mean_scaled(key):
        return te[key] / tr[key].mean()

    def standardised(key):
        return (te[key] - tr[key].mean()) / tr[key].std()

    return {
        "global": te["global"],
        "local worst patch (eq. 15)": te["worst patch"],
        "local worst patch l_r": te["worst l_r"],
        "local worst patch l_h": te["worst l_h"],
        "local heatmap max": te["heatmap max"],
        "mean-scaled: G + worst patch (before)": mean_scaled("global")
        + mean_scaled("worst patch"),
        "mean-scaled: G + heatmap max": mean_scaled("global") + mean_scaled("heatmap max"),
        "standardised: G + worst patch": standardised("global") + standardised("worst patch"),
        "standardised: G + heatmap max (default)": standardised("global")
        + standardised("heatmap max"),
        "_default": te["score"],
    }


def timing(args):
    """Markdown lines: seconds and images/s of ``anomaly_score`` for each ``local_score``."""
    data = make_texture_defects(
        "brick", n_train=args.n_train, n_test=args.n_test, size=args.size, random_state=1
    )
    det = IGDDetector(max_epochs=args.epochs, random_state=0).fit(data.images_train)
    lines = ["| local_score | best of 3 (s) | images/s |", "|---|---|---|"]
    for local_score in ("worst_patch", "heatmap_max"):
        det.local_score = local_score
        best = np.inf
        for _ in range(3):
            start = time.perf_counter()
            det.anomaly_score(data.images_test)
            best = min(best, time.perf_counter() - start)
        lines.append(f"| {local_score} | {best:.2f} | {args.n_test / best:.0f} |")
        print(lines[-1], flush=True)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", default="1,2")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "local_score.md"))
    parser.add_argument("--timing", action="store_true")
    args = parser.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    if 0 in draws:
        parser.error("draw 0 is the tests' and demos' data; choose on other draws")
    torch.set_num_threads(2)
    if args.timing:
        lines = [
            "",
            f"## Scoring time of each local_score ({args.size} px, {args.n_test} test crops)",
            "",
            command_line(),
            f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch "
            f"{torch.__version__}; {time.strftime('%Y-%m-%d')}.  ",
            "One detector fitted on brick (draw 1); `anomaly_score` over the test crops with "
            "each setting of the same fitted models.",
            "",
            *timing(args),
        ]
        with Path(args.out).open("a") as f:
            f.write("\n".join(lines) + "\n")
        return
    columns, results, seconds = [], {}, 0.0
    for draw in draws:
        for texture in TEXTURES:
            data = make_texture_defects(
                texture,
                n_train=args.n_train,
                n_test=args.n_test,
                size=args.size,
                random_state=draw,
            )
            start = time.perf_counter()
            det = IGDDetector(max_epochs=args.epochs, random_state=0).fit(data.images_train)
            scores = candidate_scores(det, data.images_train, data.images_test)
            seconds += time.perf_counter() - start
            default = scores.pop("_default")
            np.testing.assert_allclose(
                default, scores["standardised: G + heatmap max (default)"], rtol=1e-6
            )
            anomalous = data.y_test == -1
            column = f"{texture} {draw}"
            columns.append(column)
            for name, score in scores.items():
                results.setdefault(name, {})[column] = roc_auc_score(anomalous, score)
            results.setdefault("(pixel AUROC of the heatmap)", {})[column] = pixel_roc_auc(
                data.masks_test, det.predict_heatmap(data.images_test)
            )
            print(column, {k: round(v[column], 4) for k, v in results.items()}, flush=True)
    lines = [
        "",
        f"## {args.size} px, {args.n_train} training crops, {args.n_test} test crops, "
        f"{args.epochs} epochs, draws {args.draws}",
        "",
        command_line(),
        f"Machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch "
        f"{torch.__version__}; {time.strftime('%Y-%m-%d')}; {seconds:.0f} s of fitting "
        "and scoring.  ",
        "Detector: `IGDDetector(max_epochs=EPOCHS, random_state=0)`, otherwise the defaults "
        "(frozen ImageNet encoder, local model, balanced heatmap smoothed by `min(H, W) / "
        "16` px). Image ROC AUC, defective crops positive.",
        "",
        "| image score | " + " | ".join(columns) + " | mean |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for name, row in results.items():
        values = [row[c] for c in columns]
        lines.append(
            f"| {name} | " + " | ".join(f"{v:.4f}" for v in values)
            + f" | **{np.mean(values):.4f}** |"
        )  # fmt: skip
    append_section(args.out, "The local model's part of the image score", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
