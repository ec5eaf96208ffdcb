"""Bringing a lent GPU's results home (``tools/gpu_session.sh unpack <folder>``), checked before anything is written.

The folder is what came back from the machine: ``results.tgz`` (the finished runs) and, when the
session made them, ``bench-cuda.rows.partial`` (step-mode bench rows), ``data-penalty.json`` and
``gate.log``. Unpacking writes the runs into ``outputs/<profile>/runs/<run>/``, merges the bench
rows into the published tables, keeps the penalty and the gate's log under ``outputs/``, then
renders the profiles it touched and the README's generated blocks. Nothing is trained.

``results.tgz`` is refused whole, before anything is written, unless every member is a regular
file or folder at ``<profile>/runs/<run>[/<file>]`` of an existing profile and one of its runs
(names of letters, digits and ``._-`` that start with a letter or digit: no absolute path, no
``..``, no link), every file is one of a run's files (``RUN_FILES``), and every run is complete
(``summary.json``) and is the run its profile would train (its settings and its images). Only
the files of the runs unpacked are written; nothing is deleted. A complete run already there
that differs is left alone, said so, unless ``replace`` is asked for; then it is said too.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PipelineError, RecordError
from ..files import write_atomic, write_text
from ..paths import ROOT, outputs_dir, shown
from ..record import RunRecord
from .plan import RUN_FILES, run_parameters
from .profiles import load_profile

RESULTS = "results.tgz"
BENCH_ROWS = "bench-cuda.rows.partial"
PENALTY = "data-penalty.json"
GATE_LOG = "gate.log"
_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]*"
_MEMBER = re.compile(rf"(?P<profile>{_NAME})/runs/(?P<run>{_NAME})(?:/(?P<file>{_NAME}))?/?")


@dataclass(frozen=True)
class UnpackedRun:
    profile: str
    run: str
    files: dict[str, bytes]  # name -> content, summary.json among them
    record: RunRecord


def read_results(tarball: Path) -> list[UnpackedRun]:
    """The runs in ``tarball``, every member and run checked (see the module); PipelineError names the first problem."""
    try:
        archive = tarfile.open(tarball, "r:gz")
    except (OSError, tarfile.TarError) as error:
        raise PipelineError(f"{tarball} is not a gzipped tar archive ({error})") from None
    files: dict[tuple[str, str], dict[str, bytes]] = {}
    with archive:
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
    return [_checked_run(tarball.name, profile, run, content) for (profile, run), content in files.items()]


def _checked_run(archive: str, profile_name: str, run: str, files: dict[str, bytes]) -> UnpackedRun:
    where = f"{archive}: {profile_name}/{run}"
    try:
        profile = load_profile(profile_name)
    except PipelineError as error:
        raise PipelineError(f"{where}: {error}: nothing unpacked") from None
    if run not in profile.run_names:
        raise PipelineError(f"{where}: profile {profile_name!r} has no run {run!r}: nothing unpacked")
    if "summary.json" not in files:
        raise PipelineError(f"{where} is not complete (no summary.json): nothing unpacked")
    try:
        record = RunRecord.from_json(json.loads(files["summary.json"]), where=f"{where}/summary.json")
    except (ValueError, RecordError) as error:
        raise PipelineError(f"{where}: its summary.json is not a run record ({error}): nothing unpacked") from None
    directory = outputs_dir() / profile_name / "runs" / run
    _, config = run_parameters(profile, record.arch, record.seed, record.config["dataset"], directory)
    changed = config.differences(record.config)
    if f"{record.arch}-seed{record.seed}" != run or changed:
        what = ", ".join(changed) or f"it is {record.arch} seed {record.seed}"
        raise PipelineError(
            f"{where} is not the run profile {profile_name!r} trains ({what}); make report would retrain it: "
            "nothing unpacked"
        )
    plan_file = outputs_dir() / profile_name / "plan.json"
    planned_data = json.loads(plan_file.read_text()).get("data") if plan_file.exists() else None
    if planned_data and planned_data != record.data.portable_spec:
        raise PipelineError(
            f"{where} was trained on {record.data.portable_spec}, the profile's runs on {planned_data}: nothing unpacked"
        )
    return UnpackedRun(profile_name, run, files, record)


def write_runs(runs: list[UnpackedRun], replace: bool, log: Callable[[str], None]) -> list[UnpackedRun]:
    """Write each run's files into its run directory (summary.json last); returns the runs written."""
    written = []
    for run in runs:
        directory = outputs_dir() / run.profile / "runs" / run.run
        summary = directory / "summary.json"
        if summary.exists():
            if summary.read_bytes() == run.files["summary.json"]:
                log(f"{shown(directory)}: already there, unchanged")
                continue
            try:
                there = f"test accuracy {json.loads(summary.read_text())['test_acc']:.2%}"
            except (ValueError, KeyError):
                there = "a record that cannot be read"
            if not replace:
                log(
                    f"{shown(directory)}: a different complete run is already there ({there}; the archive's: "
                    f"{run.record.test_acc:.2%}): left alone (REPLACE=1 replaces it)"
                )
                continue
            log(f"{shown(directory)}: replacing the complete run there ({there}) with the archive's")
        for name in sorted(run.files, key=lambda name: name == "summary.json"):  # summary.json last: complete
            data = run.files[name]
            write_atomic(directory / name, lambda f, data=data: f.write(data), binary=True)
        log(f"{shown(directory)}: unpacked, test accuracy {run.record.test_acc:.2%} on {run.record.env.device_name}")
        if run.record.older_code:
            log(f"{shown(directory)}: note: {run.record.older_code}")
        written.append(run)
    return written


def unpack(folder: Path, replace: bool = False, log: Callable[[str], None] = print) -> list[str]:
    """Unpack what a session brought back into ``folder`` (see the module); returns the profiles to re-render."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PipelineError(f"{folder} is not a folder of a GPU session's results")
    tarball = folder / RESULTS
    runs = read_results(tarball) if tarball.exists() else []
    penalty = _checked_penalty(folder / PENALTY)
    written = write_runs(runs, replace, log)
    if not tarball.exists():
        log(f"{shown(tarball)}: none; no runs came back")
    bench = outputs_dir() / "bench"
    if (folder / BENCH_ROWS).exists():
        from ..bench import render_tables
        from ..bench_steps import merge_rows, read_rows

        rows = read_rows(folder / BENCH_ROWS)
        for path in merge_rows(rows, bench, render_tables):
            log(f"{shown(path)}: {len(rows)} step-mode row(s) merged")
    if (folder / GATE_LOG).exists():
        write_text(bench / "gate-cuda.log", (folder / GATE_LOG).read_text())
        log(f"{shown(bench / 'gate-cuda.log')}: the gate's log, to commit with the bench rows")
    if penalty is not None:
        name, text = penalty
        write_text(outputs_dir() / "data-penalty" / f"{name}.json", text)
        log(f"{shown(outputs_dir() / 'data-penalty' / f'{name}.json')}: the data penalty")
    return sorted({run.profile for run in written})


def _checked_penalty(path: Path) -> tuple[str, str] | None:
    if not path.exists():
        return None
    try:
        summary = json.loads(path.read_text())
        name, mean = summary["copy"], float(summary["mean"])
    except (ValueError, KeyError, TypeError) as error:
        raise PipelineError(f"{path} is not a data-penalty summary ({error}): nothing unpacked") from None
    if not re.fullmatch(_NAME, str(name)) or not 0 <= mean <= 1:
        raise PipelineError(f"{path}: copy {name!r} or mean {mean!r} is not one a measurement writes: nothing unpacked")
    return name, path.read_text()


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
