"""Training data for the IGD nets: in-memory samples, lazy patches, and a batch iterator.

skorch builds its training iterator as ``iterator_train(dataset, batch_size=..., ...)``.
A :class:`torch.utils.data.DataLoader` fetches one sample at a time and collates them,
which for small images costs more than the network itself; here every dataset cuts a
whole batch at once from tensors (:meth:`Samples.batch`), and :class:`BatchIterator`
draws the batches' indices. Under ``torch.distributed`` each process takes its own shard
of every epoch's permutation, as :class:`~torch.utils.data.DistributedSampler` does.

Shapes: images ``(n, C, H, W)`` float32 in ``[0, 1]``; vectors ``(n, d)``; patches
``(m, C, p, p)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._patches import extract_patches


def distributed_context():
    """``(rank, world_size)`` of the current ``torch.distributed`` process group, or (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class Samples(torch.utils.data.Dataset):
    """Samples held in memory, with optional cached features of a frozen encoder.

    Parameters
    ----------
    x : Tensor (n, ...)
    features : Tensor (n, d) or None
        Precomputed features of ``x`` (feature caching); batches are then dicts
        ``{"x": ..., "features": ...}``.
    """

    def __init__(self, x, features=None):
        self.x = x
        self.features = features

    def __len__(self):
        return self.x.shape[0]

    def __getitem__(self, i):  # the per-item protocol; training uses :meth:`batch`
        return self.batch(torch.as_tensor([int(i)]))[0], torch.zeros(())

    def batch(self, idx):
        """Samples ``idx`` (a LongTensor) as one batch: a tensor or a dict with features."""
        x = self.x[idx]
        if self.features is None:
            return x
        return {"x": x, "features": self.features[idx]}


class PatchSamples(torch.utils.data.Dataset):
    """Every grid patch of every image, cut on demand: memory stays that of the images.

    Item ``i`` is patch ``i % P`` of image ``i // P``, shape (C, patch, patch).

    Parameters
    ----------
    images : Tensor (n, C, H, W)
    patch : int
    grid : (ys, xs)
        Patch start offsets (:func:`~sklearn_igd._patches.patch_grid`).
    """

    def __init__(self, images, patch, grid):
        self.images = images
        self.patch = int(patch)
        self.ys = torch.as_tensor(np.asarray(grid[0]), dtype=torch.long)
        self.xs = torch.as_tensor(np.asarray(grid[1]), dtype=torch.long)
        self.per_image = len(self.ys) * len(self.xs)

    def __len__(self):
        return self.images.shape[0] * self.per_image

    def __getitem__(self, i):
        return self.batch(torch.as_tensor([int(i)]))[0], torch.zeros(())

    def batch(self, idx):
        """Patches ``idx`` (a LongTensor) as one (m, C, patch, patch) tensor."""
        img = torch.div(idx, self.per_image, rounding_mode="floor")
        k = idx - img * self.per_image
        ys = self.ys[torch.div(k, len(self.xs), rounding_mode="floor")]
        xs = self.xs[k % len(self.xs)]
        offs = torch.arange(self.patch)
        rows = (ys[:, None] + offs)[:, None, :, None]  # (m, 1, p, 1)
        cols = (xs[:, None] + offs)[:, None, None, :]  # (m, 1, 1, p)
        chans = torch.arange(self.images.shape[1])[None, :, None, None]  # (1, C, 1, 1)
        return self.images[img[:, None, None, None], chans, rows, cols]

    def all_patches(self, images):
        """Every patch of ``images`` (n, C, H, W) in item order: (n * P, C, p, p)."""
        return extract_patches(images, self.patch, (self.ys, self.xs))


class BatchIterator:
    """Batches of a :class:`Samples` or :class:`PatchSamples` dataset, as skorch expects.

    Iterating yields ``(X_batch, None)``. With ``shuffle`` every pass draws a new
    permutation from torch's global RNG (which the estimator seeds); with ``drop_last``
    the incomplete last batch is dropped. In a ``torch.distributed`` process group each
    rank takes every ``world_size``-th index of the permutation, starting at its rank, so
    that one epoch covers every sample once across the ranks (the permutation is the same
    on every rank because every rank seeds its RNG the same way); ``batch_size`` is then
    the per-process batch.

    Parameters
    ----------
    dataset : Samples or PatchSamples
    batch_size : int
    shuffle : bool, default=False
    drop_last : bool, default=False
    """

    def __init__(self, dataset, batch_size, shuffle=False, drop_last=False):
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rank, self.world_size = distributed_context() if shuffle else (0, 1)

    def indices(self):
        """This process's sample indices of one pass, in order (LongTensor)."""
        n = len(self.dataset)
        order = torch.randperm(n) if self.shuffle else torch.arange(n)
        if self.world_size > 1:
            # pad by wrapping so that every rank gets the same count (DistributedSampler)
            per_rank = math.ceil(n / self.world_size)
            order = torch.cat([order, order[: per_rank * self.world_size - n]])
            order = order[self.rank :: self.world_size]
        return order

    def __len__(self):
        n = len(self.dataset)
        if self.world_size > 1:
            n = math.ceil(n / self.world_size)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        order = self.indices()
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(0, stop, self.batch_size):
            yield self.dataset.batch(order[start : start + self.batch_size]), None
