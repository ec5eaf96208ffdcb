"""Calibration in words: what temperature scaling did, the fitted temperatures, and the reliability caption."""

from __future__ import annotations

from collections.abc import Mapping

from ..analysis.calibration import Change, reliability_panels
from ..analysis.ensembles import EnsembleScore
from ..format import display_name, number, percent
from ..runs import Runs


def _temperatures(score: EnsembleScore) -> str:
    values = sorted(score.temperatures)
    if len(values) == 2:
        return f"{number(score.temperatures[0])} and {number(score.temperatures[1])} on the two halves"
    return f"{number(values[0])} to {number(values[-1])} over {len(values) // 2} models' halves"


def scaling_text(what: str, score: EnsembleScore) -> str:
    """Whether temperature scaling helped (NLL and ECE), the fitted temperatures, and the confidence they show."""
    if not score.temperatures:
        return ""
    nll, ece = score.nll_scaling, score.ece_scaling
    helped = nll is Change.LOWERED and ece is Change.LOWERED
    text = (
        f"{what}: temperature scaling {nll.value} NLL ({number(score.nll, 3)} → {number(score.nll_scaled, 3)}) and "
        f"{ece.value} ECE ({percent(score.ece, 1)} → {percent(score.ece_scaled, 1)})"
        + (
            ""
            if helped
            else ", so **it did not help**"
            if nll is not Change.LOWERED and ece is not Change.LOWERED
            else ", so it helped only in part"
        )
        + f"; the fitted temperatures are {_temperatures(score)}"
    )
    if not score.temperatures_agree:
        return text + (
            ", which differ by more than 10 %: the test set is too small to fit a temperature reliably, so "
            "the scaled scores say little."
        )
    return text + f", so the {'models are' if len(score.temperatures) > 2 else 'model is'} {score.confidence}."


def panel_name(members: int, first_seed: int) -> str:
    """A reliability panel's name: ``"seed 0"`` for one model, ``"ensemble of 3"`` for an ensemble of seeds."""
    return f"seed {first_seed}" if members == 1 else f"ensemble of {members}"


def caption_reliability(runs: Runs, ensembles: Mapping[str, list[EnsembleScore]]) -> str:
    parts = [
        f"{display_name(panel.arch)} {panel_name(len(panel.members), panel.members[0].seed)} {percent(panel.ece, 1)}"
        for panel in reliability_panels(runs, ensembles)
    ]
    return (
        "**Reliability diagrams**: accuracy in each of 15 confidence bins; bars below the diagonal mean "
        "over-confidence, above it under-confidence. ECE: " + "; ".join(parts) + "."
    )
