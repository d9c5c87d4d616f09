"""IGDDetector's scikit-learn contract, inputs, errors, reproducibility and persistence."""

import copy
import io
import re
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError
from skorch.exceptions import DeviceWarning

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import load_digits_images, load_mnist_5k
from sklearn_igd.model_selection import OneClassSplit

FAST = dict(backbone="resnet18-lite", max_epochs=2, batch_size=32, random_state=0, pretrain=None)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True)
    return X, y


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits
    return IGDDetector(**FAST).fit(X[y == 0])


# --------------------------------------------------------------------- the contract
def test_relations_hold_exactly(fitted, digits):
    X, _ = digits
    s = fitted.anomaly_score(X)
    ss = fitted.score_samples(X)
    df = fitted.decision_function(X)
    pred = fitted.predict(X)
    assert s.dtype == ss.dtype == df.dtype == np.float64
    assert s.shape == ss.shape == df.shape == pred.shape == (len(X),)
    np.testing.assert_array_equal(ss, -s)
    np.testing.assert_array_equal(df, ss - fitted.offset_)
    assert np.issubdtype(pred.dtype, np.integer)
    np.testing.assert_array_equal(pred, np.where(df < 0, -1, 1))
    assert set(np.unique(pred)) <= {-1, 1}


def test_anomaly_score_is_reconstruction_plus_gaussian_term(digits):
    """The global model alone (local=False): s = l_r + l_h (eq. 14)."""
    X, y = digits
    from sklearn_igd._validation import check_input

    det = IGDDetector(**{**FAST, "local": False}).fit(X[y == 0])
    l_r, l_h = det._score_terms(check_input(det, X[:50], reset=False))
    assert np.all((l_h >= 0) & (l_h < 1))
    assert np.all(l_r >= 0)
    np.testing.assert_allclose(det.anomaly_score(X[:50]), l_r + l_h, rtol=0, atol=0)


def test_contamination_sets_training_outlier_share(digits):
    X, y = digits
    Xn = X[y == 3]
    det = IGDDetector(**FAST, contamination=0.2).fit(Xn)
    share = np.mean(det.predict(Xn) == -1)
    assert abs(share - 0.2) <= 1.0 / len(Xn) + 1e-9
    auto = IGDDetector(**FAST, contamination="auto").fit(Xn)
    assert auto.offset_ == -0.5
    np.testing.assert_array_equal(auto.predict(Xn) == -1, auto.anomaly_score(Xn) > 0.5)


def test_fitted_attributes(fitted):
    assert fitted.is_image_ and fitted.input_shape_ == (1, 8, 8)
    assert fitted.n_features_in_ == 64
    assert fitted.mu_.shape == (128,) and fitted.sigma2_ > 0
    assert fitted.device_ == "cpu"
    np.testing.assert_allclose(fitted.mu_, fitted.net_.module_.mu.double().numpy())
    assert fitted.scaler_ is None


def test_not_fitted_raises(digits):
    with pytest.raises(NotFittedError):
        IGDDetector().predict(digits[0][:3])


def test_history_records_each_loss_term(fitted):
    hist = fitted.history_
    assert len(hist) == FAST["max_epochs"]
    for key in ("train_loss", "l_h", "l_r", "l_fg", "l_d", "sigma2", "dur"):
        values = hist[:, key]
        assert len(values) == FAST["max_epochs"] and np.all(np.isfinite(values)), key
    # the batch-level terms are there too: 178 zeros / batch 32 -> 5 full batches
    assert len(hist[-1, "batches"]) == 178 // 32
    # l_fg = l_r + lambda3 * critic penalty >= l_r
    assert np.all(np.asarray(hist[:, "l_fg"]) >= np.asarray(hist[:, "l_r"]) - 1e-12)


def test_training_reduces_reconstruction_loss(digits):
    X, y = digits
    det = IGDDetector(backbone="resnet18-lite", max_epochs=8, batch_size=32, random_state=0).fit(
        X[y == 1]
    )
    l_r = det.history_[:, "l_r"]
    assert l_r[-1] < 0.8 * l_r[0]


def test_batch_size_larger_than_data(digits):
    X, y = digits
    det = IGDDetector(backbone="resnet18-lite", max_epochs=2, batch_size=64, random_state=0).fit(
        X[y == 2][:10]
    )
    assert len(det.history_[-1, "batches"]) == 1
    assert det.history_[-1, "batches"][0]["train_batch_size"] == 10
    assert np.all(np.isfinite(det.score_samples(X[:5])))


def test_verbose_levels(digits, capsys):
    X, y = digits
    IGDDetector(**{**FAST, "verbose": 2}).fit(X[y == 0][:40])
    out = capsys.readouterr().out
    for col in ("epoch", "l_h", "l_r", "l_fg", "l_d", "sigma2"):
        assert col in out
    IGDDetector(**{**FAST, "verbose": 1}).fit(X[y == 0][:40])
    captured = capsys.readouterr()
    assert "IGD" in captured.err and "epoch" in captured.err and "l_h" in captured.err
    IGDDetector(**FAST).fit(X[y == 0][:40])
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# ---------------------------------------------------------------- reproducibility
def test_same_seed_same_scores_and_global_rng_untouched(digits):
    X, y = digits
    torch_state = torch.get_rng_state()
    np_state = np.random.get_state()
    a = IGDDetector(**FAST).fit(X[y == 5]).decision_function(X)
    b = IGDDetector(**FAST).fit(X[y == 5]).decision_function(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1])
    c = IGDDetector(**{**FAST, "random_state": 1}).fit(X[y == 5]).decision_function(X)
    assert not np.allclose(a, c)


# ------------------------------------------------------------------------- layouts
def test_every_layout_and_dtype_gives_the_same_scores(fitted, digits):
    X, _ = digits
    X = X[:20]
    ref = fitted.score_samples(X)  # (n, H, W) uint8
    variants = {
        "NHWC": X[..., None],
        "NCHW": X[:, None],
        "float": X.astype(np.float32) / 255.0,
        "float64 NHWC": X[..., None].astype(np.float64) / 255.0,
        "list": list(X),
        "int64": X.astype(np.int64),
        "torch": torch.from_numpy(X),
    }
    for name, Xv in variants.items():
        np.testing.assert_allclose(
            fitted.score_samples(Xv), ref, rtol=1e-6, atol=1e-6, err_msg=name
        )


def test_rgb_layouts_agree(digits):
    X, y = digits
    rgb = np.stack([X, X // 2, 255 - X], axis=-1)[y == 4]  # (n, 8, 8, 3)
    det = IGDDetector(**FAST).fit(rgb)
    assert det.input_shape_ == (3, 8, 8)
    np.testing.assert_allclose(
        det.score_samples(rgb), det.score_samples(rgb.transpose(0, 3, 1, 2)), rtol=1e-6
    )


def test_image_size_resizes_when_asked(digits):
    X, y = digits
    det = IGDDetector(**FAST, image_size=16).fit(X[y == 0][:40])
    assert det.input_shape_ == (1, 16, 16) and det.n_features_in_ == 256
    assert det.score_samples(X[:4]).shape == (4,)
    assert det.score_samples(np.repeat(np.repeat(X[:4], 3, 1), 3, 2)).shape == (4,)


# ------------------------------------------------------------------------ bad input
def _raises(exc, *patterns):
    class _Ctx:
        def __enter__(self):
            self.cm = pytest.raises(exc)
            self.info = self.cm.__enter__()
            return self.info

        def __exit__(self, *a):
            out = self.cm.__exit__(*a)
            msg = str(self.info.value)
            for p in patterns:
                assert re.search(p, msg), f"{p!r} not in {msg!r}"
            return out

    return _Ctx()


def test_nan_and_inf_are_rejected(fitted, digits):
    X = digits[0][:10].astype(np.float64) / 255.0
    for bad in (np.nan, np.inf):
        Xb = X.copy()
        Xb[3, 2, 2] = bad
        with _raises(ValueError, "NaN or infinity", "expected finite"):
            fitted.predict(Xb)
        with _raises(ValueError, "NaN or infinity"):
            IGDDetector(**FAST).fit(Xb)
    Xt = np.random.RandomState(0).rand(10, 3)
    Xt[0, 0] = np.nan
    with _raises(ValueError, "NaN"):
        IGDDetector(**FAST).fit(Xt)


def test_wrong_rank(fitted):
    with _raises(ValueError, "1 dimension", r"\(5,\)", r"\(n, H, W\)"):
        fitted.predict(np.zeros(5))
    with _raises(ValueError, "5 dimension", r"\(2, 1, 8, 8, 1\)"):
        fitted.predict(np.zeros((2, 1, 8, 8, 1)))
    with _raises(ValueError, "fitted on images", r"\(1, 8, 8\)", r"2-D array of shape \(3, 64\)"):
        fitted.predict(np.zeros((3, 64)))


def test_wrong_channel_count(fitted):
    with _raises(ValueError, "1 or 3 channels", r"\(4, 8, 8, 2\)"):
        fitted.predict(np.zeros((4, 8, 8, 2), dtype=np.uint8))
    with _raises(ValueError, "1 channel", "3 channel"):
        fitted.predict(np.zeros((4, 8, 8, 3), dtype=np.uint8))


def test_image_size_mismatch(fitted):
    with _raises(ValueError, "8x8", "10x12", "image_size"):
        fitted.predict(np.zeros((4, 10, 12), dtype=np.uint8))


def test_empty_and_single_sample(fitted):
    with _raises(ValueError, "0 sample", "minimum of 2"):
        IGDDetector(**FAST).fit(np.zeros((0, 8, 8), dtype=np.uint8))
    with _raises(ValueError, "1 sample", "minimum of 2"):
        IGDDetector(**FAST).fit(np.zeros((1, 8, 8), dtype=np.uint8))
    with _raises(ValueError, "0 sample", "minimum of 1"):
        fitted.predict(np.zeros((0, 8, 8), dtype=np.uint8))
    assert fitted.predict(np.zeros((1, 8, 8), dtype=np.uint8)).shape == (1,)


def test_value_range(fitted):
    with _raises(ValueError, r"\[0, 1\]", "255"):
        fitted.predict(np.full((2, 8, 8), 255.0))
    with _raises(ValueError, "0..255", "300"):
        fitted.predict(np.full((2, 8, 8), 300, dtype=np.int64))


def test_small_images_and_unequal_list():
    with _raises(ValueError, "at least 8x8", "6x6"):
        IGDDetector(**FAST).fit(np.zeros((4, 6, 6), dtype=np.uint8))
    with _raises(ValueError, "same shape", r"\(8, 8\)", r"\(9, 9\)"):
        IGDDetector(**FAST).fit([np.zeros((8, 8)), np.zeros((9, 9))])


def test_tabular_detector_rejects_images():
    det = IGDDetector(**FAST).fit(np.random.RandomState(0).rand(20, 4))
    with _raises(ValueError, "2-D data with 4 features", r"\(3, 8, 8\)"):
        det.predict(np.zeros((3, 8, 8)))
    with _raises(ValueError, "3 features", "expecting 4"):
        det.predict(np.zeros((3, 3)))


@pytest.mark.parametrize(
    "params, pattern",
    [
        (dict(backbone="vgg"), "backbone"),
        (dict(rho=1.5), "rho"),
        (dict(lambda1=-1.0), "lambda1"),
        (dict(contamination=0.7), "contamination"),
        (dict(contamination="sometimes"), "contamination"),
        (dict(batch_size=1), "batch_size"),
        (dict(max_epochs=0), "max_epochs"),
        (dict(latent_dim=0), "latent_dim"),
        (dict(image_size=4), "image_size"),
        (dict(image_size=(16, 4)), "image_size"),
        (dict(lr=0.0), "lr"),
    ],
)
def test_invalid_parameters(params, pattern, digits):
    with pytest.raises(InvalidParameterError, match=pattern) as info:
        IGDDetector(**params).fit(digits[0][:10])
    assert "Got" in str(info.value)


def test_unavailable_device():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with _raises(ValueError, "'cuda'", "not available"):
        IGDDetector(**{**FAST, "device": "cuda"}).fit(np.zeros((4, 8, 8), dtype=np.uint8))
    with _raises(ValueError, "device must be", "'gpu0'"):
        IGDDetector(**{**FAST, "device": "gpu0"}).fit(np.zeros((4, 8, 8), dtype=np.uint8))


# ----------------------------------------------------------- scikit-learn tooling
def test_clone_pipeline_and_grid_search(digits):
    X, y = digits
    det = IGDDetector(**FAST)
    assert clone(det).get_params() == det.get_params()
    pipe = make_pipeline(FunctionTransformer(lambda a: a), IGDDetector(**FAST))
    pipe.fit(X[y == 0][:60])
    assert pipe.predict(X[:5]).shape == (5,)

    mask = (y == 0) | (np.arange(len(y)) % 9 == 0)
    Xs, ys = X[mask], np.where(y[mask] == 0, 1, -1)
    grid = GridSearchCV(
        IGDDetector(**FAST),
        {"lambda1": [0.5, 1.0], "lambda2": [1.0], "lambda3": [0.1], "rho": [0.15, 0.5]},
        scoring="roc_auc",
        cv=OneClassSplit(n_splits=2, random_state=0),
    ).fit(Xs, ys)
    assert len(grid.cv_results_["params"]) == 4
    assert np.all(np.isfinite(grid.cv_results_["mean_test_score"]))
    assert grid.best_score_ > 0.8
    # the refit detector trained on all given samples (anomalies included: refit=True)
    assert grid.best_estimator_.n_features_in_ == 64


# --------------------------------------------------------------------- persistence
def test_joblib_roundtrip_in_a_new_process(fitted, digits, tmp_path):
    X, _ = digits
    path = tmp_path / "det.joblib"
    joblib.dump(fitted, path)
    np.save(tmp_path / "X.npy", X[:50])
    expected = fitted.decision_function(X[:50])
    code = textwrap.dedent(f"""
        import joblib, numpy as np
        det = joblib.load({str(path)!r})
        np.save({str(tmp_path / "out.npy")!r},
                det.decision_function(np.load({str(tmp_path / "X.npy")!r})))
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


def test_cuda_fitted_detector_loads_on_cpu(fitted, digits, tmp_path, monkeypatch):
    """A detector fitted on CUDA, pickled with its tensors tagged as CUDA storages,
    loads on a CPU-only machine: skorch maps them to the CPU (as skorch's own tests
    check CUDA -> CPU loading) and the scores are unchanged."""
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    X, _ = digits
    expected = fitted.decision_function(X[:30])
    det = copy.deepcopy(fitted)
    det.net_.device = "cuda"
    det.device_ = "cuda"
    path = tmp_path / "cuda_det.joblib"
    with monkeypatch.context() as m:
        m.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        joblib.dump(det, path)
    assert b"cuda:0" in path.read_bytes()  # the tensors really are recorded on CUDA
    with pytest.raises(RuntimeError, match="CUDA"):
        torch.load(io.BytesIO(_first_storage_bytes(det)), weights_only=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = joblib.load(path)
    assert any(issubclass(w.category, DeviceWarning) for w in caught)
    assert loaded.device_ == "cpu" and str(loaded.net_.device) == "cpu"
    assert loaded.net_.module_.mu.device.type == "cpu"
    np.testing.assert_array_equal(loaded.decision_function(X[:30]), expected)


def _first_storage_bytes(det):
    """Bytes of one tensor as pickled with the CUDA location tag (for the sanity check)."""
    buf = io.BytesIO()
    orig = torch.serialization.location_tag
    torch.serialization.location_tag = lambda storage: "cuda:0"
    try:
        torch.save(det.net_.module_.mu, buf)
    finally:
        torch.serialization.location_tag = orig
    return buf.getvalue()


# ----------------------------------------------------------------- the local model
@pytest.fixture(scope="module")
def local_fitted():
    X, y = load_mnist_5k(return_X_y=True)
    return IGDDetector(**{**FAST, "max_epochs": 1, "batch_size": 64}).fit(X[y == 3][:64])


def test_combined_score_is_scaled_global_plus_max_over_patches(local_fitted):
    from sklearn_igd._validation import check_input

    X, _ = load_mnist_5k(return_X_y=True)
    det = local_fitted
    assert det.patch_size_ == 8 and det.patch_stride_ == 4  # auto for 28x28
    Xp = check_input(det, X[:40], reset=False)
    l_r, l_h = det.net_.score_terms(torch.from_numpy(Xp))
    p_r, p_h = det.local_net_.patch_score_terms(torch.from_numpy(Xp), 8, det._grid())
    assert p_r.shape == (40, 36)  # 6 x 6 patches of 8 px every 4 px
    a, b = det.score_scale_  # training means of s_G and s_L (tests/test_combination.py)
    np.testing.assert_allclose(
        det.anomaly_score(X[:40]), (l_r + l_h) / a + (p_r + p_h).max(1) / b, rtol=1e-12
    )
    glob = IGDDetector(**{**FAST, "max_epochs": 1, "batch_size": 64, "local": False})
    glob.fit(load_mnist_5k(return_X_y=True)[0][:64])
    assert glob.local_net_ is None and glob.patch_size_ is None


def test_predict_heatmap(local_fitted, digits):
    from sklearn_igd._losses import LOCAL_SSIM, reconstruction_error_map
    from sklearn_igd._patches import extract_patches, fold_patch_maps
    from sklearn_igd._validation import check_input

    X, _ = load_mnist_5k(return_X_y=True)
    det = local_fitted
    heat = det.predict_heatmap(X[:10])
    assert heat.shape == (10, 28, 28) and heat.dtype == np.float64
    assert np.all(np.isfinite(heat)) and heat.min() >= 0
    # = global error terms + local patch terms folded back with overlaps averaged, each
    # divided by its mean over the training pixels (tests/test_combination.py)
    x = torch.from_numpy(check_input(det, X[:10], reset=False))
    m = det.heatmap_scale_
    with torch.no_grad():
        det.net_.module_.eval()
        det.local_net_.module_.eval()
        x_hat = det.net_.module_(x)[1]
        g = (
            reconstruction_error_map(x, x_hat, rho=1.0) / m[0, 0]
            + reconstruction_error_map(x, x_hat, rho=0.0) / m[0, 1]
        )
        p = extract_patches(x, 8, det._grid())
        p_hat = det.local_net_.module_(p)[1]
        lm = (
            reconstruction_error_map(p, p_hat, rho=1.0, ssim=LOCAL_SSIM) / m[1, 0]
            + reconstruction_error_map(p, p_hat, rho=0.0, ssim=LOCAL_SSIM) / m[1, 1]
        )
        loc = fold_patch_maps(lm.view(10, 36, 8, 8).double(), (28, 28), 8, det._grid())
    np.testing.assert_allclose(heat, g.double().numpy() + loc.numpy(), rtol=1e-5, atol=1e-5)
    with _raises(ValueError, "predict_heatmap needs images", "4 features"):
        IGDDetector(**FAST).fit(np.random.RandomState(0).rand(20, 4)).predict_heatmap(
            np.zeros((2, 4))
        )


def test_patch_size_larger_than_image():
    with _raises(ValueError, "patch_size=12", "8x8", "at most 8"):
        IGDDetector(**{**FAST, "patch_size": 12}).fit(np.zeros((4, 8, 8), dtype=np.uint8))


def test_local_batch_size(local_fitted, digits):
    # auto: 16 x batch_size patches, capped at the number of training patches
    assert local_fitted.local_net_.batch_size == min(16 * 64, 64 * 36)
    X, y = digits
    det = IGDDetector(**{**FAST, "local_batch_size": 8}).fit(X[y == 0][:40])
    assert det.local_net_.batch_size == 8
    assert len(det.local_history_[-1, "batches"]) == 40 // 8  # one 8x8 patch per 8x8 image
