"""A profile: a YAML file naming architectures, seeds and any parameter of a run.

What a profile does not set keeps ``RunConfig``'s default, which is also ``train.ipynb``'s
parameters cell (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import RunConfig
from ..errors import PipelineError
from ..paths import RESERVED_OUTPUT_FOLDERS, profiles_dir

PROFILE_KEYS = ("description", "architectures", "seeds", "parameters")
# Config fields the pipeline sets for each run: a profile chooses them through `architectures` and
# `seeds`, or not at all.
SET_PER_RUN = ("arch", "seed", "output_dir", "data_dir")
# Notebook parameters that change how a run executes, not what it computes, which a profile may set.
EXECUTION_PARAMETERS = {"step_mode": "auto"}


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    architectures: tuple[str, ...]
    seeds: tuple[int, ...]
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def run_names(self) -> list[str]:
        return [f"{arch}-seed{seed}" for arch in self.architectures for seed in self.seeds]


def profile_path(name: str) -> Path:
    directory = profiles_dir()
    path = directory / f"{name}.yaml"
    if name in RESERVED_OUTPUT_FOLDERS:
        raise PipelineError(
            f"a profile cannot be named {name!r}: that folder of the outputs holds the results of `make bench` "
            f"or `make penalty`, which it would share; rename {path}"
        )
    if not name or "/" in name or not path.is_file():
        available = ", ".join(sorted(p.stem for p in directory.glob("*.yaml")))
        raise PipelineError(f"unknown profile {name!r}: choose one of {available} (files in {directory})")
    return path


def load_profile(name: str) -> Profile:
    path = profile_path(name)
    try:
        profile = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where else ""
        raise PipelineError(f"profile {path} is not valid YAML{line}: {getattr(error, 'problem', error)}") from None
    if not isinstance(profile, dict):
        raise PipelineError(f"profile {path} must be a mapping with keys {', '.join(PROFILE_KEYS)}")
    unknown = sorted(set(profile) - set(PROFILE_KEYS))
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
    allowed = sorted((set(RunConfig.field_names()) - set(SET_PER_RUN)) | set(EXECUTION_PARAMETERS))
    for key in parameters:
        if key not in allowed:
            raise PipelineError(
                f"profile {path} sets unknown parameter {key!r}: allowed parameters are {', '.join(allowed)}"
            )
    return Profile(
        name=name,
        path=path,
        architectures=tuple(profile["architectures"]),
        seeds=tuple(profile["seeds"]),
        description=profile.get("description") or "",
        parameters=parameters,
    )
