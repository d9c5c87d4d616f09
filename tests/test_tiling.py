"""Large images as overlapping tiles (sklearn_igd.TiledDetector).

One tiny inner IGDDetector (lite backbone, one epoch, global model) is fitted on the
128 px tiles (stride 96, so that neighbours overlap by 32 px: 25 tiles per image) of two
512 x 512 textures; the tests check the stitching against hand-cut tiles, that a
painted defect shows in the score and the map, the memory bound (one image's batch of
tiles at a time), the size rules and the scikit-learn parameter contract. The default
stride (half the tile) is checked on small images.
"""

import numpy as np
import pytest
from conftest import FAST
from conftest import raises_match as _raises
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_igd import IGDDetector, TiledDetector
from sklearn_igd._patches import patch_grid

TINY = {**FAST, "max_epochs": 1, "batch_size": 16}
SIDE, TILE, STRIDE = 512, 128, 96


def _texture(rng, h=SIDE, w=SIDE):
    """A smooth uint8 texture: two random sinusoids plus a little noise."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.full((h, w), 128.0, dtype=np.float32)
    for _ in range(2):
        fy, fx = rng.uniform(1 / 80, 1 / 30, size=2)
        img += 25 * np.sin(2 * np.pi * (fy * yy + fx * xx) + rng.uniform(0, 2 * np.pi))
    img += rng.normal(0, 4, size=(h, w))
    return np.clip(img, 0, 255).astype(np.uint8)


#: The painted defect's square: top, left, side.
DEFECT = (200, 300, 48)


def _paint_defect(img, top=DEFECT[0], left=DEFECT[1], side=DEFECT[2]):
    """A copy of ``img`` with a black-and-white checkerboard (8 px squares) painted in."""
    out = img.copy()
    yy, xx = np.mgrid[0:side, 0:side]
    out[top : top + side, left : left + side] = 255 * (((yy // 8) + (xx // 8)) % 2)
    return out


@pytest.fixture(scope="module")
def images():
    rng = np.random.RandomState(0)
    return np.stack([_texture(rng) for _ in range(4)])


@pytest.fixture(scope="module")
def tiled(images):
    return TiledDetector(IGDDetector(**TINY), tile_size=TILE, tile_stride=STRIDE).fit(images[:2])


def _hand_tiles(img):
    ys, xs = patch_grid(*img.shape, TILE, STRIDE)
    starts = [(y, x) for y in ys for x in xs]
    return starts, np.stack([img[y : y + TILE, x : x + TILE] for y, x in starts])


def test_fitted_attributes_and_outputs(tiled, images):
    assert tiled.tile_stride_ == STRIDE and tiled.n_channels_ == 1
    assert tiled.n_tiles_ == 2 * 5 * 5  # 0, 96, ..., 384 in both directions
    assert tiled.estimator_.input_shape_ == (1, TILE, TILE)
    assert tiled.estimator is not tiled.estimator_ and not hasattr(tiled.estimator, "net_")
    # offset_: the contamination percentile of the training images' (worst-tile) scores
    train = tiled.anomaly_score(images[:2])
    assert train.shape == (2,) and train.dtype == np.float64
    assert tiled.offset_ == pytest.approx(np.percentile(-train, 10.0), rel=1e-6)
    np.testing.assert_array_equal(tiled.score_samples(images[:2]), -train)
    decision = tiled.decision_function(images[:2])
    np.testing.assert_array_equal(decision, -train - tiled.offset_)
    assert (decision < 0).sum() == 1  # the percentile falls between the two images
    np.testing.assert_array_equal(tiled.predict(images[:2]), np.where(decision < 0, -1, 1))


def test_heatmap_and_score_match_hand_cut_tiles(tiled, images):
    img = images[3]
    starts, tiles = _hand_tiles(img)
    maps = tiled.estimator_.predict_heatmap(tiles)
    total, count = np.zeros((SIDE, SIDE)), np.zeros((SIDE, SIDE))
    for (y, x), m in zip(starts, maps):
        total[y : y + TILE, x : x + TILE] += m
        count[y : y + TILE, x : x + TILE] += 1
    assert count.min() >= 1 and count.max() == 4
    heat = tiled.predict_heatmap(img[None])
    assert heat.shape == (1, SIDE, SIDE) and heat.dtype == np.float64
    np.testing.assert_allclose(heat[0], total / count, rtol=1e-6)
    expected = tiled.estimator_.anomaly_score(tiles).max()
    assert tiled.anomaly_score(img[None])[0] == pytest.approx(expected, rel=1e-6)


def test_painted_defect_raises_score_and_heatmap(tiled, images):
    clean = images[2]
    defect = _paint_defect(clean)
    score = tiled.anomaly_score(np.stack([clean, defect]))
    assert score[1] > score[0], score
    heat = tiled.predict_heatmap(defect[None])[0]
    inside = np.zeros((SIDE, SIDE), dtype=bool)
    top, left, side = DEFECT
    inside[top : top + side, left : left + side] = True
    assert heat[inside].mean() > 1.5 * heat[~inside].mean()


def test_memory_is_one_batch_of_one_image(tiled, images, monkeypatch):
    calls = []
    inner = tiled.estimator_
    for name in ("score_samples", "predict_heatmap"):
        method = getattr(inner, name)

        def spy(X, _method=method, _name=name):
            calls.append((_name, X.shape))
            return _method(X)

        monkeypatch.setattr(inner, name, spy)
    monkeypatch.setattr(tiled, "tile_batch_size", 10)
    tiled.anomaly_score(images[2:4])
    tiled.predict_heatmap(images[2:3])
    # 25 tiles per image, never mixed
    assert [s[0] for n, s in calls if n == "score_samples"] == [10, 10, 5] * 2
    assert [s[0] for n, s in calls if n == "predict_heatmap"] == [10, 10, 5]
    assert {shape[1:] for _, shape in calls} == {(1, TILE, TILE)}


def test_images_of_other_sizes(tiled, images):
    X = [images[2][:150, :350], images[3][:256, :192, None]]  # (H, W) and (H, W, C)
    heat = tiled.predict_heatmap(X)
    assert isinstance(heat, list) and [h.shape for h in heat] == [(150, 350), (256, 192)]
    assert tiled.anomaly_score(X).shape == (2,)
    with _raises(ValueError, r"128 x 128", r"image 1 is 100 x 350"):
        tiled.anomaly_score([images[2], images[2][:100, :350]])
    with _raises(ValueError, "fitted on images with 1 channel", r"\[3\]"):
        tiled.anomaly_score(np.repeat(images[2:3, :, :, None], 3, axis=3))


def test_default_stride_is_half_a_tile():
    rng = np.random.RandomState(0)
    X = [_texture(rng, 40, 56), _texture(rng, 48, 32)]  # any sizes >= the tile
    det = TiledDetector(IGDDetector(**{**TINY, "batch_size": 8}), tile_size=16).fit(X)
    # 40 x 56: 4 x 6 tiles (rows 0, 8, ..., 24; columns 0, ..., 40); 48 x 32: 5 x 3
    assert det.tile_stride_ == 8 and det.n_tiles_ == 4 * 6 + 5 * 3
    assert det.estimator_.n_epochs_ == 1


def test_fit_checks_before_training():
    X = np.zeros((2, 64, 64), dtype=np.uint8)
    with _raises(ValueError, r"tile_stride must be at most tile_size \(32\)", "40"):
        TiledDetector(IGDDetector(**TINY), tile_size=32, tile_stride=40).fit(X)
    with _raises(ValueError, "image_size must be None", "48"):
        TiledDetector(IGDDetector(**TINY, image_size=48), tile_size=32).fit(X)
    with _raises(ValueError, r"128 x 128", r"training image 0 is 64 x 64"):
        TiledDetector(IGDDetector(**TINY), tile_size=128).fit(X)
    with pytest.raises(InvalidParameterError, match="tile_size"):
        TiledDetector(tile_size=4).fit(X)
    with pytest.raises(InvalidParameterError, match="estimator"):
        TiledDetector(estimator=object()).fit(X)
    with pytest.raises(NotFittedError):
        TiledDetector().predict_heatmap(X)


def test_get_params_and_clone():
    det = TiledDetector(IGDDetector(max_epochs=3), tile_size=128, tile_stride=96)
    params = det.get_params()
    assert params["tile_size"] == 128 and params["tile_stride"] == 96
    assert params["estimator__max_epochs"] == 3 and params["tile_batch_size"] == "auto"
    copy = clone(det)
    assert copy.estimator is not det.estimator
    assert copy.estimator.get_params() == det.estimator.get_params()
    copy.set_params(estimator__max_epochs=1, tile_size=64)
    assert copy.estimator.max_epochs == 1 and copy.tile_size == 64 and det.tile_size == 128
    assert TiledDetector().get_params(deep=False) == {
        "estimator": None,
        "tile_size": 256,
        "tile_stride": None,
        "tile_batch_size": "auto",
    }
