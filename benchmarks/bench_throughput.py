"""Fit and scoring throughput of IGDDetector beside OneClassSVM and IsolationForest, the
ratio to a previous commit measured in the same run, and where a training epoch goes.

Data: MNIST-5k as in the demo (train on digit 0's 250 images of one stratified half,
score the 2,500 images of the other half, 28 px). Each measurement runs in a fresh
Python process with ``--threads`` torch threads (and ``n_threads``): its resident memory
after imports and data loading is recorded, the peak-RSS counter is reset (Linux
``/proc/self/clear_refs``) and the peak during fit and scoring read back (``VmHWM``).

* fit images/s per epoch: training images / mean epoch time of the skorch history
  (each epoch includes its E-step; the batch-norm refresh and E-steps before and after
  training and the thresholds are in ``fit s`` only);
* scoring images/s: ``decision_function`` on the 2,500 test images, best of
  ``--repeats`` calls after a warm-up call;
* the same IGD measurements with the code of ``--baseline`` (a git revision, default the
  previous commit), checked out in a temporary ``git worktree`` and imported through
  ``PYTHONPATH`` by the same measuring code, so that the ratio is measured in one run on
  one machine state;
* the cost per epoch of each part of a training step (encoder, decoder, MS-SSIM + MAE,
  critic, Adam) and of the E-step, each timed alone (forward and backward, best of
  ``--repeats``) and multiplied by its calls per epoch, beside the measured epoch time:
  the rest is skorch and Python overhead. The same for scoring (per 1,000 images);
* how far scoring is from the hardware: the FLOPs of scoring one image (encoder and
  decoder, ``torch.utils.flop_counter``) against this machine's float32 matrix-product
  rate with the same threads, so that a throughput target can be checked against the
  ceiling it implies.

    python benchmarks/bench_throughput.py                      # 2 threads, vs HEAD~1
    python benchmarks/bench_throughput.py --baseline main --threads 1
    python benchmarks/bench_throughput.py --device cuda        # on a GPU machine

Writes ``benchmarks/results/throughput_<device>.md`` (and ``.json``) with the command, the
machine, the thread count and the load average before and after the run. Run it when
the machine is otherwise idle: with other processes on the cores, more torch threads
than free cores make every OpenMP barrier wait (two threads can be slower than one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _memory import reset_peak_rss, status_mb

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

IGD_CONFIGS = {
    "IGDDetector resnet18-lite": dict(backbone="resnet18-lite", epochs=5),
    "IGDDetector resnet18": dict(backbone="resnet18", epochs=1),
}
PEERS = ("OneClassSVM", "IsolationForest")
BATCH_SIZE = 16
LR = 3e-4
#: The scoring rate that the scale issue asks of the lite global model at 28 px on 2 cores.
TARGET_SCORE_RATE = 2000


# ----------------------------------------------------------------- child process
def _images(X):
    """(n, 28, 28) uint8 digits as the detector's float32 input (n, 1, 28, 28) in [0, 1]."""
    import numpy as np

    return (np.asarray(X, dtype=np.float32) / 255.0)[:, None]


def _data(digit=0):
    from sklearn.model_selection import train_test_split

    from sklearn_igd.datasets import load_mnist_5k

    X, y = load_mnist_5k(return_X_y=True)
    X_a, X_b, y_a, _ = train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)
    return X_a[y_a == digit], X_b


def _best_time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure(name, device, threads, repeats, parts):
    """One detector in this process: a dict of measurements."""
    import torch

    torch.set_num_threads(threads)
    from sklearn.ensemble import IsolationForest
    from sklearn.svm import OneClassSVM

    import sklearn_igd

    X_train, X_test = _data()
    base_mb = status_mb("VmRSS")
    reset_peak_rss()
    if name in IGD_CONFIGS:
        cfg = IGD_CONFIGS[name]
        det = sklearn_igd.IGDDetector(
            backbone=cfg["backbone"],
            max_epochs=cfg["epochs"],
            batch_size=BATCH_SIZE,
            lr=LR,
            local=False,
            pretrain=None,
            device=device,
            n_threads=threads,
            random_state=0,
        )
        prep = lambda a: a  # noqa: E731
        epochs = cfg["epochs"]
    else:
        det = OneClassSVM() if name == "OneClassSVM" else IsolationForest(random_state=0)
        prep = lambda a: a.reshape(len(a), -1) / 255.0  # noqa: E731
        epochs = 1
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    det.fit(prep(X_train))
    fit_s = time.perf_counter() - t0
    if name in IGD_CONFIGS:
        epoch_s = sum(row["dur"] for row in det.history_ if "dur" in row) / epochs
    else:
        epoch_s = fit_s
    det.decision_function(prep(X_test[:100]))  # warm-up
    score_s = _best_time(lambda: det.decision_function(prep(X_test)), repeats)
    out = dict(
        detector=name,
        package=str(Path(sklearn_igd.__file__).resolve().parent.parent),
        threads=threads,
        n_train=len(X_train),
        n_test=len(X_test),
        epochs=epochs,
        fit_s=fit_s,
        epoch_s=epoch_s,
        fit_img_per_s_per_epoch=len(X_train) / epoch_s,
        score_s=score_s,
        score_img_per_s=len(X_test) / score_s,
        base_rss_mb=base_mb,
        peak_rss_mb=status_mb("VmHWM"),
    )
    if cuda:
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    if parts and name in IGD_CONFIGS:
        out["train_parts"] = train_part_costs(det, X_train, repeats)
        out["score_parts"] = score_part_costs(det, X_test[:1000], repeats)
        out["score_flops_per_image"] = score_flops_per_image(det, X_test[:64])
        out["matmul_gflops"] = matmul_gflops(device, repeats)
    return out


def score_flops_per_image(det, X):
    """FLOPs of scoring one image: the encoder and the decoder (convolutions and matrix
    products, counted by ``torch.utils.flop_counter.FlopCounterMode``; element-wise work
    such as MS-SSIM's is not counted)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    module = det.net_.module_.eval()
    x = torch.from_numpy(_images(X)).to(det.device_)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        module.decode(module.encode(x))
    return counter.get_total_flops() / len(x)


def matmul_gflops(device, repeats, n=2048):
    """The machine's float32 matrix-product rate with this process's torch threads:
    GFLOP/s of an ``n x n`` by ``n x n`` product, best of ``repeats`` after a warm-up.
    A practical ceiling for convolution-bound inference on the same device."""
    import torch

    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    def run():
        for _ in range(5):
            a @ b
        sync()

    run()
    return 5 * 2 * n**3 / _best_time(run, repeats) / 1e9


def train_part_costs(det, X_train, repeats):
    """Seconds per epoch of each part of a training step, each timed alone.

    Per step (batch ``b``): the encoder once (forward + backward), the decoder twice
    (the reconstruction and the decoded interpolations), MS-SSIM + MAE once, the critic
    three times (interpolations in the autoencoder's loss, then both inputs of ``l_d``),
    two Adam steps; per epoch, one E-step (an encoder pass over the training set).
    """
    import copy

    import torch

    from sklearn_igd._losses import reconstruction_loss

    net = det.net_
    module = copy.deepcopy(net.module_).to(det.device_).train()
    crit = net.criterion_
    b = net.batch_size
    n = len(X_train)
    steps = n // b
    Xp = torch.from_numpy(_images(X_train)).to(det.device_)
    x = Xp[:b]
    sync = torch.cuda.synchronize if det.device_.startswith("cuda") else (lambda: None)
    with net.autocast():
        z0 = module.encode(x).detach()
        xh0 = module.decode(z0).detach()

    def timed(fn):
        def run():
            with net.autocast():
                fn()
            sync()

        run()
        return _best_time(run, repeats)

    def enc():
        module.encode(x).float().sum().backward()

    z_in = z0.clone().requires_grad_()

    def dec():
        module.decode(z_in).float().sum().backward()

    xh_in = xh0.float().clone().requires_grad_()

    def ssim():
        reconstruction_loss(x, xh_in, rho=crit.rho, ssim=crit.ssim).mean().backward()

    def critic():
        module.critic(xh_in).float().sum().backward()

    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.grad = torch.zeros_like(p)
    opt = torch.optim.Adam(params, lr=1e-12)
    opt.step()

    per_step = {
        "encoder": timed(enc),
        "decoder": 2 * timed(dec),
        "MS-SSIM + MAE": timed(ssim),
        "critic": 3 * timed(critic) if module.critic is not None else 0.0,
        "Adam": timed(opt.step),
    }
    per_epoch = {k: v * steps for k, v in per_step.items()}
    per_epoch["E-step"] = timed(lambda: net.estep(Xp))
    return per_epoch


def score_part_costs(det, X, repeats):
    """Seconds per 1,000 images of the encoder, the decoder and MS-SSIM + MAE of the
    scoring path (eval mode; the inference copies when the code has them), timed alone
    in the batches the detector scores in."""
    import torch

    module = det.net_.module_.eval()
    try:  # the inference copy the detector scores with (absent in older code)
        from sklearn_igd._inference import cached_inference_copy

        module = cached_inference_copy(det.net_.module_)
        channels_last = True
    except ImportError:
        channels_last = False
    from sklearn_igd._losses import reconstruction_loss
    from sklearn_igd._scoring import EVAL_VALUES

    try:
        from sklearn_igd._scoring import CPU_EVAL_VALUES
    except ImportError:
        CPU_EVAL_VALUES = EVAL_VALUES
    Xp = torch.from_numpy(_images(X)).to(det.device_)
    budget = CPU_EVAL_VALUES if det.device_ == "cpu" else EVAL_VALUES
    bs = max(1, budget // int(Xp[0].numel()))
    batches = [Xp[s : s + bs] for s in range(0, len(Xp), bs)]
    if channels_last:
        batches = [x.contiguous(memory_format=torch.channels_last) for x in batches]
    scale = 1000.0 / len(Xp)
    with torch.inference_mode():
        zs = [module.encode(x) for x in batches]
        xhs = [module.decode(z) for z in zs]
        rho, ssim = module.rho, module.ssim
        return {
            "encoder": scale * _best_time(lambda: [module.encode(x) for x in batches], repeats),
            "decoder": scale * _best_time(lambda: [module.decode(z) for z in zs], repeats),
            "MS-SSIM + MAE": scale
            * _best_time(
                lambda: [
                    reconstruction_loss(x, xh, rho=rho, ssim=ssim) for x, xh in zip(batches, xhs)
                ],
                repeats,
            ),
        }


# ---------------------------------------------------------------- parent process
def _git(*args):
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.contextmanager
def baseline_worktree(rev):
    """A detached ``git worktree`` of ``rev`` in a temporary folder (removed afterwards)."""
    commit = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    path = Path(tempfile.mkdtemp(prefix="sklearn-igd-baseline-")) / commit[:10]
    _git("worktree", "add", "--detach", str(path), commit)
    try:
        yield path, commit
    finally:
        _git("worktree", "remove", "--force", str(path))
        shutil.rmtree(path.parent, ignore_errors=True)


def run_child(name, args, pythonpath, parts=False):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(pythonpath) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", str(args.threads))
    cmd = [sys.executable, __file__, "--only", name, "--device", args.device]
    cmd += ["--threads", str(args.threads), "--repeats", str(args.repeats)]
    cmd += ["--parts"] if parts else []
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(HERE))
    if res.returncode != 0:
        raise RuntimeError(f"{name} failed ({pythonpath}):\n{res.stderr[-3000:]}")
    row = json.loads(res.stdout.strip().splitlines()[-1])
    if Path(row.get("package", pythonpath)).resolve() != Path(pythonpath).resolve():
        raise RuntimeError(f"{name} imported sklearn_igd from {row['package']}, not {pythonpath}")
    return row


def _cpu_model():
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _fmt_ratio(new, old):
    return f"{new / old:.2f}x" if old else "-"


def report(rows, baseline_rows, args, commits, loads):
    import torch

    cuda = args.device.startswith("cuda")
    current, base_commit = commits
    argv = sys.argv[1:]
    kept = [a for i, a in enumerate(argv) if a != "--out" and (i == 0 or argv[i - 1] != "--out")]
    kept = [a for a in kept if not a.startswith("--out=")]
    cmd = shlex.join(["python", "benchmarks/bench_throughput.py", *kept])
    lines = [
        f"# Throughput, device `{args.device}`",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {_cpu_model()}, {os.cpu_count()} CPU core(s), torch {torch.__version__}"
        + (f", {torch.cuda.get_device_name(0)}" if cuda else "")
        + f"; {args.threads} torch thread(s)  ",
        f"Load average (1, 5, 15 min): {loads[0]} before, {loads[1]} after the run  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M')}; code: `{current}` (this tree), baseline "
        f"`{base_commit[:10]}` (`--baseline {args.baseline}`)  ",
        "Data: MNIST-5k, digit 0 normal: fit on its 250 images of one stratified half, score "
        "the 2,500 images of the other half (28 px). IGDDetector: global model "
        f"(local=False), pretrain=None, batch {BATCH_SIZE}, lr {LR}. Fit img/s per epoch = "
        "250 / mean epoch time (E-step included); scoring = best of "
        f"{args.repeats} calls of decision_function after a warm-up.",
        "",
        "| detector | code | epochs | fit s | fit img/s per epoch | score img/s "
        "| fit vs baseline | score vs baseline | peak RSS MB |"
        + (" peak CUDA MB |" if cuda else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if cuda else ""),
    ]
    base = {r["detector"]: r for r in baseline_rows}
    for r in rows:
        for tag, row in (("this", r), ("baseline", base.get(r["detector"]))):
            if row is None:
                continue
            b = base.get(r["detector"]) if tag == "this" else None
            lines.append(
                f"| {row['detector']} | {tag} | {row['epochs']} | {row['fit_s']:.2f} | "
                f"{row['fit_img_per_s_per_epoch']:.0f} | {row['score_img_per_s']:.0f} | "
                + (
                    f"{_fmt_ratio(row['fit_img_per_s_per_epoch'], b['fit_img_per_s_per_epoch'])} "
                    f"| {_fmt_ratio(row['score_img_per_s'], b['score_img_per_s'])} | "
                    if b
                    else "| | "
                )
                + f"{row['peak_rss_mb'] - row['base_rss_mb']:.0f} |"
                + (f" {row.get('peak_cuda_mb', 0):.0f} |" if cuda else "")
            )
    parts = [r for r in rows if "train_parts" in r]
    if parts:
        lines += [
            "",
            "## Where a training epoch goes (this code)",
            "",
            "Seconds per epoch (250 images, batch 16: 15 steps) of each part of the training "
            "step timed alone (forward + backward, best of the repeats) times its calls per "
            "epoch; `measured epoch` is the history's mean epoch time, and the difference to "
            "the sum of the parts is skorch, data and Python overhead.",
            "",
        ]
        names = list(parts[0]["train_parts"])
        lines.append("| detector | " + " | ".join(names) + " | sum | measured epoch |")
        lines.append("|---|" + "---|" * (len(names) + 2))
        for r in parts:
            p = r["train_parts"]
            cells = [f"{p[k]:.3f} ({100 * p[k] / r['epoch_s']:.0f}%)" for k in names]
            lines.append(
                f"| {r['detector']} | "
                + " | ".join(cells)
                + f" | {sum(p.values()):.3f} | {r['epoch_s']:.3f} |"
            )
        lines += [
            "",
            "Scoring, seconds per 1,000 images of each part (eval mode, the detector's "
            "inference copies and batches):",
            "",
        ]
        names = list(parts[0]["score_parts"])
        lines.append("| detector | " + " | ".join(names) + " | sum | measured |")
        lines.append("|---|" + "---|" * (len(names) + 2))
        for r in parts:
            p = r["score_parts"]
            measured = 1000.0 / r["score_img_per_s"]
            lines.append(
                f"| {r['detector']} | "
                + " | ".join(f"{p[k]:.3f}" for k in names)
                + f" | {sum(p.values()):.3f} | {measured:.3f} |"
            )
    ceiling = [r for r in parts if "score_flops_per_image" in r]
    if ceiling:
        lines += [
            "",
            "## How far scoring is from the hardware",
            "",
            "MFLOP per scored image: the encoder and decoder of the scoring path, counted by "
            "`torch.utils.flop_counter.FlopCounterMode`. Matmul GFLOP/s: this machine's "
            "float32 rate on a 2048 x 2048 matrix product with the same threads, the "
            "practical ceiling of convolution-bound inference. Ceiling img/s = matmul rate / "
            f"FLOP per image; `needed for {TARGET_SCORE_RATE:,} img/s` is the rate that "
            "target asks of the machine.",
            "",
            "| detector | MFLOP per image | achieved GFLOP/s | matmul GFLOP/s | "
            "ceiling img/s | measured / ceiling | "
            f"needed for {TARGET_SCORE_RATE:,} img/s |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in ceiling:
            flop = r["score_flops_per_image"]
            achieved = r["score_img_per_s"] * flop / 1e9
            cap = r["matmul_gflops"] * 1e9 / flop
            needed = TARGET_SCORE_RATE * flop / 1e9
            lines.append(
                f"| {r['detector']} | {flop / 1e6:.1f} | {achieved:.0f} | "
                f"{r['matmul_gflops']:.0f} | {cap:.0f} | {r['score_img_per_s'] / cap:.2f} | "
                f"{needed:.0f} GFLOP/s ({needed / r['matmul_gflops']:.2f}x the matmul rate) |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--baseline", default="HEAD~1", help="git revision to compare with; 'none' to skip"
    )
    parser.add_argument("--detectors", default=",".join([*IGD_CONFIGS, *PEERS]))
    parser.add_argument("--out", default=None, help="results file (default results/...)")
    parser.add_argument("--only", default=None, help=argparse.SUPPRESS)  # child mode
    parser.add_argument("--parts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        row = measure(args.only, args.device, args.threads, args.repeats, args.parts)
        print(json.dumps(row))
        return
    names = args.detectors.split(",")
    loads = [os.getloadavg()]
    current = _git("rev-parse", "--short", "HEAD") + (
        "+dirty" if _git("status", "--short") else ""
    )
    rows, baseline_rows = [], []
    with contextlib.ExitStack() as stack:
        base_path, base_commit = None, "none"
        if args.baseline != "none":
            base_path, base_commit = stack.enter_context(baseline_worktree(args.baseline))
        # alternate this code and the baseline detector by detector, so that a change
        # of the machine's load hits both alike
        for name in names:
            rows.append(run_child(name, args, ROOT, parts=name in IGD_CONFIGS))
            print(json.dumps({k: v for k, v in rows[-1].items() if "parts" not in k}), flush=True)
            if base_path is not None and name in IGD_CONFIGS:
                baseline_rows.append(run_child(name, args, base_path))
                print("baseline", json.dumps(baseline_rows[-1]), flush=True)
    loads.append(os.getloadavg())
    loads = [", ".join(f"{v:.2f}" for v in lavg) for lavg in loads]
    text = report(rows, baseline_rows, args, (current, base_commit), loads)
    out = (
        Path(args.out)
        if args.out
        else HERE / "results" / f"throughput_{args.device.split(':')[0]}.md"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(
        json.dumps({"rows": rows, "baseline_rows": baseline_rows, "load": loads}, indent=1)
    )
    print(text)
    print(f"Written to {out}")


if __name__ == "__main__":
    main()
