"""Fashion-MNIST: Zalando's 28x28 article images, read from idx files (local or downloaded)."""

import gzip
import os

import numpy as np
from sklearn.utils import Bunch, deprecated
from sklearn.utils._param_validation import StrOptions, validate_params

from ._base import DATA_HOME_ENV, RemoteFileMetadata, _fetch_remote, _load_descr, get_data_home

__all__ = ["fetch_fashion_mnist", "load_fashion_mnist"]

_FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

# (images, labels) file names of each subset, without the optional ".gz".
_FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# Where the Debian package ``dataset-fashion-mnist`` installs the four
# gzipped idx files.
_FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

# The subfolder of the data folder (get_data_home) that fetch_fashion_mnist uses.
_FASHION_MNIST_SUBFOLDER = "fashion-mnist"

# The download folder of the deprecated load_fashion_mnist when SKLEARN_IGD_DATA is not set
# ("~" is expanded).
_FASHION_MNIST_CACHE_DIR = os.path.join("~", ".cache", "sklearn_igd", "fashion-mnist")

# The dataset's official host and the MD5 sums of its gzipped files, as
# published by the Fashion-MNIST project.
_FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
_FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}

_IDX_IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension
_FASHION_MNIST_SHAPE = (28, 28)


def _open_maybe_gzip(filename):
    """Open ``filename`` for binary reading, gunzipping it if it is gzipped.

    The gzip magic bytes decide, not the file name, so that a gzipped file
    without the ``.gz`` suffix (or the reverse) is still read correctly.
    """
    with open(filename, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    if gzipped:
        return gzip.open(filename, "rb")
    return open(filename, "rb")


def _read_exactly(f, out):
    """Fill the contiguous array ``out`` from ``f``; return the bytes read."""
    view = memoryview(out).cast("B")
    pos = 0
    while pos < len(view):
        got = f.readinto(view[pos:])
        if not got:
            break
        pos += got
    return pos


def _read_idx(filename, magic, item_shape):
    """Read an idx file of unsigned bytes into a uint8 array.

    ``magic`` is the expected magic number (2051 for images, 2049 for
    labels) and ``item_shape`` the expected shape of one item (``(28, 28)``
    for images, ``()`` for labels). The header must match them, and the
    file must hold exactly the number of items that its header announces.
    Raises ValueError, naming the file, the expected and the received
    values, otherwise.
    """
    ndim = 1 + len(item_shape)
    header_size = 4 * (1 + ndim)
    try:
        with _open_maybe_gzip(filename) as f:
            header = f.read(header_size)
            if len(header) < header_size:
                raise ValueError(
                    f"The idx file {filename!r} is truncated: expected a "
                    f"header of {header_size} bytes, got {len(header)} bytes."
                )
            values = np.frombuffer(header, dtype=">u4").astype(np.int64)
            if values[0] != magic:
                raise ValueError(
                    f"The idx file {filename!r} has the wrong magic number: "
                    f"expected {magic}, got {int(values[0])}."
                )
            n_items = int(values[1])
            got_shape = tuple(int(v) for v in values[2:])
            if got_shape != tuple(item_shape):
                raise ValueError(
                    f"The idx file {filename!r} has items of the wrong "
                    f"shape: expected {tuple(item_shape)}, got {got_shape}."
                )
            out = np.empty((n_items,) + tuple(item_shape), dtype=np.uint8)
            n_read = _read_exactly(f, out)
            if n_read < out.nbytes:
                raise ValueError(
                    f"The idx file {filename!r} is truncated: its header "
                    f"announces {n_items} items, i.e. {out.nbytes} bytes of "
                    f"data, but it only holds {n_read} bytes of data."
                )
            if f.read(1):
                raise ValueError(
                    f"The idx file {filename!r} is longer than its header "
                    f"announces: expected {out.nbytes} bytes of data "
                    f"({n_items} items), got more."
                )
    except (EOFError, gzip.BadGzipFile) as exc:
        raise ValueError(
            f"The idx file {filename!r} is not a valid gzip file or is truncated: {exc}"
        ) from exc
    return out


def _read_fashion_mnist_subset(images_file, labels_file):
    images = _read_idx(images_file, _IDX_IMAGES_MAGIC, _FASHION_MNIST_SHAPE)
    labels = _read_idx(labels_file, _IDX_LABELS_MAGIC, ())
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"The Fashion-MNIST files {images_file!r} and {labels_file!r} "
            f"disagree: expected as many labels as images "
            f"({images.shape[0]}), got {labels.shape[0]} labels."
        )
    n_classes = len(_FASHION_MNIST_CLASSES)
    if labels.size and labels.max() >= n_classes:
        raise ValueError(
            f"The Fashion-MNIST labels file {labels_file!r} holds labels "
            f"outside 0..{n_classes - 1}: expected at most {n_classes - 1}, "
            f"got {int(labels.max())}."
        )
    return images, labels.astype(int)


def _fashion_mnist_file(folder, name):
    """The path of ``name`` or ``name + ".gz"`` in ``folder``, or None.

    The uncompressed file is preferred when both exist.
    """
    for candidate in (name, name + ".gz"):
        full = os.path.join(folder, candidate)
        if os.path.isfile(full):
            return full
    return None


def _fashion_mnist_places(path):
    """The ``(folder, how)`` pairs to search and the download folder (load_fashion_mnist)."""
    if path is not None:
        folder = os.path.expanduser(os.fspath(path))
        return [(folder, "path=")], folder
    places = []
    env = os.environ.get(DATA_HOME_ENV, "")
    if env:
        env = os.path.expanduser(env)
        env_sub = os.path.join(env, _FASHION_MNIST_SUBFOLDER)
        places += [(env, DATA_HOME_ENV), (env_sub, DATA_HOME_ENV)]
        download_dir = env_sub
    else:
        download_dir = os.path.expanduser(_FASHION_MNIST_CACHE_DIR)
    system = _FASHION_MNIST_SYSTEM_DIR
    places += [
        (system, "Debian package dataset-fashion-mnist"),
        (os.path.join(system, "data"), "Debian package dataset-fashion-mnist"),
    ]
    if not env:
        places.append((download_dir, "download cache"))
    return places, download_dir


def _find_fashion_mnist(places, names):
    """The first folder of ``places`` holding every file of ``names``.

    Returns ``(files, report)``: ``files`` maps each name to its full path
    (None if no folder has them all) and ``report`` describes each folder
    searched, for the error message.
    """
    report = []
    for folder, how in places:
        found = {name: _fashion_mnist_file(folder, name) for name in names}
        missing = [name for name, full in found.items() if full is None]
        if not missing:
            return found, report
        if not os.path.isdir(folder):
            state = "folder does not exist"
        else:
            state = "missing " + ", ".join(f"{m}[.gz]" for m in missing)
        report.append(f"  - {folder} ({how}: {state})")
    return None, report


def _fashion_mnist_remotes():
    """The four gzipped files on the official host, with their published MD5 sums."""
    return [
        RemoteFileMetadata(gz, _FASHION_MNIST_URL + gz, _FASHION_MNIST_MD5[gz], "md5")
        for gz in (name + ".gz" for names in _FASHION_MNIST_FILES.values() for name in names)
    ]


def _download_fashion_mnist(folder):
    """Download the gzipped Fashion-MNIST files missing from ``folder``.

    Each file is checked against the MD5 sum published by the Fashion-MNIST project and
    written atomically (see :func:`~sklearn_igd.datasets._base._fetch_remote`).
    """
    for remote in _fashion_mnist_remotes():
        if _fashion_mnist_file(folder, remote.filename.removesuffix(".gz")) is None:
            _fetch_remote(remote, folder)


def _load_fashion_mnist(places, download_dir, subset, download, return_X_y, remedies):
    """Find (or download), read and return the files of ``subset``.

    ``places`` are the ``(folder, how)`` pairs searched in order, ``download_dir`` the
    folder that ``download=True`` fills, and ``remedies`` the end of the error message
    raised when the files are not found.
    """
    subsets = ["train", "test"] if subset == "all" else [subset]
    names = [name for s in subsets for name in _FASHION_MNIST_FILES[s]]

    files, report = _find_fashion_mnist(places, names)
    if files is None and download:
        _download_fashion_mnist(download_dir)
        files, _ = _find_fashion_mnist([(download_dir, "download")], names)
    if files is None:
        wanted = ", ".join(f"{name}[.gz]" for name in names)
        raise FileNotFoundError(
            f"Fashion-MNIST files for subset={subset!r} ({wanted}) not found. Looked in:\n"
            + "\n".join(report)
            + "\nProvide them in one of these ways: "
            + remedies
        )

    parts = [
        _read_fashion_mnist_subset(*(files[name] for name in pair))
        for pair in (_FASHION_MNIST_FILES[s] for s in subsets)
    ]
    if len(parts) == 1:
        images, target = parts[0]
    else:
        images = np.concatenate([p[0] for p in parts])
        target = np.concatenate([p[1] for p in parts])
    if return_X_y:
        return images, target
    return Bunch(
        images=images,
        target=target,
        target_names=np.asarray(_FASHION_MNIST_CLASSES),
        DESCR=_load_descr("fashion_mnist.rst"),
    )


def _debian_places():
    system = _FASHION_MNIST_SYSTEM_DIR
    how = "Debian package dataset-fashion-mnist"
    return [(system, how), (os.path.join(system, "data"), how)]


@validate_params(
    {
        "data_home": [str, os.PathLike, None],
        "subset": [StrOptions({"train", "test", "all"})],
        "download_if_missing": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def fetch_fashion_mnist(
    *, data_home=None, subset="train", download_if_missing=True, return_X_y=False
):
    """Load the Fashion-MNIST dataset (Zalando's 28x28 article images), downloading it if needed.

    The four idx files of the dataset, ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``,
    are read plain or gzipped (with a ``.gz`` suffix; the plain file is preferred when both
    exist). They are looked for, in this order:

    1. in the ``fashion-mnist`` subfolder of the data folder ``data_home`` (by default
       ``$SKLEARN_IGD_DATA``, else ``~/sklearn_igd_data``; see :func:`get_data_home`),
       where downloads go, then in ``data_home`` itself;
    2. in ``/usr/share/datasets/fashion-mnist``, where the Debian package
       ``dataset-fashion-mnist`` installs them (``apt-get install dataset-fashion-mnist``),
       then in its ``data`` subfolder.

    The first folder holding both files of each requested subset is used. If there is none
    and ``download_if_missing=True``, the four gzipped files (about 30 MB) are downloaded
    from the dataset's official host
    (http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/) into
    ``data_home/fashion-mnist``, once. Each download is checked against the MD5 sum
    published by the Fashion-MNIST project and written atomically (to a temporary file that
    is renamed once verified).

    Parameters
    ----------
    data_home : str, path-like or None, default=None
        The data folder (created if needed). If None, :func:`get_data_home` decides:
        ``$SKLEARN_IGD_DATA`` if set, else ``~/sklearn_igd_data``.
    subset : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or both (the training images
        first).
    download_if_missing : bool, default=True
        If True, download the files when they are not found (needs network access); if
        False, raise a FileNotFoundError instead.
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (n_images, 28, 28), dtype uint8
            Grayscale images, pixel values in 0..255 (60,000 for ``subset="train"``, 10,000
            for ``"test"``, 70,000 for ``"all"``).
        target : ndarray of shape (n_images,), dtype int
            Class label of each image, in 0..9.
        target_names : ndarray of shape (10,), dtype str
            The class names: ``"T-shirt/top"``, ``"Trouser"``, ``"Pullover"``, ``"Dress"``,
            ``"Coat"``, ``"Sandal"``, ``"Shirt"``, ``"Sneaker"``, ``"Bag"``,
            ``"Ankle boot"``.
        DESCR : str
            Description of the dataset.

    (images, target) : tuple of ndarrays
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If the files are not found and ``download_if_missing=False``; the message lists
        every folder searched and the ways to provide the files.
    ValueError
        If a parameter is invalid; if an idx file has the wrong magic number or item shape,
        is truncated or too long, or is a corrupted gzip file; if the images and labels
        files of a subset hold different numbers of items, or a label is above 9; or if a
        downloaded file has the wrong MD5 sum (it is then deleted). The message names the
        file, the expected and the received values.
    OSError
        If a download fails.

    See Also
    --------
    load_mnist_5k : 5,000 MNIST digits, with the same image size.
    sklearn_igd.model_selection.make_one_class : Build a one-vs-rest anomaly
        detection split.

    Notes
    -----
    The MD5 sums are only checked for downloaded files: local copies may be recompressed
    (those of the Debian package are), and are instead checked for a valid idx header and
    length.

    Examples
    --------
    Tiny idx files written on the spot stand in for the real ones:

    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> from sklearn_igd.datasets import fetch_fashion_mnist
    >>> tmp = tempfile.TemporaryDirectory()
    >>> def write_idx(name, magic, array):
    ...     header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    ...     with gzip.open(os.path.join(tmp.name, name + ".gz"), "wb") as f:
    ...         _ = f.write(header + array.astype(np.uint8).tobytes())
    >>> rng = np.random.RandomState(0)
    >>> for prefix, n in [("train", 6), ("t10k", 4)]:
    ...     write_idx(f"{prefix}-images-idx3-ubyte", 2051,
    ...               rng.randint(0, 256, size=(n, 28, 28)))
    ...     write_idx(f"{prefix}-labels-idx1-ubyte", 2049, np.arange(n) % 10)
    >>> data = fetch_fashion_mnist(data_home=tmp.name, download_if_missing=False)
    >>> data.images.shape, data.images.dtype
    ((6, 28, 28), dtype('uint8'))
    >>> data.target.tolist()
    [0, 1, 2, 3, 4, 5]
    >>> data.target_names[data.target[:3]].tolist()
    ['T-shirt/top', 'Trouser', 'Pullover']
    >>> images, target = fetch_fashion_mnist(data_home=tmp.name, subset="all",
    ...                                      return_X_y=True)
    >>> images.shape, target.tolist()
    ((10, 28, 28), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3])
    >>> tmp.cleanup()

    With the real files (from ``SKLEARN_IGD_DATA``, the Debian package, or a download):

    >>> data = fetch_fashion_mnist()  # doctest: +SKIP
    >>> data.images.shape  # doctest: +SKIP
    (60000, 28, 28)
    >>> images, target = fetch_fashion_mnist(subset="test", return_X_y=True)  # doctest: +SKIP
    >>> images.shape, np.bincount(target).tolist()[:3]  # doctest: +SKIP
    ((10000, 28, 28), [1000, 1000, 1000])
    """
    data_home = get_data_home(data_home)
    folder = os.path.join(data_home, _FASHION_MNIST_SUBFOLDER)
    places = [(folder, "data_home"), (data_home, "data_home"), *_debian_places()]
    remedies = (
        f"pass data_home=FOLDER, a folder holding them directly or in a "
        f"'{_FASHION_MNIST_SUBFOLDER}' subfolder (data_home defaults to the environment "
        f"variable {DATA_HOME_ENV}, else ~/sklearn_igd_data); install the Debian package "
        f"('apt-get install dataset-fashion-mnist', which puts them in "
        f"{_FASHION_MNIST_SYSTEM_DIR}); or pass download_if_missing=True to download them "
        f"from {_FASHION_MNIST_URL} into {folder}."
    )
    return _load_fashion_mnist(places, folder, subset, download_if_missing, return_X_y, remedies)


@deprecated(
    "use fetch_fashion_mnist instead: fetch_fashion_mnist(data_home=path, "
    "download_if_missing=download) reads the same files. load_fashion_mnist will be removed "
    "in 0.3."
)
@validate_params(
    {
        "path": [str, os.PathLike, None],
        "subset": [StrOptions({"train", "test", "all"})],
        "download": ["boolean"],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(path=None, *, subset="train", download=False, return_X_y=False):
    """Load the Fashion-MNIST dataset; deprecated, use :func:`fetch_fashion_mnist`.

    .. deprecated:: 0.1
        ``load_fashion_mnist`` is deprecated in 0.1 and will be removed in 0.3. Use
        :func:`fetch_fashion_mnist` (``data_home`` for ``path``, ``download_if_missing``
        for ``download``; note that it downloads missing files by default).

    Reads the same idx files as :func:`fetch_fashion_mnist`, with the same checks, looked
    for, in this order:

    1. in the folder ``path``, if given (and nowhere else);
    2. otherwise in the folder named by the environment variable ``SKLEARN_IGD_DATA``, if
       set, then in its ``fashion-mnist`` subfolder;
    3. in ``/usr/share/datasets/fashion-mnist`` (the Debian package
       ``dataset-fashion-mnist``), then in its ``data`` subfolder;
    4. if ``SKLEARN_IGD_DATA`` is not set, in ``~/.cache/sklearn_igd/fashion-mnist``, the
       download folder.

    If the files are not found and ``download=True``, they are downloaded (and checked)
    into ``path`` if given, else into ``$SKLEARN_IGD_DATA/fashion-mnist`` if that variable
    is set, else into ``~/.cache/sklearn_igd/fashion-mnist``.

    Parameters
    ----------
    path : str, path-like or None, default=None
        The folder holding the idx files. If None, the places above are searched.
    subset : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or both (the training images
        first).
    download : bool, default=False
        If True and the files are not found, download them (needs network access).
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch` or tuple of ndarrays
        As returned by :func:`fetch_fashion_mnist`.

    Raises
    ------
    FileNotFoundError
        If the files are not found and ``download=False``; the message lists every folder
        searched and the ways to provide the files.
    ValueError, OSError
        As raised by :func:`fetch_fashion_mnist`.

    See Also
    --------
    fetch_fashion_mnist : The replacement of this function.
    """
    places, download_dir = _fashion_mnist_places(path)
    remedies = (
        f"pass path=FOLDER, a folder holding them; set the environment variable "
        f"{DATA_HOME_ENV} to a folder holding them, directly or in a "
        f"'{_FASHION_MNIST_SUBFOLDER}' subfolder; install the Debian package "
        f"('apt-get install dataset-fashion-mnist', which puts them in "
        f"{_FASHION_MNIST_SYSTEM_DIR}); or pass download=True to download them from "
        f"{_FASHION_MNIST_URL} into {download_dir}."
    )
    return _load_fashion_mnist(places, download_dir, subset, download, return_X_y, remedies)
