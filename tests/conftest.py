"""Shared fixtures: small generated datasets and real (tiny) training runs.

Nothing here downloads anything: every dataset is generated on the fly, in the layouts the
package reads (ImageFolder and torchvision's CIFAR python pickles).
"""

from __future__ import annotations

import atexit
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image
from processes import ROOT

# The machine's cores shared among pytest-xdist's workers (`make test` starts one per core), so that
# the workers and the processes they start (make, kernels, torchrun) do not oversubscribe the CPU:
# two threads per process on two busy cores spin, and the suite took twice the CPU time (1,056 s, not 515).
# Set before torch is imported; the processes the tests start inherit it. A worker always sets it,
# since it inherits the controlling pytest's value (which loaded this file without workers).
if "PYTEST_XDIST_WORKER" in os.environ:
    workers = int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // workers))
else:
    os.environ.setdefault("OMP_NUM_THREADS", str(os.cpu_count() or 1))

# Nothing in the suite downloads: a CIFAR spec without a copy fails at once, whatever the network.
os.environ["ARCHCOMPARE_OFFLINE"] = "1"
# Decoded-image caches and CIFAR copies of every run the suite makes (through make too) go to a
# temporary folder, never to the repository's data/.
os.environ["ARCHCOMPARE_DATA_DIR"] = tempfile.mkdtemp(prefix="archcompare-data-")
atexit.register(shutil.rmtree, os.environ["ARCHCOMPARE_DATA_DIR"], ignore_errors=True)

from archcompare.config import RunConfig  # noqa: E402  (after the environment above: it imports torch)
from archcompare.training import train  # noqa: E402

if TYPE_CHECKING:
    from archcompare.report import Runs
    from archcompare.report.analysis.ensembles import EnsembleScore

COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def make_imagefolder(
    root: Path,
    train_per_class: int = 12,
    test_per_class: int = 6,
    size: tuple[int, int] = (16, 16),
    mode: str = "RGB",
    seed: int = 0,
    classes: dict[str, tuple[int, int, int]] = COLOURS,
    suffix: str = ".png",
) -> Path:
    """An easily separable dataset: each class is a colour plus noise; PNG (or ``suffix``) files in ImageFolder layout."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("test", test_per_class)):
        for name, colour in classes.items():
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                noise = rng.integers(-40, 40, size=(size[1], size[0], 3))
                pixels = np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).convert(mode).save(folder / f"{i:04d}{suffix}")
    return root


def cifar_pixels(index: int, label: int) -> np.ndarray:
    """A recognisable 3x32x32 image: red is the label, green the row, blue the image's index."""
    image = np.empty((3, 32, 32), np.uint8)
    image[0] = (20 * label) % 256
    image[1] = np.arange(32, dtype=np.uint8)[:, None]
    image[2] = index % 256
    return image


def make_cifar_folder(data_dir: Path, spec: str = "cifar10", train_per_batch: int = 20, test_count: int = 30) -> Path:
    """torchvision's on-disk CIFAR layout (cifar-10-batches-py or cifar-100-python), every class present.

    Each image is :func:`cifar_pixels` of its position and label, stored row-major as CIFAR stores
    them (1024 red, then 1024 green, then 1024 blue values), so a reader that takes the wrong layout
    or pairs labels with the wrong images can be caught.
    """
    classes = 10 if spec == "cifar10" else 100
    labels_key = "labels" if spec == "cifar10" else "fine_labels"
    counter = iter(range(10**6))

    def batch(count: int) -> dict:
        labels = [(7 * i + 3) % classes for i in range(count)]
        data = np.stack([cifar_pixels(next(counter), label).reshape(-1) for label in labels])
        return {"data": data, labels_key: labels}

    if spec == "cifar10":
        folder = data_dir / "cifar-10-batches-py"
        folder.mkdir(parents=True)
        for i in range(1, 6):
            (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch(train_per_batch)))
        (folder / "test_batch").write_bytes(pickle.dumps(batch(test_count)))
        names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    else:
        folder = data_dir / "cifar-100-python"
        folder.mkdir(parents=True)
        (folder / "train").write_bytes(pickle.dumps(batch(5 * train_per_batch)))
        (folder / "test").write_bytes(pickle.dumps(batch(test_count)))
        (folder / "meta").write_bytes(pickle.dumps({"fine_label_names": [f"class{i:02d}" for i in range(100)]}))
    return data_dir


@pytest.fixture(scope="session")
def separable_folder(tmp_path_factory) -> Path:
    return make_imagefolder(tmp_path_factory.mktemp("separable"), train_per_class=32, test_per_class=16)


def tiny_config(folder: Path, tmp: Path, **overrides) -> RunConfig:
    """A run that takes seconds on a CPU: ResNet-18 on 16x16 images, fp32, deterministic."""
    values = dict(
        arch="resnet18",
        dataset=f"imagefolder:{folder}",
        data_dir=str(tmp / "data"),
        train_per_class=0,
        test_per_class=0,
        recipe="standard",
        epochs=2,
        batch_size=16,
        lr=0.05,
        nesterov=False,
        schedule="cosine",
        precision="fp32",
        device="cpu",
        deterministic=True,
        output_dir=str(tmp / "run"),
    )
    values.update(overrides)
    return RunConfig(**values)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory) -> Path:
    """Real runs of both headline architectures, two seeds each, on 8x8 images: a runs directory.

    Trained once per `make test`: under pytest-xdist the first worker that needs them trains them into
    the session's common folder while the others wait on a lock (the recipe in xdist's documentation).
    """
    # xdist names its workers in the environment; without workers (-n 0, -p no:xdist) there is none.
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _train_tiny_runs(tmp_path_factory.mktemp("tiny-runs"))
    from filelock import FileLock

    shared = tmp_path_factory.getbasetemp().parent / "tiny-runs"  # this session's folder, above each worker's
    with FileLock(f"{shared}.lock"):
        if not (shared / "complete").exists():
            shutil.rmtree(shared, ignore_errors=True)  # a worker that failed while training them
            _train_tiny_runs(shared)
            (shared / "complete").touch()
    return shared / "runs"


@pytest.fixture
def profile(tmp_path, tiny_runs) -> Path:
    """A profile directory holding a copy of the tiny runs (without checkpoints, which the report never reads)."""
    directory = tmp_path / "outputs" / "tiny"
    shutil.copytree(tiny_runs, directory / "runs", ignore=shutil.ignore_patterns("checkpoint.pt"))
    return directory


# --- the committed results, read and scored once per process (pytest-xdist's worker): the tests only read them ---


@pytest.fixture(scope="session")
def quick() -> Runs:
    """The runs committed under outputs/quick."""
    from archcompare import report

    return report.load_runs(ROOT / "outputs" / "quick")


@pytest.fixture(scope="session")
def quick_scores(quick) -> dict[str, list[EnsembleScore]]:
    """report.seed_ensembles of the quick runs."""
    from archcompare import report

    return report.seed_ensembles(quick)


@pytest.fixture(scope="session")
def full() -> Runs:
    """The runs committed under outputs/full."""
    from archcompare import report

    return report.load_runs(ROOT / "outputs" / "full")


@pytest.fixture(scope="session")
def full_scores(full) -> dict[str, list[EnsembleScore]]:
    """report.seed_ensembles of the full runs."""
    from archcompare import report

    return report.seed_ensembles(full)


def _train_tiny_runs(root: Path) -> Path:
    folder = make_imagefolder(root / "images", train_per_class=10, test_per_class=8, size=(8, 8))
    runs = root / "runs"
    for arch in ("resnet50", "resnext50_32x4d"):
        for seed in (0, 1):
            config = tiny_config(
                folder, root, arch=arch, seed=seed, epochs=2, batch_size=10, output_dir=str(runs / f"{arch}-seed{seed}")
            )
            train(config, progress="none", log=lambda message: None)
    return runs


def bench_row(**changes) -> dict:
    """A step-mode row as `make bench` writes it in a GPU session (bench_steps._bench_step_mode), with ``changes``."""
    row = dict(
        condition="blog (fp32, batch 32, default layout)", arch="resnet50", mode="eager", images_per_second=1400.0,
        samples=[1390.0, 1400.0, 1410.0], setup_seconds=1.0, batch_size=32, precision="fp32", channels_last=False,
        device="cuda", device_name="NVIDIA H200", torch="2.11.0", measure=dict(warmup_steps=10, seconds=2.0, repeats=3),
        created="2026-12-01T00:00:00+00:00",
    )  # fmt: skip
    return {**row, **changes}


# --- data and profiles for the tests that run make (one set per test module) ---


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return make_imagefolder(tmp_path_factory.mktemp("pipeline-images"), train_per_class=8, test_per_class=4)


@pytest.fixture(scope="module")
def slow_images(tmp_path_factory) -> Path:
    """Large enough that the epochs after the first take seconds here, so a test can stop a run between its
    first checkpoint and its end (they also passed with 8 images per class, an epoch 2.5 times shorter)."""
    return make_imagefolder(tmp_path_factory.mktemp("slow-images"), train_per_class=20, test_per_class=4, size=(32, 32))


# The interruption tests stop one run four times, each after a further epoch, with room for one late stop.
RESUMABLE_EPOCHS = 6


@pytest.fixture(scope="module")
def profiles(tmp_path_factory) -> Path:
    """The shipped profiles plus the ones these tests need."""
    directory = tmp_path_factory.mktemp("profiles")
    for path in (ROOT / "notebooks" / "profiles").glob("*.yaml"):
        shutil.copy(path, directory)
    (directory / "resumable.yaml").write_text(
        f"description: {RESUMABLE_EPOCHS} deterministic epochs on the CPU\n"
        "architectures: [resnet18]\nseeds: [0]\n"
        f"parameters: {{epochs: {RESUMABLE_EPOCHS}, batch_size: 20, train_per_class: 0, test_per_class: 0, device: cpu,\n"
        "  precision: fp32, deterministic: true, schedule: cosine, lr: 0.05}\n"
    )
    # The defaults but size: precision auto (bf16 on a CPU that computes it), channels_last, not deterministic.
    (directory / "ddp.yaml").write_text(
        "description: four epochs in two processes on the CPU (gloo), with the defaults otherwise\n"
        "architectures: [resnet18]\nseeds: [0]\n"
        "parameters: {epochs: 4, batch_size: 20, processes: 2, train_per_class: 0, test_per_class: 0, device: cpu}\n"
    )
    (directory / "pair.yaml").write_text(
        "description: two quick runs of a small model\n"
        "architectures: [resnet18]\nseeds: [0, 1]\n"
        "parameters: {epochs: 1, batch_size: 8, train_per_class: 0, test_per_class: 0, device: cpu, precision: fp32}\n"
    )
    return directory
