"""One-class AUC of the default IGDDetector, its ablations and pre-training options, and
the peers, on MNIST-5k and Fashion-MNIST, over several seeds.

Protocols (the test splits reported in the README):

- ``mnist5k``: the demo's: MNIST-5k split into stratified halves (``random_state=0``);
  train on the normal digit's ~250 images of one half, score the 2,500 of the other.
- ``fmnist``: the paper's Table 1 protocol at 1,000 training images per class: 1,000
  random training-split images of the normal class (``RandomState(seed)``), the whole
  test split (10,000 images, 10% normal).

Configurations (``--configs``), all ``IGDDetector(random_state=seed, ...)``:

- ``igd``: the defaults (frozen ImageNet encoder, ``max_epochs="auto"``);
- ``rec+gac`` / ``rec`` / ``mse``: ``variant=`` the paper's Table 5 ablations with the
  same encoder (``mse``: the autoencoder trained and scored with the squared error);
- ``scratch``: ``pretrain=None`` (the encoder trains with the rest);
- ``kd``: ``pretrain="kd"``;
- ``ssl``: ``pretrain="ssl"`` (SimCLR initialises the encoder, which then trains).

Peers: ``OneClassSVM()`` and ``IsolationForest(random_state=seed)`` on raw pixels / 255.

``--contamination c`` is the paper's Table 5 "AC" condition: anomalies drawn at random
(``RandomState(seed + 1000)``) from the test set's anomalies are removed from it and added to the
training images, so that a fraction ``c`` of the training set is anomalous. The ablation's
claim for the interpolation critic is strongest there (paper: +3.1% mean AUC on CIFAR10).

``--train-fraction f`` is the paper's Table 5 "ST" condition (small training set, 20% of
the training data): a random fraction ``f`` of the normal training images
(``RandomState(seed + 2000)``) is kept, the scored images are unchanged (paper: the
critic +3.7% mean AUC on CIFAR10 there). Applied before ``--contamination``.

``--validation`` never touches the reported test data. MNIST-5k: the training half is split
again into stratified halves (``random_state=1``); the normal digit's images of the first
are the training set and the second is scored. Fashion-MNIST: the same 1,000 training
images; scored are 500 other training-split images of the class and 500 of each other
class (:func:`fmnist_indices`). Designs are chosen there.

A configuration may add parameters to a base one, ``base:name=value:name=value`` (values
are Python literals), e.g. ``igd:lambda3=1.0``.

    python benchmarks/quality.py --data mnist5k --configs igd,rec+gac,rec --seeds 0,1,2
    python benchmarks/quality.py --data fmnist --configs igd --jobs 2
    python benchmarks/quality.py --configs igd,rec+gac,rec --contamination 0.1

Fits run ``--jobs`` at a time, one torch thread each; a ``--log`` row of an IGD fit also
records its ``flip_invariant_`` and ``flip_auc_``. Writes
``benchmarks/results/quality_<data>.md``: per class the mean AUC over seeds, and per
configuration the mean over classes with the spread over seeds (min-max of the
per-seed means) and a 95% t-interval of the per-seed means when there are 2+ seeds.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import shlex
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from scipy import stats
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.svm import OneClassSVM

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import fetch_fashion_mnist, load_mnist_5k

HERE = Path(__file__).resolve().parent
CONFIGS = {
    "igd": {},
    "rec+gac": {"variant": "rec+gac"},
    "rec": {"variant": "rec"},
    "mse": {"variant": "mse"},
    "scratch": {"pretrain": None},
    "kd": {"pretrain": "kd"},
    "ssl": {"pretrain": "ssl"},
}
PEERS = ("OneClassSVM", "IsolationForest")


def config_params(config):
    """``IGDDetector`` parameters (besides ``random_state``) of a configuration name."""
    base, *extra = config.split(":")
    params = dict(CONFIGS[base])
    for item in extra:
        name, value = item.split("=", 1)
        params[name] = ast.literal_eval(value)
    return params


def shell_word(text):
    """``text`` as one word of a shell command line (``'`` inside double quotes, which
    ``base:name='value'`` configurations need)."""
    if "'" in text and not any(c in text for c in '"$`\\!'):
        return f'"{text}"'
    return shlex.quote(text)


def fmnist_indices(target, cls, seed, validation=False, n_train=1000, n_val=500):
    """Fashion-MNIST training-split indices ``(train, held)`` for class ``cls``: the
    ``n_train`` training images (``RandomState(seed)``) and, with ``validation``, held-back
    training-split images to score instead of the test split (else None): ``n_val``
    images of ``cls`` not among the training ones and ``n_val`` of each other class,
    drawn with ``RandomState(500 + seed)``."""
    idx = np.flatnonzero(target == cls)
    pick = np.random.RandomState(seed).choice(idx, n_train, replace=False)
    if not validation:
        return pick, None
    rng = np.random.RandomState(500 + seed)
    held = [rng.choice(np.setdiff1d(idx, pick), n_val, replace=False)]
    for other in np.unique(target):
        if other != cls:
            held.append(rng.choice(np.flatnonzero(target == other), n_val, replace=False))
    return pick, np.concatenate(held)


def split(
    data,
    cls,
    seed,
    contamination=0.0,
    validation=False,
    train_fraction=1.0,
    *,
    return_train_anomalous=False,
):
    """``(X_train, X_test, anomalous)`` of class ``cls`` as normal; with
    ``train_fraction < 1``, that fraction of the training images; with
    ``contamination > 0``, test anomalies moved into the training set, and with
    ``validation``, both from the training data (module docstring). With
    ``return_train_anomalous``, a fourth item: which training images are the moved
    anomalies (all False without contamination)."""
    if data == "mnist5k":
        X, y = load_mnist_5k(return_X_y=True)
        X_a, X_b, y_a, y_b = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
        if validation:
            X_a, X_b, y_a, y_b = train_test_split(
                X_a, y_a, test_size=0.5, stratify=y_a, random_state=1
            )
        X_train, X_test, anomalous = X_a[y_a == cls], X_b, y_b != cls
    else:
        train = fetch_fashion_mnist(subset="train")
        pick, held = fmnist_indices(train.target, cls, seed, validation)
        X_train = train.images[pick]
        if validation:
            X_test, anomalous = train.images[held], train.target[held] != cls
        else:
            test = fetch_fashion_mnist(subset="test")
            X_test, anomalous = test.images, test.target != cls
    if train_fraction < 1:
        n_keep = max(2, round(train_fraction * len(X_train)))
        keep = np.random.RandomState(seed + 2000).choice(len(X_train), n_keep, replace=False)
        X_train = X_train[np.sort(keep)]
    train_anomalous = np.zeros(len(X_train), bool)
    if contamination > 0:
        n_add = round(contamination * len(X_train) / (1 - contamination))
        rng = np.random.RandomState(seed + 1000)
        moved = rng.choice(np.flatnonzero(anomalous), n_add, replace=False)
        keep = np.setdiff1d(np.arange(len(X_test)), moved)
        X_train = np.concatenate([X_train, X_test[moved]])
        train_anomalous = np.r_[train_anomalous, np.ones(n_add, bool)]
        order = rng.permutation(len(X_train))
        X_train, train_anomalous = X_train[order], train_anomalous[order]
        X_test, anomalous = X_test[keep], anomalous[keep]
    if return_train_anomalous:
        return X_train, X_test, anomalous, train_anomalous
    return X_train, X_test, anomalous


def run(
    data, cls, seed, config, log=None, contamination=0.0, validation=False, train_fraction=1.0
):
    """One fit and score: a result dict (appended as a JSON line to ``log`` if given)."""
    torch.set_num_threads(1)
    X_train, X_test, anomalous = split(data, cls, seed, contamination, validation, train_fraction)
    start = time.perf_counter()
    if config in PEERS:
        flat = lambda X: X.reshape(len(X), -1) / 255.0  # noqa: E731
        est = OneClassSVM() if config == "OneClassSVM" else IsolationForest(random_state=seed)
        score = -est.fit(flat(X_train)).decision_function(flat(X_test))
    else:
        det = IGDDetector(random_state=seed, **config_params(config)).fit(X_train)
        parts = det.score_parts(X_test)
        score = parts.score
    auc = roc_auc_score(anomalous, score)
    seconds = time.perf_counter() - start
    print(f"{data} class {cls} seed {seed} {config}: AUC {auc:.4f} ({seconds:.0f} s)", flush=True)
    row = dict(data=data, cls=cls, seed=seed, config=config, auc=auc, seconds=seconds)
    row["n_train"] = len(X_train)
    if config not in PEERS:
        row["flip_invariant"] = bool(det.flip_invariant_)
        row["flip_auc"] = det.flip_auc_
        # each global term alone, and its spread on the test images: which one the
        # sum s_G = l_r + l_h follows (terms_summary)
        for name, term in (("l_r", parts.global_reconstruction), ("l_h", parts.global_gaussian)):
            row[f"auc_{name}"] = roc_auc_score(anomalous, term)
            row[f"sd_{name}"] = float(np.std(term))
    if contamination:
        row["contamination"] = contamination
    if validation:
        row["validation"] = True
    if train_fraction < 1:
        row["train_fraction"] = train_fraction
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(row) + "\n")
    return row


def mean_ci(per_seed, fmt=".4f"):
    """The mean of the per-seed values and its 95% t interval as text (``fmt`` for each
    bound), or ``"(one seed)"``."""
    mean = float(np.mean(per_seed))
    if len(per_seed) < 2:
        return mean, "(one seed)"
    half = stats.t.ppf(0.975, len(per_seed) - 1) * stats.sem(per_seed)
    return mean, f"[{mean - half:{fmt}}, {mean + half:{fmt}}]"


def summary(rows, classes, configs, seeds):
    """Markdown table lines: per-class means and the mean with its spread over seeds."""
    lines = [
        "| configuration | " + " | ".join(str(c) for c in classes)
        + " | mean | per-seed means (min-max) | 95% CI of the mean | s per fit |",
        "|---" * (len(classes) + 5) + "|",
    ]  # fmt: skip
    for config in configs:
        auc = {(r["cls"], r["seed"]): r["auc"] for r in rows if r["config"] == config}
        per_class = [np.mean([auc[(c, s)] for s in seeds]) for c in classes]
        per_seed = [np.mean([auc[(c, s)] for c in classes]) for s in seeds]
        mean, ci = mean_ci(per_seed)
        secs = np.mean([r["seconds"] for r in rows if r["config"] == config])
        lines.append(
            f"| {config} | " + " | ".join(f"{a:.4f}" for a in per_class)
            + f" | **{mean:.4f}** | {min(per_seed):.4f}-{max(per_seed):.4f} | {ci} | {secs:.0f} |"
        )  # fmt: skip
    return lines


#: The paper's Table 5 steps: (with, without) the component, as configuration names.
ABLATION_STEPS = (
    ("MS-SSIM + MAE instead of the squared error", "rec", "mse"),
    ("the Gaussian classifier", "rec+gac", "rec"),
    ("the interpolation critic", "igd", "rec+gac"),
    ("both", "igd", "rec"),
)


def variant_groups(configs):
    """The detector configurations grouped by everything but their ``variant``:
    ``{other parameters: {variant: configuration name}}`` (the first name of each)."""
    groups = {}
    for config in configs:
        if config in PEERS:
            continue
        params = config_params(config)
        variant = params.pop("variant", "igd")
        key = tuple(sorted((name, repr(value)) for name, value in params.items()))
        groups.setdefault(key, {}).setdefault(variant, config)
    return groups


def paired_summary(rows, classes, configs, seeds):
    """Markdown table lines: for each ablation step whose two variants were run with the
    same other parameters (``rec`` and ``rec+gac``, or ``scratch:variant='rec'`` and
    ``scratch``), the paired difference of their AUCs (per seed the mean over classes; a
    t interval over the seeds when there are 2+) and how many (class, seed) pairs it is
    above 0."""
    lines = [
        "| difference | mean | 95% CI | per seed | (class, seed) pairs above 0 |",
        "|---|---|---|---|---|",
    ]
    auc = {(r["config"], r["cls"], r["seed"]): r["auc"] for r in rows}
    for key, named in variant_groups(configs).items():
        for what, a, b in ABLATION_STEPS:
            if a not in named or b not in named:
                continue
            label = f"{a.upper()} - {b.upper()}" if not key else f"{named[a]} - {named[b]}"
            diff = {
                (c, s): auc[(named[a], c, s)] - auc[(named[b], c, s)]
                for c in classes
                for s in seeds
            }
            per_seed = [np.mean([diff[(c, s)] for c in classes]) for s in seeds]
            mean, ci = mean_ci(per_seed, "+.4f")
            above = sum(d > 0 for d in diff.values())
            lines.append(
                f"| {label} ({what}) | {mean:+.4f} | {ci} | "
                + " / ".join(f"{d:+.4f}" for d in per_seed) + f" | {above} / {len(diff)} |"
            )  # fmt: skip
    return lines if len(lines) > 2 else []


def terms_summary(rows, classes, configs, seeds):
    """Markdown table lines: per configuration, the mean over classes and seeds of each
    global term's own ROC AUC and of its standard deviation over the test images (rows
    of detector fits that recorded them)."""
    lines = [
        "| configuration | " + " | ".join(f"{c}: l_r / l_h" for c in classes)
        + " | mean AUC l_r | mean AUC l_h | mean sd l_r | mean sd l_h |",
        "|---" * (len(classes) + 5) + "|",
    ]  # fmt: skip
    for config in configs:
        got = [r for r in rows if r["config"] == config and "auc_l_r" in r and r["seed"] in seeds]
        if len(got) < len(classes) * len(seeds):
            continue
        cell = {
            c: [np.mean([r[f"auc_{t}"] for r in got if r["cls"] == c]) for t in ("l_r", "l_h")]
            for c in classes
        }
        means = [np.mean([r[k] for r in got]) for k in ("auc_l_r", "auc_l_h", "sd_l_r", "sd_l_h")]
        lines.append(
            f"| {config} | " + " | ".join(f"{cell[c][0]:.4f} / {cell[c][1]:.4f}" for c in classes)
            + " | " + " | ".join(f"{m:.4f}" for m in means) + " |"
        )  # fmt: skip
    return lines if len(lines) > 2 else []


def n_train_text(rows):
    """The range of training-set sizes in ``rows`` that recorded one, as text."""
    sizes = [r["n_train"] for r in rows if "n_train" in r]
    if not sizes:
        return "size not recorded"
    return f"{min(sizes)}" if min(sizes) == max(sizes) else f"{min(sizes)}-{max(sizes)}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["mnist5k", "fmnist"], default="mnist5k")
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--configs", default="igd,rec+gac,rec")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument(
        "--validation",
        action="store_true",
        help="score held-back training images instead of the test data",
    )
    parser.add_argument(
        "--contamination",
        type=float,
        default=0.0,
        help="fraction of anomalies in the training set, moved there from the test set",
    )
    parser.add_argument(
        "--train-fraction",
        type=float,
        default=1.0,
        help="fraction of the normal training images kept (the paper's small training set: 0.2)",
    )
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--log",
        default=None,
        help="JSON-lines file of results: each fit is appended as it ends, fits already "
        "in it are not rerun, and the table is built from all of them",
    )
    args = parser.parse_args(argv)
    if not 0 < args.train_fraction <= 1:
        parser.error(f"--train-fraction must be in (0, 1]; received {args.train_fraction}.")
    classes = [int(c) for c in args.classes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    configs = args.configs.split(",") + ([] if args.no_peers else list(PEERS))
    t0 = time.perf_counter()
    done = []
    if args.log and Path(args.log).is_file():
        done = [json.loads(line) for line in open(args.log)]
        done = [
            r for r in done
            if r["data"] == args.data and r.get("contamination", 0.0) == args.contamination
            and r.get("validation", False) == args.validation
            and r.get("train_fraction", 1.0) == args.train_fraction
        ]  # fmt: skip
    have = {(r["cls"], r["seed"], r["config"]) for r in done}
    tasks = [(args.data, c, s, k) for k in configs for c in classes for s in seeds
             if (c, s, k) not in have]  # fmt: skip
    rows = done + Parallel(n_jobs=args.jobs)(
        delayed(run)(
            *t,
            log=args.log,
            contamination=args.contamination,
            validation=args.validation,
            train_fraction=args.train_fraction,
        )
        for t in tasks
    )
    tag = f"_st{round(100 * args.train_fraction)}" if args.train_fraction < 1 else ""
    tag += f"_ac{round(100 * args.contamination)}" if args.contamination else ""
    tag += "_val" if args.validation else ""
    out = Path(args.out or HERE / "results" / f"quality_{args.data}{tag}.md")
    lines = [
        f"# One-class AUC on {args.data}: defaults, ablations, pre-training, peers",
        "",
        f"Command: `python benchmarks/quality.py --data {args.data} --classes {args.classes} "
        f"--configs {shell_word(args.configs)} --seeds {args.seeds} --jobs {args.jobs}"
        f"{' --no-peers' if args.no_peers else ''}"
        f"{f' --train-fraction {args.train_fraction}' if args.train_fraction < 1 else ''}"
        f"{f' --contamination {args.contamination}' if args.contamination else ''}"
        f"{' --validation' if args.validation else ''}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch "
        f"{torch.__version__}, one torch thread per fit, {args.jobs} fits at a time  ",
        f"Date: {time.strftime('%Y-%m-%d')}; total {time.perf_counter() - t0:.0f} s  ",
        "Configurations: "
        + "; ".join(
            f"{k} = IGDDetector("
            + ", ".join(
                ["random_state=seed"] + [f"{a}={v!r}" for a, v in config_params(k).items()]
            )
            + ")"
            for k in configs
            if k not in PEERS
        ),  # fmt: skip
        "",
        "ROC AUC, anomalies positive; per class the mean over seeds."
        + (
            " Validation: held-back training images (the test data is not used)."
            if args.validation
            else ""
        )
        + (
            f" Training sets {args.contamination:.0%} anomalous (moved from the test set)."
            if args.contamination
            else ""
        )
        + (
            f" Small training sets: {args.train_fraction:.0%} of the normal training images"
            f" ({n_train_text(rows)} per fit)."
            if args.train_fraction < 1
            else ""
        ),
        "",
        *summary(rows, classes, configs, seeds),
    ]
    paired = paired_summary(rows, classes, configs, seeds)
    if paired:
        lines += [
            "",
            "Paired over the same classes and seeds (mean over the classes per seed, t "
            "interval over the seeds):",
            "",
            *paired,
        ]
    terms = terms_summary(rows, classes, configs, seeds)
    if terms:
        lines += [
            "",
            "The global model's two terms alone (ROC AUC of `l_r` and of `l_h` on the scored "
            "images, per class the mean over seeds) and their standard deviations over those "
            "images: the sum `s_G = l_r + l_h` follows the term with the larger spread.",
            "",
            *terms,
        ]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
