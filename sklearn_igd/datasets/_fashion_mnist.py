"""Fashion-MNIST: Zalando's 28x28 article images, read from idx files (local or downloaded)."""

import gzip
import hashlib
import os
import shutil
import tempfile

import numpy as np
from sklearn.utils import Bunch

from ._base import _load_descr

__all__ = ["load_fashion_mnist"]

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

# The environment variable naming sklearn-igd's data folder.
_DATA_ENV = "SKLEARN_IGD_DATA"

# Where the Debian package ``dataset-fashion-mnist`` installs the four
# gzipped idx files.
_FASHION_MNIST_SYSTEM_DIR = "/usr/share/datasets/fashion-mnist"

# Download folder when SKLEARN_IGD_DATA is not set ("~" is expanded).
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
    """The ``(folder, how)`` pairs to search and the download folder."""
    if path is not None:
        folder = os.path.expanduser(os.fspath(path))
        return [(folder, "path=")], folder
    places = []
    env = os.environ.get(_DATA_ENV, "")
    if env:
        env = os.path.expanduser(env)
        env_sub = os.path.join(env, "fashion-mnist")
        places += [(env, _DATA_ENV), (env_sub, _DATA_ENV)]
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


def _fetch_url(url, filename):
    """Download ``url`` into the file ``filename`` (overwritten)."""
    from urllib.request import urlopen

    with urlopen(url, timeout=60) as response, open(filename, "wb") as f:
        shutil.copyfileobj(response, f, 1 << 20)


def _md5(filename):
    digest = hashlib.md5(usedforsecurity=False)
    with open(filename, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_fashion_mnist(folder):
    """Download the four gzipped Fashion-MNIST files missing from ``folder``.

    Each file is written to a temporary file in ``folder``, checked against
    the published MD5 sum and only then renamed to its final name, so that
    an interrupted or corrupted download never leaves a partial file under
    the final name.
    """
    os.makedirs(folder, exist_ok=True)
    for names in _FASHION_MNIST_FILES.values():
        for name in names:
            if _fashion_mnist_file(folder, name) is not None:
                continue
            gz_name = name + ".gz"
            url = _FASHION_MNIST_URL + gz_name
            fd, tmp = tempfile.mkstemp(prefix=f".{gz_name}.", suffix=".part", dir=folder)
            os.close(fd)
            try:
                try:
                    _fetch_url(url, tmp)
                except OSError as exc:
                    raise OSError(
                        f"Could not download {url} into {folder!r}: {exc}. "
                        f"Check the network connection, or get the files "
                        f"another way (see load_fashion_mnist's "
                        f"documentation)."
                    ) from exc
                expected = _FASHION_MNIST_MD5[gz_name]
                got = _md5(tmp)
                if got != expected:
                    raise ValueError(
                        f"The file downloaded from {url} has the wrong MD5 "
                        f"checksum: expected {expected}, got {got}. It was "
                        f"deleted; try again later."
                    )
                os.replace(tmp, os.path.join(folder, gz_name))
            except BaseException:
                if os.path.exists(tmp):
                    os.remove(tmp)
                raise


def load_fashion_mnist(path=None, *, subset="train", download=False, return_X_y=False):
    """Load the Fashion-MNIST dataset (Zalando's 28x28 article images).

    The four idx files of the dataset, ``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and
    ``t10k-labels-idx1-ubyte``, are read plain or gzipped (with a ``.gz``
    suffix; the plain file is preferred when both exist). They are looked
    for, in this order:

    1. in the folder ``path``, if given (and nowhere else);
    2. otherwise in the folder named by the environment variable
       ``SKLEARN_IGD_DATA``, if set, then in its ``fashion-mnist``
       subfolder;
    3. in ``/usr/share/datasets/fashion-mnist``, where the Debian package
       ``dataset-fashion-mnist`` installs them
       (``apt-get install dataset-fashion-mnist``), then in its ``data``
       subfolder;
    4. if ``SKLEARN_IGD_DATA`` is not set, in
       ``~/.cache/sklearn_igd/fashion-mnist``, the download folder.

    The first folder holding both files of each requested subset is used.
    If there is none and ``download=True``, the four gzipped files (about
    30 MB) are downloaded from the dataset's official host
    (http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/) into
    ``path`` if given, else into ``$SKLEARN_IGD_DATA/fashion-mnist`` if
    that variable is set, else into ``~/.cache/sklearn_igd/fashion-mnist``.
    Each download is checked against the MD5 sum published by the
    Fashion-MNIST project and written atomically (to a temporary file that
    is renamed once verified).

    Parameters
    ----------
    path : str, path-like or None, default=None
        The folder holding the idx files. If None, the places above are
        searched.
    subset : {"train", "test", "all"}, default="train"
        The 60,000 training images, the 10,000 test images, or both (the
        training images first).
    download : bool, default=False
        If True and the files are not found, download them (needs network
        access).
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (n_images, 28, 28), dtype uint8
            Grayscale images, pixel values in 0..255 (60,000 for
            ``subset="train"``, 10,000 for ``"test"``, 70,000 for
            ``"all"``).
        target : ndarray of shape (n_images,), dtype int
            Class label of each image, in 0..9.
        target_names : ndarray of shape (10,), dtype str
            The class names: ``"T-shirt/top"``, ``"Trouser"``,
            ``"Pullover"``, ``"Dress"``, ``"Coat"``, ``"Sandal"``,
            ``"Shirt"``, ``"Sneaker"``, ``"Bag"``, ``"Ankle boot"``.
        DESCR : str
            Description of the dataset.

    (images, target) : tuple of ndarrays
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        If the files are not found and ``download=False``; the message
        lists every folder searched and the ways to provide the files.
    ValueError
        If ``subset`` is invalid; if an idx file has the wrong magic number
        or item shape, is truncated or too long, or is a corrupted gzip
        file; if the images and labels files of a subset hold different
        numbers of items, or a label is above 9; or if a downloaded file
        has the wrong MD5 sum (it is then deleted). The message names the
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
    The MD5 sums are only checked for downloaded files: local copies may be
    recompressed (those of the Debian package are), and are instead checked
    for a valid idx header and length.

    Examples
    --------
    Tiny idx files written on the spot stand in for the real ones:

    >>> import gzip, os, tempfile
    >>> import numpy as np
    >>> from sklearn_igd.datasets import load_fashion_mnist
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
    >>> data = load_fashion_mnist(tmp.name)
    >>> data.images.shape, data.images.dtype
    ((6, 28, 28), dtype('uint8'))
    >>> data.target.tolist()
    [0, 1, 2, 3, 4, 5]
    >>> data.target_names[data.target[:3]].tolist()
    ['T-shirt/top', 'Trouser', 'Pullover']
    >>> images, target = load_fashion_mnist(tmp.name, subset="all",
    ...                                     return_X_y=True)
    >>> images.shape, target.tolist()
    ((10, 28, 28), [0, 1, 2, 3, 4, 5, 0, 1, 2, 3])
    >>> tmp.cleanup()

    With the real files (from the Debian package, ``SKLEARN_IGD_DATA``, or
    a download):

    >>> data = load_fashion_mnist()  # doctest: +SKIP
    >>> data.images.shape  # doctest: +SKIP
    (60000, 28, 28)
    >>> images, target = load_fashion_mnist(
    ...     subset="test", download=True, return_X_y=True)  # doctest: +SKIP
    >>> images.shape, np.bincount(target).tolist()[:3]  # doctest: +SKIP
    ((10000, 28, 28), [1000, 1000, 1000])
    """
    if not isinstance(subset, str) or subset not in ("train", "test", "all"):
        raise ValueError(f"subset must be one of 'train', 'test' or 'all'; got subset={subset!r}.")
    subsets = ["train", "test"] if subset == "all" else [subset]
    names = [name for s in subsets for name in _FASHION_MNIST_FILES[s]]

    places, download_dir = _fashion_mnist_places(path)
    files, report = _find_fashion_mnist(places, names)
    if files is None and download:
        _download_fashion_mnist(download_dir)
        files, _ = _find_fashion_mnist([(download_dir, "download")], names)
    if files is None:
        wanted = ", ".join(f"{name}[.gz]" for name in names)
        raise FileNotFoundError(
            f"Fashion-MNIST files for subset={subset!r} ({wanted}) not "
            f"found. Looked in:\n" + "\n".join(report) + "\n"
            f"Provide them in one of these ways: pass path=FOLDER, a folder "
            f"holding them; set the environment variable {_DATA_ENV} to a "
            f"folder holding them, directly or in a 'fashion-mnist' "
            f"subfolder; install the Debian package "
            f"('apt-get install dataset-fashion-mnist', which puts them in "
            f"{_FASHION_MNIST_SYSTEM_DIR}); or pass download=True to "
            f"download them from {_FASHION_MNIST_URL} into {download_dir}."
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
