"""What ``flip_invariant="auto"`` resolves to on each benchmark set, and why.

For each set of training images it measures what ``IGDDetector`` measures at fit time
(``sklearn_igd._pretrain.imagenet_encoder`` with ``flip_invariant="auto"``): the
cross-fitted ROC AUC with which the whitened ImageNet features tell the images' mirror
images from the images (:func:`~sklearn_igd._pretrain.mirror_auc`; 0.5: the class looks
the same mirrored), and whether that is below ``FLIP_AUTO_MAX_AUC`` (which turns the
flip on unless the local model trains). Only features are computed, nothing is trained.
Sets, each the training images the benchmarks fit on:

- ``fmnist``: each Fashion-MNIST class's 1,000 training images of ``quality.py``
  (``--seeds``);
- ``mnist5k``: each digit's ~250 images of MNIST-5k's first stratified half
  (``quality.py``'s test protocol);
- ``digits``: each of scikit-learn's 8x8 digits (~180 images each);
- ``textures``: ``make_texture_defects(texture, n_train=100, size=64, random_state=d)``
  for ``--draws``;
- ``silhouettes``: 200 images of each shape of ``default_budget.silhouettes``.

    python benchmarks/flip_auc.py --seeds 0,1,2 --draws 0,1,2

Writes ``benchmarks/results/flip_auc.md`` (``--out``) with the command, machine and date.
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from sklearn_igd._config import LOCAL_AUTO_MIN_SIDE
from sklearn_igd._pretrain import FLIP_AUTO_MAX_AUC, imagenet_encoder
from sklearn_igd.datasets import (
    fetch_fashion_mnist,
    load_digits_images,
    load_mnist_5k,
    make_texture_defects,
)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from default_budget import SHAPES, TEXTURES, silhouettes  # noqa: E402
from quality import fmnist_indices  # noqa: E402


def flip_auc(images):
    """``(n, auc, local, resolved)`` of uint8 images (n, H, W): the mirror AUC, whether
    ``local="auto"`` trains the local model (then ``"auto"`` resolves to False without
    measuring; the AUC is measured here anyway) and ``flip_invariant_`` of the defaults."""
    x = torch.from_numpy(images[:, None].astype(np.float32) / 255)
    frozen = imagenet_encoder(x, batch_size=64, device="cpu", flip_invariant="auto")
    local = min(images.shape[1:]) >= LOCAL_AUTO_MIN_SIDE
    return len(images), frozen.flip_auc, local, frozen.flip_invariant and not local


def image_sets(seeds, draws):
    """``(set, name, images)`` for every training set measured."""
    train = fetch_fashion_mnist(subset="train")
    for cls in range(10):
        for seed in seeds:
            pick, _ = fmnist_indices(train.target, cls, seed)
            yield "fmnist", f"class {cls} seed {seed}", train.images[pick]
    X, y = load_mnist_5k(return_X_y=True)
    X_a, _, y_a, _ = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    for digit in range(10):
        yield "mnist5k", f"digit {digit}", X_a[y_a == digit]
    X, y = load_digits_images(return_X_y=True)
    for digit in range(10):
        yield "digits", f"digit {digit}", X[y == digit]
    for texture in TEXTURES:
        for draw in draws:
            data = make_texture_defects(
                texture, n_train=100, n_test=500, size=64, random_state=draw
            )
            yield "textures", f"{texture} draw {draw}", data["images_train"]
    for shape in SHAPES:
        yield "silhouettes", shape, silhouettes(shape, 200, np.random.RandomState(7))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--draws", default="0,1,2")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(HERE / "results" / "flip_auc.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    draws = [int(d) for d in args.draws.split(",")]
    t0 = time.perf_counter()
    rows = []
    for kind, name, images in image_sets(seeds, draws):
        n, auc, local, resolved = flip_auc(images)
        print(f"{kind} {name}: n {n}, mirror AUC {auc:.3f}, local {local} -> {resolved}")
        rows.append(f"| {kind} | {name} | {n} | {auc:.3f} | {local} | {resolved} |")
    command = "python benchmarks/flip_auc.py " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    lines = [
        '# What `flip_invariant="auto"` resolves to on the benchmark sets',
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {platform.machine()}, torch {torch.__version__}, {args.threads} threads  ",
        f"Date: {time.strftime('%Y-%m-%d')}; total {time.perf_counter() - t0:.0f} s",
        "",
        "Mirror AUC: the cross-fitted ROC AUC with which the whitened ImageNet features of "
        "half the training images tell the other half's mirror images from the images "
        "(0.5: the class looks the same mirrored); flip-invariant when below "
        f'{FLIP_AUTO_MAX_AUC} and the local model is off (`local="auto"`: images of '
        f"{LOCAL_AUTO_MIN_SIDE} px and more train it; there the AUC is not measured by the "
        "fit, only here).",
        "",
        "| set | training images | n | mirror AUC | local model | flip_invariant_ |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
