"""What a dataset's files are, found without decoding anything: the image folder's layout checked
and listed, images counted per class, the image size read from one file's header.

Torch-free, so that planning (`make report`'s first step) starts in a second: decoding the images
into tensors is ``data.sources``'s work.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from ..errors import DataError
from .spec import IMAGEFOLDER, DatasetSpec

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}

# torchvision's folder names for the python versions of CIFAR, and the pickle keys inside.
CIFAR_LAYOUTS = {
    "cifar10": dict(
        folder="cifar-10-batches-py",
        train=[f"data_batch_{i}" for i in range(1, 6)],
        test=["test_batch"],
        meta="batches.meta",
        names_key="label_names",
        labels_key="labels",
        train_per_class=5000,
        test_per_class=1000,
        classes=10,
    ),
    "cifar100": dict(
        folder="cifar-100-python",
        train=["train"],
        test=["test"],
        meta="meta",
        names_key="fine_label_names",
        labels_key="fine_labels",
        train_per_class=500,
        test_per_class=100,
        classes=100,
    ),
}


class SourceFile(NamedTuple):
    """A file a dataset is decoded from; its size and mtime key the cache."""

    path: str
    size: int
    mtime_ns: int


def size_and_mtime(entry: os.DirEntry | Path) -> tuple[int, int]:
    stat = entry.stat()
    return stat.st_size, stat.st_mtime_ns


def imagefolder_files(root: Path) -> list[SourceFile]:
    """List the images in split/class order, checking the layout before anything is decoded."""
    if not root.is_dir():
        raise DataError(f"{IMAGEFOLDER} path {str(root)!r} does not exist or is not a directory")
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
                SourceFile(entry.path, *size_and_mtime(entry))
                for entry in os.scandir(folder)
                if entry.is_file() and os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES
            )
            if not images:
                raise DataError(f"imagefolder class folder {folder!r} has no images")
            files.extend(images)
    return files


def images_per_class(spec: DatasetSpec, split: str = "train") -> list[int]:
    """How many images each class has in a split (train or test), counted without decoding anything."""
    if not spec.is_imagefolder:
        layout = CIFAR_LAYOUTS[spec.kind]
        return [layout[f"{split}_per_class"]] * layout["classes"]
    files = imagefolder_files(spec.path)
    return list(Counter(Path(f.path).parent.name for f in files if Path(f.path).parent.parent.name == split).values())


def image_size(spec: DatasetSpec) -> tuple[int, int]:
    """The size of a dataset's images: CIFAR's 32x32, else the first training image's, read from its header."""
    if not spec.is_imagefolder:
        return (32, 32)
    from PIL import Image

    first = next(f for f in imagefolder_files(spec.path) if Path(f.path).parent.parent.name == "train")
    with Image.open(first.path) as image:
        return (image.height, image.width)
