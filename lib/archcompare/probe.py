"""Training speed measured on generated images: the planner's estimate and ``make bench`` share it.

Throughput does not depend on pixel values, so generated uint8 images stand in for a dataset.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

import torch

from .config import RunConfig
from .data.sources import Dataset
from .data.stream import step_image_size
from .training.device import resolve_device, synchronize
from .training.run import epoch_batches, prepare_run
from .training.steps import make_steps

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
    """The training loop's own steps (``training.steps`` over ``epoch_batches``), one call a step, epoch after epoch.

    ``compile``: a ``torch.compile`` mode to wrap the model in (its graphs are its own: eager steps).
    """

    def __init__(self, config: RunConfig, dataset: Dataset, step_mode: str = "auto", compile: str | None = None):
        self.run = prepare_run(config, log=lambda message: None, dataset=dataset)
        model = torch.compile(self.run.model, mode=compile) if compile else self.run.model
        self.steps = make_steps(self.run, model, "eager" if compile else step_mode, log=lambda message: None)
        self.batches = iter(())
        self.epoch = 0

    def __call__(self) -> None:
        batch = next(self.batches, None)
        if batch is None:  # a new epoch: a new permutation and new augmentation choices, as in training
            self.steps.start_epoch()
            self.epoch += 1
            self.batches = epoch_batches(self.run, self.epoch)
            batch = next(self.batches)
        self.steps.step(batch)


def measure_training_speed(config: RunConfig, steps: int = 2, step_mode: str = "auto") -> float:
    """Training images per second of ``config``'s step on this machine, from a few generated batches.

    For planning, not publishing: ``make report`` and the GPU session planner use it to say how long
    missing runs would take. On a CPU the batch is capped at 32 (the rate barely depends on it there)
    to keep the probe short.
    """
    device = resolve_device(config.device)
    batch = config.batch_size if device.type == "cuda" else min(config.batch_size, BLOG_BATCH)
    dataset = synthetic_dataset(train=batch, test=batch, size=step_image_size(config.dataset_spec, config.recipe))
    with tempfile.TemporaryDirectory() as workdir:
        probe = config.replace(batch_size=batch, train_per_class=0, test_per_class=0, output_dir=workdir)
        return images_per_second(TrainingSteps(probe, dataset, step_mode), batch, steps, device, warmup=1)


def concurrent_speeds(
    config: RunConfig, counts: tuple[int, ...] = (1, 2, 3), steps: int = 20, start_delay: float = 20
) -> dict[int, float]:
    """Aggregate training images per second of 1, 2, 3 ... processes training ``config``'s step on one device.

    Several runs may share a GPU when only their accuracy matters; this says whether it pays. Each
    process times ``steps`` steps after its warm-up, all starting together; the aggregate is the sum.
    """
    import subprocess
    import sys

    script = (
        "import json, sys, time; from archcompare.config import RunConfig; "
        "from archcompare.probe import measure_training_speed; "
        "config = RunConfig.from_dict(json.loads(sys.argv[1])); start = float(sys.argv[3]); "
        "time.sleep(max(0.0, start - time.time())); "
        "print(measure_training_speed(config, steps=int(sys.argv[2])))"
    )
    speeds = {}
    for count in counts:
        start = time.time() + start_delay  # every process has imported torch by then
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", script, config.to_json(), str(steps), str(start)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        outputs = [process.communicate()[0] for process in processes]
        if any(process.returncode for process in processes):
            raise RuntimeError(f"a probe of {count} concurrent runs failed")
        speeds[count] = sum(float(output.split()[-1]) for output in outputs)
    return speeds
