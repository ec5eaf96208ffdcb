"""The report's tables, as pandas DataFrames."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .compare import BLOG_POST, CardinalityTrend, EnsembleScore, Reference, compare_all
from .format import CIFAR10_CLASS_NAMES, _agreed, _percent, _text, dataset_label
from .runs import BASELINE, RunResult, Runs

if TYPE_CHECKING:
    pass


# --- tables -------------------------------------------------------------------------------------


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
    base_seconds = np.mean([run.summary["seconds_per_epoch"] for run in runs.of(baseline)]) if baseline else None
    for arch in runs.architectures:
        members = runs.of(arch)
        accuracies = 100 * np.array([run.summary["test_acc"] for run in members])
        mean = float(accuracies.mean())
        std = float(accuracies.std(ddof=1)) if len(members) > 1 else math.nan
        seconds = float(np.mean([run.summary["seconds_per_epoch"] for run in members]))
        blog = reference.test_acc.get(arch)
        blog_text = _percent(blog, 1) if blog is not None else "—"
        if arch == reference.slower:
            blog_text += f", about {1 + reference.slowdown:.1f}x the time of {reference.faster}"
        rows.append(
            [
                arch,
                len(members),
                _agreed_values(member.summary["epochs"] for member in members),
                f"{mean:.2f} ± {std:.2f} %" if len(members) > 1 else f"{mean:.2f} % (one seed)",
                mean,
                std,
                int(members[0].summary["params"]),
                members[0].summary["macs"] / 1e9,
                seconds,
                float(np.mean([run.summary["images_per_second"] for run in members])),
                f"{seconds / base_seconds:.2f}x",
                blog_text,
            ]
        )
    table = pd.DataFrame(rows, columns=columns)
    cifar10 = all(tuple(run.summary["classes"]) == CIFAR10_CLASS_NAMES for run in runs.complete)
    return table if cifar10 else table.drop(columns=columns[-1])  # the blog's figures are CIFAR-10's


def _agreed_values(values: Iterable[Any]) -> str:
    return ", ".join(str(value) for value in dict.fromkeys(values))


def runs_table(runs: Runs) -> pd.DataFrame:
    """One row per complete run: its accuracy, timing and when and how it was made."""
    rows = []
    for arch in runs.architectures:
        for run in runs.of(arch):
            summary, env = run.summary, run.env
            rows.append(
                {
                    "architecture": arch,
                    "seed": run.seed,
                    "epochs": summary["epochs"],
                    "test acc (%)": 100 * summary["test_acc"],
                    "best test acc (%)": 100 * summary["best_test_acc"],
                    "best epoch": summary["best_epoch"],
                    "seconds per epoch": summary["seconds_per_epoch"],
                    "images/s": summary["images_per_second"],
                    "eval images/s": summary.get("eval_images_per_second"),
                    "wall seconds": summary["wall_seconds"],
                    "peak memory (GB)": summary["peak_memory_bytes"] / 1e9,
                    "started": env.get("started"),
                    "finished": env.get("finished"),
                    "resumed after epoch": _text(env.get("resumed_from_epoch")),
                    "notebook seconds": (run.papermill or {}).get("duration"),
                    "training code": "older" if run.older_code else "current",
                    "trained by": _trained_by(run),
                    "GPU (CUDA_VISIBLE_DEVICES)": run.env.get("cuda_visible_devices") or "—",
                    "reused from": run.reused_from or "—",
                }
            )
    return pd.DataFrame(rows)


def _trained_by(run: RunResult) -> str:
    """How the run was executed: the notebook through papermill, or archcompare.cli train without Jupyter."""
    if run.env.get("trained_by"):
        return run.env["trained_by"]
    return "train.ipynb through papermill" if run.papermill else "—"


def protocol_table(runs: Runs) -> pd.DataFrame:
    """The training protocol the runs used; where runs differ, every distinct value with its runs."""

    def config(name: str) -> Callable[[RunResult], Any]:
        return lambda run: run.config.get(name)

    def env(name: str) -> Callable[[RunResult], Any]:
        return lambda run: run.env.get(name)

    def subset(run: RunResult) -> str:
        train, test = (run.config.get(f"{split}_per_class", 0) for split in ("train", "test"))
        return f"{train or 'all'} train / {test or 'all'} test"

    def classes(run: RunResult) -> str:
        names = run.summary["classes"]
        return f"{len(names)}: {', '.join(names)}" if len(names) <= 12 else f"{len(names)} classes"

    settings = [
        ("data", lambda run: dataset_label(run.env.get("dataset_spec", ""), run.summary["classes"])),
        ("classes", classes),
        ("images (train / test)", lambda run: f"{run.env['train_images']:,} / {run.env['test_images']:,}"),
        ("images per class (subset)", subset),
        ("image shape", lambda run: "×".join(str(size) for size in run.env.get("image_shape", []))),
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
        ("epochs", lambda run: run.summary["epochs"]),
        ("batch size", config("batch_size")),
        ("precision (resolved)", env("precision")),
        ("channels last", config("channels_last")),
        ("torch.compile", config("compile")),
        ("deterministic kernels", config("deterministic")),
        ("device", env("device")),
    ]
    rows = [(setting, _agreed(runs, value)) for setting, value in settings]
    seeds = "; ".join(f"{arch}: {', '.join(str(run.seed) for run in runs.of(arch))}" for arch in runs.architectures)
    rows.append(("seeds", seeds or "—"))
    return pd.DataFrame(rows, columns=["setting", "value"])


def provenance_table(runs: Runs) -> pd.DataFrame:
    """Where the results came from: code version, software, hardware, data identity and times."""

    def env(name: str) -> Callable[[RunResult], Any]:
        return lambda run: run.env.get(name)

    def commit(run: RunResult) -> str:
        sha, dirty = run.env.get("git_commit"), run.env.get("git_dirty")
        if sha is None:
            return "not a git checkout"
        return f"{sha[:12]} ({'with uncommitted changes' if dirty else 'clean'})"

    def papermill(run: RunResult) -> str:
        return f"papermill {run.papermill.get('version', '')}".strip() if run.papermill else "not run by papermill"

    rows = [
        ("git commit", _agreed(runs, commit)),
        ("training code fingerprint", _agreed(runs, env("code_fingerprint"))),
        ("python", _agreed(runs, env("python"))),
        ("torch", _agreed(runs, env("torch"))),
        ("torchvision", _agreed(runs, env("torchvision"))),
        ("CUDA", _agreed(runs, env("cuda"))),
        ("cuDNN", _agreed(runs, env("cudnn"))),
        ("device name", _agreed(runs, env("device_name"))),
        ("CPU count", _agreed(runs, env("cpu_count"))),
        ("torch threads", _agreed(runs, env("torch_threads"))),
        ("CPU capability", _agreed(runs, env("cpu_capability"))),
        ("platform", _agreed(runs, env("platform"))),
        ("dataset", _agreed(runs, lambda run: dataset_label(run.env.get("dataset_spec", ""), run.summary["classes"]))),
        ("dataset fingerprint", _agreed(runs, env("dataset_fingerprint"))),
        ("training notebook", _agreed(runs, papermill)),
        ("first run started", min((run.env.get("started") or "" for run in runs.complete), default="") or "—"),
        ("last run finished", max((run.env.get("finished") or "" for run in runs.complete), default="") or "—"),
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
