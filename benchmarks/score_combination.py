"""Other ways to combine the image score's two parts, from stored fits (validation data).

The default image score adds the global part and the local part (the mean of the highest
10% of the heatmap), each standardised by its mean and standard deviation over the
training images: ``z(s_G) + z(top 10%)``. On photographs with local defects the global
part is far above its training range on normal test crops too (it fits its 100 training
crops closely), and the top 10% alone ranks better; on the silhouettes the global part
carries the score. This script asks whether a way of combining the two parts that caps
what a part can add beyond its training range does better on every group, without any
new fit: it reads the parts that ``image_score.py`` and ``heatmap_reference.py`` stored
(``--parts``, default ``/tmp/igd_image_score``: ``parts_<texture>_<draw>.npz``,
``picture_<name>_<draw>.npz``, ``sil_<shape>_<seed>.npz``; each missing one is skipped,
and named) and ranks the test images by:

- ``z(G) + z(T)``: the default;
- ``z(T)``: the top 10% alone (``global_score_weight=0``);
- ``max(z(G), z(T))``: the larger part;
- ``tail(G) + tail(T)``: each part replaced by ``-log`` of its empirical tail
  probability among the training images, ``(1 + #{train >= s}) / (n + 1)``, which stops
  growing beyond the training maximum;
- ``tail*(G) + tail*(T)``: the same inside the training range, and beyond it the
  Gaussian tail of the part's z-score (whichever probability is smaller);
- ``z(G) + |z(T)|``: the top 10% two-sided (on some silhouettes the other shapes' top
  10% lies *below* the normal shape's: the triangle's corners are its largest errors);
- ``z(G)^2 + z(T)^2`` and the squared Mahalanobis distance of the pair ``(G, T)`` under
  a Gaussian fitted on the training images' pairs (so that a part's usual spread, and
  the parts' correlation, count, and an image off the pair's joint range counts in
  either direction).

    python benchmarks/score_combination.py [--parts /tmp/igd_image_score] [--size 64] [--out ...]

The data of each set is regenerated (``make_texture_defects`` with the stored draw; the
silhouettes of ``image_score.py``) to get its labels; seconds.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from heldout_pictures import load_picture  # noqa: E402
from image_score import silhouette_data, top  # noqa: E402

from sklearn_igd.datasets import make_texture_defects  # noqa: E402

#: the validation sets of ``heatmap_parts.md`` / ``picture_weights.md``: (group, name,
#: file stem, labels) with the labels made on demand.
TEXTURE_SETS = [(t, d) for d in (1, 2) for t in ("brick", "grass", "gravel")]
PICTURE_SETS = [(p, 1) for p in ("coins", "coffee", "rocket", "chelsea", "retina", "clock")]
SILHOUETTE_SETS = [("disk", 7), ("triangle", 7), ("square", 11), ("ellipse", 11)]


def z(train, test):
    """``test`` standardised by the mean and standard deviation of ``train``."""
    return (test - train.mean()) / train.std()


def tail(train, test):
    """``-log`` of the empirical tail probability of each ``test`` value among ``train``:
    at most ``log(n + 1)``."""
    above = len(train) - np.searchsorted(np.sort(train), test, side="left")
    return -np.log((above + 1) / (len(train) + 1))


def tail_gauss(train, test):
    """:func:`tail` inside the training range, the Gaussian tail of :func:`z` beyond it
    (the smaller of the two probabilities)."""
    above = len(train) - np.searchsorted(np.sort(train), test, side="left")
    p = np.minimum((above + 1) / (len(train) + 1), norm.sf(z(train, test)))
    return -np.log(np.maximum(p, 1e-300))


def pair_mahalanobis(g, t):
    """Squared Mahalanobis distance of each test pair ``(G, T)`` under the Gaussian of the
    training pairs; ``g`` and ``t`` are ``(train, test)``."""
    train, test = np.c_[g[0], t[0]], np.c_[g[1], t[1]]
    d = test - train.mean(0)
    return np.einsum("ij,jk,ik->i", d, np.linalg.pinv(np.cov(train.T)), d)


RULES = {
    "z(G) + z(T) (default)": lambda g, t: z(*g) + z(*t),
    "z(T)": lambda g, t: z(*t),
    "max(z(G), z(T))": lambda g, t: np.maximum(z(*g), z(*t)),
    "tail(G) + tail(T)": lambda g, t: tail(*g) + tail(*t),
    "tail*(G) + tail*(T)": lambda g, t: tail_gauss(*g) + tail_gauss(*t),
    "z(G) + |z(T)|": lambda g, t: z(*g) + np.abs(z(*t)),
    "z(G)^2 + z(T)^2": lambda g, t: z(*g) ** 2 + z(*t) ** 2,
    "Mahalanobis(G, T)": pair_mahalanobis,
}


def _defect_labels(source, draw, size=64):
    """``y_test == -1`` of the validation set of ``source`` (a texture name or a
    photograph) and ``draw``: 100 training and 300 test crops of ``size`` px."""
    data = make_texture_defects(source, n_train=100, n_test=300, size=size, random_state=draw)
    return data.y_test == -1


def sets(parts, size=64):
    """``(group, name, path, labels)`` of every stored set; ``labels()`` regenerates them
    (images of ``size`` px)."""
    for t, d in TEXTURE_SETS:
        path = parts / f"parts_{t}_{d}.npz"
        yield "textures", f"{t} {d}", path, lambda t=t, d=d: _defect_labels(t, d, size)
    for p, d in PICTURE_SETS:
        path = parts / f"picture_{p}_{d}.npz"
        yield (
            "photographs",
            f"{p} {d}",
            path,
            lambda p=p, d=d: _defect_labels(load_picture(p), d, size),
        )
    for s, seed in SILHOUETTE_SETS:
        path = parts / f"sil_{s}_{seed}.npz"
        yield (
            "silhouettes",
            f"{s} {seed}",
            path,
            lambda s=s, seed=seed: silhouette_data(seed, s, 200, 150, size)[2],
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="/tmp/igd_image_score")
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "score_combination.md")
    )
    parser.add_argument(
        "--size", type=int, default=64, help="the stored fits' image size (px), for the labels"
    )
    args = parser.parse_args(argv)
    aucs, groups, names, missing = {r: [] for r in RULES}, [], [], []
    for group, name, path, labels in sets(Path(args.parts), args.size):
        if not path.exists():
            missing.append(path.name)
            continue
        with np.load(path) as stored:
            side = stored["te_heatmap"].shape[-1]
            if side != args.size:
                parser.error(
                    f"{path.name} holds maps of {side} px, not --size {args.size}: "
                    f"rerun with --size {side}"
                )
            g = (stored["tr_global_score"].astype(float), stored["te_global_score"].astype(float))
            t = (top(stored["tr_heatmap"], 0.1), top(stored["te_heatmap"], 0.1))
        y = labels()
        groups.append(group)
        names.append(name)
        for rule, combine in RULES.items():
            aucs[rule].append(roc_auc_score(y, combine(g, t)))
    order = list(dict.fromkeys(groups))
    lines = [
        "",
        "## Combining the image score's parts: stored validation fits",
        "",
        command_line(argv and [sys.argv[0], *argv]),
        f"Machine: {platform.machine()}; parts from `{args.parts}`"
        + (f"; missing (skipped): {', '.join(missing)}" if missing else "")
        + ". Image ROC AUC, anomalies positive; means over each group's sets, and the "
        "smallest group mean.",
        "",
        "| image score | " + " | ".join(order) + " | smallest group mean |",
        "|---" * (len(order) + 2) + "|",
    ]
    for rule, values in aucs.items():
        means = [np.mean([v for v, g in zip(values, groups) if g == grp]) for grp in order]
        cells = " | ".join(f"{m:.4f}" for m in means)
        lines.append(f"| {rule} | {cells} | {min(means):.4f} |")
    lines += ["", "Per set:", "", "| image score | " + " | ".join(names) + " |"]
    lines.append("|---" * (len(names) + 1) + "|")
    for rule, values in aucs.items():
        lines.append(f"| {rule} | " + " | ".join(f"{v:.3f}" for v in values) + " |")
    text = "\n".join(lines) + "\n"
    append_section(args.out, "Combining the image score's parts (validation data)", text)
    print(text)
    return aucs


if __name__ == "__main__":
    main()
