"""Training time in words: each timing group's slowdown, and the blog's "about 30 %" judged where it applies.

The groups, intervals and verdicts are :mod:`..analysis.timing`'s and :mod:`..analysis.bench`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...paths import BENCH_DIR
from ..analysis.bench import BenchTiming, bench_timings
from ..analysis.pairs import PairComparison
from ..analysis.reference import BLOG_POST, BLOG_TIMING_CONDITIONS, CONFIDENCE, SLOWDOWN_AGREEMENT, Reference
from ..analysis.timing import Agreement, BandPosition, TimingGroup, band_position
from ..format import display_name, number, ratio, share
from ..runs import Runs

if TYPE_CHECKING:
    from ..analysis.statistics import MeanInterval


def _slowdown_range(low: float, high: float) -> str:
    return (
        share(low, sign=True)
        if share(low) == share(high)
        else f"from {share(low, sign=True)} to {share(high, sign=True)}"
    )


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
    elif group.epoch_slowdown_range is not None:
        text += (
            f". One timed run per architecture gives no interval; epoch by epoch within these runs the slowdown "
            f"ranged {_slowdown_range(*group.epoch_slowdown_range)} (that spread leaves out load changes between runs)"
        )
    return text + "."


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
        conditions = ", ".join(f"{key} {value}" for key, value in BLOG_TIMING_CONDITIONS.items())
        return text + (
            f' The blog post\'s "about {pair.reference.slowdown:.0%} slower" was measured with its own loop '
            f"({conditions}); these timings were not, so they are no verdict on that claim: grouped convolutions "
            "gain differently from mixed precision, channels_last and larger batches."
        )
    text += (
        f" The blog post says {display_name(pair.reference.slower)} is about {pair.reference.slowdown:.0%} slower. "
        f"The rule used here: {agreement_rule(pair.baseline, pair.other, pair.reference)}."
    )
    band = f"the {share(low)} to {share(high)} band"
    for group in pair.timings:
        if not group.judged:
            continue
        text += " " + _verdict_text(group, group.slowdown_interval, group.slowdown, band, f"runs on {group.device}")
    bench = bench_timings(runs.profile_dir.parent / BENCH_DIR, pair.baseline, pair.other, pair.reference)
    if bench:
        text += "\n\n" + _bench_text(pair, bench, band)
    return text


def _verdict_text(
    timing: TimingGroup | BenchTiming, interval: MeanInterval | None, slowdown: float, band: str, what: str
) -> str:
    """The blog's "about 30 %" judged on one timing, with the condition (what limits the loop) named."""
    condition = f"Under this condition ({timing.bottleneck}; {what})"
    if interval is None:
        return (
            f"{condition}: the measured {_relation(slowdown)} lies {band_position(slowdown).value} {band}, but it is "
            "**undecided** whether that agrees: with one timed run per architecture, a change in the machine's load "
            "between the runs moves the ratio, and one run gives no estimate of how much. Two or more seeds per "
            "architecture give an interval that can decide it."
        )
    agreement = timing.agreement
    verdict = "is **undecided**" if agreement is Agreement.UNDECIDED else f"**{agreement.value}**"
    text = (
        f"{condition}: the slowdown is {share(interval.mean, sign=True)} ({interval.confidence:.0%} interval "
        f"{share(interval.low, sign=True)} to {share(interval.high, sign=True)}); by that rule it {verdict}"
    )
    if agreement is Agreement.DISAGREES:
        above = band_position(interval.low) is BandPosition.ABOVE
        text += f" (it is {'more' if above else 'less'} than {band})"
    elif agreement is Agreement.UNDECIDED:
        text += f": the interval reaches both inside and outside {band}"
    return text + "."


def _bench_text(pair: PairComparison, bench: list[BenchTiming], band: str) -> str:
    """The blog's claim under both bottlenecks: the bench's steps at the blog's conditions beside the runs."""
    base, other = display_name(pair.baseline), display_name(pair.other)
    lines = [
        "**The blog's timing under both bottlenecks.** What limits a training step decides how much grouped "
        f"convolutions cost. `make bench` timed both architectures at the blog's conditions (fp32, batch "
        f"{pair.reference.batch_size}, default layout), each with the device to itself:"
    ]
    for timing in bench:
        measured = (
            f"{other} {number(timing.other_rate, 0)} img/s against {base} {number(timing.base_rate, 0)}: "
            f"{ratio(timing.time_ratio)} the time per image ({_relation(timing.slowdown)})"
        )
        verdict = _verdict_text(
            timing, timing.slowdown_interval, timing.slowdown, band, f"{timing.device}, {timing.source}"
        )
        if timing.slowdown_interval is not None:
            verdict += (
                " Its interval is over repeats within one process, so it measures timing noise, not run-to-run "
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
