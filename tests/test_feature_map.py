"""The feature map (``feature_map``): the distance of frozen ImageNet features at every
location to the training images' features (the nearest of a memory bank, or one
Gaussian; or the nearest plus a trained student's error), added to the heatmap
and to the local model's part of the score.

Formulas are checked against a direct computation from the fitted statistics; the
localisation test uses the nearest-neighbour map alone, which involves no training (the
ImageNet weights are fixed, the Gaussian is fitted in closed form and the bank's
selection is seeded), so its value depends only on the data draw and on float rounding.
"""

import copy
import functools
import io

import joblib
import numpy as np
import pytest
import torch
from conftest import FAST_LOCAL
from torch.nn import functional as F

from sklearn_igd import IGDDetector, _feature_map
from sklearn_igd._config import shared_seed
from sklearn_igd._feature_map import (
    FEATURE_MAP_BANK,
    FEATURE_MAP_MAX_UPSAMPLING,
    FEATURE_MAP_MIN_SIDE,
    FEATURE_MAP_RIDGE,
    FeatureGaussianMap,
    FeatureNearestMap,
    FeatureStudentMap,
    feature_min_side,
    feature_trunk,
    fit_feature_map,
    greedy_coreset,
    local_features,
    nearest_map,
    student_error_map,
    teacher_targets,
    train_student,
)
from sklearn_igd._scoring import HEATMAP_TOP_FRACTION, gaussian_kernel_1d, smooth_maps
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import pixel_roc_auc


@pytest.fixture(scope="module")
def data(mnist):
    X, y = mnist
    return X[y == 3][:16], X[:12]


@pytest.fixture(scope="module")
def feature_fitted(data):
    """The ``"nearest"`` feature map (the nearest of the memory bank)."""
    return IGDDetector(**{**FAST_LOCAL, "feature_map": "nearest"}).fit(data[0])


@pytest.fixture(scope="module")
def gaussian_fitted(data):
    return IGDDetector(**{**FAST_LOCAL, "feature_map": "gaussian"}).fit(data[0])


#: The student's training steps in these tests (the default's 300 take a minute).
STUDENT_STEPS = 20


@pytest.fixture(scope="module")
def student_fitted(data):
    """The default feature map (``"auto"``: ``"student"``, the nearest map and a
    student), the student trained for :data:`STUDENT_STEPS` steps."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_feature_map, "FEATURE_STUDENT_STEPS", STUDENT_STEPS)
        return IGDDetector(**{**FAST_LOCAL, "feature_map": "auto"}).fit(data[0])


def _x(X):
    return torch.from_numpy(X[:, None].astype(np.float32) / 255)


def _features(det, X):
    """Every location's feature vector of ``X``: (n * h * w, d) float64 and (h, w)."""
    f = local_features(det.feature_map_.trunk, _x(X))
    return f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).double().numpy(), f.shape[-2:]


def _min_squared_distance(a, b, chunk=2048):
    """Squared Euclidean distance of each row of ``a`` (m, d) to its nearest row of ``b``
    (k, d), float64 numpy, by blocks of ``a``."""
    b = torch.as_tensor(b, dtype=torch.float64)
    out = [torch.cdist(c, b).amin(1) ** 2 for c in torch.as_tensor(a).double().split(chunk)]
    return torch.cat(out).numpy()


def _direct_map(det, f):
    """The feature map of location vectors ``f`` (m, d), computed with numpy (the nearest
    part alone for the ``"student"`` map)."""
    fm = det.feature_map_
    q = f - fm.mean.double().numpy()
    if isinstance(fm, FeatureGaussianMap):
        return np.einsum("ij,jk,ik->i", q, fm.precision.double().numpy(), q)
    return _min_squared_distance(q @ fm.whiten.double().numpy(), fm.bank.double().numpy())


def _resize(m, size):
    """Maps (n, h, w) resized (bilinear) to ``size``: (n, H, W) float64."""
    m = F.interpolate(m[:, None].float(), size=size, mode="bilinear", align_corners=False)
    return m[:, 0].double()


def _student_error(det, X):
    """The ``"student"`` map's student part of ``X``, unscaled, at the image size: the
    mean over channels of the squared difference between the student's output (resized
    to the teacher's grid) and the standardised teacher features."""
    fm, x = det.feature_map_, _x(X)
    with torch.no_grad():
        f = local_features(fm.trunk, x).double()
        pred = F.interpolate(fm.student(x), size=f.shape[-2:], mode="bilinear").double()
    mean, std = fm.teacher_mean.double(), fm.teacher_std.double()
    target = (f - mean[:, None, None]) / std[:, None, None]
    return _resize(((pred - target) ** 2).mean(1), X.shape[-2:])


def _feature_heatmap(det, X, weight):
    """``G_sigma * (weight * map)`` computed from the features."""
    f, (h, w) = _features(det, X)
    m = _resize(torch.from_numpy(_direct_map(det, f).reshape(len(X), h, w)), X.shape[-2:])
    fm = det.feature_map_
    if isinstance(fm, FeatureStudentMap):
        m = m / float(fm.scales[0]) + _student_error(det, X) / float(fm.scales[1])
    kernel = gaussian_kernel_1d(det.heatmap_sigma_)
    return smooth_maps(weight * m, kernel).numpy()


def test_auto_is_on_with_the_local_model_and_the_balanced_heatmap(student_fitted, data):
    assert type(student_fitted.feature_map_) is FeatureStudentMap
    assert student_fitted.feature_weight_ > 0
    for params in ({"heatmap": "paper"}, {"local": False}, {}):
        det = IGDDetector(**{**FAST_LOCAL, **params, "feature_map": "auto" if params else False})
        det.fit(data[0][:8])
        assert det.feature_map_ is None and det.feature_weight_ is None
        assert det.score_parts(data[1][:2], heatmap=True).feature_heatmap is None


def test_gaussian_is_fitted_on_every_training_location(gaussian_fitted, data):
    det = gaussian_fitted
    assert isinstance(det.feature_map_, FeatureGaussianMap)
    f, _ = _features(det, data[0])
    cov = np.cov(f, rowvar=False) + FEATURE_MAP_RIDGE * np.eye(f.shape[1])
    np.testing.assert_allclose(det.feature_map_.mean.numpy(), f.mean(0), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        det.feature_map_.precision.numpy(), np.linalg.inv(cov), rtol=1e-3, atol=1e-3
    )


def test_nearest_bank_holds_whitened_training_locations(feature_fitted, data):
    det = feature_fitted
    fm = det.feature_map_
    assert isinstance(fm, FeatureNearestMap)
    f, _ = _features(det, data[0])
    cov = np.cov(f, rowvar=False) + FEATURE_MAP_RIDGE * np.eye(f.shape[1])
    np.testing.assert_allclose(fm.mean.numpy(), f.mean(0), rtol=1e-4, atol=1e-5)
    # the whitening makes Euclidean distances Mahalanobis ones: L L^T = cov^-1
    whiten = fm.whiten.double().numpy()
    np.testing.assert_allclose(whiten @ whiten.T, np.linalg.inv(cov), rtol=1e-3, atol=1e-3)
    # 16 digits of 28 x 28 locations: every location is a candidate, 4,000 are kept ...
    assert len(f) == 16 * 28 * 28 > FEATURE_MAP_BANK == fm.bank.shape[0]
    w = (f - fm.mean.double().numpy()) @ whiten
    nearest = _min_squared_distance(fm.bank, w)
    # ... each one a whitened training location, none twice
    assert nearest.max() < 1e-6 * (w**2).sum(1).mean()
    assert len(np.unique(fm.bank.numpy(), axis=0)) == FEATURE_MAP_BANK
    # so a training location in the bank is at distance 0, and the map is 0 there
    at_bank = _direct_map(det, f)
    assert (at_bank < 1e-4).sum() >= FEATURE_MAP_BANK * 0.99


def test_nearest_bank_is_seeded_by_random_state(feature_fitted, data):
    x = _x(data[0][:8])
    fits = [
        fit_feature_map(x, batch_size=8, device="cpu", seed=s, bank_size=50) for s in (0, 0, 1)
    ]
    torch.testing.assert_close(fits[0].bank, fits[1].bank, rtol=0, atol=0)
    assert not torch.equal(fits[0].bank, fits[2].bank)
    # the whitening does not depend on the seed
    torch.testing.assert_close(fits[0].whiten, fits[2].whiten, rtol=0, atol=0)
    # and the detector's seed is random_state's (benchmarks/feature_variants.py relies on it)
    again = fit_feature_map(_x(data[0]), batch_size=16, device="cpu", seed=shared_seed(0) + 3)
    torch.testing.assert_close(again.bank, feature_fitted.feature_map_.bank, rtol=0, atol=0)


def test_student_map_adds_two_maps_scaled_by_their_training_spread(
    student_fitted, feature_fitted, data
):
    det = student_fitted
    fm = det.feature_map_
    assert isinstance(fm, FeatureStudentMap) and fm.method == "student"
    assert not fm.student.training and not any(p.requires_grad for p in fm.parameters())
    # the nearest part is the "nearest" map of the same data and seed: the same bank
    torch.testing.assert_close(fm.bank, feature_fitted.feature_map_.bank, rtol=0, atol=0)
    X = data[0]
    f, (h, w) = _features(det, X)
    parts = [
        _resize(torch.from_numpy(_direct_map(det, f).reshape(len(X), h, w)), X.shape[-2:]),
        _student_error(det, X),
    ]
    # each part divided by its standard deviation over the smoothed training pixels
    kernel = gaussian_kernel_1d(det.heatmap_sigma_)
    spreads = [float(smooth_maps(m, kernel).std(unbiased=False)) for m in parts]
    np.testing.assert_allclose(fm.scales.numpy(), spreads, rtol=1e-4)
    with torch.no_grad():
        got = fm(_x(X)).double()
    expected = parts[0] / fm.scales[0].double() + parts[1] / fm.scales[1].double()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_student_is_seeded_and_learns(student_fitted, data):
    # the detector's student is fit_feature_map's of the seed random_state gives it
    again = fit_feature_map(
        _x(data[0]), batch_size=16, device="cpu", method="student", seed=shared_seed(0) + 3,
        student_steps=STUDENT_STEPS, sigma=student_fitted.heatmap_sigma_,
    )  # fmt: skip
    fitted = student_fitted.feature_map_
    same = zip(again.student.state_dict().values(), fitted.student.state_dict().values())
    assert all(torch.equal(a, b) for a, b in same)
    torch.testing.assert_close(again.scales, fitted.scales, rtol=0, atol=0)
    # train_student: its generator's seed gives the weights; more steps fit better
    x = _x(data[0][:8])
    images, target = teacher_targets(fitted.trunk, x, 10**9, 8, "cpu", torch.Generator())
    target = (target - target.mean((0, 2, 3), keepdim=True)) / target.std((0, 2, 3), keepdim=True)

    def train(seed, steps):
        g = torch.Generator().manual_seed(seed)
        return train_student(images, target, steps=steps, generator=g, device="cpu")

    fits = [train(s, 5) for s in (0, 0, 1)]
    same = zip(fits[0].state_dict().values(), fits[1].state_dict().values())
    assert all(torch.equal(a, b) for a, b in same)
    assert not torch.equal(fits[0].net[0].weight, fits[2].net[0].weight)
    longer = train(0, 40)
    with torch.no_grad():
        errors = [
            float(student_error_map(s, images, target, torch.zeros(40), torch.ones(40)).mean())
            for s in (fits[0], longer)
        ]
    # measured errors[1] / errors[0]: 0.558 (seeds 1, 2: 0.607, 0.628), the same to 3
    # decimals with 1 and 2 threads (26 of the 32 images per step)
    assert errors[1] < 0.8 * errors[0], errors


def test_teacher_targets_are_the_images_and_their_flips_within_the_budget(data):
    x = _x(data[0][:3])
    trunk = feature_trunk(3, feature_min_side(x.shape[-2:]))
    features = local_features(trunk, x)
    images, targets = teacher_targets(trunk, x, 10**9, 8, "cpu", torch.Generator())
    targets_all = targets
    flips = torch.cat([x, x.flip(-1), x.flip(-2), x.flip(-1, -2)])
    torch.testing.assert_close(images, flips, rtol=0, atol=0)
    torch.testing.assert_close(targets[:3], features, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(
        targets[3:6], local_features(trunk, x.flip(-1)), rtol=1e-5, atol=1e-5
    )
    # a budget of 5 images' feature values: 5 of the 12, each an image or one of its flips
    budget = 5 * features[0].numel()
    images, targets = teacher_targets(trunk, x, budget, 8, "cpu", torch.Generator())
    assert images.shape == (5, *x.shape[1:]) and targets.shape == (5, *features.shape[1:])
    assert all(any(torch.equal(image, f) for f in flips) for image in images)
    # given the images' features, the unflipped targets are those, the flips computed
    images, again = teacher_targets(trunk, x, 10**9, 8, "cpu", torch.Generator(), features)
    torch.testing.assert_close(images, flips, rtol=0, atol=0)
    torch.testing.assert_close(again[:3], features, rtol=0, atol=0)
    torch.testing.assert_close(again[3:], targets_all[3:], rtol=0, atol=0)


def test_student_fit_passes_the_trunk_once_per_flip(data, monkeypatch):
    # the first pass's features serve as the unflipped targets and for the scales: the
    # trunk sees every training image once per flip (4n images); with a budget too small
    # to keep them, it passes over the images again (and once over a probe image)
    x = _x(data[0][:6])
    seen = []

    def counting(trunk, b):
        seen.append(len(b))
        return local_features(trunk, b)

    monkeypatch.setattr(_feature_map, "local_features", counting)
    kwargs = dict(batch_size=4, device="cpu", method="student", student_steps=3, sigma=2.0)
    reused = fit_feature_map(x, **kwargs)
    assert sum(seen) == 4 * len(x)
    per_image = local_features(reused.trunk, x[:1])[0].numel()
    monkeypatch.setattr(_feature_map, "FEATURE_STUDENT_TARGET_VALUES", 5 * per_image + 1)
    seen.clear()
    recomputed = fit_feature_map(x, **kwargs)  # 6 images do not fit: 5 targets drawn
    assert sum(seen) == len(x) + 1 + 5 + len(x)  # statistics, probe, targets, scales
    assert torch.isfinite(recomputed.scales).all() and torch.isfinite(reused.scales).all()


def test_fit_feature_map_reads_a_given_trunk(data):
    # trunk= replaces the trunk that block and min_side would build (the benchmarks'
    # candidate trunks go through it); the same trunk either way gives the same map
    x = _x(data[0][:6])
    by_block = fit_feature_map(x, batch_size=8, device="cpu", block=2, min_side=96)
    given = fit_feature_map(x, batch_size=8, device="cpu", trunk=feature_trunk(2, 96))
    assert given.bank.shape[1] == by_block.bank.shape[1] == 24  # block 2: 24 channels
    torch.testing.assert_close(given(x), by_block(x), rtol=0, atol=0)


def test_nearest_bank_candidates_are_capped(monkeypatch):
    # at most FEATURE_MAP_CORESET_LOCATIONS candidates, the same number from every image
    # (noise images: no location's features repeat another image's, as digits' margins do)
    monkeypatch.setattr(_feature_map, "FEATURE_MAP_CORESET_LOCATIONS", 100)
    x = torch.from_numpy(np.random.RandomState(0).rand(32, 1, 28, 28).astype(np.float32))
    fm = fit_feature_map(x, batch_size=8, device="cpu", bank_size=10**6)
    assert fm.bank.shape == (32 * (100 // 32), 40)  # 3 per image: all of them kept
    f = local_features(fm.trunk, x)
    f = f.permute(0, 2, 3, 1).reshape(32, -1, 40).double()
    w = (f - fm.mean.double()) @ fm.whiten.double()
    # each bank row's nearest image (by its nearest location), images (32,) per row
    d = np.stack([_min_squared_distance(fm.bank, image) for image in w], axis=1)
    from_image = torch.from_numpy(d.argmin(1))
    assert torch.bincount(from_image, minlength=32).tolist() == [3] * 32


def test_greedy_coreset_picks_the_farthest_point_each_time():
    rng = np.random.RandomState(0)
    v = torch.from_numpy(rng.randn(300, 5).astype(np.float32))
    chosen = greedy_coreset(v, 20, torch.Generator().manual_seed(3), dims=5)
    assert len(set(chosen.tolist())) == 20
    g = torch.Generator().manual_seed(3)
    p = v @ (torch.randn(5, 5, generator=g) / 5**0.5)
    assert chosen[0] == int(torch.randint(300, (1,), generator=g))
    for i in range(1, 20):
        d = torch.cdist(p, p[chosen[:i]]).amin(1)
        assert d[chosen[i]] == pytest.approx(float(d.max()), rel=1e-5)
    # every row when the bank is not smaller than the data
    assert greedy_coreset(v, 300, torch.Generator()).tolist() == list(range(300))


def test_nearest_map_formula_and_blocks():
    rng = np.random.RandomState(1)
    f = torch.from_numpy(rng.randn(2, 4, 3, 5).astype(np.float32))
    mean = torch.from_numpy(rng.randn(4).astype(np.float32))
    whiten = torch.from_numpy(np.tril(rng.rand(4, 4)).astype(np.float32) + torch.eye(4).numpy())
    bank = torch.from_numpy(rng.randn(7, 4).astype(np.float32))
    w = (f.permute(0, 2, 3, 1).double() - mean.double()) @ whiten.double()
    expected = ((w[..., None, :] - bank.double()) ** 2).sum(-1).amin(-1)
    for block in (1, 4, 8192):
        got = nearest_map(f, mean, whiten, bank, block=block)
        assert got.shape == (2, 3, 5) and got.dtype == torch.float32
        torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)


def test_unknown_method_is_refused(data):
    with pytest.raises(ValueError, match="method must be one of .*'nearest'.*got 'knn'"):
        fit_feature_map(_x(data[0][:2]), batch_size=2, device="cpu", method="knn")


def test_upsampling_reaches_the_minimum_side_by_at_most_the_maximum_factor(feature_fitted, data):
    assert (FEATURE_MAP_MIN_SIDE, FEATURE_MAP_MAX_UPSAMPLING) == (320, 8)
    assert feature_min_side((64, 64)) == 320 and feature_min_side((64, 128)) == 320
    assert feature_min_side((32, 48)) == 256 and feature_min_side((500, 400)) == 320
    # the 28 px digits go to 224 px, a 28 x 28 grid of stride 8, resized to the image
    assert feature_fitted.feature_map_.trunk.preprocess.min_side == 224
    features = local_features(feature_fitted.feature_map_.trunk, _x(data[1][:2]))
    assert features.shape == (2, 40, 28, 28)
    assert feature_fitted.predict_heatmap(data[1][:2]).shape == (2, 28, 28)


@pytest.mark.parametrize("fitted", ["feature_fitted", "gaussian_fitted", "student_fitted"])
def test_heatmap_and_local_score_formulas(fitted, data, request):
    det = request.getfixturevalue(fitted)
    X_train, X = data
    parts = det.score_parts(X, heatmap=True)
    expected = _feature_heatmap(det, X, det.feature_weight_)
    np.testing.assert_allclose(parts.feature_heatmap, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        parts.heatmap,
        parts.global_heatmap + parts.local_heatmap + parts.feature_heatmap,
        rtol=1e-12,
    )
    # the default local score, the top 10% of the whole map, includes the feature map ...
    flat = np.sort(parts.heatmap.reshape(len(X), -1), axis=1)
    top = flat[:, -int(round(HEATMAP_TOP_FRACTION * flat.shape[1])) :].mean(axis=1)
    np.testing.assert_allclose(parts.local_score, top, rtol=1e-12)
    # ... and so does the local map's maximum
    as_max = copy.copy(det)
    as_max.local_score = "heatmap_max"
    local_map = parts.local_heatmap + parts.feature_heatmap
    max_score = as_max.score_parts(X).local_score
    np.testing.assert_allclose(max_score, local_map.max(axis=(1, 2)), rtol=1e-12)
    # the weight gives the feature map the spread of the models' maps on the training images
    train = det.score_parts(X_train, heatmap=True)
    models = train.heatmap - train.feature_heatmap
    assert train.feature_heatmap.std() == pytest.approx(models.std(), rel=1e-6)
    # and the local part is standardised with the feature map in it
    both = np.vstack([train.global_score, train.local_score])
    np.testing.assert_allclose(det.score_center_, both.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(det.score_scale_, both.std(axis=1), rtol=1e-6)


@pytest.mark.parametrize("fitted", ["feature_fitted", "student_fitted"])
def test_feature_map_is_saved_and_loaded(fitted, data, request):
    feature_fitted = request.getfixturevalue(fitted)
    buffer = io.BytesIO()
    joblib.dump(feature_fitted, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    X = data[1][:8]
    np.testing.assert_array_equal(loaded.predict_heatmap(X), feature_fitted.predict_heatmap(X))
    np.testing.assert_array_equal(loaded.anomaly_score(X), feature_fitted.anomaly_score(X))


@pytest.mark.parametrize("fitted", ["feature_fitted", "gaussian_fitted", "student_fitted"])
def test_onnx_graph_includes_the_feature_map(fitted, data, tmp_path, request):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from sklearn_igd import to_onnx

    feature_fitted = request.getfixturevalue(fitted)
    X = data[1][:4]
    session = ort.InferenceSession(
        str(to_onnx(feature_fitted, tmp_path / "m.onnx", heatmap=True)),
        providers=["CPUExecutionProvider"],
    )
    score, heat = session.run(None, {"images": X[:, None].astype(np.float32) / 255})
    np.testing.assert_allclose(score, feature_fitted.anomaly_score(X), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(heat, feature_fitted.predict_heatmap(X), rtol=1e-3, atol=1e-3)


@functools.cache
def _feature_map_auc(texture, threads):
    data = make_texture_defects(texture, n_train=64, n_test=40, size=32, random_state=0)
    with_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fm = fit_feature_map(_x(data.images_train), batch_size=16, device="cpu")
        with torch.no_grad():
            maps = fm(_x(data.images_test)).double()
    finally:
        torch.set_num_threads(with_threads)
    maps = smooth_maps(maps, gaussian_kernel_1d(32 / 16)).numpy()
    return pixel_roc_auc(data.masks_test, maps)


#: texture: minimum pixel ROC AUC of the nearest-neighbour feature map alone on
#: the localisation tests' draw (test_localisation_quality.py: 64 normal 32 px crops, 40
#: test crops). No training is involved and the bank's selection is seeded; measured with
#: 1 and 2 threads (identical to 4 decimals): brick 0.9670, grass 0.8103, gravel 0.8214
#: (the Gaussian map: 0.9685 / 0.8182 / 0.8223), against 0.966-0.980 / 0.599-0.690 /
#: 0.667-0.740 for the models' reconstruction maps over 5 seeds and 1-2 threads
#: (benchmarks/results/quality_spread_localisation.md). The thresholds leave 0.027-0.051
#: for other CPUs' rounding.
MIN_FEATURE_AUC = {"brick": 0.94, "grass": 0.78, "gravel": 0.77}


@pytest.mark.parametrize("texture", sorted(MIN_FEATURE_AUC))
def test_feature_map_localises_texture_defects(texture, measured):
    auc = measured("pixel_auc_feature_map", _feature_map_auc(texture, 1))
    assert auc >= MIN_FEATURE_AUC[texture], (texture, auc)
