"""Training speed measured on generated images: the planner's estimate and ``make bench`` share it.

Throughput does not depend on pixel values, so generated uint8 images stand in for a dataset.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

import torch

from .config import RunConfig
from .data.sources import Dataset, image_size
from .training.device import resolve_device, synchronize
from .training.run import epoch_batches, prepare_run
from .training.step import train_step

BLOG_BATCH = 32  # the blog post's batch size
NUM_CLASSES = 10


def synthetic_dataset(train: int, test: int, seed: int = 0, size: tuple[int, int] = (32, 32)) -> Dataset:
    generator = torch.Generator().manual_seed(seed)

    def split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        images = torch.randint(0, 256, (n, 3, *size), dtype=torch.uint8, generator=generator)
        return images, torch.arange(n) % NUM_CLASSES

    train_images, train_labels = split(train)
    test_images, test_labels = split(test)
    classes = tuple(f"class{i}" for i in range(NUM_CLASSES))
    return Dataset("synthetic", classes, train_images, train_labels, test_images, test_labels, "synthetic")


def images_per_second(step: Callable[[], None], batch: int, steps: int, device: torch.device, warmup: int = 0) -> float:
    """Training images per second of ``steps`` calls of ``step`` after ``warmup`` calls, device work included."""
    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return steps * batch / (time.perf_counter() - start)


class TrainingSteps:
    """The training loop's own step (``train_step`` over ``epoch_batches``), one call a step, epoch after epoch."""

    def __init__(self, config: RunConfig, dataset: Dataset):
        self.run = prepare_run(config, log=lambda message: None, dataset=dataset)
        self.batches = iter(())

    def __call__(self) -> None:
        batch = next(self.batches, None)
        if batch is None:  # a new epoch: a new permutation and new augmentation choices, as in training
            self.batches = epoch_batches(self.run)
            batch = next(self.batches)
        index, augmentation = batch
        dataset = self.run.dataset
        train_step(self.run, self.run.model, dataset.train_images[index], dataset.train_labels[index], augmentation)


def measure_training_speed(config: RunConfig, steps: int = 2) -> float:
    """Training images per second of ``config``'s step on this machine, from a few generated batches.

    For planning, not publishing: ``make report`` uses it to say how long missing runs would take.
    On a CPU the batch is capped at 32 (the rate barely depends on it there) to keep the probe short.
    """
    device = resolve_device(config.device)
    batch = config.batch_size if device.type == "cuda" else min(config.batch_size, BLOG_BATCH)
    dataset = synthetic_dataset(train=batch, test=batch, size=image_size(config.dataset_spec))
    with tempfile.TemporaryDirectory() as workdir:
        probe = config.replace(batch_size=batch, train_per_class=0, test_per_class=0, output_dir=workdir)
        return images_per_second(TrainingSteps(probe, dataset), batch, steps, device, warmup=1)
