"""Ensembles in words: what averaging seeds bought, and two models of each kind at equal model count.

McNemar's tests compare these trained models and ensembles on this test set; the words say so and
never speak of the architectures. A sentence is in bold only where its test is significant after
Holm within its named family.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..analysis.ensembles import (
    EnsembleScore,
    EqualModelCount,
    MemberComparison,
    TrainingCompute,
    TwoModelScore,
    spread,
)
from ..format import display_name, number, p_value, percent, ratio, span
from ..format import ece as ece_text
from ..format import nll as nll_text
from .calibration import scaling_text


def ensembles_markdown(seeds: Mapping[str, list[EnsembleScore]], equal_count: EqualModelCount | None) -> str:
    """What averaging models bought, in which direction, and whether temperature scaling helped."""
    lines = []
    for arch, scores in seeds.items():
        single, largest = scores[0], scores[-1]
        lines.append(
            f"- {display_name(arch)}: an ensemble of {largest.size} seeds reaches {percent(largest.accuracy)} "
            f"against {percent(single.accuracy)} for one model on average"
            + _versus_best_member(arch, largest)
            + f" NLL {nll_text(single.nll)} → {nll_text(largest.nll)}, ECE {ece_text(single.ece)} → "
            f"{ece_text(largest.ece)}. "
            + scaling_text("One model", single)
            + " "
            + scaling_text(f"The {largest.size}-seed ensemble", largest)
        )
    if equal_count is not None:
        lines.extend(equal_count_lines(equal_count))
    return "\n".join(lines)


def member_family(arch: str, comparison: MemberComparison) -> str:
    """The family a test of an ensemble against its best member was Holm-adjusted in, named."""
    if comparison.family == 1:
        return f"the only ensemble-vs-member test of {display_name(arch)}, so unadjusted"
    return f"Holm-adjusted within {display_name(arch)}'s {comparison.family} ensemble-vs-member tests"


def chosen_members(comparison: MemberComparison) -> str:
    """Which member each half was compared with: ``"resnet50 seed 1, the most accurate on either half"``."""
    first, second = comparison.chosen
    if first == second:
        return f"{first}, the most accurate member on either half of the test images"
    return f"{first} on one half and {second} on the other, each the most accurate on the other half"


def _versus_best_member(arch: str, score: EnsembleScore) -> str:
    """The ensemble against its best member chosen on the other half, with the direction said, not only the p-value."""
    comparison = score.versus_member
    if comparison is None:
        return "."
    difference = comparison.difference
    test = f"McNemar's {p_value(comparison.p_adjusted)}, {member_family(arch, comparison)}"
    member = f"{chosen_members(comparison)}; {percent(comparison.member_accuracy)}"
    size = f"{number(abs(100 * difference))} percentage points"
    if comparison.verdict == "undecided":
        position = "ahead of" if difference > 0 else "behind" if difference < 0 else "level with"
        return (
            f"; this ensemble is {position} its best member ({member})"
            + (f" by {size}" if difference else "")
            + f", not a significant difference on this test set ({test})."
        )
    word = "better" if comparison.verdict == "better" else "worse"
    return (
        f"; this ensemble is **{word} than its best member** on this test set ({member}), by {size}: "
        f"a significant {'gain' if word == 'better' else 'loss'} ({test})."
    )


def _spread(scores: Sequence[TwoModelScore], inside_brackets: bool = False) -> str:
    """The ensembles' accuracy: one value, or the mean with the range (after a comma when already in brackets)."""
    if len(scores) == 1:
        return percent(scores[0].accuracy)
    summary = spread(scores)
    low_to_high = span(summary.accuracy_low, summary.accuracy_high, percent)
    return f"{percent(summary.accuracy_mean)} on average" + (
        f", {low_to_high}" if inside_brackets else f" ({low_to_high})"
    )


def seconds(value: float) -> str:
    return f"{number(value, 0)} s"


def kind_name(kind: str) -> str:
    """An equal-count ensemble's kind: ``"one run of each architecture"`` or ``"two seeds of ResNet-50"``."""
    return "one run of each architecture" if kind == "mixed" else f"two seeds of {display_name(kind)}"


def compute_text(compute: Mapping[str, TrainingCompute]) -> str:
    """What each kind cost to train, the mixed kind's ratio to the others, and the devices they were timed on."""
    mixed = compute["mixed"]
    parts = [f"{seconds(mixed.mean_seconds)} for one run of each"]
    parts += [
        f"{seconds(item.mean_seconds)} for two seeds of {display_name(arch)}"
        for arch, item in compute.items()
        if arch != "mixed"
    ]
    ratios = [
        f"{ratio(mixed.mean_seconds / item.mean_seconds)} the training time of two seeds of {display_name(arch)}"
        for arch, item in compute.items()
        if arch != "mixed"
    ]
    devices = list(dict.fromkeys(device for item in compute.values() for device in item.devices))
    text = (
        "Equal model count is not equal compute: training took "
        + ", ".join(parts)
        + " on average (each member's epochs times the seconds of its median epoch, summed over the two), so "
        "one run of each took " + " and ".join(ratios)
    )
    if len(devices) > 1:
        text += (
            f"; the members were timed on different devices ({', '.join(devices)}), so these sums mix the "
            "devices' speeds"
        )
    return text + "."


def _direction(equal_count: EqualModelCount, arch: str) -> str:
    """Which way every comparison of the family points, with the count: ``"all 4 mixed ensembles are ahead"``."""
    tests = equal_count.tests_of(arch)
    count, ahead, behind = len(tests), equal_count.ahead(arch), equal_count.behind(arch)
    sizes = [abs(100 * test.difference) for test in tests]
    by = f" (by {span(min(sizes), max(sizes), number)} percentage points)"
    subject = {1: "the mixed ensemble is", 2: "both comparisons have the mixed ensemble"}.get(
        count, f"all {count} comparisons have the mixed ensemble"
    )
    if ahead == count:
        return f"{subject} ahead{by}"
    if behind == count:
        return f"{subject} behind{by}"
    level = count - ahead - behind
    return (
        f"{ahead} of {count} comparisons {'has' if ahead == 1 else 'have'} the mixed ensemble ahead, {behind} behind"
        + (f", {level} level" if level else "")
    )


def ensembles_count(count: int, kind: str) -> str:
    """``"the two-seed ensemble"`` for one, ``"the 3 two-seed ensembles"`` for several."""
    return f"the {kind} ensemble" if count == 1 else f"the {count} {kind} ensembles"


def equal_count_lines(equal_count: EqualModelCount) -> list[str]:
    mixed = equal_count.mixed
    lines = [
        f"- At equal model count (two models each): {ensembles_count(len(mixed), 'mixed')} (one run of each "
        f"architecture) {'reaches' if len(mixed) == 1 else 'reach'} {_spread(mixed)}. "
        + compute_text(equal_count.compute)
    ]
    for arch, scores in equal_count.same.items():
        tests = equal_count.tests_of(arch)
        family = (
            f"Holm-adjusted within the family of the {len(tests)} McNemar tests against two-seed {display_name(arch)} "
            "ensembles"
            if len(tests) > 1
            else "a family of one test, unadjusted"
        )
        verdict = equal_count.verdict(arch)
        judged = (
            f"**each of these mixed ensembles is {'more' if verdict == 'better' else 'less'} accurate than "
            f"{'the' if len(scores) == 1 else 'each'} two-seed {display_name(arch)} ensemble on this test set**"
            if verdict != "undecided"
            else "no verdict, since not every test is significant in one direction"
        )
        lines.append(
            f"- Against {ensembles_count(len(scores), 'two-seed')} of {display_name(arch)} ({_spread(scores, inside_brackets=True)}): "
            f"{_direction(equal_count, arch)}, {equal_count.significant(arch)} of {len(tests)} significant "
            f"({family}): {judged}."
        )
    lines.append(
        "- A verdict is given only where every test of a family is significant in one direction. These tests "
        "compare these trained ensembles on this test set; they say nothing about the architectures in general."
    )
    return lines
