"""Checkpoints after every epoch (and inside long ones): what a resumed run needs to compute what an uninterrupted one does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..files import write_atomic
from ..provenance import TRAINING_CODE_VERSION, legacy_code_version
from .run import EpochProgress, Run


def save_checkpoint(run: Run, path: Path, progress: EpochProgress | None = None) -> None:
    """The run after its last finished epoch, or with ``progress``, after that many steps of the next."""
    state = {
        "config": run.config.to_dict(),
        "code_version": TRAINING_CODE_VERSION,
        "data_fingerprint": run.dataset.fingerprint,
        "epoch": len(run.history),
        "history": run.history,
        "step_modes": run.step_modes,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            # Inside an epoch: the state the epoch began with, so the resumed run redraws its order.
            "generator": progress.generator_state if progress is not None else run.generator.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if run.device.type == "cuda" else [],
        },
    }
    if progress is not None:
        state["epoch_progress"] = {
            "epoch": progress.epoch,
            "steps_done": progress.steps_done,
            "totals": list(progress.totals),
            "seconds": progress.seconds,
        }
    write_atomic(path, lambda f: torch.save(state, f), binary=True)


def restore_checkpoint(run: Run, path: Path, log: Callable[[str], None]) -> bool:
    """Load ``path`` into ``run``; False (and a message) when it belongs to another run."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is damaged ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
            f"delete it to restart this run from scratch: rm {path}"
        ) from None
    changed = run.config.differences(state["config"])
    # Checkpoints written before the data fingerprint was stored name their dataset by its spec.
    same_data = state.get("data_fingerprint", None) == run.dataset.fingerprint or (
        "data_fingerprint" not in state and state["config"].get("dataset") == run.config.dataset
    )
    if not same_data:
        changed.append("dataset")
    if changed:
        log(f"checkpoint {path} was made with other settings ({', '.join(changed)}); starting from scratch")
        return False
    version = state.get("code_version", legacy_code_version(state.get("code_fingerprint")))
    if version != TRAINING_CODE_VERSION:
        log(f"checkpoint {path} was made by another version of the training code; starting from scratch")
        return False
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"]["torch"])
    run.generator.set_state(state["rng"]["generator"])
    if state["rng"]["cuda"] and run.device.type == "cuda":
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    run.history = list(state["history"])
    run.step_modes = list(state.get("step_modes", ["eager"]))
    run.resumed_from_epoch = state["epoch"]
    inside = state.get("epoch_progress")
    if inside is not None:
        run.epoch_progress = EpochProgress(
            inside["epoch"], inside["steps_done"], run.generator.get_state(), tuple(inside["totals"]), inside["seconds"]
        )
    return True
