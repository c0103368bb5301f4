"""Native TensorRT engine: what runs without a GPU (install hint, profile shapes, cache key, CUDA
error mapping with cudart faked at its boundary). Building and running need TensorRT and a GPU."""

from __future__ import annotations

import enum
import sys
import types

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from onnxprof.engines import cuda as cuda_helpers
from onnxprof.engines.base import EngineOptions, EngineOutOfMemory, EngineUnavailable
from onnxprof.engines.tensorrt import (TensorRTEngine, bound_dims, cache_key, external_files, load_graph,
                                       model_inputs, model_sha256, profile_shapes)
from onnxprof.errors import UsageError
from tests.builders import make_model


@pytest.fixture
def conv_model(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    model = make_model(nodes, [("x", ["N", 3, 8, 8])], [("y", None)], [numpy_helper.from_array(
        np.ones((4, 3, 3, 3), np.float32), "w")])
    path = tmp_path / "conv.onnx"
    onnx.save(model, str(path))
    return path


def test_missing_tensorrt_names_the_extra(conv_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)     # import tensorrt -> ImportError, on any machine
    with pytest.raises(EngineUnavailable) as error:
        TensorRTEngine(conv_model, EngineOptions(batches=(1, 8))).build()
    assert str(error.value) == ("TensorRT is not installed: pip install 'onnxprof[tensorrt]' "
                                "(on a Jetson use JetPack's python3-libnvinfer)")


def test_input_specs_need_no_gpu(conv_model):
    assert TensorRTEngine(conv_model).input_specs() == [("x", "float32", [None, 3, 8, 8])]


def test_profile_covers_the_sweep_with_opt_at_the_largest_batch(conv_model):
    inputs = [(name, dims) for name, _, dims in model_inputs(load_graph(conv_model))]
    assert profile_shapes(inputs, [8, 1, 32, 4]) == {"x": ((1, 3, 8, 8), (32, 3, 8, 8), (32, 3, 8, 8))}
    assert profile_shapes(inputs, [2]) == {"x": ((2, 3, 8, 8),) * 3}


def test_profile_shapes_bind_other_dims_and_skip_static_inputs():
    inputs = [("ids", ["batch", "seq"]), ("mask", [None, "seq"]), ("scale", [1]), ("bias", [])]
    assert profile_shapes(inputs, [1, 16], {"seq": 128}) == {
        "ids": ((1, 128), (16, 128), (16, 128)), "mask": ((1, 128), (16, 128), (16, 128))}
    with pytest.raises(UsageError, match=r"'ids' dimension 1 \('seq'\).*dim\.seq=SIZE"):
        profile_shapes(inputs, [1])


def test_static_batch_must_match_every_batch():
    assert profile_shapes([("x", [1, 3])], [1]) == {}
    with pytest.raises(UsageError, match="fixed batch of 1: TensorRT cannot run batch 4"):
        profile_shapes([("x", [1, 3])], [1, 4])


def test_bound_dims_from_extra():
    assert bound_dims({"dim.seq": "128", "trt_x": "1"}) == {"seq": 128}
    with pytest.raises(UsageError, match="whole number"):
        bound_dims({"dim.seq": "long"})


def test_cache_key_changes_with_everything_that_changes_the_engine():
    base = dict(model_sha256="ab" * 32, tensorrt_version="10.3.0", precision="fp16", batches=[1, 8],
                gpu_name="NVIDIA H100", workspace_mb=1024)
    key = cache_key(**base)
    assert len(key) == 64 and key == cache_key(**dict(base, batches=[8, 1, 8]))   # a set of batches
    for change in [dict(model_sha256="cd" * 32), dict(tensorrt_version="10.4.0"), dict(precision="fp32"),
                   dict(batches=[1, 16]), dict(gpu_name="Orin"), dict(workspace_mb=2048)]:
        assert cache_key(**dict(base, **change)) != key, change
    assert cache_key(**base, dims={"seq": 128}) != key


def test_model_hash_follows_weights_in_external_data(tmp_path):
    weights = np.ones((64, 64), np.float32)
    model = make_model([helper.make_node("MatMul", ["x", "w"], ["y"])], [("x", [1, 64])], [("y", [1, 64])],
                       [numpy_helper.from_array(weights, "w")])
    path = tmp_path / "m.onnx"
    onnx.save(model, str(path), save_as_external_data=True, location="m.data", size_threshold=0)
    assert external_files(load_graph(path)) == ["m.data"]
    before = model_sha256(path)
    renamed = tmp_path / "other.onnx"
    renamed.write_bytes(path.read_bytes())
    assert model_sha256(renamed) == before           # the file's name is not part of the key
    data = bytearray((tmp_path / "m.data").read_bytes())
    data[0] ^= 1
    (tmp_path / "m.data").write_bytes(bytes(data))
    assert model_sha256(path) != before              # new weights, new engine


# -- cuda-python faked at its boundary ---------------------------------------------------------

class _Error(enum.Enum):
    cudaSuccess = 0
    cudaErrorMemoryAllocation = 2
    cudaErrorInvalidValue = 1


def _fake_cudart(malloc_error):
    freed = []
    module = types.SimpleNamespace(
        cudaError_t=_Error,
        cudaGetErrorString=lambda err: (_Error.cudaSuccess, f"{err.name} text".encode()),
        cudaMalloc=lambda n: (malloc_error, 0xD000 if malloc_error is _Error.cudaSuccess else 0),
        cudaFree=lambda ptr: (freed.append(ptr), (_Error.cudaSuccess,))[1])
    return module, freed


@pytest.fixture
def fake_cudart(monkeypatch):
    def install(malloc_error):
        module, freed = _fake_cudart(malloc_error)
        package = types.ModuleType("cuda")
        bindings = types.ModuleType("cuda.bindings")
        bindings.runtime = module
        package.bindings = bindings
        monkeypatch.setitem(sys.modules, "cuda", package)
        monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
        monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", module)
        monkeypatch.setattr(cuda_helpers, "_cudart", None)       # forget a cudart found earlier
        return freed
    return install


def test_device_allocation_failure_is_out_of_memory(fake_cudart):
    fake_cudart(_Error.cudaErrorMemoryAllocation)
    with pytest.raises(EngineOutOfMemory, match="cudaErrorMemoryAllocation"):
        cuda_helpers.DeviceBuffer(1 << 40)


def test_device_buffer_is_freed_once(fake_cudart):
    freed = fake_cudart(_Error.cudaSuccess)
    buffer = cuda_helpers.DeviceBuffer(256)
    assert buffer.ptr == 0xD000
    buffer.free()
    buffer.free()
    assert freed == [0xD000]


def test_other_cuda_errors_raise(fake_cudart):
    fake_cudart(_Error.cudaErrorInvalidValue)
    with pytest.raises(RuntimeError, match="cudaErrorInvalidValue: cudaErrorInvalidValue text"):
        cuda_helpers.DeviceBuffer(16)


def test_missing_cuda_python_names_the_extra(monkeypatch):
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setattr(cuda_helpers, "_cudart", None)
    with pytest.raises(EngineUnavailable, match=r"cuda-python is not installed: pip install 'onnxprof\[tensorrt\]'"):
        cuda_helpers.runtime()
