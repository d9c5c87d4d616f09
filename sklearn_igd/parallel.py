"""Scoring on a Dask cluster.

Grid search needs nothing from here: ``GridSearchCV`` (with
:class:`~sklearn_igd.model_selection.OneClassSplit`) runs its fits on a Dask cluster
inside ``with joblib.parallel_backend("dask"):``, and an :class:`~sklearn_igd.IGDDetector`
with ``n_threads=None`` uses as many torch threads as the worker has (its ``nthreads``).
:func:`score_dask_array` scores a Dask array of samples block by block on the workers.

This module needs the ``distributed`` extra (``pip install "sklearn-igd[distributed]"``):
``dask[array]`` and ``distributed``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["score_dask_array"]

#: Methods of a fitted detector that :func:`score_dask_array` maps over blocks: one
#: float64 value per sample, or (``predict_heatmap``) one (H, W) map per sample.
PER_SAMPLE_METHODS = ("anomaly_score", "score_samples", "decision_function", "predict")


def _call(block, estimator, method):
    return getattr(estimator, method)(block)


def score_dask_array(estimator, X, method="anomaly_score"):
    """Score a Dask array of samples with a fitted detector, one block per task.

    Memory per worker is bounded by the block size: each task receives one block of
    ``X`` (whole samples: ``X`` is rechunked along the first axis only, so every block
    holds complete images), scores it with ``estimator`` (itself in batches whose memory
    is bounded, see :meth:`~sklearn_igd.IGDDetector.predict_heatmap`), and returns one
    value per sample (or one map per image); no worker ever holds all of ``X``. Choose
    the block size (``X.rechunk({0: n})``) so that a block, plus the model, fits a
    worker's memory: for 28 px images, a block of 10,000 images is 7.8 MB as uint8 and
    31 MB once converted to float32.

    Torch runs with ``estimator.n_threads`` threads in each task; with the default,
    None, with the worker's ``nthreads`` (``threads_per_worker`` of a
    ``LocalCluster``), so that workers do not oversubscribe the cores. A detector
    fitted on CUDA scores on the worker's (first visible) GPU when it has one.

    Parameters
    ----------
    estimator : fitted IGDDetector
        Or any fitted estimator with ``method``; it is serialised into the task graph
        once.
    X : dask.array.Array of shape (n, ...)
        Samples in a layout ``estimator`` accepts (images ``(n, H, W)``, ``(n, H, W, C)``,
        ``(n, C, H, W)``, or ``(n, n_features)``).
    method : {"anomaly_score", "score_samples", "decision_function", "predict", \
"predict_heatmap"}, default="anomaly_score"

    Returns
    -------
    dask.array.Array
        Lazy: shape (n,) (float64; int for ``predict``), or (n, H, W) float64 for
        ``predict_heatmap``; ``.compute()`` runs it on the cluster.

    Examples
    --------
    >>> import dask.array as da
    >>> from sklearn_igd import IGDDetector
    >>> from sklearn_igd.datasets import load_digits_images
    >>> from sklearn_igd.parallel import score_dask_array
    >>> X, y = load_digits_images(return_X_y=True)
    >>> det = IGDDetector(max_epochs=1, pretrain=None, random_state=0).fit(X[y == 0])
    >>> scores = score_dask_array(det, da.from_array(X, chunks=(500, 8, 8)))
    >>> scores.shape, scores.chunks[0][:2]
    ((1797,), (500, 500))
    >>> bool(abs(scores[:5].compute() - det.anomaly_score(X[:5])).max() < 1e-5)
    True
    """
    if method not in PER_SAMPLE_METHODS + ("predict_heatmap",):
        raise ValueError(
            f"method must be one of {PER_SAMPLE_METHODS + ('predict_heatmap',)}; "
            f"received {method!r}."
        )
    if not hasattr(X, "map_blocks") or not hasattr(X, "chunks"):
        raise TypeError(
            f"X must be a dask.array.Array; received {type(X).__name__}. Score in-memory "
            "arrays with the estimator's own methods."
        )
    if X.ndim < 2:
        raise ValueError(f"X must have at least 2 dimensions (n, ...); received {X.ndim}.")
    X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})  # whole samples per block
    dtype = np.dtype(int) if method == "predict" else np.dtype(np.float64)
    if method != "predict_heatmap":
        return X.map_blocks(
            _call,
            estimator=estimator,
            method=method,
            drop_axis=list(range(1, X.ndim)),
            dtype=dtype,
            meta=np.empty((0,), dtype=dtype),
        )
    h, w = _heatmap_size(estimator)
    return X.map_blocks(
        _call,
        estimator=estimator,
        method=method,
        drop_axis=list(range(1, X.ndim)),
        new_axis=[1, 2],
        chunks=(X.chunks[0], (h,), (w,)),
        dtype=dtype,
        meta=np.empty((0, 0, 0), dtype=dtype),
    )


def _heatmap_size(estimator):
    shape = getattr(estimator, "input_shape_", None)
    if shape is None or len(shape) != 3:
        raise ValueError("predict_heatmap needs a detector fitted on images.")
    return int(shape[1]), int(shape[2])
