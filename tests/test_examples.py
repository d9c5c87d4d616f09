"""The gallery examples (``examples/plot_*.py``) run, shrunk to a few seconds each.

Every example reads ``SKLEARN_IGD_EXAMPLES_TINY``: set, it uses a handful of samples and
one epoch, so that this test catches an example that no longer runs (a renamed parameter,
a changed return value) without training anything meaningful. ``make docs`` runs them at
full size.
"""

import runpy
import warnings
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path, monkeypatch, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("SKLEARN_IGD_EXAMPLES_TINY", "1")
    monkeypatch.chdir(tmp_path)  # anything an example writes lands here
    monkeypatch.setattr("sys.argv", [str(path)])
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
            runpy.run_path(str(path), run_name="__main__")
    finally:
        plt.close("all")


def test_examples_are_found():
    assert len(EXAMPLES) >= 6, [p.name for p in EXAMPLES]
