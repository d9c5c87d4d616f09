"""Could ``support_fraction`` be chosen from the training images themselves? (validation
splits of MNIST-5k and Fashion-MNIST only; nothing here was used to report a result)

``IGDDetector(support_fraction=0.8)`` fits the whitening of the frozen ImageNet features,
the E-step and the loss to the best-fitting 80% of the training images: with 10% of them
anomalous it gains 0.017-0.038 mean AUC, with clean training sets it costs 0.003-0.005
(``quality_support_fraction.md``), so it is not the default. A rule that finds the share
from the data (as :class:`~sklearn.covariance.MinCovDet`'s reweighting step keeps the
points within a quantile of the robust distances) would trim little from a clean training
set and about the anomalies from a contaminated one, and could be the default. This
measures whether such a rule exists here, on the part of the model that trimming moves
most: the Gaussian term's core, the squared norm of the whitened frozen features (the
``whiten`` probe of ``trimmed_val.py``, which gave most of the full trimming's gain). The
whitening is :func:`~sklearn_igd._pretrain.fit_whitening` at the rule's share, with the
flip invariance that ``flip_invariant="auto"`` would resolve to; the score of an image is
its squared whitened norm; no network is trained.

Rules: ``all`` (the default, share 1), fixed shares 0.8 / 0.9 / 0.95, and cross-fitted
ones: each training image's squared distance from a whitening fitted on the other four
folds of five (out of fold, so that the images a fit was made on do not look closer than
the rest, which made in-sample rules on 125-1,000 images in 128 dimensions keep exactly
their starting share), kept when its logarithm is within ``z`` robust standard deviations
(1.4826 median absolute deviations) above the median of the kept ones; ``it3`` repeats
that on the kept images up to three times. The share kept is then passed to
:func:`fit_whitening` as ``support``.

The second table asks the question behind any such rule: among the training images of a
contaminated set, how well do those distances tell the moved anomalies from the normal
images (ROC AUC), and what share of each lies beyond the cutoff ``z = 2``.

    python benchmarks/support_rule_val.py --out benchmarks/results/support_rule_val.md
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

from sklearn_igd._pretrain import (
    FLIP_AUTO_MAX_AUC,
    compute_features,
    fit_whitening,
    load_teacher,
    mirror_auc,
)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _report import command_line  # noqa: E402
from quality import split  # noqa: E402

FIXED = (0.8, 0.9, 0.95)
ZS = (1.5, 2.0, 2.5, 3.0)
FOLDS = 5


def trunk_features(trunk, X, mirror=False):
    """The teacher trunk's features (n, d) of uint8 images ``X`` (n, 28, 28)."""
    x = torch.from_numpy(X[:, None].astype(np.float32) / 255)
    return compute_features(trunk, x, 256, "cpu", mirror=mirror)


def features_pair(trunk, X_train, X_test):
    """Training and scored features, each the mean with the mirror image's where
    ``flip_invariant="auto"`` would make them flip-invariant."""
    F_train, F_test = trunk_features(trunk, X_train), trunk_features(trunk, X_test)
    mirrored = trunk_features(trunk, X_train, mirror=True)
    if mirror_auc(F_train, mirrored) < FLIP_AUTO_MAX_AUC:
        F_train = 0.5 * (F_train + mirrored)
        F_test = 0.5 * (F_test + trunk_features(trunk, X_test, mirror=True))
    return F_train, F_test


def sq_norm(whitening, F):
    """Squared whitened norms (n,) of features ``F`` (n, d)."""
    with torch.no_grad():
        return whitening(F.float()).pow(2).sum(1).double().numpy()


def out_of_fold(F, fit_on):
    """Each row's squared whitened norm under a whitening fitted on the ``fit_on`` rows of
    the other folds (five folds, fixed shuffle)."""
    out = np.empty(F.shape[0])
    folds = KFold(FOLDS, shuffle=True, random_state=0).split(np.arange(F.shape[0]))
    for train, held in folds:
        out[held] = sq_norm(fit_whitening(F[np.intersect1d(train, fit_on)]), F[held])
    return out


def robust_z(log_d2, ref):
    """``(log_d2 - median) / (1.4826 MAD)``, median and MAD over the ``ref`` rows."""
    med = np.median(log_d2[ref])
    return (log_d2 - med) / (1.4826 * np.median(np.abs(log_d2[ref] - med)))


def cross_fitted_share(F, z, steps):
    """The share of rows within ``z`` robust standard deviations of out-of-fold log
    distances, the cut repeated on the kept rows up to ``steps`` times."""
    keep = np.arange(F.shape[0])
    for _ in range(steps):
        new = np.flatnonzero(robust_z(np.log(out_of_fold(F, keep)), keep) <= z)
        if np.array_equal(new, keep):
            break
        keep = new
    return len(keep) / F.shape[0]


def fixed_share(F, share):  # noqa: ARG001 - a rule's signature
    """A fixed share, whatever the features."""
    return share


def rules():
    """Name -> function of the training features giving the share to fit on."""
    out = {"all": partial(fixed_share, share=1.0)}
    out.update({f"fixed {s}": partial(fixed_share, share=s) for s in FIXED})
    for z in ZS:
        for steps in (1, 3):
            name = f"cross-fitted z {z}" + (", it3" if steps == 3 else "")
            out[name] = partial(cross_fitted_share, z=z, steps=steps)
    return out


def run(sets, log):
    trunk = load_teacher("efficientnet-lite0")
    named = rules()
    for data, cls, seed in sets:
        for contamination in (0.0, 0.1):
            X_train, X_test, anomalous, train_anomalous = split(
                data, cls, seed, contamination, validation=True, return_train_anomalous=True
            )
            F_train, F_test = features_pair(trunk, X_train, X_test)
            for name, rule in named.items():
                share = float(rule(F_train))
                auc = roc_auc_score(
                    anomalous, sq_norm(fit_whitening(F_train, support=share), F_test)
                )
                log.write(
                    json.dumps(
                        dict(
                            kind="rule",
                            data=data,
                            cls=cls,
                            seed=seed,
                            contamination=contamination,
                            rule=name,
                            share=share,
                            auc=auc,
                        )
                    )
                    + "\n"
                )
            print(f"{data} {cls} seed {seed} c={contamination} {time.strftime('%X')}", flush=True)
        # the last training set is the contaminated one: how well do the out-of-fold
        # distances tell its moved anomalies from its normal images?
        everyone = np.arange(len(F_train))
        log_d2 = np.log(out_of_fold(F_train, everyone))
        z = robust_z(log_d2, everyone)
        log.write(
            json.dumps(
                dict(
                    kind="inside",
                    data=data,
                    cls=cls,
                    seed=seed,
                    auc=roc_auc_score(train_anomalous, log_d2),
                    normal_beyond=float((z[~train_anomalous] > 2).mean()),
                    anomalous_beyond=float((z[train_anomalous] > 2).mean()),
                )
            )
            + "\n"
        )
        log.flush()


def report(rows):
    lines = []
    by = defaultdict(dict)
    for r in rows:
        if r["kind"] == "rule":
            by[(r["data"], r["contamination"], r["cls"], r["seed"])][r["rule"]] = r
    names = list(dict.fromkeys(r["rule"] for r in rows if r["kind"] == "rule"))
    lines += [
        "Mean ROC AUC of the squared whitened norm over the class-seed pairs; the paired "
        "difference from `all`, the pairs above it, and the share of training images the "
        "rule kept (mean, min-max).",
        "",
    ]
    for data in ("mnist5k", "fmnist"):
        for contamination in (0.0, 0.1):
            keys = sorted(k for k in by if k[:2] == (data, contamination))
            if not keys:
                continue
            label = "clean" if contamination == 0 else "10% anomalous"
            title = "MNIST-5k" if data == "mnist5k" else "Fashion-MNIST"
            lines += [
                f"### {title}, training sets {label} ({len(keys)} class-seed pairs)",
                "",
                "| rule | AUC | minus `all` | pairs above `all` | share kept |",
                "|---|---|---|---|---|",
            ]
            base = np.array([by[k]["all"]["auc"] for k in keys])
            for name in names:
                auc = np.array([by[k][name]["auc"] for k in keys])
                share = np.array([by[k][name]["share"] for k in keys])
                lines.append(
                    f"| {name} | {auc.mean():.4f} | {auc.mean() - base.mean():+.4f} | "
                    f"{int((auc > base + 1e-12).sum())}/{len(keys)} | {share.mean():.3f} "
                    f"({share.min():.3f}-{share.max():.3f}) |"
                )
            lines.append("")
    inside = [r for r in rows if r["kind"] == "inside"]
    if inside:
        lines += [
            "### Inside a 10% anomalous training set: out-of-fold distances",
            "",
            "| data | class | seed | ROC AUC, anomalies against normal images "
            "| normal images beyond z = 2 | anomalies beyond z = 2 |",
            "|---|---|---|---|---|---|",
        ]
        for r in inside:
            lines.append(
                f"| {r['data']} | {r['cls']} | {r['seed']} | {r['auc']:.3f} | "
                f"{r['normal_beyond']:.3f} | {r['anomalous_beyond']:.3f} |"
            )
        lines.append("")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-seeds", default="0")
    parser.add_argument("--fmnist-seeds", default="0,1")
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--log", default="/tmp/support_rule_val.jsonl")
    parser.add_argument("--out", default=str(HERE / "results" / "support_rule_val.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    classes = [int(c) for c in args.classes.split(",")]
    sets = [("mnist5k", c, int(s)) for s in args.mnist_seeds.split(",") for c in classes]
    sets += [("fmnist", c, int(s)) for s in args.fmnist_seeds.split(",") for c in classes]
    start = time.perf_counter()
    with open(args.log, "w") as log:
        run(sets, log)
    rows = [json.loads(line) for line in open(args.log)]
    lines = [
        "# Choosing `support_fraction` from the training images (validation)",
        "",
        command_line(argv if argv is None else ["benchmarks/support_rule_val.py", *argv]),
        f"Machine: {platform.machine()}, {args.threads} torch threads, "
        f"torch {torch.__version__}  ",
        f"Date: {time.strftime('%Y-%m-%d')}; total {time.perf_counter() - start:.0f} s  ",
        "Data: `quality.py`'s validation splits (MNIST-5k's training half split again; "
        "Fashion-MNIST's held-back training-split images), clean and with 10% of the "
        "training set anomalous (`--contamination 0.1` there). Script docstring: the rules.",
        "",
        *report(rows),
    ]
    Path(args.out).write_text("\n".join(lines).rstrip("\n") + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
