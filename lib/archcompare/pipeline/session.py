"""Planning a stretch of lent GPU time: which queued runs can finish before the time runs out.

A run cannot span stretches (its checkpoint stays on the machine), so a run started that cannot
finish is time thrown away. Each queued item's time is estimated, best first, from:

1. committed runs of the same settings (any seed) timed alone on this GPU model: their wall time,
   which includes loading the data, warm-up and evaluation, plus the notebook's own start and end,
   which the wall time leaves out;
2. committed runs of the same architecture, batch, precision and layout on this GPU model: their
   measured training and evaluation rates, times this run's images and epochs, plus set-up;
3. a probe: this run's step, in the step mode it will use, timed on this GPU now (``probe``).

Only runs that executed as this one will (its step mode and layout, ``execution``) say how long it
takes: a captured step and an eager one differ in speed, not in what they compute.

Items start in queue order while their estimates fit the remaining time; an item that does not fit
is left for the next stretch (with its estimate), and a later, shorter one may still start.

Runs trained only for their accuracy (``shareable`` profiles) may share the GPU, k at a time, when
a committed measurement of k concurrent runs on this GPU model (``make bench CONCURRENCY=<profile>``,
``outputs/bench/concurrency-<device>.json``) shows that the aggregate rate pays: such runs are
marked (``device_shared_by``) and their times are compared with nothing.

The time counted is the device's: ``plan_session`` gets the deadline itself, so the minutes it
spends decoding the data and probing come off what it plans; ``write_queue`` writes each line's
estimate and the latest end, which the queue checks again before it starts each line. Besides
runs, the queue takes two items of fixed work, ``bench`` (the step-mode rows, ``bench_steps``)
and ``penalty`` (``make penalty``, ``data_penalty``), each with its own estimate.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PipelineError, RecordError
from ..execution import chosen_step_mode
from ..paths import BENCH_DIR, ROOT, outputs_dir
from ..record import RunRecord, read_record
from .plan import PlannedRun, images_used, plan

# Beside its training and evaluation: a run's kernel start, data from the cache, warm-up and capture (the
# committed full runs on GPUs: 31 to 69 s inside their wall time, 10 to 18 s outside it).
SETUP_SECONDS = 90
# What a run through make and papermill takes beyond its recorded wall time (which starts inside
# train()): the make step's interpreter, the Jupyter kernel's start, imports, writing the notebook.
# The committed full runs' notebooks say 9.8 to 17.9 s (papermill's duration less the wall time;
# tests/test_session.py recomputes it), and the make step's own interpreter adds about 2 s.
NOTEBOOK_OVERHEAD_SECONDS = 20
EVAL_RATE_OVER_TRAIN_RATE = 3.0  # evaluation is forward only at batch 500: measured 3.4x on the H200 (bench-cuda)
SAFETY_SECONDS = 60  # packing and copying the results back after the last run
BENCH_ITEM, PENALTY_ITEM = "bench", "penalty"  # queue items that are not runs
PENALTY_RUNS = 10  # airbench94 runs of `make penalty` in a session (its default)
SHARING_PAYS = 1.2  # k runs share a GPU only when together they train at least 20 % more images per second
# The settings that decide a step's speed; epochs, seeds and the schedule do not.
SPEED_SETTINGS = ("arch", "stem", "batch_size", "precision", "channels_last", "compile", "recipe")


@dataclass(frozen=True)
class Estimate:
    item: str  # profile:run
    seconds: float | None  # None: no basis to estimate on this machine
    basis: str


@dataclass(frozen=True)
class SessionPlan:
    start: tuple[tuple[Estimate, ...], ...]  # groups in the order to run them; a group's runs share the GPU
    left: tuple[Estimate, ...]  # for a later stretch
    budget_seconds: float  # what was left when the plan was made: the deadline less the time spent planning
    slowdown: dict[int, float]  # per group size: how much longer each run takes beside the others
    deadline: float = 0.0  # the device time's end (seconds since the epoch)
    planning_seconds: float = 0.0  # decoding the data and probing, counted against the deadline

    def seconds(self, group: tuple[Estimate, ...]) -> float:
        return max(e.seconds for e in group) * self.slowdown.get(len(group), 1.0)

    def summary(self) -> str:
        used = sum(self.seconds(group) for group in self.start)
        runs = sum(len(group) for group in self.start)
        lines = [
            f"{runs} item(s) to start, about {used / 60:.1f} of the {self.budget_seconds / 60:.1f} minutes left "
            f"after {self.planning_seconds:.0f} s of planning:"
        ]
        for group in self.start:
            beside = f", {len(group)} sharing the GPU" if len(group) > 1 else ""
            for e in group:
                lines.append(f"  start {e.item}: about {e.seconds / 60:.1f} min alone ({e.basis}{beside})")
        lines += [f"  leave {e.item}: {_minutes(e.seconds)} ({e.basis})" for e in self.left]
        return "\n".join(lines)


def _minutes(seconds: float | None) -> str:
    return "no estimate" if seconds is None else f"about {seconds / 60:.1f} min, does not fit"


def committed_records(device_name: str, roots: tuple[Path, ...]) -> list[RunRecord]:
    """Every complete run under these outputs directories timed alone on this GPU model."""
    records = []
    paths = dict.fromkeys(path.resolve() for root in roots for path in sorted(root.glob("*/runs/*/summary.json")))
    for path in paths:
        if (path.parent / "reused.json").exists():
            continue  # a copy: its original is counted already
        try:
            record = read_record(path)
        except RecordError:
            continue
        if record.env.device_name == device_name and record.env.device_shared_by == 1:
            records.append(record)
    return records


def planned_step_mode(run: PlannedRun) -> str:
    """The steps a planned run will take on a GPU where capture applies (``execution.chosen_step_mode``)."""
    return chosen_step_mode(run.parameters.get("step_mode", "auto"), capturable=True)


def estimate(
    item: str, run: PlannedRun, records: list[RunRecord], probe: Callable[[PlannedRun], float] | None
) -> Estimate:
    config = run.config
    step_mode = planned_step_mode(run)
    executed_alike = [
        record
        for record in records
        if record.env.step_mode == step_mode and record.config.get("channels_last", True) == config.channels_last
    ]
    same = [
        record
        for record in executed_alike
        if set(config.differences(record.config)) <= {"seed"} and record.data.name == config.dataset_spec.name
    ]
    if same:
        wall = max(r.timing.wall_seconds for r in same)
        return Estimate(item, wall + NOTEBOOK_OVERHEAD_SECONDS, f"wall time of {len(same)} such run(s) + notebook")
    images = images_used(config)
    similar = [
        record
        for record in executed_alike
        if all(record.config.get(key) == getattr(config, key) for key in SPEED_SETTINGS)
        and record.data.image_shape[1:] == _image_shape(config)
    ]
    if similar:
        rate = min(r.timing.images_per_second for r in similar)
        eval_rate = min(r.timing.eval_images_per_second or rate * EVAL_RATE_OVER_TRAIN_RATE for r in similar)
        test = similar[0].data.test_images
        seconds = config.epochs * (images / rate + test / eval_rate) + SETUP_SECONDS
        return Estimate(item, seconds, f"{rate:,.0f} img/s of {len(similar)} run(s) with its step")
    if probe is not None:
        rate = probe(run)
        test = images_used(config, "test")
        seconds = config.epochs * (images / rate + test / (EVAL_RATE_OVER_TRAIN_RATE * rate)) + SETUP_SECONDS
        return Estimate(item, seconds, f"{rate:,.0f} img/s probed now ({step_mode} steps)")
    return Estimate(item, None, f"no run of its step ({step_mode}) on this GPU model, and no probe")


def work_estimate(item: str) -> Estimate:
    """The queue's items that are not runs: the step-mode bench rows, and the data penalty."""
    if item == BENCH_ITEM:
        from ..bench_steps import session_rows_seconds

        return Estimate(item, session_rows_seconds(), "the step-mode bench rows' measuring time + set-up")
    from ..data_penalty import expected_seconds

    return Estimate(item, expected_seconds(PENALTY_RUNS), f"{PENALTY_RUNS} airbench94 runs at their published speed")


def _image_shape(config) -> tuple[int, int]:
    from ..data.stream import step_image_size

    return step_image_size(config.dataset_spec, config.recipe)


def sharing_slowdown(device_name: str, roots: tuple[Path, ...]) -> dict[int, float]:
    """From the committed concurrency measurement on this GPU model: per k that pays, each run's time factor."""
    paths = [root / BENCH_DIR / f"concurrency-{device_slug(device_name)}.json" for root in roots]
    path = next((path for path in paths if path.exists()), None)
    if path is None:
        return {}
    speeds = {int(k): v for k, v in json.loads(path.read_text())["aggregate_images_per_second"].items()}
    return {k: k * speeds[1] / speed for k, speed in speeds.items() if k > 1 and speed >= SHARING_PAYS * speeds[1]}


def device_slug(device_name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", device_name).strip("-").lower()


def plan_session(
    queue: list[str],
    deadline: float,
    device_name: str,
    data: str | None = None,
    probe: Callable[[PlannedRun], float] | None = None,
    log: Callable[[str], None] = print,
    shareable: tuple[str, ...] = (),
    records_from: tuple[Path, ...] | None = None,
    clock: Callable[[], float] = time.time,
) -> SessionPlan:
    """Which of ``queue`` (``profile:run`` items, ``bench``, ``penalty``) to start before ``deadline`` on ``device_name``.

    ``deadline`` is the device time's end in ``clock``'s seconds: what planning itself takes (decoding
    the data, probing) is spent before the items are chosen, and counted. Estimates come from the
    runs under ``records_from``: by default the outputs directory the runs go to and the
    repository's committed ``outputs/``.
    """
    began = clock()
    roots = records_from or (outputs_dir(), ROOT / "outputs")
    records = committed_records(device_name, roots)
    planned: dict[str, dict[str, PlannedRun]] = {}
    estimates = []
    for item in queue:
        if item in (BENCH_ITEM, PENALTY_ITEM):
            estimates.append(work_estimate(item))
            continue
        profile, _, name = item.partition(":")
        if profile not in planned:
            runs = plan(profile, data, log=lambda message: None, allow_long=True)
            planned[profile] = {run.name: run for run in runs}
        run = planned[profile].get(name)
        if run is None:
            raise PipelineError(f"queue item {item!r}: profile {profile!r} has no run {name!r}")
        if not run.stale_reason:
            log(f"{item}: already complete, not queued")
            continue
        estimates.append(estimate(item, run, records, probe))
    slowdown = sharing_slowdown(device_name, roots) if shareable else {}
    share = max(slowdown, key=lambda k: k / slowdown[k], default=1)  # the group size with the best aggregate
    together = [e for e in estimates if e.item.partition(":")[0] in shareable and e.seconds is not None]
    groups = [(e,) for e in estimates if e not in together]
    for profile in dict.fromkeys(e.item.partition(":")[0] for e in together):  # one make call per group: one profile
        mine = [e for e in together if e.item.startswith(profile + ":")]
        groups += [tuple(mine[i : i + share]) for i in range(0, len(mine), share)]
    now = clock()
    budget_seconds = deadline - now
    session = SessionPlan((), (), budget_seconds, slowdown)
    start, left, remaining = [], [], budget_seconds - SAFETY_SECONDS
    for group in sorted(groups, key=lambda group: queue.index(group[0].item)):
        if all(e.seconds is not None for e in group) and session.seconds(group) <= remaining:
            start.append(group)
            remaining -= session.seconds(group)
        else:
            left.extend(group)
    return SessionPlan(tuple(start), tuple(left), budget_seconds, slowdown, deadline, now - began)


def write_queue(session: SessionPlan, path: Path) -> None:
    """The latest end (the deadline less packing), then one line per group: its estimate in seconds and its
    items; the runs on a line train side by side on the GPU. The queue starts a line only if it ends in time."""
    lines = [f"deadline {session.deadline - SAFETY_SECONDS:.0f}\n"]
    lines += [f"{session.seconds(group):.0f} {' '.join(e.item for e in group)}\n" for group in session.start]
    path.write_text("".join(lines))
