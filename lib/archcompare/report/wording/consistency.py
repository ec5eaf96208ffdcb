"""Error consistency in words: kappa between the architectures and between seeds, described, never judged."""

from __future__ import annotations

from ..analysis.consistency import ConsistencyGroup, ErrorConsistency, PairConsistency
from ..format import display_name, number, percent


def kappa_text(value: float) -> str:
    """Kappa with two decimals, or a dash where it is undefined (both models all right or all wrong)."""
    return "—" if value != value else number(value, 2)


def agreement_text(value: float) -> str:
    return percent(value, 1)


def interval_text(interval: tuple[float, float]) -> str:
    return f"{kappa_text(interval[0])} to {kappa_text(interval[1])}"


def group_name(group: ConsistencyGroup) -> str:
    if group.kind == "between":
        return f"Between {display_name(group.archs[0])} and {display_name(group.archs[1])}"
    return f"Between seeds of {display_name(group.archs[0])}"


def pair_name(group: ConsistencyGroup, pair: PairConsistency) -> str:
    """``"seed 0"`` for architectures paired by seed, ``"seeds 0 and 1"`` for two seeds of one architecture."""
    first, second = pair.first.rpartition(" seed ")[2], pair.second.rpartition(" seed ")[2]
    return f"seed {first}" if group.kind == "between" else f"seeds {first} and {second}"


def _pair_text(group: ConsistencyGroup, pair: PairConsistency) -> str:
    return (
        f"{pair_name(group, pair)}: agreement {agreement_text(pair.observed)} against {agreement_text(pair.expected)} "
        f"by chance, κ = {kappa_text(pair.kappa)} ({interval_text(pair.interval)})"
    )


def _group_text(group: ConsistencyGroup) -> str:
    pairs = "; ".join(_pair_text(group, pair) for pair in group.pairs)
    if len(group.pairs) == 1:
        return f"- {group_name(group)}, {pairs}."
    what = "paired seeds" if group.kind == "between" else "pairs of seeds"
    return (
        f"- {group_name(group)}: κ = {kappa_text(group.mean_kappa)} on average over {len(group.pairs)} {what} "
        f"({interval_text(group.interval)}); {pairs}."
    )


def consistency_markdown(result: ErrorConsistency) -> str:
    """Kappa per group and pair with observed and chance agreement, and what the numbers are and are not."""
    lines = [_group_text(group) for group in result.groups]
    lines.append(
        "- Agreement is the share of test images on which both models are right or both wrong; by chance, the "
        "share two models of these accuracies would reach if their errors fell independently. κ rescales the "
        "observed agreement between those: 1 when two models are right on exactly the same images, about 0 when "
        "they agree no more than chance, negative when less (Geirhos et al. 2020). In parentheses: "
        f"{percent(result.confidence, 0)} percentile bootstrap intervals over "
        f"the test images ({number(result.resamples, 0)} resamples, seed {result.seed}, every model's answers on an "
        "image resampled together); the interval of a mean over seeds holds the test images' noise only, not the "
        "seeds'. These describe these trained models on this test set: no test is made and no verdict given."
    )
    return "\n".join(lines)
