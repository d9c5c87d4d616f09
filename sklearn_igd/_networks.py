"""The pure PyTorch IGD model: encoder, decoder, critic and the Gaussian descriptor.

Nothing here knows about scikit-learn or skorch; :class:`IGDModule` is the ``torch_model``
that :mod:`sklearn_igd._net` trains and :class:`sklearn_igd.IGDDetector` wraps.

Shapes: images are ``(n, C, H, W)`` float tensors in ``[0, 1]``; vectors are ``(n, d)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ._losses import (
    GAUSSIAN_SCORES,
    GLOBAL_SSIM,
    gaussian_anomaly_loss,
    reconstruction_error_terms,
    reconstruction_loss,
)

#: Channel widths of the four ResNet stages for each ``backbone`` name.
BACKBONE_WIDTHS = {
    "resnet18": (64, 128, 256, 512),
    "resnet18-lite": (16, 32, 64, 128),
}
#: Spatial grid of the final pooling: the lite backbone keeps a 2x2 grid so that both
#: backbones give 512-d features (128 channels x 4 cells); the grid keeps where strokes
#: are, which global pooling of 128 channels loses on small images.
BACKBONE_POOL = {"resnet18": 1, "resnet18-lite": 2}
#: Residual blocks per stage (ResNet18: two basic blocks in each of four stages).
BLOCKS_PER_STAGE = (2, 2, 2, 2)
#: Inputs up to this side length use the small-image (CIFAR-style) stem.
SMALL_STEM_MAX_SIDE = 64


class BasicBlock(nn.Module):
    """ResNet basic block: two 3x3 convolutions with a residual connection.

    ``(n, c_in, h, w) -> (n, c_out, ceil(h / stride), ceil(w / stride))``.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class UpBlock(nn.Module):
    """The decoder's mirror of :class:`BasicBlock`: optional 2x nearest upsampling first.

    ``(n, c_in, h, w) -> (n, c_out, h * scale, w * scale)``.
    """

    def __init__(self, c_in: int, c_out: int, scale: int = 1):
        super().__init__()
        self.scale = scale
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x):
        if self.scale != 1:
            x = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


def _stem_downsampling(small_stem: bool) -> int:
    # small stem: stride 1, no max-pool; ImageNet stem: 7x7 stride 2 + max-pool stride 2
    return 1 if small_stem else 4


class ResNetEncoder(nn.Module):
    """ResNet18 backbone: ``(n, C, H, W) -> (n, widths[-1] * pool**2)`` pooled features.

    Parameters
    ----------
    in_channels : int
        1 or 3.
    widths : tuple of 4 int
        Stage widths; ``(64, 128, 256, 512)`` is ResNet18.
    small_stem : bool
        CIFAR-style 3x3 stride-1 stem without max-pool (for 8-64 px inputs), else the
        ImageNet stem (7x7 stride 2 and a 3x3 max-pool).
    pool : int
        Average-pool the last stage to a ``pool x pool`` grid (1 = global pooling);
        features are ``widths[-1] * pool**2``.
    """

    def __init__(
        self, in_channels: int, widths=BACKBONE_WIDTHS["resnet18"], small_stem=True, pool=1
    ):
        super().__init__()
        w0 = widths[0]
        if small_stem:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, w0, 3, 1, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU()
            )
        else:
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, w0, 7, 2, 3, bias=False),
                nn.BatchNorm2d(w0),
                nn.ReLU(),
                nn.MaxPool2d(3, 2, 1),
            )
        layers = []
        c_in = w0
        for i, (w, n_blocks) in enumerate(zip(widths, BLOCKS_PER_STAGE)):
            for b in range(n_blocks):
                layers.append(BasicBlock(c_in, w, stride=2 if (i > 0 and b == 0) else 1))
                c_in = w
        self.layers = nn.Sequential(*layers)
        self.pool = pool
        self.out_features = widths[-1] * pool * pool

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), self.pool), 1)


class ResNetDecoder(nn.Module):
    """The reverse ResNet18: ``(n, latent_dim) -> (n, C, H, W)`` in ``[0, 1]`` (sigmoid).

    A linear layer maps the code to the smallest feature map (the encoder's last stage
    resolution), four stages of :class:`UpBlock` mirror the encoder's stages, and the
    output is cropped to ``(H, W)`` when the input side is not a multiple of the total
    downsampling.
    """

    def __init__(
        self,
        latent_dim,
        out_channels,
        image_size,
        widths=BACKBONE_WIDTHS["resnet18"],
        small_stem=True,
    ):
        super().__init__()
        self.image_size = tuple(image_size)
        down = _stem_downsampling(small_stem) * 8
        self.h0 = max(1, math.ceil(image_size[0] / down))
        self.w0 = max(1, math.ceil(image_size[1] / down))
        rev = tuple(reversed(widths))
        self.fc = nn.Linear(latent_dim, rev[0] * self.h0 * self.w0)
        self.bn0 = nn.BatchNorm2d(rev[0])
        layers = []
        c_in = rev[0]
        for i, (w, n_blocks) in enumerate(zip(rev, BLOCKS_PER_STAGE)):
            for b in range(n_blocks):
                layers.append(UpBlock(c_in, w, scale=2 if (i > 0 and b == 0) else 1))
                c_in = w
        self.layers = nn.Sequential(*layers)
        head = []
        if not small_stem:  # undo the stem's two stride-2 steps
            head += [nn.Upsample(scale_factor=4, mode="nearest")]
        head += [nn.Conv2d(c_in, out_channels, 3, 1, 1)]
        self.head = nn.Sequential(*head)

    def forward(self, z):
        h = F.relu(self.bn0(self.fc(z).view(z.shape[0], -1, self.h0, self.w0)))
        out = self.head(self.layers(h))
        H, W = self.image_size
        return torch.sigmoid(out[:, :, :H, :W])


class ConvCritic(nn.Module):
    """ACAI critic ``d_eta``: ``(n, C, H, W) -> (n,)``, a strided conv net and a linear head.

    Stride-2 convolutions halve the resolution down to about 4 px, then global average
    pooling and one linear unit give the predicted interpolation coefficient.
    """

    def __init__(self, in_channels, image_size, width=32, max_width=256):
        super().__init__()
        layers = []
        c_in, c, side = in_channels, width, min(image_size)
        while True:
            layers += [nn.Conv2d(c_in, c, 3, 2 if side > 4 else 1, 1), nn.LeakyReLU(0.2)]
            c_in = c
            if side <= 4:
                break
            side = math.ceil(side / 2)
            c = min(2 * c, max_width)
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, 1)

    def forward(self, x):
        h = torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1)
        return self.fc(h).squeeze(1)


def _mlp(sizes, last_activation=False):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers += [nn.BatchNorm1d(b), nn.ReLU()]
    return nn.Sequential(*layers)


class MLPEncoder(nn.Module):
    """Backbone for 2-D (tabular) input: ``(n, d) -> (n, hidden)``."""

    def __init__(self, n_features, hidden=128):
        super().__init__()
        self.net = _mlp((n_features, hidden, hidden), last_activation=True)
        self.out_features = hidden

    def forward(self, x):
        return self.net(x)


class MLPDecoder(nn.Module):
    """``(n, latent_dim) -> (n, d)``, linear output (inputs are standardised)."""

    def __init__(self, latent_dim, n_features, hidden=128):
        super().__init__()
        self.net = _mlp((latent_dim, hidden, hidden, n_features))

    def forward(self, z):
        return self.net(z)


class MLPCritic(nn.Module):
    """``(n, d) -> (n,)``."""

    def __init__(self, n_features, hidden=64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden),
            nn.LeakyReLU(0.2),
            nn.Linear(hidden, 1),
        )

    def forward(self, x):
        return self.net(x).squeeze(1)


@torch.no_grad()
def _feature_dim(encoder, input_shape):
    """Output size d of a feature extractor on two zero images of ``input_shape``."""
    device = next((p.device for p in encoder.parameters()), torch.device("cpu"))
    return int(encoder(torch.zeros((2,) + tuple(input_shape), device=device)).shape[1])


def image_backbone(input_shape, backbone):
    """The trainable encoder of :class:`IGDModule` for images of ``input_shape``
    ``(C, H, W)``: a :class:`ResNetEncoder` of ``backbone``'s widths and pooling, with the
    small-image stem up to :data:`SMALL_STEM_MAX_SIDE` px (SimCLR pre-trains this one)."""
    c, h, w = input_shape
    return ResNetEncoder(
        c,
        BACKBONE_WIDTHS[backbone],
        small_stem=max(h, w) <= SMALL_STEM_MAX_SIDE,
        pool=BACKBONE_POOL[backbone],
    )


class IGDModule(nn.Module):
    """One IGD model (eq. 7): encoder ``f``, decoder ``g``, critic ``d`` and ``(mu, sigma2)``.

    In eval mode the model also scores itself: :meth:`score_terms` gives the per-sample
    ``l_r`` and ``l_h`` of eq. 14 and :meth:`error_terms` the per-pixel terms of eq. 17.

    Parameters
    ----------
    input_shape : tuple
        ``(C, H, W)`` for images or ``(d,)`` for vectors.
    backbone : {"resnet18", "resnet18-lite"}
        Image backbone; ignored for vectors (MLP).
    latent_dim : int
        Size Z of the code ``z = f(x)``.
    encoder : nn.Module or None
        A frozen pre-trained feature extractor ``(n, C, H, W) -> (n, d)`` (a
        :class:`~sklearn_igd._pretrain.FrozenEncoder`) used as the backbone instead of a
        trainable ResNet; only the Linear ``d -> Z`` after it trains. Images only.
    rho : float
        Weight of the MAE term of the reconstruction loss (eq. 12).
    ssim : SSIMSettings
        MS-SSIM settings of the reconstruction loss and of the error maps.
    gaussian : bool
        Whether the Gaussian anomaly classifier is part of the model (False: the REC and
        MSE ablations of the paper's Table 5; ``l_h`` is then 0 in training and scoring).
    critic : bool
        Whether the model has the interpolation critic (False: no ``d``, no ``l_d``).
    gaussian_score : {"l_h", "nll"}
        The Gaussian term of :meth:`score_terms`: ``l_h`` (eq. 8) or its negative
        log-likelihood form ``||z - mu||^2 / sigma^2``
        (:func:`~sklearn_igd._losses.gaussian_nll`). Training always uses ``l_h``.
    reconstruction : {"ms-ssim+mae", "mse"}
        The reconstruction term ``l_r`` of :meth:`score_terms`
        (:func:`~sklearn_igd._losses.reconstruction_loss`'s ``kind``): eq. 12, or the mean
        squared error of the paper's ``MSE`` baseline. The per-pixel :meth:`error_terms`
        are eq. 17's either way.

    Notes
    -----
    ``mu`` (Z,) and ``sigma2`` () are registered buffers set by the E-step (eq. 3), so they
    are saved, loaded and moved between devices with the weights.
    """

    def __init__(
        self,
        input_shape,
        backbone="resnet18",
        latent_dim=128,
        encoder=None,
        *,
        rho=0.15,
        ssim=GLOBAL_SSIM,
        gaussian=True,
        critic=True,
        gaussian_score="l_h",
        reconstruction="ms-ssim+mae",
    ):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.is_image = len(self.input_shape) == 3
        self.frozen_backbone = encoder is not None
        self.rho = float(rho)
        self.ssim = ssim
        self.gaussian = bool(gaussian)
        self.gaussian_score = gaussian_score
        self.reconstruction = reconstruction
        if self.is_image:
            c, h, w = self.input_shape
            small = max(h, w) <= SMALL_STEM_MAX_SIDE
            widths = BACKBONE_WIDTHS[backbone]
            if encoder is None:
                self.backbone = image_backbone(self.input_shape, backbone)
            else:
                self.backbone = encoder
                self.backbone.out_features = _feature_dim(encoder, self.input_shape)
            self.decoder = ResNetDecoder(latent_dim, c, (h, w), widths, small_stem=small)
            self.critic = ConvCritic(c, (h, w)) if critic else None
        else:
            (d,) = self.input_shape
            self.backbone = MLPEncoder(d)
            self.decoder = MLPDecoder(latent_dim, d)
            self.critic = MLPCritic(d) if critic else None
        self.head = nn.Linear(self.backbone.out_features, latent_dim)
        if self.frozen_backbone:
            # an isometry of the frozen (e.g. whitened) features at the start, so that the
            # first E-step's distances are the features' own
            nn.init.orthogonal_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        self.register_buffer("mu", torch.zeros(latent_dim))
        self.register_buffer("sigma2", torch.ones(()))

    def encode(self, x, features=None):
        """``(n, *input_shape) -> (n, Z)``.

        ``features`` (n, d): the frozen backbone's features of ``x`` computed beforehand
        (feature caching); the backbone is then skipped.
        """
        return self.head(self.backbone(x) if features is None else features)

    def decode(self, z):
        """``(n, Z) -> (n, *input_shape)``."""
        return self.decoder(z)

    def forward(self, x, features=None):
        """Return ``(z, x_hat)``."""
        z = self.encode(x, features)
        return z, self.decode(z)

    def gaussian_term(self, z):
        """``l_h`` (n,) of codes ``z`` (n, Z): eq. 8, or zeros without the classifier."""
        if not self.gaussian:
            return z.new_zeros(z.shape[0], dtype=torch.float32)
        return gaussian_anomaly_loss(z, self.mu, self.sigma2)

    def score_terms(self, x, features=None):
        """Per-sample ``(l_r, l_h)`` of eq. 14, each (n,) float32: call in eval mode.

        The Gaussian term is ``gaussian_score``'s (``l_h`` or its NLL form).
        """
        z, x_hat = self(x, features)
        # models saved before ``reconstruction`` existed used eq. 12
        kind = getattr(self, "reconstruction", "ms-ssim+mae")
        l_r = reconstruction_loss(x, x_hat, rho=self.rho, ssim=self.ssim, kind=kind)
        if not self.gaussian:
            return l_r, z.new_zeros(z.shape[0], dtype=torch.float32)
        return l_r, GAUSSIAN_SCORES[self.gaussian_score](z, self.mu, self.sigma2)

    def error_terms(self, x):
        """Per-pixel ``|x - x_hat|`` and ``1 - MS-SSIM map`` (eq. 17): (n, 2, H, W) float32."""
        _, x_hat = self(x)
        return reconstruction_error_terms(x, x_hat, ssim=self.ssim)

    def trainable_batchnorms(self):
        """Batch-norm layers outside a frozen backbone (those the training may update)."""
        frozen = set(self.backbone.modules()) if self.frozen_backbone else set()
        return [
            m
            for m in self.modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m not in frozen
        ]

    @torch.no_grad()
    def set_descriptor(self, mu, sigma2):
        """Store the E-step's ``mu`` (Z,) and ``sigma2`` ()."""
        self.mu.copy_(mu)
        self.sigma2.copy_(sigma2)
