"""Saving and loading fitted detectors (sklearn_igd._persistence)."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import FAST
from conftest import raises_match as _raises

from sklearn_igd import IGDDetector, InconsistentVersionWarning, load_detector


def _weight_bytes(det):
    return sum(t.numel() * t.element_size() for t in det.net_.module_.state_dict().values())


def test_pickle_holds_weights_not_optimiser_state(fitted):
    assert fitted.net_.optimizer_ is None and fitted.net_.critic_optimizer_ is None
    size = len(pickle.dumps(fitted))
    assert size <= 1.5 * _weight_bytes(fitted) + 2 * 2**20, (size, _weight_bytes(fitted))


def test_pickle_of_a_lite_image_model_is_small(mnist):
    X, y = mnist
    det = IGDDetector(**{**FAST, "max_epochs": 1}).fit(X[y == 0][:64])
    size = len(pickle.dumps(det))
    assert size <= 1.5 * _weight_bytes(det) + 2 * 2**20, (size, _weight_bytes(det))


def test_version_mismatch_warns(fitted, digits, monkeypatch):
    import sklearn_igd._detector as detector_module

    monkeypatch.setattr(detector_module, "__version__", "0.0.1")
    blob = pickle.dumps(fitted)
    monkeypatch.undo()
    with pytest.warns(InconsistentVersionWarning, match="0.0.1") as record:
        loaded = pickle.loads(blob)
    assert record[0].message.original_version == "0.0.1"
    np.testing.assert_array_equal(
        loaded.anomaly_score(digits[0][:5]), fitted.anomaly_score(digits[0][:5])
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(pickle.dumps(fitted))  # same version: silent


def test_flipped_weight_bytes_are_detected(fitted):
    blob = bytearray(pickle.dumps(fitted))
    weight = fitted.net_.module_.head.weight.detach().numpy().tobytes()
    at = bytes(blob).find(weight[:64])
    assert at > 0
    for k in range(at + 8, at + 16):
        blob[k] ^= 0xFF
    with _raises(ValueError, "corrupted", "SHA-256"):
        pickle.loads(bytes(blob))


def test_load_detector_errors(fitted, tmp_path):
    path = tmp_path / "det.joblib"
    joblib.dump(fitted, path)
    assert isinstance(load_detector(path), IGDDetector)
    data = path.read_bytes()
    (tmp_path / "cut.joblib").write_bytes(data[: len(data) // 2])
    with _raises(ValueError, "truncated"):
        load_detector(tmp_path / "cut.joblib")
    (tmp_path / "empty.joblib").write_bytes(b"")
    with _raises(ValueError, "empty"):
        load_detector(tmp_path / "empty.joblib")
    (tmp_path / "text.joblib").write_text("hello, not a model")
    with _raises(ValueError, "not a readable IGDDetector"):
        load_detector(tmp_path / "text.joblib")
    joblib.dump({"a": 1}, tmp_path / "dict.joblib")
    with _raises(ValueError, "holds a dict, not an IGDDetector"):
        load_detector(tmp_path / "dict.joblib")
    with pytest.raises(FileNotFoundError, match="No model file"):
        load_detector(tmp_path / "missing.joblib")


def test_garbage_teacher_weights_never_suggest_unsafe_loading(tmp_path, digits):
    bad = tmp_path / "resnet18.pth"
    torch.save({"not": io.BytesIO}, bad)  # an arbitrary pickled object
    det = IGDDetector(
        **{**FAST, "pretrain": "kd", "kd_teacher": "resnet18", "kd_teacher_weights": str(bad)}
    )
    with pytest.raises(ValueError) as info:
        det.fit(digits[0][:20])
    assert "weights_only=False" not in str(info.value)
    assert "resnet18" in str(info.value).lower()
