"""Each formula on a one-node model, against a count worked out by hand in the test."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from onnxprof.cost.analysis import COUNTED, NO_FORMULA, UNKNOWN_SHAPE
from tests.builders import analyze, ints, make_model, one_node, weight


def test_conv_with_bias_counts_macs_flops_and_bytes():
    # 4 output channels × 8×8 positions, each a 3×3×3 window: 256 × 27 MACs; bias adds 256.
    node = one_node("Conv", [("x", [1, 3, 8, 8])], initializers=[weight("w", [4, 3, 3, 3]), weight("b", [4])],
                    pads=[1, 1, 1, 1])
    assert node.status == COUNTED
    assert node.macs == 256 * 27
    assert node.flops == 2 * 256 * 27 + 256
    assert node.bytes_read == (3 * 64 + 108 + 4) * 4   # input, weight, bias
    assert node.bytes_written == 256 * 4
    assert node.params == 108 + 4


def test_grouped_conv_counts_only_its_group_channels():
    # group 2: each of 8×4×4 outputs sees 4/2 channels × 3×3.
    node = one_node("Conv", [("x", [1, 4, 6, 6])], initializers=[weight("w", [8, 2, 3, 3])], group=2)
    assert node.macs == 8 * 16 * 2 * 9
    assert node.flops == 2 * node.macs


def test_strided_conv_with_same_upper_padding():
    # ceil(7 / 2) = 4 outputs per axis, 9 MACs each.
    node = one_node("Conv", [("x", [1, 1, 7, 7])], initializers=[weight("w", [1, 1, 3, 3])], strides=[2, 2],
                    auto_pad="SAME_UPPER")
    assert node.output_shapes == ((1, 1, 4, 4),)
    assert node.macs == 16 * 9


def test_dilated_conv_shrinks_the_output_not_the_window():
    # dilation 2 spreads a 3×3 kernel over 5×5: 7 - 5 + 1 = 3 outputs per axis, still 9 MACs each.
    node = one_node("Conv", [("x", [1, 1, 7, 7])], initializers=[weight("w", [1, 1, 3, 3])], dilations=[2, 2])
    assert node.macs == 9 * 9


def test_conv_transpose_counts_each_input_against_the_kernel():
    # stride 2, kernel 2: no overlap, each of 4×6×6 outputs gets 1 tap from each of 2 input channels.
    node = one_node("ConvTranspose", [("x", [1, 2, 3, 3])], initializers=[weight("w", [2, 4, 2, 2])],
                    strides=[2, 2])
    assert node.output_shapes == ((1, 4, 6, 6),)
    assert node.macs == 4 * 36 * 2
    assert node.flops == 2 * node.macs


def test_gemm_with_bias_and_alpha():
    node = one_node("Gemm", [("a", [2, 3])], initializers=[weight("b", [3, 4]), weight("c", [4])], alpha=0.5)
    assert node.macs == 2 * 3 * 4
    assert node.flops == 2 * 24 + 8 + 8   # products, alpha scaling, bias


def test_gemm_transposed_a_takes_k_from_the_first_axis():
    node = one_node("Gemm", [("a", [3, 2])], initializers=[weight("b", [3, 4])], transA=1)
    assert node.macs == 2 * 3 * 4
    assert node.flops == 48


@pytest.mark.parametrize("a, b, macs", [
    ([2, 5, 3, 4], [4, 6], 2 * 5 * 3 * 6 * 4),    # batched, B broadcast
    ([4], [4, 6], 6 * 4),                         # 1-D A
    ([3, 4], [4], 3 * 4),                         # 1-D B
    ([2, 1, 3, 4], [5, 4, 2], 2 * 5 * 3 * 2 * 4),  # batch dims broadcast against each other
])
def test_matmul(a, b, macs):
    node = one_node("MatMul", [("a", a)], initializers=[weight("b", b)])
    assert node.macs == macs
    assert node.flops == 2 * macs


def test_batch_norm_per_element_and_per_channel():
    stats = [weight(n, [3]) for n in ("scale", "bias", "mean", "var")]
    node = one_node("BatchNormalization", [("x", [2, 3, 4, 4])], initializers=stats)
    assert node.flops == 2 * 96 + 5 * 3
    assert node.macs == 0


def test_instance_norm():
    node = one_node("InstanceNormalization", [("x", [2, 3, 4, 4])], initializers=[weight("s", [3]), weight("b", [3])])
    assert node.flops == 8 * 96 + 3 * 6


@pytest.mark.parametrize("with_bias, per_element", [(True, 8), (False, 7)])
def test_layer_norm(with_bias, per_element):
    params = [weight("s", [8])] + ([weight("b", [8])] if with_bias else [])
    node = one_node("LayerNormalization", [("x", [2, 5, 8])], initializers=params, axis=-1)
    assert node.flops == per_element * 80 + 3 * 10


def test_lrn():
    node = one_node("LRN", [("x", [1, 8, 2, 2])], size=5)
    assert node.flops == (2 * 5 + 3) * 32


@pytest.mark.parametrize("op, per_element, attrs", [
    ("Relu", 1, {}), ("LeakyRelu", 2, {}), ("Sigmoid", 4, {}), ("Tanh", 1, {}), ("HardSigmoid", 4, {}),
    ("HardSwish", 5, {}), ("Erf", 1, {}), ("Sqrt", 1, {}), ("Gelu", 5, {}), ("Gelu", 9, {"approximate": "tanh"}),
])
def test_activations_cost_a_constant_per_element(op, per_element, attrs):
    node = one_node(op, [("x", [2, 3, 5])], opset=20, **attrs)
    assert node.flops == per_element * 30
    assert node.bytes_read == node.bytes_written == 30 * 4


def test_prelu_and_clip_broadcast_their_parameters():
    assert one_node("PRelu", [("x", [2, 3])], initializers=[weight("slope", [3])]).flops == 2 * 6
    clip = one_node("Clip", [("x", [2, 3])], initializers=[weight("lo", []), weight("hi", [])])
    assert clip.flops == 2 * 6
    assert clip.params == 0   # rank-0 bounds are constants, not parameters


@pytest.mark.parametrize("op, opset, axis, flops", [
    ("Softmax", 13, -1, 5 * 30 - 2 * 6),    # 6 rows of 5
    ("Softmax", 11, 1, 5 * 30 - 2 * 2),     # before opset 13: coerced to [2, 15]
    ("LogSoftmax", 13, 1, 5 * 30 - 10),     # rows along axis 1: 2 × 5 of them
])
def test_softmax_rows(op, opset, axis, flops):
    assert one_node(op, [("x", [2, 3, 5])], opset=opset, axis=axis).flops == flops


@pytest.mark.parametrize("op, inputs, flops", [
    ("Add", [("a", [2, 3, 4]), ("b", [4])], 24),
    ("Mul", [("a", [2, 1]), ("b", [1, 3])], 6),
    ("Sum", [("a", [5]), ("b", [5]), ("c", [5])], 10),
    ("Mean", [("a", [5]), ("b", [5]), ("c", [5])], 15),
    ("Max", [("a", [2, 1]), ("b", [1, 3])], 6),
    ("Pow", [("a", [4]), ("b", [])], 4),
    ("Div", [("a", [3, 3]), ("b", [3, 3])], 9),
])
def test_broadcasting_elementwise(op, inputs, flops):
    assert one_node(op, inputs).flops == flops


@pytest.mark.parametrize("attrs, outputs", [
    ({}, 2 * 2 * 2),                          # floor((6 - 3) / 2) + 1 = 2 per axis
    ({"ceil_mode": 1}, 2 * 3 * 3),            # ceil: 3 per axis
    ({"pads": [1, 1, 1, 1]}, 2 * 3 * 3),      # (6 + 2 - 3) / 2 + 1 = 3
])
def test_max_pool_window_comparisons(attrs, outputs):
    node = one_node("MaxPool", [("x", [1, 2, 6, 6])], kernel_shape=[3, 3], strides=[2, 2], **attrs)
    assert node.flops == outputs * (9 - 1)


def test_average_and_global_pools():
    assert one_node("AveragePool", [("x", [1, 1, 4, 4])], kernel_shape=[2, 2], strides=[2, 2]).flops == 4 * 4
    assert one_node("GlobalAveragePool", [("x", [1, 3, 4, 4])]).flops == 48
    assert one_node("GlobalMaxPool", [("x", [1, 3, 4, 4])]).flops == 48 - 3


def test_reductions():
    assert one_node("ReduceMean", [("x", [2, 3, 4])], initializers=[ints("axes", [1])], opset=18).flops == 24
    assert one_node("ReduceSum", [("x", [2, 3, 4])], initializers=[ints("axes", [1, 2])]).flops == 24 - 2


@pytest.mark.parametrize("mode, flops", [("nearest", 0), ("linear", 16 * 3 * 3)])
def test_resize_modes(mode, flops):
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], name="node", mode=mode)
    report = analyze(make_model([node], [("x", [1, 1, 2, 2])], [("y", None)], [scales]))
    assert report.nodes[0].output_shapes == ((1, 1, 4, 4),)
    assert report.nodes[0].flops == flops


def test_upsample_of_opset_9():
    scales = helper.make_tensor("scales", TensorProto.FLOAT, [4], [1, 1, 2, 2])
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], name="node", mode="nearest")
    report = analyze(make_model([node], [("x", [1, 1, 2, 2])], [("y", None)], [scales], opset=9, ir_version=4))
    assert report.nodes[0].status == COUNTED
    assert report.nodes[0].flops == 0


def test_pad_moves_bytes_without_arithmetic():
    node = one_node("Pad", [("x", [1, 1, 2, 2])], initializers=[ints("pads", [0, 0, 1, 1, 0, 0, 1, 1])])
    assert node.output_shapes == ((1, 1, 4, 4),)
    assert node.flops == 0
    assert node.bytes_read == 4 * 4 + 8 * 8
    assert node.bytes_written == 16 * 4


def test_views_move_nothing_copies_move_bytes():
    reshape = one_node("Reshape", [("x", [2, 3])], initializers=[ints("shape", [3, 2])])
    assert (reshape.bytes_read, reshape.bytes_written, reshape.flops) == (0, 0, 0)
    transpose = one_node("Transpose", [("x", [2, 3])])
    assert (transpose.bytes_read, transpose.bytes_written) == (24, 24)
    shape = one_node("Shape", [("x", [2, 3, 4])])
    assert (shape.bytes_read, shape.bytes_written) == (0, 3 * 8)


@pytest.mark.parametrize("op, inputs, initializers, attrs", [
    ("Flatten", [("x", [2, 3, 4])], [], {"axis": 1}),
    ("Concat", [("a", [2, 3]), ("b", [2, 3])], [], {"axis": 0}),
    ("Slice", [("x", [4, 4])], [ints("s", [1]), ints("e", [3])], {}),
    ("Gather", [("x", [5, 4])], [ints("i", [0, 2])], {"axis": 0}),
    ("Squeeze", [("x", [1, 4])], [ints("ax", [0])], {}),
    ("Unsqueeze", [("x", [4])], [ints("ax", [0])], {}),
    ("Identity", [("x", [4])], [], {}),
    ("Dropout", [("x", [4])], [], {}),
    ("Cast", [("x", [4])], [], {"to": TensorProto.FLOAT16}),
    ("Expand", [("x", [1, 4])], [ints("shape", [3, 4])], {}),
    ("ConstantOfShape", [], [ints("shape", [2, 3])], {}),
])
def test_data_movers_cost_zero_flops(op, inputs, initializers, attrs):
    node = one_node(op, inputs, initializers=initializers, **attrs)
    assert node.status == COUNTED
    assert node.flops == 0 and node.macs == 0


def test_split_writes_every_output():
    node = one_node("Split", [("x", [4, 6])], initializers=[ints("split", [2, 4])], n_outputs=2, axis=1)
    assert node.output_shapes == ((4, 2), (4, 4))
    assert node.bytes_written == 24 * 4


def test_an_op_without_formula_is_listed_never_zero():
    node = helper.make_node("Frobnicate", ["x"], ["y"], name="mystery", domain="com.example")
    model = make_model([node], [("x", [2])], [("y", None)])
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    report = analyze(model)
    assert report.nodes[0].status == NO_FORMULA
    assert report.nodes[0].flops is None
    assert [(u.domain, u.op_type, u.count) for u in report.uncounted_ops] == [("com.example", "Frobnicate", 1)]
    assert not report.complete


def test_a_node_of_unknown_shape_is_named():
    # The target shape is a run-time input: nothing downstream can be sized.
    nodes = [helper.make_node("Reshape", ["x", "target"], ["r"], name="reshape"),
             helper.make_node("Relu", ["r"], ["y"], name="relu")]
    model = make_model(nodes, [("x", [2, 6]), ("target", [2], TensorProto.INT64)], [("y", None)])
    report = analyze(model)
    assert report.unknown_shape_nodes == ("relu",)
    assert report.nodes[1].status == UNKNOWN_SHAPE
    assert not report.complete


def test_float16_weights_are_counted_in_their_own_bytes():
    node = one_node("MatMul", [("a", [2, 4], TensorProto.FLOAT16)], initializers=[weight("b", [4, 3], np.float16)])
    assert node.bytes_read == (8 + 12) * 2
