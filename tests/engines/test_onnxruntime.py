"""ONNX Runtime engine: CPU end to end, and the provider truth (hardware faked at onnxruntime's boundary)."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onnxprof.engines.base import EngineOptions, EngineUnavailable, ProviderFallback
from onnxprof.engines.onnxruntime import OnnxRuntimeEngine, count_by_provider, is_fallback, layer_times
from onnxprof.errors import UsageError
from tests.builders import make_model

ort = pytest.importorskip("onnxruntime")

W = (np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5) / 4.0


@pytest.fixture
def matmul_relu(tmp_path):
    """y = Relu(x @ W) + 1, dynamic batch: three nodes no optimisation level fuses."""
    nodes = [helper.make_node("MatMul", ["x", "W"], ["m"], name="mm"),
             helper.make_node("Relu", ["m"], ["r"], name="relu"),
             helper.make_node("Add", ["r", "one"], ["y"], name="add")]
    model = make_model(nodes, [("x", ["N", 3])], [("y", ["N", 4])],
                       [numpy_helper.from_array(W, "W"), numpy_helper.from_array(np.ones(4, np.float32), "one")])
    path = tmp_path / "mm.onnx"
    onnx.save(model, str(path))
    return path


def expected(x):
    return np.maximum(x @ W, 0) + 1


@pytest.mark.parametrize("optimization", ["disable", "all"])
def test_cpu_end_to_end(matmul_relu, optimization):
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    engine = OnnxRuntimeEngine(matmul_relu, EngineOptions(optimization=optimization, threads=1, profile_layers=True))
    with engine:
        info = engine.info()
        assert info.engine == "onnxruntime" and info.provider == "cpu" and not info.fallback
        assert dict(info.nodes_by_provider) == {"CPUExecutionProvider": 3}
        assert info.versions["onnxruntime"] == ort.__version__
        assert engine.input_specs() == [("x", "float32", [None, 3])]
        engine.activate({"x": x})
        for _ in range(4):
            engine.infer()
        np.testing.assert_allclose(engine.outputs()["y"], expected(x), rtol=1e-6)
        engine.deactivate()
        # a second batch size on the same session
        x2 = np.ones((2, 3), np.float32)
        engine.activate({"x": x2})
        engine.infer()
        np.testing.assert_allclose(engine.outputs()["y"], expected(x2), rtol=1e-6)
        engine.deactivate()
        layers = engine.layer_profile()
    assert [(l["name"], l["op_type"], l["provider"]) for l in layers] == [
        ("mm", "MatMul", "CPUExecutionProvider"), ("relu", "Relu", "CPUExecutionProvider"),
        ("add", "Add", "CPUExecutionProvider")]
    assert all(l["time_ms"] >= 0 and l["calls"] == 5 and l["nodes"] == [l["name"]] for l in layers)
    assert engine.memory_bytes() is None


def test_layer_profile_empty_without_profiling(matmul_relu):
    with OnnxRuntimeEngine(matmul_relu, EngineOptions()) as engine:
        engine.activate({"x": np.ones((1, 3), np.float32)})
        engine.infer()
        assert engine.layer_profile() == []


def test_cuda_absent_from_cpu_build_is_unavailable(matmul_relu):
    assert "CUDAExecutionProvider" not in ort.get_available_providers()
    with pytest.raises(EngineUnavailable, match="no CUDAExecutionProvider.*onnxruntime-gpu"):
        OnnxRuntimeEngine(matmul_relu, EngineOptions(provider="cuda")).build()


@pytest.fixture
def cuda_listed(monkeypatch):
    """A GPU build on a machine without a GPU: CUDA is listed, the session cannot use it."""
    real = ort.get_available_providers()
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider"] + real)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # ORT warns that it drops the provider
        yield


def test_listed_but_unused_provider_is_a_fallback(matmul_relu, cuda_listed):
    with pytest.raises(ProviderFallback, match="CUDAExecutionProvider.*--allow-fallback"):
        OnnxRuntimeEngine(matmul_relu, EngineOptions(provider="cuda")).build()


def test_allow_fallback_runs_where_it_can(matmul_relu, cuda_listed):
    x = np.full((2, 3), 0.5, np.float32)
    with OnnxRuntimeEngine(matmul_relu, EngineOptions(provider="cuda", allow_fallback=True)) as engine:
        info = engine.info()
        assert info.fallback and info.provider == "cuda"
        assert dict(info.nodes_by_provider) == {"CPUExecutionProvider": 3}
        assert info.options["session_providers"] == ["CPUExecutionProvider"]
        assert info.options["bound_on"] == "cpu"      # no device binding on a session without CUDA
        engine.activate({"x": x})
        engine.infer()
        np.testing.assert_allclose(engine.outputs()["y"], expected(x), rtol=1e-6)


def test_older_onnxruntime_probes_placement_with_a_profiled_run(matmul_relu, monkeypatch):
    """Without the assignment API (older ORT, e.g. JetPack builds) the placement comes from one profiled probe run."""
    for cls in ort.InferenceSession.__mro__:
        if "get_provider_graph_assignment_info" in vars(cls):
            monkeypatch.delattr(cls, "get_provider_graph_assignment_info")
    assert not hasattr(ort.InferenceSession, "get_provider_graph_assignment_info")
    with OnnxRuntimeEngine(matmul_relu, EngineOptions(optimization="disable", batches=(4, 8))) as engine:
        assert dict(engine.info().nodes_by_provider) == {"CPUExecutionProvider": 3}


def test_fallback_rule():
    cuda, cpu = "CUDAExecutionProvider", "CPUExecutionProvider"
    assert not is_fallback(cuda, [cuda, cpu], {cuda: 40, cpu: 3})        # shape ops on CPU are normal
    assert is_fallback(cuda, [cuda, cpu], {cpu: 43})                     # listed, but no compute node
    assert is_fallback(cuda, [cpu], None)                                 # session dropped it
    assert not is_fallback(cuda, [cuda, cpu], None)                       # placement unknown: list decides
    assert not is_fallback(cpu, [cpu], {cpu: 1})


def test_copies_inserted_by_ort_are_not_nodes():
    placements = [("a", "Conv", "CUDAExecutionProvider"), ("copy", "MemcpyFromHost", "CUDAExecutionProvider"),
                  ("s", "Shape", "CPUExecutionProvider"), ("a", "Conv", "CUDAExecutionProvider")]
    assert count_by_provider(placements) == {"CUDAExecutionProvider": 1, "CPUExecutionProvider": 1}
    assert is_fallback("CUDAExecutionProvider", ["CUDAExecutionProvider"],
                       count_by_provider([("c", "MemcpyToHost", "CUDAExecutionProvider"),
                                          ("n", "Conv", "CPUExecutionProvider")]))


def test_layer_times_median_per_node():
    def event(name, dur, op="Conv"):
        return {"cat": "Node", "name": f"{name}_kernel_time", "dur": dur,
                "args": {"op_name": op, "provider": "CUDAExecutionProvider"}}

    events = [{"cat": "Session", "name": "model_run", "dur": 999}, event("c", 100), event("r", 10, "Relu"),
              {"cat": "Node", "name": "c_fence_before", "dur": 5}, event("c", 300), event("r", 30, "Relu"),
              event("c", 5000), event("r", 20, "Relu")]    # a cold first run or a burst: not the typical time
    cuda = "CUDAExecutionProvider"
    assert layer_times(events) == [
        {"name": "c", "nodes": ["c"], "op_type": "Conv", "provider": cuda, "time_ms": 0.3, "calls": 3},
        {"name": "r", "nodes": ["r"], "op_type": "Relu", "provider": cuda, "time_ms": 0.02, "calls": 3}]


def test_user_errors_are_one_line(matmul_relu):
    with pytest.raises(UsageError, match="--provider 'gpu'"):
        OnnxRuntimeEngine(matmul_relu, EngineOptions(provider="gpu")).build()
    with pytest.raises(UsageError, match="--precision fp16.*--provider tensorrt"):
        OnnxRuntimeEngine(matmul_relu, EngineOptions(precision="fp16")).build()
    with OnnxRuntimeEngine(matmul_relu, EngineOptions()) as engine:
        with pytest.raises(UsageError, match=r"input 'x'.*\[2, 5\].*\[None, 3\]"):
            engine.activate({"x": np.ones((2, 5), np.float32)})
        with pytest.raises(UsageError, match="input 'x'.*float64.*float32"):
            engine.activate({"x": np.ones((2, 3))})
        with pytest.raises(UsageError, match="no input 'z'"):
            engine.activate({"x": np.ones((2, 3), np.float32), "z": np.ones(1, np.float32)})
        with pytest.raises(UsageError, match="no feed for input 'x'"):
            engine.activate({})


def test_missing_onnxruntime_names_the_extra(matmul_relu, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(EngineUnavailable, match=r"pip install 'onnxprof\[onnxruntime\]'"):
        OnnxRuntimeEngine(matmul_relu).build()
