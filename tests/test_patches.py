"""Patch grids, patch extraction and folding back (the local model)."""

import numpy as np
import pytest
import torch

from sklearn_igd._data import PatchSamples
from sklearn_igd._patches import (
    auto_patch_size,
    extract_patches,
    fold_patch_maps,
    patch_grid,
    patch_starts,
)


@pytest.mark.parametrize(
    "side, patch, stride",
    [(28, 8, 4), (29, 8, 4), (64, 8, 4), (9, 9, 4), (256, 32, 16), (30, 7, 3)],
)
def test_patch_starts_cover_the_axis(side, patch, stride):
    starts = patch_starts(side, patch, stride)
    covered = np.zeros(side, bool)
    for s in starts:
        covered[s : s + patch] = True
    assert covered.all() and starts[0] == 0 and starts[-1] == side - patch
    assert np.all(np.diff(starts) >= 1) and np.all(np.diff(starts) <= stride)


def test_auto_patch_size():
    assert auto_patch_size(28, 28) == 8
    assert auto_patch_size(256, 256) == 32
    assert auto_patch_size(128, 96) == 12
    assert auto_patch_size(6, 6) == 6


def test_patch_errors():
    with pytest.raises(ValueError, match="patch size must be in"):
        patch_starts(8, 9, 4)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        patch_starts(8, 4, 0)


def test_extract_matches_slicing_and_dataset():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 2, 13, 11, generator=g)
    grid = patch_grid(13, 11, 5, 3)
    patches = extract_patches(x, 5, grid)
    ys, xs = grid
    assert patches.shape == (3 * len(ys) * len(xs), 2, 5, 5)
    ds = PatchSamples(x, 5, grid)
    assert len(ds) == patches.shape[0]
    k = 0
    for i in range(3):
        for y in ys:
            for x0 in xs:
                assert torch.equal(patches[k], x[i, :, y : y + 5, x0 : x0 + 5])
                assert torch.equal(ds[k][0], patches[k])
                k += 1


def test_fold_averages_overlaps():
    grid = patch_grid(10, 9, 4, 2)
    ys, xs = grid
    P = len(ys) * len(xs)
    # patch k's map is the constant k: each pixel gets the mean of its covering patches
    maps = torch.arange(P, dtype=torch.float64)[None, :, None, None].expand(2, P, 4, 4)
    folded = fold_patch_maps(maps, (10, 9), 4, grid)
    expected = np.zeros((10, 9))
    for r in range(10):
        for c in range(9):
            ks = [
                a * len(xs) + b
                for a, y in enumerate(ys)
                for b, x0 in enumerate(xs)
                if y <= r < y + 4 and x0 <= c < x0 + 4
            ]
            expected[r, c] = np.mean(ks)
    np.testing.assert_allclose(folded[0].numpy(), expected)
    # extracting then folding an image gives the image back
    img = torch.rand(2, 1, 10, 9, dtype=torch.float64)
    back = fold_patch_maps(extract_patches(img, 4, grid).reshape(2, P, 4, 4), (10, 9), 4, grid)
    torch.testing.assert_close(back, img[:, 0])
