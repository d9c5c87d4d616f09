"""Localisation quality on real textures, small enough for CI.

``IGDDetector`` with its defaults and the local model is fitted on 64 normal 32 px crops
of scikit-image's brick and gravel photographs (5 epochs, batch 16) and must
localise the drawn defects of ``make_texture_defects`` (40 test crops, half defective).

Margins: each threshold sits below the worst value measured over 5 seeds (0-4) and 1 and
2 torch threads by more than the range of the values (``python
benchmarks/quality_spread.py --tests tests/test_localisation_quality.py --out
benchmarks/results/quality_spread_localisation.md``, with the default smoothed heatmap,
``heatmap_sigma="auto"``: 2 px here); comparisons whose worst case is not clearly
positive are not asserted here: they are benchmark rows with intervals
(``benchmarks/heatmap_terms.py``, ``examples/demo_textures.py``).
"""

import copy
import functools

import pytest
from conftest import SEED
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import pixel_roc_auc

pytestmark = pytest.mark.slow

#: The thresholds below were measured on the models' reconstruction maps, before the
#: feature map existed; it is off here (test_feature_map.py checks what it adds). They
#: were measured with the local score ``"heatmap_max"`` (the default then; the default
#: ``"heatmap_top"`` is compared with it in benchmarks/results/image_score.md), kept here.
PARAMS = dict(
    max_epochs=5, batch_size=16, local=True, feature_map=False, local_score="heatmap_max"
)
DATA = dict(n_train=64, n_test=40, size=32, random_state=0)

#: texture: minimum pooled pixel ROC AUC of the default (balanced, smoothed) heatmap. Over
#: seeds 0-4 and 1-2 threads (quality_spread_localisation.md): brick 0.966-0.980, gravel
#: 0.667-0.740; each threshold is below the minimum by more than the range. Grass is not
#: fitted here: its values, 0.599-0.690 (range 0.091), left room for a threshold of at
#: most 0.508, next to chance (0.50 was asserted), which did not pay for its 40 s fit in
#: CI; test_feature_map.py asserts
#: grass's feature map (at least 0.78), and benchmarks/texture_draws.py measures grass
#: with the defaults.
MIN_PIXEL_AUC = {"brick": 0.92, "gravel": 0.59}


@functools.cache
def _fit(texture):
    """``(data, fitted detector)``, one fit per texture for the whole module."""
    data = make_texture_defects(texture, **DATA)
    return data, IGDDetector(random_state=SEED, **PARAMS).fit(data.images_train)


@pytest.fixture(params=sorted(MIN_PIXEL_AUC))
def fitted(request):
    return (request.param,) + _fit(request.param)


def _paper_map(det, X):
    """Eq. 16-17 as written, from the same fitted models (rho and 1 - rho weights, no
    smoothing)."""
    paper = copy.copy(det)
    paper.heatmap_scale_ = None
    paper.heatmap_sigma_ = 0.0
    return paper.predict_heatmap(X)


def test_heatmap_localises_defects(fitted, measured):
    texture, data, det = fitted
    parts = det.score_parts(data.images_test, heatmap=True)
    auc = measured("pixel_auc", pixel_roc_auc(data.masks_test, parts.heatmap))
    measured("pixel_auc_global", pixel_roc_auc(data.masks_test, parts.global_heatmap))
    measured("pixel_auc_paper", pixel_roc_auc(data.masks_test, _paper_map(det, data.images_test)))
    assert auc >= MIN_PIXEL_AUC[texture], f"{texture}: pixel ROC AUC {auc:.3f}"


def test_local_model_adds_to_the_global_map_on_brick(measured):
    """Brick's defects are smaller than the global model can see: the combined map must
    beat the global model's map alone. Over seeds 0-4 and 1-2 threads (smoothed maps,
    quality_spread_localisation.md): combined 0.966-0.980, global alone 0.742-0.841; the
    gap 0.131-0.233 (range 0.102), so the margin asserted is 0.02. (Unsmoothed, the
    global map alone was 0.623-0.702 and the gap at least 0.26: smoothing helps the
    global model's blurry map more than the combined one.)"""
    data, det = _fit("brick")
    parts = det.score_parts(data.images_test, heatmap=True)
    combined = pixel_roc_auc(data.masks_test, parts.heatmap)
    global_only = pixel_roc_auc(data.masks_test, parts.global_heatmap)
    assert combined > global_only + 0.02, (combined, global_only)


def test_brick_image_score_beats_pixel_baselines(measured):
    """Image ROC AUC on brick against IsolationForest and OneClassSVM on raw pixels.
    Over seeds 0-4 and 1-2 threads: IGD 0.985-0.995 (range 0.010; 0.950-1.000 with the
    worst-patch local score); IsolationForest 0.688, OneClassSVM 0.815 (deterministic)."""
    data, det = _fit("brick")
    anomalous = data.y_test == -1
    igd = measured("image_auc", roc_auc_score(anomalous, det.anomaly_score(data.images_test)))
    flat = lambda X: X.reshape(len(X), -1) / 255.0  # noqa: E731
    peers = {
        name: roc_auc_score(
            anomalous, -est.fit(flat(data.images_train)).decision_function(flat(data.images_test))
        )
        for name, est in (
            ("IsolationForest", IsolationForest(random_state=0)),
            ("OneClassSVM", OneClassSVM()),
        )
    }
    assert igd >= 0.96 and all(igd > auc + 0.05 for auc in peers.values()), (igd, peers)


def test_local_map_maximum_ranks_brick_better_than_the_worst_patch(measured):
    """The local model's image score: the maximum of its smoothed map
    (``local_score="heatmap_max"``, set in PARAMS) against eq. 15's worst patch, from the
    same fitted local model. Over seeds 0-4 and 1-2 threads (quality_spread_localisation.md): map
    maximum 0.928-0.988, worst patch 0.650-0.780; the per-run gap 0.190-0.338 (range
    0.148), so the margin asserted is 0.04. On 64 px crops the gap is larger
    (benchmarks/results/local_score.md: 0.978-0.992 against 0.491-0.497)."""
    data, det = _fit("brick")
    anomalous = data.y_test == -1
    heatmap_max = det.score_parts(data.images_test).local_score
    worst = copy.copy(det)
    worst.local_score = "worst_patch"
    worst_patch = worst.score_parts(data.images_test).local_score
    by_map = measured("image_auc_local_heatmap_max", roc_auc_score(anomalous, heatmap_max))
    by_patch = measured("image_auc_local_worst_patch", roc_auc_score(anomalous, worst_patch))
    assert by_map > by_patch + 0.04, (by_map, by_patch)
