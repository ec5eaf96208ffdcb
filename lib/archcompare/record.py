"""The run record: what ``summary.json`` holds, as typed dataclasses with a schema version.

Training writes a :class:`RunRecord`; the planner and the report read one. Fields are read by
name in one place, here: a record with a field this version does not know, or without one it
needs, fails loudly with :class:`RecordError` instead of a ``KeyError`` deep inside a report.

A record stores what identifies its data and its run, never where they lay on the machine that
trained it: the dataset by kind, name and content fingerprint, the config without its locations.

Schema 1 (before this module) was a plain dict: :func:`read_record` still reads it, mapping its
source fingerprint to the training code version it computes (``provenance``).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .config import LOCATION_FIELDS
from .data.spec import DatasetSpec, dataset_label
from .errors import RecordError
from .files import write_json
from .provenance import legacy_code_version, older_code_reason

SCHEMA_VERSION = 2
NOT_RECORDED = "not recorded"  # a schema-1 field the earliest records do not have


@dataclass(frozen=True)
class DataIdentity:
    """Which images a run saw: by kind, name and content, never by the path they were read from."""

    kind: str  # cifar10 | cifar100 | imagefolder
    name: str  # the torchvision name, or the image folder's own name
    fingerprint: str  # sha256 prefix of the decoded full dataset (both splits, before any subset)
    classes: tuple[str, ...]
    train_images: int  # after the run's subset
    test_images: int
    image_shape: tuple[int, ...]  # channels, height, width

    @property
    def label(self) -> str:
        return dataset_label(self.kind, self.name, self.classes)

    @property
    def portable_spec(self) -> str:
        return self.kind if self.kind != "imagefolder" else f"imagefolder:{self.name}"


@dataclass(frozen=True)
class Timing:
    train_seconds: float  # every training step, summed over epochs; no setup, no evaluation
    seconds_per_epoch: float  # training images over images_per_second
    images_per_second: float  # the median epoch's training images over its measured time
    eval_images_per_second: float | None
    wall_seconds: float  # the whole call, setup and evaluation included (of the last resume only)
    peak_memory_bytes: int  # CUDA: allocated tensors; CPU: the process's peak resident set


@dataclass(frozen=True)
class Environment:
    code_version: int  # provenance.TRAINING_CODE_VERSION of the code that trained the run
    source_fingerprint: str | None  # sha256 prefix of the training path's source text
    git_commit: str | None
    git_dirty: bool | None
    git_commit_stated_by_launcher: bool
    python: str
    torch: str
    torchvision: str
    cuda: str | None
    cudnn: int | None
    device: str
    device_name: str
    cpu_count: int | None
    torch_threads: int
    cpu_capability: str | None
    platform: str
    cuda_visible_devices: str | None  # the GPU a run was pinned to (make GPUS=...)
    trained_by: str  # train.ipynb, archcompare.cli train (no notebook), or a direct call
    precision: str  # as resolved: fp32 | bf16 | fp16
    started: str
    finished: str
    resumed_from_epoch: int | None
    # Added after schema 2 began; a record without them was trained eagerly, alone on its device.
    step_mode: str = "eager"  # eager | cuda-graph (training.steps); several joined by + after a resume
    device_shared_by: int = 1  # runs let onto the device at once; above 1 its timing is compared with nothing
    loader: str = "memory"  # memory | stream (data.stream): how the images reached the steps
    # The processes and machines that trained it: torchrun started by hand (--run-dir, on a cluster) sets
    # them, whatever the config's ``processes`` says (of the last start, after a resume). None: recorded before
    # these fields existed.
    world_size: int | None = None
    nodes: int | None = None


@dataclass(frozen=True)
class RunRecord:
    """One finished run: its settings, data, results, timing and provenance."""

    schema: int
    arch: str
    seed: int
    epochs: int  # epochs trained (the history's length)
    config: dict[str, Any]  # RunConfig's fields without locations; ``dataset`` as DataIdentity.portable_spec
    data: DataIdentity
    params: int
    macs: int  # forward multiply-accumulates per image
    test_acc: float  # the final epoch's: the headline, never the best epoch's
    test_loss: float
    best_test_acc: float
    best_epoch: int
    per_class_acc: tuple[float, ...]
    confusion_matrix: tuple[tuple[int, ...], ...]  # true classes as rows
    timing: Timing
    env: Environment

    @property
    def classes(self) -> tuple[str, ...]:
        return self.data.classes

    @property
    def num_classes(self) -> int:
        return len(self.data.classes)

    @property
    def older_code(self) -> str | None:
        """Why the run counts as made by older training code than the current, or None."""
        return older_code_reason(self.env.code_version, self.env.source_fingerprint)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any], where: str = "summary.json") -> RunRecord:
        schema = value.get("schema", 1)
        if schema == 1:
            value = _from_schema_1(value)
        elif schema != SCHEMA_VERSION:
            raise RecordError(
                f"{where} has schema {schema!r}; this version of archcompare reads 1 and {SCHEMA_VERSION}"
            )
        return _build(cls, value, where)


def _build(cls: type, value: Any, where: str) -> Any:
    """A dataclass from its JSON form, refusing unknown and missing fields by name."""
    if not isinstance(value, dict):
        raise RecordError(f"{where}: expected an object for {cls.__name__}, found {type(value).__name__}")
    names = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is dataclasses.MISSING}
    unknown, missing = sorted(set(value) - names), sorted(required - set(value))
    if unknown or missing:
        problems = [f"unknown field(s) {', '.join(unknown)}"] * bool(unknown)
        problems += [f"missing field(s) {', '.join(missing)}"] * bool(missing)
        raise RecordError(f"{where}: {cls.__name__} has {' and '.join(problems)} (schema {SCHEMA_VERSION})")
    nested = {"data": DataIdentity, "timing": Timing, "env": Environment}
    values = {}
    for name, item in value.items():
        if name in nested and cls is RunRecord:
            item = _build(nested[name], item, f"{where}: {name}")
        elif isinstance(item, list):
            item = tuple(tuple(row) if isinstance(row, list) else row for row in item)
        values[name] = item
    return cls(**values)


def _from_schema_1(old: dict[str, Any]) -> dict[str, Any]:
    """A schema-1 summary (a plain dict, paths included) in schema 2's form, without its paths."""
    try:
        env = dict(old["env"])
        config = {key: value for key, value in old["config"].items() if key not in LOCATION_FIELDS}
        spec = DatasetSpec.parse(env.pop("dataset_spec", config["dataset"]))
        config["dataset"] = spec.portable
        data = {
            "kind": spec.kind,
            "name": spec.name,
            "fingerprint": env.pop("dataset_fingerprint"),
            "classes": old["classes"],
            "train_images": env.pop("train_images"),
            "test_images": env.pop("test_images"),
            "image_shape": env.pop("image_shape"),
        }
        fingerprint = env.pop("code_fingerprint", None)
        # Fields added to schema 1 over time: absent from the earliest of its records.
        env.setdefault("git_commit_stated_by_launcher", False)
        env.setdefault("cuda_visible_devices", None)
        env.setdefault("trained_by", NOT_RECORDED)
        env.update(code_version=legacy_code_version(fingerprint), source_fingerprint=fingerprint)
        timing = {key: old[key] for key in (f.name for f in fields(Timing))}
        kept = ("arch", "seed", "epochs", "params", "macs", "test_acc", "test_loss", "best_test_acc", "best_epoch")
        return {
            "schema": SCHEMA_VERSION,
            **{key: old[key] for key in kept},
            "config": config,
            "data": data,
            "per_class_acc": old["per_class_acc"],
            "confusion_matrix": old["confusion_matrix"],
            "timing": timing,
            "env": env,
        }
    except KeyError as error:
        raise RecordError(f"summary.json of schema 1 lacks {error.args[0]!r}") from None


def read_record(path: str | os.PathLike) -> RunRecord:
    """The record in a ``summary.json``; RecordError when it is not one."""
    path = Path(path)
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RecordError(f"{path} cannot be read ({type(error).__name__}: {error})") from None
    return RunRecord.from_json(value, where=str(path))


def write_record(path: str | os.PathLike, record: RunRecord) -> None:
    write_json(path, record.to_json())
