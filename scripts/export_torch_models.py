"""Export ImageNet-class networks written here in plain PyTorch to ONNX, to judge the latency predictor.

Two sets, neither of them in the zoo the predictor is calibrated on:

- ``tuning``: ImageNet CNNs (ShuffleNetV2, DenseNet, MnasNet, ResNeXt, MobileNetV3, RegNet, ConvNeXt, ...)
  that the predictor's design may be tuned against;
- ``heldout``: architectures unlike both the zoo and the tuning set (vision transformers, hybrids of
  convolution and attention, dense-prediction heads, other input sizes, NAS-style mobile nets,
  re-parameterised plain nets), defined in ``export_heldout_models.py``. The predictor is never fitted or
  tuned on them, so its error on them is the measure of how well it generalises.

Each network follows its paper and reference definition layer for layer (same shapes and channel counts, so
the MACs match the published figures unless ``--list`` says it was shrunk). Weights are random (seeded): only
latency is of interest, but BatchNorm statistics are set from one forward pass so that activations keep a
normal range (no overflow or denormals to skew timings), and re-parameterised nets are merged into their
deploy form after that.

Each file has an input named ``input`` with a symbolic batch dim ``N`` at the network's own image size,
opset 17, weights inside the file, BatchNorm kept as inference BatchNormalization nodes as in the zoo
(``--fold-bn`` folds it into the convolutions instead). Each file is checked with the ONNX checker and run
once in ONNX Runtime at batch 1 and batch 8 (``--no-check`` skips that).

Needs torch, onnx and onnxruntime (not the project's own dependencies). Run:
    python scripts/export_torch_models.py --set tuning|heldout --output DIR [--models a,b] [--fold-bn] [--no-check]
    python scripts/export_torch_models.py --set heldout --list     # names, families, published figures
Then: onnxprof analyze DIR/NAME.onnx --batch 1
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.onnx import symbolic_helper

OPSET = 17          # the zoo's opset, so these graphs use the same operator versions as the calibration set
IMAGE = 224         # the input size of every network that does not name its own
CLASSES = 1000
SEED = 0

# The held-out networks build on the blocks below; registering this file under its module name when it runs
# as a script lets export_heldout_models import it without loading a second copy.
sys.modules.setdefault("export_torch_models", sys.modules[__name__])


# ---------------------------------------------------------------------------------------------------------
# Shared building blocks

def conv_bn(cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
            act: Optional[Callable[[], nn.Module]] = nn.ReLU, eps: float = 1e-5,
            momentum: float = 0.1, dilation: int = 1) -> nn.Sequential:
    """Conv without bias (the BatchNorm after it has one), BatchNorm, then the activation if any."""
    layers = [nn.Conv2d(cin, cout, kernel, stride, dilation * (kernel - 1) // 2, dilation, groups, bias=False),
              nn.BatchNorm2d(cout, eps=eps, momentum=momentum)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


def make_divisible(value: float, divisor: int) -> int:
    """torchvision's channel rounding: nearest multiple of divisor, never more than 10 % below value."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class SqueezeExcite(nn.Module):
    """torchvision.ops.SqueezeExcitation: global pool, two 1×1 convs, gate that rescales the channels."""

    def __init__(self, channels: int, squeeze: int, act: Callable[[], nn.Module] = nn.ReLU,
                 gate: Callable[[], nn.Module] = nn.Sigmoid):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.act = act()
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.gate = gate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))


class Classifier(nn.Sequential):
    """Global average pool, flatten, fully connected: the head most of these networks share."""

    def __init__(self, channels: int):
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(channels, CLASSES))


class MeanClassifier(nn.Module):
    """The same head pooled with a mean over H and W (ReduceMean), as torchvision's ShuffleNetV2 and MnasNet do."""

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Linear(channels, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean([2, 3]))


# ---------------------------------------------------------------------------------------------------------
# ShuffleNetV2 x1.0 (Ma et al. 2018)

class ShuffleUnit(nn.Module):
    """Split channels in two, transform one half (or both when downsampling), concatenate, shuffle."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        half = cout // 2
        self.stride, self.half = stride, half
        if stride > 1:
            self.branch1 = nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin, act=None), conv_bn(cin, half))
        self.branch2 = nn.Sequential(conv_bn(cin if stride > 1 else half, half),
                                     conv_bn(half, half, 3, stride, groups=half, act=None), conv_bn(half, half))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            x1, x2 = x.split(self.half, dim=1)     # = chunk(2), but the exporter keeps the channel count
            out = torch.cat((x1, self.branch2(x2)), dim=1)
        else:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        return F.channel_shuffle(out, 2)     # same as torchvision's view/transpose/view


@symbolic_helper.parse_args("v", "i")
def channel_shuffle_symbolic(g, x, groups: int):
    """ONNX for torch's channel_shuffle, which the TorchScript exporter lacks: torchvision's view/transpose/view
    with the batch copied (0) and the other dims constant. Written with x.size() as torchvision does, the
    export has ~700 Shape/Gather/Div/Cast nodes, and onnxprof analyze loses the shapes (counts half the MACs)."""
    _, channels, height, _ = x.type().varyingSizes()

    def shape(*dims: int):
        return g.op("Constant", value_t=torch.tensor(dims, dtype=torch.int64))

    y = g.op("Reshape", x, shape(0, groups, channels // groups, height, -1))
    y = g.op("Transpose", y, perm_i=[0, 2, 1, 3, 4])
    return g.op("Reshape", y, shape(0, channels, height, -1))   # the exporter needs a -1 beside a 0


class ShuffleNetV2(nn.Module):
    def __init__(self, repeats=(4, 8, 4), widths=(24, 116, 232, 464, 1024)):
        super().__init__()
        self.conv1 = conv_bn(3, widths[0], 3, 2)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        stages, cin = [], widths[0]
        for n, cout in zip(repeats, widths[1:-1]):
            stages.append(nn.Sequential(*(ShuffleUnit(cin if i == 0 else cout, cout, 2 if i == 0 else 1)
                                          for i in range(n))))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.conv5 = conv_bn(cin, widths[-1])
        self.head = MeanClassifier(widths[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv5(self.stages(self.maxpool(self.conv1(x)))))


# ---------------------------------------------------------------------------------------------------------
# DenseNet-121 (Huang et al. 2017)

class DenseLayer(nn.Module):
    """BN-ReLU-Conv1×1 bottleneck then BN-ReLU-Conv3×3 on the concatenation of all earlier features."""

    def __init__(self, cin: int, growth: int, bn_size: int):
        super().__init__()
        self.norm1, self.relu1 = nn.BatchNorm2d(cin), nn.ReLU()
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2, self.relu2 = nn.BatchNorm2d(bn_size * growth), nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.Module):
    def __init__(self, n: int, cin: int, growth: int, bn_size: int):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(cin + i * growth, growth, bn_size) for i in range(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # One Concat per layer over every earlier output, as torchvision (memory-efficient off) exports it.
        features = [x]
        for layer in self.layers:
            features.append(layer(features))
        return torch.cat(features, 1)


def transition(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, 1, bias=False), nn.AvgPool2d(2, 2))


def densenet121(growth: int = 32, blocks=(6, 12, 24, 16), init: int = 64, bn_size: int = 4) -> nn.Module:
    layers = [nn.Conv2d(3, init, 7, 2, 3, bias=False), nn.BatchNorm2d(init), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    channels = init
    for i, n in enumerate(blocks):
        layers.append(DenseBlock(n, channels, growth, bn_size))
        channels += n * growth
        if i < len(blocks) - 1:
            layers.append(transition(channels, channels // 2))
            channels //= 2
    layers += [nn.BatchNorm2d(channels), nn.ReLU(), Classifier(channels)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# MnasNet 1.0 (Tan et al. 2019; torchvision's mnasnet1_0, the B1 search result without squeeze-excitation)

MNAS_BN = {"momentum": 1 - 0.9997}   # TensorFlow's BN decay, as torchvision keeps it


class MnasBlock(nn.Module):
    """Inverted residual: expand 1×1, depthwise k×k, project 1×1 (linear), residual when shapes allow."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.residual = cin == cout and stride == 1
        self.layers = nn.Sequential(conv_bn(cin, mid, **MNAS_BN),
                                    conv_bn(mid, mid, kernel, stride, groups=mid, **MNAS_BN),
                                    conv_bn(mid, cout, act=None, **MNAS_BN))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x) if self.residual else self.layers(x)


def mnasnet1_0() -> nn.Module:
    # (in, out, kernel, stride, expansion, repeats) per stage, torchvision's _stack arguments at alpha 1.0
    stages = [(16, 24, 3, 2, 3, 3), (24, 40, 5, 2, 3, 3), (40, 80, 5, 2, 6, 3), (80, 96, 3, 1, 6, 2),
              (96, 192, 5, 2, 6, 4), (192, 320, 3, 1, 6, 1)]
    layers = [conv_bn(3, 32, 3, 2, **MNAS_BN), conv_bn(32, 32, 3, groups=32, **MNAS_BN),
              conv_bn(32, 16, act=None, **MNAS_BN)]
    for cin, cout, kernel, stride, expand, n in stages:
        layers += [MnasBlock(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand) for i in range(n)]
    layers += [conv_bn(320, 1280, **MNAS_BN), MeanClassifier(1280)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# ResNeXt-50 32x4d (Xie et al. 2017) and Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): torchvision's
# ResNet-50 (stride on the 3×3, "v1.5") with a grouped or widened bottleneck

class Bottleneck(nn.Module):
    def __init__(self, cin: int, planes: int, stride: int, groups: int, width_per_group: int):
        super().__init__()
        width = planes * width_per_group // 64 * groups
        cout = planes * 4
        self.body = nn.Sequential(conv_bn(cin, width), conv_bn(width, width, 3, stride, groups=groups),
                                  conv_bn(width, cout, act=None))
        self.downsample = conv_bn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.body(x) + shortcut)


def resnet50_variant(groups: int, width_per_group: int) -> nn.Module:
    layers = [conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for planes, n, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(n):
            layers.append(Bottleneck(cin, planes, stride if i == 0 else 1, groups, width_per_group))
            cin = planes * 4
    layers.append(Classifier(cin))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# MobileNetV3-Large (Howard et al. 2019)

V3_BN = {"eps": 0.001, "momentum": 0.01}


class V3Block(nn.Module):
    """Inverted residual with optional squeeze-excitation (hard-sigmoid gate) and ReLU or hardswish."""

    def __init__(self, cin: int, kernel: int, expanded: int, cout: int, se: bool, act: type, stride: int):
        super().__init__()
        layers = [conv_bn(cin, expanded, act=act, **V3_BN)] if expanded != cin else []
        layers.append(conv_bn(expanded, expanded, kernel, stride, groups=expanded, act=act, **V3_BN))
        if se:
            layers.append(SqueezeExcite(expanded, make_divisible(expanded // 4, 8), gate=nn.Hardsigmoid))
        layers.append(conv_bn(expanded, cout, act=None, **V3_BN))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


def mobilenet_v3(setting: list[tuple], last: int, hidden: int) -> nn.Module:
    """Hardswish stem, the V3Blocks of `setting`, a 1×1 conv to `last`, pooling, and a two-layer classifier."""
    hs = nn.Hardswish
    layers = [conv_bn(3, 16, 3, 2, act=hs, **V3_BN)]
    layers += [V3Block(*row) for row in setting]
    layers += [conv_bn(setting[-1][3], last, act=hs, **V3_BN), nn.AdaptiveAvgPool2d(1), nn.Flatten(1),
               nn.Linear(last, hidden), hs(), nn.Dropout(0.2), nn.Linear(hidden, CLASSES)]
    return nn.Sequential(*layers)


def mobilenet_v3_large() -> nn.Module:
    re, hs = nn.ReLU, nn.Hardswish
    # (in, kernel, expanded, out, squeeze-excite, activation, stride): Table 1 of the paper
    setting = [(16, 3, 16, 16, False, re, 1), (16, 3, 64, 24, False, re, 2), (24, 3, 72, 24, False, re, 1),
               (24, 5, 72, 40, True, re, 2), (40, 5, 120, 40, True, re, 1), (40, 5, 120, 40, True, re, 1),
               (40, 3, 240, 80, False, hs, 2), (80, 3, 200, 80, False, hs, 1), (80, 3, 184, 80, False, hs, 1),
               (80, 3, 184, 80, False, hs, 1), (80, 3, 480, 112, True, hs, 1), (112, 3, 672, 112, True, hs, 1),
               (112, 5, 672, 160, True, hs, 2), (160, 5, 960, 160, True, hs, 1), (160, 5, 960, 160, True, hs, 1)]
    return mobilenet_v3(setting, 960, 1280)


# ---------------------------------------------------------------------------------------------------------
# RegNetX/Y-400MF (Radosavovic et al. 2020), stage widths and depths from the quantised linear rule

def regnet_stages(depth: int, w_0: float, w_a: float, w_m: float, group_width: int) -> list[tuple[int, int]]:
    """(width, depth) per stage, as torchvision's BlockParams.from_init_params computes them."""
    caps = [round(math.log((i * w_a + w_0) / w_0) / math.log(w_m)) for i in range(depth)]
    widths = [int(round(w_0 * w_m ** c / 8) * 8) for c in caps]
    stages = [(w, len(list(run))) for w, run in itertools.groupby(widths)]
    # Bottleneck multiplier 1: round each width to a multiple of its (capped) group width.
    return [(make_divisible(w, min(group_width, w)), n) for w, n in stages]


class RegNetBlock(nn.Module):
    """Residual bottleneck with group convolution and, for RegNetY, squeeze-excitation."""

    def __init__(self, cin: int, cout: int, stride: int, group_width: int, se_ratio: float):
        super().__init__()
        layers = [conv_bn(cin, cout), conv_bn(cout, cout, 3, stride, groups=cout // group_width)]
        if se_ratio:
            layers.append(SqueezeExcite(cout, int(round(se_ratio * cin))))   # squeeze sized by the block input
        layers.append(conv_bn(cout, cout, act=None))
        self.f = nn.Sequential(*layers)
        self.proj = conv_bn(cin, cout, 1, stride, act=None) if cin != cout or stride != 1 else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.proj is None else self.proj(x)
        return self.relu(shortcut + self.f(x))


def regnet(depth: int, w_0: float, w_a: float, w_m: float, group_width: int, se_ratio: float = 0.0) -> nn.Module:
    layers, cin = [conv_bn(3, 32, 3, 2)], 32
    for width, n in regnet_stages(depth, w_0, w_a, w_m, group_width):
        for i in range(n):
            layers.append(RegNetBlock(cin, width, 2 if i == 0 else 1, min(group_width, width), se_ratio))
            cin = width
    layers.append(Classifier(cin))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# ConvNeXt-Tiny (Liu et al. 2022)

class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW tensor, by way of NHWC as torchvision does it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ConvNeXtBlock(nn.Module):
    """7×7 depthwise conv, LayerNorm, MLP ×4 with GELU (Linear on NHWC), layer scale, residual."""

    def __init__(self, dim: int):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), 1e-6))
        # Stochastic depth is the identity at inference, so it is left out.

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.mlp(self.norm(self.dwconv(x).permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        return x + self.layer_scale * y


def convnext_tiny(dims=(96, 192, 384, 768), depths=(3, 3, 9, 3)) -> nn.Module:
    layers = [nn.Conv2d(3, dims[0], 4, 4), LayerNorm2d(dims[0], eps=1e-6)]
    for i, (dim, n) in enumerate(zip(dims, depths)):
        layers += [ConvNeXtBlock(dim) for _ in range(n)]
        if i < len(dims) - 1:
            layers += [LayerNorm2d(dim, eps=1e-6), nn.Conv2d(dim, dims[i + 1], 2, 2)]
    layers += [nn.AdaptiveAvgPool2d(1), LayerNorm2d(dims[-1], eps=1e-6), nn.Flatten(1),
               nn.Linear(dims[-1], CLASSES)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# SqueezeNet 1.0 (Iandola et al. 2016) and VGG11-BN (Simonyan & Zisserman 2015, configuration A)

class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, expand1: int, expand3: int):
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.ReLU())
        self.expand1 = nn.Sequential(nn.Conv2d(squeeze, expand1, 1), nn.ReLU())
        self.expand3 = nn.Sequential(nn.Conv2d(squeeze, expand3, 3, padding=1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return torch.cat((self.expand1(x), self.expand3(x)), 1)


def squeezenet1_0() -> nn.Module:
    def pool() -> nn.Module:
        return nn.MaxPool2d(3, 2, ceil_mode=True)
    return nn.Sequential(
        nn.Conv2d(3, 96, 7, 2), nn.ReLU(), pool(),
        Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
        Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), pool(),
        Fire(512, 64, 256, 256),
        nn.Dropout(0.5), nn.Conv2d(512, CLASSES, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(1))


def vgg11_bn() -> nn.Module:
    layers, cin = [], 3
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU()]   # conv keeps its bias
            cin = v
    # torchvision's AdaptiveAvgPool2d((7, 7)) is left out: at 224×224 its input is already 7×7.
    layers += [nn.Flatten(1), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
               nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, CLASSES)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# Registry: the published figures are for checking the export against `onnxprof analyze`

@dataclass(frozen=True)
class Spec:
    build: Callable[[], nn.Module]
    family: str
    params_m: Optional[float]     # published parameters, millions (None: a variant with no published figure)
    macs_g: Optional[float]       # published multiply-accumulates at the input size below, billions
    source: str
    image: tuple[int, int] = (IMAGE, IMAGE)     # input height and width


TUNING: dict[str, Spec] = {
    "shufflenet-v2-x1.0": Spec(ShuffleNetV2, "channel split", 2.28, 0.146, "Ma et al. 2018 (146 M); torchvision"),
    "densenet121": Spec(densenet121, "dense", 7.98, 2.83, "torchvision (Huang et al. 2017)"),
    "mnasnet1.0": Spec(mnasnet1_0, "NAS mobile", 4.38, 0.31, "torchvision mnasnet1_0 (Tan et al. 2019)"),
    "resnext50-32x4d": Spec(lambda: resnet50_variant(32, 4), "residual", 25.03, 4.23,
                            "torchvision (Xie et al. 2017: 4.2 G)"),
    "mobilenet-v3-large": Spec(mobilenet_v3_large, "NAS mobile", 5.48, 0.217,
                               "Howard et al. 2019 (219 M); torchvision"),
    "regnet-x-400mf": Spec(lambda: regnet(22, 24, 24.48, 2.54, 16), "residual", 5.50, 0.41,
                           "torchvision regnet_x_400mf"),
    "regnet-y-400mf": Spec(lambda: regnet(16, 48, 27.89, 2.09, 8, se_ratio=0.25), "residual", 4.34, 0.40,
                           "torchvision regnet_y_400mf (Radosavovic et al. 2020)"),
    "convnext-tiny": Spec(convnext_tiny, "modern conv", 28.59, 4.46, "torchvision (Liu et al. 2022: 4.5 G)"),
    "wide-resnet50-2": Spec(lambda: resnet50_variant(1, 128), "residual", 68.88, 11.40, "torchvision wide_resnet50_2"),
    "squeezenet1.0": Spec(squeezenet1_0, "plain", 1.25, 0.82, "torchvision squeezenet1_0"),
    "vgg11-bn": Spec(vgg11_bn, "plain", 132.87, 7.61, "torchvision vgg11_bn"),
}


def model_set(name: str) -> dict[str, Spec]:
    if name == "tuning":
        return TUNING
    import export_heldout_models    # imported here: it builds on this module's blocks
    return export_heldout_models.HELDOUT


# ---------------------------------------------------------------------------------------------------------
# Building, exporting, checking

def settle(model: nn.Module, image: tuple[int, int]) -> None:
    """Give random weights the properties of trained ones that matter to an export and its timing."""
    with torch.no_grad():
        # Constant initial values (norm scales of 1, shifts of 0, layer scales) would make equal tensors,
        # which the exporter merges into one initializer behind Identity nodes; a little noise keeps them apart.
        for p in model.parameters():
            if p.numel() > 1 and bool((p == p.view(-1)[0]).all()):
                p.add_(torch.randn_like(p) * 0.1 * (abs(p.view(-1)[0].item()) or 0.01))
        # BatchNorm statistics from one batch of noise (momentum None: the exact batch average), so eval-mode
        # activations stay near unit scale instead of growing or shrinking through the depth.
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None
        if norms:
            model.train()
            model(torch.randn(4, 3, *image))
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum      # kept, since the exporter writes it into the node
        # Re-parameterised nets are timed in their deploy form: the branches they were settled with merge now.
        for m in [m for m in model.modules() if hasattr(m, "reparameterize")]:
            m.reparameterize()
    model.eval()


def build(spec: Spec) -> nn.Module:
    torch.manual_seed(SEED)
    model = spec.build()
    settle(model, spec.image)
    return model


def export(model: nn.Module, path: Path, image: tuple[int, int], fold_bn: bool) -> None:
    """Classic TorchScript exporter: it works in this torch, keeps plain ONNX ops and takes dynamic_axes."""
    # PRESERVE leaves eval-mode BatchNorm as its own node; EVAL folds it into the preceding convolution.
    training = torch.onnx.TrainingMode.EVAL if fold_bn else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.register_custom_op_symbolic("aten::channel_shuffle", channel_shuffle_symbolic, OPSET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)    # "legacy TorchScript-based export" notice
        # Its advice against constant folding under PRESERVE is for models in training mode; this one is not.
        warnings.filterwarnings("ignore", "It is recommended that constant folding be turned off")
        torch.onnx.export(model, (torch.randn(1, 3, *image),), str(path), dynamo=False,
                          input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
                          opset_version=OPSET, training=training, do_constant_folding=True)


def check(path: Path, image: tuple[int, int]) -> None:
    """ONNX checker, then one run at batch 1 and one at batch 8 (single-threaded: the machine is shared)."""
    import numpy as np      # imported here: only the check needs ONNX and ONNX Runtime
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(str(path), full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    shapes = []
    for batch in (1, 8):
        x = np.random.default_rng(SEED).standard_normal((batch, 3, *image), dtype=np.float32)
        (y,) = session.run(None, {"input": x})
        if y.shape[0] != batch or not np.isfinite(y).all():
            raise RuntimeError(f"{path}: batch {batch} gave shape {y.shape}, finite {np.isfinite(y).all()}")
        shapes.append(y.shape[1:])
    if shapes[0] != shapes[1]:
        raise RuntimeError(f"{path}: the output's shape past the batch differs between batches: {shapes}")


def print_list(models: dict[str, Spec]) -> None:
    """The models grouped by family: input size, published parameters and MACs, and where those come from."""
    def figure(value: Optional[float], width: int, digits: int) -> str:
        return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"

    print(f"{'model':<24}{'input':>8}{'params (M)':>12}{'MACs (G)':>10}")
    for family in dict.fromkeys(spec.family for spec in models.values()):
        print(f"{family}:")
        for name, spec in models.items():
            if spec.family == family:
                size = "x".join(map(str, spec.image))
                print(f"  {name:<22}{size:>8}{figure(spec.params_m, 12, 2)}{figure(spec.macs_g, 10, 3)}")
                print(f"    {spec.source}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("tuning", "heldout"), default="tuning",
                        help="tuning: the CNNs the predictor may be tuned on; heldout: families it never sees")
    parser.add_argument("--output", type=Path, help="directory for NAME.onnx files")
    parser.add_argument("--models", help="comma-separated names from the set (default: all of it)")
    parser.add_argument("--list", action="store_true", help="list the set's models with their published figures")
    parser.add_argument("--fold-bn", action="store_true", help="fold BatchNorm into the convolutions")
    parser.add_argument("--no-check", action="store_true", help="skip the ONNX checker and the ONNX Runtime runs")
    args = parser.parse_args()
    models = model_set(args.set)
    if args.list:
        print_list(models)
        return
    if args.output is None:
        parser.error("--output is required (or --list)")
    names = [n for n in args.models.split(",") if n] if args.models else list(models)
    unknown = [n for n in names if n not in models]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)} in the {args.set} set; --list shows the names")
    args.output.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)       # one core: the machine may be timing something else
    start = time.perf_counter()
    for name in names:             # one at a time, so only one network is in memory
        began = time.perf_counter()
        spec = models[name]
        model = build(spec)
        params = sum(p.numel() for p in model.parameters())
        path = args.output / f"{name}.onnx"
        with torch.no_grad():
            export(model, path, spec.image, args.fold_bn)
        if not args.no_check:
            check(path, spec.image)
        print(f"{name:<22}{params:>13,} params  {path}  ({time.perf_counter() - began:.1f} s)", flush=True)
    print(f"{len(names)} models in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
