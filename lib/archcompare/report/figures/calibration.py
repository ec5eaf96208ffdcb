"""Calibration's figure: reliability diagrams of single models and seed ensembles, with each bin's images."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from ..analysis.ensembles import EnsembleScore, reliability_panels
from ..format import display_name, share
from ..format import ece as ece_text
from ..runs import Runs
from ..wording.calibration import panel_name
from .layout import empty_figure

MAX_COLUMNS = 4


def plot_reliability(runs: Runs, ensembles: Mapping[str, list[EnsembleScore]]) -> Figure:
    """Reliability diagrams: each architecture's first seed alone, and its largest seed ensemble.

    Each panel has two axes, as in Guo et al. 2017's figure 1: above, the share of the images in each
    of 15 equal-width confidence bins; below, each bin's accuracy against the diagonal of perfect
    calibration (a bar below it means over-confidence). Sparse bins are drawn hollow, so a bar resting
    on a few images does not look like one resting on thousands.
    """
    panels = reliability_panels(runs, ensembles)
    if not panels:
        return empty_figure("no complete runs")
    columns = min(len(panels), MAX_COLUMNS)
    rows = -(-len(panels) // columns)
    figure = Figure(figsize=(3.4 * columns, 4.2 * rows), layout="constrained")
    subfigures = np.atleast_1d(figure.subfigures(rows, columns, squeeze=False).ravel())
    for subfigure, panel in zip(subfigures, panels):
        shares, accuracy = subfigure.subplots(2, 1, sharex=True, height_ratios=(1, 2.6))
        bins = panel.bins
        width = 1 / len(bins["centre"])
        filled = bins["count"] > 0
        shares.bar(bins["centre"][filled], 100 * bins["share"][filled], width=width, color="grey", edgecolor="black")
        fullest = int(np.argmax(bins["share"]))
        shares.annotate(
            share(bins["share"][fullest]),
            (bins["centre"][fullest], 100 * bins["share"][fullest]),
            ha="center",
            va="bottom",
            fontsize="x-small",
        )
        shares.set(ylim=(0, 115), ylabel="images (%)")
        dense, sparse = panel.dense, panel.sparse
        accuracy.bar(bins["centre"][dense], bins["accuracy"][dense], width=width, edgecolor="black")
        accuracy.bar(
            bins["centre"][sparse],
            bins["accuracy"][sparse],
            width=width,
            fill=False,
            edgecolor="grey",
            linestyle=":",
            label="sparse bin",
        )
        accuracy.plot([0, 1], [0, 1], color="grey", linestyle="--")
        accuracy.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy")
        title = f"{display_name(panel.arch)}, {panel_name(len(panel.members), panel.members[0].seed)}"
        subfigure.suptitle(f"{title}\nECE {ece_text(panel.ece)}", fontsize="small")
    return figure
