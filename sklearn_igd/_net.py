"""skorch training wrapper for :class:`~sklearn_igd._networks.IGDModule`.

:class:`IGDNet` owns the EM loop of the paper: the M-step is :meth:`IGDNet.train_step`
(two Adam optimisers, autoencoder then critic, alternating on each batch) and the E-step
is the :class:`EStep` callback. Loss terms of every batch are recorded in the skorch
history and averaged per epoch by ``PassthroughScoring`` callbacks.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, PassthroughScoring
from skorch.utils import to_device

from ._losses import (
    GLOBAL_SSIM,
    autoencoder_loss,
    critic_loss,
    gaussian_anomaly_loss,
    reconstruction_error_terms,
    reconstruction_loss,
)
from ._patches import extract_patches, fold_patch_maps

#: Patches scored per forward pass, in multiples of the (patch) batch size: with the image
#: batches split to match, memory is bounded by that of a training batch whatever the image
#: size and the patch count.
PATCH_CHUNK_BATCHES = 1

#: Loss terms recorded per batch and per epoch in ``history_``.
LOSS_TERMS = ("l_h", "l_r", "l_fg", "l_d")


def unpack_batch(xb):
    """``(x, features)`` of a batch: a tensor of samples, or a dict ``{"x": samples,
    "features": cached backbone features}`` (feature caching); features None otherwise."""
    if isinstance(xb, dict):
        return xb["x"], xb.get("features")
    return xb, None


class EStep(Callback):
    """E-step of eq. 3 as a skorch callback.

    Sets ``mu`` and ``sigma2`` of the module from the codes of the whole training set,
    computed in eval mode without augmentation: before training, after every ``every``
    epochs, and at the end of training, so that the stored descriptor matches the final
    weights. The ``sigma2`` in use is recorded in the history every epoch.

    Before the first and the last E-step the batch-norm running statistics are
    recomputed over the whole training set (``torch.optim.swa_utils.update_bn``): at
    initialisation they are the defaults (0, 1), which would make eval-mode codes, and
    so ``mu`` and ``sigma2``, unrelated to the codes seen in training; at the end they
    become exact for the final weights, which scoring uses.
    """

    def __init__(self, every=1):
        self.every = every

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        net.update_batchnorm(X)
        net.estep(X)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if len(net.history) % self.every == 0:
            net.estep(dataset_train)
        net.history.record("sigma2", float(net.module_.sigma2))  # the one in use

    def on_train_end(self, net, X=None, y=None, **kwargs):
        net.update_batchnorm(X)
        net.estep(X)


class EpochProgressBar(Callback):
    """A tqdm progress bar over epochs showing the latest epoch's loss terms.

    ``desc`` labels the bar; ``terms`` are the history keys shown besides ``train_loss``.
    """

    def __init__(self, desc="IGD", terms=LOSS_TERMS):
        self.desc = desc
        self.terms = terms

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        from tqdm.auto import tqdm

        self.bar_ = tqdm(total=net.max_epochs, desc=self.desc, unit="epoch", leave=True)

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        self.bar_.set_postfix(
            {k: f"{row[k]:.4f}" for k in ("train_loss",) + tuple(self.terms) if k in row},
            refresh=False,
        )
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        self.bar_.close()
        self.bar_ = None


class IGDNet(NeuralNet):
    """skorch net training one IGD model with the loss of eq. 7.

    Parameters (besides :class:`skorch.NeuralNet`'s)
    ------------------------------------------------
    lambda1, lambda2, lambda3, rho : float
        Weights of eq. 7, 11 and 12.
    ssim : SSIMSettings
        MS-SSIM settings of the reconstruction loss.
    amp_dtype : torch.dtype or None
        Autocast dtype on CUDA (bf16); None trains in float32.
    gaussian_weight : float
        Weight of ``l_h`` in the autoencoder loss: 1 in eq. 7; 0 only for ablations.
    """

    def __init__(
        self,
        module,
        *args,
        lambda1=1.0,
        lambda2=1.0,
        lambda3=0.1,
        rho=0.15,
        ssim=GLOBAL_SSIM,
        amp_dtype=None,
        gaussian_weight=1.0,
        **kwargs,
    ):
        super().__init__(module, *args, **kwargs)
        self.lambda1 = lambda1
        self.lambda2 = lambda2
        self.lambda3 = lambda3
        self.rho = rho
        self.ssim = ssim
        self.amp_dtype = amp_dtype
        self.gaussian_weight = gaussian_weight

    def get_default_callbacks(self):
        return list(super().get_default_callbacks()) + [
            (f"{term}_epoch", PassthroughScoring(name=term, on_train=True)) for term in LOSS_TERMS
        ]

    # ---- initialisation hooks -------------------------------------------------------
    def initialize_optimizer(self, *args, **kwargs):
        """Two Adam optimisers: ``optimizer_`` for f and g, ``critic_optimizer_`` for d."""
        named = [(n, p) for n, p in self.module_.named_parameters() if p.requires_grad]
        ae = [(n, p) for n, p in named if not n.startswith("critic.")]
        critic = [(n, p) for n, p in named if n.startswith("critic.")]
        args_, kwargs_ = self.get_params_for_optimizer("optimizer", ae)
        self.optimizer_ = self.optimizer(*args_, **kwargs_)
        args_, kwargs_ = self.get_params_for_optimizer("optimizer", critic)
        self.critic_optimizer_ = self.optimizer(*args_, **kwargs_)
        return self

    # ---- helpers --------------------------------------------------------------------
    def autocast(self):
        """Autocast context for the net's device (bf16 on CUDA when ``amp_dtype``)."""
        dev = torch.device(self.device)
        if self.amp_dtype is not None and dev.type == "cuda":
            return torch.autocast("cuda", dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def _batches(self, X):
        """Evaluation batches of ``X`` on the net's device, in order.

        A DataLoader draws a base seed from the global torch RNG when it starts; the
        fork keeps scoring from touching the user's RNG state.
        """
        dataset = X if isinstance(X, torch.utils.data.Dataset) else self.get_dataset(X)
        with torch.random.fork_rng(devices=[]):
            for Xi, _ in self.get_iterator(dataset, training=False):
                yield to_device(Xi, self.device)

    @torch.no_grad()
    def update_batchnorm(self, X):
        """Recompute batch-norm running statistics over all of ``X`` (no weight change).

        As ``torch.optim.swa_utils.update_bn`` (cumulative averages over one pass in
        train mode), restricted to the layers outside a frozen pre-trained backbone.
        """
        module = self.module_
        layers = module.trainable_batchnorms()
        if not layers:
            return
        was_training = module.training
        momenta = {m: m.momentum for m in layers}
        for m in layers:
            m.reset_running_stats()
            m.momentum = None
        module.train()
        with self.autocast():
            for xb in self._batches(X):
                module(*unpack_batch(xb))
        for m, momentum in momenta.items():
            m.momentum = momentum
        module.train(was_training)

    @torch.no_grad()
    def encode_all(self, X):
        """Codes ``(n, Z)`` of all samples of ``X``, eval mode, float32."""
        self.module_.eval()
        with self.autocast():
            codes = [self.module_.encode(*unpack_batch(xb)).float() for xb in self._batches(X)]
        return torch.cat(codes)

    def estep(self, X):
        """E-step (eq. 3): ``mu`` = mean code, ``sigma2`` = mean squared distance to it."""
        was_training = self.module_.training
        z = self.encode_all(X).double()
        mu = z.mean(0)
        sigma2 = (z - mu).pow(2).sum(1).mean()
        self.module_.set_descriptor(mu.float(), sigma2.float())
        self.module_.train(was_training)

    @torch.no_grad()
    def score_terms(self, X):
        """Per-sample ``l_r`` and ``l_h`` (eq. 14) as float64 arrays of shape (n,).

        The MLP model of 2-D input is evaluated in float64, where the scores of a
        sample do not depend on which other samples share its batch (float32 matrix
        products differ by ~1e-7 with the batch composition); its cost is negligible.
        """
        module = self.module_
        if not module.is_image:
            module = copy.deepcopy(module).double()
        module.eval()
        l_r, l_h = [], []
        for x in self._batches(X):
            if not module.is_image:
                x = x.double()
            with self.autocast():
                z, x_hat = module(x)
            l_r.append(reconstruction_loss(x, x_hat, rho=self.rho, ssim=self.ssim).cpu())
            l_h.append(gaussian_anomaly_loss(z, module.mu, module.sigma2).cpu())
        l_r = torch.cat(l_r).double().numpy()
        l_h = torch.cat(l_h).double().numpy()
        return l_r, l_h

    def _image_groups(self, X, n_patches):
        """Batches of images of which all patches together stay within the chunk size."""
        per_group = max(1, (PATCH_CHUNK_BATCHES * self.batch_size) // n_patches)
        for x in self._batches(X):
            for start in range(0, x.shape[0], per_group):
                yield x[start : start + per_group]

    def _patch_forward(self, X, patch, grid):
        """Eval-mode pass over all grid patches, by image groups of bounded patch count.

        Yields ``(n_images, p, z, p_hat)`` per group: the patches ``p`` (m, C, patch,
        patch), their codes and reconstructions, ``m = n_images * P`` in image order.
        """
        self.module_.eval()
        n_patches = len(grid[0]) * len(grid[1])
        for x in self._image_groups(X, n_patches):
            p = extract_patches(x, patch, grid)
            with self.autocast():
                z, p_hat = self.module_(p)
            yield x.shape[0], p, z, p_hat

    @torch.no_grad()
    def patch_score_terms(self, X, patch, grid):
        """Per-patch ``l_r`` and ``l_h`` of every image: two float64 arrays (n, P)."""
        n_patches = len(grid[0]) * len(grid[1])
        l_r, l_h = [], []
        for n_img, p, z, p_hat in self._patch_forward(X, patch, grid):
            l_r.append(
                reconstruction_loss(p, p_hat, rho=self.rho, ssim=self.ssim)
                .view(n_img, n_patches)
                .cpu()
            )
            l_h.append(
                gaussian_anomaly_loss(z, self.module_.mu, self.module_.sigma2)
                .view(n_img, n_patches)
                .cpu()
            )
        return torch.cat(l_r).double().numpy(), torch.cat(l_h).double().numpy()

    def _empty_maps(self, X):
        n, _, h, w = X.shape
        return np.zeros((n, h, w), dtype=np.float64)

    def _term_weights(self, weights):
        """``(w_abs, w_ssim)``: ``weights`` or, when None, eq. 17's ``(rho, 1 - rho)``."""
        return (self.rho, 1.0 - self.rho) if weights is None else tuple(weights)

    @staticmethod
    def _add_weighted(out, start, terms, weights):
        """``out[start:start + n] += w_abs * terms[:, 0] + w_ssim * terms[:, 1]``."""
        terms = terms.double().cpu().numpy()
        out[start : start + terms.shape[0]] += weights[0] * terms[:, 0] + weights[1] * terms[:, 1]
        return start + terms.shape[0]

    @staticmethod
    def _term_means(term_batches):
        """Mean over all pixels of each of the two terms: float64 (2,)."""
        sums, count = np.zeros(2), 0
        for terms in term_batches:
            sums += terms.double().sum(dim=(0, 2, 3)).cpu().numpy()
            count += terms.shape[0] * terms.shape[2] * terms.shape[3]
        return sums / max(count, 1)

    @torch.no_grad()
    def error_terms(self, X):
        """Yield, batch by batch, the two error terms of whole images: (b, 2, H, W).

        ``[:, 0]`` the absolute error and ``[:, 1]`` one minus the MS-SSIM map
        (:func:`reconstruction_error_terms`) of the global model's reconstructions.
        """
        self.module_.eval()
        for x in self._batches(X):
            with self.autocast():
                _, x_hat = self.module_(x)
            yield reconstruction_error_terms(x, x_hat, ssim=self.ssim)

    @torch.no_grad()
    def folded_patch_error_terms(self, X, patch, grid):
        """Yield, by image groups, the two error terms of every patch folded back.

        Each term of the patches' reconstructions (:func:`reconstruction_error_terms`) is
        folded back to the image with overlapping patches averaged: (n_images, 2, H, W)
        float64 per group, in image order.
        """
        n_patches = len(grid[0]) * len(grid[1])
        for n_img, p, _, p_hat in self._patch_forward(X, patch, grid):
            terms = reconstruction_error_terms(p, p_hat, ssim=self.ssim)
            terms = terms.double().view(n_img, n_patches, 2, patch, patch).transpose(1, 2)
            folded = fold_patch_maps(
                terms.reshape(n_img * 2, n_patches, patch, patch), X.shape[-2:], patch, grid
            )
            yield folded.view(n_img, 2, *folded.shape[-2:])

    def error_maps(self, X, weights=None, out=None):
        """Per-pixel reconstruction error maps of whole images, float64 (n, H, W).

        ``w_abs |x - x_hat| + w_ssim (1 - MS-SSIM map)`` with ``weights = (w_abs,
        w_ssim)``, by default ``(rho, 1 - rho)`` (eq. 17). Added into ``out`` (float64
        (n, H, W)) when given, so that a caller summing maps holds a single output array.
        """
        weights = self._term_weights(weights)
        out = self._empty_maps(X) if out is None else out
        start = 0
        for terms in self.error_terms(X):
            start = self._add_weighted(out, start, terms, weights)
        return out

    def folded_patch_error_maps(self, X, patch, grid, weights=None, out=None):
        """Error maps of every patch folded back to (n, H, W), overlaps averaged, float64.

        Weighted and added into ``out`` when given, as in :meth:`error_maps`.
        """
        weights = self._term_weights(weights)
        out = self._empty_maps(X) if out is None else out
        start = 0
        for terms in self.folded_patch_error_terms(X, patch, grid):
            start = self._add_weighted(out, start, terms, weights)
        return out

    def error_term_means(self, X):
        """Mean of each error term over all pixels of ``X``: float64 (2,) (MAE, 1-MS-SSIM)."""
        return self._term_means(self.error_terms(X))

    def folded_patch_error_term_means(self, X, patch, grid):
        """As :meth:`error_term_means`, of the folded patch error terms."""
        return self._term_means(self.folded_patch_error_terms(X, patch, grid))

    # ---- the M-step -----------------------------------------------------------------
    def train_step(self, batch, **fit_params):
        """One alternating update on a batch: autoencoder (f, g), then critic (d).

        Autoencoder: ``mean(l_h) + lambda2 * (mean(l_r) + lambda3 ||d(x_alpha)||^2)``.
        Critic: ``lambda1 * l_d`` (eq. 10), on detached images.
        """
        self._set_training(True)
        Xi, _ = batch
        x, features = unpack_batch(to_device(Xi, self.device))
        module = self.module_
        n = x.shape[0]
        # interpolation partners: a shift of the (shuffled) batch, never the image itself
        partner = torch.roll(torch.arange(n, device=x.device), 1)
        alpha = torch.rand(n, device=x.device) * 0.5
        with self.autocast():
            z, x_hat = module(x, features)
            l_h = gaussian_anomaly_loss(z, module.mu, module.sigma2)
            l_r = reconstruction_loss(x, x_hat, rho=self.rho, ssim=self.ssim)
            z_mix = alpha[:, None] * z + (1 - alpha[:, None]) * z[partner]
            x_alpha = module.decode(z_mix)
            alpha_hat = module.critic(x_alpha)
            loss_ae = autoencoder_loss(
                self.gaussian_weight * l_h,
                l_r,
                alpha_hat,
                lambda2=self.lambda2,
                lambda3=self.lambda3,
            )
        self.optimizer_.zero_grad(set_to_none=True)
        loss_ae.backward()
        self.optimizer_.step()

        zeta = torch.rand((n,) + (1,) * (x.ndim - 1), device=x.device)
        x_zeta = zeta * x + (1 - zeta) * x_hat.detach()
        with self.autocast():
            l_d = critic_loss(module.critic(x_alpha.detach()), alpha, module.critic(x_zeta))
        self.critic_optimizer_.zero_grad(set_to_none=True)
        (self.lambda1 * l_d).backward()
        self.critic_optimizer_.step()

        l_fg = l_r.mean() + self.lambda3 * alpha_hat.float().pow(2).mean()
        for name, value in (
            ("l_h", l_h.mean()),
            ("l_r", l_r.mean()),
            ("l_fg", l_fg),
            ("l_d", l_d),
        ):
            self.history.record_batch(name, float(value.detach()))
        total = loss_ae.detach() + self.lambda1 * l_d.detach()
        return {"loss": total, "y_pred": x_hat.detach()}

    def validation_step(self, batch, **fit_params):  # pragma: no cover - no valid split
        raise NotImplementedError("IGD trains without a validation split.")
