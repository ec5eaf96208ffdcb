"""Where things are: the repository, its notebooks and profiles, data, outputs (each overridable)."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository: the package is installed editable
NOTEBOOKS = ROOT / "notebooks"
TRAIN_NOTEBOOK = NOTEBOOKS / "train.ipynb"
COMPARE_NOTEBOOK = NOTEBOOKS / "compare.ipynb"
KERNEL_NAME = "archcompare"  # the Jupyter kernel `make install` registers
PACKAGE_DIR_REPORT = Path(__file__).resolve().parent / "report"  # the report's code: an input of every report
BENCH_DIR = "bench"  # under an outputs directory: `make bench`'s results, which the reports quote
DATA_PENALTY_DIR = "data-penalty"  # under an outputs directory: `make penalty`'s results, which the reports quote
# Folders of an outputs directory that are not a profile's: a profile of one of these names would share
# it, and `make clean` would remove it (the Makefile's RESERVED_OUTPUTS lists the same; a test keeps them equal).
RESERVED_OUTPUT_FOLDERS = (BENCH_DIR, DATA_PENALTY_DIR)
_QUICK = "-quick"  # ends the name of a quick bench check's files (bench_stem)


def profiles_dir() -> Path:
    """Where profiles live; ``ARCHCOMPARE_PROFILES`` points elsewhere (tests use it)."""
    return Path(os.environ.get("ARCHCOMPARE_PROFILES") or NOTEBOOKS / "profiles")


def data_dir() -> Path:
    """Where CIFAR is downloaded and decoded images are cached; ``ARCHCOMPARE_DATA_DIR`` points elsewhere."""
    return Path(os.environ.get("ARCHCOMPARE_DATA_DIR") or ROOT / "data").resolve()


def outputs_dir() -> Path:
    """Where run directories and reports go; ``make ... OUTPUTS=<dir>`` sets ``ARCHCOMPARE_OUTPUTS``."""
    return Path(os.environ.get("ARCHCOMPARE_OUTPUTS") or ROOT / "outputs").resolve()


def shown(path: Path) -> str:
    """A path as the notebooks receive it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def bench_stem(device_type: str, quick: bool = False) -> str:
    """A device's bench files without their suffix: ``bench-<device>``, or ``bench-<device>-quick`` for a quick
    check of the machinery (``make bench QUICK=1``), which never takes the place of a published table."""
    return f"bench-{device_type}{_QUICK if quick else ''}"


def bench_results(bench_dir: Path) -> list[Path]:
    """The benchmark results the reports read: ``bench-<device>.json``, not the ``-quick`` checks of the machinery."""
    return sorted(path for path in Path(bench_dir).glob(f"{bench_stem('*')}.json") if not path.stem.endswith(_QUICK))


def data_penalty_results(penalty_dir: Path) -> list[Path]:
    """The measured costs of copies of CIFAR-10 that the reports read: ``<copy>.json``."""
    return sorted(Path(penalty_dir).glob("*.json"))
