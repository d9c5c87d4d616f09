"""The texture demo's helpers (examples/demo_textures.py), on a tiny configuration."""

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import demo_textures  # noqa: E402


def test_auc_difference_ci():
    rng = np.random.RandomState(0)
    anomalous = np.r_[np.zeros(50, bool), np.ones(50, bool)]
    noise = rng.rand(100)
    # a score against itself: the difference is exactly 0 in every resample
    assert demo_textures.auc_difference_ci(anomalous, noise, noise) == (0.0, 0.0)
    # a perfect score against noise: the whole interval is well above 0
    low, high = demo_textures.auc_difference_ci(anomalous, anomalous + 0.0, noise)
    observed = 1.0 - roc_auc_score(anomalous, noise)
    assert 0.2 < low < observed < high < 0.8
    # and the other way round
    low2, high2 = demo_textures.auc_difference_ci(anomalous, noise, anomalous + 0.0)
    assert (low2, high2) == pytest.approx((-high, -low))


def test_rank_auc_equals_roc_auc_score():
    rng = np.random.RandomState(1)
    positive = rng.rand(60) < 0.3
    for score in (rng.rand(60), rng.randint(0, 4, 60).astype(float)):  # with ties
        assert demo_textures._auc(positive, score) == pytest.approx(
            roc_auc_score(positive, score), abs=1e-12
        )


def test_run_texture_reports_every_metric(tmp_path):
    # the "nearest" feature map: the default "student"'s training would take most of the
    # test (test_feature_map.py tests it)
    params = dict(backbone="resnet18-lite", max_epochs=1, batch_size=16, pretrain=None,
                  local=True, feature_map="nearest")  # fmt: skip
    row = demo_textures.run_texture(
        "brick",
        params=params,
        out=tmp_path,
        log=lambda *a, **k: None,
        data_params=dict(n_train=20, n_test=20, size=32),
    )
    for part in demo_textures.IGD_PARTS:
        for metric in ("image", "pixel", "pixel_per_image", "aupro"):
            assert 0.0 <= row[f"{metric}_{part}"] <= 1.0
    for peer in demo_textures.PEERS:
        low, high = row[f"ci_{peer}"]
        assert low <= row["image_combined"] - row[peer] <= high
    assert Path(row["figure"]).is_file()
    text = demo_textures.table([row]) + demo_textures.ci_table([row])
    assert "| brick |" in text and "**mean**" in text
