"""The pure torch model (sklearn_igd._networks): shapes, self-scoring, components."""

import pytest
import torch

from sklearn_igd._losses import LOCAL_SSIM, reconstruction_error_terms, reconstruction_loss
from sklearn_igd._networks import (
    ConvCritic,
    IGDModule,
    ResNetDecoder,
    ResNetEncoder,
)


@pytest.mark.parametrize("side, small", [(8, True), (28, True), (64, True), (96, False)])
def test_encoder_decoder_critic_shapes(side, small):
    widths = (16, 32, 64, 128)
    x = torch.rand(2, 3, side, side + 3)
    enc = ResNetEncoder(3, widths, small_stem=small, pool=2)
    assert enc(x).shape == (2, 128 * 4) == (2, enc.out_features)
    dec = ResNetDecoder(10, 3, (side, side + 3), widths, small_stem=small)
    out = dec(torch.randn(2, 10))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert ConvCritic(3, (side, side + 3))(x).shape == (2,)


def test_module_scores_itself_in_eval_mode():
    torch.manual_seed(0)
    m = IGDModule((1, 16, 16), "resnet18-lite", latent_dim=8, rho=0.3, ssim=LOCAL_SSIM).eval()
    m.set_descriptor(torch.zeros(8), torch.tensor(2.0))
    x = torch.rand(4, 1, 16, 16)
    with torch.no_grad():
        z, x_hat = m(x)
        l_r, l_h = m.score_terms(x)
        terms = m.error_terms(x)
    torch.testing.assert_close(l_r, reconstruction_loss(x, x_hat, rho=0.3, ssim=LOCAL_SSIM))
    torch.testing.assert_close(l_h, 1 - torch.exp(-z.pow(2).sum(1) / 2.0))
    torch.testing.assert_close(terms, reconstruction_error_terms(x, x_hat, ssim=LOCAL_SSIM))


def test_components_can_be_left_out():
    m = IGDModule((1, 8, 8), "resnet18-lite", latent_dim=4, gaussian=False, critic=False)
    assert m.critic is None and not m.gaussian
    with torch.no_grad():
        assert torch.equal(m.eval().score_terms(torch.rand(3, 1, 8, 8))[1], torch.zeros(3))
    v = IGDModule((5,), latent_dim=4)
    assert v.critic is not None and v(torch.rand(3, 5))[1].shape == (3, 5)


def test_descriptor_buffers_travel_with_the_state_dict():
    m = IGDModule((1, 8, 8), "resnet18-lite", latent_dim=4)
    m.set_descriptor(torch.arange(4.0), torch.tensor(3.0))
    state = m.state_dict()
    assert torch.equal(state["mu"], torch.arange(4.0)) and float(state["sigma2"]) == 3.0


def test_trainable_batchnorms_skip_a_frozen_backbone():
    class Frozen(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = torch.nn.BatchNorm2d(1)

        def forward(self, x):
            return self.bn(x).flatten(1)

    m = IGDModule((1, 8, 8), "resnet18-lite", latent_dim=4, encoder=Frozen())
    assert m.frozen_backbone and m.backbone.bn not in m.trainable_batchnorms()
    assert len(m.trainable_batchnorms()) > 0
