"""The README's generated blocks in words: the headline results and how long the runs took.

Written into README.md by :mod:`..readme`; every number comes from :mod:`..analysis`.
"""

from __future__ import annotations

from ..analysis.headline import summarise
from ..analysis.pairs import compare_all
from ..analysis.penalty import data_penalty
from ..analysis.timing import wall_times
from ..format import (
    display_name,
    images_per_second,
    number,
    per_device,
    percent,
    ratio,
    seconds_per_epoch,
    share,
    span,
)
from ..runs import Runs
from .conclusions import ahead_text, per_seed_points, verdict_reason
from .penalty import penalty_cost


def readme_headline(runs: Runs) -> str:
    """The README's result block: a row per architecture and a sentence per comparison with the baseline.

    The sentences follow the report's rules: the claim is no stronger than the paired interval's
    verdict, and timings are given with the conditions they were measured under.
    """
    rows = [
        "| architecture | test accuracy | seeds | seconds per epoch | images/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for summary in summarise(runs, None):
        spread = f" ± {percent(summary.accuracy_sd)}" if summary.accuracy_sd is not None else ""
        rows.append(
            f"| {display_name(summary.arch)} | {percent(summary.accuracy_mean)}{spread} | {summary.seeds} "
            f"| {per_device(summary.seconds_per_epoch, seconds_per_epoch)} "
            f"| {per_device(summary.images_per_second, images_per_second)} |"
        )
    sentences = []
    for pair in compare_all(runs):
        timings = "; ".join(
            f"{ratio(group.time_ratio)} the seconds per epoch ({share(group.slowdown, sign=True)}) under {group.conditions}"
            + (
                f" (seed{'s' if len(group.seeds) > 1 else ''} {', '.join(map(str, group.seeds))})"
                if len(pair.timings) > 1
                else ""
            )
            + (
                f", where the epoch times of {', '.join(scatter.label for _, scatter in group.scattered)} scatter (the "
                "machine was loaded; the report gives the slowdown without them)"
                if group.scattered
                else ""
            )
            for group in pair.timings
        )
        claim = ahead_text(pair).replace("**", "")
        accuracy = (
            f"{claim[0].upper()}{claim[1:]} (per seed, in points: {per_seed_points(pair)}; {verdict_reason(pair)})."
        )
        sentences.append(
            accuracy + " " + (f"{display_name(pair.other)} took {timings}." if timings else "No seed was timed alike.")
        )
    penalty = data_penalty(runs) if runs.cifar10 else None
    if penalty is not None:
        sentences.append(
            f"Data: {penalty.copy}; training on it costs {penalty_cost(penalty)}, so these accuracies are not "
            "comparable with the blog's, made on the original images."
        )
    older = [run.label for run in runs.complete if run.older_code]
    if older:
        sentences.append(
            f"Trained by an older version of the training code than the current one: {', '.join(older)} "
            "(kept, since retraining costs GPU time; the report says which version)."
        )
    return "\n".join(rows) + "\n\n" + "\n\n".join(sentences) + "\n"


def readme_timings(runs: Runs) -> str:
    """How long the profile's runs took, from their records: wall time per run and in all, per device model."""
    parts = []
    for wall in wall_times(runs):
        by_arch = [
            f"{display_name(arch)} {span(min(minutes), max(minutes), lambda value: number(value, 1))}"
            for arch, minutes in wall.minutes.items()
        ]
        parts.append(
            f"{wall.device}: {wall.runs} run(s), {number(wall.total_minutes, 0)} minutes of wall time in all; per run "
            f"(minutes) {', '.join(by_arch)}"
        )
    return f"`{runs.profile}` (measured, wall time including data loading and evaluation): " + "; ".join(parts) + "."
