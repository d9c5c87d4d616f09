"""Tests of sklearn_igd.datasets._base: the data folder, checksummed downloads, descriptions."""

import functools
import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from sklearn_igd.datasets import get_data_home
from sklearn_igd.datasets._base import (
    RemoteFileMetadata,
    _fetch_remote,
    _file_checksum,
    _load_descr,
)

CONTENT = b"sklearn-igd test payload\n" * 100
SHA256 = hashlib.sha256(CONTENT).hexdigest()
MD5 = hashlib.md5(CONTENT).hexdigest()

DESCR_FILES = [
    "digits_images.rst",
    "fashion_mnist.rst",
    "mnist_5k.rst",
    "mvtec_ad.rst",
    "texture_defects.rst",
]


# --- get_data_home -------------------------------------------------------------------


def test_get_data_home_argument_is_created(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_IGD_DATA", str(tmp_path / "env"))
    home = tmp_path / "a" / "b"
    assert get_data_home(home) == str(home)  # path-like accepted, returned as str
    assert home.is_dir()
    assert get_data_home(str(home)) == str(home)  # exists already: fine
    assert not (tmp_path / "env").exists()  # the argument wins over the variable


def test_get_data_home_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_IGD_DATA", str(tmp_path / "env"))
    assert get_data_home() == str(tmp_path / "env")
    assert (tmp_path / "env").is_dir()


@pytest.mark.parametrize("env", [None, ""])
def test_get_data_home_default_in_home_folder(tmp_path, monkeypatch, env):
    monkeypatch.setenv("HOME", str(tmp_path))
    if env is None:
        monkeypatch.delenv("SKLEARN_IGD_DATA", raising=False)
    else:
        monkeypatch.setenv("SKLEARN_IGD_DATA", env)  # empty: as if not set
    expected = tmp_path / "sklearn_igd_data"
    assert get_data_home() == str(expected)
    assert expected.is_dir()


def test_get_data_home_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home(os.path.join("~", "data")) == str(tmp_path / "data")
    monkeypatch.setenv("SKLEARN_IGD_DATA", os.path.join("~", "env-data"))
    assert get_data_home() == str(tmp_path / "env-data")


def test_get_data_home_invalid():
    with pytest.raises(ValueError, match=r"'data_home' parameter of get_data_home .*Got 3"):
        get_data_home(3)


# --- checksummed downloads ---------------------------------------------------------------


@pytest.fixture
def served_file(tmp_path):
    """A file with CONTENT and its file:// URL."""
    source = tmp_path / "server" / "payload.bin"
    source.parent.mkdir()
    source.write_bytes(CONTENT)
    return source, source.as_uri()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # no request log on stderr
        pass


@pytest.fixture
def http_url(served_file):
    """The URL of the same file served by a local HTTP server on 127.0.0.1."""
    source, _ = served_file
    handler = functools.partial(_QuietHandler, directory=str(source.parent))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{source.name}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_remote_file_metadata():
    remote = RemoteFileMetadata("a.bin", "https://example.org/a.bin", SHA256)
    assert remote.algorithm == "sha256"
    assert remote == ("a.bin", "https://example.org/a.bin", SHA256, "sha256")
    assert RemoteFileMetadata("a", "u", MD5, "md5").algorithm == "md5"


def test_file_checksum(served_file):
    source, _ = served_file
    assert _file_checksum(source) == SHA256
    assert _file_checksum(source, "md5") == MD5


@pytest.mark.parametrize("algorithm, checksum", [("sha256", SHA256), ("md5", MD5)])
def test_fetch_remote_file_url_right_checksum(tmp_path, served_file, algorithm, checksum):
    _, url = served_file
    dest = tmp_path / "dest" / "sub"  # created on demand
    path = _fetch_remote(RemoteFileMetadata("copy.bin", url, checksum, algorithm), dest)
    assert path == str(dest / "copy.bin")
    assert Path(path).read_bytes() == CONTENT
    assert os.listdir(dest) == ["copy.bin"]  # no temporary file left


def test_fetch_remote_http_right_checksum(tmp_path, http_url):
    path = _fetch_remote(RemoteFileMetadata("copy.bin", http_url, SHA256), tmp_path / "dest")
    assert Path(path).read_bytes() == CONTENT
    assert os.listdir(tmp_path / "dest") == ["copy.bin"]


@pytest.mark.parametrize("algorithm", ["sha256", "md5"])
def test_fetch_remote_wrong_checksum_leaves_no_file(tmp_path, served_file, algorithm):
    _, url = served_file
    wrong = "0" * len(SHA256 if algorithm == "sha256" else MD5)
    got = SHA256 if algorithm == "sha256" else MD5
    dest = tmp_path / "dest"
    with pytest.raises(ValueError) as excinfo:
        _fetch_remote(RemoteFileMetadata("copy.bin", url, wrong, algorithm), dest)
    msg = str(excinfo.value)
    assert url in msg and f"{algorithm.upper()} checksum" in msg
    assert f"expected {wrong}, got {got}" in msg
    assert os.listdir(dest) == []  # neither the file nor a temporary file


def test_fetch_remote_http_wrong_checksum_leaves_no_file(tmp_path, http_url):
    with pytest.raises(ValueError, match="wrong SHA256 checksum"):
        _fetch_remote(RemoteFileMetadata("copy.bin", http_url, "f" * 64), tmp_path / "dest")
    assert os.listdir(tmp_path / "dest") == []


def test_fetch_remote_wrong_checksum_keeps_an_existing_file(tmp_path, served_file):
    _, url = served_file
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "copy.bin").write_bytes(b"older copy")
    with pytest.raises(ValueError):
        _fetch_remote(RemoteFileMetadata("copy.bin", url, "0" * 64), dest)
    assert os.listdir(dest) == ["copy.bin"]
    assert (dest / "copy.bin").read_bytes() == b"older copy"


def test_fetch_remote_failure_leaves_no_file(tmp_path, http_url):
    missing = (tmp_path / "server" / "missing.bin").as_uri()
    with pytest.raises(OSError, match="Could not download .*missing.bin"):
        _fetch_remote(RemoteFileMetadata("copy.bin", missing, SHA256), tmp_path / "dest")
    assert os.listdir(tmp_path / "dest") == []
    http_missing = http_url.replace("payload.bin", "missing.bin")
    with pytest.raises(OSError, match="Could not download .*404"):
        _fetch_remote(RemoteFileMetadata("copy.bin", http_missing, SHA256), tmp_path / "dest")
    assert os.listdir(tmp_path / "dest") == []


# --- descriptions -------------------------------------------------------------------------


def test_descr_files_are_package_data():
    import sklearn_igd.datasets

    folder = Path(sklearn_igd.datasets.__file__).parent / "descr"
    assert sorted(p.name for p in folder.glob("*.rst")) == DESCR_FILES


@pytest.mark.parametrize("name", DESCR_FILES)
def test_load_descr(name):
    text = _load_descr(name)
    assert text.startswith(f".. _{name.removesuffix('.rst')}_dataset:\n")
    assert "**Data Set Characteristics:**" in text and text.endswith("\n")
