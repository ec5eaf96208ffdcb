"""The report's tables, as pandas DataFrames."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..record import NOT_RECORDED
from .compare import BLOG_POST, CardinalityTrend, EnsembleScore, EqualCost, Reference, compare_all
from .format import agreed, number, percent, ratio, share, text
from .runs import BASELINE, RunResult, Runs


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
    base_runs = runs.of(baseline) if baseline else []
    for arch in runs.architectures:
        members = runs.of(arch)
        accuracies = np.array([run.record.test_acc for run in members])
        blog = reference.test_acc.get(arch)
        blog_text = percent(blog, 1) if blog is not None else "—"
        if arch == reference.slower:
            blog_text += f", about {1 + reference.slowdown:.1f}x the time of {reference.faster}"
        rows.append(
            [
                arch,
                len(members),
                _agreed_values(member.record.epochs for member in members),
                f"{percent(accuracies.mean())} ± {percent(accuracies.std(ddof=1))}"
                if len(members) > 1
                else f"{percent(accuracies.mean())} (one seed)",
                members[0].record.params,
                members[0].record.macs / 1e9,
                _by_device(members, lambda run: run.record.timing.seconds_per_epoch, number),
                _by_device(members, lambda run: run.record.timing.images_per_second, lambda v: number(v, 0)),
                _time_vs(members, base_runs),
                blog_text,
            ]
        )
    table = pd.DataFrame(rows, columns=columns)
    return table if runs.cifar10 else table.drop(columns=columns[-1])  # the blog's figures are CIFAR-10's


def _devices(members: list[RunResult]) -> dict[str, list[RunResult]]:
    devices: dict[str, list[RunResult]] = {}
    for run in members:
        devices.setdefault(run.record.env.device_name, []).append(run)
    return devices


def _by_device(members: list[RunResult], value: Callable[[RunResult], float], show: Callable[[float], str]) -> str:
    devices = _devices(members)
    means = {device: float(np.mean([value(run) for run in runs])) for device, runs in devices.items()}
    if len(means) == 1:
        return show(next(iter(means.values())))
    return "; ".join(f"{show(mean)} ({device})" for device, mean in means.items())


def _time_vs(members: list[RunResult], base_runs: list[RunResult]) -> str:
    """Mean seconds per epoch over the baseline's, on each device model both were timed on."""
    mine, theirs = _devices(members), _devices(base_runs)
    shared = [device for device in mine if device in theirs]
    ratios = {
        device: np.mean([run.record.timing.seconds_per_epoch for run in mine[device]])
        / np.mean([run.record.timing.seconds_per_epoch for run in theirs[device]])
        for device in shared
    }
    if not ratios:
        return "—"
    if len(ratios) == 1:
        return ratio(next(iter(ratios.values())))
    return "; ".join(f"{ratio(value)} ({device})" for device, value in ratios.items())


def _agreed_values(values: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in dict.fromkeys(values))


def runs_table(runs: Runs) -> pd.DataFrame:
    """One row per complete run: its accuracy, timing and when and how it was made."""
    rows = []
    for arch in runs.architectures:
        for run in runs.of(arch):
            record, timing, env = run.record, run.record.timing, run.record.env
            rows.append(
                {
                    "architecture": arch,
                    "seed": run.seed,
                    "epochs": record.epochs,
                    "test acc (%)": 100 * record.test_acc,
                    "best test acc (%)": 100 * record.best_test_acc,
                    "best epoch": record.best_epoch,
                    "seconds per epoch": timing.seconds_per_epoch,
                    "images/s": timing.images_per_second,
                    "eval images/s": timing.eval_images_per_second,
                    "wall seconds": timing.wall_seconds,
                    "peak memory (GB)": timing.peak_memory_bytes / 1e9,
                    "started": env.started,
                    "finished": env.finished,
                    "resumed after epoch": text(env.resumed_from_epoch),
                    "notebook seconds": (run.papermill or {}).get("duration"),
                    "training code": "older" if run.older_code else "current",
                    "trained by": trained_by(run),
                    "GPU (CUDA_VISIBLE_DEVICES)": env.cuda_visible_devices or "—",
                    "reused from": run.reused_from or "—",
                }
            )
    return pd.DataFrame(rows)


def trained_by(run: RunResult) -> str:
    """How the run was executed: the notebook (through papermill), or archcompare.cli train without Jupyter."""
    by = run.record.env.trained_by
    if run.papermill and by in ("train.ipynb", NOT_RECORDED):
        return "train.ipynb through papermill"
    return by


def protocol_table(runs: Runs) -> pd.DataFrame:
    """The training protocol the runs used; where runs differ, every distinct value with its runs."""

    def config(name: str) -> Callable[[RunResult], Any]:
        return lambda run: run.record.config.get(name)

    def env(name: str) -> Callable[[RunResult], Any]:
        return lambda run: getattr(run.record.env, name)

    def subset(run: RunResult) -> str:
        train, test = (run.record.config.get(f"{split}_per_class", 0) for split in ("train", "test"))
        return f"{train or 'all'} train / {test or 'all'} test"

    def classes(run: RunResult) -> str:
        names = run.record.classes
        return f"{len(names)}: {', '.join(names)}" if len(names) <= 12 else f"{len(names)} classes"

    settings = [
        ("data", lambda run: run.record.data.label),
        ("classes", classes),
        ("images (train / test)", lambda run: f"{run.record.data.train_images:,} / {run.record.data.test_images:,}"),
        ("images per class (subset)", subset),
        ("image shape", lambda run: "×".join(str(size) for size in run.record.data.image_shape)),
        ("stem", config("stem")),
        ("augmentation recipe", config("recipe")),
        ("optimizer", config("optimizer")),
        ("learning rate (peak)", config("lr")),
        ("momentum", config("momentum")),
        ("Nesterov", config("nesterov")),
        ("weight decay", config("weight_decay")),
        ("lr schedule", config("schedule")),
        ("warm-up epochs", config("warmup_epochs")),
        ("label smoothing", config("label_smoothing")),
        ("epochs", lambda run: run.record.epochs),
        ("batch size", config("batch_size")),
        ("precision (resolved)", env("precision")),
        ("channels last", config("channels_last")),
        ("torch.compile", config("compile")),
        ("deterministic kernels", config("deterministic")),
        ("device", env("device")),
    ]
    rows = [(setting, agreed(runs, value)) for setting, value in settings]
    seeds = "; ".join(f"{arch}: {', '.join(str(run.seed) for run in runs.of(arch))}" for arch in runs.architectures)
    rows.append(("seeds", seeds or "—"))
    return pd.DataFrame(rows, columns=["setting", "value"])


def provenance_table(runs: Runs) -> pd.DataFrame:
    """Where the results came from: code version, software, hardware, data identity and times."""

    def env(name: str) -> Callable[[RunResult], Any]:
        return lambda run: getattr(run.record.env, name)

    def commit(run: RunResult) -> str:
        sha, dirty = run.record.env.git_commit, run.record.env.git_dirty
        if sha is None:
            return "not a git checkout"
        return f"{sha[:12]} ({'with uncommitted changes' if dirty else 'clean'})"

    def papermill(run: RunResult) -> str:
        return f"papermill {run.papermill.get('version', '')}".strip() if run.papermill else "not run by papermill"

    rows = [
        ("git commit", agreed(runs, commit)),
        ("training code version", agreed(runs, env("code_version"))),
        ("training code source fingerprint", agreed(runs, env("source_fingerprint"))),
        ("python", agreed(runs, env("python"))),
        ("torch", agreed(runs, env("torch"))),
        ("torchvision", agreed(runs, env("torchvision"))),
        ("CUDA", agreed(runs, env("cuda"))),
        ("cuDNN", agreed(runs, env("cudnn"))),
        ("device name", agreed(runs, env("device_name"))),
        ("CPU count", agreed(runs, env("cpu_count"))),
        ("torch threads", agreed(runs, env("torch_threads"))),
        ("CPU capability", agreed(runs, env("cpu_capability"))),
        ("platform", agreed(runs, env("platform"))),
        ("dataset", agreed(runs, lambda run: run.record.data.label)),
        ("dataset fingerprint", agreed(runs, lambda run: run.record.data.fingerprint)),
        ("training notebook", agreed(runs, papermill)),
        ("first run started", min((run.record.env.started for run in runs.complete), default="—")),
        ("last run finished", max((run.record.env.finished for run in runs.complete), default="—")),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


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
                "95% interval, paired (pp)": _pp_interval(interval),
                "95% interval, Welch (pp)": _pp_interval(welch),
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


def _pp_interval(interval) -> str:
    if interval is None:
        return "—"
    return f"[{number(100 * interval.low, sign=True)}, {number(100 * interval.high, sign=True)}]"


def cardinality_table(trend: CardinalityTrend) -> pd.DataFrame:
    """Per cardinality: size and cost (nearly equal by design), accuracy with its interval, ImageNet's error."""
    rows = []
    for point in trend.points:
        interval = point.accuracy_interval
        rows.append(
            {
                "architecture": point.arch,
                "cardinality x width": f"{point.cardinality}x{point.width}d",
                "params (M)": point.params / 1e6,
                "GMACs": point.macs / 1e9,
                "seeds": len(point.accuracies),
                "test acc mean (%)": 100 * float(np.mean(point.accuracies)),
                "95% interval (%)": f"[{number(100 * interval.low)}, {number(100 * interval.high)}]"
                if interval
                else "—",
                "seconds per epoch": point.seconds_per_epoch,
                "ImageNet top-1 error (%), Xie et al. Table 3": point.imagenet_top1_error,
            }
        )
    return pd.DataFrame(rows)


def ensemble_table(scores: list[EnsembleScore]) -> pd.DataFrame:
    """Accuracy, NLL and ECE before and after temperature scaling; the ensemble against its best member."""
    rows = []
    for score in scores:
        test = score.mcnemar_vs_best_member
        versus = "—"
        if test is not None and score.best_member_accuracy is not None:
            versus = f"{number(100 * (score.accuracy - score.best_member_accuracy), sign=True)} (p {test.p_value:.3g})"
        rows.append(
            {
                "model": score.name,
                "accuracy (%)": 100 * score.accuracy,
                "NLL": score.nll,
                "ECE (%)": 100 * score.ece,
                "NLL, temperature-scaled": score.nll_scaled,
                "ECE (%), temperature-scaled": 100 * score.ece_scaled,
                "fitted temperatures": ", ".join(number(t) for t in score.temperatures)
                if len(score.temperatures) <= 2
                else f"{number(min(score.temperatures))} to {number(max(score.temperatures))}",
                "vs best member (pp, McNemar p)": versus,
            }
        )
    return pd.DataFrame(rows)


def equal_cost_table(equal_cost: EqualCost) -> pd.DataFrame:
    """Two models at equal cost: each kind of two-model ensemble over every pair of runs, as mean and range."""
    groups = [("one run of each architecture", equal_cost.mixed)]
    groups += [(f"two seeds of {arch}", scores) for arch, scores in equal_cost.same.items()]
    rows = []
    for name, scores in groups:
        accuracies = [100 * score.accuracy for score in scores]
        rows.append(
            {
                "two-model ensemble": name,
                "pairs": len(scores),
                "accuracy, mean (%)": float(np.mean(accuracies)),
                "accuracy, range (%)": f"{number(min(accuracies))} to {number(max(accuracies))}",
                "NLL, mean": float(np.mean([score.nll for score in scores])),
            }
        )
    return pd.DataFrame(rows)
