"""Training speed measured on generated images: the planner's estimate and ``make bench`` share it.

Throughput does not depend on pixel values, so generated uint8 images stand in for a dataset.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

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

    ``dataset``: the images to train on; None: ``config.dataset``'s, loaded or streamed as a run would.
    ``compile``: a ``torch.compile`` mode to wrap the model in (its graphs are its own: eager steps).
    """

    def __init__(self, config: RunConfig, dataset: Dataset | None, step_mode: str = "auto", compile: str | None = None):
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


@dataclass(frozen=True)
class ProbeShape:
    batch: int
    batches_per_epoch: int  # the generated training set, in batches: each epoch is entered as training enters it
    warmup: int  # steps before the clock starts (kernel selection, cuDNN autotuning, capture)
    steps: int  # steps timed


# The GPU session's probe: one step at a time would time mostly a new epoch per step (its
# permutation and drawn augmentation) and a captured step's first replays; 64 full batches an
# epoch and 128 timed steps (two epochs) are what a run's epochs do. At full's batch 512 on an
# H200 (15,500 img/s, bench-cuda) that is about 6 s with the warm-up.
SESSION_PROBE = ProbeShape(batch=0, batches_per_epoch=64, warmup=10, steps=128)


def probe_shape(device_type: str, batch_size: int, steps: int = 2, thorough: bool = False) -> ProbeShape:
    """What a probe times. On a GPU with ``thorough`` (the session planner): ``SESSION_PROBE`` at the run's batch.
    Otherwise (``make report``'s two-hour check on a CPU) a few steps on one batch, capped at 32
    images on a CPU (the rate barely depends on it there), to keep the probe short."""
    if device_type == "cuda" and thorough:
        return replace(SESSION_PROBE, batch=batch_size)
    batch = batch_size if device_type == "cuda" else min(batch_size, BLOG_BATCH)
    return ProbeShape(batch, 1, 1, steps)


def measure_training_speed(config: RunConfig, steps: int = 2, step_mode: str = "auto", thorough: bool = False) -> float:
    """Training images per second of ``config``'s step in ``step_mode`` on this machine, on generated batches.

    For planning, not publishing: ``make report`` and the GPU session planner use it to say how long
    missing runs would take; ``probe_shape`` says how many steps of which batch it times.
    """
    device = resolve_device(config.device)
    shape = probe_shape(device.type, config.batch_size, steps, thorough)
    size = step_image_size(config.dataset_spec, config.recipe)
    dataset = synthetic_dataset(train=shape.batch * shape.batches_per_epoch, test=shape.batch, size=size)
    with tempfile.TemporaryDirectory() as workdir:
        probe = config.replace(batch_size=shape.batch, train_per_class=0, test_per_class=0, output_dir=workdir)
        step = TrainingSteps(probe, dataset, step_mode)
        return images_per_second(step, shape.batch, shape.steps, device, warmup=shape.warmup)


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
