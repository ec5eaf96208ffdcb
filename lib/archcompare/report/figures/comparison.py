"""Figures of the comparison with the baseline: the headline (accuracy per run, time ratios) and per-class differences."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ...architectures import display_name
from ..analysis.pairs import PairComparison
from ..analysis.per_class import PerClassMethod, per_class_differences
from ..analysis.reference import ALPHA
from ..runs import Runs
from .layout import binomial_errors, classes_of, colours, empty_figure, panel_grid


def plot_per_class_difference(runs: Runs, pairs: list[PairComparison]) -> Figure:
    """Per class, each architecture's accuracy minus the baseline's, with 95 % intervals: one panel per comparison."""
    if not pairs:
        return empty_figure("no paired comparison")
    classes = classes_of(runs)
    figure, axes_list = panel_grid(len(pairs), max_columns=2, panel_size=(6.5, 3.4))
    for axes, pair in zip(axes_list, pairs):
        differences = per_class_differences(pair, runs)
        means, lows, highs = differences
        positions = np.arange(len(classes))
        bar_colours = [
            "C2" if above else "C3" if below else "C7"
            for above, below in zip(differences.above_zero, differences.below_zero)
        ]
        axes.bar(
            positions, 100 * means, color=bar_colours, yerr=[100 * (means - lows), 100 * (highs - means)], capsize=2
        )
        axes.axhline(0, color="black", linewidth=0.8)
        axes.set_xticks(
            positions, classes, rotation=45 if len(classes) > 5 else 0, ha="right" if len(classes) > 5 else "center"
        )
        n = differences.seeds
        how = (
            f"t-interval over {n} seeds"
            if differences.method is PerClassMethod.OVER_SEEDS
            else ("one seed" if n == 1 else f"{n} seeds pooled") + ", Wald interval"
        )
        axes.set(
            ylabel="difference (percentage points)",
            title=f"{display_name(pair.other)} minus {display_name(pair.baseline)} ({how}; colour: Holm p < {ALPHA})",
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
        return empty_figure("no complete runs")
    palette = colours(runs)
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    accuracy_axes, time_axes = figure.subplots(1, 2, width_ratios=(3, 2))
    architectures = runs.architectures
    for i, arch in enumerate(architectures):
        members = runs.of(arch)
        offsets = np.linspace(-0.2, 0.2, len(members)) if len(members) > 1 else [0.0]
        for offset, run in zip(offsets, members):
            below, above = binomial_errors(run)
            accuracy_axes.errorbar(
                i + offset, 100 * run.correct.mean(), yerr=[[below], [above]], fmt="o", color=palette[arch], capsize=3
            )
            accuracy_axes.annotate(
                f"s{run.seed}",
                (i + offset, 100 * run.correct.mean()),
                xytext=(4, -10),
                textcoords="offset points",
                fontsize="x-small",
            )
        mean = 100 * float(np.mean([run.record.test_acc for run in members]))
        accuracy_axes.hlines(mean, i - 0.3, i + 0.3, color=palette[arch], linewidth=2)
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
            time_axes.bar(position, group.time_ratio, color=palette.get(pair.other, "C0"), alpha=0.6)
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
