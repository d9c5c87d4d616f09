"""
=====================================================
Tabular data: IGD on feature vectors
=====================================================

A 2-D array ``(n_samples, n_features)`` is tabular data to
:class:`~sklearn_igd.IGDDetector`: features are standardised, the encoder, decoder and
critic are small MLPs and the reconstruction loss is the mean absolute error (MS-SSIM
needs images). Everything else is IGD: the Gaussian descriptor of the codes, the
interpolation critic, and the score ``s(x) = l_r(x) + l_h(x)``. This example draws the
decision functions of IGD, :class:`~sklearn.svm.OneClassSVM` and
:class:`~sklearn.ensemble.IsolationForest` on two features, then compares them on
scikit-learn's breast cancer data.
"""

# %%
# Two features: the decision function
# -----------------------------------
# Normal training data: two interleaved half-moons. The filled contours show each
# detector's ``decision_function``; the black line is its threshold (0), which
# ``contamination=0.1`` / ``nu=0.1`` place so that about 10% of the training points fall
# outside.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer, make_moons
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.svm import OneClassSVM

from sklearn_igd import IGDDetector

TINY = os.environ.get("SKLEARN_IGD_EXAMPLES_TINY", "") not in ("", "0")

X_moons, _ = make_moons(n_samples=100 if TINY else 400, noise=0.08, random_state=0)
igd_params = dict(
    max_epochs=2 if TINY else 60, batch_size=32, lr=1e-3, contamination=0.1, random_state=0
)
detectors = {
    "IGDDetector": IGDDetector(**igd_params),
    "OneClassSVM": OneClassSVM(nu=0.1, gamma=2.0),
    "IsolationForest": IsolationForest(contamination=0.1, random_state=0),
}
xx, yy = np.meshgrid(np.linspace(-1.8, 2.8, 120), np.linspace(-1.2, 1.7, 80))
grid = np.c_[xx.ravel(), yy.ravel()]

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), sharey=True)
for ax, (name, det) in zip(axes, detectors.items()):
    det.fit(X_moons)
    z = det.decision_function(grid).reshape(xx.shape)
    ax.contourf(xx, yy, z, levels=20, cmap="Blues_r")
    ax.contour(xx, yy, z, levels=[0], colors="k", linewidths=1.5)
    ax.scatter(X_moons[:, 0], X_moons[:, 1], s=6, c="C1")
    ax.set_title(name)
fig.tight_layout()
plt.show()

# %%
# IGD's region encloses both moons, with a smoother and looser boundary than the kernel
# SVM's after this short training: its score grows away from the training points
# because the decoder must reconstruct each point from a code near the centre of the
# Gaussian descriptor. IsolationForest's axis-aligned splits show as stripes.
#
# Thirty features: breast cancer
# ------------------------------
# Benign tumours are the normal class: the detectors train on half of them and score the
# other half plus every malignant one.
X, y = load_breast_cancer(return_X_y=True)  # y: 0 malignant, 1 benign
X_benign, X_malignant = X[y == 1], X[y == 0]
X_train, X_benign_test = train_test_split(X_benign, train_size=0.5, random_state=0)
X_test = np.concatenate([X_benign_test, X_malignant])
anomalous = np.r_[np.zeros(len(X_benign_test), bool), np.ones(len(X_malignant), bool)]

# the peers get standardised features too (IGD standardises its input itself)
mean, std = X_train.mean(0), X_train.std(0)
standardise = lambda X: (X - mean) / std  # noqa: E731
detectors = {
    "IGDDetector": (IGDDetector(**igd_params), lambda X: X),
    "OneClassSVM": (OneClassSVM(nu=0.1, gamma="scale"), standardise),
    "IsolationForest": (IsolationForest(random_state=0), standardise),
}
for name, (det, prepare) in detectors.items():
    det.fit(prepare(X_train))
    auc = roc_auc_score(anomalous, -det.score_samples(prepare(X_test)))
    print(f"{name:<16} ROC AUC {auc:.3f}")

# %%
# Tabular scores are computed in float64, so a sample's score does not depend on the
# other samples it is scored with. The parameters that only concern images
# (``backbone``, ``local``, ``pretrain``, ``heatmap``) are ignored for 2-D input, and
# ``predict_heatmap`` raises.
