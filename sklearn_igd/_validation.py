"""Input checking and conversion for :class:`sklearn_igd.IGDDetector`.

Images arrive as ``(n, H, W)``, ``(n, H, W, C)`` or ``(n, C, H, W)`` with C in {1, 3},
uint8 (0..255) or float (0..1), or as a list of equally sized arrays; they leave as
float32 ``(n, C, H, W)`` in ``[0, 1]``. 2-D input ``(n, n_features)`` is tabular data.
Every rejection names what was expected and what was received.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import validate_data

#: Smallest image side the ResNet encoder handles (three stride-2 stages down to 1 px).
MIN_IMAGE_SIDE = 8
_CHANNELS = (1, 3)


def _as_array(X):
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):  # scipy sparse: let sklearn reject it
        return X
    if isinstance(X, (list, tuple)):
        shapes = {np.shape(x) for x in X}
        if len(shapes) > 1:
            raise ValueError(
                "All images in a list must have the same shape; received shapes "
                f"{sorted(shapes, key=str)[:5]}."
            )
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    return np.asarray(X) if not hasattr(X, "iloc") else X


def _to_nchw(X):
    """A 3-D or 4-D image array as (n, C, H, W)."""
    if X.ndim == 3:
        return X[:, None, :, :]
    first, last = X.shape[1], X.shape[-1]
    if first in _CHANNELS and last not in _CHANNELS:
        return X
    if last in _CHANNELS and first not in _CHANNELS:
        return np.moveaxis(X, -1, 1)
    if first in _CHANNELS and last in _CHANNELS:
        raise ValueError(
            f"Cannot tell the channel axis of images of shape {X.shape}: both axis 1 "
            f"({first}) and the last axis ({last}) could hold channels. Expected "
            "(n, C, H, W) or (n, H, W, C) with C in {1, 3} and H, W >= "
            f"{MIN_IMAGE_SIDE}."
        )
    raise ValueError(
        f"Images must have 1 or 3 channels; received a 4-D array of shape {X.shape} "
        "whose axis 1 and last axis are neither 1 nor 3. Expected (n, H, W), "
        "(n, H, W, C) or (n, C, H, W) with C in {1, 3}."
    )


def _scale_pixels(X):
    """uint8/int 0..255 -> float32 /255; float must already lie in [0, 1]."""
    if X.size == 0:
        return X.astype(np.float32)
    if X.dtype == np.bool_:
        return X.astype(np.float32)
    if np.issubdtype(X.dtype, np.integer):
        lo, hi = X.min(), X.max()
        if lo < 0 or hi > 255:
            raise ValueError(
                "Integer images must hold values in 0..255 (as uint8 does); received "
                f"values in [{lo}, {hi}]."
            )
        return X.astype(np.float32) / np.float32(255.0)
    if not np.issubdtype(X.dtype, np.floating):
        raise ValueError(
            f"Images must be uint8 (0..255) or float (0..1); received dtype {X.dtype}."
        )
    if not np.isfinite(X).all():
        raise ValueError(
            "Input X contains NaN or infinity; expected finite pixel values in [0, 1] "
            f"(float) or 0..255 (uint8). Found {int((~np.isfinite(X)).sum())} "
            "non-finite values."
        )
    lo, hi = float(X.min()), float(X.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(
            "Float images must be scaled to [0, 1]; received values in "
            f"[{lo:.4g}, {hi:.4g}]. Pass uint8 images (0..255) or divide by 255."
        )
    return np.clip(X, 0.0, 1.0).astype(np.float32)


def _resize(X, image_size):
    """Bilinear (antialiased) resize of float32 NCHW to ``image_size`` = (H, W)."""
    if tuple(X.shape[2:]) == tuple(image_size):
        return X
    t = torch.from_numpy(np.ascontiguousarray(X))
    t = torch.nn.functional.interpolate(
        t, size=tuple(image_size), mode="bilinear", antialias=True, align_corners=False
    )
    return t.clamp_(0, 1).numpy()


def check_image_size_param(image_size):
    """Tuples/lists given to ``image_size`` must be two ints >= :data:`MIN_IMAGE_SIDE`."""
    ok = lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)  # noqa: E731
    if isinstance(image_size, (tuple, list)) and not (
        len(image_size) == 2 and all(ok(v) and v >= MIN_IMAGE_SIDE for v in image_size)
    ):
        raise InvalidParameterError(
            f"The 'image_size' parameter of IGDDetector must be None, an int >= "
            f"{MIN_IMAGE_SIDE} or a pair (H, W) of ints >= {MIN_IMAGE_SIDE}. Got "
            f"{image_size!r} instead."
        )


def normalise_image_size(image_size):
    """``None``, int or (H, W) -> ``None`` or a tuple of two ints."""
    if image_size is None:
        return None
    if isinstance(image_size, numbers.Integral):
        return (int(image_size), int(image_size))
    return tuple(int(s) for s in image_size)


def check_input(estimator, X, *, reset):
    """Validate ``X`` for ``estimator`` and convert it to the model's float32 layout.

    Parameters
    ----------
    estimator : IGDDetector
    X : array-like
        Images (3-D or 4-D, or a list of equally sized arrays) or 2-D vectors.
    reset : bool
        True in ``fit``: records ``n_features_in_``, ``input_shape_`` and
        ``is_image_``. False afterwards: checks ``X`` against them.

    Returns
    -------
    ndarray of float32
        ``(n, C, H, W)`` in ``[0, 1]`` for images, ``(n, d)`` for vectors.
    """
    X = _as_array(X)
    ndim = getattr(X, "ndim", 2)
    min_samples = 2 if reset else 1
    name = type(estimator).__name__
    if ndim in (0, 1) or ndim > 4:
        raise ValueError(
            f"Expected images of shape (n, H, W), (n, H, W, C) or (n, C, H, W), or a "
            f"2-D array (n, n_features); received an array with {ndim} dimension(s) "
            f"of shape {getattr(X, 'shape', None)}. Reshape your data: one vector as "
            "X.reshape(1, -1), one image as X[None]."
        )
    if not reset and ndim == 2 and estimator.is_image_:
        raise ValueError(
            f"{name} was fitted on images of shape (C, H, W) = {estimator.input_shape_}; "
            f"received a 2-D array of shape {X.shape}. Pass images in one of the "
            "layouts (n, H, W), (n, H, W, C) or (n, C, H, W)."
        )
    if not reset and ndim in (3, 4) and not estimator.is_image_:
        raise ValueError(
            f"{name} was fitted on 2-D data with {estimator.n_features_in_} features; "
            f"received a {ndim}-D array of shape {X.shape}."
        )
    if ndim == 2:
        X = validate_data(
            estimator,
            X,
            reset=reset,
            dtype=[np.float64, np.float32],
            ensure_min_samples=min_samples,
        )
        if reset:
            estimator.is_image_ = False
            estimator.input_shape_ = (X.shape[1],)
        return np.asarray(X, dtype=np.float32)

    if X.dtype == object:
        raise ValueError(f"Images must be numeric arrays; received dtype {X.dtype}.")
    X = _to_nchw(X)
    n = X.shape[0]
    if n < min_samples:
        raise ValueError(
            f"Found array with {n} sample(s) (shape={X.shape}) while a minimum of "
            f"{min_samples} is required by {name}."
        )
    X = _scale_pixels(X)
    target = normalise_image_size(estimator.image_size)
    if target is not None:
        X = _resize(X, target)
    shape = tuple(int(s) for s in X.shape[1:])
    if reset:
        if min(shape[1:]) < MIN_IMAGE_SIDE:
            raise ValueError(
                f"Images must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels; received "
                f"{shape[1]}x{shape[2]}. Upsample them or set image_size."
            )
    elif shape != tuple(estimator.input_shape_):
        c0, h0, w0 = estimator.input_shape_
        raise ValueError(
            f"{name} was fitted on images with {c0} channel(s) of size {h0}x{w0} "
            f"(C, H, W = {tuple(estimator.input_shape_)}); received {shape[0]} channel(s) "
            f"of size {shape[1]}x{shape[2]}. Resize the images or set image_size=({h0}, "
            f"{w0}) before fitting to have them resized."
        )
    flat = validate_data(
        estimator, X.reshape(n, -1), reset=reset, dtype=np.float32, ensure_min_samples=min_samples
    )
    if reset:
        estimator.is_image_ = True
        estimator.input_shape_ = shape
    return np.ascontiguousarray(flat.reshape((n,) + shape))


def check_auto_threshold(est, threshold, *, gaussian):
    """``contamination="auto"`` is the paper's ``threshold`` on its own score (``l_r +
    l_h``): raise ValueError for a detector whose Gaussian term is not ``l_h`` or whose
    terms are balanced. ``gaussian``: whether the detector's variant has the Gaussian
    term at all (without it the score is ``l_r`` and any ``gaussian_score`` will do)."""
    if est.contamination == "auto" and gaussian and est.gaussian_score != "l_h":
        raise ValueError(
            f"contamination='auto' is the paper's fixed threshold s(x) = {threshold} "
            "on the score with l_h in [0, 1); with "
            f"gaussian_score={est.gaussian_score!r} the Gaussian term is unbounded. "
            "Expected gaussian_score='l_h' with contamination='auto', or contamination "
            "as a float in (0, 0.5]."
        )
    if est.contamination == "auto" and est.global_score == "balanced":
        raise ValueError(
            f"contamination='auto' is the paper's fixed threshold s(x) = {threshold} "
            "on the paper's sum l_r + l_h; global_score='balanced' divides the terms by "
            "their training means. Expected global_score='sum' or 'auto' with "
            "contamination='auto', or contamination as a float in (0, 0.5]."
        )


def positive_or_one(means):
    """``means`` as a float64 array, entries that are not finite and positive set to 1."""
    means = np.asarray(means, dtype=np.float64)
    return np.where(np.isfinite(means) & (means > 0), means, 1.0)


def check_finite_scores(score, what):
    """Raise ValueError naming the rows of ``score`` that are not finite."""
    bad = np.flatnonzero(~np.isfinite(score))
    if bad.size:
        rows = ", ".join(str(i) for i in bad[:10]) + (", ..." if bad.size > 10 else "")
        raise ValueError(
            f"IGDDetector produced non-finite anomaly scores for {bad.size} of the "
            f"{score.shape[0]} {what} samples (rows {rows}): the model's output overflowed. "
            "Check the input for extreme values; refit with another random_state or a "
            "smaller lr."
        )
