"""Interpolated Gaussian Descriptor (IGD) for scikit-learn.

A deep one-class anomaly detector (Chen et al., AAAI 2022) with the contract of
scikit-learn's outlier detectors: ``fit`` on normal samples, then ``score_samples``,
``decision_function`` and ``predict`` (+1 normal, -1 anomaly).
"""

from ._detector import IGDDetector

__all__ = ["IGDDetector"]
__version__ = "0.1.0.dev0"
