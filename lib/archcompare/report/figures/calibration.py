"""Calibration's figure: reliability diagrams of single models and seed ensembles."""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.figure import Figure

from ...architectures import display_name
from ..analysis.calibration import reliability_panels
from ..analysis.ensembles import EnsembleScore
from ..runs import Runs
from ..wording.calibration import panel_name
from .layout import empty_figure, panel_grid


def plot_reliability(runs: Runs, ensembles: Mapping[str, list[EnsembleScore]]) -> Figure:
    """Reliability diagrams: each architecture's first seed alone, and its largest seed ensemble.

    Bars are the accuracy in each of 15 equal-width confidence bins; the diagonal is perfect
    calibration, so bars below it mean over-confidence.
    """
    panels = reliability_panels(runs, ensembles)
    if not panels:
        return empty_figure("no complete runs")
    figure, axes_list = panel_grid(len(panels), max_columns=4, panel_size=(3.4, 3.2))
    for axes, panel in zip(axes_list, panels):
        bins = panel.bins
        filled = bins["count"] > 0
        axes.bar(bins["centre"][filled], bins["accuracy"][filled], width=1 / len(bins["centre"]), edgecolor="black")
        axes.plot([0, 1], [0, 1], color="grey", linestyle="--")
        title = f"{display_name(panel.arch)}, {panel_name(len(panel.members), panel.members[0].seed)}"
        axes.set(
            xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=f"{title}\nECE {panel.ece:.1%}"
        )
        axes.title.set_fontsize("small")
    return figure
