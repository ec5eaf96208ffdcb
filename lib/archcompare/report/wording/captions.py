"""Figure captions: what each figure of the runs and of the comparison shows, with the numbers it shows.

The cardinality and reliability figures' captions are with their concerns' wording
(:mod:`.cardinality`, :mod:`.calibration`).
"""

from __future__ import annotations

from ..analysis.pairs import PairComparison
from ..analysis.per_class import most_frequent_confusion, per_class_differences
from ..analysis.reference import ALPHA, MIN_VERDICT_SEEDS
from ..format import display_name, number, percent, ratio
from ..runs import Runs


def caption_headline(runs: Runs, pairs: list[PairComparison]) -> str:
    accuracies = "; ".join(
        f"{display_name(arch)} " + ", ".join(f"seed {run.seed} {percent(run.record.test_acc)}" for run in runs.of(arch))
        for arch in runs.architectures
    )
    images = len(runs.complete[0].labels) if runs.complete else 0
    times = "; ".join(
        f"{display_name(pair.other)} {ratio(group.time_ratio)} on {group.device}"
        for pair in pairs
        for group in pair.timings
    )
    return (
        f"**Headline.** Final-epoch test accuracy of every run with its binomial (Wilson) 95 % interval over the "
        f"{images:,} test images: {accuracies}. Right: seconds per epoch over the baseline's, per device model"
        + (f": {times}." if times else ".")
    )


def caption_training_curves(runs: Runs, x: str) -> str:
    finals = "; ".join(
        f"{run.label} {percent(run.record.test_acc)}" for arch in runs.architectures for run in runs.of(arch)
    )
    axis = "epoch" if x == "epoch" else "cumulative training time (setup and evaluation excluded)"
    images = len(runs.complete[0].labels) if runs.complete else 0
    return (
        f"**Training curves by {axis}.** Test accuracy (shaded: each evaluation's binomial 95% interval over "
        f"{images:,} test images) and test loss of every run; final test accuracy: {finals}."
    )


def per_class_method(seeds: int) -> str:
    """How the per-class intervals and tests were made, for that many paired seeds."""
    if seeds >= MIN_VERDICT_SEEDS:
        return f"Student-t interval and t-test over {seeds} seeds"
    pooled = "one seed's" if seeds == 1 else f"the {seeds} seeds' pooled"
    return (
        f"from {pooled} McNemar counts: a Wald interval and an exact McNemar test over the class's test images, "
        "which measure test-set noise only and speak of these trained models, not of the architectures"
    )


def caption_per_class_difference(runs: Runs, pairs: list[PairComparison]) -> str:
    classes = runs.complete[0].record.classes if runs.complete else ()
    parts, methods = [], []
    for pair in pairs:
        differences = per_class_differences(pair, runs)
        methods.append(per_class_method(differences.seeds))
        shown = [
            (classes[i], differences.means[i], differences.lows[i], differences.highs[i])
            for i in (differences.largest, differences.smallest)
        ]
        parts.append(
            f"{display_name(pair.other)} minus {display_name(pair.baseline)}: largest "
            + " and smallest ".join(
                f"{name} {number(100 * mean, 1, sign=True)} [{number(100 * low, 1, sign=True)}, "
                f"{number(100 * high, 1, sign=True)}]"
                for name, mean, low, high in shown
            )
            + f" points; {differences.resolved} of {len(classes)} classes with Holm-adjusted p < {ALPHA}"
            + (
                f", {differences.untested} without a test (the same non-zero difference in every seed: "
                "no spread to test it against)"
                if differences.untested
                else ""
            )
        )
    method = "; ".join(dict.fromkeys(methods))
    return (
        "**Per-class differences.** Each class's test accuracy minus the baseline's, with its 95 % interval, "
        f"unadjusted ({method}). The classes of each comparison are one family of tests, Holm-adjusted; a bar is "
        f"coloured only where the adjusted p is below {ALPHA} (green: ahead, red: behind). " + "; ".join(parts) + "."
    )


def caption_confusion(runs: Runs) -> str:
    classes = runs.complete[0].record.classes if runs.complete else ()
    parts = []
    for arch in runs.architectures:
        true, predicted, share_ = most_frequent_confusion(runs, arch)
        parts.append(
            f"{display_name(arch)}: {classes[true]} taken for {classes[predicted]} {percent(share_, 0)} of the time"
        )
    return (
        "**Confusion matrices**, summed over seeds and normalised by row (true class). Most frequent confusion: "
        + "; ".join(parts)
        + "."
    )
