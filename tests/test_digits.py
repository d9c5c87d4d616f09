"""Tests of load_digits_images (scikit-learn's digits as uint8 images)."""

import numpy as np
import pytest
from sklearn.utils import Bunch

from sklearn_igd.datasets import load_digits_images


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


def test_load_digits_images_invalid_return_X_y():
    with pytest.raises(ValueError, match=r"'return_X_y' parameter of load_digits_images .*'yes'"):
        load_digits_images(return_X_y="yes")
