"""Schema violations the ONNX checker misses (or that ``--no-check`` lets through) never become counts.

A node whose attributes or shapes contradict its op's definition is reported ``invalid`` with the
reason, counts nothing, makes the report incomplete, and the nodes sized from its outputs are not
counted either. Valid models, the zoo's and onnx's own test cases among them, have no invalid node.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnx.defs
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.cost.analysis import COUNTED, INVALID, NO_FORMULA, UNKNOWN_SHAPE, analyze, walk_nodes
from onnxprof.cost.registry import all_entries
from onnxprof.errors import ModelError
from tests.builders import analyze as analyze_in_memory
from tests.builders import ints, make_model, weight

F32, I64 = TensorProto.FLOAT, TensorProto.INT64
MS = "com.microsoft"
X = ("x", [1, 8, 16, 16])


def node_model(op_type, inputs, initializers=(), n_outputs=1, opset=17, domain="", extra_opsets=(), output_shape=None,
               **attrs):
    """One node named ``bad`` reading ``inputs`` (make_model specs) and ``initializers``."""
    names = [spec[0] for spec in inputs] + [t.name for t in initializers]
    node = helper.make_node(op_type, names, [f"y{i}" for i in range(n_outputs)], name="bad", domain=domain, **attrs)
    outputs = [(f"y{i}", None, TensorProto.UNDEFINED) for i in range(n_outputs)]
    if output_shape is not None:   # for ops ONNX inference leaves unsized (functions such as GroupNormalization)
        outputs[0] = ("y0", output_shape, F32)
    model = make_model([node], inputs, outputs, initializers, opset=opset)
    model.opset_import.extend(helper.make_opsetid(d, v) for d, v in extra_opsets)
    return model


def conv(group=1, w=(16, 8, 3, 3), bias=None, x=X, **attrs):
    inits = [weight("w", list(w))] + ([weight("b", [bias])] if bias is not None else [])
    return node_model("Conv", [x], inits, group=group, **attrs)


def assert_invalid(model, reason_part: str, node: str = "bad"):
    """The node is invalid with a reason naming ``reason_part``; it counts nothing and the report says so."""
    report = analyze_in_memory(model)
    found = {n: r for n, r in walk_nodes(report.nodes)}
    assert found[node].status == INVALID, (found[node].status, found[node].reason)
    assert reason_part in found[node].reason
    assert found[node].macs is found[node].flops is found[node].bytes_read is None
    assert all(shape is None for shape in found[node].output_shapes)       # an impossible node's shapes are made up
    assert [(i.name, i.reason) for i in report.invalid_nodes] == [(node, found[node].reason)]
    assert not report.complete
    return report


# (id, model, words the reason must contain). Each is a one-node model whose only node is invalid:
# the expected totals are therefore exactly zero.
CASES = [
    ("conv group 0", conv(group=0), "'group' is 0"),
    ("conv group negative", conv(group=-2), "'group' is -2"),
    ("conv group not dividing channels", conv(group=3, w=(15, 8, 3, 3)),
     "input has 8 channels but the weight expects 24"),
    ("conv group not dividing filters", conv(group=2, w=(15, 4, 3, 3)), "group 2 does not divide the weight's 15"),
    ("conv weight channels", conv(w=(16, 4, 3, 3)), "input has 8 channels but the weight expects 4"),
    ("conv bias length", conv(bias=5), "bias has shape [5], [16] expected"),
    ("conv kernel rank", conv(w=(16, 8, 3)), "input has rank 4 but weight rank 3"),
    ("conv kernel_shape", conv(kernel_shape=[5, 5]), "kernel_shape [5, 5] differs"),
    ("conv strides length", conv(strides=[1, 1, 1]), "strides [1, 1, 1] has 3 values for 2 spatial axes"),
    ("conv negative pads", conv(pads=[1, -1, 1, 1]), "'pads' is [1, -1, 1, 1]: must not be negative"),
    ("conv int64 input", conv(x=("x", [1, 8, 16, 16], I64)), "is int64, which the op does not take"),
    ("conv weight left empty", node_model("Conv", [X, ("", None)]), "required input 1 is left empty"),
    ("conv transpose channels", node_model("ConvTranspose", [X], [weight("w", [4, 2, 3, 3])]),
     "input has 8 channels but the weight expects 4"),
    ("relu two inputs", node_model("Relu", [X, ("z", [1])]), "has 2 inputs, the op takes 1"),
    ("reshape two -1", node_model("Reshape", [X], [ints("s", [-1, -1])]), "more than one -1"),
    ("reshape product", node_model("Reshape", [X], [ints("s", [7, 100])]), "holds 700 elements"),
    ("reshape -2", node_model("Reshape", [X], [ints("s", [-2, 1024])]), "negative dim other than -1"),
    ("reshape -1 cannot divide", node_model("Reshape", [X], [ints("s", [3, -1])]), "cannot hold the input's 2048"),
    ("reshape copy past rank", node_model("Reshape", [("x", [2, 3])], [ints("s", [3, 0, 0])]), "the input has rank 2"),
    ("reshape allowzero with -1", node_model("Reshape", [X], [ints("s", [0, -1])], opset=14, allowzero=1),
     "both 0 and -1"),
    ("split sizes sum", node_model("Split", [X], [ints("s", [3, 3])], n_outputs=2, axis=1),
     "adds up to 6, axis 1 has 8"),
    ("split count", node_model("Split", [X], [ints("s", [4, 2, 2])], n_outputs=2, axis=1), "3 parts for 2 outputs"),
    ("split negative", node_model("Split", [X], [ints("s", [10, -2])], n_outputs=2, axis=1), "negative size"),
    ("split axis", node_model("Split", [X], [ints("s", [4, 4])], n_outputs=2, axis=4), "axis 4 is out of range"),
    ("pad length", node_model("Pad", [X], [ints("p", [1, 1, 1])]), "3 values, 8 expected"),
    ("pad negative total", node_model("Pad", [X], [ints("p", [0, 0, -20, 0, 0, 0, 0, 0])]), "a size of -4"),
    ("pad mode", node_model("Pad", [X], [ints("p", [0] * 8)], mode="mirror"), "mode 'mirror'"),
    ("range delta 0", node_model("Range", [], [numpy_helper.from_array(np.array(v, np.int64), n)
                                               for n, v in (("a", 0), ("b", 5), ("d", 0))]), "delta is 0"),
    ("range vector", node_model("Range", [("a", [3], I64), ("b", [], I64), ("d", [], I64)]), "start has shape [3]"),
    ("group norm without num_groups", node_model("GroupNormalization", [X], [weight("s", [8]), weight("c", [8])],
                                                 opset=21), "required attribute 'num_groups' is missing"),
    ("group norm groups not dividing", node_model("GroupNormalization", [X], [weight("s", [8]), weight("c", [8])],
                                                  opset=21, num_groups=3), "num_groups 3 does not divide the 8"),
    ("group norm scale", node_model("GroupNormalization", [X], [weight("s", [4]), weight("c", [4])], opset=21,
                                    num_groups=2), "[8] expected (one per channel)"),
    ("batch norm statistics", node_model("BatchNormalization", [X], [weight(n, [8 if n != "v" else 6])
                                                                     for n in "sbmv"]), "[8] expected"),
    ("layer norm axis", node_model("LayerNormalization", [X], [weight("s", [16])], axis=4), "axis 4 is out of range"),
    ("lrn without size", node_model("LRN", [X]), "required attribute 'size' is missing"),
    ("lrn size 0", node_model("LRN", [X], size=0), "'size' is 0"),
    ("maxpool without kernel", node_model("MaxPool", [X]), "required attribute 'kernel_shape' is missing"),
    ("maxpool kernel rank", node_model("MaxPool", [X], kernel_shape=[2, 2, 2]), "3 values for 2 spatial axes"),
    ("maxpool stride 0", node_model("MaxPool", [X], kernel_shape=[2, 2], strides=[0, 1]), "must be positive"),
    ("softmax axis tensor", node_model("Softmax", [("a", [2, 3])], axis=helper.make_tensor("t", I64, [], [1])),
     "attribute 'axis' is a tensor, the op takes an int"),
    ("softmax axis range", node_model("Softmax", [("a", [2, 3])], axis=5), "axis 5 is out of range for rank 2"),
    ("leaky relu alpha int", node_model("LeakyRelu", [("a", [2, 3])], alpha=2),
     "'alpha' is an int, the op takes a float"),
    ("gelu approximate", node_model("Gelu", [("a", [2, 3])], opset=20, approximate="fast"), "approximate 'fast'"),
    ("add float int64", node_model("Add", [("a", [2, 3]), ("b", [2, 3], I64)]), "'b' is int64 but 'a' is float32"),
    ("add shapes", node_model("Add", [("a", [2, 3]), ("b", [4, 3])]), "do not broadcast: [2, 3], [4, 3]"),
    ("matmul inner", node_model("MatMul", [("a", [2, 3]), ("b", [4, 5])]), "A [2, 3] has K = 3, B [4, 5] has K = 4"),
    ("matmul batch", node_model("MatMul", [("a", [2, 2, 3]), ("b", [5, 3, 4])]), "batch dims do not broadcast"),
    ("gemm inner", node_model("Gemm", [("a", [2, 3]), ("b", [4, 5])]), "A gives K = 3, B gives K = 4"),
    ("gemm transposed inner", node_model("Gemm", [("a", [3, 2]), ("b", [3, 5])], transB=1), "B gives K = 5"),
    ("gemm rank", node_model("Gemm", [("a", [2, 3, 4]), ("b", [4, 5])]), "A has rank 3"),
    ("gemm C", node_model("Gemm", [("a", [2, 3]), ("b", [3, 5]), ("c", [3])]), "C [3] does not broadcast to [2, 5]"),
    ("einsum without equation", node_model("Einsum", [("a", [2, 3])]), "required attribute 'equation' is missing"),
    ("einsum operands", node_model("Einsum", [("a", [2, 3])], equation="ij,jk->ik"), "2 operands, the node 1 inputs"),
    ("einsum index sizes", node_model("Einsum", [("a", [2, 3]), ("b", [4, 5])], equation="ij,jk->ik"),
     "index 'j' is 3 in one operand and 4"),
    ("transpose perm", node_model("Transpose", [("a", [2, 3])], perm=[0, 0]), "perm [0, 0] is not a permutation"),
    ("concat dims", node_model("Concat", [("a", [2, 3]), ("b", [4, 5])], axis=0), "inputs differ in dim 1"),
    ("concat axis", node_model("Concat", [("a", [2, 3]), ("b", [2, 3])], axis=2), "axis 2 is out of range"),
    ("gather axis", node_model("Gather", [("a", [2, 3])], [ints("i", [0])], axis=-3), "axis -3 is out of range"),
    ("squeeze size", node_model("Squeeze", [("a", [2, 3])], [ints("ax", [1])]), "axis 1 has size 3"),
    ("unsqueeze twice", node_model("Unsqueeze", [("a", [2, 3])], [ints("ax", [0, 0])]), "names an axis twice"),
    ("reduce axis", node_model("ReduceSum", [("a", [2, 3])], [ints("ax", [2])]), "axes 2 is out of range"),
    ("lstm hidden size", node_model("LSTM", [("x", [5, 2, 4])], [weight("w", [1, 16, 4]), weight("r", [1, 16, 4])],
                                    hidden_size=3), "W has 16 gates·H, 12 expected"),
    ("lstm input features", node_model("LSTM", [("x", [5, 2, 6])], [weight("w", [1, 16, 4]), weight("r", [1, 16, 4])]),
     "X has 6 input features, W expects 4"),
    ("resize mode", node_model("Resize", [X], [weight("roi", [0]), weight("scales", [4], value=2.0)], mode="bogus"),
     "mode 'bogus'"),
    ("scan more scan inputs than inputs", None, "num_scan_inputs is 3 but the node has 1 inputs"),
    ("if without else", None, "required attribute 'else_branch' is missing"),
    ("matmulnbits without K", None, "required attribute 'K' is missing"),
    ("matmulnbits K against A", None, "A's last dim is 64 but K is 32"),
    ("attention heads", None, "a width of 64 does not split into 5 heads"),
]


def _identity_graph(name: str, shape=(2, 3)) -> onnx.GraphProto:
    return helper.make_graph([helper.make_node("Identity", ["s"], ["o"], name=f"{name}_id")], name,
                             [helper.make_tensor_value_info("s", F32, list(shape))],
                             [helper.make_tensor_value_info("o", F32, list(shape))])


def _special(case_id: str) -> onnx.ModelProto:
    """Cases whose node needs a subgraph or a contrib domain."""
    if case_id == "scan more scan inputs than inputs":
        return node_model("Scan", [("a", [4, 3])], body=_identity_graph("body", (3,)), num_scan_inputs=3)
    if case_id == "if without else":
        cond = numpy_helper.from_array(np.array(True), "cond")
        return node_model("If", [], [cond], then_branch=_identity_graph("then"))
    nbits = [numpy_helper.from_array(np.zeros((32, 2, 16), np.uint8), "wq"), weight("sc", [32, 2])]
    if case_id == "matmulnbits without K":
        return node_model("MatMulNBits", [("a", [2, 64])], nbits, domain=MS, extra_opsets=[(MS, 1)],
                          N=32, bits=4, block_size=32)
    if case_id == "matmulnbits K against A":
        return node_model("MatMulNBits", [("a", [2, 64])], nbits, domain=MS, extra_opsets=[(MS, 1)],
                          K=32, N=32, bits=4, block_size=32)
    if case_id == "attention heads":
        return node_model("Attention", [("a", [2, 4, 64])], [weight("qkv", [64, 192]), weight("qb", [192])],
                          domain=MS, extra_opsets=[(MS, 1)], num_heads=5)
    raise KeyError(case_id)


@pytest.mark.parametrize("case_id, model, reason", CASES, ids=[c[0] for c in CASES])
def test_invalid_node_is_reported_with_its_reason_and_counts_nothing(case_id, model, reason):
    report = assert_invalid(model if model is not None else _special(case_id), reason)
    assert report.totals.macs == 0 and report.totals.flops == 0 and report.totals.bytes_moved == 0
    assert report.totals.macs_by_dtype == {} and report.totals.flops_by_dtype == {}


def test_the_same_nodes_made_valid_are_counted():
    # The fixed twins of a few cases: the checks do not reject what is right.
    assert analyze_in_memory(conv(group=2, w=(16, 4, 3, 3), bias=16)).nodes[0].macs == 16 * 14 * 14 * 4 * 9
    reshape = analyze_in_memory(node_model("Reshape", [X], [ints("s", [0, -1])])).nodes[0]
    assert reshape.status == COUNTED and reshape.output_shapes == ((1, 2048),)
    split = analyze_in_memory(node_model("Split", [X], [ints("s", [3, 5])], n_outputs=2, axis=1)).nodes[0]
    assert split.status == COUNTED and split.output_shapes == ((1, 3, 16, 16), (1, 5, 16, 16))
    gemm = analyze_in_memory(node_model("Gemm", [("a", [3, 2]), ("b", [5, 3]), ("c", [5])], transA=1, transB=1))
    assert gemm.nodes[0].macs == 2 * 3 * 5
    group_norm = analyze_in_memory(node_model("GroupNormalization", [X], [weight("s", [8]), weight("c", [8])],
                                              opset=21, num_groups=4, output_shape=X[1])).nodes[0]
    assert group_norm.flops == 8 * 2048 + 3 * 4


def _registered_schemas():
    """(registry entry, newest ONNX schema) of every registered op ONNX defines (ONNX Runtime's ops have
    their own list, tested above), and whether the schema has required attributes."""
    for entry in all_entries():
        domain = "" if entry.domain == "ai.onnx" else entry.domain
        try:
            schema = onnx.defs.get_schema(entry.op_type, 100, domain)
        except onnx.defs.SchemaError:
            continue
        yield entry, schema, any(a.required for a in schema.attributes.values())


def _schemas_with_required_attributes():
    for entry, schema, required in _registered_schemas():
        if required:
            yield pytest.param(schema, id=f"{entry.domain}::{entry.op_type}")


def _bare_node_model(schema, opset: int, attributes: dict) -> onnx.ModelProto:
    """The op with its fewest inputs (float [2, 3] each) and outputs, and only ``attributes``."""
    inputs = [(f"i{k}", [2, 3]) for k in range(schema.min_input)]
    outputs = [f"y{k}" for k in range(max(1, schema.min_output))]
    node = helper.make_node(schema.name, [name for name, _ in inputs], outputs, name="bad", domain=schema.domain,
                            **attributes)
    model = make_model([node], inputs, [("y0", None, TensorProto.UNDEFINED)], opset=opset)
    if schema.domain:
        model.opset_import.append(helper.make_opsetid(schema.domain, opset))
        model.opset_import[0].version = onnx.defs.onnx_opset_version()
    return model


@pytest.mark.parametrize("schema", list(_schemas_with_required_attributes()))
def test_every_op_without_its_required_attributes_is_invalid(schema):
    opset = schema.since_version if schema.domain else onnx.defs.onnx_opset_version()
    model = _bare_node_model(schema, opset, {})
    first = sorted(a.name for a in schema.attributes.values() if a.required)[0]
    try:
        report = analyze_in_memory(model)
    except ModelError:
        pytest.skip("refused as a file (ONNX inference cannot read it): not counted either")
    node = report.nodes[0]
    assert node.status == INVALID and node.reason == f"required attribute '{first}' is missing"
    assert node.macs is None and report.totals.flops == 0 and not report.complete


def _int_attributes_of_ops_without_required_ones():
    for entry, schema, required in _registered_schemas():
        if required:
            continue
        names = sorted(a.name for a in schema.attributes.values() if a.type == onnx.defs.OpSchema.AttrType.INT)
        if names:
            yield pytest.param(schema, names[0], id=f"{entry.domain}::{entry.op_type}.{names[0]}")


@pytest.mark.parametrize("schema, attribute", list(_int_attributes_of_ops_without_required_ones()))
def test_every_int_attribute_given_as_a_string_is_invalid(schema, attribute):
    opset = schema.since_version if schema.domain else onnx.defs.onnx_opset_version()
    try:
        report = analyze_in_memory(_bare_node_model(schema, opset, {attribute: "seven"}))
    except ModelError:
        pytest.skip("refused as a file")
    node = report.nodes[0]
    assert node.status == INVALID, node.reason
    assert node.reason == f"attribute '{attribute}' is a string, the op takes an int"


def test_nodes_sized_from_an_invalid_node_are_not_counted():
    # x [1, 2048] → Reshape to [7, 100] (impossible) → MatMul by [100, 10] → Relu; Relu x → z is fine.
    nodes = [helper.make_node("Reshape", ["x", "target"], ["r"], name="reshape"),
             helper.make_node("MatMul", ["r", "w"], ["m"], name="matmul"),
             helper.make_node("Relu", ["m"], ["y"], name="relu"),
             helper.make_node("Relu", ["x"], ["z"], name="fine")]
    model = make_model(nodes, [("x", [1, 2048])], [("y", None), ("z", None)],
                       [ints("target", [7, 100]), weight("w", [100, 10])])
    report = analyze_in_memory(model)
    status = {n.name: (n.status, n.reason) for n in report.nodes}
    assert status["reshape"][0] == INVALID and "holds 700 elements" in status["reshape"][1]
    assert status["matmul"] == (UNKNOWN_SHAPE, "its input 'r' derives from invalid node 'reshape'")
    assert status["relu"] == (UNKNOWN_SHAPE, "its input 'm' derives from invalid node 'reshape'")
    assert status["fine"][0] == COUNTED
    assert report.totals.flops == 2048 and report.totals.macs == 0        # the fine Relu alone
    assert report.outputs[0].shape is None and report.outputs[1].shape == (1, 2048)
    assert report.unknown_shape_nodes == ("matmul", "relu")
    assert report.memory.unknown_tensors == 2                              # m and y (r is a view of x)
    assert report.parameters.elements == 1000                              # the weight is in the file all the same


def test_a_negative_inferred_size_never_enters_the_memory_peak():
    # Pad leaves axis 2 at -4: ONNX inference writes that dim; its -2048 bytes must not lower the live total.
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu"),
             helper.make_node("Pad", ["a", "pads"], ["p"], name="pad"),
             helper.make_node("Relu", ["p"], ["y"], name="after")]
    model = make_model(nodes, [X], [("y", None)], [ints("pads", [0, 0, -20, 0, 0, 0, 0, 0])])
    report = analyze_in_memory(model)
    assert [n.status for n in report.nodes] == [COUNTED, INVALID, UNKNOWN_SHAPE]
    assert report.memory.peak_activation_bytes == 2 * 8192 and report.memory.unknown_tensors == 2


def test_an_invalid_node_inside_a_branch_is_named_by_its_path():
    bad = helper.make_node("Conv", ["x", "w"], ["o"], name="conv", group=0)
    then_branch = helper.make_graph([bad], "then", [], [helper.make_tensor_value_info("o", F32, None)])
    else_branch = helper.make_graph([helper.make_node("Relu", ["x"], ["o2"], name="relu")], "else", [],
                                    [helper.make_tensor_value_info("o2", F32, None)])
    node = helper.make_node("If", ["cond"], ["y"], name="if", then_branch=then_branch, else_branch=else_branch)
    model = make_model([node], [X, ("cond", [], TensorProto.BOOL)], [("y", None)], [weight("w", [16, 8, 3, 3])])
    report = analyze_in_memory(model)
    assert [(i.name, i.reason) for i in report.invalid_nodes] == [("if/then_branch/conv", "attribute 'group' is 0: "
                                                                                       "must be positive")]
    assert not report.complete
    branches = {sub.attribute: sub.flops for sub in report.nodes[0].subgraphs}
    assert branches == {"then_branch": 0, "else_branch": 8 * 16 * 16}   # the invalid node counts nothing
    assert report.nodes[0].status == UNKNOWN_SHAPE   # its output merges the branches: the invalid one's is unknown


def test_element_types_onnxprof_guessed_are_not_judged():
    # EmbedLayerNormalization's output type is guessed from its int32 ids: not evidence of a mismatch.
    from tests.cost.test_contrib_and_precision import bert_layer_model

    assert analyze_in_memory(bert_layer_model()).invalid_nodes == ()


def _call_model(callee: str) -> onnx.ModelProto:
    double = helper.make_function("local", "Double", ["a"], ["b"], [helper.make_node("Add", ["a", "a"], ["b"])],
                                  [helper.make_opsetid("", 17)])
    call = helper.make_node(callee, ["x"], ["y"], domain="local", name="call")
    model = make_model([call], [("x", [2, 3])], [("y", [2, 3])])
    model.opset_import.append(helper.make_opsetid("local", 1))
    model.functions.append(double)
    return model


def test_a_call_to_an_undefined_local_function_is_invalid():
    report = analyze_in_memory(_call_model("Triple"))
    assert report.nodes[0].status == INVALID
    assert report.nodes[0].reason == "calls local::Triple, a function the model does not define"
    assert not report.complete and report.uncounted_ops == ()      # not mistaken for a custom op
    defined = analyze_in_memory(_call_model("Double"))             # inlined: its body is counted
    assert [(n.op_type, n.status, n.flops) for n in defined.nodes] == [("Add", COUNTED, 6)]


def test_a_custom_domain_without_local_functions_is_an_op_without_formula():
    model = _call_model("Triple")
    del model.functions[:]
    report = analyze_in_memory(model)
    assert report.nodes[0].status == NO_FORMULA and report.invalid_nodes == ()


@pytest.mark.parametrize("name, macs, params", [
    ("resnet18", 1_814_073_344, 11_699_112), ("squeezenet1.1", 349_151_936, 1_235_496),
    ("mobilenet-v2", 300_774_272, 3_538_984),   # grouped (depthwise) convolutions
])
def test_valid_zoo_models_have_no_invalid_node_and_the_same_counts(name, macs, params):
    report = analyze(f"zoo:{name}")
    assert report.invalid_nodes == () and report.complete
    assert report.totals.macs.substitute({"N": 1}) == macs and report.parameters.elements == params


runner = CliRunner()


@pytest.fixture(scope="module")
def bad_file(tmp_path_factory):
    """Conv with group 0 (the checker accepts it), a Relu after it, and a valid Conv beside it."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv_bad", group=0),
             helper.make_node("Relu", ["c"], ["r"], name="relu_after"),
             helper.make_node("Conv", ["x", "w"], ["c2"], name="conv_ok")]
    model = make_model(nodes, [X], [("r", [1, 16, 14, 14]), ("c2", [1, 16, 14, 14])], [weight("w", [16, 8, 3, 3])])
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("schema") / "bad.onnx"
    onnx.save(model, path)
    return str(path)


def test_cli_names_the_invalid_node_with_its_reason_and_prints_no_count_for_it(bad_file):
    result = runner.invoke(app, ["analyze", bad_file, "--layers"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output      # analysed, not complete: like an op without a formula
    out = result.output
    assert "conv_bad (Conv): attribute 'group' is 0: must be positive" in out
    assert "Invalid nodes, not counted (1)" in out
    assert "Shapes derive from invalid nodes, not counted: relu_after" in out
    assert "1 / 3" in out and "totals are lower bounds" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("conv_bad"))
    assert "invalid" in row and "225.8" not in row and "?" in row    # no MACs, no shape
    assert "225.8" in next(line for line in out.splitlines() if line.strip().startswith("conv_ok"))


def test_cli_json_carries_status_reason_and_the_list(bad_file):
    result = runner.invoke(app, ["analyze", bad_file, "--format", "json"])
    assert result.exit_code == 0
    body = json.loads(result.output)
    nodes = {n["name"]: n for n in body["nodes"]}
    assert nodes["conv_bad"]["status"] == "invalid" and nodes["conv_bad"]["macs"] is None
    assert nodes["conv_bad"]["reason"] == "attribute 'group' is 0: must be positive"
    assert nodes["conv_bad"]["output_shapes"] == [None]
    assert nodes["relu_after"]["reason"] == "its input 'c' derives from invalid node 'conv_bad'"
    assert body["invalid_nodes"] == [{"name": "conv_bad", "op_type": "Conv", "domain": "ai.onnx",
                                      "reason": "attribute 'group' is 0: must be positive"}]
    assert body["complete"] is False and body["totals"]["macs"] == 16 * 14 * 14 * 8 * 9


def test_cli_csv_has_the_reason_column(bad_file):
    result = runner.invoke(app, ["analyze", bad_file, "--format", "csv"])
    header, first = result.output.splitlines()[:2]
    assert header.endswith(",reason") and first.startswith("conv_bad,Conv,ai.onnx,invalid,,,")
    assert first.endswith("attribute 'group' is 0: must be positive")


@pytest.mark.parametrize("model", [
    node_model("DFT", [("x", [2, 0, 2])], opset=17, axis=1),
    node_model("DeformConv", [("x", [1, 1, 3, 3]), ("w", [0, 1, 2, 2]), ("offset", [1, 8, 2, 2])], opset=19),
], ids=["dft of an empty axis", "deform conv without filters"])
def test_zero_sized_dims_count_zero_and_never_divide_by_zero(model):
    node = analyze_in_memory(model).nodes[0]
    assert (node.status, node.macs, node.flops) == (COUNTED, 0, 0)
