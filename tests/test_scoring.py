"""How scores and heatmaps are put together (sklearn_igd._scoring).

With the local model, the image score adds the two models' parts, each standardised by
its mean (``score_center_``) and standard deviation (``score_scale_``) over the training
images; the local part is the mean of the top 10% of the heatmap's pixels (``local_score=
"heatmap_top"``), the maximum of the local model's map (``"heatmap_max"``) or its worst
patch (``"worst_patch"``, eq. 15). Without it, the score is
the global model's, unscaled (eq. 14). The default heatmap (``heatmap="balanced"``) adds the
absolute-error and ``1 - MS-SSIM`` terms of each model, each divided by its mean over
the training pixels (``heatmap_scale_``); ``heatmap="paper"`` is eq. 16-17 as written.
"""

import copy

import numpy as np
import pytest
import torch
from conftest import FAST, FAST_LOCAL
from scipy.ndimage import gaussian_filter

from sklearn_igd import IGDDetector
from sklearn_igd._inference import inference_copy
from sklearn_igd._patches import extract_patches, fold_patch_maps
from sklearn_igd._scoring import (
    EVAL_VALUES,
    HEATMAP_TOP_FRACTION,
    LocalScorer,
    eval_batch_size,
    gaussian_kernel_1d,
    max_patches_per_pass,
    smooth_maps,
)


@pytest.fixture(scope="module")
def data(mnist):
    """``(X_train, X)``: the training images of conftest's ``local_fitted`` (the tests
    compare its statistics with them) and 20 test images."""
    X, y = mnist
    return X[y == 3][:24], X[:20]


def _smooth(maps, sigma):
    """scipy's Gaussian filter over each (H, W) map: reflection without repeating the
    border pixel (``mode="mirror"``), truncated at 4 standard deviations."""
    return gaussian_filter(maps, sigma=(0, sigma, sigma), mode="mirror", truncate=4.0)


def _unsmoothed(det):
    """The same fitted detector with ``heatmap_sigma_ = 0`` (its maps as eq. 16-17)."""
    det = copy.copy(det)
    det.heatmap_sigma_ = 0.0
    return det


def _x(X):
    return torch.from_numpy(X[:, None].astype(np.float32) / 255)


@torch.no_grad()
def _raw(det, X):
    """Straight from the torch models: ``(s_G, s_L, terms)`` (``s_G`` the terms weighted
    by ``global_weights_``), terms ``{"A_G", "S_G",
    "A_L", "S_L"}``: absolute error and ``1 - MS-SSIM`` of the global model and of the
    local model's patches folded back, float64 (n, H, W). The models are the inference
    copies the detector scores with (test_inference.py compares them with the fitted
    models), so that the formulas are checked without float32 rounding noise."""
    x = _x(X)
    g = inference_copy(det.net_.module_)
    l_r, l_h = g.score_terms(x)
    t = g.error_terms(x).double().numpy()
    terms = {"A_G": t[:, 0], "S_G": t[:, 1]}
    s_l = None
    if det.local_net_ is not None:
        p, n = det.patch_size_, x.shape[0]
        loc = inference_copy(det.local_net_.module_)
        ys = np.unique(np.r_[np.arange(0, 28 - p + 1, det.patch_stride_), 28 - p])
        grid = (ys, ys)
        patches = extract_patches(x, p, grid)
        p_r, p_h = loc.score_terms(patches)
        s_l = (p_r + p_h).view(n, -1).max(1).values.double().numpy()
        pt = loc.error_terms(patches).double()
        for i, name in enumerate(("A_L", "S_L")):
            maps = pt[:, i].reshape(n, len(ys) ** 2, p, p)
            terms[name] = fold_patch_maps(maps, (28, 28), p, grid).numpy()
    w = getattr(det, "global_weights_", None)  # None: saved before it existed, the sum
    w = np.ones(2) if w is None else w
    return w[0] * l_r.double().numpy() + w[1] * l_h.double().numpy(), s_l, terms


def _top(maps, fraction=HEATMAP_TOP_FRACTION):
    """Mean of the ``round(fraction * H * W)`` highest pixels of each (H, W) map."""
    flat = maps.reshape(len(maps), -1)
    k = int(round(fraction * flat.shape[1]))
    return np.sort(flat, axis=1)[:, -k:].mean(axis=1)


def _global_map(det, t):
    """The global model's part of the heatmap from its raw terms (balanced, smoothed)."""
    m = det.heatmap_scale_
    return _smooth(t["A_G"] / m[0, 0] + t["S_G"] / m[0, 1], det.heatmap_sigma_)


def _local_map(det, t):
    """The local model's part of the heatmap from its raw terms (balanced, smoothed)."""
    m = det.heatmap_scale_
    return _smooth(t["A_L"] / m[1, 0] + t["S_L"] / m[1, 1], det.heatmap_sigma_)


def test_scales_are_training_statistics(local_fitted, data):
    det = local_fitted
    X_train, _ = data
    assert det.local_score == "heatmap_top"
    assert det.score_scale_.shape == (2,) and det.score_center_.shape == (2,)
    assert det.heatmap_scale_.shape == (2, 2)
    s_g, _, t = _raw(det, X_train)
    np.testing.assert_allclose(
        det.heatmap_scale_,
        [[t["A_G"].mean(), t["S_G"].mean()], [t["A_L"].mean(), t["S_L"].mean()]],
        rtol=1e-5,
    )
    s_l = _top(_global_map(det, t) + _local_map(det, t))
    np.testing.assert_allclose(det.score_center_, [s_g.mean(), s_l.mean()], rtol=1e-5)
    np.testing.assert_allclose(det.score_scale_, [s_g.std(), s_l.std()], rtol=1e-4)
    # hence training images score 0 on average, each part with unit spread, and their
    # pixels 4 (one per term) before the smoothing
    assert abs(det.anomaly_score(X_train).mean()) < 1e-6
    assert _unsmoothed(det).predict_heatmap(X_train).mean() == pytest.approx(4.0, rel=1e-5)


def test_score_and_heatmap_formulas(local_fitted, data):
    det = local_fitted
    _, X = data
    s_g, _, t = _raw(det, X)
    parts = det.score_parts(X, heatmap=True)
    m, sigma = det.heatmap_scale_, det.heatmap_sigma_
    assert sigma == 28 / 16  # "auto": min(H, W) / 16
    e_g = _smooth(t["A_G"] / m[0, 0] + t["S_G"] / m[0, 1], sigma)
    e_l = _local_map(det, t)
    s_l = _top(e_g + e_l)  # local_score="heatmap_top": 78 of the 784 pixels
    np.testing.assert_allclose(parts.global_score, s_g, rtol=1e-6)
    np.testing.assert_allclose(parts.local_score, s_l, rtol=1e-5)
    np.testing.assert_allclose(parts.local_score, _top(parts.heatmap), rtol=1e-12)
    c, sd = det.score_center_, det.score_scale_
    expected = (s_g - c[0]) / sd[0] + (s_l - c[1]) / sd[1]
    np.testing.assert_allclose(det.anomaly_score(X), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(parts.score, det.anomaly_score(X))
    np.testing.assert_allclose(parts.global_heatmap, e_g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(parts.local_heatmap, e_l, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        parts.heatmap, parts.global_heatmap + parts.local_heatmap, rtol=1e-12
    )
    np.testing.assert_array_equal(det.predict_heatmap(X), parts.heatmap)
    assert parts.heatmap.dtype == np.float64 and parts.heatmap.shape == (20, 28, 28)


def test_paper_heatmap_is_eq16_and_sets_the_local_score(local_fitted, data):
    X_train, X = data
    det = IGDDetector(**FAST_LOCAL, heatmap="paper").fit(X_train)
    assert det.heatmap_scale_ is None
    _, _, t = _raw(det, X[:10])
    rho = det.rho
    paper_local = rho * t["A_L"] + (1 - rho) * t["S_L"]
    expected = (rho * t["A_G"] + (1 - rho) * t["S_G"]) + paper_local
    heat = _unsmoothed(det).predict_heatmap(X[:10])
    np.testing.assert_allclose(heat, expected, rtol=1e-5, atol=1e-6)
    # the same models as the balanced detector; the local score is the mean of the top
    # 10% of this map's pixels, smoothed
    parts = det.score_parts(X[:10])
    reference = local_fitted.score_parts(X[:10]).global_score
    np.testing.assert_array_equal(parts.global_score, reference)
    smoothed = _top(_smooth(expected, det.heatmap_sigma_))
    np.testing.assert_allclose(parts.local_score, smoothed, rtol=1e-5)


def test_heatmap_max_local_score_is_the_local_maps_maximum(local_fitted, data):
    """``local_score="heatmap_max"``: the local part is the maximum of the local model's
    part of the heatmap alone (not the global model's)."""
    _, X = data
    det = copy.copy(local_fitted)
    det.local_score = "heatmap_max"
    _, _, t = _raw(det, X)
    parts = det.score_parts(X, heatmap=True)
    np.testing.assert_allclose(parts.local_score, _local_map(det, t).max(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(parts.local_score, parts.local_heatmap.max(axis=(1, 2)), rtol=1e-12)
    default = local_fitted.score_parts(X).local_score
    assert not np.allclose(parts.local_score, default)


@pytest.mark.parametrize("fraction", [1e-9, 0.1, 1.0])
def test_top_fraction_mean(fraction):
    """The highest ``round(fraction * H * W)`` pixels (at least one) averaged: the
    maximum, the top 10%, the mean."""
    from sklearn_igd._scoring import top_fraction_mean

    maps = torch.rand(3, 8, 10, dtype=torch.float64)
    got = top_fraction_mean(maps, fraction).numpy()
    flat = np.sort(maps.numpy().reshape(3, -1), axis=1)
    k = max(1, int(round(fraction * 80)))
    np.testing.assert_allclose(got, flat[:, -k:].mean(axis=1), rtol=1e-12)
    if fraction == 1.0:
        np.testing.assert_allclose(got, maps.numpy().mean(axis=(1, 2)), rtol=1e-12)


def test_worst_patch_local_score_is_eq15(local_fitted, data):
    """``local_score="worst_patch"``: the local part is eq. 15, standardised on the
    training images like the default's; the models are the same, and the score depends
    on neither ``heatmap`` nor ``heatmap_sigma``."""
    X_train, X = data
    det = IGDDetector(**FAST_LOCAL, local_score="worst_patch").fit(X_train)
    s_g, s_l, _ = _raw(det, X)
    parts = det.score_parts(X)
    np.testing.assert_allclose(parts.local_score, s_l, rtol=1e-6)
    np.testing.assert_array_equal(parts.global_score, local_fitted.score_parts(X).global_score)
    c, sd = det.score_center_, det.score_scale_
    expected = (s_g - c[0]) / sd[0] + (s_l - c[1]) / sd[1]
    np.testing.assert_allclose(parts.score, expected, rtol=1e-5, atol=1e-6)
    # one refit changes both (each alone was checked equal when they were separate refits)
    again = IGDDetector(**FAST_LOCAL, local_score="worst_patch", heatmap="paper", heatmap_sigma=0)
    np.testing.assert_array_equal(again.fit(X_train).anomaly_score(X), parts.score)


@pytest.mark.parametrize("heatmap", ["balanced", "paper"])
def test_global_model_alone(data, heatmap):
    X_train, X = data
    det = IGDDetector(**{**FAST_LOCAL, "local": False, "heatmap": heatmap}).fit(X_train)
    assert det.local_net_ is None and det.patch_size_ is None and det.score_scale_ is None
    s_g, _, t = _raw(det, X)
    np.testing.assert_allclose(det.anomaly_score(X), s_g, rtol=1e-6)
    parts = det.score_parts(X[:5], heatmap=True)
    assert parts.local_score is None and parts.local_heatmap is None
    if heatmap == "paper":
        assert det.heatmap_scale_ is None
        w = (det.rho, 1 - det.rho)
    else:
        _, _, t_train = _raw(det, X_train)
        m = det.heatmap_scale_
        assert m.shape == (1, 2)
        np.testing.assert_allclose(m[0], [t_train["A_G"].mean(), t_train["S_G"].mean()], rtol=1e-5)
        w = 1 / m[0]
    expected = _smooth(w[0] * t["A_G"][:5] + w[1] * t["S_G"][:5], det.heatmap_sigma_)
    np.testing.assert_allclose(parts.heatmap, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.75, 4.0])
def test_smooth_maps_is_a_mirrored_gaussian_filter(sigma):
    maps = torch.rand(3, 20, 17, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = smooth_maps(maps, gaussian_kernel_1d(sigma))
    np.testing.assert_allclose(out.numpy(), _smooth(maps.numpy(), sigma), atol=1e-12)
    assert out.dtype == maps.dtype and out.shape == maps.shape


def test_smooth_maps_keeps_constants_and_identity():
    # sigma 0 returns the maps; a kernel wider than the map is cut and renormalised, so
    # a constant map stays constant
    maps = torch.rand(2, 5, 6)
    assert smooth_maps(maps, gaussian_kernel_1d(0.0)) is maps
    const = torch.full((2, 3, 4), 2.5, dtype=torch.float64)
    np.testing.assert_allclose(smooth_maps(const, gaussian_kernel_1d(8.0)).numpy(), 2.5)
    one_px = torch.rand(2, 1, 1)
    assert torch.equal(smooth_maps(one_px, gaussian_kernel_1d(3.0)), one_px)
    # a map smaller than the kernel: the cut kernel is still a mirrored Gaussian filter
    small = torch.rand(2, 4, 3, dtype=torch.float64)
    cut = smooth_maps(small, gaussian_kernel_1d(0.5))
    np.testing.assert_allclose(cut.numpy(), _smooth(small.numpy(), 0.5), atol=1e-12)


def test_detectors_saved_before_local_score_score_as_before(local_fitted, data):
    """A detector pickled before ``local_score``, ``score_center_`` and
    ``global_weights_`` existed has none of them and mean scales in ``score_scale_``: it
    keeps its global sum and its worst-patch score divided by those means."""
    X_train, X = data
    old = copy.copy(local_fitted)
    del old.local_score, old.score_center_, old.global_weights_
    s_g_train, s_l_train, _ = _raw(old, X_train)
    old.score_scale_ = np.array([s_g_train.mean(), s_l_train.mean()])
    s_g, s_l, _ = _raw(old, X)
    expected = s_g / old.score_scale_[0] + s_l / old.score_scale_[1]
    np.testing.assert_allclose(old.anomaly_score(X), expected, rtol=1e-5)


@pytest.mark.parametrize("sigma", [0, 3.0])
def test_heatmap_sigma_smooths_the_maps(local_fitted, data, sigma):
    """``heatmap_sigma`` changes the maps and, through the heatmap's top 10%, the local
    score, never the models or the global score; 0 gives eq. 16-17 unsmoothed, and the
    smoothed map is the unsmoothed one filtered (the filter is linear, so the global and
    local parts still add up to the map)."""
    X_train, X = data
    det = IGDDetector(**FAST_LOCAL, heatmap_sigma=sigma).fit(X_train)
    assert det.heatmap_sigma_ == sigma
    np.testing.assert_array_equal(
        det.score_parts(X).global_score, local_fitted.score_parts(X).global_score
    )
    raw = _unsmoothed(local_fitted).score_parts(X[:8], heatmap=True)
    parts = det.score_parts(X[:8], heatmap=True)
    for key in ("heatmap", "global_heatmap", "local_heatmap"):
        expected = _smooth(raw[key], sigma) if sigma else raw[key]
        np.testing.assert_allclose(parts[key], expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(
        parts.heatmap, parts.global_heatmap + parts.local_heatmap, rtol=1e-12
    )
    np.testing.assert_allclose(parts.local_score, _top(parts.heatmap), rtol=1e-12)


def test_tabular_input_has_no_scales_and_no_heatmap(raises=None):
    X = np.random.RandomState(0).rand(30, 4)
    det = IGDDetector(**FAST).fit(X)
    assert det.local_net_ is None and det.score_scale_ is None and det.heatmap_scale_ is None
    with pytest.raises(ValueError, match="predict_heatmap needs images.*4 features"):
        det.predict_heatmap(np.zeros((2, 4)))


def test_tabular_scores_do_not_depend_on_the_batch():
    X = np.random.RandomState(0).rand(60, 5)
    det = IGDDetector(**FAST).fit(X)
    whole = det.anomaly_score(X)
    one_by_one = np.concatenate([det.anomaly_score(X[i : i + 1]) for i in range(10)])
    np.testing.assert_allclose(whole[:10], one_by_one, rtol=1e-12)


def test_offset_uses_the_combined_score(local_fitted, data):
    det = local_fitted
    X_train, _ = data
    expected = np.percentile(-det.anomaly_score(X_train), 100.0 * det.contamination)
    assert det.offset_ == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("weight", [0.0, 0.25])
def test_global_score_weight_weighs_the_standardised_global_part(local_fitted, data, weight):
    """``s = w z_G + z_L``: the same models and parts as the default (same seed), only
    the sum and the threshold differ; 0 ranks by the local part alone."""
    X_train, X = data
    det = IGDDetector(**FAST_LOCAL, global_score_weight=weight, contamination=0.1)
    det.fit(X_train)
    ref, parts = local_fitted.score_parts(X), det.score_parts(X)
    np.testing.assert_allclose(parts.global_score, ref.global_score, rtol=1e-5)
    np.testing.assert_allclose(parts.local_score, ref.local_score, rtol=1e-5)
    np.testing.assert_allclose(det.score_center_, local_fitted.score_center_, rtol=1e-5)
    np.testing.assert_array_equal(det.score_weights_, [weight, 1.0])
    np.testing.assert_array_equal(local_fitted.score_weights_, [1.0, 1.0])
    c, sd = det.score_center_, det.score_scale_
    z_g, z_l = (parts.global_score - c[0]) / sd[0], (parts.local_score - c[1]) / sd[1]
    np.testing.assert_allclose(parts.score, weight * z_g + z_l, rtol=1e-9, atol=1e-12)
    assert not np.allclose(parts.score, ref.score)
    expected = np.percentile(-det.anomaly_score(X_train), 10.0)
    assert det.offset_ == pytest.approx(expected, rel=1e-9)


def test_digits_with_one_patch(digits):
    """8x8 digits: a single 8 px patch per image; the scales stay finite and positive."""
    X, y = digits
    det = IGDDetector(**FAST_LOCAL).fit(X[y == 0][:40])
    assert det.local_net_ is not None and det.patch_size_ == 8
    assert np.all(det.score_scale_ > 0) and np.all(det.heatmap_scale_ > 0)


# ------------------------------------------------------------ bounded memory
def test_eval_batches_follow_the_pixel_budget():
    assert eval_batch_size((1, 28, 28)) == EVAL_VALUES // 784
    assert eval_batch_size((3, 512, 512)) == 1  # one image over the budget: one per batch
    # with the local model, all patches of an image count
    assert eval_batch_size((1, 28, 28), (36, 1, 8, 8)) == EVAL_VALUES // (36 * 64)
    assert max_patches_per_pass((1, 64, 64)) == EVAL_VALUES // 4096


def test_local_scorer_chunks_give_the_same_terms(local_fitted, data):
    """Splitting one image's patches over several forward passes changes nothing."""
    det = local_fitted
    _, X = data
    x = _x(X[:6])
    grid = (np.array([0, 4, 8, 12, 16, 20]),) * 2
    module = det.local_net_.module_.eval()
    whole = LocalScorer(module, (28, 28), 8, grid)
    chunked = LocalScorer(module, (28, 28), 8, grid, max_patches=7)
    with torch.no_grad():
        # convolutions may pick another algorithm for another batch size: float rounding
        for a, b in zip(whole.score_terms(x), chunked.score_terms(x)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        # the per-pixel 1 - MS-SSIM map amplifies that rounding: one pixel in 9,408 differed
        # by 2.8e-4 on a CI-like AMD EPYC (2026-11-30); a patch scored at the wrong place
        # would move whole patches' terms by orders of magnitude more
        torch.testing.assert_close(
            whole.error_terms(x), chunked.error_terms(x), rtol=1e-3, atol=1e-3
        )
