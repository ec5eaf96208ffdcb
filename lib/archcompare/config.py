"""One frozen, validated configuration per run.

Every field is a plain value, so a config round-trips through JSON and YAML and can be stored
with every artifact (history, checkpoint, summary). Validation happens in ``__post_init__``:
a bad value raises :class:`ConfigError` naming the field, the value and what is allowed,
before any data is read or any model is built.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .architectures import ARCHITECTURES
from .data.spec import LOADERS, DatasetSpec
from .errors import ConfigError
from .execution import EXECUTION_FIELDS
from .paths import ROOT

# Allowed values of the enumerated fields; architectures are the registry's names.
RECIPES = ("blog", "standard", "none", "imagenet")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("constant", "step", "step-thirds", "cosine", "onecycle")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
STEMS = ("cifar", "imagenet")
# Where a run's files go, not what it computes: a run moved elsewhere stays valid and resumable.
LOCATION_FIELDS = ("output_dir", "data_dir")
# Compared by the images' identity, not by the spec's text (the same images may lie elsewhere).
DATA_FIELD = "dataset"


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a training run's result, and the layout it executes in.

    ``channels_last`` (``execution.EXECUTION_FIELDS``) is recorded with the run but left out of
    ``differences``: the same arithmetic in another memory order is the same run. Display and bookkeeping options (progress bars, resuming) are arguments of ``train`` instead:
    changing them does not change what is computed. These defaults are also the parameters cell of
    ``notebooks/train.ipynb`` (a test keeps the two equal, locations aside): what a profile does not
    set keeps them.
    """

    arch: str = "resnet50"  # a name from archcompare.architectures.ARCHITECTURES
    stem: str = "cifar"  # cifar: 3x3 stride-1 conv, no max-pool; imagenet: torchvision's 7x7/2 + pool
    dataset: str = "cifar10"  # cifar10 | cifar100 | imagefolder:<path with train/ and test/>
    data_dir: str = "data"  # where torchvision downloads CIFAR and where decoded arrays are cached
    train_per_class: int = 100  # stratified subset of the training split; 0 = all images
    test_per_class: int = 50  # stratified subset of the test split; 0 = all images
    recipe: str = "standard"  # augmentation: blog (flip, rotate 10, normalize 0.5) | standard | none | imagenet
    loader: str = "auto"  # memory: decode once and keep | stream: read from disk each epoch | auto: by size
    epochs: int = 3
    batch_size: int = 64  # the CPU is fastest at 32-64 (make bench); GPU profiles set 512
    optimizer: str = "sgd"  # sgd | adamw
    lr: float = 0.05  # peak learning rate
    momentum: float = 0.9  # SGD momentum; AdamW's beta1
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "onecycle"  # constant | step | cosine | onecycle
    warmup_epochs: float = 0.0  # linear warm-up from 0; onecycle: length of its rising phase (0: 30 %)
    label_smoothing: float = 0.0
    precision: str = "auto"  # auto: bf16 where the device computes it natively, else fp32
    channels_last: bool = True  # NHWC layout: how the run executes (recorded), not what identifies it
    compile: bool = False  # torch.compile the model (pays off on CUDA for long runs)
    seed: int = 0
    device: str = "auto"  # auto: cuda when available, else cpu
    deterministic: bool = False  # deterministic kernels; on CPU makes resumed runs bit-identical
    processes: int = 1  # processes training the run together (torchrun's --nproc-per-node: one per GPU)
    sync_batchnorm: bool = True  # with processes > 1: batch norm's statistics over the whole batch
    output_dir: str = "outputs/notebook/resnet50-seed0"  # the run directory: history, checkpoint, summary

    def __post_init__(self) -> None:
        _check_types(self)
        _check_choice("recipe", self.recipe, RECIPES)
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_choice("device", self.device, DEVICES)
        _check_choice("stem", self.stem, STEMS)
        _check_choice("loader", self.loader, LOADERS)
        _check_choice("arch", self.arch, tuple(ARCHITECTURES))
        spec = DatasetSpec.parse(self.dataset)
        if self.loader == "stream" and not spec.is_imagefolder:
            raise ConfigError(
                f"loader='stream' is not allowed with dataset={self.dataset!r}: it streams image files, so it needs "
                "dataset='imagefolder:<path>'; use loader='memory' or 'auto'"
            )
        if self.recipe == "imagenet" and (self.loader == "memory" or not spec.is_imagefolder):
            raise ConfigError(
                "recipe='imagenet' cuts every image from its full size, which needs loader='stream' (or 'auto') "
                "and dataset='imagefolder:<path>'"
            )
        for name in ("epochs", "batch_size", "processes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not allowed: it must be a positive integer")
        for name in ("train_per_class", "test_per_class", "seed"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not allowed: it must be 0 or more")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr!r} is not allowed: it must be a positive number")
        if not 0 <= self.momentum < 1:
            raise ConfigError(f"momentum={self.momentum!r} is not allowed: it must be in [0, 1)")
        if self.nesterov and (self.optimizer != "sgd" or self.momentum == 0):
            raise ConfigError("nesterov=True is only allowed with optimizer='sgd' and momentum > 0")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay={self.weight_decay!r} is not allowed: it must be 0 or more")
        if not 0 <= self.warmup_epochs <= self.epochs:
            raise ConfigError(
                f"warmup_epochs={self.warmup_epochs!r} is not allowed: it must be in [0, epochs={self.epochs}]"
            )
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing={self.label_smoothing!r} is not allowed: it must be in [0, 1)")
        if self.processes > self.batch_size:
            raise ConfigError(
                f"processes={self.processes} is not allowed with batch_size={self.batch_size}: each process needs "
                "at least one image of every batch"
            )
        if not self.data_dir:
            raise ConfigError("data_dir='' is not allowed: it must name a directory")
        if not self.output_dir:
            raise ConfigError("output_dir='' is not allowed: it must name a directory")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RunConfig:
        """Build a config from a mapping, refusing keys that are not config fields."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown parameter {unknown[0]!r}: allowed parameters are {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> RunConfig:
        """A planned run's config from its parameters (its ``params.yaml``: the config's fields and the notebook's).

        The plan writes the locations relative to the repository, as papermill's working directory makes
        them: here they are resolved under it.
        """
        values = {key: parameters[key] for key in cls.field_names()}
        values.update({key: str(ROOT / values[key]) for key in LOCATION_FIELDS})
        return cls.from_dict(values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def __str__(self) -> str:
        width = max(len(f.name) for f in fields(self))
        return "\n".join(f"{f.name:<{width}}  {getattr(self, f.name)!r}" for f in fields(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def dataset_spec(self) -> DatasetSpec:
        return DatasetSpec.parse(self.dataset)

    def differences(self, other: Mapping[str, Any]) -> list[str]:
        """Fields whose value differs from ``other`` (a stored config): what identifies a run.

        Locations, the dataset and the execution fields (the layout) are left aside.
        A field ``other`` lacks (it was stored before the field existed) counts as its default.
        The dataset is compared by the identity of its images, which a stored config cannot hold.
        """
        defaults = {f.name: f.default for f in fields(self)}
        return sorted(
            name
            for name, value in self.to_dict().items()
            if name not in (*LOCATION_FIELDS, DATA_FIELD, *EXECUTION_FIELDS)
            and other.get(name, defaults[name]) != value
        )


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} is not allowed: choose one of {', '.join(allowed)}")


def _check_types(config: RunConfig) -> None:
    """Refuse values of the wrong type (YAML and notebooks make '1e-3' strings and 1.0 floats easy)."""
    for f in fields(config):
        value = getattr(config, f.name)
        expected = {"str": str, "int": int, "float": (int, float), "bool": bool}[f.type]
        # bool is an int subclass; an int field must not silently accept True.
        wrong_bool = isinstance(value, bool) and f.type in ("int", "float")
        if wrong_bool or not isinstance(value, expected):
            raise ConfigError(f"{f.name}={value!r} is not allowed: it must be of type {f.type}")
