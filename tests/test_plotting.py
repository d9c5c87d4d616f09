"""HeatmapDisplay and overlay_heatmap (sklearn_igd.plotting)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sklearn_igd import IGDDetector  # noqa: E402
from sklearn_igd.datasets import load_digits_images  # noqa: E402
from sklearn_igd.plotting import HeatmapDisplay, overlay_heatmap  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 12, 10), dtype=np.uint8)
    heat = rng.random((5, 12, 10))
    masks = heat > 0.8
    return images, heat, masks


@pytest.mark.parametrize("with_masks, n_rows", [(True, 3), (False, 2)])
@pytest.mark.parametrize("n_images, n_shown", [(3, 3), (8, 5), (1, 1)])
def test_from_predictions_layout(data, with_masks, n_rows, n_images, n_shown):
    images, heat, masks = data
    disp = HeatmapDisplay.from_predictions(
        images, heat, masks if with_masks else None, n_images=n_images
    )
    assert disp.axes_.shape == (n_rows, n_shown)
    assert len(disp.figure_.axes) == n_rows * n_shown
    assert len(disp.images_) == len(disp.heatmaps_) == n_shown
    assert (disp.masks_ is not None) == with_masks
    if with_masks:
        assert len(disp.masks_) == n_shown
        np.testing.assert_array_equal(disp.masks_[0].get_array(), masks[0])
        assert disp.axes_[1, 0].get_ylabel() == "ground truth"
    assert disp.axes_[-1, 0].get_ylabel() == "heatmap"
    # the heatmap row has the image below the overlay, drawn on one colour scale
    assert len(disp.axes_[-1, 0].images) == 2
    assert disp.heatmaps_[0].get_cmap().name == "jet"
    assert disp.heatmaps_[0].get_alpha() == 0.5
    lo, hi = np.percentile(heat[:n_shown], [1, 99.5])
    assert disp.heatmaps_[-1].get_clim() == pytest.approx((lo, hi))
    np.testing.assert_allclose(disp.images_[0].get_array(), images[0] / 255.0)


def test_plot_options_and_given_axes(data):
    images, heat, masks = data
    fig, axes = plt.subplots(3, 2)
    disp = HeatmapDisplay(images, heat, masks).plot(
        axes, n_images=2, overlay=False, cmap="viridis", vmin=0, vmax=2, titles=["a", "b"]
    )
    assert disp.figure_ is fig
    assert disp.axes_.shape == (3, 2)
    assert len(disp.axes_[2, 0].images) == 1  # heatmap alone
    assert disp.heatmaps_[0].get_alpha() is None
    assert disp.heatmaps_[1].get_clim() == (0, 2)
    assert disp.heatmaps_[0].get_cmap().name == "viridis"
    assert disp.axes_[0, 1].get_title() == "b"


@pytest.mark.parametrize(
    "layout", [lambda x: x, lambda x: x[..., None], lambda x: np.stack([x] * 3, axis=1)]
)
def test_image_layouts(data, layout):
    images, heat, _ = data
    disp = HeatmapDisplay.from_predictions(layout(images) / 255.0, heat, n_images=2)
    assert disp.axes_.shape == (2, 2)
    assert disp.images_[0].get_array().shape[:2] == (12, 10)


def _fit(**params):
    X, y = load_digits_images(return_X_y=True)
    det = IGDDetector(
        backbone="resnet18-lite", max_epochs=1, batch_size=16, pretrain=None, local=False, **params
    )
    return det.fit(X[y == 0][:16]), X


def test_from_estimator():
    det, X = _fit()
    disp = HeatmapDisplay.from_estimator(det, X[:10], n_images=4)
    assert disp.axes_.shape == (2, 4)
    np.testing.assert_allclose(
        disp.heatmaps_[3].get_array(), det.predict_heatmap(X[:4])[3], rtol=1e-5
    )
    masks = np.zeros((4, 8, 8), bool)
    masks[:, 2:4, 2:4] = True
    disp = HeatmapDisplay.from_estimator(det, X[:4], masks, n_images=8)
    assert disp.axes_.shape == (3, 4)


def test_from_estimator_resizes_maps_of_image_size_detectors():
    det, X = _fit(image_size=16)
    assert det.predict_heatmap(X[:3]).shape == (3, 16, 16)
    disp = HeatmapDisplay.from_estimator(det, X[:3])
    assert disp.heatmaps_[0].get_array().shape == (8, 8)


def test_from_estimator_needs_predict_heatmap(data):
    from sklearn.ensemble import IsolationForest

    with pytest.raises(TypeError, match="predict_heatmap"):
        HeatmapDisplay.from_estimator(IsolationForest(), data[0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(heatmaps=np.zeros((5, 12, 9))), "heatmaps must match the images"),
        (dict(heatmaps=np.zeros((4, 12, 10))), "heatmaps must match the images"),
        (dict(heatmaps=np.zeros((5, 120))), r"heatmaps must have shape \(n, H, W\)"),
        (dict(masks=np.zeros((5, 11, 10))), "masks must match the images"),
        (dict(images=np.zeros((12, 10))), "images must have shape"),
        (dict(images=np.zeros((5, 12, 10, 2))), "1 or 3 channels"),
        (dict(images=np.full((5, 12, 10), 2.0)), r"must lie in \[0, 1\]"),
        (dict(images=np.full((5, 12, 10), 300)), "0..255"),
        (dict(heatmaps=np.full((5, 12, 10), np.nan)), "NaN"),
        (dict(n_images=0), "n_images must be an int >= 1"),
        (dict(n_images=2.5), "n_images must be an int >= 1"),
        (dict(alpha=1.5), r"alpha must be a number in \[0, 1\]"),
        (dict(cmap="no-such-map"), "Unknown matplotlib colour map"),
        (dict(vmin=3, vmax=1), "vmin must not exceed vmax"),
        (dict(titles=["a"]), "titles must hold at least"),
    ],
)
def test_errors(data, kwargs, match):
    images, heat, masks = data
    args = dict(X=images, heatmaps=heat, masks=masks)
    if "images" in kwargs:
        args["X"] = kwargs.pop("images")
    args.update({k: kwargs.pop(k) for k in ("heatmaps", "masks") if k in kwargs})
    with pytest.raises(ValueError, match=match):
        HeatmapDisplay.from_predictions(**args, **kwargs)


def test_wrong_number_of_axes(data):
    _, axes = plt.subplots(2, 2)
    with pytest.raises(ValueError, match="ax must hold 6 Axes"):
        HeatmapDisplay(*data).plot(axes, n_images=2)


def test_overlay_heatmap_colours():
    image = np.full((6, 7), 100, np.uint8)
    heat = np.zeros((6, 7))
    heat[2, 3] = 5.0
    rgb = overlay_heatmap(image, heat)
    assert rgb.shape == (6, 7, 3) and rgb.dtype == np.uint8
    r, g, b = rgb[2, 3].astype(int)
    assert r > g + 30 and r > b + 30  # hottest pixel red-ish
    r, g, b = rgb[0, 0].astype(int)
    assert b > r + 30 and b > g + 30  # coldest blue-ish
    # alpha=0 gives the image back, grey images as grey RGB
    np.testing.assert_array_equal(overlay_heatmap(image, heat, alpha=0), 100)
    # RGB images in either channel layout, float images
    colour = np.zeros((6, 7, 3), np.uint8)
    colour[..., 1] = 255
    a = overlay_heatmap(colour, heat, alpha=0.25)
    np.testing.assert_array_equal(a, overlay_heatmap(np.moveaxis(colour, -1, 0), heat, alpha=0.25))
    np.testing.assert_array_equal(a, overlay_heatmap(colour / 255.0, heat, alpha=0.25))
    # fixed colour range: values below vmin are the cold end of the map
    cold = overlay_heatmap(image, heat, vmin=10, vmax=20)
    np.testing.assert_array_equal(cold, np.broadcast_to(rgb[0, 0], cold.shape))
    # a constant map is one colour
    assert len(np.unique(overlay_heatmap(image, np.ones((6, 7))).reshape(-1, 3), axis=0)) == 1


@pytest.mark.parametrize(
    "image, heat, kwargs, match",
    [
        (np.zeros((6, 7)), np.zeros((6, 8)), {}, "heatmap must match"),
        (np.zeros((6, 7)), np.zeros((1, 6, 7)), {}, r"heatmap must have shape \(H, W\)"),
        (np.zeros((6, 7, 2)), np.zeros((6, 7)), {}, "1 or 3 channels"),
        (np.zeros((6, 7)), np.zeros((6, 7)), dict(alpha=-0.1), "alpha"),
        (np.zeros((6, 7)), np.zeros((6, 7)), dict(vmin=1, vmax=0), "vmin <= vmax"),
    ],
)
def test_overlay_heatmap_errors(image, heat, kwargs, match):
    with pytest.raises(ValueError, match=match):
        overlay_heatmap(image, heat, **kwargs)


def test_import_does_not_load_matplotlib():
    import subprocess
    import sys

    code = "import sys, sklearn_igd.plotting; sys.exit('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
