"""Does the same ``IGDDetector(random_state=seed)`` fit give the same model at another
BLAS or torch thread count?

Each fit runs in a fresh child process on the MNIST-5k validation split of
``quality.py`` (held-back training images; the test data is not used), once per setting:

- ``blas1``: ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` set to
  1 (as in a joblib worker), torch ``--torch-threads`` threads (``n_threads``);
- ``blas-default``: the same, with the BLAS libraries at their default thread count;
- ``torch+1``: the BLAS default and one more torch thread.

It writes the ROC AUC of the score and of the global model's two terms per setting: the
first two rows should agree to the last digit (numpy's steps do not change the model);
the third measures how much torch's own rounding moves a fit, as another seed would.

    python benchmarks/thread_reproducibility.py --digits 2,5 \\
        --out benchmarks/results/thread_reproducibility.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def measure(digit, variant, seed, threads):
    """AUCs of one fit on the validation split of ``digit``: :func:`quality.run`'s row
    (``auc`` of the score, ``auc_l_r`` and ``auc_l_h`` of the global terms alone)."""
    sys.path.insert(0, str(HERE))
    from quality import run

    return run("mnist5k", digit, seed, f"{variant}:n_threads={threads}", validation=True)


def child(args, digit, setting):
    """Run :func:`measure` in a fresh process with the setting's environment."""
    env = dict(os.environ)
    torch_threads = args.torch_threads + (setting == "torch+1")
    for var in BLAS_VARS:
        env.pop(var, None)
        if setting == "blas1":
            env[var] = "1"
    cmd = [sys.executable, __file__, "--child", str(digit), "--variant", args.variant]
    cmd += ["--seed", str(args.seed), "--torch-threads", str(torch_threads)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1]) | {"torch_threads": torch_threads}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", default="2,5")
    parser.add_argument("--variant", default="igd")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        print(json.dumps(measure(args.child, args.variant, args.seed, args.torch_threads)))
        return
    t0 = time.time()
    lines = [
        "| digit | setting | torch threads | AUC score | AUC `l_r` | AUC `l_h` |",
        "|---|---|---|---|---|---|",
    ]
    for digit in (int(d) for d in args.digits.split(",")):
        for setting in ("blas1", "blas-default", "torch+1"):
            r = child(args, digit, setting)
            row = f"| {digit} | {setting} | {r['torch_threads']} | {r['auc']:.6f} | "
            lines.append(row + f"{r['auc_l_r']:.6f} | {r['auc_l_h']:.6f} |")
            print(lines[-1], flush=True)
    import torch

    header = [
        f"# Thread counts and reproducibility ({args.variant}, seed {args.seed})",
        "",
        "Command: `python benchmarks/thread_reproducibility.py "
        + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
        + "`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), torch "
        f"{torch.__version__}  ",
        f"Date: {time.strftime('%Y-%m-%d')}; {time.time() - t0:.0f} s",
        "",
        "MNIST-5k validation split (held-back training images), one fresh process per row.",
        "",
    ]
    text = "\n".join(header + lines) + "\n"
    if args.out:
        Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
