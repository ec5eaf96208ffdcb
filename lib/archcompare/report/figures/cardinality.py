"""The cardinality sweep's figure: accuracy and cost against cardinality, beside ImageNet's error."""

from __future__ import annotations

from matplotlib.figure import Figure

from ..analysis.cardinality import CardinalityTrend
from ..format import number
from ..runs import Runs
from .layout import binomial_errors


def plot_cardinality(trend: CardinalityTrend, runs: Runs) -> Figure:
    """Test accuracy and seconds per epoch against cardinality (log scale), ImageNet's error beside them.

    Each run is a dot with its binomial 95 % interval over the test images; with two or more seeds the
    mean over seeds and its t-interval are drawn too. The dashed line is the least-squares line of
    accuracy on log2(cardinality) through every run, the fit the text describes. The ImageNet panel is
    the ResNeXt paper's, on another dataset.
    """
    figure = Figure(figsize=(13, 3.8), layout="constrained")
    accuracy_axes, time_axes, imagenet_axes = figure.subplots(1, 3)
    cardinalities = [point.cardinality for point in trend.points]
    several = any(point.accuracy_interval is not None for point in trend.points)
    for point in trend.points:
        for run in runs.of(point.arch):
            below, above = binomial_errors(run)
            accuracy_axes.errorbar(
                point.cardinality,
                100 * run.correct.mean(),
                yerr=[[below], [above]],
                fmt="o",
                color="grey",
                markersize=4,
                capsize=3,
            )
        if point.accuracy_interval is not None:
            interval = point.accuracy_interval
            accuracy_axes.vlines(point.cardinality, 100 * interval.low, 100 * interval.high, color="C0", linewidth=3)
    if several:
        accuracy_axes.plot(cardinalities, [100 * point.mean_accuracy for point in trend.points], marker="o", color="C0")
    fitted = trend.fitted_accuracies
    if fitted is not None:
        accuracy_axes.plot(
            cardinalities,
            100 * fitted,
            linestyle="--",
            color="C3",
            label=f"least-squares line through the {trend.fit.points} runs: "
            f"{number(100 * trend.fit.slope, sign=True)} points per doubling",
        )
        accuracy_axes.legend(fontsize="small")
    what = "runs with binomial 95% intervals" + (", mean and t-interval over seeds" if several else ", one seed")
    accuracy_axes.set(ylabel="test accuracy (%)", title=f"Accuracy here ({what})")
    accuracy_axes.title.set_fontsize("small")
    time_axes.plot(cardinalities, [point.seconds_per_epoch for point in trend.points], marker="o", color="C1")
    time_axes.set(ylabel="seconds per epoch", title="Training time here")
    errors = [(point.cardinality, point.imagenet_top1_error) for point in trend.points if point.imagenet_top1_error]
    if errors:
        imagenet_axes.plot(*zip(*errors), marker="s", color="C2")
    imagenet_axes.set(ylabel="top-1 error (%)", title="ImageNet (Xie et al. 2017, Table 3)")
    for axes in (accuracy_axes, time_axes, imagenet_axes):
        axes.set_xscale("log", base=2)
        axes.set_xticks(cardinalities, [str(c) for c in cardinalities])
        axes.set_xlabel("cardinality (groups)")
        axes.grid(alpha=0.3)
    return figure
