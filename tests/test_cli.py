"""The sklearn-igd command (sklearn_igd.cli), in-process and once as a subprocess."""

import csv
import json
import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
from PIL import Image

from sklearn_igd import IGDDetector
from sklearn_igd.cli import main
from sklearn_igd.datasets import load_image_folder

FAST = [
    "--set",
    "backbone=resnet18-lite",
    "--set",
    "max_epochs=1",
    "--set",
    "batch_size=8",
    "--set",
    "pretrain=None",
    "--set",
    "local=False",
    "--set",
    "random_state=0",
]


def _write_images(folder, n=10, size=16, seed=0, prefix="img"):
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        image = (128 + 60 * np.sin((xx + i) / 2.0) + rng.normal(0, 10, (size, size))).clip(0, 255)
        Image.fromarray(image.astype(np.uint8)).save(os.path.join(folder, f"{prefix}{i:02d}.png"))
    return folder


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """A folder of normal PNGs, a test folder and a model fitted by the command."""
    root = tmp_path_factory.mktemp("cli")
    train = _write_images(str(root / "train"), n=16)
    test = _write_images(str(root / "test"), n=5, seed=1, prefix="t")
    model = str(root / "model.joblib")
    assert main(["fit", train, "-o", model, *FAST]) == 0
    return root, train, test, model


def _one_line_error(capsys, status, *words):
    out, err = capsys.readouterr()
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("sklearn-igd ")
    for word in words:
        assert word in lines[0]
    return lines[0]


def test_fit_saves_a_fitted_detector_with_the_given_parameters(fitted):
    _, _, _, model = fitted
    det = joblib.load(model)
    assert isinstance(det, IGDDetector)
    assert det.backbone == "resnet18-lite" and det.max_epochs == 1 and det.pretrain is None
    assert det.local is False and det.verbose == 0
    assert det.input_shape_ == (1, 16, 16)


def test_score_csv_matches_the_detector(fitted, tmp_path, capsys):
    _, _, test, model = fitted
    out = str(tmp_path / "scores.csv")
    assert main(["score", test, "-m", model, "-o", out, "--batch-size", "2"]) == 0
    assert "scored 5 images" in capsys.readouterr().out
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    det = joblib.load(model)
    X = load_image_folder(test).images
    assert [r["path"] for r in rows] == [f"t{i:02d}.png" for i in range(5)]
    scores = np.array([float(r["anomaly_score"]) for r in rows])
    by_batch = np.concatenate([det.anomaly_score(X[i : i + 2]) for i in range(0, 5, 2)])
    np.testing.assert_array_equal(scores, by_batch)  # the CSV keeps every digit
    decision = np.array([float(r["decision_function"]) for r in rows])
    np.testing.assert_array_equal(decision, -scores - det.offset_)
    np.testing.assert_array_equal([int(r["predict"]) for r in rows], np.where(decision < 0, -1, 1))
    # one batch holding every image: the very values of the detector
    assert main(["score", test, "-m", model, "-o", out, "-q"]) == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    np.testing.assert_array_equal([float(r["anomaly_score"]) for r in rows], det.anomaly_score(X))
    np.testing.assert_array_equal([int(r["predict"]) for r in rows], det.predict(X))
    assert not os.path.exists(out + ".partial")


def test_heatmap_writes_pngs_and_npy(fitted, tmp_path):
    _, _, test, model = fitted
    out = str(tmp_path / "maps")
    assert main(["heatmap", test, "-m", model, "-o", out, "--npy", "-q", "--batch-size", "3"]) == 0
    det = joblib.load(model)
    X = load_image_folder(test).images
    heat = np.concatenate([det.predict_heatmap(X[:3]), det.predict_heatmap(X[3:])])
    for i in range(5):
        png = np.asarray(Image.open(os.path.join(out, f"t{i:02d}.png")))
        assert png.shape == (16, 16, 3) and png.dtype == np.uint8
        raw = np.load(os.path.join(out, f"t{i:02d}.npy"))
        assert raw.shape == (16, 16) and raw.dtype == np.float64
        np.testing.assert_array_equal(raw, heat[i])
    assert sorted(os.listdir(out)) == sorted(
        [f"t{i:02d}.png" for i in range(5)] + [f"t{i:02d}.npy" for i in range(5)]
    )


def test_evaluate_on_an_mvtec_layout(fitted, tmp_path, capsys):
    _, train, _, model = fitted
    root = tmp_path / "mvtec"
    _write_images(str(root / "widget" / "train" / "good"), n=2)
    _write_images(str(root / "widget" / "test" / "good"), n=3, seed=2)
    crack = _write_images(str(root / "widget" / "test" / "crack"), n=3, seed=3)
    os.makedirs(root / "widget" / "ground_truth" / "crack")
    for i, name in enumerate(sorted(os.listdir(crack))):
        path = os.path.join(crack, name)
        image = np.asarray(Image.open(path)).copy()
        image[2 : 6 + i, 3:9] = 255
        Image.fromarray(image).save(path)
        mask = np.zeros((16, 16), np.uint8)
        mask[2 : 6 + i, 3:9] = 255
        stem = os.path.splitext(name)[0]
        Image.fromarray(mask).save(root / "widget" / "ground_truth" / "crack" / f"{stem}_mask.png")
    out = str(tmp_path / "metrics.json")
    args = ["evaluate", str(root), "--category", "widget", "-m", model, "--json", out]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "image AUROC" in printed and "AUPRO" in printed
    results = json.load(open(out))
    assert results["n_test"] == 6 and results["n_defective"] == 3
    for key in ("image_auroc", "pixel_auroc_pooled", "pixel_auroc_per_image", "aupro"):
        assert 0.0 <= results[key] <= 1.0


def test_errors_are_one_line(fitted, tmp_path, capsys):
    root, train, test, model = fitted
    empty = tmp_path / "empty"
    empty.mkdir()
    out = str(tmp_path / "x.csv")
    # a missing and an empty folder
    _one_line_error(
        capsys, main(["score", str(tmp_path / "nope"), "-m", model, "-o", out]), "nope"
    )
    _one_line_error(capsys, main(["score", str(empty), "-m", model, "-o", out]), "no image files")
    _one_line_error(capsys, main(["fit", str(empty), "-o", str(tmp_path / "m"), *FAST]))
    # an unreadable image
    bad = tmp_path / "bad"
    _write_images(str(bad), n=2)
    (bad / "broken.png").write_bytes(b"this is not a PNG")
    _one_line_error(capsys, main(["score", str(bad), "-m", model, "-o", out]), "broken.png")
    assert not os.path.exists(out) and not os.path.exists(out + ".partial")
    # files that are not a fitted IGDDetector
    text = tmp_path / "notes.joblib"
    text.write_text("hello")
    _one_line_error(
        capsys,
        main(["score", test, "-m", str(text), "-o", out]),
        "not a readable IGDDetector file",
    )
    joblib.dump({"a": 1}, tmp_path / "dict.joblib")
    err = _one_line_error(
        capsys, main(["score", test, "-m", str(tmp_path / "dict.joblib"), "-o", out])
    )
    assert "dict" in err and "not an IGDDetector" in err
    joblib.dump(IGDDetector(), tmp_path / "unfitted.joblib")
    _one_line_error(
        capsys,
        main(["heatmap", test, "-m", str(tmp_path / "unfitted.joblib"), "-o", str(tmp_path)]),
        "not fitted",
    )
    _one_line_error(capsys, main(["score", test, "-m", str(tmp_path / "no"), "-o", out]), "found")
    # mismatched sizes: within a folder, and against the model
    mixed = tmp_path / "mixed"
    _write_images(str(mixed), n=2)
    _write_images(str(mixed), n=1, size=12, prefix="small")
    err = _one_line_error(capsys, main(["fit", str(mixed), "-o", str(tmp_path / "m"), *FAST]))
    assert "same size" in err and "--size" in err
    other = _write_images(str(tmp_path / "other"), n=2, size=24)
    err = _one_line_error(capsys, main(["score", other, "-m", model, "-o", out]))
    assert "16x16" in err and "--size 16 16" in err
    # bad --set
    err = _one_line_error(capsys, main(["fit", train, "-o", str(tmp_path / "m"), "--set", "x"]))
    assert "PARAM=VALUE" in err
    err = _one_line_error(
        capsys, main(["fit", train, "-o", str(tmp_path / "m"), "--set", "max_epoch=3"])
    )
    assert "unknown parameter" in err and "max_epochs" in err
    err = _one_line_error(
        capsys, main(["fit", train, "-o", str(tmp_path / "m"), "--set", "max_epochs=many"])
    )
    assert "max_epochs" in err
    assert not os.path.exists(tmp_path / "m")


def test_heatmap_refuses_to_overwrite_inputs(fitted, capsys):
    _, _, test, model = fitted
    err = _one_line_error(capsys, main(["heatmap", test, "-m", model, "-o", test]))
    assert "overwrite" in err


def test_python_m_entry_point(fitted, tmp_path):
    _, _, test, model = fitted
    out = str(tmp_path / "s.csv")
    cmd = [sys.executable, "-m", "sklearn_igd.cli"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    done = subprocess.run(
        [*cmd, "score", test, "-m", model, "-o", out], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    with open(out) as f:
        assert len(f.read().strip().splitlines()) == 1 + 5
    done = subprocess.run(
        [*cmd, "score", str(tmp_path / "missing"), "-m", model, "-o", out],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_fit_reading_in_chunks_matches_load_images(tmp_path, monkeypatch):
    """Grey and RGB files across chunks: one array, RGB, as load_images reads them."""
    from argparse import Namespace

    from sklearn_igd import cli
    from sklearn_igd.datasets import list_image_files, load_images

    folder = _write_images(str(tmp_path / "mix"), n=3)
    Image.fromarray(np.full((16, 16, 3), (200, 10, 30), np.uint8)).save(folder + "/img03.png")
    _write_images(folder, n=2, seed=5, prefix="z")
    monkeypatch.setattr(cli, "FIT_READ_CHUNK", 2)
    paths = list_image_files(folder)
    X = cli._read_all(Namespace(quiet=True), paths, None)
    np.testing.assert_array_equal(X, load_images(paths))
    assert X.shape == (6, 16, 16, 3)
    X = cli._read_all(Namespace(quiet=True), paths, (8, 12))
    np.testing.assert_array_equal(X, load_images(paths, size=(8, 12)))


def test_size_option_resizes_on_reading(fitted, tmp_path):
    _, _, _, model = fitted
    other = _write_images(str(tmp_path / "big"), n=3, size=24)
    out = str(tmp_path / "s.csv")
    assert main(["score", other, "-m", model, "-o", out, "--size", "16", "-q"]) == 0
    with open(out) as f:
        assert len(f.read().strip().splitlines()) == 1 + 3


def test_fit_lists_the_training_images_a_trimmed_fit_left_out(fitted, tmp_path, capsys):
    """``--left-out`` with ``support_fraction``: the paths of the images outside the saved
    model's ``support_``, in the folder's order, to a file or to stdout (the summary then
    on stderr); without ``support_fraction`` a one-line error before any reading."""
    root, train, _, _ = fitted
    model, listed = str(tmp_path / "m.joblib"), tmp_path / "left.txt"
    trimmed = [*FAST, "--set", "support_fraction=0.75"]
    assert main(["fit", train, "-o", model, *trimmed, "--left-out", str(listed)]) == 0
    out, _ = capsys.readouterr()
    assert "left out 4 of 16 training images" in out  # 16 - ceil(0.75 * 16)
    det = joblib.load(model)
    names = sorted(os.listdir(train))
    expected = [name for name, kept in zip(names, det.support_) if not kept]
    assert listed.read_text().splitlines() == expected and len(expected) == 4
    assert main(["fit", train, "-o", model, *trimmed, "--left-out", "-"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == expected and "left out 4 of 16" in err  # same seed, same fit
    status = main(["fit", train, "-o", model, *FAST, "--left-out", str(listed)])
    _one_line_error(capsys, status, "--left-out", "support_fraction")
