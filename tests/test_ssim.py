"""Tests for sklearn_igd._ssim (MS-SSIM value and map)."""

import pickle

import pytest
import torch
import torch.nn.functional as F

from sklearn_igd._ssim import (
    GLOBAL_WEIGHTS,
    LOCAL_WEIGHTS,
    effective_window,
    gaussian_window,
    ms_ssim,
    ms_ssim_map,
    n_scales,
)

pytorch_msssim = pytest.importorskip("pytorch_msssim")


def _random_pair(n, c, h, w, noise=0.15, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, c, h, w, generator=g, dtype=dtype)
    y = (x + noise * torch.randn(n, c, h, w, generator=g, dtype=dtype)).clamp(0, 1)
    return x, y


def _smooth_pair(n, c, h, w, noise=0.05, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, c, max(h // 8, 2), max(w // 8, 2), generator=g, dtype=dtype)
    x = F.interpolate(low, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
    y = (x + noise * torch.randn(n, c, h, w, generator=g, dtype=dtype)).clamp(0, 1)
    return x, y


def _reference(x, y, **kw):
    return pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False, **kw)


# --------------------------------------------------------------------------
# Agreement with pytorch_msssim
# --------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("make_pair", [_random_pair, _smooth_pair])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_agrees_with_pytorch_msssim_global(channels, make_pair, dtype):
    x, y = make_pair(2, channels, 176, 176, dtype=dtype)
    ours = ms_ssim(x, y)
    ref = _reference(x, y, win_size=11, weights=list(GLOBAL_WEIGHTS))
    assert ours.shape == (2,)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, ref.to(dtype), atol=1e-4, rtol=0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("make_pair", [_random_pair, _smooth_pair])
def test_agrees_with_pytorch_msssim_local(channels, make_pair):
    x, y = make_pair(3, channels, 40, 40)
    ours = ms_ssim(x, y, win_size=3, weights=LOCAL_WEIGHTS)
    ref = _reference(x, y, win_size=3, weights=list(LOCAL_WEIGHTS))
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)


def test_per_image_values():
    # Images with different noise levels: each value matches the reference
    # and the batch result equals the per-image results.
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, 176, 176, generator=g)
    noise = torch.tensor([0.02, 0.1, 0.2, 0.4]).view(-1, 1, 1, 1)
    y = (x + noise * torch.randn(x.shape, generator=g)).clamp(0, 1)
    ours = ms_ssim(x, y)
    ref = _reference(x, y)
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)
    single = torch.cat([ms_ssim(x[i : i + 1], y[i : i + 1]) for i in range(4)])
    torch.testing.assert_close(ours, single, atol=1e-6, rtol=0)
    assert torch.all(ours[:-1] > ours[1:])  # more noise, lower similarity


def test_data_range_and_K():
    x, y = _random_pair(2, 1, 176, 176, seed=3)
    ours = ms_ssim(255 * x, 255 * y, data_range=255.0, K=(0.02, 0.04))
    ref = pytorch_msssim.ms_ssim(
        255 * x, 255 * y, data_range=255.0, size_average=False, K=(0.02, 0.04)
    )
    torch.testing.assert_close(ours, ref, atol=1e-4, rtol=0)


# --------------------------------------------------------------------------
# Basic properties
# --------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 3, 64, 48), (1, 1, 28, 28), (2, 1, 8, 8)])
def test_identical_images_give_one(shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ms_ssim(x, x), torch.ones(shape[0]), atol=1e-6, rtol=0)
    m = ms_ssim_map(x, x)
    assert m.shape == (shape[0], shape[2], shape[3])
    torch.testing.assert_close(m, torch.ones_like(m), atol=1e-6, rtol=0)


@pytest.mark.parametrize("fn", [ms_ssim, ms_ssim_map])
def test_noisier_reconstruction_is_less_similar(fn):
    x, _ = _smooth_pair(2, 3, 64, 64, seed=4)
    g = torch.Generator().manual_seed(5)
    eps = torch.randn(x.shape, generator=g)
    y_small = (x + 0.03 * eps).clamp(0, 1)
    y_large = (x + 0.2 * eps).clamp(0, 1)
    small = fn(x, y_small).reshape(2, -1).mean(1)
    large = fn(x, y_large).reshape(2, -1).mean(1)
    assert torch.all(small > large)


def test_n_scales():
    assert n_scales(28, 28, 11, 5) == 2
    assert n_scales(161, 161, 11, 5) == 5
    assert n_scales(16, 16, 11, 5) == 1
    assert n_scales(4, 4, 11, 5) == 1  # at least one
    assert n_scales(1000, 1000, 11, 5) == 5  # at most n_weights
    assert n_scales(40, 40, 3, 4) == 4
    assert n_scales(28, 200, 11, 5) == 2  # smaller side decides
    assert n_scales(21, 21, 11, 5) == 2  # 21 -> 11 (ceil) -> 6


def test_effective_window():
    assert effective_window(28, 28, 11) == 11
    assert effective_window(11, 30, 11) == 11
    assert effective_window(8, 8, 11) == 7
    assert effective_window(9, 12, 11) == 9
    assert effective_window(1, 5, 3) == 1


def test_gaussian_window():
    w = gaussian_window(11, 1.5, torch.float64, "cpu")
    assert w.shape == (11,) and w.dtype == torch.float64
    torch.testing.assert_close(w.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(w, w.flip(0))
    assert w.argmax() == 5


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (2, 3, 8, 8), (2, 1, 5, 9)])
def test_small_images_finite_in_unit_interval(shape):
    x, y = _random_pair(*shape, noise=0.2, seed=6)
    v = ms_ssim(x, y)
    m = ms_ssim_map(x, y)
    for t in (v, m):
        assert torch.isfinite(t).all()
        assert (t >= 0).all() and (t <= 1).all()
    v_local = ms_ssim(x, y, win_size=3, weights=LOCAL_WEIGHTS)
    assert torch.isfinite(v_local).all()


def test_fewer_scales_renormalise_weights():
    # With 28x28 and win 11 only two scales fit: value equals a 2-weight
    # MS-SSIM with the first two weights renormalised.
    x, y = _random_pair(2, 1, 28, 28, seed=7)
    w2 = GLOBAL_WEIGHTS[:2]
    s = sum(w2)
    a = ms_ssim(x, y)
    b = ms_ssim(x, y, weights=(w2[0] / s, w2[1] / s))
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


# --------------------------------------------------------------------------
# Differentiability and precision
# --------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [ms_ssim, ms_ssim_map])
@pytest.mark.parametrize("shape", [(2, 3, 40, 40), (2, 1, 8, 8)])
def test_gradients_finite(fn, shape):
    x, y = _random_pair(*shape, seed=8)
    x = x.clone().requires_grad_(True)
    fn(x, y).sum().backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("fn", [ms_ssim, ms_ssim_map])
@pytest.mark.parametrize("size", [8, 40])
def test_gradients_finite_anticorrelated(fn, size):
    x = torch.rand(2, 1, size, size, generator=torch.Generator().manual_seed(9))
    x.requires_grad_(True)
    y = 1 - x  # anticorrelated: cs <= 0, clipped to exactly 0 by the relu
    out = fn(x, y)
    assert (out == 0).any()
    out.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_gradient_flows_to_both_inputs():
    x, y = _random_pair(1, 1, 32, 32, seed=10, dtype=torch.float64)
    x.requires_grad_(True)
    y.requires_grad_(True)
    ms_ssim(x, y).sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()
    assert x.grad.abs().sum() > 0 and y.grad.abs().sum() > 0


def test_bf16_autocast_and_low_precision_inputs():
    x, y = _smooth_pair(2, 3, 48, 48, seed=11)
    expected = ms_ssim(x, y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        v = ms_ssim(x, y)
        m = ms_ssim_map(x, y)
    assert v.dtype == torch.float32 and m.dtype == torch.float32
    torch.testing.assert_close(v, expected, atol=1e-5, rtol=0)
    v16 = ms_ssim(x.bfloat16(), y.bfloat16())
    assert v16.dtype == torch.float32
    torch.testing.assert_close(v16, expected, atol=2e-2, rtol=0)


# --------------------------------------------------------------------------
# Map
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "shape,kw",
    [
        ((2, 3, 64, 48), {}),
        ((3, 1, 28, 28), {}),
        ((2, 1, 40, 40), {"win_size": 3, "weights": LOCAL_WEIGHTS}),
    ],
)
def test_map_shape_and_mean_close_to_value(shape, kw):
    x, y = _smooth_pair(*shape, noise=0.05, seed=12)
    m = ms_ssim_map(x, y, **kw)
    assert m.shape == (shape[0], shape[2], shape[3])
    v = ms_ssim(x, y, **kw)
    torch.testing.assert_close(m.mean(dim=(1, 2)), v, atol=0.05, rtol=0)


def test_map_localises_defect():
    x, _ = _smooth_pair(1, 1, 64, 64, seed=13)
    y = x.clone()
    y[..., 40:50, 10:20] = torch.rand(10, 10, generator=torch.Generator().manual_seed(0))
    m = ms_ssim_map(x, y)
    assert m[0, 40:50, 10:20].mean() < m[0, :20, 40:].mean() - 0.2


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [ms_ssim, ms_ssim_map])
def test_shape_mismatch_raises(fn):
    x = torch.rand(2, 1, 28, 28)
    y = torch.rand(2, 1, 28, 30)
    with pytest.raises(ValueError) as exc:
        fn(x, y)
    msg = str(exc.value)
    assert "(2, 1, 28, 28)" in msg and "(2, 1, 28, 30)" in msg


@pytest.mark.parametrize("fn", [ms_ssim, ms_ssim_map])
def test_non_4d_raises(fn):
    x = torch.rand(1, 28, 28)
    with pytest.raises(ValueError, match=r"\(1, 28, 28\)"):
        fn(x, x)


def test_even_window_raises():
    x = torch.rand(1, 1, 28, 28)
    with pytest.raises(ValueError, match="odd"):
        ms_ssim(x, x, win_size=4)


def test_functions_pickle():
    # Module-level functions and constants are picklable (no global caches).
    for obj in (ms_ssim, ms_ssim_map, n_scales, GLOBAL_WEIGHTS):
        assert pickle.loads(pickle.dumps(obj)) == obj
