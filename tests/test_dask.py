"""Grid search and scoring on a real Dask cluster (two single-threaded worker processes).

A fit with ``n_threads=None`` inside a Dask worker uses the worker's ``nthreads`` (1
here), so the cluster's grid search equals, bit for bit, a sequential grid search whose
detectors run with ``n_threads=1``.
"""

import numpy as np
import pytest
import torch
from conftest import FAST

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from sklearn_igd import IGDDetector  # noqa: E402
from sklearn_igd._config import resolve_threads  # noqa: E402
from sklearn_igd.model_selection import OneClassSplit  # noqa: E402
from sklearn_igd.parallel import score_dask_array  # noqa: E402

#: Tiny fits: 8x8 digits, one epoch of the lite global model.
TINY = {**FAST, "max_epochs": 1, "batch_size": 16}
GRID = {"lambda1": [0.5, 1.0], "rho": [0.3]}


@pytest.fixture(scope="module")
def client(request):
    """A loopback cluster of 2 worker processes with 1 thread each; each worker's torch
    default is set to 2 threads, so that only ``n_threads=None`` resolving to the
    worker's ``nthreads`` gives 1."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)

    def close():
        client.close()
        cluster.close()

    request.addfinalizer(close)
    client.run(torch.set_num_threads, 2)
    return client


@pytest.fixture(scope="module")
def labelled(digits):
    """Zeros as normal (+1), a few of every other digit as anomalies (-1)."""
    X, y = digits
    normal = np.flatnonzero(y == 0)[:80]
    anomalies = np.flatnonzero(y != 0)[:30]
    idx = np.r_[normal, anomalies]
    return X[idx], np.where(y[idx] == 0, 1, -1)


def _search(n_threads):
    return GridSearchCV(
        IGDDetector(**TINY, n_threads=n_threads),
        GRID,
        scoring="roc_auc",
        cv=OneClassSplit(n_splits=2, random_state=0),
        refit=False,
    )


@pytest.mark.slow
def test_worker_threads_resolve_to_the_worker_nthreads(client):
    assert set(client.run(torch.get_num_threads).values()) == {2}
    workers = list(client.scheduler_info()["workers"])
    in_tasks = [client.submit(resolve_threads, None, workers=[w], pure=False) for w in workers]
    assert [f.result() for f in in_tasks] == [1, 1]
    X = np.random.RandomState(0).rand(32, 8, 8)
    fit_threads = client.submit(lambda X: IGDDetector(**TINY).fit(X).n_threads_, X)
    assert fit_threads.result() == 1
    assert set(client.run(torch.get_num_threads).values()) == {2}  # restored after fit


@pytest.mark.slow
def test_grid_search_on_the_cluster_equals_the_sequential_one(client, labelled):
    X, y = labelled
    sequential = _search(n_threads=1).fit(X, y)
    with joblib.parallel_backend("dask"):
        on_cluster = _search(n_threads=None).fit(X, y)
    keys = [k for k in sequential.cv_results_ if k.startswith(("split", "mean_test", "rank"))]
    assert "split1_test_score" in keys
    for key in keys:
        np.testing.assert_array_equal(on_cluster.cv_results_[key], sequential.cv_results_[key])
    assert np.all(np.isfinite(sequential.cv_results_["mean_test_score"]))


@pytest.mark.slow
def test_scoring_a_dask_array_on_the_cluster(client, digits):
    """Each task scores one block of 100 images: memory per worker is bounded by the
    block size, not by the array; the scores equal the in-memory ones."""
    X, y = digits
    det = IGDDetector(**TINY, n_threads=1).fit(X[y == 0][:60])
    X = X[:300]
    X_dask = da.from_array(X, chunks=(100, 8, 8))
    expected = det.anomaly_score(X)
    scores = score_dask_array(det, X_dask)
    assert scores.chunks == ((100,) * 3,)
    np.testing.assert_allclose(scores.compute(), expected, rtol=1e-6)
    # the plain map_blocks recipe of the README gives the same
    mapped = X_dask.map_blocks(det.anomaly_score, drop_axis=[1, 2], dtype=float)
    np.testing.assert_allclose(mapped.compute(), expected, rtol=1e-6)
    heat = score_dask_array(det, X_dask, method="predict_heatmap").compute()
    np.testing.assert_allclose(heat, det.predict_heatmap(X), rtol=1e-5, atol=1e-6)
    labels = score_dask_array(det, X_dask, method="predict").compute()
    np.testing.assert_array_equal(labels, det.predict(X))


def test_score_dask_array_rejects_what_it_cannot_map():
    det = IGDDetector()
    with pytest.raises(TypeError, match="dask.array.Array"):
        score_dask_array(det, np.zeros((3, 8, 8)))
    with pytest.raises(ValueError, match="method must be one of"):
        score_dask_array(det, da.zeros((3, 8, 8)), method="fit")
