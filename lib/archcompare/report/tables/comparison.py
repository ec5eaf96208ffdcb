"""The headline and comparison tables: each architecture at a glance, and each one against the baseline."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..analysis.headline import summarise
from ..analysis.pairs import compare_all
from ..analysis.reference import BLOG_POST, Reference
from ..format import interval_points, number, per_device, percent, ratio, share
from ..runs import BASELINE, Runs


def _baseline(runs: Runs) -> str | None:
    architectures = runs.architectures
    if not architectures:
        return None
    return BASELINE if BASELINE in architectures else architectures[0]


def headline_table(runs: Runs, reference: Reference = BLOG_POST) -> pd.DataFrame:
    """One row per architecture: final-epoch test accuracy over seeds, size, cost and the blog's figure.

    Accuracy is the final epoch's, not the best epoch's: picking the best epoch would select on the
    test set. Time is relative to the baseline (ResNet-50 when present) in seconds per epoch, per
    device model when the runs were timed on several: ratios across device models mix hardware in.
    """
    baseline = _baseline(runs)
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
            blog_text += f", about {1 + reference.slowdown:.1f}x the time of {reference.faster}"
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
                per_device(summary.seconds_per_epoch, number),
                per_device(summary.images_per_second, lambda value: number(value, 0)),
                per_device(summary.time_vs_baseline, ratio) if summary.time_vs_baseline else "—",
                blog_text,
            ]
        )
    table = pd.DataFrame(rows, columns=columns)
    return table if runs.cifar10 else table.drop(columns=columns[-1])  # the blog's figures are CIFAR-10's


def _agreed_values(values: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in dict.fromkeys(values))


def comparisons_table(runs: Runs, reference: Reference = BLOG_POST) -> pd.DataFrame:
    """One row per architecture compared with the baseline: accuracy difference and time, with intervals."""
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
                "95% interval, Welch (pp)": interval_points(welch) if welch else "—",
                "McNemar p per seed (Holm-adjusted)": ", ".join(
                    f"{seed.mcnemar.p_value:.3g}" + (f" ({seed.p_adjusted:.3g})" if seed.p_adjusted is not None else "")
                    for seed in pair.seeds
                ),
                "time per epoch vs baseline": "; ".join(
                    f"{ratio(group.time_ratio)}"
                    + (
                        f" [{share(group.slowdown_interval.low, sign=True)}, {share(group.slowdown_interval.high, sign=True)}]"
                        if group.slowdown_interval
                        else ""
                    )
                    + (f" ({group.device})" if len(pair.timings) > 1 else "")
                    for group in pair.timings
                )
                or "—",
            }
        )
    return pd.DataFrame(rows)
