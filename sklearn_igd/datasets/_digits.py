"""scikit-learn's 8x8 handwritten digits as uint8 images."""

import numpy as np
from sklearn.utils._param_validation import validate_params

from ._base import _as_uint8_images, _images_bunch

__all__ = ["load_digits_images"]


@validate_params({"return_X_y": ["boolean"]}, prefer_skip_nested_validation=True)
def load_digits_images(*, return_X_y=False):
    """Load the scikit-learn digits as 8x8 uint8 images.

    The 4-bit pixel values ``v`` (0..16) of
    :func:`sklearn.datasets.load_digits` are rescaled to 0..255 as
    ``round(v * 255 / 16)``, so that the images have the same value range
    and dtype as :func:`load_mnist_5k`.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (1797, 8, 8), dtype uint8
            Grayscale images, pixel values in 0..255.
        target : ndarray of shape (1797,), dtype int
            Digit label of each image.
        target_names : ndarray of shape (10,)
            The digits ``0..9``.
        DESCR : str
            Description of the dataset.

    (images, target) : tuple of ndarrays
        Returned instead of the Bunch when ``return_X_y=True``.

    See Also
    --------
    load_mnist_5k : 5,000 MNIST images (28x28).
    sklearn_igd.model_selection.make_one_class : Build a one-vs-rest anomaly
        detection split.

    Examples
    --------
    >>> from sklearn_igd.datasets import load_digits_images
    >>> images, target = load_digits_images(return_X_y=True)
    >>> images.shape, images.dtype
    ((1797, 8, 8), dtype('uint8'))
    >>> int(images.min()), int(images.max())
    (0, 255)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = _as_uint8_images(digits.images * (255.0 / 16.0))
    target = np.asarray(digits.target).astype(int, copy=False)
    return _images_bunch(
        images,
        target,
        target_names=np.arange(10),
        descr_file_name="digits_images.rst",
        return_X_y=return_X_y,
    )
