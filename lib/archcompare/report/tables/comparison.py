"""The headline and comparison tables: each architecture at a glance, and each one against the baseline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..analysis.headline import blog_condition_timings, summarise
from ..analysis.pairs import PairComparison, compare_all
from ..analysis.reference import BLOG_POST, MIN_VERDICT_SEEDS, Reference
from ..format import images_per_second, interval_points, p, per_device, percent, ratio, seconds_per_epoch, share
from ..runs import Runs


def headline_table(runs: Runs, reference: Reference = BLOG_POST) -> pd.DataFrame:
    """One row per architecture: final-epoch test accuracy over seeds, size, cost and the blog's figure.

    Accuracy is the final epoch's, not the best epoch's: picking the best epoch would select on the
    test set. Time is relative to the baseline (ResNet-50 when present) in seconds per epoch, per
    device model when the runs were timed on several: ratios across device models mix hardware in.
    The blog's "about 1.3x" appears only beside a time measured under its conditions
    (:func:`..analysis.headline.blog_condition_timings`); otherwise a dash, which the headline's notes explain.
    """
    baseline = runs.architectures[0] if runs.architectures else None  # the baseline comes first
    blog_timings = blog_condition_timings(runs, reference=reference) if runs.cifar10 else []
    columns = [
        "architecture",
        "seeds",
        "epochs",
        "test accuracy",
        "params",
        "GMACs",
        "seconds per epoch",
        "images/s",
        f"time vs {baseline}",
        f"blog post ({reference.epochs} epochs)",
    ]
    rows = []
    for summary in summarise(runs, baseline):
        arch, members = summary.arch, runs.of(summary.arch)
        blog = reference.test_acc.get(arch)
        blog_text = percent(blog, 1) if blog is not None else "—"
        if arch == reference.slower:
            measured = "; ".join(f"{ratio(timing.time_ratio)} on {timing.device}" for timing in blog_timings)
            blog_text += (
                f"; about {1 + reference.slowdown:.1f}x the time of {reference.faster}, beside {measured} measured at "
                "its conditions"
                if blog_timings
                else "; time: —"
            )
        accuracy = percent(summary.accuracy_mean)
        rows.append(
            [
                arch,
                summary.seeds,
                _agreed_values(member.record.epochs for member in members),
                f"{accuracy} ± {percent(summary.accuracy_sd)}"
                if summary.accuracy_sd is not None
                else f"{accuracy} (one seed)",
                members[0].record.params,
                members[0].record.macs / 1e9,
                per_device(summary.seconds_per_epoch, seconds_per_epoch),
                per_device(summary.images_per_second, images_per_second),
                per_device(summary.time_vs_baseline, ratio) if summary.time_vs_baseline else "—",
                blog_text,
            ]
        )
    table = pd.DataFrame(rows, columns=columns)
    return table if runs.cifar10 else table.drop(columns=columns[-1])  # the blog's figures are CIFAR-10's


def _agreed_values(values: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in dict.fromkeys(values))


def _verdict(pair: PairComparison) -> str:
    if not pair.verdict_possible:
        return f"no verdict ({len(pair.seeds)} paired seed{'s' if len(pair.seeds) > 1 else ''}, fewer than {MIN_VERDICT_SEEDS})"
    return pair.significance.value


def comparisons_table(runs: Runs, reference: Reference = BLOG_POST) -> pd.DataFrame:
    """One row per architecture compared with the baseline: accuracy difference, its verdict, and time.

    The verdict is the paired interval's; the McNemar p-values per seed are about the trained models of
    each seed, Holm-adjusted over the pair's seeds.
    """
    rows = []
    for pair in compare_all(runs, reference):
        interval, welch = pair.difference_interval, pair.welch_interval
        rows.append(
            {
                "architecture": pair.other,
                "vs": pair.baseline,
                "paired seeds": len(pair.seeds),
                "accuracy difference (pp)": pair.mean_difference * 100,
                "95% interval, paired (pp)": interval_points(interval) if interval else "—",
                "verdict (paired interval)": _verdict(pair),
                "95% interval, Welch (pp)": interval_points(welch) if welch else "—",
                "McNemar p per seed, trained models (Holm over the pair's seeds)": ", ".join(
                    p(seed.mcnemar.p_value) + (f" ({p(seed.p_adjusted)})" if seed.p_adjusted is not None else "")
                    for seed in pair.seeds
                ),
                "time per epoch vs baseline": "; ".join(
                    f"{ratio(group.time_ratio)}"
                    + (
                        f" [{share(group.slowdown_interval.low, sign=True)}, {share(group.slowdown_interval.high, sign=True)}]"
                        if group.slowdown_interval
                        else ""
                    )
                    + (
                        f", without runs under load [{share(group.steady_slowdown_interval.low, sign=True)}, "
                        f"{share(group.steady_slowdown_interval.high, sign=True)}]"
                        if group.steady_slowdown_interval
                        else ""
                    )
                    + (f" ({group.device})" if len(pair.timings) > 1 else "")
                    for group in pair.timings
                )
                or "—",
            }
        )
    return pd.DataFrame(rows)
