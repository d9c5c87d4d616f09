"""Tests of the Fashion-MNIST loader: on tiny fake idx files (no network, no real data),
then on the real idx files that `make test` installs (Debian's ``dataset-fashion-mnist``, or
``$SKLEARN_IGD_DATA``), with a KD quality check on them."""

import gzip
import hashlib
import os
import shutil

import numpy as np
import pytest

import sklearn_igd.datasets._base as _base
import sklearn_igd.datasets._fashion_mnist as _fm
from sklearn_igd.datasets import fetch_fashion_mnist, load_fashion_mnist

N_TRAIN, N_TEST = 5, 3
CLASSES = [
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
]
NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
ALL_NAMES = [name for pair in NAMES.values() for name in pair]


def _fake_images(n, offset):
    """n images whose pixels are (offset + 7 * index) % 256, in C order."""
    return ((offset + 7 * np.arange(n * 28 * 28)) % 256).astype(np.uint8).reshape(n, 28, 28)


TRAIN_IMAGES = _fake_images(N_TRAIN, 0)
TEST_IMAGES = _fake_images(N_TEST, 100)
TRAIN_LABELS = np.array([9, 0, 3, 3, 7])
TEST_LABELS = np.array([1, 8, 2])


def _idx_bytes(magic, array):
    array = np.asarray(array, dtype=np.uint8)
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + array.tobytes()


def _write(folder, name, data, gz):
    os.makedirs(folder, exist_ok=True)
    full = os.path.join(folder, name + (".gz" if gz else ""))
    with (gzip.open if gz else open)(full, "wb") as f:
        f.write(data)
    return full


def _write_dataset(folder, gz=True, subsets=("train", "test")):
    folder = str(folder)
    content = {"train": (TRAIN_IMAGES, TRAIN_LABELS), "test": (TEST_IMAGES, TEST_LABELS)}
    for subset in subsets:
        images, labels = content[subset]
        img_name, lbl_name = NAMES[subset]
        _write(folder, img_name, _idx_bytes(2051, images), gz)
        _write(folder, lbl_name, _idx_bytes(2049, labels), gz)
    return folder


@pytest.fixture(autouse=True)
def _isolated(request, tmp_path, monkeypatch):
    """No SKLEARN_IGD_DATA, no home folder, no system folder, no cache, no network.

    Except for the tests of the real files (those that use the ``fmnist`` fixture).
    """
    if "fmnist" in request.fixturenames:
        return
    monkeypatch.delenv("SKLEARN_IGD_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # the default data_home is in it
    monkeypatch.setattr(_fm, "_FASHION_MNIST_SYSTEM_DIR", str(tmp_path / "no-system"))
    monkeypatch.setattr(_fm, "_FASHION_MNIST_CACHE_DIR", str(tmp_path / "no-cache"))

    def no_network(url, filename):  # pragma: no cover - only runs on a bug
        raise AssertionError(f"unexpected download of {url}")

    monkeypatch.setattr(_base, "_fetch_url", no_network)


def fetch(folder, **kwargs):
    """fetch_fashion_mnist on the files in ``folder``, without downloading."""
    return fetch_fashion_mnist(data_home=folder, download_if_missing=False, **kwargs)


#: For the tests of the deprecated load_fashion_mnist.
ignore_deprecation = pytest.mark.filterwarnings(
    "ignore:Function load_fashion_mnist is deprecated:FutureWarning"
)


# --- parsing ---------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_parses_exact_values_and_labels(tmp_path, gz):
    folder = _write_dataset(tmp_path / "fm", gz=gz)
    data = fetch(folder)
    assert sorted(data) == ["DESCR", "images", "target", "target_names"]
    assert data.images.dtype == np.uint8 and data.images.shape == (N_TRAIN, 28, 28)
    np.testing.assert_array_equal(data.images, TRAIN_IMAGES)
    assert data.target.dtype.kind == "i"
    assert data.target.tolist() == TRAIN_LABELS.tolist()
    assert list(data.target_names) == CLASSES
    assert data.target_names[data.target].tolist() == [
        "Ankle boot",
        "T-shirt/top",
        "Dress",
        "Dress",
        "Sneaker",
    ]
    assert "Fashion-MNIST" in data.DESCR
    data.images[0, 0, 0] = 1  # the arrays are writeable


@pytest.mark.parametrize(
    "subset, images, labels",
    [
        ("train", TRAIN_IMAGES, TRAIN_LABELS),
        ("test", TEST_IMAGES, TEST_LABELS),
        ("all", np.concatenate([TRAIN_IMAGES, TEST_IMAGES]), np.r_[TRAIN_LABELS, TEST_LABELS]),
    ],
)
def test_subset(tmp_path, subset, images, labels):
    folder = _write_dataset(tmp_path)
    data = fetch(folder, subset=subset)
    np.testing.assert_array_equal(data.images, images)
    assert data.target.tolist() == labels.tolist()


def test_return_X_y(tmp_path):
    folder = _write_dataset(tmp_path)
    out = fetch(folder, subset="test", return_X_y=True)
    assert isinstance(out, tuple) and len(out) == 2
    np.testing.assert_array_equal(out[0], TEST_IMAGES)
    assert out[1].tolist() == TEST_LABELS.tolist()


def test_mixed_plain_and_gz_and_gzip_detected_by_content(tmp_path):
    folder = str(tmp_path)
    _write(folder, NAMES["train"][0], _idx_bytes(2051, TRAIN_IMAGES), gz=False)
    _write(folder, NAMES["train"][1], _idx_bytes(2049, TRAIN_LABELS), gz=True)
    # Test images gzipped although the name has no .gz suffix.
    with gzip.open(os.path.join(folder, NAMES["test"][0]), "wb") as f:
        f.write(_idx_bytes(2051, TEST_IMAGES))
    _write(folder, NAMES["test"][1], _idx_bytes(2049, TEST_LABELS), gz=False)
    images, target = fetch(folder, subset="all", return_X_y=True)
    np.testing.assert_array_equal(images, np.concatenate([TRAIN_IMAGES, TEST_IMAGES]))
    assert target.tolist() == np.r_[TRAIN_LABELS, TEST_LABELS].tolist()


def test_plain_file_preferred_over_gz(tmp_path):
    folder = _write_dataset(tmp_path, gz=True)
    # A broken .gz next to a valid plain file: the plain file is read.
    _write(folder, NAMES["train"][0], _idx_bytes(2051, TRAIN_IMAGES), gz=False)
    with open(os.path.join(folder, NAMES["train"][0] + ".gz"), "wb") as f:
        f.write(b"garbage")
    np.testing.assert_array_equal(fetch(folder).images, TRAIN_IMAGES)


def test_only_the_requested_subset_is_needed(tmp_path):
    folder = _write_dataset(tmp_path, subsets=("test",))
    assert fetch(folder, subset="test").images.shape == (N_TEST, 28, 28)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        fetch(folder, subset="all")


# --- load_fashion_mnist (deprecated): where the files are looked for ---------


@ignore_deprecation
@pytest.mark.parametrize("layout", ["direct", "fashion-mnist subfolder"])
def test_lookup_via_environment_variable(tmp_path, monkeypatch, layout):
    root = tmp_path / "data-home"
    _write_dataset(root if layout == "direct" else root / "fashion-mnist")
    monkeypatch.setenv("SKLEARN_IGD_DATA", str(root))
    data = load_fashion_mnist(subset="all")
    assert data.images.shape == (N_TRAIN + N_TEST, 28, 28)
    np.testing.assert_array_equal(data.images[:N_TRAIN], TRAIN_IMAGES)


@ignore_deprecation
@pytest.mark.parametrize("sub", ["", "data"])
def test_lookup_in_system_folder(tmp_path, monkeypatch, sub):
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    _write_dataset(system / sub if sub else system)
    monkeypatch.setattr(_fm, "_FASHION_MNIST_SYSTEM_DIR", str(system))
    np.testing.assert_array_equal(load_fashion_mnist(subset="test").images, TEST_IMAGES)


@ignore_deprecation
def test_lookup_order_path_then_env_then_system(tmp_path, monkeypatch):
    system = tmp_path / "system"
    _write_dataset(system, subsets=("train",))
    monkeypatch.setattr(_fm, "_FASHION_MNIST_SYSTEM_DIR", str(system))
    env = tmp_path / "env"
    _write(str(env), NAMES["train"][0], _idx_bytes(2051, TRAIN_IMAGES[::-1]), gz=True)
    _write(str(env), NAMES["train"][1], _idx_bytes(2049, TRAIN_LABELS[::-1]), gz=True)

    # Without the environment variable: the system folder.
    assert load_fashion_mnist().target.tolist() == TRAIN_LABELS.tolist()
    # The environment variable comes first.
    monkeypatch.setenv("SKLEARN_IGD_DATA", str(env))
    assert load_fashion_mnist().target.tolist() == TRAIN_LABELS[::-1].tolist()
    # An incomplete environment folder is skipped for the next place.
    assert load_fashion_mnist(subset="train").images.shape == (N_TRAIN, 28, 28)
    os.remove(os.path.join(env, NAMES["train"][1] + ".gz"))
    assert load_fashion_mnist().target.tolist() == TRAIN_LABELS.tolist()
    # path= is used alone: no fallback when it lacks the files.
    with pytest.raises(FileNotFoundError) as excinfo:
        load_fashion_mnist(tmp_path / "empty")
    looked_in = str(excinfo.value).split("Provide them")[0]
    assert str(tmp_path / "empty") in looked_in and str(system) not in looked_in


@ignore_deprecation
def test_lookup_in_download_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    _write_dataset(cache)
    monkeypatch.setattr(_fm, "_FASHION_MNIST_CACHE_DIR", str(cache))
    assert load_fashion_mnist(subset="test").target.tolist() == TEST_LABELS.tolist()


@ignore_deprecation
def test_error_lists_every_place_and_the_remedies(tmp_path, monkeypatch):
    env = tmp_path / "env"
    env.mkdir()
    _write_dataset(env, subsets=("train",))  # only half of subset="all"
    monkeypatch.setenv("SKLEARN_IGD_DATA", str(env))
    system = str(tmp_path / "no-system")
    with pytest.raises(FileNotFoundError) as excinfo:
        load_fashion_mnist(subset="all")
    msg = str(excinfo.value)
    for place in [
        str(env),
        os.path.join(str(env), "fashion-mnist"),
        system,
        os.path.join(system, "data"),
    ]:
        assert f"  - {place} (" in msg
    assert "missing t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]" in msg
    assert "folder does not exist" in msg
    for remedy in [
        "path=",
        "SKLEARN_IGD_DATA",
        "apt-get install dataset-fashion-mnist",
        "download=True",
    ]:
        assert remedy in msg
    # The download folder named is $SKLEARN_IGD_DATA/fashion-mnist.
    assert f"into {os.path.join(str(env), 'fashion-mnist')}" in msg

    # Without the variable, the download cache is searched and named.
    monkeypatch.delenv("SKLEARN_IGD_DATA")
    with pytest.raises(FileNotFoundError) as excinfo:
        load_fashion_mnist()
    assert str(tmp_path / "no-cache") in str(excinfo.value)
    assert str(env) not in str(excinfo.value)


@ignore_deprecation
def test_invalid_subset(tmp_path):
    folder = _write_dataset(tmp_path)
    with pytest.raises(ValueError, match=r"'subset' parameter of load_fashion_mnist .*'val'"):
        load_fashion_mnist(folder, subset="val")
    with pytest.raises(ValueError, match=r"'subset' parameter of fetch_fashion_mnist .*'val'"):
        fetch(folder, subset="val")


# --- malformed files ---------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_wrong_magic_number(tmp_path, gz):
    folder = _write_dataset(tmp_path, gz=gz)
    bad = _write(folder, NAMES["train"][0], _idx_bytes(2049, TRAIN_IMAGES), gz)
    with pytest.raises(ValueError) as excinfo:
        fetch(folder)
    msg = str(excinfo.value)
    assert bad in msg and "magic number" in msg
    assert "expected 2051, got 2049" in msg

    bad = _write(folder, NAMES["test"][1], _idx_bytes(2051, TEST_LABELS), gz)
    with pytest.raises(ValueError, match="expected 2049, got 2051"):
        fetch(folder, subset="test")


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data(tmp_path, gz):
    folder = _write_dataset(tmp_path, gz=gz)
    data = _idx_bytes(2051, TRAIN_IMAGES)[:-10]
    bad = _write(folder, NAMES["train"][0], data, gz)
    with pytest.raises(ValueError) as excinfo:
        fetch(folder)
    msg = str(excinfo.value)
    assert bad in msg and "truncated" in msg
    assert f"announces {N_TRAIN} items" in msg
    assert f"{N_TRAIN * 784} bytes" in msg and f"{N_TRAIN * 784 - 10} bytes" in msg


def test_truncated_header(tmp_path):
    folder = _write_dataset(tmp_path)
    bad = _write(folder, NAMES["train"][1], _idx_bytes(2049, TRAIN_LABELS)[:6], gz=True)
    with pytest.raises(ValueError, match="expected a header of 8 bytes, got 6") as excinfo:
        fetch(folder)
    assert bad in str(excinfo.value)


def test_truncated_gzip_stream(tmp_path):
    folder = _write_dataset(tmp_path, gz=True)
    full = os.path.join(folder, NAMES["train"][0] + ".gz")
    with open(full, "rb") as f:
        raw = f.read()
    with open(full, "wb") as f:
        f.write(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated") as excinfo:
        fetch(folder)
    assert full in str(excinfo.value)


def test_too_long_file(tmp_path):
    folder = _write_dataset(tmp_path, gz=False)
    bad = _write(folder, NAMES["train"][1], _idx_bytes(2049, TRAIN_LABELS) + b"\x00", gz=False)
    with pytest.raises(ValueError, match="longer than its header announces") as excinfo:
        fetch(folder)
    assert bad in str(excinfo.value)


def test_wrong_image_shape(tmp_path):
    folder = _write_dataset(tmp_path)
    images = np.zeros((N_TRAIN, 28, 27), dtype=np.uint8)
    _write(folder, NAMES["train"][0], _idx_bytes(2051, images), gz=True)
    with pytest.raises(ValueError, match=r"expected \(28, 28\), got \(28, 27\)"):
        fetch(folder)


def test_label_image_count_mismatch(tmp_path):
    folder = _write_dataset(tmp_path)
    bad = _write(folder, NAMES["train"][1], _idx_bytes(2049, TRAIN_LABELS[:4]), gz=True)
    with pytest.raises(ValueError) as excinfo:
        fetch(folder)
    msg = str(excinfo.value)
    assert bad in msg and NAMES["train"][0] in msg
    assert f"({N_TRAIN})" in msg and "got 4 labels" in msg


def test_label_out_of_range(tmp_path):
    folder = _write_dataset(tmp_path)
    _write(folder, NAMES["test"][1], _idx_bytes(2049, [1, 10, 2]), gz=True)
    with pytest.raises(ValueError, match="expected at most 9, got 10"):
        fetch(folder, subset="test")


# --- load_fashion_mnist (deprecated): download ------------------------------


@pytest.fixture
def fake_server(tmp_path, monkeypatch):
    """Patch the one-URL fetcher to copy fake .gz files; record the URLs."""
    source = _write_dataset(tmp_path / "server", gz=True)
    fetched = []

    def copy(url, filename):
        fetched.append(url)
        shutil.copyfile(os.path.join(source, url.rsplit("/", 1)[1]), filename)

    monkeypatch.setattr(_base, "_fetch_url", copy)
    md5 = {}
    for name in ALL_NAMES:
        with open(os.path.join(source, name + ".gz"), "rb") as f:
            md5[name + ".gz"] = hashlib.md5(f.read()).hexdigest()
    return fetched, md5


@ignore_deprecation
def test_download_verifies_md5_and_caches(tmp_path, monkeypatch, fake_server):
    fetched, md5 = fake_server
    for name, value in md5.items():
        monkeypatch.setitem(_fm._FASHION_MNIST_MD5, name, value)
    cache = tmp_path / "no-cache"  # the autouse fixture's download folder
    with pytest.raises(FileNotFoundError):
        load_fashion_mnist()  # download=False never downloads
    assert fetched == []

    data = load_fashion_mnist(subset="test", download=True)
    np.testing.assert_array_equal(data.images, TEST_IMAGES)
    assert sorted(fetched) == sorted(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/" + n + ".gz"
        for n in ALL_NAMES
    )
    assert sorted(os.listdir(cache)) == sorted(n + ".gz" for n in ALL_NAMES)  # no temp file

    # Found again in the cache, without downloading (even with download=True).
    fetched.clear()
    assert load_fashion_mnist(subset="all", download=True).images.shape == (8, 28, 28)
    assert load_fashion_mnist().target.tolist() == TRAIN_LABELS.tolist()
    assert fetched == []


@ignore_deprecation
@pytest.mark.parametrize("where", ["env", "path"])
def test_download_folder_env_or_path(tmp_path, monkeypatch, fake_server, where):
    for name, value in fake_server[1].items():
        monkeypatch.setitem(_fm._FASHION_MNIST_MD5, name, value)
    if where == "env":
        monkeypatch.setenv("SKLEARN_IGD_DATA", str(tmp_path / "home"))
        target, path = tmp_path / "home" / "fashion-mnist", None
    else:
        target = path = tmp_path / "mine"
    load_fashion_mnist(path, download=True)
    assert sorted(os.listdir(target)) == sorted(n + ".gz" for n in ALL_NAMES)
    assert not (tmp_path / "no-cache").exists()


@ignore_deprecation
def test_download_wrong_checksum_leaves_no_file(tmp_path, fake_server):
    fetched, _ = fake_server  # the real MD5 sums: the fake files do not match
    target = tmp_path / "mine"
    with pytest.raises(ValueError) as excinfo:
        load_fashion_mnist(target, download=True)
    msg = str(excinfo.value)
    assert "MD5" in msg and fetched[0] in msg
    expected = _fm._FASHION_MNIST_MD5[fetched[0].rsplit("/", 1)[1]]
    assert f"expected {expected}, got " in msg
    assert len(fetched) == 1 and os.listdir(target) == []


@ignore_deprecation
def test_download_failure_leaves_no_file(tmp_path, monkeypatch):
    def fail(url, filename):
        with open(filename, "wb") as f:
            f.write(b"partial")
        raise OSError("network is unreachable")

    monkeypatch.setattr(_base, "_fetch_url", fail)
    target = tmp_path / "mine"
    with pytest.raises(OSError, match="Could not download .*network is unreachable"):
        load_fashion_mnist(target, download=True)
    assert os.listdir(target) == []


# --- fetch_fashion_mnist: where the files are looked for, download ----------------


def test_fetch_lookup_order_subfolder_then_data_home_then_system(tmp_path, monkeypatch):
    home = tmp_path / "data-home"
    system = tmp_path / "system"
    _write_dataset(system / "data", subsets=("train",))
    monkeypatch.setattr(_fm, "_FASHION_MNIST_SYSTEM_DIR", str(system))
    # Nothing in data_home: the Debian folder (its data subfolder).
    assert fetch(home).target.tolist() == TRAIN_LABELS.tolist()
    assert home.is_dir()  # created on demand, by get_data_home
    # Files directly in data_home come before the Debian folder.
    _write(str(home), NAMES["train"][0], _idx_bytes(2051, TRAIN_IMAGES[::-1]), gz=True)
    _write(str(home), NAMES["train"][1], _idx_bytes(2049, TRAIN_LABELS[::-1]), gz=True)
    assert fetch(home).target.tolist() == TRAIN_LABELS[::-1].tolist()
    # data_home/fashion-mnist, where downloads go, comes first.
    _write(
        str(home / "fashion-mnist"), NAMES["train"][0], _idx_bytes(2051, TRAIN_IMAGES), gz=False
    )
    _write(
        str(home / "fashion-mnist"), NAMES["train"][1], _idx_bytes(2049, TRAIN_LABELS), gz=False
    )
    assert fetch(home).target.tolist() == TRAIN_LABELS.tolist()
    np.testing.assert_array_equal(fetch(home).images, TRAIN_IMAGES)


@pytest.mark.parametrize("how", ["environment variable", "default"])
def test_fetch_default_data_home(tmp_path, monkeypatch, how):
    if how == "environment variable":
        monkeypatch.setenv("SKLEARN_IGD_DATA", str(tmp_path / "env"))
        folder = tmp_path / "env" / "fashion-mnist"
    else:
        folder = tmp_path / "home" / "sklearn_igd_data" / "fashion-mnist"  # $HOME is patched
    _write_dataset(folder, subsets=("test",))
    data = fetch_fashion_mnist(subset="test", download_if_missing=False)
    np.testing.assert_array_equal(data.images, TEST_IMAGES)


def test_fetch_error_lists_every_place_and_the_remedies(tmp_path):
    home = tmp_path / "data-home"
    _write_dataset(home, subsets=("train",))  # only half of subset="all"
    system = str(tmp_path / "no-system")
    with pytest.raises(FileNotFoundError) as excinfo:
        fetch(home, subset="all")
    msg = str(excinfo.value)
    places = [str(home / "fashion-mnist"), str(home), system, os.path.join(system, "data")]
    for place in places:
        assert f"  - {place} (" in msg
    assert "missing t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]" in msg
    assert "folder does not exist" in msg
    for remedy in [
        "data_home=",
        "SKLEARN_IGD_DATA",
        "apt-get install dataset-fashion-mnist",
        "download_if_missing=True",
    ]:
        assert remedy in msg
    assert f"into {home / 'fashion-mnist'}." in msg


def test_fetch_downloads_once_into_data_home(tmp_path, monkeypatch, fake_server):
    fetched, md5 = fake_server
    for name, value in md5.items():
        monkeypatch.setitem(_fm._FASHION_MNIST_MD5, name, value)
    home = tmp_path / "data-home"
    with pytest.raises(FileNotFoundError):
        fetch(home)  # download_if_missing=False never downloads
    assert fetched == []

    data = fetch_fashion_mnist(data_home=home, subset="test")  # downloads by default
    np.testing.assert_array_equal(data.images, TEST_IMAGES)
    assert sorted(fetched) == sorted(_fm._FASHION_MNIST_URL + n + ".gz" for n in ALL_NAMES)
    folder = home / "fashion-mnist"
    assert sorted(os.listdir(folder)) == sorted(n + ".gz" for n in ALL_NAMES)  # no temp file
    assert sorted(os.listdir(home)) == ["fashion-mnist"]

    fetched.clear()
    assert fetch_fashion_mnist(data_home=home, subset="all").images.shape == (8, 28, 28)
    assert fetched == []


def test_fetch_wrong_checksum_leaves_no_file(tmp_path, fake_server):
    fetched, _ = fake_server  # the real MD5 sums: the fake files do not match
    folder = tmp_path / "data-home" / "fashion-mnist"
    with pytest.raises(ValueError, match="MD5 checksum: expected") as excinfo:
        fetch_fashion_mnist(data_home=tmp_path / "data-home")
    assert fetched[0] in str(excinfo.value)
    assert len(fetched) == 1 and os.listdir(folder) == []


# --- load_fashion_mnist is a deprecated alias ------------------------------------


def test_load_fashion_mnist_is_deprecated_and_reads_the_same_data(tmp_path):
    folder = _write_dataset(tmp_path / "fm")
    expected = fetch(folder, subset="all")
    with pytest.warns(
        FutureWarning, match="load_fashion_mnist is deprecated.*fetch_fashion_mnist"
    ):
        data = load_fashion_mnist(folder, subset="all")
    assert sorted(data) == sorted(expected)
    for key in ["images", "target", "target_names"]:
        np.testing.assert_array_equal(data[key], expected[key])
    assert data.DESCR == expected.DESCR
    with pytest.warns(FutureWarning):
        images, target = load_fashion_mnist(folder, subset="test", return_X_y=True)
    np.testing.assert_array_equal(images, TEST_IMAGES)
    assert load_fashion_mnist.__name__ == "load_fashion_mnist"
    assert "deprecated" in load_fashion_mnist.__doc__


# --- the real files ------------------------------------------------------------


@pytest.fixture(scope="module")
def fmnist():
    train = fetch_fashion_mnist(subset="train", download_if_missing=False)
    test = fetch_fashion_mnist(subset="test", download_if_missing=False)
    return train, test


def test_real_files_have_the_published_shape_and_balance(fmnist):
    train, test = fmnist
    assert train.images.shape == (60000, 28, 28) and train.images.dtype == np.uint8
    assert test.images.shape == (10000, 28, 28)
    np.testing.assert_array_equal(np.bincount(train.target), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(test.target), [1000] * 10)
    assert list(train.target_names[:2]) == ["T-shirt/top", "Trouser"]
    # real pictures: the mean trouser has two bright legs with a dark gap between them
    trouser = train.images[train.target == 1].mean(0)
    assert trouser[20:27, 14].mean() < 0.25 * trouser[20:27, [11, 16]].mean()
