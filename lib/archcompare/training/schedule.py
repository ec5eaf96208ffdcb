"""The learning-rate schedule, as a plain function of the step, and the optimizer."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..config import RunConfig

# OneCycle follows torch.optim.lr_scheduler.OneCycleLR with its defaults (Smith & Topin 2017):
# cosine rise over 30 % of the steps from lr/25 to lr, cosine fall to lr/25e4, reached at the last
# step. One difference: momentum stays at the configured value (OneCycleLR's cycle_momentum=False),
# so a profile's `momentum` means the same under every schedule.
ONECYCLE_RISE_FRACTION = 0.3  # OneCycleLR's pct_start
ONECYCLE_START_DIVISOR = 25.0  # OneCycleLR's div_factor
ONECYCLE_END_DIVISOR = 25.0e4  # div_factor x final_div_factor (1e4)
STEP_MILESTONES = (0.5, 0.75)  # step schedule: lr x0.1 at half and at three quarters of training
STEP_GAMMA = 0.1
# torchvision's ImageNet ResNet-50 recipe (references/classification: StepLR, step size 30 of 90
# epochs, gamma 0.1): lr x0.1 at a third and at two thirds of training.
STEP_THIRDS_MILESTONES = (1 / 3, 2 / 3)


def _cosine(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * fraction))


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """The learning rate at optimizer step ``step`` (0 .. total_steps - 1) as a fraction of the peak rate."""
    progress = step / max(total_steps, 1)
    if schedule == "onecycle":
        # OneCycleLR's phase ends: the peak at step rise_end, the final rate at the last step.
        rise_end = float(warmup_steps or ONECYCLE_RISE_FRACTION * total_steps) - 1
        last = total_steps - 1
        start, end = 1 / ONECYCLE_START_DIVISOR, 1 / ONECYCLE_END_DIVISOR
        if step <= rise_end:
            return _cosine(start, 1.0, step / rise_end) if rise_end > 0 else 1.0
        return _cosine(1.0, end, min((step - rise_end) / (last - rise_end), 1.0))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return STEP_GAMMA ** sum(progress >= milestone for milestone in STEP_MILESTONES)
    if schedule == "step-thirds":
        return STEP_GAMMA ** sum(progress >= milestone for milestone in STEP_THIRDS_MILESTONES)
    if schedule == "cosine":
        after_warmup = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return 0.5 * (1 + math.cos(math.pi * min(after_warmup, 1.0)))
    raise ValueError(f"unknown schedule {schedule!r}")


def build_optimizer(model: nn.Module, config: RunConfig, device: torch.device) -> torch.optim.Optimizer:
    # On CUDA the fused kernels update every parameter in a few launches (the same arithmetic as
    # the default for-each path), which matters at small batches, where launches dominate.
    fused = True if device.type == "cuda" else None
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
            fused=fused,
        )
    return torch.optim.AdamW(
        model.parameters(),
        lr=config.lr,
        betas=(config.momentum, 0.999),
        weight_decay=config.weight_decay,
        fused=fused,
    )
