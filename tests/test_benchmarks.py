"""The paper-scale benchmark script runs end to end on a CPU in a tiny configuration, so
that it cannot rot between GPU runs."""

import importlib.util
import json
import math
import shlex
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "paper_scale.py"


def _load(path):
    spec = importlib.util.spec_from_file_location("paper_scale", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_paper_scale_tiny_cpu_run(tmp_path):
    paper_scale = _load(SCRIPT)
    argv = ["--datasets", "mnist", "--classes", "3", "--epochs", "1", "--n-train", "64",
            "--n-test", "120", "--backbone", "resnet18-lite", "--batch-size", "32",
            "--device", "cpu", "--threads", "1", "--out-dir", str(tmp_path)]  # fmt: skip
    md = paper_scale.main(argv)
    assert md == tmp_path / "paper_scale_cpu.md"
    text = md.read_text()
    assert "| mnist | 3 | 64 | 120 |" in text and "mean AUC" in text
    result = json.loads(md.with_suffix(".json").read_text())
    (row,) = result["rows"]
    assert row["n_train"] == 64 and row["n_test"] == 120 and row["epochs"] == 1
    assert 0.0 <= row["auc"] <= 1.0
    assert row["train_img_per_s"] > 0 and row["score_img_per_s"] > 0
    assert row["peak_gpu_mb"] is None  # no GPU
    # one step: forward + backward of encoder, decoder (twice) and critic, > 3x the
    # forward FLOPs of the encoder and decoder on the batch
    assert row["flops_per_step_per_process"] > 3 * 32 * 150e6 * 0.9
    assert row["flops_per_epoch"] > 2 * row["flops_per_step_per_process"]  # 2 steps + E-step
    assert row["floor_epoch_s"] > 0 and row["epoch_over_floor"] > 1


QUALITY = SCRIPT.parent / "quality.py"


def test_quality_contaminated_and_validation_splits():
    """``quality.py --contamination`` moves test anomalies into the training set (none is
    lost or duplicated), and ``--validation`` never scores an image of the test data."""
    spec = importlib.util.spec_from_file_location("quality", QUALITY)
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)

    X_train, X_test, anomalous = quality.split("mnist5k", 3, 0)
    Xc_train, Xc_test, c_anomalous = quality.split("mnist5k", 3, 0, contamination=0.1)
    n_added = len(Xc_train) - len(X_train)
    assert n_added == round(0.1 * len(X_train) / 0.9) > 0
    assert len(Xc_test) == len(X_test) - n_added
    assert c_anomalous.sum() == anomalous.sum() - n_added  # only anomalies were moved
    flat = lambda X: {x.tobytes() for x in X}  # noqa: E731
    moved = flat(Xc_train) - flat(X_train)
    assert len(moved) == n_added and moved <= flat(X_test[anomalous])
    assert not moved & flat(Xc_test)
    # the label of the training images, where asked for, names exactly the moved ones,
    # and asking for it changes nothing else
    *same, c_train_anomalous = quality.split(
        "mnist5k", 3, 0, contamination=0.1, return_train_anomalous=True
    )
    for a, b in zip(same, (Xc_train, Xc_test, c_anomalous)):
        np.testing.assert_array_equal(a, b)
    assert flat(Xc_train[c_train_anomalous]) == moved
    assert c_train_anomalous.sum() == n_added
    assert not quality.split("mnist5k", 3, 0, return_train_anomalous=True)[3].any()

    # the small training set (Table 5 "ST"): a seeded subset, the scored images unchanged
    Xs_train, Xs_test, s_anomalous = quality.split("mnist5k", 3, 0, train_fraction=0.2)
    assert len(Xs_train) == round(0.2 * len(X_train)) and flat(Xs_train) <= flat(X_train)
    np.testing.assert_array_equal(Xs_test, X_test)
    np.testing.assert_array_equal(s_anomalous, anomalous)
    again_s, _, _ = quality.split("mnist5k", 3, 0, train_fraction=0.2)
    other_s, _, _ = quality.split("mnist5k", 3, 1, train_fraction=0.2)
    np.testing.assert_array_equal(Xs_train, again_s)
    assert flat(other_s) != flat(Xs_train)  # another seed, another subset

    Xv_train, Xv_test, _ = quality.split("mnist5k", 3, 0, validation=True)
    assert not (flat(Xv_train) | flat(Xv_test)) & flat(X_test)
    assert 0 < len(Xv_train) < len(X_train)
    # Fashion-MNIST validation: held-back training-split images only (labels suffice)
    target = np.repeat(np.arange(10), 1600)
    pick, held = quality.fmnist_indices(target, 3, 0, validation=True)
    again, none = quality.fmnist_indices(target, 3, 0)
    np.testing.assert_array_equal(pick, again)  # the same training images as the test run
    assert none is None and len(pick) == 1000 and np.all(target[pick] == 3)
    assert not set(pick) & set(held) and len(set(held)) == len(held) == 5000
    np.testing.assert_array_equal(np.bincount(target[held]), [500] * 10)

    assert quality.config_params("igd:lambda3=1.0:variant='rec+gac'") == {
        "lambda3": 1.0, "variant": "rec+gac"
    }  # fmt: skip
    assert quality.config_params("scratch") == {"pretrain": None}
    # the results file's command line must rerun as written: one shell word, quotes kept
    for configs in ("ssl,ssl:variant='rec+gac'", "igd,rec", "igd:variant='a b'"):
        words = shlex.split(f"--configs {quality.shell_word(configs)}")
        assert words == ["--configs", configs]


def test_quality_paired_ablation_table():
    """``quality.paired_summary``: each Table 5 step is the difference of the two
    configurations' AUCs on the same (class, seed), a per-seed mean over the classes, and
    a count of the pairs above 0; a step with a configuration not run is left out."""
    spec = importlib.util.spec_from_file_location("quality", QUALITY)
    quality = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(quality)
    auc = {"mse": 0.85, "rec": 0.90, "rec+gac": 0.95, "igd": 0.94}
    rows = [
        dict(config=k, cls=c, seed=s, auc=a + 0.01 * c + 0.001 * s * (k == "igd"))
        for k, a in auc.items() for c in (0, 1) for s in (0, 1, 2)
    ]  # fmt: skip
    lines = quality.paired_summary(rows, [0, 1], list(auc), [0, 1, 2])
    rec, gac, critic, both = lines[2:]
    assert rec.startswith(
        "| REC - MSE (MS-SSIM + MAE instead of the squared error) | +0.0500 | [+0.0500, +0.0500]"
    )
    assert gac.startswith(
        "| REC+GAC - REC (the Gaussian classifier) | +0.0500 | [+0.0500, +0.0500]"
    )
    assert gac.endswith("| 6 / 6 |")
    # the critic: -0.010 + 0.001 * seed, below 0 on every pair
    assert "| -0.0090 |" in critic and "-0.0100 / -0.0090 / -0.0080" in critic
    assert critic.endswith("| 0 / 6 |") and both.endswith("| 6 / 6 |")
    assert len(quality.paired_summary(rows, [0, 1], ["igd", "rec"], [0, 1, 2])) == 3
    assert quality.paired_summary(rows, [0, 1], ["igd"], [0, 1, 2]) == []
    # variants with the same other parameters pair with each other, not across encoders
    scratch = {"scratch": 0.80, "scratch:variant='rec'": 0.70, "scratch:variant='mse'": 0.60}
    rows += [
        dict(config=k, cls=c, seed=s, auc=a + 0.01 * c)
        for k, a in scratch.items() for c in (0, 1) for s in (0, 1, 2)
    ]  # fmt: skip
    lines = quality.paired_summary(
        rows, [0, 1], ["igd", "rec", *scratch, "IsolationForest"], [0, 1, 2]
    )
    assert len(lines) == 2 + 1 + 2  # IGD - REC; scratch's REC - MSE and IGD - REC
    assert lines[2].startswith("| IGD - REC (both) | +0.0410 |")
    assert lines[3].startswith(
        "| scratch:variant='rec' - scratch:variant='mse' (MS-SSIM + MAE instead of the squared "
        "error) | +0.1000 |"
    )
    assert lines[4].startswith("| scratch - scratch:variant='rec' (both) | +0.1000 |")


def test_default_budget_tiny_run(tmp_path):
    """benchmarks/default_budget.py: its silhouettes are the shapes asked for, the
    configuration string is parsed as Python literals, and a tiny run writes its table."""
    budget = _load(SCRIPT.parent / "default_budget.py")
    assert budget.parse_config("max_epochs=1,feature_map=False,lr=1e-3") == {
        "max_epochs": 1, "feature_map": False, "lr": 1e-3}  # fmt: skip
    rng = np.random.RandomState(0)
    disks, squares = (
        budget.silhouettes("disk", 5, rng, 32),
        budget.silhouettes("square", 5, rng, 32),
    )
    assert disks.shape == (5, 32, 32) and disks.dtype == np.uint8
    assert set(np.unique(disks)) == {0, 255}
    filled = (disks > 0).mean(axis=(1, 2))  # radius 0.2-0.35 of the side: pi r^2 / side^2
    assert np.all((filled > 0.9 * np.pi * 0.2**2) & (filled < 1.1 * np.pi * 0.35**2))
    assert not np.array_equal(disks, squares)
    out = tmp_path / "budget.md"
    budget.main(["--data", "silhouettes", "--normal", "disk", "--n-train", "8", "--n-test",
                 "24", "--size", "32", "--threads", "1", "--out", str(out),
                 "--config", "max_epochs=1,batch_size=4,pretrain=None"])  # fmt: skip
    text = out.read_text()
    assert "max_epochs=1, batch_size=4, pretrain=None" in text and "| disk |" in text
    with pytest.raises(SystemExit):  # draw 0 is the tests' data
        budget.main(["--data", "textures", "--draws", "0"])


def test_image_score_tiny_run(tmp_path):
    """benchmarks/image_score.py: a tiny fit on 32 px silhouettes (local model and feature
    map on) writes every candidate row, the stored parts are reused without refitting,
    and draw 0 is refused."""
    script = _load(SCRIPT.parent / "image_score.py")
    maps = np.arange(2 * 10 * 10, dtype=float).reshape(2, 10, 10)
    np.testing.assert_allclose(script.top(maps, 0.0), maps.max(axis=(1, 2)))
    np.testing.assert_allclose(script.top(maps, 0.1), maps.reshape(2, -1)[:, -10:].mean(1))
    out, parts = tmp_path / "score.md", tmp_path / "parts"
    argv = ["--draws", "", "--silhouettes", "3:disk", "--sil-train", "8", "--sil-test", "6",
            "--size", "32", "--threads", "1", "--parts", str(parts), "--out", str(out),
            "--config", TINY_CONFIG]  # fmt: skip
    script.main(argv)
    stored = parts / "sil_disk_3.npz"
    with np.load(stored) as p:
        assert p["te_heatmap"].shape == (12, 32, 32) and "tr_feature_heatmap" in p
    first = out.read_text()
    for row in ("| global |", f"| {script.BEFORE} |", f"| {script.DEFAULT} |"):
        assert row in first
    stamp = stored.stat().st_mtime_ns
    script.main(argv)  # the second run reads the parts back: same rows, no new fit
    assert stored.stat().st_mtime_ns == stamp
    sections = out.read_text().split("## ")
    assert sections[1].split("|", 1)[1].strip() == sections[2].split("|", 1)[1].strip()
    with pytest.raises(SystemExit):
        script.main(["--draws", "0", "--silhouettes", ""])


@pytest.fixture(scope="module")
def tiny_parts(tmp_path_factory):
    """One parts cache for the tiny fits that ``feature_trunk.py`` and
    ``feature_variants.py`` score (the same data arguments, so each fit is made once)."""
    return str(tmp_path_factory.mktemp("parts"))


#: The tiny fits' detector (the ``"nearest"`` feature map: the default ``"student"``'s
#: training would take most of a tiny run; test_feature_map.py tests it) ...
TINY_CONFIG = "max_epochs=1,batch_size=4,pretrain=None,local=True,feature_map='nearest'"
#: ... and the tiny texture fits' arguments, shared through :func:`tiny_parts`.
TINY = ["--draws", "1", "--textures", "brick", "--n-train", "8", "--n-test", "12", "--threads",
        "1", "--size", "32", "--config", TINY_CONFIG]  # fmt: skip


def test_feature_trunk_tiny_run(tmp_path, tiny_parts):
    """benchmarks/feature_trunk.py: on a tiny fit of a texture draw it rebuilds the
    detector's own heatmap from the stored parts (it asserts so), and writes the pixel
    and image tables with a row per trunk; ``--feature-only`` fits nothing and writes the
    feature map's table alone, also for a trunk of two blocks concatenated; draw 0 is
    refused."""
    script = _load(SCRIPT.parent / "feature_trunk.py")
    out = tmp_path / "trunk.md"
    # the other trunks are small ones (block 2, 64 px): the script, not the trunk, is tested
    other = "2:64" if script.CURRENT != "2:64" else "3:64"
    script.main(TINY + ["--silhouettes", "", "--parts", tiny_parts, "--out", str(out),
                        "--trunks", other])  # fmt: skip
    text = out.read_text()
    assert "Pooled pixel ROC AUC of the heatmap" in text and "Image ROC AUC" in text
    assert f"| {script.CURRENT} (current) |" in text and f"| {other} |" in text
    assert text.count("| brick 1 | mean | min |") == 3
    only = tmp_path / "only.md"  # --feature-only: no fits, the feature map alone
    script.main(["--draws", "2", "--textures", "brick,grass", "--n-train", "8", "--n-test", "6",
                 "--silhouettes", "",
                 "--size", "32", "--feature-only", "--trunks", f"{other},2+3:64",
                 "--config", "feature_map='nearest'",
                 "--out", str(only)])  # fmt: skip
    text = only.read_text()
    assert "nothing fitted" in text and "Image ROC AUC" not in text
    assert "| 2+3:64 |" in text
    assert text.count("| brick 2 | grass 2 | mean | min |") == 1
    with pytest.raises(SystemExit):
        script.main(["--draws", "0", "--silhouettes", ""])


def test_feature_variants_tiny_run(tmp_path, tiny_parts):
    """benchmarks/feature_variants.py: on tiny fits of a texture draw and a silhouette set
    its ``current`` variant rebuilds the detector's own heatmap (it asserts so), every other
    variant gets a row of the pixel and feature-map tables (textures), of the image table
    (both) and of the per-defect-type table; an unknown variant and draw 0 are refused."""
    script = _load(SCRIPT.parent / "feature_variants.py")
    script.GMM_LOCATIONS = 1000  # the mixture's fit on all 8,192 locations took 11 s
    out = tmp_path / "variants.md"
    common = TINY + ["--silhouettes", "7:disk", "--sil-train", "8", "--sil-test", "6",
                     "--parts", tiny_parts, "--out", str(out)]  # fmt: skip
    variants = (
        "method=gaussian,method=nearest,weight=2,sigma=2,global=0.5,local=0.5,knn=100,"
        "knnin=100,gmm=2,intensity,bank=50,knear=3,lowfreq=0.25"
    )
    script.main(common + ["--variants", variants])
    text = out.read_text()
    assert "rebuilt the stored heatmap on 2 of 2 sets." in text
    assert text.count("| variant | brick 1 | mean | min |") == 2
    assert "| variant | brick 1 | disk 7 | mean | min |" in text
    for variant in ["current"] + variants.split(","):
        assert text.count(f"| {variant} | ") == 4
    assert "| variant | color | crack | hole | patch | scratch | stain |" in text
    bad_variants = ("knm=10", "weight", "intensity=2", "sigma=-1", "gmm=two", "method=knn",
                    "method", "bank=0", "lowfreq")  # fmt: skip
    for bad in bad_variants:
        with pytest.raises(ValueError, match=f"unknown feature-map variant '{bad}'"):
            script.main(common + ["--variants", bad])
    with pytest.raises(SystemExit):
        script.main(["--draws", "0"])


def test_feature_variants_mirror_images():
    """feature_variants.py's two mirror-image variants on a tiny ``"student"`` map:
    ``flipbank`` with room for every candidate keeps every location of the flipped
    training images, so their nearest-neighbour part is 0 there (the package's bank of
    their unflipped locations is not); ``tta`` averages an image's map with its flip's
    flipped back, so a flipped image gets the mirror image of the same map."""
    import torch

    from sklearn_igd._feature_map import fit_feature_map, local_features

    script = _load(SCRIPT.parent / "feature_variants.py")
    rng = torch.Generator().manual_seed(0)
    x = torch.rand(4, 1, 32, 32, generator=rng)
    fm = fit_feature_map(x, batch_size=4, device="cpu", method="student", student_steps=2,
                         min_side=64, sigma=1.0)  # fmt: skip
    f = local_features(fm.trunk, x)
    flipped = x.flip(-1)
    f_flipped = local_features(fm.trunk, flipped)
    big = script.flip_bank_map(fm, x, f, 4, seed=0, sigma=1.0, size=10**6)
    assert big.bank.shape[0] == 4 * f[:, 0].numel()  # every location of the four images
    assert big.student is fm.student and bool((big.scales > 0).all())
    assert big.parts(flipped, f_flipped)[0].abs().max() < 1e-3
    assert fm.parts(flipped, f_flipped)[0].abs().max() > 1e-2
    same = script.flip_bank_map(fm, x, f, 4, seed=0, sigma=1.0)
    assert same.bank.shape == fm.bank.shape
    maps = script.mirrored_maps(fm, x, f, 2)
    torch.testing.assert_close(script.mirrored_maps(fm, flipped, f_flipped, 2).flip(-1), maps)
    assert not torch.allclose(maps, script.student_maps(fm, x, f))
    for bad in ("flipbank=2", "tta=8", "tta"):
        with pytest.raises(ValueError, match="unknown feature-map variant"):
            script.check_variant(bad)


@pytest.mark.slow
def test_texture_draws_tiny_run(tmp_path):
    """benchmarks/texture_draws.py: a tiny fit writes the per-draw and mean rows, a second
    run with the same setting reads the cached result back without refitting, and the
    design draws are refused."""
    script = _load(SCRIPT.parent / "texture_draws.py")
    mean, low, high = script.t_interval([0.9, 0.92, 0.94])
    assert mean == pytest.approx(0.92) and low < 0.9 and high > 0.94  # t(2) is wide
    out, cache = tmp_path / "draws.md", tmp_path / "cache"
    argv = ["--draws", "3", "--textures", "brick", "--n-train", "8", "--n-test", "12",
            "--size", "32", "--jobs", "1", "--cache", str(cache), "--out", str(out),
            "--config", TINY_CONFIG]  # fmt: skip
    script.main(argv)
    stored = cache / "brick_3.json"
    row = json.loads(stored.read_text())
    assert row["setting"]["data"]["n_train"] == 8 and 0 <= row["pixel_combined"] <= 1
    text = out.read_text()
    assert "| 3 | brick |" in text and "| **mean** |" in text and "max_epochs" in text
    stamp = stored.stat().st_mtime_ns
    script.main(argv)  # the same setting: read back, no new fit
    assert stored.stat().st_mtime_ns == stamp
    sections = out.read_text().split("## ")
    assert sections[1].split("|", 1)[1].split("Wall")[0] == sections[2].split("|", 1)[1].split(
        "Wall")[0]  # fmt: skip
    for draws in ("0", "1,3", "2"):
        with pytest.raises(SystemExit):
            script.main(["--draws", draws])


@pytest.mark.slow
def test_bench_feature_map_tiny_run(tmp_path):
    """benchmarks/bench_feature_map.py: each method timed in its own process, a row each;
    ``--append`` adds a labelled section under the first."""
    bench = _load(SCRIPT.parent / "bench_feature_map.py")
    out = tmp_path / "fit.md"
    common = ["--n-train", "4", "--n-test", "2", "--size", "32", "--out", str(out)]
    bench.main(["--methods", "nearest", *common])
    bench.main(["--methods", "gaussian", "--channels", "3", "--label", "rgb", "--append",
                *common])  # fmt: skip
    text = out.read_text()
    assert text.count("# Fit time of the feature map") == 1 and "## rgb: 4 training" in text
    assert "3 channel(s)" in text and "1 channel(s)" in text
    assert "| nearest |" in text and "| gaussian |" in text


@pytest.mark.slow
def test_student_batch_tiny_run(tmp_path):
    """benchmarks/student_batch.py: a row per set with a cell per batch budget and the
    mean; the package's budget is left as it was; draw 0 is refused."""
    from sklearn_igd import _feature_map

    script = _load(SCRIPT.parent / "student_batch.py")
    out = tmp_path / "batch.md"
    before = _feature_map.FEATURE_STUDENT_PIXELS
    script.main(["--draws", "1", "--textures", "brick", "--crops", "2,1", "--n-train", "3",
                 "--n-test", "4", "--steps", "2", "--out", str(out)])  # fmt: skip
    assert _feature_map.FEATURE_STUDENT_PIXELS == before
    text = out.read_text()
    assert "| set | 2 crops/step: pixel AUROC, fit s | 1 crops/step:" in text
    assert "| brick 1 | " in text and "| **mean** | " in text
    with pytest.raises(SystemExit):
        script.main(["--draws", "0"])


@pytest.mark.slow
def test_picture_weights_tiny_run(tmp_path, monkeypatch):
    """benchmarks/picture_weights.py: tiny fits of a photograph and a silhouette set
    (the default student map, trained for a few steps) rebuild the detector's own score and
    heatmap to rounding, and write every table; ``--analyse-only`` reads the cached fits
    and fits nothing; test and held-out draws are refused."""
    from sklearn_igd import _feature_map

    monkeypatch.setattr(_feature_map, "FEATURE_STUDENT_STEPS", 3)
    script = _load(SCRIPT.parent / "picture_weights.py")
    out, cache = tmp_path / "weights.md", tmp_path / "cache"
    argv = ["--pictures", "coins", "--textures", "", "--shapes", "disk",
            "--n-train", "8", "--n-test", "12", "--size", "32", "--threads", "1",
            "--cache", str(cache), "--out", str(out),
            "--config", "max_epochs=1,batch_size=4,pretrain=None,local=True"]  # fmt: skip
    script.main(argv)
    assert sorted(p.name for p in cache.iterdir()) == ["coins-1.npz", "disk-7.npz"]
    text = out.read_text()
    assert "n_train=8, n_test=12, size=32" in text
    worst = float(text.split("by at most ")[1].split(" ")[0])
    assert worst < 1e-4  # the rebuilt default is the detector's own output
    for title in ("Image ROC AUC:", "Pooled pixel ROC AUC (does not depend on g):",
                  "Pooled pixel ROC AUC by feature-map weight m:",
                  "Image ROC AUC by feature-map weight m (g = 0):"):  # fmt: skip
        assert title in text
    image = text.split("Image ROC AUC:")[1].split("\n\n")[1].splitlines()
    assert image[0].startswith("| student b | global g | coins-1 | disk-7 | mean photographs")
    assert len(image) == 2 + 4 * 5  # header, rule, student x global weights
    assert "| 1 (default) | 1.0 | " in text and "| alone | " in text
    (cache / "disk-7.npz").rename(cache / "kept.npz")
    with pytest.raises(FileNotFoundError):  # --analyse-only fits nothing
        script.main(argv + ["--analyse-only"])
    for bad in (["--draws", "0"], ["--draws", "3"], ["--picture-draws", "0"]):
        with pytest.raises(SystemExit):
            script.main(["--cache", str(cache), *bad])


@pytest.mark.slow
def test_calibration_split_tiny_run(tmp_path, monkeypatch):
    """benchmarks/calibration_split.py: a tiny fit of a photograph set holds back the
    requested share of the training images, scores four AUCs and the full fit, writes the
    table and the log; test draws are refused; the torch thread count is restored."""
    import torch

    from sklearn_igd import _feature_map

    monkeypatch.setattr(_feature_map, "FEATURE_STUDENT_STEPS", 3)
    script = _load(SCRIPT.parent / "calibration_split.py")
    out, log = tmp_path / "split.md", tmp_path / "split.jsonl"
    threads = torch.get_num_threads()
    argv = ["--sets", "coins-1", "--holdout", "0.25", "--jobs", "1", "--full",
            "--n-train", "12", "--n-test", "16", "--size", "32",
            "--config", "max_epochs=1,batch_size=4,pretrain=None,local=True",
            "--log", str(log), "--out", str(out)]  # fmt: skip
    script.main(argv)
    assert torch.get_num_threads() == threads
    (row,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert (row["n_kept"], row["n_held"]) == (9, 3)
    for key in ("full", "train_z", "held_z", "z_G", "z_L", "train_max", "held_max"):
        assert 0.0 <= row[key] <= 1.0
    assert row["relative_weight"] > 0
    text = out.read_text()
    assert "| coins-1 | " in text and "| **mean** | " in text
    assert "Held back: 25% of the training images" in text
    for bad in ("grass-0", "coins-0", "grass-3", "disk-0", "camera-1"):
        with pytest.raises(SystemExit):
            script.main(["--sets", bad])


#: The tiny MNIST-5k fits' detector: one epoch, no pre-training, images resized to 16 px
#: (a quarter of the convolution work of 28 px; the scripts, not the AUCs, are tested).
TINY_MNIST = '{"max_epochs": 1, "batch_size": 16, "pretrain": null, "image_size": 16}'


def test_trimmed_val_tiny_run(tmp_path):
    """benchmarks/trimmed_val.py: a tiny contaminated validation fit of each variant
    writes its rows and table, and the package is unpatched afterwards (the trimmed
    functions are the package's, tested with it)."""
    from sklearn_igd import _pretrain
    from sklearn_igd._losses import IGDLoss
    from sklearn_igd._net import IGDNet

    script = _load(SCRIPT.parent / "trimmed_val.py")
    saved = IGDLoss.forward, IGDNet.estep, _pretrain.imagenet_encoder
    out, log = tmp_path / "trim.md", tmp_path / "trim.jsonl"
    argv = ["--data", "mnist5k", "--classes", "0", "--variants", "default,whiten+loss+estep",
            "--contamination", "0.1", "--support", "0.8", "--jobs", "1",
            "--params", TINY_MNIST, "--log", str(log), "--out", str(out)]  # fmt: skip
    script.main(argv)
    assert (IGDLoss.forward, IGDNet.estep, _pretrain.imagenet_encoder) == saved
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["variant"] for r in rows] == ["default", "whiten+loss+estep"]
    assert all(0.0 <= r["auc"] <= 1.0 and r["contamination"] == 0.1 for r in rows)
    assert rows[0]["auc"] != rows[1]["auc"]  # trimming changed the fit
    text = out.read_text()
    assert "## Training sets 10% anomalous" in text and "| whiten+loss+estep | " in text
    with pytest.raises(SystemExit):
        script.main(["--variants", "default,bogus"])


def test_support_mask_tiny_run(tmp_path):
    """benchmarks/support_mask.py: a tiny contaminated fit finds which training images
    were planted, measures ``support_`` and the two rankings against them, and writes the
    table; a second run reads the log back without refitting."""
    script = _load(SCRIPT.parent / "support_mask.py")
    left = np.array([True, True, False, False, True])
    planted = np.array([True, False, True, False, False])
    assert script.recall_precision(left, planted) == (0.5, 1 / 3)
    np.testing.assert_array_equal(script.worst(np.array([0.1, 3.0, 2.0]), 2), [False, True, True])
    out, log = tmp_path / "support.md", tmp_path / "support.jsonl"
    argv = ["--data", "mnist5k", "--classes", "0", "--jobs", "1", "--log", str(log),
            "--params", TINY_MNIST, "--out", str(out)]  # fmt: skip
    (row,) = script.main(argv)
    assert row["n_planted"] == round(0.1 * (row["n_train"] - row["n_planted"]) / 0.9) > 0
    assert row["n_left_out"] == row["n_train"] - math.ceil(0.8 * row["n_train"])
    for key in ("mask_recall", "mask_precision", "score_auc", "forest_auc", "test_auc"):
        assert 0.0 <= row[key] <= 1.0
    assert "| 0 | " in out.read_text() and "| **mean** |" in out.read_text()
    assert script.main(argv) == [row]  # read back from the log
    with pytest.raises(SystemExit):
        script.main(["--support", "1"])


def test_heatmap_reference_tiny_run(tmp_path, tiny_parts):
    """benchmarks/heatmap_reference.py: each reference leaves the ranking inside every
    image (the per-image pixel AUROC) as it is, the mean reference centres each map; on
    the tiny fit of a texture draw (shared with the feature-map scripts' tests) it writes
    both tables; a validation photograph's crops are cut from the photograph; held-out
    pictures and draw 0 are refused."""
    from sklearn_igd.metrics import pixel_roc_auc

    script = _load(SCRIPT.parent / "heatmap_reference.py")
    rng = np.random.default_rng(0)
    maps = rng.random((4, 40, 40)) + np.arange(4)[:, None, None]
    masks = np.zeros((4, 40, 40), bool)
    masks[:, 5:15, 20:30] = True
    variants = script.reference_variants(maps)
    assert set(variants) == {"none", "mean", "median", "q0.25", "0.5 median", "local 16"}
    np.testing.assert_allclose(variants["mean"].mean(axis=(1, 2)), 0.0, atol=1e-12)
    per_image = pixel_roc_auc(masks, maps, average="per_image")
    for name in ("mean", "median", "q0.25", "0.5 median"):
        assert pixel_roc_auc(masks, variants[name], average="per_image") == per_image
    out = tmp_path / "ref.md"
    script.main(TINY + ["--pictures", "", "--parts", tiny_parts, "--out", str(out)])
    text = out.read_text()
    assert text.count("| reference | brick 1 | mean textures | above none (textures) |") == 2
    assert "| 0.5 median |" in text and "| local 16 |" in text
    sizes = SimpleNamespace(n_train=3, n_test=4, size=32)
    coins = script.make_data(sizes, "coins", 1)
    assert coins.images_train.shape == (3, 32, 32) and coins.masks_test.shape == (4, 32, 32)
    for argv in (["--pictures", "moon"], ["--draws", "0"]):
        with pytest.raises(SystemExit):
            script.main(argv)


def test_report_helpers(tmp_path):
    """benchmarks/_report.py: the command line reruns as is (arguments shell-quoted), and a
    results file gets its title once, before the first section."""
    report = _load(SCRIPT.parent / "_report.py")
    line = report.command_line(["benchmarks/x.py", "--config", "a='b c'"])
    assert line == "Command: `python benchmarks/x.py --config 'a='\"'\"'b c'\"'\"''`  "
    out = tmp_path / "r.md"
    assert report.append_section(out, "Title", "## one\nrow") == out
    report.append_section(out, "Other title", "\n## two\n")
    assert out.read_text() == "# Title\n\n## one\nrow\n\n## two\n"


def test_defect_types_tiny_run(tmp_path, tiny_parts):
    """benchmarks/defect_types.py: on the tiny fit of a texture draw (shared with the
    feature-map scripts' tests) it writes a row per part of the heatmap, the combined
    map's "all" column equal to its pooled pixel AUROC; draw 0 is refused."""
    script = _load(SCRIPT.parent / "defect_types.py")
    out = tmp_path / "types.md"
    script.main(TINY + ["--silhouettes", "", "--parts", tiny_parts, "--out", str(out)])
    text = out.read_text()
    assert "| set | map | all | scratch | crack | stain | hole | patch | color |" in text
    for part in ("combined", "global", "local", "feature"):
        assert f"| brick 1 | {part} | " in text and f"| **mean** | {part} | " in text
    with np.load(Path(tiny_parts) / "parts_brick_1.npz") as p:
        heat = p["te_heatmap"].astype(np.float64)
    from sklearn_igd.datasets import make_texture_defects
    from sklearn_igd.metrics import pixel_roc_auc

    data = make_texture_defects("brick", n_train=8, n_test=12, size=32, random_state=1)
    expected = pixel_roc_auc(data.masks_test, heat)
    assert f"| brick 1 | combined | {expected:.4f} |" in text
    with pytest.raises(SystemExit):
        script.main(["--draws", "0", "--silhouettes", ""])


def test_heatmap_parts_tiny_run(tmp_path, tiny_parts):
    """benchmarks/heatmap_parts.py: on the tiny fit of a texture draw (shared with the
    feature-map scripts' tests) the default variant rebuilds the detector's own heatmap
    from its parts, and the table has a row per variant; draw 0 is refused."""
    script = _load(SCRIPT.parent / "heatmap_parts.py")
    out = tmp_path / "parts.md"
    script.main(TINY + ["--silhouettes", "", "--pictures", "", "--parts", tiny_parts,
                        "--out", str(out)])  # fmt: skip
    with np.load(Path(tiny_parts) / "parts_brick_1.npz") as p:
        parts = dict(p)
    maps = script.variant_maps(parts, "te")
    np.testing.assert_allclose(maps["G + L + F"], parts["te_heatmap"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(maps["F"], parts["te_feature_heatmap"])
    text = out.read_text()
    assert "| variant | pixel AUROC textures | image AUROC textures |" in text
    for v in script.VARIANTS:
        assert f"| {v} | " in text
    with pytest.raises(SystemExit):
        script.main(["--draws", "0", "--silhouettes", ""])


def test_global_weight_rule_statistic(tmp_path):
    """benchmarks/global_weight_rule.py: the stationarity statistic is 0 for images whose
    every pixel has the same mean, large for a centred object, channels are averaged;
    digits are pasted whole inside the canvas; the table reports each group's range;
    draw 0 and the held-out silhouettes are refused."""
    script = _load(SCRIPT.parent / "global_weight_rule.py")
    rng = np.random.default_rng(0)
    flat = rng.random((500, 16, 16))
    assert script.stationarity(flat) < 0.01
    centred = np.zeros((50, 16, 16))
    centred[:, 4:12, 4:12] = 1.0 + 0.1 * rng.random((50, 8, 8))
    assert script.stationarity(centred) > 10
    rgb = np.repeat(centred[..., None], 3, axis=-1)
    assert script.stationarity(rgb) == pytest.approx(script.stationarity(centred))
    digits = np.ones((6, 28, 28), np.uint8)
    pasted = script.pasted_digits(digits, 40, np.random.RandomState(0))
    assert pasted.shape == (6, 40, 40) and (pasted.sum(axis=(1, 2)) == 28 * 28).all()
    table = script.statistic_table([("a", "x", 0.5), ("a", "y", 0.25), ("b", "z", 0.1)])
    assert "| a | 2 | 0.2500 | 0.5000 | x 0.500, y 0.250 |" in table
    for argv in (["--draws", "0"], ["--shape-seed", "101"]):
        with pytest.raises(SystemExit):
            script.main(argv + ["--out", str(tmp_path / "x.md")])


def test_fit_phases_tiny_run(tmp_path):
    """benchmarks/fit_phases.py: a tiny fit with the local model and the feature map
    times every phase (each > 0 but the encoder's, skipped without pre-training), the
    phases and 'other' add up to the fit, the timed functions are restored, and held-out
    draws are refused."""
    script = _load(SCRIPT.parent / "fit_phases.py")
    before = [getattr(owner, attr) for _, owner, attr in script.PHASES]
    out = tmp_path / "phases.md"
    script.main(["--textures", "", "--shapes", "disk", "--n-silhouettes", "4", "--size", "32",
                 "--threads", "1", "--config", TINY_CONFIG, "--out", str(out)])  # fmt: skip
    assert [getattr(owner, attr) for _, owner, attr in script.PHASES] == before
    (row,) = [line for line in out.read_text().splitlines() if line.startswith("| disk 7 |")]
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["4", "1"]  # images, epochs
    total = float(cells[3])
    seconds = [float(c.split(" ")[0]) for c in cells[4:]]  # encoder, global, local,
    # feature map, thresholds, other
    assert all(s > 0 for s in seconds[1:5]) and seconds[0] < 0.05
    assert abs(sum(seconds) - total) < 0.1 * len(seconds)
    with pytest.raises(SystemExit):
        script.main(["--draw", "3"])


def test_local_epochs_tiny_run(tmp_path, tiny_parts):
    """benchmarks/local_epochs.py: a variant trains the local model for the given epochs and
    changes nothing else (with the default's own epoch count it rebuilds the shared tiny
    fit's parts exactly), ``_fit_local`` is restored, every table is written; held-out
    draws, pictures and silhouettes are refused, and validation ones with ``--heldout``."""
    from sklearn_igd import IGDDetector

    script = _load(SCRIPT.parent / "local_epochs.py")
    original = IGDDetector._fit_local
    out = tmp_path / "epochs.md"
    common = ["--draws", "1", "--textures", "brick", "--n-train", "8", "--n-test", "12",
              "--size", "32", "--config", TINY_CONFIG, "--jobs", "1",
              "--default-parts", tiny_parts, "--parts", str(tmp_path / "parts")]  # fmt: skip
    script.main(common + ["--epochs", "1", "--out", str(out)])  # max_epochs=1: the default's
    assert IGDDetector._fit_local is original
    default = dict(np.load(Path(tiny_parts) / "parts_brick_1.npz"))
    again = dict(np.load(tmp_path / "parts" / "local1" / "parts_brick_1.npz"))
    assert float(again["local_s"]) > 0
    for key in default:
        if key.startswith(("tr_", "te_")):
            np.testing.assert_array_equal(again[key], default[key], err_msg=key)
    text = out.read_text()
    assert text.count("| local epochs | brick 1 | mean |") == 4
    assert "| global | " in text and "| 1 | " in text
    bad = (["--draws", "3"], ["--pictures", "moon"], ["--picture-draw", "0"],
           ["--silhouettes", "101:disk"], ["--silhouettes", "7:star"], ["--silhouettes", "disk"],
           ["--heldout", "--draws", "1"], ["--heldout", "--draws", "", "--pictures", "coins"],
           ["--heldout", "--draws", "", "--silhouettes", "7:disk"])  # fmt: skip
    for argv in bad:
        with pytest.raises(SystemExit):
            script.main(argv)


def test_score_combination_reads_stored_parts(tmp_path):
    """benchmarks/score_combination.py: the empirical tail stops growing beyond the
    training maximum, its Gaussian extension does not, a run on one stored set writes
    every rule's row and names the sets it did not find, and stored maps of another size
    than ``--size`` (whose labels would be another data set's) are refused."""
    script = _load(SCRIPT.parent / "score_combination.py")
    train = np.arange(9.0)
    np.testing.assert_allclose(
        script.tail(train, np.array([-1.0, 20.0, 99.0])), [0, np.log(10), np.log(10)]
    )
    far = script.tail_gauss(train, np.array([20.0, 99.0]))
    assert far[1] > far[0] > np.log(10)
    rng = np.random.RandomState(0)
    np.savez(
        tmp_path / "parts_brick_1.npz",
        tr_global_score=rng.rand(100), te_global_score=rng.rand(300),
        tr_heatmap=rng.rand(100, 64, 64), te_heatmap=rng.rand(300, 64, 64),
    )  # fmt: skip
    out = tmp_path / "combination.md"
    with pytest.raises(SystemExit):  # maps of 64 px are not the labels of 128 px crops
        script.main(["--parts", str(tmp_path), "--size", "128", "--out", str(out)])
    assert not out.exists()
    aucs = script.main(["--parts", str(tmp_path), "--out", str(out)])
    assert set(aucs) == set(script.RULES) and all(len(v) == 1 for v in aucs.values())
    text = out.read_text()
    assert (
        "| textures | smallest group mean |" in text
        and "missing (skipped): parts_grass_1.npz" in text
    )
    assert all(f"| {rule} |" in text for rule in script.RULES)


def test_train_flips_mirror_sets_and_table(tmp_path):
    """benchmarks/train_flips.py: ``with_flips`` adds exactly the mirror images asked for
    (and refuses other names), draw 0 is refused, and a run on stored scores writes one
    row per set with its image AUROC (and the pooled pixel AUROC of the textures)."""
    from sklearn.metrics import roc_auc_score

    script = _load(SCRIPT.parent / "train_flips.py")
    X = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert script.with_flips(X, "none").shape == (2, 3, 4)
    h = script.with_flips(X, "h")
    np.testing.assert_array_equal(h[2:], X[:, :, ::-1])
    hv = script.with_flips(X, "hv")
    assert hv.shape == (8, 3, 4)
    np.testing.assert_array_equal(hv[6:], X[:, ::-1, ::-1])
    with pytest.raises(ValueError, match="flips must be one of"):
        script.with_flips(X, "v")
    with pytest.raises(SystemExit):
        script.parse_args(["--draws", "0"])
    args = script.parse_args(
        ["--draws", "1", "--textures", "brick", "--silhouettes", "", "--flips", "none,h",
         "--size", "32", "--n-train", "4", "--n-test", "20", "--cache", str(tmp_path)]
    )  # fmt: skip
    _, _, anomalous, masks = script.set_data(args, "texture", "brick:1")
    rng = np.random.RandomState(0)
    for flips in ("none", "h"):
        score = rng.rand(20) + anomalous  # ranks the anomalies first
        np.savez(tmp_path / f"brick-1_{flips}.npz", score=score, heatmap=rng.rand(*masks.shape),
                 fit_s=1.0, n_epochs=3, n_local_epochs=2)  # fmt: skip
    out = tmp_path / "flips.md"
    script.main(
        ["--draws", "1", "--textures", "brick", "--silhouettes", "", "--flips", "none,h",
         "--size", "32", "--n-train", "4", "--n-test", "20", "--cache", str(tmp_path),
         "--out", str(out), "--jobs", "1"]
    )  # fmt: skip
    text = out.read_text()
    with np.load(tmp_path / "brick-1_h.npz") as stored:
        pixel = roc_auc_score(masks.ravel() > 0, stored["heatmap"].ravel())
    assert "| brick:1 | 1.0000 |" in text and f"| 1.0000 | {pixel:.4f} | 3, 2 | 1 |" in text


def test_weight_selection_chooses_on_the_pool_and_reports(tmp_path):
    """benchmarks/weight_selection.py: validation draws 1, 2 and draw 0 are refused, the
    pool and the test set are separate draws, and a run on stored parts reports the
    default, the local part alone, the best on test and the chosen weight's AUC."""
    script = _load(SCRIPT.parent / "weight_selection.py")
    for spec in ("tex64:brick:0", "tex128:grass:2", "sil:disk:0"):
        with pytest.raises(ValueError, match="draw 0 is the demo's"):
            script.set_data(spec)
    with pytest.raises(ValueError, match="expected tex64:, tex128:, pic:"):
        script.set_data("png:brick:3")
    X_train, X_pool, pool_y, X_test, test_y = script.set_data("sil:disk:5")
    assert X_train.shape == (200, 64, 64) and len(X_pool) == len(pool_y) == 300
    assert pool_y.sum() == test_y.sum() == 150 and not np.array_equal(X_pool, X_test)
    # stored parts where the local part alone ranks perfectly and the global part is noise
    rng = np.random.RandomState(0)
    parts = {}
    for prefix, n in (("pool", 100), ("test", 200)):
        y = np.arange(n) % 2 == 1
        parts.update({f"{prefix}_y": y, f"{prefix}_zl": y + 0.1 * rng.rand(n),
                      f"{prefix}_zg": 5 * rng.randn(n)})  # fmt: skip
    np.savez(tmp_path / "sil_disk_5.npz", fit_s=1.0, **parts)
    aucs, chosen = script.selection(parts, k=10, repeats=20, seed=0)
    assert (chosen == 0.0).all() and (aucs == 1.0).all()
    out = tmp_path / "ws.md"
    script.main(["--sets", "sil:disk:5", "--ks", "10", "--repeats", "20", "--jobs", "1",
                 "--cache", str(tmp_path), "--out", str(out)])  # fmt: skip
    text = out.read_text()
    default = script.auc_of(parts, "test", 1.0)
    assert f"| sil:disk:5 (fit 1 s) | {default:.4f} | 1.0000 | 1.0000 | 1.0000 [1.0000] |" in text
    assert "| sil:disk:5 | 10 | 1.00 | 0.00 |" in text


def test_global_whitening_probe_restores_the_package(tmp_path):
    """benchmarks/global_whitening.py: draw 0 and unknown variants are refused, and the
    probe's replacement of the package's whitening is undone even when a run fails."""
    import sklearn_igd._pretrain as pretrain

    script = _load(SCRIPT.parent / "global_whitening.py")
    X_train, X_test, anomalous = script.set_data("grass:1")
    assert X_train.shape == (100, 64, 64) and X_test.shape == (300, 64, 64)
    assert anomalous.sum() == 150
    original = pretrain._fit_whitening
    with pytest.raises(ValueError, match="draw 0 is the demo's"):
        script.probe("grass:0", "span")
    assert pretrain._fit_whitening is original
    with pytest.raises(SystemExit):
        script.main(["--variants", "default,k99", "--out", str(tmp_path / "x.md")])


def test_synthetic_weight_rules():
    """benchmarks/synthetic_weight.py: ``argmax`` is the best candidate on the held-back
    images against their copies, ``margin`` the package's label-free rule (the default
    kept unless a candidate is 0.01 better), ``seen`` the same on the training images;
    test draws are refused as validation sets."""
    from sklearn_igd.thresholds import GLOBAL_SCORE_WEIGHTS, best_global_score_weight

    script = _load(SCRIPT.parent / "synthetic_weight.py")
    rng = np.random.RandomState(0)
    for gain in (0.5, 3.0):  # the anomalies' lead in the global part: small, then large
        p = {}
        for prefix, n, lead in (("held", 20, 0), ("syn", 100, 1), ("seen", 20, 0)):
            p[f"{prefix}_zl"] = rng.normal(size=n) + lead
            p[f"{prefix}_zg"] = rng.normal(size=n) + gain * lead
        p["seensyn_zl"], p["seensyn_zg"] = p["syn_zl"] + 0.5, p["syn_zg"]
        w_argmax, w_margin, aucs = script.choose(p)
        zg, zl = np.r_[p["held_zg"], p["syn_zg"]], np.r_[p["held_zl"], p["syn_zl"]]
        y = np.r_[np.zeros(20, bool), np.ones(100, bool)]
        expected = best_global_score_weight(zg, zl, y, GLOBAL_SCORE_WEIGHTS)
        assert w_argmax == expected[0] and np.array_equal(aucs, expected[1])
        assert w_margin == best_global_score_weight(zg, zl, y, GLOBAL_SCORE_WEIGHTS, 1.0, 0.01)[0]
        seen = script.choose(p, "seen", "seensyn")[2]
        assert not np.array_equal(seen, aucs)
    assert w_argmax == 4.0  # the global part separates them best when it leads by 3
    for spec in ("grass-0", "square-101", "brick-4"):
        with pytest.raises(ValueError, match="is a test draw"):
            script.set_data(spec)


def test_support_rule_cross_fitted_share():
    """benchmarks/support_rule_val.py: the cross-fitted rule keeps every image of a clean
    Gaussian set at z = 3 and drops 10% of scattered far points (out-of-fold distances, so
    that the cut does not just return the share it started from), but not a tight far
    cluster of 10%, which the whitening gives a direction of its own (the masking the
    results file finds on real anomalies); the rules are named as in the results file."""
    script = _load(SCRIPT.parent / "support_rule_val.py")
    rng = np.random.RandomState(0)
    clean = torch.from_numpy(rng.standard_normal((300, 12)).astype(np.float32))
    assert script.cross_fitted_share(clean, z=3.0, steps=1) == 1.0
    scattered = torch.from_numpy(4 * rng.standard_normal((33, 12)).astype(np.float32))
    assert script.cross_fitted_share(torch.cat([clean, scattered]), z=3.0, steps=1) == 300 / 333
    cluster = torch.from_numpy(rng.standard_normal((33, 12)).astype(np.float32) + 6.0)
    assert script.cross_fitted_share(torch.cat([clean, cluster]), z=3.0, steps=3) == 1.0
    names = list(script.rules())
    assert names[:4] == ["all", "fixed 0.8", "fixed 0.9", "fixed 0.95"]
    assert "cross-fitted z 2.0, it3" in names and len(names) == 4 + 2 * len(script.ZS)
