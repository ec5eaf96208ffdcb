"""Image folders read from disk as training goes: for data whose decoded size does not fit in memory.

A memory run decodes every image once and keeps both splits resident (``data.sources``). A streamed
run keeps only the file list: DataLoader workers read and decode each step's images
(``torchvision.io``), into pinned memory, copied to the device without waiting. On CUDA the workers
only read the files' bytes and the batch's JPEGs are decoded together on the GPU
(``torchvision.io.decode_jpeg(device="cuda")``), so a few CPU cores can feed a fast GPU.

What a step sees does not depend on the loader: the epoch's order and the augmentation's random
choices are drawn exactly as for a memory run, and the images of a fixed-size recipe are the same
uint8 pixels (``torchvision.io`` and Pillow decode a JPEG identically; a test checks it). The
``imagenet`` recipe cuts each image from its full size (``data.augment.imagenet_geometry``), with
each image's random choices derived from the run's seed, the epoch and the image's index: a resumed
or multi-process run draws the same crops, whichever worker decodes them.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..files import write_atomic
from .augment import IMAGENET_MEAN_STD, imagenet_geometry, mean_and_std
from .listing import SourceFile, image_size, imagefolder_files, images_per_class
from .spec import LOADERS, DatasetSpec

__all__ = ["LOADERS", "StreamedDataset", "open_streamed", "resolve_loader", "stream_batches"]
# auto streams when the decoded images would take more than this share of the memory that holds
# them (host RAM, or the GPU's where a memory run keeps them): the rest is the model's and the OS's.
MEMORY_BUDGET_SHARE = 0.25
# torchvision 0.29 marks its image decoders deprecated in favour of TorchCodec, which the pinned
# install does not have; they decode as before (a test checks against Pillow). Move when they go.
warnings.filterwarnings(
    "ignore", message="The image decoding and encoding capabilities of TorchVision", category=DeprecationWarning
)
LOADER_WORKERS = min(8, os.cpu_count() or 1)  # decoding is CPU work; more workers than cores only queue
PREFETCH_BATCHES = 4  # per worker: enough to hide a slow file without holding many batches


def decoded_bytes(spec: DatasetSpec, train_per_class: int, test_per_class: int) -> int:
    """What a memory run would hold: every kept image decoded at the folder's image size, uint8 RGB."""
    height, width = image_size(spec)
    count = 0
    for split, per_class in (("train", train_per_class), ("test", test_per_class)):
        counts = images_per_class(spec, split)
        count += sum(min(per_class, n) if per_class else n for n in counts)
    return count * 3 * height * width


def step_image_size(spec: DatasetSpec, recipe: str) -> tuple[int, int]:
    """The height and width of the images a training step sees: the imagenet recipe's crop, else the data's own."""
    from .augment import IMAGENET_CROP

    return (IMAGENET_CROP, IMAGENET_CROP) if recipe == "imagenet" else image_size(spec)


def memory_budget(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device).total_memory * MEMORY_BUDGET_SHARE)
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * MEMORY_BUDGET_SHARE)


def resolve_loader(config, device: torch.device, log: Callable[[str], None] = print) -> str:
    """``memory`` or ``stream`` for ``config.loader``; ``auto`` says which it chose and why."""
    if config.loader != "auto":
        return config.loader
    spec = config.dataset_spec
    if not spec.is_imagefolder:
        return "memory"
    if config.recipe == "imagenet":
        log("loader auto: streaming from disk (the imagenet recipe cuts every image from its full size)")
        return "stream"
    size, budget = decoded_bytes(spec, config.train_per_class, config.test_per_class), memory_budget(device)
    if size > budget:
        log(
            f"loader auto: streaming from disk: the decoded images would take {_bytes(size)}, more than "
            f"the {_bytes(budget)} budget ({MEMORY_BUDGET_SHARE:.0%} of the {device.type} memory)"
        )
        return "stream"
    log(f"loader auto: decoding into memory ({_bytes(size)}, within the {_bytes(budget)} budget)")
    return "memory"


def _bytes(count: int) -> str:
    """A size in the largest binary unit that keeps it at 1 or more: 240.0 KiB, 175.8 MiB, 5.9 GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} bytes"


@dataclass(frozen=True)
class StreamedDataset:
    """Both splits of an image folder as file lists; images are decoded when a step asks for them.

    It answers what a run asks of a ``Dataset`` without its pixels: classes, labels, the image
    shape a step sees, and a fingerprint (of the files' names and sizes, ``files-`` prefixed, since
    the contents are never all read at once).
    """

    spec: str
    classes: tuple[str, ...]
    train_files: tuple[str, ...]
    train_labels: torch.Tensor
    test_files: tuple[str, ...]
    test_labels: torch.Tensor
    fingerprint: str
    image_shape: tuple[int, int, int]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device | str) -> StreamedDataset:
        return replace(self, train_labels=self.train_labels.to(device), test_labels=self.test_labels.to(device))

    def geometry(self, recipe: str, train: bool, seed: int = 0) -> Geometry:
        """How this dataset's files become a step's images under ``recipe``."""
        _, height, width = self.image_shape
        return Geometry(recipe, height, width, train, seed)

    def subset(self, train_keep: torch.Tensor | None, test_keep: torch.Tensor | None) -> StreamedDataset:
        changes = {}
        if train_keep is not None:
            changes.update(
                train_files=tuple(self.train_files[i] for i in train_keep.tolist()),
                train_labels=self.train_labels[train_keep],
            )
        if test_keep is not None:
            changes.update(
                test_files=tuple(self.test_files[i] for i in test_keep.tolist()),
                test_labels=self.test_labels[test_keep],
            )
        return replace(self, **changes)


def open_streamed(spec: DatasetSpec, recipe: str) -> StreamedDataset:
    """The folder's files in the memory loader's order (split, class, name), so indices agree; images
    of the shape ``recipe``'s steps see."""
    files = imagefolder_files(spec.path)
    root = spec.path.resolve()
    split_of = [Path(file.path).parent.parent.name for file in files]
    class_names = sorted({Path(file.path).parent.name for file in files})
    index = {name: i for i, name in enumerate(class_names)}

    def split(name: str) -> tuple[tuple[str, ...], torch.Tensor]:
        chosen = [file.path for file, where in zip(files, split_of) if where == name]
        labels = torch.tensor([index[Path(path).parent.name] for path in chosen], dtype=torch.long)
        return tuple(chosen), labels

    train_files, train_labels = split("train")
    test_files, test_labels = split("test")
    return StreamedDataset(
        str(spec), tuple(class_names), train_files, train_labels, test_files, test_labels,
        files_fingerprint(files, root), (3, *step_image_size(spec, recipe)),
    )  # fmt: skip


def files_fingerprint(files: Sequence[SourceFile], root: Path) -> str:
    """The folder's identity without decoding it: every file's path below the folder and its size."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{os.path.relpath(file.path, root)}\0{file.size}\n".encode())
    return "files-" + digest.hexdigest()[:16]


# --- reading and decoding -----------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    """How a streamed image becomes a step's pixels: resized to the run's fixed shape, or the imagenet recipe."""

    recipe: str
    height: int
    width: int
    train: bool
    seed: int = 0

    def apply(self, image: torch.Tensor, epoch: int, index: int) -> torch.Tensor:
        if self.recipe == "imagenet":
            return imagenet_geometry(image, self.train, _image_generator(self.seed, epoch, index))
        if image.shape[-2:] != (self.height, self.width):
            from torchvision.transforms.v2 import functional as TF

            image = TF.resize(image, [self.height, self.width], antialias=True)
        return image


def _image_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """One image's random stream: the same in any worker, process or resumed run."""
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch) * 1_000_003 + index)


class _Files(torch.utils.data.Dataset):
    """Item (epoch, index) of a file list: its decoded, shaped image, or on CUDA its undecoded bytes."""

    def __init__(self, files: Sequence[str], geometry: Geometry, raw: bool):
        self.files, self.geometry, self.raw = files, geometry, raw

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, item: tuple[int, int]):
        epoch, index = item
        path = self.files[index]
        try:
            from torchvision.io import ImageReadMode, decode_image, read_file

            data = read_file(path)
            if self.raw:
                return data
            return self.geometry.apply(decode_image(data, mode=ImageReadMode.RGB), epoch, index)
        except Exception as error:  # returned, not raised: a worker's exception arrives as a page of traceback
            return _Unreadable(path, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")


@dataclass(frozen=True)
class _Unreadable:
    path: str
    reason: str


def _collate(items: list) -> list | torch.Tensor:
    for item in items:
        if isinstance(item, _Unreadable):
            return [item]
    if items and items[0].dtype == torch.uint8 and items[0].dim() == 1:
        return items  # undecoded bytes: decoded together on the GPU
    return torch.stack(items)


def stream_batches(
    files: Sequence[str],
    batches: Sequence[Sequence[int]],
    geometry: Geometry,
    device: torch.device,
    epoch: int = 0,
    workers: int = LOADER_WORKERS,
) -> Iterator[torch.Tensor]:
    """The uint8 (N, C, H, W) images of each index list in ``batches``, on ``device``, read ahead by workers."""
    gpu_decode = device.type == "cuda" and all(Path(files[i]).suffix.lower() in (".jpg", ".jpeg") for i in batches[0])
    loader = torch.utils.data.DataLoader(
        _Files(files, geometry, raw=gpu_decode),
        batch_sampler=[[(epoch, i) for i in batch] for batch in batches],
        num_workers=workers,
        collate_fn=_collate,
        pin_memory=device.type == "cuda",
        prefetch_factor=PREFETCH_BATCHES if workers else None,
        multiprocessing_context="spawn" if workers and device.type == "cuda" else None,
    )
    for indices, images in zip(batches, loader):
        if isinstance(images, list) and images and isinstance(images[0], _Unreadable):
            bad = images[0]
            raise DataError(f"cannot decode image {bad.path!r}: {bad.reason}; remove or replace it")
        if gpu_decode:
            images = _decode_on_gpu(images, files, indices, geometry, device, epoch)
        yield images.to(device, non_blocking=True)


def _decode_on_gpu(data, files, indices, geometry: Geometry, device: torch.device, epoch: int) -> torch.Tensor:
    from torchvision.io import ImageReadMode, decode_jpeg

    try:
        decoded = decode_jpeg(data, mode=ImageReadMode.RGB, device=device)
    except RuntimeError as error:
        raise DataError(f"cannot decode a JPEG of this batch on the GPU ({str(error).splitlines()[0]})") from None
    return torch.stack([geometry.apply(image, epoch, index) for image, index in zip(decoded, indices)])


def channel_stats(
    dataset: StreamedDataset, data_dir: str | os.PathLike, log: Callable[[str], None] = print
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of the training images, decoded once in workers and cached.

    The same float64 sums as ``augment.normalization_stats`` over the resident split, so a streamed
    run normalises as a memory run of the same images does.
    """
    key = hashlib.sha256(f"{dataset.fingerprint}\n{dataset.image_shape}\n".encode())
    for path in dataset.train_files:
        key.update(path.encode())
    cache = Path(data_dir) / "cache" / f"stats-{key.hexdigest()[:16]}.npz"
    if cache.exists():
        with np.load(cache) as stored:
            return torch.from_numpy(stored["mean"]), torch.from_numpy(stored["std"])
    log(f"computing the training images' channel statistics (once; cached in {cache.parent})")
    channels, height, width = dataset.image_shape
    geometry = dataset.geometry("none", train=False)
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    order = list(range(len(dataset.train_files)))
    batches = [order[start : start + 256] for start in range(0, len(order), 256)]
    for images in stream_batches(dataset.train_files, batches, geometry, torch.device("cpu")):
        pixels = images.transpose(0, 1).reshape(channels, -1).double() / 255
        total += pixels.sum(1)
        total_sq += (pixels * pixels).sum(1)
    mean, std = mean_and_std(total, total_sq, len(order) * height * width)
    write_atomic(cache, lambda f: np.savez(f, mean=mean.numpy(), std=std.numpy()), binary=True)
    return mean, std


def stream_normalization(
    recipe: str, dataset: StreamedDataset, data_dir: str | os.PathLike, log: Callable[[str], None]
) -> tuple[torch.Tensor, torch.Tensor]:
    from .augment import BLOG_MEAN_STD

    if recipe == "blog":
        return torch.full((3,), BLOG_MEAN_STD[0]), torch.full((3,), BLOG_MEAN_STD[1])
    if recipe == "imagenet":
        return torch.tensor(IMAGENET_MEAN_STD[0]), torch.tensor(IMAGENET_MEAN_STD[1])
    return channel_stats(dataset, data_dir, log)
