"""Shapes: ONNX inference, the symbolic arithmetic PyTorch exports need, and user binding."""

from __future__ import annotations

import pytest
from onnx import TensorProto, helper

from onnxprof.errors import UsageError
from onnxprof.model.shapes import parse_input_spec
from onnxprof.symbolic import Poly
from tests.builders import analyze, ints, make_model, weight

N, S = Poly.symbol("N"), Poly.symbol("S")


def attention_model():
    """x[N,S,64] reshaped to [N*S, 64] through Shape → Gather → Mul → Unsqueeze → Concat (ONNX's own
    inference gives up at the Mul of two symbols), projected, reshaped back, then scores q·kᵀ."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "i0"], ["n"], name="gather_n", axis=0),
        helper.make_node("Gather", ["shape", "i1"], ["s"], name="gather_s", axis=0),
        helper.make_node("Mul", ["n", "s"], ["ns"], name="mul"),
        helper.make_node("Unsqueeze", ["ns", "axes"], ["ns1"], name="unsqueeze"),
        helper.make_node("Concat", ["ns1", "width"], ["flat_shape"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "flat_shape"], ["flat"], name="flatten"),
        helper.make_node("MatMul", ["flat", "wq"], ["q_flat"], name="q_proj"),
        helper.make_node("Reshape", ["q_flat", "shape"], ["q"], name="unflatten"),
        helper.make_node("Transpose", ["x"], ["kt"], name="transpose", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"], name="scores"),
    ]
    inits = [ints("i0", 0), ints("i1", 1), ints("axes", [0]), ints("width", [64]), weight("wq", [64, 64])]
    return make_model(nodes, [("x", ["N", "S", 64])], [("scores", None)], inits)


def test_symbolic_reshape_chain_and_quadratic_attention_term():
    report = analyze(attention_model())
    shapes = {n.name: n.output_shapes[0] for n in report.nodes}
    assert shapes["flatten"] == (N * S, 64)
    assert shapes["unflatten"] == (N, S, 64)
    assert shapes["scores"] == (N, S, S)
    assert report.complete
    assert report.totals.macs == 64 * 64 * N * S + 64 * N * S * S
    assert report.symbols == ("N", "S")


def test_dim_binding_leaves_the_other_symbol():
    report = analyze(attention_model(), dims={"S": 128})
    assert report.totals.macs == (64 * 64 * 128 + 64 * 128 * 128) * N


def test_input_binding_makes_everything_concrete():
    report = analyze(attention_model(), inputs={"x": (2, 16, 64)})
    assert report.totals.macs == 2 * 16 * 64 * 64 + 2 * 16 * 16 * 64
    assert report.bindings == {"N": 2, "S": 16}


def test_batch_binds_only_the_leading_dim():
    report = analyze(attention_model(), batch=8)
    assert report.totals.macs == 8 * (64 * 64 * S + 64 * S * S)


@pytest.mark.parametrize("binding, message", [
    ({"inputs": {"images": (1, 3)}}, "no input of that name (its inputs: x)"),
    ({"inputs": {"x": (1, 16)}}, "gives 2 dims but the input has rank 3"),
    ({"inputs": {"x": (1, 16, 32)}}, "dim 2 is fixed at 64"),
])
def test_bad_bindings_say_what_is_wrong(binding, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        analyze(attention_model(), **binding)


@pytest.mark.parametrize("spec, parsed", [
    ("images:1x3x224x224", ("images", (1, 3, 224, 224))), ("a:b:2x2", ("a:b", (2, 2))), ("s:", ("s", ())),
])
def test_parse_input_spec(spec, parsed):
    assert parse_input_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["images", "images:1x3xH", ":1x3"])
def test_parse_input_spec_rejects(spec):
    with pytest.raises(UsageError, match="expected NAME:DIMS"):
        parse_input_spec(spec)


def test_identity_wrapped_weights_and_constant_nodes():
    # PyTorch wraps a shared weight in Identity and writes small constants as Constant nodes.
    shape = helper.make_tensor("value", TensorProto.INT64, [2], [-1, 16])
    nodes = [
        helper.make_node("Identity", ["w"], ["w_shared"], name="identity"),
        helper.make_node("MatMul", ["x", "w_shared"], ["h"], name="fc1"),
        helper.make_node("MatMul", ["h", "w_shared"], ["h2"], name="fc2"),
        helper.make_node("Constant", [], ["target"], name="const", value=shape),
        helper.make_node("Reshape", ["h2", "target"], ["y"], name="reshape"),
    ]
    report = analyze(make_model(nodes, [("x", ["N", 4, 16])], [("y", None)], [weight("w", [16, 16])]))
    assert report.totals.macs == 2 * 4 * 16 * 16 * N
    assert report.parameters.elements == 256          # shared through Identity, counted once
    assert {n.name: n.output_shapes[0] for n in report.nodes}["reshape"] == (4 * N, 16)


def test_data_dependent_dims_are_unknowns_not_symbols():
    # NonZero's output length depends on values; an exporter may name it, but no binding reaches it.
    nodes = [helper.make_node("NonZero", ["x"], ["idx"], name="nonzero"),
             helper.make_node("Cast", ["idx"], ["f"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Relu", ["f"], ["y"], name="relu")]
    info = helper.make_tensor_value_info("idx", TensorProto.INT64, [2, "NonZero_dim_1"])
    report = analyze(make_model(nodes, [("x", ["N", 4])], [("y", None)], value_info=[info]))
    assert report.unknown_shape_nodes == ("nonzero", "cast", "relu")
    assert report.symbols == ("N",)


def test_constant_arithmetic_on_shape_values_is_folded():
    # TorchScript's MultiheadAttention export: Slice(Shape(x), 0, Reshape(Mod(-1, 3), [1])) and
    # Where(Equal(shape, -1), ...) patterns, all on small integer tensors.
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Mod", ["minus1", "three"], ["mod"], name="mod"),
        helper.make_node("Reshape", ["mod", "one"], ["end"], name="end"),
        helper.make_node("Slice", ["shape", "zero", "end"], ["lead"], name="slice"),       # [N, S]
        helper.make_node("Concat", ["lead", "heads"], ["target"], name="concat", axis=0),  # [N, S, 4, 16]
        helper.make_node("Equal", ["target", "minus1"], ["is_minus1"], name="equal"),
        helper.make_node("Where", ["is_minus1", "ones", "target"], ["fixed"], name="where"),
        helper.make_node("Reshape", ["x", "fixed"], ["y"], name="split_heads"),
    ]
    inits = [ints("minus1", -1), ints("three", 3), ints("one", [1]), ints("zero", [0]), ints("heads", [4, 16]),
             ints("ones", [1, 1, 1, 1])]
    report = analyze(make_model(nodes, [("x", ["N", "S", 64])], [("y", None)], inits))
    shapes = {n.name: n.output_shapes[0] for n in report.nodes}
    assert shapes["slice"] == (2,)
    assert shapes["split_heads"] == (N, S, 4, 16)
    assert report.complete


def test_position_embeddings_sliced_to_a_symbolic_length():
    # pos_emb[:S] (Slice with an end from Shape) and Range(0, S): both S rows, not unknown.
    nodes = [
        helper.make_node("Shape", ["ids"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "i1"], ["s"], name="seq_len", axis=0),
        helper.make_node("Unsqueeze", ["s", "axes"], ["s1"], name="unsqueeze"),
        helper.make_node("Slice", ["pos", "zero", "s1"], ["pos_s"], name="slice_pos"),
        helper.make_node("Range", ["zero_s", "s", "one_s"], ["positions"], name="range"),
        helper.make_node("Gather", ["pos", "positions"], ["pos_r"], name="gather_pos", axis=0),
        helper.make_node("Add", ["pos_s", "pos_r"], ["y"], name="add"),
    ]
    inits = [ints("i1", 1), ints("axes", [0]), ints("zero", [0]), ints("zero_s", 0), ints("one_s", 1),
             weight("pos", [512, 8])]
    report = analyze(make_model(nodes, [("ids", ["N", "S"], TensorProto.INT64)], [("y", None)], inits))
    shapes = {n.name: n.output_shapes[0] for n in report.nodes}
    assert shapes["slice_pos"] == (S, 8) and shapes["range"] == (S,) and shapes["add"] == (S, 8)
    assert report.complete and report.totals.flops == 8 * S


def test_a_tied_embedding_counts_once():
    # The word embedding is read by Gather and, transposed, by the output MatMul: one parameter.
    nodes = [helper.make_node("Gather", ["wte", "ids"], ["h"], name="embed", axis=0),
             helper.make_node("Transpose", ["wte"], ["wte_t"], name="tie", perm=[1, 0]),
             helper.make_node("MatMul", ["h", "wte_t"], ["logits"], name="lm_head")]
    report = analyze(make_model(nodes, [("ids", ["N", 4], TensorProto.INT64)], [("logits", None)],
                                [weight("wte", [100, 16])]))
    assert report.parameters.elements == 1600 and report.parameters.tensors == 1
    assert {n.name: n.params for n in report.nodes}["lm_head"] == 1600


def shuffle_unit(k: int, x: str) -> list:
    """A ShuffleNetV2 unit on ``x[N,8,4,4]`` as the TorchScript exporter writes torchvision's: ``x.chunk(2, 1)``,
    a 1×1 Conv on the second half, Concat, then ``x.view(b, 2, c // 2, h, w).transpose(1, 2).view(b, -1, h, w)``.
    Both ``c // 2`` are Divs, where ONNX's data propagation stops. The unit's output is ``y{k}``."""
    p = f"u{k}_"
    return [
        helper.make_node("Shape", [x], [p + "in_shape"], name=p + "in_shape"),
        helper.make_node("Gather", [p + "in_shape", "i1"], [p + "in_c"], name=p + "in_c", axis=0),
        helper.make_node("Div", [p + "in_c", "two"], [p + "half"], name=p + "half"),
        helper.make_node("Unsqueeze", [p + "half", "axes"], [p + "half1"], name=p + "half1"),
        helper.make_node("Slice", [x, "zero1", p + "half1", "one1"], [p + "x1"], name=p + "chunk_1"),
        helper.make_node("Slice", [x, p + "half1", "end1", "one1"], [p + "x2"], name=p + "chunk_2"),
        helper.make_node("Conv", [p + "x2", "w"], [p + "z"], name=p + "conv"),
        helper.make_node("Concat", [p + "x1", p + "z"], [p + "cat"], name=p + "cat", axis=1),
        helper.make_node("Shape", [p + "cat"], [p + "shape"], name=p + "shape"),
        *(helper.make_node("Gather", [p + "shape", f"i{axis}"], [p + dim], name=p + "gather_" + dim, axis=0)
          for axis, dim in enumerate("bchw")),
        helper.make_node("Div", [p + "c", "two"], [p + "cg"], name=p + "div"),
        *(helper.make_node("Unsqueeze", [p + d, "axes"], [p + d + "1"], name=p + "unsqueeze_" + d)
          for d in ("b", "cg", "h", "w")),
        helper.make_node("Concat", [p + "b1", "two1", p + "cg1", p + "h1", p + "w1"], [p + "split_shape"],
                         name=p + "split_shape", axis=0),
        helper.make_node("Reshape", [p + "cat", p + "split_shape"], [p + "split"], name=p + "view_split"),
        helper.make_node("Transpose", [p + "split"], [p + "swapped"], name=p + "transpose", perm=[0, 2, 1, 3, 4]),
        helper.make_node("Concat", [p + "b1", "minus1", p + "h1", p + "w1"], [p + "merge_shape"],
                         name=p + "merge_shape", axis=0),
        helper.make_node("Reshape", [p + "swapped", p + "merge_shape"], [f"y{k}"], name=p + "view_merge"),
    ]


@pytest.mark.parametrize("binding", [{}, {"batch": 1}])
def test_a_long_chain_of_view_style_shuffle_units(binding):
    # Each unit's Divs wait on the unit before: ONNX inference (past Conv and Concat) and symbolic
    # evaluation (past the Divs) take turns, two rounds a unit. A fixed cap of 8 rounds lost the shapes
    # from the fourth unit on.
    units = 10
    nodes = [node for k in range(units) for node in shuffle_unit(k, "x" if k == 0 else f"y{k - 1}")]
    inits = [*(ints(f"i{axis}", axis) for axis in range(4)), ints("two", 2), ints("two1", [2]), ints("minus1", [-1]),
             ints("axes", [0]), ints("zero1", [0]), ints("one1", [1]), ints("end1", [2 ** 62]),
             weight("w", [4, 4, 1, 1])]
    report = analyze(make_model(nodes, [("x", ["N", 8, 4, 4])], [(f"y{units - 1}", None)], inits), **binding)
    batch = binding.get("batch", N)
    shapes = {n.name: n.output_shapes[0] for n in report.nodes}
    last = f"u{units - 1}_"
    assert shapes[last + "chunk_2"] == (batch, 4, 4, 4)
    assert shapes[last + "view_split"] == (batch, 2, 4, 4, 4)
    assert shapes[last + "view_merge"] == (batch, 8, 4, 4)
    assert report.complete and not report.unknown_shape_nodes
    assert report.totals.macs == units * 4 * 4 * 4 * 4 * batch
