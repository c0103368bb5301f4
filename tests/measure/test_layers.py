"""Per-layer profiles joined back to the ONNX nodes, with and without the engine's fusions."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from onnxprof.cost.analysis import analyze
from onnxprof.engines.base import EngineOptions
from onnxprof.engines.onnxruntime import OnnxRuntimeEngine
from onnxprof.engines.ort_layout import REORDER_OPS, renamed_kernels
from onnxprof.measure.layers import join_layers
from onnxprof.model.shapes import ShapeBinding
from tests.cost.test_models import RESNET_STYLE_MACS, resnet_style_model


@pytest.mark.parametrize("optimization", ["disable", "all"])
def test_every_onnx_node_is_covered_once(tmp_path, optimization):
    path = tmp_path / "resnet_style.onnx"
    onnx.save(resnet_style_model(), path)
    report = analyze(path, ShapeBinding(batch=2))
    with OnnxRuntimeEngine(path, EngineOptions(profile_layers=True, optimization=optimization)) as engine:
        engine.activate({"x": np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)})
        for _ in range(3):
            engine.infer()
        profile = engine.layer_profile()
        engine.deactivate()
    rows = join_layers(report, profile, macs_per_s=1e10)
    covered = [node for row in rows for node in row.onnx_nodes]
    assert sorted(covered) == sorted(n.name for n in report.nodes)        # each node in exactly one row
    assert sum(row.macs for row in rows) == 2 * RESNET_STYLE_MACS
    assert sum(row.measured_ms for row in rows) == pytest.approx(sum(p["time_ms"] for p in profile))
    conv = next(row for row in rows if "conv1" in row.onnx_nodes)
    assert conv.predicted_ms == pytest.approx(conv.macs / 1e10 * 1000)
    if optimization == "all":   # Conv + BatchNorm (+ ReLU) run as one kernel: one row
        assert "bn1" in conv.onnx_nodes and len(rows) < len(report.nodes)
    else:
        assert len(rows) == len(report.nodes)


def test_activation_fusions_are_joined_to_their_nodes(tmp_path):
    """ONNX Runtime runs x·sigmoid(x) as one QuickGelu kernel named "<mul node>/QuickGeluFusion/":
    its time belongs to the Sigmoid and Mul it replaced, not to an anonymous row."""
    h = onnx.helper
    weight = h.make_tensor("w", onnx.TensorProto.FLOAT, [8, 8, 1, 1], np.ones(64, np.float32))
    graph = h.make_graph([h.make_node("Sigmoid", ["x"], ["s"], name="act.sigmoid"),
                          h.make_node("Mul", ["x", "s"], ["a"], name="act"),
                          h.make_node("Conv", ["a", "w"], ["y"], name="conv")], "silu",
                         [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 8, 16, 16])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 8, 16, 16])], [weight])
    path = tmp_path / "silu.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=9), path)
    report = analyze(path)
    with OnnxRuntimeEngine(path, EngineOptions(profile_layers=True)) as engine:
        engine.activate({"x": np.ones((1, 8, 16, 16), np.float32)})
        engine.infer()
        profile = engine.layer_profile()
        engine.deactivate()
    assert any(layer["name"].endswith("QuickGeluFusion/") for layer in profile)   # the fusion this is about
    rows = join_layers(report, profile, macs_per_s=1e10)
    fused = next(row for row in rows if row.name.endswith("QuickGeluFusion/"))
    assert set(fused.onnx_nodes) == {"act.sigmoid", "act"}


def test_batchnorm_run_as_a_blocked_convolution_is_joined_to_its_node(tmp_path):
    """After a Concat of blocked tensors (DenseNet's dense blocks) ONNX Runtime runs a BatchNorm as a
    blocked depthwise convolution named "<output>_bn_nchwc": a tenth of DenseNet's time, which used to
    be left in a row with no node."""
    h = onnx.helper
    rng = np.random.default_rng(0)
    weights = [h.make_tensor(f"w{i}", onnx.TensorProto.FLOAT, [32, 32, 1, 1], rng.standard_normal(1024))
               for i in (1, 2)]
    stats = [h.make_tensor(name, onnx.TensorProto.FLOAT, [64], np.full(64, value, np.float32))
             for name, value in (("scale", 1.0), ("bias", 0.0), ("mean", 0.0), ("var", 1.0))]
    graph = h.make_graph([h.make_node("Conv", ["x", "w1"], ["a"], name="conv1"),
                          h.make_node("Conv", ["x", "w2"], ["b"], name="conv2"),
                          h.make_node("Concat", ["a", "b"], ["ab"], name="concat", axis=1),
                          h.make_node("BatchNormalization", ["ab", "scale", "bias", "mean", "var"], ["n"], name="bn"),
                          h.make_node("Relu", ["n"], ["y"], name="relu")], "dense",
                         [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 32, 16, 16])],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 64, 16, 16])], weights + stats)
    path = tmp_path / "dense.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=9), path)
    with OnnxRuntimeEngine(path, EngineOptions(profile_layers=True)) as engine:
        engine.activate({"x": np.ones((1, 32, 16, 16), np.float32)})
        engine.infer()
        profile = engine.layer_profile()
        engine.deactivate()
    if not any(layer["name"].endswith("_bn_nchwc") for layer in profile):
        pytest.skip("this CPU has no blocked (NCHWc) kernels in ONNX Runtime")
    rows = join_layers(analyze(path), profile, macs_per_s=1e10)
    batchnorm = next(row for row in rows if row.name.endswith("_bn_nchwc"))
    assert batchnorm.onnx_nodes[0] == "bn"


def _gelu(h, x: str, prefix: str) -> list:
    """GELU as exporters write it: x · (erf(x / √2) + 1) · ½, which ONNX Runtime fuses into one kernel."""
    return [h.make_node("Div", [x, "sqrt2"], [f"{prefix}.d"], name=f"{prefix}.div"),
            h.make_node("Erf", [f"{prefix}.d"], [f"{prefix}.e"], name=f"{prefix}.erf"),
            h.make_node("Add", [f"{prefix}.e", "one"], [f"{prefix}.a"], name=f"{prefix}.add"),
            h.make_node("Mul", [x, f"{prefix}.a"], [f"{prefix}.m"], name=f"{prefix}.mul"),
            h.make_node("Mul", [f"{prefix}.m", "half"], [f"{prefix}.out"], name=f"{prefix}.half")]


def _gelu_between(kind: str):
    """(model, input shape) with a GELU where ONNX Runtime gives the fused kernel a name of its own:
    on tokens after a MatMul + bias (run as a Gemm between two Reshapes), or between two convolutions
    it runs in its blocked layout, where every tensor around the GELU has a made-up name too."""
    h, rng = onnx.helper, np.random.default_rng(0)
    constants = [h.make_tensor(n, onnx.TensorProto.FLOAT, [], [v]) for n, v in
                 (("sqrt2", 2 ** 0.5), ("one", 1.0), ("half", 0.5))]
    if kind == "tokens":
        shape, width = [4, 49, 64], 64
        nodes = [h.make_node("MatMul", ["x", "w1"], ["p"], name="fc1"),
                 h.make_node("Add", ["p", "b1"], ["pb"], name="fc1.bias"), *_gelu(h, "pb", "gelu"),
                 h.make_node("MatMul", ["gelu.out", "w2"], ["y"], name="fc2")]
        weights = [onnx.numpy_helper.from_array(rng.standard_normal((width, width)).astype(np.float32), n)
                   for n in ("w1", "w2")] + [onnx.numpy_helper.from_array(np.zeros(width, np.float32), "b1")]
    else:
        shape = [1, 64, 28, 28]
        nodes = [h.make_node("Conv", ["x", "w1"], ["c"], name="conv1"), *_gelu(h, "c", "gelu"),
                 h.make_node("Conv", ["gelu.out", "w2"], ["y"], name="conv2")]
        weights = [onnx.numpy_helper.from_array(rng.standard_normal((64, 64, 1, 1)).astype(np.float32), n)
                   for n in ("w1", "w2")]
    graph = h.make_graph(nodes, kind, [h.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
                         [h.make_tensor_value_info("y", onnx.TensorProto.FLOAT, shape)], constants + weights)
    return h.make_model(graph, opset_imports=[h.make_opsetid("", 17)], ir_version=9), shape


@pytest.mark.parametrize("kind", ["tokens", "blocked"])
def test_kernels_onnx_runtime_names_itself_are_joined_to_the_nodes_they_ran(tmp_path, kind):
    """A fusion ONNX Runtime names itself ("Gelu", "fc1/MatMulAddFusion") joins no node by name: it is
    joined by the tensors it writes (through the Reshapes or layout conversions put after it), or, when
    every tensor around it has a made-up name, to the nodes between the kernels that feed it and those
    it feeds. Its time used to fall out of every fit, and the nodes it ran went to a neighbour's row."""
    model, shape = _gelu_between(kind)
    path = tmp_path / f"{kind}.onnx"
    onnx.save(model, path)
    report = analyze(path)
    with OnnxRuntimeEngine(path, EngineOptions(profile_layers=True)) as engine:
        engine.activate({"x": np.random.default_rng(1).standard_normal(shape).astype(np.float32)})
        for _ in range(3):
            engine.infer()
        profile = engine.layer_profile()
        engine.deactivate()
    rows = join_layers(report, profile, macs_per_s=1e10)
    gelu = [row for row in rows if "Gelu" in row.name]
    assert len(gelu) == 1 and set(gelu[0].onnx_nodes) == {f"gelu.{n}" for n in ("div", "erf", "add", "mul", "half")}
    # a layout conversion writes a tensor under the name of the node that made it: it claims no node
    assert all(not row.onnx_nodes for row in rows if row.name.startswith(REORDER_OPS))
    assert not any(name.startswith(REORDER_OPS) for name in renamed_kernels(str(path)))
    if kind == "tokens":    # the bias add ran in the Gemm, not in the GELU or the next MatMul
        assert set(next(row for row in rows if "fc1.bias" in row.onnx_nodes).onnx_nodes) == {"fc1", "fc1.bias"}
    covered = [node for row in rows for node in row.onnx_nodes]
    assert sorted(covered) == sorted(n.name for n in report.nodes)        # each node in exactly one row
