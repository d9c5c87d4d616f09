"""Resolution of the "auto" parameters and the checks made before training."""

import numpy as np
import pytest
import torch
from conftest import FAST
from conftest import raises_match as _raises
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_igd import IGDDetector
from sklearn_igd._config import (
    CPU_SAMPLE_PASSES,
    GPU_EPOCHS,
    LOCAL_BATCH_VALUES,
    LOCAL_PATCH_PASSES,
    resolve_device,
    resolve_fit_plan,
    resolve_threads,
    torch_threads,
)


def _plan(shape=(1, 28, 28), n=1000, **params):
    return resolve_fit_plan(IGDDetector(**params), shape, n, 1)


def test_auto_backbone_and_epochs_on_cpu():
    plan = _plan()
    assert plan.device == "cpu" and plan.backbone == "resnet18-lite" and plan.amp_dtype is None
    # a budget of sample passes: 1000 images -> 5 epochs
    assert plan.n_epochs == round(CPU_SAMPLE_PASSES / 1000) == 5
    assert _plan(n=10).n_epochs == GPU_EPOCHS  # capped at the paper's epochs
    assert _plan(n=100_000).n_epochs == 1  # at least one epoch
    assert _plan(max_epochs=7, backbone="resnet18").n_epochs == 7
    assert _plan(backbone="resnet18").backbone == "resnet18"
    assert GPU_EPOCHS == 256  # the paper's, used on CUDA


def test_auto_local_model_by_image_size():
    assert not _plan((1, 28, 28)).local and not _plan((3, 63, 200)).local
    plan = _plan((3, 64, 64))
    assert plan.local and plan.patch_size == 8 and plan.patch_stride == 4
    assert _plan((1, 28, 28), local=True).local
    assert not _plan((1, 512, 512), local=False).local
    assert not _plan((7,), local=True).local  # vectors never have a local model


def test_auto_epochs_count_larger_images_by_their_pixels():
    # images of up to 28x28 are one sample each; a 64x64 image counts 4096 / 784 = 5.2
    assert _plan((1, 32, 32), n=1000).n_epochs == round(5000 / (1000 * 1024 / 784)) == 4
    assert _plan((3, 64, 64), n=100).n_epochs == round(5000 / (100 * 4096 / 784)) == 10
    assert _plan((3, 64, 64), n=200).n_epochs == 5
    assert _plan((3, 16, 16), n=1000).n_epochs == 5  # smaller images count as one
    assert _plan((3, 256, 256), n=100).n_epochs == 1
    assert _plan((30,), n=1000).n_epochs == 5  # vectors are one sample each


def test_auto_local_epochs_pass_over_a_budget_of_patches():
    # 100 images of 64 px: 225 patches each, 22,500 an epoch: 2 epochs (local_epochs.md)
    plan = _plan((3, 64, 64), n=100)
    assert (plan.n_epochs, plan.n_local_epochs) == (10, 2)
    assert LOCAL_PATCH_PASSES / (100 * 225) == 2
    assert _plan((3, 64, 64), n=200).n_local_epochs == 2  # one epoch would do: at least 2
    assert _plan((3, 64, 64), n=10, max_epochs=256).n_local_epochs == 20  # 2,250 an epoch
    assert _plan((3, 64, 64), n=100, max_epochs=1).n_local_epochs == 1  # at most the global's
    assert _plan((3, 32, 32), n=64, local=True, max_epochs=5).n_local_epochs == 5  # 3,136
    assert _plan((3, 64, 64), n=100, max_epochs=3, local_epochs=7).n_local_epochs == 7
    assert _plan((1, 28, 28)).n_local_epochs is None  # no local model


def test_local_batch_is_sized_by_pixels():
    # 512 px: auto patch 64 -> 2**18 / 4096 = 64 patches per batch
    assert _plan((1, 512, 512), n=2).local_batch_size == LOCAL_BATCH_VALUES // 4096
    assert _plan((3, 512, 512), n=2).local_batch_size == LOCAL_BATCH_VALUES // (3 * 4096)
    # small patches: at most 16 x batch_size, and no more than the training patches
    assert _plan((1, 64, 64), n=1000).local_batch_size == 16 * IGDDetector().batch_size
    assert _plan((1, 64, 64), n=2).local_batch_size == 2 * 15 * 15
    assert _plan((1, 64, 64), local_batch_size=10).local_batch_size == 10


def test_patch_geometry_errors():
    with _raises(ValueError, "patch_size=40", "32x32", "at most 32"):
        _plan((1, 32, 32), local=True, patch_size=40)
    with _raises(ValueError, "patch_stride=9", "patch_size=8", "gaps of 1 px"):
        _plan((1, 32, 32), local=True, patch_size=8, patch_stride=9)


def test_device_resolution():
    assert resolve_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto") == "cpu"
        with _raises(ValueError, "'cuda:1'", "not available"):
            resolve_device("cuda:1")
    with _raises(ValueError, "'meta'", "cannot train"):
        resolve_device("meta")
    with _raises(ValueError, "device must be", "'gpu0'"):
        resolve_device("gpu0")


def test_meta_device_is_rejected_before_anything_runs(digits):
    with _raises(ValueError, "'meta'"):
        IGDDetector(**{**FAST, "device": "meta"}).fit(digits[0][:10])


@pytest.mark.parametrize("param", ["max_epochs", "batch_size", "latent_dim", "n_threads"])
def test_booleans_are_not_counts(param, digits):
    with pytest.raises(InvalidParameterError, match=param):
        IGDDetector(**{**FAST, param: True}).fit(digits[0][:10])


def test_threads():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    assert resolve_threads(3) == 3 and resolve_threads(None) == before


def test_n_threads_is_used_and_recorded(digits):
    X, y = digits
    before = torch.get_num_threads()
    det = IGDDetector(**{**FAST, "max_epochs": 1, "n_threads": 1}).fit(X[y == 0])
    assert det.n_threads_ == 1 and torch.get_num_threads() == before
    again = IGDDetector(**{**FAST, "max_epochs": 1, "n_threads": 1}).fit(X[y == 0])
    np.testing.assert_array_equal(det.anomaly_score(X[:30]), again.anomaly_score(X[:30]))


def test_n_threads_holds_under_an_outside_openmp_limit(digits):
    # threadpoolctl's OpenMP limit changes what torch.get_num_threads reports but not
    # every thread setting torch.set_num_threads makes: the fit must still set n_threads
    # (with the default frozen ImageNet encoder the scores differed in every image)
    from threadpoolctl import threadpool_limits

    X, y = digits
    params = {**FAST, "max_epochs": 1, "n_threads": 1, "pretrain": "imagenet"}
    scores = []
    for limit in (None, 1):
        with torch_threads(2), threadpool_limits(limit, user_api="openmp"):
            det = IGDDetector(**params).fit(X[y == 0])
        scores.append(det.anomaly_score(X[:30]))
    np.testing.assert_array_equal(scores[0], scores[1])
