"""The metrics a training run records about itself, in plain numpy.

The statistics that compare runs (tests, intervals, ensembles, calibration) are the report's:
``archcompare.report.analysis``.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    return np.bincount(
        np.asarray(labels) * num_classes + np.asarray(predictions), minlength=num_classes * num_classes
    ).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    totals = confusion.sum(1)
    return np.divide(np.diag(confusion), totals, out=np.zeros(len(totals)), where=totals > 0)
