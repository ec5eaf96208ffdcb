"""A run in memory: everything before the first step, validated in order, and an epoch's batches."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..config import RunConfig
from ..data.augment import AugmentParams, draw_augment_params, normalization_stats
from ..data.sources import Dataset, load_dataset, stratified_subset
from ..data.stream import StreamedDataset, open_streamed, resolve_loader, stream_batches, stream_normalization
from ..errors import TrainingError
from ..models import build_model
from .device import configure_determinism, memory_format, resolve_device, resolve_precision
from .distributed import SINGLE, Ranks, synchronise_batchnorm
from .schedule import build_optimizer, lr_factor


@dataclass
class Run:
    """Everything a training run holds in memory; what a checkpoint saves and restores."""

    config: RunConfig
    device: torch.device
    precision: str
    dataset: Dataset | StreamedDataset  # decoded and resident, or file lists read as steps ask (data.stream)
    mean: torch.Tensor
    std: torch.Tensor
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    generator: torch.Generator  # shuffling and augmentation; CPU, so every device draws the same
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from_epoch: int | None = None
    ranks: Ranks = SINGLE  # this process's place when the run spans several (training.distributed)
    step_modes: list[str] = field(default_factory=list)  # how its epochs' steps ran: eager, cuda-graph
    epoch_progress: EpochProgress | None = None  # a checkpoint's part-done epoch, to finish first

    @property
    def streamed(self) -> bool:
        return isinstance(self.dataset, StreamedDataset)

    @property
    def memory_format(self) -> torch.memory_format:
        return memory_format(self.config.channels_last)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.dataset.train_labels) / self.config.batch_size)


def prepare_run(
    config: RunConfig, log: Callable[[str], None] = print, dataset: Dataset | None = None, ranks: Ranks = SINGLE
) -> Run:
    """Everything before the first step: device, data, model, optimizer (validated, in that order).

    ``dataset`` replaces loading ``config.dataset`` (the benchmark passes generated images).
    ``ranks``: this process's place in a multi-process run (each process gets its own GPU).
    """
    device = resolve_device(config.device)
    if device.type == "cuda" and ranks.world > 1:
        device = torch.device("cuda", ranks.local_rank)
    precision = resolve_precision(config.precision, device)
    check_writable(Path(config.output_dir))
    configure_determinism(config.deterministic, device)

    if dataset is None and resolve_loader(config, device, log if ranks.main else _quiet) == "stream":
        dataset = open_streamed(config.dataset_spec, config.recipe)
    elif dataset is None:
        dataset = load_dataset(config.dataset_spec, config.data_dir, log=log)
    dataset = stratified_subset(dataset, config.train_per_class, config.test_per_class)
    last = len(dataset.train_labels) % config.batch_size
    if 0 < last < ranks.world:
        raise TrainingError(
            f"the epoch's last batch of {last} image(s) cannot be shared by {ranks.world} processes: "
            "choose a batch_size that leaves at least one image per process, or none"
        )
    if isinstance(dataset, StreamedDataset):
        mean, std = stream_normalization(config.recipe, dataset, config.data_dir, log)
    else:
        mean, std = normalization_stats(config.recipe, dataset.train_images)
    dataset = dataset.to(device)  # a memory run's images stay resident as uint8 (150 MB for CIFAR-10)

    torch.manual_seed(config.seed)
    model = build_model(config.arch, dataset.num_classes, config.stem, in_channels=dataset.image_shape[0])
    if ranks.world > 1 and config.sync_batchnorm:
        model = synchronise_batchnorm(model, device)
    model = model.to(device=device, memory_format=memory_format(config.channels_last))
    optimizer = build_optimizer(model, config, device)
    steps_per_epoch = math.ceil(len(dataset.train_labels) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, config.schedule)
    )
    # Loss scaling is needed for fp16 only; bf16 has fp32's exponent range.
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    generator = torch.Generator().manual_seed(config.seed)
    return Run(
        config, device, precision, dataset, mean, std, model, optimizer, scheduler, scaler, generator, ranks=ranks
    )


def _quiet(message: str) -> None:
    pass


@dataclass
class EpochProgress:
    """An epoch stopped between steps (a checkpoint inside a long epoch): where it was and its running totals."""

    epoch: int
    steps_done: int
    generator_state: torch.Tensor  # the run's generator before the epoch drew its order and choices
    totals: tuple[float, float, int]  # summed loss, plain cross-entropy and correct count, over all processes
    seconds: float  # training time spent on the steps done


def check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".write-test-{os.getpid()}"  # one per process: the ranks of a run check together
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise TrainingError(f"output_dir {str(directory)!r} cannot be written: {error.strerror or error}") from None


@dataclass(frozen=True)
class Batch:
    """One step's images, as this process sees them: their indices, augmentation choices and share of the step."""

    index: torch.Tensor  # of the training images, on the device
    augmentation: AugmentParams | None
    share: float = 1.0  # this process's images over the whole step's, times the processes (1 in one process)
    images: torch.Tensor | None = None  # a streamed run's decoded uint8 images; a memory run's are gathered by index


def epoch_batches(run: Run, epoch: int, skip: int = 0) -> Iterator[Batch]:
    """One epoch's batches, on the device; in a multi-process run, this rank's share of each.

    The epoch's permutation and every image's random choices are drawn at once from the run's
    generator and copied to the device once, so no step copies from the host or waits for it.
    Every rank draws the same from the same seed and takes its own contiguous part of each batch.
    ``skip``: batches already trained (an epoch resumed from a checkpoint inside it); they are
    drawn all the same, so the generator ends the epoch where an uninterrupted run's does.
    A streamed run's workers read the same images ahead (``data.stream``).
    """
    count, batch_size, ranks = len(run.dataset.train_labels), run.config.batch_size, run.ranks
    order_on_host = torch.randperm(count, generator=run.generator)
    augmentation = draw_augment_params(run.config.recipe, count, run.generator)
    order = order_on_host.to(run.device)
    augmentation = augmentation.to(run.device) if augmentation is not None else None
    starts = range(skip * batch_size, count, batch_size)
    images = _streamed_images(run, epoch, order_on_host, starts) if run.streamed else None
    for start in starts:
        streamed = next(images) if images is not None else None
        if ranks.world == 1:
            batch = slice(start, start + batch_size)
            yield Batch(order[batch], augmentation[batch] if augmentation is not None else None, images=streamed)
            continue
        positions = torch.arange(start, min(start + batch_size, count), device=run.device)
        mine = ranks.share(positions)
        share = len(mine) * ranks.world / len(positions)
        yield Batch(order[mine], augmentation.take(mine) if augmentation is not None else None, share, streamed)


def _streamed_images(run: Run, epoch: int, order: torch.Tensor, starts: range) -> Iterator[torch.Tensor]:
    """This process's images of each batch from ``starts`` on, read by the loader's workers."""
    count, batch_size, ranks = len(run.dataset.train_labels), run.config.batch_size, run.ranks
    batches = [ranks.share(order[start : min(start + batch_size, count)]).tolist() for start in starts]
    if not batches:
        return iter(())
    geometry = run.dataset.geometry(run.config.recipe, train=True, seed=run.config.seed)
    return stream_batches(run.dataset.train_files, batches, geometry, run.device, epoch)
