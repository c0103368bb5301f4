"""What a measurement run produces: typed, frozen records with units in their names.

These are what the harness returns, the store saves and the reports render.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Mapping, Optional

OK, OUT_OF_MEMORY, FAILED = "ok", "out_of_memory", "failed"
# a run's state: COMPLETE (every batch size tried), INTERRUPTED (Ctrl-C: the finished batches kept),
# UNFINISHED (no end was ever written: still running, or killed before it could write one)
COMPLETE, INTERRUPTED, UNFINISHED = "complete", "interrupted", "unfinished"
RUN_STATUSES = (COMPLETE, INTERRUPTED, UNFINISHED)


@dataclass(frozen=True)
class LatencyStats:
    """Statistics of one batch size's timed runs (milliseconds per batch).

    Percentiles use linear interpolation between closest ranks (numpy's default ``linear`` method,
    the same as trtexec's for p90/p95/p99 up to rank rounding).
    """

    samples: int
    total_s: float
    min_ms: float
    mean_ms: float
    median_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    std_ms: float
    cv: float                      # coefficient of variation: std / mean
    noisy: bool                    # cv above the warning threshold (trtexec warns at 2.5 %)


@dataclass(frozen=True)
class MemoryMeasurement:
    peak_rss_bytes: Optional[int] = None         # this process, during the batch's timed runs
    system_used_bytes: Optional[int] = None      # whole machine (Jetson: CPU and GPU share it)
    gpu_used_bytes: Optional[int] = None         # NVML, where there is an NVIDIA GPU
    engine_bytes: Optional[int] = None           # what the engine reports (TensorRT device memory...)


@dataclass(frozen=True)
class PowerFigures:
    """Power during one batch size's timed runs, and what it costs per inference.

    Net = gross − idle (the paper's Figures 4 and 8); energy per image is the window's energy over the
    images it processed (timed runs × batch)."""

    meter: str
    gross_w: Optional[float] = None
    peak_w: Optional[float] = None
    energy_j: Optional[float] = None
    idle_w: Optional[float] = None
    net_w: Optional[float] = None
    energy_per_image_j: Optional[float] = None
    net_energy_per_image_j: Optional[float] = None
    images_per_j: Optional[float] = None
    samples: int = 0
    sample_rate_hz: float = 0.0
    rails_w: Mapping[str, float] = field(default_factory=dict)
    method: str = ""
    warnings: tuple[str, ...] = ()
    missing: str = ""                             # why there is no power (a meter fault), when there is none


@dataclass(frozen=True)
class BatchResult:
    batch: int
    status: str                                   # ok | out_of_memory | failed
    error: str = ""
    latency: Optional[LatencyStats] = None        # host wall clock around each synchronous run
    device_latency: Optional[LatencyStats] = None  # device events (GPU engines), when available
    throughput_per_s: Optional[float] = None      # images (batch items) per second, from the median
    latency_per_image_ms: Optional[float] = None  # median batch latency (the device's where known) / batch
    memory: Optional[MemoryMeasurement] = None
    warmup_runs: int = 0
    started_at: str = ""
    ended_at: str = ""
    power: Optional[PowerFigures] = None          # when a meter was attached


@dataclass(frozen=True)
class EngineInfo:
    engine: str                                   # onnxruntime | tensorrt
    provider: str                                 # cpu | cuda | tensorrt (ORT) ; "" for native TensorRT
    precision: str                                # fp32 | fp16 | int8
    options: Mapping[str, object] = field(default_factory=dict)
    nodes_by_provider: Mapping[str, int] = field(default_factory=dict)   # what actually runs where
    fallback: bool = False                        # some nodes run on another provider than asked
    versions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HostInfo:
    hostname: str
    os: str
    cpu: str
    cpu_count: int
    memory_bytes: int
    python: str
    versions: Mapping[str, str] = field(default_factory=dict)   # onnx, onnxruntime, tensorrt, cuda ...
    gpu: str = ""
    gpu_driver: str = ""
    jetson: Mapping[str, str] = field(default_factory=dict)     # L4T release, nvpmodel mode, clocks


@dataclass(frozen=True)
class RunRecord:
    model_source: str                              # what the user named (path or zoo:NAME)
    model_path: str
    model_sha256: str
    engine: EngineInfo
    host: HostInfo
    static: Mapping[str, object]                   # headline figures of the static analysis (JSON-ready)
    batches: tuple[BatchResult, ...]
    started_at: str
    ended_at: str
    interrupted: bool = False
    predictions: Mapping[int, Mapping[str, float]] = field(default_factory=dict)  # batch -> predicted figures
    layers: tuple = ()                             # LayerRow per profiled layer (--profile-layers)
    meter: str = ""                                # the power meter, described ("" without one)
    idle_power_w: Optional[float] = None           # measured before the sweep (--idle)

    @property
    def status(self) -> str:
        """complete, interrupted or unfinished: a run gets its end (``ended_at``) only when it finishes."""
        if self.interrupted:
            return INTERRUPTED
        return COMPLETE if self.ended_at else UNFINISHED


def model_name(source: str) -> str:
    """What a run's model is called: ``zoo:resnet50`` → ``resnet50``; a path → its file name without ``.onnx``."""
    if source.startswith("zoo:"):
        return source[4:]
    return PurePath(source).name.removesuffix(".onnx")


def json_ready(value: Any) -> Any:
    """Records as JSON-ready values: dataclasses to dicts, mapping keys to strings (batch sizes), and
    non-finite floats to None (standard JSON has no NaN or Infinity: null is "no number")."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value):
        return {f.name: json_ready(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


def json_document(schema: str, body: Mapping[str, Any], version: int = 1) -> str:
    """A versioned JSON document as every onnxprof command writes one: ``schema``, ``schema_version`` and
    ``onnxprof_version`` first, then ``body``; standard JSON (non-finite numbers null), indented."""
    import json

    from onnxprof import __version__

    document = {"schema": schema, "schema_version": version, "onnxprof_version": __version__, **body}
    return json.dumps(json_ready(document), indent=1, allow_nan=False) + "\n"


def utf8_text(text: str) -> str:
    """``text`` as something UTF-8 can hold: lone surrogates (undecodable bytes of a file name or of a C
    library's message, smuggled in by Python's surrogateescape) become U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if "\ud800" <= ch <= "\udfff" else ch for ch in text)
    return text


def error_line(error: BaseException) -> str:
    """The first line of an error's message as valid UTF-8, whatever bytes it held: a C library's message
    with bytes that are not UTF-8 (a node or file name) reaches Python as bytes, as a UnicodeDecodeError
    carrying them, or with lone surrogates; each is decoded with U+FFFD for what cannot be."""
    if isinstance(error, UnicodeDecodeError) and isinstance(error.object, (bytes, bytearray)):
        text = bytes(error.object).decode("utf-8", "replace")
    elif error.args and isinstance(error.args[0], (bytes, bytearray)):
        text = bytes(error.args[0]).decode("utf-8", "replace")
    else:
        text = str(error)
    lines = utf8_text(text).strip().splitlines()
    return lines[0] if lines else type(error).__name__
