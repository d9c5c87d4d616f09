"""The texture demo on fresh draws: how far the test draw's numbers carry (held-out draws).

Every design choice behind the heatmap and the image score was made on draws 1 and 2 of
``make_texture_defects`` (``random_state``) and reported once on draw 0, the demo's. This
script runs the demo's measurement (``examples/demo_textures.py``'s ``run_texture``:
``IGDDetector(random_state=draw)`` with nothing else set, 100 training and 500 test crops
of 64 px) on other draws of brick, grass and gravel, never used for a choice, and reports
per draw and texture the pooled and per-image pixel AUROC, the AUPRO and the image AUROC
beside IsolationForest and OneClassSVM (paired bootstrap intervals over the test crops),
then the mean pixel AUROC of each draw (over the three textures) and its mean over the
draws with a t interval, so that a claim such as "mean pixel AUROC >= 0.90" can be read
with the spread between draws.

    python benchmarks/texture_draws.py --draws 3,4,5 --jobs 2

Each (draw, texture) result is kept as JSON in ``--cache`` and reused when its data sizes
and detector keywords are the run's, so that an interrupted run continues and the table
can be rewritten without refitting. ``--textures``, ``--n-train``, ``--n-test``, ``--size``
and ``--config`` (``IGDDetector`` keywords) change the measurement, for tiny runs. ``--jobs``
fits run side by side, each with ``--threads`` torch threads. Appends a section to
``benchmarks/results/texture_draws.md`` (``--out``) with the command, the machine and the
date.

``--variants igd,rec+gac,rec`` runs the paper's ablation (Table 5: ``variant``) on the same
draws, each variant's fits cached in a sub-folder of ``--cache``: one section per variant
and a table of what each component adds (the paired difference to the variant without it,
per draw mean over the textures, with a t interval over the draws):

    python benchmarks/texture_draws.py --draws 3,4,5 --variants igd,rec+gac,rec \
        --out benchmarks/results/ablation_textures.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from scipy import stats

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples"))
from demo_textures import DATA_PARAMS, PEERS, TEXTURE_PARAMS, TEXTURES  # noqa: E402

sys.path.insert(0, str(HERE))
from _report import append_section  # noqa: E402
from default_budget import parse_config  # noqa: E402

#: The columns of the per-(draw, texture) table: (header, key of ``run_texture``'s row).
COLUMNS = (
    ("pixel AUROC", "pixel_combined"),
    ("pixel AUROC per image", "pixel_per_image_combined"),
    ("AUPRO", "aupro_combined"),
    ("pixel AUROC global", "pixel_global"),
    ("image AUROC", "image_combined"),
    ("image AUROC global", "image_global"),
    ("IsolationForest", "IsolationForest"),
    ("OneClassSVM", "OneClassSVM"),
)


def one_fit(draw, texture, cache, threads, data_params=DATA_PARAMS, config=None):
    """``run_texture``'s row for one draw and texture (JSON-able), from ``cache`` when it
    holds one of the same data sizes and detector keywords ``config`` (None: the defaults);
    runs in a worker process with ``threads`` torch threads."""
    setting = {"data": dict(data_params), "config": repr(config or {})}
    path = Path(cache) / f"{texture}_{draw}.json"
    if path.exists():
        row = json.loads(path.read_text())
        if row.get("setting") == setting:
            return row
    import torch

    torch.set_num_threads(threads)
    sys.path.insert(0, str(HERE.parent / "examples"))  # in a worker process too
    from demo_textures import run_texture

    params = {**TEXTURE_PARAMS, **(config or {})}
    row = run_texture(
        texture, params=params, seed=draw, log=lambda *a, **k: None, data_params=data_params
    )
    sequences = (tuple, list, np.ndarray)
    row = {k: list(map(float, v)) if isinstance(v, sequences) else v for k, v in row.items()}
    row.update(draw=draw, threads=threads, setting=setting)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(row, default=float))
    print(f"draw {draw} {texture}: pixel AUROC {row['pixel_combined']:.4f}", flush=True)
    return row


def t_interval(values, level=0.95):
    """Mean of ``values`` and the two-sided t interval of the mean; (mean, nan, nan) for
    one value."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, np.nan, np.nan
    return (mean, *stats.t.interval(level, len(values) - 1, loc=mean, scale=stats.sem(values)))


def report(rows, draws, textures, command):
    """The Markdown section of ``rows`` (``run_texture`` rows of ``draws`` x ``textures``)."""
    by = {(r["draw"], r["texture"]): r for r in rows}
    data, config = rows[0]["setting"]["data"], rows[0]["setting"]["config"]
    lines = [
        f"## Draws {', '.join(map(str, draws))} of {', '.join(textures)}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), "
        f"{rows[0]['threads']} torch thread(s) per fit, fits side by side; "
        f"{datetime.date.today().isoformat()}.  ",
        f"Data: `make_texture_defects(texture, n_train={data['n_train']}, "
        f"n_test={data['n_test']}, size={data['size']}, "
        + (f"split={data['split']!r}, " if "split" in data else "")
        + "random_state=draw)`; "
        f"`IGDDetector(random_state=draw)` with "
        f"{'nothing else set (the defaults)' if config == '{}' else 'config ' + config}. "
        "Combined score and heatmap as the demo reports them; peers on raw pixels / 255.",
        "",
        "| draw | texture | "
        + " | ".join(c for c, _ in COLUMNS)
        + " | combined - IsolationForest, 95% CI | combined - OneClassSVM, 95% CI | fit s |",
        "|---" * (len(COLUMNS) + 5) + "|",
    ]
    for d in draws:
        for t in textures:
            r = by[(d, t)]
            cis = [
                f"{r['image_combined'] - r[p]:+.3f} [{r[f'ci_{p}'][0]:+.3f}, "
                f"{r[f'ci_{p}'][1]:+.3f}]"
                for p in PEERS
            ]
            lines.append(
                f"| {d} | {t} | " + " | ".join(f"{r[k]:.4f}" for _, k in COLUMNS)
                + " | " + " | ".join(cis) + f" | {r['fit_s']:.0f} |"
            )  # fmt: skip
    lines += [
        "",
        f"Mean over the {len(textures)} textures per draw, and over the draws (95% t "
        "interval over the draws):",
        "",
        "| draw | " + " | ".join(c for c, _ in COLUMNS) + " |",
        "|---" * (len(COLUMNS) + 1) + "|",
    ]
    per_draw = {k: [np.mean([by[(d, t)][k] for t in textures]) for d in draws] for _, k in COLUMNS}
    for i, d in enumerate(draws):
        lines.append(f"| {d} | " + " | ".join(f"{per_draw[k][i]:.4f}" for _, k in COLUMNS) + " |")
    cells = []
    for _, k in COLUMNS:
        mean, lo, hi = t_interval(per_draw[k])
        cells.append(f"**{mean:.4f}** [{lo:.4f}, {hi:.4f}]")
    lines.append("| **mean** | " + " | ".join(cells) + " |")
    lines += ["", "Per texture, mean over the draws [min, max]:", ""]
    lines += ["| texture | " + " | ".join(c for c, _ in COLUMNS) + " |"]
    lines += ["|---" * (len(COLUMNS) + 1) + "|"]
    for t in textures:
        vals = {k: [by[(d, t)][k] for d in draws] for _, k in COLUMNS}
        lines.append(
            f"| {t} | "
            + " | ".join(f"{np.mean(v):.4f} [{min(v):.4f}, {max(v):.4f}]" for v in vals.values())
            + " |"
        )
    beats = sum(
        by[(d, t)][f"ci_{p}"][0] > 0 for d in draws for t in textures for p in PEERS
    )  # fmt: skip
    lines += [
        "",
        f"Image AUROC above a peer with a paired interval that excludes 0: {beats} of "
        f"{len(draws) * len(textures) * len(PEERS)} (draw, texture, peer) pairs.",
        "",
    ]
    return "\n".join(lines)


#: What the ablation table compares: (component, variant with it, variant without it).
ABLATION_STEPS = (
    ("the Gaussian classifier (REC+GAC - REC)", "rec+gac", "rec"),
    ("the critic (IGD - REC+GAC)", "igd", "rec+gac"),
    ("both (IGD - REC)", "igd", "rec"),
)

#: The ablation table's measures: (header, key of ``run_texture``'s row).
ABLATION_COLUMNS = (
    ("pixel AUROC", "pixel_combined"),
    ("pixel AUROC per image", "pixel_per_image_combined"),
    ("pixel AUROC local", "pixel_local"),
    ("image AUROC", "image_combined"),
)


def ablation_report(rows_by_variant, draws, textures):
    """Markdown lines: per variant the mean of each measure over draws and textures, then
    per component the paired difference (per draw, mean over the textures) with a t
    interval over the draws and the number of (draw, texture) pairs where it is > 0."""
    by = {v: {(r["draw"], r["texture"]): r for r in rows} for v, rows in rows_by_variant.items()}
    variants = list(rows_by_variant)
    lines = [
        f"## Ablation on draws {', '.join(map(str, draws))} of {', '.join(textures)}",
        "",
        "Mean over the draws and textures (per texture: mean over the draws):",
        "",
        "| variant | " + " | ".join(c for c, _ in ABLATION_COLUMNS)
        + " | " + " | ".join(f"pixel AUROC {t}" for t in textures) + " |",
        "|---" * (len(ABLATION_COLUMNS) + len(textures) + 1) + "|",
    ]  # fmt: skip
    for v in variants:
        cells = [np.mean([by[v][(d, t)][k] for d in draws for t in textures])
                 for _, k in ABLATION_COLUMNS]  # fmt: skip
        cells += [np.mean([by[v][(d, t)]["pixel_combined"] for d in draws]) for t in textures]
        lines.append(f"| {v} | " + " | ".join(f"{c:.4f}" for c in cells) + " |")
    lines += [
        "",
        "What each component adds: the paired difference, per draw the mean over the "
        "textures, then the mean over the draws [95% t interval over the draws]; in "
        "parentheses the (draw, texture) pairs where it is above 0:",
        "",
        "| component | " + " | ".join(c for c, _ in ABLATION_COLUMNS) + " |",
        "|---" * (len(ABLATION_COLUMNS) + 1) + "|",
    ]
    for name, with_, without in ABLATION_STEPS:
        if with_ not in by or without not in by:
            continue
        cells = []
        for _, k in ABLATION_COLUMNS:
            diff = {(d, t): by[with_][(d, t)][k] - by[without][(d, t)][k]
                    for d in draws for t in textures}  # fmt: skip
            per_draw = [np.mean([diff[(d, t)] for t in textures]) for d in draws]
            mean, lo, hi = t_interval(per_draw)
            above = sum(v > 0 for v in diff.values())
            cells.append(f"{mean:+.4f} [{lo:+.4f}, {hi:+.4f}] ({above}/{len(diff)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", default="3,4,5", help="comma-separated; not 0, 1 or 2")
    parser.add_argument("--textures", default=",".join(TEXTURES))
    parser.add_argument("--n-train", type=int, default=DATA_PARAMS["n_train"])
    parser.add_argument("--n-test", type=int, default=DATA_PARAMS["n_test"])
    parser.add_argument("--size", type=int, default=DATA_PARAMS["size"])
    parser.add_argument(
        "--split",
        choices=("halves", "tiles"),
        default="halves",
        help="make_texture_defects' split of each photograph into training and test crops",
    )
    parser.add_argument(
        "--config", default="", help="IGDDetector keywords (a tiny run); '' = the defaults"
    )
    parser.add_argument(
        "--variants",
        default="",
        help="comma-separated `variant`s (igd,rec+gac,rec): the ablation; '' = --config alone",
    )
    parser.add_argument("--jobs", type=int, default=2, help="fits side by side")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per fit")
    parser.add_argument("--cache", default="/tmp/igd_texture_draws", help="fits' results cache")
    parser.add_argument("--out", default=str(HERE / "results" / "texture_draws.md"))
    args = parser.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",") if d]
    if not draws or {0, 1, 2} & set(draws):
        parser.error(
            f"--draws {args.draws!r}: expected draws other than 0 (the demo's test draw) "
            "and 1, 2 (the validation draws the designs were chosen on)"
        )
    textures = args.textures.split(",")
    data_params = {"n_train": args.n_train, "n_test": args.n_test, "size": args.size}
    if args.split != "halves":  # the earlier runs' cached settings stay valid
        data_params["split"] = args.split
    config = parse_config(args.config) if args.config else None
    variants = [v for v in args.variants.split(",") if v]
    configs = {v: {**(config or {}), "variant": v} for v in variants} or {None: config}
    start = time.perf_counter()
    jobs = [
        (v, d, t, str(Path(args.cache) / v) if v else args.cache)
        for v in configs
        for d in draws
        for t in textures
    ]
    results = Parallel(n_jobs=args.jobs)(
        delayed(one_fit)(d, t, cache, args.threads, data_params, configs[v])
        for v, d, t, cache in jobs
    )
    rows_by_variant = {v: [] for v in configs}
    for (v, *_), row in zip(jobs, results):
        rows_by_variant[v].append(row)
    command = "python benchmarks/" + " ".join(
        [Path(__file__).name, *map(shlex.quote, sys.argv[1:] if argv is None else argv)]
    )
    sections = [report(rows, draws, textures, command) for rows in rows_by_variant.values()]
    if len(variants) > 1:
        sections.append("\n".join(ablation_report(rows_by_variant, draws, textures)))
    text = "\n".join(sections)
    text += f"Wall time: {time.perf_counter() - start:.0f} s (cached fits count 0).\n"
    append_section(args.out, "Texture demo on held-out draws", text)
    print(text)


if __name__ == "__main__":
    main()
