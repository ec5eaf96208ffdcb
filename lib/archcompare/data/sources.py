"""Datasets as uint8 tensors: read once from their source, decoded, cached.

The data path follows airbench: decode every image once and keep the whole split as one uint8
tensor (on the GPU when training there). Sources: ``cifar10`` and ``cifar100`` (torchvision's
download, read from its python pickles) and ``imagefolder:<path>`` for ``<path>/train/<class>/*``
and ``<path>/test/<class>/*``. Decoded arrays are cached under ``<data_dir>/cache`` keyed by the
source files' names, sizes and modification times, so a changed folder is decoded again.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..files import write_atomic
from .listing import CIFAR_LAYOUTS, SourceFile, imagefolder_files, size_and_mtime
from .spec import DatasetSpec


@dataclass(frozen=True)
class Dataset:
    """Both splits of an image classification dataset, decoded. Images are uint8 (N, C, H, W)."""

    spec: str
    classes: tuple[str, ...]
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    fingerprint: str  # sha256 prefix of the decoded contents of the full dataset

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]

    def subset(self, train_keep: torch.Tensor | None, test_keep: torch.Tensor | None) -> Dataset:
        """The images at these indices of each split (None keeps the split whole)."""
        changes = {}
        if train_keep is not None:
            changes.update(train_images=self.train_images[train_keep], train_labels=self.train_labels[train_keep])
        if test_keep is not None:
            changes.update(test_images=self.test_images[test_keep], test_labels=self.test_labels[test_keep])
        return replace(self, **changes)

    def to(self, device: torch.device | str) -> Dataset:
        return replace(
            self,
            train_images=self.train_images.to(device),
            train_labels=self.train_labels.to(device),
            test_images=self.test_images.to(device),
            test_labels=self.test_labels.to(device),
        )


def load_dataset(spec: str | DatasetSpec, data_dir: str | os.PathLike = "data", log=print) -> Dataset:
    """Load (decode once, then read from the cache) the dataset named by ``spec``."""
    parsed = spec if isinstance(spec, DatasetSpec) else DatasetSpec.parse(spec)
    spec = str(parsed)
    if parsed.is_imagefolder:
        source_files = imagefolder_files(parsed.path)
    else:
        source_files = _cifar_files(spec, Path(data_dir))
    key = _cache_key(spec, source_files)
    cache_path = Path(data_dir) / "cache" / f"{parsed.kind}-{key}.npz"
    if cache_path.exists():
        try:
            return _read_cache(spec, cache_path)
        except Exception as error:  # a damaged cache is rebuilt, never trusted
            log(f"cache {cache_path} is unreadable ({error}); decoding again")
    log(f"decoding {spec} (once; cached in {cache_path.parent})")
    if parsed.is_imagefolder:
        arrays = _decode_imagefolder(source_files, log)
    else:
        arrays = _decode_cifar(spec, source_files)
    _write_cache(cache_path, arrays)
    return _read_cache(spec, cache_path)


def stratified_subset(dataset, train_per_class: int, test_per_class: int, seed: int = 0):
    """Keep ``n`` images per class of each split (0 keeps all), chosen with a seeded generator.

    The choice depends on the labels alone, so a memory ``Dataset`` and a ``data.stream.StreamedDataset``
    of the same folder keep the same images.

    The seed is fixed (not the run's seed) so that every architecture and every seed of a study
    sees the same images: paired tests on the test set need the same test images.
    """
    generator = torch.Generator().manual_seed(seed)

    def pick(labels: torch.Tensor, per_class: int, split: str) -> torch.Tensor:
        chosen = []
        for c, name in enumerate(dataset.classes):
            members = torch.nonzero(labels == c).flatten()
            if per_class > len(members):
                raise DataError(
                    f"{split}_per_class={per_class} is more than the data has: class {name!r} has "
                    f"{len(members)} {split} images; use at most {len(members)} or 0 for all"
                )
            chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
        return torch.cat(chosen).sort().values

    train_keep = pick(dataset.train_labels, train_per_class, "train") if train_per_class else None
    test_keep = pick(dataset.test_labels, test_per_class, "test") if test_per_class else None
    return dataset.subset(train_keep, test_keep)


# --- sources --------------------------------------------------------------------------------


def _cifar_files(spec: str, data_dir: Path) -> list[SourceFile]:
    layout = CIFAR_LAYOUTS[spec]
    folder = (data_dir / layout["folder"]).resolve()
    names = [*layout["train"], *layout["test"], layout["meta"]]
    if not all((folder / name).exists() for name in names):
        _download_cifar(spec, data_dir)
    return [SourceFile(str(folder / name), *size_and_mtime(folder / name)) for name in names]


OFFLINE_VARIABLE = "ARCHCOMPARE_OFFLINE"  # set to 1: never download, fail at once (clusters, CI)
DOWNLOAD_TIMEOUT_SECONDS = 60  # per network read: a dead network fails in a minute instead of hanging


def _download_cifar(spec: str, data_dir: Path) -> None:
    import socket

    import torchvision

    folder = data_dir / CIFAR_LAYOUTS[spec]["folder"]
    supply = (
        f"Supply a copy: put torchvision's python version in {folder}, or pass an ImageFolder "
        f"copy as DATA=imagefolder:<path with train/ and test/>"
    )
    if os.environ.get(OFFLINE_VARIABLE, "") not in ("", "0"):
        raise DataError(f"{spec} is not in {folder}, and {OFFLINE_VARIABLE} forbids downloading it. {supply}")
    dataset_class = {"cifar10": torchvision.datasets.CIFAR10, "cifar100": torchvision.datasets.CIFAR100}[spec]
    previous_timeout = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_SECONDS)
        data_dir.mkdir(parents=True, exist_ok=True)
        dataset_class(root=str(data_dir), train=True, download=True)
    except Exception as error:
        raise DataError(
            f"{spec} is not in {folder} and could not be downloaded ({type(error).__name__}: {error}). {supply}"
        ) from None
    finally:
        socket.setdefaulttimeout(previous_timeout)


def _cache_key(spec: str, files: list[SourceFile]) -> str:
    digest = hashlib.sha256(spec.encode())
    for file in files:
        digest.update(f"{file.path}\0{file.size}\0{file.mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _decode_cifar(spec: str, files: list[SourceFile]) -> dict[str, np.ndarray]:
    layout = CIFAR_LAYOUTS[spec]
    by_name = {Path(file.path).name: file.path for file in files}

    def read(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        images, labels = [], []
        for name in names:
            with open(by_name[name], "rb") as handle:
                batch = pickle.load(handle, encoding="latin1")
            images.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[layout["labels_key"]], dtype=np.int64))
        return np.concatenate(images), np.concatenate(labels)

    with open(by_name[layout["meta"]], "rb") as handle:
        classes = pickle.load(handle, encoding="latin1")[layout["names_key"]]
    train_images, train_labels = read(layout["train"])
    test_images, test_labels = read(layout["test"])
    return _with_fingerprint(classes, train_images, train_labels, test_images, test_labels)


def _decode_imagefolder(sources: list[SourceFile], log) -> dict[str, np.ndarray]:
    from PIL import Image

    files = [Path(source.path) for source in sources]

    def decode(path: Path) -> np.ndarray:
        try:
            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))  # grayscale is repeated into 3 channels
        except Exception as error:
            raise DataError(f"cannot decode image {str(path)!r}: {error}") from None

    # Pillow releases the GIL while decoding, so threads use every core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        arrays = list(pool.map(decode, files, chunksize=256))
    sizes = Counter(array.shape[:2] for array in arrays)
    (height, width), _ = sizes.most_common(1)[0]
    if len(sizes) > 1:
        log(f"images have {len(sizes)} different sizes; resizing all to the most common, {height}x{width}")
        arrays = [
            a if a.shape[:2] == (height, width) else np.asarray(Image.fromarray(a).resize((width, height)))
            for a in arrays
        ]
    splits = [path.parent.parent.name for path in files]
    class_names = sorted({path.parent.name for path in files})
    class_index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([class_index[path.parent.name] for path in files], dtype=np.int64)
    images = np.stack(arrays).transpose(0, 3, 1, 2)
    train = np.array([split == "train" for split in splits])
    return _with_fingerprint(class_names, images[train], labels[train], images[~train], labels[~train])


def _with_fingerprint(classes, train_images, train_labels, test_images, test_labels) -> dict[str, np.ndarray]:
    arrays = dict(
        classes=np.array(classes, dtype=str),
        train_images=np.ascontiguousarray(train_images),
        train_labels=train_labels,
        test_images=np.ascontiguousarray(test_images),
        test_labels=test_labels,
    )
    digest = hashlib.sha256()
    for name, array in arrays.items():
        digest.update(name.encode())
        digest.update(str(array.shape).encode())
        digest.update(array.tobytes())
    arrays["fingerprint"] = np.array(digest.hexdigest()[:16])
    return arrays


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    # Uncompressed: loading the cache must stay under two seconds.
    write_atomic(path, lambda file: np.savez(file, **arrays), binary=True)


def _read_cache(spec: str, path: Path) -> Dataset:
    with np.load(path) as arrays:
        return Dataset(
            spec=spec,
            classes=tuple(str(name) for name in arrays["classes"]),
            train_images=torch.from_numpy(arrays["train_images"]),
            train_labels=torch.from_numpy(arrays["train_labels"]),
            test_images=torch.from_numpy(arrays["test_images"]),
            test_labels=torch.from_numpy(arrays["test_labels"]),
            fingerprint=str(arrays["fingerprint"]),
        )
