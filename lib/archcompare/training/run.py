"""A run in memory: everything before the first step, validated in order, and an epoch's batches."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..config import RunConfig
from ..data.augment import AugmentParams, draw_augment_params, normalization_stats
from ..data.sources import Dataset, load_dataset, stratified_subset
from ..errors import TrainingError
from ..models import build_model
from .device import configure_determinism, memory_format, resolve_device, resolve_precision
from .schedule import build_optimizer, lr_factor


@dataclass
class Run:
    """Everything a training run holds in memory; what a checkpoint saves and restores."""

    config: RunConfig
    device: torch.device
    precision: str
    dataset: Dataset
    mean: torch.Tensor
    std: torch.Tensor
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    generator: torch.Generator  # shuffling and augmentation; CPU, so every device draws the same
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from_epoch: int | None = None
    step_modes: list[str] = field(default_factory=list)  # how its epochs' steps ran: eager, cuda-graph

    @property
    def memory_format(self) -> torch.memory_format:
        return memory_format(self.config.channels_last)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.dataset.train_labels) / self.config.batch_size)


def prepare_run(config: RunConfig, log: Callable[[str], None] = print, dataset: Dataset | None = None) -> Run:
    """Everything before the first step: device, data, model, optimizer (validated, in that order).

    ``dataset`` replaces loading ``config.dataset`` (the benchmark passes generated images).
    """
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    check_writable(Path(config.output_dir))
    configure_determinism(config.deterministic, device)

    if dataset is None:
        dataset = load_dataset(config.dataset_spec, config.data_dir, log=log)
    dataset = stratified_subset(dataset, config.train_per_class, config.test_per_class)
    mean, std = normalization_stats(config.recipe, dataset.train_images)
    dataset = dataset.to(device)  # the whole dataset stays resident as uint8 (150 MB for CIFAR-10)

    torch.manual_seed(config.seed)
    model = build_model(config.arch, dataset.num_classes, config.stem, in_channels=dataset.image_shape[0])
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
    return Run(config, device, precision, dataset, mean, std, model, optimizer, scheduler, scaler, generator)


def check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise TrainingError(f"output_dir {str(directory)!r} cannot be written: {error.strerror or error}") from None


def epoch_batches(run: Run) -> Iterator[tuple[torch.Tensor, AugmentParams | None]]:
    """One epoch's batches: the indices of their images and their augmentation choices, on the device.

    The epoch's permutation and every image's random choices are drawn at once from the run's
    generator and copied to the device once, so no step copies from the host or waits for it.
    """
    count, batch_size = len(run.dataset.train_labels), run.config.batch_size
    order = torch.randperm(count, generator=run.generator).to(run.device)
    augmentation = draw_augment_params(run.config.recipe, count, run.generator)
    augmentation = augmentation.to(run.device) if augmentation is not None else None
    for start in range(0, count, batch_size):
        batch = slice(start, start + batch_size)
        yield order[batch], (augmentation[batch] if augmentation is not None else None)
