"""
==============================================
Training images that are not all normal
==============================================

IGD describes its whole training set as normal, so anomalies that slipped into it shape
that description. ``support_fraction`` fits the global model of
:class:`~sklearn_igd.IGDDetector` to the best-fitting share of the training images, as
:class:`~sklearn.covariance.MinCovDet` does for a covariance, and the fitted ``support_``
marks the images it kept: ``X[~support_]`` is a short list of training images to look
through.
"""

# %%
# A training set with planted anomalies
# -------------------------------------
# Digit 6 of the 8x8 digits is normal. Half of the 6s train, together with ten images of
# other digits (about 10% of the training set) moved from the test set, which holds the
# other 6s and the remaining digits.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import load_digits_images, make_one_class

TINY = os.environ.get("SKLEARN_IGD_EXAMPLES_TINY", "") not in ("", "0")

X, y = load_digits_images(return_X_y=True)
X_normal, X_test, _, y_test = make_one_class(X, y, normal_class=6, random_state=0)
rng = np.random.RandomState(0)
planted = rng.choice(np.flatnonzero(y_test == -1), 10, replace=False)
X_train = np.concatenate([X_normal, X_test[planted]])
X_test, y_test = np.delete(X_test, planted, axis=0), np.delete(y_test, planted)
is_planted = np.r_[np.zeros(len(X_normal), bool), np.ones(10, bool)]
print(f"{len(X_train)} training images, {is_planted.sum()} of them not a 6")

# %%
# The default fit and a trimmed fit
# ---------------------------------
# ``support_fraction=0.8``: the whitening of the frozen ImageNet features, the E-step's
# centre and scale and each batch's loss use the 80% of the images that fit best. Choose
# it somewhat below one minus the share of anomalies you expect.
params = dict(random_state=0, max_epochs=1 if TINY else "auto")
default = IGDDetector(**params).fit(X_train)
trimmed = IGDDetector(**params, support_fraction=0.8).fit(X_train)
for name, det in [("default", default), ("support_fraction=0.8", trimmed)]:
    auc = roc_auc_score(y_test == -1, -det.decision_function(X_test))
    print(f"{name:<22} test ROC AUC {auc:.3f}")

# %%
# What the trimmed fit left out
# -----------------------------
# ``support_`` is True for the training images the final E-step kept (all True without
# ``support_fraction``). Twice as many images are left out as were planted, so half of
# them are normal 6s that fit least well; most planted images should be among them.
left_out = np.flatnonzero(~trimmed.support_)
found = is_planted[left_out].sum()
print(f"left out {len(left_out)} images, {found} of the {is_planted.sum()} planted ones")

fig, axes = plt.subplots(2, (len(left_out) + 1) // 2, figsize=(10, 2.6))
for ax in axes.ravel():
    ax.axis("off")
for ax, i in zip(axes.ravel(), left_out):
    ax.imshow(X_train[i], cmap="gray_r")
    ax.set_title("planted" if is_planted[i] else "a 6", fontsize=8)
fig.suptitle("Training images outside support_")
plt.show()

# %%
# On the command line the same list is written by ``sklearn-igd fit FOLDER -o MODEL
# --set support_fraction=0.8 --left-out left_out.txt``. On clean training sets the
# trimming costs a little AUC, so it is not the default (user guide, "Training sets that
# hold anomalies").
