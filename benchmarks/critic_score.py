"""Does the interpolation critic's output add to the anomaly score? (MNIST-5k validation)

The critic adds nothing to IGD's AUC through training (``quality_mnist5k.md``:
IGD = REC+GAC to 0.0007 per digit). This measures whether its *output* carries anomaly
information that the score ``s = l_r + l_h`` lacks. For each digit it fits the default
``IGDDetector(random_state=seed)`` on the validation split of ``quality.py --validation``
(the training half split again; the reported test half is never touched) and scores the
held-back images with:

- ``base``: the detector's own ``anomaly_score``;
- each critic output alone: ``d(x)``, ``d(x_hat)`` and ``d((x + x_hat) / 2)`` (the critic
  learns to answer 0 on mixes of an image with its reconstruction and ``alpha`` on
  decoded interpolations);
- ``z(s_G) + w * z(t)`` for ``t`` a critic output or its square, ``w`` in 0.25, 0.5, 1,
  each standardised by its mean and standard deviation over the training images.

    python benchmarks/critic_score.py --contamination 0.0,0.1 --seeds 0 --jobs 2

Writes ``benchmarks/results/critic_score.md``: per condition the mean AUC over digits of
each score and, for the combinations, the mean difference to ``base`` with its range
and the digits where it is higher.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from quality import split  # noqa: E402

TERMS = ("d_x", "d_xhat", "d_mix")
WEIGHTS = (0.25, 0.5, 1.0)
FORMS = {"raw": lambda v: v, "sq": np.square}


@torch.no_grad()
def critic_terms(det, X):
    """Per-image ``l_r``, ``l_h`` and critic outputs of the fitted global model (float64)."""
    Xp = det._prepare(X)
    module = det.net_.module_.eval()
    out = {k: [] for k in ("l_r", "l_h", *TERMS)}
    for i in range(0, len(Xp), 256):
        x = torch.from_numpy(Xp[i : i + 256])
        l_r, l_h = module.score_terms(x)
        _, x_hat = module(x)
        out["l_r"].append(l_r)
        out["l_h"].append(l_h)
        out["d_x"].append(module.critic(x))
        out["d_xhat"].append(module.critic(x_hat))
        out["d_mix"].append(module.critic(0.5 * x + 0.5 * x_hat))
    return {k: torch.cat(v).double().numpy() for k, v in out.items()}


def run(digit, seed, contamination, log=None):
    """One fit: the AUC of every score (a dict, appended to ``log`` as a JSON line)."""
    torch.set_num_threads(1)
    start = time.perf_counter()
    X_train, X_test, anomalous = split("mnist5k", digit, seed, contamination, validation=True)
    det = IGDDetector(random_state=seed).fit(X_train)
    row = dict(digit=digit, seed=seed, contamination=contamination)
    row["base"] = roc_auc_score(anomalous, det.anomaly_score(X_test))
    train, test = critic_terms(det, X_train), critic_terms(det, X_test)

    def z(values, reference):
        return (values - reference.mean()) / (reference.std() + 1e-12)

    s_test, s_train = test["l_r"] + test["l_h"], train["l_r"] + train["l_h"]
    for term in TERMS:
        row[term] = roc_auc_score(anomalous, test[term])
        for form, f in FORMS.items():
            for w in WEIGHTS:
                combined = z(s_test, s_train) + w * z(f(test[term]), f(train[term]))
                row[f"s+{w}*{term}_{form}"] = roc_auc_score(anomalous, combined)
    row["seconds"] = time.perf_counter() - start
    print(f"digit {digit} seed {seed} c {contamination}: base {row['base']:.4f}", flush=True)
    if log:
        with open(log, "a") as f:
            f.write(json.dumps(row) + "\n")
    return row


def table(rows):
    """Markdown lines for one condition's rows."""
    base = np.array([r["base"] for r in rows])
    lines = [
        "| score | mean AUC | minus base: mean | min | max | digits higher |",
        "|---|---|---|---|---|---|",
        f"| base (`anomaly_score`) | {base.mean():.4f} | | | | |",
    ]
    for term in TERMS:
        v = np.array([r[term] for r in rows])
        lines.append(f"| {term} alone | {v.mean():.4f} | | | | |")
    for term in TERMS:
        for form in FORMS:
            for w in WEIGHTS:
                v = np.array([r[f"s+{w}*{term}_{form}"] for r in rows])
                d = v - base
                lines.append(
                    f"| z(s) + {w} z({term}{'^2' if form == 'sq' else ''}) | {v.mean():.4f} "
                    f"| {d.mean():+.4f} | {d.min():+.4f} | {d.max():+.4f} "
                    f"| {int((d > 0).sum())}/{len(d)} |"
                )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--contamination", default="0.0,0.1")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--log", default=None, help="JSON-lines file; fits in it are not rerun")
    parser.add_argument("--out", default=str(HERE / "results" / "critic_score.md"))
    args = parser.parse_args(argv)
    digits = [int(d) for d in args.digits.split(",")]
    conts = [float(c) for c in args.contamination.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.perf_counter()
    done = []
    if args.log and Path(args.log).is_file():
        done = [json.loads(line) for line in open(args.log)]
    have = {(r["digit"], r["seed"], r["contamination"]) for r in done}
    tasks = [(d, s, c) for c in conts for s in seeds for d in digits if (d, s, c) not in have]
    rows = done + Parallel(n_jobs=args.jobs)(delayed(run)(*t, log=args.log) for t in tasks)
    lines = [
        "# The critic's output as a score term (MNIST-5k validation split)",
        "",
        f"Command: `python benchmarks/critic_score.py --digits {args.digits} "
        f"--contamination {args.contamination} --seeds {args.seeds} --jobs {args.jobs}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch "
        f"{torch.__version__}, one torch thread per fit  ",
        f"Date: {time.strftime('%Y-%m-%d')}; total {time.perf_counter() - t0:.0f} s  ",
        "Detector: `IGDDetector(random_state=seed)` (the defaults); scores of held-back "
        "training-half images (`quality.py --validation`'s split; the test half is not "
        "used). `z(.)`: standardised by the training images' mean and standard deviation; "
        "`s = l_r + l_h`.",
    ]
    for c in conts:
        sel = [r for r in rows if r["contamination"] == c and r["digit"] in digits]
        lines += ["", f"## Training sets {c:.0%} anomalous ({len(sel)} fits)", "", *table(sel)]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
