"""Architectures by name, all built from torchvision's ``ResNet`` class.

ResNeXt differs from ResNet only in the bottleneck's grouped 3x3 convolution: torchvision's
``Bottleneck`` uses ``int(planes * width_per_group / 64) * groups`` inner channels, so each entry
below is a (block, layers, groups, width_per_group) tuple and nothing is re-implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from .config import ConfigError


@dataclass(frozen=True)
class Architecture:
    block: type[nn.Module]
    layers: tuple[int, int, int, int]
    groups: int = 1
    width_per_group: int = 64
    description: str = ""


_RESNET50_LAYERS = (3, 4, 6, 3)

# The ResNeXt paper's equal-complexity cardinality sweep for ResNet-50 (Xie et al. 2017,
# "Aggregated Residual Transformations for Deep Neural Networks", Table 2): C x d with
# C groups of d channels in the first stage; 1x64d is ResNet-50 itself.
ARCHITECTURES: dict[str, Architecture] = {
    "resnet18": Architecture(BasicBlock, (2, 2, 2, 2), description="ResNet-18, a small baseline"),
    "resnet50": Architecture(Bottleneck, _RESNET50_LAYERS, description="ResNet-50"),
    "resnext50_1x64d": Architecture(Bottleneck, _RESNET50_LAYERS, 1, 64, "ResNeXt-50 1x64d (= ResNet-50)"),
    "resnext50_2x40d": Architecture(Bottleneck, _RESNET50_LAYERS, 2, 40, "ResNeXt-50 2x40d"),
    "resnext50_4x24d": Architecture(Bottleneck, _RESNET50_LAYERS, 4, 24, "ResNeXt-50 4x24d"),
    "resnext50_8x14d": Architecture(Bottleneck, _RESNET50_LAYERS, 8, 14, "ResNeXt-50 8x14d"),
    "resnext50_32x4d": Architecture(Bottleneck, _RESNET50_LAYERS, 32, 4, "ResNeXt-50 32x4d"),
}


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
        spec.block,
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
