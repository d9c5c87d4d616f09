"""
=============================================
Heatmaps of texture defects (the Fig. 3 view)
=============================================

IGD localises anomalies with per-pixel heatmaps (eq. 16-17 of the paper). This example
fits :class:`~sklearn_igd.IGDDetector` with its global and local (patch) models on normal
crops of scikit-image's brick photograph, then shows defective test crops, their
ground-truth masks and the predicted heatmaps in the layout of the paper's Fig. 3 with
:class:`~sklearn_igd.plotting.HeatmapDisplay`, and measures the localisation with
:func:`~sklearn_igd.metrics.pixel_roc_auc` and :func:`~sklearn_igd.metrics.aupro`.
"""

# %%
# Texture crops with drawn defects
# --------------------------------
# :func:`~sklearn_igd.datasets.make_texture_defects` cuts normal training crops from the
# top half of the photograph and test crops from the bottom half; half of the test crops
# receive one drawn defect (scratch, crack, stain, hole, foreign patch or colour change)
# with its exact pixel mask. Small 32 px crops keep the fit short.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_auc_score

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import make_texture_defects
from sklearn_igd.metrics import aupro, pixel_roc_auc
from sklearn_igd.plotting import HeatmapDisplay

TINY = os.environ.get("SKLEARN_IGD_EXAMPLES_TINY", "") not in ("", "0")

data = make_texture_defects(
    "brick", n_train=16 if TINY else 48, n_test=16 if TINY else 40, size=32, random_state=0
)
print(data.images_train.shape, data.images_test.shape, data.masks_test.shape)

# %%
# Fit the global and the local model
# ----------------------------------
# ``local=True`` adds the paper's local model, trained on 8 px patches every 4 px; its
# folded patch errors add to the heatmap, and the maximum of its part of the heatmap to
# the image score.
det = IGDDetector(
    backbone="resnet18-lite",
    max_epochs=1 if TINY else 4,
    batch_size=16,
    lr=3e-4,
    local=True,
    pretrain=None,
    # the default "auto" map trains a student for a fixed 300 steps (about a minute on a
    # CPU core, whatever the image count); the quick run of the test suite uses the
    # nearest-neighbour map alone
    feature_map="nearest" if TINY else "auto",
    random_state=0,
).fit(data.images_train)
print(f"patch {det.patch_size_} px, stride {det.patch_stride_} px")

# %%
# Scores and heatmaps
# -------------------
# ``anomaly_score`` detects (one number per crop), ``predict_heatmap`` localises (one
# number per pixel). The pooled pixel ROC AUC ranks all test pixels at once; the AUPRO
# weighs every connected defect equally, up to a false-positive rate of 0.3.
heat = det.predict_heatmap(data.images_test)  # (n, 32, 32) float64
anomalous = data.y_test == -1
print(f"image ROC AUC {roc_auc_score(anomalous, det.anomaly_score(data.images_test)):.3f}")
print(f"pixel ROC AUC {pixel_roc_auc(data.masks_test, heat):.3f}")
print(f"AUPRO         {aupro(data.masks_test, heat):.3f}")

# %%
# The Fig. 3 layout
# -----------------
# Rows: test crops, ground-truth masks, heatmaps overlaid (red = anomalous), all maps on
# one colour scale. Defective crops come first, then a normal one for comparison.
order = np.r_[np.flatnonzero(anomalous)[:7], np.flatnonzero(~anomalous)[:1]]
disp = HeatmapDisplay.from_predictions(
    data.images_test[order],
    heat[order],
    data.masks_test[order],
    titles=list(data.defect_type[order]),
)
disp.figure_.tight_layout()
plt.show()

# %%
# The two models' maps
# --------------------
# :meth:`~sklearn_igd.IGDDetector.score_parts` returns the global and the local model's
# weighted maps, which add up to ``predict_heatmap``. The global model rebuilds the whole
# crop from a code of 128 numbers, so its errors spread over the whole crop; the local
# model rebuilds 8 px patches, and its errors concentrate on the defects, in blocks of
# the patch stride.
parts = det.score_parts(data.images_test[order], heatmap=True)
for name in ("global", "local"):
    disp = HeatmapDisplay.from_predictions(data.images_test[order], parts[f"{name}_heatmap"])
    disp.figure_.suptitle(f"{name} model")
    disp.figure_.tight_layout()
plt.show()

# %%
# Brick is the easiest of the three textures; on grass and gravel, whose normal texture
# is irregular, the same detector localises far less well (:ref:`localisation` and
# :doc:`/results` have the measurements).
