"""Large images as overlapping tiles: :class:`TiledDetector`."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._patches import patch_grid
from ._validation import MIN_IMAGE_SIDE, _to_nchw

__all__ = ["TiledDetector"]

#: ``tile_batch_size="auto"``: input values (tiles x channels x tile pixels) per batch.
TILE_BATCH_VALUES = 1 << 22


class TiledDetector(OutlierMixin, BaseEstimator):
    """Anomaly detection on large images, one overlapping tile at a time.

    A wrapper around an image detector (by default :class:`~sklearn_igd.IGDDetector`)
    for images larger than the detector should see at once (MVTec AD's 1024 px, aerial or
    microscopy images): every image is cut into ``tile_size x tile_size`` tiles every
    ``tile_stride`` pixels, the grid reaching the right and bottom borders (a last row
    and column of tiles aligned with the border where the stride does not land on it,
    as the local model's patches, :func:`sklearn_igd._patches.patch_grid`). A clone of
    ``estimator`` is fitted on the tiles of the training images, and

    - :meth:`anomaly_score` of an image is the maximum over its tiles of the tile scores
      (``-estimator_.score_samples``, for an IGDDetector its ``anomaly_score``): an image
      is as anomalous as its worst tile;
    - :meth:`predict_heatmap` stitches the tiles' maps (``estimator_.predict_heatmap``)
      back at full resolution, averaging where tiles overlap.

    Images may have any size at least ``tile_size`` in both directions, at fit and at
    prediction, and need not all have the same size (pass a list). Memory: at
    prediction, images are processed one at a time and their tiles in batches of
    ``tile_batch_size``, so at most one batch of tiles (and its maps) exists at a time
    besides the input and the result. At fit, the tiles of all training images are
    materialised once (about ``4 (H W) / stride^2 * tile^2`` values per image with the
    default half-tile stride: four times the training set), as the inner estimator
    needs them all for its epochs.

    Parameters
    ----------
    estimator : estimator or None, default=None
        The tile detector: it takes images ``(n, C, tile_size, tile_size)`` (the dtype
        of the input: uint8 or float in [0, 1]) and has ``fit``, ``score_samples`` and,
        for :meth:`predict_heatmap`, ``predict_heatmap``. None: ``IGDDetector()``. Its
        ``image_size`` must be None (tiles are used at their size). Cloned at fit.
    tile_size : int, default=256
        Side of the square tiles (at least 8).
    tile_stride : int or None, default=None
        Step between tiles, at most ``tile_size``; None: ``tile_size // 2``.
    tile_batch_size : "auto" or int, default="auto"
        Tiles per call of the inner estimator at prediction; ``"auto"``: about 4 million
        input values per batch (64 tiles of 256 x 256 grey pixels).

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator``.
    tile_stride_ : int
        The resolved stride.
    n_channels_ : int
        Channels of the training images.
    n_tiles_ : int
        Number of training tiles.
    offset_ : float
        ``decision_function = score_samples - offset_``. With the inner estimator's
        ``contamination`` a float, its percentile of the training images' scores (as
        :class:`~sklearn.ensemble.IsolationForest` does); with ``"auto"`` (or no
        ``contamination``), the inner estimator's ``offset_``, then a threshold on the
        worst tile.

    See Also
    --------
    sklearn_igd.IGDDetector : The default tile detector; its local model is the same idea
        at the scale of small patches.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd import IGDDetector, TiledDetector
    >>> rng = np.random.RandomState(0)
    >>> X = (128 + 20 * rng.standard_normal((3, 48, 64))).clip(0, 255).astype(np.uint8)
    >>> tiny = IGDDetector(backbone="resnet18-lite", max_epochs=1, batch_size=8,
    ...                    pretrain=None, local=False, random_state=0)
    >>> det = TiledDetector(tiny, tile_size=16).fit(X)  # 5 x 7 tiles per image
    >>> det.predict_heatmap(X[:1]).shape
    (1, 48, 64)
    >>> det.predict(X).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "estimator": [None, HasMethods(["fit", "score_samples"])],
        "tile_size": [Interval(Integral, MIN_IMAGE_SIDE, None, closed="left")],
        "tile_stride": [None, Interval(Integral, 1, None, closed="left")],
        "tile_batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, estimator=None, *, tile_size=256, tile_stride=None, tile_batch_size="auto"):
        self.estimator = estimator
        self.tile_size = tile_size
        self.tile_stride = tile_stride
        self.tile_batch_size = tile_batch_size

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of ``estimator`` on the tiles of the training images.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C) or (n, C, H, W), or list of images
            Training images (uint8 0..255 or float 0..1, C in {1, 3}), each at least
            ``tile_size`` in height and width; a list may hold images of different
            sizes, each ``(H, W)``, ``(H, W, C)`` or ``(C, H, W)``.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : TiledDetector
            The fitted detector.
        """
        stride = self.tile_size // 2 if self.tile_stride is None else self.tile_stride
        if stride > self.tile_size:
            raise ValueError(
                f"tile_stride must be at most tile_size ({self.tile_size}), or tiles would "
                f"leave pixels uncovered; got tile_stride={stride}."
            )
        stride = max(1, stride)
        from ._detector import IGDDetector

        estimator = IGDDetector() if self.estimator is None else clone(self.estimator)
        if getattr(estimator, "image_size", None) is not None:
            raise ValueError(
                "The inner estimator's image_size must be None: TiledDetector gives it "
                f"tiles of {self.tile_size} x {self.tile_size} as they are; got "
                f"image_size={estimator.image_size!r}."
            )
        images = self._images(X, "training")
        tiles = [np.stack(list(self._tiles(img, stride))) for img in images]
        counts = [len(t) for t in tiles]
        tiles = np.concatenate(tiles)
        estimator.fit(tiles)
        tile_scores = -np.asarray(estimator.score_samples(tiles), dtype=np.float64)
        bounds = np.cumsum([0] + counts)
        scores = np.array([tile_scores[a:b].max() for a, b in zip(bounds[:-1], bounds[1:])])
        contamination = getattr(estimator, "contamination", "auto")
        if isinstance(contamination, Real) and not isinstance(contamination, bool):
            offset = float(np.percentile(-scores, 100.0 * contamination))
        else:
            offset = float(estimator.offset_)
        # set only now, so that a fit that fails leaves no half-fitted state
        self.estimator_, self.tile_stride_, self.offset_ = estimator, stride, offset
        self.n_channels_, self.n_tiles_ = images[0].shape[0], len(tiles)
        return self

    def anomaly_score(self, X):
        """The worst tile's score of each image: higher = more anomalous.

        Parameters
        ----------
        X : array-like or list of images
            As in :meth:`fit`: any size at least ``tile_size``, the fitted channels.

        Returns
        -------
        ndarray of shape (n_images,), float64
            ``max`` over the image's tiles of ``-estimator_.score_samples(tiles)`` (for an
            IGDDetector: its ``anomaly_score``).
        """
        check_is_fitted(self)
        out = []
        for img in self._images(X, "scored"):
            worst = -np.inf
            for batch in self._batches(img):
                tile = -np.asarray(self.estimator_.score_samples(batch), dtype=np.float64)
                worst = max(worst, float(tile.max()))
            out.append(worst)
        return np.asarray(out, dtype=np.float64)

    def predict_heatmap(self, X):
        """Per-pixel anomaly maps: the tiles' maps stitched back, overlaps averaged.

        Parameters
        ----------
        X : array-like or list of images
            As in :meth:`fit`: any size at least ``tile_size``, the fitted channels.

        Returns
        -------
        ndarray of shape (n_images, H, W), float64, or list of (H_i, W_i) arrays
            An array when all images have the same size, else a list. Each pixel is the
            mean of the maps (``estimator_.predict_heatmap``) of the tiles covering it.
        """
        check_is_fitted(self)
        if not hasattr(self.estimator_, "predict_heatmap"):
            raise AttributeError(
                f"predict_heatmap needs an inner estimator with predict_heatmap; "
                f"{type(self.estimator_).__name__} has none."
            )
        maps = []
        for img in self._images(X, "scored"):
            h, w = img.shape[-2:]
            total = np.zeros((h, w), dtype=np.float64)
            t = self.tile_size
            starts = iter(self._starts(img))
            for batch in self._batches(img):
                heat = np.asarray(self.estimator_.predict_heatmap(batch), dtype=np.float64)
                for tile_map in heat:
                    y, x = next(starts)
                    total[y : y + t, x : x + t] += tile_map
            maps.append(total / self._coverage(h, w))
        if len({m.shape for m in maps}) == 1:
            return np.stack(maps)
        return maps

    def score_samples(self, X):
        """Opposite of :meth:`anomaly_score`: higher = more normal.

        Parameters
        ----------
        X : array-like or list of images
            Images of at least ``tile_size`` in height and width, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_images,), float64
            Minus :meth:`anomaly_score`: higher = more normal.
        """
        return -self.anomaly_score(X)

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for anomalies.

        Parameters
        ----------
        X : array-like or list of images
            Images of at least ``tile_size`` in height and width, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_images,), float64
            Negative for the images that :meth:`predict` labels -1.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for normal images, -1 for anomalous ones (where the decision is < 0).

        Parameters
        ----------
        X : array-like or list of images
            Images of at least ``tile_size`` in height and width, as in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_images,), int
            +1 for normal images, -1 for anomalies.
        """
        decision = self.decision_function(X)
        labels = np.ones(decision.shape[0], dtype=int)
        labels[decision < 0] = -1
        return labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ---------------------------------------------------------------------- helpers
    def _images(self, X, what):
        """``X`` as a list of ``(C, H, W)`` arrays (views where possible), checked."""
        if hasattr(X, "detach"):  # a torch tensor
            X = X.detach().cpu().numpy()
        if isinstance(X, np.ndarray):
            if X.ndim not in (3, 4):
                raise ValueError(
                    "Expected images as an array (n, H, W), (n, H, W, C) or (n, C, H, W), "
                    f"or a list of images; got an array of shape {X.shape}."
                )
            X = _to_nchw(X)
            images = [X[i] for i in range(X.shape[0])]
        elif isinstance(X, (list, tuple)):
            images = []
            for i, img in enumerate(X):
                a = np.asarray(img)
                if a.ndim not in (2, 3):
                    raise ValueError(
                        f"Image {i} of the list has shape {a.shape}; expected (H, W), "
                        "(H, W, C) or (C, H, W)."
                    )
                images.append(a[None] if a.ndim == 2 else _to_nchw(a[None])[0])
        else:
            raise TypeError(
                f"Expected images as an array or a list of arrays; got {type(X).__name__}."
            )
        if not images:
            raise ValueError(f"Found no {what} images; expected at least one.")
        t = self.tile_size
        for i, img in enumerate(images):
            h, w = img.shape[-2:]
            if h < t or w < t:
                raise ValueError(
                    f"Every image must be at least tile_size x tile_size = {t} x {t} "
                    f"pixels; {what} image {i} is {h} x {w} (H x W). Use a smaller "
                    "tile_size or pass these images to the inner estimator directly."
                )
        channels = {img.shape[0] for img in images}
        fitted = getattr(self, "n_channels_", None) if what != "training" else None
        if fitted is None and len(channels) > 1:
            raise ValueError(
                f"All {what} images must have the same number of channels; got {sorted(channels)}."
            )
        if fitted is not None and channels != {fitted}:
            raise ValueError(
                f"TiledDetector was fitted on images with {self.n_channels_} channel(s); "
                f"the {what} images have {sorted(channels)}."
            )
        return images

    def _starts(self, img, stride=None):
        """Top-left corners ``(y, x)`` of the tiles of ``img`` (C, H, W), row-major."""
        stride = self.tile_stride_ if stride is None else stride
        ys, xs = patch_grid(img.shape[-2], img.shape[-1], self.tile_size, stride)
        return [(y, x) for y in ys.tolist() for x in xs.tolist()]

    def _tiles(self, img, stride=None):
        t = self.tile_size
        for y, x in self._starts(img, stride):
            yield img[:, y : y + t, x : x + t]

    def _batch_size(self, n_channels):
        if self.tile_batch_size != "auto":
            return int(self.tile_batch_size)
        return max(1, TILE_BATCH_VALUES // (n_channels * self.tile_size**2))

    def _batches(self, img):
        """The tiles of one image in batches ``(b, C, t, t)`` (a copy of one batch only)."""
        size = self._batch_size(img.shape[0])
        tiles = self._tiles(img)
        while True:
            batch = [tile for _, tile in zip(range(size), tiles)]
            if not batch:
                return
            yield np.stack(batch)

    def _coverage(self, h, w):
        """How many tiles cover each pixel of an ``h x w`` image: ``(h, w)`` float64."""
        ys, xs = patch_grid(h, w, self.tile_size, self.tile_stride_)
        rows, cols = np.zeros(h), np.zeros(w)
        for y in ys.tolist():
            rows[y : y + self.tile_size] += 1
        for x in xs.tolist():
            cols[x : x + self.tile_size] += 1
        return np.outer(rows, cols)
