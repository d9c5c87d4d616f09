"""Train on the best-fitting share of a contaminated training set? (validation splits of
MNIST-5k and Fashion-MNIST only; nothing here was used to report a result)

With 10% of the training images anomalous (the paper's Table 5 "AC" condition,
``quality_mnist5k_ac10.md``) IGD loses about 0.03 mean AUC on MNIST-5k. Every training
image pulls on the models: the E-step's centre ``mu`` and scale ``sigma2`` (eq. 3) are
means over all the codes, and the loss (eq. 7) asks the trainable head to bring every
code, anomalies included, close to ``mu`` and the decoder to reconstruct them all. This
probe measures a trimmed fit, in the manner of a minimum covariance determinant
estimate's support (``EllipticEnvelope(support_fraction=...)``) and of the "refine"
baseline for contaminated training sets (Qiu et al., ICML 2022: drop the training samples
that score worst):

- ``loss``: each batch's autoencoder loss ``l_h + lambda2 * l_r`` is averaged over the
  ``--support`` share of its samples with the smallest loss (the critic's terms are
  unchanged); ``--support 1`` is the package's loss exactly;
- ``loss+estep``: also the E-step: ``mu`` is the mean of the ``--support`` share of the
  training codes closest to it (iterated from the mean of all, as the concentration
  steps of a minimum covariance determinant estimate, at most 20 times) and ``sigma2``
  their mean squared distance to it (the same floor);
- ``whiten``: the frozen ImageNet features' whitening (a PCA of their Ledoit-Wolf
  covariance, :func:`~sklearn_igd._pretrain.fit_whitening`) fitted again, up to
  three times, on the ``--support`` share of the training images whose whitened
  features lie closest to the mean (the anomalies' own directions otherwise get
  unit variance, which hides them from the Gaussian term: the masking of a
  contaminated Mahalanobis distance); ``whiten+loss+estep``: all three;
- ``default``: the package as it is.

``IGDDetector(support_fraction=s)``, added after this probe, is ``whiten+loss+estep`` at
support ``s``; the other variants trim one or two of the parts, set inside each fit's
process (:func:`trimmed`). Until commit d88376a the probe carried its own copies of the
three trimmed functions, which also trimmed the whitening inside the flip-invariance test
(``mirror_auc``); the package's does not. One fit compared (Fashion-MNIST class 0, seed 0,
10% anomalous, ``whiten+loss+estep`` at support 0.8) gave the same AUC and ``sigma2``
to the last digit with both. Each fit is ``IGDDetector(random_state=seed)`` on ``quality.py``'s
validation split (``--validation`` there: MNIST-5k's training half split again,
Fashion-MNIST's held-back training-split images; the test data is never read), with
anomalies moved from the scored images into the training set until a fraction
``--contamination`` of it is anomalous (each value of the comma-separated list is a
condition; 0: the clean training set, to see what trimming costs there).

    python benchmarks/trimmed_val.py --data mnist5k --classes 0,1,2,3,4,5,6,7,8,9 \\
        --contamination 0.1,0 --seeds 0 --jobs 2 --log /tmp/trim.jsonl --out /tmp/trim.md
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector, _pretrain
from sklearn_igd._losses import IGDLoss
from sklearn_igd._net import IGDNet

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import split  # noqa: E402

VARIANTS = ("default", "loss", "loss+estep", "whiten", "whiten+loss+estep")


@contextlib.contextmanager
def trimmed(variant, support):
    """Trim the parts named in ``variant`` to ``support`` for the duration of the block:
    the whitening of the frozen ImageNet features (``"whiten"``:
    :func:`~sklearn_igd._pretrain.imagenet_encoder`'s ``support``), each batch's loss
    (``"loss"``: :class:`~sklearn_igd._losses.IGDLoss`'s) and the E-step (``"estep"``:
    :class:`~sklearn_igd._net.IGDNet`'s). ``"default"`` trims nothing;
    ``"whiten+loss+estep"`` is ``IGDDetector(support_fraction=support)``."""
    saved = IGDLoss.forward, IGDNet.estep, _pretrain.imagenet_encoder
    forward, estep, imagenet_encoder = saved
    parts = set(variant.split("+"))

    def trimmed_forward(self, *args):
        self.support = support
        return forward(self, *args)

    def trimmed_estep(self, X):
        self.support = support
        return estep(self, X)

    def trimmed_encoder(*args, **kwargs):
        return imagenet_encoder(*args, **{**kwargs, "support": support})

    try:
        if "whiten" in parts:
            _pretrain.imagenet_encoder = trimmed_encoder
        if "loss" in parts:
            IGDLoss.forward = trimmed_forward
        if "estep" in parts:
            IGDNet.estep = trimmed_estep
        yield
    finally:
        IGDLoss.forward, IGDNet.estep, _pretrain.imagenet_encoder = saved


def run_one(data, cls, seed, variant, contamination, support, log=None, params=None):
    """One fit on the validation split, scored: a result dict (appended to ``log``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X_train, X_test, anomalous = split(data, cls, seed, contamination, validation=True)
        start = time.perf_counter()
        with trimmed(variant, support):
            det = IGDDetector(random_state=seed, **(params or {})).fit(X_train)
        parts = det.score_parts(X_test)
        seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    row = dict(
        data=data,
        cls=cls,
        seed=seed,
        variant=variant,
        contamination=contamination,
        support=support,
        auc=roc_auc_score(anomalous, parts.score),
        auc_l_r=roc_auc_score(anomalous, parts.global_reconstruction),
        auc_l_h=roc_auc_score(anomalous, parts.global_gaussian),
        sigma2=float(det.sigma2_),
        n_train=len(X_train),
        seconds=seconds,
    )
    print(
        f"{data} class {cls} seed {seed} c={contamination} {variant}: AUC {row['auc']:.4f} "
        f"({seconds:.0f} s)",
        flush=True,
    )
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(row) + "\n")
    return row


def table(rows, data, classes, seeds, variants, contamination):
    """Markdown lines for one condition: per class the mean AUC over seeds per variant,
    the mean, and each variant minus the default with the pairs above 0."""
    cell = {
        (r["variant"], r["cls"], r["seed"]): r
        for r in rows
        if r["data"] == data and r["contamination"] == contamination
    }
    head = "| variant | " + " | ".join(str(c) for c in classes)
    lines = [
        head + " | mean | minus default | pairs above default | mean AUC l_r | mean AUC l_h |",
        "|---" * (len(classes) + 6) + "|",
    ]
    pairs = [(c, s) for c in classes for s in seeds]
    for v in variants:
        if not all((v, c, s) in cell for c, s in pairs):
            continue
        per = [np.mean([cell[v, c, s]["auc"] for s in seeds]) for c in classes]
        diff = above = "-"
        if v != "default" and all(("default", c, s) in cell for c, s in pairs):
            d = [cell[v, c, s]["auc"] - cell["default", c, s]["auc"] for c, s in pairs]
            diff = f"{np.mean(d):+.4f}"
            above = f"{sum(x > 0 for x in d)}/{len(d)}"
        lr = np.mean([cell[v, c, s]["auc_l_r"] for c, s in pairs])
        lh = np.mean([cell[v, c, s]["auc_l_h"] for c, s in pairs])
        lines.append(
            f"| {v} | " + " | ".join(f"{a:.4f}" for a in per)
            + f" | **{np.mean(per):.4f}** | {diff} | {above} | {lr:.4f} | {lh:.4f} |"
        )  # fmt: skip
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["mnist5k", "fmnist"], default="mnist5k")
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--contamination", default="0.1,0")
    parser.add_argument("--support", type=float, default=0.9)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--params",
        default=None,
        help="extra IGDDetector parameters as a JSON object (a tiny test run)",
    )
    parser.add_argument("--log", default=None, help="JSON lines; fits already in it are not rerun")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if not 0 < args.support <= 1:
        parser.error(f"--support must be in (0, 1]; received {args.support}.")
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; expected some of {list(VARIANTS)}.")
    classes = [int(c) for c in args.classes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    conditions = [float(c) for c in args.contamination.split(",")]
    params = json.loads(args.params) if args.params else None
    t0 = time.perf_counter()
    done = []
    if args.log and Path(args.log).is_file():
        done = [json.loads(line) for line in open(args.log)]
        done = [r for r in done if r["data"] == args.data and r["support"] == args.support]
    have = {(r["cls"], r["seed"], r["variant"], r["contamination"]) for r in done}
    tasks = [
        (c, s, v, k)
        for k in conditions
        for s in seeds
        for c in classes
        for v in variants
        if (c, s, v, k) not in have
    ]
    rows = done + Parallel(n_jobs=args.jobs)(
        delayed(run_one)(args.data, c, s, v, k, args.support, args.log, params)
        for c, s, v, k in tasks
    )
    lines = [
        "# Trimmed training on contaminated training sets (validation)",
        "",
        "Command: `python benchmarks/trimmed_val.py "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        + "`  ",
        f"Machine: {platform.machine()}, torch {torch.__version__}, one torch thread per fit, "
        f"{args.jobs} fits at a time; {datetime.date.today()}; "
        f"{time.perf_counter() - t0:.0f} s (fits already in the log not rerun)  ",
        f"Data: `quality.py`'s validation split of {args.data} (the test data is not read); "
        f"support {args.support:g}; IGDDetector(random_state=seed)"
        + (f" with {params}" if params else "")
        + ".",
        "",
    ]
    for k in conditions:
        lines += [
            f"## Training sets {k:.0%} anomalous",
            "",
            *table(rows, args.data, classes, seeds, variants, k),
            "",
        ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return rows


if __name__ == "__main__":
    main()
