"""The feature map: a Gaussian descriptor of frozen ImageNet features at every location.

IGD's heatmap (eq. 16-17) is made of reconstruction errors only. On fine textures a
reconstruction error map misses defects that are themselves plausible texture (a patch
of another texture, a brightness change): the autoencoder reconstructs them faithfully.
The feature map adds what IGD's Gaussian descriptor does for whole images, at every
location: the packaged ImageNet EfficientNet-Lite0 (the encoder of
``pretrain="imagenet"``) up to block :data:`FEATURE_MAP_BLOCK`, on images whose shorter
side is upsampled to at least :data:`FEATURE_MAP_MIN_SIDE` pixels (by at most
:data:`FEATURE_MAP_MAX_UPSAMPLING` times), averaged over 3x3
neighbourhoods; one Gaussian (mean and ridge-regularised covariance) is fitted to the
feature vectors of every location of every training image, and the map is each
location's squared Mahalanobis distance to it, resized to the image.

Shapes: images ``(n, C, H, W)`` float in ``[0, 1]``; maps ``(n, H, W)``.
"""

from __future__ import annotations

import torch
from skorch.utils import to_device
from torch import nn
from torch.nn import functional as F

from ._pretrain import (
    EfficientNetLite0Blocks,
    FrozenEncoder,
    ImageNetInput,
    efficientnet_lite0_net,
)
from ._scoring import eval_batch_size

#: EfficientNet-Lite0 up to this block (the first of its third stage: 40 channels,
#: stride 8) ...
FEATURE_MAP_BLOCK = 3
#: ... on images whose shorter side is upsampled to at least this many pixels (block 3
#: at 320 px against block 4 at 256 px: pooled pixel AUROC +0.006 on grass, +0.004-0.009
#: on gravel, -0.001 on brick, validation draws 1-2; benchmarks/feature_trunk.py) ...
FEATURE_MAP_MIN_SIDE = 320
#: ... but by at most this factor (32 px images: 256 px; at 10x the feature map alone lost
#: 0.0005-0.008 pooled pixel AUROC on every texture pair of 32 px crops, at 8x it is level
#: with block 4 at 256 px) ...
FEATURE_MAP_MAX_UPSAMPLING = 8
#: ... features averaged over this neighbourhood (pixels of the feature grid) ...
FEATURE_MAP_POOL = 3
#: ... and this is added to the diagonal of their covariance.
FEATURE_MAP_RIDGE = 0.01


def feature_trunk(block=FEATURE_MAP_BLOCK, min_side=FEATURE_MAP_MIN_SIDE):
    """The frozen trunk: ``(n, C, H, W)`` in [0, 1] -> ``(n, d, h, w)`` features of
    EfficientNet-Lite0's blocks ``0..block`` (d = 40 for blocks 3 and 4) on images whose
    shorter side is upsampled to at least ``min_side`` pixels."""
    return FrozenEncoder(
        EfficientNetLite0Blocks(efficientnet_lite0_net(), last=block, grid=None),
        ImageNetInput(min_side),
    )


def feature_min_side(image_size, min_side=FEATURE_MAP_MIN_SIDE):
    """The shorter side that images of ``image_size`` (H, W) are upsampled to: ``min_side``,
    but at most :data:`FEATURE_MAP_MAX_UPSAMPLING` times their own shorter side."""
    return min(int(min_side), FEATURE_MAP_MAX_UPSAMPLING * int(min(image_size)))


def local_features(trunk, x):
    """Features of ``trunk`` averaged over 3x3 neighbourhoods: ``(n, d, h, w)`` float32."""
    with torch.no_grad():
        f = trunk.backbone(trunk.preprocess(x)).float()
    return F.avg_pool2d(
        f, FEATURE_MAP_POOL, stride=1, padding=FEATURE_MAP_POOL // 2, count_include_pad=False
    )


def mahalanobis_map(features, mean, precision):
    """Squared Mahalanobis distance of every location's feature vector.

    Parameters
    ----------
    features : Tensor (n, d, h, w)
    mean : Tensor (d,)
    precision : Tensor (d, d)
        The inverse covariance.

    Returns
    -------
    Tensor (n, h, w) float32
        ``(f - mean)^T precision (f - mean)`` at each location.
    """
    q = features.float().permute(0, 2, 3, 1) - mean
    return ((q @ precision) * q).sum(-1)


class FeatureGaussianMap(nn.Module):
    """The fitted feature map of images: ``(n, C, H, W) -> (n, H, W)``.

    Parameters
    ----------
    trunk : FrozenEncoder
        :func:`feature_trunk`.
    mean : Tensor (d,)
    precision : Tensor (d, d)
    image_size : (H, W)
        The size the maps are resized to (bilinear).
    """

    def __init__(self, trunk, mean, precision, image_size):
        super().__init__()
        self.trunk = trunk
        self.register_buffer("mean", mean.float())
        self.register_buffer("precision", precision.float())
        self.image_size = tuple(int(s) for s in image_size)

    def forward(self, x):
        with torch.autocast(x.device.type, enabled=False):
            m = mahalanobis_map(local_features(self.trunk, x), self.mean, self.precision)
            m = F.interpolate(
                m[:, None], size=self.image_size, mode="bilinear", align_corners=False
            )
        return m[:, 0]


@torch.no_grad()
def fit_feature_map(
    X, *, batch_size, device, block=FEATURE_MAP_BLOCK, min_side=FEATURE_MAP_MIN_SIDE
):
    """Fit the :class:`FeatureGaussianMap` of the training images ``X`` (n, C, H, W) on the
    features of :func:`feature_trunk` (``block``, ``min_side`` capped by
    :func:`feature_min_side`).

    The mean and covariance of the feature vectors of every location of every image are
    accumulated batch by batch in float64 (batches bounded by the scoring budget of input
    values, so that memory does not grow with the image count); the covariance gets
    :data:`FEATURE_MAP_RIDGE` on its diagonal before it is inverted.
    """
    trunk = feature_trunk(block, feature_min_side(X.shape[-2:], min_side)).to(device)
    x = torch.as_tensor(X)
    batch_size = min(batch_size, eval_batch_size(x.shape[1:]))
    total, outer, count = 0.0, 0.0, 0
    for i in range(0, x.shape[0], batch_size):
        f = local_features(trunk, to_device(x[i : i + batch_size], device))
        f = f.permute(0, 2, 3, 1).reshape(-1, f.shape[1]).double()
        total = total + f.sum(0)
        outer = outer + f.T @ f
        count += f.shape[0]
    mean = total / count
    cov = (outer - count * torch.outer(mean, mean)) / max(count - 1, 1)
    cov = cov + FEATURE_MAP_RIDGE * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    precision = torch.linalg.inv(cov)
    return FeatureGaussianMap(trunk, mean, precision, X.shape[-2:])
