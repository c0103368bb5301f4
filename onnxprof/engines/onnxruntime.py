"""ONNX Runtime on any provider (CPU, CUDA, TensorRT EP), with the truth about where nodes run.

**Provider truth.** ONNX Runtime falls back silently: a provider that is listed but cannot start (a GPU
build on a machine without a GPU), or that takes no node, leaves the work to the CPU. After building,
this engine finds which provider each node runs on:

* recent ONNX Runtime (1.32 here; added by microsoft/onnxruntime#26781): the session records its assignment
  (``session.record_ep_graph_assignment_info`` + ``get_provider_graph_assignment_info()``), exact and
  free: no run is needed.
* older releases (JetPack builds): a probe session with profiling on runs once on zero-filled inputs
  (dynamic batch = the first sweep batch, other dynamic dims = 1); the profile's node events name the
  provider of each kernel. This builds the model a second time (a second TensorRT build with the
  TensorRT EP). If the probe cannot run, only the session's provider list is checked.

Counts (``EngineInfo.nodes_by_provider``) are of the graph ONNX Runtime runs, after its optimisations
(fusions change the count) and without the MemcpyToHost/MemcpyFromHost nodes it inserts itself.

**Fallback rule** (:func:`is_fallback`): the asked provider *fell back* when it is missing from
``session.get_providers()`` after creation, or when it was given zero compute nodes. Nodes on the CPU
beside a GPU provider are normal (shape arithmetic, unsupported ops) and are no fallback: they are
visible in ``nodes_by_provider``. A fallback raises ``ProviderFallback`` unless
``options.allow_fallback``; the CPU provider never falls back.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from typing import Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np

from onnxprof.engines.base import Engine, EngineOptions, EngineOutOfMemory, EngineUnavailable, ProviderFallback
from onnxprof.engines.ort_layout import cpu_layout, renamed_kernels
from onnxprof.engines.traits import EngineTraits, GraphLayout
from onnxprof.errors import ModelError, UsageError
from onnxprof.measure.records import EngineInfo, error_line, utf8_text

INSTALL_HINT = ("onnxruntime is not installed: pip install 'onnxprof[onnxruntime]' "
                "(or NVIDIA's onnxruntime-gpu build on a Jetson)")

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
             "tensorrt": "TensorrtExecutionProvider"}
GPU_PROVIDERS = frozenset({"CUDAExecutionProvider", "TensorrtExecutionProvider"})
PROVIDER_INSTALL = {
    "CUDAExecutionProvider": "install onnxruntime-gpu (instead of onnxruntime) on a machine with an NVIDIA GPU, "
                             "its driver and the CUDA/cuDNN libraries it was built for",
    "TensorrtExecutionProvider": "install onnxruntime-gpu (instead of onnxruntime) and the TensorRT libraries it "
                                 "was built for, on a machine with an NVIDIA GPU",
}
OPTIMIZATION_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
                       "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
INSERTED_OPS = frozenset({"MemcpyToHost", "MemcpyFromHost"})   # copies ORT adds between providers
OOM_MARKERS = ("failed to allocate memory", "out of memory", "bad_alloc", "cudaerrormemoryallocation")
ASSIGNMENT_CONFIG = "session.record_ep_graph_assignment_info"
KERNEL_SUFFIX = "_kernel_time"

ORT_DTYPES = {"float": "float32", "float16": "float16", "double": "float64", "bfloat16": "bfloat16",
              "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64", "uint8": "uint8",
              "uint16": "uint16", "uint32": "uint32", "uint64": "uint64", "bool": "bool", "string": "object"}


# -- pure rules ----------------------------------------------------------------------------------

def provider_chain(options, available: Iterable[str]) -> list:
    """The providers list for ``InferenceSession``: the asked one (with its options), then the GPU and
    CPU providers it falls back to, keeping only those this onnxruntime has."""
    asked = PROVIDERS[options.provider]
    available = set(available)
    device = {"device_id": str(options.device_id)}
    if asked == "CPUExecutionProvider":
        return ["CPUExecutionProvider"]
    chain: list = []
    if asked == "TensorrtExecutionProvider":
        trt = dict(device, trt_max_workspace_size=str(int(options.workspace_mb) << 20))
        if options.precision == "fp16":
            trt["trt_fp16_enable"] = "True"
        if options.precision == "int8":
            trt["trt_int8_enable"] = "True"      # QDQ models (or a calibration table in extra)
        if options.cache_dir is not None:
            trt.update(trt_engine_cache_enable="True", trt_engine_cache_path=str(options.cache_dir))
        trt.update({k: str(v) for k, v in options.extra.items() if k.startswith("trt_")})   # TensorRT EP options as is
        chain.append(("TensorrtExecutionProvider", trt))
    if "CUDAExecutionProvider" in available or asked == "CUDAExecutionProvider":
        chain.append(("CUDAExecutionProvider", dict(device)))
    chain.append("CPUExecutionProvider")
    return chain


def is_fallback(asked: str, session_providers: Sequence[str], nodes_by_provider: Optional[Mapping[str, int]]) -> bool:
    """True when ``asked`` is not among the session's providers, or got zero compute nodes.

    ``nodes_by_provider`` None means the placement is unknown: only the provider list decides.
    """
    if asked == "CPUExecutionProvider":
        return False
    if asked not in session_providers:
        return True
    return nodes_by_provider is not None and nodes_by_provider.get(asked, 0) == 0


def node_events(events: Iterable[Mapping]) -> Iterator[tuple[str, str, str, float]]:
    """(node name, op type, provider, duration µs) of each kernel event in an ORT profile (Chrome trace)."""
    for event in events:
        name = event.get("name", "")
        if event.get("cat") != "Node" or not name.endswith(KERNEL_SUFFIX):
            continue
        args = event.get("args", {})
        node = name[: -len(KERNEL_SUFFIX)]
        op_type = args.get("op_name", "")
        if not node:
            node = f"{op_type}#{args.get('node_index', '?')}"
        yield node, op_type, args.get("provider", ""), float(event.get("dur", 0))


def count_by_provider(placements: Iterable[tuple[str, str, str]]) -> dict[str, int]:
    """{provider: nodes} from (node, op_type, provider), each node once, ORT's copies left out."""
    seen: dict[str, tuple[str, str]] = {}
    for node, op_type, provider in placements:
        if op_type not in INSERTED_OPS:
            seen.setdefault(node, (op_type, provider))
    counts: dict[str, int] = {}
    for _, provider in seen.values():
        counts[provider] = counts.get(provider, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def layer_times(events: Iterable[Mapping]) -> list[dict]:
    """Per-node median kernel time over all profiled runs, in execution order of first appearance.
    The median, not the mean: the first run after build allocates, and a burst of load from elsewhere
    lands on one run; neither should move a kernel's time."""
    durations: dict[str, tuple[str, str, list[float]]] = {}
    for node, op_type, provider, dur_us in node_events(events):
        durations.setdefault(node, (op_type, provider, []))[2].append(dur_us)
    return [{"name": node, "nodes": [node], "op_type": op_type, "provider": provider,
             "time_ms": float(np.median(times)) / 1000.0, "calls": len(times)}
            for node, (op_type, provider, times) in durations.items()]


def is_out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, MemoryError) or any(marker in text for marker in OOM_MARKERS)


def _undecodable_path(error: BaseException, path) -> bool:
    """Whether ONNX Runtime refused the file's name itself: its bindings take UTF-8 strings only, and a
    name with other bytes (kept by Python as lone surrogates) fails to convert, before any ORT error."""
    return isinstance(error, (TypeError, UnicodeError)) and utf8_text(str(path)) != str(path)


def _is_ort_error(error: BaseException) -> bool:
    return type(error).__module__.startswith("onnxruntime")


def _raise_run_error(exc: Exception) -> None:
    """Out of memory -> EngineOutOfMemory; inputs the model refuses -> UsageError; the rest as is."""
    if isinstance(exc, (EngineOutOfMemory, UsageError)):
        raise exc
    if is_out_of_memory(exc):
        raise EngineOutOfMemory(error_line(exc)) from exc
    if type(exc).__name__ == "InvalidArgument" and _is_ort_error(exc):
        raise UsageError(f"ONNX Runtime refused the inputs: {error_line(exc)}") from exc
    raise exc


@contextmanager
def _run_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        _raise_run_error(exc)


class OnnxRuntimeEngine(Engine):
    """One model in one ``onnxruntime.InferenceSession``.

    :meth:`infer` is ``run_with_iobinding`` on inputs bound once in :meth:`activate`. On GPU providers
    the inputs are copied to the device there and outputs are bound on the device, so a run makes no
    host copies; with ``include_transfers`` inputs and outputs are bound on the host and every run
    copies them. On the CPU (and when a GPU provider fell back, with ``allow_fallback``) everything is
    bound on the host, which saves ``session.run``'s per-call conversion of feeds and outputs.
    """

    name = "onnxruntime"

    @classmethod
    def traits(cls, options: EngineOptions = EngineOptions(), model_source: Optional[str] = None) -> EngineTraits:
        """On the CPU provider, kernels run on this host, convolutions in the blocked layout ort_layout
        reads off the optimised graph; on a GPU provider, on the device, in the model's own layout."""
        if options.provider != "cpu":
            return EngineTraits()
        return EngineTraits(runs_on_host=True,
                            layout=cpu_layout(model_source) if model_source is not None else GraphLayout())

    def __init__(self, model_path, options: EngineOptions = EngineOptions()):
        super().__init__(model_path, options)
        self._ort = None
        self.session = None
        self._nodes_by_provider: Optional[dict[str, int]] = None
        self._fallback = False
        self._on_device = False
        self._binding = None
        self._inputs: list = []                     # what the binding points at, kept alive
        self._output_names: list[str] = []
        self._input_specs: list[tuple[str, str, list]] = []
        self._profile: Optional[list[dict]] = None

    # -- life cycle ------------------------------------------------------------------------------
    def build(self) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise EngineUnavailable(INSTALL_HINT) from None
        self._ort = ort
        options = self.options
        if options.provider not in PROVIDERS:
            raise UsageError(f"--provider {options.provider!r}: choose one of {', '.join(PROVIDERS)}")
        asked = PROVIDERS[options.provider]
        if options.precision not in ("fp32", "fp16", "int8"):
            raise UsageError(f"--precision {options.precision!r}: choose one of fp32, fp16, int8")
        if options.precision != "fp32" and asked != "TensorrtExecutionProvider":
            raise UsageError(f"--precision {options.precision} converts the model only with --provider tensorrt; "
                             "ONNX Runtime's CPU and CUDA providers run the model in the types it stores")
        if options.optimization not in OPTIMIZATION_LEVELS:
            raise UsageError(f"--optimization {options.optimization!r}: choose one of {', '.join(OPTIMIZATION_LEVELS)}")
        available = list(ort.get_available_providers())
        if asked not in available:
            raise EngineUnavailable(
                f"onnxruntime {ort.__version__} here has no {asked} (it has {', '.join(available)}): "
                f"{PROVIDER_INSTALL.get(asked, 'install an onnxruntime build with it')}")
        chain = provider_chain(options, available)
        session_options = self._session_options(profiling=options.profile_layers)
        self.session = self._create(session_options, chain)
        self._output_names, self._input_specs = self._describe()
        session_providers = self.session.get_providers()
        self._nodes_by_provider = self._assigned_nodes()
        if self._nodes_by_provider is None:
            self._nodes_by_provider = self._probe_nodes(chain)
        self._fallback = is_fallback(asked, session_providers, self._nodes_by_provider)
        if self._fallback and not options.allow_fallback:
            where = ", ".join(f"{p} {n}" for p, n in (self._nodes_by_provider or {}).items()) or \
                ", ".join(session_providers)
            self.close()
            raise ProviderFallback(f"ONNX Runtime did not run the model on {asked} (nodes: {where}); "
                                   "check the GPU, driver and CUDA libraries, or pass --allow-fallback to "
                                   "measure it where it runs")
        self._on_device = asked in GPU_PROVIDERS and asked in session_providers

    def activate(self, feeds: Mapping[str, np.ndarray]) -> None:
        if self.session is None:
            raise RuntimeError("activate() before build()")
        self.deactivate()
        self._check_feeds(feeds)
        ort, device_id = self._ort, self.options.device_id
        device = "cuda" if self._on_device else "cpu"
        host_io = self._on_device and self.options.include_transfers
        with _run_errors():
            binding = self.session.io_binding()
            for name, value in feeds.items():
                value = np.ascontiguousarray(value)
                if host_io:
                    self._inputs.append(value)
                    binding.bind_cpu_input(name, value)        # copied to the device on every run
                else:
                    bound = ort.OrtValue.ortvalue_from_numpy(value, device, device_id)
                    self._inputs.append(bound)
                    binding.bind_ortvalue_input(name, bound)
            for name in self._output_names:
                if host_io:
                    binding.bind_output(name)                  # copied back to the host on every run
                else:
                    binding.bind_output(name, device, device_id)
        self._binding = binding

    def infer(self) -> None:
        try:       # a bare try costs nothing in the timed loop; a context manager would
            self.session.run_with_iobinding(self._binding)
        except Exception as exc:
            _raise_run_error(exc)

    def deactivate(self) -> None:
        if self._binding is not None:
            self._binding.clear_binding_inputs()
            self._binding.clear_binding_outputs()
        self._binding = None
        self._inputs = []

    def close(self) -> None:
        self.deactivate()
        if self.session is not None and self.options.profile_layers and self._profile is None:
            self._read_profile()
        self.session = None

    # -- facts -----------------------------------------------------------------------------------
    def outputs(self) -> dict[str, np.ndarray]:
        """The last run's outputs, copied to the host (for checking results; not for timed loops)."""
        if self._binding is None:
            raise RuntimeError("outputs() before activate() and infer()")
        return dict(zip(self._output_names, self._binding.copy_outputs_to_cpu()))

    def info(self) -> EngineInfo:
        session_providers = self.session.get_providers() if self.session is not None else []
        options = {"threads": self.options.threads, "optimization": self.options.optimization,
                   "device_id": self.options.device_id, "include_transfers": self.options.include_transfers,
                   "allow_fallback": self.options.allow_fallback, "session_providers": list(session_providers),
                   "bound_on": ("host" if self.options.include_transfers else "cuda") if self._on_device else "cpu"}
        versions = {"onnxruntime": self._ort.__version__} if self._ort is not None else {}
        return EngineInfo(engine=self.name, provider=self.options.provider, precision=self.options.precision,
                          options=options, nodes_by_provider=dict(self._nodes_by_provider or {}),
                          fallback=self._fallback, versions=versions)

    def input_specs(self) -> list[tuple[str, str, list]]:
        if self.session is None:
            raise RuntimeError("input_specs() before build()")
        return list(self._input_specs)

    def _describe(self) -> tuple[list[str], list[tuple[str, str, list]]]:
        """Output names and input specs, read once: ONNX Runtime's binding raises on a name or dim_param
        that is not UTF-8, which is the model's fault, said in one line."""
        try:
            outputs = [o.name for o in self.session.get_outputs()]
            specs = []
            for arg in self.session.get_inputs():
                element = arg.type[len("tensor("):-1] if arg.type.startswith("tensor(") else arg.type
                shape = [d if isinstance(d, int) and d >= 0 else None for d in (arg.shape or [])]
                specs.append((arg.name, ORT_DTYPES.get(element, element), shape))
        except UnicodeDecodeError:
            raise ModelError(f"{utf8_text(str(self.model_path))}: ONNX Runtime cannot describe the model's inputs "
                             "and outputs, a name or dim_param among them is not UTF-8; rename it in the model") from None
        return outputs, specs

    def layer_profile(self) -> list[dict]:
        """Median kernel time per node over every run since build (warm-up included), with
        ``profile_layers``: [{"name", "nodes", "op_type", "provider", "time_ms", "calls", "inputs", "outputs"}]
        (``inputs``, ``outputs``: on the CPU provider, the tensors a kernel of a made-up name reads and writes).

        Profiling ends at the first call (ONNX Runtime cannot restart it on a session). Names are those
        of the graph ONNX Runtime runs: with graph optimisations on, fused nodes carry new names (a
        Conv+Relu becomes one node) that are not in the ONNX file; use ``optimization="disable"`` to
        get the original node names. A subgraph compiled by the TensorRT EP shows as one node.
        """
        if not self.options.profile_layers:
            return []
        if self._profile is None:
            self._read_profile()
        if self.options.provider == "cpu":      # the graph ort_layout optimises is the CPU provider's
            renamed = renamed_kernels(str(self.model_path))
            layers = []
            for layer in self._profile or []:
                inputs, outputs = renamed.get(layer["name"], ((), ()))
                layers.append({**layer, "inputs": list(inputs), "outputs": list(outputs)})
            return layers
        return self._profile or []

    # -- helpers ---------------------------------------------------------------------------------
    def _check_feeds(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Names, dtypes, ranks and static sizes, so a wrong feed is one line, not an ORT traceback."""
        specs = self.input_specs()
        known = {name for name, _, _ in specs}
        for name in feeds:
            if name not in known:
                raise UsageError(f"the model has no input {name!r} (inputs: {', '.join(sorted(known))})")
        for name, dtype, shape in specs:
            if name not in feeds:
                raise UsageError(f"no feed for input {name!r}")
            value = np.asarray(feeds[name])
            if value.dtype.name != dtype:
                raise UsageError(f"input {name!r} is {value.dtype.name}; the model takes {dtype}")
            if value.ndim != len(shape) or any(d is not None and d != v for d, v in zip(shape, value.shape)):
                raise UsageError(f"input {name!r} has shape {list(value.shape)}; the model takes {shape}")

    def _session_options(self, profiling: bool):
        ort = self._ort
        so = ort.SessionOptions()
        so.log_severity_level = 4     # fatal only: every error also raises, and is reported once, in one line
        if self.options.threads > 0:
            so.intra_op_num_threads = int(self.options.threads)
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel,
                                              OPTIMIZATION_LEVELS[self.options.optimization])
        so.add_session_config_entry(ASSIGNMENT_CONFIG, "1")
        if profiling:
            so.enable_profiling = True
            so.profile_file_prefix = os.path.join(tempfile.gettempdir(),
                                                  f"onnxprof_ort_{os.getpid()}_{id(self)}")
        return so

    def _create(self, session_options, chain):
        try:
            return self._ort.InferenceSession(str(self.model_path), sess_options=session_options, providers=chain)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise EngineOutOfMemory(error_line(exc)) from exc
            if isinstance(exc, UnicodeDecodeError):   # its message quotes a name that is not UTF-8
                raise ModelError(f"ONNX Runtime cannot load {utf8_text(str(self.model_path))}: it reports an error "
                                 "about a name that is not UTF-8 (an op, domain or tensor); rename it in the "
                                 "model") from None
            if _undecodable_path(exc, self.model_path):
                raise ModelError(f"{utf8_text(str(self.model_path))}: ONNX Runtime takes only file names that "
                                 "are UTF-8; rename the file (or its folder)") from exc
            if not _is_ort_error(exc):
                raise
            line = error_line(exc)
            if "Unsupported model IR version" in line:
                raise ModelError(f"{self.model_path}: {line} - save the model with an IR version this "
                                 "onnxruntime accepts (set model.ir_version, then onnx.save) or upgrade "
                                 "onnxruntime") from exc
            raise ModelError(f"ONNX Runtime cannot load {self.model_path}: {line}") from exc

    def _assigned_nodes(self) -> Optional[dict[str, int]]:
        """Placement recorded by the session (recent ORT); None where this ORT cannot tell."""
        getter = getattr(self.session, "get_provider_graph_assignment_info", None)
        if getter is None:
            return None
        try:
            subgraphs = getter()
        except Exception:
            return None
        return count_by_provider((_node_label(node, f"#{i}-{k}"), node.op_type, subgraph.ep_name)
                                 for i, subgraph in enumerate(subgraphs)
                                 for k, node in enumerate(subgraph.get_nodes()))

    def _probe_nodes(self, chain) -> Optional[dict[str, int]]:
        """Older ORT: one profiled run of a second session on zero inputs; None if it cannot run."""
        batch = int(self.options.batches[0]) if self.options.batches else 1
        feeds = {}
        for name, dtype, shape in self.input_specs():
            if dtype in ("object", "bfloat16"):
                return None
            dims = [d if d is not None else (batch if i == 0 else 1) for i, d in enumerate(shape)]
            feeds[name] = np.zeros(dims, dtype=dtype)
        probe = None
        try:
            probe = self._ort.InferenceSession(str(self.model_path), sess_options=self._session_options(True),
                                               providers=chain)
            probe.run(None, feeds)
            path = probe.end_profiling()
        except Exception:
            return None
        finally:
            del probe
        events = _load_profile(path)
        return count_by_provider((node, op, provider) for node, op, provider, _ in node_events(events))

    def _read_profile(self) -> None:
        path = self.session.end_profiling() if self.session is not None else ""
        self._profile = layer_times(_load_profile(path)) if path else []


def _load_profile(path: str) -> list[dict]:
    if not path or not os.path.exists(path):
        return []
    try:
        with open(path, encoding="utf-8") as f:
            events = json.load(f)
    finally:
        os.remove(path)
    return events if isinstance(events, list) else events.get("traceEvents", [])


def _node_label(node, place: str) -> str:
    """A placed node's name; ONNX Runtime's binding cannot return a name that is not UTF-8, so such a
    node (and an unnamed one) is labelled by its op and place."""
    try:
        name = node.name
    except UnicodeDecodeError:
        name = ""
    return name or f"{node.op_type}{place}"
