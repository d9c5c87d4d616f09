"""The loss terms of eq. 5-12 as pure functions, and the training criterion."""

import pytest
import torch

from sklearn_igd._losses import (
    GLOBAL_SSIM,
    LOCAL_SSIM,
    IGDLoss,
    autoencoder_loss,
    critic_loss,
    gaussian_anomaly_loss,
    reconstruction_error_terms,
    reconstruction_loss,
    trimmed_mean,
)
from sklearn_igd._ssim import ms_ssim


def _rand(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def test_gaussian_anomaly_loss_values():
    mu = torch.zeros(3)
    z = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [2.0, 2.0, 0.0]])
    l_h = gaussian_anomaly_loss(z, mu, torch.tensor(2.0))
    expected = 1 - torch.exp(-torch.tensor([0.0, 1.0, 8.0]) / 2.0)
    torch.testing.assert_close(l_h, expected)
    assert l_h.shape == (3,) and torch.all((l_h >= 0) & (l_h < 1))
    # bf16 codes are scored in float32; a zero sigma2 does not divide by zero
    assert gaussian_anomaly_loss(z.bfloat16(), mu, torch.tensor(2.0)).dtype == torch.float32
    assert torch.isfinite(gaussian_anomaly_loss(z, mu, torch.tensor(0.0))).all()


def test_reconstruction_loss_is_rho_mae_plus_ms_ssim():
    x, x_hat = _rand(4, 1, 32, 32), _rand(4, 1, 32, 32, seed=1)
    for rho in (0.0, 0.15, 1.0):
        expected = rho * (x - x_hat).abs().mean((1, 2, 3)) + (1 - rho) * (1 - ms_ssim(x, x_hat))
        torch.testing.assert_close(reconstruction_loss(x, x_hat, rho=rho), expected)
    assert torch.allclose(reconstruction_loss(x, x.clone()), torch.zeros(4), atol=1e-6)
    v, v_hat = _rand(5, 7), _rand(5, 7, seed=2)  # vectors: MAE only
    torch.testing.assert_close(reconstruction_loss(v, v_hat, rho=0.3), (v - v_hat).abs().mean(1))


def test_reconstruction_loss_mse_kind():
    """``kind="mse"`` is the per-sample mean squared error (the paper's MSE baseline) for
    images and vectors; an unknown kind names the allowed ones."""
    x, x_hat = _rand(4, 3, 32, 32), _rand(4, 3, 32, 32, seed=1)
    expected = (x - x_hat).pow(2).mean((1, 2, 3))
    torch.testing.assert_close(reconstruction_loss(x, x_hat, rho=0.7, kind="mse"), expected)
    v, v_hat = _rand(5, 7), _rand(5, 7, seed=2)
    torch.testing.assert_close(
        reconstruction_loss(v, v_hat, kind="mse"), (v - v_hat).pow(2).mean(1)
    )
    with pytest.raises(
        ValueError, match=r"kind must be one of \('ms-ssim\+mae', 'mse'\); got 'l2'"
    ):
        reconstruction_loss(x, x_hat, kind="l2")
    crit = IGDLoss(lambda2=2.0, reconstruction="mse")
    _, l_r = crit(x, x_hat, None, None)
    torch.testing.assert_close(l_r, expected)


def test_error_terms_localise_a_corrupted_region():
    x = _rand(2, 3, 32, 32, seed=1)
    terms = reconstruction_error_terms(x, x.clone())
    assert terms.shape == (2, 2, 32, 32)
    torch.testing.assert_close(terms, torch.zeros_like(terms), atol=1e-5, rtol=0)
    bad = x.clone()
    bad[:, :, 10:16, 10:16] = 1 - bad[:, :, 10:16, 10:16]
    for ssim in (GLOBAL_SSIM, LOCAL_SSIM):
        m = reconstruction_error_terms(x, bad, ssim=ssim)
        torch.testing.assert_close(m[:, 0], (x - bad).abs().mean(1))
        assert m[:, 1, 10:16, 10:16].mean() > 0.3 and m[:, 1, 26:, 26:].mean() < 0.05


def test_critic_loss():
    alpha = torch.tensor([0.1, 0.4])
    assert critic_loss(alpha.clone(), alpha, torch.zeros(2)) == 0
    value = critic_loss(torch.tensor([0.2, 0.2]), alpha, torch.tensor([1.0, 0.0]))
    assert value == pytest.approx((0.01 + 0.04) / 2 + 0.5)


def test_autoencoder_loss_composition():
    l_h, l_r, a = torch.tensor([0.2, 0.4]), torch.tensor([1.0, 3.0]), torch.tensor([0.5, 0.5])
    assert autoencoder_loss(l_h, l_r, a, lambda2=2.0, lambda3=0.1) == pytest.approx(
        0.3 + 2.0 * (2.0 + 0.1 * 0.25)
    )
    assert autoencoder_loss(None, l_r, None, lambda2=3.0) == pytest.approx(6.0)  # REC


def test_trimmed_mean_averages_the_smallest_share():
    v = torch.tensor([5.0, 1.0, 4.0, 2.0, 3.0])
    assert trimmed_mean(v, 1.0) == pytest.approx(3.0)
    assert trimmed_mean(v, 0.6) == pytest.approx(2.0)  # ceil(3.0): 1, 2, 3
    assert trimmed_mean(v, 0.5) == pytest.approx(2.0)  # ceil(2.5) = 3
    assert trimmed_mean(v, 0.01) == pytest.approx(1.0)  # at least one


def test_trimmed_autoencoder_loss_leaves_out_the_worst_fitting_samples():
    l_h, l_r = torch.tensor([0.2, 0.9, 0.1, 0.3]), torch.tensor([1.0, 3.0, 0.5, 0.2])
    a = torch.tensor([0.5, 0.1, 0.2, 0.3])
    whole = autoencoder_loss(l_h, l_r, a, lambda2=2.0, lambda3=0.1)
    assert autoencoder_loss(l_h, l_r, a, lambda2=2.0, lambda3=0.1, support=1.0) == whole
    # per sample l_h + 2 l_r: 2.2, 6.9, 1.1, 0.7; the best half: 1.1 and 0.7; the
    # critic's term stays the whole batch's
    half = autoencoder_loss(l_h, l_r, a, lambda2=2.0, lambda3=0.1, support=0.5)
    assert half == pytest.approx(0.9 + 2.0 * 0.1 * a.pow(2).mean().item())
    rec = autoencoder_loss(None, l_r, None, lambda2=2.0, support=0.75)  # REC: 2 l_r
    assert rec == pytest.approx(2.0 * (1.0 + 0.5 + 0.2) / 3)
    crit = IGDLoss(lambda2=2.0, lambda3=0.1, support=0.5)
    x, x_hat = _rand(4, 1, 16, 16), _rand(4, 1, 16, 16, seed=3)
    loss, l_r = crit(x, x_hat, l_h, a)
    expected = autoencoder_loss(l_h, l_r, a, lambda2=2.0, lambda3=0.1, support=0.5)
    torch.testing.assert_close(loss, expected)


def test_igd_loss_is_the_autoencoder_side_of_eq7():
    x, x_hat = _rand(3, 1, 16, 16), _rand(3, 1, 16, 16, seed=3)
    l_h, alpha_hat = torch.tensor([0.1, 0.5, 0.9]), torch.tensor([0.3, 0.1, 0.2])
    crit = IGDLoss(lambda2=2.0, lambda3=0.5, rho=0.3, ssim=LOCAL_SSIM)
    loss, l_r = crit(x, x_hat, l_h, alpha_hat)
    torch.testing.assert_close(l_r, reconstruction_loss(x, x_hat, rho=0.3, ssim=LOCAL_SSIM))
    expected = autoencoder_loss(l_h, l_r, alpha_hat, lambda2=2.0, lambda3=0.5)
    torch.testing.assert_close(loss, expected)
