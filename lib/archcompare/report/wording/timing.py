"""Training time in words: each timing group's slowdown, and the blog's "about 30 %" judged where it applies.

The groups, intervals and verdicts are :mod:`..analysis.timing`'s and :mod:`..analysis.bench`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...paths import BENCH_DIR
from ..analysis.bench import BenchTiming, bench_timings
from ..analysis.headline import blog_condition_timings
from ..analysis.pairs import PairComparison, compare_all
from ..analysis.reference import (
    BLOG_POST,
    BLOG_STEP_MODE,
    BLOG_TIMING_CONDITIONS,
    CONFIDENCE,
    SCATTER_FACTOR,
    SLOWDOWN_AGREEMENT,
    Reference,
)
from ..analysis.timing import Agreement, BandPosition, EpochScatter, TimingGroup, band_position
from ..format import display_name, images_per_second, ratio, seconds_per_epoch, share, span
from ..runs import Runs

if TYPE_CHECKING:
    from ..analysis.statistics import MeanInterval


def _signed_share(fraction: float) -> str:
    return share(fraction, sign=True)


def _listed(items: list[str] | tuple[str, ...]) -> str:
    """``"bf16, batch 512 and channels_last"``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _relation(fraction: float) -> str:
    return f"{share(abs(fraction))} {'slower' if fraction >= 0 else 'faster'}"


def _throughput(ratio_: float) -> str:
    """Other's images/s over the baseline's, said once: the same quantity as the time per epoch, inverted."""
    return f"{share(abs(1 - ratio_))} {'fewer' if ratio_ < 1 else 'more'} images per second"


def _group_text(group: TimingGroup, base: str, other: str, devices: int) -> str:
    seeds = ", ".join(map(str, group.seeds))
    where = f"On {group.device} (seed{'s' if len(group.seeds) > 1 else ''} {seeds})" if devices > 1 else "Here"
    text = (
        f"{where}, {other} took {ratio(group.time_ratio)} the seconds per epoch of {base} "
        f"({_relation(group.slowdown)}), that is {_throughput(group.throughput_ratio)}. "
        f"Measured under: {group.conditions}"
    )
    interval = group.slowdown_interval
    if interval is not None:
        text += (
            f". Over {interval.n} seeds the mean slowdown is {share(interval.mean)} "
            f"({interval.confidence:.0%} interval {share(interval.low)} to {share(interval.high)})"
        )
        steady = group.steady_slowdown_interval
        if group.scattered:
            text += f". {scatter_text(group)}"
            text += (
                f"; without {'that seed' if len(group.scattered_seeds) == 1 else 'those seeds'}, over {steady.n} "
                f"seeds, it is {share(steady.mean)} ({steady.confidence:.0%} interval {share(steady.low)} to "
                f"{share(steady.high)})"
                if steady is not None
                else "; fewer than two seeds remain without them, so there is no interval without them"
            )
    elif group.epoch_slowdown_range is not None:
        text += (
            f". One timed run per architecture gives no interval; epoch by epoch within these runs the slowdown "
            f"ranged {span(*group.epoch_slowdown_range, _signed_share, 'from {} to {}')} (that spread leaves out load "
            "changes between runs)"
        )
        if group.scattered:
            text += f". {scatter_text(group)}"
    return text + "."


def _scatter(scatter: EpochScatter) -> str:
    epochs = ", ".join(f"epoch {epoch} {seconds_per_epoch(seconds)} s" for epoch, seconds in scatter.slow_epochs)
    return f"{scatter.label} ({epochs}, against a median epoch of {seconds_per_epoch(scatter.median_seconds)} s)"


def scatter_text(group: TimingGroup) -> str:
    """The runs whose epoch times scatter, said beside their timing: the machine was loaded while they ran."""
    runs = "; ".join(_scatter(scatter) for _, scatter in group.scattered)
    return (
        f"The epoch times of {runs} scatter (an epoch above {SCATTER_FACTOR}x the run's median): the machine was "
        "loaded while it ran, so its timing carries that load"
    )


def timing_text(runs: Runs, pair: PairComparison) -> str:
    """The conclusions' **Training time.** paragraph, with the bench's timings when the blog's claim applies."""
    base, other = display_name(pair.baseline), display_name(pair.other)
    low, high = SLOWDOWN_AGREEMENT
    if not pair.timings:
        return "**Training time.** No paired seed was timed alike, so no time is compared." + _excluded_text(pair)
    devices = len({group.device for group in pair.timings})
    texts = [_group_text(group, base, other, devices) for group in pair.timings]
    text = "**Training time.** " + " ".join(texts)
    if devices > 1:
        text += (
            " Each device's ratio is given apart: a slowdown measured on different device models mixes "
            "hardware with architecture, so only runs timed on the same device model are pooled."
        )
    text += _excluded_text(pair)
    if not pair.is_reference_pair or not runs.cifar10:
        return text
    if not pair.judged:
        differences = list(dict.fromkeys(item for group in pair.timings for item in group.blog_differences))
        text += (
            f' The blog post\'s "about {pair.reference.slowdown:.0%} slower" was measured with its own loop '
            f"({blog_conditions_text()}); these timings were made with {_listed(differences)}, so they "
            "are no verdict on that claim: grouped convolutions gain differently from each of those."
        )
        measured = [
            f"{ratio(timing.time_ratio)} the time per image of {base} on {timing.device} ({timing.source}; "
            f"{timing.bottleneck})"
            for timing in blog_condition_timings(runs, reference=pair.reference)
        ]
        if measured:
            text += (
                f" Under the blog's conditions, on a device model these runs used, {other} took {'; '.join(measured)}."
            )
        return text
    text += (
        f" The blog post says {display_name(pair.reference.slower)} is about {pair.reference.slowdown:.0%} slower. "
        f"The rule used here: {agreement_rule(pair.baseline, pair.other, pair.reference)}."
    )
    band = f"the {share(low)} to {share(high)} band"
    for group in pair.timings:
        if group.judged:
            text += " " + _verdict_text(group, group.judged_interval, group.slowdown, band, f"runs on {group.device}")
        else:
            text += (
                f" The runs on {group.device} timed with {_listed(group.blog_differences)} are no verdict on that "
                "claim: the blog's loop ran otherwise."
            )
    bench = bench_timings(runs.profile_dir.parent / BENCH_DIR, pair.baseline, pair.other, pair.reference)
    if bench:
        text += "\n\n" + _bench_text(pair, bench, band)
    return text


def _verdict_text(
    timing: TimingGroup | BenchTiming, interval: MeanInterval | None, slowdown: float, band: str, what: str
) -> str:
    """The blog's "about 30 %" judged on one timing, with the condition (what limits the loop) named."""
    condition = f"Under this condition ({timing.bottleneck}; {what})"
    bench = isinstance(timing, BenchTiming)
    if interval is None:
        why = (
            "the bench has fewer than two timed samples of each architecture here, and one sample gives no "
            "estimate of how much the timing moves between samples. A bench with two or more samples per "
            "architecture gives an interval that can decide it."
            if bench
            else "with one timed run per architecture, a change in the machine's load between the runs moves "
            "the ratio, and one run gives no estimate of how much. Two or more seeds per architecture give an "
            "interval that can decide it."
        )
        return (
            f"{condition}: the measured {_relation(slowdown)} lies {band_position(slowdown).value} {band}, but it is "
            f"undecided whether that agrees: {why}"
        )
    agreement = timing.agreement
    verdict = "is undecided" if agreement is Agreement.UNDECIDED else f"**{agreement.value}**"
    estimate = "the slowdown of the samples' geometric means" if bench else "the slowdown"
    text = (
        f"{condition}: {estimate} is {share(interval.mean, sign=True)} ({interval.confidence:.0%} interval "
        f"{share(interval.low, sign=True)} to {share(interval.high, sign=True)}); by that rule it {verdict}"
    )
    if agreement is Agreement.DISAGREES:
        above = band_position(interval.low) is BandPosition.ABOVE
        text += f" (it is {'more' if above else 'less'} than {band})"
    elif agreement is Agreement.UNDECIDED:
        text += f": the interval reaches both inside and outside {band}"
    return text + "."


def _bench_text(pair: PairComparison, bench: list[BenchTiming], band: str) -> str:
    """The bench's timings at the blog's precision, batch and layout beside the runs, each with what limits its steps."""
    base, other = display_name(pair.baseline), display_name(pair.other)
    lines = [
        "**The blog's conditions on the bench.** What limits a training step decides how much grouped "
        f"convolutions cost. `make bench` timed both architectures at the blog's conditions ({_blog_settings_text()}), "
        "each with the device to itself:"
    ]
    for timing in bench:
        measured = (
            f"{other} {images_per_second(timing.other_rate)} img/s against {base} {images_per_second(timing.base_rate)}: "
            f"{ratio(timing.time_ratio)} the time per image ({_relation(timing.slowdown)})"
        )
        where = f"{timing.device}, {timing.source}"
        if not timing.judged:
            verdict = (
                f"Under this condition ({timing.bottleneck}; {where}) there is no verdict on the blog's claim: "
                f"{_listed(timing.blog_differences)} are not how the blog's loop ran."
            )
        else:
            verdict = _verdict_text(timing, timing.slowdown_interval, timing.slowdown, band, where)
        if timing.judged and timing.slowdown_interval is not None:
            verdict += (
                " Its interval is Welch's over each architecture's timed samples (log scale), which were taken one "
                "architecture after the other within one process, so it measures timing noise, not run-to-run "
                "variation."
            )
        lines.append(f"- {timing.device}, {timing.step_mode} steps: {measured}. {verdict}")
    return "\n".join(lines)


def _excluded_text(pair: PairComparison) -> str:
    if not pair.timing_excluded:
        return ""
    return " Left out of every timing comparison: " + "; ".join(pair.timing_excluded) + "."


def agreement_rule(baseline: str, other: str, reference: Reference = BLOG_POST) -> str:
    """The rule by which a measured slowdown agrees with the blog's, in words."""
    low, high = SLOWDOWN_AGREEMENT
    return (
        f"the measured slowdown ({other}'s time per image over {baseline}'s, minus 1) agrees with "
        f'the blog\'s "about {reference.slowdown:.0%}" when the {CONFIDENCE:.0%} interval of its mean '
        f"lies within {low:.0%} to {high:.0%}, and disagrees when the interval lies wholly outside that band"
    )


def _blog_settings_text() -> str:
    """The blog's precision, batch and layout in words: ``"fp32, batch 32, default layout"``."""
    layout = "default layout" if not BLOG_TIMING_CONDITIONS["channels_last"] else "channels_last"
    return f"{BLOG_TIMING_CONDITIONS['precision']}, batch {BLOG_TIMING_CONDITIONS['batch_size']}, {layout}"


def blog_conditions_text() -> str:
    """The blog's timing conditions in words: fp32, batch 32, default layout, eager steps."""
    return f"{_blog_settings_text()}, {BLOG_STEP_MODE} steps"


def headline_notes(runs: Runs, reference: Reference = BLOG_POST) -> str:
    """The notes under the headline table: where the blog's time is (not) shown, and timings taken under load."""
    notes = []
    pairs = compare_all(runs, reference)
    if runs.cifar10 and runs.of(reference.faster) and runs.of(reference.slower):
        timings = blog_condition_timings(runs, reference=reference)
        claim = f'The blog post\'s "about {1 + reference.slowdown:.1f}x"'
        conditions = blog_conditions_text()
        if timings:
            measured = "; ".join(
                f"{ratio(timing.time_ratio)} on {timing.device} ({timing.source}; {timing.bottleneck})"
                for timing in timings
            )
            notes.append(
                f"{claim} is shown beside the time measured under its own conditions ({conditions}): {measured}."
            )
        else:
            timed = "; ".join(
                dict.fromkeys(group.conditions for pair in pairs if pair.is_reference_pair for group in pair.timings)
            )
            devices = ", ".join(dict.fromkeys(run.record.env.device_name for run in runs.complete))
            notes.append(
                f"{claim} is not shown (—): it was measured under its own conditions ({conditions}), and no time "
                f"here was: these runs were timed under {timed or 'no common conditions'}, and `make bench` has no "
                f"timing at those conditions on their device model ({devices})."
            )
    scattered = [scatter for pair in pairs for group in pair.timings for _, scatter in group.scattered]
    if scattered:
        notes.append(
            "Timing under load: the epoch times of "
            + "; ".join(_scatter(scatter) for scatter in dict.fromkeys(scattered))
            + f" scatter (an epoch above {SCATTER_FACTOR}x the run's median); the means above include "
            "them, and the conclusions give the slowdown with and without them."
        )
    return "\n\n".join(f"*{note}*" for note in notes)
