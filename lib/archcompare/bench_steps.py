"""``make bench``'s step-mode rows: eager against captured steps, each row written down as it finishes.

Conditions: the blog's (``blog_timing.BLOG_TIMING_CONDITIONS``: fp32, batch 32, default layout),
the ``full`` profile's (bf16, batch 512, channels_last), and the blog's arithmetic in channels_last,
under a label of its own that does not start with "blog", so that the report never takes it for the
blog's layout. Each row: images/s of the training loop's own steps after set-up, and the set-up
itself (capture or compilation plus the first steps), which a session on a lent GPU pays too.

A CPU has eager steps only, which the project loop's rows of ``make bench`` already measure, so a
CPU bench has no step-mode rows (``QUICK=1`` still runs their eager rows, to check the machinery). A lent GPU's session
(``bench --session``) measures the blog conditions and channels_last only, without
``torch.compile``, whose compile time would cost the session more than its row is worth.

Every finished row is appended at once to ``bench-<device>.rows.partial`` (one JSON object a line):
a session that ends early keeps the rows it finished, and no half-written table. ``merge_rows``
checks such rows (``ROW_FIELDS``: nothing is written unless every row is whole) and puts them into
the published ``bench-<device>.json`` and its Markdown table; a row replaces the earlier row of the
same device, conditions, architecture and steps, and keeps its own device's name.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import torch

from .blog_timing import BLOG_TIMING_CONDITIONS
from .config import RunConfig
from .errors import PipelineError
from .files import write_json, write_text
from .json_fields import FieldSpec, fields_problem, is_count
from .paths import bench_stem, shown
from .probe import TrainingSteps, synthetic_dataset
from .provenance import environment, now
from .training.device import resolve_precision, synchronize

ARCHS = ("resnet50", "resnext50_32x4d")
QUICK_IMAGE_SIZE = (8, 8)  # QUICK=1: a 16th of the work of 32x32 images, through the same code paths
BLOG_CONDITION = "blog (fp32, batch 32, default layout)"
FULL_CONDITION = "full (bf16, batch 512, channels_last)"
CHANNELS_LAST_CONDITION = "channels_last (fp32, batch 32, the blog's recipe)"
STEP_CONDITIONS = {
    BLOG_CONDITION: dict(BLOG_TIMING_CONDITIONS, recipe="blog"),
    FULL_CONDITION: dict(precision="bf16", batch_size=512, channels_last=True, recipe="standard"),
    CHANNELS_LAST_CONDITION: dict(BLOG_TIMING_CONDITIONS, channels_last=True, recipe="blog"),
}
# Which steps each condition is measured with on a GPU. torch.compile's own ways of cutting launch
# overhead are measured beside the plain CUDA graph for ResNet-50 at the blog's batch, where
# launches are the bottleneck (compile time counts as set-up), outside lent sessions only.
STEP_MODES_MEASURED = {
    BLOG_CONDITION: ("eager", "cuda-graph"),
    FULL_CONDITION: ("eager", "cuda-graph"),
    CHANNELS_LAST_CONDITION: ("cuda-graph",),
}
SESSION_CONDITIONS = (BLOG_CONDITION, CHANNELS_LAST_CONDITION)
COMPILE_MODES = ("reduce-overhead", "max-autotune")
SETUP_STEPS = 3  # steps whose time counts as setup: a compiled model compiles during its first steps


@dataclass(frozen=True)
class Measure:
    """How each bench row is timed: steps of warm-up, then ``repeats`` samples of ``seconds`` each (medians)."""

    warmup_steps: int
    seconds: float  # a sample runs steps until this much time has passed: at least one step
    repeats: int


MEASURE = {
    # A CPU step of the blog loop takes over a second and its DataLoader workers start slowly: 3 warm-up
    # steps, and samples long enough to hold several steps (a 4 s sample after one warm-up step read
    # 16 to 27 images/s for one loop on an idle machine).
    "cpu": Measure(warmup_steps=3, seconds=6.0, repeats=3),
    "cuda": Measure(warmup_steps=10, seconds=2.0, repeats=5),
}
SESSION_MEASURE = Measure(warmup_steps=10, seconds=2.0, repeats=3)
QUICK_MEASURE = Measure(warmup_steps=1, seconds=0.0, repeats=1)  # one step per sample: checks the machinery
# An allowance for a row's set-up on a GPU (model, cuDNN autotuning, capture) and for the bench
# process's start (torch, CUDA): not measured yet, since no GPU has run these rows.
ROW_SETUP_SECONDS = 10
PROCESS_START_SECONDS = 20


def images_per_second_for(step: Callable[[], None], batch: int, seconds: float, device: torch.device) -> float:
    """Training images per second of as many calls of ``step`` as ``seconds`` hold (at least one), device work included."""
    synchronize(device)
    start = time.perf_counter()
    steps = 0
    while steps == 0 or time.perf_counter() - start < seconds:
        step()
        steps += 1
    synchronize(device)
    return steps * batch / (time.perf_counter() - start)


def sampled_rate(
    step: Callable[[], None], batch: int, measure: Measure, device: torch.device
) -> tuple[float, list[float]]:
    """The median and the samples of ``measure.repeats`` timed samples after ``measure.warmup_steps``."""
    for _ in range(measure.warmup_steps):
        step()
    samples = [images_per_second_for(step, batch, measure.seconds, device) for _ in range(measure.repeats)]
    return statistics.median(samples), samples


def session_rows_seconds() -> float:
    """How long ``bench --session`` is expected to take on a GPU: what the session planner budgets for it."""
    rows = len(ARCHS) * sum(len(STEP_MODES_MEASURED[condition]) for condition in SESSION_CONDITIONS)
    return PROCESS_START_SECONDS + rows * (ROW_SETUP_SECONDS + SESSION_MEASURE.repeats * SESSION_MEASURE.seconds)


def rows_file(output_dir: Path, device_type: str, quick: bool = False) -> Path:
    """Where a device's rows go as they finish (git-ignored); a quick check's are merged nowhere."""
    return output_dir / f"{bench_stem(device_type, quick)}.rows.partial"


def bench_step_modes(
    device: torch.device, partial: Path, log: Callable[[str], None], quick: bool = False, session: bool = False
) -> list[dict[str, Any]]:
    """The step-mode rows this device and invocation measure (see the module), each appended to ``partial``."""
    if device.type != "cuda" and not quick:
        log("step-mode rows: none on a CPU, whose only steps are eager (the project loop's rows)")
        return []
    conditions = SESSION_CONDITIONS if session else tuple(STEP_CONDITIONS)
    measure = QUICK_MEASURE if quick else SESSION_MEASURE if session else MEASURE[device.type]
    partial.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    for condition in conditions:
        settings = dict(STEP_CONDITIONS[condition])
        if device.type != "cuda":
            settings["precision"] = resolve_precision("auto", device) if settings["precision"] == "bf16" else "fp32"
        if quick:
            settings["batch_size"] = 8
        modes = [mode for mode in STEP_MODES_MEASURED[condition] if device.type == "cuda" or mode == "eager"]
        for arch in ARCHS:
            runs = [(mode, None) for mode in modes]
            if device.type == "cuda" and not session and arch == "resnet50" and condition == BLOG_CONDITION:
                runs += [("eager", compile_mode) for compile_mode in COMPILE_MODES]
            for step_mode, compile_mode in runs:
                row = _bench_step_mode(arch, settings, step_mode, compile_mode, device, measure, quick)
                row.update(condition=condition, arch=arch)
                with open(partial, "a") as f:  # at once: a session that ends now keeps this row
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                log(
                    f"{condition}, {arch}, {row['mode']}: {row['images_per_second']:.1f} img/s "
                    f"after {row['setup_seconds']:.1f} s of setup"
                )
                rows.append(row)
    return rows


def _bench_step_mode(
    arch: str,
    settings: dict,
    step_mode: str,
    compile_mode: str | None,
    device: torch.device,
    measure: Measure,
    quick: bool,
) -> dict[str, Any]:
    batch = settings["batch_size"]
    dataset = synthetic_dataset(train=batch * 8, test=batch, size=QUICK_IMAGE_SIZE if quick else (32, 32))
    with tempfile.TemporaryDirectory() as workdir:
        config = RunConfig(
            arch=arch, device=device.type, train_per_class=0, test_per_class=0, output_dir=workdir, **settings
        )
        timer = time.perf_counter()
        steps = TrainingSteps(config, dataset, step_mode, compile=compile_mode)
        for _ in range(SETUP_STEPS):
            steps()
        synchronize(device)
        setup = time.perf_counter() - timer
        rate, samples = sampled_rate(steps, batch, measure, device)
        env = environment(device)
        return {
            "mode": f"torch.compile {compile_mode}" if compile_mode else steps.steps.mode,
            "images_per_second": rate,
            "samples": samples,
            "setup_seconds": setup,
            "batch_size": batch,
            "precision": steps.run.precision,  # as resolved: a CPU without native bf16 runs fp32
            "channels_last": settings["channels_last"],
            "device": device.type,
            "device_name": env["device_name"],
            "torch": env["torch"],
            "measure": vars(measure),
            "created": now(),
        }


def step_modes_table(rows: list[dict[str, Any]]) -> str:
    """The step-mode rows as Markdown; each row beside the eager row of its own device, conditions and model."""
    devices = sorted({f"{row.get('device_name', '?')}, torch {row.get('torch', '?')}" for row in rows})
    lines = [
        f"Step modes on {'; '.join(devices)}: medians of timed samples after warm-up.",
        "",
        "| device | conditions | precision here | architecture | steps | img/s | setup (s) | vs eager | measured |",
        "|---|---|---|---|---|---:|---:|---:|---|",
    ]
    eager = {_same_work(row): row["images_per_second"] for row in rows if row["mode"] == "eager"}
    for row in rows:
        reference = eager.get(_same_work(row))
        ratio = f"{row['images_per_second'] / reference:.2f}x" if reference else "-"
        lines.append(
            f"| {row.get('device_name', '?')} | {row['condition']} | {row['precision']} | {row['arch']} | {row['mode']} "
            f"| {row['images_per_second']:.1f} | {row['setup_seconds']:.1f} | {ratio} | {str(row.get('created', ''))[:10]} |"
        )
    return "\n".join(lines) + "\n"


# What a row must hold, and what each field may be, before it is merged into a published table: a
# row's device names the file it goes into (bench-<device>.json), and its text fields are shown in
# Markdown table cells.
ROW_DEVICES = ("cuda", "cpu")
ROW_MODES = ("eager", "cuda-graph", *(f"torch.compile {mode}" for mode in COMPILE_MODES))
_CELL_TEXT = re.compile(r"[^|\x00-\x1f\x7f]{1,200}")


def _number(value: Any, positive: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    return value > 0 if positive else value >= 0


def _timestamp(value: Any) -> bool:
    try:
        datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return False
    return True


ROW_FIELDS: FieldSpec = {
    "condition": (lambda value: value in STEP_CONDITIONS, f"one of {', '.join(map(repr, STEP_CONDITIONS))}"),
    "arch": (lambda value: value in ARCHS, f"one of {', '.join(ARCHS)}"),
    "mode": (lambda value: value in ROW_MODES, f"one of {', '.join(ROW_MODES)}"),
    "images_per_second": (lambda value: _number(value, positive=True), "a positive number"),
    "samples": (
        lambda value: isinstance(value, list) and value and all(_number(x, positive=True) for x in value),
        "a list of positive numbers",
    ),
    "setup_seconds": (_number, "a number of seconds"),
    "batch_size": (is_count, "a positive whole number"),
    "precision": (lambda value: value in ("fp32", "bf16", "fp16"), "fp32, bf16 or fp16"),
    "channels_last": (lambda value: isinstance(value, bool), "true or false"),
    "device": (lambda value: value in ROW_DEVICES, f"one of {', '.join(ROW_DEVICES)}"),
    "device_name": (lambda value: isinstance(value, str) and _CELL_TEXT.fullmatch(value), "a device's name"),
    "torch": (lambda value: isinstance(value, str) and _CELL_TEXT.fullmatch(value), "a torch version"),
    "measure": (
        lambda value: isinstance(value, dict) and set(value) == {f.name for f in fields(Measure)},
        f"how it was timed ({', '.join(f.name for f in fields(Measure))})",
    ),
    "created": (_timestamp, "an ISO 8601 time"),
}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a rows file; a last line cut off by the end of a session is left out, any other bad line refused."""
    lines = path.read_text().splitlines()
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            rows.append(json.loads(line))
        except ValueError:
            if number < len(lines):
                raise PipelineError(f"{path.name}, line {number}: not a JSON row ({line[:40]!r})") from None
    return rows


def checked_rows(rows: list[Any], where: str) -> list[dict[str, Any]]:
    """``rows`` when each holds every field of ``ROW_FIELDS``, each as it may be; else PipelineError naming the first problem."""
    for number, row in enumerate(rows, 1):
        problem = fields_problem(row, ROW_FIELDS)
        if problem:
            raise PipelineError(f"{where}, row {number}: {problem}")
    return rows


def merged_tables(
    rows: list[dict[str, Any]], output_dir: Path, render: Callable[[dict[str, Any]], str]
) -> dict[Path, tuple[dict[str, Any], str]]:
    """Each device's published ``bench-<device>.json`` with checked ``rows`` merged in, and its ``.md``; nothing written.

    A row replaces the published row of the same device (by name), conditions, architecture and steps;
    the others stay. Each row keeps its own ``device_name``: the file's names the device of the loops'
    table only, and is left as it is (a file made here from rows alone has none).
    """
    tables = {}
    for device in sorted({row["device"] for row in rows}):
        path = output_dir / f"{bench_stem(device)}.json"
        try:
            report = json.loads(path.read_text()) if path.exists() else {"device": device}
        except (OSError, ValueError) as error:
            raise PipelineError(f"{shown(path)} cannot be read ({error})") from None
        if not isinstance(report, dict) or not isinstance(report.get("step_modes", []), list):
            raise PipelineError(f"{shown(path)} is not a bench table (no list of step-mode rows)")
        merged = {_key(row): row for row in report.get("step_modes", [])}
        merged.update({_key(row): row for row in rows if row["device"] == device})
        report = {**report, "step_modes": list(merged.values())}
        tables[path] = (report, render(report))
    return tables


def write_tables(tables: dict[Path, tuple[dict[str, Any], str]]) -> list[Path]:
    """Write what ``merged_tables`` made; returns the files written."""
    written = []
    for path, (report, markdown) in tables.items():
        write_json(path, report)
        write_text(path.with_suffix(".md"), markdown)
        written += [path, path.with_suffix(".md")]
    return written


def merge_rows(rows: list[Any], output_dir: Path, render: Callable[[dict[str, Any]], str]) -> list[Path]:
    """Check ``rows``, put them into each device's published ``bench-<device>.json``, rewrite its ``.md`` with ``render``.

    See ``merged_tables``; nothing is written unless every row is whole. Returns the tables written.
    """
    return write_tables(merged_tables(checked_rows(rows, "the rows"), output_dir, render))


def _same_work(row: dict[str, Any]) -> tuple[Any, ...]:
    """What a row's steps did, whatever the steps: its eager row is the one with the same key."""
    return row.get("device_name"), row["condition"], row["arch"]


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (*_same_work(row), row["mode"])
