"""Fit time of the feature map (``fit_feature_map``) per method, on the CPU.

The feature map is fitted by ``IGDDetector.fit`` when the local model is on (images of
64 px and up by default). This times ``fit_feature_map`` alone, each method in a fresh
process (so that no method profits from another's warm caches), on ``--n-train`` crops of
``--size`` px of a texture (``make_texture_defects(..., random_state=1)``, grey, or
repeated to 3 channels with ``--channels 3``), with the detector's seed and smoothing
(``heatmap_sigma="auto"``), then the time to map ``--n-test`` crops.

    python benchmarks/bench_feature_map.py --threads 1 \\
        --out benchmarks/results/feature_map_fit_cpu.md

``--label`` names the code measured (e.g. a commit), so that runs of two versions of the
package (``PYTHONPATH=<other checkout>``) can be appended to one file with ``--append``.
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


def measure(method, texture, n_train, n_test, size, channels, threads):
    """Seconds to fit the map of ``method`` and to map the test crops (a dict)."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from sklearn_igd._feature_map import fit_feature_map
    from sklearn_igd._scoring import auto_heatmap_sigma
    from sklearn_igd.datasets import make_texture_defects

    data = make_texture_defects(texture, n_train=n_train, n_test=n_test, size=size, random_state=1)

    def to_input(images):
        x = torch.from_numpy(images[:, None].astype(np.float32) / 255)
        return x.repeat(1, channels, 1, 1)

    x_train, x_test = to_input(data.images_train), to_input(data.images_test)
    start = time.perf_counter()
    fm = fit_feature_map(
        x_train,
        batch_size=64,
        device="cpu",
        method=method,
        seed=3,
        sigma=auto_heatmap_sigma(size, size),
    )
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    with torch.no_grad():
        for b in x_test.split(64):
            fm(b)
    import sklearn_igd

    package = str(Path(sklearn_igd.__file__).parent)
    return dict(method=method, fit_s=fit_s, map_s=time.perf_counter() - start, package=package)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="nearest,student")
    parser.add_argument("--texture", default="grass")
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--channels", type=int, default=1, choices=(1, 3))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--label", default="", help="names the code measured")
    parser.add_argument("--out", default=str(HERE / "results" / "feature_map_fit_cpu.md"))
    parser.add_argument("--append", action="store_true", help="add a section to --out")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    config = (args.texture, args.n_train, args.n_test, args.size, args.channels, args.threads)
    if args.child:
        print(json.dumps(measure(args.child, *config)))
        return
    rows = []
    for method in args.methods.split(","):
        # the child parses the same arguments; --child makes it measure and print only
        res = subprocess.run(
            [sys.executable, __file__, *argv, "--child", method],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    import torch

    command = "python benchmarks/bench_feature_map.py " + shlex.join(
        a for a in argv if a != "--append"
    )
    title = __doc__.splitlines()[0].replace("``", "`")
    lines = [] if args.append else [f"# {title}", ""]
    lines += [
        f"## {args.label or 'this checkout'}: {args.n_train} training and {args.n_test} "
        f"test crops of {args.size} px ({args.texture}, {args.channels} channel(s))",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), {args.threads} torch "
        f"thread(s), torch {torch.__version__}; {time.strftime('%Y-%m-%d')}  ",
        f"Package: `{rows[0]['package']}`",
        "",
        "| method | fit s | map the test crops s |",
        "|---|---|---|",
    ]
    lines += [f"| {r['method']} | {r['fit_s']:.1f} | {r['map_s']:.1f} |" for r in rows]
    out = Path(args.out)
    mode = "a" if args.append and out.exists() else "w"
    with open(out, mode) as f:
        f.write(("\n" if mode == "a" else "") + "\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
