"""An epoch's optimizer steps, eager or replayed from a CUDA graph, with the epoch's totals on the device.

At batch 32 on an H100 or H200 the eager loop is bound by launching kernels from Python, not by the
GPU: the bare model trains at about 1,400 images/s there (``outputs/bench/bench-cuda.md``) while
the GPU could do several times more. A CUDA graph records the step's hundreds of kernel launches
once and replays them with one call (PyTorch's "whole-network capture", ``torch.cuda.graphs``).

What is captured: gathering the batch from the resident uint8 images by index, augmentation with
the batch's drawn choices, normalisation, forward, loss, backward and the epoch's running totals.
The optimizer step and the learning-rate schedule stay eager (the fused optimizer is a few
launches), so the schedule, checkpoints and resumes are exactly the eager loop's; a batch's index
and augmentation choices are copied into the graph's static inputs on the device before each
replay. The last, smaller batch of an epoch runs eagerly. The replayed kernels are the eager ones,
so a captured run computes what an eager run computes; a GPU test checks it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.augment import AugmentParams, augment, normalize
from ..errors import TrainingError
from ..execution import STEP_MODES, chosen_step_mode
from .device import autocast
from .run import Batch, Run
from .step import train_step

CAPTURE_WARMUP_STEPS = 3  # side-stream iterations before capture, as torch.cuda.graphs' docs do


class EagerSteps:
    """One ``train_step`` per batch; the epoch's loss, plain cross-entropy and correct count summed on the device."""

    mode = "eager"

    def __init__(self, run: Run, model: nn.Module):
        self.run, self.model = run, model

    def start_epoch(self) -> None:
        device = self.run.device
        self.loss_sum = torch.zeros((), device=device)
        self.ce_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)

    def step(self, batch: Batch) -> float:
        """One optimizer step on the batch of these training images; the learning rate it used."""
        dataset, index = self.run.dataset, batch.index
        loss, ce, correct, lr = train_step(
            self.run,
            self.model,
            batch.images if batch.images is not None else dataset.train_images[index],
            dataset.train_labels[index],
            batch.augmentation,
            batch.share,
        )
        self.loss_sum += loss * len(index)
        self.ce_sum += ce * len(index)
        self.correct += correct
        return lr

    def totals(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The epoch's summed loss, plain cross-entropy and correct count, over every process of the run."""
        return tuple(self.run.ranks.sum(total) for total in (self.loss_sum, self.ce_sum, self.correct))


class CapturedSteps(EagerSteps):
    """Full batches replayed from one CUDA graph; the optimizer step, the schedule and a smaller last batch eager."""

    mode = "cuda-graph"

    def __init__(self, run: Run, model: nn.Module):
        super().__init__(run, model)
        device, batch = run.device, run.config.batch_size
        self.batch_size = batch
        self.mean, self.std = run.mean.to(device), run.std.to(device)  # no host copy inside the graph
        self.index = torch.zeros(batch, dtype=torch.long, device=device)
        self.augmentation = _static_augmentation(run.config.recipe, batch, device)
        self.start_epoch()
        self.graph = self._capture()
        self.grads = [p.grad for p in model.parameters()]  # written by every replay

    def _forward_backward(self) -> None:
        run, model = self.run, self.model
        images = run.dataset.train_images[self.index]
        labels = run.dataset.train_labels[self.index]
        x = normalize(augment(images, self.augmentation), self.mean, self.std).contiguous(
            memory_format=run.memory_format
        )
        smoothing = run.config.label_smoothing
        with autocast(run.device, run.precision, cache_enabled=False):
            logits = model(x)
            loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        loss.backward()
        logits = logits.detach()
        ce = F.cross_entropy(logits.float(), labels) if smoothing else loss.detach()
        self.loss_sum += loss.detach().float() * self.batch_size
        self.ce_sum += ce.float() * self.batch_size
        self.correct += (logits.argmax(1) == labels).sum()

    def _capture(self) -> torch.cuda.CUDAGraph:
        """Warm up on a side stream, undo what the warm-up changed, then record one step's kernels."""
        model = self.model
        buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}  # batch norm's statistics
        self.index.copy_(torch.arange(self.batch_size, device=self.index.device) % len(self.run.dataset.train_labels))
        side = torch.cuda.Stream(self.run.device)
        side.wait_stream(torch.cuda.current_stream(self.run.device))
        with torch.cuda.stream(side):
            for _ in range(CAPTURE_WARMUP_STEPS):
                model.zero_grad(set_to_none=True)
                self._forward_backward()
        torch.cuda.current_stream(self.run.device).wait_stream(side)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])
        model.zero_grad(set_to_none=True)  # the captured backward then writes fresh gradients each replay
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self._forward_backward()
        return graph

    def step(self, batch: Batch) -> float:
        if len(batch.index) != self.batch_size:
            return super().step(batch)  # the epoch's smaller last batch
        self.index.copy_(batch.index)
        if batch.augmentation is not None:
            for static, drawn in zip(_tensors(self.augmentation), _tensors(batch.augmentation)):
                static.copy_(drawn)
        self.graph.replay()
        for parameter, grad in zip(self.model.parameters(), self.grads):
            parameter.grad = grad  # an eager step in between sets gradients of its own
        run = self.run
        run.optimizer.step()
        lr = run.scheduler.get_last_lr()[0]
        run.scheduler.step()
        return lr

    def start_epoch(self) -> None:
        if hasattr(self, "graph"):  # the captured totals live at fixed addresses: zero them in place
            for total in (self.loss_sum, self.ce_sum, self.correct):
                total.zero_()
        else:
            super().start_epoch()


def make_steps(run: Run, model: nn.Module, mode: str, log) -> EagerSteps:
    """The steps for ``mode``: ``auto`` is eager until captured steps have passed the GPU gate (``execution``)."""
    if mode not in STEP_MODES:
        raise TrainingError(f"step_mode={mode!r} is not allowed: choose one of {', '.join(STEP_MODES)}")
    reasons = []
    if run.device.type != "cuda":
        reasons.append("it needs a CUDA device")
    if run.precision == "fp16":
        reasons.append("fp16's loss scaling checks for infinities on the host")
    if run.config.compile:
        reasons.append("torch.compile manages its own graphs")
    if run.ranks.world > 1:
        reasons.append("DistributedDataParallel's gradient all-reduce is not captured here")
    if run.streamed:
        reasons.append("a streamed run's images come from the loader, not from resident images the graph can index")
    if mode == "cuda-graph" and reasons:
        raise TrainingError(f"step_mode='cuda-graph' cannot be used here: {'; '.join(reasons)}; use step_mode='auto'")
    if chosen_step_mode(mode, capturable=not reasons) == "eager":
        if mode == "auto" and not reasons:
            log("eager steps: step_mode 'auto' captures no CUDA graph until captured steps have passed the GPU gate")
        return EagerSteps(run, model)
    log("capturing the training step as a CUDA graph")
    return CapturedSteps(run, model)


def _static_augmentation(recipe: str, batch: int, device: torch.device) -> AugmentParams | None:
    """Placeholders of a batch's augmentation choices at fixed addresses (valid values: no flip, centre crop)."""
    if recipe == "none":
        return None
    from ..data.augment import CROP_PADDING

    flip = torch.zeros(batch, dtype=torch.bool, device=device)
    if recipe == "blog":
        return AugmentParams(flip, torch.zeros(batch, device=device), None)
    return AugmentParams(flip, None, torch.full((batch, 2), CROP_PADDING, dtype=torch.long, device=device))


def _tensors(params: AugmentParams) -> list[torch.Tensor]:
    return [t for t in (params.flip, params.angle_degrees, params.shift) if t is not None]
