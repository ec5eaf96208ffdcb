"""Training one run: ``run`` (everything before the first step), ``step``, ``evaluate``,
``checkpoint``, ``schedule``, ``device``, and ``loop`` (``train``: one config in, one run directory out)."""

from .checkpoint import restore_checkpoint, save_checkpoint
from .device import autocast, resolve_device, resolve_precision
from .evaluate import Evaluation, evaluate
from .loop import HISTORY_COLUMNS, train
from .run import Run, epoch_batches, prepare_run
from .schedule import lr_factor
from .step import train_step

__all__ = [
    "HISTORY_COLUMNS",
    "Evaluation",
    "Run",
    "autocast",
    "epoch_batches",
    "evaluate",
    "lr_factor",
    "prepare_run",
    "resolve_device",
    "resolve_precision",
    "restore_checkpoint",
    "save_checkpoint",
    "train",
    "train_step",
]
