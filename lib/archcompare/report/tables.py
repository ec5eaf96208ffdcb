"""The report's tables, as pandas DataFrames."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..record import NOT_RECORDED
from .compare import BLOG_POST, CardinalityTrend, EnsembleScore, Reference, compare_all
from .format import agreed, percent, text
from .runs import BASELINE, RunResult, Runs


def _baseline(runs: Runs) -> str | None:
    architectures = runs.architectures
    if not architectures:
        return None
    return BASELINE if BASELINE in architectures else architectures[0]


def headline_table(runs: Runs, reference: Reference = BLOG_POST) -> pd.DataFrame:
    """One row per architecture: final-epoch test accuracy over seeds, size, cost and the blog's figure.

    Accuracy is the final epoch's, not the best epoch's: picking the best epoch would select on the
    test set. Time is relative to the baseline (ResNet-50 when present) in seconds per epoch.
    """
    baseline = _baseline(runs)
    columns = [
        "architecture",
        "seeds",
        "epochs",
        "test accuracy",
        "test acc mean (%)",
        "test acc std (%)",
        "params",
        "GMACs",
        "seconds per epoch",
        "images/s",
        f"time vs {baseline}",
        f"blog post ({reference.epochs} epochs)",
    ]
    rows = []
    base_seconds = np.mean([run.record.timing.seconds_per_epoch for run in runs.of(baseline)]) if baseline else None
    for arch in runs.architectures:
        members = runs.of(arch)
        accuracies = 100 * np.array([run.record.test_acc for run in members])
        mean = float(accuracies.mean())
        std = float(accuracies.std(ddof=1)) if len(members) > 1 else math.nan
        seconds = float(np.mean([run.record.timing.seconds_per_epoch for run in members]))
        blog = reference.test_acc.get(arch)
        blog_text = percent(blog, 1) if blog is not None else "—"
        if arch == reference.slower:
            blog_text += f", about {1 + reference.slowdown:.1f}x the time of {reference.faster}"
        rows.append(
            [
                arch,
                len(members),
                _agreed_values(member.record.epochs for member in members),
                f"{mean:.2f} ± {std:.2f} %" if len(members) > 1 else f"{mean:.2f} % (one seed)",
                mean,
                std,
                members[0].record.params,
                members[0].record.macs / 1e9,
                seconds,
                float(np.mean([run.record.timing.images_per_second for run in members])),
                f"{seconds / base_seconds:.2f}x",
                blog_text,
            ]
        )
    table = pd.DataFrame(rows, columns=columns)
    return table if runs.cifar10 else table.drop(columns=columns[-1])  # the blog's figures are CIFAR-10's


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
        interval, slowdown = pair.difference_interval, pair.slowdown_interval
        rows.append(
            {
                "architecture": pair.other,
                "vs": pair.baseline,
                "paired seeds": len(pair.seeds),
                "accuracy difference (pp)": 100 * pair.mean_difference,
                "95% interval (pp)": f"[{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]" if interval else "—",
                "McNemar p per seed": ", ".join(f"{seed.mcnemar.p_value:.3g}" for seed in pair.seeds),
                "Holm-adjusted p": ", ".join(
                    f"{seed.p_adjusted:.3g}" for seed in pair.seeds if seed.p_adjusted is not None
                )
                or "—",
                "time per epoch vs baseline": f"{pair.time_ratio:.2f}x",
                "95% interval of slowdown": f"[{slowdown.low:+.0%}, {slowdown.high:+.0%}]" if slowdown else "—",
            }
        )
    return pd.DataFrame(rows)


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
                "95% interval (%)": f"[{100 * interval.low:.2f}, {100 * interval.high:.2f}]" if interval else "—",
                "seconds per epoch": point.seconds_per_epoch,
                "ImageNet top-1 error (%), Xie et al. Table 3": point.imagenet_top1_error,
            }
        )
    return pd.DataFrame(rows)


def ensemble_table(scores: list[EnsembleScore]) -> pd.DataFrame:
    """Accuracy, NLL and ECE before and after temperature scaling; McNemar against the best member."""
    rows = []
    for score in scores:
        test = score.mcnemar_vs_best_member
        rows.append(
            {
                "model": score.name,
                "members": ", ".join(score.members),
                "accuracy (%)": 100 * score.accuracy,
                "NLL": score.nll,
                "ECE (%)": 100 * score.ece,
                "NLL, temperature-scaled": score.nll_scaled,
                "ECE (%), temperature-scaled": 100 * score.ece_scaled,
                "vs best member (McNemar p)": f"{test.p_value:.3g}" if test else "—",
            }
        )
    return pd.DataFrame(rows)
