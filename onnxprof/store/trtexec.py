"""Importing trtexec's exported JSON: ``--exportTimes`` (per query) and ``--exportProfile`` (per layer).

``--exportTimes`` writes a list with one object per timed query (warm-up excluded), in milliseconds:
``startEnqMs``/``endEnqMs``, ``startH2dMs``/``endH2dMs``, ``startComputeMs``/``endComputeMs``,
``startD2hMs``/``endD2hMs`` (timestamps), and ``h2dMs``, ``computeMs``, ``d2hMs``, ``latencyMs``
(durations; ``latencyMs`` = H2D + compute + D2H). Releases before TensorRT 8 spelled the transfers
``startInMs``/``inMs``/``outMs``; only ``latencyMs`` and ``computeMs`` are needed here.

``--exportProfile`` writes ``[{"count": N}, {"name", "timeMs", "averageMs", "medianMs", "percentage"}, ...]``:
N profiled iterations, then each layer's total time over them, its mean and median per iteration
(``medianMs`` since TensorRT 8.6) and its share of the summed layer time. Fused layers join the
original names with " + ".

Neither file says the batch size (it comes from ``--batch``) nor the model (``--model``).

Every field is checked before anything is stored, and a file that fails is refused whole with one line
naming the query or layer and the field: times are finite, not negative and below a bound no real run
reaches (``MAX_DURATION_MS`` for durations, ``MAX_TIMESTAMP_MS`` for timestamps), percentages lie in
0..100, the iteration count fits a 64-bit integer, names are text UTF-8 can hold, no object repeats a
key, and brackets nest at most ``MAX_JSON_DEPTH`` deep (the files are two levels deep).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from onnxprof.errors import OnnxprofError
from onnxprof.files import regular_file
from onnxprof.model.load import file_sha256
from onnxprof.measure.records import OK, BatchResult, EngineInfo, HostInfo, LatencyStats, RunRecord, utf8_text
from onnxprof.measure.stats import latency_per_image_ms, latency_stats, reference_ms, throughput_per_s
from onnxprof.store.rows import MAX_JSON_DEPTH, nests_too_deep

TRTEXEC_ENGINE = "tensorrt (trtexec)"
MAX_DURATION_MS = 1e7           # 2.8 hours for one query or one layer: past it, a file is not a measurement
MAX_TIMESTAMP_MS = 1e13         # 317 years: also past any epoch-based clock in milliseconds
MAX_COUNT = 2**63 - 1           # what the database's 64-bit integers hold


@dataclass(frozen=True)
class LayerTime:
    """One row of ``--exportProfile``."""

    position: int                     # order in the file (TensorRT's execution order)
    name: str
    time_ms: float                    # summed over the profiled iterations
    average_ms: float
    median_ms: Optional[float]        # absent before TensorRT 8.6
    percentage: Optional[float]       # share of the summed layer time, 0..100


@dataclass(frozen=True)
class TrtexecTimes:
    queries: int
    span_s: Optional[float]           # first start to last end over all timestamps, when present
    host: LatencyStats                # latencyMs: H2D + compute + D2H per query
    device: LatencyStats              # computeMs


@dataclass(frozen=True)
class TrtexecProfile:
    iterations: int
    layers: tuple[LayerTime, ...]


@dataclass(frozen=True)
class TrtexecProvenance:
    """Where an imported run came from: the files and what they held beyond the run record."""

    times_file: str
    times_sha256: str
    queries: int
    profile_file: str = ""
    profile_sha256: str = ""
    profile_iterations: Optional[int] = None
    layers: tuple[LayerTime, ...] = ()


@dataclass(frozen=True)
class TrtexecImport:
    record: RunRecord
    provenance: TrtexecProvenance


def read_json(path: str | os.PathLike, what: str) -> tuple[Any, str]:
    """The parsed document and the sha256 of its bytes; any problem is one line naming the file."""
    text = os.fspath(path)
    regular_file(text, f"the {what} JSON trtexec wrote", OnnxprofError)    # a FIFO would block the read
    try:
        raw = Path(text).read_bytes()
    except FileNotFoundError:
        raise OnnxprofError(f"{text}: no such file; give the {what} JSON trtexec wrote") from None
    except IsADirectoryError:
        raise OnnxprofError(f"{text}: is a folder; give the {what} JSON file") from None
    except OSError as exc:
        raise OnnxprofError(f"{text}: cannot be read ({exc.strerror})") from None
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OnnxprofError(f"{text}: not a text file; expected trtexec's {what} JSON") from None
    if nests_too_deep(decoded):
        raise OnnxprofError(f"{text}: brackets nest deeper than {MAX_JSON_DEPTH} levels; "
                            f"not trtexec's {what} JSON") from None
    try:
        document = json.loads(decoded, object_pairs_hook=_without_repeated_keys)
    except _RepeatedKey as exc:
        raise OnnxprofError(f"{text}: an object repeats the key {exc.key!r}; trtexec writes each key once") from None
    except json.JSONDecodeError as exc:
        raise OnnxprofError(f"{text}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                            f"is the file complete? re-run trtexec with {what}") from None
    return document, hashlib.sha256(raw).hexdigest()


class _RepeatedKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = utf8_text(key)


def _without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict:
    """A JSON object as a dict, refusing a key given twice (the parser would keep the last one silently)."""
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return document


def _number(entry: dict, key: str, where: str, required: bool = True,
            maximum: float = MAX_DURATION_MS, unit: str = "milliseconds") -> Optional[float]:
    """A finite number from 0 to ``maximum``; one line naming the field otherwise."""
    value = entry.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        shown = "missing" if value is None else f"{value!r}"
        raise OnnxprofError(f"{where}: {key!r} is {shown}, expected a finite number of {unit}")
    if not 0 <= value <= maximum:
        raise OnnxprofError(f"{where}: {key!r} is {value!r}, expected {unit} from 0 to {maximum:g}")
    return float(value)


def _is_timestamp(key: str) -> bool:
    return key.startswith(("start", "end"))


def _check_times_entry(entry: dict, where: str) -> None:
    """Every millisecond field of a query (``...Ms``), not only the two the statistics read."""
    for key in entry:
        if key.endswith("Ms"):
            _number(entry, key, where, maximum=MAX_TIMESTAMP_MS if _is_timestamp(key) else MAX_DURATION_MS)


def _layer_name(entry: dict, where: str) -> str:
    name = entry.get("name")
    if not isinstance(name, str):
        raise OnnxprofError(f"{where}: expected an object with a \"name\" string")
    if utf8_text(name) != name:
        raise OnnxprofError(f"{where}: \"name\" {utf8_text(name)!r} holds a lone surrogate escape, "
                            "which is not text (UTF-8 cannot hold it)")
    return name


def parse_times(document: Any, source: str = "times") -> TrtexecTimes:
    """Per-query times (``--exportTimes``) as host and device latency statistics."""
    if not isinstance(document, list) or not all(isinstance(entry, dict) for entry in document):
        raise OnnxprofError(f"{source}: not trtexec --exportTimes JSON (expected a list of per-query objects)")
    if not document:
        raise OnnxprofError(f"{source}: holds no queries; did trtexec time any inference?")
    host, device = [], []
    first, last = math.inf, -math.inf
    for index, entry in enumerate(document):
        where = f"{source}: query {index}"
        host.append(_number(entry, "latencyMs", where))
        device.append(_number(entry, "computeMs", where))
        _check_times_entry(entry, where)
        for key, value in entry.items():
            if key.endswith("Ms"):
                if key.startswith("start"):
                    first = min(first, value)
                elif key.startswith("end"):
                    last = max(last, value)
    span_s = (last - first) / 1000.0 if math.isfinite(first) and math.isfinite(last) and last > first else None
    return TrtexecTimes(queries=len(document), span_s=span_s, host=latency_stats(host, span_s),
                        device=latency_stats(device, span_s))


def parse_profile(document: Any, source: str = "profile") -> TrtexecProfile:
    """Per-layer times (``--exportProfile``)."""
    if (not isinstance(document, list) or not document or not isinstance(document[0], dict)
            or "count" not in document[0]):
        raise OnnxprofError(f"{source}: not trtexec --exportProfile JSON (expected a list starting with {{\"count\": N}})")
    count = document[0]["count"]
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
        raise OnnxprofError(f"{source}: \"count\" is {_shown(count)}, expected a whole number of iterations "
                            f"from 0 to {MAX_COUNT}")
    layers = []
    for position, entry in enumerate(document[1:]):
        where = f"{source}: layer {position}"
        if not isinstance(entry, dict):
            raise OnnxprofError(f"{where}: expected an object with a \"name\" string")
        layers.append(LayerTime(position=position, name=_layer_name(entry, where),
                                time_ms=_number(entry, "timeMs", where),
                                average_ms=_number(entry, "averageMs", where),
                                median_ms=_number(entry, "medianMs", where, required=False),
                                percentage=_number(entry, "percentage", where, required=False, maximum=100.0,
                                                   unit="percent")))
    return TrtexecProfile(iterations=count, layers=tuple(layers))


def _shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def times_batch(times: TrtexecTimes, batch: int, started_at: str = "", ended_at: str = "") -> BatchResult:
    """One batch's result, with the harness's definitions of throughput and per-image latency."""
    reference = reference_ms(times.host, times.device)
    return BatchResult(batch=batch, status=OK, latency=times.host, device_latency=times.device,
                       throughput_per_s=throughput_per_s(reference, batch),
                       latency_per_image_ms=latency_per_image_ms(reference, batch),
                       warmup_runs=0, started_at=started_at, ended_at=ended_at)


def static_summary(model: str, batch: int) -> dict:
    """Headline figures of the static analysis at this batch size, JSON-ready."""
    from onnxprof.cost.analysis import analyze_loaded
    from onnxprof.gcpause import cyclic_gc_paused
    from onnxprof.measure.batch import choose_batches, model_inputs
    from onnxprof.model.load import load_model
    from onnxprof.report.formats import quantity_json

    with cyclic_gc_paused():
        loaded = load_model(model)
        # a model whose inputs fix another batch cannot have run this one: one line, as measure says it
        choice = choose_batches(model_inputs(loaded.model), [batch])
        report = analyze_loaded(loaded, choice.binding(batch))
    return {"parameters": report.parameters.elements, "parameter_bytes": report.parameters.bytes,
            "macs": quantity_json(report.totals.macs), "flops": quantity_json(report.totals.flops),
            "weight_bytes": report.memory.weight_bytes, "bindings": dict(report.bindings),
            "complete": report.complete}


def import_trtexec(model: str, times_path: str, profile_path: Optional[str] = None, batch: int = 1,
                   precision: str = "fp32", hostname: str = "") -> TrtexecImport:
    """A run record (one batch) from trtexec's files, with the model's sha256 and static summary."""
    if batch < 1:
        raise OnnxprofError(f"--batch {batch}: must be at least 1")
    times_doc, times_sha = read_json(times_path, "--exportTimes")
    times = parse_times(times_doc, times_path)
    profile = None
    profile_sha = ""
    if profile_path is not None:
        profile_doc, profile_sha = read_json(profile_path, "--exportProfile")
        profile = parse_profile(profile_doc, profile_path)
    from onnxprof.measure.model_file import model_file

    path = model_file(model)                   # a path or zoo:NAME, as everywhere a model is named
    static = static_summary(str(path), batch)  # also checks that the model is a readable ONNX file
    ended = datetime.fromtimestamp(Path(times_path).stat().st_mtime, timezone.utc)
    started = ended - timedelta(seconds=times.span_s or 0.0)
    started_at, ended_at = started.isoformat(timespec="milliseconds"), ended.isoformat(timespec="milliseconds")
    record = RunRecord(
        model_source=utf8_text(model), model_path=utf8_text(str(path.resolve())), model_sha256=file_sha256(path),
        engine=EngineInfo(engine=TRTEXEC_ENGINE, provider="", precision=precision),
        host=HostInfo(hostname=utf8_text(hostname), os="", cpu="", cpu_count=0, memory_bytes=0, python=""),
        static=static, batches=(times_batch(times, batch, started_at, ended_at),),
        started_at=started_at, ended_at=ended_at)
    provenance = TrtexecProvenance(
        times_file=utf8_text(str(Path(times_path).resolve())), times_sha256=times_sha, queries=times.queries,
        profile_file="" if profile_path is None else utf8_text(str(Path(profile_path).resolve())),
        profile_sha256=profile_sha, profile_iterations=None if profile is None else profile.iterations,
        layers=() if profile is None else profile.layers)
    return TrtexecImport(record=record, provenance=provenance)
