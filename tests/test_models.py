import math

import pytest
import torch

from archcompare.architectures import ARCHITECTURES
from archcompare.errors import ConfigError
from archcompare.models import build_model, count_macs, count_parameters

# Pinned: with the CIFAR stem and 10 classes (torchvision's ResNet with a 3x3 first convolution).
PINNED_PARAMETERS = {"resnet50": 23_520_842, "resnext50_32x4d": 22_992_714, "resnext50_1x64d": 23_520_842}


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_forward_shape_and_backward_reaches_input(arch):
    torch.manual_seed(0)
    model = build_model(arch, num_classes=7)
    x = torch.randn(2, 3, 20, 24, requires_grad=True)  # any input size works
    out = model(x)
    assert out.shape == (2, 7)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("arch, expected", PINNED_PARAMETERS.items())
def test_pinned_parameter_counts(arch, expected):
    assert count_parameters(build_model(arch, num_classes=10)) == expected


def test_equal_complexity_cardinalities_stay_within_five_percent_of_resnet50():
    base = count_parameters(build_model("resnet50", 10))
    for arch in ("resnext50_2x40d", "resnext50_4x24d", "resnext50_8x14d", "resnext50_32x4d"):
        assert abs(count_parameters(build_model(arch, 10)) / base - 1) < 0.05, arch


def test_forward_macs_match_the_expected_values_and_ratio():
    resnet = count_macs(build_model("resnet50", 10), (3, 32, 32))
    resnext = count_macs(build_model("resnext50_32x4d", 10), (3, 32, 32))
    assert resnet == pytest.approx(1.30e9, rel=0.02)
    assert resnext == pytest.approx(1.34e9, rel=0.02)
    assert 1.00 <= resnext / resnet <= 1.10


def test_imagenet_stem_downsamples_and_cifar_stem_does_not():
    cifar, imagenet = build_model("resnet18", 10, "cifar"), build_model("resnet18", 10, "imagenet")
    assert cifar.conv1.stride == (1, 1) and isinstance(cifar.maxpool, torch.nn.Identity)
    assert imagenet.conv1.stride == (2, 2) and isinstance(imagenet.maxpool, torch.nn.MaxPool2d)
    assert count_macs(imagenet, (3, 32, 32)) < count_macs(cifar, (3, 32, 32)) / 8


def test_grayscale_input_channels():
    assert build_model("resnet18", 3, in_channels=1)(torch.randn(2, 1, 16, 16)).shape == (2, 3)


def test_unknown_architecture_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match=r"arch='resnet51'.*resnet50"):
        build_model("resnet51", 10)


@pytest.mark.parametrize("stem", ["cifar", "imagenet"])
def test_the_stem_is_initialised_like_torchvisions_other_convolutions(stem):
    """Kaiming normal, fan-out (torchvision's ResNet), also for the replaced CIFAR stem: PyTorch's
    default for a fresh Conv2d would give a std of about 0.11 here instead of sqrt(2 / fan_out)."""
    torch.manual_seed(0)
    conv = build_model("resnet50", 10, stem=stem).conv1
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_out), rel=0.1)
