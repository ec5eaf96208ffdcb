"""Datasets as uint8 tensors, and augmentation as batched tensor operations.

The data path follows airbench: decode every image once, keep the whole split as one uint8
tensor (on the GPU when training there), shuffle with a seeded ``randperm`` and augment whole
batches at once. There is no DataLoader and no per-image Python on the training path.

Dataset specs: ``cifar10`` and ``cifar100`` (torchvision's download, read from its python
pickles) and ``imagefolder:<path>`` for ``<path>/train/<class>/*`` and ``<path>/test/<class>/*``.
Decoded arrays are cached under ``<data_dir>/cache`` keyed by the source files' names, sizes and
modification times, so a changed folder is decoded again.
"""

from __future__ import annotations

import hashlib
import math
import os
import pickle
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from .config import ArchCompareError, ConfigError
from .provenance import write_atomic


class DataError(ArchCompareError):
    """A dataset cannot be found, read or used as asked."""


DATASET_SCHEMES = ("cifar10", "cifar100", "imagefolder:<path>")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}

# torchvision's folder names for the python versions of CIFAR, and the pickle keys inside.
_CIFAR = {
    "cifar10": dict(
        folder="cifar-10-batches-py",
        train=[f"data_batch_{i}" for i in range(1, 6)],
        test=["test_batch"],
        meta="batches.meta",
        names_key="label_names",
        labels_key="labels",
    ),
    "cifar100": dict(
        folder="cifar-100-python",
        train=["train"],
        test=["test"],
        meta="meta",
        names_key="fine_label_names",
        labels_key="fine_labels",
    ),
}


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

    def to(self, device: torch.device | str) -> Dataset:
        return replace(
            self,
            train_images=self.train_images.to(device),
            train_labels=self.train_labels.to(device),
            test_images=self.test_images.to(device),
            test_labels=self.test_labels.to(device),
        )


def check_dataset_spec(spec: object) -> None:
    """Check a dataset spec's form without touching the file system or the network."""
    if not isinstance(spec, str):
        raise ConfigError(f"dataset={spec!r} is not allowed: it must be a string")
    if spec in _CIFAR:
        return
    scheme, sep, path = spec.partition(":")
    if scheme == "imagefolder" and sep and path:
        return
    if scheme == "imagefolder":
        raise ConfigError(f"dataset={spec!r} is not allowed: imagefolder needs a path, as imagefolder:<path>")
    raise ConfigError(f"dataset={spec!r} is not allowed: choose one of {', '.join(DATASET_SCHEMES)}")


def load_dataset(spec: str, data_dir: str | os.PathLike = "data", log=print) -> Dataset:
    """Load (decode once, then read from the cache) the dataset named by ``spec``."""
    check_dataset_spec(spec)
    if spec in _CIFAR:
        source_files = _cifar_files(spec, Path(data_dir))
    else:
        source_files = _imagefolder_files(Path(spec.partition(":")[2]).expanduser())
    key = _cache_key(spec, source_files)
    cache_path = Path(data_dir) / "cache" / f"{spec.partition(':')[0]}-{key}.npz"
    if cache_path.exists():
        try:
            return _read_cache(spec, cache_path)
        except Exception as error:  # a damaged cache is rebuilt, never trusted
            log(f"cache {cache_path} is unreadable ({error}); decoding again")
    log(f"decoding {spec} (once; cached in {cache_path.parent})")
    if spec in _CIFAR:
        arrays = _decode_cifar(spec, source_files)
    else:
        arrays = _decode_imagefolder(source_files, log)
    _write_cache(cache_path, arrays)
    return _read_cache(spec, cache_path)


def stratified_subset(dataset: Dataset, train_per_class: int, test_per_class: int, seed: int = 0) -> Dataset:
    """Keep ``n`` images per class of each split (0 keeps all), chosen with a seeded generator.

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

    changes = {}
    if train_per_class:
        keep = pick(dataset.train_labels, train_per_class, "train")
        changes.update(train_images=dataset.train_images[keep], train_labels=dataset.train_labels[keep])
    if test_per_class:
        keep = pick(dataset.test_labels, test_per_class, "test")
        changes.update(test_images=dataset.test_images[keep], test_labels=dataset.test_labels[keep])
    return replace(dataset, **changes)


# --- augmentation ---------------------------------------------------------------------------

# Blog post: Normalize((0.5,)*3, (0.5,)*3) after ToTensor, i.e. pixels mapped to [-1, 1].
BLOG_MEAN_STD = (0.5, 0.5)
ROTATION_DEGREES = 10.0  # blog post: RandomRotation(10)
CROP_PADDING = 4  # the standard CIFAR recipe (He et al. 2016, section 4.2): pad 4, random 32x32 crop


def normalization_stats(recipe: str, train_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std: the blog's 0.5/0.5, or computed from the training split."""
    channels = train_images.shape[1]
    if recipe == "blog":
        mean, std = BLOG_MEAN_STD
        return torch.full((channels,), mean), torch.full((channels,), std)
    pixels = train_images.transpose(0, 1).reshape(channels, -1)
    # Chunked float64 sums: the full split as float32 would be 600 MB for CIFAR-10.
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    for chunk in pixels.split(1 << 22, dim=1):
        chunk = chunk.double() / 255
        total += chunk.sum(1)
        total_sq += (chunk * chunk).sum(1)
    count = pixels.shape[1]
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    return mean.float(), std.float()


@dataclass(frozen=True)
class AugmentParams:
    """The random choices for N images, drawn on the CPU so that every device applies the same ones.

    The training loop draws a whole epoch's at once and copies them to the device once, then
    slices a batch's: no host-to-device copy per step.
    """

    flip: torch.Tensor  # bool (N,)
    angle_degrees: torch.Tensor | None  # float (N,), blog recipe
    shift: torch.Tensor | None  # int (N, 2) crop offsets (dy, dx) in [0, 2*padding], standard recipe

    def to(self, device: torch.device | str) -> AugmentParams:
        return AugmentParams(
            *(None if t is None else t.to(device) for t in (self.flip, self.angle_degrees, self.shift))
        )

    def __getitem__(self, index: slice) -> AugmentParams:
        return AugmentParams(*(None if t is None else t[index] for t in (self.flip, self.angle_degrees, self.shift)))


def draw_augment_params(recipe: str, batch: int, generator: torch.Generator) -> AugmentParams | None:
    if recipe == "none":
        return None
    flip = torch.rand(batch, generator=generator) < 0.5
    if recipe == "blog":
        angle = (torch.rand(batch, generator=generator) * 2 - 1) * ROTATION_DEGREES
        return AugmentParams(flip, angle, None)
    shift = torch.randint(0, 2 * CROP_PADDING + 1, (batch, 2), generator=generator)
    return AugmentParams(flip, None, shift)


def augment(images: torch.Tensor, params: AugmentParams | None) -> torch.Tensor:
    """Apply a batch's random choices to uint8 images on their own device; returns float in [0, 1]."""
    if params is not None:
        params = params.to(images.device)  # a no-op when they are there already
        if params.shift is not None:
            images = random_crop(images, params.shift, CROP_PADDING)
        images = flip_horizontal(images, params.flip)
    x = images.float().div_(255)
    if params is not None and params.angle_degrees is not None:
        x = rotate(x, params.angle_degrees)
    return x


def flip_horizontal(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask[:, None, None, None], images.flip(3), images)


def random_crop(images: torch.Tensor, shift: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-pad by ``padding`` and cut each image's window at its own (dy, dx) offset."""
    n, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    rows = torch.arange(h, device=images.device)[None, :] + shift[:, 0:1]
    cols = torch.arange(w, device=images.device)[None, :] + shift[:, 1:2]
    batch = torch.arange(n, device=images.device)[:, None, None]
    # Advanced indices around a slice put their dimensions first: (N, H, W, C).
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def rotate(x: torch.Tensor, angle_degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image about its centre, nearest-neighbour with black fill (RandomRotation's defaults)."""
    n, _, h, w = x.shape
    radians = angle_degrees.float() * (math.pi / 180)
    cos, sin = radians.cos(), radians.sin()
    zero = torch.zeros_like(cos)
    # affine_grid works in [-1, 1] coordinates; the aspect terms keep the rotation rigid when H != W.
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, [n, x.shape[1], h, w], align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), mode="nearest", padding_mode="zeros", align_corners=False)


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean.to(x.device)[None, :, None, None]) / std.to(x.device)[None, :, None, None]


# --- sources --------------------------------------------------------------------------------


def _cifar_files(spec: str, data_dir: Path) -> list[SourceFile]:
    layout = _CIFAR[spec]
    folder = (data_dir / layout["folder"]).resolve()
    names = [*layout["train"], *layout["test"], layout["meta"]]
    if not all((folder / name).exists() for name in names):
        _download_cifar(spec, data_dir)
    return [SourceFile(str(folder / name), *_size_and_mtime(folder / name)) for name in names]


OFFLINE_VARIABLE = "ARCHCOMPARE_OFFLINE"  # set to 1: never download, fail at once (clusters, CI)
DOWNLOAD_TIMEOUT_SECONDS = 60  # per network read: a dead network fails in a minute instead of hanging


def _download_cifar(spec: str, data_dir: Path) -> None:
    import socket

    import torchvision

    folder = data_dir / _CIFAR[spec]["folder"]
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


def _imagefolder_files(root: Path) -> list[SourceFile]:
    """List the images in split/class order, checking the layout before anything is decoded."""
    if not root.is_dir():
        raise DataError(f"imagefolder path {str(root)!r} does not exist or is not a directory")
    classes_by_split = {}
    for split in ("train", "test"):
        if not (root / split).is_dir():
            raise DataError(f"imagefolder path {str(root)!r} has no {split}/ folder: expected {root}/{split}/<class>/")
        classes_by_split[split] = sorted(entry.name for entry in os.scandir(root / split) if entry.is_dir())
    train_classes = classes_by_split["train"]
    if len(train_classes) < 2:
        raise DataError(
            f"imagefolder path {str(root)!r} has {len(train_classes)} class folder(s) in train/: "
            "classification needs at least 2"
        )
    if classes_by_split["test"] != train_classes:
        only_train = sorted(set(train_classes) - set(classes_by_split["test"]))
        only_test = sorted(set(classes_by_split["test"]) - set(train_classes))
        raise DataError(
            f"imagefolder path {str(root)!r}: test classes differ from train classes "
            f"(only in train: {only_train or 'none'}; only in test: {only_test or 'none'})"
        )
    files = []
    for split in ("train", "test"):
        for name in train_classes:
            folder = str((root / split / name).resolve())
            images = sorted(
                SourceFile(entry.path, *_size_and_mtime(entry))
                for entry in os.scandir(folder)
                if entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES
            )
            if not images:
                raise DataError(f"imagefolder class folder {folder!r} has no images")
            files.extend(images)
    return files


class SourceFile(NamedTuple):
    """A file a dataset is decoded from; its size and mtime key the cache."""

    path: str
    size: int
    mtime_ns: int


def _size_and_mtime(entry: os.DirEntry | Path) -> tuple[int, int]:
    stat = entry.stat()
    return stat.st_size, stat.st_mtime_ns


def _cache_key(spec: str, files: list[SourceFile]) -> str:
    digest = hashlib.sha256(spec.encode())
    for file in files:
        digest.update(f"{file.path}\0{file.size}\0{file.mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def _decode_cifar(spec: str, files: list[SourceFile]) -> dict[str, np.ndarray]:
    layout = _CIFAR[spec]
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
