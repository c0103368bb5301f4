"""The Inception family with their reference implementations' layer shapes (so the same parameter and
MAC counts): GoogLeNet and Inception-v3 as torchvision builds them (inference graphs, no auxiliary
heads), Inception-v4 as timm builds it (Szegedy et al. 2016). Every conv is conv (no bias) + BatchNorm
(eps 0.001) + ReLU. Node names follow each implementation's module tree."""

from __future__ import annotations

from onnxprof.zoo.builder import GraphBuilder, Pair

BN_EPS = 0.001


def _basic(b: GraphBuilder, x: str, prefix: str, cin: int, cout: int, kernel: Pair, stride: Pair = 1,
           pad: Pair = 0, relu_name: str = "relu") -> str:
    """torchvision's BasicConv2d / timm's ConvNormAct: ``prefix.conv``, ``prefix.bn``, then ReLU."""
    y = b.conv_bn(x, f"{prefix}.conv", f"{prefix}.bn", cin, cout, kernel, stride, pad, epsilon=BN_EPS)
    return b.relu(y, f"{prefix}.{relu_name}")


def _chain(b: GraphBuilder, x: str, prefix: str, layers: list[tuple], relu_name: str = "relu") -> str:
    """Consecutive BasicConv2d layers ``prefix.0``, ``prefix.1`` ... (an nn.Sequential);
    each layer is (cin, cout, kernel, stride, pad)."""
    for i, (cin, cout, kernel, stride, pad) in enumerate(layers):
        x = _basic(b, x, f"{prefix}.{i}", cin, cout, kernel, stride, pad, relu_name)
    return x


# -- GoogLeNet (torchvision) ---------------------------------------------------------------------------

# in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5" (a 3x3 in torchvision), pool projection
GOOGLENET_BLOCKS = {
    "inception3a": (192, 64, 96, 128, 16, 32, 32),
    "inception3b": (256, 128, 128, 192, 32, 96, 64),
    "inception4a": (480, 192, 96, 208, 16, 48, 64),
    "inception4b": (512, 160, 112, 224, 24, 64, 64),
    "inception4c": (512, 128, 128, 256, 24, 64, 64),
    "inception4d": (512, 112, 144, 288, 32, 64, 64),
    "inception4e": (528, 256, 160, 320, 32, 128, 128),
    "inception5a": (832, 256, 160, 320, 32, 128, 128),
    "inception5b": (832, 384, 192, 384, 48, 128, 128),
}


def _googlenet_block(b: GraphBuilder, x: str, name: str) -> tuple[str, int]:
    cin, c1, c3r, c3, c5r, c5, pool = GOOGLENET_BLOCKS[name]
    b1 = _basic(b, x, f"{name}.branch1", cin, c1, 1)
    b2 = _chain(b, x, f"{name}.branch2", [(cin, c3r, 1, 1, 0), (c3r, c3, 3, 1, 1)])
    # torchvision's branch3 uses a 3x3 conv where the paper has 5x5 (pytorch/vision#906)
    b3 = _chain(b, x, f"{name}.branch3", [(cin, c5r, 1, 1, 0), (c5r, c5, 3, 1, 1)])
    p = b.max_pool(x, f"{name}.branch4.0", 3, 1, 1, ceil=True)
    b4 = _basic(b, p, f"{name}.branch4.1", cin, pool, 1)
    return b.concat([b1, b2, b3, b4], f"{name}.cat"), c1 + c3 + c5 + pool


def googlenet(b: GraphBuilder, resolution: int = 224, classes: int = 1000):
    x = b.image_input(resolution)
    x = _basic(b, x, "conv1", 3, 64, 7, 2, 3)
    x = b.max_pool(x, "maxpool1", 3, 2, ceil=True)
    x = _basic(b, x, "conv2", 64, 64, 1)
    x = _basic(b, x, "conv3", 64, 192, 3, 1, 1)
    x = b.max_pool(x, "maxpool2", 3, 2, ceil=True)
    for name in GOOGLENET_BLOCKS:
        x, channels = _googlenet_block(b, x, name)
        if name == "inception3b":
            x = b.max_pool(x, "maxpool3", 3, 2, ceil=True)
        elif name == "inception4e":
            x = b.max_pool(x, "maxpool4", 2, 2, ceil=True)
    x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten")   # dropout is the identity at inference
    return b.linear(x, "fc", channels, classes), [b.batch, classes]


# -- Inception-v3 (torchvision Inception3) -------------------------------------------------------------

def _v3_a(b: GraphBuilder, x: str, name: str, cin: int, pool_features: int) -> tuple[str, int]:
    b1 = _basic(b, x, f"{name}.branch1x1", cin, 64, 1)
    b5 = _basic(b, x, f"{name}.branch5x5_1", cin, 48, 1)
    b5 = _basic(b, b5, f"{name}.branch5x5_2", 48, 64, 5, 1, 2)
    b3 = _basic(b, x, f"{name}.branch3x3dbl_1", cin, 64, 1)
    b3 = _basic(b, b3, f"{name}.branch3x3dbl_2", 64, 96, 3, 1, 1)
    b3 = _basic(b, b3, f"{name}.branch3x3dbl_3", 96, 96, 3, 1, 1)
    p = b.avg_pool(x, f"{name}.avg_pool2d", 3, 1, 1, count_include_pad=True)
    p = _basic(b, p, f"{name}.branch_pool", cin, pool_features, 1)
    return b.concat([b1, b5, b3, p], f"{name}.cat"), 64 + 64 + 96 + pool_features


def _v3_b(b: GraphBuilder, x: str, name: str, cin: int) -> tuple[str, int]:
    b3 = _basic(b, x, f"{name}.branch3x3", cin, 384, 3, 2)
    bd = _basic(b, x, f"{name}.branch3x3dbl_1", cin, 64, 1)
    bd = _basic(b, bd, f"{name}.branch3x3dbl_2", 64, 96, 3, 1, 1)
    bd = _basic(b, bd, f"{name}.branch3x3dbl_3", 96, 96, 3, 2)
    p = b.max_pool(x, f"{name}.max_pool2d", 3, 2)
    return b.concat([b3, bd, p], f"{name}.cat"), 384 + 96 + cin


def _v3_c(b: GraphBuilder, x: str, name: str, cin: int, c7: int) -> tuple[str, int]:
    b1 = _basic(b, x, f"{name}.branch1x1", cin, 192, 1)
    b7 = _basic(b, x, f"{name}.branch7x7_1", cin, c7, 1)
    b7 = _basic(b, b7, f"{name}.branch7x7_2", c7, c7, (1, 7), 1, (0, 3))
    b7 = _basic(b, b7, f"{name}.branch7x7_3", c7, 192, (7, 1), 1, (3, 0))
    bd = _basic(b, x, f"{name}.branch7x7dbl_1", cin, c7, 1)
    bd = _basic(b, bd, f"{name}.branch7x7dbl_2", c7, c7, (7, 1), 1, (3, 0))
    bd = _basic(b, bd, f"{name}.branch7x7dbl_3", c7, c7, (1, 7), 1, (0, 3))
    bd = _basic(b, bd, f"{name}.branch7x7dbl_4", c7, c7, (7, 1), 1, (3, 0))
    bd = _basic(b, bd, f"{name}.branch7x7dbl_5", c7, 192, (1, 7), 1, (0, 3))
    p = b.avg_pool(x, f"{name}.avg_pool2d", 3, 1, 1, count_include_pad=True)
    p = _basic(b, p, f"{name}.branch_pool", cin, 192, 1)
    return b.concat([b1, b7, bd, p], f"{name}.cat"), 4 * 192


def _v3_d(b: GraphBuilder, x: str, name: str, cin: int) -> tuple[str, int]:
    b3 = _basic(b, x, f"{name}.branch3x3_1", cin, 192, 1)
    b3 = _basic(b, b3, f"{name}.branch3x3_2", 192, 320, 3, 2)
    b7 = _basic(b, x, f"{name}.branch7x7x3_1", cin, 192, 1)
    b7 = _basic(b, b7, f"{name}.branch7x7x3_2", 192, 192, (1, 7), 1, (0, 3))
    b7 = _basic(b, b7, f"{name}.branch7x7x3_3", 192, 192, (7, 1), 1, (3, 0))
    b7 = _basic(b, b7, f"{name}.branch7x7x3_4", 192, 192, 3, 2)
    p = b.max_pool(x, f"{name}.max_pool2d", 3, 2)
    return b.concat([b3, b7, p], f"{name}.cat"), 320 + 192 + cin


def _v3_e(b: GraphBuilder, x: str, name: str, cin: int) -> tuple[str, int]:
    b1 = _basic(b, x, f"{name}.branch1x1", cin, 320, 1)
    b3 = _basic(b, x, f"{name}.branch3x3_1", cin, 384, 1)
    b3 = b.concat([_basic(b, b3, f"{name}.branch3x3_2a", 384, 384, (1, 3), 1, (0, 1)),
                   _basic(b, b3, f"{name}.branch3x3_2b", 384, 384, (3, 1), 1, (1, 0))], f"{name}.branch3x3.cat")
    bd = _basic(b, x, f"{name}.branch3x3dbl_1", cin, 448, 1)
    bd = _basic(b, bd, f"{name}.branch3x3dbl_2", 448, 384, 3, 1, 1)
    bd = b.concat([_basic(b, bd, f"{name}.branch3x3dbl_3a", 384, 384, (1, 3), 1, (0, 1)),
                   _basic(b, bd, f"{name}.branch3x3dbl_3b", 384, 384, (3, 1), 1, (1, 0))],
                  f"{name}.branch3x3dbl.cat")
    p = b.avg_pool(x, f"{name}.avg_pool2d", 3, 1, 1, count_include_pad=True)
    p = _basic(b, p, f"{name}.branch_pool", cin, 192, 1)
    return b.concat([b1, b3, bd, p], f"{name}.cat"), 320 + 768 + 768 + 192


def inception_v3(b: GraphBuilder, resolution: int = 299, classes: int = 1000):
    x = b.image_input(resolution)
    x = _basic(b, x, "Conv2d_1a_3x3", 3, 32, 3, 2)
    x = _basic(b, x, "Conv2d_2a_3x3", 32, 32, 3)
    x = _basic(b, x, "Conv2d_2b_3x3", 32, 64, 3, 1, 1)
    x = b.max_pool(x, "maxpool1", 3, 2)
    x = _basic(b, x, "Conv2d_3b_1x1", 64, 80, 1)
    x = _basic(b, x, "Conv2d_4a_3x3", 80, 192, 3)
    x = b.max_pool(x, "maxpool2", 3, 2)
    c = 192
    for name, pool_features in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
        x, c = _v3_a(b, x, name, c, pool_features)
    x, c = _v3_b(b, x, "Mixed_6a", c)
    for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        x, c = _v3_c(b, x, name, c, c7)
    # AuxLogits runs only in training: not part of the inference graph
    x, c = _v3_d(b, x, "Mixed_7a", c)
    for name in ("Mixed_7b", "Mixed_7c"):
        x, c = _v3_e(b, x, name, c)
    x = b.flatten(b.global_avg_pool(x, "avgpool"), "flatten")   # dropout is the identity at inference
    return b.linear(x, "fc", c, classes), [b.batch, classes]


# -- Inception-v4 (timm inception_v4; Szegedy, Ioffe, Vanhoucke 2016) ----------------------------------
# timm's ConvNormAct puts the ReLU inside its BatchNormAct2d: ``.conv``, ``.bn``, ``.bn.act``.

def _v4(b: GraphBuilder, x: str, prefix: str, cin: int, cout: int, kernel: Pair, stride: Pair = 1,
        pad: Pair = 0) -> str:
    return _basic(b, x, prefix, cin, cout, kernel, stride, pad, relu_name="bn.act")


def _v4_chain(b: GraphBuilder, x: str, prefix: str, layers: list[tuple]) -> str:
    return _chain(b, x, prefix, layers, relu_name="bn.act")


def _v4_a(b: GraphBuilder, x: str, name: str) -> str:
    b0 = _v4(b, x, f"{name}.branch0", 384, 96, 1)
    b1 = _v4_chain(b, x, f"{name}.branch1", [(384, 64, 1, 1, 0), (64, 96, 3, 1, 1)])
    b2 = _v4_chain(b, x, f"{name}.branch2", [(384, 64, 1, 1, 0), (64, 96, 3, 1, 1), (96, 96, 3, 1, 1)])
    p = b.avg_pool(x, f"{name}.branch3.0", 3, 1, 1, count_include_pad=False)
    b3 = _v4(b, p, f"{name}.branch3.1", 384, 96, 1)
    return b.concat([b0, b1, b2, b3], f"{name}.cat")


def _v4_reduction_a(b: GraphBuilder, x: str, name: str) -> str:
    b0 = _v4(b, x, f"{name}.branch0", 384, 384, 3, 2)
    b1 = _v4_chain(b, x, f"{name}.branch1", [(384, 192, 1, 1, 0), (192, 224, 3, 1, 1), (224, 256, 3, 2, 0)])
    b2 = b.max_pool(x, f"{name}.branch2", 3, 2)
    return b.concat([b0, b1, b2], f"{name}.cat")   # 384 + 256 + 384 = 1024


def _v4_b(b: GraphBuilder, x: str, name: str) -> str:
    b0 = _v4(b, x, f"{name}.branch0", 1024, 384, 1)
    b1 = _v4_chain(b, x, f"{name}.branch1", [(1024, 192, 1, 1, 0), (192, 224, (1, 7), 1, (0, 3)),
                                              (224, 256, (7, 1), 1, (3, 0))])
    b2 = _v4_chain(b, x, f"{name}.branch2", [(1024, 192, 1, 1, 0), (192, 192, (7, 1), 1, (3, 0)),
                                              (192, 224, (1, 7), 1, (0, 3)), (224, 224, (7, 1), 1, (3, 0)),
                                              (224, 256, (1, 7), 1, (0, 3))])
    p = b.avg_pool(x, f"{name}.branch3.0", 3, 1, 1, count_include_pad=False)
    b3 = _v4(b, p, f"{name}.branch3.1", 1024, 128, 1)
    return b.concat([b0, b1, b2, b3], f"{name}.cat")   # 384 + 256 + 256 + 128 = 1024


def _v4_reduction_b(b: GraphBuilder, x: str, name: str) -> str:
    b0 = _v4_chain(b, x, f"{name}.branch0", [(1024, 192, 1, 1, 0), (192, 192, 3, 2, 0)])
    b1 = _v4_chain(b, x, f"{name}.branch1", [(1024, 256, 1, 1, 0), (256, 256, (1, 7), 1, (0, 3)),
                                              (256, 320, (7, 1), 1, (3, 0)), (320, 320, 3, 2, 0)])
    b2 = b.max_pool(x, f"{name}.branch2", 3, 2)
    return b.concat([b0, b1, b2], f"{name}.cat")   # 192 + 320 + 1024 = 1536


def _v4_c(b: GraphBuilder, x: str, name: str) -> str:
    b0 = _v4(b, x, f"{name}.branch0", 1536, 256, 1)
    b1 = _v4(b, x, f"{name}.branch1_0", 1536, 384, 1)
    b1 = b.concat([_v4(b, b1, f"{name}.branch1_1a", 384, 256, (1, 3), 1, (0, 1)),
                   _v4(b, b1, f"{name}.branch1_1b", 384, 256, (3, 1), 1, (1, 0))], f"{name}.branch1.cat")
    b2 = _v4(b, x, f"{name}.branch2_0", 1536, 384, 1)
    b2 = _v4(b, b2, f"{name}.branch2_1", 384, 448, (3, 1), 1, (1, 0))
    b2 = _v4(b, b2, f"{name}.branch2_2", 448, 512, (1, 3), 1, (0, 1))
    b2 = b.concat([_v4(b, b2, f"{name}.branch2_3a", 512, 256, (1, 3), 1, (0, 1)),
                   _v4(b, b2, f"{name}.branch2_3b", 512, 256, (3, 1), 1, (1, 0))], f"{name}.branch2.cat")
    p = b.avg_pool(x, f"{name}.branch3.0", 3, 1, 1, count_include_pad=False)
    b3 = _v4(b, p, f"{name}.branch3.1", 1536, 256, 1)
    return b.concat([b0, b1, b2, b3], f"{name}.cat")   # 4 x 384 = 1536


def inception_v4(b: GraphBuilder, resolution: int = 299, classes: int = 1000):
    x = b.image_input(resolution)
    x = _v4(b, x, "features.0", 3, 32, 3, 2)
    x = _v4(b, x, "features.1", 32, 32, 3)
    x = _v4(b, x, "features.2", 32, 64, 3, 1, 1)
    # Mixed3a: max pool beside a strided conv -> 64 + 96 = 160
    x = b.concat([b.max_pool(x, "features.3.maxpool", 3, 2), _v4(b, x, "features.3.conv", 64, 96, 3, 2)],
                 "features.3.cat")
    # Mixed4a -> 96 + 96 = 192
    b0 = _v4_chain(b, x, "features.4.branch0", [(160, 64, 1, 1, 0), (64, 96, 3, 1, 0)])
    b1 = _v4_chain(b, x, "features.4.branch1", [(160, 64, 1, 1, 0), (64, 64, (1, 7), 1, (0, 3)),
                                                 (64, 64, (7, 1), 1, (3, 0)), (64, 96, 3, 1, 0)])
    x = b.concat([b0, b1], "features.4.cat")
    # Mixed5a: strided conv beside a max pool -> 192 + 192 = 384
    x = b.concat([_v4(b, x, "features.5.conv", 192, 192, 3, 2), b.max_pool(x, "features.5.maxpool", 3, 2)],
                 "features.5.cat")
    index = 6
    for block in [_v4_a] * 4 + [_v4_reduction_a] + [_v4_b] * 7 + [_v4_reduction_b] + [_v4_c] * 3:
        x = block(b, x, f"features.{index}")
        index += 1
    x = b.flatten(b.global_avg_pool(x, "global_pool.pool"), "global_pool.flatten")   # dropout: identity
    return b.linear(x, "last_linear", 1536, classes), [b.batch, classes]


NETWORKS = {"googlenet": googlenet, "inception-v3": inception_v3, "inception-v4": inception_v4}
