"""The report's figures (matplotlib Figures, never pyplot state), one module per concern.

They draw what :mod:`..analysis` computed: layout (shared colours, grids, binomial error bars), runs
(training curves, per-class accuracy, confusion matrices), comparison (headline, per-class
differences), cardinality, calibration (reliability diagrams).
"""

from .calibration import plot_reliability
from .cardinality import plot_cardinality
from .comparison import plot_headline, plot_per_class_difference
from .runs import plot_confusion_matrices, plot_history, plot_per_class_accuracy, plot_training_curves

__all__ = [
    "plot_cardinality",
    "plot_confusion_matrices",
    "plot_headline",
    "plot_history",
    "plot_per_class_accuracy",
    "plot_per_class_difference",
    "plot_reliability",
    "plot_training_curves",
]
