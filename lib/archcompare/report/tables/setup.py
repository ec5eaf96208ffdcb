"""The setup tables: every run, the training protocol, and where the results came from."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from ...record import NOT_RECORDED
from ..format import agreed, images_per_second, number, seconds_per_epoch, text
from ..runs import RunResult, Runs


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
                    "seconds per epoch": seconds_per_epoch(timing.seconds_per_epoch),
                    "images/s": images_per_second(timing.images_per_second),
                    "eval images/s": images_per_second(timing.eval_images_per_second),
                    "wall seconds": number(timing.wall_seconds, 0),
                    "peak memory (GB)": timing.peak_memory_bytes / 1e9,
                    "started": env.started,
                    "finished": env.finished,
                    "resumed after epoch": text(env.resumed_from_epoch),
                    "notebook seconds": text(None)
                    if (run.papermill or {}).get("duration") is None
                    else number(run.papermill["duration"], 0),
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
