"""Inference copies of fitted models: batch norm folded into the layers before it.

In eval mode a batch-norm layer is an affine map per channel, so it can be folded into
the convolution (or linear layer) that feeds it: ``bn(conv(x)) = conv'(x)`` with
``W' = W * gamma / sqrt(var + eps)`` and ``b' = (b - mean) * gamma / sqrt(var + eps) +
beta``. :func:`inference_copy` returns a copy of a fitted model in which every such pair
is folded (the batch norm replaced by an identity) and whose weights use the
``channels_last`` memory format, which oneDNN's CPU convolutions run faster. Scores of
the copy equal the original's up to float32 rounding (relative differences ~1e-7 per
layer); the fitted model itself is not touched.
"""

from __future__ import annotations

import copy
import weakref

import torch
from torch import nn

from ._networks import BasicBlock, ResNetDecoder, UpBlock

_BN = nn.modules.batchnorm._BatchNorm


def _bn_affine(bn):
    """``(scale, shift)`` (C,) of a batch norm in eval mode, in float64."""
    var = bn.running_var.double()
    mean = bn.running_mean.double()
    scale = torch.rsqrt(var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.double()
    shift = -mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias.double()
    return scale, shift


@torch.no_grad()
def _fold_into(layer, bn, repeat=1):
    """Fold ``bn`` (eval mode) into ``layer`` (Conv2d or Linear) in place.

    ``repeat``: each batch-norm channel covers this many consecutive outputs of
    ``layer`` (a Linear whose output is reshaped to ``(C, h, w)``: ``repeat = h * w``).
    """
    scale, shift = _bn_affine(bn)
    if repeat > 1:
        scale, shift = scale.repeat_interleave(repeat), shift.repeat_interleave(repeat)
    w = layer.weight
    view = (-1,) + (1,) * (w.ndim - 1)
    layer.weight.copy_((w.double() * scale.view(view)).to(w.dtype))
    bias = layer.bias.double() if layer.bias is not None else torch.zeros_like(shift)
    new_bias = (bias * scale + shift).to(w.dtype)
    if layer.bias is None:
        layer.bias = nn.Parameter(new_bias, requires_grad=False)
    else:
        layer.bias.copy_(new_bias)


def _foldable(layer, bn):
    return (
        isinstance(layer, (nn.Conv2d, nn.Linear))
        and isinstance(bn, _BN)
        and bn.track_running_stats
        and bn.running_mean is not None
        and layer.weight.shape[0] == bn.num_features
    )


def _fold_sequential(seq):
    """Fold every ``(conv or linear, batch norm)`` pair of consecutive children."""
    names = list(seq._modules)
    for a, b in zip(names[:-1], names[1:]):
        if _foldable(seq._modules[a], seq._modules[b]):
            _fold_into(seq._modules[a], seq._modules[b])
            seq._modules[b] = nn.Identity()


def fold_batchnorm(module):
    """Fold the batch norms of ``module`` (eval mode) into the layers before them, in
    place: the blocks of :mod:`sklearn_igd._networks` and any ``nn.Sequential`` with
    ``conv, bn`` pairs. Returns the number of batch norms folded."""
    count = 0
    for m in list(module.modules()):
        if isinstance(m, (BasicBlock, UpBlock)):
            for conv, bn in (("conv1", "bn1"), ("conv2", "bn2")):
                if _foldable(getattr(m, conv), getattr(m, bn)):
                    _fold_into(getattr(m, conv), getattr(m, bn))
                    setattr(m, bn, nn.Identity())
                    count += 1
        elif isinstance(m, ResNetDecoder) and isinstance(m.bn0, _BN):
            repeat = m.h0 * m.w0
            if m.fc.weight.shape[0] == m.bn0.num_features * repeat:
                _fold_into(m.fc, m.bn0, repeat=repeat)
                m.bn0 = nn.Identity()
                count += 1
        elif isinstance(m, nn.Sequential):
            before = sum(isinstance(c, _BN) for c in m.children())
            _fold_sequential(m)
            count += before - sum(isinstance(c, _BN) for c in m.children())
    return count


def _copy_without_critic(module):
    """A deep copy of ``module``; an IGD model's critic (unused in scoring) is left out."""
    critic = getattr(module, "critic", None)
    memo = {id(critic): None} if isinstance(critic, nn.Module) else {}
    return copy.deepcopy(module, memo)


def inference_copy(module, channels_last=True):
    """A copy of the fitted ``module`` for scoring: eval mode, no gradients, no critic,
    batch norm folded (:func:`fold_batchnorm`) and, with ``channels_last``, 4-D weights
    in the ``channels_last`` memory format. Float32 modules only; anything else (the
    float64 MLP copy, a half-precision model) is returned as an eval-mode copy without
    the other changes."""
    module = _copy_without_critic(module).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    floats = {p.dtype for p in module.parameters()}
    if floats and floats <= {torch.float32}:
        fold_batchnorm(module)
        if channels_last:
            module = module.to(memory_format=torch.channels_last)
    return module


#: module -> (fingerprint of its tensors, its inference copy); entries die with the module.
_CACHE = weakref.WeakKeyDictionary()


def _fingerprint(module):
    """Identity, storage, shape, dtype, device and in-place version counter of every
    parameter and buffer: any change of the weights (an optimiser step, a loaded state
    dict, a move to another device, an E-step) changes it."""
    return tuple(
        (name, id(t), t.data_ptr(), t._version, t.dtype, t.device, tuple(t.shape))
        for name, t in list(module.named_parameters()) + list(module.named_buffers())
    )


def cached_inference_copy(module, channels_last=True):
    """:func:`inference_copy` of ``module``, made once for as long as its weights do not
    change (and the module lives), so that scoring many small batches does not copy the
    model every time."""
    try:
        key = (_fingerprint(module), channels_last)
        hit = _CACHE.get(module)
    except (TypeError, RuntimeError):  # not weak-referenceable; inference tensors
        return inference_copy(module, channels_last)
    if hit is not None and hit[0] == key:
        return hit[1]
    fast = inference_copy(module, channels_last)
    _CACHE[module] = (key, fast)
    return fast
