"""Pooled pixel AUROC of each part of the heatmap, per defect type (validation data).

Scores the fits of ``image_score.py`` (its parts cache; fitted first when missing) on the
texture crops of validation draws: for every defect type of ``make_texture_defects``
(scratch, crack, stain, hole, patch, color), the pooled pixel ROC AUC over the normal test
crops and the test crops with a defect of that type, of the combined heatmap and of each
of its parts: the global model's map, the local model's map and the feature map (each as
the detector adds it: weighted and smoothed). A part below 0.5 ranks that type's defect
pixels *below* normal pixels: the model reconstructs them better than the texture.

    python benchmarks/defect_types.py --draws 1,2

Writes ``benchmarks/results/defect_types.md`` (``--out``) with the command, the machine
and the date.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from sklearn_igd.datasets._texture_defects import _DEFECT_TYPES
from sklearn_igd.metrics import pixel_roc_auc

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_section, command_line  # noqa: E402
from default_budget import parse_config  # noqa: E402
from image_score import (  # noqa: E402
    add_data_arguments,
    data_description,
    parse_data_arguments,
    texture_sets,
)

HERE = Path(__file__).resolve().parent
#: The heatmap and its parts, as ``score_parts(heatmap=True)`` names them.
MAPS = {
    "combined": "heatmap",
    "global": "global_heatmap",
    "local": "local_heatmap",
    "feature": "feature_heatmap",
}
TYPES = _DEFECT_TYPES


def type_aucs(v):
    """``{map: {type: pooled pixel AUROC}}`` of one validation set (``"all"``: every test
    crop); a type without crops in the set is left out."""
    normal = ~v.anomalous
    out = {}
    for name, key in MAPS.items():
        if f"te_{key}" not in v.parts:
            continue
        maps = v.parts[f"te_{key}"].astype(np.float64)
        row = {"all": pixel_roc_auc(v.masks, maps)}
        for t in TYPES:
            of_type = v.types == t
            if of_type.any():
                keep = normal | of_type
                row[t] = pixel_roc_auc(v.masks[keep], maps[keep])
        out[name] = row
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--out", default=str(HERE / "results" / "defect_types.md"))
    args = parse_data_arguments(parser, argv)
    config = parse_config(args.config)
    start = time.perf_counter()
    rows = []
    for v in texture_sets(args, config):
        rows.append((v.name, type_aucs(v)))
        print(v.name, {m: round(r["all"], 4) for m, r in rows[-1][1].items()}, flush=True)
    columns = ["all", *TYPES]
    lines = [
        "",
        f"## Per defect type: `IGDDetector(random_state=0"
        f"{', ' + args.config if args.config else ''})`",
        "",
        command_line(),
        f"Machine: {platform.machine()} ({platform.processor() or 'cpu'}), "
        f"{torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}; {time.perf_counter() - start:.0f} s (cached fits "
        "count 0).  ",
        data_description(args)
        + " Pooled pixel ROC AUC over the normal test crops and those of one defect type.",
        "",
        "| set | map | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 2) + "|",
    ]
    for name, aucs in rows:
        for m, row in aucs.items():
            cells = [f"{row[c]:.4f}" if c in row else "" for c in columns]
            lines.append(f"| {name} | {m} | " + " | ".join(cells) + " |")
    means = {}
    for _, aucs in rows:
        for m, row in aucs.items():
            for c in columns:
                if c in row:
                    means.setdefault(m, {}).setdefault(c, []).append(row[c])
    for m, by_col in means.items():
        cells = [f"**{np.mean(by_col[c]):.4f}**" if c in by_col else "" for c in columns]
        lines.append(f"| **mean** | {m} | " + " | ".join(cells) + " |")
    text = "\n".join(lines)
    print(text)
    append_section(args.out, "Each part of the heatmap per defect type (validation data)", text)


if __name__ == "__main__":
    main()
