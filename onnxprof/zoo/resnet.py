"""ResNet-18/34/50/101/152 with torchvision's layer shapes (so the same parameter and MAC counts)."""

from __future__ import annotations

from onnxprof.zoo.builder import GraphBuilder

DEPTHS = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3]),
          101: ("bottleneck", [3, 4, 23, 3]), 152: ("bottleneck", [3, 8, 36, 3])}


def _conv_bn(b: GraphBuilder, x: str, name: str, bn_name: str, cin: int, cout: int, k: int, stride: int,
             pad: int, relu: bool) -> str:
    y = b.conv_bn(x, name, bn_name, cin, cout, k, stride, pad)
    return b.relu(y, f"{name}.relu") if relu else y


def _block(b: GraphBuilder, x: str, prefix: str, kind: str, cin: int, width: int, stride: int) -> tuple[str, int]:
    expansion = 4 if kind == "bottleneck" else 1
    cout = width * expansion
    if kind == "basic":
        y = _conv_bn(b, x, f"{prefix}.conv1", f"{prefix}.bn1", cin, width, 3, stride, 1, True)
        y = _conv_bn(b, y, f"{prefix}.conv2", f"{prefix}.bn2", width, width, 3, 1, 1, False)
    else:  # torchvision puts the stride on the 3x3 conv (ResNet v1.5)
        y = _conv_bn(b, x, f"{prefix}.conv1", f"{prefix}.bn1", cin, width, 1, 1, 0, True)
        y = _conv_bn(b, y, f"{prefix}.conv2", f"{prefix}.bn2", width, width, 3, stride, 1, True)
        y = _conv_bn(b, y, f"{prefix}.conv3", f"{prefix}.bn3", width, cout, 1, 1, 0, False)
    shortcut = x
    if stride != 1 or cin != cout:
        shortcut = _conv_bn(b, x, f"{prefix}.downsample.0", f"{prefix}.downsample.1", cin, cout, 1, stride, 0, False)
    out = b.node("Add", [y, shortcut], f"{prefix}.add")
    return b.relu(out, f"{prefix}.relu"), cout


def resnet(b: GraphBuilder, depth: int, resolution: int = 224, classes: int = 1000):
    kind, blocks = DEPTHS[depth]
    x = b.image_input(resolution)
    x = _conv_bn(b, x, "conv1", "bn1", 3, 64, 7, 2, 3, True)
    x = b.max_pool(x, "maxpool", 3, 2, 1)
    channels = 64
    for stage, (count, width) in enumerate(zip(blocks, [64, 128, 256, 512]), start=1):
        for i in range(count):
            stride = 2 if stage > 1 and i == 0 else 1
            x, channels = _block(b, x, f"layer{stage}.{i}", kind, channels, width, stride)
    x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten")
    return b.linear(x, "fc", channels, classes), [b.batch, classes]


NETWORKS = {f"resnet{depth}": (lambda b, depth=depth: resnet(b, depth)) for depth in DEPTHS}
