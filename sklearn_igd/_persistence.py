"""Saving and loading fitted detectors: version stamps, weight checksums, clear errors.

A fitted :class:`~sklearn_igd.IGDDetector` pickles with ``joblib.dump``. Its state
carries the package version and a SHA-256 digest of every weight and buffer of its torch
models; loading warns (:class:`InconsistentVersionWarning`) when the file was written by
another version and raises when the weights no longer match their digest (a corrupted
file). :func:`load_detector` wraps ``joblib.load`` with one-line errors for files that
are missing, truncated, not pickles or not a fitted detector.

Loading a pickle runs code: load only files from sources you trust.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import warnings

import joblib
import torch


class InconsistentVersionWarning(UserWarning):
    """A detector is loaded with another sklearn-igd version than the one that saved it.

    Like scikit-learn's warning of the same name: models are not guaranteed to load or to
    score the same across versions.

    Parameters
    ----------
    original_version : str
        The sklearn-igd version that saved the detector (also an attribute).
    current_version : str
        The running sklearn-igd version (also an attribute).
    """

    def __init__(self, *, original_version, current_version):
        self.original_version = original_version
        self.current_version = current_version

    def __str__(self):
        return (
            f"Trying to load an IGDDetector saved with sklearn-igd {self.original_version} "
            f"with version {self.current_version}. This might lead to breaking code or "
            "invalid results. Use at your own risk; refit the detector with this version "
            "where you can."
        )


def weights_digest(modules):
    """SHA-256 (hex) of the names, shapes, dtypes and bytes of every tensor in the
    ``state_dict`` of each of ``modules`` (None entries skipped)."""
    h = hashlib.sha256()
    for module in modules:
        if module is None:
            continue
        for name, tensor in module.state_dict().items():
            t = tensor.detach().cpu().contiguous()
            h.update(f"{name}:{tuple(t.shape)}:{t.dtype};".encode())
            h.update(t.view(-1).view(dtype=torch.uint8).numpy().tobytes())
    return h.hexdigest()


def check_loaded_state(state, current_version, digest):
    """Warn on a version mismatch and raise ValueError on a weights-digest mismatch."""
    original = state.get("_sklearn_igd_version")
    if original is not None and original != current_version:
        warnings.warn(
            InconsistentVersionWarning(original_version=original, current_version=current_version),
            stacklevel=3,
        )
    expected = state.get("_weights_digest")
    if expected is not None and expected != digest:
        raise ValueError(
            "The IGDDetector file is corrupted: its model weights do not match the SHA-256 "
            f"digest saved with them (expected {expected[:16]}..., found {digest[:16]}...). "
            "Restore the file from a good copy or refit the detector."
        )


def load_detector(path):
    """Load a fitted :class:`~sklearn_igd.IGDDetector` saved with ``joblib.dump``.

    Loading a pickle runs code: load only files from sources you trust.

    Parameters
    ----------
    path : str or path-like
        A file written by ``joblib.dump(detector, path)``.

    Returns
    -------
    detector : IGDDetector
        The fitted detector, with its version and weight checksum verified.

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is empty, truncated, corrupted, not a pickle, or holds something other
        than a fitted IGDDetector; the message names which.
    """
    from sklearn.utils.validation import check_is_fitted

    from ._detector import IGDDetector

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}.")
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path!r} is empty; expected an IGDDetector saved with joblib.dump.")
    try:
        obj = joblib.load(path)
    except EOFError as exc:
        raise ValueError(
            f"{path!r} is truncated: it ended before the saved detector did ({exc or 'EOF'})."
        ) from exc
    except (pickle.UnpicklingError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{path!r} is not a readable IGDDetector file ({type(exc).__name__}: {exc})."
        ) from exc
    if not isinstance(obj, IGDDetector):
        raise ValueError(f"{path!r} holds a {type(obj).__name__}, not an IGDDetector.")
    check_is_fitted(obj)
    return obj
