"""Image datasets for one-class anomaly detection.

The loaders return images with their natural shape (``(n, H, W)`` or ``(n, H, W, 3)``,
dtype ``uint8``), following the ``Bunch`` / ``return_X_y`` conventions of
:mod:`sklearn.datasets`: ``load_*`` functions read data that ships with a dependency or
lies in a local folder, ``fetch_*`` functions may download data (into
:func:`get_data_home`), ``make_*`` functions generate data.
:func:`~sklearn_igd.model_selection.make_one_class` (re-exported here) turns any labelled
dataset into a one-class anomaly detection problem: one class is normal (``+1``), every
other class is anomalous (``-1``), as with :class:`~sklearn.svm.OneClassSVM` and
:class:`~sklearn.ensemble.IsolationForest`.
"""

from ..model_selection import make_one_class
from ._base import get_data_home
from ._cutpaste import make_cutpaste_defects
from ._digits import load_digits_images
from ._fashion_mnist import fetch_fashion_mnist, load_fashion_mnist
from ._image_folder import list_image_files, load_image_folder, load_images, load_mvtec_ad
from ._mnist import load_mnist_5k
from ._texture_defects import make_texture_defects

__all__ = [
    "fetch_fashion_mnist",
    "get_data_home",
    "list_image_files",
    "load_digits_images",
    "load_fashion_mnist",
    "load_image_folder",
    "load_images",
    "load_mnist_5k",
    "load_mvtec_ad",
    "make_cutpaste_defects",
    "make_one_class",
    "make_texture_defects",
]
