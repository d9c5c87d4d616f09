"""Anomaly localisation metrics for pixel anomaly maps (MVTec AD style).

Both metrics compare ground-truth segmentation ``masks`` with predicted
``heatmaps`` (anomaly maps) of the same shape ``(n_images, H, W)``:

- ``masks`` may be bool or numeric (usually 0/1); a nonzero pixel is
  anomalous, a zero pixel is normal.
- ``heatmaps`` are real, finite scores; a higher value means a more
  anomalous pixel. Only the order of the values matters, so both metrics
  are invariant to any strictly increasing transform of the heatmaps.

:func:`pixel_roc_auc` is the pixel-level area under the ROC curve, pooled
over all pixels (the MVTec AD convention) or averaged over the anomalous
test images (the localisation metric of the IGD paper [2]_). :func:`aupro` is the
normalised area under the per-region-overlap (PRO) curve of Bergmann et al. [1]_,
which weights every connected anomalous region equally, whatever its size.

References
----------
.. [1] P. Bergmann, K. Batzner, M. Fauser, D. Sattlegger and C. Steger.
   "The MVTec Anomaly Detection Dataset: A Comprehensive Real-World Dataset
   for Unsupervised Anomaly Detection". International Journal of Computer
   Vision 129, 1038-1059, 2021.
.. [2] Y. Chen, Y. Tian, G. Pang and G. Carneiro. "Deep One-Class
   Classification via Interpolated Gaussian Descriptor". AAAI 2022.
"""

import numbers

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score

__all__ = ["pixel_roc_auc", "aupro"]

_AVERAGES = ("pooled", "per_image")


def _check_masks_heatmaps(masks, heatmaps):
    """Validate and return ``(anomalous, heatmaps)`` as ndarrays.

    ``anomalous`` is a bool array (nonzero mask pixels), ``heatmaps`` a real
    array of the same 3-D shape with finite values.
    """
    masks = np.asarray(masks)
    heatmaps = np.asarray(heatmaps)
    if masks.ndim != 3:
        raise ValueError(
            "masks must be a 3-D array of shape (n_images, H, W); received an "
            f"array of shape {masks.shape}. For a single image use masks[None]."
        )
    if heatmaps.ndim != 3:
        raise ValueError(
            "heatmaps must be a 3-D array of shape (n_images, H, W); received an "
            f"array of shape {heatmaps.shape}. For a single image use "
            "heatmaps[None]."
        )
    if masks.shape != heatmaps.shape:
        raise ValueError(
            "masks and heatmaps must have the same shape (n_images, H, W); "
            f"received masks of shape {masks.shape} and heatmaps of shape "
            f"{heatmaps.shape}."
        )
    if masks.dtype.kind not in "biuf":
        raise ValueError(
            "masks must be bool or numeric (0 = normal, nonzero = anomalous); "
            f"received dtype {masks.dtype}."
        )
    if heatmaps.dtype.kind not in "biuf":
        raise ValueError(
            "heatmaps must hold real numbers (higher = more anomalous); "
            f"received dtype {heatmaps.dtype}."
        )
    if masks.dtype.kind == "f" and not np.isfinite(masks).all():
        raise ValueError(
            "masks contain NaN or infinity; expected 0 (normal) or nonzero "
            "finite values (anomalous)."
        )
    if heatmaps.dtype.kind == "b":
        heatmaps = heatmaps.astype(np.uint8)
    elif heatmaps.dtype.kind == "f":
        n_bad = heatmaps.size - np.count_nonzero(np.isfinite(heatmaps))
        if n_bad:
            raise ValueError(
                f"heatmaps contain {n_bad} NaN or infinite value(s); expected "
                "finite anomaly scores."
            )
    return masks != 0, heatmaps


def _check_both_classes(anomalous, what):
    n_anomalous = int(np.count_nonzero(anomalous))
    n_normal = anomalous.size - n_anomalous
    if n_anomalous == 0 or n_normal == 0:
        raise ValueError(
            f"{what} needs at least one anomalous (nonzero) and one normal (zero) "
            f"mask pixel; received {n_anomalous} anomalous and {n_normal} normal "
            f"pixels in masks of shape {anomalous.shape}."
        )
    return n_anomalous, n_normal


def pixel_roc_auc(masks, heatmaps, *, average="pooled"):
    """Pixel-level area under the ROC curve of anomaly maps.

    Every pixel is a sample: its ground-truth label is anomalous (mask
    nonzero) or normal (mask zero), and its score is the heatmap value.
    Ties count one half, as in :func:`sklearn.metrics.roc_auc_score`.

    Parameters
    ----------
    masks : array-like of shape (n_images, H, W)
        Ground-truth segmentation masks, bool or numeric; nonzero pixels are
        anomalous, zero pixels normal.
    heatmaps : array-like of shape (n_images, H, W)
        Predicted anomaly maps, finite real values; higher means more
        anomalous.
    average : {"pooled", "per_image"}, default="pooled"
        - ``"pooled"``: one ROC AUC over all pixels of all images together,
          the usual pixel AUROC of MVTec AD. Needs at least one anomalous
          and one normal pixel overall.
        - ``"per_image"``: the ROC AUC of each image that has both anomalous
          and normal pixels, averaged with equal weight per image (the
          localisation metric of the IGD paper: mean pixel AUC over the
          anomalous test images). Images without anomalous pixels (normal
          test images) or without normal pixels are skipped; at least one
          image must qualify.

    Returns
    -------
    auc : float
        Area under the ROC curve, in [0, 1]; 0.5 is a random detector.

    Raises
    ------
    ValueError
        If the arrays are not 3-D of equal shape, the heatmaps hold NaN or
        infinity, ``average`` is unknown, or no anomalous (or no normal)
        pixel is available as described above.

    See Also
    --------
    aupro : Area under the per-region-overlap curve, which weights small
        and large defects equally.
    sklearn.metrics.roc_auc_score : The underlying binary ROC AUC.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.metrics import pixel_roc_auc
    >>> masks = np.zeros((2, 4, 4), dtype=bool)
    >>> masks[0, :2, :2] = True            # a 2x2 defect in image 0
    >>> masks[1, 3, 3] = True              # a one-pixel defect in image 1
    >>> heatmaps = np.zeros((2, 4, 4))
    >>> heatmaps[0, :2, :2] = 1.0          # image 0: defect found exactly
    >>> heatmaps[1, 0, 0] = 1.0            # image 1: a false alarm, defect missed
    >>> round(pixel_roc_auc(masks, heatmaps), 4)   # 119 / 135 pixel pairs
    0.8815
    >>> round(pixel_roc_auc(masks, heatmaps, average="per_image"), 4)  # (1 + 7/15) / 2
    0.7333
    """
    if isinstance(average, str) and average in _AVERAGES:
        pass
    else:
        raise ValueError(f"average must be one of {_AVERAGES}; received average={average!r}.")
    anomalous, heatmaps = _check_masks_heatmaps(masks, heatmaps)
    if average == "pooled":
        _check_both_classes(anomalous, 'pixel_roc_auc(average="pooled")')
        return float(roc_auc_score(anomalous.ravel(), heatmaps.ravel()))

    n_pixels = anomalous.shape[1] * anomalous.shape[2]
    n_anomalous = np.count_nonzero(anomalous.reshape(len(anomalous), -1), axis=1)
    qualifies = (n_anomalous > 0) & (n_anomalous < n_pixels)
    if not qualifies.any():
        raise ValueError(
            'pixel_roc_auc(average="per_image") needs at least one image with '
            "both anomalous (nonzero) and normal (zero) mask pixels; received "
            f"{len(anomalous)} image(s) of shape {anomalous.shape[1:]} with "
            f"anomalous pixel counts {n_anomalous.tolist()[:10]}"
            f"{' ...' if len(anomalous) > 10 else ''}."
        )
    aucs = [
        roc_auc_score(anomalous[i].ravel(), heatmaps[i].ravel()) for i in np.flatnonzero(qualifies)
    ]
    return float(np.mean(aucs))


def _check_fpr_limit(fpr_limit):
    if (
        not isinstance(fpr_limit, numbers.Real)
        or isinstance(fpr_limit, bool)
        or not 0.0 < fpr_limit <= 1.0
    ):
        raise ValueError(
            f"fpr_limit must be a real number in (0, 1]; received fpr_limit={fpr_limit!r}."
        )
    return float(fpr_limit)


def _check_num_thresholds(num_thresholds):
    if num_thresholds is None:
        return None
    if (
        not isinstance(num_thresholds, numbers.Integral)
        or isinstance(num_thresholds, bool)
        or num_thresholds < 2
    ):
        raise ValueError(
            "num_thresholds must be None (exact, every distinct heatmap value) "
            f"or an int >= 2; received num_thresholds={num_thresholds!r}."
        )
    return int(num_thresholds)


def _area_up_to(x, y, x_max):
    """Trapezoid area under the curve ``(x, y)`` for ``x`` in [0, x_max].

    ``x`` is non-decreasing, starts at 0 and ends at or beyond ``x_max``; the
    curve is linearly interpolated at exactly ``x_max``.
    """
    n_in = int(np.searchsorted(x, x_max, side="right"))  # points with x <= x_max
    xs, ys = x[:n_in], y[:n_in]
    if xs[-1] < x_max:
        x0, x1, y0, y1 = x[n_in - 1], x[n_in], y[n_in - 1], y[n_in]
        y_max = y0 + (x_max - x0) * (y1 - y0) / (x1 - x0)
        xs, ys = np.append(xs, x_max), np.append(ys, y_max)
    return float(np.sum(np.diff(xs) * (ys[1:] + ys[:-1]) / 2.0))


def _pro_curve(anomalous, heatmaps, num_thresholds):
    """FPR and PRO at decreasing thresholds, starting at the point (0, 0)."""
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connectivity within each image, never across images
    labels, n_regions = ndimage.label(anomalous, structure=structure)
    region_sizes = np.bincount(labels.ravel())

    # Per-pixel contributions: an anomalous pixel adds 1 / (|region| n_regions)
    # to PRO, a normal pixel adds 1 / n_normal to FPR (counted as an integer).
    labels = labels.ravel()
    values = heatmaps.ravel()
    order = np.argsort(values, kind="stable")
    values = values[order]
    labels = labels[order]
    pro_weight = np.zeros(values.shape, dtype=np.float64)
    in_region = labels > 0
    pro_weight[in_region] = 1.0 / (region_sizes[labels[in_region]] * n_regions)
    normal = ~in_region
    n_normal = int(np.count_nonzero(normal))

    # Suffix sums: entry k holds the total over pixels k, k+1, ... (sorted
    # ascending), i.e. over all pixels whose value is >= values[k]; entry n is 0.
    pro_suffix = np.append(np.cumsum(pro_weight[::-1])[::-1], 0.0)
    normal_suffix = np.append(np.cumsum(normal[::-1])[::-1], 0)

    if num_thresholds is None:
        # Exact: every distinct value is a threshold; k is the first index of
        # each group of equal values, so ties enter the curve together.
        k = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    else:
        thresholds = np.linspace(values[0], values[-1], num_thresholds)
        k = np.searchsorted(values, thresholds, side="left")
    k = k[::-1]  # decreasing thresholds: FPR and PRO grow
    fpr = np.r_[0.0, normal_suffix[k] / n_normal]
    pro = np.r_[0.0, np.clip(pro_suffix[k], 0.0, 1.0)]
    return fpr, pro


def aupro(masks, heatmaps, *, fpr_limit=0.3, num_thresholds=None):
    """Normalised area under the per-region-overlap (PRO) curve.

    The metric of Bergmann et al. [1]_ for anomaly localisation on MVTec AD.
    The anomalous pixels of each mask are split into connected regions
    (8-connectivity, per image). For a threshold ``t`` a pixel is predicted
    anomalous when ``heatmap >= t``, and

    - ``PRO(t)`` is the mean, over all regions of all images, of the share
      of the region's pixels predicted anomalous;
    - ``FPR(t)`` is the share of all normal pixels (of all images) predicted
      anomalous.

    The curve ``(FPR(t), PRO(t))``, running from (0, 0) for a threshold above
    every value to (1, 1) for the lowest value, is integrated with the
    trapezoid rule for FPR in ``[0, fpr_limit]`` (interpolating linearly at
    exactly ``fpr_limit``) and divided by ``fpr_limit``. Unlike the pixel
    AUROC, a large defect does not outweigh a small one, and the false
    positive rate is restricted to the low range that matters in practice.

    Parameters
    ----------
    masks : array-like of shape (n_images, H, W)
        Ground-truth segmentation masks, bool or numeric; nonzero pixels are
        anomalous, zero pixels normal. At least one anomalous and one normal
        pixel overall are required; images without defects only contribute
        normal pixels.
    heatmaps : array-like of shape (n_images, H, W)
        Predicted anomaly maps, finite real values; higher means more
        anomalous.
    fpr_limit : float, default=0.3
        Upper integration limit of the false positive rate, in (0, 1]. The
        MVTec AD benchmark uses 0.3.
    num_thresholds : int or None, default=None
        If None, the exact curve: every distinct heatmap value is a threshold
        (computed in ``O(N log N)`` for ``N`` pixels by sorting the pixels
        once). If an int >= 2, that many thresholds evenly spaced between the
        minimum and the maximum heatmap value, a coarser approximation.

    Returns
    -------
    aupro : float
        Area under the PRO curve up to ``fpr_limit``, divided by
        ``fpr_limit``, in [0, 1]: 1.0 for a perfect map (every anomalous
        pixel scored above every normal pixel) and about ``fpr_limit / 2``
        (0.15 for the default) for a random map, whose PRO is close to its
        FPR.

    Raises
    ------
    ValueError
        If the arrays are not 3-D of equal shape, the heatmaps hold NaN or
        infinity, there is no anomalous or no normal pixel, or
        ``fpr_limit`` or ``num_thresholds`` is out of range.

    See Also
    --------
    pixel_roc_auc : Pixel-level ROC AUC, pooled or per image.

    References
    ----------
    .. [1] P. Bergmann, K. Batzner, M. Fauser, D. Sattlegger and C. Steger.
       "The MVTec Anomaly Detection Dataset: A Comprehensive Real-World
       Dataset for Unsupervised Anomaly Detection". International Journal of
       Computer Vision 129, 1038-1059, 2021.

    Examples
    --------
    A large and a small defect; the map finds the large one at zero false
    positive rate but scores the small one like the background's top pixel:

    >>> import numpy as np
    >>> from sklearn_igd.metrics import aupro
    >>> masks = np.zeros((1, 5, 5), dtype=int)
    >>> masks[0, :2, :2] = 1               # region A, 4 pixels
    >>> masks[0, 4, 4] = 1                 # region B, 1 pixel
    >>> heatmaps = np.zeros((1, 5, 5))
    >>> heatmaps[masks == 1] = 0.9         # both regions fully above ...
    >>> heatmaps[0, 4, 4] = 0.5            # ... except B, tied with ...
    >>> heatmaps[0, 2, 2] = 0.5            # ... one of the 20 normal pixels
    >>> round(aupro(masks, heatmaps), 4)   # PRO 0.5 at FPR 0, 1 from FPR 0.05
    0.9583
    >>> round(aupro(masks, heatmaps > 0.7), 4)  # binary map: B tied with background
    0.575
    """
    fpr_limit = _check_fpr_limit(fpr_limit)
    num_thresholds = _check_num_thresholds(num_thresholds)
    anomalous, heatmaps = _check_masks_heatmaps(masks, heatmaps)
    _check_both_classes(anomalous, "aupro")
    fpr, pro = _pro_curve(anomalous, heatmaps, num_thresholds)
    return _area_up_to(fpr, pro, fpr_limit) / fpr_limit
