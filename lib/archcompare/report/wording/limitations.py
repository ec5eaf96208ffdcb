"""What limits the comparison, read from the runs' metadata rather than assumed: one item per check that applies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...data.spec import CIFAR10_SIZES
from ..analysis.penalty import data_penalty
from ..analysis.reference import BLOG_POST, MIN_VERDICT_SEEDS, SCATTER_FACTOR, Reference
from ..analysis.timing import epoch_scatter
from ..format import seconds_per_epoch
from ..runs import RunResult, Runs
from .penalty import penalty_cost


def limitations(runs: Runs, reference: Reference = BLOG_POST) -> list[str]:
    """What limits the comparison, read from the runs' metadata rather than assumed: one item per check that applies."""
    return [item for check in LIMITATION_CHECKS for item in check(runs, reference)]


def _reduced_budget(runs: Runs, reference: Reference) -> list[str]:
    epochs = sorted({run.record.epochs for run in runs.complete})
    if not epochs or min(epochs) >= reference.epochs:
        return []
    return [
        f"Reduced budget: {', '.join(map(str, epochs))} epoch(s) instead of the blog's {reference.epochs}; "
        "accuracies are far from converged values and the ranking can change with longer training."
    ]


def _subsets(runs: Runs, reference: Reference) -> list[str]:
    def per_class(run: RunResult) -> tuple[int, int]:
        return run.record.config.get("train_per_class", 0), run.record.config.get("test_per_class", 0)

    items = []
    for run in _distinct_runs(runs, per_class):
        train, test = per_class(run)
        if train or test:
            full = " instead of the full {:,} / {:,}".format(*CIFAR10_SIZES) if runs.cifar10 else ""
            items.append(
                f"Subset: {run.record.data.train_images:,} train / {run.record.data.test_images:,} test images "
                f"({train or 'all'} / {test or 'all'} per class){full}; a smaller test set also widens the "
                "uncertainty of every accuracy."
            )
    return items


def _data(runs: Runs, reference: Reference) -> list[str]:
    items = []
    penalty = data_penalty(runs) if runs.cifar10 else None
    for run in _distinct_runs(runs, lambda run: (run.record.data.kind, run.record.data.name)):
        data = run.record.data
        if penalty is not None:
            items.append(
                f"Data copy: {data.label} is {penalty.copy}, as the fingerprint of its decoded images "
                f"({penalty.fingerprint}) identifies it. Training on it costs {penalty_cost(penalty)}, against the "
                "original CIFAR-10 the blog used, so accuracies here sit below the original's by about that much."
            )
        elif data.kind == "imagefolder" and runs.cifar10:
            items.append(
                f"Data copy: {data.label} is an ImageFolder copy of CIFAR-10 whose fingerprint "
                f"({data.fingerprint}) is not a known copy: accuracies on it may differ from those on the original."
            )
        elif not runs.cifar10:
            items.append(
                f"Not CIFAR-10: {data.label} has other classes, so the blog's accuracies are no reference for these runs."
            )
    return items


def _uncommitted_code(runs: Runs, reference: Reference) -> list[str]:
    dirty = [run.label for run in runs.complete if run.record.env.git_dirty]
    if not dirty:
        return []
    return [
        f"Uncommitted code: {', '.join(dirty)} ran from a working tree with uncommitted changes, so the git "
        "commit alone does not identify their code (the training code version in the provenance table does)."
    ]


def _few_seeds(runs: Runs, reference: Reference) -> list[str]:
    seed_counts = sorted({len(runs.of(arch)) for arch in runs.architectures})
    if seed_counts == [1]:
        return [
            "One seed: n=1 per architecture gives no estimate of the spread between training runs; a difference "
            f"may be seed noise, and no verdict is given (it needs at least {MIN_VERDICT_SEEDS} paired seeds)."
        ]
    if not seed_counts:
        return []
    counts = " to ".join(map(str, dict.fromkeys([seed_counts[0], seed_counts[-1]])))
    single = [arch for arch in runs.architectures if len(runs.of(arch)) == 1]
    verdict = (
        f"; with fewer than {MIN_VERDICT_SEEDS} paired seeds no verdict is given"
        if seed_counts[0] < MIN_VERDICT_SEEDS
        else ""
    )
    return [
        f"Few seeds: {counts} per architecture, so spreads and the t-interval rest on few runs{verdict}"
        + (f"; {', '.join(single)} has one seed and no spread estimate." if single else ".")
    ]


def _timing_under_load(runs: Runs, reference: Reference) -> list[str]:
    scattered = [scatter for run in runs.complete if (scatter := epoch_scatter(run)) is not None]
    if not scattered:
        return []
    described = "; ".join(
        f"{scatter.label} (slowest epoch {seconds_per_epoch(max(seconds for _, seconds in scatter.slow_epochs))} s "
        f"against a median of {seconds_per_epoch(scatter.median_seconds)} s)"
        for scatter in scattered
    )
    return [
        f"Timing under load: the epoch times of {described} scatter (an epoch above {SCATTER_FACTOR}x the run's "
        "median): the machine was loaded while they ran, so their timings carry that load; the conclusions say so "
        "beside their timing, and give a slowdown interval over seeds with and without them where there is one."
    ]


def _cpu(runs: Runs, reference: Reference) -> list[str]:
    cpu = [run for run in runs.complete if run.record.env.device == "cpu"]
    if not cpu:
        return []
    names = ", ".join(dict.fromkeys(run.record.env.device_name for run in cpu))
    return [
        f"CPU: {len(cpu)} run(s) trained on a CPU ({names}). Grouped convolutions cost differently on CPUs "
        "and GPUs, so the measured slowdown need not carry over to a GPU."
    ]


def _mixed_precision(runs: Runs, reference: Reference) -> list[str]:
    precisions = sorted({run.record.env.precision for run in runs.complete} - {"fp32"})
    if not precisions:
        return []
    return [f"Mixed precision: runs used {', '.join(precisions)} autocast, which affects both speed and accuracy."]


def _resumed(runs: Runs, reference: Reference) -> list[str]:
    resumed = [
        f"{run.label} (after epoch {run.record.env.resumed_from_epoch})"
        for run in runs.complete
        if run.record.env.resumed_from_epoch
    ]
    if not resumed:
        return []
    return [
        f"Resumed: {', '.join(resumed)} continued from a checkpoint; their wall-clock totals cover only the "
        "resumed part."
    ]


def _timing_rules(runs: Runs, reference: Reference) -> list[str]:
    if not runs.complete:
        return []
    return [
        "Timing: images/s is the median epoch's training images over its measured time, and seconds per epoch "
        "the training images over that rate; one-time setup (kernel selection, done on a copy of the model "
        "before the clock starts) and evaluation are excluded; the wall seconds in the run table include both."
    ]


LIMITATION_CHECKS = (
    _reduced_budget,
    _subsets,
    _data,
    _uncommitted_code,
    _few_seeds,
    _cpu,
    _timing_under_load,
    _mixed_precision,
    _resumed,
    _timing_rules,
)


def _distinct_runs(runs: Runs, key: Callable[[RunResult], Any]) -> list[RunResult]:
    """The first run with each distinct value of ``key``, so a statement is made once per distinct setting."""
    first: dict[Any, RunResult] = {}
    for run in runs.complete:
        first.setdefault(key(run), run)
    return list(first.values())
