"""skorch training wrapper for :class:`~sklearn_igd._networks.IGDModule`.

:class:`IGDNet` only trains: the M-step is :meth:`IGDNet.train_step` (two Adam
optimisers, autoencoder then critic, alternating on each batch, the autoencoder's loss
from the :class:`~sklearn_igd._losses.IGDLoss` criterion through skorch's ``get_loss``),
and the E-step is the :class:`EStep` callback. Scoring a fitted model is the model's own
business (:meth:`IGDModule.score_terms`, :mod:`sklearn_igd._scoring`). Loss terms of
every batch are recorded in the skorch history and averaged per epoch by
``PassthroughScoring`` callbacks.
"""

from __future__ import annotations

import contextlib
import math
import warnings

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, PassthroughScoring
from skorch.utils import TeeGenerator, to_device

from ._data import BatchIterator, Samples, distributed_context
from ._losses import critic_loss

#: Loss terms recorded per batch and per epoch in ``history_``.
LOSS_TERMS = ("l_h", "l_r", "l_fg", "l_d")

#: Smallest running variance a refreshed batch-norm layer keeps. On degenerate data
#: (e.g. identical training images) a channel's variance is exactly 0, and dividing by
#: ``sqrt(0 + eps)`` in eval mode amplifies float noise layer after layer (codes of 1e33
#: and NaN scores were seen); real channels have variances far above this.
BN_MIN_VAR = 1e-3

#: Smallest ``sigma2`` the E-step stores (the authors' code floors it at 1). Without a
#: floor ``l_h`` is scale-free (``sigma2`` follows the codes), so the M-step lowers it by
#: shrinking every code between E-steps: measured on MNIST digits 2/5/8 from scratch,
#: ``sigma2`` fell from 5.4 to 0.03 in 20 epochs and the codes' effective rank from 47 to
#: 3-8, and ``l_h`` alone ranked anomalies at 0.76 AUC instead of 0.89 with the floor.
SIGMA2_FLOOR = 1.0

#: At most this many concentration steps of a trimmed E-step (``support`` below 1).
ESTEP_TRIM_STEPS = 20


def unpack_batch(xb):
    """``(x, features)`` of a batch: a tensor of samples, or a dict ``{"x": samples,
    "features": cached backbone features}`` (feature caching); features None otherwise."""
    if isinstance(xb, dict):
        return xb["x"], xb.get("features")
    return xb, None


def effective_rank(z):
    """Effective rank of codes ``z`` (n, Z): ``exp`` of the entropy of the normalised
    singular values of the centred codes (Roy and Vetterli, 2007); 1 = collapsed."""
    return effective_rank_from_singular_values(torch.linalg.svdvals((z - z.mean(0)).double()))


def _all_reduce_sum(t):
    """Sum of ``t`` over the ``torch.distributed`` processes (``t`` itself outside one)."""
    if distributed_context()[1] > 1:
        t = t.clone()
        torch.distributed.all_reduce(t)
    return t


def _all_gather_padded(values, fill):
    """Every ``torch.distributed`` process's ``values`` (n_r,), each padded with ``fill`` to
    the longest: a list with one tensor per process (``[values]`` outside a group)."""
    if distributed_context()[1] == 1:
        return [values]
    length = torch.tensor(values.shape[0], device=values.device)
    torch.distributed.all_reduce(length, op=torch.distributed.ReduceOp.MAX)
    padded = torch.full((int(length),), fill, dtype=values.dtype, device=values.device)
    padded[: values.shape[0]] = values
    gathered = [torch.empty_like(padded) for _ in range(distributed_context()[1])]
    torch.distributed.all_gather(gathered, padded)
    return gathered


def _kth_smallest(values, k):
    """The ``k``-th smallest of ``values`` (n,) over all the ``torch.distributed``
    processes (each holding its own ``values``; ``k`` counts them all)."""
    return torch.cat(_all_gather_padded(values, float("inf"))).kthvalue(k).values


def gather_shards(values):
    """The per-sample ``values`` (n_r,) of every ``torch.distributed`` process, put back in
    the order of the samples: process ``r`` of ``w`` holds samples ``r, r + w, ...``
    (:meth:`IGDNet._shard`). Returns a tensor (N,) of ``values``' dtype; ``values`` itself
    outside a process group."""
    world = distributed_context()[1]
    if world == 1:
        return values
    gathered = _all_gather_padded(values.double(), 0.0)  # gloo has no bool collectives
    n = int(_all_reduce_sum(torch.tensor(values.shape[0], device=values.device)))
    out = torch.empty(n, dtype=torch.float64, device=values.device)
    for r, shard in enumerate(gathered):
        out[r::world] = shard[: len(range(r, n, world))]
    return out.to(values.dtype)


def trimmed_centre(z, support, max_steps=ESTEP_TRIM_STEPS):
    """The centre of the best-fitting ``support`` share of the codes ``z`` (n, Z).

    Concentration steps, as for a minimum covariance determinant estimate: from the mean
    of all the codes, keep the ``ceil(support * N)`` codes closest to the centre (``N``
    summed over the ``torch.distributed`` processes; ties at the boundary are kept), take
    their mean as the new centre, and repeat until the kept codes stop changing (at most
    ``max_steps`` times).

    Returns ``(keep, mu)``: this process's boolean mask (n,) of the kept codes and their
    centre (Z,), both in ``z``'s dtype and device.
    """
    n = _all_reduce_sum(torch.tensor(float(z.shape[0]), dtype=z.dtype, device=z.device))
    k = max(2, min(int(n), math.ceil(support * float(n))))
    mu = _all_reduce_sum(z.sum(0)) / n
    keep = None
    for _ in range(max_steps):
        d2 = (z - mu).pow(2).sum(1)
        new = d2 <= _kth_smallest(d2, k)
        if keep is not None and int(_all_reduce_sum((new != keep).sum())) == 0:
            break
        keep = new
        count = _all_reduce_sum(keep.sum().to(z.dtype))
        mu = _all_reduce_sum(z[keep].sum(0)) / count
    return keep, mu


def all_reduce_grads(params):
    """Average the gradients of ``params`` over the ``torch.distributed`` processes
    (data parallelism: every process then takes the same optimiser step); a no-op
    outside a process group. One flattened all-reduce per call."""
    if distributed_context()[1] == 1:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch._utils._flatten_dense_tensors(grads)
    torch.distributed.all_reduce(flat)
    flat /= distributed_context()[1]
    for g, synced in zip(grads, torch._utils._unflatten_dense_tensors(flat, grads)):
        g.copy_(synced)


class EStep(Callback):
    """E-step of eq. 3 as a skorch callback.

    Sets ``mu`` and ``sigma2`` of the module from the codes of the whole training set,
    computed in eval mode without augmentation: before training, after every ``every``
    epochs, and at the end of training, so that the stored descriptor matches the final
    weights. Each epoch records the ``sigma2`` in use, ``sigma2_raw`` (before the floor)
    and ``code_rank``, the effective rank of the training codes at the last E-step
    (:func:`effective_rank`): a collapse of the code space shows as both falling.

    Before the first and the last E-step the batch-norm running statistics are
    recomputed over the whole training set (:meth:`IGDNet.update_batchnorm`).
    """

    def __init__(self, every=1):
        self.every = every

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        net.update_batchnorm(X)
        self.rank_ = net.estep(X)

    def on_epoch_end(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        if len(net.history) % self.every == 0:
            self.rank_ = net.estep(dataset_train)
        net.history.record("sigma2", float(net.module_.sigma2))  # the one in use
        net.history.record("sigma2_raw", net.sigma2_raw_)
        net.history.record("code_rank", self.rank_)

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
        shown = ("train_loss",) + tuple(self.terms)
        self.bar_.set_postfix({k: f"{row[k]:.4f}" for k in shown if k in row}, refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs):
        self.bar_.close()
        self.bar_ = None


class IGDNet(NeuralNet):
    """skorch net training one :class:`~sklearn_igd._networks.IGDModule` (eq. 7).

    Under ``torch.distributed`` (e.g. launched by ``torchrun``) every process trains on its
    shard of each epoch and the gradients of both optimisers are averaged over the
    processes before each step (:func:`all_reduce_grads`), so that all processes keep
    identical weights; the E-step and the batch-norm refresh add up all shards.

    The criterion is :class:`~sklearn_igd._losses.IGDLoss` (``criterion__lambda2``,
    ``criterion__lambda3``, ``criterion__rho``, ``criterion__ssim``); datasets are
    :class:`~sklearn_igd._data.Samples` or :class:`~sklearn_igd._data.PatchSamples`,
    batched by :class:`~sklearn_igd._data.BatchIterator`.

    Parameters (besides :class:`skorch.NeuralNet`'s)
    ------------------------------------------------
    lambda1 : float
        Weight of the critic's game (eq. 7): the critic's Adam learning rate is
        ``lambda1 * lr`` (Adam is invariant to a constant factor on a loss, so a weight
        on ``l_d`` acts through the step size); 0 leaves the critic untrained.
    amp_dtype : torch.dtype or None
        Autocast dtype on CUDA (bf16); None trains in float32.
    support : float in (0, 1]
        Share of the training codes the E-step's ``mu`` and ``sigma2`` are estimated on
        (:func:`trimmed_centre`); 1: all of them. The criterion's ``support`` trims the
        loss in the same way.

    Attributes
    ----------
    interrupted_ : int or None
        The epoch during which a KeyboardInterrupt stopped training, else None.
    """

    def __init__(self, module, *args, lambda1=1.0, amp_dtype=None, support=1.0, **kwargs):
        kwargs.setdefault("iterator_train", BatchIterator)
        kwargs.setdefault("iterator_valid", BatchIterator)
        super().__init__(module, *args, **kwargs)
        self.lambda1 = lambda1
        self.amp_dtype = amp_dtype
        self.support = support

    def get_default_callbacks(self):
        return list(super().get_default_callbacks()) + [
            (f"{term}_epoch", PassthroughScoring(name=term, on_train=True)) for term in LOSS_TERMS
        ]

    # ---- initialisation hooks -------------------------------------------------------
    def initialize_optimizer(self, *args, **kwargs):
        """Two Adam optimisers: ``optimizer_`` for f and g, ``critic_optimizer_`` for d.

        The critic's learning rate is ``lambda1`` times the autoencoder's.
        """
        named = [(n, p) for n, p in self.module_.named_parameters() if p.requires_grad]
        ae = [(n, p) for n, p in named if not n.startswith("critic.")]
        critic = [(n, p) for n, p in named if n.startswith("critic.")]
        args_, kwargs_ = self.get_params_for_optimizer("optimizer", ae)
        self.optimizer_ = self.optimizer(*args_, **kwargs_)
        self.critic_optimizer_ = None
        if critic:
            args_, kwargs_ = self.get_params_for_optimizer("optimizer", critic)
            kwargs_["lr"] = self.lambda1 * kwargs_.get("lr", self.lr)
            self.critic_optimizer_ = self.optimizer(*args_, **kwargs_)
        return self

    def get_dataset(self, X, y=None):
        """``X`` as a :class:`Samples` (a tensor, or a dict with cached features)."""
        if isinstance(X, torch.utils.data.Dataset):
            return X
        if isinstance(X, dict):
            return Samples(X["x"], X.get("features"))
        return Samples(torch.as_tensor(X))

    # ---- helpers --------------------------------------------------------------------
    def autocast(self):
        """Autocast context for the net's device (bf16 on CUDA when ``amp_dtype``)."""
        dev = torch.device(self.device)
        if self.amp_dtype is not None and dev.type == "cuda":
            return torch.autocast("cuda", dtype=self.amp_dtype)
        return contextlib.nullcontext()

    def _shard(self, X):
        """This process's batches of ``X`` (all of them outside ``torch.distributed``), in
        order, for a pass without training. A last batch of a single sample joins the one
        before it, so that a pass in train mode (:meth:`update_batchnorm`) never gives a
        batch-norm layer one value per channel, which it refuses (2-D input with ``n``
        one more than a multiple of ``batch_size``)."""
        dataset = self.get_dataset(X)
        rank, world = distributed_context()
        idx = torch.arange(rank, len(dataset), world)
        starts = list(range(0, len(idx), self.batch_size))
        if len(starts) > 1 and len(idx) - starts[-1] == 1:
            starts.pop()
        for start, stop in zip(starts, starts[1:] + [len(idx)]):
            yield to_device(dataset.batch(idx[start:stop]), self.device)

    @torch.no_grad()
    def update_batchnorm(self, X):
        """Recompute batch-norm running statistics over all of ``X`` (no weight change).

        As ``torch.optim.swa_utils.update_bn`` (cumulative averages over one pass in
        train mode), restricted to the layers outside a frozen pre-trained backbone,
        averaged over the processes under ``torch.distributed``, and with every running
        variance floored at :data:`BN_MIN_VAR`.
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
            for xb in self._shard(X):
                module(*unpack_batch(xb))
        world = distributed_context()[1]
        for m, momentum in momenta.items():
            m.momentum = momentum
            if world > 1:
                m.running_mean.copy_(_all_reduce_sum(m.running_mean) / world)
                m.running_var.copy_(_all_reduce_sum(m.running_var) / world)
            m.running_var.clamp_(min=BN_MIN_VAR)
        module.train(was_training)

    @torch.no_grad()
    def estep(self, X):
        """E-step (eq. 3): ``mu`` = mean code, ``sigma2`` = mean squared distance to it,
        floored at :data:`SIGMA2_FLOOR` (the unfloored value is kept in ``sigma2_raw_``).
        With ``support`` below 1, both over the best-fitting share of the codes
        (:func:`trimmed_centre`), whose mask over all of ``X`` is kept in
        ``support_mask_`` (None: every sample).

        Sums run in float64 and are added up over the ``torch.distributed`` processes, each
        of which encodes its own shard. Returns the codes' effective rank.
        """
        was_training = self.module_.training
        self.module_.eval()
        with self.autocast():
            codes = [self.module_.encode(*unpack_batch(xb)).float() for xb in self._shard(X)]
        z = torch.cat(codes).double()
        if self.support < 1:
            keep, mu = trimmed_centre(z, self.support)
            self.support_mask_ = gather_shards(keep).cpu().numpy()
            centred = z[keep] - mu
            n = _all_reduce_sum(keep.sum().double())
            cov = _all_reduce_sum(centred.T @ centred) / n  # (Z, Z)
        else:
            self.support_mask_ = None  # every sample
            n = _all_reduce_sum(torch.tensor(float(z.shape[0]), device=z.device))
            total = _all_reduce_sum(z.sum(0))
            gram = _all_reduce_sum(z.T @ z)  # (Z, Z)
            mu = total / n
            cov = gram / n - torch.outer(mu, mu)
        sigma2 = torch.trace(cov).clamp_min(0)
        self.sigma2_raw_ = float(sigma2)
        sigma2 = sigma2.clamp_min(SIGMA2_FLOOR)
        self.module_.set_descriptor(mu.float(), sigma2.float())
        self.module_.train(was_training)
        eig = torch.linalg.eigvalsh(cov).clamp_min(0).sqrt()  # singular values / sqrt(n)
        return effective_rank_from_singular_values(eig)

    # ---- the M-step -----------------------------------------------------------------
    def get_loss(self, y_pred, y_true, X=None, training=False):
        """``(loss, l_r)`` of the autoencoder side of eq. 7 from the criterion.

        ``y_pred = (x_hat, l_h, alpha_hat)`` and ``y_true = x``.
        """
        x_hat, l_h, alpha_hat = y_pred
        return self.criterion_(y_true, x_hat, l_h, alpha_hat)

    def _notify_grads(self, params, batch):
        self.notify(
            "on_grad_computed", named_parameters=TeeGenerator(params), batch=batch, training=True
        )

    def train_step(self, batch, **fit_params):
        """One alternating update on a batch: autoencoder (f, g), then critic (d).

        Autoencoder: ``mean(l_h) + lambda2 * (mean(l_r) + lambda3 ||d(x_alpha)||^2)``
        (:class:`~sklearn_igd._losses.IGDLoss`). Critic: ``l_d`` (eq. 10) on detached
        images, with its own optimiser. ``on_grad_computed`` is notified after each
        backward pass with the parameters it computed gradients for.
        """
        self._set_training(True)
        Xi, _ = batch
        x, features = unpack_batch(to_device(Xi, self.device))
        module = self.module_
        n = x.shape[0]
        train_critic = module.critic is not None
        with self.autocast():
            z, x_hat = module(x, features)
            l_h = module.gaussian_term(z) if module.gaussian else None
            alpha_hat = None
            if train_critic:
                # interpolation partners: a shift of the (shuffled) batch, never itself
                partner = torch.roll(torch.arange(n, device=x.device), 1)
                alpha = torch.rand(n, device=x.device) * 0.5
                x_alpha = module.decode(alpha[:, None] * z + (1 - alpha[:, None]) * z[partner])
                alpha_hat = module.critic(x_alpha)
            loss_ae, l_r = self.get_loss((x_hat, l_h, alpha_hat), x, X=Xi, training=True)
        self.optimizer_.zero_grad(set_to_none=True)
        loss_ae.backward()
        named = list(module.named_parameters())
        ae_params = [(k, p) for k, p in named if not k.startswith("critic.")]
        all_reduce_grads([p for _, p in ae_params])
        self._notify_grads(ae_params, batch)
        self.optimizer_.step()

        l_d = torch.zeros((), device=x.device)
        if train_critic:
            zeta = torch.rand((n,) + (1,) * (x.ndim - 1), device=x.device)
            x_zeta = zeta * x + (1 - zeta) * x_hat.detach()
            with self.autocast():
                l_d = critic_loss(module.critic(x_alpha.detach()), alpha, module.critic(x_zeta))
            self.critic_optimizer_.zero_grad(set_to_none=True)
            if self.lambda1 > 0:
                l_d.backward()
                critic_params = [(k, p) for k, p in named if k.startswith("critic.")]
                all_reduce_grads([p for _, p in critic_params])
                self._notify_grads(critic_params, batch)
                self.critic_optimizer_.step()

        lambda3 = self.criterion_.lambda3
        penalty = alpha_hat.float().pow(2).mean() if train_critic else torch.zeros(())
        terms = {
            "l_h": l_h.mean() if l_h is not None else torch.zeros(()),
            "l_r": l_r.mean(),
            "l_fg": l_r.mean() + lambda3 * penalty.to(l_r.device),
            "l_d": l_d,
        }
        for name, value in terms.items():
            self.history.record_batch(name, float(value.detach()))
        return {"loss": loss_ae.detach() + l_d.detach(), "y_pred": x_hat.detach()}

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        """skorch's loop; a KeyboardInterrupt records its epoch in ``interrupted_`` first
        (skorch then stops training and runs the final E-step)."""
        self.interrupted_ = None
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self.interrupted_ = len(self.history)
            raise

    def validation_step(self, batch, **fit_params):  # pragma: no cover - no valid split
        raise NotImplementedError("IGD trains without a validation split.")


def effective_rank_from_singular_values(s):
    """:func:`effective_rank` from the singular values ``s`` of the centred codes."""
    total = s.sum()
    if total <= 0:
        return 1.0
    p = s / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


def warn_if_interrupted(net, local_net, plan):
    """Warn that a KeyboardInterrupt stopped training early (and which model): ``net`` and
    ``local_net`` (or None) are the fitted :class:`IGDNet` s of one fit, ``plan`` its
    :class:`~sklearn_igd._config.FitPlan`."""
    for name, n in (("global", net), ("local", local_net)):
        if n is not None and n.interrupted_ is not None:
            skipped = (
                " The local model was not trained." if name == "global" and plan.local else ""
            )
            warnings.warn(
                f"Training was interrupted (KeyboardInterrupt) at epoch {n.interrupted_} of "
                f"{n.max_epochs} of the {name} model; the detector is fitted with the "
                f"weights reached so far.{skipped}",
                UserWarning,
                stacklevel=3,
            )
