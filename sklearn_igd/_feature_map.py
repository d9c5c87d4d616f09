"""The feature map: how far frozen ImageNet features at every location are from the
training images' features.

IGD's heatmap (eq. 16-17) is made of reconstruction errors only. On fine textures a
reconstruction error map misses defects that are themselves plausible texture (a patch
of another texture, a brightness change): the autoencoder reconstructs them faithfully.
The feature map adds what IGD's Gaussian descriptor does for whole images, at every
location: the packaged ImageNet EfficientNet-Lite0 (the encoder of
``pretrain="imagenet"``) up to block :data:`FEATURE_MAP_BLOCK`, on images whose shorter
side is upsampled to at least :data:`FEATURE_MAP_MIN_SIDE` pixels (by at most
:data:`FEATURE_MAP_MAX_UPSAMPLING` times), averaged over 3x3
neighbourhoods. One Gaussian (mean and ridge-regularised covariance) is fitted to the
feature vectors of every location of every training image; the map is resized to the
image and is, at each location (``method``):

- ``"nearest"``: the squared distance of the whitened feature vector (by that Gaussian, so
  that the distance is Mahalanobis') to the nearest of a memory bank of at most
  :data:`FEATURE_MAP_BANK` whitened training vectors, chosen by greedy k-centre selection
  (PatchCore's coreset, Roth et al. 2022) among at most
  :data:`FEATURE_MAP_CORESET_LOCATIONS` training locations;
- ``"gaussian"``: the squared Mahalanobis distance to the Gaussian itself;
- ``"student"``: ``"nearest"``'s distance plus the error of a *student*, a small CNN
  trained on the training images (and their flips) to regress the trunk's standardised
  features (Bergmann et al. 2020): where it fails to predict them, the image is unlike
  the training images. Each of the two maps is divided by its standard deviation over
  the training pixels (after the detector's smoothing) before they are added.

With one Gaussian every normal texture element must fit one ellipsoid; the nearest
neighbour measures the distance to the closest normal element that was seen. On
validation draws it ranked defective crops better (image AUROC of the default score,
textures 0.847 -> 0.879, silhouettes 0.976 -> 0.980) at the same pooled pixel AUROC
(0.911). The student (``"student"``, the detector's default) then raised the detector's
pooled pixel AUROC on all six validation texture sets (0.9124 -> 0.9185 on average) and
the image AUROC on five (0.878 -> 0.888); ``benchmarks/results/feature_variants.md``.

Shapes: images ``(n, C, H, W)`` float in ``[0, 1]``; maps ``(n, H, W)``.
"""

from __future__ import annotations

import torch
from skorch.utils import to_device
from torch import nn
from torch.nn import functional as F

from ._config import torch_seed
from ._pretrain import (
    EfficientNetLite0Blocks,
    FrozenEncoder,
    ImageNetInput,
    efficientnet_lite0_net,
)
from ._scoring import eval_batch_size, gaussian_kernel_1d, smooth_maps

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
#: ``"nearest"``: whitened training vectors in the memory bank, at most (4000 against 1000,
#: feature_variants.py's knnin: image AUROC 0.885 against 0.880 on textures, 0.980
#: against 0.981 on silhouettes) ...
FEATURE_MAP_BANK = 4000
#: ... chosen among at most this many training locations (a random subsample of each
#: image's locations beyond it), so that the selection's time does not grow with the
#: training set (about 3 s for 4,000 of 160,000 on one CPU core) ...
FEATURE_MAP_CORESET_LOCATIONS = 160_000
#: ... on a random projection of the whitened vectors to this many dimensions.
FEATURE_MAP_PROJECTION = 16
#: Query locations per block of the nearest-neighbour search (a block's distance matrix
#: is ``FEATURE_MAP_QUERY_BLOCK x FEATURE_MAP_BANK`` floats: 8 MB; 512 rows searched a
#: 4,000-vector bank 1.7x faster than 2,048 or 8,192 on this project's 2-core CPU).
FEATURE_MAP_QUERY_BLOCK = 512
#: ``"student"``: optimisation steps of the student (Adam, cosine decay; 1,000 steps
#: overfit: its map alone lost 0.010-0.019 pixel AUROC on grass against 300;
#: benchmarks/student_map.py) ...
FEATURE_STUDENT_STEPS = 300
#: ... on batches of this many pixels (5 crops of 64 x 64 px, whatever their channels:
#: fewer, larger images per step for larger images, so that a fit's cost does not grow
#: with them; 16 grey crops per step cost twice the fit time for the same feature map,
#: pooled pixel AUROC 0.9126 against 0.9129 over validation draws 1-2, 4 of 6 sets
#: higher with 5; benchmarks/student_batch.py) ...
FEATURE_STUDENT_PIXELS = 5 * 64 * 64
#: ... drawn from the training images and their horizontal, vertical and double flips,
#: whose teacher features are kept: at most this many feature values (400 images of the
#: 40 x 40 x 40 grid of 64 px crops: 100 MB).
FEATURE_STUDENT_TARGET_VALUES = 400 * 40 * 40 * 40
#: Channels of the student's convolutions.
FEATURE_STUDENT_WIDTH = 64
#: The methods of :func:`fit_feature_map` ...
FEATURE_MAP_METHODS = ("nearest", "gaussian", "student")
#: ... and the detector's default, that of ``IGDDetector(feature_map="auto")`` and
#: ``True`` (:func:`fit_feature_map`'s own default is ``"nearest"``, the map that every
#: method starts from).
FEATURE_MAP_DEFAULT_METHOD = "student"


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


def nearest_map(features, mean, whiten, bank, block=FEATURE_MAP_QUERY_BLOCK):
    """Squared distance of every location's whitened feature vector to its nearest bank row.

    Parameters
    ----------
    features : Tensor (n, d, h, w)
    mean : Tensor (d,)
    whiten : Tensor (d, d)
        ``L`` with ``L L^T`` the inverse covariance, so that ``||(f - mean) L||^2`` is the
        squared Mahalanobis distance.
    bank : Tensor (k, d)
        Whitened training vectors.
    block : int
        Query locations per block of the search (one block in an ONNX export).

    Returns
    -------
    Tensor (n, h, w) float32
        ``min_j ||(f - mean) L - bank_j||^2`` at each location.
    """
    n, d, h, w = features.shape
    q = (features.float().permute(0, 2, 3, 1).reshape(-1, d) - mean) @ whiten
    norms = (bank * bank).sum(1)
    # ||q - b||^2 = ||q||^2 + (||b||^2 - 2 q.b): the query's norm is added after the minimum
    if torch.onnx.is_in_onnx_export():
        nearest = torch.addmm(norms, q, bank.T, alpha=-2).amin(1)
    else:
        # one distance buffer for all blocks: a fresh (block, k) tensor per block
        # fragmented the CPU heap (glibc), and resident memory then grew by about one
        # buffer per block (24 GB for 300 crops of 64 px with a 16,000-vector bank)
        nearest = q.new_empty(q.shape[0])
        buffer = q.new_empty(min(block, q.shape[0]), bank.shape[0])
        for start in range(0, q.shape[0], block):
            b = q[start : start + block]
            distances = torch.addmm(norms, b, bank.T, alpha=-2, out=buffer[: b.shape[0]])
            torch.amin(distances, 1, out=nearest[start : start + b.shape[0]])
    return (nearest + (q * q).sum(1)).clamp_min(0).reshape(n, h, w)


def greedy_coreset(vectors, size, generator, dims=FEATURE_MAP_PROJECTION):
    """Indices of ``size`` rows of ``vectors`` (m, d) chosen by greedy k-centre selection:
    each the farthest from those chosen before it, on a random Gaussian projection to
    ``dims`` dimensions, starting from a random row (PatchCore's approximate coreset).

    ``generator`` (a CPU ``torch.Generator``) draws the projection and the first row, so
    the selection is reproducible on every device. Returns a LongTensor (size,) on
    ``vectors``' device, all of ``range(m)`` when ``size >= m``.
    """
    m = vectors.shape[0]
    if size >= m:
        return torch.arange(m, device=vectors.device)
    projection = torch.randn(vectors.shape[1], dims, generator=generator) / dims**0.5
    p = vectors.float() @ projection.to(vectors.device)
    first = int(torch.randint(m, (1,), generator=generator))
    chosen = torch.empty(size, dtype=torch.long)
    chosen[0] = first
    distance = ((p - p[first]) ** 2).sum(1)
    # ||p - p_j||^2 = ||p||^2 - 2 p.p_j + ||p_j||^2: one matrix-vector product per step,
    # in place (7x faster than forming p - p_j for 65,536 rows on one CPU core)
    norms = (p * p).sum(1)
    new = torch.empty_like(distance)
    for i in range(1, size):
        j = int(torch.argmax(distance))
        chosen[i] = j
        torch.addmv(norms, p, p[j], alpha=-2, out=new)
        new += norms[j]
        torch.minimum(distance, new, out=distance)
    return chosen.to(vectors.device)


class FeatureMap(nn.Module):
    """A fitted feature map of images: ``(n, C, H, W) -> (n, H, W)``: the trunk's local
    features, :meth:`distance`, resized (bilinear) to ``image_size`` (H, W)."""

    def __init__(self, trunk, image_size):
        super().__init__()
        self.trunk = trunk
        self.image_size = tuple(int(s) for s in image_size)

    def distance(self, features):
        """Features (n, d, h, w) -> map (n, h, w) float32."""
        raise NotImplementedError

    def resize(self, m):
        """Maps (n, h, w) of the feature grid -> (n, H, W) resized (bilinear) to
        ``image_size``."""
        with torch.autocast(m.device.type, enabled=False):
            m = F.interpolate(
                m[:, None], size=self.image_size, mode="bilinear", align_corners=False
            )
        return m[:, 0]

    def map_of_features(self, features):
        """Features (n, d, h, w) of the trunk -> map (n, H, W) float32: :meth:`distance`
        resized to ``image_size``."""
        with torch.autocast(features.device.type, enabled=False):
            return self.resize(self.distance(features))

    def forward(self, x):
        with torch.autocast(x.device.type, enabled=False):
            return self.map_of_features(local_features(self.trunk, x))


class FeatureGaussianMap(FeatureMap):
    """The ``"gaussian"`` feature map: :func:`mahalanobis_map`.

    Parameters
    ----------
    trunk : FrozenEncoder
        :func:`feature_trunk`.
    mean : Tensor (d,)
    precision : Tensor (d, d)
    image_size : (H, W)
        The size the maps are resized to (bilinear).
    """

    method = "gaussian"

    def __init__(self, trunk, mean, precision, image_size):
        super().__init__(trunk, image_size)
        self.register_buffer("mean", mean.float())
        self.register_buffer("precision", precision.float())

    def distance(self, features):
        return mahalanobis_map(features, self.mean, self.precision)


class FeatureNearestMap(FeatureMap):
    """The ``"nearest"`` feature map: :func:`nearest_map`.

    Parameters
    ----------
    trunk : FrozenEncoder
        :func:`feature_trunk`.
    mean : Tensor (d,)
    whiten : Tensor (d, d)
    bank : Tensor (k, d)
        The whitened training vectors of the memory bank.
    image_size : (H, W)
        The size the maps are resized to (bilinear).
    """

    method = "nearest"

    def __init__(self, trunk, mean, whiten, bank, image_size):
        super().__init__(trunk, image_size)
        self.register_buffer("mean", mean.float())
        self.register_buffer("whiten", whiten.float())
        self.register_buffer("bank", bank.float())

    def distance(self, features):
        return nearest_map(features, self.mean, self.whiten, self.bank)


class FeatureStudent(nn.Module):
    """The student of the ``"student"`` map: ``(n, C, H, W)`` images in [0, 1] ->
    ``(n, d, H', W')`` predicted (standardised) teacher features, ``H' = ceil(H / 2)``.

    Seven 3x3 convolutions (batch norm, ReLU; ``width // 2`` then ``width`` channels, the
    second of stride 2: a receptive field of 29 px) and a 1x1 convolution to ``d``
    channels.
    """

    def __init__(self, in_channels, d, width=FEATURE_STUDENT_WIDTH):
        super().__init__()

        def block(i, o, stride=1):
            return [nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

        half = width // 2
        layers = block(in_channels, half) + block(half, width, 2)
        for _ in range(4):
            layers += block(width, width)
        self.net = nn.Sequential(*layers, nn.Conv2d(width, d, 1))

    def forward(self, x):
        return self.net(x)


def student_prediction(student, x, size):
    """``student(x)`` (n, d, H', W') resized (bilinear) to the teacher's grid ``size``
    ``(h, w)``: (n, d, h, w)."""
    size = tuple(int(v) for v in size)
    return F.interpolate(student(x), size=size, mode="bilinear", align_corners=False)


def student_error_map(student, x, features, mean, std):
    """The student's squared error at every location of the teacher's grid.

    Parameters
    ----------
    student : FeatureStudent
    x : Tensor (n, C, H, W)
        Images in [0, 1].
    features : Tensor (n, d, h, w)
        The teacher's local features of ``x`` (:func:`local_features`).
    mean, std : Tensor (d,)
        Per-channel standardisation of the teacher's features.

    Returns
    -------
    Tensor (n, h, w) float32
        ``mean_c (student(x)_c - (features_c - mean_c) / std_c)^2``, the student's output
        resized (bilinear) to the teacher's grid.
    """
    pred = student_prediction(student, x, features.shape[-2:]).float()
    target = (features.float() - mean[:, None, None]) / std[:, None, None]
    return ((pred - target) ** 2).mean(1)


class FeatureStudentMap(FeatureNearestMap):
    """The ``"student"`` feature map: :func:`nearest_map` divided by ``scales[0]`` plus
    :func:`student_error_map` divided by ``scales[1]``.

    Parameters
    ----------
    trunk, mean, whiten, bank, image_size
        As :class:`FeatureNearestMap`.
    student : FeatureStudent
        Trained, in eval mode.
    teacher_mean, teacher_std : Tensor (d,)
        The standardisation of the teacher's features the student regresses.
    scales : Tensor (2,)
        The standard deviations of the two maps over the training pixels.
    """

    method = "student"

    def __init__(
        self, trunk, mean, whiten, bank, image_size, student, teacher_mean, teacher_std, scales
    ):
        super().__init__(trunk, mean, whiten, bank, image_size)
        self.student = student.eval().requires_grad_(False)
        self.register_buffer("teacher_mean", teacher_mean.float())
        self.register_buffer("teacher_std", teacher_std.float())
        self.register_buffer("scales", torch.as_tensor(scales).float())

    def parts(self, x, features):
        """``(nearest, student)`` unscaled maps (n, H, W) of images ``x`` and their
        features."""
        error = student_error_map(self.student, x, features, self.teacher_mean, self.teacher_std)
        return self.map_of_features(features), self.resize(error)

    def map_of_images(self, x, features):
        """The map (n, H, W) of images ``x`` and their trunk features: the two
        :meth:`parts` divided by ``scales`` and added."""
        nearest, error = self.parts(x, features)
        return nearest / self.scales[0] + error / self.scales[1]

    def forward(self, x):
        with torch.autocast(x.device.type, enabled=False):
            return self.map_of_images(x, local_features(self.trunk, x))


def teacher_targets(trunk, x, budget, batch_size, device, generator, features=None):
    """Images and the trunk's local features the student learns from.

    ``x`` (n, C, H, W) and its horizontal, vertical and double flips, or a random subset
    of these ``4n`` images (``generator``) such that their features hold at most ``budget``
    values. ``features`` (n, d, h, w), when given, are the trunk's features of ``x``
    (:func:`local_features`, on ``device``): the unflipped images' targets are taken from
    them instead of passing the trunk over those images again. Returns
    ``(images (m, C, H, W), features (m, d, h, w))`` on ``device``.
    """
    n = x.shape[0]
    if features is None:
        probe = local_features(trunk, to_device(x[:1], device))[0]
    else:
        probe = features[0]
    m = max(1, min(4 * n, budget // probe.numel()))
    picks = torch.arange(4 * n) if m == 4 * n else torch.randperm(4 * n, generator=generator)[:m]
    flips = ((), (-1,), (-2,), (-1, -2))
    images, targets = [], []
    for k, dims in enumerate(flips):
        idx = picks[picks // n == k] % n
        for i in range(0, len(idx), batch_size):
            b = to_device(x[idx[i : i + batch_size]], device)
            b = b.flip(dims) if dims else b
            images.append(b)
            if features is not None and not dims:
                targets.append(features[idx[i : i + batch_size].to(features.device)])
            else:
                targets.append(local_features(trunk, b))
    return torch.cat(images), torch.cat(targets)


def train_student(images, target, *, steps, generator, device, pixels=None):
    """A :class:`FeatureStudent` fitted to ``target`` (m, d, h, w) standardised features
    of ``images`` (m, C, H, W) by Adam (1e-3, weight decay 1e-5, cosine decay) on the
    mean squared error, ``steps`` steps of at most ``pixels`` pixels (None:
    :data:`FEATURE_STUDENT_PIXELS`; at least one image); the initial weights and the
    batches drawn from ``generator``'s seed. Returns it in eval mode."""
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
    with torch_seed(seed, device):
        student = FeatureStudent(images.shape[1], target.shape[1]).to(device)
    pixels = FEATURE_STUDENT_PIXELS if pixels is None else int(pixels)
    batch = max(1, min(len(images), pixels // images[0, 0].numel()))
    opt = torch.optim.Adam(student.parameters(), 1e-3, weight_decay=1e-5)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(int(steps), 1))
    size = target.shape[-2:]
    student.train()
    for _ in range(int(steps)):
        idx = torch.randint(len(images), (batch,), generator=generator).to(images.device)
        pred = student_prediction(student, images[idx], size)
        loss = F.mse_loss(pred, target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        schedule.step()
    return student.eval()


def fit_student_map(
    nearest, x, *, batch_size, device, generator, steps, sigma, features=None, pixels=None
):
    """The :class:`FeatureStudentMap` of a fitted :class:`FeatureNearestMap` and its
    training images ``x`` (n, C, H, W): the student trained on :func:`teacher_targets`,
    the two maps' scales measured on ``x`` after smoothing with a Gaussian of ``sigma``
    pixels (:func:`~sklearn_igd._scoring.smooth_maps`). ``features`` (n, d, h, w), when
    given, are the trunk's features of ``x``, used instead of computing them again;
    ``pixels`` is :func:`train_student`'s batch budget."""
    with torch.enable_grad():
        images, teacher = teacher_targets(
            nearest.trunk,
            x,
            FEATURE_STUDENT_TARGET_VALUES,
            batch_size,
            device,
            generator,
            features=features,
        )
        t_mean = teacher.mean((0, 2, 3))
        t_std = teacher.std((0, 2, 3)).clamp_min(1e-6)
        target = (teacher - t_mean[:, None, None]) / t_std[:, None, None]
        del teacher
        student = train_student(
            images, target, steps=steps, generator=generator, device=device, pixels=pixels
        )
        del images, target
    fmap = FeatureStudentMap(
        nearest.trunk,
        nearest.mean,
        nearest.whiten,
        nearest.bank,
        nearest.image_size,
        student,
        t_mean,
        t_std,
        torch.ones(2),
    )
    return scale_student_map(
        fmap, x, batch_size=batch_size, device=device, sigma=sigma, features=features
    )


def scale_student_map(fmap, x, *, batch_size, device, sigma, features=None):
    """Set the ``scales`` of a :class:`FeatureStudentMap` ``fmap`` to the standard
    deviations of its two maps over the training images ``x`` (n, C, H, W) after
    smoothing with a Gaussian of ``sigma`` pixels; ``features`` (n, d, h, w), when given,
    the trunk's features of ``x``. Returns ``fmap``."""
    kernel = gaussian_kernel_1d(sigma)
    sums = torch.zeros(2, 3, dtype=torch.float64)  # per map: count, sum, sum of squares
    for i in range(0, x.shape[0], batch_size):
        b = to_device(x[i : i + batch_size], device)
        f = local_features(fmap.trunk, b) if features is None else features[i : i + len(b)]
        for j, m in enumerate(fmap.parts(b, f)):
            m = smooth_maps(m.double(), kernel)
            sums[j] += torch.stack([torch.tensor(m.numel()), m.sum(), (m * m).sum()]).cpu()
    var = sums[:, 2] / sums[:, 0] - (sums[:, 1] / sums[:, 0]) ** 2
    scales = var.clamp_min(0).sqrt()
    fmap.scales.copy_(torch.where(scales > 0, scales, torch.ones_like(scales)).float())
    return fmap


@torch.no_grad()
def fit_feature_map(
    X,
    *,
    batch_size,
    device,
    method="nearest",
    seed=0,
    block=FEATURE_MAP_BLOCK,
    min_side=FEATURE_MAP_MIN_SIDE,
    bank_size=FEATURE_MAP_BANK,
    trunk=None,
    student_steps=None,
    student_pixels=None,
    sigma=0.0,
):
    """Fit the feature map (:class:`FeatureNearestMap` or :class:`FeatureGaussianMap`,
    ``method``) of the training images ``X`` (n, C, H, W) on the features of
    :func:`feature_trunk` (``block``, ``min_side`` capped by :func:`feature_min_side`), or
    of ``trunk`` (a :class:`FrozenEncoder` giving ``(n, d, h, w)`` features) when given.

    The mean and covariance of the feature vectors of every location of every image are
    accumulated batch by batch in float64 (batches bounded by the scoring budget of input
    values, so that memory does not grow with the image count); the covariance gets
    :data:`FEATURE_MAP_RIDGE` on its diagonal before it is inverted. ``"nearest"`` also
    keeps the same number of random locations of every image, at most
    :data:`FEATURE_MAP_CORESET_LOCATIONS` in all, and selects its ``bank_size`` bank
    vectors among them (:func:`greedy_coreset`); ``seed`` seeds the location sample and
    the selection. ``"student"`` then trains a student for ``student_steps`` steps (None:
    :data:`FEATURE_STUDENT_STEPS`) of ``student_pixels`` pixels (None:
    :data:`FEATURE_STUDENT_PIXELS`) and scales both maps by their spread over the training
    pixels smoothed with a Gaussian of ``sigma`` pixels, as the detector smooths its
    heatmap (:func:`fit_student_map`); the first pass's features of ``X`` serve again as
    the student's unflipped targets and for the scales when they hold at most
    :data:`FEATURE_STUDENT_TARGET_VALUES` values (else the trunk passes over ``X`` again).
    """
    if method not in FEATURE_MAP_METHODS:
        raise ValueError(f"method must be one of {FEATURE_MAP_METHODS}, got {method!r}")
    if trunk is None:
        trunk = feature_trunk(block, feature_min_side(X.shape[-2:], min_side))
    trunk = trunk.to(device)
    x = torch.as_tensor(X)
    batch_size = min(batch_size, eval_batch_size(x.shape[1:]))
    generator = torch.Generator().manual_seed(int(seed))
    total, outer, count, kept, per_image = 0.0, 0.0, 0, [], None
    reused = [] if method == "student" else None  # the student's unflipped targets
    for i in range(0, x.shape[0], batch_size):
        f = local_features(trunk, to_device(x[i : i + batch_size], device))
        n, d, h, w = f.shape
        if i == 0 and reused is not None:
            # decided once: every image's features hold the same number of values
            fits = x.shape[0] * f[0].numel() <= FEATURE_STUDENT_TARGET_VALUES
            reused = reused if fits else None
        if reused is not None:
            reused.append(f)
        f = f.permute(0, 2, 3, 1).reshape(n, h * w, d)
        if method != "gaussian":
            if per_image is None:
                per_image = max(1, min(h * w, FEATURE_MAP_CORESET_LOCATIONS // x.shape[0]))
            pick = torch.rand(n, h * w, generator=generator).argsort(1)[:, :per_image]
            kept.append(torch.gather(f, 1, pick.to(f.device)[..., None].expand(-1, -1, d)))
        f = f.reshape(-1, d).double()
        total = total + f.sum(0)
        outer = outer + f.T @ f
        count += f.shape[0]
    mean = total / count
    cov = (outer - count * torch.outer(mean, mean)) / max(count - 1, 1)
    cov = cov + FEATURE_MAP_RIDGE * torch.eye(cov.shape[0], dtype=cov.dtype, device=cov.device)
    precision = torch.linalg.inv(cov)
    if method == "gaussian":
        return FeatureGaussianMap(trunk, mean, precision, X.shape[-2:])
    whiten = torch.linalg.cholesky(precision)
    vectors = torch.cat(kept).reshape(-1, mean.shape[0])
    vectors = ((vectors.double() - mean) @ whiten).float()
    bank = vectors[greedy_coreset(vectors, int(bank_size), generator)]
    nearest = FeatureNearestMap(trunk, mean, whiten, bank, X.shape[-2:])
    if method == "nearest":
        return nearest
    return fit_student_map(
        nearest,
        x,
        batch_size=batch_size,
        device=device,
        generator=generator,
        steps=FEATURE_STUDENT_STEPS if student_steps is None else student_steps,
        pixels=student_pixels,
        sigma=sigma,
        features=None if reused is None else torch.cat(reused),
    )
