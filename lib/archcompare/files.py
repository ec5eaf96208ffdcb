"""Writing artifacts: a file is written to a temporary name in its own directory and renamed into
place, so a reader (or a crash) never meets half of one."""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomic(path: str | os.PathLike, write: Callable[[Any], None], binary: bool = False) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600 files; give them the usual mode
    try:
        with os.fdopen(handle, "wb" if binary else "w") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> None:
    write_atomic(path, lambda file: file.write(text))


def write_json(path: str | os.PathLike, value: Any) -> None:
    write_atomic(path, lambda file: json.dump(value, file, indent=2, sort_keys=True, default=_json_default))


@functools.cache
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")
