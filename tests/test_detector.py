"""IGDDetector's scikit-learn contract, inputs, errors, reproducibility and persistence."""

import copy
import io
import subprocess
import sys
import textwrap
import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import FAST, FAST_LOCAL
from conftest import raises_match as _raises
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import InvalidParameterError
from skorch.exceptions import DeviceWarning

from sklearn_igd import IGDDetector
from sklearn_igd._inference import inference_copy
from sklearn_igd.model_selection import OneClassSplit


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


def _global_terms(det, X):
    """``(l_r, d^2 / sigma^2)`` of ``X`` (n, H, W) uint8 straight from the inference copy
    of the global model the detector scores with (test_inference.py compares it with
    the fitted model), float64."""
    x = torch.from_numpy(X[:, None].astype(np.float32) / 255)
    module = inference_copy(det.net_.module_)
    with torch.no_grad():
        l_r, l_h = (t.double().numpy() for t in module.score_terms(x))
        z = module.encode(x).double()
    d2 = ((z - module.mu.double()) ** 2).sum(1).numpy()
    np.testing.assert_allclose(l_h, d2 / det.sigma2_, rtol=1e-4)
    assert np.all(l_r >= 0)
    return l_r, l_h


def test_anomaly_score_is_reconstruction_plus_gaussian_term(fitted, digits):
    """The global model alone: s = w_r l_r + w_h d^2 / sigma^2 (eq. 14 with the default
    ``gaussian_score="nll"``). An encoder trained from scratch balances the terms
    (``global_score="auto"``): each weight is the inverse of the term's training mean."""
    X, y = digits
    l_r, l_h = _global_terms(fitted, X[:50])
    train_r, train_h = _global_terms(fitted, X[y == 0])
    weights = 1.0 / np.array([train_r.mean(), train_h.mean()])
    np.testing.assert_allclose(fitted.global_weights_, weights, rtol=1e-5)
    assert fitted.global_weights_[0] > 2 * fitted.global_weights_[1]  # l_r is the smaller
    parts = fitted.score_parts(X[:50])
    np.testing.assert_allclose(parts.global_reconstruction, l_r, rtol=1e-6)
    np.testing.assert_allclose(parts.global_gaussian, l_h, rtol=1e-6)
    w_r, w_h = fitted.global_weights_
    np.testing.assert_allclose(fitted.anomaly_score(X[:50]), w_r * l_r + w_h * l_h, rtol=1e-6)
    np.testing.assert_array_equal(parts.global_score, fitted.anomaly_score(X[:50]))


def test_global_score_sum_is_the_papers_and_changes_only_the_score(fitted, digits):
    """``global_score="sum"``: s = l_r + d^2 / sigma^2 of the same model (same seed: the
    weights are identical); it ranks samples differently from the balanced terms, and
    ``offset_`` follows the score so that ``contamination`` still holds."""
    X, y = digits
    det = IGDDetector(**FAST, global_score="sum").fit(X[y == 0])
    same = fitted.net_.module_.state_dict()
    for key, value in det.net_.module_.state_dict().items():
        assert torch.equal(value, same[key]), key
    np.testing.assert_array_equal(det.global_weights_, [1.0, 1.0])
    l_r, l_h = _global_terms(det, X[:50])
    np.testing.assert_allclose(det.anomaly_score(X[:50]), l_r + l_h, rtol=1e-6)
    assert not np.allclose(det.anomaly_score(X[:50]), fitted.anomaly_score(X[:50]))
    for d in (det, fitted):
        assert abs(np.mean(d.predict(X[y == 0]) == -1) - 0.1) <= 1.0 / (y == 0).sum() + 1e-9


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"pretrain": None}, "balanced"),
        ({"pretrain": "ssl", "pretrain_epochs": 1}, "balanced"),
        ({"pretrain": "imagenet"}, "sum"),
        ({"pretrain": None, "contamination": "auto", "gaussian_score": "l_h"}, "sum"),
        ({"pretrain": "imagenet", "global_score": "balanced"}, "balanced"),
    ],
)
def test_global_score_auto_balances_encoders_that_train(digits, params, expected):
    """``"auto"``: balanced for an encoder that trains, the paper's sum for a frozen one
    and for the paper's fixed threshold."""
    X, y = digits
    det = IGDDetector(**{**FAST, "max_epochs": 1, **params}).fit(X[y == 1][:64])
    balanced = not np.array_equal(det.global_weights_, [1.0, 1.0])
    assert balanced == (expected == "balanced"), det.global_weights_
    parts = det.score_parts(X[y == 1][:64])
    means = [parts.global_reconstruction.mean(), parts.global_gaussian.mean()]
    if balanced:
        np.testing.assert_allclose(det.global_weights_, 1.0 / np.array(means), rtol=1e-6)


def test_global_score_auto_balances_2d_input():
    """2-D input trains its MLP encoder: ``"auto"`` balances the terms."""
    X = np.random.RandomState(0).randn(120, 6)
    det = IGDDetector(max_epochs=2, random_state=0).fit(X)
    parts = det.score_parts(X)
    means = np.array([parts.global_reconstruction.mean(), parts.global_gaussian.mean()])
    np.testing.assert_allclose(det.global_weights_, 1.0 / means, rtol=1e-9)
    w = det.global_weights_
    np.testing.assert_allclose(
        parts.score, w[0] * parts.global_reconstruction + w[1] * parts.global_gaussian
    )


@pytest.mark.parametrize("n", [33, 65])
def test_2d_input_with_a_last_batch_of_one_sample(n):
    """2-D input one sample more than a multiple of the batch size (32): the batch-norm
    refresh's last batch joins the one before it instead of giving the MLP's batch norm a
    single value per channel, which raised a ValueError from inside torch."""
    X = np.random.RandomState(0).randn(n, 5)
    det = IGDDetector(max_epochs=1, random_state=0).fit(X)
    assert det.net_.batch_size == 32
    assert np.isfinite(det.score_samples(X)).all()


def test_contamination_sets_training_outlier_share(digits):
    X, y = digits
    Xn = X[y == 3]
    det = IGDDetector(**FAST, contamination=0.2).fit(Xn)
    share = np.mean(det.predict(Xn) == -1)
    assert abs(share - 0.2) <= 1.0 / len(Xn) + 1e-9
    auto = IGDDetector(**FAST, contamination="auto", gaussian_score="l_h").fit(Xn)
    assert auto.offset_ == -0.5
    np.testing.assert_array_equal(auto.predict(Xn) == -1, auto.anomaly_score(Xn) > 0.5)


def test_auto_threshold_needs_the_papers_score(digits):
    """The paper's fixed threshold is for l_h in [0, 1); the NLL term is unbounded."""
    X, y = digits
    with _raises(ValueError, "contamination='auto'", "gaussian_score='nll'", "float"):
        IGDDetector(**FAST, contamination="auto").fit(X[y == 3])
    with _raises(ValueError, "contamination='auto'", "global_score='balanced'", "'sum'"):
        IGDDetector(
            **FAST, contamination="auto", gaussian_score="l_h", global_score="balanced"
        ).fit(X[y == 3])
    # the autoencoder alone scores l_r only, where the threshold is the paper's too
    for variant in ("rec", "mse"):
        det = IGDDetector(**FAST, contamination="auto", variant=variant).fit(X[y == 3])
        assert det.offset_ == -0.5


def test_gaussian_score_nll_ranks_as_l_h(digits):
    """Alone, d^2 / sigma^2 orders samples exactly as 1 - exp(-d^2 / sigma^2); in the score
    it is added to l_r unsaturated."""
    X, y = digits
    nll = IGDDetector(**FAST, gaussian_score="nll").fit(X[y == 3])
    l_h = IGDDetector(**FAST, gaussian_score="l_h").fit(X[y == 3])
    x = torch.from_numpy(nll._prepare(X[:200]))
    with torch.no_grad():
        a = nll.net_.module_.eval().score_terms(x)[1].double().numpy()
        b = l_h.net_.module_.eval().score_terms(x)[1].double().numpy()
    np.testing.assert_allclose(b, -np.expm1(-a), rtol=1e-5, atol=1e-7)
    s_nll = nll.anomaly_score(X[:200])
    assert np.corrcoef(s_nll, a)[0, 1] > 0.5 and not np.allclose(s_nll, l_h.anomaly_score(X[:200]))
    np.testing.assert_array_equal(nll.history_[:, "train_loss"], l_h.history_[:, "train_loss"])


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
    for key in ("train_loss", "l_h", "l_r", "l_fg", "l_d", "sigma2", "code_rank", "dur"):
        values = hist[:, key]
        assert len(values) == FAST["max_epochs"] and np.all(np.isfinite(values)), key
    # the batch-level terms are there too: 178 zeros / batch 32 -> 5 full batches
    assert len(hist[-1, "batches"]) == 178 // 32
    # l_fg = l_r + lambda3 * critic penalty >= l_r
    assert np.all(np.asarray(hist[:, "l_fg"]) >= np.asarray(hist[:, "l_r"]) - 1e-12)


def test_training_reduces_reconstruction_loss(digits):
    X, y = digits
    det = IGDDetector(**{**FAST, "max_epochs": 8}).fit(X[y == 1])
    l_r = det.history_[:, "l_r"]
    assert l_r[-1] < 0.8 * l_r[0]


def test_batch_size_larger_than_data(digits):
    X, y = digits
    det = IGDDetector(**{**FAST, "batch_size": 64}).fit(X[y == 2][:10])
    assert len(det.history_[-1, "batches"]) == 1
    assert det.history_[-1, "batches"][0]["train_batch_size"] == 10
    assert np.all(np.isfinite(det.score_samples(X[:5])))


def test_verbose_levels(digits, capsys):
    X, y = digits
    IGDDetector(**{**FAST, "verbose": 2}).fit(X[y == 0][:40])
    out = capsys.readouterr().out
    for col in ("epoch", "l_h", "l_r", "l_fg", "l_d", "sigma2", "code_rank"):
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
        (dict(support_fraction=0.0), "support_fraction"),
        (dict(support_fraction=1.5), "support_fraction"),
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
        IGDDetector(**{**FAST, "max_epochs": 1}),
        {"lambda1": [0.5, 1.0], "rho": [0.3]},
        scoring="roc_auc",
        cv=OneClassSplit(n_splits=2, random_state=0),
    ).fit(Xs, ys)
    assert len(grid.cv_results_["params"]) == 2
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
def test_local_model_geometry(local_fitted):
    det = local_fitted
    assert det.patch_size_ == 8 and det.patch_stride_ == 4  # auto for 28x28
    assert det.local_net_ is not None and det.score_scale_.shape == (2,)


def test_patch_size_larger_than_image():
    with _raises(ValueError, "patch_size=12", "8x8", "at most 8"):
        IGDDetector(**{**FAST, "local": True, "patch_size": 12}).fit(
            np.arange(4 * 64).reshape(4, 8, 8).astype(np.uint8)
        )


def test_local_batch_size(local_fitted, digits):
    # auto: a pixel budget (2**18 values) and at most 16 x batch_size, capped at the
    # number of training patches: 24 images x 36 patches of 8x8 here
    assert local_fitted.local_net_.batch_size == min(16 * 16, 2**18 // 64, 24 * 36)
    X, y = digits
    det = IGDDetector(**{**FAST, "local": True, "local_batch_size": 8}).fit(X[y == 0][:40])
    assert det.local_net_.batch_size == 8
    assert len(det.local_history_[-1, "batches"]) == 40 // 8  # one 8x8 patch per 8x8 image


def test_local_epochs(local_fitted, digits):
    assert local_fitted.n_local_epochs_ == len(local_fitted.local_history_)
    X, y = digits
    det = IGDDetector(**{**FAST, "local": True, "local_epochs": 3}).fit(X[y == 0][:40])
    assert (det.n_epochs_, det.n_local_epochs_, len(det.local_history_)) == (2, 3, 3)
    assert det.set_params(local=False).fit(X[y == 0][:40]).n_local_epochs_ is None
    with _raises(InvalidParameterError, "local_epochs", "'auto'"):
        IGDDetector(local_epochs=0).fit(X[:10])


# ------------------------------------------------------------------ atomic fit
def test_failed_refit_leaves_the_previous_model_exactly(mnist):
    """A refit that fails on the patch geometry fails before training, and leaves the
    detector as it was: same nets, same threshold, same scores."""
    X, y = mnist
    det = IGDDetector(**{**FAST, "max_epochs": 1, "local": True, "patch_size": 12})
    det.fit(X[y == 1][:16])
    before = dict(det.__dict__)
    scores = det.decision_function(X[:50])
    small = np.random.RandomState(0).randint(0, 255, (20, 8, 8)).astype(np.uint8)
    with _raises(ValueError, "patch_size=12 does not fit images of 8x8", "at most 8"):
        det.fit(small)
    assert det.__dict__.keys() == before.keys()
    assert all(det.__dict__[k] is before[k] for k in before)
    np.testing.assert_array_equal(det.decision_function(X[:50]), scores)


def test_failure_after_training_restores_the_previous_model(fitted, digits, monkeypatch):
    det = copy.deepcopy(fitted)
    X, y = digits
    scores = det.decision_function(X[:20])
    before = dict(det.__dict__)

    def broken(self, X, feature_map=None):
        raise RuntimeError("disk full")

    monkeypatch.setattr(IGDDetector, "_fit_thresholds", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        det.fit(X[y == 7])
    monkeypatch.undo()
    assert det.__dict__.keys() == before.keys()
    assert all(det.__dict__[k] is before[k] for k in before)
    np.testing.assert_array_equal(det.decision_function(X[:20]), scores)


def test_failed_first_fit_leaves_an_unfitted_estimator(digits):
    X, y = digits
    det = IGDDetector(**{**FAST, "local": True, "patch_size": 12})
    with pytest.raises(ValueError, match="patch_size=12"):
        det.fit(X[y == 0])
    assert not hasattr(det, "n_features_in_") and not hasattr(det, "net_")
    with pytest.raises(NotFittedError):
        det.predict(X[:3])


def test_patch_grid_with_gaps_is_rejected_before_training(digits):
    X, y = digits
    with _raises(ValueError, "patch_stride=5", "patch_size=2", "gaps", "at most|<= 2"):
        IGDDetector(**{**FAST, "local": True, "patch_size": 2, "patch_stride": 5}).fit(X[y == 0])


# ----------------------------------------------------------------- no silent NaN
def test_identical_training_images_are_rejected():
    for X in (np.zeros((20, 8, 8), np.uint8), np.full((20, 8, 8), 255, np.uint8)):
        with _raises(ValueError, "All 20 training samples are identical", "variation"):
            IGDDetector(**FAST).fit(X)
    with _raises(ValueError, "identical"):
        IGDDetector(**FAST).fit(np.ones((10, 3)))


def test_constant_images_train_to_finite_scores(mnist):
    """Every image flat (one grey level each, no edges): a degenerate but valid training
    set; batch norm sees zero spatial variance. Scores and heatmaps stay finite."""
    levels = np.linspace(40, 200, 24).astype(np.uint8)
    X = np.broadcast_to(levels[:, None, None], (24, 16, 16)).copy()
    det = IGDDetector(**{**FAST, "local": True, "batch_size": 8}).fit(X)
    for data in (X, mnist[0][:20, :16, :16]):
        assert np.all(np.isfinite(det.anomaly_score(data)))
        assert np.all(np.isfinite(det.predict_heatmap(data)))
    assert np.all(np.isfinite(det.score_scale_)) and np.all(det.heatmap_scale_ > 0)


def test_non_finite_scores_raise_with_the_rows(fitted, digits):
    X, _ = digits
    det = copy.deepcopy(fitted)
    with torch.no_grad():
        det.net_.module_.head.weight[0, 0] = float("nan")
    with _raises(ValueError, "non-finite anomaly scores", "5 of the 5", r"rows 0, 1, 2, 3, 4"):
        det.predict(X[:5])
    with _raises(ValueError, "non-finite"):
        det.decision_function(X[:5])


# ------------------------------------------------------------------------- Ctrl-C
def _interrupt_at(monkeypatch, net_cls, call):
    """Make ``net_cls.train_step`` raise KeyboardInterrupt at its ``call``-th call."""
    original = net_cls.train_step
    calls = {"n": 0}

    def step(self, batch, **kw):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return original(self, batch, **kw)

    monkeypatch.setattr(net_cls, "train_step", step)


def test_interrupt_during_global_training_stops_the_whole_fit(mnist, monkeypatch):
    from sklearn_igd._net import IGDNet

    X, y = mnist
    _interrupt_at(monkeypatch, IGDNet, call=4)  # 32 images, batch 16: epoch 2, batch 2
    det = IGDDetector(**{**FAST, "max_epochs": 5, "batch_size": 16, "local": True})
    with pytest.warns(
        UserWarning,
        match=r"interrupted .* epoch 2 of 5 of the global model.*"
        "local model was not trained",
    ):
        det.fit(X[y == 4][:32])
    assert det.local_net_ is None and det.score_scale_ is None
    assert np.all(np.isfinite(det.decision_function(X[:30])))
    assert det.net_.module_.sigma2 > 0  # the final E-step ran on the weights reached


def test_interrupt_during_local_training(mnist, monkeypatch):
    from sklearn_igd._net import IGDNet

    X, y = mnist
    # global: 1 epoch of 2 batches; the local model's first batch is call 3
    _interrupt_at(monkeypatch, IGDNet, call=3)
    det = IGDDetector(**FAST_LOCAL)
    with pytest.warns(UserWarning, match="epoch 1 of 1 of the local model"):
        det.fit(X[y == 4][:32])
    assert det.local_net_ is not None
    assert np.all(np.isfinite(det.anomaly_score(X[:10])))


def test_interrupt_outside_training_restores_state(fitted, digits, monkeypatch):
    det = copy.deepcopy(fitted)
    X, y = digits
    scores = det.anomaly_score(X[:10])

    def interrupted(self, X, feature_map=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(IGDDetector, "_fit_thresholds", interrupted)
    with pytest.raises(KeyboardInterrupt):
        det.fit(X[y == 3])
    monkeypatch.undo()
    np.testing.assert_array_equal(det.anomaly_score(X[:10]), scores)


def test_support_fraction_trims_the_global_model(digits, monkeypatch):
    """None and 1 are the same fit; a float reaches the frozen features' whitening, the
    E-step and the loss of the global model (each unit-tested with its function) and
    changes the fitted model."""
    from sklearn_igd import _pretrain

    X, y = digits
    X_train = np.concatenate([X[y == 6][:60], X[y == 0][:8]])  # 8 of 68 anomalous
    params = {**FAST, "max_epochs": 1}
    base = IGDDetector(**params).fit(X_train)
    one = IGDDetector(**params, support_fraction=1.0).fit(X_train)
    np.testing.assert_array_equal(base.anomaly_score(X[:20]), one.anomaly_score(X[:20]))
    assert base.net_.support == base.net_.criterion_.support == 1.0
    assert base.support_.dtype == bool and base.support_.shape == (68,) and base.support_.all()
    trimmed = IGDDetector(**params, support_fraction=0.8).fit(X_train)
    assert trimmed.net_.support == trimmed.net_.criterion_.support == 0.8
    assert not np.allclose(base.anomaly_score(X[:20]), trimmed.anomaly_score(X[:20]))
    assert trimmed.support_.dtype == bool and trimmed.support_.sum() == 55  # ceil(0.8 * 68)
    np.testing.assert_array_equal(trimmed.support_, trimmed.net_.support_mask_)
    supports = []
    original = _pretrain.fit_whitening

    def spy(features, n_components=_pretrain.IMAGENET_COMPONENTS, *, support=1.0):
        supports.append(support)
        return original(features, n_components, support=support)

    monkeypatch.setattr(_pretrain, "fit_whitening", spy)
    imagenet = IGDDetector(**{**params, "pretrain": "imagenet", "flip_invariant": False},
                           support_fraction=0.8).fit(X_train)  # fmt: skip
    assert supports == [0.8]
    # support_ finds the planted zeros: 1 of the 8 kept with seeds 0-3 and 1-2 threads,
    # against 6.5 expected of 55 images kept at random
    assert imagenet.support_[60:].sum() <= 3, imagenet.support_[60:]


# ------------------------------------------------------- every weight is a real knob
@pytest.mark.parametrize(
    "param, value", [("lambda1", 0.2), ("lambda2", 3.0), ("lambda3", 1.0), ("rho", 0.5)]
)
def test_each_loss_weight_changes_the_fitted_model(digits, param, value):
    X, y = digits
    base = IGDDetector(**{**FAST, "max_epochs": 1}).fit(X[y == 6])
    other = IGDDetector(**{**FAST, "max_epochs": 1, param: value}).fit(X[y == 6])
    a, b = base.net_.module_.state_dict(), other.net_.module_.state_dict()
    changed = [k for k in a if not k.startswith("critic.") and not torch.equal(a[k], b[k])]
    assert changed, f"{param}={value} left the encoder and decoder unchanged"
    assert not np.allclose(base.anomaly_score(X[:20]), other.anomaly_score(X[:20]))


def test_lambda1_sets_the_critic_learning_rate(digits):
    from sklearn_igd._config import resolve_fit_plan

    X, y = digits
    det = IGDDetector(**{**FAST, "lambda1": 0.25, "lr": 1e-3})
    plan = resolve_fit_plan(det, (1, 8, 8), 100, 1)
    net = det._build_net((1, 8, 8), plan, ssim=None, batch_size=16, epochs=1).initialize()
    assert net.optimizer_.param_groups[0]["lr"] == 1e-3
    assert net.critic_optimizer_.param_groups[0]["lr"] == 0.25e-3


@pytest.mark.parametrize(
    "variant, has_critic, gaussian",
    [("igd", True, True), ("rec+gac", False, True), ("rec", False, False), ("mse", False, False)],
)
def test_variants(digits, variant, has_critic, gaussian):
    X, y = digits
    det = IGDDetector(**{**FAST, "max_epochs": 1, "variant": variant}).fit(X[y == 2])
    module = det.net_.module_
    assert (module.critic is not None) == has_critic and module.gaussian == gaussian
    l_h = np.asarray(det.history_[:, "l_h"])
    assert (l_h > 0).all() == gaussian and np.all(np.asarray(det.history_[:, "l_d"]) >= 0)
    if not has_critic:
        assert np.all(np.asarray(det.history_[:, "l_d"]) == 0)
    if not gaussian:  # s = l_r, divided by its training mean (balanced, from scratch)
        x = torch.from_numpy(X[:10, None].astype(np.float32) / 255)
        with torch.no_grad():
            l_r, _ = inference_copy(module).score_terms(x)  # the detector's scoring copy
        w_r = det.global_weights_[0]
        assert w_r > 1 and det.global_weights_[1] == 1.0  # a zero mean counts as 1
        np.testing.assert_allclose(
            det.anomaly_score(X[:10]), w_r * l_r.double().numpy(), rtol=1e-6
        )
        with torch.no_grad():
            _, x_hat = inference_copy(module)(x)
        mse = (x - x_hat).pow(2).flatten(1).mean(1)
        # "mse" trains and scores the mean squared error, "rec" eq. 12 (not the MSE)
        assert torch.allclose(l_r, mse, rtol=1e-5) == (variant == "mse")
        assert det.net_.criterion_.reconstruction == module.reconstruction
