"""Detection quality on real data: AUCs the default configuration has to earn.

Every fit uses ``IGDDetector``'s defaults (frozen ImageNet encoder, ``gaussian_score=
"nll"``, ``lambda2=10``) with fewer epochs than ``max_epochs="auto"`` picks, so that each
takes seconds. The peers (``OneClassSVM``, ``IsolationForest(random_state=0)`` on raw
pixels) are deterministic.

Margins: each threshold sits below the worst value measured over 5 seeds (0-4) and 1 and
2 torch threads, by more than that spread. ``python benchmarks/quality_spread.py`` reruns
these tests with ``SKLEARN_IGD_TEST_SEED`` and ``SKLEARN_IGD_TEST_THREADS`` and writes the
minimum, maximum and spread of every measurement to
``benchmarks/results/quality_spread.md``; the docstrings quote it.
"""

import numpy as np
import pytest
from conftest import SEED
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.svm import OneClassSVM

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import fetch_fashion_mnist, load_digits_images, load_mnist_5k

pytestmark = pytest.mark.slow


def _halves(X, y):
    return train_test_split(X, y, test_size=0.5, stratify=y, random_state=0)


def _flat(X):
    return X.reshape(len(X), -1) / 255.0


def _peers(X_train, X_test, normal):
    """ROC AUCs of the two peers on raw pixels (anomalies positive)."""
    a, b = _flat(X_train), _flat(X_test)
    return {
        "OneClassSVM": roc_auc_score(normal, OneClassSVM().fit(a).decision_function(b)),
        "IsolationForest": roc_auc_score(
            normal, IsolationForest(random_state=0).fit(a).decision_function(b)
        ),
    }


def _igd_auc(X_train, X_test, normal, **params):
    det = IGDDetector(random_state=SEED, **params).fit(X_train)
    return roc_auc_score(normal, det.decision_function(X_test))


def test_mnist_5k_digit_beats_the_peers(measured):
    """Digit 2 of the demo protocol (250 training images, 2,500 test images), 5 epochs.

    Over seeds 0-4 and 1-2 threads: IGD 0.9886-0.9909 (quality_spread.md); OneClassSVM
    0.810, IsolationForest 0.737 (deterministic).
    """
    X, y = load_mnist_5k(return_X_y=True)
    X_a, X_b, y_a, y_b = _halves(X, y)
    X_train, normal = X_a[y_a == 2], (y_b == 2).astype(int)
    igd = measured("auc", _igd_auc(X_train, X_b, normal, max_epochs=5))
    peers = _peers(X_train, X_b, normal)
    assert igd >= 0.975, igd
    assert all(igd > auc + 0.1 for auc in peers.values()), (igd, peers)


@pytest.mark.parametrize("digit", [0, 3, 7])
def test_sklearn_digits_one_class_auc(digit, measured):
    """scikit-learn's 8x8 digits (about 90 training images, upsampled by the encoder).

    Over seeds 0-4 and 1-2 threads: 1.000, 0.9966-0.9971 and 0.9996-0.9998.
    """
    X, y = load_digits_images(return_X_y=True)
    X_a, X_b, y_a, y_b = _halves(X, y)
    auc = measured("auc", _igd_auc(X_a[y_a == digit], X_b, y_b == digit, max_epochs=10))
    assert auc >= 0.97, auc


@pytest.fixture(scope="module")
def pullover():
    """Pullover (class 2) as normal: 300 training images, 1,000 test images of all ten
    classes (Fashion-MNIST, Debian's dataset-fashion-mnist files)."""
    train = fetch_fashion_mnist(subset="train", download_if_missing=False)
    test = fetch_fashion_mnist(subset="test", download_if_missing=False)
    rng = np.random.RandomState(0)
    X_train = train.images[train.target == 2][rng.choice(6000, 300, replace=False)]
    keep = rng.choice(10000, 1000, replace=False)
    return X_train, test.images[keep], (test.target[keep] == 2).astype(int)


@pytest.fixture(scope="module")
def pullover_auc(pullover):
    """AUC of the default configuration on :func:`pullover`, 5 epochs."""
    return _igd_auc(*pullover, max_epochs=5)


def test_fashion_mnist_pullover_beats_the_peers(pullover, pullover_auc, measured):
    """A hard real one-class task, 5 epochs; pullovers look the same mirrored, so the
    default ``flip_invariant="auto"`` makes the features flip-invariant (mirror AUC
    0.552). Over seeds 0-4 and 1-2 threads: 0.9105-0.9151, range 0.0045
    (quality_spread_flip.md; 0.8939-0.8972 without the flip, quality_spread.md);
    OneClassSVM 0.865, IsolationForest 0.866 (deterministic). The thresholds leave 0.0105
    and 0.0145 below the minimum."""
    X_train, X_test, normal = pullover
    igd = measured("auc", pullover_auc)
    peers = _peers(X_train, X_test, normal)
    assert igd >= 0.90, igd
    assert all(igd > auc + 0.03 for auc in peers.values()), (igd, peers)


def test_imagenet_pretraining_beats_training_from_scratch(pullover, pullover_auc, measured):
    """The frozen ImageNet encoder against the same model trained from scratch (same
    epochs), both scored with the paper's sum ``l_r + l_h`` (the default for the frozen
    encoder), so that only the encoder differs. Over seeds 0-4 and 1-2 threads, with the
    default's flip-invariant features (``quality_spread_flip.md``): scratch 0.679-0.767,
    the gap to the default 0.145-0.232 (range 0.088); the smallest gap minus the 0.04
    asked, 0.105, exceeds that range (before the flip: 0.156-0.259, range 0.103,
    ``quality_spread_scratch.md``). Scored as ``global_score="auto"`` scores it (the terms
    balanced), scratch reaches 0.753-0.843 and the gap is 0.069-0.158 (range 0.090):
    recorded, not asserted."""
    X_train, X_test, normal = pullover
    det = IGDDetector(random_state=SEED, max_epochs=5, pretrain=None).fit(X_train)
    parts = det.score_parts(X_test)
    summed = parts.global_reconstruction + parts.global_gaussian
    scratch = measured("auc_scratch", roc_auc_score(normal, -summed))
    balanced = measured("auc_scratch_balanced", roc_auc_score(normal, -parts.score))
    measured("gap_balanced", pullover_auc - balanced)
    gap = measured("gap", pullover_auc - scratch)
    assert gap > 0.04, (pullover_auc, scratch)
