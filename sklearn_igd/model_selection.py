"""Splitting data for one-class (novelty) detectors.

:func:`make_one_class` turns a labelled dataset into a one-vs-rest one-class train/test
split; :class:`OneClassSplit` is a cross-validation splitter for tuning one-class
detectors.
"""

import numbers
from numbers import Integral, Real

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, validate_params
from sklearn.utils.validation import _num_samples

__all__ = ["OneClassSplit", "make_one_class"]


class OneClassSplit(BaseCrossValidator):
    """Random validation splits for one-class detectors.

    Labels follow the scikit-learn outlier detection convention: ``+1`` is
    normal (inlier) and ``-1`` is an anomaly (outlier). In every split a
    random share ``test_size`` of the normal samples is held out; the
    training indices are the remaining normal samples only, so a detector
    never trains on an anomaly, and the test indices are the held-out normal
    samples plus **all** anomalies. Like
    :class:`~sklearn.model_selection.ShuffleSplit`, the splits are drawn
    independently of each other, so held-out sets of different splits may
    overlap.

    Use it to tune a detector with
    ``GridSearchCV(detector, grid, scoring="roc_auc", cv=OneClassSplit())``
    and labels ``y`` in {+1, -1}. The ``"roc_auc"`` scorer calls the
    detector's ``decision_function`` and takes the greater label, ``+1``
    (normal), as the positive class; since ``decision_function`` is larger
    for more normal samples, this gives the usual anomaly detection AUC.
    The labels are only used by the splitter and the scorer: a one-class
    detector's ``fit`` ignores ``y``.

    Parameters
    ----------
    n_splits : int, default=3
        Number of random splits (>= 1).
    test_size : float or int, default=0.25
        If float, in (0, 1): proportion of the normal samples held out for
        validation in each split (rounded up). If int, the absolute number
        of held-out normal samples. At least one normal sample must be held
        out and at least one must remain for training.
    random_state : int, RandomState instance or None, default=None
        Controls the randomness of the splits. Pass an int for the same
        splits across calls to :meth:`split`.

    See Also
    --------
    sklearn.model_selection.ShuffleSplit : Random splits for supervised
        estimators.
    make_one_class : One-vs-rest train/test split.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.model_selection import OneClassSplit
    >>> y = np.array([1, 1, 1, 1, 1, 1, 1, 1, -1, -1])
    >>> X = np.zeros((10, 2))
    >>> cv = OneClassSplit(n_splits=2, test_size=0.25, random_state=0)
    >>> cv
    OneClassSplit(n_splits=2, random_state=0, test_size=0.25)
    >>> for train, test in cv.split(X, y):
    ...     print(train, test)
    [0 1 3 4 5 7] [2 6 8 9]
    [0 2 3 4 5 7] [1 6 8 9]

    Tuning a detector:

    >>> from sklearn.ensemble import IsolationForest
    >>> from sklearn.model_selection import GridSearchCV
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(60, 2)), rng.normal(6, 1, size=(10, 2))])
    >>> y = np.r_[np.ones(60, dtype=int), -np.ones(10, dtype=int)]
    >>> search = GridSearchCV(
    ...     IsolationForest(random_state=0), {"n_estimators": [10, 20]},
    ...     scoring="roc_auc", cv=OneClassSplit(random_state=0)).fit(X, y)
    >>> bool(search.best_score_ > 0.9)
    True
    """

    def __init__(self, *, n_splits=3, test_size=0.25, random_state=None):
        self.n_splits = n_splits
        self.test_size = test_size
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splitting iterations.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        n_splits : int
            The number of splits.

        Examples
        --------
        >>> from sklearn_igd.model_selection import OneClassSplit
        >>> OneClassSplit(n_splits=5).get_n_splits()
        5
        """
        self._check_n_splits()
        return int(self.n_splits)

    def _check_n_splits(self):
        n_splits = self.n_splits
        if (
            not isinstance(n_splits, numbers.Integral)
            or isinstance(n_splits, bool)
            or n_splits < 1
        ):
            raise ValueError(f"n_splits must be an int >= 1; got n_splits={n_splits!r}.")

    def _n_test_normal(self, n_normal):
        test_size = self.test_size
        if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
            n_test = int(test_size)
            if not 1 <= n_test <= n_normal - 1:
                raise ValueError(
                    f"test_size as an int must be in [1, {n_normal - 1}] (the "
                    f"number of normal samples minus one); got "
                    f"test_size={test_size}."
                )
            return n_test
        if isinstance(test_size, numbers.Real) and not isinstance(test_size, bool):
            if not 0.0 < test_size < 1.0:
                raise ValueError(
                    f"test_size as a float must be in the open interval (0, 1);"
                    f" got test_size={test_size}."
                )
            n_test = int(np.ceil(test_size * n_normal))
            if n_normal - n_test < 1:
                raise ValueError(
                    f"Too few normal samples (y == 1): test_size={test_size} "
                    f"holds out {n_test} of the {n_normal} normal samples, "
                    f"leaving none for training; at least 2 normal samples "
                    f"are needed."
                )
            return n_test
        raise ValueError(
            f"test_size must be a float in (0, 1) or an int >= 1; got test_size={test_size!r}."
        )

    def split(self, X, y, groups=None):
        """Generate indices to split data into training and validation set.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples; only their number is used.
        y : array-like of shape (n_samples,)
            Labels, ``+1`` for normal samples and ``-1`` for anomalies.
            Required; at least one anomaly and two normal samples are needed.
        groups : object
            Ignored, present for API compatibility.

        Yields
        ------
        train : ndarray
            Training indices: normal samples that are not held out.
        test : ndarray
            Validation indices: held-out normal samples and all anomalies.

        Raises
        ------
        ValueError
            If ``y`` is None, has labels other than +1 and -1, has no anomaly,
            has too few normal samples, or if its length differs from ``X``'s.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn_igd.model_selection import OneClassSplit
        >>> y = np.array([1, 1, 1, 1, -1])
        >>> cv = OneClassSplit(n_splits=1, test_size=1, random_state=0)
        >>> train, test = next(cv.split(np.zeros((5, 1)), y))
        >>> len(train), len(test)
        (3, 2)
        """
        self._check_n_splits()
        if y is None:
            raise ValueError(
                "OneClassSplit.split requires y, with +1 for normal samples "
                "and -1 for anomalies; got y=None."
            )
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(
                f"y must be a 1-D array of labels in {{+1, -1}}; got an array of shape {y.shape}."
            )
        if X is not None and _num_samples(X) != y.shape[0]:
            raise ValueError(
                f"X and y must have the same number of samples; got "
                f"{_num_samples(X)} samples in X and {y.shape[0]} in y."
            )
        try:
            is_normal = y == 1
            is_anomaly = y == -1
        except Exception:  # pragma: no cover - exotic label types
            is_normal = is_anomaly = np.zeros(y.shape, dtype=bool)
        if not np.all(is_normal | is_anomaly):
            other = np.unique(y[~(is_normal | is_anomaly)])[:5].tolist()
            raise ValueError(
                f"y must contain only the labels +1 (normal) and -1 "
                f"(anomaly), as returned by sklearn outlier detectors; got "
                f"other labels such as {other}."
            )
        normal_idx = np.flatnonzero(is_normal)
        anomaly_idx = np.flatnonzero(is_anomaly)
        if anomaly_idx.size == 0:
            raise ValueError(
                "y must contain at least one anomaly (y == -1): the "
                "validation score (e.g. roc_auc) is undefined with normal "
                "samples only."
            )
        if normal_idx.size < 2:
            raise ValueError(
                f"y must contain at least 2 normal samples (y == 1), one for "
                f"training and one for validation; got {normal_idx.size}."
            )
        n_test = self._n_test_normal(normal_idx.size)

        rng = check_random_state(self.random_state)
        for _ in range(self.n_splits):
            perm = rng.permutation(normal_idx)
            train = np.sort(perm[n_test:])
            test = np.sort(np.concatenate([perm[:n_test], anomaly_idx]))
            yield train, test


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "normal_class": "no_validation",  # one of the labels of y: checked in the body
        "train_size": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),  # at most n_normal - 1: in the body
        ],
        "train_fraction": [Interval(Real, 0, 1, closed="right")],
        "contamination": [Interval(Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
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
        ``+1`` for normal samples, ``-1`` for anomalies. Within each set, samples
        keep their original relative order.

    Raises
    ------
    ValueError
        If ``X`` and ``y`` have different lengths, ``y`` is not 1-D,
        ``normal_class`` does not occur in ``y``, ``y`` has no anomaly, or a
        parameter is out of its range.

    See Also
    --------
    OneClassSplit : Cross-validation splitter for one-class detectors.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.datasets import load_digits_images
    >>> from sklearn_igd.model_selection import make_one_class
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
            f"y must be a 1-D array of class labels; got an array of shape {y.shape}."
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

    if isinstance(train_size, Integral):
        if train_size > n_normal - 1:
            raise ValueError(
                f"train_size as an int must be in [1, {n_normal - 1}] (the "
                f"number of normal samples minus one); got "
                f"train_size={train_size}."
            )
        n_train = int(train_size)
    else:
        n_train = int(np.floor(train_size * n_normal))
        if not 1 <= n_train <= n_normal - 1:
            raise ValueError(
                f"train_size={train_size} gives {n_train} training samples "
                f"out of {n_normal} normal samples; it must leave at least "
                f"one normal sample for training and one for testing."
            )
    n_keep = max(1, int(round(train_fraction * n_train)))
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
