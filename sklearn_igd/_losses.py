"""IGD's loss terms as pure functions (paper eq. 5-12) and the training criterion.

Every function takes tensors and named weights and returns tensors; none holds state.
``n`` is the batch size, ``Z`` the code size; images are ``(n, C, H, W)`` in ``[0, 1]``,
vectors ``(n, d)``. :class:`IGDLoss` bundles the autoencoder side of eq. 7 as the
``criterion`` of :class:`~sklearn_igd._net.IGDNet`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ._ssim import GLOBAL_WEIGHTS, LOCAL_WEIGHTS, ms_ssim, ms_ssim_map


@dataclass(frozen=True)
class SSIMSettings:
    """MS-SSIM settings of one IGD model (supplement eq. 18-21).

    The global model uses an 11x11 window with five scales; the local (patch) model a 3x3
    window with four. ``data_range`` is the range of the (normalised) pixels, 1 here.
    """

    win_size: int = 11
    weights: tuple = GLOBAL_WEIGHTS
    data_range: float = 1.0
    win_sigma: float = 1.5


GLOBAL_SSIM = SSIMSettings()
#: The local (patch) model's settings: 3x3 window, four scales.
LOCAL_SSIM = SSIMSettings(win_size=3, weights=LOCAL_WEIGHTS)


def _float(t):
    """``t`` in at least float32 (bf16/fp16 activations are scored in float32)."""
    return t.to(torch.promote_types(t.dtype, torch.float32))


def gaussian_anomaly_loss(z, mu, sigma2):
    """Gaussian anomaly classifier loss ``l_h = 1 - exp(-||z - mu||^2 / sigma^2)`` (eq. 5, 8).

    Parameters
    ----------
    z : Tensor (n, Z)
    mu : Tensor (Z,)
    sigma2 : Tensor ()
        The E-step's scale of the squared distances to ``mu``.

    Returns
    -------
    Tensor (n,)
        In ``[0, 1)``; higher = farther from the centre.
    """
    z = _float(z)
    d2 = (z - mu.to(z.dtype)).pow(2).sum(1)
    return 1.0 - torch.exp(-d2 / sigma2.to(z.dtype).clamp_min(1e-12))


def gaussian_nll(z, mu, sigma2):
    """``-log p(y=0|x) = ||z - mu||^2 / sigma^2``: the Gaussian classifier's negative
    log-likelihood (eq. 5), the unsaturated form of ``l_h = 1 - p``.

    It ranks samples as ``l_h`` does, but keeps separating those far from the centre,
    where ``l_h`` is close to 1; it is the Gaussian term of the score with
    ``gaussian_score="nll"``.

    Parameters
    ----------
    z : Tensor (n, Z)
    mu : Tensor (Z,)
    sigma2 : Tensor ()

    Returns
    -------
    Tensor (n,)
        Non-negative; about 1 on average over the training codes (the E-step's scale).
    """
    z = _float(z)
    d2 = (z - mu.to(z.dtype)).pow(2).sum(1)
    return d2 / sigma2.to(z.dtype).clamp_min(1e-12)


#: The Gaussian terms a score can use (``gaussian_score``): ``l_h`` of eq. 8 or its
#: negative log-likelihood form.
GAUSSIAN_SCORES = {"l_h": gaussian_anomaly_loss, "nll": gaussian_nll}


#: The reconstruction losses ``l_r`` can be: eq. 12 (the paper's ``REC``), or the mean
#: squared error of the paper's ``MSE`` baseline (Table 5).
RECONSTRUCTIONS = ("ms-ssim+mae", "mse")


def reconstruction_loss(x, x_hat, *, rho=0.15, ssim=GLOBAL_SSIM, kind="ms-ssim+mae"):
    """``l_r = rho * MAE + (1 - rho) * (1 - MS-SSIM)`` per sample (eq. 12).

    Parameters
    ----------
    x, x_hat : Tensor (n, C, H, W) or (n, d)
        For vectors (2-D) only the mean absolute error is used (no MS-SSIM).
    rho : float
        Weight of the MAE term.
    ssim : SSIMSettings
    kind : {"ms-ssim+mae", "mse"}
        ``"mse"``: the mean squared error ``mean((x - x_hat)^2)`` instead (the plain
        autoencoder of the paper's Table 5, row ``MSE``), for images and vectors alike;
        ``rho`` and ``ssim`` are then unused.

    Returns
    -------
    Tensor (n,)
    """
    x, x_hat = _float(x), _float(x_hat)
    x = x.to(x_hat.dtype)
    if kind == "mse":
        return (x - x_hat).pow(2).flatten(1).mean(1)
    if kind != "ms-ssim+mae":
        raise ValueError(f"kind must be one of {RECONSTRUCTIONS}; got {kind!r}.")
    mae = (x - x_hat).abs().flatten(1).mean(1)
    if x.ndim == 2:
        return mae
    m = ms_ssim(
        x,
        x_hat,
        data_range=ssim.data_range,
        win_size=ssim.win_size,
        win_sigma=ssim.win_sigma,
        weights=ssim.weights,
    )
    return rho * mae + (1.0 - rho) * (1.0 - m)


def reconstruction_error_terms(x, x_hat, *, ssim=GLOBAL_SSIM):
    """The two per-pixel terms of the reconstruction error map of eq. 17.

    The absolute error averaged over channels, ``|x - x_hat|``, and ``1 - MS-SSIM map``
    at full resolution (same padding).

    Parameters
    ----------
    x, x_hat : Tensor (n, C, H, W)
    ssim : SSIMSettings

    Returns
    -------
    Tensor (n, 2, H, W)
        ``[:, 0]`` the absolute error, ``[:, 1]`` one minus the MS-SSIM map; both zero
        where the reconstruction is exact, higher = worse reconstructed.
    """
    x, x_hat = _float(x), _float(x_hat)
    x = x.to(x_hat.dtype)
    abs_err = (x - x_hat).abs().mean(1)
    m = ms_ssim_map(
        x,
        x_hat,
        data_range=ssim.data_range,
        win_size=ssim.win_size,
        win_sigma=ssim.win_sigma,
        weights=ssim.weights,
    )
    return torch.stack([abs_err, 1.0 - m], dim=1)


def critic_loss(alpha_hat, alpha, zeta_hat):
    """Critic loss ``l_d = ||d(x_alpha) - alpha||^2 + ||d(x_zeta)||^2`` (eq. 10), batch mean.

    Parameters
    ----------
    alpha_hat : Tensor (n,)
        Critic output on decoded interpolations ``x_alpha``.
    alpha : Tensor (n,)
        The interpolation coefficients, ``U(0, 0.5)``.
    zeta_hat : Tensor (n,)
        Critic output on ``zeta x + (1 - zeta) x_hat``.

    Returns
    -------
    Tensor ()
    """
    return (_float(alpha_hat) - alpha).pow(2).mean() + _float(zeta_hat).pow(2).mean()


def trimmed_mean(values, support):
    """Mean of the ``ceil(support * n)`` smallest of ``values`` (at least one).

    Parameters
    ----------
    values : Tensor (n,)
    support : float in (0, 1]
        1: the plain mean.

    Returns
    -------
    Tensor ()
    """
    k = max(1, math.ceil(support * values.shape[0]))
    if k >= values.shape[0]:
        return values.mean()
    return values.topk(k, largest=False).values.mean()


def autoencoder_loss(l_h, l_r, alpha_hat, *, lambda2=1.0, lambda3=0.1, support=1.0):
    """Encoder/decoder side of eq. 7: ``mean(l_h) + lambda2 * l_fg`` (eq. 11).

    ``l_fg = mean(l_r) + lambda3 * ||d(x_alpha)||^2``: the autoencoder tries to make the
    critic predict 0 for interpolations.

    With ``support`` below 1 the per-sample part ``l_h + lambda2 * l_r`` is averaged
    over the ``support`` share of the batch where it is smallest (:func:`trimmed_mean`),
    so that the worst-fitting samples, the likely anomalies of a contaminated training
    set, do not pull on the autoencoder; the critic's term is kept whole.

    Parameters
    ----------
    l_h : Tensor (n,) or None
        None without the Gaussian anomaly classifier (the REC ablation).
    l_r : Tensor (n,)
    alpha_hat : Tensor (n,) or None
        Critic output on interpolations; None without the critic.
    lambda2, lambda3 : float
    support : float in (0, 1]

    Returns
    -------
    Tensor ()
    """
    if support < 1:
        per = lambda2 * l_r if l_h is None else _float(l_h) + lambda2 * l_r
        loss = trimmed_mean(per, support)
        if alpha_hat is not None:
            loss = loss + lambda2 * lambda3 * _float(alpha_hat).pow(2).mean()
        return loss
    l_fg = l_r.mean()
    if alpha_hat is not None:
        l_fg = l_fg + lambda3 * _float(alpha_hat).pow(2).mean()
    return lambda2 * l_fg if l_h is None else l_h.mean() + lambda2 * l_fg


class IGDLoss(nn.Module):
    """The autoencoder side of eq. 7 as a criterion: ``mean(l_h) + lambda2 * l_fg``.

    Parameters
    ----------
    lambda2, lambda3, rho : float
        Weights of eq. 7, 11 and 12.
    ssim : SSIMSettings
        MS-SSIM settings of the reconstruction loss.
    support : float in (0, 1]
        Share of each batch the autoencoder's per-sample loss is averaged over
        (:func:`autoencoder_loss`); 1: all of it.
    reconstruction : {"ms-ssim+mae", "mse"}
        The reconstruction loss ``l_r`` (:func:`reconstruction_loss`'s ``kind``).

    The forward pass takes the model's outputs on a batch and returns the scalar loss and
    the per-sample terms ``(l_h or None, l_r)`` so that the caller can record them.
    """

    def __init__(
        self,
        *,
        lambda2=1.0,
        lambda3=0.1,
        rho=0.15,
        ssim=GLOBAL_SSIM,
        support=1.0,
        reconstruction="ms-ssim+mae",
    ):
        super().__init__()
        self.lambda2 = lambda2
        self.lambda3 = lambda3
        self.rho = rho
        self.ssim = ssim
        self.support = support
        self.reconstruction = reconstruction

    def forward(self, x, x_hat, l_h, alpha_hat):
        """``x, x_hat`` (n, ...), ``l_h`` (n,) or None, ``alpha_hat`` (n,) or None."""
        l_r = reconstruction_loss(x, x_hat, rho=self.rho, ssim=self.ssim, kind=self.reconstruction)
        loss = autoencoder_loss(
            l_h, l_r, alpha_hat, lambda2=self.lambda2, lambda3=self.lambda3, support=self.support
        )
        return loss, l_r
