"""Thresholds chosen on labelled validation data (sklearn_igd.thresholds)."""

import pickle

import numpy as np
import pytest
from conftest import FAST, FAST_LOCAL
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import f1_score, roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import load_digits_images, make_cutpaste_defects
from sklearn_igd.thresholds import (
    GLOBAL_SCORE_WEIGHTS,
    SYNTHETIC_DEFECT_PARAMS,
    SYNTHETIC_WEIGHT_MARGIN,
    best_global_score_weight,
    select_global_score_weight,
    select_offset,
    select_pixel_threshold,
    select_score_threshold,
    standardised_score_parts,
    with_global_score_weight,
    with_offset,
)


def _f1(scores, y, t):
    return f1_score(y == -1, scores > t)


def _rates(scores, y, t):
    """(false-positive rate on normals, recall on anomalies) of ``scores > t``."""
    flagged = scores > t
    return flagged[y == 1].mean(), flagged[y == -1].mean()


def _candidates(scores):
    """Thresholds giving every possible flagging of ``scores`` (> t)."""
    values = np.unique(scores)
    return np.concatenate([[values[0] - 1.0], values])


def _random_problem(seed, n=60, ties=False):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.3, -1, 1)
    y[:2] = [1, -1]
    scores = rng.normal(size=n) + 1.2 * (y == -1)
    if ties:
        scores = np.round(scores, 1)  # many tied scores, across classes too
    return scores, y


def test_separable_scores_give_f1_one_and_a_threshold_between_the_classes():
    y = np.array([1, 1, 1, 1, -1, -1])
    scores = np.array([0.0, 0.3, 0.2, 1.0, 3.0, 5.0])
    t = select_score_threshold(scores, y)
    assert t == 2.0  # halfway between the top normal (1.0) and the bottom anomaly (3.0)
    assert _f1(scores, y, t) == 1.0
    # the FPR criterion reaches full recall without a false positive, at the same point
    assert select_score_threshold(scores, y, criterion="fpr", max_fpr=0.0) == 2.0


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
def test_f1_threshold_is_the_best_of_all_thresholds(seed, ties):
    scores, y = _random_problem(seed, ties=ties)
    t = select_score_threshold(scores, y)
    best = max(_f1(scores, y, c) for c in _candidates(scores))
    assert _f1(scores, y, t) == pytest.approx(best, abs=1e-12)
    # t lies between validation scores: the flagging is that of a curve point
    assert t not in set(scores.tolist())


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("max_fpr", [0.0, 0.05, 0.1, 0.25, 1.0])
def test_fpr_threshold_meets_the_constraint_with_the_best_recall(seed, ties, max_fpr):
    scores, y = _random_problem(seed, ties=ties)
    t = select_score_threshold(scores, y, criterion="fpr", max_fpr=max_fpr)
    fpr, recall = _rates(scores, y, t)
    assert fpr <= max_fpr
    feasible = [_rates(scores, y, c) for c in _candidates(scores)]
    feasible = [(f, r) for f, r in feasible if f <= max_fpr]
    best_recall = max(r for _, r in feasible)
    assert recall == best_recall
    assert fpr == min(f for f, r in feasible if r == best_recall)


def test_fpr_constraint_is_met_exactly_when_reachable():
    # 20 normals scored 0..19, anomalies above: 5% = 1 normal may be flagged
    y = np.array([1] * 20 + [-1] * 5)
    scores = np.concatenate([np.arange(20.0), [18.5, 19.5, 30, 31, 32]])
    t = select_score_threshold(scores, y, criterion="fpr", max_fpr=0.05)
    assert _rates(scores, y, t) == (0.05, 1.0)
    assert t == 18.25  # between 18 (normal, unflagged) and 18.5 (anomaly, flagged)
    t = select_score_threshold(scores, y, criterion="fpr", max_fpr=0.049)
    assert _rates(scores, y, t) == (0.0, 0.8)
    assert t == 19.25  # flag the anomalies from 19.5 up


def test_all_flagged_and_integer_scores():
    y = np.array([-1, -1, 1])
    scores = np.array([5, 7, 6])
    t = select_score_threshold(scores, y, criterion="fpr", max_fpr=1.0)
    assert _rates(scores, y, t)[1] == 1.0
    t = select_score_threshold(np.array([1, 1, 1]), y)  # all tied: flag all (F1 0.8)
    assert t < 1 and _f1(np.array([1, 1, 1]), y, t) == pytest.approx(0.8)


@pytest.mark.parametrize(
    "scores, y, kwargs, match",
    [
        ([0.1, 0.2], [0, 1], {}, r"\+1 \(normal\) and -1 \(anomaly\) only"),
        ([0.1, 0.2], [1, 1], {}, r"received only \+1"),
        ([0.1, 0.2], [-1, -1], {}, "received only -1"),
        ([0.1, 0.2], ["a", "b"], {}, "dtype"),
        ([0.1, 0.2, 0.3], [1, -1], {}, "same length"),
        ([[0.1, 0.2]], [1, -1], {}, "scores must be 1-D"),
        ([0.1, 0.2], [[1, -1]], {}, "y must be 1-D"),
        ([0.1, np.nan], [1, -1], {}, "NaN"),
        ([0.1, 0.2], [1, -1], dict(criterion="auc"), "criterion must be"),
        ([0.1, 0.2], [1, -1], dict(criterion="fpr", max_fpr=1.5), "max_fpr must be"),
        ([0.1, 0.2], [1, -1], dict(criterion="fpr", max_fpr=-0.1), "max_fpr must be"),
    ],
)
def test_score_threshold_errors(scores, y, kwargs, match):
    with pytest.raises(ValueError, match=match):
        select_score_threshold(scores, y, **kwargs)


def test_pixel_threshold():
    rng = np.random.default_rng(0)
    masks = np.zeros((4, 10, 10), bool)
    masks[0, 2:5, 2:5] = masks[1, 6:9, 1:3] = True
    heat = rng.random((4, 10, 10)) + 2.0 * masks
    t = select_pixel_threshold(masks, heat)
    assert heat[~masks].max() < t < heat[masks].min()
    heat = rng.random((4, 10, 10)) + 0.5 * masks
    t = select_pixel_threshold(masks, heat, criterion="fpr", max_fpr=0.1)
    fpr, recall = _rates(heat.ravel(), np.where(masks.ravel(), -1, 1), t)
    assert fpr <= 0.1
    assert recall == max(
        r
        for f, r in (
            _rates(heat.ravel(), np.where(masks.ravel(), -1, 1), c) for c in _candidates(heat)
        )
        if f <= 0.1
    )


@pytest.mark.parametrize(
    "masks, heat, match",
    [
        (np.zeros((2, 4, 4)), np.zeros((2, 4, 4)), "at least one anomalous"),
        (np.ones((2, 4, 4)), np.zeros((2, 4, 5)), "same shape"),
        (np.ones((4, 4)), np.zeros((4, 4)), "3-D"),
    ],
)
def test_pixel_threshold_errors(masks, heat, match):
    with pytest.raises(ValueError, match=match):
        select_pixel_threshold(masks, heat)


def test_select_offset_isolation_forest():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    X_val = np.concatenate([rng.normal(size=(40, 2)), rng.normal(3, 1, size=(10, 2))])
    y_val = np.array([1] * 40 + [-1] * 10)
    det = IsolationForest(random_state=0).fit(X)
    offset = select_offset(det, X_val, y_val, criterion="fpr", max_fpr=0.05)
    tuned = with_offset(det, offset)
    assert tuned is not det and det.offset_ != offset and tuned.offset_ == offset
    pred = tuned.predict(X_val)
    assert (pred[y_val == 1] == -1).mean() <= 0.05
    t = select_score_threshold(-det.score_samples(X_val), y_val, criterion="fpr", max_fpr=0.05)
    np.testing.assert_array_equal(pred == -1, -det.score_samples(X_val) > t)


def test_select_offset_errors():
    det = IsolationForest(random_state=0).fit(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="same number of samples"):
        select_offset(det, np.zeros((3, 2)), [1, -1])
    with pytest.raises(ValueError, match="received only"):
        select_offset(det, np.zeros((2, 2)), [1, 1])
    with pytest.raises(ValueError, match="finite number"):
        with_offset(det, float("nan"))

    with pytest.raises(NotFittedError):
        select_offset(IsolationForest(), np.zeros((2, 2)), [1, -1])


def test_select_offset_end_to_end_igd():
    X, y = load_digits_images(return_X_y=True)
    normal = X[y == 0]
    X_val = np.concatenate([normal[32:72], X[y != 0][:20]])
    y_val = np.array([1] * 40 + [-1] * 20)
    det = IGDDetector(
        backbone="resnet18-lite",
        max_epochs=2,
        batch_size=16,
        pretrain=None,
        local=False,
        random_state=0,
    ).fit(normal[:32])
    scores = det.anomaly_score(X_val)

    det.offset_ = select_offset(det, X_val, y_val)
    best = max(_f1(scores, y_val, c) for c in _candidates(scores))
    assert f1_score(y_val == -1, det.predict(X_val) == -1) == pytest.approx(best)

    f1_offset = det.offset_
    fpr_offset = select_offset(det, X_val, y_val, criterion="fpr", max_fpr=0.05)
    tuned = with_offset(det, fpr_offset)
    pred = tuned.predict(X_val)
    t = select_score_threshold(scores, y_val, criterion="fpr", max_fpr=0.05)
    fpr, recall = _rates(scores, y_val, t)
    assert (pred[y_val == 1] == -1).mean() == fpr <= 0.05
    assert (pred[y_val == -1] == -1).mean() == recall
    # the copy, not the original, changed (the two criteria may pick the same threshold)
    assert tuned is not det and tuned.offset_ == fpr_offset and det.offset_ == f1_offset


# ------------------------------------------------------------ global_score_weight
@pytest.fixture(scope="module")
def local_fit():
    """A detector with the local model on 8x8 digits (0 normal), its training images and
    a labelled validation set."""
    X, y = load_digits_images(return_X_y=True)
    normal = X[y == 0]
    X_val = np.concatenate([normal[40:70], X[y != 0][:30]])
    y_val = np.array([1] * 30 + [-1] * 30)
    det = IGDDetector(**FAST_LOCAL).fit(normal[:40])
    return det, normal[:40], X_val, y_val


def test_best_global_score_weight_ranks_and_breaks_ties():
    z_local = np.array([0.0, 1.0, 2.0, 3.0])
    z_global = np.array([0.0, 0.0, 5.0, -5.0])
    anomalous = np.array([False, False, True, True])
    w, aucs = best_global_score_weight(z_global, z_local, anomalous, [0.0, 0.5, 1.0, 2.0])
    # w = 0: the local part alone ranks both anomalies on top; a global weight of 0.5 or
    # more lets the last (global -5) fall below a normal image
    assert w == 0.0 and aucs[0] == 1.0 and (aucs[1:] < 1.0).all()
    # equal AUCs: the candidate closest to the current weight, then the larger
    w, _ = best_global_score_weight(z_global * 0, z_local, anomalous, [0.0, 0.5, 2.0], 1.0)
    assert w == 0.5
    w, _ = best_global_score_weight(z_global * 0, z_local, anomalous, [0.5, 1.5], 1.0)
    assert w == 1.5


def test_select_global_score_weight_is_the_best_candidate(local_fit):
    det, _, X_val, y_val = local_fit
    z_global, z_local = standardised_score_parts(det, X_val)
    # the parts rebuild the detector's score with its weight
    np.testing.assert_allclose(
        det.score_weights_[0] * z_global + z_local, det.anomaly_score(X_val)
    )
    weights = [0.0, 0.5, 1.0, 3.0]
    w = select_global_score_weight(det, X_val, y_val, weights=weights)
    aucs = [roc_auc_score(y_val == -1, c * z_global + z_local) for c in weights]
    assert w in weights and roc_auc_score(y_val == -1, w * z_global + z_local) == max(aucs)


def test_best_global_score_weight_margin_keeps_the_current_weight():
    z_local = np.r_[np.arange(8.0), np.arange(8.0) + 10]  # normals 0-7, anomalies 10-17
    z_global = np.zeros(16)
    z_global[8] = -4.5  # with w = 1 the first anomaly scores 5.5, below the normals 6, 7
    anomalous = np.r_[np.zeros(8, bool), np.ones(8, bool)]
    w, aucs = best_global_score_weight(z_global, z_local, anomalous, [0.0, 1.0])
    assert w == 0.0 and aucs.tolist() == [1.0, 62 / 64]
    # the gain is 2/64 = 0.031: a margin above it keeps the current weight, one below not
    assert best_global_score_weight(z_global, z_local, anomalous, [0.0, 1.0], 1.0, 0.05)[0] == 1.0
    assert best_global_score_weight(z_global, z_local, anomalous, [0.0, 1.0], 1.0, 0.02)[0] == 0.0
    # the current weight need not be a candidate
    assert best_global_score_weight(z_global, z_local, anomalous, [0.0], 0.5, 0.01)[0] == 0.5
    assert best_global_score_weight(z_global, z_local, anomalous, [0.0], 1.0, 0.01)[0] == 0.0


def test_select_global_score_weight_without_labels_uses_cutpaste(local_fit):
    det, _, X_val, y_val = local_fit
    held = X_val[y_val == 1]  # normal images the detector was not fitted on
    w = select_global_score_weight(det, held, random_state=0)
    # the same choice by hand: the held-back images against 5 CutPaste copies of each
    # (thin strips), the default weight kept unless a candidate ranks them 0.02 better
    assert SYNTHETIC_DEFECT_PARAMS == {"area": (0.005, 0.03), "aspect": (0.05, 0.2)}
    synthetic, masks = make_cutpaste_defects(
        held, n_copies=5, random_state=0, **SYNTHETIC_DEFECT_PARAMS
    )
    assert masks.any(axis=(1, 2)).all()
    z_global, z_local = standardised_score_parts(det, np.concatenate([held, synthetic]))
    anomalous = np.r_[np.zeros(len(held), bool), np.ones(len(synthetic), bool)]
    expected, aucs = best_global_score_weight(z_global, z_local, anomalous, GLOBAL_SCORE_WEIGHTS)
    current_auc = roc_auc_score(anomalous, z_global + z_local)
    assert SYNTHETIC_WEIGHT_MARGIN == 0.02
    assert w == (expected if aucs.max() >= current_auc + 0.02 else 1.0)
    assert w == select_global_score_weight(det, held, random_state=0)  # reproducible
    # margin=0 is the plain best candidate
    assert select_global_score_weight(det, held, margin=0.0, random_state=0) == expected
    # labels: no margin by default, as before
    assert select_global_score_weight(det, X_val, y_val) == select_global_score_weight(
        det, X_val, y_val, margin=0.0
    )


def test_select_global_score_weight_defect_params(local_fit):
    det, _, X_val, y_val = local_fit
    held = X_val[y_val == 1]
    squares = {"area": (0.1, 0.15), "aspect": (1.0, 1.0), "jitter": 0.2}
    # the synthetic defects are make_cutpaste_defects' with these parameters: the same
    # choice by hand, with margin 0 (the plain best) so that every candidate counts
    synthetic, masks = make_cutpaste_defects(held, n_copies=5, random_state=0, **squares)
    heights = masks.any(axis=2).sum(axis=1)
    widths = masks.any(axis=1).sum(axis=1)
    assert np.all(heights == widths)  # squares, not the default strips
    z_global, z_local = standardised_score_parts(det, np.concatenate([held, synthetic]))
    anomalous = np.r_[np.zeros(len(held), bool), np.ones(len(synthetic), bool)]
    expected, aucs = best_global_score_weight(z_global, z_local, anomalous, GLOBAL_SCORE_WEIGHTS)
    chosen = select_global_score_weight(
        det, held, margin=0.0, defect_params=squares, random_state=0
    )
    assert chosen == expected
    strips = make_cutpaste_defects(held, n_copies=5, random_state=0, **SYNTHETIC_DEFECT_PARAMS)
    default_aucs = best_global_score_weight(
        *standardised_score_parts(det, np.concatenate([held, strips[0]])),
        anomalous,
        GLOBAL_SCORE_WEIGHTS,
    )[1]
    assert not np.allclose(aucs, default_aucs)  # the parameters reach the defects
    # None is SYNTHETIC_DEFECT_PARAMS; {} is make_cutpaste_defects' own defaults
    for same in (SYNTHETIC_DEFECT_PARAMS, dict(SYNTHETIC_DEFECT_PARAMS)):
        assert select_global_score_weight(
            det, held, margin=0.0, defect_params=same, random_state=0
        ) == select_global_score_weight(det, held, margin=0.0, random_state=0)
    with pytest.raises(TypeError):  # the package's constant is read-only
        SYNTHETIC_DEFECT_PARAMS["area"] = (0.1, 0.2)
    rectangles = make_cutpaste_defects(held, n_copies=5, random_state=0)[0]
    expected_rectangles = best_global_score_weight(
        *standardised_score_parts(det, np.concatenate([held, rectangles])),
        anomalous,
        GLOBAL_SCORE_WEIGHTS,
    )[0]
    assert (
        select_global_score_weight(det, held, margin=0.0, defect_params={}, random_state=0)
        == expected_rectangles
    )


def test_select_global_score_weight_without_labels_errors(local_fit):
    det, _, X_val, y_val = local_fit
    for bad in (-0.1, "high", float("inf")):
        with pytest.raises(ValueError, match="margin must be a finite number >= 0"):
            select_global_score_weight(det, X_val, margin=bad)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="n_copies must be an integer >= 1"):
            select_global_score_weight(det, X_val, n_copies=bad)
    for bad in ({"n_copies": 2}, {"area": (0.1, 0.2), "random_state": 0}, [("area", 0.1)]):
        with pytest.raises(ValueError, match="defect_params must be None or a dict with keys"):
            select_global_score_weight(det, X_val, defect_params=bad)
    with pytest.raises(ValueError, match="area"):  # values: make_cutpaste_defects' errors
        select_global_score_weight(det, X_val, defect_params={"area": (0.5, 0.1)})


def test_with_global_score_weight_equals_a_new_fit(local_fit):
    det, X_train, X_val, _ = local_fit
    before = (det.anomaly_score(X_val), det.offset_, det.global_score_weight)
    copy0 = with_global_score_weight(det, 0.0, X_train)
    refit = IGDDetector(**FAST_LOCAL, global_score_weight=0.0).fit(X_train)
    np.testing.assert_allclose(copy0.anomaly_score(X_val), refit.anomaly_score(X_val), rtol=1e-6)
    assert copy0.offset_ == pytest.approx(refit.offset_, rel=1e-6)
    assert copy0.get_params() == refit.get_params()
    # the copy saves and loads like any fitted detector (the weights' digest is checked)
    loaded = pickle.loads(pickle.dumps(copy0))
    np.testing.assert_array_equal(loaded.anomaly_score(X_val), copy0.anomaly_score(X_val))
    assert loaded.offset_ == copy0.offset_ and loaded.score_weights_[0] == 0.0
    # the original is left as it was
    np.testing.assert_array_equal(det.anomaly_score(X_val), before[0])
    assert (det.offset_, det.global_score_weight) == before[1:]
    # with contamination="auto" the offset does not depend on the scores
    auto = clone(det).set_params(contamination="auto", gaussian_score="l_h").fit(X_train)
    assert with_global_score_weight(auto, 2.0).offset_ == auto.offset_


def test_global_score_weight_errors(local_fit):
    det, X_train, X_val, y_val = local_fit
    with pytest.raises(ValueError, match="pass the images the detector was fitted on"):
        with_global_score_weight(det, 0.5)
    for bad in (-1.0, float("nan"), True, "1"):
        with pytest.raises(ValueError, match="weight must be a finite number >= 0"):
            with_global_score_weight(det, bad, X_train)
    with pytest.raises(ValueError, match="every weight must be a finite number >= 0"):
        select_global_score_weight(det, X_val, y_val, weights=[0.0, -2.0])
    with pytest.raises(ValueError, match="at least one candidate"):
        select_global_score_weight(det, X_val, y_val, weights=[])
    with pytest.raises(ValueError, match="both normal"):
        select_global_score_weight(det, X_val, np.ones(len(X_val)))
    with pytest.raises(ValueError, match="same number of samples"):
        select_global_score_weight(det, X_val, y_val[:-1])
    global_only = IGDDetector(**FAST).fit(X_train)
    with pytest.raises(ValueError, match="without the local model"):
        select_global_score_weight(global_only, X_val, y_val)
    with pytest.raises(NotFittedError):
        with_global_score_weight(IGDDetector(), 1.0)
