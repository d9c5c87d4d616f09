"""Interpolated Gaussian Descriptor (IGD) for scikit-learn.

A deep one-class anomaly detector (Chen et al., AAAI 2022) with the contract of
scikit-learn's outlier detectors: ``fit`` on normal samples, then ``score_samples``,
``decision_function`` and ``predict`` (+1 normal, -1 anomaly).
"""

from ._detector import IGDDetector
from ._persistence import InconsistentVersionWarning, load_detector
from ._version import __version__
from .export import to_onnx
from .tiling import TiledDetector

__all__ = [
    "IGDDetector",
    "InconsistentVersionWarning",
    "TiledDetector",
    "load_detector",
    "to_onnx",
    "__version__",
]
