"""How IGDDetector combines its global and local models (issue 3).

With the local model, the image score adds the two models' parts, each divided by its
mean over the training images (``score_scale_``); without it, the score is the global
model's, unscaled (the paper's eq. 14). The default heatmap (``heatmap="balanced"``) adds
the absolute-error and ``1 - MS-SSIM`` terms of each model, each divided by its mean over
the training pixels (``heatmap_scale_``); ``heatmap="paper"`` is eq. 16-17 as written.
"""

import numpy as np
import pytest
import torch

from sklearn_igd import IGDDetector
from sklearn_igd._validation import check_input
from sklearn_igd.datasets import load_digits_images, load_mnist_5k

FAST = dict(backbone="resnet18-lite", max_epochs=1, batch_size=16, random_state=0, pretrain=None)


@pytest.fixture(scope="module")
def mnist():
    X, y = load_mnist_5k(return_X_y=True)
    return X[y == 3][:48], X[:40]


@pytest.fixture(scope="module")
def local_fitted(mnist):
    X_train, _ = mnist
    return IGDDetector(**FAST).fit(X_train)


def _prepared(det, X):
    return torch.from_numpy(check_input(det, X, reset=False))


def _raw_scores(det, X):
    """``(s_G, s_L)`` straight from the two nets, each float64 (n,)."""
    x = _prepared(det, X)
    l_r, l_h = det.net_.score_terms(x)
    p_r, p_h = det.local_net_.patch_score_terms(x, det.patch_size_, det._grid())
    return l_r + l_h, (p_r + p_h).max(axis=1)


def _raw_terms(det, X):
    """The four error terms straight from the nets: ``{"A_G", "S_G", "A_L", "S_L"}``.

    ``A`` the absolute error, ``S`` one minus the MS-SSIM map, of the global model
    (``_G``) and of the local model's patches folded back (``_L``), float64 (n, H, W).
    """
    from sklearn_igd._losses import LOCAL_SSIM, reconstruction_error_map
    from sklearn_igd._patches import extract_patches, fold_patch_maps

    x = _prepared(det, X)
    n, _, h, w = x.shape
    terms = {}
    with torch.no_grad():
        det.net_.module_.eval()
        x_hat = det.net_.module_(x)[1]
        terms["A_G"] = (x - x_hat).abs().mean(1).double().numpy()
        terms["S_G"] = reconstruction_error_map(x, x_hat, rho=0.0).double().numpy()
        if det.local_net_ is not None:
            p = det.patch_size_
            det.local_net_.module_.eval()
            patches = extract_patches(x, p, det._grid())
            p_hat = det.local_net_.module_(patches)[1]
            n_patches = len(det._grid()[0]) * len(det._grid()[1])
            for name, rho in (("A_L", 1.0), ("S_L", 0.0)):
                m = reconstruction_error_map(patches, p_hat, rho=rho, ssim=LOCAL_SSIM)
                terms[name] = fold_patch_maps(
                    m.view(n, n_patches, p, p).double(), (h, w), p, det._grid()
                ).numpy()
    return terms


def test_scales_are_training_means(local_fitted, mnist):
    det = local_fitted
    X_train, _ = mnist
    assert det.score_scale_.shape == (2,) and det.heatmap_scale_.shape == (2, 2)
    for scale in (det.score_scale_, det.heatmap_scale_):
        assert scale.dtype == np.float64
        assert np.all(np.isfinite(scale)) and np.all(scale > 0)
    s_g, s_l = _raw_scores(det, X_train)
    np.testing.assert_allclose(det.score_scale_, [s_g.mean(), s_l.mean()], rtol=1e-6)
    t = _raw_terms(det, X_train)
    np.testing.assert_allclose(
        det.heatmap_scale_,
        [[t["A_G"].mean(), t["S_G"].mean()], [t["A_L"].mean(), t["S_L"].mean()]],
        rtol=1e-5,
    )
    # hence training images score 2 on average, and their pixels 4 (one per term)
    assert det.anomaly_score(X_train).mean() == pytest.approx(2.0, rel=1e-6)
    assert det.predict_heatmap(X_train).mean() == pytest.approx(4.0, rel=1e-5)


def test_score_is_scaled_global_plus_scaled_max_over_patches(local_fitted, mnist):
    """The documented score formula, through the public API and the private parts."""
    det = local_fitted
    _, X = mnist
    assert det.patch_size_ == 8 and det.patch_stride_ == 4  # auto for 28x28
    s_g, s_l = _raw_scores(det, X)
    expected = s_g / det.score_scale_[0] + s_l / det.score_scale_[1]
    np.testing.assert_array_equal(det.anomaly_score(X), expected)
    np.testing.assert_array_equal(det.score_samples(X), -expected)
    np.testing.assert_array_equal(det._score_parts(check_input(det, X, reset=False))[0], s_g)


def test_heatmap_is_the_balanced_sum_of_four_terms(local_fitted, mnist):
    """The documented heatmap formula, through the public API and the private parts."""
    det = local_fitted
    _, X = mnist
    heat = det.predict_heatmap(X[:10])
    assert heat.shape == (10, 28, 28) and heat.dtype == np.float64
    assert np.all(np.isfinite(heat)) and heat.min() >= 0
    t, m = _raw_terms(det, X[:10]), det.heatmap_scale_
    e_g = t["A_G"] / m[0, 0] + t["S_G"] / m[0, 1]
    e_l = t["A_L"] / m[1, 0] + t["S_L"] / m[1, 1]
    np.testing.assert_allclose(heat, e_g + e_l, rtol=1e-5, atol=1e-6)
    parts = det._heatmap_parts(check_input(det, X[:10], reset=False))
    np.testing.assert_allclose(parts[0], e_g, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(parts[1], e_l, rtol=1e-5, atol=1e-6)


def test_paper_heatmap_is_eq16_and_leaves_scores_alone(local_fitted, mnist):
    """``heatmap="paper"``: the raw sum of eq. 16-17; training and scores are unchanged."""
    X_train, X = mnist
    det = IGDDetector(**FAST, heatmap="paper").fit(X_train)
    assert det.heatmap_scale_ is None
    t, rho = _raw_terms(det, X[:10]), det.rho
    expected = (rho * t["A_G"] + (1 - rho) * t["S_G"]) + (rho * t["A_L"] + (1 - rho) * t["S_L"])
    np.testing.assert_allclose(det.predict_heatmap(X[:10]), expected, rtol=1e-5, atol=1e-6)
    # the same fit as the balanced detector: identical scores, score scales and offset
    np.testing.assert_array_equal(det.anomaly_score(X), local_fitted.anomaly_score(X))
    np.testing.assert_array_equal(det.score_scale_, local_fitted.score_scale_)
    assert det.offset_ == local_fitted.offset_


@pytest.mark.parametrize("heatmap", ["balanced", "paper"])
def test_global_model_alone(mnist, heatmap):
    """Without the local model: the unscaled global score; the global terms' heatmap."""
    X_train, X = mnist
    det = IGDDetector(**{**FAST, "local": False, "heatmap": heatmap}).fit(X_train)
    assert det.local_net_ is None and det.patch_size_ is None and det.score_scale_ is None
    x = _prepared(det, X)
    l_r, l_h = det.net_.score_terms(x)
    np.testing.assert_array_equal(det.anomaly_score(X), l_r + l_h)
    heat = det.predict_heatmap(X[:5])
    if heatmap == "paper":
        assert det.heatmap_scale_ is None
        np.testing.assert_array_equal(heat, det.net_.error_maps(x[:5]))
    else:
        t, m = _raw_terms(det, X_train), det.heatmap_scale_
        assert m.shape == (1, 2)
        np.testing.assert_allclose(m[0], [t["A_G"].mean(), t["S_G"].mean()], rtol=1e-5)
        t = _raw_terms(det, X[:5])
        np.testing.assert_allclose(
            heat, t["A_G"] / m[0, 0] + t["S_G"] / m[0, 1], rtol=1e-5, atol=1e-6
        )


def test_tabular_input_has_no_scales_and_no_heatmap():
    """With the second part of test_detector.py::test_predict_heatmap."""
    X = np.random.RandomState(0).rand(30, 4)
    det = IGDDetector(**FAST).fit(X)
    assert det.local_net_ is None
    assert det.score_scale_ is None and det.heatmap_scale_ is None
    with pytest.raises(ValueError, match="predict_heatmap needs images.*4 features"):
        det.predict_heatmap(np.zeros((2, 4)))


def test_offset_uses_the_combined_score(local_fitted, mnist):
    det = local_fitted
    X_train, _ = mnist
    expected = np.percentile(-det.anomaly_score(X_train), 100.0 * det.contamination)
    assert det.offset_ == pytest.approx(expected, rel=1e-9)


def test_positive_scale_falls_back_to_one():
    scale = IGDDetector._positive_scale([0.0, np.nan])
    np.testing.assert_array_equal(scale, [1.0, 1.0])
    np.testing.assert_array_equal(IGDDetector._positive_scale([-1.0, 0.25]), [1.0, 0.25])


def test_constant_images_give_finite_outputs():
    X = np.full((8, 16, 16), 128, dtype=np.uint8)
    det = IGDDetector(**{**FAST, "batch_size": 4}).fit(X)
    assert np.all(np.isfinite(det.score_scale_)) and np.all(det.score_scale_ > 0)
    assert np.all(np.isfinite(det.heatmap_scale_)) and np.all(det.heatmap_scale_ > 0)
    assert np.all(np.isfinite(det.anomaly_score(X)))
    assert np.all(np.isfinite(det.predict_heatmap(X)))


def test_scales_survive_pickling(local_fitted, mnist):
    import pickle

    _, X = mnist
    loaded = pickle.loads(pickle.dumps(local_fitted))
    np.testing.assert_array_equal(loaded.score_scale_, local_fitted.score_scale_)
    np.testing.assert_array_equal(loaded.anomaly_score(X[:8]), local_fitted.anomaly_score(X[:8]))


def test_digits_with_one_patch():
    """8x8 digits: a single 8 px patch per image; the scales stay finite and positive."""
    X, y = load_digits_images(return_X_y=True)
    det = IGDDetector(**FAST).fit(X[y == 0][:40])
    assert det.local_net_ is not None and det.patch_size_ == 8
    assert np.all(det.score_scale_ > 0) and np.all(det.heatmap_scale_ > 0)
