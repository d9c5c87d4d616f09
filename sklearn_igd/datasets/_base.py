"""Helpers shared by the dataset loaders.

The data folder (:func:`get_data_home`), checksummed downloads (:class:`RemoteFileMetadata`
and :func:`_fetch_remote`), and the ``Bunch`` and ``DESCR`` of the loaders of bundled data.
"""

import hashlib
import os
import shutil
import tempfile
from importlib import resources
from typing import NamedTuple

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

__all__ = ["get_data_home", "RemoteFileMetadata"]

#: The environment variable naming sklearn-igd's data folder.
DATA_HOME_ENV = "SKLEARN_IGD_DATA"

#: The data folder when neither ``data_home`` nor ``SKLEARN_IGD_DATA`` is given.
DEFAULT_DATA_HOME = os.path.join("~", "sklearn_igd_data")

#: The package holding the ``descr/*.rst`` dataset descriptions.
DESCR_PACKAGE = "sklearn_igd.datasets"


@validate_params(
    {"data_home": [str, os.PathLike, None]},
    prefer_skip_nested_validation=True,
)
def get_data_home(data_home=None):
    """Return the path of the sklearn-igd data folder, creating it if needed.

    The loaders that download data (:func:`fetch_fashion_mnist`) keep it there, one
    subfolder per dataset, so that it is downloaded only once. The folder is, in this
    order: ``data_home`` if given; else the value of the environment variable
    ``SKLEARN_IGD_DATA`` if set (and not empty); else ``~/sklearn_igd_data``. A leading
    ``~`` is expanded to the user's home folder.

    Parameters
    ----------
    data_home : str, path-like or None, default=None
        The data folder. If None, ``$SKLEARN_IGD_DATA`` or ``~/sklearn_igd_data``.

    Returns
    -------
    data_home : str
        The path of the data folder (which exists).

    See Also
    --------
    sklearn.datasets.get_data_home : The same for scikit-learn's datasets.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_igd.datasets import get_data_home
    >>> tmp = tempfile.TemporaryDirectory()
    >>> home = get_data_home(os.path.join(tmp.name, "igd_data"))
    >>> os.path.isdir(home), os.path.basename(home)
    (True, 'igd_data')
    >>> tmp.cleanup()
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV) or DEFAULT_DATA_HOME
    data_home = os.path.expanduser(os.fspath(data_home))
    os.makedirs(data_home, exist_ok=True)
    return data_home


class RemoteFileMetadata(NamedTuple):
    """A file to download: its local name, its URL and its published checksum.

    Parameters
    ----------
    filename : str
        The name of the downloaded file in the destination folder.
    url : str
        Where to download it from.
    checksum : str
        Its expected hexadecimal digest.
    algorithm : str, default="sha256"
        The :mod:`hashlib` algorithm of ``checksum``, e.g. ``"sha256"`` or ``"md5"`` (for
        datasets that only publish MD5 sums).

    Examples
    --------
    >>> from sklearn_igd.datasets._base import RemoteFileMetadata
    >>> remote = RemoteFileMetadata("a.gz", "https://example.org/a.gz", "0" * 64)
    >>> remote.algorithm
    'sha256'
    """

    filename: str
    url: str
    checksum: str
    algorithm: str = "sha256"


def _fetch_url(url, filename):
    """Download ``url`` into the file ``filename`` (overwritten)."""
    from urllib.request import urlopen

    with urlopen(url, timeout=60) as response, open(filename, "wb") as f:
        shutil.copyfileobj(response, f, 1 << 20)


def _file_checksum(filename, algorithm="sha256"):
    """The hexadecimal ``algorithm`` digest of the file ``filename``."""
    digest = hashlib.new(algorithm, usedforsecurity=False)
    with open(filename, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_remote(remote, dirname):
    """Download the file of ``remote`` into the folder ``dirname`` and check its checksum.

    The file is written to a temporary file in ``dirname``, checked against
    ``remote.checksum`` and only then renamed to ``remote.filename``, so that an
    interrupted or corrupted download never leaves a file, partial or whole, under the
    final name (nor a temporary file).

    Parameters
    ----------
    remote : RemoteFileMetadata
        The file to download.
    dirname : str or path-like
        The destination folder, created if needed.

    Returns
    -------
    path : str
        The path of the downloaded file.

    Raises
    ------
    OSError
        If the download fails; the message names the URL and the folder.
    ValueError
        If the downloaded file has the wrong checksum; the message names the URL, the
        expected and the received checksums.
    """
    dirname = os.fspath(dirname)
    os.makedirs(dirname, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part", dir=dirname)
    os.close(fd)
    try:
        try:
            _fetch_url(remote.url, tmp)
        except OSError as exc:
            raise OSError(
                f"Could not download {remote.url} into {dirname!r}: {exc}. Check the "
                f"network connection, or get the file another way."
            ) from exc
        got = _file_checksum(tmp, remote.algorithm)
        if got != remote.checksum:
            raise ValueError(
                f"The file downloaded from {remote.url} has the wrong "
                f"{remote.algorithm.upper()} checksum: expected {remote.checksum}, got "
                f"{got}. It was deleted; try again later."
            )
        path = os.path.join(dirname, remote.filename)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


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
