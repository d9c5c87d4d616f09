"""Helpers shared by the dataset loaders: bundled-data Bunches and descriptions."""

from importlib import resources

import numpy as np
from sklearn.utils import Bunch

#: The package holding the ``descr/*.rst`` dataset descriptions.
DESCR_PACKAGE = "sklearn_igd.datasets"


def _load_descr(descr_file_name):
    """The text of ``descr/<descr_file_name>``, a dataset description (package data)."""
    path = resources.files(DESCR_PACKAGE) / "descr" / descr_file_name
    return path.read_text(encoding="utf-8")


def _as_uint8_images(values, shape=None):
    """``values`` rounded to the nearest integer, clipped to 0..255, as uint8.

    ``shape``, if given, is the shape of the returned array.
    """
    images = np.rint(np.asarray(values, dtype=np.float64)).clip(0, 255).astype(np.uint8)
    return images if shape is None else images.reshape(shape)


def _images_bunch(images, target, *, target_names, descr_file_name, return_X_y):
    """``(images, target)``, or a Bunch of them with ``target_names`` and ``DESCR``."""
    if return_X_y:
        return images, target
    return Bunch(
        images=images,
        target=target,
        target_names=target_names,
        DESCR=_load_descr(descr_file_name),
    )
