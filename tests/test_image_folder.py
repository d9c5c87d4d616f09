"""Tests of the folder image loaders (list_image_files, load_images, load_image_folder,
load_mvtec_ad) on tiny fake data."""

import os
import re
import sys

import numpy as np
import pytest
from PIL import Image  # noqa: E402 - Pillow is a dependency

from sklearn_igd.datasets import (  # noqa: E402
    list_image_files,
    load_image_folder,
    load_images,
    load_mvtec_ad,
)

SIZE = 16
DEFECTS = ["crack", "crack", "good", "good", "hole"]  # sorted folders, sorted files
TEST_NAMES = ["crack/000.png", "crack/001.png", "good/000.png", "good/001.png", "hole/000.png"]


def _save(array, path, mode=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = array if isinstance(array, Image.Image) else Image.fromarray(array)
    if mode is not None:
        img = img.convert(mode)
    img.save(path)
    return path


def _make_mvtec(root, category="widget", rgb=False, seed=0):
    """Write a fake MVTec AD category; return the arrays that were written."""
    rng = np.random.RandomState(seed)
    shape = (SIZE, SIZE, 3) if rgb else (SIZE, SIZE)
    base = os.path.join(root, category)
    train = rng.randint(0, 256, size=(3,) + shape).astype(np.uint8)
    test = rng.randint(0, 256, size=(5,) + shape).astype(np.uint8)
    for i, image in enumerate(train):
        _save(image, os.path.join(base, "train", "good", f"{i:03d}.png"))
    for name, image in zip(TEST_NAMES, test):
        _save(image, os.path.join(base, "test", *name.split("/")))
    masks = np.zeros((5, SIZE, SIZE), dtype=bool)
    masks[0, 2:6, 3:9] = True  # crack/000: a rectangle
    masks[1, 10, :] = True  # crack/001: one row
    masks[1, :, 12] = True  # ... and one column
    masks[4, 7, 7] = True  # hole/000: a single pixel
    masks[4, 0, 15] = True  # ... and a corner
    for i in (0, 1, 4):
        defect, file = TEST_NAMES[i].split("/")
        stem = os.path.splitext(file)[0]
        _save(
            masks[i].astype(np.uint8) * 255,
            os.path.join(base, "ground_truth", defect, f"{stem}_mask.png"),
        )
    return train, test, masks


@pytest.fixture
def mvtec_grey(tmp_path):
    root = str(tmp_path / "mvtec")
    arrays = _make_mvtec(root, "widget")
    os.makedirs(os.path.join(root, "gadget"))  # a second (empty) category
    return root, arrays


# ----------------------------------------------------------------------------- MVTec AD


def test_mvtec_grey_shapes_labels_masks_and_values(mvtec_grey):
    root, (train, test, masks) = mvtec_grey
    data = load_mvtec_ad(root, "widget")

    assert data.images_train.shape == (3, SIZE, SIZE)
    assert data.images_test.shape == (5, SIZE, SIZE)
    assert data.images_train.dtype == np.uint8 and data.images_test.dtype == np.uint8
    np.testing.assert_array_equal(data.images_train, train)  # exact round trip
    np.testing.assert_array_equal(data.images_test, test)

    assert data.y_test.dtype.kind == "i"
    assert data.y_test.tolist() == [-1, -1, 1, 1, -1]
    assert data.defect_type.dtype.kind == "U"
    assert data.defect_type.tolist() == DEFECTS

    assert data.masks_test.shape == (5, SIZE, SIZE) and data.masks_test.dtype == bool
    np.testing.assert_array_equal(data.masks_test, masks)  # exactly the drawn pixels
    assert not data.masks_test[data.y_test == 1].any()

    rel = [
        os.path.relpath(f, os.path.join(root, "widget", "test")).replace(os.sep, "/")
        for f in data.filenames_test
    ]
    assert rel == TEST_NAMES
    assert [os.path.basename(f) for f in data.filenames_train] == ["000.png", "001.png", "002.png"]
    assert data.category == "widget"
    assert "MVTec" in data.DESCR


def test_mvtec_rgb(tmp_path):
    root = str(tmp_path)
    train, test, masks = _make_mvtec(root, "widget", rgb=True)
    data = load_mvtec_ad(root, "widget")
    assert data.images_train.shape == (3, SIZE, SIZE, 3)
    assert data.images_test.shape == (5, SIZE, SIZE, 3)
    np.testing.assert_array_equal(data.images_train, train)
    np.testing.assert_array_equal(data.images_test, test)
    assert data.masks_test.shape == (5, SIZE, SIZE)
    np.testing.assert_array_equal(data.masks_test, masks)
    # color=False converts with Pillow's luma formula
    grey = load_mvtec_ad(root, "widget", color=False)
    assert grey.images_test.shape == (5, SIZE, SIZE)
    expected = np.stack([np.asarray(Image.fromarray(a).convert("L")) for a in test])
    np.testing.assert_array_equal(grey.images_test, expected)


def test_mvtec_resize(mvtec_grey):
    root, (train, test, masks) = mvtec_grey
    data = load_mvtec_ad(root, "widget", size=8)
    assert data.images_train.shape == (3, 8, 8)
    assert data.images_test.shape == (5, 8, 8)
    assert data.masks_test.shape == (5, 8, 8) and data.masks_test.dtype == bool
    bilinear = [np.asarray(Image.fromarray(a).resize((8, 8), Image.BILINEAR)) for a in test]
    np.testing.assert_array_equal(data.images_test, np.stack(bilinear))
    nearest = [
        np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((8, 8), Image.NEAREST)) > 127
        for m in masks
    ]
    np.testing.assert_array_equal(data.masks_test, np.stack(nearest))
    assert data.masks_test[0].any() and not data.masks_test[2:4].any()

    rect = load_mvtec_ad(root, "widget", size=(8, 12))  # (H, W)
    assert rect.images_train.shape == (3, 8, 12)
    assert rect.masks_test.shape == (5, 8, 12)


def test_mvtec_colour_inferred_over_train_and_test(mvtec_grey):
    root, (train, test, _) = mvtec_grey
    # make one test image RGB: everything becomes RGB, grey images replicated
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[..., 0] = 200
    _save(rgb, os.path.join(root, "widget", "test", "good", "001.png"))
    data = load_mvtec_ad(root, "widget")
    assert data.images_train.shape == (3, SIZE, SIZE, 3)
    np.testing.assert_array_equal(data.images_train, np.repeat(train[..., None], 3, axis=3))
    np.testing.assert_array_equal(data.images_test[3], rgb)


def test_mvtec_missing_root(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        load_mvtec_ad(missing, "widget")


def test_mvtec_unknown_category_lists_available(mvtec_grey):
    root, _ = mvtec_grey
    with pytest.raises(ValueError, match=r"Unknown MVTec AD category 'bottle'") as info:
        load_mvtec_ad(root, "bottle")
    assert "['gadget', 'widget']" in str(info.value)


def test_mvtec_missing_mask(mvtec_grey):
    root, _ = mvtec_grey
    mask = os.path.join(root, "widget", "ground_truth", "hole", "000_mask.png")
    os.remove(mask)
    with pytest.raises(FileNotFoundError, match=re.escape(mask)):
        load_mvtec_ad(root, "widget")


def test_mvtec_missing_train_folder(mvtec_grey):
    root, _ = mvtec_grey
    with pytest.raises(FileNotFoundError, match="train"):
        load_mvtec_ad(root, "gadget")


def test_mvtec_mixed_sizes_and_mask_size(mvtec_grey):
    root, _ = mvtec_grey
    base = os.path.join(root, "widget")
    _save(np.zeros((8, 12), np.uint8), os.path.join(base, "test", "good", "000.png"))
    with pytest.raises(ValueError, match=r"16x16.*8x12|8x12.*16x16"):
        load_mvtec_ad(root, "widget")
    assert load_mvtec_ad(root, "widget", size=8).images_test.shape == (5, 8, 8)

    _save(np.zeros((SIZE, SIZE), np.uint8), os.path.join(base, "test", "good", "000.png"))
    _save(np.zeros((8, 8), np.uint8), os.path.join(base, "ground_truth", "hole", "000_mask.png"))
    with pytest.raises(ValueError, match="000_mask.png"):
        load_mvtec_ad(root, "widget")


# ------------------------------------------------------------------------- image folder


def test_image_folder_order_extensions_and_filters(tmp_path):
    arrays = [np.full((4, 6), v, np.uint8) for v in (10, 20, 30, 40)]
    _save(arrays[0], str(tmp_path / "a.PNG"))
    _save(arrays[1], str(tmp_path / "b.bmp"))
    _save(arrays[2], str(tmp_path / "c.TIFF"))
    _save(arrays[3], str(tmp_path / "d.tif"))
    _save(arrays[0], str(tmp_path / "sub" / "e.png"))  # subfolder: ignored
    _save(arrays[0], str(tmp_path / ".hidden.png"))  # hidden: ignored
    (tmp_path / "notes.txt").write_text("not an image")

    data = load_image_folder(tmp_path)  # path-like accepted
    assert [os.path.basename(f) for f in data.filenames] == ["a.PNG", "b.bmp", "c.TIFF", "d.tif"]
    assert data.filenames[0] == os.path.join(str(tmp_path), "a.PNG")
    assert data.images.shape == (4, 4, 6) and data.images.dtype == np.uint8
    np.testing.assert_array_equal(data.images, np.stack(arrays))

    jpg = np.full((4, 6), 128, np.uint8)  # flat image: lossless enough in JPEG
    _save(jpg, str(tmp_path / "e.JPG"))
    _save(jpg, str(tmp_path / "f.jpeg"))
    data = load_image_folder(tmp_path)
    assert len(data.filenames) == 6
    assert np.abs(data.images[4:].astype(int) - 128).max() <= 1


def test_image_folder_colour_inference(tmp_path):
    grey = np.arange(24, dtype=np.uint8).reshape(4, 6) * 10
    rgb = np.random.RandomState(0).randint(0, 256, (4, 6, 3)).astype(np.uint8)

    _save(grey, str(tmp_path / "g" / "0.png"))
    _save(grey, str(tmp_path / "g" / "1.png"), mode="1")  # 1-bit: 0 or 255
    _save(np.stack([grey, grey], axis=-1), str(tmp_path / "g" / "2.png"))  # LA
    data = load_image_folder(tmp_path / "g")
    assert data.images.shape == (3, 4, 6)
    np.testing.assert_array_equal(data.images[0], grey)
    assert set(np.unique(data.images[1]).tolist()) <= {0, 255}
    np.testing.assert_array_equal(data.images[2], grey)
    forced = load_image_folder(tmp_path / "g", color=True)
    assert forced.images.shape == (3, 4, 6, 3)
    np.testing.assert_array_equal(forced.images[0], np.repeat(grey[..., None], 3, axis=2))

    # one RGBA image makes the folder colour; alpha is dropped
    rgba = np.concatenate([rgb, np.full((4, 6, 1), 7, np.uint8)], axis=-1)
    _save(rgba, str(tmp_path / "g" / "3.png"))
    data = load_image_folder(tmp_path / "g")
    assert data.images.shape == (4, 4, 6, 3)
    np.testing.assert_array_equal(data.images[0], np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(data.images[3], rgb)
    forced = load_image_folder(tmp_path / "g", color=False)
    assert forced.images.shape == (4, 4, 6)
    np.testing.assert_array_equal(forced.images[3], np.asarray(Image.fromarray(rgb).convert("L")))

    # palette images: grey palette -> grayscale, coloured palette -> RGB
    grey_p = Image.fromarray(grey).convert("P")
    _save(grey_p, str(tmp_path / "p1" / "0.png"))
    data = load_image_folder(tmp_path / "p1")
    assert data.images.shape == (1, 4, 6)
    np.testing.assert_array_equal(data.images[0], np.asarray(grey_p.convert("L")))
    colour_p = Image.fromarray(rgb).quantize(8)
    _save(colour_p, str(tmp_path / "p2" / "0.png"))
    data = load_image_folder(tmp_path / "p2")
    assert data.images.shape == (1, 4, 6, 3)
    np.testing.assert_array_equal(data.images[0], np.asarray(colour_p.convert("RGB")))


def test_image_folder_16_bit_scaled(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    _save(values, str(tmp_path / "x.png"))
    assert Image.open(str(tmp_path / "x.png")).mode.startswith("I")
    data = load_image_folder(tmp_path)
    assert data.images.dtype == np.uint8
    assert data.images[0].tolist() == [[0, 1, 128, 255]]


def test_image_folder_resize(tmp_path):
    a = np.random.RandomState(0).randint(0, 256, (10, 20)).astype(np.uint8)
    b = np.zeros((16, 16), np.uint8)
    _save(a, str(tmp_path / "a.png"))
    _save(b, str(tmp_path / "b.png"))
    with pytest.raises(ValueError, match=r"10x20.*16x16.*size=") as info:
        load_image_folder(tmp_path)
    assert "a.png" in str(info.value) and "b.png" in str(info.value)
    data = load_image_folder(tmp_path, size=(5, 7))
    assert data.images.shape == (2, 5, 7)
    np.testing.assert_array_equal(
        data.images[0], np.asarray(Image.fromarray(a).resize((7, 5), Image.BILINEAR))
    )
    assert load_image_folder(tmp_path, size=8).images.shape == (2, 8, 8)


def test_image_folder_errors(tmp_path, monkeypatch):
    missing = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        load_image_folder(missing)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="No image files"):
        load_image_folder(tmp_path / "empty")

    _save(np.zeros((4, 4), np.uint8), str(tmp_path / "ok" / "0.png"))
    for size in (0, -3, (4,), (4, 0), 2.5, True, "8"):
        with pytest.raises(ValueError, match="size must be"):
            load_image_folder(tmp_path / "ok", size=size)
    with pytest.raises(ValueError, match=r"'color' parameter of load_image_folder .*'rgb'"):
        load_image_folder(tmp_path / "ok", color="rgb")

    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="Pillow"):
        load_image_folder(tmp_path / "ok")
    with pytest.raises(ImportError, match="Pillow"):
        load_mvtec_ad(tmp_path, "ok")
    with pytest.raises(ImportError, match="load_images requires .*Pillow"):
        load_images([str(tmp_path / "ok" / "0.png")])


# ------------------------------------------------------- list_image_files, load_images


def _folder_of_images(folder, n=5, shape=(6, 4)):
    """n grey images with pixel value 10 * i, plus files that are not read."""
    for i in range(n):
        _save(np.full(shape, 10 * i, np.uint8), os.path.join(folder, f"{i:02d}.png"))
    _save(np.zeros(shape, np.uint8), os.path.join(folder, "sub", "x.png"))
    _save(np.zeros(shape, np.uint8), os.path.join(folder, ".hidden.png"))
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("not an image")
    return folder


def test_list_image_files_same_rules_as_load_image_folder(tmp_path):
    folder = _folder_of_images(str(tmp_path / "f"))
    _save(np.zeros((6, 4), np.uint8), os.path.join(folder, "10.TIF"))
    paths = list_image_files(tmp_path / "f")  # path-like accepted
    assert paths == [
        os.path.join(folder, n)
        for n in ["00.png", "01.png", "02.png", "03.png", "04.png", "10.TIF"]
    ]
    assert paths == load_image_folder(folder).filenames
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    assert list_image_files(tmp_path / "empty") == []  # load_image_folder raises instead


def test_list_image_files_errors(tmp_path):
    missing = str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match=re.escape(missing)):
        list_image_files(missing)
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(NotADirectoryError, match="file.png"):
        list_image_files(tmp_path / "file.png")
    with pytest.raises(ValueError, match=r"'root' parameter of list_image_files .*Got 3"):
        list_image_files(3)


def test_load_images_matches_load_image_folder(tmp_path):
    folder = _folder_of_images(str(tmp_path))
    paths = list_image_files(folder)
    for kwargs in [{}, {"size": 3}, {"size": (2, 5), "color": True}, {"color": False}]:
        expected = load_image_folder(folder, **kwargs).images
        images = load_images(paths, **kwargs)
        assert images.dtype == np.uint8
        np.testing.assert_array_equal(images, expected)
    # any order, path-like, repeats
    images = load_images([tmp_path / "03.png", paths[1], paths[1]])
    assert images[:, 0, 0].tolist() == [30, 10, 10]


def test_load_images_in_batches(tmp_path):
    folder = _folder_of_images(str(tmp_path))
    grey = np.zeros((6, 4), np.uint8)
    _save(np.stack([grey, grey + 99, grey], axis=-1), os.path.join(folder, "05.png"))  # RGB
    paths = list_image_files(folder)
    whole = load_image_folder(folder, color=True).images
    batches = [load_images(paths[i : i + 2], color=True) for i in range(0, len(paths), 2)]
    np.testing.assert_array_equal(np.concatenate(batches), whole)
    # color=None decides per batch: the first batch has no colour image
    assert load_images(paths[:2]).shape == (2, 6, 4)
    assert load_images(paths[4:]).shape == (2, 6, 4, 3)


def test_load_images_errors(tmp_path):
    folder = _folder_of_images(str(tmp_path))
    paths = list_image_files(folder)
    _save(np.zeros((8, 12), np.uint8), os.path.join(folder, "big.png"))
    with pytest.raises(ValueError, match=r"6x4.*8x12.*size=") as info:
        load_images(paths + [os.path.join(folder, "big.png")])
    assert "big.png" in str(info.value)
    assert load_images([os.path.join(folder, "big.png"), paths[0]], size=4).shape == (2, 4, 4)
    with pytest.raises(ValueError, match="at least one image file"):
        load_images([])
    for size in (0, -3, (4,), (4, 0), 2.5, True, "8"):
        with pytest.raises(ValueError, match="size must be"):
            load_images(paths, size=size)
    with pytest.raises(ValueError, match=r"'color' parameter of load_images .*'rgb'"):
        load_images(paths, color="rgb")
    with pytest.raises(ValueError, match=r"'paths' parameter of load_images"):
        load_images(paths[0])  # a single path, not a list
    missing = os.path.join(folder, "missing.png")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_images([paths[0], missing])
