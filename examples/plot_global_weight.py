"""
===================================================================
Choosing how much the global model counts, on a few labelled images
===================================================================

With the local model (images), :class:`~sklearn_igd.IGDDetector` scores an image by
``s = w * z_G + z_L``: the global model's part ``z_G``, which sees a whole image of
another kind, and the local heatmap's part ``z_L``, which sees a small defect on a normal
surface, each standardised on the training images. The default weight ``w = 1``
(``global_score_weight``) is a compromise, and the normal training images cannot tell
which kind of anomaly matters to you. Ten labelled images of each kind can:
:func:`~sklearn_igd.thresholds.select_global_score_weight` picks the weight on them, and
:func:`~sklearn_igd.thresholds.with_global_score_weight` sets it without a new fit (the
models do not depend on it).
"""

# %%
# Gravel crops with painted defects
# ---------------------------------
# The detector trains on 100 normal crops of 128 px from the top half of the photograph.
# A second draw of test crops (the bottom half, other positions and defects) gives the
# labelled validation images; the test crops are those of the first draw.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.thresholds import (
    select_global_score_weight,
    standardised_score_parts,
    with_global_score_weight,
)

TINY = os.environ.get("SKLEARN_IGD_EXAMPLES_TINY", "") not in ("", "0")
size, n_train, n_test = (32, 16, 40) if TINY else (128, 100, 500)
test = make_texture_defects("gravel", n_train=n_train, n_test=n_test, size=size, random_state=0)
validation = make_texture_defects(
    "gravel", n_train=n_train, n_test=n_test, size=size, random_state=1
)
params = dict(max_epochs=1, local=True, local_epochs=1, feature_map=False) if TINY else {}
det = IGDDetector(random_state=0, **params).fit(test.images_train)

# ten normal and ten defective validation crops
rng = np.random.RandomState(0)
normal = rng.choice(np.flatnonzero(validation.y_test == 1), 10, replace=False)
defective = rng.choice(np.flatnonzero(validation.y_test == -1), 10, replace=False)
labelled = np.r_[normal, defective]
X_val, y_val = validation.images_test[labelled], validation.y_test[labelled]

# %%
# Choose the weight, set it
# -------------------------
# The validation crops are scored once; every candidate weight (0, 0.25, 0.5, 1, 2, 4)
# ranks them by ROC AUC, and the best is kept (among equal ones, the one closest to the
# current weight). ``with_global_score_weight`` needs the training images for the new
# ``offset_`` (a percentile of their scores, ``contamination=0.1``).
w = select_global_score_weight(det, X_val, y_val)
tuned = with_global_score_weight(det, w, test.images_train)
anomalous = test.y_test == -1
print(f"chosen global_score_weight: {w}")
for name, detector in (
    (f"default w = {det.global_score_weight:g}", det),
    (f"chosen w = {w:g}", tuned),
):
    auc = roc_auc_score(anomalous, detector.anomaly_score(test.images_test))
    print(f"test image ROC AUC, {name}: {auc:.3f}")

# %%
# What the weight does
# --------------------
# Each test crop is a point ``(z_G, z_L)``; a weight ranks the crops by ``w * z_G + z_L``,
# so its lines of equal score have slope ``-w``. On these crops the global part mostly
# adds noise: normal and defective crops overlap along ``z_G`` and separate along
# ``z_L``, so a small weight ranks them better.
z_global, z_local = standardised_score_parts(det, test.images_test)
fig, ax = plt.subplots(figsize=(5.5, 4.5))
ax.scatter(z_global[~anomalous], z_local[~anomalous], s=8, c="tab:blue", label="normal")
ax.scatter(z_global[anomalous], z_local[anomalous], s=8, c="tab:red", label="defective")
for weight, style in ((1.0, "k--"), (w, "k-")):
    score = weight * z_global + z_local
    level = np.percentile(score[~anomalous], 95)  # flags 5% of the normal crops
    x = np.linspace(z_global.min(), z_global.max(), 2)
    ax.plot(x, level - weight * x, style, label=f"w = {weight:g}: 5% false alarms")
ax.set_ylim(z_local.min() - 1, z_local.max() + 1)
ax.set_xlabel("global part z_G")
ax.set_ylabel("local part z_L")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
