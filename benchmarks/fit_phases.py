"""Where the time of a default fit goes: each phase of ``IGDDetector(random_state=0).fit``
timed on images of 64 px (validation data).

The phases, in the order ``fit`` runs them (each wrapped in a timer, nothing else
changed):

- ``encoder``: the frozen pre-trained encoder (``pretrained_encoder``: the ImageNet
  features of every training image and their whitening);
- ``global``: the global model's training (``_fit_global``: its epochs, E-steps and
  batch-norm refresh);
- ``local``: the local patch model's training (``_fit_local``);
- ``feature map``: ``fit_feature_map`` (the trunk's features of every training image,
  the nearest-neighbour bank and the student's training);
- ``thresholds``: ``_fit_thresholds`` (scoring the training images for the score's
  standardisation, the feature map's weight and ``offset_``);
- ``other``: the rest of ``fit`` (validation, storing the models).

Data: ``make_texture_defects(texture, n_train=100, size=64, random_state=draw)``
(``--textures``, ``--draw``; validation draws only) and ``default_budget.py``'s
silhouettes (``--shapes``, ``--shape-seed``; 200 training images of 64 px); ``--n-train``,
``--n-silhouettes`` and ``--size`` change the counts and the size.

    python benchmarks/fit_phases.py --threads 2

Appends a section to ``benchmarks/results/fit_phases.md`` (``--out``) with the command,
the machine and the date.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_igd import IGDDetector, _detector
from sklearn_igd.datasets import make_texture_defects

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from default_budget import parse_config, silhouettes  # noqa: E402

HERE = Path(__file__).resolve().parent
#: ``(phase, owner, attribute)``: the functions timed, in the order ``fit`` calls them.
PHASES = (
    ("encoder", _detector, "pretrained_encoder"),
    ("global", IGDDetector, "_fit_global"),
    ("local", IGDDetector, "_fit_local"),
    ("feature map", _detector, "fit_feature_map"),
    ("thresholds", IGDDetector, "_fit_thresholds"),
)


@contextlib.contextmanager
def phase_timers():
    """Wrap each of :data:`PHASES` in a timer; yields ``{phase: seconds}``, filled as the
    wrapped functions run (summed over calls); restores them on exit."""
    seconds = {name: 0.0 for name, _, _ in PHASES}
    saved = [(owner, attr, getattr(owner, attr)) for _, owner, attr in PHASES]

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[name] += time.perf_counter() - t0

        return wrapper

    try:
        for (name, owner, attr), (_, _, fn) in zip(PHASES, saved):
            setattr(owner, attr, timed(name, fn))
        yield seconds
    finally:
        for owner, attr, fn in saved:
            setattr(owner, attr, fn)


def timed_fit(X, config):
    """``(detector, {phase: seconds}, total seconds)`` of one fit on ``X``."""
    with phase_timers() as seconds:
        t0 = time.perf_counter()
        det = IGDDetector(random_state=0, **config).fit(X)
        total = time.perf_counter() - t0
    seconds = dict(seconds)
    seconds["other"] = total - sum(seconds.values())
    return det, seconds, total


def training_sets(args):
    """``[(name, X_train)]`` of the requested sets."""
    sets = []
    for t in args.textures:
        data = make_texture_defects(
            t, n_train=args.n_train, n_test=4, size=args.size, random_state=args.draw
        )
        sets.append((f"{t} {args.draw}", data.images_train))
    rng = np.random.RandomState(args.shape_seed)
    for s in args.shapes:
        sets.append((f"{s} {args.shape_seed}", silhouettes(s, args.n_silhouettes, rng, args.size)))
    return sets


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = lambda t: [v for v in t.split(",") if v]  # noqa: E731
    parser.add_argument("--textures", type=names, default=["brick"])
    parser.add_argument("--draw", type=int, default=1, help="texture draw (not 0, not 3-5)")
    parser.add_argument("--shapes", type=names, default=["disk"])
    parser.add_argument("--shape-seed", type=int, default=7, help="not 0, not 101")
    parser.add_argument("--n-train", type=int, default=100, help="texture training crops")
    parser.add_argument("--n-silhouettes", type=int, default=200)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--config", default="", help="IGDDetector keywords (tiny runs)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "fit_phases.md"))
    args = parser.parse_args(argv)
    if args.draw in (0, 3, 4, 5) or args.shape_seed in (0, 101):
        parser.error("expected validation draws (not 0, the tests' and demos' data; not "
                     "texture draws 3-5 nor shape seed 101, the held-out ones)")  # fmt: skip
    torch.set_num_threads(args.threads)
    config = parse_config(args.config)
    phases = [name for name, _, _ in PHASES] + ["other"]
    lines = [
        "| set | images | epochs | fit s | " + " | ".join(f"{p} s (%)" for p in phases) + " |",
        "|---" * (len(phases) + 4) + "|",
    ]
    for name, X in training_sets(args):
        det, seconds, total = timed_fit(X, config)
        cells = " | ".join(f"{seconds[p]:.1f} ({100 * seconds[p] / total:.0f}%)" for p in phases)
        lines.append(f"| {name} | {len(X)} | {det.n_epochs_} | {total:.1f} | {cells} |")
        print(lines[-1], flush=True)
    extra = f", {args.config}" if args.config else ""
    text = "\n".join(
        [
            "",
            f"## Fit phases: `IGDDetector(random_state=0{extra})`",
            "",
            command_line(),
            f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
            f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
            f"{time.strftime('%Y-%m-%d')}. Images of {args.size} px; seconds of each phase "
            "and its share of the fit.",
            "",
            *lines,
        ]
    )
    print(text)
    if args.out:
        append_section(args.out, "Where the time of a default fit goes", text)


if __name__ == "__main__":
    main()
