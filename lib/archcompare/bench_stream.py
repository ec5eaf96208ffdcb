"""``make bench``'s streaming rows: decoding alone, training alone and both together, on generated JPEGs.

A streamed run is limited by the slower of two things: the CPU workers' decoding (or the GPU's, on
CUDA) and the training step. Measuring each alone and then together shows a user which one limits
their machine, and how much the overlap hides. Two conditions: CIFAR-sized images with the
standard recipe, and ImageNet-sized photographs (500x375, the median ImageNet shape) with the
imagenet recipe's 224-pixel crops.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .bench_steps import QUICK_MEASURE, Measure, images_per_second_for
from .config import RunConfig
from .data.stream import LOADER_WORKERS, StreamedDataset, open_streamed, stream_batches
from .probe import TrainingSteps, synthetic_dataset
from .training.device import synchronize

# (label, image height and width on disk, recipe, stem): what a streamed run of each kind reads.
STREAM_CONDITIONS = (
    ("CIFAR-sized JPEGs (32x32), standard recipe", (32, 32), "standard", "cifar"),
    ("ImageNet-sized JPEGs (375x500), imagenet recipe", (375, 500), "imagenet", "imagenet"),
)
STREAM_ARCH = "resnet50"


def bench_streaming(
    device: torch.device, log: Callable[[str], None], quick: bool = False, measure: Measure = QUICK_MEASURE
) -> list[dict[str, Any]]:
    """The streaming rows; training is timed for ``measure.seconds`` (at least a step) after a warm-up step.

    ``measure``: ``QUICK_MEASURE`` when ``quick``, as ``bench.run_benchmark`` passes it: 0 s, one step a measurement.
    """
    rows = []
    arch = "resnet18" if quick else STREAM_ARCH  # quick checks the machinery in seconds
    # quick: the CIFAR-sized condition only (the imagenet recipe's path is covered by tests/test_stream.py)
    for label, size, recipe, stem in STREAM_CONDITIONS[:1] if quick else STREAM_CONDITIONS:
        batch = 4 if quick else (256 if device.type == "cuda" else 16)
        # Enough images for the steps the time may hold (GPU: 20 steps; CPU: 3, at 16 ImageNet-sized images a
        # step in 1-3 s), which the loader's epoch then wraps around no more than it must.
        steps = 1 if quick else (20 if device.type == "cuda" else 3)
        with tempfile.TemporaryDirectory() as workdir:
            folder = _write_jpegs(Path(workdir) / "images", count=batch * (steps + 1), size=size)
            config = RunConfig(
                arch=arch, stem=stem, recipe=recipe, loader="stream", dataset=f"imagefolder:{folder}",
                train_per_class=0, test_per_class=0, batch_size=batch, device=device.type,
                data_dir=str(Path(workdir) / "data"), output_dir=str(Path(workdir) / "run"),
            )  # fmt: skip
            files = open_streamed(config.dataset_spec, config.recipe)  # listed once, for both measurements
            decode = _decode_rate(files, config, device)
            train_alone = _memory_rate(files, config, device, measure.seconds)
            together = _streamed_rate(config, device, measure.seconds)
        row = {
            "condition": label,
            "arch": arch,
            "batch_size": batch,
            "workers": LOADER_WORKERS,
            "decode_images_per_second": decode,
            "train_images_per_second": train_alone,
            "streamed_images_per_second": together,
            "limited_by": "decoding" if decode < train_alone else "training",
        }
        log(
            f"streaming, {label}: decode {decode:,.0f} img/s, train from memory {train_alone:,.1f} img/s, "
            f"streamed training {together:,.1f} img/s: limited by {row['limited_by']}"
        )
        rows.append(row)
    return rows


def streaming_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| streamed data | batch | workers | decode alone (img/s) | train from memory (img/s) "
        "| streamed training (img/s) | limited by |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['condition']}, {row['arch']} | {row['batch_size']} | {row['workers']} "
            f"| {row['decode_images_per_second']:,.0f} | {row['train_images_per_second']:,.1f} "
            f"| {row['streamed_images_per_second']:,.1f} | {row['limited_by']} |"
        )
    return "\n".join(lines) + "\n"


def _write_jpegs(root: Path, count: int, size: tuple[int, int]) -> Path:
    """``count`` training images in two classes (and two test images), smooth enough to compress like photographs."""
    from PIL import Image

    rng = np.random.default_rng(0)
    height, width = size
    ramp = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    for split, n in (("train", count), ("test", 2)):
        for i in range(n):
            folder = root / split / f"class{i % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            noise = rng.normal(0, 20, (height, width, 3)).astype(np.float32)
            pixels = np.clip(ramp * rng.uniform(0.3, 1, 3) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:05d}.jpg", quality=90)
    return root


def _decode_rate(dataset: StreamedDataset, config: RunConfig, device: torch.device) -> float:
    """Images per second the loader delivers to the device with nothing else running (a first epoch, workers started)."""
    import time

    geometry = dataset.geometry(config.recipe, train=True)
    order = list(range(len(dataset.train_files)))
    batches = [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]
    loader = stream_batches(dataset.train_files, batches, geometry, device)
    first = next(loader)  # worker start-up is paid once per epoch, not per image
    synchronize(device)
    start = time.perf_counter()
    count = sum(len(images) for images in loader)
    synchronize(device)
    del first
    return count / (time.perf_counter() - start)


def _memory_rate(dataset: StreamedDataset, config: RunConfig, device: torch.device, seconds: float) -> float:
    """The same step on resident generated images of the step's shape: training alone."""
    _, height, width = dataset.image_shape
    generated = synthetic_dataset(train=config.batch_size * 4, test=2, size=(height, width))
    recipe = "standard" if config.recipe == "imagenet" else config.recipe  # its crops are the loader's work
    step = TrainingSteps(config.replace(loader="memory", recipe=recipe, dataset="cifar10"), generated, "eager")
    step()  # warm-up
    return images_per_second_for(step, config.batch_size, seconds, device)


def _streamed_rate(config: RunConfig, device: torch.device, seconds: float) -> float:
    """The run's own streamed steps, epoch after epoch as a run reads them, for as long as the time holds."""
    step = TrainingSteps(config, None, "eager")  # no dataset given: the run streams config's images
    step()  # warm-up: the loader's workers start
    return images_per_second_for(step, config.batch_size, seconds, device)
