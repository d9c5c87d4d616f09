"""Tests for sklearn_igd.metrics: pixel ROC AUC and AUPRO on hand-computed cases."""

import numpy as np
import pytest
from scipy import ndimage
from sklearn.metrics import roc_auc_score

from sklearn_igd.metrics import aupro, pixel_roc_auc


# --------------------------------------------------------------------------- helpers
def _reference_aupro(masks, heatmaps, fpr_limit):
    """The definition transcribed directly: a pass over all pixels per threshold."""
    masks = np.asarray(masks) != 0
    regions = []
    for i in range(len(masks)):
        labels, n = ndimage.label(masks[i], structure=np.ones((3, 3)))
        regions += [(i, labels == k) for k in range(1, n + 1)]
    normal = ~masks
    fprs, pros = [0.0], [0.0]
    for t in np.unique(heatmaps)[::-1]:
        hit = heatmaps >= t
        pros.append(np.mean([hit[i][r].mean() for i, r in regions]))
        fprs.append(hit[normal].mean())
    area = 0.0
    for x0, x1, y0, y1 in zip(fprs[:-1], fprs[1:], pros[:-1], pros[1:]):
        if x0 >= fpr_limit:
            break
        if x1 > fpr_limit:  # clip the segment at fpr_limit
            y1 = y0 + (fpr_limit - x0) * (y1 - y0) / (x1 - x0)
            x1 = fpr_limit
        area += (x1 - x0) * (y0 + y1) / 2
    return area / fpr_limit


def _two_regions():
    """One 5x5 image: region A (3 px, a diagonal: one region under 8-connectivity,
    three under 4-connectivity) and region B (1 px); 21 normal pixels."""
    masks = np.zeros((1, 5, 5), dtype=np.uint8)
    masks[0, [0, 1, 2], [0, 1, 2]] = 1  # A
    masks[0, 0, 4] = 1  # B
    heatmaps = np.full((1, 5, 5), 0.1)
    heatmaps[0, [0, 1, 2], [0, 1, 2]] = 0.9  # A fully above every normal pixel
    heatmaps[0, 0, 4] = 0.2  # B below two normal pixels
    heatmaps[0, 4, 0] = 0.6
    heatmaps[0, 4, 1] = 0.4
    return masks, heatmaps


# ---------------------------------------------------------------------- pixel_roc_auc
def test_pixel_roc_auc_pooled_by_hand():
    masks = np.zeros((1, 4, 4), dtype=bool)
    masks[0, 0, :3] = True  # 3 anomalous, 13 normal pixels -> 39 pairs
    heatmaps = np.full((1, 4, 4), 0.1)  # 11 normal pixels at 0.1
    heatmaps[0, 0, :3] = [0.8, 0.6, 0.3]
    heatmaps[0, 3, 3] = 0.7  # a normal pixel above two anomalous ones
    heatmaps[0, 2, 2] = 0.3  # a normal pixel tied with the anomalous 0.3
    # 0.8 beats 13; 0.6 beats 12 (not 0.7); 0.3 beats 11, ties 1 (1/2), loses 1.
    expected = (13 + 12 + 11.5) / 39
    auc = pixel_roc_auc(masks, heatmaps)
    assert auc == pytest.approx(expected)
    assert auc == pytest.approx(roc_auc_score(masks.ravel(), heatmaps.ravel()))
    assert isinstance(auc, float)


def test_pixel_roc_auc_per_image_average_skips_images_without_both_classes():
    masks = np.zeros((4, 4, 4), dtype=int)
    heatmaps = np.zeros((4, 4, 4))
    # Image 0: perfect, AUC 1.
    masks[0, 1:3, 1:3] = 1
    heatmaps[0, 1:3, 1:3] = 1.0
    # Image 1: 2 anomalous (0.9, 0.3), 14 normal (7 at 0.1, 7 at 0.5):
    # 0.9 wins 14 pairs, 0.3 wins 7 -> AUC 21 / 28 = 0.75.
    masks[1, 0, :2] = 1
    heatmaps[1] = np.r_[0.9, 0.3, [0.1] * 7, [0.5] * 7].reshape(4, 4)
    # Image 2: no anomalous pixel (a normal test image) -> skipped.
    heatmaps[2, 0, 0] = 5.0
    # Image 3: only anomalous pixels -> skipped.
    masks[3] = 1
    assert pixel_roc_auc(masks, heatmaps, average="per_image") == pytest.approx((1.0 + 0.75) / 2)
    # Pooling gives a different number (image 2's hot pixel counts there).
    assert pixel_roc_auc(masks, heatmaps) != pytest.approx(0.875)


def test_pixel_roc_auc_invariant_to_increasing_transform():
    rng = np.random.RandomState(0)
    masks = rng.rand(3, 6, 6) < 0.3
    heatmaps = masks + rng.randint(0, 20, size=(3, 6, 6)) / 10
    for average in ("pooled", "per_image"):
        assert pixel_roc_auc(masks, np.exp(3 * heatmaps) - 7, average=average) == (
            pytest.approx(pixel_roc_auc(masks, heatmaps, average=average))
        )


# ------------------------------------------------------------------------------ aupro
def test_aupro_perfect_map_is_one():
    rng = np.random.RandomState(0)
    masks = rng.rand(3, 8, 8) < 0.2
    heatmaps = np.where(masks, 2 + rng.rand(3, 8, 8), rng.rand(3, 8, 8))
    for fpr_limit in (0.01, 0.3, 1.0):
        assert aupro(masks, heatmaps, fpr_limit=fpr_limit) == pytest.approx(1.0)
    assert aupro(masks, heatmaps, num_thresholds=50) == pytest.approx(1.0)
    assert aupro(masks, masks.astype(float)) == pytest.approx(1.0)


def test_aupro_two_regions_by_hand():
    masks, heatmaps = _two_regions()
    # Curve (FPR, PRO), n_regions = 2, n_normal = 21:
    #   t > 0.9: (0, 0);  t = 0.9: (0, 1/2) -- A fully caught, B not, FPR 0
    #   t = 0.6: (1/21, 1/2);  t = 0.4: (2/21, 1/2);  t = 0.2: (2/21, 1)  -- B
    #   t = 0.1: (1, 1).
    # Area on [0, 0.3]: 1/2 * 2/21 + 1 * (0.3 - 2/21) = 0.3 - 1/21.
    assert aupro(masks, heatmaps) == pytest.approx((0.3 - 1 / 21) / 0.3)
    # fpr_limit below 1/21: PRO is 1/2 throughout.
    assert aupro(masks, heatmaps, fpr_limit=0.04) == pytest.approx(0.5)
    # The whole curve: 1 - 1/21.
    assert aupro(masks, heatmaps, fpr_limit=1.0) == pytest.approx(1 - 1 / 21)
    # Per-region, not per-pixel: catching A alone (3 of 4 anomalous pixels) is
    # PRO 1/2, not 3/4; under 4-connectivity A would be 3 regions (PRO 3/4).
    assert aupro(masks, heatmaps, fpr_limit=0.04) != pytest.approx(0.75)


def test_aupro_tie_gives_diagonal_segment_and_interpolates_at_limit():
    masks, heatmaps = _two_regions()
    heatmaps[0, 0, 4] = 0.6  # B tied with the normal pixel at 0.6
    # Curve: (0, 0), (0, 1/2), (1/21, 1), ...: a diagonal segment. At
    # fpr_limit = 1/42 the interpolated PRO is 3/4, so the area is
    # 1/42 * (1/2 + 3/4) / 2 and the normalised value 5/8.
    assert aupro(masks, heatmaps, fpr_limit=1 / 42) == pytest.approx(0.625)
    assert aupro(masks, heatmaps) == pytest.approx((1 / 21 * 0.75 + (0.3 - 1 / 21)) / 0.3)


def test_aupro_regions_do_not_connect_across_images():
    masks = np.zeros((2, 3, 3), dtype=bool)
    masks[0, 0, :2] = True  # region of 2 px in image 0
    masks[1, 0, 0] = True  # region of 1 px in image 1, "below" image 0's
    heatmaps = np.where(masks, 1.0, 0.0)
    heatmaps[1, 0, 0] = 0.0  # image 1's region missed
    # Two regions: PRO 1/2 until every pixel is flagged (FPR jumps 0 -> 1).
    # If they were one 3-px region, PRO would be 2/3.
    # Curve (0, 0), (0, 1/2), (1, 1): at FPR 0.3, PRO 0.65.
    expected = 0.3 * (0.5 + 0.65) / 2 / 0.3
    assert aupro(masks, heatmaps) == pytest.approx(expected)


def test_aupro_matches_reference_with_ties_and_many_regions():
    rng = np.random.RandomState(0)
    masks = ndimage.uniform_filter(rng.rand(4, 12, 12), size=(1, 3, 3)) > 0.6
    heatmaps = np.round(masks * 0.4 + rng.rand(4, 12, 12), 1)  # many ties
    for fpr_limit in (0.05, 0.3, 1.0):
        assert aupro(masks, heatmaps, fpr_limit=fpr_limit) == pytest.approx(
            _reference_aupro(masks, heatmaps, fpr_limit)
        )


def test_aupro_random_map_is_about_fpr_limit_over_two():
    rng = np.random.RandomState(0)
    masks = ndimage.uniform_filter(rng.rand(8, 48, 48), size=(1, 5, 5)) > 0.58
    heatmaps = rng.rand(8, 48, 48)
    n_regions = sum(ndimage.label(m, structure=np.ones((3, 3)))[1] for m in masks)
    assert n_regions >= 20
    # PRO(t) ~ FPR(t) for an uninformative map: area ~ 0.3**2 / 2, i.e. 0.15.
    assert aupro(masks, heatmaps) == pytest.approx(0.15, abs=0.05)


def test_aupro_invariant_to_increasing_transform():
    rng = np.random.RandomState(1)
    masks = ndimage.uniform_filter(rng.rand(3, 10, 10), size=(1, 3, 3)) > 0.6
    scores = masks * 15 + rng.randint(0, 50, size=(3, 10, 10))  # ints, with ties
    value = aupro(masks, scores)
    assert 0.2 < value < 1.0
    assert aupro(masks, scores / 50) == pytest.approx(value)
    assert aupro(masks, np.exp(scores / 10) - 3) == pytest.approx(value)


def test_aupro_num_thresholds_approximates_exact():
    rng = np.random.RandomState(2)
    masks = ndimage.uniform_filter(rng.rand(4, 16, 16), size=(1, 3, 3)) > 0.6
    heatmaps = masks * 0.5 + rng.rand(4, 16, 16)
    exact = aupro(masks, heatmaps)
    assert aupro(masks, heatmaps, num_thresholds=2000) == pytest.approx(exact, abs=0.01)
    assert isinstance(aupro(masks, heatmaps, num_thresholds=10), float)


def test_accepts_lists_ints_and_float32():
    masks, heatmaps = _two_regions()
    expected = aupro(masks, heatmaps)
    assert aupro(masks.tolist(), heatmaps.astype(np.float32).tolist()) == (pytest.approx(expected))
    assert aupro(masks.astype(bool), heatmaps.astype(np.float32)) == pytest.approx(expected)
    assert pixel_roc_auc(masks * 255, heatmaps) == pytest.approx(pixel_roc_auc(masks, heatmaps))


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("metric", [pixel_roc_auc, aupro])
def test_shape_errors(metric):
    masks, heatmaps = _two_regions()
    with pytest.raises(ValueError, match=r"same shape.*\(1, 5, 5\).*\(1, 5, 4\)"):
        metric(masks, heatmaps[:, :, :4])
    with pytest.raises(ValueError, match=r"3-D.*received.*\(5, 5\)"):
        metric(masks[0], heatmaps[0])
    with pytest.raises(ValueError, match=r"heatmaps must be a 3-D.*\(1, 1, 5, 5\)"):
        metric(masks, heatmaps[None])


@pytest.mark.parametrize("metric", [pixel_roc_auc, aupro])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_heatmap_errors(metric, bad):
    masks, heatmaps = _two_regions()
    heatmaps[0, 1, 3] = bad
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        metric(masks, heatmaps)


@pytest.mark.parametrize("metric", [pixel_roc_auc, aupro])
def test_missing_class_errors(metric):
    _, heatmaps = _two_regions()
    with pytest.raises(ValueError, match="received 0 anomalous and 25 normal"):
        metric(np.zeros((1, 5, 5)), heatmaps)
    with pytest.raises(ValueError, match="received 25 anomalous and 0 normal"):
        metric(np.ones((1, 5, 5)), heatmaps)


def test_per_image_error_when_no_image_qualifies():
    masks = np.zeros((2, 3, 3))
    masks[1] = 1  # image 0 has no anomaly, image 1 no normal pixel
    with pytest.raises(ValueError, match=r"at least one image.*\[0, 9\]"):
        pixel_roc_auc(masks, np.arange(18.0).reshape(2, 3, 3), average="per_image")


def test_parameter_errors():
    masks, heatmaps = _two_regions()
    with pytest.raises(ValueError, match=r"average must be one of.*'mean'"):
        pixel_roc_auc(masks, heatmaps, average="mean")
    for fpr_limit in (0, -0.1, 1.5, True, "0.3"):
        with pytest.raises(ValueError, match="fpr_limit must be"):
            aupro(masks, heatmaps, fpr_limit=fpr_limit)
    for num_thresholds in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="num_thresholds must be"):
            aupro(masks, heatmaps, num_thresholds=num_thresholds)
    with pytest.raises(ValueError, match="dtype"):
        aupro(masks, heatmaps.astype(str))
