"""Whole models: a ResNet-style and an Inception-style graph built here, and the zoo's ResNet-50."""

from __future__ import annotations

import pytest
from onnx import helper

from onnxprof.cost.analysis import analyze
from onnxprof.symbolic import Poly
from tests.builders import analyze as analyze_proto
from tests.builders import ints, make_model, weight

N = Poly.symbol("N")


def _conv(name, x, cin, cout, k, pad):
    return (helper.make_node("Conv", [x, f"{name}.w"], [name], name=name, pads=[pad] * 4),
            weight(f"{name}.w", [cout, cin, k, k]))


def _bn(name, x, c):
    stats = [weight(f"{name}.{s}", [c]) for s in ("g", "b", "m", "v")]
    return helper.make_node("BatchNormalization", [x] + [t.name for t in stats], [name], name=name), stats


def resnet_style_model():
    """stem conv 3→8, one residual block of two 3×3 convs, global pool, a PyTorch-style flatten
    (x.view(x.size(0), -1): Shape → Gather → Unsqueeze → Concat → Reshape), fc 8→10."""
    nodes, inits = [], []
    for name, x, cin, cout in (("conv1", "x", 3, 8), ("block.conv1", "relu1", 8, 8), ("block.conv2", "block.relu", 8, 8)):
        node, w = _conv(name, x, cin, cout, 3, 1)
        bn, stats = _bn(name.replace("conv", "bn"), name, cout)
        nodes += [node, bn]
        inits += [w, *stats]
        if name == "conv1":
            nodes.append(helper.make_node("Relu", ["bn1"], ["relu1"], name="relu1"))
        elif name == "block.conv1":
            nodes.append(helper.make_node("Relu", ["block.bn1"], ["block.relu"], name="block.relu"))
    nodes += [
        helper.make_node("Add", ["block.bn2", "relu1"], ["sum"], name="block.add"),
        helper.make_node("Relu", ["sum"], ["out"], name="block.relu2"),
        helper.make_node("GlobalAveragePool", ["out"], ["pooled"], name="avgpool"),
        helper.make_node("Shape", ["pooled"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsqueeze"),
        helper.make_node("Concat", ["batch1", "minus1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["pooled", "target"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
    ]
    inits += [ints("zero", 0), ints("axes0", [0]), ints("minus1", [-1]), weight("fc.w", [10, 8]), weight("fc.b", [10])]
    return make_model(nodes, [("x", ["N", 3, 32, 32])], [("logits", ["N", 10])], inits)


# conv1: 8 × 32×32 outputs × 27; each block conv: 8 × 1024 × 72; fc: 8 × 10.
RESNET_STYLE_MACS = 8 * 1024 * 27 + 2 * 8 * 1024 * 72 + 80
RESNET_STYLE_PARAMS = 8 * 27 + 2 * 8 * 72 + 3 * 4 * 8 + 10 * 8 + 10


def test_resnet_style_counts_are_formulas_in_the_batch():
    report = analyze_proto(resnet_style_model())
    assert report.complete
    assert report.symbols == ("N",)
    assert report.totals.macs == RESNET_STYLE_MACS * N
    assert report.parameters.elements == RESNET_STYLE_PARAMS
    shapes = {n.name: n.output_shapes[0] for n in report.nodes}
    assert shapes["flatten"] == (N, 8)   # -1 resolved symbolically: N*8 / N


def test_binding_the_batch_makes_counts_concrete():
    report = analyze_proto(resnet_style_model(), batch=4)
    assert report.symbols == ()
    assert report.totals.macs == 4 * RESNET_STYLE_MACS
    assert report.bindings == {"N": 4}
    assert report.inputs[0].shape == (4, 3, 32, 32)


def inception_style_model():
    """Three branches off one input, concatenated: 1×1 conv, 3×3 conv, max-pool then 1×1 conv."""
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["a"], name="branch_a"),
        helper.make_node("Conv", ["x", "wb"], ["b"], name="branch_b", pads=[1, 1, 1, 1]),
        helper.make_node("MaxPool", ["x"], ["p"], name="branch_c.pool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p", "wc"], ["c"], name="branch_c.conv"),
        helper.make_node("Concat", ["a", "b", "c"], ["y"], name="concat", axis=1),
    ]
    inits = [weight("wa", [4, 16, 1, 1]), weight("wb", [8, 16, 3, 3]), weight("wc", [4, 16, 1, 1])]
    return make_model(nodes, [("x", [1, 16, 8, 8])], [("y", [1, 16, 8, 8])], inits)


def test_inception_style_counts_and_peak_memory():
    report = analyze_proto(inception_style_model())
    assert report.totals.macs == 4 * 64 * 16 + 8 * 64 * 144 + 4 * 64 * 16
    assert report.totals.flops == 2 * report.totals.macs + 16 * 64 * 8   # + 8 comparisons per pooled value
    # Live bytes: x 4096; +a 1024; +b 2048; +pool 4096 = 11264 (x freed after the pool); then smaller.
    assert report.memory.peak_activation_bytes == 11264
    assert report.memory.peak_at == "branch_c.pool"
    assert report.memory.input_bytes == report.memory.output_bytes == 4096


# ResNet-50 BatchNorm channels: stem 64; stages 3×(64+64+256)+256, 4×(128+128+512)+512,
# 6×(256+256+1024)+1024, 3×(512+512+2048)+2048. Running mean and variance are ONNX initializers
# (PyTorch buffers), so they add 2 per channel to torchvision's 25,557,032 parameters.
RESNET50_BN_CHANNELS = 64 + (3 * 384 + 256) + (4 * 768 + 512) + (6 * 1536 + 1024) + (3 * 3072 + 2048)


def test_zoo_resnet50_matches_torchvision():
    report = analyze("zoo:resnet50")
    assert report.totals.macs == 4_089_184_256 * N   # torchvision: 4.089 G MACs
    assert report.parameters.elements == 25_557_032 + 2 * RESNET50_BN_CHANNELS
    assert report.complete


@pytest.mark.parametrize("name, gmacs", [("resnet18", 1.814), ("resnet34", 3.664), ("resnet101", 7.801)])
def test_zoo_resnets_match_published_macs(name, gmacs):
    report = analyze(f"zoo:{name}", )
    macs = report.totals.macs.substitute({"N": 1})
    assert round(macs / 1e9, 3) == gmacs
