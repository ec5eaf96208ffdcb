"""What ``make report`` trains: each run of a profile is kept, reused, trained, or left out.

``plan`` validates the profile and DATA, writes each run's ``params.yaml`` and the profile's
``plan.json``, and removes the ``summary.json`` of every run that is out of date (its settings or
its images changed; under the run's lock, ``locks``), so Make trains exactly those:

- a run made by an older version of the training code is kept and flagged (``RETRAIN=1`` retrains
  it): an expensive GPU run is not thrown away by a later code change;
- a run to train that equals a complete run of another profile (settings, images, code version)
  is copied from it (``reused.json`` says from where);
- missing runs that would take longer than ``LONG_TRAINING_SECONDS`` here are left out unless
  ``LONG=1``, so the report renders from the runs that exist; when complete runs would be among them
  (a mistyped DATA, RETRAIN=1 on a laptop), planning stops before removing anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from ..config import RunConfig
from ..data.listing import imagefolder_files, images_per_class
from ..data.spec import DatasetSpec
from ..errors import ArchCompareError, ConfigError, DataError, PipelineError, RecordError
from ..execution import EXECUTION_FIELDS, invocation_overrides
from ..files import write_atomic, write_json, write_text
from ..paths import data_dir, outputs_dir, shown
from ..record import DataIdentity, RunRecord, read_record
from .locks import COPYING, REMOVING, run_lock
from .profiles import EXECUTION_PARAMETERS, Profile, load_profile

RUN_FILES = ("train.ipynb", "history.csv", "predictions.npz", "summary.json")  # summary.json last: it marks completion
REMEMBERED_DATA = ".data"  # per profile, git-ignored: the DATA its runs were last planned with on this machine
# Missing runs expected to take longer than this on this machine are not trained without LONG=1.
LONG_TRAINING_SECONDS = 2 * 3600
LONG_CHECK_IMAGES = 100_000  # below this many training images in all, no speed probe is needed
LONG_SECONDS_VARIABLE = "ARCHCOMPARE_LONG_SECONDS"  # overrides LONG_TRAINING_SECONDS (and always probes)


@dataclass(frozen=True)
class PlannedRun:
    name: str
    directory: Path
    parameters: dict[str, Any]  # what the notebook receives
    config: RunConfig
    stale_reason: str | None  # why it must be (re)trained; None when the existing results stand
    kept_reason: str | None = None  # why a run not retrained counts as made by older training code
    retraining: str = ""  # what planning does about a stale run's results, said after its reason (": will retrain")


class PlannedData:
    """The dataset a plan trains on, and whether a stored run's images are these.

    Image folders are judged by content: the same images at another path (another machine, a moved
    folder) are the same dataset, and changed images at the same path are not. A streamed run's
    record holds the files' fingerprint instead (names and sizes: its images are never all decoded
    at once), and is judged by that, without decoding anything. Where the folder cannot be read
    here (a fresh clone without the data), a run is judged by the folder's name.
    """

    def __init__(self, spec: DatasetSpec):
        self.spec = spec
        self._fingerprint: str | None = None
        self._files_fingerprint: str | None = None

    @property
    def readable(self) -> bool:
        """Whether the images can be read here: torchvision's datasets are downloaded when missing."""
        return not self.spec.is_imagefolder or self.spec.path.is_dir()

    def fingerprint(self) -> str | None:
        """The images' content fingerprint, from the decoded-image cache; None when they cannot be read here."""
        if self._fingerprint is None and self.spec.is_imagefolder and self.spec.path.is_dir():
            from ..data.sources import load_dataset

            try:
                self._fingerprint = load_dataset(self.spec, data_dir(), log=lambda message: None).fingerprint
            except ArchCompareError:
                return None  # a broken folder: training it fails with its own message
        return self._fingerprint

    def files_fingerprint(self) -> str | None:
        """The folder's file names and sizes (``data.stream.files_fingerprint``); None when it cannot be read here."""
        if self._files_fingerprint is None and self.readable:
            from ..data.stream import files_fingerprint

            try:
                self._files_fingerprint = files_fingerprint(imagefolder_files(self.spec.path), self.spec.path.resolve())
            except ArchCompareError:
                return None
        return self._files_fingerprint

    def matches(self, stored: DataIdentity) -> bool:
        if stored.kind != self.spec.kind:
            return False
        if not self.spec.is_imagefolder:
            return True  # torchvision's CIFAR copies are all the same images
        fingerprint = self.files_fingerprint() if stored.fingerprint.startswith("files-") else self.fingerprint()
        return stored.fingerprint == fingerprint if fingerprint else stored.name == self.spec.name


def plan(
    profile_name: str,
    data: str | None = None,
    log: Callable[[str], None] = print,
    retrain: bool = False,
    allow_long: bool = False,
) -> list[PlannedRun]:
    """Validate a profile (and DATA) and decide which of its runs must be (re)trained; see the module."""
    profile = load_profile(profile_name)
    profile_dir = outputs_dir() / profile_name
    dataset, from_committed_plan = _choose_dataset(profile, profile_dir, data, log)
    planned_data = PlannedData(DatasetSpec.parse(dataset))
    chosen = invocation_overrides()  # this invocation's step mode and layout: they identify no run
    planned = []
    for arch in profile.architectures:
        for seed in profile.seeds:
            name = f"{arch}-seed{seed}"
            directory = profile_dir / "runs" / name
            parameters, config = run_parameters(profile, arch, seed, dataset, directory, chosen)
            stale, retraining, kept = _stale_reason(directory, config, planned_data, retrain)
            planned.append(PlannedRun(name, directory, parameters, config, stale, kept, retraining))

    # On a fresh clone the committed runs name their images without a path: missing runs wait for DATA.
    without_data = from_committed_plan and not planned_data.readable
    if any(run.stale_reason for run in planned) and not without_data:
        _check_data_before_training(planned_data)
        planned = reuse_identical_runs(planned, profile_name, planned_data, log)
    # Decided before anything is removed: what is too long to train here is left out, with its files.
    to_train = planned if allow_long or without_data else _leave_out_long_training(profile_name, planned, log)
    _keep_complete_runs_left_out(profile_name, planned, to_train)
    try:
        planned = _write_plan(profile, dataset, planned_data, planned, data is not None, retrain, log)
    except OSError as error:
        raise PipelineError(
            f"cannot write the outputs of {profile_name!r} under {profile_dir}: {error.strerror or error}"
        ) from None
    if without_data and any(run.stale_reason for run in planned):
        return _leave_out_without_data(profile_name, planned_data, planned, log)
    # The runs as _write_plan left them (judged again under their locks), less those left out as too long.
    training = {run.name for run in to_train}
    return [run for run in planned if run.name in training]


def _keep_complete_runs_left_out(profile_name: str, planned: list[PlannedRun], to_train: list[PlannedRun]) -> None:
    """Stop, before removing anything, when a complete run would lose its summary.json but not be retrained here.

    Planning removes an out-of-date run's summary.json so that Make retrains it. A run left out as too long
    to train here would only disappear from the report: a mistyped DATA, or RETRAIN=1, on a laptop would
    empty the report of GPU-trained runs that the laptop cannot make again.
    """
    training = {run.name for run in to_train}
    dropped = [
        run
        for run in planned
        if run.stale_reason and run.name not in training and (run.directory / "summary.json").exists()
    ]
    if dropped:
        reasons = "; ".join(f"{run.name}: {run.stale_reason}" for run in dropped)
        raise PipelineError(
            f"{profile_name}: not removing {len(dropped)} complete run(s) that would take too long to retrain here "
            f"({reasons}); their files are kept. Give the DATA and settings they were trained with, "
            "or LONG=1 to retrain them here"
        )


def run_parameters(
    profile: Profile, arch: str, seed: int, dataset: str, directory: Path, chosen: dict[str, Any] | None = None
) -> tuple[dict[str, Any], RunConfig]:
    """What the notebook of one run of ``profile`` receives, and its validated config.

    ``chosen``: the invocation's execution choices (``execution.invocation_overrides``), which take
    the place of the profile's step mode and layout.
    """
    chosen = chosen or {}
    execution = {
        key: chosen.get(key, profile.parameters.get(key, default)) for key, default in EXECUTION_PARAMETERS.items()
    }
    settings = {key: value for key, value in profile.parameters.items() if key not in EXECUTION_PARAMETERS}
    values = {
        **RunConfig().to_dict(),
        **settings,
        **{key: chosen[key] for key in EXECUTION_FIELDS if key in chosen},
        "arch": arch,
        "seed": seed,
        "dataset": dataset,
        "data_dir": shown(data_dir()),
        "output_dir": shown(directory),
    }
    try:
        config = RunConfig.from_dict(values)
    except ConfigError as error:
        raise PipelineError(f"profile {profile.name!r}, run {arch}-seed{seed}: {error}") from None
    return {**values, **execution, "resume": True, "progress": "lines"}, config


def _choose_dataset(
    profile: Profile, profile_dir: Path, data: str | None, log: Callable[[str], None]
) -> tuple[str, bool]:
    """DATA when given; else what this profile's runs were last planned with here; else the profile's own.

    On a fresh clone nothing was planned here yet: the committed ``plan.json`` names the dataset
    its runs used, without the path it lay at, which is enough to keep them. The flag says so.
    """
    if data:
        return data, False
    remembered = profile_dir / REMEMBERED_DATA
    if remembered.exists():
        used = remembered.read_text().strip()
        log(f"DATA not given: using {used}, as the existing runs of this profile did (pass DATA=... to change)")
        return used, False
    previous = profile_dir / "plan.json"
    if previous.exists():
        used = json.loads(previous.read_text()).get("data")
        if used:
            return used, True
    return profile.parameters.get("dataset") or RunConfig().dataset, False


def _leave_out_without_data(
    profile_name: str, data: PlannedData, planned: list[PlannedRun], log: Callable[[str], None]
) -> list[PlannedRun]:
    """Runs to train whose images are not on this machine: left out, so the report renders from what exists."""
    missing = [run.name for run in planned if run.stale_reason]
    log(
        f"{profile_name}: not training {len(missing)} run(s) ({', '.join(missing)}): their images, the image "
        f"folder named {data.spec.name!r}, are not on this machine. Pass DATA=imagefolder:<path of that folder> "
        "to train them; the report is made from the runs that exist."
    )
    return [run for run in planned if not run.stale_reason]


def _stale_reason(
    directory: Path, config: RunConfig, data: PlannedData, retrain: bool
) -> tuple[str | None, str, str | None]:
    """Why the run must be (re)trained, or None; what planning does about its results, said after the reason
    (``PlannedRun.retraining``); and why a run that is kept counts as older code, or None."""
    summary_path = directory / "summary.json"
    if not summary_path.exists():
        checkpoint = directory / "checkpoint.pt"
        return ("to train (will resume from its checkpoint)" if checkpoint.exists() else "to train"), "", None
    try:
        record = read_record(summary_path)
    except RecordError as error:
        return f"out of date, its record cannot be read ({error})", ": will retrain", None
    changed = config.differences(record.config)
    if not data.matches(record.data):
        changed = sorted([*changed, "dataset"])
    if changed:
        return f"out of date, settings changed ({', '.join(changed)})", ": will retrain", None
    older = record.older_code
    if older and retrain:
        return older, ": RETRAIN=1, will retrain", None
    return None, "", older


def _check_data_before_training(data: PlannedData) -> None:
    """Fail early, in one line, on an image folder that cannot work (before any run starts)."""
    if data.spec.is_imagefolder and not data.readable:
        # A profile's own folder (imagenet's data/imagenet) is missing on most machines: say how to give one.
        raise DataError(
            f"imagefolder path {str(data.spec.path)!r} does not exist or is not a directory: "
            "pass the images as DATA=imagefolder:<path with train/<class>/ and test/<class>/>"
        )
    if data.spec.is_imagefolder:
        imagefolder_files(data.spec.path)


def reuse_identical_runs(
    planned: list[PlannedRun], profile_name: str, data: PlannedData, log: Callable[[str], None]
) -> list[PlannedRun]:
    """The plan with runs to train filled from identical complete runs of other profiles.

    Identical means the same settings (locations aside), the same images and the current training
    code version: what would be trained again is already there. The copy records where it came
    from in ``reused.json``, which the report shows.
    """
    candidates = None
    result = []
    for run in planned:
        if run.stale_reason and not (run.directory / "checkpoint.pt").exists():
            if candidates is None:
                candidates = _complete_runs_elsewhere(profile_name)
            source = next(
                (
                    directory
                    for directory, record in candidates
                    if not run.config.differences(record.config)
                    and data.matches(record.data)
                    and record.older_code is None
                ),
                None,
            )
            if source is not None:
                with run_lock(run.directory, COPYING, log):
                    # Trained by another process meanwhile: left to _write_plan, which judges it again.
                    copied = not (run.directory / "summary.json").exists()
                    if copied:
                        _copy_run(source, run.directory)
                if copied:
                    log(f"{profile_name}/{run.name}: identical to {shown(source)}, reused instead of trained")
                    run = replace(run, stale_reason=None, retraining="")
        result.append(run)
    return result


def _complete_runs_elsewhere(profile_name: str) -> list[tuple[Path, RunRecord]]:
    found = []
    for summary_path in sorted(outputs_dir().glob("*/runs/*/summary.json")):
        if summary_path.parents[2].name == profile_name or (summary_path.parent / "reused.json").exists():
            continue
        try:
            found.append((summary_path.parent, read_record(summary_path)))
        except RecordError:
            continue
    return found


def _copy_run(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / "reused.json", {"from": shown(source), "profile": source.parents[1].name, "run": source.name})
    for name in RUN_FILES:
        if (source / name).exists():  # a run trained without Jupyter has no executed notebook
            data = (source / name).read_bytes()
            write_atomic(target / name, lambda f, data=data: f.write(data), binary=True)


def _write_plan(
    profile: Profile, dataset: str, data: PlannedData, planned: list[PlannedRun], given: bool, retrain: bool, log
) -> list[PlannedRun]:
    written = []
    for run in planned:
        run.directory.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(run.parameters, sort_keys=True)
        params_file = run.directory / "params.yaml"
        if not params_file.exists() or params_file.read_text() != text:
            write_text(params_file, text)
        if run.stale_reason and (run.directory / "summary.json").exists():
            run = _remove_results(run, data, retrain, log)
        if run.stale_reason:
            log(f"{profile.name}/{run.name}: {run.stale_reason}{run.retraining}")
        else:
            kept = f"kept, {run.kept_reason} (RETRAIN=1 retrains it)" if run.kept_reason else "up to date"
            log(f"{profile.name}/{run.name}: {kept}")
        written.append(run)
    profile_dir = outputs_dir() / profile.name
    if given:
        write_text(profile_dir / REMEMBERED_DATA, dataset + "\n")
    write_json(
        profile_dir / "plan.json",
        {
            "profile": profile.name,
            "description": profile.description,
            # The dataset without the path it lies at on this machine: enough to keep the runs made from it.
            "data": data.spec.portable,
            "architectures": list(profile.architectures),
            "seeds": list(profile.seeds),
            "runs": [run.name for run in written],
        },
    )
    return written


def _remove_results(run: PlannedRun, data: PlannedData, retrain: bool, log: Callable[[str], None]) -> PlannedRun:
    """Remove an out-of-date run's summary.json under the run's lock (``locks``), judged again there:
    another process may have trained it since. The run as it then stands."""
    with run_lock(run.directory, REMOVING, log):
        stale, retraining, kept = _stale_reason(run.directory, run.config, data, retrain)
        if stale:
            (run.directory / "summary.json").unlink(missing_ok=True)
    return replace(run, stale_reason=stale, retraining=retraining, kept_reason=kept)


def stale_reason(directory: Path, config: RunConfig) -> str | None:
    """Why the run in ``directory`` must be trained for ``config`` now, as ``plan`` judges it; None when its
    record stands. For a process that waited while another trained the run (``execute``)."""
    return _stale_reason(directory, config, PlannedData(config.dataset_spec), retrain=False)[0]


def _leave_out_long_training(
    profile_name: str, planned: list[PlannedRun], log: Callable[[str], None]
) -> list[PlannedRun]:
    to_train = [run for run in planned if run.stale_reason]
    if not to_train:
        return planned
    override = os.environ.get(LONG_SECONDS_VARIABLE)
    limit = float(override) if override else LONG_TRAINING_SECONDS
    images = {run.name: run.config.epochs * images_used(run.config) for run in to_train}
    if not override and sum(images.values()) < LONG_CHECK_IMAGES:
        return planned
    from ..probe import measure_training_speed

    speeds: dict[str, float] = {}
    seconds = 0.0
    for run in to_train:
        key = run.config.replace(seed=0, output_dir="probe").to_json()
        if key not in speeds:
            speeds[key] = measure_training_speed(run.config)
        seconds += images[run.name] / speeds[key]
    if seconds <= limit:
        log(f"{profile_name}: about {duration(seconds)} of training on this machine for {len(to_train)} run(s)")
        return planned
    log(
        f"{profile_name}: not training {len(to_train)} run(s) ({', '.join(run.name for run in to_train)}): they would take "
        f"about {duration(seconds)} on this machine (measured just now), more than {duration(limit)}. "
        f"Run the same make command with LONG=1 to train them; the report is made from the runs that exist."
    )
    return [run for run in planned if not run.stale_reason]


def images_used(config: RunConfig, split: str = "train") -> int:
    """How many images of a split (train or test) ``config`` uses, counted without decoding anything."""
    per_class = images_per_class(config.dataset_spec, split)
    subset = config.train_per_class if split == "train" else config.test_per_class
    if subset:
        return sum(min(subset, count) for count in per_class)
    return sum(per_class)


def duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"
