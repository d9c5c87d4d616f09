"""Cross-validation for one-class (novelty) detectors."""

import numbers

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state
from sklearn.utils.validation import _num_samples

__all__ = ["OneClassSplit"]


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
    sklearn_igd.datasets.make_one_class : One-vs-rest train/test split.

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
