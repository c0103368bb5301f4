"""MobileNetV2 and EfficientNet-B0 with torchvision's layer shapes (so the same parameter and MAC
counts), node names as a PyTorch export of torchvision's modules would carry them. Dropout and
stochastic depth do nothing at inference and are left out."""

from __future__ import annotations

import numpy as np

from onnxprof.zoo.builder import GraphBuilder


def _make_divisible(value: float, divisor: int = 8) -> int:
    """torchvision's channel rounding: nearest multiple of ``divisor``, never more than 10 % down."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# -- MobileNetV2 -------------------------------------------------------------------------------------

# [expand ratio t, output channels c, repeats n, first stride s] (torchvision / the paper, Table 2)
MOBILENET_V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]


def _relu6(b: GraphBuilder, x: str, name: str) -> str:
    low = b.const(f"{name}.min", np.float32(0.0))
    high = b.const(f"{name}.max", np.float32(6.0))
    return b.node("Clip", [x, low, high], name)


def _conv_bn_act(b: GraphBuilder, x: str, prefix: str, cin: int, cout: int, k: int, stride: int = 1,
                 groups: int = 1, act: str | None = "relu6", epsilon: float = 1e-5) -> str:
    """torchvision's Conv2dNormActivation: ``prefix.0`` conv (no bias, 'same' padding), ``prefix.1``
    BatchNorm, ``prefix.2`` activation."""
    y = b.conv_bn(x, f"{prefix}.0", f"{prefix}.1", cin, cout, k, stride, (k - 1) // 2, groups, epsilon=epsilon)
    if act == "relu6":
        return _relu6(b, y, f"{prefix}.2")
    if act == "silu":
        return b.silu(y, f"{prefix}.2")
    return y


def _inverted_residual(b: GraphBuilder, x: str, prefix: str, cin: int, cout: int, stride: int, t: int) -> str:
    hidden = int(round(cin * t))
    y, i = x, 0
    if t != 1:  # pointwise expansion
        y = _conv_bn_act(b, y, f"{prefix}.conv.{i}", cin, hidden, 1)
        i += 1
    y = _conv_bn_act(b, y, f"{prefix}.conv.{i}", hidden, hidden, 3, stride, groups=hidden)  # depthwise
    y = b.conv_bn(y, f"{prefix}.conv.{i + 1}", f"{prefix}.conv.{i + 2}", hidden, cout, 1)  # linear projection
    if stride == 1 and cin == cout:
        y = b.add(x, y, f"{prefix}.add")
    return y


def mobilenet_v2(b: GraphBuilder, resolution: int = 224, classes: int = 1000, width: float = 1.0):
    x = b.image_input(resolution)
    channels = _make_divisible(32 * width)
    last = _make_divisible(1280 * max(1.0, width))
    x = _conv_bn_act(b, x, "features.0", 3, channels, 3, 2)
    index = 1
    for t, c, n, s in MOBILENET_V2:
        cout = _make_divisible(c * width)
        for i in range(n):
            x = _inverted_residual(b, x, f"features.{index}", channels, cout, s if i == 0 else 1, t)
            channels = cout
            index += 1
    x = _conv_bn_act(b, x, f"features.{index}", channels, last, 1)
    x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten")
    return b.linear(x, "classifier.1", last, classes), [b.batch, classes]


# -- EfficientNet ------------------------------------------------------------------------------------

# (expand ratio, kernel, first stride, input channels, output channels, repeats): torchvision's
# EfficientNet-B0 stages (the paper's Table 1)
EFFICIENTNET_B0 = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                   (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
BN_EPS_EFFICIENTNET = 1e-3


def _squeeze_excitation(b: GraphBuilder, x: str, prefix: str, channels: int, squeeze: int) -> str:
    """torchvision's SqueezeExcitation: avgpool, fc1 (1×1 conv), SiLU, fc2 (1×1 conv), sigmoid, scale."""
    s = b.global_avg_pool(x, f"{prefix}.avgpool")
    s = b.conv(s, f"{prefix}.fc1", channels, squeeze, 1, bias=True)
    s = b.silu(s, f"{prefix}.activation")
    s = b.conv(s, f"{prefix}.fc2", squeeze, channels, 1, bias=True)
    s = b.sigmoid(s, f"{prefix}.scale_activation")
    return b.mul(s, x, f"{prefix}.mul")


def _mbconv(b: GraphBuilder, x: str, prefix: str, cin: int, cout: int, expand: float, kernel: int,
            stride: int) -> str:
    eps = BN_EPS_EFFICIENTNET
    hidden = _make_divisible(cin * expand)
    y, i = x, 0
    if hidden != cin:  # pointwise expansion
        y = _conv_bn_act(b, y, f"{prefix}.block.{i}", cin, hidden, 1, act="silu", epsilon=eps)
        i += 1
    y = _conv_bn_act(b, y, f"{prefix}.block.{i}", hidden, hidden, kernel, stride, groups=hidden, act="silu",
                     epsilon=eps)
    y = _squeeze_excitation(b, y, f"{prefix}.block.{i + 1}", hidden, max(1, cin // 4))
    y = _conv_bn_act(b, y, f"{prefix}.block.{i + 2}", hidden, cout, 1, act=None, epsilon=eps)
    if stride == 1 and cin == cout:
        y = b.add(y, x, f"{prefix}.add")
    return y


def efficientnet_b0(b: GraphBuilder, resolution: int = 224, classes: int = 1000):
    eps = BN_EPS_EFFICIENTNET
    x = b.image_input(resolution)
    stem = EFFICIENTNET_B0[0][3]
    x = _conv_bn_act(b, x, "features.0", 3, stem, 3, 2, act="silu", epsilon=eps)
    for stage, (expand, kernel, stride, cin, cout, repeats) in enumerate(EFFICIENTNET_B0, start=1):
        for i in range(repeats):
            x = _mbconv(b, x, f"features.{stage}.{i}", cin if i == 0 else cout, cout, expand, kernel,
                        stride if i == 0 else 1)
    channels = EFFICIENTNET_B0[-1][4]
    head = 4 * channels
    x = _conv_bn_act(b, x, f"features.{len(EFFICIENTNET_B0) + 1}", channels, head, 1, act="silu", epsilon=eps)
    x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten")
    return b.linear(x, "classifier.1", head, classes), [b.batch, classes]


NETWORKS = {"mobilenet-v2": mobilenet_v2, "efficientnet-b0": efficientnet_b0}
