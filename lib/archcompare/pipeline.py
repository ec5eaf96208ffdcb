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
from collections.abc import Callable
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


def profiles_dir() -> Path:
    """Where profiles live; ``ARCHCOMPARE_PROFILES`` points elsewhere (tests use it)."""
    return Path(os.environ.get("ARCHCOMPARE_PROFILES") or NOTEBOOKS / "profiles")


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


def plan(profile_name: str, data: str | None = None, log: Callable[[str], None] = print) -> list[PlannedRun]:
    """Validate a profile (and DATA) and decide which of its runs must be (re)trained."""
    profile = load_profile(profile_name)
    profile_dir = outputs_dir() / profile_name
    defaults = notebook_defaults()
    dataset = _choose_dataset(profile, profile_dir, data, log)
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
                "data_dir": "data",
                "output_dir": shown(directory),
                "resume": True,
                "progress": "lines",
            }
            config_values = {key: parameters[key] for key in RunConfig.field_names()}
            try:
                config = RunConfig.from_dict(config_values)
            except ConfigError as error:
                raise PipelineError(f"profile {profile_name!r}, run {name}: {error}") from None
            stale = _stale_reason(directory, config, code, notebook)
            planned.append(PlannedRun(name, directory, parameters, config, stale))

    if any(run.stale_reason for run in planned):
        _check_data_before_training(dataset)
    try:
        _write_plan(profile_name, profile, dataset, planned, log)
    except OSError as error:
        raise PipelineError(
            f"cannot write the outputs of {profile_name!r} under {profile_dir}: {error.strerror or error}"
        ) from None
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
            log(f"{profile_name}/{run.name}: up to date")
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


def _stale_reason(directory: Path, config: RunConfig, code: str, notebook: str) -> str | None:
    summary_path = directory / "summary.json"
    if not summary_path.exists():
        checkpoint = directory / "checkpoint.pt"
        return "to train (will resume from its checkpoint)" if checkpoint.exists() else "to train"
    summary = json.loads(summary_path.read_text())
    stored = summary.get("config", {})
    changed = config.differences(stored)
    if changed:
        return f"out of date, settings changed ({', '.join(changed)}): will retrain"
    if summary.get("env", {}).get("code_fingerprint") != code:
        return "out of date, the training code changed: will retrain"
    executed = directory / "train.ipynb"
    if not executed.exists() or notebook_source_hash(executed) != notebook:
        return "out of date, notebooks/train.ipynb changed: will retrain"
    return None


def _check_data_before_training(dataset: str) -> None:
    """Fail early, in one line, on an imagefolder that cannot work (before any run starts)."""
    from .data import _imagefolder_files, check_dataset_spec

    try:
        check_dataset_spec(dataset)
    except ConfigError as error:
        raise PipelineError(f"DATA: {error}") from None
    if dataset.startswith("imagefolder:"):
        _imagefolder_files(Path(dataset.partition(":")[2]).expanduser())


def execute_run(directory: Path) -> None:
    """Execute ``train.ipynb`` for one planned run; the executed notebook lands only on success."""
    import papermill
    from nbclient.exceptions import DeadKernelError

    directory = Path(directory)
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
    paths = [NOTEBOOKS / "compare.ipynb", Path(__file__).with_name("report.py"), profile_dir / "plan.json"]
    runs = profile_dir / "runs"
    for directory in sorted(runs.iterdir()) if runs.is_dir() else []:
        complete = (directory / "summary.json").exists()
        names = ("summary.json", "history.csv", "predictions.npz") if complete else ("history.csv",)
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


README_PROFILE = "quick"  # the profile whose report the README publishes


def readme_blocks() -> dict[str, str]:
    """The README's generated blocks, from the committed results: name -> Markdown."""
    from .report import load_runs, readme_headline

    blocks = {}
    runs = outputs_dir() / README_PROFILE
    if (runs / "runs").is_dir():
        blocks["headline"] = readme_headline(load_runs(runs))
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
