"""Does ``support_`` find the anomalies in a contaminated training set?

With ``support_fraction`` the global model's final E-step keeps the best-fitting share of
the training codes and ``IGDDetector.support_`` marks them, so ``X[~support_]`` are the
training images the model's description of normal data left out. This measures how many
of those are the anomalies planted in the training set (the paper's Table 5 "AC"
condition, as ``quality.py --contamination`` builds it: anomalies moved from the test
data into the training set until a fraction ``--contamination`` of it is anomalous), and
compares two ways of ranking the training images themselves:

- ``support_``: recall (share of the planted images left out) and precision (share of the
  left-out images that are planted). With 10% planted and 20% left out, a random mask has
  recall 0.2 and precision 0.1; a perfect one recall 1 and precision 0.5;
- the fitted detector's own score of its training images (``score_samples``), as a ROC
  AUC of the planted images against the rest, and the recall / precision of its lowest
  ``1 - support`` share;
- the peer: ``IsolationForest(random_state=seed)`` fitted on the same training set (raw
  pixels / 255), scored on it the same way.

The test AUC of each fit is written too; with the same seed it is the fit of
``quality_support_fraction.md``'s trimmed row (a check that the runs agree). Nothing here
chooses a design: it describes a fitted attribute.

    python benchmarks/support_mask.py --data mnist5k,fmnist --classes 0,1,2,3,4,5,6,7,8,9 \\
        --seeds 0 --jobs 2 --log /tmp/support.jsonl \\
        --out benchmarks/results/support_mask.md
"""

from __future__ import annotations

import argparse
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
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import split  # noqa: E402


def planted_mask(data, cls, seed, contamination, X_train):
    """Boolean mask (n,) of the training images that ``split`` moved in from the test data."""
    clean, _, _ = split(data, cls, seed)
    own = {x.tobytes() for x in clean}
    return np.array([x.tobytes() not in own for x in X_train])


def recall_precision(left_out, planted):
    """``(recall, precision)`` of the mask ``left_out`` for the ``planted`` images."""
    hit = int((left_out & planted).sum())
    return hit / max(1, int(planted.sum())), hit / max(1, int(left_out.sum()))


def worst(score, n):
    """Boolean mask of the ``n`` highest anomaly ``score`` values (ties broken by order)."""
    mask = np.zeros(len(score), dtype=bool)
    mask[np.argsort(-score, kind="stable")[:n]] = True
    return mask


def run_one(data, cls, seed, contamination, support, log=None, params=None):
    """One contaminated fit: a result dict (appended as a JSON line to ``log``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        X_train, X_test, anomalous = split(data, cls, seed, contamination)
        planted = planted_mask(data, cls, seed, contamination, X_train)
        start = time.perf_counter()
        det = IGDDetector(random_state=seed, support_fraction=support, **(params or {}))
        det.fit(X_train)
        seconds = time.perf_counter() - start
        train_score = -det.score_samples(X_train)
        test_auc = roc_auc_score(anomalous, -det.score_samples(X_test))
    finally:
        torch.set_num_threads(threads)
    flat = X_train.reshape(len(X_train), -1) / 255.0
    forest = IsolationForest(random_state=seed).fit(flat)
    forest_score = -forest.score_samples(flat)
    n_out = int((~det.support_).sum())
    row = dict(
        data=data,
        cls=cls,
        seed=seed,
        contamination=contamination,
        support=support,
        n_train=len(X_train),
        n_planted=int(planted.sum()),
        n_left_out=n_out,
        test_auc=test_auc,
        seconds=seconds,
    )
    row["mask_recall"], row["mask_precision"] = recall_precision(~det.support_, planted)
    row["score_auc"] = roc_auc_score(planted, train_score)
    row["score_recall"], row["score_precision"] = recall_precision(
        worst(train_score, n_out), planted
    )
    row["forest_auc"] = roc_auc_score(planted, forest_score)
    row["forest_recall"], row["forest_precision"] = recall_precision(
        worst(forest_score, n_out), planted
    )
    print(
        f"{data} class {cls} seed {seed}: support_ recall {row['mask_recall']:.3f} precision "
        f"{row['mask_precision']:.3f}, IsolationForest {row['forest_recall']:.3f} "
        f"({seconds:.0f} s)",
        flush=True,
    )
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(row) + "\n")
    return row


COLUMNS = (
    ("mask_recall", "support_ recall"),
    ("mask_precision", "support_ precision"),
    ("score_auc", "IGD score AUC"),
    ("score_recall", "IGD score recall"),
    ("forest_auc", "IsolationForest AUC"),
    ("forest_recall", "IsolationForest recall"),
    ("test_auc", "test AUC"),
)


def table(rows, data, classes):
    """Markdown lines: a row per class (means over seeds) and the mean row."""
    lines = [
        "| class | n train | planted | left out | " + " | ".join(t for _, t in COLUMNS) + " |",
        "|---" * (4 + len(COLUMNS)) + "|",
    ]
    per = {c: [r for r in rows if r["data"] == data and r["cls"] == c] for c in classes}
    per = {c: rs for c, rs in per.items() if rs}
    for c, rs in per.items():
        lines.append(
            f"| {c} | {rs[0]['n_train']} | {rs[0]['n_planted']} | {rs[0]['n_left_out']} | "
            + " | ".join(f"{np.mean([r[k] for r in rs]):.3f}" for k, _ in COLUMNS)
            + " |"
        )
    if per:
        every = [r for rs in per.values() for r in rs]
        lines.append(
            "| **mean** | | | | "
            + " | ".join(f"**{np.mean([r[k] for r in every]):.3f}**" for k, _ in COLUMNS)
            + " |"
        )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="mnist5k,fmnist")
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--contamination", type=float, default=0.1)
    parser.add_argument("--support", type=float, default=0.8)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--params", default=None, help="extra IGDDetector parameters as a JSON object"
    )
    parser.add_argument("--log", default=None, help="JSON lines; fits already in it are not rerun")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    datasets = args.data.split(",")
    unknown = sorted(set(datasets) - {"mnist5k", "fmnist"})
    if unknown:
        parser.error(f"unknown data {unknown}; expected some of ['mnist5k', 'fmnist'].")
    if not 0 < args.contamination < 0.5:
        parser.error(f"--contamination must be in (0, 0.5); received {args.contamination}.")
    if not 0 < args.support < 1:
        parser.error(f"--support must be in (0, 1); received {args.support}.")
    classes = [int(c) for c in args.classes.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    params = json.loads(args.params) if args.params else None
    t0 = time.perf_counter()
    done = []
    if args.log and Path(args.log).is_file():
        done = [json.loads(line) for line in open(args.log)]
        done = [
            r
            for r in done
            if r["support"] == args.support and r["contamination"] == args.contamination
        ]
    have = {(r["data"], r["cls"], r["seed"]) for r in done}
    tasks = [(d, c, s) for d in datasets for s in seeds for c in classes if (d, c, s) not in have]
    rows = done + Parallel(n_jobs=args.jobs)(
        delayed(run_one)(d, c, s, args.contamination, args.support, args.log, params)
        for d, c, s in tasks
    )
    lines = [
        "# Which training images `support_` leaves out",
        "",
        "Command: `python benchmarks/support_mask.py "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        + "`  ",
        f"Machine: {platform.machine()}, torch {torch.__version__}, one torch thread per fit, "
        f"{args.jobs} fits at a time; {datetime.date.today()}; "
        f"{time.perf_counter() - t0:.0f} s (fits already in the log not rerun)  ",
        f"Data: `quality.py`'s test protocol with {args.contamination:.0%} of each training "
        f"set anomalous; IGDDetector(random_state=seed, support_fraction={args.support:g})"
        + (f" with {params}" if params else "")
        + f"; IsolationForest(random_state=seed) on the training pixels; seeds {args.seeds}.",
        "",
        "Columns: 'left out' is `(~support_).sum()`; recall = share of the planted images "
        "left out, precision = share of the left-out images that are planted; 'IGD score' "
        "and 'IsolationForest' rank the training images by their own anomaly score (AUC "
        "of the planted images) and leave out as many as `support_` does (recall); "
        "'test AUC' is the fit's ROC AUC on the test images.",
        "",
    ]
    for d in datasets:
        lines += [f"## {d}", "", *table(rows, d, classes), ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return rows


if __name__ == "__main__":
    main()
