"""make_cutpaste_defects: synthetic local defects made from the images themselves."""

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_igd.datasets import make_cutpaste_defects


def _images(shape, dtype=np.uint8, seed=0):
    rng = np.random.RandomState(seed)
    if np.dtype(dtype).kind == "f":
        return rng.uniform(0, 1, size=shape).astype(dtype)
    return rng.randint(0, 256, size=shape).astype(dtype)


@pytest.mark.parametrize("shape", [(5, 32, 32), (4, 24, 40, 3)])
def test_copies_change_only_the_pasted_rectangle(shape):
    X = _images(shape)
    images, masks = make_cutpaste_defects(X, n_copies=3, random_state=0)
    assert images.shape == (3 * shape[0],) + shape[1:] and images.dtype == X.dtype
    assert masks.shape == (3 * shape[0],) + shape[1:3] and masks.dtype == bool
    original = np.repeat(X, 3, axis=0)
    assert np.array_equal(images[~masks], original[~masks])  # nothing outside the mask
    H, W = shape[1:3]
    for mask, image, orig in zip(masks, images, original):
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        h, w = len(rows), len(cols)
        # one solid rectangle, of 2-15% of the image (sides rounded), aspect 0.3-3.3
        assert mask.sum() == h * w and np.ptp(rows) == h - 1 and np.ptp(cols) == w - 1
        assert 2 <= h < H and 2 <= w < W
        assert 0.01 <= h * w / (H * W) <= 0.18
        assert 0.3 / 1.5 <= h / w <= 1.5 / 0.3
        assert not np.array_equal(image, orig)  # random content: the paste shows


def test_reproducible_and_random():
    X = _images((6, 16, 16))
    a, ma = make_cutpaste_defects(X, n_copies=2, random_state=3)
    b, mb = make_cutpaste_defects(X, n_copies=2, random_state=np.random.RandomState(3))
    c, mc = make_cutpaste_defects(X, n_copies=2, random_state=4)
    assert np.array_equal(a, b) and np.array_equal(ma, mb)
    assert not np.array_equal(ma, mc)
    X_before = X.copy()
    make_cutpaste_defects(X, random_state=0)
    assert np.array_equal(X, X_before)  # the input is not modified


def test_values_stay_in_range():
    # integers: rounded and clipped to the dtype's range; floats: to the input's range
    X = np.full((20, 16, 16), 250, np.uint8)
    X[:, :8] = 5
    images, _ = make_cutpaste_defects(X, jitter=0.5, random_state=0)
    assert images.dtype == np.uint8 and images.min() >= 0 and images.max() <= 255
    Xf = _images((20, 16, 16), np.float32)
    images, masks = make_cutpaste_defects(Xf, jitter=0.9, random_state=0)
    assert images.dtype == np.float32
    assert Xf.min() <= images.min() and images.max() <= Xf.max()
    # with no jitter the pasted pixels are the cut ones: no new grey level appears
    images, _ = make_cutpaste_defects(X, n_copies=4, jitter=0.0, random_state=0)
    assert set(np.unique(images)) <= {5, 250}


def test_flat_background_copies_can_equal_the_image():
    # a black image: the pasted rectangle equals what it covers (the mask still says where);
    # on a constant grey the brightness jitter changes it
    X = np.zeros((3, 16, 16), np.uint8)
    images, masks = make_cutpaste_defects(X, n_copies=2, random_state=0)
    assert np.array_equal(images, np.repeat(X, 2, axis=0)) and masks.any(axis=(1, 2)).all()
    images, _ = make_cutpaste_defects(X + 100, n_copies=2, random_state=0)
    assert not np.array_equal(images, np.repeat(X + 100, 2, axis=0))


@pytest.mark.parametrize(
    "X, kwargs, message",
    [
        (np.zeros((2, 16)), {}, "X must be images of shape"),
        (np.zeros((0, 16, 16)), {}, "at least one image"),
        (np.zeros((2, 3, 16)), {}, "at least 4 x 4 pixels; received 3 x 16"),
        (np.zeros((2, 8, 8), bool), {}, "integer or float pixel values"),
        (np.full((2, 8, 8), np.nan), {}, "NaN or infinite"),
        (np.zeros((2, 8, 8)), {"area": (0.0, 0.1)}, "area must satisfy 0 < low <= high <= 1"),
        (np.zeros((2, 8, 8)), {"area": (0.2, 0.1)}, "area must satisfy"),
        (np.zeros((2, 8, 8)), {"area": (0.1, 1.5)}, "area must satisfy"),
        (np.zeros((2, 8, 8)), {"area": (0.1,)}, "area must be a pair"),
        (np.zeros((2, 8, 8)), {"aspect": (-1, 2)}, "aspect must satisfy 0 < low <= high"),
        (np.zeros((2, 8, 8)), {"aspect": ("a", 2)}, "aspect must be a pair"),
    ],
)
def test_errors(X, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_cutpaste_defects(X, **kwargs)


@pytest.mark.parametrize("kwargs", [{"n_copies": 0}, {"jitter": 1.0}, {"area": 0.1}])
def test_parameter_validation(kwargs):
    with pytest.raises(InvalidParameterError):
        make_cutpaste_defects(np.zeros((2, 8, 8)), **kwargs)
