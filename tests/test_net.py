"""The training wrapper (sklearn_igd._net): the M-step, the E-step and skorch's hooks."""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sklearn_igd._data import Samples
from sklearn_igd._losses import GLOBAL_SSIM, IGDLoss
from sklearn_igd._net import (
    BN_MIN_VAR,
    SIGMA2_FLOOR,
    EStep,
    IGDNet,
    effective_rank,
    trimmed_centre,
)
from sklearn_igd._networks import IGDModule


class GradCounter(Callback):
    def initialize(self):
        self.calls = []
        return self

    def on_grad_computed(self, net, named_parameters, batch=None, training=None, **kw):
        names = [n for n, p in named_parameters if p.grad is not None]
        self.calls.append(names)


def _net(**kw):
    params = dict(
        module__input_shape=(1, 8, 8),
        module__backbone="resnet18-lite",
        module__latent_dim=8,
        criterion=IGDLoss,
        criterion__ssim=GLOBAL_SSIM,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=8,
        max_epochs=2,
        train_split=None,
        iterator_train__shuffle=True,
        iterator_train__drop_last=True,
        callbacks=[("estep", EStep())],
        verbose=0,
    )
    return IGDNet(IGDModule, **{**params, **kw})


def _x(n=32, seed=0):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_on_grad_computed_is_notified_for_both_players():
    counter = GradCounter()
    torch.manual_seed(0)
    net = _net(callbacks=[("estep", EStep()), ("grads", counter)])
    net.fit(Samples(_x()), None)
    # 2 epochs x 4 batches x (autoencoder, critic)
    assert len(counter.calls) == 16
    assert all(not any(n.startswith("critic.") for n in c) for c in counter.calls[::2])
    assert all(c and all(n.startswith("critic.") for n in c) for c in counter.calls[1::2])


@pytest.mark.parametrize(
    "n, sizes", [(16, [8, 8]), (17, [8, 9]), (9, [9]), (1, [1]), (10, [8, 2])]
)
def test_shard_never_ends_with_a_batch_of_one(n, sizes):
    """The passes without training (E-step, batch-norm refresh) cover every sample in
    order; a last batch of one sample joins the one before it."""
    net = _net().initialize()
    x = _x(n)
    batches = list(net._shard(Samples(x)))
    assert [len(b) for b in batches] == sizes
    torch.testing.assert_close(torch.cat(batches), x, rtol=0, atol=0)


def test_estep_matches_the_codes():
    torch.manual_seed(0)
    net = _net().fit(Samples(_x()), None)
    module = net.module_.eval()
    with torch.no_grad():
        z = module.encode(_x()).double()
    mu = z.mean(0)
    torch.testing.assert_close(module.mu.double(), mu, rtol=1e-5, atol=1e-6)
    sigma2 = (z - mu).pow(2).sum(1).mean()
    assert net.sigma2_raw_ == pytest.approx(float(sigma2), rel=1e-4)
    floored = torch.clamp(sigma2, min=SIGMA2_FLOOR)
    torch.testing.assert_close(module.sigma2.double(), floored, rtol=1e-4, atol=1e-7)
    rank = np.asarray(net.history[:, "code_rank"])
    assert np.all((rank >= 1) & (rank <= 8))
    assert net.support_mask_ is None  # every sample


def test_trimmed_centre_leaves_out_a_far_cluster():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(100, 4, dtype=torch.float64, generator=g)
    z[:10] += 8.0  # 10% far away in one direction
    keep, mu = trimmed_centre(z, 0.85)
    assert keep.dtype == torch.bool and int(keep.sum()) == 85 and not keep[:10].any()
    torch.testing.assert_close(mu, z[keep].mean(0))
    assert z.mean(0).norm() > 1.2 and mu.norm() < 0.5  # the mean of all is pulled away
    keep, mu = trimmed_centre(z, 1.0)
    assert keep.all()
    torch.testing.assert_close(mu, z.mean(0))


def test_trimmed_estep_uses_the_best_fitting_codes():
    torch.manual_seed(0)
    x = _x()
    x[:4] = 1.0 - x[:4]  # a few differing images
    net = _net(support=0.75, criterion__support=0.75).fit(Samples(x), None)
    module = net.module_.eval()
    with torch.no_grad():
        z = module.encode(x).double()
    keep, mu = trimmed_centre(z, 0.75)
    assert int(keep.sum()) == 24
    np.testing.assert_array_equal(net.support_mask_, keep.numpy())  # all of x, in order
    torch.testing.assert_close(module.mu.double(), mu, rtol=1e-5, atol=1e-6)
    sigma2 = (z[keep] - mu).pow(2).sum(1).mean()
    assert net.sigma2_raw_ == pytest.approx(float(sigma2), rel=1e-4)
    assert sigma2 < (z - z.mean(0)).pow(2).sum(1).mean()


def test_estep_floors_sigma2_and_records_the_raw_value():
    """Codes squeezed towards a point: the E-step keeps sigma2 at the floor (so l_h cannot
    be lowered by shrinking the codes) and the history shows the raw value falling."""
    torch.manual_seed(0)
    net = _net(module__latent_dim=4).initialize()
    with torch.no_grad():
        net.module_.head.weight.mul_(1e-3)
        net.module_.head.bias.zero_()
    net.estep(Samples(_x()))
    assert net.sigma2_raw_ < 1e-3
    assert float(net.module_.sigma2) == SIGMA2_FLOOR == 1.0
    net.partial_fit(Samples(_x()), None)
    raw = np.asarray(net.history[:, "sigma2_raw"])
    assert np.all(np.asarray(net.history[:, "sigma2"]) >= SIGMA2_FLOOR)
    assert np.all(raw > 0) and np.all(raw == np.asarray(raw, dtype=float))


def test_effective_rank():
    g = torch.Generator().manual_seed(0)
    assert abs(effective_rank(torch.randn(2000, 4, generator=g)) - 4) < 0.1
    line = torch.randn(100, 1, generator=g) * torch.tensor([[1.0, 2.0, 3.0]])
    assert abs(effective_rank(line) - 1) < 1e-6
    assert effective_rank(torch.zeros(5, 3)) == 1.0


def test_batchnorm_refresh_floors_the_variance():
    torch.manual_seed(0)
    net = _net(max_epochs=1).fit(Samples(torch.full((16, 1, 8, 8), 0.5)), None)
    for m in net.module_.trainable_batchnorms():
        assert float(m.running_var.min()) >= BN_MIN_VAR


def test_lambda1_zero_leaves_the_critic_untrained():
    torch.manual_seed(0)
    net = _net(lambda1=0.0)
    net.initialize()
    before = {k: v.clone() for k, v in net.module_.critic.state_dict().items()}
    net.partial_fit(Samples(_x()), None)
    after = net.module_.critic.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert net.critic_optimizer_.param_groups[0]["lr"] == 0.0
