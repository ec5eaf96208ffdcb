"""Measuring what a copy of CIFAR-10 costs (data_penalty): the data airbench reads, and the summary."""

import pytest
import torch

from archcompare.data.sources import Dataset
from archcompare.data.spec import CIFAR10_CLASSES
from archcompare.data_penalty import AIRBENCH94_PUBLISHED, measure, summarise, write_airbench_data
from archcompare.errors import DataError, TrainingError


def cifar_like(classes=CIFAR10_CLASSES) -> Dataset:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (20, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.arange(20) % len(classes)
    return Dataset("imagefolder:copy", tuple(classes), images, labels, images[:10], labels[:10], "f00d")


def test_the_copy_is_written_as_airbench_keeps_torchvisions_cifar10(tmp_path):
    dataset = cifar_like()
    write_airbench_data(dataset, tmp_path)
    for split, images, labels in (
        ("train", dataset.train_images, dataset.train_labels),
        ("test", dataset.test_images, dataset.test_labels),
    ):
        stored = torch.load(tmp_path / "cifar10" / f"{split}.pt", weights_only=True)
        # torchvision's CIFAR10.data is (N, 32, 32, 3) uint8: airbench permutes it to (N, 3, 32, 32) itself.
        assert stored["images"].dtype == torch.uint8 and stored["images"].shape == (len(labels), 32, 32, 3)
        assert torch.equal(stored["images"].permute(0, 3, 1, 2), images) and torch.equal(stored["labels"], labels)
        assert stored["classes"] == list(CIFAR10_CLASSES)
    with pytest.raises(DataError, match="is not a copy of CIFAR-10"):
        write_airbench_data(cifar_like(classes=[f"c{i}" for i in range(10)]), tmp_path / "other")


def test_the_penalty_is_the_published_mean_minus_the_measured_mean():
    summary = summarise([0.92, 0.93, 0.94], "cifar10-jpeg", "71e1cb81bb756883", "NVIDIA H200")
    assert summary["mean"] == pytest.approx(0.93) and summary["std"] == pytest.approx(0.01) and summary["n"] == 3
    assert summary["penalty"] == pytest.approx(AIRBENCH94_PUBLISHED - 0.93)


def test_measuring_without_a_gpu_says_so_in_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(TrainingError, match="needs a CUDA GPU"):
        measure("imagefolder:/nowhere", str(tmp_path), 1, tmp_path)


def test_a_measured_penalty_the_report_cannot_read_stops_the_report_in_one_line(tmp_path):
    """A penalty file for the runs' very images that lacks a field the report quotes: the report says which
    file and field, rather than a KeyError from inside the notebook or the documented figure in its place."""
    import json
    import shutil
    from pathlib import Path

    from archcompare import report
    from archcompare.errors import ReportError
    from archcompare.report.analysis.penalty import data_penalty

    quick = Path(__file__).resolve().parents[1] / "outputs" / "quick"
    shutil.copytree(quick / "runs", tmp_path / "quick" / "runs")
    shutil.copy(quick / "plan.json", tmp_path / "quick" / "plan.json")
    runs = report.load_runs(tmp_path / "quick")
    fingerprint = runs.complete[0].record.data.fingerprint
    (tmp_path / "data-penalty").mkdir()
    (tmp_path / "data-penalty" / "cifar10-jpeg.json").write_text(
        json.dumps({"fingerprint": fingerprint, "penalty": 0.02, "mean": 0.92})
    )
    with pytest.raises(ReportError, match=r"cifar10-jpeg\.json lacks recipe, n, published_accuracy"):
        data_penalty(runs)
