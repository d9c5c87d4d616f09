"""CutPaste: synthetic local defects made from the images themselves."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params

__all__ = ["make_cutpaste_defects"]

_MIN_SIDE = 4  # the smallest image side a rectangle of at least 2 x 2 pixels fits in


def _check_range(value, name, low, high, *, closed_high):
    """``(a, b)`` as floats with ``low < a <= b`` and ``b < high`` (``<=`` when
    ``closed_high``); a ValueError naming ``name`` otherwise."""
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a pair (low, high) of numbers; received {value!r}."
        ) from None
    upper_ok = b <= high if closed_high else b < high
    if not (low < a <= b and upper_ok):
        bound = "<=" if closed_high else "<"
        raise ValueError(
            f"{name} must satisfy {low:g} < low <= high {bound} {high:g}; received {value!r}."
        )
    return a, b


@validate_params(
    {
        "X": ["array-like"],
        "n_copies": [Interval(Integral, 1, None, closed="left")],
        "area": [tuple, list],
        "aspect": [tuple, list],
        "jitter": [Interval(Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_cutpaste_defects(
    X,
    *,
    n_copies=1,
    area=(0.02, 0.15),
    aspect=(0.3, 1 / 0.3),
    jitter=0.1,
    random_state=None,
):
    """Make synthetic local defects from normal images by CutPaste.

    Each copy of an image gets one rectangle cut at a random place of the same
    image, with its contrast and brightness scaled by random factors in
    ``[1 - jitter, 1 + jitter]``, and pasted at another random place (Li et al.,
    "CutPaste: Self-Supervised Learning for Anomaly Detection and Localization",
    CVPR 2021). The result looks like the normal images except for one local
    irregularity, without any anomaly of the real kind: a label-free stand-in for
    local defects, used by
    :func:`~sklearn_igd.thresholds.select_global_score_weight` when no labelled
    anomalies are given.

    Parameters
    ----------
    X : array-like of shape (n_samples, height, width) or \
            (n_samples, height, width, channels)
        Normal images, height and width at least 4. Integer images (e.g. uint8
        grey levels) are rounded and clipped to their dtype's range; float images
        to the range of ``X``.
    n_copies : int, default=1
        Defective copies of each image.
    area : (float, float), default=(0.02, 0.15)
        The rectangle's area as a fraction of the image, drawn uniformly in
        ``[low, high]``, ``0 < low <= high <= 1``.
    aspect : (float, float), default=(0.3, 1 / 0.3)
        The rectangle's height over its width, drawn log-uniformly in
        ``[low, high]``, ``0 < low <= high``. Sides are at least 2 pixels and at
        most the image's side minus 1.
    jitter : float, default=0.1
        In [0, 1): the largest relative change of the rectangle's contrast and
        brightness.
    random_state : int, RandomState instance or None, default=None
        Controls the rectangles and the jitter, through
        :func:`sklearn.utils.check_random_state`. Pass an int for reproducible
        output.

    Returns
    -------
    images : ndarray of shape (n_samples * n_copies, ...), dtype of X
        The defective copies, in the order ``X[0]``'s copies, then ``X[1]``'s, ...
    masks : ndarray of shape (n_samples * n_copies, height, width), dtype bool
        The pasted rectangle of each copy (its pixels may equal the original ones
        where the pasted content matches what it covers, e.g. on a black background).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.datasets import make_cutpaste_defects
    >>> X = np.random.RandomState(0).randint(0, 256, size=(3, 32, 32), dtype=np.uint8)
    >>> images, masks = make_cutpaste_defects(X, n_copies=2, random_state=0)
    >>> images.shape, images.dtype, masks.shape
    ((6, 32, 32), dtype('uint8'), (6, 32, 32))
    >>> bool(np.all(images[~masks] == np.repeat(X, 2, axis=0)[~masks]))
    True
    """
    X = np.asarray(X)
    if X.ndim not in (3, 4):
        raise ValueError(
            "X must be images of shape (n_samples, height, width) or (n_samples, height, "
            f"width, channels); received an array of shape {X.shape}."
        )
    if X.shape[0] < 1:
        raise ValueError("X must hold at least one image; received 0.")
    H, W = X.shape[1:3]
    if min(H, W) < _MIN_SIDE:
        raise ValueError(
            f"The images must be at least {_MIN_SIDE} x {_MIN_SIDE} pixels; received {H} x {W}."
        )
    if X.dtype.kind not in "uif":
        raise ValueError(f"X must hold integer or float pixel values; received dtype {X.dtype}.")
    area = _check_range(area, "area", 0.0, 1.0, closed_high=True)
    aspect = _check_range(aspect, "aspect", 0.0, np.inf, closed_high=False)
    if X.dtype.kind == "f":
        if not np.all(np.isfinite(X)):
            raise ValueError("X must not contain NaN or infinite values.")
        low, high = float(X.min()), float(X.max())
    else:
        info = np.iinfo(X.dtype)
        low, high = info.min, info.max
    rng = check_random_state(random_state)
    out = np.repeat(X, n_copies, axis=0).astype(np.float64)
    masks = np.zeros(out.shape[:3], dtype=bool)
    log_aspect = np.log(aspect)
    for img, mask in zip(out, masks):
        a = rng.uniform(*area) * H * W
        r = np.exp(rng.uniform(*log_aspect))
        h = int(np.clip(round(np.sqrt(a * r)), 2, H - 1))
        w = int(np.clip(round(np.sqrt(a / r)), 2, W - 1))
        y0, x0 = rng.randint(0, H - h + 1), rng.randint(0, W - w + 1)
        y1, x1 = rng.randint(0, H - h + 1), rng.randint(0, W - w + 1)
        patch = img[y0 : y0 + h, x0 : x0 + w].copy()
        mean = patch.mean()
        patch = (patch - mean) * rng.uniform(1 - jitter, 1 + jitter) + mean
        patch = patch * rng.uniform(1 - jitter, 1 + jitter)
        img[y1 : y1 + h, x1 : x1 + w] = patch
        mask[y1 : y1 + h, x1 : x1 + w] = True
    if X.dtype.kind != "f":
        out = np.rint(out)
    return np.clip(out, low, high).astype(X.dtype), masks
