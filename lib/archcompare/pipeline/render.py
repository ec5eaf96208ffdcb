"""``compare.ipynb`` executed on a profile's runs and converted to a self-contained ``report.html``,
skipped when the report's inputs are unchanged since it was last rendered."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import PipelineError
from ..files import write_text
from ..paths import (
    BENCH_DIR,
    COMPARE_NOTEBOOK,
    DATA_PENALTY_DIR,
    PACKAGE_DIR_REPORT,
    bench_results,
    data_penalty_results,
    outputs_dir,
    shown,
)
from ..provenance import TRAINING_CODE_VERSION
from .locks import RENDERING, profile_runs_locked
from .notebooks import execute_notebook

REPORT_FINGERPRINT = ".report-inputs"
# nbconvert's template loads require.js and MathJax from a CDN; the report uses neither (no widgets,
# no LaTeX), and dropping them keeps it self-contained and readable offline.
_EXTERNAL_SCRIPT = re.compile(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>')


def render(profile_name: str, log: Callable[[str], None] = print) -> Path:
    """Execute ``compare.ipynb`` on a profile's runs and write the self-contained ``report.html``.

    Holds the lock of each of the profile's runs (``locks``): it waits for runs that other processes
    are training, and no run is written while the report reads it.
    """
    profile_dir = outputs_dir() / profile_name
    with profile_runs_locked(profile_dir, RENDERING, log):
        return _render(profile_name, profile_dir, log)


def _render(profile_name: str, profile_dir: Path, log: Callable[[str], None]) -> Path:
    report = profile_dir / "report.html"
    fingerprint = report_inputs_fingerprint(profile_dir)
    stamp = profile_dir / REPORT_FINGERPRINT
    exports = (report, profile_dir / MARKDOWN_REPORT)
    if all(path.exists() for path in exports) and stamp.exists() and stamp.read_text() == fingerprint:
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
    write_text(report, _with_alt_texts(_EXTERNAL_SCRIPT.sub("", html), notebook))
    write_markdown_report(notebook, profile_dir)
    write_text(stamp, fingerprint)
    log(f"wrote {shown(report)}, {shown(profile_dir / MARKDOWN_REPORT)} and its figures")
    return report


MARKDOWN_REPORT = "report.md"  # GitHub renders it: the report without code, its figures beside it
FIGURES = "report-figures"


def _images(notebook) -> list[tuple[str, dict[str, Any]]]:
    """Every PNG the executed notebook shows, in order: (base64 data, its metadata)."""
    return [
        (output["data"]["image/png"], output.get("metadata", {}).get("image/png", {}))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def _with_alt_texts(html: str, notebook) -> str:
    """The figures' captions as their alt text (nbconvert's template leaves alt empty, then fills in a stub)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, features="html.parser")
    pictures = [img for img in soup.find_all("img") if img.get("src", "").startswith("data:image/png")]
    for img, (_, metadata) in zip(pictures, _images(notebook)):
        if metadata.get("alt"):
            img["alt"] = metadata["alt"]
    return str(soup)


def small_png(data: str) -> bytes:
    """A PNG as committed: reduced to a 256-colour palette, which plots survive unchanged to the eye."""
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
    buffer = io.BytesIO()
    image.quantize(256, method=Image.Quantize.MEDIANCUT).save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def write_markdown_report(notebook, profile_dir: Path) -> Path:
    """The executed notebook as Markdown without code: its text, its tables (their Markdown form) and its
    figures as PNG files with their captions as alt text; a named figure is also saved as ``<name>.png``."""
    figures = profile_dir / FIGURES
    shutil.rmtree(figures, ignore_errors=True)  # figures of an earlier render that no longer exist
    figures.mkdir(parents=True)
    parts, count = [], 0
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" in data:
                count += 1
                metadata = output.get("metadata", {}).get("image/png", {})
                png = small_png(data["image/png"])
                (figures / f"figure-{count}.png").write_bytes(png)
                if metadata.get("name"):
                    (profile_dir / f"{metadata['name']}.png").write_bytes(png)
                alt = " ".join(str(metadata.get("alt", f"Figure {count}")).split()).replace("]", ")").replace("[", "(")
                parts.append(f"![{alt}]({FIGURES}/figure-{count}.png)")
            elif "text/markdown" in data:
                parts.append(data["text/markdown"])
    path = profile_dir / MARKDOWN_REPORT
    header = (
        f"<!-- written by `make report PROFILE={profile_dir.name}` from compare.ipynb; report.html is the same "
        "report as one file -->"
    )
    write_text(path, "\n\n".join([header, *(part.strip() for part in parts if part.strip())]) + "\n")
    return path


def report_inputs_fingerprint(profile_dir: Path) -> str:
    """Everything the report reads: the runs' files, the plan, compare.ipynb, the report code (every module
    of ``report/`` and of its subpackages) and the results of `make bench` and `make penalty` it quotes.

    A complete run counts by its results; an incomplete one by its progress (the report lists it).
    Checkpoints are never committed, so a fresh clone of a published report finds it up to date.
    """
    digest = hashlib.sha256()
    # The report flags runs made by older training code, so the current version is one of its inputs.
    digest.update(f"training code version {TRAINING_CODE_VERSION}\n".encode())
    code = PACKAGE_DIR_REPORT
    inputs = [(f"{code.name}/{path.relative_to(code).as_posix()}", path) for path in sorted(code.rglob("*.py"))]
    outputs = profile_dir.parent
    quoted = [*bench_results(outputs / BENCH_DIR), *data_penalty_results(outputs / DATA_PENALTY_DIR)]
    paths = [COMPARE_NOTEBOOK, profile_dir / "plan.json", *quoted]
    runs = profile_dir / "runs"
    for directory in sorted(runs.iterdir()) if runs.is_dir() else []:
        complete = (directory / "summary.json").exists()
        names = ("summary.json", "history.csv", "predictions.npz", "reused.json") if complete else ("history.csv",)
        paths += [directory / name for name in names]
        digest.update(f"{directory.name}: complete={complete}, ".encode())
    inputs += [(f"{path.parent.name}/{path.name}", path) for path in paths]
    for name, path in inputs:
        digest.update(name.encode())
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()
