"""The networks: torchvision ResNets built from the registry in ``architectures``.

The CIFAR adaptation (3x3 stride-1 first convolution, no max-pool) is a few lines on top of
torchvision's ``ResNet``; nothing else is re-implemented.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from .architectures import ARCHITECTURES
from .errors import ConfigError

BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def build_model(arch: str, num_classes: int, stem: str = "cifar", in_channels: int = 3) -> ResNet:
    """A torchvision ResNet for ``arch``; the CIFAR stem keeps 32x32 inputs at full resolution.

    The CIFAR stem (3x3 stride-1 first convolution, no max-pool) follows kuangliu/pytorch-cifar:
    torchvision's ImageNet stem would shrink a 32x32 image to 8x8 before the first block.
    Any input size works: the network ends in adaptive average pooling.
    """
    if arch not in ARCHITECTURES:
        raise ConfigError(f"arch={arch!r} is not allowed: choose one of {', '.join(ARCHITECTURES)}")
    if stem not in ("cifar", "imagenet"):
        raise ConfigError(f"stem={stem!r} is not allowed: choose one of cifar, imagenet")
    spec = ARCHITECTURES[arch]
    model = ResNet(
        BLOCKS[spec.block],
        list(spec.layers),
        num_classes=num_classes,
        groups=spec.groups,
        width_per_group=spec.width_per_group,
    )
    if stem == "cifar":
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
        model.maxpool = nn.Identity()
    elif in_channels != 3:
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    if stem == "cifar" or in_channels != 3:
        # A replaced stem is initialised as torchvision's ResNet initialises every convolution.
        nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Forward multiply-accumulates for one image, counted by torch's FLOP counter.

    Only the forward pass is counted: the counter's backward count of grouped convolutions is
    inflated (measured 12.7 vs 7.8 GFLOP for a ResNeXt-50 training step), so a training step is
    taken as 3x the forward pass, the usual convention (Kaplan et al. 2020, section 2.1).
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, *input_shape, device=device))
    model.train(was_training)
    return counter.get_total_flops() // 2
