"""
==========================================================
Pre-training: frozen ImageNet features, none, or SimCLR
==========================================================

:class:`~sklearn_igd.IGDDetector`'s ``pretrain`` parameter selects the encoder:
``"imagenet"`` (the default) uses the packaged ImageNet EfficientNet-Lite0's early
blocks as they are, whitened on the training images, with nothing to train; ``None``
trains the encoder from scratch with the rest of the model; ``"ssl"`` trains SimCLR on
the training images, one of the IGD paper's two pre-trainings, and starts the same
training from the encoder it learnt. The other, ``"kd"``, uses an ImageNet teacher's own
features: with the packaged teacher that is the same encoder as ``"imagenet"``, so it is
not repeated here. The ImageNet encoders are frozen, with a trainable linear layer after
them. This example compares the three on a tiny one-class problem and shows the
pre-training rows of ``history_``.
"""

# %%
# A tiny one-class problem
# ------------------------
# Digit 3 of MNIST-5k (28x28 images) is normal: 80 training images, and 500 random test
# images from the rest of MNIST-5k (the other 3s and every other digit).
import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import load_mnist_5k, make_one_class

TINY = os.environ.get("SKLEARN_IGD_EXAMPLES_TINY", "") not in ("", "0")

X, y = load_mnist_5k(return_X_y=True)
X_train, X_test, _, y_test = make_one_class(X, y, normal_class=3, random_state=0)
rng = np.random.RandomState(0)
n_train, n_test = (24, 60) if TINY else (80, 500)
X_train = X_train[rng.choice(len(X_train), n_train, replace=False)]
test = rng.choice(len(X_test), n_test, replace=False)
X_test, y_test = X_test[test], y_test[test]
print(X_train.shape, X_test.shape, f"{np.mean(y_test == 1):.0%} normal in the test set")

# %%
# Three detectors
# ---------------
# Everything but ``pretrain`` is the same. The ImageNet encoder sees the digits as
# three-channel images of at least 32 px, ImageNet-normalised; EfficientNet-Lite0 ships
# with the package, so this runs offline. SimCLR trains the model's own encoder on the
# digits as they are. ``pretrain_epochs`` is tiny here (the default is 10; the paper ran
# 2,000 SimCLR epochs).
common = dict(
    backbone="resnet18-lite",
    max_epochs=1 if TINY else 5,
    batch_size=16,
    local=False,
    pretrain_epochs=1 if TINY else 3,
    pretrain_batch_size=32,
    random_state=0,
)
results = {}
for pretrain in ("imagenet", None, "ssl"):
    t0 = time.perf_counter()
    det = IGDDetector(pretrain=pretrain, **common).fit(X_train)
    seconds = time.perf_counter() - t0
    auc = roc_auc_score(y_test == -1, det.anomaly_score(X_test))
    results[str(pretrain)] = (auc, seconds, det)
    print(f"pretrain={pretrain!s:<8} ROC AUC {auc:.3f}  fit {seconds:5.1f} s")

# %%
# The history of a pre-trained fit
# --------------------------------
# The pre-training epochs come first in ``history_``, as rows with ``stage`` and
# ``pretrain_loss``; ``history_[:, "l_h"]`` and the other IGD terms skip them.
det = results["ssl"][2]
print("SimCLR loss per pre-training epoch:", np.round(det.history_[:, "pretrain_loss"], 3))
print("l_h per IGD epoch:                 ", np.round(det.history_[:, "l_h"], 3))

fig, axes = plt.subplots(1, 2, figsize=(8, 3))
names = list(results)
axes[0].bar(names, [results[n][0] for n in names], color=["C0", "C1", "C2"])
axes[0].set_ylim(0.5, 1.0)
axes[0].set_ylabel("ROC AUC")
axes[0].set_xlabel("pretrain")
for name in names:
    axes[1].plot(results[name][2].history_[:, "l_r"], label=f"pretrain={name}")
axes[1].set_xlabel("IGD epoch")
axes[1].set_ylabel("reconstruction loss l_r")
axes[1].legend()
fig.tight_layout()
plt.show()

# %%
# What to expect
# --------------
# Read the AUCs above with care: one seed, 80 training images and five epochs, where a
# change of seed or thread count moves an AUC by a few hundredths
# (:ref:`reproducibility`). On the benchmarks (:doc:`/results`) the frozen ImageNet
# features are the clear winner at CPU scale; the paper's gains from pre-training come
# with ResNet18, 256 epochs and 6,000 images per class on a GPU. A frozen encoder also
# makes each IGD epoch cheaper, since its features are computed once
# (``cache_features=True``): compare the fit times.
