"""Spread of the quality tests' measurements over seeds and torch thread counts.

Reruns the quality tests (``tests/test_quality.py``, ``tests/test_localisation_quality.py``)
with ``SKLEARN_IGD_TEST_SEED`` = 0..4 and ``SKLEARN_IGD_TEST_THREADS`` = 1 and 2, collects
every value the tests record with their ``measured`` fixture, and writes the minimum,
maximum, mean and range of each to ``benchmarks/results/quality_spread.md``, with the runs
whose assertions failed. A test's threshold must sit below the minimum by more than the
range.

    python benchmarks/quality_spread.py [--seeds 0,1,2,3,4] [--threads 1,2] [--jobs 2]
    python benchmarks/quality_spread.py --tests tests/test_localisation_quality.py \
        --out benchmarks/results/quality_spread_localisation.md

One-thread runs go ``--jobs`` at a time (each uses one core); multi-thread runs one at a
time.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_quality.py", "tests/test_localisation_quality.py"]


def run_once(seed, threads, log, tests=TESTS):
    """One pytest run of the quality tests; returns (seed, threads, seconds, failures)."""
    env = dict(
        os.environ,
        SKLEARN_IGD_TEST_SEED=str(seed),
        SKLEARN_IGD_TEST_THREADS=str(threads),
        OMP_NUM_THREADS=str(threads),
        SKLEARN_IGD_QUALITY_LOG=str(log),
    )
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *tests]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    failed = [line.split(" - ")[0][len("FAILED ") :] for line in proc.stdout.splitlines()
              if line.startswith("FAILED ")]  # fmt: skip
    seconds = time.perf_counter() - start
    print(f"seed {seed} threads {threads}: {seconds:.0f} s, failed {failed}", flush=True)
    return seed, threads, seconds, failed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--tests", default=",".join(TESTS), help="comma-separated test files")
    parser.add_argument(
        "--out", default=str(ROOT / "benchmarks" / "results" / "quality_spread.md")
    )
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    thread_counts = [int(t) for t in args.threads.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="quality_spread_"))
    t0 = time.perf_counter()
    runs = []
    tests = args.tests.split(",")
    single = [(s, 1, tmp / f"s{s}_t1.jsonl", tests) for s in seeds if 1 in thread_counts]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs += list(pool.map(lambda a: run_once(*a), single))
    for t in thread_counts:
        if t != 1:
            runs += [run_once(s, t, tmp / f"s{s}_t{t}.jsonl", tests) for s in seeds]
    rows = [json.loads(line) for f in sorted(tmp.glob("*.jsonl")) for line in open(f)]
    values = collections.defaultdict(list)
    for r in rows:
        test = r["test"].split("::", 1)[1]
        values[(r["test"].split("::")[0], test, r["name"])].append(
            (r["seed"], r["threads"], r["value"])
        )
    lines = [
        "# Spread of the quality tests' measurements",
        "",
        f"Command: `python benchmarks/quality_spread.py --seeds {args.seeds} --threads "
        f"{args.threads} --jobs {args.jobs}"
        + ("" if tests == TESTS else f" --tests {args.tests} --out {args.out}")
        + "`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), {platform.processor()}  ",
        f"Date: {time.strftime('%Y-%m-%d')}; {len(runs)} runs, total "
        f"{time.perf_counter() - t0:.0f} s wall  ",
        "Each test's threshold must sit below the minimum here by more than the range.",
        "",
        "| file | test | measurement | n | min | max | mean | range | per (seed, threads) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (path, test, name), vals in sorted(values.items()):
        v = np.array([x[2] for x in vals])
        per = ", ".join(f"{s}/{t}: {x:.3f}" for s, t, x in sorted(vals))
        lines.append(
            f"| {Path(path).name} | `{test}` | {name} | {len(v)} | {v.min():.4f} | "
            f"{v.max():.4f} | {v.mean():.4f} | {np.ptp(v):.4f} | {per} |"
        )
    lines += ["", "| seed | threads | seconds | failed tests |", "|---|---|---|---|"]
    for seed, threads, seconds, failed in sorted(runs):
        lines.append(f"| {seed} | {threads} | {seconds:.0f} | {', '.join(failed) or 'none'} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
