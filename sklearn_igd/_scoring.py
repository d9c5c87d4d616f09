"""Scoring fitted IGD models: anomaly scores (eq. 13-15) and heatmaps (eq. 16-17).

The torch models score themselves in eval mode
(:meth:`~sklearn_igd._networks.IGDModule.score_terms` and ``error_terms``).
:class:`LocalScorer` gives the local (patch) model its patch geometry once and turns whole
images into per-patch terms and folded per-pixel maps; :class:`IGDScorer` adds the global
and the local parts with their fitted scales. Both are ``nn.Module`` s, so that scoring is
one torch graph from images to score and heatmap (what :func:`sklearn_igd.to_onnx`
exports). :func:`score_in_batches` runs a scorer over an array in batches whose size is
set by a pixel budget, so memory does not grow with the image size or count; it scores
with an inference copy of the models (batch norm folded, ``channels_last``,
:mod:`sklearn_igd._inference`) that gives the same scores up to float32 rounding.

Shapes: images ``(n, C, H, W)`` float32 in ``[0, 1]``; ``P`` patches per image.
"""

from __future__ import annotations

import collections
import contextlib
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from sklearn.utils import Bunch
from torch import nn

from ._config import torch_threads
from ._inference import cached_inference_copy
from ._patches import extract_patches, fold_patch_maps

#: Input values (pixels x channels) per forward pass when scoring: bounds scoring memory
#: whatever the image size (``benchmarks/bench_memory.py`` measures the peaks).
EVAL_VALUES = 1 << 18
#: ... and at most this many on a CPU, where batches whose activations stay in the
#: caches run faster (``benchmarks/bench_throughput.py`` measures scoring speed).
CPU_EVAL_VALUES = 1 << 16

#: Names of the per-sample and per-pixel parts :meth:`IGDScorer.parts` returns.
SCORE_PARTS = (
    "score",
    "global_score",
    "local_score",
    "global_reconstruction",
    "global_gaussian",
)
HEATMAP_PARTS = ("heatmap", "global_heatmap", "local_heatmap", "feature_heatmap")


#: Gaussian kernels reach this many standard deviations on each side (as scipy's default).
SMOOTHING_TRUNCATE = 4.0

#: ``local_score="heatmap_top"`` averages this share of each heatmap's highest pixels.
HEATMAP_TOP_FRACTION = 0.1

#: The local score options: how :class:`IGDScorer` reduces maps or patches to ``s_L``.
LOCAL_SCORES = ("heatmap_top", "heatmap_max", "worst_patch")


def gaussian_kernel_1d(sigma, truncate=SMOOTHING_TRUNCATE):
    """Normalised 1-D Gaussian kernel, float64 ndarray of shape (2r + 1,),
    ``r = ceil(truncate * sigma)``; ``[1.0]`` for ``sigma == 0``."""
    radius = int(math.ceil(truncate * float(sigma)))
    if radius == 0:
        return np.ones(1)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return k / k.sum()


def smoothing_matrix(side, kernel):
    """``(side, side)`` float64 matrix ``M`` such that ``M @ v`` smooths ``v`` (side,)
    with ``kernel`` (2r + 1,), borders reflected without repeating the border value
    (scipy's ``mode="mirror"``). Where ``side <= r`` the kernel is cut to ``side - 1``
    on each side and renormalised, so that rows still sum to 1."""
    mid = (len(kernel) - 1) // 2
    r = min(mid, side - 1)
    k = np.asarray(kernel[mid - r : mid + r + 1], dtype=np.float64)
    k = k / k.sum()
    rows = np.arange(side)[:, None]
    src = rows + np.arange(-r, r + 1)[None, :]  # (side, 2r + 1) source indices
    period = max(2 * side - 2, 1)
    src = np.abs(src) % period
    src = np.where(src >= side, period - src, src)
    m = np.zeros((side, side))
    np.add.at(m, (np.broadcast_to(rows, src.shape), src), np.broadcast_to(k, src.shape))
    return m


def smooth_maps(maps, kernel):
    """Separable Gaussian smoothing of per-pixel maps.

    Parameters
    ----------
    maps : Tensor (n, H, W)
    kernel : ndarray (2r + 1,)
        A normalised 1-D kernel (:func:`gaussian_kernel_1d`), applied along the columns
        and the rows.

    Returns
    -------
    Tensor (n, H, W)
        ``M_H @ maps @ M_W.T`` with the :func:`smoothing_matrix` of each side: the same
        as scipy's ``gaussian_filter(maps, (0, sigma, sigma), mode="mirror")``, in the
        maps' dtype. Two matrix products, constants in a traced ONNX export (no
        padding arithmetic, static shapes). A kernel of length 1 returns ``maps``.
    """
    if len(kernel) == 1:
        return maps
    h, w = (int(s) for s in maps.shape[-2:])  # python ints: static sizes in a traced export
    a_y = torch.from_numpy(smoothing_matrix(h, kernel)).to(maps)
    a_x = torch.from_numpy(np.ascontiguousarray(smoothing_matrix(w, kernel).T)).to(maps)
    return a_y @ maps @ a_x


def top_fraction_mean(maps, fraction=HEATMAP_TOP_FRACTION):
    """Mean of the highest ``fraction`` of each map's pixels.

    Parameters
    ----------
    maps : Tensor of shape (n, H, W)
    fraction : float in (0, 1]
        Share of the ``H * W`` pixels averaged: ``max(1, round(fraction * H * W))`` of
        them (1 pixel: the maximum; all pixels: the mean).

    Returns
    -------
    Tensor of shape (n,)
    """
    flat = maps.reshape(maps.shape[0], -1)
    pixels = int(flat.shape[1])  # a constant of an exported graph: the fitted image size
    k = max(1, min(pixels, int(round(fraction * pixels))))
    return flat.topk(k, dim=1).values.mean(dim=1)


def auto_heatmap_sigma(height, width):
    """``heatmap_sigma="auto"``: ``min(H, W) / 16`` pixels (2 px at 32 px, 4 px at 64)."""
    return min(height, width) / 16.0


class LocalScorer(nn.Module):
    """The local (patch) IGD model applied to whole images.

    Parameters
    ----------
    module : IGDModule
        The patch model, trained on ``(C, patch, patch)`` patches.
    image_size : (H, W)
    patch : int
    grid : (ys, xs)
        Patch start offsets (:func:`~sklearn_igd._patches.patch_grid`).
    max_patches : int or None
        Patches per forward pass of ``module``; None passes all patches of a batch at
        once. Bounds memory when one image has many large patches.
    """

    def __init__(self, module, image_size, patch, grid, max_patches=None):
        super().__init__()
        self.module = module
        self.image_size = tuple(int(s) for s in image_size)
        self.patch = int(patch)
        self.grid = (np.asarray(grid[0]), np.asarray(grid[1]))
        self.n_patches = len(self.grid[0]) * len(self.grid[1])
        self.max_patches = max_patches

    def _chunks(self, p):
        step = p.shape[0] if self.max_patches is None else max(1, int(self.max_patches))
        for start in range(0, p.shape[0], step):
            yield p[start : start + step]

    def score_terms(self, x):
        """Per-patch ``(l_r, l_h)`` of the images ``x`` (n, C, H, W): two (n, P) tensors."""
        p = extract_patches(x, self.patch, self.grid)
        terms = [self.module.score_terms(c) for c in self._chunks(p)]
        l_r = torch.cat([t[0] for t in terms]).view(x.shape[0], self.n_patches)
        l_h = torch.cat([t[1] for t in terms]).view(x.shape[0], self.n_patches)
        return l_r, l_h

    def error_terms(self, x):
        """The patches' per-pixel error terms folded back to the image, overlaps averaged.

        Returns (n, 2, H, W): ``[:, 0]`` absolute error, ``[:, 1]`` ``1 - MS-SSIM map``.
        """
        n, p_ = x.shape[0], self.patch
        p = extract_patches(x, p_, self.grid)
        terms = torch.cat([self.module.error_terms(c).float() for c in self._chunks(p)])
        terms = terms.view(n, self.n_patches, 2, p_, p_).transpose(1, 2)
        folded = fold_patch_maps(
            terms.reshape(n * 2, self.n_patches, p_, p_), self.image_size, p_, self.grid
        )
        return folded.view(n, 2, *self.image_size)


class IGDScorer(nn.Module):
    """Scores and heatmaps of a fitted detector: the global model plus the local one.

    Parameters
    ----------
    global_model : IGDModule
    local_model : LocalScorer or None
    score_scale : array of shape (2,) or None
        Divides ``s_G`` and ``s_L`` before they are added (with the local model).
    heatmap_weights : array of shape (n_models, 2)
        Weights of the absolute-error and ``1 - MS-SSIM`` terms of each model's map.
    heatmap_sigma : float, default=0.0
        Standard deviation in pixels of the Gaussian that smooths each model's map
        (:func:`smooth_maps`); 0 leaves the maps as they are.
    local_score : {"heatmap_top", "heatmap_max", "worst_patch"}, default="heatmap_top"
        The local score ``s_L``: the mean of the highest :data:`HEATMAP_TOP_FRACTION` of
        the pixels of the whole heatmap (:func:`top_fraction_mean`); the maximum over the
        pixels of the local model's (weighted, smoothed) part of the heatmap, plus the
        feature map; or the local model's worst patch's ``l_r + l_h`` (eq. 15).
    score_center : array of shape (2,) or None
        Subtracted from ``s_G`` and ``s_L`` before they are divided by ``score_scale``
        (with the local model); None: zeros.
    feature_map : FeatureMap or None
        The per-location distance of frozen ImageNet features to the training ones
        (:mod:`sklearn_igd._feature_map`), added to the heatmap times ``feature_weight``
        and smoothed as the models' maps (and so part of ``s_L`` unless
        ``local_score="worst_patch"``). None: no feature map.
    feature_weight : float, default=1.0
    global_weights : array of shape (2,) or None
        Weights of the global model's reconstruction term ``l_r`` and Gaussian term in
        ``s_G``; None: ones (eq. 14, ``s_G = l_r + l_h``).
    score_weights : array of shape (2,) or None
        Weights of the standardised ``s_G`` and ``s_L`` in the score (with the local
        model); None: ones.

    The score is ``s = s_G`` without the local model (eq. 14) and
    ``s = w_G (s_G - score_center[0]) / score_scale[0] + w_L (s_L - score_center[1]) /
    score_scale[1]`` with it (eq. 13-15, ``w = score_weights``); the heatmap is
    ``sum_model G_sigma * (sum_term weight * term)`` (eq. 16-17, then smoothed), plus
    ``G_sigma * (feature_weight * feature_map)``.
    """

    def __init__(
        self,
        global_model,
        local_model=None,
        score_scale=None,
        heatmap_weights=None,
        heatmap_sigma=0.0,
        local_score="heatmap_top",
        score_center=None,
        feature_map=None,
        feature_weight=1.0,
        global_weights=None,
        score_weights=None,
    ):
        super().__init__()
        self.feature_map = feature_map
        self.feature_weight = float(feature_weight)
        self.global_model = global_model
        self.local_model = local_model
        scale = torch.ones(2) if score_scale is None else torch.as_tensor(score_scale)
        self.register_buffer("score_scale", scale.double())
        center = torch.zeros(2) if score_center is None else torch.as_tensor(score_center)
        self.register_buffer("score_center", center.double())
        gw = torch.ones(2) if global_weights is None else torch.as_tensor(global_weights)
        self.register_buffer("global_weights", gw.double())
        sw = torch.ones(2) if score_weights is None else torch.as_tensor(score_weights)
        self.register_buffer("score_weights", sw.double())
        self.local_score = local_score
        weights = torch.ones(2, 2) if heatmap_weights is None else torch.as_tensor(heatmap_weights)
        self.register_buffer("heatmap_weights", weights.double())
        self.heatmap_sigma = float(heatmap_sigma)
        self.heatmap_kernel = gaussian_kernel_1d(self.heatmap_sigma)

    def parts(self, x, heatmap=False, terms=False):
        """A dict of the score's parts (each (n,)): ``score``, ``global_score``,
        ``local_score`` and the global model's unweighted terms ``global_reconstruction``
        (``l_r``) and ``global_gaussian``; with ``heatmap``, the maps' parts
        (each (n, H, W)); the local parts are None without the local model. With
        ``terms``, also each model's unweighted error terms ``global_terms`` and
        ``local_terms`` (each (n, 2, H, W) or None). ``feature_heatmap`` (n, H, W) is the
        weighted, smoothed feature map, None without it."""
        # the parts are combined in float64, so that the documented sums hold to rounding
        l_r, l_h = (t.double() for t in self.global_model.score_terms(x))
        gw = self.global_weights
        out = {
            "global_score": gw[0] * l_r + gw[1] * l_h,
            "local_score": None,
            "global_reconstruction": l_r,
            "global_gaussian": l_h,
        }
        score = out["global_score"]
        w, k = self.heatmap_weights, self.heatmap_kernel
        g = t = global_heatmap = local_heatmap = feature_heatmap = None
        by_map = self.local_model is not None and self.local_score != "worst_patch"
        if self.feature_map is not None and (heatmap or by_map):
            feature_heatmap = smooth_maps(self.feature_weight * self.feature_map(x).double(), k)
        if by_map:
            t = self.local_model.error_terms(x).double()
            local_heatmap = smooth_maps(w[1, 0] * t[:, 0] + w[1, 1] * t[:, 1], k)
            local_map = local_heatmap
            if feature_heatmap is not None:
                local_map = local_heatmap + feature_heatmap
            if self.local_score == "heatmap_top":
                g = self.global_model.error_terms(x).double()
                global_heatmap = smooth_maps(w[0, 0] * g[:, 0] + w[0, 1] * g[:, 1], k)
                out["local_score"] = top_fraction_mean(global_heatmap + local_map)
            else:
                out["local_score"] = local_map.amax(dim=(1, 2))
        elif self.local_model is not None:
            p_r, p_h = self.local_model.score_terms(x)
            out["local_score"] = (p_r + p_h).amax(dim=1).double()
        if self.local_model is not None:
            c, s, sw = self.score_center, self.score_scale, self.score_weights
            score = sw[0] * (score - c[0]) / s[0] + sw[1] * (out["local_score"] - c[1]) / s[1]
        out["score"] = score
        if not (heatmap or terms):
            return out
        if g is None:
            g = self.global_model.error_terms(x).double()
        if self.local_model is not None and t is None:
            t = self.local_model.error_terms(x).double()
        if terms:
            out["global_terms"], out["local_terms"] = g, t
        if heatmap:
            if global_heatmap is None:
                global_heatmap = smooth_maps(w[0, 0] * g[:, 0] + w[0, 1] * g[:, 1], k)
            out["global_heatmap"] = global_heatmap
            if t is not None and local_heatmap is None:
                local_heatmap = smooth_maps(w[1, 0] * t[:, 0] + w[1, 1] * t[:, 1], k)
            out["local_heatmap"] = local_heatmap
            out["feature_heatmap"] = feature_heatmap
            out["heatmap"] = out["global_heatmap"]
            if local_heatmap is not None:
                out["heatmap"] = out["heatmap"] + local_heatmap
            if feature_heatmap is not None:
                out["heatmap"] = out["heatmap"] + feature_heatmap
        return out

    def forward(self, x):
        """``(score (n,), heatmap (n, H, W))`` of images ``x`` (n, C, H, W)."""
        out = self.parts(x, heatmap=True)
        return out["score"], out["heatmap"]


def eval_batch_size(sample_shape, patch_shape=None):
    """Images per scoring batch under the :data:`EVAL_VALUES` budget (at least 1).

    ``patch_shape`` ``(P, C, p, p)``: with the local model, all patches of a batch count.
    """
    values = int(np.prod(sample_shape))
    if patch_shape is not None:
        values = max(values, int(np.prod(patch_shape)))
    return max(1, EVAL_VALUES // max(values, 1))


def max_patches_per_pass(patch_shape):
    """Patches per forward pass of the local model under :data:`EVAL_VALUES`."""
    return max(1, EVAL_VALUES // int(np.prod(patch_shape)))


def cpu_batch_size(scorer, sample_shape):
    """Images per forward pass on a CPU under :data:`CPU_EVAL_VALUES` (at least 1); with
    the local model all patches of an image count."""
    values = int(np.prod(sample_shape))
    local = getattr(scorer, "local_model", None)
    if local is not None:
        values = max(values, local.n_patches * int(sample_shape[0]) * local.patch**2)
    return max(1, CPU_EVAL_VALUES // max(values, 1))


def inference_scorer(scorer):
    """The scorer with its models replaced by their (cached) inference copies
    (:func:`~sklearn_igd._inference.cached_inference_copy`): the same scores up to float32
    rounding, faster. The scorer and its models are left as they are."""
    local = scorer.local_model
    if local is not None:
        local = LocalScorer(
            cached_inference_copy(local.module),
            local.image_size,
            local.patch,
            local.grid,
            max_patches=local.max_patches,
        )
    return IGDScorer(
        cached_inference_copy(scorer.global_model),
        local,
        scorer.score_scale,
        scorer.heatmap_weights,
        scorer.heatmap_sigma,
        local_score=scorer.local_score,
        score_center=scorer.score_center,
        feature_map=scorer.feature_map,
        feature_weight=scorer.feature_weight,
        global_weights=scorer.global_weights,
        score_weights=scorer.score_weights,
    )


def _map_batches(fn, starts, workers):
    """``fn(start)`` for every batch start, in order.

    With ``workers > 1`` (CPU threads), batches run concurrently in ``workers`` threads
    of one torch thread each (the process's thread count is restored afterwards), at most
    ``2 * workers`` batches in flight: independent batches need no synchronisation,
    whereas splitting every small convolution over threads waits at a barrier after each
    one (two intra-op threads score a 28 px batch slower than one on a busy machine).
    Each batch is computed as with one thread, whatever ``workers``.
    """
    if workers <= 1:
        yield from map(fn, starts)
        return
    with torch_threads(1), ThreadPoolExecutor(workers) as pool:
        pending = collections.deque()
        for start in starts:
            pending.append(pool.submit(fn, start))
            if len(pending) >= 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _autocast(device, amp_dtype):
    if amp_dtype is not None and torch.device(device).type == "cuda":
        return torch.autocast("cuda", dtype=amp_dtype)
    return contextlib.nullcontext()


@torch.inference_mode()
def score_in_batches(
    scorer,
    X,
    *,
    batch_size,
    device="cpu",
    amp_dtype=None,
    heatmap=False,
    terms=None,
    dtype=None,
    optimize=True,
):
    """Run ``scorer.parts`` over ``X`` (n, ...) in batches; float64 numpy arrays out.

    Parameters
    ----------
    scorer : IGDScorer
    X : ndarray or Tensor (n, ...)
    batch_size : int
        Images per forward pass; on a CPU at most :func:`cpu_batch_size`.
    device : str
    amp_dtype : torch.dtype or None
        Autocast dtype on CUDA.
    heatmap : bool
        Also compute the maps (each (n, H, W) float64, filled batch by batch into one
        preallocated array).
    terms : {None, "maps", "means"}
        ``"maps"``: also return each model's unweighted error terms ``global_terms`` and
        ``local_terms`` (n, 2, H, W); ``"means"``: only their means over all pixels of
        ``X``, ``term_means`` float64 (n_models, 2), without keeping the maps.
    dtype : torch.dtype or None
        Cast the scorer and the inputs to this dtype first (float64 for the MLP model,
        whose scores then do not depend on the batch they are computed in).
    optimize : bool, default=True
        Score image models with their inference copies (:func:`inference_scorer`: batch
        norm folded into the convolutions, ``channels_last``), the same scores up to
        float32 rounding. Not with ``dtype``.

    Returns
    -------
    Bunch
        The keys of :data:`SCORE_PARTS` (and :data:`HEATMAP_PARTS` with ``heatmap``, and
        the terms asked for); local parts are None without the local model.
    """
    scorer.eval()
    X = torch.as_tensor(X)
    n = X.shape[0]
    images = X.ndim == 4
    if images and optimize and dtype is None:
        scorer = inference_scorer(scorer)
    on_cpu = torch.device(device).type == "cpu"
    if on_cpu:
        batch_size = min(batch_size, cpu_batch_size(scorer, X.shape[1:]))
    channels_last = images and optimize and dtype is None

    def run(start):  # one batch; inference mode is per thread
        with torch.inference_mode():
            x = X[start : start + batch_size].to(device)
            if dtype is not None:
                x = x.to(dtype)
            elif channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(device, amp_dtype):
                return scorer.parts(x, heatmap=heatmap, terms=terms is not None)

    starts = range(0, n, batch_size)
    workers = min(torch.get_num_threads(), len(starts)) if on_cpu else 1
    out, sums = {}, {}
    for start, parts in zip(starts, _map_batches(run, starts, workers)):
        for key, value in parts.items():
            if value is None:
                out[key] = None
            elif key.endswith("_terms") and terms == "means":  # keep only the sums
                sums[key] = sums.get(key, 0.0) + value.double().sum(dim=(0, 2, 3)).cpu().numpy()
            else:
                if key not in out:
                    out[key] = np.empty((n,) + tuple(value.shape[1:]), dtype=np.float64)
                out[key][start : start + value.shape[0]] = value.double().cpu().numpy()
    if terms == "means":
        for key in ("global_terms", "local_terms"):
            out.pop(key, None)
        pixels = n * X.shape[-2] * X.shape[-1]
        means = [sums[k] / pixels for k in ("global_terms", "local_terms") if k in sums]
        out["term_means"] = np.vstack(means)
    return Bunch(**out)
