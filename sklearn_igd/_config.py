"""Resolution of :class:`~sklearn_igd.IGDDetector`'s ``"auto"`` parameters for one fit.

:func:`resolve_fit_plan` turns the estimator's parameters and the shape of the training
data into a :class:`FitPlan`: the device, the backbone, the number of epochs, the batch
sizes, whether the local model trains and its patch geometry. Everything that can be
checked against the data is checked here, before any training starts, with errors that
name the parameter, the expected and the received value.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from dataclasses import dataclass
from numbers import Integral

import torch
from sklearn.utils._param_validation import Interval

from ._data import distributed_context
from ._patches import auto_patch_size, patch_grid

#: ``local="auto"`` trains the local model for images whose shorter side is at least this.
#: The paper uses the local model on MVTec AD's 256 px images; on 28 px digits a patch
#: of 8 px sees a stroke fragment and the global model alone is the paper's setting.
LOCAL_AUTO_MIN_SIDE = 64

#: ``local_batch_size="auto"``: input values (pixels x channels) per local training
#: batch. Training memory grows with it, so a budget of values, not a patch count, keeps
#: it bounded whatever the patch size (``benchmarks/bench_memory.py`` measures it).
LOCAL_BATCH_VALUES = 1 << 17
#: ... and at most this many patches, in multiples of ``batch_size``.
LOCAL_BATCH_FACTOR = 16

#: ``local_epochs="auto"``: the local model trains for enough epochs to pass over about
#: this many patches (an epoch passes over every patch of every image: 22,500 for 100
#: crops of 64 px, 225 patches each), at least :data:`LOCAL_MIN_EPOCHS` and at most the
#: global model's epochs. Chosen on validation textures, photographs and silhouettes and
#: checked once on held-out ones (``benchmarks/results/local_epochs.md``): 2 local epochs
#: of 100-200 crops of 64 px instead of the global model's 10 (5 for 200) left the
#: heatmap's pixel ROC AUC and the image ROC AUC level (within 0.003 on average) at 53-75%
#: of the fit time; with 64 crops of 32 px (3,136 patches an epoch) 2 epochs of 5 were
#: too few.
LOCAL_PATCH_PASSES = 45_000
LOCAL_MIN_EPOCHS = 2

#: ``max_epochs="auto"`` on CUDA: the paper's 256 epochs.
GPU_EPOCHS = 256
#: ``max_epochs="auto"`` on a CPU: about this many sample passes (epochs x training
#: samples), at least one epoch and at most :data:`GPU_EPOCHS`. With the frozen ImageNet
#: encoder, 10,000 passes instead of 5,000 changed validation AUCs by less than 0.003
#: (MNIST and Fashion-MNIST classes, held-back training images), for twice the time.
CPU_SAMPLE_PASSES = 5_000
#: ... of images of up to this many pixels; an image of more counts for its pixels /
#: this many samples, so that the time of a fit grows less with the image size.
CPU_PIXELS = 28 * 28


class Count(Interval):
    """An :class:`~sklearn.utils._param_validation.Interval` of integers excluding bools
    (``True`` is an ``Integral`` in Python, and ``max_epochs=True`` must not mean 1)."""

    def __init__(self, left, right=None, closed="left"):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


def resolve_device(device):
    """``"auto"`` -> ``"cuda:LOCAL_RANK"`` under torchrun, ``"cuda"`` when available, else
    ``"cpu"``; other values are checked. Returns a string."""
    if device == "auto":
        if not torch.cuda.is_available():
            return "cpu"
        local_rank = os.environ.get("LOCAL_RANK")
        return f"cuda:{int(local_rank)}" if local_rank is not None else "cuda"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'; received {device!r}."
        ) from exc
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'; received {device!r} "
            f"(device type {resolved.type!r} cannot train IGD)."
        )
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' or 'cpu'."
        )
    return str(resolved)


def resolve_threads(n_threads):
    """Torch CPU threads for a fit or a scoring call: ``n_threads``, else the Dask
    worker's ``nthreads`` inside a Dask worker, else the process's current setting."""
    if n_threads is not None:
        return int(n_threads)
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return int(get_worker().state.nthreads)
        except (ValueError, AttributeError, ImportError):
            pass  # not inside a worker
    return torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(n):
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous count.

    The count is set even when torch already reports ``n``: ``torch.get_num_threads``
    reads OpenMP's setting, which threadpoolctl (or ``omp_set_num_threads``) can change
    behind torch's back, while the other settings that ``set_num_threads`` makes keep
    theirs. Skipping the call let a fit with ``n_threads=1`` under threadpoolctl's OpenMP
    limit of 1, after a fit at two threads in the same process, train other weights
    than the same fit without the limit.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def torch_seed(seed, device):
    """Seed torch's CPU (and the device's CUDA) RNG inside a fork: global states untouched."""
    devices = [torch.device(device)] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        torch.manual_seed(seed)
        yield


@dataclass(frozen=True)
class FitPlan:
    """The resolved settings of one fit (see :func:`resolve_fit_plan`)."""

    device: str
    amp_dtype: object
    backbone: str
    n_epochs: int
    batch_size: int
    local: bool
    patch_size: int | None
    patch_stride: int | None
    grid: tuple | None
    local_batch_size: int | None
    n_threads: int
    world_size: int = 1
    #: the local model's epochs (None without it)
    n_local_epochs: int | None = None


def _auto_epochs(device, n_samples, sample_shape):
    """``max_epochs="auto"``: :data:`GPU_EPOCHS` on CUDA; on a CPU
    :data:`CPU_SAMPLE_PASSES` passes of 28x28 images' worth of pixels (images larger than
    that count for more than one sample), 1 to :data:`GPU_EPOCHS` epochs."""
    if device.startswith("cuda"):
        return GPU_EPOCHS
    size = max(1.0, math.prod(sample_shape[1:]) / CPU_PIXELS) if len(sample_shape) == 3 else 1.0
    passes = CPU_SAMPLE_PASSES / (max(n_samples, 1) * size)
    return int(min(GPU_EPOCHS, max(1, round(passes))))


def _local_epochs(local_epochs, n_epochs, n_patches):
    """``local_epochs`` resolved for ``n_patches`` training patches: ``"auto"`` is the
    epochs that pass over :data:`LOCAL_PATCH_PASSES` patches, at least
    :data:`LOCAL_MIN_EPOCHS` and at most the global model's ``n_epochs``."""
    if local_epochs != "auto":
        return int(local_epochs)
    epochs = max(LOCAL_MIN_EPOCHS, math.ceil(LOCAL_PATCH_PASSES / n_patches))
    return min(n_epochs, epochs)


def _patch_geometry(est, h, w):
    patch = auto_patch_size(h, w) if est.patch_size == "auto" else est.patch_size
    if patch > min(h, w):
        raise ValueError(
            f"patch_size={patch} does not fit images of {h}x{w}; expected at most "
            f"{min(h, w)} (or 'auto' = {auto_patch_size(h, w)})."
        )
    stride = max(1, patch // 2) if est.patch_stride == "auto" else est.patch_stride
    if stride > patch:
        raise ValueError(
            f"patch_stride={stride} is larger than patch_size={patch}: the patches would "
            f"leave gaps of {stride - patch} px that neither the local score nor the heatmap "
            f"covers; expected patch_stride <= {patch}."
        )
    return patch, stride


def resolve_fit_plan(est, input_shape, n_samples, n_threads):
    """The :class:`FitPlan` of ``est`` for ``n_samples`` samples of ``input_shape``.

    Under ``torch.distributed`` the batch sizes are per process: ``batch_size`` (and the
    local batch) divided by the number of processes, so that the global batch is the
    one asked for. Raises ValueError for a patch geometry that does not fit the images.
    """
    device = resolve_device(est.device)
    is_image = len(input_shape) == 3
    world = distributed_context()[1]
    batch_size = min(est.batch_size, n_samples) // world  # per process
    if batch_size < 2:
        raise ValueError(
            f"batch_size={est.batch_size} gives {batch_size} sample(s) per process with "
            f"{world} torch.distributed processes and {n_samples} training samples; expected "
            f"at least 2 per process (batch_size >= {2 * world})."
        )
    backbone = est.backbone
    if backbone == "auto":
        backbone = "resnet18" if device.startswith("cuda") else "resnet18-lite"
    epochs = est.max_epochs
    if epochs == "auto":
        epochs = _auto_epochs(device, n_samples, input_shape)
    local = is_image and (
        est.local if est.local != "auto" else min(input_shape[1:]) >= LOCAL_AUTO_MIN_SIDE
    )
    patch = stride = grid = local_batch = None
    if local:
        c, h, w = input_shape
        patch, stride = _patch_geometry(est, h, w)
        grid = patch_grid(h, w, patch, stride)
        n_patches = n_samples * len(grid[0]) * len(grid[1])
        if est.local_batch_size == "auto":
            local_batch = min(
                LOCAL_BATCH_FACTOR * est.batch_size, LOCAL_BATCH_VALUES // (c * patch * patch)
            )
        else:
            local_batch = est.local_batch_size
        local_batch = max(2, min(local_batch, n_patches) // world)
    return FitPlan(
        device=device,
        amp_dtype=torch.bfloat16 if device.startswith("cuda") else None,
        backbone=backbone,
        n_epochs=int(epochs),
        batch_size=batch_size,
        local=bool(local),
        patch_size=patch,
        patch_stride=stride,
        grid=grid,
        local_batch_size=local_batch,
        n_threads=n_threads,
        world_size=world,
        n_local_epochs=(
            _local_epochs(est.local_epochs, int(epochs), n_patches) if local else None
        ),
    )


def shared_seed(random_state):
    """An int seed from ``random_state``; under ``torch.distributed`` rank 0's, so that
    every process initialises the same weights and draws the same permutations."""
    import numpy as np
    from sklearn.utils import check_random_state

    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    if distributed_context()[1] > 1:
        box = [seed]
        torch.distributed.broadcast_object_list(box, src=0)
        seed = int(box[0])
    return seed
