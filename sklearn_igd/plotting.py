"""Figures of anomaly heatmaps in the layout of the IGD paper's Fig. 3.

:class:`HeatmapDisplay` follows scikit-learn's display API
(:class:`sklearn.metrics.RocCurveDisplay`): build it from a fitted detector
(:meth:`HeatmapDisplay.from_estimator`) or from maps computed beforehand
(:meth:`HeatmapDisplay.from_predictions`), and it draws one column per image
with the rows

- the test images,
- their ground-truth masks (only when masks are given),
- the heatmaps overlaid on the images (``cmap="jet"``: red = high anomaly).

:func:`overlay_heatmap` renders one image with its heatmap overlaid as an RGB
``uint8`` array without any pyplot state (the ``sklearn-igd heatmap`` command
writes it to PNG files).

matplotlib is imported when a function needs it, never when this module is
imported, and nothing here selects a backend: without a display, matplotlib
falls back to its non-interactive Agg backend by itself, and
:func:`overlay_heatmap` does not use a backend at all.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["HeatmapDisplay", "overlay_heatmap"]

#: Default share of the colour map in the overlay (the rest is the image).
DEFAULT_ALPHA = 0.5

#: Percentiles of the shown heatmaps that set the default colour scale of a figure.
DEFAULT_PERCENTILES = (1.0, 99.5)

_ROW_LABELS = {"image": "image", "mask": "ground truth", "heatmap": "heatmap"}


# --------------------------------------------------------------------------- validation
def _as_display_images(images, name="images"):
    """Images ``(n, H, W)``, ``(n, H, W, C)`` or ``(n, C, H, W)`` (C in {1, 3}), uint8
    0..255 or float 0..1, as float64 ``(n, H, W)`` (grey) or ``(n, H, W, 3)`` in [0, 1]."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(
            f"{name} must have shape (n, H, W), (n, H, W, C) or (n, C, H, W) with C in "
            f"{{1, 3}}; received an array of shape {images.shape}. For one image use "
            f"{name}[None]."
        )
    if images.ndim == 4:
        first, last = images.shape[1], images.shape[-1]
        if last in (1, 3):
            pass
        elif first in (1, 3):
            images = np.moveaxis(images, 1, -1)
        else:
            raise ValueError(
                f"{name} must have 1 or 3 channels, on the last axis or on axis 1; "
                f"received an array of shape {images.shape}."
            )
        if images.shape[-1] == 1:
            images = images[..., 0]
    if images.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must be uint8 (0..255) or float (0..1); received dtype {images.dtype}."
        )
    if images.dtype.kind == "b":
        return images.astype(np.float64)
    if images.size and images.dtype.kind == "f" and not np.isfinite(images).all():
        raise ValueError(f"{name} contain NaN or infinity.")
    if images.dtype.kind in "iu":
        if images.size and (images.min() < 0 or images.max() > 255):
            raise ValueError(
                f"Integer {name} must hold values in 0..255; received values in "
                f"[{images.min()}, {images.max()}]."
            )
        return images.astype(np.float64) / 255.0
    if images.size and (images.min() < -1e-6 or images.max() > 1 + 1e-6):
        raise ValueError(
            f"Float {name} must lie in [0, 1]; received values in "
            f"[{images.min():.4g}, {images.max():.4g}]. Pass uint8 images or divide by 255."
        )
    return np.clip(images.astype(np.float64), 0.0, 1.0)


def _check_maps(maps, name, n, hw):
    maps = np.asarray(maps)
    if maps.ndim != 3:
        raise ValueError(
            f"{name} must have shape (n, H, W); received an array of shape {maps.shape}."
        )
    if maps.shape != (n,) + hw:
        raise ValueError(
            f"{name} must match the images: expected shape {(n,) + hw}, received {maps.shape}."
        )
    if maps.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; received dtype {maps.dtype}.")
    if maps.dtype.kind == "f" and not np.isfinite(maps).all():
        raise ValueError(f"{name} contain NaN or infinity.")
    return maps


def _check_inputs(images, heatmaps, masks):
    images = _as_display_images(images)
    n, hw = images.shape[0], images.shape[1:3]
    if n == 0:
        raise ValueError("No images to show: images is empty.")
    heatmaps = _check_maps(heatmaps, "heatmaps", n, hw).astype(np.float64)
    if masks is not None:
        masks = _check_maps(masks, "masks", n, hw) != 0
    return images, heatmaps, masks


def _check_n_images(n_images):
    if not isinstance(n_images, numbers.Integral) or isinstance(n_images, bool) or n_images < 1:
        raise ValueError(f"n_images must be an int >= 1; received {n_images!r}.")
    return int(n_images)


def _check_alpha(alpha):
    if not isinstance(alpha, numbers.Real) or isinstance(alpha, bool) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be a number in [0, 1]; received {alpha!r}.")
    return float(alpha)


def _get_cmap(cmap):
    import matplotlib
    from matplotlib.colors import Colormap

    if isinstance(cmap, str):
        try:
            return matplotlib.colormaps[cmap]
        except KeyError:
            raise ValueError(f"Unknown matplotlib colour map {cmap!r}.") from None
    if isinstance(cmap, Colormap):
        return cmap
    raise ValueError(
        f"cmap must be the name of a matplotlib colour map or a Colormap; received {cmap!r}."
    )


def _colour_range(heatmaps, vmin, vmax):
    """``(vmin, vmax)``: the given values, else percentiles of ``heatmaps``."""
    lo, hi = np.percentile(heatmaps, DEFAULT_PERCENTILES)
    vmin = float(lo) if vmin is None else float(vmin)
    vmax = float(hi) if vmax is None else float(vmax)
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        raise ValueError(f"vmin and vmax must be finite; received {vmin!r} and {vmax!r}.")
    if vmin > vmax:
        raise ValueError(f"vmin must not exceed vmax; received vmin={vmin} > vmax={vmax}.")
    return vmin, vmax


def _resize_heatmaps(heatmaps, size):
    """Resize heatmaps ``(n, h, w)`` to ``size = (H, W)`` (bilinear), float64.

    For maps computed at another resolution than the images they belong to (a detector
    with ``image_size`` set). Returns the input, as float64, when the size already fits.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    size = tuple(int(s) for s in size)
    if heatmaps.shape[1:] == size:
        return heatmaps
    import torch

    t = torch.from_numpy(np.ascontiguousarray(heatmaps))[:, None]
    t = torch.nn.functional.interpolate(t, size=size, mode="bilinear", align_corners=False)
    return t[:, 0].numpy()


# --------------------------------------------------------------------------- rendering
def overlay_heatmap(image, heatmap, *, cmap="jet", alpha=DEFAULT_ALPHA, vmin=None, vmax=None):
    """Render one image with its heatmap overlaid, as an RGB ``uint8`` array.

    Each pixel is ``(1 - alpha) * image + alpha * cmap(heat)``, with the heatmap mapped
    linearly from ``[vmin, vmax]`` to the colour map (values outside are clipped). With
    the default ``"jet"`` the most anomalous pixels are red and the most normal ones
    blue, as in the IGD paper's Fig. 3. No pyplot state is used; write the result with
    Pillow (``PIL.Image.fromarray(rgb).save("x.png")``).

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, C) or (C, H, W), C in {1, 3}
        uint8 (0..255) or float (0..1). Grey images are shown grey.
    heatmap : array-like of shape (H, W)
        Anomaly map, higher = more anomalous (``IGDDetector.predict_heatmap``).
    cmap : str or matplotlib Colormap, default="jet"
        Colour map of the heatmap (red = anomalous with ``"jet"``).
    alpha : float in [0, 1], default=0.5
        Weight of the colour map; 0 gives the image, 1 the colour map alone.
    vmin, vmax : float or None, default=None
        Heat values mapped to the two ends of the colour map; None: the heatmap's own
        minimum and maximum (pass fixed values to compare colours between images).

    Returns
    -------
    rgb : ndarray of shape (H, W, 3), uint8
        The image blended with the coloured heatmap.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.plotting import overlay_heatmap
    >>> heat = np.zeros((4, 4)); heat[1, 2] = 1.0
    >>> rgb = overlay_heatmap(np.full((4, 4), 128, np.uint8), heat)
    >>> rgb.shape, rgb.dtype
    ((4, 4, 3), dtype('uint8'))
    >>> rgb[1, 2].tolist(), rgb[0, 0].tolist()  # hottest pixel red, coldest blue
    ([128, 64, 64], [64, 64, 128])
    """
    images = _as_display_images(np.asarray(image)[None], name="image")
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 2:
        raise ValueError(f"heatmap must have shape (H, W); received shape {heatmap.shape}.")
    heatmaps = _check_maps(heatmap[None], "heatmap", 1, images.shape[1:3]).astype(np.float64)
    alpha = _check_alpha(alpha)
    colormap = _get_cmap(cmap)
    lo = float(heatmaps.min()) if vmin is None else float(vmin)
    hi = float(heatmaps.max()) if vmax is None else float(vmax)
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo > hi:
        raise ValueError(
            f"vmin and vmax must be finite with vmin <= vmax; received {lo!r} and {hi!r}."
        )
    span = hi - lo
    norm = np.clip((heatmaps[0] - lo) / span, 0.0, 1.0) if span > 0 else np.zeros_like(heatmaps[0])
    colours = colormap(norm)[..., :3]
    base = images[0]
    if base.ndim == 2:
        base = np.repeat(base[..., None], 3, axis=-1)
    rgb = (1.0 - alpha) * base + alpha * colours
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- display
class HeatmapDisplay:
    """Test images, ground-truth masks and anomaly heatmaps (the IGD paper's Fig. 3).

    Create it with :meth:`from_estimator` or :meth:`from_predictions` (or with the
    constructor, then call :meth:`plot`). The figure has one column per shown image
    and the rows: the images, the ground-truth masks (when ``masks`` is given), and the
    heatmaps (overlaid on the images by default; red = high anomaly with ``"jet"``).

    Parameters
    ----------
    images : array-like of shape (n, H, W), (n, H, W, C) or (n, C, H, W), C in {1, 3}
        uint8 (0..255) or float (0..1).
    heatmaps : array-like of shape (n, H, W)
        Anomaly maps of the images, higher = more anomalous.
    masks : array-like of shape (n, H, W) or None, default=None
        Ground-truth defect masks (nonzero = defective pixel).

    Attributes
    ----------
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (n_rows, n_shown)
        ``n_rows`` is 3 with masks and 2 without.
    images_ : list of matplotlib AxesImage
        The artists of the image row.
    masks_ : list of matplotlib AxesImage or None
        The artists of the mask row (None without masks).
    heatmaps_ : list of matplotlib AxesImage
        The heatmap artists (all on one colour scale: ``heatmaps_[0]`` can feed
        ``figure_.colorbar``).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.plotting import HeatmapDisplay
    >>> rng = np.random.default_rng(0)
    >>> images, heat = rng.random((3, 16, 16)), rng.random((3, 16, 16))
    >>> disp = HeatmapDisplay.from_predictions(images, heat, masks=heat > 0.9)
    >>> disp.axes_.shape
    (3, 3)
    >>> import matplotlib.pyplot as plt; plt.close(disp.figure_)
    """

    def __init__(self, images, heatmaps, masks=None):
        self.images = images
        self.heatmaps = heatmaps
        self.masks = masks

    def plot(
        self,
        ax=None,
        *,
        n_images=8,
        cmap="jet",
        alpha=DEFAULT_ALPHA,
        overlay=True,
        vmin=None,
        vmax=None,
        titles=None,
    ):
        """Draw the figure.

        Parameters
        ----------
        ax : array-like of matplotlib Axes or None, default=None
            ``n_rows * n_shown`` axes (any shape, read row by row), with ``n_rows`` 3
            with masks, 2 without, and ``n_shown = min(n_images, n)``. None: a new
            figure.
        n_images : int >= 1, default=8
            Show the first ``n_images`` images (all of them if fewer).
        cmap : str or matplotlib Colormap, default="jet"
            Colour map of the heatmaps.
        alpha : float in [0, 1], default=0.5
            Opacity of the heatmaps over the images (with ``overlay=True``).
        overlay : bool, default=True
            Draw the heatmaps over the images; False draws them alone, opaque.
        vmin, vmax : float or None, default=None
            The heat values at the ends of the colour map, shared by all shown maps;
            None: the 1st and 99.5th percentiles of the shown heatmaps.
        titles : list of str or None, default=None
            A title per shown image.

        Returns
        -------
        display : HeatmapDisplay
            ``self``, with ``figure_``, ``axes_``, ``images_``, ``masks_`` and
            ``heatmaps_`` set.
        """
        images, heatmaps, masks = _check_inputs(self.images, self.heatmaps, self.masks)
        n_shown = min(_check_n_images(n_images), images.shape[0])
        alpha = _check_alpha(alpha)
        colormap = _get_cmap(cmap)
        images, heatmaps = images[:n_shown], heatmaps[:n_shown]
        masks = None if masks is None else masks[:n_shown]
        vmin, vmax = _colour_range(heatmaps, vmin, vmax)
        if titles is not None:
            titles = [str(t) for t in titles]
            if len(titles) < n_shown:
                raise ValueError(
                    f"titles must hold at least {n_shown} entries (one per shown image); "
                    f"received {len(titles)}."
                )
        rows = ["image"] + (["mask"] if masks is not None else []) + ["heatmap"]

        if ax is None:
            import matplotlib.pyplot as plt

            fig, axes = plt.subplots(
                len(rows),
                n_shown,
                figsize=(1.6 * n_shown + 0.4, 1.7 * len(rows)),
                squeeze=False,
            )
        else:
            axes = np.asarray(ax, dtype=object)
            if axes.size != len(rows) * n_shown:
                raise ValueError(
                    f"ax must hold {len(rows) * n_shown} Axes ({len(rows)} rows x "
                    f"{n_shown} images); received {axes.size}."
                )
            axes = axes.reshape(len(rows), n_shown)
            fig = axes[0, 0].figure

        grey = dict(cmap="gray", vmin=0.0, vmax=1.0)
        self.images_, self.heatmaps_ = [], []
        self.masks_ = [] if masks is not None else None
        for j in range(n_shown):
            column = dict(zip(rows, axes[:, j]))
            image = images[j]
            self.images_.append(column["image"].imshow(image, **grey))
            if masks is not None:
                self.masks_.append(column["mask"].imshow(masks[j], **grey))
            if overlay:
                column["heatmap"].imshow(image, **grey)
            self.heatmaps_.append(
                column["heatmap"].imshow(
                    heatmaps[j],
                    cmap=colormap,
                    vmin=vmin,
                    vmax=vmax,
                    alpha=alpha if overlay else None,
                )
            )
            if titles is not None:
                column["image"].set_title(titles[j], fontsize=8)
        for a in axes.flat:
            a.set_xticks([])
            a.set_yticks([])
        for i, row in enumerate(rows):
            axes[i, 0].set_ylabel(_ROW_LABELS[row], fontsize=9)
        self.figure_, self.axes_ = fig, axes
        return self

    @classmethod
    def from_predictions(cls, X, heatmaps, masks=None, *, n_images=8, **plot_kwargs):
        """Draw images with heatmaps computed beforehand.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, C, H, W)
            The images.
        heatmaps : array-like of shape (n, H, W)
            Their anomaly maps (e.g. ``detector.predict_heatmap(X)``).
        masks : array-like of shape (n, H, W) or None, default=None
            Ground-truth masks; adds the mask row.
        n_images : int >= 1, default=8
            Show the first ``n_images`` images.
        **plot_kwargs
            Passed to :meth:`plot` (``ax``, ``cmap``, ``alpha``, ``overlay``, ``vmin``,
            ``vmax``, ``titles``).

        Returns
        -------
        display : HeatmapDisplay
        """
        return cls(X, heatmaps, masks).plot(n_images=n_images, **plot_kwargs)

    @classmethod
    def from_estimator(cls, estimator, X, masks=None, *, n_images=8, **plot_kwargs):
        """Compute heatmaps of the first ``n_images`` images with a fitted detector and
        draw them.

        Only the shown images are scored. Maps at another resolution than ``X`` (a
        detector with ``image_size`` set) are resized (bilinear) to the images.

        Parameters
        ----------
        estimator : fitted detector with ``predict_heatmap``
            E.g. a fitted :class:`~sklearn_igd.IGDDetector`.
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, C, H, W)
            The images.
        masks : array-like of shape (n, H, W) or None, default=None
            Ground-truth masks; adds the mask row.
        n_images : int >= 1, default=8
            Show (and score) the first ``n_images`` images.
        **plot_kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : HeatmapDisplay
        """
        if not hasattr(estimator, "predict_heatmap"):
            raise TypeError(
                f"estimator must have a predict_heatmap method (a fitted IGDDetector); "
                f"received {type(estimator).__name__}."
            )
        n_images = _check_n_images(n_images)
        X = np.asarray(X)
        if X.ndim not in (3, 4):
            _as_display_images(X, name="X")  # raises the shape error
        X = X[:n_images]
        hw = _as_display_images(X, name="X").shape[1:3]
        heatmaps = _resize_heatmaps(estimator.predict_heatmap(X), hw)
        if masks is not None:
            masks = np.asarray(masks)[:n_images]
        return cls(X, heatmaps, masks).plot(n_images=n_images, **plot_kwargs)
