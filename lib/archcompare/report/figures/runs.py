"""Figures of the runs themselves: training curves, per-class accuracy, confusion matrices, one run's history."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ...architectures import display_name
from ..analysis.per_class import mean_confusion
from ..runs import Runs
from .layout import MAX_COLUMNS, SEED_LINESTYLES, accuracy_band, classes_of, colours, empty_figure


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
        return empty_figure("no complete runs")
    palette = colours(runs)
    seeds = sorted({run.seed for run in runs.complete})
    figure = Figure(figsize=(11, 4), layout="constrained")
    accuracy_axes, loss_axes = figure.subplots(1, 2)
    for run in runs.complete:
        history = run.history
        xs = history["epoch"] if x == "epoch" else history["epoch_seconds"].cumsum()
        style = dict(
            color=palette[run.arch],
            linestyle=SEED_LINESTYLES[seeds.index(run.seed) % len(SEED_LINESTYLES)],
            marker="o" if len(history) <= 20 else None,
            markersize=3,
        )
        accuracy_axes.plot(xs, 100 * history["test_acc"], **style)
        low, high = accuracy_band(history["test_acc"].to_numpy(), len(run.labels))
        accuracy_axes.fill_between(xs, 100 * low, 100 * high, color=palette[run.arch], alpha=0.12, linewidth=0)
        loss_axes.plot(xs, history["test_loss"], **style)
    label = "epoch" if x == "epoch" else "cumulative training time (s), excluding setup and evaluation"
    accuracy_axes.set(xlabel=label, ylabel="test accuracy (%)", title="Test accuracy")
    loss_axes.set(xlabel=label, ylabel="test loss", title="Test loss")
    if all((run.history["test_loss"] > 0).all() for run in runs.complete):
        loss_axes.set_yscale("log")  # early-epoch losses can be orders of magnitude above the final ones
    handles = [Line2D([], [], color=palette[arch], label=display_name(arch)) for arch in runs.architectures]
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
        return empty_figure("no complete runs")
    classes = classes_of(runs)
    palette = colours(runs)
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
            color=palette[arch],
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


def plot_confusion_matrices(runs: Runs) -> Figure:
    """Row-normalised confusion matrices, one per architecture, averaged over its seeds.

    Rows are true classes and sum to 1, so a cell reads as "the fraction of class i predicted as j".
    """
    if not runs.complete:
        return empty_figure("no complete runs")
    classes = classes_of(runs)
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
