"""What a dataset spec names, parsed once: ``cifar10``, ``cifar100`` or ``imagefolder:<path>``.

Torch-free, so that validating a config or naming a dataset in a report loads nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError

DATASET_SCHEMES = ("cifar10", "cifar100", "imagefolder:<path>")
TORCHVISION_DATASETS = ("cifar10", "cifar100")
IMAGEFOLDER = "imagefolder"
# CIFAR-10's classes in its label order (which is also their alphabetical order).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR10_SIZES = (50_000, 10_000)  # training and test images of the full dataset
# How a run reads its images: decoded once into memory, streamed from disk, or chosen by size (data.stream).
LOADERS = ("auto", "memory", "stream")
_LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed dataset spec: its kind, and for an image folder its path (as given, ``~`` expanded)."""

    kind: str  # cifar10 | cifar100 | imagefolder
    path: Path | None = None

    @classmethod
    def parse(cls, spec: object) -> DatasetSpec:
        """Check a spec's form without touching the file system or the network."""
        if not isinstance(spec, str):
            raise ConfigError(f"dataset={spec!r} is not allowed: it must be a string")
        if spec in TORCHVISION_DATASETS:
            return cls(spec)
        scheme, sep, path = spec.partition(":")
        if scheme == IMAGEFOLDER and sep and path:
            return cls(IMAGEFOLDER, Path(path).expanduser())
        if scheme == IMAGEFOLDER:
            raise ConfigError(f"dataset={spec!r} is not allowed: imagefolder needs a path, as imagefolder:<path>")
        raise ConfigError(f"dataset={spec!r} is not allowed: choose one of {', '.join(DATASET_SCHEMES)}")

    @property
    def is_imagefolder(self) -> bool:
        return self.kind == IMAGEFOLDER

    @property
    def name(self) -> str:
        """The dataset's name without its location: the torchvision name or the image folder's own name."""
        return self.path.name if self.path is not None else self.kind

    @property
    def portable(self) -> str:
        """The spec without the machine's path, as records store it: ``cifar10`` or ``imagefolder:<folder name>``."""
        return f"{IMAGEFOLDER}:{self.name}" if self.is_imagefolder else self.kind

    def __str__(self) -> str:
        return f"{IMAGEFOLDER}:{self.path}" if self.is_imagefolder else self.kind


def dataset_label(kind: str, name: str, classes: tuple[str, ...] | list[str]) -> str:
    """A dataset by name, never by the path it was read from: "CIFAR-10", "CIFAR-10 (ImageFolder copy `x`)"."""
    if kind in _LABELS:
        return _LABELS[kind]
    if tuple(classes) == CIFAR10_CLASSES:
        return f"CIFAR-10 (ImageFolder copy `{name}`)"
    return f"ImageFolder `{name}` ({len(classes)} classes)"
