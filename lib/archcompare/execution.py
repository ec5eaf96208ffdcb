"""How a run executes, as opposed to what it computes: none of these choices identifies a run.

- The step mode (``training.steps``): eager steps, or steps replayed from a CUDA graph, which
  replays the eager kernels. ``auto`` means eager everywhere until the captured steps have passed
  the GPU session's gate on a real GPU (``CAPTURE_BY_DEFAULT``; docs/gpu-sessions.md).
- The memory layout (``RunConfig.channels_last``): the same arithmetic in another order of
  memory. It is a config field, recorded with the run, but a run trained in either layout stays
  current and is reused as the same run.
- Per-epoch checkpoints: on by default; a lent GPU's session turns them off, since a run cannot
  span its sessions and a 190 MB checkpoint an epoch costs about 30 s of a ``full`` run.

One invocation chooses the step mode and the layout through the environment (``make ...
STEP_MODE=cuda-graph CHANNELS_LAST=0`` sets the variables below), which the planner writes into
each run's parameters; the profile's own values stand otherwise.
"""

from __future__ import annotations

import os

from .errors import PipelineError

STEP_MODES = ("auto", "eager", "cuda-graph")
# False until the GPU session's gate (tools/gpu_session.sh) has passed on a real GPU: captured steps
# have never run on one, so nobody trains with them without asking (STEP_MODE=cuda-graph).
CAPTURE_BY_DEFAULT = False
# RunConfig fields that choose how a run executes: recorded in its record, left out of its identity.
EXECUTION_FIELDS = ("channels_last",)

STEP_MODE_VARIABLE = "ARCHCOMPARE_STEP_MODE"  # make STEP_MODE=...
CHANNELS_LAST_VARIABLE = "ARCHCOMPARE_CHANNELS_LAST"  # make CHANNELS_LAST=1|0
EPOCH_CHECKPOINTS_VARIABLE = "ARCHCOMPARE_EPOCH_CHECKPOINTS"  # 0: none (tools/gpu_session.sh sets it)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def chosen_step_mode(mode: str, capturable: bool) -> str:
    """The steps a run takes for ``mode`` where capture is ``capturable`` (a CUDA device, fp32 or bf16, ...)."""
    if mode == "cuda-graph" or (mode == "auto" and capturable and CAPTURE_BY_DEFAULT):
        return "cuda-graph"
    return "eager"


def invocation_overrides() -> dict[str, object]:
    """The step mode and layout this invocation chose through the environment, validated; empty values are unset."""
    overrides: dict[str, object] = {}
    step_mode = os.environ.get(STEP_MODE_VARIABLE, "").strip()
    if step_mode:
        if step_mode not in STEP_MODES:
            raise PipelineError(f"STEP_MODE={step_mode!r} is not allowed: choose one of {', '.join(STEP_MODES)}")
        overrides["step_mode"] = step_mode
    layout = os.environ.get(CHANNELS_LAST_VARIABLE, "").strip().lower()
    if layout:
        if layout not in _TRUE + _FALSE:
            raise PipelineError(f"CHANNELS_LAST={layout!r} is not allowed: use 1 (channels_last) or 0 (default layout)")
        overrides["channels_last"] = layout in _TRUE
    return overrides


def epoch_checkpoints() -> bool:
    """Whether finished epochs are checkpointed: yes, unless the environment turns it off (a lent GPU's session)."""
    return os.environ.get(EPOCH_CHECKPOINTS_VARIABLE, "").strip().lower() not in _FALSE


def resume_hint() -> str:
    """What running the same command again does after an interruption, as the checkpoints allow."""
    if epoch_checkpoints():
        return "finished epochs are checkpointed, and running the same make command again resumes from them"
    return (
        f"per-epoch checkpoints are off ({EPOCH_CHECKPOINTS_VARIABLE}=0, as a lent GPU's session sets it), "
        "so running the same make command again starts the run from scratch"
    )
