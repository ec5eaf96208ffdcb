"""``compare.ipynb`` executed on a profile's runs and converted to a self-contained ``report.html``,
skipped when the report's inputs are unchanged since it was last rendered."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from ..errors import PipelineError
from ..files import write_text
from ..paths import COMPARE_NOTEBOOK, PACKAGE_DIR_REPORT, outputs_dir, shown
from ..provenance import TRAINING_CODE_VERSION
from .notebooks import execute_notebook

REPORT_FINGERPRINT = ".report-inputs"
# nbconvert's template loads require.js and MathJax from a CDN; the report uses neither (no widgets,
# no LaTeX), and dropping them keeps it self-contained and readable offline.
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>')


def render(profile_name: str, log: Callable[[str], None] = print) -> Path:
    """Execute ``compare.ipynb`` on a profile's runs and write the self-contained ``report.html``."""
    profile_dir = outputs_dir() / profile_name
    report = profile_dir / "report.html"
    fingerprint = report_inputs_fingerprint(profile_dir)
    stamp = profile_dir / REPORT_FINGERPRINT
    if report.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        log(f"{shown(report)} is up to date")
        return report
    import nbformat
    import papermill
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    executed = profile_dir / "compare.ipynb"
    partial = profile_dir / ".compare.partial.ipynb"
    try:
        execute_notebook(COMPARE_NOTEBOOK, partial, {"profile": profile_name, "outputs_dir": shown(outputs_dir())})
    except papermill.PapermillExecutionError as error:
        raise PipelineError(
            f"compare.ipynb failed for {profile_name}: {error.ename}: {error.evalue} (notebook: {partial})"
        ) from None
    os.replace(partial, executed)
    notebook = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(CoalesceStreamsPreprocessor(enabled=True), enabled=True)
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": f"{profile_name} report"}})
    write_text(report, _EXTERNAL_SCRIPT.sub("", html))
    write_text(stamp, fingerprint)
    log(f"wrote {shown(report)}")
    return report


def report_inputs_fingerprint(profile_dir: Path) -> str:
    """Everything the report reads: the runs' files, the plan, compare.ipynb and the report code.

    A complete run counts by its results; an incomplete one by its progress (the report lists it).
    Checkpoints are never committed, so a fresh clone of a published report finds it up to date.
    """
    digest = hashlib.sha256()
    # The report flags runs made by older training code, so the current version is one of its inputs.
    digest.update(f"training code version {TRAINING_CODE_VERSION}\n".encode())
    report_code = sorted(PACKAGE_DIR_REPORT.glob("*.py"))
    paths = [COMPARE_NOTEBOOK, *report_code, profile_dir / "plan.json"]
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
