"""Images stored as files in folders: any folder, or the MVTec AD layout (needs Pillow)."""

import numbers
import os

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

from ._base import _load_descr

__all__ = ["list_image_files", "load_images", "load_image_folder", "load_mvtec_ad"]


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


_IMAGE_EXTENSIONS = (".bmp", ".jpeg", ".jpg", ".png", ".tif", ".tiff")


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


@validate_params({"root": [str, os.PathLike]}, prefer_skip_nested_validation=True)
def list_image_files(root):
    """Return the sorted paths of the image files in a folder.

    The files with extension ``.png``, ``.jpg``, ``.jpeg``, ``.bmp``, ``.tif`` or ``.tiff``
    (case-insensitive) directly in ``root``, in the lexicographic order of their file names
    (e.g. ``"10.png"`` before ``"2.png"``). Subfolders and hidden files (names starting with
    ``"."``) are ignored. These are the files that :func:`load_image_folder` reads; with
    :func:`load_images`, a large folder can be read in batches.

    Parameters
    ----------
    root : str or path-like
        The folder.

    Returns
    -------
    paths : list of str
        The path of each image file (``root`` joined with the file name); empty if the
        folder holds no image file.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist.
    NotADirectoryError
        If ``root`` is not a folder.

    See Also
    --------
    load_images : Load a list of image files into one array.
    load_image_folder : Load every image file of a folder.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn_igd.datasets import list_image_files
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for name in ["b.png", "a.JPG", "notes.txt", ".hidden.png"]:
    ...     open(os.path.join(tmp.name, name), "wb").close()
    >>> [os.path.basename(path) for path in list_image_files(tmp.name)]
    ['a.JPG', 'b.png']
    >>> tmp.cleanup()
    """
    root = os.fspath(root)
    if not os.path.exists(root):
        raise FileNotFoundError(f"Image folder not found: {root!r}.")
    if not os.path.isdir(root):
        raise NotADirectoryError(f"Not a folder: {root!r}.")
    names = sorted(
        entry.name
        for entry in os.scandir(root)
        if not entry.name.startswith(".")
        and os.path.splitext(entry.name)[1].lower() in _IMAGE_EXTENSIONS
        and entry.is_file()
    )
    return [os.path.join(root, name) for name in names]


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


@validate_params(
    {"paths": ["array-like"], "size": "no_validation", "color": [None, "boolean"]},
    prefer_skip_nested_validation=True,
)
def load_images(paths, *, size=None, color=None):
    """Load a list of image files into one uint8 array.

    The images are decoded and converted with the rules of :func:`load_image_folder` (the
    same ``size`` and ``color`` parameters, the same errors); only the first frame of
    multi-frame files is read. With :func:`list_image_files`, a large folder can be read
    in batches of paths: pass ``size`` and ``color`` explicitly then, as with
    ``color=None`` the choice between RGB and grayscale, and with ``size=None`` the size
    check, are made over each batch.

    Requires ``Pillow`` (a dependency of sklearn-igd, imported lazily).

    Parameters
    ----------
    paths : list of str or path-like
        The image files, in the order of the returned images; at least one.
    size : int, (int, int) or None, default=None
        As in :func:`load_image_folder`.
    color : bool or None, default=None
        As in :func:`load_image_folder`.

    Returns
    -------
    images : ndarray of shape (n_images, H, W) or (n_images, H, W, 3), dtype uint8
        The images, in the order of ``paths``.

    Raises
    ------
    ImportError
        If Pillow is not installed.
    FileNotFoundError
        If a file does not exist.
    ValueError
        If ``paths`` is empty, ``size=None`` and the images do not all have the same size
        (the message lists the sizes found), or ``size``/``color`` is invalid.

    See Also
    --------
    list_image_files : The image files of a folder.
    load_image_folder : Load every image file of a folder.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from sklearn_igd.datasets import list_image_files, load_images
    >>> tmp = tempfile.TemporaryDirectory()
    >>> for i in range(5):
    ...     image = np.full((32, 48), 40 * i, dtype=np.uint8)
    ...     Image.fromarray(image).save(os.path.join(tmp.name, f"{i:03d}.png"))
    >>> paths = list_image_files(tmp.name)
    >>> for start in range(0, len(paths), 2):  # batches of two images
    ...     batch = load_images(paths[start:start + 2], size=16, color=False)
    ...     print(batch.shape, batch[:, 0, 0].tolist())
    (2, 16, 16) [0, 40]
    (2, 16, 16) [80, 120]
    (1, 16, 16) [160]
    >>> tmp.cleanup()
    """
    Image = _import_pil_image("load_images")
    size = _check_size(size)
    color = None if color is None else bool(color)
    paths = [os.fspath(path) for path in paths]
    if not paths:
        raise ValueError("paths must hold at least one image file; got an empty list.")
    return _load_images(Image, paths, size, color)


@validate_params(
    {"root": [str, os.PathLike], "size": "no_validation", "color": [None, "boolean"]},
    prefer_skip_nested_validation=True,
)
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
    list_image_files : The image files of a folder (those read here).
    load_images : Load a list of image files (e.g. a folder in batches).
    load_mvtec_ad : Load one category of the MVTec AD dataset.
    sklearn_igd.model_selection.make_one_class : Build a one-vs-rest anomaly
        detection split.

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
    _import_pil_image("load_image_folder")
    _check_size(size)  # before listing the folder
    paths = list_image_files(root)
    if not paths:
        raise FileNotFoundError(
            f"No image files ({', '.join(_IMAGE_EXTENSIONS)}) found in the folder "
            f"{os.fspath(root)!r}."
        )
    images = load_images(paths, size=size, color=color)
    return Bunch(images=images, filenames=paths)


@validate_params(
    {
        "root": [str, os.PathLike],
        "category": [str],
        "size": "no_validation",
        "color": [None, "boolean"],
    },
    prefer_skip_nested_validation=True,
)
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
    train_paths = list_image_files(train_dir)
    if not train_paths:
        raise FileNotFoundError(f"No training images found in {train_dir!r}.")

    test_dir = os.path.join(category_dir, "test")
    if not os.path.isdir(test_dir):
        raise FileNotFoundError(f"MVTec AD test folder not found: {test_dir!r}.")
    test_paths, defect_type = [], []
    for defect in _list_subfolders(test_dir):
        paths = list_image_files(os.path.join(test_dir, defect))
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

    images = load_images(train_paths + test_paths, size=size, color=color)
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
        DESCR=_load_descr("mvtec_ad.rst"),
    )
