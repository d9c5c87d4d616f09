"""Patch grids for the local IGD model: extraction and folding back.

Pure functions of tensors (shapes in the docstrings). A patch grid covers the whole image:
patches of side ``p`` start every ``stride`` pixels and, where the stride does not land on
the border, one more row/column of patches is aligned with the bottom/right edge.
"""

from __future__ import annotations

import numpy as np
import torch

#: Smallest automatic patch side.
MIN_AUTO_PATCH = 8


def auto_patch_size(height, width):
    """``patch_size="auto"``: ``max(8, min(H, W) // 8)``, never larger than the image."""
    return min(max(MIN_AUTO_PATCH, min(height, width) // 8), height, width)


def patch_starts(side, patch, stride):
    """Start offsets (int64 array) along one axis covering ``[0, side)`` with ``patch``.

    >>> patch_starts(10, 4, 2).tolist()
    [0, 2, 4, 6]
    >>> patch_starts(11, 4, 2).tolist()
    [0, 2, 4, 6, 7]
    """
    if not 1 <= patch <= side:
        raise ValueError(f"patch size must be in [1, {side}] for a side of {side}; got {patch}.")
    if stride < 1:
        raise ValueError(f"patch stride must be >= 1; got {stride}.")
    starts = list(range(0, side - patch + 1, stride))
    if starts[-1] != side - patch:
        starts.append(side - patch)
    return np.asarray(starts, dtype=np.int64)


def patch_grid(height, width, patch, stride):
    """``(ys, xs)`` start offsets; the grid has ``len(ys) * len(xs)`` patches, row-major."""
    return patch_starts(height, patch, stride), patch_starts(width, patch, stride)


def extract_patches(x, patch, grid):
    """All grid patches of a batch of images.

    Parameters
    ----------
    x : Tensor (n, C, H, W)
    patch : int
    grid : (ys, xs) from :func:`patch_grid`

    Returns
    -------
    Tensor (n * P, C, patch, patch)
        Patches of image 0 first (row-major over the grid), then image 1, ...;
        ``P = len(ys) * len(xs)``.
    """
    ys, xs = (torch.as_tensor(g, device=x.device) for g in grid)
    offs = torch.arange(patch, device=x.device)
    iy = (ys[:, None] + offs)[:, None, :, None]  # (Py, 1, p, 1)
    ix = (xs[:, None] + offs)[None, :, None, :]  # (1, Px, 1, p)
    n, c = x.shape[:2]
    patches = x[:, :, iy, ix]  # (n, C, Py, Px, p, p)
    return patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, patch, patch)


def fold_patch_maps(maps, image_size, patch, grid):
    """Fold per-patch maps back to image maps, averaging where patches overlap.

    Parameters
    ----------
    maps : Tensor (n, P, patch, patch)
        One map per grid patch, in :func:`extract_patches` order.
    image_size : (H, W)
    patch : int
    grid : (ys, xs)

    Returns
    -------
    Tensor (n, H, W)
        Each pixel is the mean of the values that the patches covering it give it.

    Notes
    -----
    The grid is a product of row and column offsets, so the sum over patches is
    separable: with the patch maps laid side by side in a ``(Py p, Px p)`` mosaic, the
    folded sum is ``A_y @ mosaic @ A_x`` with 0/1 placement matrices ``A_y`` (H, Py p)
    and ``A_x`` (Px p, W). Two matrix products (constants in a traced ONNX export,
    instead of one scatter per patch), divided by the (separable) number of covering
    patches.
    """
    ys, xs = (np.asarray(g) for g in grid)
    height, width = (int(s) for s in image_size)
    place_y, place_x = _placement(height, patch, ys), _placement(width, patch, xs)
    a_y = torch.from_numpy(place_y).to(maps)  # (H, Py p)
    a_x = torch.from_numpy(np.ascontiguousarray(place_x.T)).to(maps)  # (Px p, W)
    count = np.outer(place_y.sum(1), place_x.sum(1))  # patches covering each pixel
    mosaic = maps.reshape(-1, len(ys), len(xs), patch, patch).transpose(2, 3)
    mosaic = mosaic.reshape(-1, len(ys) * patch, len(xs) * patch)
    return (a_y @ mosaic @ a_x) / torch.from_numpy(count).to(maps)


def _placement(side, patch, starts):
    """``(side, len(starts) * patch)`` float32 0/1 matrix: entry ``(s_a + i, a p + i)`` is 1."""
    m = np.zeros((side, len(starts) * patch), dtype=np.float32)
    offs = np.arange(patch)
    for a, s in enumerate(starts.tolist()):
        m[s + offs, a * patch + offs] = 1.0
    return m
