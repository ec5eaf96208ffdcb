"""Running the project's notebooks through papermill, and reading their parameters cells."""

from __future__ import annotations

import ast
import json
import logging
import sys
from pathlib import Path
from typing import Any

from ..paths import KERNEL_NAME, ROOT


def notebook_parameters(notebook: Path) -> dict[str, Any]:
    """The literal values of the cell tagged ``parameters``."""
    cells = json.loads(notebook.read_text())["cells"]
    cell = next(c for c in cells if "parameters" in c.get("metadata", {}).get("tags", []))
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    return {
        statement.targets[0].id: ast.literal_eval(statement.value)
        for statement in ast.parse(source).body
        if isinstance(statement, ast.Assign)
    }


def execute_notebook(template: Path, output: Path, parameters: dict[str, Any], log_output: bool = False) -> None:
    """papermill with the project's kernel, from the repository's root (where planned paths are relative to)."""
    import papermill

    show_papermill_log()
    papermill.execute_notebook(
        str(template),
        str(output),
        parameters=parameters,
        kernel_name=KERNEL_NAME,
        cwd=str(ROOT),
        progress_bar=False,
        log_output=log_output,
    )


# papermill's own bookkeeping lines, and a figure's text form ("<Figure size ...>"), which says nothing on a terminal
_PAPERMILL_CHATTER = (
    "Input Notebook",
    "Output Notebook",
    "Working directory",
    "Executing",
    "Ending Cell",
    "<Figure size",
)


def show_papermill_log() -> None:
    """papermill logs the kernel's output at INFO: show that, so each epoch's line reaches the terminal."""
    logger = logging.getLogger("papermill")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)  # stderr stays for the one-line errors
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler.addFilter(lambda record: not str(record.msg).startswith(_PAPERMILL_CHATTER))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
