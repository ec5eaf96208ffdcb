"""Bringing a lent GPU's results home (``tools/gpu_session.sh unpack <folder>``), checked before anything is written.

The folder is what came back from the machine: ``results.tgz`` (the finished runs) and, when the
session made them, ``bench-cuda.rows.partial`` (step-mode bench rows), ``data-penalty.json`` and
``gate.log``. Unpacking writes the runs into ``outputs/<profile>/runs/<run>/``, merges the bench
rows into the published tables, keeps the penalty and the gate's log under ``outputs/``, then
renders the profiles it touched and the README's generated blocks. Nothing is trained.

Everything is read and checked first (``read_session``); on any problem one error names it and
nothing is written. ``results.tgz`` is refused whole unless every member is a regular file or
folder at ``<profile>/runs/<run>[/<file>]`` of an existing profile and one of its runs (names of
letters, digits and ``._-`` that start with a letter or digit: no absolute path, no ``..``, no
link), every file is one of a run's files (``RUN_FILES``), and every run is whole (all of
``RUN_FILES``, each readable as the report reads it) and is the run its profile would train (its
settings and its images). The bench rows must each hold every field a row is written with
(``bench_steps.ROW_FIELDS``: a device of ``cuda`` or ``cpu``, which names the table they go into),
and the penalty every field the reports read of it (``data_penalty.SUMMARY_FIELDS``). Nothing is
written outside ``outputs/<profile>/runs/<run>/`` (each under the run's lock), ``outputs/bench/``
and ``outputs/data-penalty/``.

A complete run already there that differs is left alone, said so, unless ``replace`` is asked for;
then it is said too. Writing a run removes what the run that was there left beside its files
(``RUN_LEFTOVERS``); any other file of the run directory stays.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ArchCompareError, PipelineError
from ..files import write_atomic, write_text
from ..json_fields import is_fraction
from ..paths import BENCH_DIR, DATA_PENALTY_DIR, ROOT, bench_stem, outputs_dir, shown
from ..record import RunRecord
from .locks import run_lock
from .plan import RUN_FILES, run_parameters
from .profiles import load_profile

RESULTS = "results.tgz"
BENCH_ROWS = f"{bench_stem('cuda')}.rows.partial"  # bench_steps.rows_file's name on the session's GPU
PENALTY = "data-penalty.json"
GATE_LOG = "gate.log"
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_MEMBER = re.compile(rf"(?P<profile>{_NAME})/runs/(?P<run>{_NAME})(?:/(?P<file>{_NAME}))?/?")
# What a run directory may hold beside RUN_FILES that belongs to the run written there before: a reused
# run's note of where it was copied from, a failed attempt's notebook, an unfinished training's state.
# A run written whole from an archive removes them (params.yaml is the plan's, the same for any run of
# these settings, and stays).
RUN_LEFTOVERS = ("reused.json", "train.failed.ipynb", "checkpoint.pt")
UNPACKING = "writing a run that came back from a GPU session into it"  # as "another process is ..." (locks)


@dataclass(frozen=True)
class UnpackedRun:
    profile: str
    run: str
    files: dict[str, bytes]  # name -> content: every one of RUN_FILES
    record: RunRecord
    older_code: str | None  # record.older_code, worked out while checking it


@dataclass(frozen=True)
class SessionResults:
    """What came back from a session, every part checked: all that ``unpack`` writes."""

    runs: list[UnpackedRun]
    bench_rows: list[dict[str, Any]]  # the step-mode rows that came back
    bench_tables: dict[Path, tuple[dict[str, Any], str]]  # the published tables with them merged in, and .md
    gate_log: str | None
    penalty: tuple[str, str] | None  # the copy's name and the summary's text


def read_session(folder: Path) -> SessionResults:
    """Everything in ``folder`` that unpacking writes, read and checked (see the module); nothing is written.

    PipelineError names the first problem.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(f"{folder} is not a folder of a GPU session's results")
    tarball, rows_path, penalty_path, gate_path = (
        _input(folder, name) for name in (RESULTS, BENCH_ROWS, PENALTY, GATE_LOG)
    )
    runs = read_results(tarball) if tarball else []
    rows, tables = [], {}
    if rows_path:
        from ..bench import render_tables
        from ..bench_steps import checked_rows, merged_tables, read_rows

        try:
            rows = checked_rows(read_rows(rows_path), BENCH_ROWS)
            tables = merged_tables(rows, outputs_dir() / BENCH_DIR, render_tables)
        except (PipelineError, OSError, UnicodeDecodeError) as error:
            raise PipelineError(f"{error}: nothing unpacked") from None
    gate_log = _text(gate_path) if gate_path else None
    penalty = _checked_penalty(penalty_path) if penalty_path else None
    return SessionResults(runs, rows, tables, gate_log, penalty)


def _input(folder: Path, name: str) -> Path | None:
    path = folder / name
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        raise PipelineError(f"{shown(path)} is not a regular file: nothing unpacked")
    return path


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise PipelineError(f"{shown(path)} cannot be read as text ({error}): nothing unpacked") from None


def read_results(tarball: Path) -> list[UnpackedRun]:
    """The runs in ``tarball``, every member and run checked (see the module); PipelineError names the first problem."""
    try:
        files = _read_members(tarball)
    except (OSError, EOFError, zlib.error, tarfile.TarError) as error:
        raise PipelineError(f"{tarball} is not a gzipped tar archive ({error}): nothing unpacked") from None
    return [_checked_run(tarball.name, profile, run, content) for (profile, run), content in files.items()]


def _read_members(tarball: Path) -> dict[tuple[str, str], dict[str, bytes]]:
    files: dict[tuple[str, str], dict[str, bytes]] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            match = _MEMBER.fullmatch(member.name)
            if match is None:
                raise PipelineError(
                    f"{tarball.name}: member {member.name!r} is not a file of <profile>/runs/<run>/: nothing unpacked"
                )
            if not (member.isfile() or member.isdir()):
                raise PipelineError(f"{tarball.name}: member {member.name!r} is not a regular file: nothing unpacked")
            key = (match["profile"], match["run"])
            files.setdefault(key, {})
            if member.isfile():
                if match["file"] not in RUN_FILES:
                    raise PipelineError(
                        f"{tarball.name}: {member.name!r} is not one of a run's files "
                        f"({', '.join(RUN_FILES)}): nothing unpacked"
                    )
                files[key][match["file"]] = archive.extractfile(member).read()
    return files


def _checked_run(archive: str, profile_name: str, run: str, files: dict[str, bytes]) -> UnpackedRun:
    where = f"{archive}: {profile_name}/{run}"
    try:
        profile = load_profile(profile_name)
    except PipelineError as error:
        raise PipelineError(f"{where}: {error}: nothing unpacked") from None
    if run not in profile.run_names:
        raise PipelineError(f"{where}: profile {profile_name!r} has no run {run!r}: nothing unpacked")
    missing = [name for name in RUN_FILES if name not in files]
    if missing:  # a published run is committed whole: its notebook, history and predictions with its record
        raise PipelineError(f"{where} is not complete (no {', '.join(missing)}): nothing unpacked")
    directory = outputs_dir() / profile_name / "runs" / run
    try:
        record = RunRecord.from_json(json.loads(files["summary.json"]), where=f"{where}/summary.json")
        if not isinstance(record.config, dict) or not isinstance(record.config.get("dataset"), str):
            raise ValueError("its config names no dataset")
        if not is_fraction(record.test_acc) or type(record.epochs) is not int:
            raise ValueError(f"test_acc {record.test_acc!r} or epochs {record.epochs!r} is not what a run records")
        _, config = run_parameters(profile, record.arch, record.seed, record.config["dataset"], directory)
        changed = config.differences(record.config)
        portable_spec = record.data.portable_spec
        older_code = record.older_code
    except (ArchCompareError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise PipelineError(f"{where}: its summary.json is not a run record ({error}): nothing unpacked") from None
    if f"{record.arch}-seed{record.seed}" != run or changed:
        what = ", ".join(changed) or f"it is {record.arch} seed {record.seed}"
        raise PipelineError(
            f"{where} is not the run profile {profile_name!r} trains ({what}); make report would retrain it: "
            "nothing unpacked"
        )
    plan_file = outputs_dir() / profile_name / "plan.json"
    try:
        planned_data = json.loads(plan_file.read_text()).get("data") if plan_file.exists() else None
    except (OSError, ValueError, AttributeError) as error:
        raise PipelineError(f"{shown(plan_file)} cannot be read ({error}): nothing unpacked") from None
    if planned_data and planned_data != portable_spec:
        raise PipelineError(
            f"{where} was trained on {portable_spec}, the profile's runs on {planned_data}: nothing unpacked"
        )
    problem = _run_files_problem(files, record)
    if problem:
        raise PipelineError(f"{where}/{problem}: nothing unpacked")
    return UnpackedRun(profile_name, run, files, record, older_code)


def _run_files_problem(files: dict[str, bytes], record: RunRecord) -> str | None:
    """Which of a run's files the report could not read as it reads them (report/runs.py), and why; or None."""
    import numpy as np
    import pandas as pd

    try:
        with np.load(io.BytesIO(files["predictions.npz"]), allow_pickle=False) as predictions:
            labels, probabilities = predictions["labels"], predictions["probabilities"]
        if labels.ndim != 1 or probabilities.ndim != 2 or len(probabilities) != len(labels):
            raise ValueError(f"labels of shape {labels.shape} and probabilities of shape {probabilities.shape}")
    except (OSError, ValueError, KeyError, EOFError, zlib.error) as error:
        return f"predictions.npz is not a run's predictions ({error})"
    try:
        history = pd.read_csv(io.BytesIO(files["history.csv"]))
    except (ValueError, pd.errors.ParserError) as error:
        return f"history.csv is not a run's history ({type(error).__name__}: {error})"
    lacks = [column for column in ("epoch", "test_acc") if column not in history.columns]
    if lacks:
        return f"history.csv is not a run's history (no column {', '.join(lacks)})"
    epochs = list(history["epoch"])
    if epochs != list(range(1, record.epochs + 1)):
        last = f"the last {epochs[-1]}" if epochs else "none"
        return f"history.csv's epochs are not 1 to {record.epochs} ({len(epochs)} row(s), {last})"
    try:
        notebook = json.loads(files["train.ipynb"])
        if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
            raise ValueError("no list of cells")
    except ValueError as error:
        return f"train.ipynb is not a notebook ({error})"
    return None


def write_runs(runs: list[UnpackedRun], replace: bool, log: Callable[[str], None]) -> list[UnpackedRun]:
    """Write each run's files into its run directory under its lock (summary.json last); returns the runs written."""
    written = []
    for run in runs:
        directory = outputs_dir() / run.profile / "runs" / run.run
        with run_lock(directory, UNPACKING, log):
            if not _write_run(run, directory, replace, log):
                continue
        log(f"{shown(directory)}: unpacked, test accuracy {run.record.test_acc:.2%} on {run.record.env.device_name}")
        if run.older_code:
            log(f"{shown(directory)}: note: {run.older_code}")
        written.append(run)
    return written


def _write_run(run: UnpackedRun, directory: Path, replace: bool, log: Callable[[str], None]) -> bool:
    """Write one run into ``directory`` (its lock held); False when a run there is kept (see the module)."""
    summary = directory / "summary.json"
    if summary.exists():
        if summary.read_bytes() == run.files["summary.json"]:
            log(f"{shown(directory)}: already there, unchanged")
            return False
        try:
            there = f"test accuracy {json.loads(summary.read_text())['test_acc']:.2%}"
        except (ValueError, KeyError, TypeError):
            there = "a record that cannot be read"
        if not replace:
            log(
                f"{shown(directory)}: a different complete run is already there ({there}; the archive's: "
                f"{run.record.test_acc:.2%}): left alone (REPLACE=1 replaces it)"
            )
            return False
        log(f"{shown(directory)}: replacing the complete run there ({there}) with the archive's")
        summary.unlink()  # first: while its files are replaced, the run there is not complete
    removed = [name for name in RUN_LEFTOVERS if (directory / name).exists()]
    for name in removed:
        (directory / name).unlink()
    if removed:
        log(f"{shown(directory)}: removed {', '.join(removed)}, left by the run that was there")
    for name in sorted(run.files, key=lambda name: name == "summary.json"):  # summary.json last: complete
        data = run.files[name]
        write_atomic(directory / name, lambda f, data=data: f.write(data), binary=True)
    return True


def unpack(folder: Path, replace: bool = False, log: Callable[[str], None] = print) -> list[str]:
    """Unpack what a session brought back into ``folder`` (see the module); returns the profiles to re-render."""
    results = read_session(folder)  # every check before anything is written
    written = write_runs(results.runs, replace, log)
    if not (Path(folder) / RESULTS).exists():
        log(f"{shown(Path(folder) / RESULTS)}: none; no runs came back")
    from ..bench_steps import write_tables

    write_tables(results.bench_tables)
    for path in results.bench_tables:
        merged = sum(path.name == f"{bench_stem(row['device'])}.json" for row in results.bench_rows)
        log(f"{shown(path)} and its .md: {merged} step-mode row(s) merged")
    bench = outputs_dir() / BENCH_DIR
    if results.gate_log is not None:
        write_text(bench / "gate-cuda.log", results.gate_log)
        log(f"{shown(bench / 'gate-cuda.log')}: the gate's log, to commit with the bench rows")
    if results.penalty is not None:
        name, text = results.penalty
        path = outputs_dir() / DATA_PENALTY_DIR / f"{name}.json"
        write_text(path, text)
        log(f"{shown(path)}: the data penalty")
    return sorted({run.profile for run in written})


def _checked_penalty(path: Path) -> tuple[str, str]:
    """The copy's name and the summary's text, when it holds every field the reports read (data_penalty)."""
    from ..data_penalty import summary_problem

    text = _text(path)
    try:
        summary = json.loads(text)
    except ValueError as error:
        raise PipelineError(f"{shown(path)} is not a data-penalty summary ({error}): nothing unpacked") from None
    problem = summary_problem(summary)
    if problem is None and not re.fullmatch(_NAME, summary["copy"]):
        problem = f"copy {summary['copy']!r} cannot name a file"
    if problem:
        raise PipelineError(
            f"{shown(path)} is not a data-penalty summary as the reports read it ({problem}): nothing unpacked"
        )
    return summary["copy"], text


def unpack_and_render(folder: Path, replace: bool = False, log: Callable[[str], None] = print) -> None:
    """``unpack``, then re-render each profile it wrote runs into, and the README when these are its outputs."""
    from .render import render

    for profile in unpack(folder, replace, log):
        render(profile, log)
    if outputs_dir() == (ROOT / "outputs").resolve():
        from ..report.readme import update_readme

        update_readme()
        log("README.md: its generated blocks rewritten from outputs/")
    else:
        log(f"README.md left alone: the outputs are {outputs_dir()}, not the repository's")
