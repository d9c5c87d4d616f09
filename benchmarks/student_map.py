"""Would a trained student beside the feature map localise texture defects better?
(validation draws; a probe, nothing in the package uses it)

The feature map (``sklearn_igd._feature_map``) is a nearest-neighbour search among the
training images' frozen ImageNet features. Bergmann et al. (2020) localise instead with a
*student* network trained to regress those features on normal images: where it fails to
predict them, the image is unlike the training images. This measures, on the feature
map alone (no IGD fit), whether such a student ranks defective pixels better than the
nearest-neighbour map, or adds to it.

For each validation draw and texture (``make_texture_defects(texture, n_train, n_test,
size=64, random_state=draw)``):

- teacher: the feature map's trunk (EfficientNet-Lite0 to block 3, crops upsampled to
  320 px, 3x3 average pooling): 40 channels on a 40x40 grid, standardised per channel
  over the training locations;
- student: 7 convolutions (3x3, batch norm, ReLU; 32 then 64 channels, one of stride 2)
  and a 1x1 convolution to 40 channels on the 64 px crop, resized (bilinear) to the
  teacher's grid; trained with Adam (1e-3, weight decay 1e-5, cosine decay) on batches of
  16 training crops and their three flips (the teacher's features computed for each),
  mean squared error; ``--steps`` step counts, each a fresh student from the same seed;
- maps: the student's squared error per location averaged over the channels, resized to
  64 px; the package's nearest-neighbour feature map (``fit_feature_map``); both smoothed
  as the detector smooths (``heatmap_sigma="auto"``: 4 px);
- ``sum``: both maps standardised by their mean and standard deviation over the
  training crops' maps, added.

Pooled pixel ROC AUC on the test crops, per set, and the mean.

    python benchmarks/student_map.py --draws 1,2 --steps 300,1000 \\
        --out benchmarks/results/student_map.md
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.nn import functional as F

from sklearn_igd._feature_map import (
    feature_min_side,
    feature_trunk,
    fit_feature_map,
    local_features,
)
from sklearn_igd._scoring import auto_heatmap_sigma, gaussian_kernel_1d, smooth_maps
from sklearn_igd.datasets import make_texture_defects

HERE = Path(__file__).resolve().parent
TEXTURES = ("brick", "grass", "gravel")
SIZE = 64


class Student(nn.Module):
    """``(n, 1, 64, 64)`` crops -> ``(n, d, h, w)`` predicted teacher features."""

    def __init__(self, d=40, width=64):
        super().__init__()

        def block(i, o, stride=1):
            return [nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        self.net = nn.Sequential(
            *block(1, 32), *block(32, width, 2), *block(width, width), *block(width, width),
            *block(width, width), *block(width, width), nn.Conv2d(width, d, 1),
        )  # fmt: skip

    def forward(self, x, size):
        return F.interpolate(self.net(x), size=size, mode="bilinear", align_corners=False)


def in_batches(fn, x, batch=50):
    with torch.no_grad():
        return torch.cat([fn(x[i : i + batch]) for i in range(0, len(x), batch)])


def train_student(x, target, steps, seed):
    """A student fitted to ``target`` (n, d, h, w) features of crops ``x`` (n, 1, H, W)."""
    torch.manual_seed(seed)
    student = Student(d=target.shape[1])
    opt = torch.optim.Adam(student.parameters(), 1e-3, weight_decay=1e-5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    generator = torch.Generator().manual_seed(seed)
    size = target.shape[-2:]
    for _ in range(steps):
        idx = torch.randint(len(x), (16,), generator=generator)
        loss = F.mse_loss(student(x[idx], size), target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    return student.eval(), float(loss.detach())


def measure(texture, draw, n_train, n_test, steps, seed=0):
    """``{name: pooled pixel AUROC}`` of the maps of one set, and the final losses."""
    data = make_texture_defects(
        texture, n_train=n_train, n_test=n_test, size=SIZE, random_state=draw
    )
    x_train = torch.as_tensor(data.images_train, dtype=torch.float32)[:, None] / 255
    x_test = torch.as_tensor(data.images_test, dtype=torch.float32)[:, None] / 255
    kernel = gaussian_kernel_1d(auto_heatmap_sigma(SIZE, SIZE))

    def smooth(maps):
        if maps.shape[-1] != SIZE:
            maps = F.interpolate(maps[:, None], size=(SIZE, SIZE), mode="bilinear")[:, 0]
        return smooth_maps(maps.double(), kernel).numpy()

    fmap = fit_feature_map(x_train.numpy(), batch_size=25, device="cpu", seed=seed)
    trunk = feature_trunk(3, feature_min_side((SIZE, SIZE)))
    flips = torch.cat([x_train, x_train.flip(-1), x_train.flip(-2), x_train.flip(-1, -2)])
    teacher = in_batches(lambda b: local_features(trunk, b), flips, 25)
    teacher_test = in_batches(lambda b: local_features(trunk, b), x_test, 25)
    mean, std = teacher.mean((0, 2, 3), keepdim=True), teacher.std((0, 2, 3), keepdim=True)
    teacher, teacher_test = (teacher - mean) / std, (teacher_test - mean) / std
    size = teacher.shape[-2:]

    def z(train, test):
        """``test`` standardised by the mean and deviation of ``train``'s maps."""
        return (test - train.mean()) / train.std()

    nearest = smooth(in_batches(fmap, x_train)), smooth(in_batches(fmap, x_test))
    tests, losses = {"nearest": nearest[1]}, {}
    for n in steps:
        student, losses[n] = train_student(flips, teacher, n, seed)
        error = [
            smooth(((in_batches(partial(student, size=size), x) - target) ** 2).mean(1))
            for x, target in ((x_train, teacher[: len(x_train)]), (x_test, teacher_test))
        ]
        tests[f"student {n}"] = error[1]
        tests[f"sum {n}"] = z(*nearest) + z(*error)
    order = ["nearest", *(f"student {n}" for n in steps), *(f"sum {n}" for n in steps)]
    masks = data.masks_test.ravel()
    return {k: roc_auc_score(masks, tests[k].ravel()) for k in order}, losses


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--draws", default="1,2", help="validation draws (not 0, the demo's)")
    p.add_argument("--textures", default=",".join(TEXTURES))
    p.add_argument("--steps", default="300,1000", help="student training steps")
    p.add_argument("--n-train", type=int, default=100)
    p.add_argument("--n-test", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default=str(HERE / "results" / "student_map.md"))
    args = p.parse_args(argv)
    command = sys.argv[1:] if argv is None else argv
    draws = [int(d) for d in args.draws.split(",") if d]
    if 0 in draws:
        p.error("draw 0 is the demo's test draw: choose validation draws")
    textures, steps = args.textures.split(","), [int(s) for s in args.steps.split(",")]
    torch.set_num_threads(args.threads)
    start, results = time.time(), {}
    for draw in draws:
        for texture in textures:
            t = time.time()
            results[texture, draw], losses = measure(
                texture, draw, args.n_train, args.n_test, steps
            )
            row = {k: round(v, 4) for k, v in results[texture, draw].items()}
            print(texture, draw, row, losses, f"{time.time() - t:.0f} s", flush=True)
    sets = list(results)
    names = list(results[sets[0]])
    head = [f"{t} {d}" for t, d in sets]
    lines = [
        "# A trained student beside the feature map (validation draws)",
        "",
        f"Command: `python benchmarks/student_map.py {' '.join(command)}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU core(s), {args.threads} torch "
        f"thread(s), torch {torch.__version__}; {time.strftime('%Y-%m-%d')}; total "
        f"{time.time() - start:.0f} s.  ",
        f"Data: `make_texture_defects(texture, n_train={args.n_train}, n_test={args.n_test}, "
        f"size={SIZE}, random_state=draw)`; the feature map alone, no IGD fit "
        "(the script's docstring describes the student and the maps).",
        "",
        "Pooled pixel ROC AUC:",
        "",
        "| map | " + " | ".join(head) + " | mean | min |",
        "|---" * (len(head) + 3) + "|",
    ]
    for name in names:
        v = [results[s][name] for s in sets]
        lines.append(
            f"| {name} | " + " | ".join(f"{x:.4f}" for x in v)
            + f" | {np.mean(v):.4f} | {min(v):.4f} |"
        )  # fmt: skip
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
