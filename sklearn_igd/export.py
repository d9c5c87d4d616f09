"""Export a fitted :class:`~sklearn_igd.IGDDetector` to ONNX (:func:`to_onnx`).

The exported graph is the detector's scoring graph (:class:`~sklearn_igd._scoring.IGDScorer`:
global model, local model on its patch grid, MS-SSIM, fitted scales), traced once by
PyTorch's TorchScript-based ONNX exporter (``torch.onnx.export(..., dynamo=False)``), with
the batch dimension left dynamic. ``onnx`` is needed (``pip install "sklearn-igd[onnx]"``);
``onnxruntime`` runs the result.
"""

from __future__ import annotations

import copy
import io
import math
import os
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

__all__ = ["DEFAULT_OPSET", "to_onnx"]

#: ONNX opset of the exported graph when ``opset=None``.
DEFAULT_OPSET = 17
#: Oldest opset the graph is exported with (bilinear ``Resize`` of MS-SSIM needs 11+,
#: ``ReduceMean``/``Split`` as in 13+ keep the graph simple to check).
MIN_OPSET = 13


class _ExportedScorer(nn.Module):
    """``images -> score`` or ``(score, heatmap)``, float32 out; with ``mean`` and ``scale``
    (2-D input) the raw features are standardised first, as ``scaler_`` does."""

    def __init__(self, scorer, *, heatmap, mean=None, scale=None):
        super().__init__()
        self.scorer = scorer
        self.heatmap = bool(heatmap)
        self.standardise = mean is not None
        if self.standardise:
            self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
            self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x):
        if self.standardise:
            x = (x - self.mean) / self.scale
        parts = self.scorer.parts(x, heatmap=self.heatmap)
        score = parts["score"].float()
        if self.heatmap:
            return score, parts["heatmap"].float()
        return score


def to_onnx(detector, path, *, heatmap=False, opset=None, dynamic_batch=True):
    """Write a fitted :class:`~sklearn_igd.IGDDetector`'s scoring as one ONNX graph.

    The graph maps a batch of inputs to the anomaly score ``s(x)`` of
    :meth:`~sklearn_igd.IGDDetector.anomaly_score` (and, with ``heatmap=True``, the
    per-pixel map of :meth:`~sklearn_igd.IGDDetector.predict_heatmap` as a second
    output). Everything between them is in the graph: the global model, the local model
    applied to every patch of its grid and its part of the score (``local_score``),
    MS-SSIM, the smoothing, the fitted ``global_weights_``, ``score_center_``,
    ``score_scale_`` and ``heatmap_scale_``. ``onnxruntime`` reproduces the detector's
    scores to float32 rounding (relative differences around 1e-6).

    **Input contract.** Images: one input ``"images"``, float32 ``(n, C, H, W)`` with
    values in ``[0, 1]`` and ``(C, H, W) == detector.input_shape_``. What
    :meth:`~sklearn_igd.IGDDetector.fit` does to its input before that is *not* in the
    graph: uint8 images must be divided by 255 first, channels-last ``(n, H, W, C)`` or
    ``(n, H, W)`` images put in this layout, and with ``image_size`` set the images must
    already be resized to ``input_shape_`` (the detector resizes bilinearly with
    antialiasing). 2-D (tabular) input: one input ``"X"``, float32 ``(n, n_features)`` of
    *raw* features: the fitted ``StandardScaler`` (``scaler_``) is part of the graph.
    The graph does not check the value range or look for NaN.

    **Outputs.** ``"score"``: float32 ``(n,)``, higher = more anomalous (the detector's
    ``score_samples`` is its negative, ``decision_function`` is
    ``-score - detector.offset_``). With ``heatmap=True`` also ``"heatmap"``: float32
    ``(n, H, W)``. The graph holds no float64: the few sums that the detector does in
    float64 (its scores' and maps' parts) run in float32, so that runtimes without
    float64 (TensorRT, WebGPU, ...) accept it.

    Parameters
    ----------
    detector : IGDDetector
        A fitted detector (on any device: the graph is exported from a CPU copy of its
        models; the detector is not modified).
    path : str or path-like
        The ``.onnx`` file to write.
    heatmap : bool, default=False
        Also output the per-pixel anomaly map (images only).
    opset : int or None, default=None
        ONNX opset; None uses :data:`DEFAULT_OPSET` (17). At least 13.
    dynamic_batch : bool, default=True
        Leave the batch dimension ``n`` free. False fixes it to 1 (one image per call),
        for runtimes that want static shapes.

    Returns
    -------
    str
        ``path``, as a string.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If ``detector`` is not fitted.
    TypeError
        If ``detector`` is not an :class:`~sklearn_igd.IGDDetector`.
    ValueError
        If ``heatmap=True`` for a detector fitted on 2-D input, or ``opset`` is too old.
    ImportError
        If ``onnx`` is not installed.

    Notes
    -----
    The exporter is PyTorch's TorchScript-based one (``torch.onnx.export(...,
    dynamo=False)``: deprecated since torch 2.9, but here simpler and much faster than the
    ``torch.export``-based one, which also needs ``onnxscript``). The graph is traced
    once, on a batch of two random images (one with ``dynamic_batch=False``), so it has
    no data-dependent branches: it is the same graph for every input. The local model
    scores all patches of a batch in one pass (the detector splits them to bound
    memory), so memory grows with the batch size: score large images in small batches.
    Likewise the nearest-neighbour feature map (``feature_map_.bank``) compares every
    location of the batch with the whole bank at once: about 26 MB per 64 px image with
    a 4,000-vector bank (1,600 locations of its 40 x 40 feature grid).
    ``adaptive_avg_pool2d`` is exported as two averaging matrices (``MatMul``), exact for
    any sizes, where the exporter's own conversion refuses output sizes that do not
    divide the input (the lite backbone's 2x2 pooling of a 1x1 map on 8 px patches) or
    inputs whose size it does not know (after the pre-trained encoder's resize).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_igd import IGDDetector, to_onnx
    >>> from sklearn_igd.datasets import load_digits_images
    >>> X, y = load_digits_images(return_X_y=True)
    >>> det = IGDDetector(max_epochs=1, pretrain=None, local=False, random_state=0)
    >>> det = det.fit(X[y == 0][:64])
    >>> import tempfile, os, onnxruntime
    >>> path = to_onnx(det, os.path.join(tempfile.mkdtemp(), "igd.onnx"))
    >>> session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    >>> images = X[:5, None].astype(np.float32) / 255  # (n, C, H, W) in [0, 1]
    >>> (score,) = session.run(None, {"images": images})
    >>> np.allclose(score, det.anomaly_score(X[:5]), rtol=1e-3)
    True
    """
    from ._detector import IGDDetector

    if not isinstance(detector, IGDDetector):
        raise TypeError(
            f"to_onnx exports a fitted IGDDetector; got {type(detector).__name__}. (A "
            "TiledDetector is exported by exporting its estimator_, which scores one tile.)"
        )
    check_is_fitted(detector)
    try:
        import onnx
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_onnx needs the 'onnx' package: pip install 'sklearn-igd[onnx]' "
            "(onnx, and onnxruntime to run the exported graph)."
        ) from exc
    opset = DEFAULT_OPSET if opset is None else int(opset)
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be at least {MIN_OPSET}; got {opset}.")
    if heatmap and not detector.is_image_:
        raise ValueError(
            "heatmap=True needs a detector fitted on images; this one was fitted on 2-D "
            f"data with {detector.n_features_in_} features."
        )

    module, name = _export_module(detector, heatmap)
    batch = 2 if dynamic_batch else 1  # a traced batch of 1 could be specialised
    gen = torch.Generator().manual_seed(0)
    example = torch.rand((batch,) + tuple(detector.input_shape_), generator=gen)
    outputs = ["score", "heatmap"] if heatmap else ["score"]
    dynamic_axes = None
    if dynamic_batch:
        dynamic_axes = {k: {0: "n"} for k in [name] + outputs}
    path = os.fspath(path)
    buffer = io.BytesIO()
    with _adaptive_pool_as_matmul(opset), warnings.catch_warnings():
        # tracing turns the images' fixed C, H, W into constants, as intended
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        # the patch grid's indices are constants, never negative
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=[name],
            output_names=outputs,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
        )
    model = _float32_only(onnx.load_from_string(buffer.getvalue()))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, path)
    return path


def _export_module(detector, heatmap):
    """The module to trace (on a CPU copy of the fitted models) and its input's name."""
    scorer = copy.deepcopy(detector._scorer()).cpu().eval()
    if scorer.local_model is not None:
        # one pass over all patches: a chunked loop would be traced with the example's
        # batch size baked into the chunk boundaries
        scorer.local_model.max_patches = None
    for p in scorer.parameters():
        p.requires_grad_(False)
    if detector.is_image_:
        return _ExportedScorer(scorer, heatmap=heatmap).eval(), "images"
    scaler = detector.scaler_
    module = _ExportedScorer(scorer, heatmap=False, mean=scaler.mean_, scale=scaler.scale_)
    return module.eval(), "X"


def _pool_matrix(size, out):
    """``(out, size)`` float32 matrix of adaptive average pooling along one axis."""
    m = np.zeros((out, size), dtype=np.float32)
    for i in range(out):
        start, end = (i * size) // out, math.ceil((i + 1) * size / out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _adaptive_avg_pool2d_symbolic(g, x, output_size):
    """``adaptive_avg_pool2d`` as ``P_h @ x @ P_w^T``, ``P`` averaging matrices.

    Exact for any input and output size (the exporter's own symbolic only handles
    outputs that divide a static input size). The matrices are constants where the
    exporter knows H and W, and are otherwise computed from the input's shape at run time.
    """
    from torch.onnx import symbolic_helper

    sizes = symbolic_helper._get_tensor_sizes(x) or [None] * 4
    out = symbolic_helper._maybe_get_const(output_size, "is")
    if out[1] is not None:  # None: that side is kept
        p_w = _pool_matrix_op(g, x, 3, sizes[3], out[1])
        x = g.op("MatMul", x, g.op("Transpose", p_w, perm_i=[1, 0]))
    if out[0] is not None:
        x = g.op("MatMul", _pool_matrix_op(g, x, 2, sizes[2], out[0]), x)
    return x


def _pool_matrix_op(g, x, axis, size, out):
    """The ``(out, size)`` float32 averaging matrix of one axis of ``x`` as an ONNX value."""
    if size is not None:
        return g.op("Constant", value_t=torch.from_numpy(_pool_matrix(size, out)))

    def const(v):
        return g.op("Constant", value_t=torch.tensor(v, dtype=torch.int64))

    side = g.op("Gather", g.op("Shape", x), const(axis), axis_i=0)  # () int64
    pos = g.op("Range", const(0), side, const(1))  # (size,)
    rows = const(np.arange(out)[:, None].tolist())  # (out, 1)
    start = g.op("Div", g.op("Mul", rows, side), const(out))  # floor(i size / out)
    next_start = g.op("Mul", g.op("Add", rows, const(1)), side)
    end = g.op("Div", g.op("Add", next_start, const(out - 1)), const(out))  # ceil(...)
    inside = g.op("And", g.op("Not", g.op("Less", pos, start)), g.op("Less", pos, end))
    width = g.op("Cast", g.op("Sub", end, start), to_i=1)  # float32
    return g.op("Div", g.op("Cast", inside, to_i=1), width)


class _adaptive_pool_as_matmul:
    """Register :func:`_adaptive_avg_pool2d_symbolic` for ``opset`` during the export only."""

    name = "aten::adaptive_avg_pool2d"

    def __init__(self, opset):
        self.opset = opset

    def __enter__(self):
        torch.onnx.register_custom_op_symbolic(
            self.name, _adaptive_avg_pool2d_symbolic, self.opset
        )
        return self

    def __exit__(self, *exc_info):
        torch.onnx.unregister_custom_op_symbolic(self.name, self.opset)
        return False


def _float32_only(model):
    """``model`` with every float64 tensor made float32 (in place; returned).

    The scorer adds its parts in float64 (``.double()``); in the graph those few
    element-wise operations run in float32 instead, which changes the scores by float32
    rounding and lets runtimes without float64 (TensorRT, WebGPU, ...) run the graph.
    """
    from onnx import AttributeProto, TensorProto, numpy_helper

    def as_float(t):
        if t.data_type == TensorProto.DOUBLE:
            values = numpy_helper.to_array(t).astype(np.float32)
            t.CopyFrom(numpy_helper.from_array(values, t.name))

    graph = model.graph
    for t in graph.initializer:
        as_float(t)
    for node in graph.node:
        for a in node.attribute:
            if a.type == AttributeProto.TENSOR:
                as_float(a.t)
            elif node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.DOUBLE:
                a.i = TensorProto.FLOAT
    for v in list(graph.input) + list(graph.output) + list(graph.value_info):
        if v.type.tensor_type.elem_type == TensorProto.DOUBLE:
            v.type.tensor_type.elem_type = TensorProto.FLOAT
    return model
