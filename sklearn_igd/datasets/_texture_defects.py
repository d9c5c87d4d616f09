"""Synthetic defects, with exact masks, on real texture photographs (needs scikit-image)."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._base import _load_descr

__all__ = ["make_texture_defects"]


_TEXTURES = ("brick", "grass", "gravel")
_DEFECT_TYPES = ("scratch", "crack", "stain", "hole", "patch", "color")
_TEXTURE_MIN_SIZE = 16
_TEXTURE_MAX_SIZE = 256  # half the height of the 512 x 512 photographs
_DEFECT_MARGIN = 2  # pixels left free between a defect and the crop border
_DEFECT_MAX_TRIES = 100


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


def _check_photo(photo):
    """``photo`` as a 2-D uint8 array of grey levels (its size: :func:`_check_split`)."""
    photo = np.asarray(photo)
    if photo.ndim != 2:
        raise ValueError(
            "texture must be one of 'brick', 'grass', 'gravel' or a grayscale "
            "photograph as a 2-D array of shape (height, width); got an array of "
            f"shape {photo.shape}. Convert a colour photograph to grey first, e.g. "
            "np.rint(photo.mean(axis=2)).astype(np.uint8)."
        )
    if photo.dtype != np.uint8:
        integer = np.issubdtype(photo.dtype, np.integer)
        if not (integer and photo.size and 0 <= photo.min() and photo.max() <= 255):
            raise ValueError(
                "texture must be a photograph of grey levels 0-255, as uint8 or "
                "another integer dtype (the defects are drawn in grey levels); got "
                + (
                    f"values from {photo.min()} to {photo.max()}."
                    if integer and photo.size
                    else f"dtype {photo.dtype}."
                )
            )
        photo = photo.astype(np.uint8)  # exact: every value is in 0-255
    return photo


def _tile_grid(photo_shape, size):
    """Rows and columns of the ``2 * size`` tiles that fit in ``photo_shape``."""
    height, width = photo_shape
    return height // (2 * size), width // (2 * size)


def _check_split(photo_shape, size, split):
    """Raise a ValueError if ``split`` cannot place ``size`` crops in the photo."""
    height, width = photo_shape
    if split == "halves":
        if height < 2 * size or width < size:
            raise ValueError(
                f"texture of shape {photo_shape} is too small for size={size}: "
                f"expected a height of at least 2 * size = {2 * size} (training "
                f"crops come from the top half, test crops from the bottom half) and "
                f"a width of at least size = {size}."
            )
    else:  # "tiles"
        rows, cols = _tile_grid(photo_shape, size)
        if rows * cols < 2:
            raise ValueError(
                f"texture of shape {photo_shape} is too small for size={size} with "
                f"split='tiles': expected room for at least two tiles of 2 * size = "
                f"{2 * size} pixels (a height of {2 * size} and a width of {4 * size}, "
                f"or the other way round); got {rows} x {cols} tile(s). Use a smaller "
                f"size or split='halves'."
            )


def _crop_positions(photo_shape, size, n, part, rng, split="halves"):
    """Random top-left corners ``(row, col)`` of ``size x size`` crops.

    With ``split="halves"``, ``part="train"`` draws crops lying entirely in
    the top half of a photo of shape ``photo_shape`` and ``part="test"``
    crops lying entirely in the bottom half. With ``split="tiles"`` the
    photo is cut, from its top-left corner, into square tiles of side
    ``2 * size`` coloured like a checkerboard: training crops lie entirely
    in the tiles whose row plus column index is even, test crops in the
    others (a tile drawn uniformly, then a position inside it). Either way
    a training crop never overlaps a test crop. Returns an int array of
    shape ``(n, 2)``.
    """
    if part not in ("train", "test"):  # pragma: no cover - internal
        raise ValueError(f"part must be 'train' or 'test'; got {part!r}.")
    height, width = photo_shape
    if split == "tiles":
        tile = 2 * size
        n_rows, n_cols = _tile_grid(photo_shape, size)
        parity = 0 if part == "train" else 1
        tiles = np.array(
            [(i, j) for i in range(n_rows) for j in range(n_cols) if (i + j) % 2 == parity]
        )
        chosen = tiles[rng.randint(len(tiles), size=n)]
        offsets = rng.randint(0, tile - size + 1, size=(n, 2))
        return (chosen * tile + offsets).astype(int)
    half = height // 2
    if part == "train":
        row_lo, row_hi = 0, half - size
    else:
        row_lo, row_hi = half, height - size
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


def _check_defect_types(defect_types):
    """The list of the defect types named by ``defect_types``, without repeats."""
    if defect_types is None:
        return list(_DEFECT_TYPES)
    if isinstance(defect_types, str):
        defect_types = [defect_types]
    defect_types = list(defect_types)
    unknown = [d for d in defect_types if d not in _DEFECT_TYPES]
    if unknown or not defect_types:
        raise ValueError(
            f"defect_types must be a non-empty list of defect types among "
            f"{list(_DEFECT_TYPES)}; got defect_types={defect_types!r}"
            + (f" (unknown: {unknown!r})." if unknown else ".")
        )
    return list(dict.fromkeys(defect_types))  # drop repeats, keep order


def _generate_texture_defects(
    texture, n_train, n_test, anomaly_ratio, size, defect_types, random_state, split="halves"
):
    """Everything behind :func:`make_texture_defects`, as a dict.

    Besides the public fields, holds the clean test crops
    (``clean_test``) and the top-left corners of the training and test
    crops in the photograph (``positions_train``, ``positions_test``), for
    testing.
    """
    defect_types = _check_defect_types(defect_types)
    if isinstance(texture, str):
        photo = _load_texture(texture)
        others = [_load_texture(t) for t in _TEXTURES if t != texture]
    else:
        photo = _check_photo(texture)
        others = [_load_texture(t) for t in _TEXTURES]
        texture = None
    _check_split(photo.shape, size, split)
    rng = check_random_state(random_state)

    pos_train = _crop_positions(photo.shape, size, n_train, "train", rng, split)
    pos_test = _crop_positions(photo.shape, size, n_test, "test", rng, split)
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
        DESCR=_load_descr("texture_defects.rst"),
        clean_test=clean_test[order],
        positions_train=pos_train,
        positions_test=pos_test[order],
    )


@validate_params(
    {
        "texture": [StrOptions(set(_TEXTURES)), "array-like"],  # arrays: in the body
        "n_train": [Interval(Integral, 1, None, closed="left")],
        "n_test": [Interval(Integral, 1, None, closed="left")],
        "anomaly_ratio": [Interval(Real, 0, 1, closed="both")],
        "size": [Interval(Integral, _TEXTURE_MIN_SIZE, _TEXTURE_MAX_SIZE, closed="both")],
        "defect_types": [None, str, "array-like"],  # the names: checked in the body
        "split": [StrOptions({"halves", "tiles"})],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_texture_defects(
    texture="brick",
    *,
    n_train=200,
    n_test=100,
    anomaly_ratio=0.5,
    size=64,
    defect_types=None,
    split="halves",
    random_state=None,
):
    """Generate an MVTec-AD-style set of synthetic defects on a real texture.

    Crops of ``size x size`` pixels are cut at random positions from one of
    the grayscale texture photographs shipped with scikit-image
    (``skimage.data.brick()``, ``grass()`` or ``gravel()``, 512 x 512, no
    download), or from a grayscale photograph of your own. By default the
    training crops come from the top half of the photograph and the test
    crops from the bottom half (``split="tiles"``: from alternate squares
    of a checkerboard), so no test crop overlaps a training crop. The training
    crops are all normal; ``round(anomaly_ratio * n_test)`` of the test
    crops receive one synthetic defect each, the others stay normal. The
    test set is returned in a random order.

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
      two texture photographs (from any of the three for your own photograph);
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
    texture : {"brick", "grass", "gravel"} or array-like of shape (height, width), \
            default="brick"
        The texture photograph: one of scikit-image's, or your own grayscale
        photograph as grey levels 0-255 (uint8 or another integer dtype), at
        least ``2 * size`` pixels high and ``size`` wide (to check a
        detector's localisation on your own kind of images; a colour
        photograph must be converted to grey first).
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
    split : {"halves", "tiles"}, default="halves"
        Where the training and the test crops come from, so that they never
        overlap. ``"halves"``: the training crops from the top half of the
        photograph, the test crops from the bottom half. ``"tiles"``: the
        photograph is cut, from its top-left corner, into square tiles of
        side ``2 * size`` coloured like a checkerboard; the training crops
        lie in the tiles whose row plus column index is even, the test crops
        in the others (needs room for two tiles). Use ``"tiles"`` for a
        photograph whose content changes from top to bottom (a scene rather
        than a surface): with ``"halves"`` its normal test crops show things
        no training crop shows, and every one-class detector ranks them as
        anomalies.
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
        texture : str or None
            The texture used (None for a photograph given as an array).
        DESCR : str
            Description of the dataset.

    Raises
    ------
    ImportError
        If scikit-image is not installed.
    ValueError
        If ``texture`` or a defect type is unknown (the message lists the
        valid names), a photograph given as ``texture`` is not a 2-D array of
        integer grey levels 0-255 at least ``2 * size`` high and ``size``
        wide (with ``split="tiles"``: with room for two tiles of side
        ``2 * size``, for the three textures too), or a parameter is out of
        its range (the message gives the range and the value received).

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

    Your own photograph (here scikit-image's 512 x 512 moon surface):

    >>> from skimage.data import moon
    >>> data = make_texture_defects(moon(), n_train=20, n_test=10, random_state=0)
    >>> data.images_train.shape, data.texture is None
    ((20, 64, 64), True)

    A scene (a man with a camera on a lawn, under the sky), whose top and
    bottom halves show different things, split on a checkerboard instead:

    >>> from skimage.data import camera
    >>> data = make_texture_defects(camera(), n_train=20, n_test=10,
    ...                             split="tiles", random_state=0)
    >>> data.images_test.shape
    (10, 64, 64)
    """
    out = _generate_texture_defects(
        texture,
        n_train,
        n_test,
        anomaly_ratio,
        size,
        defect_types,
        random_state,
        split,
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
