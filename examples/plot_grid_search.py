"""
=======================================================
Tuning the loss weights with GridSearchCV
=======================================================

IGD's loss (eq. 7, 11 and 12 of the paper) has four weights: ``lambda1`` (the critic's
game, here its learning-rate factor), ``lambda2`` (the reconstruction constraint),
``lambda3`` (the adversarial interpolation term) and ``rho`` (MAE against MS-SSIM).
:class:`~sklearn_igd.IGDDetector` is a scikit-learn estimator, so
:class:`~sklearn.model_selection.GridSearchCV` tunes them; what a one-class detector
needs is a splitter that trains on normal samples only and validates on held-out normals
plus anomalies: :class:`~sklearn_igd.model_selection.OneClassSplit`.
"""

# %%
# Labelled data for model selection
# ---------------------------------
# The normal class is digit 8 of the 8x8 digits (+1); a random share of the other digits
# are the anomalies (-1). A separate test set, never seen by the search, measures the
# chosen model.
import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, train_test_split

from sklearn_igd import IGDDetector
from sklearn_igd.datasets import load_digits_images, make_one_class
from sklearn_igd.model_selection import OneClassSplit

TINY = os.environ.get("SKLEARN_IGD_EXAMPLES_TINY", "") not in ("", "0")

X, y = load_digits_images(return_X_y=True)
X_normal, X_rest, _, y_rest = make_one_class(X, y, normal_class=8, train_size=0.6, random_state=0)
# make_one_class puts every anomaly in the second part: a quarter of them join the
# search set, which needs labelled anomalies to score the candidates
anomalous = y_rest == -1
X_anom_search, X_anom_test = train_test_split(X_rest[anomalous], train_size=0.25, random_state=0)
X_search = np.concatenate([X_normal, X_anom_search])
y_search = np.r_[np.ones(len(X_normal), dtype=int), -np.ones(len(X_anom_search), dtype=int)]
X_test = np.concatenate([X_rest[~anomalous], X_anom_test])
y_test = np.r_[np.ones((~anomalous).sum(), dtype=int), -np.ones(len(X_anom_test), dtype=int)]
if TINY:
    X_search, y_search = X_search[::4], y_search[::4]
print(f"search: {np.sum(y_search == 1)} normal, {np.sum(y_search == -1)} anomalies")
print(f"test:   {np.sum(y_test == 1)} normal, {np.sum(y_test == -1)} anomalies")

# %%
# The search
# ----------
# ``scoring="roc_auc"`` ranks the candidates by the ROC AUC of ``decision_function`` on
# each validation fold (normal = positive class). The grid varies one weight at a time
# away from the defaults (``lambda1=1, lambda2=1, lambda3=0.1, rho=0.15``): a list of
# grids keeps the number of fits small (five candidates, two folds). Each fit takes a few
# seconds on the CPU.
base = IGDDetector(
    backbone="resnet18-lite",
    max_epochs=1 if TINY else 6,
    batch_size=16,
    lr=3e-4,
    local=False,
    pretrain=None,
    random_state=0,
)
grid = [
    {"lambda1": [0.0, 1.0]},  # no critic training, and the default
    {"lambda2": [4.0]},
    {"lambda3": [1.0]},
    {"rho": [1.0]},  # MAE alone, no MS-SSIM
]
search = GridSearchCV(
    base,
    grid if not TINY else [{"lambda1": [0.0, 1.0]}],
    scoring="roc_auc",
    cv=OneClassSplit(n_splits=2, test_size=0.3, random_state=0),
    refit=False,  # see the last section
)
search.fit(X_search, y_search)
print("best:", search.best_params_, f"validation AUC {search.best_score_:.3f}")

# %%
# Validation AUC per candidate
# ----------------------------
# The bars are the mean over the two folds, the whiskers their spread. Differences of a
# few hundredths are within the noise of the seed at this scale (:ref:`reproducibility`):
# on a small problem, prefer the defaults unless a candidate wins clearly.
results = search.cv_results_
labels = [", ".join(f"{k}={v}" for k, v in p.items()) for p in results["params"]]
fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 1))
ax.barh(labels, results["mean_test_score"], xerr=results["std_test_score"], color="C0")
ax.set_xlabel("validation ROC AUC (OneClassSplit)")
ax.set_xlim(max(0.0, results["mean_test_score"].min() - 0.1), 1.0)
ax.invert_yaxis()
fig.tight_layout()
plt.show()

# %%
# The chosen model on the test set
# --------------------------------
# ``refit=False`` above: GridSearchCV's refit would fit the best candidate on the whole
# search set, and a detector's ``fit`` ignores the labels, so it would train on the
# anomalies too. Refit it on the normal samples only, and compare it with the defaults
# on the test set, which the search never saw.
X_fit = X_search[y_search == 1]
best = clone(base).set_params(**search.best_params_).fit(X_fit)
default = clone(base).fit(X_fit)
for name, det in (("best", best), ("defaults", default)):
    print(f"test ROC AUC, {name}: {roc_auc_score(y_test == -1, det.anomaly_score(X_test)):.3f}")
