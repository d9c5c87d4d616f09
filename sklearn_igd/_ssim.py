"""Differentiable multi-scale structural similarity (MS-SSIM) in pure torch.

The functions here follow the conventions of ``pytorch_msssim`` (Gaussian
window, valid filtering, 2x2 average-pool downsampling with ``side % 2``
padding, ReLU on the contrast-structure term of every non-final scale and on
the SSIM of the final scale), and extend them so they can be used as a
*training loss* and for *anomaly heatmaps* on images of any size:

* images too small for the requested number of scales use fewer scales, with
  the weights of the scales that fit renormalised to sum to one;
* images smaller than the window use a shrunk (odd) window;
* powers are computed with a "safe" power so that a term that the ReLU sets
  to exactly zero gives a value of exactly zero and finite (zero) gradients;
* computations run in at least float32, also under mixed-precision autocast.

The contrast-structure term uses ``C3 = C2 / 2`` so that contrast and structure
combine into ``cs = (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2)``.

Nothing is cached at module level, so the functions are safe to use from
picklable estimators.
"""

import torch
import torch.nn.functional as F

__all__ = [
    "GLOBAL_WEIGHTS",
    "LOCAL_WEIGHTS",
    "effective_window",
    "gaussian_window",
    "ms_ssim",
    "ms_ssim_map",
    "n_scales",
]

#: Scale weights of the original MS-SSIM (Wang et al., 2003), used with an
#: 11x11 Gaussian window of sigma 1.5 ("global" MS-SSIM in the IGD paper).
GLOBAL_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)

#: Scale weights used with a 3x3 Gaussian window ("local" MS-SSIM in IGD).
LOCAL_WEIGHTS = (0.0516, 0.3295, 0.3463, 0.2726)

_EPS = 1e-12


# ----------------------------------------------------------------------------
# Helpers on sizes
# ----------------------------------------------------------------------------
def n_scales(height, width, win_size, n_weights):
    """Number of MS-SSIM scales that fit an image.

    Scale ``k`` (``k = 0`` is the input resolution) has size
    ``ceil(side / 2**k)`` along each side, which is exactly what 2x2 average
    pooling with padding ``side % 2`` (as in ``pytorch_msssim``) produces. A
    scale fits when its smaller side is at least ``win_size``.

    Parameters
    ----------
    height, width : int
        Size of the full-resolution image.
    win_size : int
        Size of the (square) Gaussian window.
    n_weights : int
        Number of scale weights available; the maximum number of scales.

    Returns
    -------
    int
        Number of scales, between 1 and ``n_weights`` (at least 1 even if the
        image is smaller than the window).
    """
    height, width, win_size, n_weights = (int(height), int(width), int(win_size), int(n_weights))
    if n_weights < 1:
        raise ValueError(f"n_weights must be >= 1, got {n_weights}.")
    count = 0
    h, w = height, width
    while count < n_weights and min(h, w) >= win_size:
        count += 1
        h, w = -(-h // 2), -(-w // 2)
    return max(count, 1)


def effective_window(height, width, win_size):
    """Window size actually used for an image of a given size.

    Images smaller than the window use a shrunk window: the largest odd
    number that is not larger than the smaller side of the image.

    Parameters
    ----------
    height, width : int
        Size of the full-resolution image.
    win_size : int
        Requested (odd) window size.

    Returns
    -------
    int
        ``win_size`` if ``min(height, width) >= win_size``, else the largest
        odd number ``<= min(height, width)``.
    """
    side = min(int(height), int(width))
    if side < 1:
        raise ValueError(f"Image sides must be >= 1, got {height}x{width}.")
    if side >= win_size:
        return int(win_size)
    return side if side % 2 == 1 else side - 1


def gaussian_window(win_size, win_sigma, dtype=torch.float32, device=None):
    """Normalised 1-D Gaussian window.

    Parameters
    ----------
    win_size : int
        Number of taps (odd).
    win_sigma : float
        Standard deviation of the Gaussian, in pixels.
    dtype : torch.dtype, default=torch.float32
        Dtype of the returned tensor.
    device : torch.device or str, optional
        Device of the returned tensor.

    Returns
    -------
    torch.Tensor of shape (win_size,)
        Window centred on ``win_size // 2``, summing to one.
    """
    coords = torch.arange(win_size, dtype=torch.float64) - win_size // 2
    g = torch.exp(-(coords**2) / (2.0 * float(win_sigma) ** 2))
    g = g / g.sum()
    return g.to(dtype=dtype, device=device)


# ----------------------------------------------------------------------------
# Internal building blocks
# ----------------------------------------------------------------------------
def _check_args(x, y, win_size, weights):
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise TypeError("x and y must be torch tensors.")
    if x.dim() != 4 or y.dim() != 4 or x.shape != y.shape:
        raise ValueError(
            "Expected x and y to be 4-D tensors of equal shape (n, C, H, W), "
            f"received x.shape={tuple(x.shape)} and y.shape={tuple(y.shape)}."
        )
    if min(x.shape[-2:]) < 1:
        raise ValueError(f"Images must be non-empty, received shape {tuple(x.shape)}.")
    if int(win_size) != win_size or win_size < 1 or win_size % 2 != 1:
        raise ValueError(f"win_size must be a positive odd integer, got {win_size}.")
    weights = tuple(float(w) for w in weights)
    if len(weights) == 0:
        raise ValueError("weights must contain at least one value.")
    return weights


def _compute_dtype(x, y):
    dtype = torch.promote_types(x.dtype, y.dtype)
    if dtype not in (torch.float32, torch.float64):
        dtype = torch.float32
    return dtype


def _used_weights(weights, levels, dtype, device):
    """First ``levels`` weights renormalised to sum to one, shape (levels,)."""
    w = torch.tensor(weights[:levels], dtype=torch.float64)
    if levels < len(weights):
        w = w / w.sum()
    return w.to(dtype=dtype, device=device)


def _safe_pow(c, w):
    """``relu(c) ** w`` with value exactly 0 and finite gradients where c <= 0."""
    return torch.where(c > 0, c.clamp_min(_EPS) ** w, torch.zeros_like(c))


def _filter(t, win):
    """Valid separable filtering of (n, G, h, w) with a 1-D window (k,)."""
    # python ints: a traced export (torch.onnx) then sees a static kernel shape
    groups, k = int(t.shape[1]), int(win.shape[0])
    out = F.conv2d(t, win.view(1, 1, k, 1).expand(groups, 1, k, 1), groups=groups)
    out = F.conv2d(out, win.view(1, 1, 1, k).expand(groups, 1, 1, k), groups=groups)
    return out


def _ssim_cs_maps(x, y, win, c1, c2, same):
    """SSIM and contrast-structure maps of (n, C, h, w) inputs.

    Returns two tensors of shape (n, C, h', w'), with ``h' = h - k + 1`` for
    valid filtering or ``h' = h`` when ``same`` (replicate padding).
    """
    n_ch = x.shape[1]
    if same:
        p = win.shape[0] // 2
        if p > 0:
            x = F.pad(x, (p, p, p, p), mode="replicate")
            y = F.pad(y, (p, p, p, p), mode="replicate")
    stats = _filter(torch.cat([x, y, x * x, y * y, x * y], dim=1), win)
    mu1, mu2, exx, eyy, exy = torch.split(stats, n_ch, dim=1)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = exx - mu1_sq
    sigma2_sq = eyy - mu2_sq
    sigma12 = exy - mu1_mu2
    cs_map = (2 * sigma12 + c2) / (sigma1_sq + sigma2_sq + c2)
    ssim_map = (2 * mu1_mu2 + c1) / (mu1_sq + mu2_sq + c1) * cs_map
    return ssim_map, cs_map


def _downsample(t):
    h, w = (int(s) for s in t.shape[-2:])  # static padding in a traced export
    return F.avg_pool2d(t, kernel_size=2, padding=[h % 2, w % 2])


def _setup(x, y, data_range, win_size, win_sigma, weights, K):
    weights = _check_args(x, y, win_size, weights)
    dtype = _compute_dtype(x, y)
    x = x.to(dtype)
    y = y.to(dtype)
    height, width = x.shape[-2:]
    win_eff = effective_window(height, width, int(win_size))
    levels = n_scales(height, width, win_eff, len(weights))
    win = gaussian_window(win_eff, win_sigma, dtype=dtype, device=x.device)
    w = _used_weights(weights, levels, dtype, x.device)
    k1, k2 = K
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    return x, y, win, w, levels, c1, c2


def _no_autocast(device):
    return torch.autocast(device_type=device.type, enabled=False)


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------
def ms_ssim(
    x, y, *, data_range=1.0, win_size=11, win_sigma=1.5, weights=GLOBAL_WEIGHTS, K=(0.01, 0.03)
):
    """Per-image multi-scale SSIM.

    At each scale the images are filtered with a separable Gaussian window
    without padding ("valid"); the spatial means of the contrast-structure map
    (non-final scales) and of the SSIM map (final scale) are passed through a
    ReLU, raised to the scale weights and multiplied; the result is averaged
    over channels. Between scales the images are downsampled by 2x2 average
    pooling with padding ``side % 2``. This matches
    ``pytorch_msssim.ms_ssim(x, y, size_average=False, ...)`` wherever that
    function accepts the input.

    Unlike ``pytorch_msssim``, any image size is accepted: only the scales
    whose smaller side is at least the window size are used (see
    :func:`n_scales`), with their weights renormalised to sum to one, and
    images smaller than the window use a shrunk window (see
    :func:`effective_window`).

    Parameters
    ----------
    x, y : torch.Tensor of shape (n, C, H, W)
        Images to compare, floating point. Lower-precision inputs (and inputs
        under autocast) are computed in float32.
    data_range : float, default=1.0
        Value range of the images (1.0 for [0, 1] images, 255 for uint8-like).
    win_size : int, default=11
        Size of the Gaussian window (odd).
    win_sigma : float, default=1.5
        Standard deviation of the Gaussian window.
    weights : sequence of float, default=GLOBAL_WEIGHTS
        Weight of each scale, from the finest to the coarsest; its length is
        the maximum number of scales.
    K : tuple of (float, float), default=(0.01, 0.03)
        Stability constants; ``C1 = (K1 * data_range)**2``,
        ``C2 = (K2 * data_range)**2`` and ``C3 = C2 / 2``.

    Returns
    -------
    torch.Tensor of shape (n,)
        MS-SSIM of each pair of images, in [0, 1] (1 for identical images).
        Differentiable, with finite gradients even where a ReLU is at zero.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` are not 4-D tensors of equal shape, or if
        ``win_size`` is not a positive odd integer.
    """
    with _no_autocast(x.device):
        x, y, win, w, levels, c1, c2 = _setup(x, y, data_range, win_size, win_sigma, weights, K)
        terms = []
        for level in range(levels):
            ssim_map, cs_map = _ssim_cs_maps(x, y, win, c1, c2, same=False)
            if level < levels - 1:
                terms.append(cs_map.flatten(2).mean(-1))  # (n, C)
                x, y = _downsample(x), _downsample(y)
            else:
                terms.append(ssim_map.flatten(2).mean(-1))  # (n, C)
        stacked = torch.stack(terms, dim=0)  # (levels, n, C)
        value = _safe_pow(stacked, w.view(-1, 1, 1)).prod(dim=0)  # (n, C)
        return value.mean(dim=1)


def ms_ssim_map(
    x, y, *, data_range=1.0, win_size=11, win_sigma=1.5, weights=GLOBAL_WEIGHTS, K=(0.01, 0.03)
):
    """Per-pixel multi-scale SSIM map at full input resolution.

    At each scale the contrast-structure map (non-final scales) or the SSIM
    map (final scale) is computed with "same" padding (replicate padding of
    ``win // 2`` before the valid Gaussian filter, so the map has that
    scale's size), averaged over channels, passed through a ReLU and
    upsampled bilinearly (``align_corners=False``) to ``(H, W)``. The maps are
    combined as the product of ``map ** weight`` with the same scale selection
    and weight renormalisation as :func:`ms_ssim`. Useful for anomaly
    heatmaps (e.g. ``1 - ms_ssim_map(x, x_hat)``). Its spatial mean is close
    to, but not equal to, :func:`ms_ssim`.

    Parameters
    ----------
    x, y : torch.Tensor of shape (n, C, H, W)
        Images to compare, floating point.
    data_range, win_size, win_sigma, weights, K
        As in :func:`ms_ssim`.

    Returns
    -------
    torch.Tensor of shape (n, H, W)
        Similarity map in [0, 1]; all ones for identical images.
        Differentiable, with finite gradients.

    Raises
    ------
    ValueError
        If ``x`` and ``y`` are not 4-D tensors of equal shape, or if
        ``win_size`` is not a positive odd integer.
    """
    with _no_autocast(x.device):
        x, y, win, w, levels, c1, c2 = _setup(x, y, data_range, win_size, win_sigma, weights, K)
        height, width = x.shape[-2:]
        out = None
        for level in range(levels):
            ssim_map, cs_map = _ssim_cs_maps(x, y, win, c1, c2, same=True)
            m = ssim_map if level == levels - 1 else cs_map
            m = torch.relu(m.mean(dim=1, keepdim=True))  # (n, 1, h, w)
            if m.shape[-2:] != (height, width):
                m = F.interpolate(m, size=(height, width), mode="bilinear", align_corners=False)
            term = _safe_pow(m[:, 0], w[level])
            out = term if out is None else out * term
            if level < levels - 1:
                x, y = _downsample(x), _downsample(y)
        return out
