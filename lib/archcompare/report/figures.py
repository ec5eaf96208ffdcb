"""The report's figures (matplotlib Figures, never pyplot state)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..architectures import display_name
from ..errors import ReportError
from .compare import CONFIDENCE, CardinalityTrend, EnsembleScore, PairComparison, per_class_differences
from .runs import RunResult, Runs
from .statistics import ensemble, expected_calibration_error, reliability, wilson_interval

SEED_LINESTYLES = ("-", "--", ":", "-.")
MAX_COLUMNS = 3  # panels per row in per-architecture grids

# --- figures ------------------------------------------------------------------------------------


def _colours(runs: Runs) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {arch: palette(i % 10) for i, arch in enumerate(runs.architectures)}


def _classes(runs: Runs) -> list[str]:
    distinct = {run.record.classes for run in runs.complete}
    if len(distinct) > 1:
        raise ReportError(
            "the runs were trained on different class lists, so their per-class results cannot be compared: "
            + "; ".join(", ".join(classes) for classes in sorted(distinct))
        )
    return list(next(iter(distinct), ()))


def _panel_grid(count: int, max_columns: int, panel_size: tuple[float, float]) -> tuple[Figure, np.ndarray]:
    """A figure of ``count`` panels in rows of up to ``max_columns``; the flat axes, the spare ones hidden."""
    columns = min(count, max_columns)
    rows = -(-count // columns)
    figure = Figure(figsize=(panel_size[0] * columns, panel_size[1] * rows), layout="constrained")
    axes_list = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for unused in axes_list[count:]:
        unused.set_axis_off()
    return figure, axes_list


def _empty_figure(message: str) -> Figure:
    figure = Figure(figsize=(6, 1.5))
    figure.text(0.5, 0.5, message, ha="center", va="center")
    return figure


def plot_training_curves(runs: Runs, x: str = "epoch") -> Figure:
    """Test accuracy and test loss of every run per epoch (``x="epoch"``) or over training time (``"time"``).

    Against cumulative training time, a slower architecture's curve is stretched to the right, which
    shows what its accuracy costs. One line per run, coloured by architecture, styled by seed; each
    accuracy line lies in its binomial (Wilson) 95 % band over the test images, the spread a single
    evaluation has on a test set of that size.
    """
    if x not in ("epoch", "time"):
        raise ValueError(f"x={x!r} is not allowed: choose epoch or time")
    if not runs.complete:
        return _empty_figure("no complete runs")
    colours = _colours(runs)
    seeds = sorted({run.seed for run in runs.complete})
    figure = Figure(figsize=(11, 4), layout="constrained")
    accuracy_axes, loss_axes = figure.subplots(1, 2)
    for run in runs.complete:
        history = run.history
        xs = history["epoch"] if x == "epoch" else history["epoch_seconds"].cumsum()
        style = dict(
            color=colours[run.arch],
            linestyle=SEED_LINESTYLES[seeds.index(run.seed) % len(SEED_LINESTYLES)],
            marker="o" if len(history) <= 20 else None,
            markersize=3,
        )
        accuracy_axes.plot(xs, 100 * history["test_acc"], **style)
        low, high = accuracy_band(history["test_acc"].to_numpy(), len(run.labels))
        accuracy_axes.fill_between(xs, 100 * low, 100 * high, color=colours[run.arch], alpha=0.12, linewidth=0)
        loss_axes.plot(xs, history["test_loss"], **style)
    label = "epoch" if x == "epoch" else "cumulative training time (s), excluding setup and evaluation"
    accuracy_axes.set(xlabel=label, ylabel="test accuracy (%)", title="Test accuracy")
    loss_axes.set(xlabel=label, ylabel="test loss", title="Test loss")
    if all((run.history["test_loss"] > 0).all() for run in runs.complete):
        loss_axes.set_yscale("log")  # early-epoch losses can be orders of magnitude above the final ones
    handles = [Line2D([], [], color=colours[arch], label=display_name(arch)) for arch in runs.architectures]
    if len(seeds) > 1:
        handles += [
            Line2D([], [], color="grey", linestyle=SEED_LINESTYLES[i % len(SEED_LINESTYLES)], label=f"seed {seed}")
            for i, seed in enumerate(seeds)
        ]
    accuracy_axes.legend(handles=handles, fontsize="small")
    for axes in (accuracy_axes, loss_axes):
        axes.grid(alpha=0.3)
    return figure


def plot_per_class_accuracy(runs: Runs) -> Figure:
    """Final test accuracy per class, one bar group per class and one bar per architecture (mean over seeds).

    Error bars are the standard deviation over seeds, shown when an architecture has two or more.
    """
    if not runs.complete:
        return _empty_figure("no complete runs")
    classes = _classes(runs)
    colours = _colours(runs)
    architectures = runs.architectures
    figure = Figure(figsize=(max(6.0, 0.8 * len(classes) + 2), 4), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(classes))
    width = 0.8 / len(architectures)
    for i, arch in enumerate(architectures):
        values = 100 * np.array([run.record.per_class_acc for run in runs.of(arch)])
        spread = values.std(0, ddof=1) if len(values) > 1 else None
        axes.bar(
            positions + (i - (len(architectures) - 1) / 2) * width,
            values.mean(0),
            width,
            yerr=spread,
            capsize=2,
            color=colours[arch],
            label=f"{display_name(arch)} (n={len(values)})",
        )
    axes.set_xticks(
        positions, classes, rotation=45 if len(classes) > 5 else 0, ha="right" if len(classes) > 5 else "center"
    )
    axes.set(ylabel="test accuracy (%)", ylim=(0, 100), title="Per-class test accuracy (final epoch)")
    # Above the axes, in as many columns as it needs: inside them it covered whole bars.
    axes.legend(fontsize="small", loc="lower center", bbox_to_anchor=(0.5, 1.08), ncols=min(len(architectures), 3))
    axes.grid(axis="y", alpha=0.3)
    return figure


def mean_confusion(runs: Runs, arch: str) -> np.ndarray:
    """The architecture's confusion matrix summed over seeds, each row divided by its total (true class)."""
    counts = np.sum([np.array(run.record.confusion_matrix, float) for run in runs.of(arch)], axis=0)
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def plot_confusion_matrices(runs: Runs) -> Figure:
    """Row-normalised confusion matrices, one per architecture, averaged over its seeds.

    Rows are true classes and sum to 1, so a cell reads as "the fraction of class i predicted as j".
    """
    if not runs.complete:
        return _empty_figure("no complete runs")
    classes = _classes(runs)
    architectures = runs.architectures
    size = max(4.0, 0.45 * len(classes) + 2)
    columns = min(len(architectures), MAX_COLUMNS)  # five or more stay readable: a grid, not one long row
    rows = -(-len(architectures) // columns)
    figure = Figure(figsize=(size * columns + 1, size * rows), layout="constrained")
    axes_list = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    for unused in axes_list[len(architectures) :]:
        unused.set_axis_off()
    image = None
    for axes, arch in zip(axes_list, architectures):
        matrix = mean_confusion(runs, arch)
        image = axes.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
        axes.set_xticks(range(len(classes)), classes, rotation=90)
        axes.set_yticks(range(len(classes)), classes)
        axes.set(xlabel="predicted class", ylabel="true class", title=f"{display_name(arch)} (n={len(runs.of(arch))})")
        if len(classes) <= 12:
            for (row, column), value in np.ndenumerate(matrix):
                colour = "white" if value > 0.5 else "black"
                axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=list(axes_list), shrink=0.8, label="fraction of the true class")
    return figure


def plot_history(run_dir: str | Path) -> Figure:
    """One run's loss and accuracy per epoch, train and test, from its ``history.csv``.

    Both loss curves are plain cross-entropy: the training objective with label smoothing is
    drawn too, dashed, when it differs, since it never falls as low as the plain loss.
    """
    history = pd.read_csv(Path(run_dir) / "history.csv")
    figure = Figure(figsize=(10, 3.5), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    train_ce = "train_ce" if "train_ce" in history else "train_loss"  # histories before train_ce had one loss
    loss_axes.plot(history["epoch"], history[train_ce], marker="o", label="train")
    loss_axes.plot(history["epoch"], history["test_loss"], marker="o", label="test")
    if train_ce == "train_ce" and not np.allclose(history["train_ce"], history["train_loss"]):
        loss_axes.plot(history["epoch"], history["train_loss"], linestyle="--", label="train, with label smoothing")
    for split in ("train", "test"):
        accuracy_axes.plot(history["epoch"], 100 * history[f"{split}_acc"], marker="o", label=split)
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.legend()
        axes.grid(alpha=0.3)
    return figure


def accuracy_band(accuracies: np.ndarray, images: int) -> tuple[np.ndarray, np.ndarray]:
    """Wilson 95 % bounds of each accuracy measured on ``images`` test images (as fractions)."""
    bounds = [wilson_interval(round(a * images), images, CONFIDENCE) for a in accuracies]
    return np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds])


def _binomial_errors(run: RunResult) -> tuple[float, float]:
    """Wilson 95 % error bar lengths (below, above) of a run's test accuracy, in percent."""
    correct = int(run.correct.sum())
    low, high = wilson_interval(correct, len(run.labels), CONFIDENCE)
    accuracy = 100 * correct / len(run.labels)
    return accuracy - 100 * low, 100 * high - accuracy


def plot_cardinality(trend: CardinalityTrend, runs: Runs) -> Figure:
    """Test accuracy and seconds per epoch against cardinality (log scale), ImageNet's error beside them.

    Each run is a dot with its binomial 95 % interval over the test images; with two or more seeds the
    mean over seeds and its t-interval are drawn too. The dashed line is the least-squares fit of
    accuracy on log2(cardinality) (the mean of the per-seed fits). The ImageNet panel is the ResNeXt
    paper's, on another dataset.
    """
    figure = Figure(figsize=(13, 3.8), layout="constrained")
    accuracy_axes, time_axes, imagenet_axes = figure.subplots(1, 3)
    cardinalities = [point.cardinality for point in trend.points]
    several = any(point.accuracy_interval is not None for point in trend.points)
    for point in trend.points:
        for run in runs.of(point.arch):
            below, above = _binomial_errors(run)
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
        accuracy_axes.plot(
            cardinalities, [100 * float(np.mean(p.accuracies)) for p in trend.points], marker="o", color="C0"
        )
    if trend.seed_slopes:
        slope = float(np.mean(trend.seed_slopes))
        x = np.log2(cardinalities)
        y = np.array([float(np.mean(point.accuracies)) for point in trend.points])
        intercept = y.mean() - slope * x.mean()
        accuracy_axes.plot(
            cardinalities,
            100 * (intercept + slope * x),
            linestyle="--",
            color="C3",
            label=f"fit: {100 * slope:+.2f} points per doubling",
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


def plot_per_class_difference(runs: Runs, pairs: list[PairComparison]) -> Figure:
    """Per class, each architecture's accuracy minus the baseline's, with 95 % intervals: one panel per comparison."""
    if not pairs:
        return _empty_figure("no paired comparison")
    classes = _classes(runs)
    figure, axes_list = _panel_grid(len(pairs), max_columns=2, panel_size=(6.5, 3.4))
    for axes, pair in zip(axes_list, pairs):
        means, lows, highs = per_class_differences(pair, runs)
        positions = np.arange(len(classes))
        colours = ["C2" if low > 0 else "C3" if high < 0 else "C7" for low, high in zip(lows, highs)]
        axes.bar(positions, 100 * means, color=colours, yerr=[100 * (means - lows), 100 * (highs - means)], capsize=2)
        axes.axhline(0, color="black", linewidth=0.8)
        axes.set_xticks(
            positions, classes, rotation=45 if len(classes) > 5 else 0, ha="right" if len(classes) > 5 else "center"
        )
        n = len(pair.seeds)
        axes.set(
            ylabel="difference (percentage points)",
            title=f"{display_name(pair.other)} minus {display_name(pair.baseline)} "
            f"({'t-interval over ' + str(n) + ' seeds' if n > 1 else 'one seed, binomial interval'})",
        )
        axes.title.set_fontsize("small")
        axes.grid(axis="y", alpha=0.3)
    return figure


def plot_headline(runs: Runs, pairs: list[PairComparison]) -> Figure:
    """The result at a glance: each run's test accuracy with its binomial 95 % interval, and the time ratios.

    Left, one dot per run (seeds side by side) with a Wilson interval over the test images and a bar
    at each architecture's mean. Right, each architecture's seconds per epoch over the baseline's,
    per device model and paired seed (never pooled across device models).
    """
    if not runs.complete:
        return _empty_figure("no complete runs")
    colours = _colours(runs)
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    accuracy_axes, time_axes = figure.subplots(1, 2, width_ratios=(3, 2))
    architectures = runs.architectures
    for i, arch in enumerate(architectures):
        members = runs.of(arch)
        offsets = np.linspace(-0.2, 0.2, len(members)) if len(members) > 1 else [0.0]
        for offset, run in zip(offsets, members):
            below, above = _binomial_errors(run)
            accuracy_axes.errorbar(
                i + offset, 100 * run.correct.mean(), yerr=[[below], [above]], fmt="o", color=colours[arch], capsize=3
            )
            accuracy_axes.annotate(
                f"s{run.seed}",
                (i + offset, 100 * run.correct.mean()),
                xytext=(4, -10),
                textcoords="offset points",
                fontsize="x-small",
            )
        mean = 100 * float(np.mean([run.record.test_acc for run in members]))
        accuracy_axes.hlines(mean, i - 0.3, i + 0.3, color=colours[arch], linewidth=2)
    accuracy_axes.set_xticks(
        range(len(architectures)),
        [display_name(arch) for arch in architectures],
        rotation=20 if len(architectures) > 3 else 0,
    )
    accuracy_axes.set(ylabel="test accuracy (%)", title="Test accuracy per seed (binomial 95% interval; bar: mean)")
    accuracy_axes.title.set_fontsize("small")
    labels = []
    for pair in pairs:
        for group in pair.timings:
            label = display_name(pair.other) + (
                f"\n{group.device}" if len({g.device for p in pairs for g in p.timings}) > 1 else ""
            )
            position = len(labels)
            labels.append(label)
            time_axes.bar(position, group.time_ratio, color=colours.get(pair.other, "C0"), alpha=0.6)
            time_axes.scatter(
                [position] * len(group.seeds), [1 + s for s in group.seed_slowdowns], color="black", s=12, zorder=3
            )
    time_axes.axhline(1, color="black", linewidth=0.8)
    if labels:
        time_axes.set_xticks(range(len(labels)), labels, fontsize="small", rotation=20 if len(labels) > 3 else 0)
    baseline = display_name(pairs[0].baseline) if pairs else "the baseline"
    time_axes.set(ylabel=f"seconds per epoch / {baseline}'s", title="Training time ratio (bar: mean; dots: seeds)")
    time_axes.title.set_fontsize("small")
    for axes in (accuracy_axes, time_axes):
        axes.grid(axis="y", alpha=0.3)
    return figure


def plot_reliability(runs: Runs, ensembles: dict[str, list[EnsembleScore]]) -> Figure:
    """Reliability diagrams: each architecture's first seed alone, and its largest seed ensemble.

    Bars are the accuracy in each of 15 equal-width confidence bins; the diagonal is perfect
    calibration, so bars below it mean over-confidence.
    """
    panels = []
    for arch in runs.architectures:
        members = runs.of(arch)
        panels.append((f"{display_name(arch)}, seed {members[0].seed}", [members[0]]))
        if arch in ensembles and len(members) > 1:
            panels.append((f"{display_name(arch)}, ensemble of {len(members)}", members))
    if not panels:
        return _empty_figure("no complete runs")
    figure, axes_list = _panel_grid(len(panels), max_columns=4, panel_size=(3.4, 3.2))
    for axes, (title, members) in zip(axes_list, panels):
        probabilities = ensemble([run.probabilities for run in members])
        bins = reliability(probabilities, members[0].labels)
        filled = bins["count"] > 0
        axes.bar(bins["centre"][filled], bins["accuracy"][filled], width=1 / len(bins["centre"]), edgecolor="black")
        axes.plot([0, 1], [0, 1], color="grey", linestyle="--")
        ece = expected_calibration_error(probabilities, members[0].labels)
        axes.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=f"{title}\nECE {ece:.1%}")
        axes.title.set_fontsize("small")
    return figure
