"""The scikit-learn estimator :class:`IGDDetector`."""

from __future__ import annotations

import contextlib
import copy
import os
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._config import (
    Count,
    resolve_device,
    resolve_fit_plan,
    resolve_threads,
    shared_seed,
    torch_seed,
    torch_threads,
)
from ._data import PatchSamples, Samples, distributed_context
from ._feature_map import FEATURE_MAP_DEFAULT_METHOD, FEATURE_MAP_METHODS, fit_feature_map
from ._losses import GAUSSIAN_SCORES, GLOBAL_SSIM, LOCAL_SSIM, IGDLoss
from ._net import EpochProgressBar, EStep, IGDNet, warn_if_interrupted
from ._networks import BACKBONE_WIDTHS, IGDModule
from ._persistence import check_loaded_state, weights_digest
from ._pretrain import (
    KD_TEACHERS,
    compute_features,
    pretrained_encoder,
    support_of,
    with_pretrain_rows,
)
from ._scoring import (
    LOCAL_SCORES,
    IGDScorer,
    LocalScorer,
    auto_heatmap_sigma,
    eval_batch_size,
    max_patches_per_pass,
    score_in_batches,
)
from ._validation import (
    MIN_IMAGE_SIDE,
    check_auto_threshold,
    check_finite_scores,
    check_image_size_param,
    check_input,
    positive_or_one,
)
from ._version import __version__

#: The paper's fixed threshold on s(x) used by ``contamination="auto"``.
AUTO_THRESHOLD = 0.5

#: The ``global_score`` options: how the global model's two terms are added.
GLOBAL_SCORES = ("auto", "sum", "balanced")

#: ``feature_weight_`` is measured on at most this many training images.
FEATURE_WEIGHT_IMAGES = 256

#: ``variant``: which of IGD's components train and score (the paper's Table 5 rows).
VARIANTS = {
    "igd": dict(gaussian=True, critic=True, reconstruction="ms-ssim+mae"),
    "rec+gac": dict(gaussian=True, critic=False, reconstruction="ms-ssim+mae"),
    "rec": dict(gaussian=False, critic=False, reconstruction="ms-ssim+mae"),
    "mse": dict(gaussian=False, critic=False, reconstruction="mse"),
}


class IGDDetector(OutlierMixin, BaseEstimator):
    """Interpolated Gaussian Descriptor: a deep one-class anomaly detector.

    IGD (Chen et al., AAAI 2022) trains, on normal samples only, an autoencoder whose
    code ``z = f(x)`` is pulled towards a Gaussian descriptor ``(mu, sigma)`` estimated
    by an E-step over the training set, while an adversarial critic (ACAI) makes decoded
    interpolations of codes look like reconstructions. The anomaly score of a sample is
    ``s(x) = l_r(x) + l_h(x)`` (eq. 14): its reconstruction error (MAE and MS-SSIM) plus
    its Gaussian anomaly classifier term, by default in its negative log-likelihood form
    ``||z - mu||^2 / sigma^2`` (``gaussian_score``), each term divided by its training
    mean when the encoder trains (``global_score``); for images a second, local model on
    patches adds its part of the anomaly map, and the score the mean of the map's
    highest pixels (eq. 13-15, ``local_score``). By default
    the image encoder is a frozen ImageNet network whose features are whitened on the
    training images (``pretrain="imagenet"``); nothing needs to be downloaded.

    It follows scikit-learn's outlier-detector contract (as
    :class:`~sklearn.ensemble.IsolationForest`): ``score_samples = -s(x)``,
    ``decision_function = score_samples - offset_`` and ``predict`` gives -1 exactly
    where the decision function is negative.

    Parameters
    ----------
    backbone : {"auto", "resnet18", "resnet18-lite"}, default="auto"
        Image encoder; the decoder is its reverse. ``"resnet18"`` is the paper's
        (64-512 channels); ``"resnet18-lite"`` has the same depth with a quarter of the
        channels (about 1/16 of the compute), the CPU choice. ``"auto"``: ``"resnet18"``
        on CUDA, ``"resnet18-lite"`` on a CPU (resolved in ``backbone_``). Inputs up to
        64 px use a small-image stem (3x3 conv, no max-pool), larger ones the ImageNet
        stem. 2-D input uses an MLP instead.
    latent_dim : int, default=128
        Size Z of the code.
    lambda1 : float, default=1.0
        Weight of the critic's game against the autoencoder (eq. 7, 10). The critic has
        its own Adam optimiser, which is invariant to a constant factor on its loss, so
        the weight acts through its step size: the critic's learning rate is
        ``lambda1 * lr``. 0 leaves the critic untrained.
    lambda2 : float, default=10.0
        Weight of the reconstruction constraint ``l_fg`` against ``l_h`` (eq. 7, 11).
        With 1 (the paper's) the classifier term dominated on validation data and normal
        images reconstructed about 3x worse than with the plain autoencoder; 10 restored
        the reconstruction (see the user guide, "How IGD works").
    lambda3 : float, default=0.1
        Weight of the adversarial interpolation term inside ``l_fg`` (eq. 11).
    rho : float, default=0.15
        Weight of MAE against ``1 - MS-SSIM`` in the reconstruction loss (eq. 12).
    lr : float, default=3e-4
        Adam learning rate of the autoencoder (the critic's is ``lambda1 * lr``).
    weight_decay : float, default=1e-6
        Adam weight decay of both optimisers.
    batch_size : int, default=32
        Training batch size; capped at the number of training samples. Batches that
        would be incomplete are dropped (the data are reshuffled every epoch).
    max_epochs : int or "auto", default="auto"
        Training epochs. ``"auto"``: the paper's 256 on CUDA; on a CPU about 5,000 sample
        passes (5 epochs of 1,000 images; at least 1, at most 256 epochs), so that a first
        fit takes minutes, an image larger than 28x28 counting for its pixels / 784
        samples (10 epochs of 100 images of 64 px). The resolved value is ``n_epochs_``.
    estep_every : int, default=1
        Run the E-step every this many epochs (plus before training and at its end).
    contamination : "auto" or float in (0, 0.5], default=0.1
        Expected share of anomalies, which sets ``offset_`` at that percentile of the
        training scores. ``"auto"`` uses the paper's fixed threshold ``s(x) = 0.5``
        (``offset_ = -0.5``), which is meant for the paper's score: it needs
        ``gaussian_score="l_h"`` (or ``variant="rec"`` or ``"mse"``).
    support_fraction : float in (0, 1] or None, default=None
        For training sets that may hold anomalies: the share of the training images the
        global model is fitted to. None uses them all (as does 1). With a float, the
        whitening of the frozen ImageNet features (``pretrain="imagenet"`` or ``"kd"``),
        the E-step's ``mu`` and ``sigma2`` and each batch's autoencoder loss use only the
        best-fitting share: the images closest to the centre, found by concentration
        steps as in :class:`~sklearn.covariance.MinCovDet`, and the batch's samples with
        the smallest loss. Anomalies in the training set then shape the description of
        normal data less. Choose it somewhat below one minus the expected share of
        anomalies. With 10% anomalous training images (three seeds), 0.8 raised the
        mean AUC from 0.869 to 0.907 on Fashion-MNIST and from 0.958 to 0.975 on
        MNIST-5k; with clean training sets it cost 0.005 and 0.003 (user guide, "Training
        sets that hold anomalies"). The local model and the feature map use every
        training image. ``support_`` marks the images the final E-step kept.
    local : bool or "auto", default="auto"
        For images, also train the local IGD model on patches and add its part
        (``local_score``) to the score (see :meth:`anomaly_score`). ``"auto"``: for images
        whose shorter side is at least 64 px (the paper uses the local model on 256 px
        MVTec AD images, the global model alone on 28-32 px ones). Ignored for 2-D
        input. The local model trains on all patches of every image for
        ``local_epochs`` epochs.
    local_epochs : "auto" or int, default="auto"
        Training epochs of the local model; each passes over every patch of every
        image. ``"auto"``: enough epochs to pass over about 45,000 patches, at least 2
        and at most ``n_epochs_`` (2 of the 10 epochs of a CPU fit on 100 images of
        64 px, 225 patches each). On validation and held-out textures, photographs and
        silhouettes 2 local epochs instead of 10 localised as well at about half the
        fit time (user guide, *Configuration*). An int sets it
        (``local_epochs=max_epochs`` trains both models alike, as the paper does). The
        resolved value is ``n_local_epochs_``.
    patch_size : "auto" or int, default="auto"
        Side of the local model's patches; ``"auto"`` = ``max(8, min(H, W) // 8)``.
    patch_stride : "auto" or int, default="auto"
        Step between patches, at most ``patch_size``; ``"auto"`` = half the patch. The
        grid always reaches the right and bottom borders.
    local_batch_size : "auto" or int, default="auto"
        Patches per batch of the local model. ``"auto"`` sizes it by a pixel budget
        (about 131,000 input values per batch, at most ``16 * batch_size`` patches), so
        that training memory does not grow with the patch size. Capped at the number of
        training patches.
    heatmap : {"balanced", "paper"}, default="balanced"
        How :meth:`predict_heatmap` adds up its per-pixel error terms (the absolute
        error and ``1 - MS-SSIM map`` of each model): ``"balanced"`` divides each term by
        its mean over the training pixels (``heatmap_scale_``) before summing,
        ``"paper"`` is eq. 16-17 as written (``rho`` and ``1 - rho`` weights). Without the
        local model scores do not depend on it; with it, the local score
        (``local_score``) is read off the map so weighted.
    heatmap_sigma : "auto" or float, default="auto"
        Standard deviation, in pixels, of the Gaussian that smooths each model's map in
        :meth:`predict_heatmap` (separable, reflected borders); 0 leaves the maps
        unsmoothed, as eq. 16-17. ``"auto"`` = ``min(H, W) / 16`` (2 px at 32 px, 4 px
        at 64, 16 at 256), chosen on validation draws of the texture defects: the
        per-pixel errors of a fine texture are noisy, and smoothing raised the pixel
        AUROC of every texture tried (the user guide has the numbers). Without the local
        model scores do not depend on it; with it, the local score (``local_score``) is
        read off the smoothed map.
    local_score : {"heatmap_top", "heatmap_max", "worst_patch"}, default="heatmap_top"
        The local part ``s_L`` of the score: ``"heatmap_top"`` is the mean of the highest
        10% of the pixels of :meth:`predict_heatmap` (both models' reconstruction terms,
        weighted as ``heatmap`` says, plus the feature map, smoothed by
        ``heatmap_sigma``); ``"heatmap_max"`` the maximum over the pixels of the local
        model's part of it plus the feature map; ``"worst_patch"`` is eq. 15, the largest
        ``l_r + l_h`` over the local model's patches. On validation draws of the texture
        defects (64 px, 6 texture-draw pairs) the combined score ranked defective crops
        at 0.840 image AUROC on average with ``"heatmap_top"`` against 0.814 with
        ``"heatmap_max"`` (gravel 0.78-0.81 against 0.70-0.75: a defect spreads over more
        pixels than the single worst one), and beat OneClassSVM with a paired bootstrap
        interval above 0 on all six, against four of six; on 4 silhouette draws it was
        0.978 against 0.979. The worst patch ranked texture defects at chance level on
        brick (its Gaussian term is at chance level on 8 px patches). The user guide has
        the numbers. Ignored without the local model.
    global_score_weight : float, default=1.0
        With the local model, the weight of the standardised global part in the score
        (:meth:`anomaly_score`): ``s = w z_G + z_L``. 0 ranks images by the local part
        alone (which already reads the global model's map through the heatmap); larger
        values lean towards the global model. The default adds the two parts as they
        are, a compromise between two kinds of anomaly measured on validation data
        (``benchmarks/results/picture_weights.md``): for small defects on a normal
        surface (painted defects on two draws of six validation photographs and of
        three textures) ``0`` ranked better on 17 of 18 sets, the last one equal (mean
        image AUROC 0.759 -> 0.822 on the photographs, 0.878 -> 0.893 on the
        textures); for a whole image of
        another kind (silhouettes of another shape) it ranked far worse (0.954 ->
        0.648; square below chance). Choose it on your own validation anomalies if you
        have some (it changes the score and ``offset_``, not the models):
        :func:`~sklearn_igd.thresholds.select_global_score_weight` picks it and
        :func:`~sklearn_igd.thresholds.with_global_score_weight` sets it on a fitted
        detector without a new fit. Ignored without the local model.
    feature_map : {"auto", "nearest", "gaussian", "student"} or bool, default="auto"
        Add the feature map to :meth:`predict_heatmap`: at every location, how far the
        frozen ImageNet features (the packaged EfficientNet-Lite0 up to block 3, on images
        upsampled to a shorter side of at least 320 px, by at most 8x) are from those of
        the training images, resized to the image, smoothed as the models' maps and
        weighted (``feature_weight_``) to their spread over the training pixels; the local
        part of the score (``local_score``) then includes it, except with
        ``"worst_patch"``. How far:

        - ``"nearest"``: the squared Mahalanobis distance to the nearest
          of a memory bank of at most 4,000 training locations, chosen by greedy k-centre
          selection (PatchCore's coreset) among at most 160,000, seeded by
          ``random_state``;
        - ``"gaussian"``: the squared Mahalanobis distance to one Gaussian fitted on
          every location of the training images;
        - ``"student"``: ``"nearest"``'s distance plus the error of a
          *student* (a small CNN trained for 300 steps, seeded by ``random_state``, to
          regress the frozen features from the training images and their flips, as in
          Bergmann et al. 2020), each divided by its standard deviation over the
          smoothed training pixels; fitting it is several times the cost of
          ``"nearest"`` (100 crops of 64 px, one CPU thread: 159 s against 28 s),
          scoring about the same;
        - ``"auto"`` (also ``True``): ``"student"`` with the local model and
          ``heatmap="balanced"``, else no feature map; ``False``: none.

        It sees what reconstruction errors miss on fine textures: a patch of another
        texture, a brightness change, which the autoencoders reconstruct faithfully. On
        validation draws of the texture defects the Gaussian raised the pooled pixel
        AUROC of grass from 0.68 to 0.82 and of gravel from 0.84 to 0.90 (brick 0.988 to
        0.986); the nearest neighbour keeps that pixel AUROC and raises the image AUROC
        of the default score on textures from 0.847 to 0.879 on average (gravel
        +0.06 to +0.07) and on silhouettes from 0.976 to 0.980; ``"student"`` then raised
        the pooled pixel AUROC on every validation texture set (0.912 to 0.919 on
        average) and the image AUROC from 0.878 to 0.888 (the user guide has the
        numbers), on the held-out draws too.
        Not part of the paper; ignored for 2-D input.
    variant : {"igd", "rec+gac", "rec", "mse"}, default="igd"
        Which components train and score, as in the paper's ablation (Table 5): the
        full model; without the interpolation critic; the autoencoder alone with the
        MS-SSIM + MAE reconstruction loss (no Gaussian classifier, ``s = l_r``); or the
        autoencoder alone with the mean squared error as its loss and score (the
        paper's ``MSE`` baseline). The variant applies to the local model too; the
        heatmaps' per-pixel terms (eq. 17) are the same for every variant.
    gaussian_score : {"nll", "l_h"}, default="nll"
        The Gaussian term of the score: ``"l_h"`` is eq. 8, ``1 - exp(-d^2 / sigma^2)``
        with ``d^2 = ||z - mu||^2``; ``"nll"`` its negative log-likelihood ``d^2 /
        sigma^2``, which ranks alone exactly as ``l_h`` but does not saturate at 1, so
        that far anomalies stay far when ``l_r`` is added. Training always uses ``l_h``.
    global_score : {"auto", "sum", "balanced"}, default="auto"
        How the global model's two terms are added into ``s_G``: ``"sum"`` is eq. 14,
        ``l_r + l_h``; ``"balanced"`` divides each term by its mean over the training
        images first, ``l_r / mean(l_r) + l_h / mean(l_h)`` (``global_weights_``).
        ``"auto"``: ``"balanced"`` when the encoder trains (2-D input, or images with
        ``pretrain=None`` or ``"ssl"``) and ``contamination`` is a float, else
        ``"sum"``. In the sum the Gaussian term weighs most (its training mean is about
        1 with ``gaussian_score="nll"``, that of ``l_r`` 0.1-0.3). With a frozen
        ImageNet encoder that term ranks best and the sum is right; an encoder that
        trains on a few hundred images gives a weaker Gaussian term. On validation data
        balancing raised the mean AUC from scratch by 0.036-0.045 on MNIST-5k and
        0.016-0.037 on Fashion-MNIST, with ``"ssl"`` by 0.031-0.048 on MNIST-5k
        (Fashion-MNIST -0.003 to 0.000), and on four 2-D data sets by 0.004; with the
        frozen encoder it lowered it by 0.016-0.042 (the user guide has the numbers).
        ``contamination="auto"`` needs ``"sum"``.
    pretrain : {"imagenet", "kd", "ssl"}, nn.Module or None, default="imagenet"
        Pre-training of the (global model's) image encoder. Except with ``"ssl"`` it is
        then frozen, with a trainable Linear ``d -> latent_dim`` attached:

        - ``"imagenet"``: no training: the packaged ImageNet EfficientNet-Lite0 up to the
          end of its fourth stage (80 channels), on images upsampled to at least 32 px,
          average-pooled on a 2x2 grid, then whitened (PCA of the Ledoit-Wolf
          covariance, top 128 components) on the training images' features; the Linear
          starts as an isometry;
        - ``"kd"``: the same with the ImageNet teacher ``kd_teacher`` (EfficientNet-Lite0
          as ``"imagenet"``, or torchvision's ResNet18 up to its third stage, 256
          channels). The paper distils the teacher into a student and freezes it; a
          student distilled on the training images at CPU budgets scored below the
          teacher's own features on validation data, so the teacher is used itself;
        - ``"ssl"``: SimCLR from scratch on the training images (two views per image by
          batched kornia augmentations, NT-Xent loss) trains the model's own encoder
          for ``pretrain_epochs``; the projection MLP is then dropped and the encoder,
          not frozen, trains with the rest of the model as with ``None`` (the paper
          freezes it after 2,000 SimCLR epochs; after 10, frozen, it ranked below
          training from scratch on validation data, initialised it ranked above);
        - an ``nn.Module``: your own backbone, mapping float images ``(n, C, H, W)`` in
          [0, 1] (as fitted, after ``image_size``) to ``(n, d)`` or ``(n, d, h, w)``
          features (averaged over ``h, w``); a frozen copy is used, yours is untouched;
        - None: the encoder trains from scratch with the rest.

        Ignored for 2-D input. Only the global model is pre-trained.
    kd_teacher : {"efficientnet-lite0", "resnet18"}, default="efficientnet-lite0"
        The ImageNet network of ``pretrain="kd"``. ``"efficientnet-lite0"`` installs with
        the package and works offline; ``"resnet18"`` is the paper's teacher:
        torchvision's ImageNet weights from ``kd_teacher_weights``, else the torch hub
        cache, else a download.
    kd_teacher_weights : str, path-like or None, default=None
        File with torchvision's ResNet18 ImageNet state dict for ``kd_teacher="resnet18"``.
    flip_invariant : "auto" or bool, default="auto"
        Whether the frozen ImageNet features of ``pretrain="imagenet"`` and ``"kd"`` are
        the mean of the features of each image and of its left-right mirror image, so
        that an image and its mirror image get the same code. ``"auto"``: when the local
        model is off and the training images look the same mirrored, which is measured
        at fit time (resolved in ``flip_invariant_``, the measurement in ``flip_auc_``):
        the features of half the training images, whitened, rank the other half's mirror
        images above the images themselves with a ROC AUC below 0.6 (each half in turn;
        at least 20 training images). Clothes usually pass; digits and shoes that all
        point one way do not. On validation data this raised the Fashion-MNIST tops' AUC
        and left digits unchanged; with the local model (64 px textures and silhouettes)
        it was mixed, so there ``"auto"`` is False without measuring (the user guide has
        the numbers). Ignored for other encoders and 2-D input.
    pretrain_epochs : int, default=10
        Epochs of SimCLR pre-training (``pretrain="ssl"``).
    pretrain_batch_size : int, default=64
        Batch size of SimCLR pre-training, capped at the number of training images; the
        frozen encoders of ``"imagenet"`` and ``"kd"`` compute features in batches of at
        least this many images.
    cache_features : bool, default=True
        With a frozen pre-trained encoder, compute its features of every training image
        once, before training, instead of in every epoch. Costs ``4 d`` bytes per image.
    image_size : None, int or (int, int), default=None
        Resize images to this size (bilinear, antialiased) at fit and at prediction.
        By default images are used as they are and must all have the fitted size.
    device : str, default="auto"
        ``"auto"`` picks CUDA when present (``cuda:LOCAL_RANK`` under ``torchrun``; a
        Dask worker's ``CUDA_VISIBLE_DEVICES`` is respected) with bfloat16 autocast, else
        the CPU; or ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    n_threads : int or None, default=None
        Torch CPU threads used by ``fit`` and scoring. None: the Dask worker's
        ``nthreads`` inside a Dask worker, else the process's current setting. The same
        parameters, data and thread count give the same scores in any process.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and interpolation draws. Fits with the
        same seed on the CPU with the same number of threads give identical scores.
        Global RNGs are left untouched.
    verbose : int, default=0
        0 silent, 1 a progress bar over epochs, 2 a table of the loss terms per epoch.

    Attributes
    ----------
    net_ : IGDNet
        The fitted skorch net of the global model; ``net_.module_`` is the PyTorch model.
        The optimisers' state is dropped after fitting.
    history_ : skorch.History
        Per-epoch (and per-batch) terms of the global model: ``train_loss``, ``l_h``,
        ``l_r``, ``l_fg``, ``l_d``, ``sigma2`` (the E-step's scale in use, at least 1),
        ``sigma2_raw`` (the E-step's scale before that floor) and ``code_rank``
        (effective rank of the training codes: a collapsing code space shows as both
        falling), ``dur``. With ``pretrain="ssl"`` the pre-training epochs come
        first, as rows with ``stage``, ``epoch``, ``pretrain_loss`` and ``dur``.
    mu_ : ndarray of shape (latent_dim,)
        Centre of the Gaussian descriptor after the final E-step.
    support_ : ndarray of shape (n_samples,), dtype bool
        The training images whose codes the final E-step used for ``mu_`` and ``sigma2_``:
        with ``support_fraction``, the best-fitting share (as
        :attr:`MinCovDet.support_ <sklearn.covariance.MinCovDet>`), so that
        ``X[~support_]`` are the images the global model's description of normal data
        left out; all True without it.
    sigma2_ : float
        The E-step's scale of the squared distances of the training codes to ``mu_``
        (their mean), floored at 1 as in the authors' code: without the floor the
        training shrinks every code and the descriptor collapses.
    global_weights_ : ndarray of shape (2,)
        Weights of the global model's reconstruction term ``l_r`` and Gaussian term in
        ``s_G = global_weights_[0] * l_r + global_weights_[1] * l_h`` (``global_score``
        resolved): ones for ``"sum"``, the inverses of their means over the training
        images for ``"balanced"`` (a mean that is not positive counts as 1).
    offset_ : float
        ``decision_function = score_samples - offset_``.
    device_ : str
        The device the model was trained on.
    backbone_ : str or None
        The resolved backbone (None for 2-D input).
    n_epochs_ : int
        The resolved number of training epochs (of the global model).
    n_local_epochs_ : int or None
        The resolved number of the local model's training epochs (None without it).
    flip_invariant_ : bool
        Whether the frozen ImageNet features are flip-invariant (``flip_invariant``
        resolved; False for other encoders and 2-D input).
    flip_auc_ : float or None
        With ``flip_invariant="auto"``, a frozen ImageNet encoder and no local model, the
        cross-fitted ROC AUC with which the whitened features rank the training images'
        mirror images above the images (0.5: the class looks the same mirrored); else
        None.
    n_threads_ : int
        The torch thread count of the fit.
    is_image_ : bool
        Whether the detector was fitted on images (else 2-D vectors).
    input_shape_ : tuple
        ``(C, H, W)`` of the fitted images (after ``image_size``), or ``(n_features,)``.
    n_features_in_ : int
        Number of input values per sample (``C * H * W`` for images).
    scaler_ : StandardScaler or None
        Feature standardisation of 2-D input (None for images).
    local_net_ : IGDNet or None
        The local (patch) model, or None without it.
    local_history_ : skorch.History or None
        The local model's training history.
    patch_size_, patch_stride_ : int or None
        The local model's patch geometry.
    patch_grid_ : (ndarray, ndarray) or None
        The start rows and columns of the local model's patches; an image has
        ``len(patch_grid_[0]) * len(patch_grid_[1])`` patches.
    score_center_, score_scale_ : ndarray of shape (2,) or None
        Means and standard deviations of the global score ``s_G`` and the local score
        ``s_L`` over the training images, which standardise them in
        :meth:`anomaly_score`; None without the local model. (A standard deviation that
        is not positive is replaced by 1.)
    score_weights_ : ndarray of shape (2,) or None
        The weights of the standardised global and local parts in :meth:`anomaly_score`,
        ``(global_score_weight, 1)``; None without the local model.
    heatmap_scale_ : ndarray of shape (n_models, 2) or None
        With ``heatmap="balanced"``, the means over the training pixels of the absolute
        error (column 0) and of ``1 - MS-SSIM map`` (column 1) of the global model (row 0)
        and of the local model's folded patches (row 1). None with ``heatmap="paper"`` or
        2-D input.
    heatmap_sigma_ : float or None
        The smoothing of :meth:`predict_heatmap` in pixels (``heatmap_sigma`` resolved);
        None for 2-D input.
    feature_map_ : FeatureNearestMap, FeatureGaussianMap, FeatureStudentMap or None
        The fitted feature map (``feature_map``): a frozen torch module
        ``(n, C, H, W) -> (n, H, W)`` holding the training features' ``mean`` and either
        the whitening ``whiten`` and the whitened memory ``bank`` (``"nearest"``) or the
        Gaussian's ``precision``; ``"student"`` adds the trained ``student``, the
        standardisation of the features it predicts (``teacher_mean``,
        ``teacher_std``) and the two maps' ``scales``. None without it.
    feature_weight_ : float or None
        The feature map's weight in the heatmap: the standard deviation over the training
        pixels (at most 256 training images) of the models' maps divided by that of the
        smoothed feature map. None without it.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Isolation forest outlier detector, same contract.
    sklearn.svm.OneClassSVM : One-class SVM, same contract.
    sklearn_igd.TiledDetector : Applies a detector to large images by overlapping tiles.

    References
    ----------
    Y. Chen, Y. Tian, G. Pang and G. Carneiro. Deep One-Class Classification via
    Interpolated Gaussian Descriptor. AAAI 2022.

    Examples
    --------
    >>> from sklearn_igd import IGDDetector
    >>> from sklearn_igd.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True)
    >>> det = IGDDetector(max_epochs=2, pretrain=None, random_state=0)
    >>> det = det.fit(X[y == 0][:100])
    >>> det.decision_function(X[:3]).shape
    (3,)
    >>> sorted(set(det.predict(X[:20])) - {-1, 1})
    []
    """

    _parameter_constraints: dict = {
        "backbone": [StrOptions({"auto"} | set(BACKBONE_WIDTHS))],
        "latent_dim": [Count(1)],
        "lambda1": [Interval(Real, 0, None, closed="left")],
        "lambda2": [Interval(Real, 0, None, closed="left")],
        "lambda3": [Interval(Real, 0, None, closed="left")],
        "rho": [Interval(Real, 0, 1, closed="both")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Count(2)],
        "max_epochs": [StrOptions({"auto"}), Count(1)],
        "estep_every": [Count(1)],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "support_fraction": [None, Interval(Real, 0, 1, closed="right")],
        "local": ["boolean", StrOptions({"auto"})],
        "local_epochs": [StrOptions({"auto"}), Count(1)],
        "patch_size": [StrOptions({"auto"}), Count(2)],
        "patch_stride": [StrOptions({"auto"}), Count(1)],
        "local_batch_size": [StrOptions({"auto"}), Count(2)],
        "heatmap": [StrOptions({"balanced", "paper"})],
        "heatmap_sigma": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "local_score": [StrOptions(set(LOCAL_SCORES))],
        "global_score_weight": [Interval(Real, 0, None, closed="left")],
        "feature_map": ["boolean", StrOptions({"auto", "nearest", "gaussian", "student"})],
        "variant": [StrOptions(set(VARIANTS))],
        "gaussian_score": [StrOptions(set(GAUSSIAN_SCORES))],
        "global_score": [StrOptions(set(GLOBAL_SCORES))],
        "pretrain": [None, StrOptions({"imagenet", "kd", "ssl"}), torch.nn.Module],
        "kd_teacher": [StrOptions(set(KD_TEACHERS))],
        "kd_teacher_weights": [None, str, os.PathLike],
        "flip_invariant": ["boolean", StrOptions({"auto"})],
        "pretrain_epochs": [Count(1)],
        "pretrain_batch_size": [Count(2)],
        "cache_features": ["boolean"],
        "image_size": [None, Count(MIN_IMAGE_SIDE), tuple, list],
        "device": [str, torch.device],
        "n_threads": [None, Count(1)],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        backbone="auto",
        latent_dim=128,
        lambda1=1.0,
        lambda2=10.0,
        lambda3=0.1,
        rho=0.15,
        lr=3e-4,
        weight_decay=1e-6,
        batch_size=32,
        max_epochs="auto",
        estep_every=1,
        contamination=0.1,
        support_fraction=None,
        local="auto",
        local_epochs="auto",
        patch_size="auto",
        patch_stride="auto",
        local_batch_size="auto",
        heatmap="balanced",
        heatmap_sigma="auto",
        local_score="heatmap_top",
        global_score_weight=1.0,
        feature_map="auto",
        variant="igd",
        gaussian_score="nll",
        global_score="auto",
        pretrain="imagenet",
        kd_teacher="efficientnet-lite0",
        kd_teacher_weights=None,
        flip_invariant="auto",
        pretrain_epochs=10,
        pretrain_batch_size=64,
        cache_features=True,
        image_size=None,
        device="auto",
        n_threads=None,
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
        self.support_fraction = support_fraction
        self.local = local
        self.local_epochs = local_epochs
        self.patch_size = patch_size
        self.patch_stride = patch_stride
        self.local_batch_size = local_batch_size
        self.heatmap = heatmap
        self.heatmap_sigma = heatmap_sigma
        self.local_score = local_score
        self.global_score_weight = global_score_weight
        self.feature_map = feature_map
        self.variant = variant
        self.gaussian_score = gaussian_score
        self.global_score = global_score
        self.pretrain = pretrain
        self.kd_teacher = kd_teacher
        self.kd_teacher_weights = kd_teacher_weights
        self.flip_invariant = flip_invariant
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_batch_size = pretrain_batch_size
        self.cache_features = cache_features
        self.image_size = image_size
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ================================================================== public API
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the detector on normal samples.

        ``fit`` is atomic: every parameter and the patch geometry are checked against the
        data before training, and if anything fails (an error, or a KeyboardInterrupt
        outside the training epochs) the estimator is left exactly as it was before the
        call. A KeyboardInterrupt (Ctrl-C) during the training epochs stops the whole fit
        early: the models keep their weights, the local model is skipped if it had not
        started, the thresholds are computed from the models as they are, and a
        ``UserWarning`` says at which epoch training stopped.

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
            The fitted detector.
        """
        check_image_size_param(self.image_size)
        check_auto_threshold(self, AUTO_THRESHOLD, gaussian=VARIANTS[self.variant]["gaussian"])
        resolve_device(self.device)  # parameters first, then the data
        with _transaction(self), torch_threads(resolve_threads(self.n_threads)) as threads:
            X = self._validate_training_data(X)
            plan = resolve_fit_plan(self, X.shape[1:], X.shape[0], threads)
            seed = shared_seed(self.random_state)
            with torch_seed(seed + 2, plan.device):
                pretrained = pretrained_encoder(self, X, plan)
            with torch_seed(seed, plan.device):
                net = self._fit_global(X, pretrained, plan)
            local_net = None
            if plan.local and net.interrupted_ is None:
                with torch_seed(seed + 1, plan.device):
                    local_net = self._fit_local(X, plan)
            self._store_models(net, local_net, plan, pretrained.history)
            mask = net.support_mask_  # set by every E-step; None: every image kept
            self.support_ = np.ones(len(X), dtype=bool) if mask is None else mask.astype(bool)
            self.flip_invariant_ = pretrained.flip_invariant
            self.flip_auc_ = pretrained.flip_auc
            feature_map = None
            if self._uses_feature_map():
                feature_map = fit_feature_map(
                    torch.from_numpy(X),
                    batch_size=plan.batch_size,
                    device=plan.device,
                    method=(
                        self.feature_map
                        if self.feature_map in FEATURE_MAP_METHODS
                        else FEATURE_MAP_DEFAULT_METHOD
                    ),
                    seed=seed + 3,
                    sigma=self.heatmap_sigma_ or 0.0,
                )
            self._fit_thresholds(X, feature_map)
            warn_if_interrupted(net, local_net, plan)
        return self

    def score_parts(self, X, *, heatmap=False, terms=False):
        """The parts of the anomaly score and, on request, of the heatmap.

        Parameters
        ----------
        X : array-like
            Samples in one of the layouts accepted by :meth:`fit`, with the fitted size.
        heatmap : bool, default=False
            Also compute the per-pixel maps (images only).
        terms : bool, default=False
            Also return each model's two unweighted per-pixel error terms (images only).

        Returns
        -------
        Bunch
            ``score`` (n,): :meth:`anomaly_score`; ``global_score`` (n,): the global
            model's ``s_G`` (eq. 14, ``l_r + l_h`` weighted by ``global_weights_``), and
            its unweighted terms ``global_reconstruction`` (``l_r``) and
            ``global_gaussian`` (the Gaussian term, ``gaussian_score``); ``local_score``
            (n,) or None: the local model's ``s_L`` (``local_score``), not
            standardised. With ``heatmap``: ``heatmap`` (n, H, W):
            :meth:`predict_heatmap`; ``global_heatmap``, ``local_heatmap`` and
            ``feature_heatmap`` (or None): its two models' weighted terms and the
            weighted feature map (``feature_map``), which add up to it. With
            ``terms``: ``global_terms`` and ``local_terms`` (or None), each (n, 2, H, W):
            the absolute error ``|x - x_hat|`` (``[:, 0]``) and ``1 - MS-SSIM map``
            (``[:, 1]``) that the heatmap weighs (``heatmap_scale_``). All float64.
        """
        X = self._prepare(X)
        if (heatmap or terms) and not self.is_image_:
            raise ValueError(
                "predict_heatmap needs images; this detector was fitted on 2-D data with "
                f"{self.n_features_in_} features."
            )
        with torch_threads(resolve_threads(self.n_threads)):
            return self._score(X, heatmap=heatmap, terms="maps" if terms else None)

    def anomaly_score(self, X):
        """The anomaly score ``s(x)`` (eq. 13-15): higher = more anomalous.

        Without the local model this is the global model's ``s(x) = s_G(x)``: the
        paper's ``l_r(x) + l_h(x)`` (eq. 14), each term weighted by ``global_weights_``
        (ones unless ``global_score`` resolves to ``"balanced"``). With it, the global
        score and the local score ``s_L(x)`` (``local_score``: by default the mean of the
        highest 10% of the pixels of :meth:`predict_heatmap`; ``"worst_patch"``: the
        largest ``l_r + l_h`` over the local model's patches, eq. 15) are each
        standardised on the training images before they are added::

            s(x) = w * (s_G(x) - score_center_[0]) / score_scale_[0]
                   + (s_L(x) - score_center_[1]) / score_scale_[1]

        so that training images score 0 on average and each part counts by how far it
        lies outside its normal spread. The paper adds the two as they are (eq. 13); they
        come from two models trained separately on different inputs, and nothing puts
        them on one scale.

        Parameters
        ----------
        X : array-like
            Samples in one of the layouts accepted by :meth:`fit`, with the fitted size.

        Returns
        -------
        ndarray of shape (n_samples,), float64
            ``s(x)`` of each sample.

        Raises
        ------
        ValueError
            If the model produces a non-finite score (the message lists the rows).
        """
        return self.score_parts(X).score

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
        eq. 16-17 as written, ``(rho A_G + (1 - rho) S_G) + (rho A_L + (1 - rho) S_L)``,
        in which the term with the largest values dominates (the user guide shows where
        that hurts localisation). Each model's map is then smoothed by a Gaussian of
        ``heatmap_sigma_`` pixels (``heatmap_sigma``; 0: not smoothed). With the feature
        map (``feature_map``, on by default with the local model) the map adds
        ``G_sigma * (feature_weight_ * F)``, ``F`` the squared Mahalanobis distance of
        each location's frozen ImageNet features to their training Gaussian. Computed in
        batches whose memory is bounded whatever the image size.

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
        >>> # feature_map=False: the models' maps alone, without the ImageNet feature map
        >>> det = IGDDetector(
        ...     max_epochs=1, pretrain=None, local=True, feature_map=False, random_state=0
        ... )
        >>> det.fit(X[y == 0][:64]).predict_heatmap(X[:3]).shape
        (3, 8, 8)
        """
        return self.score_parts(X, heatmap=True).heatmap

    def score_samples(self, X):
        """Opposite of the anomaly score, ``-s(x)``: higher = more normal.

        Parameters
        ----------
        X : array-like
            Samples in one of the layouts accepted by :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples,), float64
            ``-s(x)`` of each sample.
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
            Negative for the samples that :meth:`predict` labels -1.
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
            +1 for normal samples, -1 for anomalies.
        """
        decision = self.decision_function(X)
        labels = np.ones(decision.shape[0], dtype=int)
        labels[decision < 0] = -1
        return labels

    def __getstate__(self):
        state = super().__getstate__()
        if state.get("feature_map_") is not None:
            # saved on the CPU whatever the fitting device, so that it loads anywhere
            state["feature_map_"] = copy.deepcopy(state["feature_map_"]).cpu()
        if "net_" in state:
            state["_sklearn_igd_version"] = __version__
            state["_weights_digest"] = weights_digest(self._torch_models())
        return state

    def __setstate__(self, state):
        version = state.pop("_sklearn_igd_version", None)
        digest = state.pop("_weights_digest", None)
        super().__setstate__(state)
        if hasattr(self, "net_"):
            check_loaded_state(
                {"_sklearn_igd_version": version, "_weights_digest": digest},
                __version__,
                weights_digest(self._torch_models()),
            )
            # skorch maps a CUDA-fitted net to the CPU when CUDA is missing at load time
            self.device_ = str(self.net_.device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    # ============================================================ fitting helpers
    def _validate_training_data(self, X):
        """Checked float32 training data; 2-D input is standardised (``scaler_``)."""
        X = check_input(self, X, reset=True)
        self.scaler_ = None
        if not self.is_image_:
            self.scaler_ = StandardScaler().fit(X)
            X = self.scaler_.transform(X).astype(np.float32)
        if np.ptp(X, axis=0).max() == 0:
            raise ValueError(
                f"All {X.shape[0]} training samples are identical (every value is the same "
                "in every sample): there is no variation of normal data to describe. "
                "Expected at least two different normal samples."
            )
        return X

    def _build_net(
        self, input_shape, plan, *, ssim, batch_size, epochs, encoder=None, support=1.0
    ):
        """An unfitted :class:`IGDNet` for one model (global or local), trained for
        ``epochs`` epochs on the best-fitting ``support`` share of its training samples."""
        callbacks = [("estep", EStep(every=self.estep_every))]
        verbose = self.verbose if distributed_context()[0] == 0 else 0  # rank 0 reports
        if verbose == 1:
            callbacks.append(("progress", EpochProgressBar()))
        return IGDNet(
            IGDModule,
            module__input_shape=input_shape,
            module__backbone=plan.backbone or "resnet18-lite",
            module__latent_dim=self.latent_dim,
            module__encoder=encoder,
            module__rho=self.rho,
            module__ssim=ssim,
            module__gaussian_score=self.gaussian_score,
            **{f"module__{k}": v for k, v in VARIANTS[self.variant].items()},
            criterion=IGDLoss,
            criterion__lambda2=self.lambda2,
            criterion__lambda3=self.lambda3,
            criterion__rho=self.rho,
            criterion__ssim=ssim,
            criterion__support=support,
            criterion__reconstruction=VARIANTS[self.variant]["reconstruction"],
            optimizer=torch.optim.Adam,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=epochs,
            batch_size=batch_size,
            iterator_train__shuffle=True,
            iterator_train__drop_last=True,
            train_split=None,
            callbacks=callbacks,
            verbose=int(verbose >= 2),
            device=plan.device,
            amp_dtype=plan.amp_dtype,
            lambda1=self.lambda1,
            support=support,
        )

    def _fit_global(self, X, pretrained, plan):
        """Train the global model on the whole samples (EM, eq. 3-12), with the
        :class:`~sklearn_igd._pretrain.Pretrained` encoder: a frozen one (its features
        computed once with ``cache_features``) or a pre-trained initial encoder."""
        encoder, features = pretrained.encoder, pretrained.features
        net = self._build_net(
            X.shape[1:],
            plan,
            ssim=GLOBAL_SSIM,
            batch_size=plan.batch_size,
            epochs=plan.n_epochs,
            encoder=encoder,
            support=support_of(self),
        )
        x = torch.from_numpy(X)
        if encoder is None or not self.cache_features:
            features = None
        elif features is None:
            features = compute_features(encoder.to(plan.device), x, plan.batch_size, plan.device)
        if pretrained.init is None:
            return net.fit(Samples(x, features), None)
        # skorch's fit is initialize() then partial_fit(): the weights go in between
        net.initialize()
        net.module_.backbone.load_state_dict(pretrained.init.state_dict())
        return net.partial_fit(Samples(x, features), None)

    def _fit_local(self, X, plan):
        """Train the local model on every grid patch of every image."""
        c = X.shape[1]
        patch = plan.patch_size
        net = self._build_net(
            (c, patch, patch),
            plan,
            ssim=LOCAL_SSIM,
            batch_size=plan.local_batch_size,
            epochs=plan.n_local_epochs,
        )
        return net.fit(PatchSamples(torch.from_numpy(X), patch, plan.grid), None)

    def _store_models(self, net, local_net, plan, pretrain_history):
        """Set the fitted attributes of the models (optimiser state dropped)."""
        for n in (net, local_net):
            if n is not None:
                n.optimizer_ = n.critic_optimizer_ = None
        self.net_ = net
        self.history_ = with_pretrain_rows(net.history, pretrain_history, self.pretrain)
        self.local_net_ = local_net
        self.local_history_ = local_net.history if local_net is not None else None
        self.device_ = plan.device
        self.backbone_ = plan.backbone if self.is_image_ else None
        self.n_epochs_ = plan.n_epochs
        self.n_local_epochs_ = plan.n_local_epochs if local_net is not None else None
        self.n_threads_ = plan.n_threads
        self.patch_size_ = plan.patch_size if local_net is not None else None
        self.patch_stride_ = plan.patch_stride if local_net is not None else None
        self.patch_grid_ = plan.grid if local_net is not None else None
        self.mu_ = net.module_.mu.detach().cpu().double().numpy()
        self.sigma2_ = float(net.module_.sigma2)
        self.score_center_ = self.score_scale_ = self.score_weights_ = None
        self.heatmap_scale_ = None
        self.heatmap_sigma_ = None
        if self.is_image_:
            sigma = self.heatmap_sigma
            self.heatmap_sigma_ = float(
                auto_heatmap_sigma(*self.input_shape_[1:]) if sigma == "auto" else sigma
            )

    def _fit_thresholds(self, X, feature_map=None):
        """``global_weights_``, ``heatmap_scale_``, ``feature_map_``, ``feature_weight_``,
        ``score_center_``, ``score_scale_`` and ``offset_`` from the training data and the fitted
        ``feature_map`` (or None). The feature map is attached after the pass that
        measures the models' error terms, which does not depend on it."""
        balanced = self.is_image_ and self.heatmap == "balanced"
        self.feature_map_ = self.feature_weight_ = self.global_weights_ = None
        parts = self._score(X, terms="means" if balanced else None, scaled=False, check=False)
        self.global_weights_ = np.ones(2)
        if self._resolved_global_score() == "balanced":
            terms = np.vstack([parts.global_reconstruction, parts.global_gaussian])
            self.global_weights_ = 1.0 / positive_or_one(terms.mean(axis=1))
        local = self.local_net_ is not None
        if balanced:
            self.heatmap_scale_ = positive_or_one(parts.term_means)
        if feature_map is not None:
            self.feature_map_ = feature_map
            self.feature_weight_ = self._feature_weight(X)
        if balanced or feature_map is not None:
            if local and self.local_score != "worst_patch":
                # the local score is read off the heatmap, which these scales weigh
                parts = self._score(X, scaled=False, check=False)
        w = self.global_weights_  # as the scorer adds them, so that offset_ matches
        score = w[0] * parts.global_reconstruction + w[1] * parts.global_gaussian
        if local:
            both = np.vstack([score, parts.local_score])
            self.score_center_ = both.mean(axis=1)
            self.score_scale_ = positive_or_one(both.std(axis=1))
            self.score_weights_ = np.array([float(self.global_score_weight), 1.0])
            z = self._standardised(score, parts.local_score)
            score = (self.score_weights_[:, None] * z).sum(0)
        check_finite_scores(score, "training")
        self._set_offset(score)

    def _standardised(self, global_score, local_score):
        """The global and the local score (each (n,)) standardised by ``score_center_``
        and ``score_scale_``: (2, n), the parts that ``score_weights_`` weighs."""
        both = np.vstack([global_score, local_score])
        return (both - self.score_center_[:, None]) / self.score_scale_[:, None]

    def _set_offset(self, training_score):
        """``offset_`` from the anomaly scores (n,) of the training images:
        ``contamination``'s percentile of them, or the fixed threshold for ``"auto"``."""
        if self.contamination == "auto":
            self.offset_ = -AUTO_THRESHOLD
        else:
            self.offset_ = float(np.percentile(-training_score, 100.0 * self.contamination))

    def _resolved_global_score(self):
        """``global_score`` resolved: ``"auto"`` is ``"balanced"`` for an encoder that
        trains (the fitted global model has no frozen backbone: 2-D input, or ``pretrain``
        None or ``"ssl"``) with a float ``contamination``."""
        if self.global_score != "auto":
            return self.global_score
        trains = not self.net_.module_.frozen_backbone
        return "balanced" if trains and self.contamination != "auto" else "sum"

    def _feature_map_on_device(self):
        """``feature_map_`` (or None) on ``device_``, where the models score."""
        feature_map = getattr(self, "feature_map_", None)
        return None if feature_map is None else feature_map.to(self.device_)

    def _uses_feature_map(self):
        """Whether ``fit`` adds the feature map (``feature_map`` resolved)."""
        if not self.is_image_:
            return False
        if self.feature_map == "auto":
            return self.local_net_ is not None and self.heatmap == "balanced"
        return self.feature_map is not False

    def _feature_weight(self, X):
        """``feature_weight_``: the standard deviation over the training pixels of the
        models' (weighted, smoothed) maps divided by that of the smoothed feature map, on
        at most :data:`FEATURE_WEIGHT_IMAGES` training images evenly spread over ``X``."""
        idx = np.unique(np.linspace(0, len(X) - 1, min(len(X), FEATURE_WEIGHT_IMAGES)).astype(int))
        self.feature_weight_ = 1.0
        parts = self._score(X[idx], heatmap=True, scaled=False, check=False)
        models = float((parts.heatmap - parts.feature_heatmap).std())
        features = float(parts.feature_heatmap.std())
        if not (np.isfinite(models) and np.isfinite(features) and models > 0 and features > 0):
            return 1.0
        return models / features

    # ============================================================ scoring helpers
    def _prepare(self, X):
        """Checked float32 input in the fitted layout (standardised for 2-D input)."""
        check_is_fitted(self)
        X = check_input(self, X, reset=False)
        if self.scaler_ is not None:
            X = self.scaler_.transform(X).astype(np.float32)
        return X

    def _torch_models(self):
        """The fitted torch models (global, local or None)."""
        local = getattr(self, "local_net_", None)
        return [
            self.net_.module_,
            local.module_ if local is not None else None,
            getattr(self, "feature_map_", None),
        ]

    def _scorer(self, scaled=True):
        """The :class:`IGDScorer` of the fitted models (weights shared, nothing copied).

        With ``scaled=False`` the local model's score is not divided by ``score_scale_``
        (``fit`` uses it to find the scales).
        """
        local = None
        if self.local_net_ is not None:
            c, h, w = self.input_shape_
            local = LocalScorer(
                self.local_net_.module_,
                (h, w),
                self.patch_size_,
                self.patch_grid_,
                max_patches=max_patches_per_pass((c, self.patch_size_, self.patch_size_)),
            )
        weights = np.array([[self.rho, 1.0 - self.rho]] * 2)
        if self.heatmap_scale_ is not None:
            weights[: len(self.heatmap_scale_)] = 1.0 / self.heatmap_scale_
        scale = self.score_scale_ if scaled else None
        center = getattr(self, "score_center_", None) if scaled else None
        # detectors saved before heatmap_sigma, local_score and score_center_ existed keep
        # their unsmoothed maps, their worst-patch local score and their mean scaling
        sigma = getattr(self, "heatmap_sigma_", None) or 0.0
        return IGDScorer(
            self.net_.module_,
            local,
            scale,
            weights,
            heatmap_sigma=sigma,
            local_score=getattr(self, "local_score", "worst_patch"),
            score_center=center,
            feature_map=self._feature_map_on_device(),
            feature_weight=getattr(self, "feature_weight_", None) or 1.0,
            global_weights=getattr(self, "global_weights_", None),
            score_weights=getattr(self, "score_weights_", None) if scaled else None,
        )

    def _score(self, X, *, heatmap=False, terms=None, scaled=True, check=True):
        """:meth:`score_parts` of prepared input (``terms``: see :func:`score_in_batches`)."""
        scorer = self._scorer(scaled=scaled)
        dtype = None
        if not self.is_image_:
            # the MLP model scores in float64, where a sample's score does not depend on
            # the other samples of its batch (float32 sums differ by ~1e-7)
            scorer, dtype = copy.deepcopy(scorer).double(), torch.float64
        patch_shape = None
        if self.local_net_ is not None:
            c, h, w = self.input_shape_
            n_patches = len(self.patch_grid_[0]) * len(self.patch_grid_[1])
            patch_shape = (n_patches, c, self.patch_size_, self.patch_size_)
        parts = score_in_batches(
            scorer,
            X,
            batch_size=eval_batch_size(X.shape[1:], patch_shape),
            device=self.device_,
            amp_dtype=torch.bfloat16 if self.device_.startswith("cuda") else None,
            heatmap=heatmap,
            terms=terms,
            dtype=dtype,
        )
        if check:
            check_finite_scores(parts.score, "scored")
        return parts


# ================================================================= module helpers
@contextlib.contextmanager
def _transaction(est):
    """Restore every attribute of ``est`` if the block raises (atomic ``fit``)."""
    saved = dict(est.__dict__)
    try:
        yield
    except BaseException:
        est.__dict__.clear()
        est.__dict__.update(saved)
        raise
