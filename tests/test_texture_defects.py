"""Tests of make_texture_defects (synthetic defects on scikit-image's textures)."""

import re

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.utils import Bunch

pytest.importorskip("skimage")

from scipy.ndimage import binary_dilation, median_filter, uniform_filter  # noqa: E402

from sklearn_igd.datasets import make_texture_defects  # noqa: E402
from sklearn_igd.datasets._texture_defects import (  # noqa: E402
    _DEFECT_TYPES,
    _TEXTURES,
    _apply_defect,
    _crop_positions,
    _generate_texture_defects,
    _load_texture,
)

TEXTURES = ["brick", "grass", "gravel"]
DEFECTS = ["scratch", "crack", "stain", "hole", "patch", "color"]


def _gen(
    texture="brick",
    n_train=10,
    n_test=60,
    anomaly_ratio=0.5,
    size=64,
    defect_types=None,
    random_state=0,
    split="halves",
):
    return _generate_texture_defects(
        texture,
        n_train,
        n_test,
        anomaly_ratio,
        size,
        defect_types,
        random_state,
        split,
    )


@pytest.fixture(scope="module")
def all_types():
    """120 defective brick crops, 20 of each type, plus their clean crops."""
    return _gen(n_test=120, anomaly_ratio=1.0, random_state=1)


def test_constants():
    assert list(_TEXTURES) == TEXTURES
    assert list(_DEFECT_TYPES) == DEFECTS


@pytest.mark.parametrize("texture", TEXTURES)
def test_textures_ship_with_skimage(texture):
    photo = _load_texture(texture)
    assert photo.shape == (512, 512) and photo.dtype == np.uint8
    assert photo.std() > 10  # a real texture, not a flat image


@pytest.mark.parametrize("texture", TEXTURES)
def test_shapes_and_dtypes(texture):
    data = make_texture_defects(texture, n_train=7, n_test=9, random_state=0)
    assert isinstance(data, Bunch)
    assert set(data) == {
        "images_train",
        "images_test",
        "y_test",
        "masks_test",
        "defect_type",
        "texture",
        "DESCR",
    }
    assert data.images_train.shape == (7, 64, 64)
    assert data.images_train.dtype == np.uint8
    assert data.images_test.shape == (9, 64, 64)
    assert data.images_test.dtype == np.uint8
    assert data.masks_test.shape == (9, 64, 64)
    assert data.masks_test.dtype == bool
    assert data.y_test.shape == (9,)
    assert np.issubdtype(data.y_test.dtype, np.integer)
    assert set(data.y_test.tolist()) <= {-1, 1}
    assert data.defect_type.shape == (9,)
    assert data.defect_type.dtype.kind == "U"
    assert data.texture == texture
    assert isinstance(data.DESCR, str) and "texture" in data.DESCR.lower()


@pytest.mark.parametrize("size", [16, 33, 256])
def test_sizes(size):
    data = make_texture_defects(n_train=2, n_test=12, anomaly_ratio=1.0, size=size, random_state=0)
    assert data.images_train.shape == (2, size, size)
    assert data.images_test.shape == (12, size, size)
    min_pixels = max(4, int(np.ceil(0.005 * size * size)))
    assert (data.masks_test.sum(axis=(1, 2)) >= min_pixels).all()
    assert sorted(set(data.defect_type)) == sorted(DEFECTS)


def test_reproducible():
    a = make_texture_defects(n_train=5, n_test=12, random_state=3)
    b = make_texture_defects(n_train=5, n_test=12, random_state=np.random.RandomState(3))
    c = make_texture_defects(n_train=5, n_test=12, random_state=4)
    for key in ["images_train", "images_test", "y_test", "masks_test", "defect_type"]:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a.images_train, c.images_train)
    assert not np.array_equal(a.images_test, c.images_test)


def test_global_rng_untouched():
    np.random.seed(0)
    expected = np.random.rand()
    np.random.seed(0)
    make_texture_defects(n_train=2, n_test=4, random_state=0)
    assert np.random.rand() == expected


@pytest.mark.parametrize(
    "n_test, ratio, expected",
    [
        (100, 0.5, 50),
        (10, 0.25, 2),
        (7, 0.3, 2),
        (5, 0.0, 0),
        (5, 1.0, 5),
        (1, 1.0, 1),
        (3, 0.1, 0),
    ],
)
def test_number_of_anomalies(n_test, ratio, expected):
    data = make_texture_defects(n_train=1, n_test=n_test, anomaly_ratio=ratio, random_state=0)
    assert expected == round(ratio * n_test)
    assert int((data.y_test == -1).sum()) == expected
    np.testing.assert_array_equal(data.y_test == 1, data.defect_type == "good")


def test_test_order_is_shuffled():
    data = make_texture_defects(n_train=1, n_test=40, random_state=0)
    y = data.y_test
    # not all the anomalies first (the order in which they are generated)
    assert not (y[:20] == -1).all()


def test_masks_empty_exactly_for_normal_images():
    data = make_texture_defects(n_train=1, n_test=40, random_state=0)
    nonempty = data.masks_test.any(axis=(1, 2))
    np.testing.assert_array_equal(nonempty, data.y_test == -1)
    assert (data.masks_test[data.y_test == -1].sum(axis=(1, 2)) >= 21).all()


def test_mask_is_exactly_the_changed_pixels(all_types):
    d = _gen(texture="grass", n_test=60, random_state=2)
    for out in (all_types, d):
        changed = out["images_test"] != out["clean_test"]
        np.testing.assert_array_equal(changed, out["masks_test"])
    # normal test images are the untouched crops
    good = d["y_test"] == 1
    np.testing.assert_array_equal(d["images_test"][good], d["clean_test"][good])


def test_crops_come_from_disjoint_halves():
    d = _gen(texture="gravel", n_train=300, n_test=300, random_state=5)
    photo = _load_texture("gravel")
    pos_train, pos_test = d["positions_train"], d["positions_test"]
    assert (pos_train[:, 0] >= 0).all() and (pos_train[:, 0] + 64 <= 256).all()
    assert (pos_test[:, 0] >= 256).all() and (pos_test[:, 0] + 64 <= 512).all()
    assert (pos_train[:, 1] >= 0).all() and (pos_train[:, 1] + 64 <= 512).all()
    assert (pos_test[:, 1] >= 0).all() and (pos_test[:, 1] + 64 <= 512).all()
    for crops, pos in [(d["images_train"], pos_train), (d["clean_test"], pos_test)]:
        for crop, (r, c) in zip(crops[:20], pos[:20]):
            np.testing.assert_array_equal(crop, photo[r : r + 64, c : c + 64])
    # the positions are spread over each half, not stuck in a corner
    assert pos_train[:, 0].max() - pos_train[:, 0].min() > 150
    assert pos_test[:, 0].max() - pos_test[:, 0].min() > 150


@pytest.mark.parametrize("size", [16, 64, 256])
def test_crop_positions(size):
    rng = np.random.RandomState(0)
    train = _crop_positions((512, 512), size, 500, "train", rng)
    test = _crop_positions((512, 512), size, 500, "test", rng)
    assert train.shape == test.shape == (500, 2)
    assert train[:, 0].max() + size <= 256 <= test[:, 0].min()
    assert train.min() >= 0 and test[:, 1].max() + size <= 512


def test_defect_types_are_balanced(all_types):
    types, counts = np.unique(all_types["defect_type"], return_counts=True)
    assert types.tolist() == sorted(DEFECTS)
    assert counts.tolist() == [20] * 6


def test_defect_types_subset_and_str():
    data = make_texture_defects(
        n_train=1,
        n_test=10,
        anomaly_ratio=0.6,
        defect_types=["hole", "stain", "hole"],
        random_state=0,
    )
    types, counts = np.unique(data.defect_type, return_counts=True)
    assert types.tolist() == ["good", "hole", "stain"]
    assert counts.tolist() == [4, 3, 3]
    data = make_texture_defects(n_train=1, n_test=4, defect_types="crack", random_state=0)
    assert sorted(set(data.defect_type)) == ["crack", "good"]


def _per_type(out, kind):
    sel = out["defect_type"] == kind
    return (
        out["images_test"][sel].astype(int),
        out["clean_test"][sel].astype(int),
        out["masks_test"][sel],
    )


def test_defects_stay_inside_the_crop(all_types):
    masks = all_types["masks_test"]
    border = np.ones((64, 64), dtype=bool)
    border[2:-2, 2:-2] = False  # the 2 pixel margin
    assert not (masks & border).any()


@pytest.mark.parametrize("kind", ["scratch", "crack"])
def test_thin_defects(all_types, kind):
    img, clean, masks = _per_type(all_types, kind)
    area = masks.sum(axis=(1, 2))
    assert (area < 0.25 * 64 * 64).all()
    # thin: a 3x3 opening-like test, most mask pixels have a non-mask pixel
    # within one pixel (no wide solid region)
    for m in masks:
        interior = m & ~binary_dilation(~m, iterations=2)
        assert interior.sum() <= 0.1 * m.sum()
    if kind == "crack":  # cracks are dark
        assert all((i[m] < c[m]).all() for i, c, m in zip(img, clean, masks))


def test_hole_is_dark(all_types):
    img, clean, masks = _per_type(all_types, "hole")
    for i, m in zip(img, masks):
        ring = binary_dilation(m, iterations=3) & ~m
        assert i[m].mean() < 30
        assert i[m].mean() < i[ring].mean() - 30
        area = m.sum()
        assert 21 <= area <= np.pi * 10.5**2


def test_stain_and_color_shift_intensity(all_types):
    for kind, lo in [("stain", 15), ("color", 25)]:
        img, clean, masks = _per_type(all_types, kind)
        for i, c, m in zip(img, clean, masks):
            assert np.abs(i[m] - c[m]).mean() > lo
            assert m.sum() <= 32 * 32


def test_patch_is_a_square_from_another_texture(all_types):
    img, clean, masks = _per_type(all_types, "patch")
    for m in masks:
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        side_r, side_c = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert side_r == side_c and 8 <= side_r <= 24
        assert m.sum() >= 0.8 * side_r * side_c  # nearly full square


@pytest.mark.parametrize("kind", DEFECTS)
def test_apply_defect_min_pixels_on_flat_and_saturated_crops(kind):
    rng = np.random.RandomState(0)
    others = [_load_texture("grass"), _load_texture("gravel")]
    # a dark crack cannot be drawn on a black image
    for value in (128, 255) if kind == "crack" else (0, 128, 255):
        clean = np.full((16, 16), value, dtype=np.uint8)
        img, mask = _apply_defect(clean, kind, rng, others)
        assert img.dtype == np.uint8 and mask.dtype == bool
        assert mask.sum() >= 4
        np.testing.assert_array_equal(mask, img != clean)


def test_simple_detector_sees_holes():
    # max absolute deviation from the median-filtered image
    data = make_texture_defects("brick", n_train=1, n_test=40, defect_types="hole", random_state=0)
    x = data.images_test.astype(float)
    score = [np.abs(im - median_filter(im, 5)).max() for im in x]
    assert roc_auc_score(data.y_test == -1, score) > 0.6
    # the darkest 5x5 mean finds holes on every texture
    for texture in TEXTURES:
        data = make_texture_defects(
            texture, n_train=1, n_test=40, defect_types="hole", random_state=0
        )
        x = data.images_test.astype(float)
        score = [-uniform_filter(im, 5).min() for im in x]
        assert roc_auc_score(data.y_test == -1, score) > 0.9


def _invalid(name, expected, got):
    return f"The {name!r} parameter of make_texture_defects must be {expected}. Got {got} instead."


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"texture": 1}, "'texture' parameter of make_texture_defects must be a str among"),
        ({"n_train": 0}, _invalid("n_train", "an int in the range [1, inf)", "0")),
        ({"n_train": 2.0}, _invalid("n_train", "an int in the range [1, inf)", "2.0")),
        ({"n_test": 0}, _invalid("n_test", "an int in the range [1, inf)", "0")),
        (
            {"anomaly_ratio": 1.5},
            _invalid("anomaly_ratio", "a float in the range [0.0, 1.0]", "1.5"),
        ),
        ({"anomaly_ratio": -0.1}, "Got -0.1 instead"),
        ({"anomaly_ratio": "0.5"}, "Got '0.5' instead"),
        ({"size": 15}, _invalid("size", "an int in the range [16, 256]", "15")),
        ({"size": 257}, "Got 257 instead"),
        ({"size": True}, "Got True instead"),
        (
            {"defect_types": ["hole", "dent"]},
            "among ['scratch', 'crack', 'stain', 'hole', 'patch', 'color']; "
            "got defect_types=['hole', 'dent'] (unknown: ['dent'])",
        ),
        ({"defect_types": []}, "non-empty"),
        ({"defect_types": 3}, "'defect_types' parameter of make_texture_defects"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make_texture_defects(**kwargs)


def test_unknown_texture_error_lists_the_textures():
    with pytest.raises(ValueError, match=re.escape("Got 'wood' instead.")) as excinfo:
        make_texture_defects("wood")
    msg = str(excinfo.value)
    assert "'texture' parameter of make_texture_defects must be a str among {" in msg
    assert all(repr(texture) in msg for texture in TEXTURES)


def _own_photo(height=160, width=100):
    """A grey uint8 'photograph' with structure: a sine grating plus noise."""
    rng = np.random.RandomState(3)
    rows, cols = np.mgrid[:height, :width]
    img = 128 + 60 * np.sin(rows / 3.0) * np.cos(cols / 5.0) + rng.normal(0, 10, (height, width))
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def test_own_photograph():
    photo = _own_photo()
    out = _gen(photo, n_train=12, n_test=40, size=32, random_state=0)
    assert out["texture"] is None
    assert out["images_train"].shape == (12, 32, 32)
    assert out["images_test"].shape == (40, 32, 32)
    # Every crop is the photograph at its position: training crops in the top half,
    # test crops in the bottom half, the defect-free test crops unchanged.
    for img, (r, c) in zip(out["images_train"], out["positions_train"]):
        assert r + 32 <= 80
        np.testing.assert_array_equal(img, photo[r : r + 32, c : c + 32])
    for clean, (r, c) in zip(out["clean_test"], out["positions_test"]):
        assert r >= 80
        np.testing.assert_array_equal(clean, photo[r : r + 32, c : c + 32])
    normal = out["y_test"] == 1
    np.testing.assert_array_equal(out["images_test"][normal], out["clean_test"][normal])
    changed = out["images_test"] != out["clean_test"]
    np.testing.assert_array_equal(changed, out["masks_test"])
    assert (out["y_test"] == -1).sum() == 20
    bunch = make_texture_defects(photo, n_train=12, n_test=40, size=32, random_state=0)
    np.testing.assert_array_equal(bunch.images_test, out["images_test"])
    assert bunch.texture is None
    # A list of rows is a photograph too, and the input is not modified.
    before = photo.copy()
    listed = make_texture_defects(photo.tolist(), n_train=3, n_test=4, size=32, random_state=1)
    assert listed.images_train.dtype == np.uint8
    np.testing.assert_array_equal(
        listed.images_train,
        make_texture_defects(photo, n_train=3, n_test=4, size=32, random_state=1).images_train,
    )
    np.testing.assert_array_equal(photo, before)


def test_own_photograph_patches_come_from_the_textures():
    photo = np.full((128, 64), 128, dtype=np.uint8)  # flat grey: every patch shows
    out = _gen(
        photo,
        n_train=2,
        n_test=6,
        size=64,
        defect_types="patch",
        anomaly_ratio=1.0,
        random_state=0,
    )
    for img, mask in zip(out["images_test"], out["masks_test"]):
        rows, cols = np.nonzero(mask)
        r0, c0 = rows.min(), cols.min()
        side = rows.max() - r0 + 1
        square = img[r0 : r0 + side, c0 : c0 + side]
        assert square.std() > 5  # a textured patch, not the flat photograph


@pytest.mark.parametrize(
    "photo, match",
    [
        (
            np.zeros((256, 256, 3), np.uint8),
            "a 2-D array of shape (height, width); got an array of shape (256, 256, 3)",
        ),
        (np.zeros(256, np.uint8), "got an array of shape (256,)"),
        (
            np.zeros((256, 256)),
            "grey levels 0-255, as uint8 or another integer dtype (the defects are drawn "
            "in grey levels); got dtype float64",
        ),
        (
            np.zeros((127, 256), np.uint8),
            "too small for size=64: expected a height of at least 2 * size = 128",
        ),
        (np.zeros((256, 63), np.uint8), "and a width of at least size = 64"),
    ],
)
def test_own_photograph_errors(photo, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make_texture_defects(photo, size=64)


def test_halves_is_the_default_split():
    a = _gen(texture="grass", n_train=30, n_test=20, random_state=4)
    b = _gen(texture="grass", n_train=30, n_test=20, random_state=4, split="halves")
    for key in ("images_train", "images_test", "masks_test", "positions_train"):
        np.testing.assert_array_equal(a[key], b[key])


def test_tiles_split_alternates_squares_of_twice_the_size():
    size = 32
    d = _gen(texture="brick", n_train=400, n_test=400, size=size, random_state=2, split="tiles")
    photo = _load_texture("brick")
    for part, parity in (("train", 0), ("test", 1)):
        pos = d[f"positions_{part}"]
        tile = pos // (2 * size)
        # every crop lies inside one tile of the part's colour
        assert ((pos + size - 1) // (2 * size) == tile).all()
        assert ((tile.sum(axis=1) % 2) == parity).all()
        # the crops cover the whole photograph, top and bottom, left and right
        assert pos[:, 0].min() < 64 and pos[:, 0].max() > 512 - 64 - size
        assert pos[:, 1].min() < 64 and pos[:, 1].max() > 512 - 64 - size
        assert len({tuple(t) for t in tile}) == 32  # all 32 tiles of the colour
    crops = (d["images_train"], d["positions_train"]), (d["clean_test"], d["positions_test"])
    for images, pos in crops:
        for crop, (r, c) in zip(images[:20], pos[:20]):
            np.testing.assert_array_equal(crop, photo[r : r + size, c : c + size])
    # no training pixel is a test pixel
    covered = np.zeros((2, 512, 512), dtype=bool)
    for k, pos in enumerate((d["positions_train"], d["positions_test"])):
        for r, c in pos:
            covered[k, r : r + size, c : c + size] = True
    assert not (covered[0] & covered[1]).any()


def test_tiles_split_on_own_photograph():
    photo = _own_photo(height=64, width=130)  # 1 x 2 tiles of 64 px for size 32
    d = _gen(photo, n_train=10, n_test=10, size=32, random_state=0, split="tiles")
    assert (d["positions_train"][:, 1] + 32 <= 64).all()
    assert (d["positions_test"][:, 1] >= 64).all()
    assert (d["positions_test"][:, 1] + 32 <= 128).all()


@pytest.mark.parametrize(
    "texture, size, match",
    [
        (
            "brick",
            256,
            "texture of shape (512, 512) is too small for size=256 with split='tiles': "
            "expected room for at least two tiles of 2 * size = 512 pixels",
        ),
        (np.zeros((64, 127), np.uint8), 32, "got 1 x 1 tile(s). Use a smaller size or"),
    ],
)
def test_tiles_split_errors(texture, size, match):
    with pytest.raises(ValueError, match=re.escape(match)):
        make_texture_defects(texture, size=size, split="tiles")


def test_split_must_be_known():
    with pytest.raises(ValueError, match=re.escape("'split' parameter of make_texture_defects")):
        make_texture_defects(split="quarters")
