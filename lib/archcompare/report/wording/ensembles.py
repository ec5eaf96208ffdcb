"""Ensembles in words: what averaging seeds bought, and two models at equal cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..analysis.ensembles import EnsembleScore, EqualCost, spread
from ..format import display_name, number, p_value, percent
from .calibration import scaling_text


def ensembles_markdown(seeds: Mapping[str, list[EnsembleScore]], equal_cost: EqualCost | None) -> str:
    """What averaging models bought, in which direction, and whether temperature scaling helped."""
    lines = []
    for arch, scores in seeds.items():
        single, largest = scores[0], scores[-1]
        lines.append(
            f"- {display_name(arch)}: an ensemble of {largest.size} seeds reaches {percent(largest.accuracy)} "
            f"against {percent(single.accuracy)} for one model on average"
            + _versus_best_member(largest)
            + f" NLL {number(single.nll, 3)} → {number(largest.nll, 3)}, ECE {percent(single.ece, 1)} → "
            f"{percent(largest.ece, 1)}. "
            + scaling_text("One model", single)
            + " "
            + scaling_text(f"The {largest.size}-seed ensemble", largest)
        )
    if equal_cost is not None:
        lines.append(_equal_cost_text(equal_cost))
    return "\n".join(lines)


def _versus_best_member(score: EnsembleScore) -> str:
    """The ensemble against its most accurate member, with the direction said, not only the p-value."""
    difference = score.difference_vs_best_member
    if difference is None:
        return "."
    direction = "better than" if difference > 0 else "worse than" if difference < 0 else "as accurate as"
    verdict = (
        f"a significant {'gain' if difference > 0 else 'loss'}"
        if score.significant_vs_best_member and difference
        else "not a significant difference"
    )
    return (
        f"; it is **{direction} its best member** ({score.best_member}, {percent(score.best_member_accuracy)}), "
        f"by {number(abs(100 * difference))} percentage points: McNemar's "
        f"{p_value(score.mcnemar_vs_best_member.p_value)}, {verdict}."
    )


def _spread(scores: Sequence[EnsembleScore]) -> str:
    if len(scores) == 1:
        return percent(scores[0].accuracy)
    summary = spread(scores)
    return (
        f"{percent(summary.accuracy_mean)} on average ({percent(summary.accuracy_low)} to "
        f"{percent(summary.accuracy_high)})"
    )


def _equal_cost_text(equal_cost: EqualCost) -> str:
    mixed = equal_cost.mixed
    text = (
        f"- At equal cost (two models): the {len(mixed)} ensemble(s) of one run of each architecture reach "
        f"{_spread(mixed)}"
    )
    for arch, scores in equal_cost.same.items():
        tests = equal_cost.tests_of(arch)
        significant = sum(test.significant for test in tests)
        judged = {
            "better": f"**better than** every two-seed {display_name(arch)} ensemble",
            "worse": f"**worse than** every two-seed {display_name(arch)} ensemble",
            "undecided": f"**not shown to differ** from two seeds of {display_name(arch)}",
        }[equal_cost.verdict(arch)]
        text += (
            f"; against the {len(scores)} two-seed ensemble(s) of {display_name(arch)} ({_spread(scores)}) they are "
            f"{judged} (McNemar's test of each mixed ensemble against each, Holm-adjusted: {significant} of "
            f"{len(tests)} significant)"
        )
    return text + ". A verdict is given only where every such test agrees."
