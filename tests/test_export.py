"""ONNX export of fitted detectors (sklearn_igd.to_onnx), checked with onnxruntime.

The exported graph must reproduce ``anomaly_score`` and ``predict_heatmap`` on a batch
size other than the one the graph was traced with (2), for the global model alone, with
the local model, on RGB images, with a frozen pre-trained (KD) encoder, flip-invariant or
not, and for 2-D input (the StandardScaler in the graph).
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from conftest import FAST, FAST_LOCAL
from conftest import raises_match as _raises
from sklearn.exceptions import NotFittedError

from sklearn_igd import IGDDetector, to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _session(path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # the test machine's cores are shared
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _images(X):
    """The documented input contract: float32 (n, C, H, W) in [0, 1]."""
    X = np.asarray(X)
    if X.ndim == 3:
        X = X[:, None]
    elif X.shape[-1] == 3:  # channels last
        X = np.moveaxis(X, -1, 1)
    return (X.astype(np.float32) / 255).astype(np.float32)


def _dims(value_info):
    return [d.dim_value or d.dim_param for d in value_info.type.tensor_type.shape.dim]


@pytest.fixture(scope="module")
def rgb():
    """A detector with the local model on 16 px RGB images (3x3 patches of 8 px), the
    global part of its score weighted 0.5 (``score_weights_`` is in the graph too)."""
    rng = np.random.RandomState(0)
    base = np.linspace(0, 255, 16)[None, :, None] * np.ones((1, 1, 3))
    X = np.clip(base + rng.normal(0, 20, size=(40, 16, 16, 3)), 0, 255).astype(np.uint8)
    det = IGDDetector(**FAST_LOCAL, global_score_weight=0.5).fit(X[:32])
    return det, X


@pytest.fixture(scope="module")
def imagenet(digits):
    """The default frozen ImageNet encoder (EfficientNet-Lite0 blocks, whitening), one
    epoch on 8x8 digits."""
    X, y = digits
    params = {**FAST, "max_epochs": 1, "pretrain": "imagenet"}
    return IGDDetector(**params).fit(X[y == 1][:64]), X


@pytest.fixture(scope="module")
def imagenet_flip(digits):
    """As ``imagenet``, with flip-invariant features (two trunk passes per image)."""
    X, y = digits
    params = {**FAST, "max_epochs": 1, "pretrain": "imagenet", "flip_invariant": True}
    return IGDDetector(**params).fit(X[y == 1][:64]), X


@pytest.fixture
def case(request, fitted, local_fitted, digits, mnist, rgb, imagenet, imagenet_flip):
    """``(detector, test images)`` for each kind of fitted detector."""
    if request.param == "global":
        return fitted, digits[0][100:105]
    if request.param == "local":
        return local_fitted, mnist[0][200:205]
    if request.param == "rgb":
        return rgb[0], rgb[1][33:38]
    if request.param == "imagenet-flip":
        return imagenet_flip[0], imagenet_flip[1][200:205]
    return imagenet[0], imagenet[1][200:205]


# pretrain="ssl" exports the same module as "global" (its encoder is trained, not frozen)
@pytest.mark.parametrize(
    "case", ["global", "local", "rgb", "imagenet", "imagenet-flip"], indirect=True
)
def test_onnxruntime_matches_the_detector(case, tmp_path):
    det, X = case
    path = to_onnx(det, tmp_path / "igd.onnx", heatmap=True)
    session = _session(path)
    assert [i.name for i in session.get_inputs()] == ["images"]
    assert [o.name for o in session.get_outputs()] == ["score", "heatmap"]
    score, heat = session.run(None, {"images": _images(X)})  # 5 images, traced with 2
    assert score.dtype == heat.dtype == np.float32
    assert score.shape == (5,) and heat.shape == (5,) + det.input_shape_[1:]
    # float32 rounding; with the local model the standardised scores of normal images lie
    # near 0, where only an absolute tolerance is meaningful
    np.testing.assert_allclose(score, det.anomaly_score(X), rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(heat, det.predict_heatmap(X), rtol=1e-3, atol=1e-4)
    # the score-only graph: one output, the same scores, any batch size
    session = _session(to_onnx(det, tmp_path / "score.onnx"))
    assert [o.name for o in session.get_outputs()] == ["score"]
    (one,) = session.run(None, {"images": _images(X[:1])})
    np.testing.assert_allclose(one, det.anomaly_score(X[:1]), rtol=1e-3, atol=1e-4)


def test_graph_has_a_dynamic_batch_and_no_float64(local_fitted, tmp_path):
    model = onnx.load(to_onnx(local_fitted, tmp_path / "m.onnx", heatmap=True))
    assert [_dims(v) for v in model.graph.input] == [["n", 1, 28, 28]]
    assert [_dims(v) for v in model.graph.output] == [["n"], ["n", 28, 28]]
    model = onnx.shape_inference.infer_shapes(model)
    types = {v.type.tensor_type.elem_type for v in model.graph.value_info}
    types |= {t.data_type for t in model.graph.initializer}
    assert onnx.TensorProto.DOUBLE not in types


def test_static_batch(fitted, digits, tmp_path):
    path = to_onnx(fitted, tmp_path / "m.onnx", dynamic_batch=False, opset=13)
    model = onnx.load(path)
    assert [_dims(v) for v in model.graph.input] == [[1, 1, 8, 8]]
    assert model.opset_import[0].version == 13
    X = digits[0][:1]
    (score,) = _session(path).run(None, {"images": _images(X)})
    np.testing.assert_allclose(score, fitted.anomaly_score(X), rtol=1e-3)


def test_tabular_graph_includes_the_scaler(tmp_path):
    rng = np.random.RandomState(0)
    scale = np.array([1.0, 10.0, 100.0, 0.1, 1.0])
    X = rng.normal(5, 3, size=(64, 5)) * scale
    det = IGDDetector(**{**FAST, "batch_size": 16}).fit(X)
    assert det.global_weights_[0] != det.global_weights_[1]  # balanced terms, in the graph
    session = _session(to_onnx(det, tmp_path / "tab.onnx"))
    assert [i.name for i in session.get_inputs()] == ["X"]
    X_test = rng.normal(5, 5, size=(7, 5)) * scale  # raw, unscaled features
    (score,) = session.run(None, {"X": X_test.astype(np.float32)})
    np.testing.assert_allclose(score, det.anomaly_score(X_test), rtol=1e-3)
    with _raises(ValueError, "heatmap=True needs a detector fitted on images", "5 features"):
        to_onnx(det, tmp_path / "no.onnx", heatmap=True)


def test_refuses_unfitted_and_other_estimators(tmp_path):
    with pytest.raises(NotFittedError, match="not fitted"):
        to_onnx(IGDDetector(), tmp_path / "m.onnx")
    from sklearn.ensemble import IsolationForest

    with _raises(TypeError, "fitted IGDDetector", "IsolationForest"):
        to_onnx(IsolationForest(), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_refuses_an_old_opset(fitted, tmp_path):
    with _raises(ValueError, "opset must be at least 13", "got 11"):
        to_onnx(fitted, tmp_path / "m.onnx", opset=11)


@pytest.mark.parametrize("dynamic_side", [False, True])
def test_adaptive_avg_pool_of_any_size(tmp_path, dynamic_side):
    """Output sizes that do not divide the input (the exporter's own symbolic refuses
    them), with static H, W and with H, W known only at run time."""

    class Pool(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.adaptive_avg_pool2d(x, (2, 3))

    from sklearn_igd.export import _adaptive_pool_as_matmul

    x = torch.rand(2, 3, 5, 7)
    axes = {0: "n", 2: "h", 3: "w"} if dynamic_side else {0: "n"}
    with _adaptive_pool_as_matmul(17), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            Pool(), (x,), tmp_path / "p.onnx", dynamo=False, opset_version=17,
            input_names=["x"], dynamic_axes={"x": axes},
        )  # fmt: skip
    session = _session(tmp_path / "p.onnx")
    for shape in [(4, 3, 5, 7)] + ([(1, 3, 9, 4)] if dynamic_side else []):
        x = torch.rand(shape)
        (out,) = session.run(None, {"x": x.numpy()})
        expected = torch.nn.functional.adaptive_avg_pool2d(x, (2, 3)).numpy()
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_package_imports_without_onnx():
    code = (
        "import sys; sys.modules['onnx'] = None\n"
        "import sklearn_igd\n"
        "from sklearn_igd.datasets import load_digits_images\n"
        "X, y = load_digits_images(return_X_y=True)\n"
        "det = sklearn_igd.IGDDetector(max_epochs=1, pretrain=None, local=False,"
        " batch_size=32).fit(X[:40])\n"
        "try:\n"
        "    sklearn_igd.to_onnx(det, 'never.onnx')\n"
        "except ImportError as e:\n"
        "    print('ImportError:', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert "ImportError:" in out.stdout and "sklearn-igd[onnx]" in out.stdout, out
