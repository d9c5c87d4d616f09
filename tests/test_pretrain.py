"""Pre-training (issue 4): frozen ImageNet teachers, SimCLR, a user's backbone, and feature
caching."""

import urllib.error

import joblib
import numpy as np
import pytest
import torch
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from sklearn_igd import IGDDetector, _pretrain
from sklearn_igd._losses import IGDLoss
from sklearn_igd._net import IGDNet
from sklearn_igd._networks import IGDModule
from sklearn_igd._pretrain import (
    IMAGENET_COMPONENTS,
    RESNET18_URL,
    FrozenEncoder,
    ImageNetInput,
    fit_whitening,
    nt_xent_loss,
    simclr_augmentation,
    to_rgb_min_side,
    torchvision_resnet18_to_encoder,
)
from sklearn_igd.datasets import load_digits_images

FAST = dict(
    backbone="resnet18-lite",
    max_epochs=2,
    batch_size=32,
    local=False,
    pretrain_epochs=2,
    random_state=0,
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits_images(return_X_y=True)
    return X[y == 0][:64], X[:40]


@pytest.fixture(scope="module")
def kd_detector(digits):
    return IGDDetector(**FAST, pretrain="kd").fit(digits[0])


# ----------------------------------------------------------------------- input handling
def test_to_rgb_min_side_repeats_grey_and_upsamples_keeping_aspect():
    x = torch.rand(2, 1, 8, 16)
    out = to_rgb_min_side(x, 64)
    assert out.shape == (2, 3, 64, 128)
    assert torch.equal(out[:, 0], out[:, 1]) and torch.equal(out[:, 1], out[:, 2])
    big = torch.rand(2, 3, 80, 70)
    assert to_rgb_min_side(big, 64) is big  # large enough: untouched


def test_imagenet_input_normalises():
    x = torch.full((1, 3, 64, 64), 0.485)
    out = ImageNetInput(64)(x)
    assert torch.allclose(out[:, 0], torch.zeros(1, 64, 64), atol=1e-6)
    assert torch.allclose(out[:, 1], torch.full((1, 64, 64), (0.485 - 0.456) / 0.224))


# ----------------------------------------------------------------------------- KD
def test_kd_is_the_frozen_teacher_and_trains_nothing_before_igd(kd_detector, digits):
    """``"kd"`` with the packaged teacher is the same frozen, whitened encoder as
    ``"imagenet"``: same seed, same scores; no pre-training epochs are recorded."""
    det = kd_detector
    assert det.net_.module_.frozen_backbone
    assert "pretrain_loss" not in det.history_[0] and "stage" not in det.history_[0]
    assert len(det.history_[:, "l_h"]) == FAST["max_epochs"]
    scores = det.decision_function(digits[1])
    assert scores.shape == (40,) and np.all(np.isfinite(scores))
    imagenet = IGDDetector(**FAST, pretrain="imagenet").fit(digits[0])
    np.testing.assert_array_equal(scores, imagenet.decision_function(digits[1]))


def test_kd_teacher_weights_are_ignored_with_a_warning_for_the_packaged_teacher(digits):
    with pytest.warns(UserWarning, match="kd_teacher_weights is ignored") as record:
        IGDDetector(**FAST, pretrain="kd", kd_teacher_weights="resnet18.pth").fit(digits[0])
    assert record[0].filename == __file__  # it points at the caller's fit


def test_kd_encoder_is_frozen_and_only_the_head_trains(kd_detector):
    module = kd_detector.net_.module_
    assert all(not p.requires_grad for p in module.backbone.parameters())
    net = kd_detector.net_
    net.initialize_optimizer()  # the fitted detector dropped its optimiser state
    trained = {id(p) for g in net.optimizer_.param_groups for p in g["params"]}
    assert not trained & {id(p) for p in module.backbone.parameters()}
    assert {id(p) for p in module.head.parameters()} <= trained
    net.optimizer_ = net.critic_optimizer_ = None
    assert module.head.in_features == IMAGENET_COMPONENTS and module.head.out_features == 128
    module.train()
    assert not module.backbone.training  # batch norm of the frozen encoder stays in eval


def test_igd_training_leaves_the_frozen_encoder_unchanged(digits):
    enc = FrozenEncoder(nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU()))
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    net = IGDNet(
        IGDModule,
        module__input_shape=(1, 8, 8),
        module__backbone="resnet18-lite",
        module__encoder=enc,
        criterion=IGDLoss,
        max_epochs=2,
        batch_size=16,
        train_split=None,
        verbose=0,
    )
    net.fit(torch.from_numpy(digits[0][:, None].astype(np.float32) / 16.0), None)
    after = net.module_.backbone.state_dict()
    assert before.keys() == after.keys()
    for key in before:  # weights and batch-norm running statistics alike
        assert torch.equal(before[key], after[key]), key


def test_kd_is_reproducible_and_persists(kd_detector, digits, tmp_path):
    again = IGDDetector(**FAST, pretrain="kd").fit(digits[0])
    np.testing.assert_array_equal(
        again.decision_function(digits[1]), kd_detector.decision_function(digits[1])
    )
    path = tmp_path / "kd.joblib"
    joblib.dump(kd_detector, path)
    np.testing.assert_array_equal(
        joblib.load(path).decision_function(digits[1]), kd_detector.decision_function(digits[1])
    )


def _torchvision_resnet18_keys():
    """The parameter and buffer names of torchvision.models.resnet18 (written out)."""
    bn = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = ["conv1.weight"] + [f"bn1.{b}" for b in bn]
    for stage in range(1, 5):
        for block in range(2):
            p = f"layer{stage}.{block}"
            keys += [f"{p}.conv1.weight"] + [f"{p}.bn1.{b}" for b in bn]
            keys += [f"{p}.conv2.weight"] + [f"{p}.bn2.{b}" for b in bn]
            if stage > 1 and block == 0:
                keys += [f"{p}.downsample.0.weight"] + [f"{p}.downsample.1.{b}" for b in bn]
    return keys + ["fc.weight", "fc.bias"]


def _fake_torchvision_state(seed=0):
    """Random weights under torchvision's names with torchvision's shapes."""
    from sklearn_igd._networks import ResNetEncoder

    enc = ResNetEncoder(3, (64, 128, 256, 512), small_stem=False)
    ours = enc.state_dict()
    inverse = {}
    for key in _torchvision_resnet18_keys():
        if key.startswith("fc."):
            continue
        (mapped,) = torchvision_resnet18_to_encoder({key: None}).keys()
        inverse[key] = mapped
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for k, v in inverse.items():
        if not ours[v].is_floating_point():
            state[k] = ours[v].clone()
        elif k.endswith("running_var"):  # variances must be positive
            state[k] = torch.rand(ours[v].shape, generator=gen) + 0.5
        else:  # small, so that 18 random layers stay finite
            state[k] = 0.05 * torch.randn(ours[v].shape, generator=gen)
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    return state


def test_torchvision_key_mapping_covers_resnet18_exactly():
    from sklearn_igd._networks import ResNetEncoder

    mapped = torchvision_resnet18_to_encoder({k: None for k in _torchvision_resnet18_keys()})
    ours = ResNetEncoder(3, (64, 128, 256, 512), small_stem=False).state_dict()
    assert set(mapped) == set(ours)


def test_resnet18_teacher_from_a_weights_file(tmp_path, digits):
    path = tmp_path / "resnet18-f37072fd.pth"
    state = _fake_torchvision_state()
    torch.save(state, path)
    teacher = _pretrain.load_teacher("resnet18", str(path))
    assert torch.equal(teacher.backbone.stem[0].weight, state["conv1.weight"])
    assert torch.equal(
        teacher.backbone.layers[2].shortcut[1].running_mean,
        state["layer2.0.downsample.1.running_mean"],
    )
    # stages 1-3 (six blocks, 256 channels at stride 16), 2x2-pooled
    assert len(teacher.backbone.layers) == 6
    assert teacher(torch.rand(2, 1, 8, 8)).shape == (2, 256 * 4)
    det = IGDDetector(**FAST, pretrain="kd", kd_teacher="resnet18", kd_teacher_weights=path).fit(
        digits[0]
    )
    assert np.all(np.isfinite(det.decision_function(digits[1])))


def test_resnet18_teacher_found_in_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    torch.save(_fake_torchvision_state(), tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    assert isinstance(_pretrain.load_teacher("resnet18"), FrozenEncoder)


def test_resnet18_teacher_without_weights_gives_a_clear_error(tmp_path, monkeypatch, digits):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError) as info:
        IGDDetector(**FAST, pretrain="kd", kd_teacher="resnet18").fit(digits[0])
    msg = str(info.value)
    for needed in (
        "kd_teacher_weights",
        RESNET18_URL,
        str(tmp_path / "checkpoints"),
        "efficientnet-lite0",
        "Network is unreachable",
    ):
        assert needed in msg, needed


def test_resnet18_teacher_weights_path_must_exist(tmp_path, digits):
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match="nope.pth.*is not a file"):
        IGDDetector(
            **FAST, pretrain="kd", kd_teacher="resnet18", kd_teacher_weights=str(missing)
        ).fit(digits[0])


def test_resnet18_teacher_rejects_a_wrong_state_dict(tmp_path, digits):
    path = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not a torchvision ResNet18 state dict"):
        IGDDetector(**FAST, pretrain="kd", kd_teacher="resnet18", kd_teacher_weights=path).fit(
            digits[0]
        )


def test_efficientnet_teacher_is_imagenet_pretrained():
    from efficientnet_lite_pytorch import EfficientNet

    teacher = _pretrain.load_teacher("efficientnet-lite0")
    img = torch.rand(2, 1, 28, 28)
    feats = teacher(img)
    assert feats.shape == (2, 80 * 4) and not feats.requires_grad  # blocks 0-7, 2x2 grid
    # its weights are the trained ones: the stem's filters are far from a fresh
    # initialisation
    fresh = EfficientNet.from_name("efficientnet-lite0")
    assert not torch.allclose(fresh._conv_stem.weight, teacher.backbone.stem[0].weight)


# ---------------------------------------------------------------------------- SimCLR
def test_nt_xent_matches_the_definition():
    gen = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(3, 4, generator=gen), torch.randn(3, 4, generator=gen)
    t = 0.5
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    sim = (z @ z.t() / t).tolist()
    total = 0.0
    for i in range(6):
        pos = (i + 3) % 6
        denom = sum(np.exp(sim[i][k]) for k in range(6) if k != i)
        total += -np.log(np.exp(sim[i][pos]) / denom)
    assert float(nt_xent_loss(z1, z2, t)) == pytest.approx(total / 6, rel=1e-5)
    # matching views score lower than unrelated ones
    assert nt_xent_loss(z1, z1, t) < nt_xent_loss(z1, z2, t)


@pytest.mark.parametrize("shape", [(4, 1, 28, 28), (4, 3, 64, 48), (4, 1, 8, 8)])
def test_simclr_augmentation_is_batched_and_random(shape):
    aug = simclr_augmentation(shape[-2:])
    x = torch.rand(*shape)
    a, b = aug(x), aug(x)
    assert a.shape == b.shape == shape  # the images' own size and channels
    assert not torch.allclose(a, b)


def test_ssl_initialises_the_models_own_encoder_which_then_trains(digits, monkeypatch):
    from sklearn_igd import _detector

    seen = {}
    real = _detector.pretrained_encoder

    def spy_pretrained(est, X, plan):
        out = real(est, X, plan)
        seen["init"] = {k: v.clone() for k, v in out.init.state_dict().items()}
        return out

    real_partial_fit = IGDNet.partial_fit

    def spy_partial_fit(net, X, y=None, **kw):
        if net.module_.input_shape == (1, 8, 8):  # the global model
            seen["start"] = {k: v.clone() for k, v in net.module_.backbone.state_dict().items()}
        return real_partial_fit(net, X, y, **kw)

    monkeypatch.setattr(_detector, "pretrained_encoder", spy_pretrained)
    monkeypatch.setattr(IGDNet, "partial_fit", spy_partial_fit)
    det = IGDDetector(**FAST, pretrain="ssl").fit(digits[0])
    backbone = det.net_.module_.backbone
    assert not det.net_.module_.frozen_backbone
    assert all(p.requires_grad for p in backbone.parameters())
    # training starts from the SimCLR weights, of the model's own architecture ...
    assert seen["start"].keys() == seen["init"].keys()
    for k, v in seen["init"].items():
        torch.testing.assert_close(seen["start"][k], v, msg=k)
    # ... and changes them
    end = backbone.state_dict()
    weights = [k for k, v in seen["init"].items() if v.is_floating_point()]
    assert any(not torch.equal(end[k], seen["init"][k]) for k in weights)
    pre = det.history_[:, "pretrain_loss"]
    assert len(pre) == 2 and np.all(np.isfinite(pre))
    assert {row.get("stage") for row in det.history_} == {"ssl", None}
    assert np.all(np.isfinite(det.decision_function(digits[1])))


def test_ssl_is_seeded(digits):
    X = digits[0][:64]
    params = {**FAST, "pretrain": "ssl", "random_state": 3}
    a = IGDDetector(**params).fit(X).score_samples(digits[1])
    b = IGDDetector(**params).fit(X).score_samples(digits[1])
    np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ a user's backbone
class CountingBackbone(nn.Module):
    """A small conv backbone counting the images it sees."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.seen = 0

    def forward(self, x):
        self.seen += x.shape[0]
        return torch.relu(self.conv(x))  # (n, 8, h, w): averaged by the encoder


def test_user_module_is_used_frozen_and_left_untouched(digits):
    user = CountingBackbone()
    before = user.conv.weight.detach().clone()
    det = IGDDetector(**FAST, pretrain=user).fit(digits[0])
    assert user.seen == 0 and user.conv.weight.requires_grad  # the user's object: untouched
    assert torch.equal(user.conv.weight, before)
    module = det.net_.module_
    assert module.head.in_features == 8
    assert torch.equal(module.backbone.backbone.conv.weight, before)
    assert "stage" not in det.history_[0]


def test_user_module_with_wrong_output_is_rejected(digits):
    class Bad(nn.Module):
        def forward(self, x):
            return x[:, 0, 0, 0]  # (n,)

    with pytest.raises(ValueError, match=r"\(n, d\) or \(n, d, h, w\); got shape \(\d+,\)"):
        IGDDetector(**FAST, pretrain=Bad()).fit(digits[0])


# -------------------------------------------------------------------- feature caching
def test_cached_features_give_the_same_scores_and_skip_the_backbone(digits):
    X_train, X_test = digits
    n_train, epochs = len(X_train), 3
    fits = {}
    user = CountingBackbone()  # one set of weights; each fit uses its own frozen copy
    for cache in (True, False):
        det = IGDDetector(
            **{**FAST, "max_epochs": epochs}, pretrain=user, cache_features=cache
        ).fit(X_train)
        enc = det.net_.module_.backbone.backbone
        seen_in_fit = enc.seen
        scores = det.decision_function(X_test)
        fits[cache] = (seen_in_fit, scores)
    seen_cached, cached = fits[True]
    seen_uncached, uncached = fits[False]
    np.testing.assert_allclose(cached, uncached, rtol=1e-5, atol=1e-6)
    # training with the cache: the feature-dim probe and one pass over the training
    # images; without it every epoch too (scoring runs on an inference copy of the model,
    # whose encoder counts separately)
    assert seen_cached == 2 + n_train
    assert seen_uncached >= seen_cached + epochs * 32


# ----------------------------------------------------------------------- parameters
def test_whitening_makes_the_shrunk_covariance_the_identity():
    from sklearn.covariance import LedoitWolf

    rng = np.random.RandomState(0)
    f = rng.randn(500, 12) @ rng.randn(12, 12) + 3.0  # correlated, offset
    white = fit_whitening(torch.from_numpy(f).float(), n_components=5)
    assert white.matrix.shape == (12, 5)
    lw = LedoitWolf().fit(f)
    m = white.matrix.double().numpy()
    np.testing.assert_allclose(m.T @ lw.covariance_ @ m, np.eye(5), atol=1e-4)
    out = white(torch.from_numpy(f).float()).double().numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-4)
    # the top components: the variance kept is the largest 5 of the spectrum
    top = np.sort(np.linalg.eigvalsh(lw.covariance_))[-5:]
    np.testing.assert_allclose(np.sort(1 / np.linalg.norm(m, axis=0) ** 2), top, rtol=1e-4)


def test_trimmed_whitening_unmasks_a_cluster_of_contaminants():
    # 20 of 200 feature vectors share an offset: fitted on all of them, the whitening
    # gives that direction about unit variance and hides them (masking); fitted on the
    # best-fitting 90% they are the 20 largest whitened norms
    g = torch.Generator().manual_seed(0)
    f = torch.randn(200, 40, dtype=torch.float64, generator=g)
    f[:20] += 6 * torch.randn(1, 40, dtype=torch.float64, generator=g)

    def found(white):  # contaminants among the 20 largest whitened norms
        return int((white(f.float()).pow(2).sum(1).argsort(descending=True)[:20] < 20).sum())

    trimmed = fit_whitening(f, 16, support=0.9)
    assert trimmed.matrix.shape == (40, 16)
    assert found(trimmed) == 20 > found(fit_whitening(f, 16))
    whole = fit_whitening(f, 16)
    torch.testing.assert_close(fit_whitening(f, 16, support=1.0).matrix, whole.matrix)


@pytest.mark.parametrize("n", [500, 40])
def test_whitening_is_reproducible_under_rounding_and_thread_counts(n):
    # With numpy's eigh the components' signs depended on the BLAS thread count (79 of
    # 128 flipped on 125 MNIST fives), and with fewer images than components the flat
    # part of the shrunk covariance got an arbitrary basis: a change at rounding level
    # changed the whitened features and so the whole training that follows.
    from threadpoolctl import threadpool_limits

    rng = np.random.RandomState(0)
    f = rng.randn(n, 64) @ (rng.randn(64, 64) * np.linspace(2, 0.1, 64)) + 1.0
    matrices = []
    for threads, noise in ((1, 0.0), (2, 0.0), (1, 1e-9)):
        g = f + noise * rng.randn(*f.shape)
        with threadpool_limits(threads):
            white = fit_whitening(torch.from_numpy(g), n_components=48)
        matrices.append(white.matrix.double().numpy())
    assert matrices[0].shape == (64, 48)
    for m in matrices[1:]:
        np.testing.assert_allclose(m, matrices[0], rtol=0, atol=1e-5 * np.abs(m).max())
    # with 40 images the training features span 39 directions: those come first, each
    # signed with its largest entry positive, and the other 9 are orthogonal to them (the
    # whitened training features are 0 there)
    spanned = min(n - 1, 48)
    m = matrices[0][:, :spanned]
    assert np.all(m[np.abs(m).argmax(0), np.arange(spanned)] > 0)
    out = white(torch.from_numpy(f).float()).double().numpy()
    assert np.all(out[:, :spanned].std(0) > 0.1)
    np.testing.assert_allclose(out[:, spanned:], 0, atol=1e-3)


def test_numpy_thread_count_does_not_change_a_fit(digits):
    # the same fit with numpy's BLAS at one thread (as in a joblib worker) and at its
    # default: the whitening, and so the whole model, must be the same (torch's own
    # threads, OpenMP, are n_threads's business and stay as they are)
    from threadpoolctl import threadpool_limits

    X_train, X_test = digits
    scores = []
    for limit in (None, 1):
        with threadpool_limits(limit, user_api="blas"):
            det = IGDDetector(**FAST, pretrain="imagenet", n_threads=1).fit(X_train)
        scores.append(det.decision_function(X_test))
    np.testing.assert_array_equal(scores[0], scores[1])


def test_imagenet_encoder_is_frozen_whitened_and_trains_only_the_head(digits):
    X_train, X_test = digits
    det = IGDDetector(**FAST, pretrain="imagenet").fit(X_train)
    module = det.net_.module_
    encoder = module.backbone
    assert isinstance(encoder, FrozenEncoder)
    assert not any(p.requires_grad for p in encoder.parameters())
    assert encoder.backbone[1].matrix.shape[1] == IMAGENET_COMPONENTS == 128
    assert "pretrain_loss" not in det.history_[0]  # nothing was pre-trained
    # the head started as an isometry of the whitened features (d = Z = 128)
    fresh = IGDModule((1, 8, 8), "resnet18-lite", 128, encoder=encoder)
    w = fresh.head.weight.detach()
    torch.testing.assert_close(w @ w.T, torch.eye(128), atol=1e-5, rtol=0)
    # whitened training features: centred, no component above the shrunk unit variance
    # by more than the shrinkage (64 images span at most 63 of the 128 components)
    x = torch.from_numpy(det._prepare(X_train))
    with torch.no_grad():
        f = encoder(x).double()
    np.testing.assert_allclose(f.mean(0).numpy(), 0, atol=1e-3)
    assert 0.5 < float(f.var(0).max()) < 2.0
    assert np.all(np.isfinite(det.decision_function(X_test)))
    assert det.sigma2_ >= 1.0


@pytest.mark.parametrize("flip", [False, True])
def test_imagenet_features_come_with_the_encoder(digits, flip):
    """The whitened features returned beside the encoder (the fit's feature cache) are the
    encoder's own features of the training images, also when they are flip-invariant."""
    X_train = torch.from_numpy(digits[0][:, None].astype(np.float32) / 255)
    frozen = _pretrain.imagenet_encoder(X_train, batch_size=64, device="cpu", flip_invariant=flip)
    again = _pretrain.compute_features(frozen.encoder, X_train, 16, "cpu")
    assert frozen.features.shape == (len(X_train), IMAGENET_COMPONENTS)
    torch.testing.assert_close(frozen.features, again, rtol=1e-4, atol=1e-4)
    assert frozen.flip_invariant is flip and frozen.flip_auc is None  # not measured


# ------------------------------------------------------------------- flip invariance
def _digit_images(digit):
    X, y = load_digits_images(return_X_y=True)
    return X[y == digit]


def _symmetric(X):
    """Images equal to their own mirror image (the mean of each image and its mirror)."""
    return ((X.astype(np.float32) + X[..., ::-1]) / 2).round().astype(np.uint8)


def test_flip_invariant_encoder_gives_an_image_and_its_mirror_one_code(digits):
    X_train, X_test = digits
    x = torch.from_numpy(X_test[:, None].astype(np.float32) / 255)
    mirrored = torch.flip(x, [-1])
    codes = {}
    for flip in (False, True):
        det = IGDDetector(**FAST, pretrain="imagenet", flip_invariant=flip).fit(X_train)
        assert det.flip_invariant_ is flip and det.flip_auc_ is None
        encoder = det.net_.module_.backbone
        with torch.no_grad():
            codes[flip] = (encoder(x), encoder(mirrored))
    torch.testing.assert_close(*codes[True], rtol=1e-4, atol=1e-4)
    assert (codes[False][0] - codes[False][1]).abs().max() > 0.1


def test_mirror_auc_is_one_half_for_symmetric_images_and_high_for_digits():
    for images, low, high in (
        (_symmetric(_digit_images(3)), 0.5, 0.5),
        (_digit_images(3), 0.9, 1),
    ):
        x = torch.from_numpy(images[:, None].astype(np.float32) / 255)
        trunk = _pretrain.load_teacher("efficientnet-lite0")
        features = _pretrain.compute_features(trunk, x, 64, "cpu")
        mirrored = _pretrain.compute_features(trunk, x, 64, "cpu", mirror=True)
        auc = _pretrain.mirror_auc(features, mirrored)
        assert low <= auc <= high, (low, auc, high)


def test_flip_invariant_auto_follows_the_mirror_auc():
    threes = _digit_images(3)
    for X, expected in ((_symmetric(threes), True), (threes, False)):
        det = IGDDetector(**FAST, pretrain="imagenet").fit(X)
        assert det.flip_invariant_ is expected
        assert (det.flip_auc_ < _pretrain.FLIP_AUTO_MAX_AUC) is expected
    # too few images to measure: not flip-invariant, nothing measured
    few = _symmetric(threes[: _pretrain.FLIP_AUTO_MIN_IMAGES - 1])
    det = IGDDetector(**FAST, pretrain="kd").fit(few)
    assert det.flip_invariant_ is False and det.flip_auc_ is None
    # with the local model: off, not measured (no feature map: its student would take
    # most of this test's time and has nothing to do with the flip)
    det = IGDDetector(**{**FAST, "local": True, "patch_size": 4, "feature_map": False})
    det.fit(_symmetric(threes))
    assert det.flip_invariant_ is False and det.flip_auc_ is None
    # other encoders and 2-D input: not measured
    for params, X in (({"pretrain": None}, threes), ({}, np.random.RandomState(0).rand(30, 4))):
        det = IGDDetector(**{**FAST, **params}).fit(X)
        assert det.flip_invariant_ is False and det.flip_auc_ is None


def test_flip_invariant_model_persists(tmp_path, digits):
    X_train, X_test = digits
    det = IGDDetector(**FAST, pretrain="imagenet", flip_invariant=True).fit(X_train)
    joblib.dump(det, tmp_path / "det.joblib")
    back = joblib.load(tmp_path / "det.joblib")
    assert back.flip_invariant_ is True
    np.testing.assert_allclose(back.decision_function(X_test), det.decision_function(X_test))


def test_invalid_flip_invariant():
    with pytest.raises(InvalidParameterError, match="'flip_invariant' parameter"):
        IGDDetector(flip_invariant="yes").fit(np.zeros((4, 8, 8), dtype=np.uint8))


def test_invalid_pretrain_values():
    X = np.zeros((4, 8, 8), dtype=np.uint8)
    with pytest.raises(InvalidParameterError, match="'pretrain' parameter"):
        IGDDetector(pretrain="places365").fit(X)
    with pytest.raises(InvalidParameterError, match="'kd_teacher' parameter"):
        IGDDetector(kd_teacher="vgg").fit(X)
    with pytest.raises(InvalidParameterError, match="'pretrain_epochs' parameter"):
        IGDDetector(pretrain_epochs=0).fit(X)


def test_pretrain_is_ignored_for_vectors():
    X = np.random.RandomState(0).rand(30, 5)
    det = IGDDetector(max_epochs=2, batch_size=16, pretrain="kd", random_state=0).fit(X)
    assert not det.net_.module_.frozen_backbone and "stage" not in det.history_[0]


def test_verbose_shows_pretraining(digits, capsys):
    IGDDetector(**FAST, pretrain="ssl", verbose=2).fit(digits[0][:40])
    out = capsys.readouterr().out
    assert out.count("train_loss") >= 2  # the SimCLR table, then the IGD table
    IGDDetector(**FAST, pretrain="ssl", verbose=1).fit(digits[0][:40])
    err = capsys.readouterr().err
    assert "SSL" in err and "IGD" in err
