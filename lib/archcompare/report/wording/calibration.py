"""Calibration in words: what temperature scaling did, which way the models err, label smoothing, the caption.

The words follow the count-weighted picture: the fitted temperatures and the gap between accuracy
and mean confidence over all images, which weights each reliability bin by its images. A diagram's
sparse low-confidence bins can lie below the diagonal while most images sit in one bin above it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ..analysis.calibration import (
    HALVINGS,
    SPARSE_COUNT,
    SPARSE_SHARE,
    Change,
    ReliabilityPanel,
    label_smoothing,
)
from ..analysis.ensembles import EnsembleScore, reliability_panels
from ..format import display_name, number, share, span, text
from ..format import ece as ece_text
from ..format import nll as nll_text
from ..runs import Runs


def ece_range_text(score: EnsembleScore) -> str:
    """The scaled ECE's range over the random halvings: ``"2.9 % to 3.3 % over 10 random halvings"``; '' without."""
    return _range_text(score.ece_scaled_range, ece_text, len(score.ece_scaled_halvings))


def _range_text(spread: tuple[float, float] | None, show: Callable[[float], str], halvings: int) -> str:
    """``"3.1 % to 3.2 % over 10 random halvings"``, or ``"0.351 in each of 10 random halvings"``; '' without."""
    if spread is None:
        return ""
    if show(spread[0]) == show(spread[1]):
        return f"{show(spread[0])} in each of {halvings} random halvings"
    return f"{span(*spread, show)} over {halvings} random halvings"


def _scaling(change: Change, name: str, before: str, after: str, spread: str) -> str:
    """``"lowered ECE (6.0 % → 3.1 %; 3.1 % to 3.2 % over 10 random halvings)"``."""
    numbers = f"({before} → {after}" + (f"; {spread}" if spread else "") + ")"
    if change in (Change.LOWERED, Change.RAISED):
        return f"{change.value} {name} {numbers}"
    return f"left {name} {change.value} {numbers}"


def _temperatures(score: EnsembleScore) -> str:
    values = sorted(score.temperatures)
    if len(values) == 2:
        return f"{number(score.temperatures[0])} and {number(score.temperatures[1])} on the two halves"
    return f"{number(values[0])} to {number(values[-1])} over {len(values) // 2} models' halves"


def _points(value: float) -> str:
    return number(100 * abs(value), 1)


def _gap(score: EnsembleScore) -> str:
    """Accuracy against mean confidence, weighted by the images: ``"accuracy is 3.6 points above the mean confidence"``."""
    gaps = sorted(score.calibration_gaps)
    if gaps[0] > 0 or gaps[-1] < 0:
        side = "above" if gaps[0] > 0 else "below"
        size = span(min(gaps, key=abs), max(gaps, key=abs), _points)
        return f"accuracy is {size} points {side} the mean confidence"
    return (
        f"accuracy minus mean confidence ranges from {number(100 * gaps[0], 1, sign=True)} to "
        f"{number(100 * gaps[-1], 1, sign=True)} points"
    )


def scaling_text(what: str, score: EnsembleScore) -> str:
    """Whether temperature scaling helped (NLL and ECE), the fitted temperatures, and the confidence they show."""
    if not score.temperatures:
        return ""
    nll, ece = score.nll_scaling, score.ece_scaling
    helped = nll is Change.LOWERED and ece is Change.LOWERED
    nll_spread = _range_text(score.nll_scaled_range, nll_text, len(score.nll_scaled_halvings))
    said = (
        f"{what}: temperature scaling "
        + _scaling(nll, "NLL", nll_text(score.nll), nll_text(score.nll_scaled), nll_spread)
        + " and "
        + _scaling(ece, "ECE", ece_text(score.ece), ece_text(score.ece_scaled), ece_range_text(score))
        + (
            ""
            if helped
            else ", so it did not help"  # a description of these scores, not a test: never bold
            if nll is not Change.LOWERED and ece is not Change.LOWERED
            else ", so it helped only in part"
        )
        + f"; the fitted temperatures are {_temperatures(score)}"
    )
    if not score.temperatures_agree:
        return said + (
            ", which differ by more than 10 %: the test set is too small to fit a temperature reliably, so "
            "the scaled scores say little."
        )
    several = len(score.temperatures) > 2
    gap = f" and, weighted by the images, {_gap(score)}" if score.calibration_gaps else ""
    return said + gap + f", so the {'models are' if several else 'model is'} {score.confidence}."


def panel_name(members: int, first_seed: int) -> str:
    """A reliability panel's name: ``"seed 0"`` for one model, ``"ensemble of 3"`` for an ensemble of seeds."""
    return f"seed {first_seed}" if members == 1 else f"ensemble of {members}"


def _title(panel: ReliabilityPanel) -> str:
    return f"{display_name(panel.arch)} {panel_name(len(panel.members), panel.members[0].seed)}"


def sparse_rule() -> str:
    return f"under {share(SPARSE_SHARE)} of the images or under {SPARSE_COUNT} images"


def _weighted_direction(panels: Sequence[ReliabilityPanel]) -> str:
    """What the panels show weighted by their images, and how that sits with the count of bars on each side.

    A panel's count-weighted gap is positive exactly when its bins above the diagonal give more of
    its ECE than those below (the gap is the one part minus the other).
    """
    under = [panel for panel in panels if panel.error.gap > 0]
    over = [panel for panel in panels if panel.error.gap < 0]
    if len(under) != len(panels) and len(over) != len(panels):
        return (
            f"Weighted by their images, {len(under)} of {len(panels)} panels are under-confident "
            f"({', '.join(_title(panel) for panel in under)}) and {len(over)} over-confident "
            f"({', '.join(_title(panel) for panel in over)})."
        )
    majority_below = not under  # the side of the diagonal that holds most of each panel's ECE
    direction = "over-confident" if majority_below else "under-confident"
    said = (
        f"Weighted by their images, every panel is {direction}: the bins "
        f"{'below' if majority_below else 'above'} the diagonal give most of its ECE"
    )
    outnumbered = [
        panel
        for panel in panels
        if (panel.bars_above if majority_below else panel.bars_below)
        > (panel.bars_below if majority_below else panel.bars_above)
    ]
    if outnumbered:
        shares = [panel.share_on_side(below=not majority_below) for panel in outnumbered]
        said += (
            f". In {len(outnumbered)} of {len(panels)} panels more bars lie {'above' if majority_below else 'below'} "
            f"the diagonal than {'below' if majority_below else 'above'} it, but those bins hold only "
            f"{span(min(shares), max(shares), share)} of the images"
        )
    return said + "."


def caption_reliability(runs: Runs, ensembles: Mapping[str, list[EnsembleScore]]) -> str:
    panels = reliability_panels(runs, ensembles)
    fullest = [panel.fullest_share for panel in panels]
    parts = [
        f"{_title(panel)} {ece_text(panel.ece)} ({_points(panel.error.under)} above, {_points(panel.error.over)} below)"
        for panel in panels
    ]
    return (
        "**Reliability diagrams** of each architecture's first seed and of its seed ensemble. Upper panel: the "
        "share of the test images in each of 15 equal-width confidence bins; the fullest bin holds "
        f"{span(min(fullest), max(fullest), share)} of the images. Lower panel: the accuracy in "
        "each bin; a bar below the dashed diagonal means over-confidence in that bin, above it under-confidence. "
        f"Hollow bars are sparse bins ({sparse_rule()}), whose accuracy rests on few images. "
        + _weighted_direction(panels)
        + " ECE, and the points of it from bins above and below the diagonal: "
        + "; ".join(parts)
        + "."
    )


def _smoothing_text(runs: Runs) -> tuple[str, float | None]:
    """The label smoothing the runs were trained with, and its one value when every run had the same."""
    values = label_smoothing(runs)
    if set(values) == {0.0}:
        return "", None
    if len(values) == 1:
        value = next(iter(values))
        classes = runs.complete[0].record.num_classes
        target = 1 - value + value / classes
        return (
            f"Every run was trained with label smoothing {text(value)} (the runs' config "
            f"`label_smoothing`): the training target of the true class is {number(target, 2)}, not 1, so it shapes "
            "every NLL, ECE and temperature in this section.",
            value,
        )
    listed = "; ".join(f"{text(value)} ({', '.join(labels)})" for value, labels in values.items())
    return (
        f"The runs were trained with different label smoothing (config `label_smoothing`): {listed}; it shapes "
        "every NLL, ECE and temperature in this section, so their scores are not comparable on calibration.",
        None,
    )


def calibration_markdown(runs: Runs, ensembles: Mapping[str, list[EnsembleScore]]) -> str:
    """Label smoothing when it is on, the count-weighted direction, and smoothing as a likely cause of under-confidence."""
    smoothing, value = _smoothing_text(runs)
    scores = [score for rows in ensembles.values() for score in rows]
    lines = [smoothing] if smoothing else []
    if scores and value and all(score.confidence == "under-confident" for score in scores):
        lines.append(
            "Every model and ensemble above is under-confident (every fitted temperature below 1, accuracy above "
            "the mean confidence). Label smoothing is a likely cause: it trains the outputs away from "
            'certainty (Müller et al. 2019, "When does label smoothing help?"). No run here was trained '
            "without it, so the report cannot say more than likely."
        )
    if scores:
        lines.append(
            f"The temperature-scaled NLL and ECE are shown with their ranges over {HALVINGS} random halvings of "
            f"the test images (seeds 0 to {HALVINGS - 1}; seed 0 gives the value shown), since which images fit the "
            "temperature moves them. Scaling is said to have lowered or raised a score only where the unscaled "
            "score lies outside that range, so that every halving moved it the same way; otherwise it left the "
            "score unchanged within the noise."
        )
    return "\n\n".join(lines)
