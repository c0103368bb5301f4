"""Loading: weights as metadata only, external data checked but never read, and every bad file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxprof.cost.analysis import analyze
from onnxprof.errors import ModelError
from onnxprof.model.load import load_model
from tests.builders import make_model, weight
from tests.cost.test_models import RESNET_STYLE_MACS, RESNET_STYLE_PARAMS, resnet_style_model


def _matmul_model(width: int = 128, layers: int = 2, ir_version: int = 9):
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array(rng.standard_normal((width, width)).astype(np.float32), f"w{i}"))
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"y{i}"], name=f"fc{i}"))
        x = f"y{i}"
    return make_model(nodes, [("x", ["N", width])], [(x, ["N", width])], inits, ir_version=ir_version)


def test_in_file_weights_are_left_out_while_parsing(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_matmul_model(width=128), path)   # 64 KB weights: payloads the loader skips
    loaded = load_model(path)
    assert all(len(t.raw_data) == 0 for t in loaded.model.graph.initializer)
    assert [tuple(t.dims) for t in loaded.model.graph.initializer] == [(128, 128), (128, 128)]
    report = analyze(path)
    assert report.parameters.elements == 2 * 128 * 128
    assert report.memory.weight_bytes == 2 * 128 * 128 * 4


def test_file_and_memory_give_the_same_report(tmp_path):
    path = tmp_path / "resnet_style.onnx"
    onnx.save(resnet_style_model(), path)
    report = analyze(path)
    assert report.totals.macs.substitute({"N": 1}) == RESNET_STYLE_MACS
    assert report.parameters.elements == RESNET_STYLE_PARAMS
    assert report.model.file_bytes == path.stat().st_size


def _external_model(tmp_path, width=4096, layers=4, location="weights.bin", data_bytes=None):
    nodes, inits, x, offset = [], [], "x", 0
    for i in range(layers):
        w = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[width, width],
                        data_location=TensorProto.EXTERNAL)
        for key, value in (("location", location), ("offset", str(offset)), ("length", str(width * width * 4))):
            entry = w.external_data.add()
            entry.key, entry.value = key, value
        offset += width * width * 4
        inits.append(w)
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"y{i}"], name=f"fc{i}"))
        x = f"y{i}"
    path = tmp_path / "model.onnx"
    onnx.save(make_model(nodes, [("x", ["N", width])], [(x, ["N", width])], inits), path)
    if data_bytes is not None:
        with open(tmp_path / "weights.bin", "wb") as f:
            f.truncate(data_bytes)  # sparse: the size is real, the contents never written
    return path, offset


def test_external_data_is_sized_not_read(tmp_path):
    path, total = _external_model(tmp_path, width=16384, layers=4, data_bytes=None)
    with open(tmp_path / "weights.bin", "wb") as f:
        f.truncate(total)  # 4.3 GB, sparse
    # In a fresh process: reading the weights would need gigabytes of memory. VmHWM is the peak
    # resident size of this process image (ru_maxrss would carry over the forking parent's).
    code = textwrap.dedent(f"""
        from onnxprof.cost.analysis import analyze
        report = analyze({str(path)!r})
        peak_kb = int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0])
        print(report.parameters.elements, report.model.external_bytes, peak_kb // 1024)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    elements, external, rss_mb = map(int, out)
    assert elements == 4 * 16384 * 16384
    assert external == total
    assert rss_mb < 300


@pytest.mark.parametrize("location, data_bytes, message", [
    ("weights.bin", None, "is missing: weights.bin not found next to the model"),
    ("../outside.bin", None, "points outside the model's folder"),
    ("weights.bin", 1000, "runs past the end of weights.bin"),
])
def test_bad_external_data(tmp_path, location, data_bytes, message):
    path, _ = _external_model(tmp_path, width=64, layers=1, location=location, data_bytes=data_bytes)
    with pytest.raises(ModelError, match=message):
        load_model(path)


def test_old_ir_lists_initializers_as_inputs(tmp_path):
    model = _matmul_model(width=8, ir_version=3)
    model.opset_import[0].version = 8
    for t in model.graph.initializer:
        model.graph.input.append(helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims)))
    report = analyze(_save(tmp_path, model))
    assert [t.name for t in report.inputs] == ["x"]   # the weights are not inputs to feed
    assert report.parameters.elements == 2 * 64


def test_unsorted_nodes_are_put_in_order(tmp_path):
    model = _matmul_model(width=8, layers=3)
    nodes = list(model.graph.node)
    del model.graph.node[:]
    model.graph.node.extend(reversed(nodes))
    report = analyze(_save(tmp_path, model))
    assert [n.name for n in report.nodes] == ["fc0", "fc1", "fc2"]
    assert report.totals.macs == 3 * 64 * report.inputs[0].shape[0]


def test_control_flow_bodies_belong_to_the_model(tmp_path):
    then_graph = helper.make_graph([helper.make_node("MatMul", ["x", "w_then"], ["t"], name="then_mm")], "then", [],
                                   [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, 8])],
                                   [weight("w_then", [8, 8])])
    else_graph = helper.make_graph([helper.make_node("Relu", ["x"], ["e"], name="else_relu")], "else", [],
                                   [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 8])])
    node = helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_graph, else_branch=else_graph)
    model = make_model([node], [("cond", [], TensorProto.BOOL), ("x", [2, 8])], [("y", [2, 8])])
    report = analyze(_save(tmp_path, model))
    assert report.parameters.elements == 64       # the then-branch weight
    graph = report.graph
    assert set(graph.nodes["branch"]["subgraphs"]) == {"then_branch", "else_branch"}
    assert graph.nodes["branch"]["captured"] == ("x",)   # x flows into the bodies from outside


def _save(tmp_path, model, name="model.onnx"):
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _bytes_file(tmp_path, data: bytes):
    path = tmp_path / "bad.onnx"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "nope.onnx", "no such file"),
    (lambda tmp: tmp, "is a folder"),
    (lambda tmp: _bytes_file(tmp, b""), "not a readable ONNX file"),
    (lambda tmp: _bytes_file(tmp, b"this is a README, not a model\n" * 4), "not"),
    (lambda tmp: _bytes_file(tmp, _matmul_model().SerializeToString()[:40000]), "truncated or corrupted"),
])
def test_unreadable_files(tmp_path, make, message):
    with pytest.raises(ModelError, match=message):
        load_model(make(tmp_path))


def test_corrupted_bytes_are_caught(tmp_path):
    data = bytearray(_matmul_model(width=8).SerializeToString())
    data[10:30] = b"\xff" * 20
    with pytest.raises(ModelError):
        analyze(_bytes_file(tmp_path, bytes(data)))


def test_versions_newer_than_onnx_knows(tmp_path):
    model = _matmul_model(width=8)
    model.ir_version = onnx.IR_VERSION + 1
    with pytest.raises(ModelError, match=r"IR version .* newer .* pip install -U onnx"):
        load_model(_save(tmp_path, model))
    model = _matmul_model(width=8)
    model.opset_import[0].version = onnx.defs.onnx_opset_version() + 1
    with pytest.raises(ModelError, match=r"opset .* newer"):
        load_model(_save(tmp_path, model))


def test_checker_rejection_is_reported_and_can_be_skipped(tmp_path):
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape="not ints")
    path = _save(tmp_path, make_model([node], [("x", [1, 1, 4, 4])], [("y", [1, 1, 2, 2])], [weight("w", [1, 1, 3, 3])]))
    with pytest.raises(ModelError, match="the ONNX checker rejects the model.*--no-check"):
        load_model(path)


def test_cycle_names_its_nodes(tmp_path):
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"], name="second")]
    path = _save(tmp_path, make_model(nodes, [("x", [2])], [("a", [2])]))
    with pytest.raises(ModelError, match=r"cycle \((first -> second -> first|second -> first -> second)\)"):
        load_model(path)


def test_unsorted_bodies_inside_an_unsorted_graph_are_put_in_order(tmp_path):
    """Ordering the main graph copies its nodes, and the bodies inside them: those are ordered as copies."""
    body = helper.make_graph([helper.make_node("Relu", ["t1"], ["t2"], name="second_in_body"),
                              helper.make_node("Relu", ["r"], ["t1"], name="first_in_body")], "then", [],
                             [helper.make_tensor_value_info("t2", TensorProto.FLOAT, [2, 8])])
    other = helper.make_graph([helper.make_node("Relu", ["r"], ["e"], name="else_relu")], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2, 8])])
    nodes = [helper.make_node("If", ["c"], ["y"], name="branch", then_branch=body, else_branch=other),
             helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Identity", ["cond"], ["c"], name="condition")]
    model = make_model(nodes, [("cond", [], TensorProto.BOOL), ("x", [2, 8])], [("y", [2, 8])])
    loaded = load_model(_save(tmp_path, model))
    assert [n.name for n in loaded.model.graph.node] == ["relu", "condition", "branch"]
    then_branch = next(a.g for a in loaded.model.graph.node[2].attribute if a.name == "then_branch")
    assert [n.name for n in then_branch.node] == ["first_in_body", "second_in_body"]


def test_onnx_runtime_default_domain_norms_pass_the_checker_and_the_model_stays_as_written(tmp_path):
    """ONNX Runtime GenAI writes SimplifiedLayerNormalization in the default domain at opset 14, importing
    no contrib domain: the checker takes it as ONNX Runtime's op, and the loaded model is unchanged."""
    node = helper.make_node("SimplifiedLayerNormalization", ["x", "g"], ["y"], name="norm", axis=-1, epsilon=1e-5)
    model = make_model([node], [("x", [2, 8])], [("y", [2, 8])], [weight("g", [8])], opset=14)
    loaded = load_model(_save(tmp_path, model))
    assert [(o.domain, o.version) for o in loaded.model.opset_import] == [("", 14)]
    assert loaded.model.graph.node[0].domain == ""
    assert analyze(_save(tmp_path, model)).nodes[0].flops == 4 * 16 + 3 * 2


def test_an_op_no_one_defines_in_the_default_domain_is_still_rejected(tmp_path):
    node = helper.make_node("NoSuchNormalization", ["x"], ["y"], name="norm")
    path = _save(tmp_path, make_model([node], [("x", [2, 8])], [("y", [2, 8])], opset=14))
    with pytest.raises(ModelError, match="checker rejects the model: No Op registered for NoSuchNormalization"):
        load_model(path)
