import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.model_selection import GridSearchCV, cross_val_score

from sklearn_igd.model_selection import OneClassSplit


@pytest.fixture(scope="module")
def digits_one_class():
    X, target = load_digits(return_X_y=True)
    y = np.where(target == 0, 1, -1)
    return X, y


def _folds(cv, X, y):
    return [(tr.copy(), te.copy()) for tr, te in cv.split(X, y)]


def test_defaults_and_repr():
    cv = OneClassSplit()
    assert cv.n_splits == 3 and cv.test_size == 0.25 and cv.random_state is None
    assert cv.get_n_splits() == 3
    assert repr(OneClassSplit(n_splits=2, random_state=0)) == (
        "OneClassSplit(n_splits=2, random_state=0, test_size=0.25)"
    )


def test_split_contents(digits_one_class):
    X, y = digits_one_class
    normal = np.flatnonzero(y == 1)
    anomalies = np.flatnonzero(y == -1)
    n_test = int(np.ceil(0.25 * normal.size))
    cv = OneClassSplit(n_splits=4, random_state=0)
    folds = _folds(cv, X, y)
    assert len(folds) == cv.get_n_splits(X, y) == 4
    for train, test in folds:
        assert np.all(y[train] == 1)  # never train on an anomaly
        assert np.intersect1d(train, test).size == 0
        assert np.all(np.isin(anomalies, test))  # all anomalies validate
        assert (y[test] == 1).sum() == n_test
        assert train.size == normal.size - n_test
        np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    # different splits hold out different normals
    assert not np.array_equal(folds[0][0], folds[1][0])


def test_int_test_size():
    y = np.array([1] * 10 + [-1] * 3)
    for train, test in OneClassSplit(n_splits=2, test_size=4, random_state=0).split(
        np.zeros(13), y
    ):
        assert train.size == 6 and test.size == 7


def test_reproducible(digits_one_class):
    X, y = digits_one_class
    a = _folds(OneClassSplit(n_splits=3, random_state=0), X, y)
    b = _folds(OneClassSplit(n_splits=3, random_state=0), X, y)
    c = _folds(OneClassSplit(n_splits=3, random_state=1), X, y)
    cv = OneClassSplit(n_splits=3, random_state=0)
    d = _folds(cv, X, y)
    e = _folds(cv, X, y)  # same splitter, second call
    for (tr_a, te_a), (tr_b, te_b), (tr_d, _), (tr_e, _) in zip(a, b, d, e):
        np.testing.assert_array_equal(tr_a, tr_b)
        np.testing.assert_array_equal(te_a, te_b)
        np.testing.assert_array_equal(tr_a, tr_d)
        np.testing.assert_array_equal(tr_a, tr_e)
    assert not all(np.array_equal(p[0], q[0]) for p, q in zip(a, c))


def test_grid_search_isolation_forest(digits_one_class):
    X, y = digits_one_class
    cv = OneClassSplit(n_splits=2, random_state=0)
    search = GridSearchCV(
        IsolationForest(random_state=0),
        {"n_estimators": [10, 50]},
        scoring="roc_auc",
        cv=cv,
    ).fit(X, y)
    assert search.best_score_ > 0.8
    assert search.best_params_["n_estimators"] in (10, 50)
    assert search.n_splits_ == 2
    for train, test in cv.split(X, y):
        assert not np.any(y[train] == -1)
        assert np.any(y[test] == -1)


def test_cross_val_score_matches_manual_auc(digits_one_class):
    from sklearn.metrics import roc_auc_score

    X, y = digits_one_class
    cv = OneClassSplit(n_splits=1, random_state=3)
    est = IsolationForest(n_estimators=10, random_state=0)
    score = cross_val_score(est, X, y, scoring="roc_auc", cv=cv)[0]
    train, test = next(cv.split(X, y))
    est.fit(X[train])
    expected = roc_auc_score(y[test] == 1, est.decision_function(X[test]))
    assert score == pytest.approx(expected)
    assert score > 0.8


@pytest.mark.parametrize(
    "y, match",
    [
        (None, "requires y"),
        (np.array([1, 1, 1, 0, 0]), r"\+1.*-1"),
        (np.array([1, 1, 1, 2, -1]), r"only the labels"),
        (np.ones(5, dtype=int), r"at least one anomaly \(y == -1\)"),
        (np.array([1, -1, -1, -1, -1]), "at least 2 normal"),
    ],
)
def test_split_errors(y, match):
    with pytest.raises(ValueError, match=match):
        next(OneClassSplit().split(np.zeros((5, 2)), y))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"test_size": 0.0}, "test_size"),
        ({"test_size": 1.0}, "test_size"),
        ({"test_size": 0}, "test_size"),
        ({"test_size": 4}, "test_size"),
        ({"test_size": 0.9}, "Too few normal"),
        ({"test_size": "a"}, "test_size"),
        ({"n_splits": 0}, "n_splits"),
        ({"n_splits": 2.5}, "n_splits"),
    ],
)
def test_param_errors(params, match):
    y = np.array([1, 1, 1, 1, -1])
    with pytest.raises(ValueError, match=match):
        next(OneClassSplit(**params).split(np.zeros((5, 2)), y))


def test_length_mismatch():
    with pytest.raises(ValueError, match="same number of samples"):
        next(OneClassSplit().split(np.zeros((4, 2)), np.array([1, 1, 1, 1, -1])))
