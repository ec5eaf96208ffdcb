"""The steps ``make report`` drives: plan a profile's runs, execute one run, render the report.

Make decides *what* to build by file existence; this module decides *whether a file is still
valid*, by content rather than modification times (a fresh clone has arbitrary mtimes):

- ``plan`` validates the profile and DATA, writes each run's ``params.yaml`` and the profile's
  ``plan.json``, and removes the ``summary.json`` of every run that is out of date (its config,
  the training code or ``train.ipynb`` changed), so Make retrains exactly those.
- ``execute_run`` runs ``train.ipynb`` through papermill for one run directory.
- ``render`` executes ``compare.ipynb`` and converts it to ``report.html``, skipping both when
  the report's inputs are unchanged since it was last rendered.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import ArchCompareError, ConfigError, RunConfig
from .provenance import code_fingerprint, write_atomic, write_json

ROOT = Path(__file__).resolve().parents[2]  # the repository: the package is installed editable
NOTEBOOKS = ROOT / "notebooks"
KERNEL_NAME = "archcompare"  # registered by `make install`
PROFILE_KEYS = {"description", "architectures", "seeds", "parameters"}
# Notebook parameters the pipeline sets for each run; a profile chooses them through
# `architectures` and `seeds`, or not at all.
PIPELINE_PARAMETERS = {"arch", "seed", "output_dir", "data_dir", "resume", "progress"}
REPORT_FINGERPRINT = ".report-inputs"
# nbconvert's template loads require.js and MathJax from a CDN; the report uses neither (no widgets,
# no LaTeX), and dropping them keeps it self-contained and readable offline.
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>')


class PipelineError(ArchCompareError):
    """A profile, a DATA value or a step of the pipeline is wrong."""


@dataclass(frozen=True)
class PlannedRun:
    name: str
    directory: Path
    parameters: dict[str, Any]
    config: RunConfig
    stale_reason: str | None  # None when the existing results are up to date
    kept_reason: str | None = None  # why a run not retrained counts as older code (kept, flagged)


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


def profile_path(name: str) -> Path:
    directory = profiles_dir()
    path = directory / f"{name}.yaml"
    if not name or "/" in name or not path.is_file():
        available = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise PipelineError(f"unknown profile {name!r}: choose one of {available} (files in {directory})")
    return path


def load_profile(name: str) -> dict[str, Any]:
    path = profile_path(name)
    try:
        profile = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise PipelineError(f"profile {path} is not valid YAML{line}: {getattr(error, 'problem', error)}") from None
    if not isinstance(profile, dict):
        raise PipelineError(f"profile {path} must be a mapping with keys {', '.join(sorted(PROFILE_KEYS))}")
    unknown = sorted(set(profile) - PROFILE_KEYS)
    if unknown:
        raise PipelineError(
            f"profile {path}: unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(PROFILE_KEYS))}"
        )
    for key in ("architectures", "seeds"):
        if not isinstance(profile.get(key), list) or not profile[key]:
            raise PipelineError(f"profile {path}: {key!r} must be a non-empty list")
    parameters = profile.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise PipelineError(f"profile {path}: 'parameters' must be a mapping of notebook parameters")
    allowed = set(notebook_defaults()) - PIPELINE_PARAMETERS
    for key in parameters:
        if key not in allowed:
            raise PipelineError(
                f"profile {path} sets unknown parameter {key!r}: allowed parameters are {', '.join(sorted(allowed))}"
            )
    profile["parameters"] = parameters
    return profile


def notebook_defaults(notebook: Path = NOTEBOOKS / "train.ipynb") -> dict[str, Any]:
    """The values of the cell tagged ``parameters``: the single source of the defaults."""
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return {
        statement.targets[0].id: ast.literal_eval(statement.value)
        for statement in ast.parse(source).body
        if isinstance(statement, ast.Assign)
    }


def notebook_source_hash(path: Path) -> str:
    """Hash of a notebook's cell sources, ignoring outputs and papermill's injected parameters."""
    cells = json.loads(path.read_text())["cells"]
    digest = hashlib.sha256()
    for cell in cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell["source"]
        digest.update(("".join(source) if isinstance(source, list) else source).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def plan(
    profile_name: str,
    data: str | None = None,
    log: Callable[[str], None] = print,
    retrain: bool = False,
    allow_long: bool = False,
) -> list[PlannedRun]:
    """Validate a profile (and DATA) and decide which of its runs must be (re)trained.

    Runs made by an older version of the training code are kept (the report flags them) unless
    ``retrain``: an expensive GPU run is not thrown away by a later code change. Missing runs that
    would take longer than ``LONG_TRAINING_SECONDS`` on this machine are not trained unless
    ``allow_long``; the returned plan then leaves them out, so the report renders from what exists.
    """
    profile = load_profile(profile_name)
    profile_dir = outputs_dir() / profile_name
    defaults = notebook_defaults()
    dataset = _choose_dataset(profile, profile_dir, data, log)
    identity = DatasetIdentity(dataset)
    code = code_fingerprint()
    notebook = notebook_source_hash(NOTEBOOKS / "train.ipynb")
    planned = []
    for arch in profile["architectures"]:
        for seed in profile["seeds"]:
            name = f"{arch}-seed{seed}"
            directory = profile_dir / "runs" / name
            parameters = {
                **defaults,
                **profile["parameters"],
                "arch": arch,
                "seed": seed,
                "dataset": dataset,
                "data_dir": shown(data_dir()),
                "output_dir": shown(directory),
                "resume": True,
                "progress": "lines",
            }
            config_values = {key: parameters[key] for key in RunConfig.field_names()}
            try:
                config = RunConfig.from_dict(config_values)
            except ConfigError as error:
                raise PipelineError(f"profile {profile_name!r}, run {name}: {error}") from None
            stale, kept = _stale_reason(directory, config, code, notebook, retrain, identity)
            planned.append(PlannedRun(name, directory, parameters, config, stale, kept))

    if any(run.stale_reason for run in planned):
        _check_data_before_training(dataset)
        reuse_identical_runs(planned, profile_name, code, notebook, log)
    try:
        _write_plan(profile_name, profile, dataset, planned, log)
    except OSError as error:
        raise PipelineError(
            f"cannot write the outputs of {profile_name!r} under {profile_dir}: {error.strerror or error}"
        ) from None
    if not allow_long:
        planned = _leave_out_long_training(profile_name, planned, log)
    return planned


def _write_plan(profile_name: str, profile: dict, dataset: str, planned: list[PlannedRun], log) -> None:
    for run in planned:
        run.directory.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(run.parameters, sort_keys=True)
        params_file = run.directory / "params.yaml"
        if not params_file.exists() or params_file.read_text() != text:
            write_atomic(params_file, lambda f, text=text: f.write(text))
        if run.stale_reason:
            (run.directory / "summary.json").unlink(missing_ok=True)
            log(f"{profile_name}/{run.name}: {run.stale_reason}")
        else:
            kept = f"kept, {run.kept_reason} (RETRAIN=1 retrains it)" if run.kept_reason else "up to date"
            log(f"{profile_name}/{run.name}: {kept}")
    write_json(
        outputs_dir() / profile_name / "plan.json",
        {
            "profile": profile_name,
            "description": profile.get("description", ""),
            "data": dataset,
            "architectures": profile["architectures"],
            "seeds": profile["seeds"],
            "runs": [run.name for run in planned],
        },
    )


def _choose_dataset(profile: dict, profile_dir: Path, data: str | None, log: Callable[[str], None]) -> str:
    """DATA when given; else the dataset the profile's existing runs used; else the profile's own."""
    if data:
        return data
    previous = profile_dir / "plan.json"
    if previous.exists():
        used = json.loads(previous.read_text()).get("data")
        if used:
            log(f"DATA not given: using {used}, as the existing runs of this profile did (pass DATA=... to change)")
            return used
    return profile["parameters"].get("dataset") or notebook_defaults()["dataset"]


class DatasetIdentity:
    """Whether a stored run used the planned dataset, judged by content for ``imagefolder:`` data.

    The same images at another path (another machine, a moved folder) are the same dataset; the
    planned folder's fingerprint is computed only when a stored run names another path (from the
    decoded-image cache when it is there).
    """

    def __init__(self, spec: str):
        self.spec = spec
        self._fingerprint: str | None = None

    def same(self, stored_spec: str, stored_fingerprint: str | None) -> bool:
        if stored_spec == self.spec:
            return True
        if not (stored_spec.startswith("imagefolder:") and self.spec.startswith("imagefolder:")):
            return False
        if self._fingerprint is None:
            from .data import load_dataset

            self._fingerprint = load_dataset(self.spec, data_dir(), log=lambda message: None).fingerprint
        return stored_fingerprint == self._fingerprint


def _stale_reason(
    directory: Path, config: RunConfig, code: str, notebook: str, retrain: bool, identity: DatasetIdentity
) -> tuple[str | None, str | None]:
    """Why the run must be (re)trained, or None; and why a run that is kept counts as older code, or None."""
    summary_path = directory / "summary.json"
    if not summary_path.exists():
        checkpoint = directory / "checkpoint.pt"
        return ("to train (will resume from its checkpoint)" if checkpoint.exists() else "to train"), None
    summary = json.loads(summary_path.read_text())
    stored = summary.get("config", {})
    changed = config.differences(stored)
    if "dataset" in changed and identity.same(
        stored.get("dataset", ""), summary.get("env", {}).get("dataset_fingerprint")
    ):
        changed.remove("dataset")  # the same images at another path
    if changed:
        return f"out of date, settings changed ({', '.join(changed)}): will retrain", None
    older = older_code_reason(directory, summary, code, notebook)
    if older and retrain:
        return f"{older}: RETRAIN=1, will retrain", None
    return None, older


def current_code() -> tuple[str, str]:
    """The training code's fingerprint and train.ipynb's source hash, as runs record and plans compare them."""
    return code_fingerprint(), notebook_source_hash(NOTEBOOKS / "train.ipynb")


def older_code_reason(directory: Path, summary: dict, code: str, notebook: str) -> str | None:
    """Why a complete run counts as made by an older version of the training code, or None."""
    trained_with = summary.get("env", {}).get("code_fingerprint")
    if trained_with != code:
        return f"trained by an older version of the training code (fingerprint {trained_with}, now {code})"
    executed = directory / "train.ipynb"  # absent for runs trained without Jupyter
    if executed.exists() and notebook_source_hash(executed) != notebook:
        return "trained with an older notebooks/train.ipynb"
    return None


def reuse_identical_runs(
    planned: list[PlannedRun], profile_name: str, code: str, notebook: str, log: Callable[[str], None]
) -> None:
    """Fill runs to be trained from identical complete runs of other profiles, in place.

    Identical means the same settings and data (locations aside), the same training code and the
    same train.ipynb: what would be trained again is already there. The copy records where it came
    from in ``reused.json``, which the report shows.
    """
    candidates = None
    for index, run in enumerate(planned):
        if not run.stale_reason or (run.directory / "checkpoint.pt").exists():
            continue
        if candidates is None:
            candidates = _complete_runs_elsewhere(profile_name)
        for source, summary in candidates:
            same_data = (
                summary["env"].get("dataset_fingerprint") and summary["config"].get("dataset") == run.config.dataset
            )
            if (
                not run.config.differences(summary["config"])
                and same_data
                and summary["env"].get("code_fingerprint") == code
                and older_code_reason(source, summary, code, notebook) is None
            ):
                _copy_run(source, run.directory)
                origin = shown(source)
                log(f"{profile_name}/{run.name}: identical to {origin}, reused instead of trained")
                planned[index] = PlannedRun(run.name, run.directory, run.parameters, run.config, None)
                break


def _complete_runs_elsewhere(profile_name: str) -> list[tuple[Path, dict]]:
    found = []
    for summary_path in sorted(outputs_dir().glob("*/runs/*/summary.json")):
        if summary_path.parents[2].name == profile_name or (summary_path.parent / "reused.json").exists():
            continue
        try:
            found.append((summary_path.parent, json.loads(summary_path.read_text())))
        except (OSError, ValueError):
            continue
    return found


RUN_FILES = ("train.ipynb", "history.csv", "predictions.npz", "summary.json")  # summary.json last: it marks completion


def _copy_run(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    write_json(target / "reused.json", {"from": shown(source), "profile": source.parents[1].name, "run": source.name})
    for name in RUN_FILES:
        data = (source / name).read_bytes()
        write_atomic(target / name, lambda f, data=data: f.write(data), binary=True)


# Missing runs expected to take longer than this on this machine are not trained without LONG=1.
LONG_TRAINING_SECONDS = 2 * 3600
LONG_CHECK_IMAGES = 100_000  # below this many training images in all, no speed probe is needed
LONG_SECONDS_VARIABLE = "ARCHCOMPARE_LONG_SECONDS"  # overrides LONG_TRAINING_SECONDS (and always probes)


def _leave_out_long_training(
    profile_name: str, planned: list[PlannedRun], log: Callable[[str], None]
) -> list[PlannedRun]:
    to_train = [run for run in planned if run.stale_reason]
    if not to_train:
        return planned
    override = os.environ.get(LONG_SECONDS_VARIABLE)
    limit = float(override) if override else LONG_TRAINING_SECONDS
    images = {run.name: run.config.epochs * training_images(run.config) for run in to_train}
    if not override and sum(images.values()) < LONG_CHECK_IMAGES:
        return planned
    from .bench import measure_training_speed

    speeds: dict[str, float] = {}
    for run in to_train:
        key = run.config.replace(seed=0, output_dir="probe").to_json()
        if key not in speeds:
            speeds[key] = measure_training_speed(run.config)
        run_speed = speeds[key]
        images[run.name] /= run_speed
    seconds = sum(images.values())
    if seconds <= limit:
        log(f"{profile_name}: about {_duration(seconds)} of training on this machine for {len(to_train)} run(s)")
        return planned
    log(
        f"{profile_name}: not training {len(to_train)} run(s) ({', '.join(run.name for run in to_train)}): they would take "
        f"about {_duration(seconds)} on this machine (measured just now), more than {_duration(limit)}. "
        f"Run the same make command with LONG=1 to train them; the report is made from the runs that exist."
    )
    return [run for run in planned if not run.stale_reason]


def training_images(config: RunConfig) -> int:
    """How many training images one epoch of ``config`` sees, counted without decoding anything."""
    per_class = _training_images_per_class(config.dataset)
    if config.train_per_class:
        return sum(min(config.train_per_class, count) for count in per_class)
    return sum(per_class)


_CIFAR_TRAINING_IMAGES_PER_CLASS = {"cifar10": [5000] * 10, "cifar100": [500] * 100}


def _training_images_per_class(spec: str) -> list[int]:
    if spec in _CIFAR_TRAINING_IMAGES_PER_CLASS:
        return _CIFAR_TRAINING_IMAGES_PER_CLASS[spec]
    from collections import Counter

    from .data import _imagefolder_files

    files = _imagefolder_files(Path(spec.partition(":")[2]).expanduser())
    return list(Counter(Path(f.path).parent.name for f in files if Path(f.path).parent.parent.name == "train").values())


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


def _check_data_before_training(dataset: str) -> None:
    """Fail early, in one line, on an imagefolder that cannot work (before any run starts)."""
    from .data import _imagefolder_files, check_dataset_spec

    try:
        check_dataset_spec(dataset)
    except ConfigError as error:
        raise PipelineError(f"DATA: {error}") from None
    if dataset.startswith("imagefolder:"):
        _imagefolder_files(Path(dataset.partition(":")[2]).expanduser())


GPUS_VARIABLE = "ARCHCOMPARE_GPUS"  # make GPUS=0,1,...: the GPU ids runs may be pinned to, one run per id


@contextmanager
def gpu_slot() -> Iterator[str | None]:
    """Hold one of the GPUs listed in ``ARCHCOMPARE_GPUS`` for as long as a run takes.

    ``make -jN GPUS=0,1`` starts up to N runs; each takes the first id no other run holds (an
    exclusive lock on a file per id, released when its process ends, also when it is killed) and
    waits while every id is taken. The run's kernel inherits ``CUDA_VISIBLE_DEVICES`` set to it.
    """
    ids = [gpu.strip() for gpu in os.environ.get(GPUS_VARIABLE, "").split(",") if gpu.strip()]
    if not ids:
        yield None
        return
    import fcntl
    import time

    locks = outputs_dir() / ".gpu-slots"
    locks.mkdir(parents=True, exist_ok=True)
    while True:
        for gpu in ids:
            handle = open(locks / re.sub(r"[^\w.-]", "_", gpu), "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            previous = os.environ.get("CUDA_VISIBLE_DEVICES")
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu
            try:
                yield gpu
            finally:
                if previous is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = previous
                handle.close()  # releases the lock
            return
        time.sleep(1)


def train_without_jupyter(directory: Path) -> None:
    """Train one planned run directory in this process: the same files as ``execute_run`` but the notebook.

    For cluster workers and schedulers without Jupyter; the report marks runs trained this way.
    """
    from .training import train

    directory = Path(directory)
    parameters = yaml.safe_load((directory / "params.yaml").read_text())
    config = RunConfig.from_dict({key: parameters[key] for key in RunConfig.field_names()})
    os.environ["ARCHCOMPARE_TRAINED_BY"] = "archcompare.cli train (no notebook)"
    os.chdir(ROOT)  # the planned paths are relative to the repository, as papermill's cwd makes them
    with gpu_slot():
        summary = train(config, resume=parameters["resume"], progress=parameters["progress"])
    print(
        f"{summary['arch']}, seed {summary['seed']}: test accuracy {summary['test_acc']:.2%}, "
        f"{summary['seconds_per_epoch']:.1f} s per epoch"
    )


def execute_run(directory: Path) -> None:
    """Execute ``train.ipynb`` for one planned run; the executed notebook lands only on success."""
    with gpu_slot():
        _execute_notebook(Path(directory))


def _execute_notebook(directory: Path) -> None:
    import papermill
    from nbclient.exceptions import DeadKernelError

    os.environ["ARCHCOMPARE_TRAINED_BY"] = "train.ipynb through papermill"
    parameters = yaml.safe_load((directory / "params.yaml").read_text())
    partial = directory / ".train.partial.ipynb"
    failed = directory / "train.failed.ipynb"
    failed.unlink(missing_ok=True)
    _show_papermill_log()
    try:
        papermill.execute_notebook(
            str(NOTEBOOKS / "train.ipynb"),
            str(partial),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            cwd=str(ROOT),
            progress_bar=False,
            log_output=True,
        )
    except BaseException as error:
        if partial.exists():
            os.replace(partial, failed)
        if isinstance(error, papermill.PapermillExecutionError):
            raise PipelineError(
                f"run {directory.name} failed: {error.ename}: {error.evalue} (notebook: {failed})"
            ) from None
        if isinstance(error, DeadKernelError):
            raise PipelineError(
                f"run {directory.name}: its Jupyter kernel died before the run finished (killed, or out of memory); "
                "finished epochs are checkpointed, and running the same make command again resumes from them"
            ) from None
        raise
    os.replace(partial, directory / "train.ipynb")
    if not (directory / "summary.json").exists():
        raise PipelineError(f"run {directory.name} finished without writing summary.json")


def render(profile_name: str, log: Callable[[str], None] = print) -> Path:
    """Execute ``compare.ipynb`` on a profile's runs and write the self-contained ``report.html``."""
    profile_dir = outputs_dir() / profile_name
    report = profile_dir / "report.html"
    fingerprint = _report_inputs_fingerprint(profile_dir)
    stamp = profile_dir / REPORT_FINGERPRINT
    if report.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        log(f"{shown(report)} is up to date")
        return report
    import nbformat
    import papermill
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    _show_papermill_log()
    executed = profile_dir / "compare.ipynb"
    partial = profile_dir / ".compare.partial.ipynb"
    try:
        papermill.execute_notebook(
            str(NOTEBOOKS / "compare.ipynb"),
            str(partial),
            parameters={"profile": profile_name, "outputs_dir": shown(outputs_dir())},
            kernel_name=KERNEL_NAME,
            cwd=str(ROOT),
            progress_bar=False,
        )
    except papermill.PapermillExecutionError as error:
        raise PipelineError(
            f"compare.ipynb failed for {profile_name}: {error.ename}: {error.evalue} (notebook: {partial})"
        ) from None
    os.replace(partial, executed)
    notebook = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(CoalesceStreamsPreprocessor(enabled=True), enabled=True)
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": f"{profile_name} report"}})
    html = _EXTERNAL_SCRIPT.sub("", html)
    write_atomic(report, lambda f: f.write(html))
    write_atomic(stamp, lambda f: f.write(fingerprint))
    log(f"wrote {shown(report)}")
    return report


def _report_inputs_fingerprint(profile_dir: Path) -> str:
    """Everything the report reads: the runs' files, the plan, compare.ipynb and the report code.

    A complete run counts by its results; an incomplete one by its progress (the report lists it).
    Checkpoints are never committed, so a fresh clone of a published report finds it up to date.
    """
    digest = hashlib.sha256()
    # The report flags runs made by older training code, so the current code is one of its inputs.
    digest.update(f"{code_fingerprint()} {notebook_source_hash(NOTEBOOKS / 'train.ipynb')}\n".encode())
    report_code = sorted(Path(__file__).with_name("report").glob("*.py"))
    paths = [NOTEBOOKS / "compare.ipynb", *report_code, profile_dir / "plan.json"]
    runs = profile_dir / "runs"
    for directory in sorted(runs.iterdir()) if runs.is_dir() else []:
        complete = (directory / "summary.json").exists()
        names = ("summary.json", "history.csv", "predictions.npz", "reused.json") if complete else ("history.csv",)
        paths += [directory / name for name in names]
        digest.update(f"{directory.name}: complete={complete}, ".encode())
    for path in paths:
        digest.update(f"{path.parent.name}/{path.name}".encode())
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


# papermill's own bookkeeping lines, and a figure's text form ("<Figure size ...>"), which says nothing on a terminal
_PAPERMILL_CHATTER = (
    "Input Notebook",
    "Output Notebook",
    "Working directory",
    "Executing",
    "Ending Cell",
    "<Figure size",
)


def _show_papermill_log() -> None:
    """papermill logs the kernel's output at INFO: show that, so each epoch's line reaches the terminal."""
    logger = logging.getLogger("papermill")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)  # stderr stays for the one-line errors
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(lambda record: not str(record.msg).startswith(_PAPERMILL_CHATTER))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


README_PROFILES = {"headline": "full", "headline-quick": "quick"}  # the README's result blocks and their profiles


def readme_blocks() -> dict[str, str]:
    """The README's generated blocks, from the committed results: name -> Markdown."""
    from .report import load_runs, readme_headline

    blocks = {}
    for name, profile in README_PROFILES.items():
        runs = outputs_dir() / profile
        if (runs / "runs").is_dir():
            blocks[name] = readme_headline(load_runs(runs))
    tables = [outputs_dir() / "bench" / f"bench-{device}.md" for device in ("cpu", "cuda")]
    if any(table.exists() for table in tables):
        blocks["bench"] = "\n".join(table.read_text() for table in tables if table.exists())
    return blocks


def readme_block_pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}:start[^>]*-->\n)(.*?)(<!-- {name}:end -->)", re.DOTALL)


def update_readme(path: Path = ROOT / "README.md") -> None:
    """Rewrite the README's generated blocks so its numbers are the committed results'."""
    text = path.read_text()
    for name, block in readme_blocks().items():
        text = readme_block_pattern(name).sub(lambda m, block=block: m.group(1) + block + m.group(3), text)
    write_atomic(path, lambda f: f.write(text))
