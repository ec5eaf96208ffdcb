"""What the report's figures share: colours, seeds' line styles, panel grids, binomial error bars."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ...errors import ReportError
from ..analysis.reference import CONFIDENCE
from ..analysis.statistics import wilson_interval
from ..runs import RunResult, Runs

SEED_LINESTYLES = ("-", "--", ":", "-.")
MAX_COLUMNS = 3  # panels per row in per-architecture grids


def colours(runs: Runs) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {arch: palette(i % 10) for i, arch in enumerate(runs.architectures)}


def classes_of(runs: Runs) -> list[str]:
    distinct = {run.record.classes for run in runs.complete}
    if len(distinct) > 1:
        raise ReportError(
            "the runs were trained on different class lists, so their per-class results cannot be compared: "
            + "; ".join(", ".join(classes) for classes in sorted(distinct))
        )
    return list(next(iter(distinct), ()))


def panel_grid(count: int, max_columns: int, panel_size: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """A figure of ``count`` panels in rows of up to ``max_columns``; the flat axes, the spare ones hidden."""
    columns = min(count, max_columns)
    rows = -(-count // columns)
    figure = Figure(figsize=(panel_size[0] * columns, panel_size[1] * rows), layout="constrained")
    axes_list = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for unused in axes_list[count:]:
        unused.set_axis_off()
    return figure, axes_list


def empty_figure(message: str) -> Figure:
    figure = Figure(figsize=(6, 1.5))
    figure.text(0.5, 0.5, message, ha="center", va="center")
    return figure


def accuracy_band(accuracies: np.ndarray, images: int) -> tuple[np.ndarray, np.ndarray]:
    """Wilson 95 % bounds of each accuracy measured on ``images`` test images (as fractions)."""
    bounds = [wilson_interval(round(a * images), images, CONFIDENCE) for a in accuracies]
    return np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])


def binomial_errors(run: RunResult) -> tuple[float, float]:
    """Wilson 95 % error bar lengths (below, above) of a run's test accuracy, in percent."""
    correct = int(run.correct.sum())
    low, high = wilson_interval(correct, len(run.labels), CONFIDENCE)
    accuracy = 100 * correct / len(run.labels)
    return accuracy - 100 * low, 100 * high - accuracy
