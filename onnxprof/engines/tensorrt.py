"""Native TensorRT (10.x API): parse the ONNX file, build (or load from the cache) a serialized engine,
run it on device buffers with ``execute_async_v3``.

tensorrt and cuda-python are imported inside :meth:`TensorRTEngine.build`; this module imports
anywhere, and its pure parts (input shapes, optimisation profile, cache key) run without a GPU.

**Optimisation profile.** One profile covers every batch of the sweep: for each input whose first
dimension is dynamic, min = the smallest batch, max = the largest, and **opt = the largest**. TensorRT
tunes its kernels for opt; the largest batch is where the sweep spends most GPU time and where a
mistuned kernel costs most, while small batches stay valid (possibly a little slower than an engine
built for exactly that batch). Other dynamic dimensions must be bound (``options.extra["dim.NAME"]``,
e.g. ``{"dim.seq_len": "128"}``): TensorRT needs a range for them, and onnxprof does not guess one.

**Precision.** fp16 sets ``BuilderFlag.FP16`` (TensorRT may keep layers in fp32 where faster or
needed). int8 sets ``BuilderFlag.INT8`` and is accepted only for models with QuantizeLinear /
DequantizeLinear nodes (explicit quantisation): onnxprof has no calibrator, and an int8 build without
one would not mean what the user asked for.

**Cache.** Serialized engines live in ``options.cache_dir`` (default ``~/.cache/onnxprof/trt``) named
by :func:`cache_key`: sha256 of the model (file and its external-data files), TensorRT version,
precision, batches, bound dims, workspace and GPU name. A cached engine that no longer deserializes
is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from onnxprof.engines.base import Engine, EngineOptions, EngineOutOfMemory, EngineUnavailable
from onnxprof.errors import ModelError, UsageError
from onnxprof.measure.records import EngineInfo

INSTALL_HINT = ("TensorRT is not installed: pip install 'onnxprof[tensorrt]' "
                "(on a Jetson use JetPack's python3-libnvinfer)")
DEFAULT_CACHE = Path.home() / ".cache" / "onnxprof" / "trt"
PRECISIONS = ("fp32", "fp16", "int8")
QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})

Dim = Union[int, str, None]
ShapeRange = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


# -- pure parts ----------------------------------------------------------------------------------

def load_graph(model_path: Path):
    """The ModelProto without weights (sizes only): enough for inputs, node counts and hashing."""
    import onnx

    try:
        return onnx.load(str(model_path), load_external_data=False)
    except Exception as exc:
        raise ModelError(f"{model_path}: not a readable ONNX model ({exc})") from exc


def model_inputs(model) -> list[tuple[str, int, list[Dim]]]:
    """(name, ONNX element type, dims) of each graph input that is not an initializer; a dim is an int,
    a symbol (str) or None (unknown)."""
    initializers = {t.name for t in model.graph.initializer}
    inputs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        dims: list[Dim] = []
        for dim in tensor.shape.dim:
            if dim.HasField("dim_value") and dim.dim_value > 0:
                dims.append(int(dim.dim_value))
            else:
                dims.append(dim.dim_param or None)
        inputs.append((value.name, tensor.elem_type, dims))
    return inputs


def bound_dims(extra: Mapping[str, str]) -> dict[str, int]:
    """Sizes of named dynamic dimensions from ``options.extra`` entries ``dim.NAME=VALUE``."""
    dims = {}
    for key, value in extra.items():
        if key.startswith("dim."):
            try:
                dims[key[4:]] = int(value)
            except ValueError:
                raise UsageError(f"{key}={value!r}: a dimension size must be a whole number") from None
    return dims


def profile_shapes(inputs: Sequence[tuple[str, Sequence[Dim]]], batches: Sequence[int],
                   dims: Mapping[str, int] = {}) -> dict[str, ShapeRange]:
    """(min, opt, max) shapes for each input with a dynamic dimension, for one optimisation profile.

    A dynamic first dimension is the batch: min = smallest batch, opt = max = largest. Any other
    dynamic dimension takes its size from ``dims`` (by symbol) or is an error. Static dimensions stay as
    they are, and fully static inputs are left out. A model with no dynamic first dimension runs one
    batch only: the first dimension of its first input, which every batch asked for must equal.
    """
    sweep = sorted({int(b) for b in batches}) or [1]
    if sweep[0] < 1:
        raise UsageError(f"batch sizes must be positive, got {sweep[0]}")
    ranges: dict[str, ShapeRange] = {}
    static_batch: Optional[int] = None
    for name, shape in inputs:
        lo: list[int] = []
        hi: list[int] = []
        for axis, dim in enumerate(shape):
            if isinstance(dim, int):
                lo.append(dim)
                hi.append(dim)
            elif axis == 0:
                lo.append(sweep[0])
                hi.append(sweep[-1])
            elif dim is not None and dim in dims:
                lo.append(int(dims[dim]))
                hi.append(int(dims[dim]))
            else:
                label = f"{dim!r}" if dim else "unnamed"
                raise UsageError(f"input {name!r} dimension {axis} ({label}) is dynamic: TensorRT needs its size; "
                                 f"bind it (dim.{dim or 'NAME'}=SIZE) or export the model with a fixed size")
        if any(not isinstance(dim, int) for dim in shape):
            ranges[name] = (tuple(lo), tuple(hi), tuple(hi))
        if shape and static_batch is None and isinstance(shape[0], int):
            static_batch = shape[0]
    dynamic_batch = any(shape and not isinstance(shape[0], int) for _, shape in inputs)
    if not dynamic_batch and static_batch is not None and sweep != [static_batch]:
        other = next(b for b in sweep if b != static_batch)
        raise UsageError(f"the model has a fixed batch of {static_batch}: TensorRT cannot run batch {other}; "
                         f"export it with a dynamic first dimension or measure batch {static_batch} only")
    return ranges


def cache_key(model_sha256: str, tensorrt_version: str, precision: str, batches: Sequence[int], gpu_name: str,
              workspace_mb: int = 0, dims: Mapping[str, int] = {}) -> str:
    """sha256 hex naming a serialized engine: everything that changes what TensorRT builds."""
    facts = {"model": model_sha256, "tensorrt": tensorrt_version, "precision": precision,
             "batches": sorted({int(b) for b in batches}), "gpu": gpu_name.strip(), "workspace_mb": int(workspace_mb),
             "dims": {k: int(v) for k, v in sorted(dims.items())}}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def model_sha256(model_path: Path, model=None) -> str:
    """sha256 of the model file and of the external-data files it names (in name order)."""
    model_path = Path(model_path)
    model = model if model is not None else load_graph(model_path)
    digest = hashlib.sha256()
    for label, path in [("", model_path)] + [(n, model_path.parent / n) for n in external_files(model)]:
        digest.update(label.encode() + b"\0")      # the main file's own name does not count
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def external_files(model) -> list[str]:
    """Sorted locations of the external-data files of the model's initializers and Constant tensors."""
    from onnx import AttributeProto

    from onnxprof.model.load import is_external, iter_graphs

    locations = set()
    for graph in iter_graphs(model.graph):
        tensors = list(graph.initializer)
        for node in graph.node:
            tensors.extend(attr.t for attr in node.attribute if attr.type == AttributeProto.TENSOR)
        for tensor in tensors:
            if is_external(tensor):
                locations.update(e.value for e in tensor.external_data if e.key == "location")
    return sorted(locations)


def has_qdq(model) -> bool:
    from onnxprof.model.load import iter_graphs

    return any(node.op_type in QDQ_OPS for graph in iter_graphs(model.graph) for node in graph.node)


# -- the engine ----------------------------------------------------------------------------------

class TensorRTEngine(Engine):
    """One ONNX model compiled by TensorRT, run on one CUDA stream.

    :meth:`activate` sets the input shapes, allocates device buffers, copies the inputs once and sets
    every tensor address; :meth:`infer` is ``execute_async_v3`` + stream synchronise (with
    ``include_transfers`` also the H2D copies before and the D2H copies after). ``device_time_ms``
    times the same work between two CUDA events. With ``profile_layers`` an ``IProfiler`` collects
    per-layer times (it synchronises after every layer, so timings taken with it are not comparable).
    """

    name = "tensorrt"

    def __init__(self, model_path, options: EngineOptions = EngineOptions()):
        super().__init__(model_path, options)
        self._trt: Any = None
        self._cuda: Any = None
        self._logger: Any = None
        self._runtime: Any = None
        self.engine: Any = None
        self.context: Any = None
        self._stream: Any = None
        self._profiler: Any = None
        self._buffers: dict = {}
        self._host: dict[str, np.ndarray] = {}
        self._inputs: list[str] = []
        self._outputs: list[str] = []
        self._shapes: dict[str, ShapeRange] = {}
        self._cache_file: Optional[Path] = None
        self._cache_hit = False
        self._gpu = ""
        self._node_count = 0

    # -- life cycle ------------------------------------------------------------------------------
    def build(self) -> None:
        try:
            import tensorrt as trt
        except ImportError:
            raise EngineUnavailable(INSTALL_HINT) from None
        from onnxprof.engines import cuda

        cuda.runtime()   # EngineUnavailable when cuda-python is missing
        self._trt, self._cuda = trt, cuda
        options = self.options
        if options.precision not in PRECISIONS:
            raise UsageError(f"--precision {options.precision!r}: choose one of {', '.join(PRECISIONS)}")
        model = load_graph(self.model_path)
        self._node_count = len(model.graph.node)
        if options.precision == "int8" and not has_qdq(model):
            raise UsageError("--precision int8 with TensorRT needs a quantized model (QuantizeLinear/DequantizeLinear "
                             "nodes): onnxprof has no int8 calibrator")
        dims = bound_dims(options.extra)
        self._shapes = profile_shapes([(n, d) for n, _, d in model_inputs(model)], options.batches, dims)
        cuda.set_device(options.device_id)
        self._gpu = cuda.device_name(options.device_id)
        key = cache_key(model_sha256(self.model_path, model), trt.__version__, options.precision, options.batches,
                        self._gpu, options.workspace_mb, dims)
        cache_dir = Path(options.cache_dir) if options.cache_dir is not None else DEFAULT_CACHE
        self._cache_file = cache_dir / f"{key}.engine"
        self._logger = _make_logger(trt)
        trt.init_libnvinfer_plugins(self._logger, "")
        self._runtime = trt.Runtime(self._logger)
        if self._cache_file.exists():
            self.engine = self._runtime.deserialize_cuda_engine(self._cache_file.read_bytes())
            self._cache_hit = self.engine is not None
        if self.engine is None:
            blob = self._compile()
            _write_atomically(self._cache_file, blob)
            self.engine = self._runtime.deserialize_cuda_engine(blob)
            if self.engine is None:
                raise RuntimeError(f"TensorRT could not load the engine it just built: {self._logger.last_error()}")
        self.context = self.engine.create_execution_context()
        if self.context is None:
            raise EngineOutOfMemory(f"TensorRT could not create an execution context "
                                    f"({self.memory_bytes()} bytes of device memory): {self._logger.last_error()}")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        mode = trt.TensorIOMode.INPUT
        self._inputs = [n for n in names if self.engine.get_tensor_mode(n) == mode]
        self._outputs = [n for n in names if self.engine.get_tensor_mode(n) != mode]
        self._stream = cuda.Stream()
        if options.profile_layers:
            self._profiler = _make_profiler(trt)
            self.context.profiler = self._profiler

    def activate(self, feeds: Mapping[str, np.ndarray]) -> None:
        if self.context is None:
            raise RuntimeError("activate() before build()")
        self.deactivate()
        trt, cuda, context = self._trt, self._cuda, self.context
        missing = [n for n in self._inputs if n not in feeds]
        if missing:
            raise UsageError(f"no feed for input(s) {', '.join(missing)}")
        try:
            for name in self._inputs:
                dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
                host = np.ascontiguousarray(feeds[name], dtype=dtype)
                if not context.set_input_shape(name, host.shape):
                    raise UsageError(f"input {name!r} of shape {list(host.shape)} is outside the engine's profile "
                                     f"{self._profile_text(name)}: build with these batches")
                self._host[name] = host
                self._buffers[name] = cuda.DeviceBuffer(host.nbytes)
                self._buffers[name].copy_from_host(host, self._stream.handle)
            for name in self._outputs:
                shape = tuple(context.get_tensor_shape(name))
                if any(d < 0 for d in shape):
                    raise UsageError(f"output {name!r} has a data-dependent shape {list(shape)}: not supported")
                dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
                self._host[name] = np.empty(shape, dtype=dtype)
                self._buffers[name] = cuda.DeviceBuffer(self._host[name].nbytes)
            for name, buffer in self._buffers.items():
                if not context.set_tensor_address(name, buffer.ptr):
                    raise RuntimeError(f"TensorRT refused the address of {name!r}: {self._logger.last_error()}")
            self._stream.synchronize()
        except BaseException:
            self.deactivate()
            raise

    def infer(self) -> None:
        self._enqueue()
        self._stream.synchronize()

    def device_time_ms(self) -> Optional[float]:
        self._stream.record_start()
        self._enqueue()
        self._stream.record_end()
        return self._stream.elapsed_ms()

    def deactivate(self) -> None:
        if self._cuda is not None and self._buffers:
            if self._stream is not None:
                self._stream.synchronize()
            self._cuda.free_all(self._buffers)
        self._buffers = {}
        self._host = {}

    def close(self) -> None:
        self.deactivate()
        if self._stream is not None:
            self._stream.destroy()
            self._stream = None
        self.context = None
        self.engine = None
        self._runtime = None

    # -- facts -----------------------------------------------------------------------------------
    def outputs(self) -> dict[str, np.ndarray]:
        """The last run's outputs copied to the host (for checking results; not for timed loops)."""
        for name in self._outputs:
            self._buffers[name].copy_to_host(self._host[name], self._stream.handle)
        self._stream.synchronize()
        return {name: self._host[name].copy() for name in self._outputs}

    def info(self) -> EngineInfo:
        options = {"workspace_mb": self.options.workspace_mb, "batches": sorted(set(self.options.batches)),
                   "device_id": self.options.device_id, "gpu": self._gpu,
                   "include_transfers": self.options.include_transfers,
                   "profile": {n: [list(s) for s in r] for n, r in self._shapes.items()},
                   "cache_file": str(self._cache_file or ""), "cache_hit": self._cache_hit}
        versions: dict[str, str] = {}
        if self._trt is not None:
            versions["tensorrt"] = self._trt.__version__
            try:
                versions["cuda_runtime"] = self._cuda.runtime_version()
            except Exception:
                pass
        nodes = {"TensorRT": self._node_count} if self.engine is not None else {}
        return EngineInfo(engine=self.name, provider="", precision=self.options.precision, options=options,
                          nodes_by_provider=nodes, fallback=False, versions=versions)

    def input_specs(self) -> list[tuple[str, str, list]]:
        from onnx import helper

        return [(name, np.dtype(helper.tensor_dtype_to_np_dtype(elem)).name,
                 [d if isinstance(d, int) else None for d in dims])
                for name, elem, dims in model_inputs(load_graph(self.model_path))]

    def memory_bytes(self) -> Optional[int]:
        """Device memory an execution context needs (activations, scratch), as the engine reports it."""
        if self.engine is None:
            return None
        size = getattr(self.engine, "device_memory_size_v2", None)
        return int(size if size is not None else self.engine.device_memory_size)

    def layer_profile(self) -> list[dict]:
        """Mean time per TensorRT layer over the profiled runs (warm-up included):
        [{"name", "nodes", "time_ms", "calls"}]. Fused layers join their ONNX node names with " + "
        (split into ``nodes``); a Myelin region ("{ForeignNode[first...last]}") stays one entry."""
        if self._profiler is None:
            return []
        return [{"name": name, "nodes": _layer_nodes(name), "time_ms": total / calls, "calls": calls}
                for name, (total, calls) in self._profiler.times.items()]

    # -- helpers ---------------------------------------------------------------------------------
    def _enqueue(self) -> None:
        stream = self._stream.handle
        if self.options.include_transfers:
            for name in self._inputs:
                self._buffers[name].copy_from_host(self._host[name], stream)
        if not self.context.execute_async_v3(int(stream)):
            raise RuntimeError(f"TensorRT execute_async_v3 failed: {self._logger.last_error()}")
        if self.options.include_transfers:
            for name in self._outputs:
                self._buffers[name].copy_to_host(self._host[name], stream)

    def _compile(self) -> bytes:
        trt, logger, options = self._trt, self._logger, self.options
        builder = trt.Builder(logger)
        flags = 0
        if int(trt.__version__.split(".")[0]) < 10:   # explicit batch is the only mode from TensorRT 10
            flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, logger)
        if not parser.parse_from_file(str(self.model_path)):
            raise ModelError(_parser_error(parser, self.model_path))
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_mb) << 20)
        if options.precision == "fp16":
            config.set_flag(trt.BuilderFlag.FP16)
        elif options.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
        if options.profile_layers:
            config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED
        if self._shapes:
            profile = builder.create_optimization_profile()
            for name, (low, opt, high) in self._shapes.items():
                profile.set_shape(name, low, opt, high)
            config.add_optimization_profile(profile)
        blob = builder.build_serialized_network(network, config)
        if blob is None:
            error = logger.last_error()
            if "out of memory" in error.lower() or "allocat" in error.lower():
                raise EngineOutOfMemory(f"TensorRT ran out of memory building the engine: {error}")
            raise ModelError(f"TensorRT could not build an engine from {self.model_path}: {error or 'no reason given'}")
        return bytes(blob)

    def _profile_text(self, name: str) -> str:
        if name not in self._shapes:
            return "(static)"
        low, opt, high = self._shapes[name]
        return f"min {list(low)} opt {list(opt)} max {list(high)}"


def _layer_nodes(layer: str) -> list[str]:
    if layer.startswith("{ForeignNode["):
        return [layer]
    return [part.strip() for part in layer.split(" + ") if part.strip()]


def _parser_error(parser: Any, model_path: Path) -> str:
    count = parser.num_errors
    if count == 0:
        return f"TensorRT cannot parse {model_path}"
    error = parser.get_error(0)
    where = ""
    node_name = getattr(error, "node_name", None)
    node_op = getattr(error, "node_operator", None)
    if node_name is not None:
        where = f" at node {node_name()!r}" + (f" ({node_op()})" if node_op is not None and node_op() else "")
    elif error.node() >= 0:
        where = f" at node #{error.node()}"
    more = f" (and {count - 1} more)" if count > 1 else ""
    return f"TensorRT cannot parse {model_path}{where}: {error.desc().strip().splitlines()[0]}{more}"


def _write_atomically(path: Path, blob: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(blob)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def _make_logger(trt: Any) -> Any:
    """An ILogger that keeps TensorRT's messages (warnings and errors) instead of printing them."""

    class Logger(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.errors: list[str] = []
            self.warnings: list[str] = []

        def log(self, severity: Any, msg: str) -> None:
            level = int(severity)
            if level <= int(trt.ILogger.Severity.ERROR):
                self.errors.append(msg)
            elif level == int(trt.ILogger.Severity.WARNING):
                self.warnings.append(msg)

        def last_error(self) -> str:
            return self.errors[-1].strip().splitlines()[0] if self.errors else ""

    return Logger()


def _make_profiler(trt: Any) -> Any:
    """An IProfiler that sums each layer's time (ms) and counts its calls, in execution order."""

    class Profiler(trt.IProfiler):
        def __init__(self) -> None:
            trt.IProfiler.__init__(self)
            self.times: dict[str, list] = {}

        def report_layer_time(self, layer_name: str, ms: float) -> None:
            entry = self.times.get(layer_name)
            if entry is None:
                self.times[layer_name] = [float(ms), 1]
            else:
                entry[0] += float(ms)
                entry[1] += 1

    return Profiler()
