"""Inference copies for scoring (sklearn_igd._inference): batch norm folded, channels_last.

They must give the scores of the fitted models up to float32 rounding (rtol 1e-5) and
leave those models untouched.
"""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from sklearn_igd._inference import cached_inference_copy, fold_batchnorm, inference_copy
from sklearn_igd._networks import IGDModule
from sklearn_igd._persistence import weights_digest
from sklearn_igd._scoring import CPU_EVAL_VALUES, cpu_batch_size, score_in_batches


def _with_batchnorm_statistics(module, shape, seed=0):
    """``module`` in eval mode after a few train-mode passes (non-trivial BN statistics)
    and a perturbation of the BN affine weights."""
    g = torch.Generator().manual_seed(seed)
    module.train()
    with torch.no_grad():
        for _ in range(3):
            module(torch.rand((16,) + shape, generator=g))
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.add_(0.1 * torch.randn(m.weight.shape, generator=g))
                m.bias.add_(0.1 * torch.randn(m.bias.shape, generator=g))
    return module.eval()


@pytest.mark.parametrize("backbone", ["resnet18-lite", "resnet18"])
@pytest.mark.parametrize("shape", [(1, 16, 16), (3, 72, 72)])
def test_folded_copy_gives_the_same_outputs(backbone, shape):
    """Every batch norm of the ResNet encoder and decoder is folded; codes, reconstructions
    and score terms agree to float32 rounding (small and ImageNet stems)."""
    torch.manual_seed(0)
    module = _with_batchnorm_statistics(IGDModule(shape, backbone), shape)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    fast = inference_copy(module)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fast.modules())
    assert fast.critic is None and module.critic is not None
    x = torch.rand((6,) + shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        z, x_hat = module(x)
        z_f, x_hat_f = fast(x.contiguous(memory_format=torch.channels_last))
        torch.testing.assert_close(z_f, z, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(x_hat_f, x_hat, rtol=1e-4, atol=1e-5)
        for a, b in zip(fast.score_terms(x), module.score_terms(x)):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    for k, v in module.state_dict().items():  # the original is untouched
        assert torch.equal(v, before[k]), k


def test_fold_batchnorm_folds_sequential_linear_pairs():
    """``nn.Sequential`` pairs (conv, bn) and (linear, bn1d) fold too (MLP, stems)."""
    torch.manual_seed(0)
    seq = nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3))
    seq.train()
    with torch.no_grad():
        seq(torch.randn(32, 5) * 3 + 1)
    seq.eval()
    x = torch.randn(7, 5)
    expected = seq(x)
    folded = copy.deepcopy(seq)
    assert fold_batchnorm(folded) == 1
    torch.testing.assert_close(folded(x), expected, rtol=1e-5, atol=1e-6)


def test_copy_is_cached_until_the_weights_change():
    torch.manual_seed(0)
    module = IGDModule((1, 16, 16), "resnet18-lite").eval()
    first = cached_inference_copy(module)
    assert cached_inference_copy(module) is first
    with torch.no_grad():
        module.decoder.head[-1].bias.add_(1.0)  # an in-place change: a new copy
    second = cached_inference_copy(module)
    assert second is not first
    torch.testing.assert_close(second.decoder.head[-1].bias, module.decoder.head[-1].bias)
    module.set_descriptor(torch.ones(128), torch.tensor(2.0))  # the E-step's buffers
    third = cached_inference_copy(module)
    assert third is not second and float(third.sigma2) == 2.0


def _float64_reference(det, X):
    """Scores of ``det``'s models run in float64: the float32-rounding-free value."""
    scorer = copy.deepcopy(det._scorer()).double()
    return score_in_batches(scorer, X, batch_size=64, dtype=torch.float64, heatmap=True)


@pytest.mark.parametrize("model", ["fitted", "local_fitted"])
def test_scores_equal_the_unoptimised_scores(model, request, digits, mnist):
    """The detector's scores (inference copies, CPU batches) equal the plain models'
    scores to float32 rounding (rtol 1e-5; with the local model also atol 1e-4), and are
    as close to the float64 values as those are. The ``1 - MS-SSIM`` map is
    ill-conditioned where MS-SSIM is near 0 (``m ** 0.0448``): float32 and float64 runs of
    the same model differ there by ~1e-3, so the maps are compared with the float64 map
    as the yardstick."""
    det = request.getfixturevalue(model)  # global model on 8 px digits; local on MNIST
    X = (digits if model == "fitted" else mnist)[0][:40]
    Xp = det._prepare(X)
    plain = score_in_batches(det._scorer(), Xp, batch_size=40, heatmap=True, optimize=False)
    fast = det.score_parts(X, heatmap=True)
    for key in ("score", "global_score", "local_score"):
        if plain[key] is not None:
            # with the local model the score is standardised (values around 0, unit
            # spread) and its local part is the maximum of a float32 map: an absolute
            # tolerance of float32 rounding after the division by the training spread
            atol = 1e-4 if key in ("score", "local_score") else 0.0
            np.testing.assert_allclose(fast[key], plain[key], rtol=1e-5, atol=atol, err_msg=key)
    ref = _float64_reference(det, Xp)
    for key in ("score", "heatmap"):
        err_fast = np.abs(fast[key] - ref[key]).mean()
        err_plain = np.abs(plain[key] - ref[key]).mean()
        assert err_fast <= 3 * err_plain + 1e-7, (key, err_fast, err_plain)
    np.testing.assert_allclose(fast.heatmap, plain.heatmap, atol=0.02 * np.abs(ref.heatmap).max())


def test_fitted_model_is_not_modified(fitted, digits):
    X, _ = digits
    digest = weights_digest(fitted._torch_models())
    fitted.anomaly_score(X[:10])
    assert weights_digest(fitted._torch_models()) == digest
    assert any(
        isinstance(m, nn.modules.batchnorm._BatchNorm) for m in fitted.net_.module_.modules()
    )
    assert fitted.net_.module_.critic is not None


def test_cpu_batches_follow_the_cache_budget():
    class _Local:
        n_patches, patch = 36, 8

    class _Scorer:
        local_model = None

    assert cpu_batch_size(_Scorer(), (1, 28, 28)) == CPU_EVAL_VALUES // 784
    assert cpu_batch_size(_Scorer(), (3, 512, 512)) == 1
    _Scorer.local_model = _Local()
    assert cpu_batch_size(_Scorer(), (1, 28, 28)) == CPU_EVAL_VALUES // (36 * 64)


def test_threads_score_whole_batches(fitted, digits):
    """With several torch threads, CPU batches run concurrently, one thread each: the
    scores and maps equal the one-thread ones exactly, and the thread count is restored."""
    X, _ = digits  # 1,797 images of 8x8: two CPU batches
    det = clone_fitted(fitted)
    one = det.set_params(n_threads=1).score_parts(X, heatmap=True)
    before = torch.get_num_threads()
    two = det.set_params(n_threads=2).score_parts(X, heatmap=True)
    assert torch.get_num_threads() == before
    np.testing.assert_array_equal(two.score, one.score)
    np.testing.assert_array_equal(two.heatmap, one.heatmap)


def clone_fitted(det):
    """A copy of a fitted detector whose parameters the test may change."""
    return copy.deepcopy(det)
