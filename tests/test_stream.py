"""Streaming from disk (data.stream): the same steps as a memory run, resumable inside an epoch, clear on bad files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from conftest import COLOURS, make_imagefolder, tiny_config
from PIL import Image
from processes import ROOT, learning_history

from archcompare.data import stream
from archcompare.data.augment import IMAGENET_CROP, imagenet_geometry
from archcompare.errors import DataError
from archcompare.training import train
from archcompare.training.evaluate import evaluation_batches
from archcompare.training.run import epoch_batches, prepare_run

# What a streamed run must reproduce of the memory run's history: every column but the timings.
COMPARED_COLUMNS = ("epoch", "lr", "train_loss", "train_ce", "train_acc", "test_loss", "test_acc")
quiet = dict(progress="none", log=lambda message: None)


@pytest.fixture(scope="module")
def jpeg_folder(tmp_path_factory):
    """Three classes of 96-pixel JPEGs, as a small ImageFolder copy of a real dataset would be."""
    return make_imagefolder(tmp_path_factory.mktemp("jpeg96"), 8, 4, size=(96, 96), suffix=".jpg")


@pytest.fixture(scope="module")
def small_jpegs(tmp_path_factory):
    """32-pixel JPEGs: a run over them takes seconds."""
    return make_imagefolder(tmp_path_factory.mktemp("jpeg32"), 8, 4, size=(32, 32), suffix=".jpg")


@pytest.mark.parametrize("recipe", ["none", "standard"])
def test_streamed_batches_are_the_memory_runs_batches(tmp_path, jpeg_folder, recipe):
    """Same subset, same order and augmentation choices, the same decoded pixels, the same normalisation."""
    settings = dict(recipe=recipe, train_per_class=5, test_per_class=3, batch_size=4)
    memory = prepare_run(tiny_config(jpeg_folder, tmp_path, loader="memory", **settings), log=lambda m: None)
    streamed = prepare_run(tiny_config(jpeg_folder, tmp_path, loader="stream", **settings), log=lambda m: None)
    assert streamed.streamed and not memory.streamed
    assert torch.equal(memory.dataset.train_labels, streamed.dataset.train_labels)
    assert torch.allclose(memory.mean, streamed.mean, rtol=0, atol=1e-6)
    assert torch.allclose(memory.std, streamed.std, rtol=0, atol=1e-6)
    pairs = list(zip(epoch_batches(memory, 1), epoch_batches(streamed, 1), strict=True))
    assert len(pairs) == 4  # 15 images in batches of 4
    for in_memory, from_disk in pairs:
        assert torch.equal(in_memory.index, from_disk.index)
        if recipe != "none":
            assert torch.equal(in_memory.augmentation.shift, from_disk.augmentation.shift)
        assert torch.equal(memory.dataset.train_images[in_memory.index], from_disk.images)
    test_memory = torch.cat([images for _, images in evaluation_batches(memory, None)])
    test_streamed = torch.cat([images for _, images in evaluation_batches(streamed, None)])
    assert torch.equal(test_memory, test_streamed) and len(test_streamed) == 9


@pytest.mark.parametrize("loader", ["memory", "stream"])
def test_normalisation_statistics_are_those_of_the_training_images_alone(tmp_path, loader):
    """Per-channel mean and std of the training split's pixels, as numpy computes them from the files.

    The test split here has other colours (each class's inverted), so statistics taken from it, or from
    both splits, differ from the training split's by far more than the tolerance.
    """
    folder = make_imagefolder(tmp_path / "images", train_per_class=6, test_per_class=5)
    inverted = {name: tuple(255 - value for value in colour) for name, colour in COLOURS.items()}
    other = make_imagefolder(tmp_path / "other", train_per_class=1, test_per_class=5, classes=inverted, seed=1)
    for name in COLOURS:
        for path in (other / "test" / name).iterdir():
            path.replace(folder / "test" / name / path.name)

    def pixels(split: str) -> np.ndarray:
        files = sorted((folder / split).rglob("*.png"))
        return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files]).reshape(-1, 3) / 255

    train_pixels, test_pixels = pixels("train"), pixels("test")
    assert np.abs(test_pixels.mean(0) - train_pixels.mean(0)).min() > 0.1  # the splits are told apart
    config = tiny_config(folder, tmp_path, loader=loader, recipe="standard", train_per_class=0, test_per_class=0)
    run = prepare_run(config, log=lambda message: None)
    assert run.streamed == (loader == "stream")
    np.testing.assert_allclose(run.mean.numpy(), train_pixels.mean(0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(run.std.numpy(), train_pixels.std(0), rtol=0, atol=1e-6)


def test_a_streamed_run_killed_inside_an_epoch_resumes_to_the_memory_runs_history(tmp_path, small_jpegs):
    """SIGKILL between two steps of an epoch, then the same call again: the history of an uninterrupted run."""
    memory = tiny_config(small_jpegs, tmp_path, loader="memory", batch_size=4, epochs=2, output_dir=str(tmp_path / "m"))
    train(memory, **quiet)
    streamed = memory.replace(loader="stream", output_dir=str(tmp_path / "s"))
    script = (
        "import json, sys; from archcompare.config import RunConfig; from archcompare.training import train; "
        "train(RunConfig.from_dict(json.loads(sys.argv[1])), progress='none', log=print, checkpoint_every=2)"
    )
    process = subprocess.Popen([sys.executable, "-c", script, streamed.to_json()], cwd=ROOT, stdout=subprocess.DEVNULL)
    checkpoint = tmp_path / "s" / "checkpoint.pt"
    deadline, seen = time.monotonic() + 120, None
    while time.monotonic() < deadline and process.poll() is None:
        # Read a checkpoint only when a new one was renamed into place (a new inode): each is 90 MB.
        inode = checkpoint.stat().st_ino if checkpoint.exists() else None
        if inode != seen:
            seen = inode
            state = torch.load(checkpoint, weights_only=True)
            if state.get("epoch_progress", {}).get("steps_done", 0) >= 2:
                break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "s" / "summary.json").exists(), "the run finished before it could be killed"
    messages = []
    record = train(streamed, progress="none", log=messages.append, checkpoint_every=2)
    assert any("resuming" in m and "step " in m for m in messages), messages
    assert learning_history(tmp_path / "s", COMPARED_COLUMNS) == learning_history(tmp_path / "m", COMPARED_COLUMNS)
    assert record.env.loader == "stream"
    saved = np.load(tmp_path / "s" / "predictions.npz")["probabilities"]
    assert np.array_equal(saved, np.load(tmp_path / "m" / "predictions.npz")["probabilities"])


def test_a_corrupt_image_stops_a_streamed_run_with_one_line_naming_it(tmp_path, small_jpegs):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(small_jpegs, folder)
    bad = folder / "train" / "green" / "0003.jpg"
    bad.write_bytes(b"not a jpeg at all")
    config = tiny_config(folder, tmp_path, loader="stream", batch_size=4, epochs=1, recipe="blog")
    with pytest.raises(DataError) as error:
        train(config, **quiet)
    assert str(bad) in str(error.value) and "\n" not in str(error.value)


def test_auto_streams_only_when_the_decoded_images_exceed_the_budget_and_says_so(tmp_path, jpeg_folder, monkeypatch):
    config = tiny_config(jpeg_folder, tmp_path)
    said = []
    assert stream.resolve_loader(config, torch.device("cpu"), said.append) == "memory"
    assert "decoding into memory (972.0 KiB, within" in said[-1]  # 3 classes x 12 images x 3 x 96 x 96 bytes
    size = stream.decoded_bytes(config.dataset_spec, 0, 0)
    assert size == 3 * (8 + 4) * 3 * 96 * 96  # classes x images x RGB x pixels
    monkeypatch.setattr(stream, "memory_budget", lambda device: size - 1)
    assert stream.resolve_loader(config, torch.device("cpu"), said.append) == "stream"
    assert "streaming from disk: the decoded images would take 972.0 KiB, more than the" in said[-1]


def test_imagenet_recipe_gives_224_crops_that_repeat_per_image_and_epoch(tmp_path):
    from torchvision.transforms import v2

    image = torch.randint(0, 256, (3, 300, 420), dtype=torch.uint8)
    first = imagenet_geometry(image, True, stream._image_generator(0, 1, 7))
    assert first.shape == (3, IMAGENET_CROP, IMAGENET_CROP) and first.dtype == torch.uint8
    assert torch.equal(first, imagenet_geometry(image, True, stream._image_generator(0, 1, 7)))
    assert not torch.equal(first, imagenet_geometry(image, True, stream._image_generator(0, 2, 7)))
    test = imagenet_geometry(image, False, stream._image_generator(0, 1, 7))
    reference = v2.Compose([v2.Resize(256, antialias=True), v2.CenterCrop(224)])(image)  # torchvision's eval preset
    assert torch.equal(test, reference)


def test_an_imagenet_recipe_run_streams_crops_and_records_them(tmp_path):
    folder = tmp_path / "sizes"
    rng = np.random.default_rng(0)
    for split, count in (("train", 4), ("test", 2)):
        for name in ("a", "b"):
            (folder / split / name).mkdir(parents=True)
            for i in range(count):
                size = (int(rng.integers(60, 90)), int(rng.integers(60, 90)))
                Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
                    folder / split / name / f"{i}.jpg"
                )
    config = tiny_config(folder, tmp_path, recipe="imagenet", stem="imagenet", batch_size=4, epochs=1, lr=0.01)
    said = []
    record = train(config, progress="none", log=said.append)
    assert any("loader auto: streaming from disk (the imagenet recipe" in m for m in said)
    assert record.data.image_shape == (3, IMAGENET_CROP, IMAGENET_CROP) and record.env.loader == "stream"
    assert record.data.fingerprint.startswith("files-")
    stored = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert stored["config"]["recipe"] == "imagenet"
