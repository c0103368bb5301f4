"""Classic CNNs: AlexNet, VGG-16/19 and SqueezeNet 1.1 with torchvision's layer shapes (so the same
parameter and MAC counts); BN-AlexNet and BN-NIN as in soumith/imagenet-multiGPU.torch
(alexnetowtbn, ninbn); the ENet encoder of e-lab/ENet-training (train/models/encoder.lua) as an
ImageNet classifier.

Inference graphs: dropout is left out, and so are adaptive average pools that are the identity at
224×224 (AlexNet's 6×6, VGG's 7×7). Node names follow the module trees (``features.0``,
``classifier.1``, ``features.3.squeeze``).

ENet: initial block, stage 1 (one downsampling bottleneck to 64 channels, four regular), stage 2
(downsampling bottleneck to 128) and two passes of [regular, dilated 2, asymmetric 5, dilated 4,
regular, dilated 8, asymmetric 5, dilated 16], as in encoder.lua (bias on the initial conv and the
middle convs, none on the 1×1 projections or the first half of an asymmetric pair; the asymmetric
pair is 1×5 then 5×1, encoder.lua's kW = 5 first). The paper's ImageNet head is unpublished; the head
here replaces the segmentation conv(128→classes, 1) with global average pooling, flatten and a
linear 128→1000 (logits, no softmax). Spatial dropout is left out; names follow PyTorch-ENet
(``downsample1_0.ext_conv1.0``, ``dilated2_2.ext_conv2.0``, ...).
"""

from __future__ import annotations

import numpy as np

from onnxprof.zoo.builder import GraphBuilder, constant

# -- AlexNet --------------------------------------------------------------------------------------

_ALEXNET_CONVS = [  # (cin, cout, kernel, stride, pad, maxpool after)
    (3, 64, 11, 4, 2, True), (64, 192, 5, 1, 2, True), (192, 384, 3, 1, 1, False),
    (384, 256, 3, 1, 1, False), (256, 256, 3, 1, 1, True)]


def alexnet(b: GraphBuilder, classes: int = 1000):
    x = b.image_input(224)
    i = 0
    for cin, cout, k, s, p, pool in _ALEXNET_CONVS:
        x = b.conv(x, f"features.{i}", cin, cout, k, s, p, bias=True)
        x = b.relu(x, f"features.{i + 1}")
        i += 2
        if pool:
            x = b.max_pool(x, f"features.{i}", 3, 2)
            i += 1
    x = b.flatten(x, "flatten")  # avgpool (6×6 adaptive) is the identity at 224
    x = b.relu(b.linear(x, "classifier.1", 256 * 6 * 6, 4096), "classifier.2")
    x = b.relu(b.linear(x, "classifier.4", 4096, 4096), "classifier.5")
    return b.linear(x, "classifier.6", 4096, classes), [b.batch, classes]


def bn_alexnet(b: GraphBuilder, classes: int = 1000):
    """alexnetowtbn: conv (with bias) + BN(eps 1e-3) + ReLU; Linear + BN1d + ReLU; LogSoftMax."""
    eps = 1e-3
    x = b.image_input(224)
    i = 0
    for cin, cout, k, s, p, pool in _ALEXNET_CONVS:
        x = b.conv_bn(x, f"features.{i}", f"features.{i + 1}", cin, cout, k, s, p, bias=True, epsilon=eps)
        x = b.relu(x, f"features.{i + 2}")
        i += 3
        if pool:
            x = b.max_pool(x, f"features.{i}", 3, 2)
            i += 1
    x = b.flatten(x, "classifier.0")  # nn.View(256*6*6); classifier.1 is dropout
    x = b.batch_norm(b.linear(x, "classifier.2", 256 * 6 * 6, 4096), "classifier.3", 4096, eps)
    x = b.relu(x, "classifier.4")  # classifier.5: dropout
    x = b.batch_norm(b.linear(x, "classifier.6", 4096, 4096), "classifier.7", 4096, eps)
    x = b.relu(x, "classifier.8")
    x = b.linear(x, "classifier.9", 4096, classes)
    return b.node("LogSoftmax", [x], "classifier.10", axis=1), [b.batch, classes]


# -- BN-NIN ---------------------------------------------------------------------------------------

def bn_nin(b: GraphBuilder, classes: int = 1000):
    """ninbn: four blocks of conv + two 1×1 convs (each with bias, BN eps 1e-3, ReLU)."""
    eps = 1e-3
    x = b.image_input(224)
    i = 0
    blocks = [(3, 96, 11, 4, 5), (96, 256, 5, 1, 2), (256, 384, 3, 1, 1), (384, 1024, 3, 1, 1)]
    for n, (cin, cout, k, s, p) in enumerate(blocks):
        for cin_, k_, s_, p_ in ((cin, k, s, p), (cout, 1, 1, 0), (cout, 1, 1, 0)):
            x = b.conv_bn(x, f"features.{i}", f"features.{i + 1}", cin_, cout, k_, s_, p_, bias=True, epsilon=eps)
            x = b.relu(x, f"features.{i + 2}")
            i += 3
        if n < len(blocks) - 1:
            x = b.max_pool(x, f"features.{i}", 3, 2, 1)
            i += 1
    x = b.avg_pool(x, f"features.{i}", 7, 1)
    x = b.flatten(x, "classifier.0")
    x = b.linear(x, "classifier.1", 1024, classes)
    return b.node("LogSoftmax", [x], "classifier.2", axis=1), [b.batch, classes]


# -- VGG ------------------------------------------------------------------------------------------

_VGG_CONFIGS = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def vgg(b: GraphBuilder, config: list, classes: int = 1000):
    x = b.image_input(224)
    channels, i = 3, 0
    for v in config:
        if v == "M":
            x = b.max_pool(x, f"features.{i}", 2, 2)
            i += 1
        else:
            x = b.relu(b.conv(x, f"features.{i}", channels, v, 3, 1, 1, bias=True), f"features.{i + 1}")
            channels, i = v, i + 2
    x = b.flatten(x, "flatten")  # avgpool (7×7 adaptive) is the identity at 224
    x = b.relu(b.linear(x, "classifier.0", 512 * 7 * 7, 4096), "classifier.1")
    x = b.relu(b.linear(x, "classifier.3", 4096, 4096), "classifier.4")
    return b.linear(x, "classifier.6", 4096, classes), [b.batch, classes]


# -- SqueezeNet 1.1 -------------------------------------------------------------------------------

def _fire(b: GraphBuilder, x: str, prefix: str, cin: int, squeeze: int, e1: int, e3: int) -> str:
    s = b.relu(b.conv(x, f"{prefix}.squeeze", cin, squeeze, 1, bias=True), f"{prefix}.squeeze_activation")
    a = b.relu(b.conv(s, f"{prefix}.expand1x1", squeeze, e1, 1, bias=True), f"{prefix}.expand1x1_activation")
    c = b.relu(b.conv(s, f"{prefix}.expand3x3", squeeze, e3, 3, 1, 1, bias=True),
               f"{prefix}.expand3x3_activation")
    return b.concat([a, c], f"{prefix}.cat")


def squeezenet1_1(b: GraphBuilder, classes: int = 1000):
    x = b.image_input(224)
    x = b.relu(b.conv(x, "features.0", 3, 64, 3, 2, bias=True), "features.1")
    x = b.max_pool(x, "features.2", 3, 2, ceil=True)
    x = _fire(b, x, "features.3", 64, 16, 64, 64)
    x = _fire(b, x, "features.4", 128, 16, 64, 64)
    x = b.max_pool(x, "features.5", 3, 2, ceil=True)
    x = _fire(b, x, "features.6", 128, 32, 128, 128)
    x = _fire(b, x, "features.7", 256, 32, 128, 128)
    x = b.max_pool(x, "features.8", 3, 2, ceil=True)
    x = _fire(b, x, "features.9", 256, 48, 192, 192)
    x = _fire(b, x, "features.10", 384, 48, 192, 192)
    x = _fire(b, x, "features.11", 384, 64, 256, 256)
    x = _fire(b, x, "features.12", 512, 64, 256, 256)
    x = b.relu(b.conv(x, "classifier.1", 512, classes, 1, bias=True), "classifier.2")  # classifier.0: dropout
    x = b.global_avg_pool(x, "classifier.3")
    return b.flatten(x, "flatten"), [b.batch, classes]


# -- ENet -----------------------------------------------------------------------------------------

def _prelu(b: GraphBuilder, x: str, name: str, channels: int) -> str:
    return b.node("PRelu", [x, b.param(f"{name}.weight", (channels, 1, 1), constant(0.25))], name)


def _bottleneck(b: GraphBuilder, x: str, name: str, cin: int, cout: int, downsample: bool = False,
                dilation: int = 1, asymmetric: int = 0) -> str:
    eps = 1e-3
    internal = cout // 4
    k = 2 if downsample else 1
    y = b.conv_bn(x, f"{name}.ext_conv1.0", f"{name}.ext_conv1.1", cin, internal, k, k, 0, epsilon=eps)
    y = _prelu(b, y, f"{name}.ext_conv1.2", internal)
    if asymmetric:
        pad = (asymmetric - 1) // 2
        y = b.conv(y, f"{name}.ext_conv2.0", internal, internal, (1, asymmetric), 1, (0, pad))
        y = b.conv_bn(y, f"{name}.ext_conv2.1", f"{name}.ext_conv2.2", internal, internal, (asymmetric, 1), 1,
                      (pad, 0), bias=True, epsilon=eps)
        y = _prelu(b, y, f"{name}.ext_conv2.3", internal)
    else:
        y = b.conv_bn(y, f"{name}.ext_conv2.0", f"{name}.ext_conv2.1", internal, internal, 3, 1, dilation,
                      bias=True, epsilon=eps, dilation=dilation)
        y = _prelu(b, y, f"{name}.ext_conv2.2", internal)
    y = b.conv_bn(y, f"{name}.ext_conv3.0", f"{name}.ext_conv3.1", internal, cout, 1, epsilon=eps)
    # spatial dropout (ext_regul) is the identity at inference
    shortcut = x
    if downsample:
        shortcut = b.max_pool(shortcut, f"{name}.main_max1", 2, 2)
    if cout != cin:  # zero channels appended after the input's (nn.Padding(1, out - in, 3))
        pads = b.const(f"{name}.main_pad.pads", np.array([0, 0, 0, 0, 0, cout - cin, 0, 0], np.int64))
        shortcut = b.node("Pad", [shortcut, pads], f"{name}.main_pad", mode="constant")
    return _prelu(b, b.add(shortcut, y, f"{name}.add"), f"{name}.out_activation", cout)


_ENET_STAGE = [("regular", 1, 0), ("dilated", 2, 0), ("asymmetric", 1, 5), ("dilated", 4, 0),
               ("regular", 1, 0), ("dilated", 8, 0), ("asymmetric", 1, 5), ("dilated", 16, 0)]


def enet(b: GraphBuilder, classes: int = 1000):
    eps = 1e-3
    x = b.image_input(224)
    conv = b.conv(x, "initial_block.main_branch", 3, 13, 3, 2, 1, bias=True)
    pool = b.max_pool(x, "initial_block.ext_branch", 2, 2)
    x = b.concat([conv, pool], "initial_block.cat")
    x = _prelu(b, b.batch_norm(x, "initial_block.batch_norm", 16, eps), "initial_block.out_activation", 16)
    x = _bottleneck(b, x, "downsample1_0", 16, 64, downsample=True)
    for i in range(1, 5):
        x = _bottleneck(b, x, f"regular1_{i}", 64, 64)
    x = _bottleneck(b, x, "downsample2_0", 64, 128, downsample=True)
    for stage, first in ((2, 1), (3, 0)):
        for j, (kind, dilation, asymmetric) in enumerate(_ENET_STAGE):
            x = _bottleneck(b, x, f"{kind}{stage}_{first + j}", 128, 128, dilation=dilation, asymmetric=asymmetric)
    x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten")
    return b.linear(x, "fc", 128, classes), [b.batch, classes]


NETWORKS = {
    "alexnet": alexnet,
    "bn-alexnet": bn_alexnet,
    "bn-nin": bn_nin,
    "vgg16": lambda b: vgg(b, _VGG_CONFIGS["vgg16"]),
    "vgg19": lambda b: vgg(b, _VGG_CONFIGS["vgg19"]),
    "squeezenet1.1": squeezenet1_1,
    "enet": enet,
}
