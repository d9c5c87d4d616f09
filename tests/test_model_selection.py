import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.model_selection import GridSearchCV, cross_val_score

from sklearn_igd.model_selection import OneClassSplit, make_one_class


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


# ------------------------------------------------------------------ make_one_class


def test_make_one_class_mnist_digit_3(mnist):
    images, target = mnist
    X_train, X_test, y_train, y_test = make_one_class(
        images, target, normal_class=3, train_size=0.5, random_state=0
    )
    assert X_train.shape == (250, 28, 28)
    assert X_test.shape == (250 + 4500, 28, 28)
    assert X_train.dtype == np.uint8
    np.testing.assert_array_equal(y_train, np.ones(250))
    assert (y_test == 1).sum() == 250 and (y_test == -1).sum() == 4500
    assert set(np.unique(y_test)) == {-1, 1}
    assert np.issubdtype(y_train.dtype, np.integer)


def _split_indices(y, normal_class=3, **kwargs):
    idx = np.arange(len(y))
    return make_one_class(idx, y, normal_class, **kwargs)


def test_make_one_class_indices_no_overlap_and_labels(mnist):
    _, target = mnist
    i_train, i_test, y_train, y_test = _split_indices(target, random_state=1)
    assert np.intersect1d(i_train, i_test).size == 0
    # everything is used when train_fraction=1 and contamination=0
    np.testing.assert_array_equal(np.sort(np.concatenate([i_train, i_test])), np.arange(5000))
    np.testing.assert_array_equal(y_train, np.where(target[i_train] == 3, 1, -1))
    np.testing.assert_array_equal(y_test, np.where(target[i_test] == 3, 1, -1))
    assert np.all(target[i_train] == 3)


def test_make_one_class_int_train_size_and_2d(digits):
    images, target = digits
    X = images.reshape(len(images), -1)
    X_train, X_test, y_train, y_test = make_one_class(X, target, 0, train_size=100, random_state=0)
    n_normal = int((target == 0).sum())
    assert X_train.shape == (100, 64)
    assert X_test.shape == (len(X) - 100, 64)
    assert (y_test == 1).sum() == n_normal - 100


def test_make_one_class_4d_images():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 255, size=(40, 4, 4, 3)).astype(np.uint8)
    y = np.repeat(np.arange(4), 10)
    X_train, X_test, y_train, y_test = make_one_class(X, y, 2, random_state=0)
    assert X_train.shape == (5, 4, 4, 3) and X_test.shape == (35, 4, 4, 3)


def test_make_one_class_train_fraction(mnist):
    _, target = mnist
    full = _split_indices(target, random_state=0)
    small = _split_indices(target, train_fraction=0.1, random_state=0)
    i_train, i_test, y_train, y_test = small
    assert len(i_train) == 25 and np.all(y_train == 1)
    # the discarded training normals are not added to the test set
    np.testing.assert_array_equal(i_test, full[1])
    assert np.all(np.isin(i_train, full[0]))


def test_make_one_class_contamination(mnist):
    _, target = mnist
    clean = _split_indices(target, random_state=0)
    i_train, i_test, y_train, y_test = _split_indices(target, contamination=0.1, random_state=0)
    n_anom = int((y_train == -1).sum())
    assert (y_train == 1).sum() == 250
    assert n_anom == round(0.1 * 250 / 0.9) == 28
    assert n_anom / len(y_train) == pytest.approx(0.1, abs=0.005)
    assert np.all(target[i_train[y_train == -1]] != 3)
    # anomalies are moved from the test set to the training set
    assert len(i_test) == 4750 - n_anom
    assert (y_test == -1).sum() == 4500 - n_anom
    assert np.intersect1d(i_train, i_test).size == 0
    np.testing.assert_array_equal(
        np.sort(np.concatenate([i_train, i_test])), np.sort(np.concatenate(clean[:2]))
    )


def test_make_one_class_small_contamination_gives_one_anomaly():
    y = np.repeat([0, 1], 20)
    _, _, y_train, _ = make_one_class(np.arange(40), y, 0, contamination=0.001, random_state=0)
    assert (y_train == -1).sum() == 1


def test_make_one_class_reproducible(mnist):
    _, target = mnist
    a = _split_indices(target, contamination=0.05, random_state=42)
    b = _split_indices(target, contamination=0.05, random_state=42)
    c = _split_indices(target, contamination=0.05, random_state=43)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])
    rs = np.random.RandomState(42)
    d = _split_indices(target, contamination=0.05, random_state=rs)
    np.testing.assert_array_equal(a[0], d[0])


def test_make_one_class_does_not_touch_global_rng(mnist):
    _, target = mnist
    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    _split_indices(target, random_state=0)
    _split_indices(target, random_state=np.random.RandomState(1))
    assert np.random.rand() == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"normal_class": 42}, "normal_class"),
        ({"train_size": 0.0}, "train_size"),
        ({"train_size": 1.0}, "train_size"),
        ({"train_size": 1.5}, "train_size"),
        ({"train_size": 0}, "train_size"),
        ({"train_size": 500}, "train_size"),
        ({"train_size": "half"}, "train_size"),
        ({"train_fraction": 0.0}, "train_fraction"),
        ({"train_fraction": 1.1}, "train_fraction"),
        ({"contamination": -0.1}, "contamination"),
        ({"contamination": 1.0}, "contamination"),
        ({"contamination": 0.95}, "contamination"),
    ],
)
def test_make_one_class_errors(mnist, kwargs, match):
    _, target = mnist
    params = {"normal_class": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        make_one_class(np.arange(5000), target, **params)


def test_make_one_class_error_messages_show_value():
    y = np.repeat([0, 1], 10)
    with pytest.raises(
        ValueError,
        match=r"'contamination' parameter of make_one_class must be a float in the range "
        r"\[0\.0, 1\.0\)\. Got 1\.5 instead",
    ):
        make_one_class(np.arange(20), y, 0, contamination=1.5)
    with pytest.raises(
        ValueError, match=r"'train_size' parameter .* \(0\.0, 1\.0\) .*Got 2\.0 instead"
    ):
        make_one_class(np.arange(20), y, 0, train_size=2.0)
    with pytest.raises(ValueError, match=r"train_size as an int must be in \[1, 9\].*=10"):
        make_one_class(np.arange(20), y, 0, train_size=10)
    with pytest.raises(ValueError, match=r"normal_class=7"):
        make_one_class(np.arange(20), y, 7)


def test_make_one_class_length_mismatch():
    with pytest.raises(ValueError, match="same number of samples"):
        make_one_class(np.zeros((10, 2)), np.repeat([0, 1], 6), 0)


def test_make_one_class_no_anomaly_or_too_few_normals():
    with pytest.raises(ValueError, match="anomaly"):
        make_one_class(np.arange(5), np.zeros(5), 0)
    with pytest.raises(ValueError, match="at least 2"):
        make_one_class(np.arange(5), np.array([0, 1, 1, 1, 1]), 0)
    with pytest.raises(ValueError, match="1-D"):
        make_one_class(np.arange(4), np.zeros((2, 2)), 0)
