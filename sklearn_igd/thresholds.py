"""Decision thresholds chosen on labelled validation data.

A fitted :class:`~sklearn_igd.IGDDetector` flags a sample as anomalous (``predict`` = -1)
where ``decision_function = score_samples - offset_`` is negative, i.e. where its anomaly
score ``s(x) = -score_samples(x)`` exceeds ``-offset_``. ``fit`` sets ``offset_`` from the
``contamination`` parameter. With a few labelled samples the threshold can be chosen for
the goal at hand instead:

- :func:`select_offset` returns the ``offset_`` for a fitted detector and a labelled
  validation set (``y``: +1 normal, -1 anomaly); set it with ``det.offset_ = ...`` or
  get a modified copy with :func:`with_offset`;
- :func:`select_score_threshold` does the same on raw anomaly scores (higher = more
  anomalous) and returns the threshold ``t``: anomalous where ``score > t``;
- :func:`select_pixel_threshold` chooses the threshold of pixel heatmaps
  (``predict_heatmap``) from ground-truth segmentation masks: a pixel is anomalous
  where ``heat > t``;
- :func:`select_global_score_weight` chooses how much the global model's part counts in
  the image score of a detector with the local model (``global_score_weight``), on
  labelled validation images or on held-back normal images and synthetic defects, and
  :func:`with_global_score_weight` sets it without fitting again.

Two criteria:

- ``criterion="f1"``: maximise the F1 score of the anomaly class. F1 mixes precision and
  recall, and precision depends on the share of anomalies in the validation set: the
  threshold is right for data with that share. If the validation set holds more
  anomalies (in share) than production data, the chosen threshold flags too much there.
- ``criterion="fpr"``: the threshold with the highest recall (detection rate) whose
  false-positive rate on the validation normals is at most ``max_fpr``. It only needs
  the normal samples to be representative; the anomalies only decide the recall among
  the thresholds that meet the constraint, and their share does not matter. The false
  alarm rate on new data is ``max_fpr`` only as far as the validation normals are
  representative, and with ``m`` normals the rate is known to about ``1 / m``.
- Without labels, the ``contamination`` parameter of the detector sets the threshold
  at a percentile of the training scores: it needs no labels but assumes the share of
  anomalies, and the training set (which the model has seen) stands in for new normals.

The threshold is placed halfway between the last validation score that is not flagged
and the first that is, so that the labels predicted on the validation data are exactly
those of the chosen point of the precision-recall or ROC curve (the curves come from
:func:`sklearn.metrics.precision_recall_curve` and :func:`sklearn.metrics.roc_curve`).
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.utils.validation import check_is_fitted

from .metrics import _check_both_classes, _check_masks_heatmaps

__all__ = [
    "best_global_score_weight",
    "select_global_score_weight",
    "select_offset",
    "select_score_threshold",
    "select_pixel_threshold",
    "standardised_score_parts",
    "with_global_score_weight",
    "with_offset",
]

_CRITERIA = ("f1", "fpr")


def _check_criterion(criterion, max_fpr):
    if criterion not in _CRITERIA:
        raise ValueError(f"criterion must be 'f1' or 'fpr'; received {criterion!r}.")
    if criterion == "fpr" and (
        not isinstance(max_fpr, numbers.Real)
        or isinstance(max_fpr, bool)
        or not 0.0 <= max_fpr <= 1.0
    ):
        raise ValueError(f"max_fpr must be a number in [0, 1]; received {max_fpr!r}.")


def _check_labels(y):
    """``y == -1`` as bool (n,); y must be 1-D and hold both +1 and -1, nothing else."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (n_samples,); received shape {y.shape}.")
    if y.dtype.kind not in "iuf":
        raise ValueError(
            f"y must hold the labels +1 (normal) and -1 (anomaly); received dtype {y.dtype}."
        )
    values = set(np.unique(y).tolist())
    if not values <= {1, -1}:
        raise ValueError(
            "y must hold the labels +1 (normal) and -1 (anomaly) only; received the "
            f"values {sorted(values)}."
        )
    if values != {1, -1}:
        only = f"only {int(next(iter(values))):+d}" if values else "no labels"
        raise ValueError(
            "y must hold both normal (+1) and anomalous (-1) samples to choose a "
            f"threshold; received {only}."
        )
    return y == -1


def _check_scores(scores, anomalous):
    """``scores`` as float64 (n,), finite, as long as the labels."""
    scores = np.asarray(scores)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D (n_samples,); received shape {scores.shape}.")
    if scores.shape[0] != anomalous.shape[0]:
        raise ValueError(
            f"scores and y must have the same length; received {scores.shape[0]} scores "
            f"and {anomalous.shape[0]} labels."
        )
    if scores.dtype.kind not in "biuf":
        raise ValueError(f"scores must be numeric; received dtype {scores.dtype}.")
    scores = scores.astype(np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(
            f"scores contain {int((~np.isfinite(scores)).sum())} NaN or infinite value(s)."
        )
    return scores


def _check_number(value, name, *, nonnegative=False):
    """``value`` as a float: a finite real number (not a bool), ``>= 0`` if asked."""
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not np.isfinite(value)
        or (nonnegative and value < 0)
    ):
        bound = " >= 0" if nonnegative else ""
        raise ValueError(f"{name} must be a finite number{bound}; received {value!r}.")
    return float(value)


def _strict_threshold(scores, flag_from):
    """A ``t`` with ``scores > t`` exactly where ``scores >= flag_from``.

    ``flag_from`` is a score value or +inf (flag nothing). Halfway between the largest
    score below ``flag_from`` and ``flag_from``; at or below the smallest score when
    every score is flagged.
    """
    flag_from = float(flag_from)
    if not np.isfinite(flag_from):
        return float(scores.max())
    below = scores[scores < flag_from]
    if below.size == 0:
        return float(np.nextafter(flag_from, -np.inf))
    lo = float(below.max())
    mid = lo + (flag_from - lo) / 2.0
    return mid if lo <= mid < flag_from else lo


def _select_threshold(scores, anomalous, criterion, max_fpr):
    """The threshold ``t`` (anomalous where ``scores > t``) of validated inputs."""
    if criterion == "f1":
        precision, recall, thresholds = precision_recall_curve(anomalous, scores)
        precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
        denominator = precision + recall
        f1 = np.divide(
            2 * precision * recall,
            denominator,
            out=np.zeros_like(denominator),
            where=denominator > 0,
        )
        # thresholds increase: ties go to the highest threshold (fewest flagged samples)
        best = len(f1) - 1 - int(np.argmax(f1[::-1]))
        return _strict_threshold(scores, thresholds[best])
    fpr, tpr, thresholds = roc_curve(anomalous, scores, drop_intermediate=False)
    # thresholds decrease and fpr, tpr grow along the curve: the points meeting the
    # constraint are a prefix; take its highest recall, reached first at the lowest fpr
    allowed = np.flatnonzero(fpr <= max_fpr)  # never empty: fpr[0] = 0
    best_tpr = tpr[allowed[-1]]
    best = int(allowed[np.argmax(tpr[allowed] >= best_tpr)])
    return _strict_threshold(scores, thresholds[best])


def select_score_threshold(scores, y, *, criterion="f1", max_fpr=0.05):
    """Choose the threshold of anomaly scores on labelled validation data.

    Parameters
    ----------
    scores : array-like of shape (n_samples,)
        Anomaly scores, higher = more anomalous (e.g. ``IGDDetector.anomaly_score``).
    y : array-like of shape (n_samples,)
        +1 for normal samples, -1 for anomalies; both must be present.
    criterion : {"f1", "fpr"}, default="f1"
        ``"f1"``: maximise the F1 score of the anomaly class (ties: the highest
        threshold). ``"fpr"``: the highest recall of anomalies whose false-positive
        rate on the normal samples is at most ``max_fpr`` (at equal recall, the lowest
        false-positive rate). See the module docstring for the trade-offs.
    max_fpr : float in [0, 1], default=0.05
        The largest share of the normal samples that may be flagged, with
        ``criterion="fpr"``.

    Returns
    -------
    threshold : float
        Flag a sample as anomalous where ``score > threshold``. It lies halfway between
        the highest unflagged and the lowest flagged validation score.

    Examples
    --------
    >>> from sklearn_igd.thresholds import select_score_threshold
    >>> scores = [0.1, 0.2, 0.3, 0.8, 0.9]
    >>> y = [1, 1, 1, -1, -1]
    >>> select_score_threshold(scores, y)
    0.55
    >>> select_score_threshold([0.1, 0.2, 0.5, 0.25, 1.0], y, criterion="fpr", max_fpr=0)
    0.75
    """
    _check_criterion(criterion, max_fpr)
    anomalous = _check_labels(y)
    scores = _check_scores(scores, anomalous)
    return _select_threshold(scores, anomalous, criterion, max_fpr)


def select_offset(detector, X, y, *, criterion="f1", max_fpr=0.05):
    """Choose a fitted detector's ``offset_`` on labelled validation data.

    The anomaly score is ``-detector.score_samples(X)``; the returned offset is minus
    the threshold of :func:`select_score_threshold`, so that with
    ``detector.offset_ = offset``, ``predict(X)`` gives -1 exactly on the validation
    samples flagged by the chosen criterion. It works for every detector whose
    ``decision_function`` is ``score_samples - offset_`` and whose ``predict`` is -1
    where that is negative (:class:`~sklearn_igd.IGDDetector`,
    :class:`~sklearn.ensemble.IsolationForest`,
    :class:`~sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``).

    The detector is not modified: set ``detector.offset_ = offset``, or use
    :func:`with_offset` for a modified copy. ``clone`` or a new ``fit`` resets the
    offset from ``contamination``.

    Parameters
    ----------
    detector : fitted outlier detector
        An :class:`~sklearn_igd.IGDDetector` or another detector with ``score_samples``
        and ``offset_``.
    X : array-like
        Validation samples (images for an ``IGDDetector``), normal and anomalous, that
        were not used for fitting.
    y : array-like of shape (n_samples,)
        +1 normal, -1 anomaly.
    criterion : {"f1", "fpr"}, default="f1"
        See :func:`select_score_threshold`.
    max_fpr : float in [0, 1], default=0.05
        See :func:`select_score_threshold`.

    Returns
    -------
    offset : float
        The ``offset_`` that makes ``predict`` flag the chosen validation samples.
    """
    _check_criterion(criterion, max_fpr)
    check_is_fitted(detector)
    if not hasattr(detector, "score_samples"):
        raise TypeError(
            f"detector must have a score_samples method; received {type(detector).__name__}."
        )
    anomalous = _check_labels(y)
    n = len(X)
    if n != anomalous.shape[0]:
        raise ValueError(
            f"X and y must have the same number of samples; received {n} and {anomalous.shape[0]}."
        )
    scores = _check_scores(-np.asarray(detector.score_samples(X), dtype=np.float64), anomalous)
    return -_select_threshold(scores, anomalous, criterion, max_fpr)


def with_offset(detector, offset):
    """A deep copy of a fitted detector with ``offset_`` set to ``offset``.

    The original is left as it is (its networks are copied too: for a large model,
    setting ``detector.offset_ = offset`` in place saves the memory).

    Parameters
    ----------
    detector : fitted outlier detector
        A detector with an ``offset_`` attribute.
    offset : float
        E.g. from :func:`select_offset`.

    Returns
    -------
    detector : fitted outlier detector
        A deep copy of ``detector`` with ``offset_ = offset``.
    """
    check_is_fitted(detector, "offset_")
    offset = _check_number(offset, "offset")
    new = copy.deepcopy(detector)
    new.offset_ = offset
    return new


def select_pixel_threshold(masks, heatmaps, *, criterion="f1", max_fpr=0.05):
    """Choose the threshold of pixel heatmaps on ground-truth segmentation masks.

    Every pixel is a sample: anomalous where its mask is nonzero, scored by its heatmap
    value (``IGDDetector.predict_heatmap``: higher = more anomalous). The criteria are
    those of :func:`select_score_threshold`, on pixels: ``"f1"`` maximises the pixel F1
    of the defect class (it depends on the share of defective pixels, so on how many
    defect-free images the validation set holds and on the size of the defects);
    ``"fpr"`` flags at most ``max_fpr`` of the defect-free pixels (of all images).

    Parameters
    ----------
    masks : array-like of shape (n_images, H, W)
        Ground truth, bool or numeric (nonzero = anomalous pixel); both kinds of pixel
        must be present.
    heatmaps : array-like of shape (n_images, H, W)
        Anomaly maps of the same images.
    criterion : {"f1", "fpr"}, default="f1"
        See :func:`select_score_threshold`.
    max_fpr : float in [0, 1], default=0.05
        With ``criterion="fpr"``: the largest share of defect-free pixels to flag.

    Returns
    -------
    threshold : float
        Segment a pixel as anomalous where ``heat > threshold``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.thresholds import select_pixel_threshold
    >>> masks = np.zeros((1, 4, 4), bool); masks[0, :2, :2] = True
    >>> heat = np.where(masks, 3.0, 1.0)
    >>> select_pixel_threshold(masks, heat)
    2.0
    """
    _check_criterion(criterion, max_fpr)
    anomalous, heatmaps = _check_masks_heatmaps(masks, heatmaps)
    _check_both_classes(anomalous, "select_pixel_threshold")
    return _select_threshold(
        heatmaps.ravel().astype(np.float64), anomalous.ravel(), criterion, max_fpr
    )


#: The values of ``global_score_weight`` that :func:`select_global_score_weight` tries
#: by default: the local part alone, the package's default (1) and values around it.
GLOBAL_SCORE_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def _check_combined(detector):
    """A fitted ``IGDDetector`` whose score has two weighted parts (the local model)."""
    check_is_fitted(detector)
    if getattr(detector, "score_weights_", None) is None:
        raise ValueError(
            "the detector's score has no global_score_weight: it was fitted without the "
            "local model (local=False, or 2-D input), so its score is the global model's "
            "alone."
        )


def standardised_score_parts(detector, X):
    """The two standardised parts of a fitted detector's image score.

    With the local model, :meth:`~sklearn_igd.IGDDetector.anomaly_score` is
    ``w * z_G + z_L``, ``w = global_score_weight``, where ``z_G`` and ``z_L`` are the
    global and the local score standardised by their means and standard deviations over
    the training images (``score_center_``, ``score_scale_``).

    Parameters
    ----------
    detector : fitted IGDDetector
        Fitted with the local model.
    X : array-like
        Images in one of the layouts accepted by ``fit``.

    Returns
    -------
    z_global, z_local : ndarray of shape (n_samples,), float64
    """
    _check_combined(detector)
    parts = detector.score_parts(X)
    z_global, z_local = detector._standardised(parts.global_score, parts.local_score)
    return z_global, z_local


def best_global_score_weight(z_global, z_local, anomalous, weights, current=1.0, margin=0.0):
    """The candidate weight whose score ``w * z_global + z_local`` ranks anomalies best.

    The rule of :func:`select_global_score_weight`, on parts already computed (for
    example by :func:`standardised_score_parts`).

    Parameters
    ----------
    z_global, z_local : array-like of shape (n_samples,)
        The standardised global and local parts of the score.
    anomalous : array-like of shape (n_samples,), bool
        True for the anomalies; both classes must be present.
    weights : sequence of float
        The candidates.
    current : float, default=1.0
        Among candidates with equal ROC AUC, the one closest to this value is chosen
        (then the larger).
    margin : float, default=0.0
        The best candidate is chosen only if its ROC AUC is at least ``margin`` above
        that of ``current`` (which need not be a candidate); otherwise ``current`` is
        kept.

    Returns
    -------
    weight : float
        The chosen candidate, or ``current``.
    aucs : ndarray of shape (len(weights),)
        The ROC AUC of every candidate.

    Examples
    --------
    >>> from sklearn_igd.thresholds import best_global_score_weight
    >>> weight, aucs = best_global_score_weight(
    ...     [0.0, 0.0, 5.0, -5.0], [0.0, 1.0, 2.0, 3.0], [False, False, True, True], [0, 1]
    ... )
    >>> weight, aucs.tolist()
    (0.0, [1.0, 0.5])
    """
    from sklearn.metrics import roc_auc_score

    z_global = np.asarray(z_global, dtype=np.float64)
    z_local = np.asarray(z_local, dtype=np.float64)
    weights = [float(w) for w in weights]
    aucs = np.array([roc_auc_score(anomalous, w * z_global + z_local) for w in weights])
    best = np.flatnonzero(aucs == aucs.max())
    order = sorted(best, key=lambda i: (abs(weights[i] - current), -weights[i]))
    if margin > 0:
        current_auc = roc_auc_score(anomalous, current * z_global + z_local)
        if aucs.max() < current_auc + margin:
            return float(current), aucs
    return float(weights[order[0]]), aucs


#: the least ROC AUC gain over the current weight that moves it, on synthetic defects
SYNTHETIC_WEIGHT_MARGIN = 0.02
#: the synthetic defects without labels (``defect_params=None``): thin horizontal
#: strips of 0.5-3% of the image, chosen on validation sets over the CutPaste paper's
#: 2-15% rectangles (``benchmarks/results/synthetic_weight.md``)
SYNTHETIC_DEFECT_PARAMS = MappingProxyType({"area": (0.005, 0.03), "aspect": (0.05, 0.2)})
#: the keyword arguments of ``make_cutpaste_defects`` that ``defect_params`` may set
_DEFECT_PARAMS = frozenset({"area", "aspect", "jitter"})


def select_global_score_weight(
    detector,
    X,
    y=None,
    *,
    weights=GLOBAL_SCORE_WEIGHTS,
    margin="auto",
    n_copies=5,
    defect_params=None,
    random_state=None,
):
    """Choose ``global_score_weight`` on validation images, labelled or not.

    A detector with the local model scores an image by ``w * z_G + z_L`` (see
    :func:`standardised_score_parts`): ``w = 0`` ranks by the local part alone, which
    suits small defects on a normal surface; larger values lean on the global model,
    which sees a whole image of another kind. The default (1) is a compromise. This
    function scores validation images once and returns the candidate weight whose score
    ranks their anomalies highest (ROC AUC). The models are the same for every weight:
    set the result with :func:`with_global_score_weight` (no new fit) or pass it to
    ``IGDDetector(global_score_weight=...)`` for the next fit.

    - With labels ``y``: ``X`` holds normal images and a few anomalies of the kind that
      matters. With few labelled images the choice is noisy;
      ``benchmarks/results/weight_selection.md`` measures how many are needed.
    - Without labels (``y=None``): ``X`` holds normal images the detector was **not**
      fitted on (hold some back from the training images), and the anomalies are
      ``n_copies`` CutPaste copies of each (:func:`~sklearn_igd.datasets.make_cutpaste_defects`:
      a thin strip of the image, 0.5-3% of its area, pasted elsewhere in it). The
      weight then moves from the current one only where that ranks the synthetic local
      defects at least ``margin`` (0.02) better: where the global part dilutes local
      defects, towards the local part; where both parts see them alike, the weight
      stays. On 41 held-out and fresh sets (``benchmarks/results/synthetic_weight.md``)
      the mean test image ROC AUC rose from 0.897 to 0.920 (gains on textures and
      photographs) and no set fell. With the margin at 0.01 four of 22 silhouette sets
      fell by up to 0.65: where the anomalies are whole other objects, which only the
      global part sees, no synthetic local defect can tell the rule so, and on one set
      the gain fell short of the 0.02 margin by only 0.002. Use it for local defects;
      otherwise keep the default weight.

    Parameters
    ----------
    detector : fitted IGDDetector
        Fitted with the local model.
    X : array-like
        Validation images not used for fitting: normal and anomalous with ``y``,
        normal only without.
    y : array-like of shape (n_samples,) or None, default=None
        +1 normal, -1 anomaly; None for the synthetic defects.
    weights : sequence of float >= 0, default=GLOBAL_SCORE_WEIGHTS
        The candidates, ``(0, 0.25, 0.5, 1, 2, 4)``.
    margin : float >= 0 or "auto", default="auto"
        The least ROC AUC gain over the detector's current weight for which the best
        candidate replaces it. ``"auto"``: 0 with labels, 0.02 without
        (:data:`SYNTHETIC_WEIGHT_MARGIN`).
    n_copies : int >= 1, default=5
        CutPaste copies of each image when ``y`` is None.
    defect_params : dict (mapping) or None, default=None
        Keyword arguments of :func:`~sklearn_igd.datasets.make_cutpaste_defects`
        for the synthetic defects when ``y`` is None: ``area``, ``aspect`` and
        ``jitter``. None: :data:`SYNTHETIC_DEFECT_PARAMS`, thin strips
        (``area=(0.005, 0.03), aspect=(0.05, 0.2)``); ``{}``: that function's
        defaults, the CutPaste paper's rectangles of 2-15% of the image.
    random_state : int, RandomState instance or None, default=None
        The synthetic defects when ``y`` is None. Pass an int for a reproducible
        choice.

    Returns
    -------
    weight : float
        The candidate with the highest ROC AUC (among equal ones the one closest to the
        detector's current weight), or the current weight if no candidate beats it by
        ``margin``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd import IGDDetector
    >>> from sklearn_igd.datasets import make_texture_defects
    >>> from sklearn_igd.thresholds import select_global_score_weight, with_global_score_weight
    >>> data = make_texture_defects("brick", n_train=40, n_test=16, size=32, random_state=0)
    >>> X_fit, X_held = data.images_train[:32], data.images_train[32:]
    >>> det = IGDDetector(
    ...     max_epochs=1, local=True, local_epochs=1, feature_map=False, random_state=0
    ... ).fit(X_fit)
    >>> w = select_global_score_weight(det, data.images_test, data.y_test)  # labelled
    >>> w in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    True
    >>> w = select_global_score_weight(det, X_held, random_state=0)  # no labels
    >>> w in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    True
    >>> rectangles = {}  # make_cutpaste_defects' defaults instead of thin strips
    >>> w = select_global_score_weight(det, X_held, defect_params=rectangles, random_state=0)
    >>> w in (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
    True
    >>> tuned = with_global_score_weight(det, w, X_fit)  # no new fit
    >>> float(tuned.score_weights_[0]) == w == tuned.global_score_weight
    True
    """
    _check_combined(detector)
    weights = [
        _check_number(w, "every weight", nonnegative=True) for w in np.atleast_1d(weights).tolist()
    ]
    if not weights:
        raise ValueError("weights must hold at least one candidate; received none.")
    if isinstance(margin, str) and margin == "auto":
        margin = 0.0 if y is not None else SYNTHETIC_WEIGHT_MARGIN
    else:
        margin = _check_number(margin, "margin", nonnegative=True)
    if y is None:
        from .datasets import make_cutpaste_defects

        if (
            not isinstance(n_copies, numbers.Integral)
            or isinstance(n_copies, bool)
            or n_copies < 1
        ):
            raise ValueError(f"n_copies must be an integer >= 1; received {n_copies!r}.")
        defect_params = SYNTHETIC_DEFECT_PARAMS if defect_params is None else defect_params
        if not isinstance(defect_params, Mapping) or set(defect_params) - _DEFECT_PARAMS:
            raise ValueError(
                f"defect_params must be None or a dict with keys among "
                f"{sorted(_DEFECT_PARAMS)}; received {defect_params!r}."
            )
        X = np.asarray(X)
        synthetic, _ = make_cutpaste_defects(
            X, n_copies=n_copies, random_state=random_state, **defect_params
        )
        anomalous = np.r_[np.zeros(len(X), bool), np.ones(len(synthetic), bool)]
        X = np.concatenate([X, synthetic])
    else:
        anomalous = _check_labels(y)
        if len(X) != anomalous.shape[0]:  # before the images are scored
            raise ValueError(
                f"X and y must have the same number of samples; received {len(X)} "
                f"and {anomalous.shape[0]}."
            )
    z_global, z_local = standardised_score_parts(detector, X)
    current = float(detector.score_weights_[0])
    return best_global_score_weight(z_global, z_local, anomalous, weights, current, margin)[0]


def with_global_score_weight(detector, weight, X_train=None):
    """A deep copy of a fitted detector with ``global_score_weight`` set to ``weight``.

    The weight changes the image score and ``offset_``, not the models, so the copy is
    what ``fit`` with ``global_score_weight=weight`` gives (the same training images and
    parameters), without training again. With a float ``contamination`` the offset is
    that percentile of the training images' new scores, so ``X_train`` (the images the
    detector was fitted on) is required; with ``"auto"`` the offset does not depend on
    the scores.

    Parameters
    ----------
    detector : fitted IGDDetector
        Fitted with the local model.
    weight : float >= 0
        E.g. from :func:`select_global_score_weight`.
    X_train : array-like or None, default=None
        The training images, for a float ``contamination``.

    Returns
    -------
    detector : fitted IGDDetector
        A deep copy with ``global_score_weight``, ``score_weights_`` and ``offset_``
        updated.
    """
    _check_combined(detector)
    weight = _check_number(weight, "weight", nonnegative=True)
    contamination = detector.contamination
    if contamination != "auto" and X_train is None:
        raise ValueError(
            f"with contamination={contamination!r} the offset is a percentile of the "
            "training images' scores: pass the images the detector was fitted on as "
            "X_train."
        )
    new = copy.deepcopy(detector)
    new.global_score_weight = weight
    new.score_weights_ = np.array([weight, 1.0])
    if contamination != "auto":
        new._set_offset(new.anomaly_score(X_train))  # as fit sets it
    return new
