"""Training datasets and the batch iterator (sklearn_igd._data)."""

import numpy as np
import torch

from sklearn_igd._data import BatchIterator, PatchSamples, Samples
from sklearn_igd._patches import extract_patches, patch_grid


def test_samples_batches_are_slices():
    x, f = torch.rand(10, 1, 8, 8), torch.rand(10, 5)
    idx = torch.tensor([3, 0, 7])
    assert torch.equal(Samples(x).batch(idx), x[idx])
    b = Samples(x, f).batch(idx)
    assert torch.equal(b["x"], x[idx]) and torch.equal(b["features"], f[idx])
    assert len(Samples(x)) == 10 and torch.equal(Samples(x)[4][0], x[4])


def test_patch_samples_match_extraction():
    x = torch.rand(3, 2, 13, 11)
    grid = patch_grid(13, 11, 5, 3)
    ds = PatchSamples(x, 5, grid)
    every = extract_patches(x, 5, grid)
    assert len(ds) == every.shape[0]
    idx = torch.randperm(len(ds))[:17]
    assert torch.equal(ds.batch(idx), every[idx])
    assert torch.equal(ds[5][0], every[5]) and torch.equal(ds.all_patches(x), every)


def test_iterator_order_shuffle_and_drop_last():
    ds = Samples(torch.arange(10).float()[:, None])
    plain = [b.flatten().tolist() for b, _ in BatchIterator(ds, 4)]
    assert plain == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    torch.manual_seed(0)
    shuffled = [
        b.flatten().tolist() for b, _ in BatchIterator(ds, 4, shuffle=True, drop_last=True)
    ]
    assert len(shuffled) == len(BatchIterator(ds, 4, drop_last=True)) == 2
    assert all(len(b) == 4 for b in shuffled) and sorted(sum(shuffled, [])) != list(range(8))


def test_shards_cover_every_sample_once_per_epoch():
    """What each ``torch.distributed`` rank gets: disjoint shards of one permutation that
    together cover every sample (wrapping pads to equal shards, as DistributedSampler)."""
    ds = Samples(torch.arange(11).float()[:, None])
    shards = []
    for rank in range(3):
        it = BatchIterator(ds, 2, shuffle=True)
        it.rank, it.world_size = rank, 3
        torch.manual_seed(5)  # every rank seeds its RNG the same way
        shards.append(it.indices().tolist())
    assert all(len(s) == 4 for s in shards)
    flat = sum(shards, [])
    assert set(flat) == set(range(11)) and len(flat) == 12  # one sample repeated to pad
    torch.manual_seed(5)
    perm = torch.randperm(11).tolist()
    assert shards[1] == (perm + perm[:1])[1::3]
    np.testing.assert_array_equal(sorted(flat[:11] + flat[11:]), sorted(perm + perm[:1]))
