"""A calibration collection kept as data: what :func:`onnxprof.predict.calibrate.collect` measured on one
host, so that the predictors can be fitted and judged on it again without measuring anything.

A recording holds measurements and what the engine said of each model, never anything a predictor
derived from them: each model's graph without its weight values (what the analyser reads), every
point's timings, kept per-layer profile and engine traits, every single-op case's graph, traits and
kept profile, and the host's facts. The engine traits are recorded because they cannot be told again
without the engine and the real file (ONNX Runtime's blocked layout depends on this CPU). Reading a
recording rebuilds :class:`~onnxprof.predict.calibration_data.CalibrationPoint` and
:class:`~onnxprof.predict.kernels.KernelTiming` with the library's own functions (``analyze_model``,
``layer_samples``, ``kernel_timings``), so a changed predictor is judged on the same measurements.

The file is one gzipped JSON document (``schema`` onnxprof.calibration-recording); each graph is a
serialized ONNX ModelProto, zlib-compressed and base64-encoded.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import json
import math
import os
import platform
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import onnx
from onnx import AttributeProto, ModelProto, TensorProto

from onnxprof import __version__
from onnxprof.cost.analysis import StaticReport, analyze_model
from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.engines.traits import EngineTraits, GraphLayout
from onnxprof.errors import OnnxprofError
from onnxprof.measure.layers import LayerRow
from onnxprof.measure.records import json_document, json_ready
from onnxprof.model.load import iter_graphs, load_model, prepare_model
from onnxprof.model.shapes import ShapeBinding
from onnxprof.predict.calibrate import OP, PROFILE, Checkpoint, row_from_json
from onnxprof.predict.calibration_data import CalibrationData, CalibrationPoint, network_point
from onnxprof.predict.kernels import KernelTiming
from onnxprof.predict.microbench import last_level_cache_bytes, private_cache_bytes
from onnxprof.predict.opbench import case_timings

SCHEMA = "onnxprof.calibration-recording"
SCHEMA_VERSION = 1
# float tensors of up to this many elements keep their values in a recorded graph: scalars and the
# scales of a Resize can shape what follows; a weight's or a normalisation's values cannot
FLOAT_VALUES_KEPT = 16
FLOATS = frozenset({TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE})


class RecordingError(OnnxprofError):
    """A recording cannot be read (not one, another schema version) or does not hold what was measured."""


@dataclass(frozen=True)
class HostFacts:
    """The host and engine a recording was measured on."""

    cpu: str                                  # the CPU's model name
    cores: int                                # logical CPUs this process could run on
    private_cache_bytes: Optional[int]        # see microbench.private_cache_bytes
    last_level_cache_bytes: Optional[int]
    spill_from_bytes: Optional[float]         # microbench.spill_from_bytes for the engine's traits
    compute_flops_per_s: float                # microbench.measure_this_machine, through the engine
    bandwidth_bytes_per_s: float
    engine: str
    engine_version: str
    options: EngineOptions
    recorded_on: str                          # ISO date
    onnxprof_version: str = __version__


@dataclass(frozen=True)
class RecordedModel:
    name: str
    label: str           # the set it belongs to ("zoo", "tuning", "heldout", ...)
    source: str          # ``zoo:NAME`` or the file's name, without its folder
    graph: bytes         # serialized ModelProto without weight values (see shape_only)


@dataclass(frozen=True)
class RecordedPoint:
    """One (model, batch) as collect kept it: its unprofiled timings and its fastest profile's rows."""

    model: str
    batch: int
    median_ms: float                  # the kept (fastest) round's median
    round_ms: tuple[float, ...]       # every timed round's median
    quiet: bool
    peak_rss_bytes: Optional[int]
    traits: EngineTraits
    rows: tuple[LayerRow, ...]


@dataclass(frozen=True)
class RecordedOpCase:
    """One single-op benchmark case (onnxprof.predict.opbench): its graph and its fastest profile."""

    name: str
    op: str                           # the op the case times: its timings' source is ``op:<op>``
    graph: bytes
    traits: EngineTraits
    round_ms: tuple[float, ...]       # every round's kernel sum
    rows: tuple[LayerRow, ...]


@dataclass(frozen=True)
class Recording:
    host: HostFacts
    models: tuple[RecordedModel, ...]
    points: tuple[RecordedPoint, ...]
    op_cases: tuple[RecordedOpCase, ...] = ()


@dataclass(frozen=True)
class RecordedCollection:
    """A recording rebuilt as the library's own types: what collect and the op bench returned."""

    host: HostFacts
    points: tuple[CalibrationPoint, ...]
    labels: Mapping[str, str]                 # model -> its set
    op_timings: tuple[KernelTiming, ...]

    def labelled(self, *labels: str) -> list[CalibrationPoint]:
        return [p for p in self.points if self.labels[p.model] in labels]

    def data(self, *labels: str) -> CalibrationData:
        """What the predictors are fitted from: the points of the sets ``labels``, the op timings and the
        host's rates and spill threshold as measured."""
        host = self.host
        return CalibrationData(tuple(self.labelled(*labels)), host.compute_flops_per_s, host.bandwidth_bytes_per_s,
                               self.op_timings, host.spill_from_bytes)


# -- graphs without weights ------------------------------------------------------------------------


def shape_only(source: Union[str, os.PathLike, ModelProto]) -> ModelProto:
    """The model as the analyser reads it, without weight values: its large tensors, and its floating-point
    ones of more than FLOAT_VALUES_KEPT elements, keep name, dims and type but no values (integer ones,
    such as Reshape's shapes, and float scalars keep theirs); local functions inlined; external data dropped."""
    if isinstance(source, ModelProto):
        own = ModelProto()
        own.CopyFrom(source)
        model = prepare_model(own, "<in memory>", check=False).model
    else:
        model = load_model(source, check=False).model
    for graph in iter_graphs(model.graph):
        tensors = list(graph.initializer) + [attr.t for node in graph.node for attr in node.attribute
                                             if attr.type == AttributeProto.TENSOR]
        for tensor in tensors:
            if tensor.data_type in FLOATS and math.prod(tensor.dims) > FLOAT_VALUES_KEPT:
                for name in ("raw_data", "float_data", "double_data", "int32_data"):
                    tensor.ClearField(name)
    return model


def pack_graph(model: ModelProto) -> bytes:
    return zlib.compress(model.SerializeToString(), 9)


def unpack_graph(graph: bytes) -> ModelProto:
    model = ModelProto()
    model.ParseFromString(zlib.decompress(graph))
    return model


def analysis(graph: bytes, batch: Optional[int], name: str) -> StaticReport:
    """The report collect made of the model's file, made of its recorded graph."""
    binding = ShapeBinding() if batch is None else ShapeBinding(batch=batch)
    return analyze_model(unpack_graph(graph), binding, check=False, name=name)


# -- host facts --------------------------------------------------------------------------------------


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name (Linux's /proc/cpuinfo; elsewhere what Python's platform module says)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")) and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_facts(engine: str, options: EngineOptions, compute_flops_per_s: float, bandwidth_bytes_per_s: float,
               spill_from_bytes: Optional[float]) -> HostFacts:
    """This host's facts, with the rates measure_this_machine measured and the spill threshold used."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return HostFacts(cpu_name(), cores, private_cache_bytes(), last_level_cache_bytes(), spill_from_bytes,
                     compute_flops_per_s, bandwidth_bytes_per_s, engine, _engine_version(engine), options,
                     datetime.date.today().isoformat())


def _engine_version(engine: str) -> str:
    module = {"onnxruntime": "onnxruntime", "tensorrt": "tensorrt", "cuda": "onnxruntime"}.get(engine, engine)
    try:
        return __import__(module).__version__
    except (ImportError, AttributeError):
        return "unknown"


# -- from a collection -----------------------------------------------------------------------------


def record(points: Sequence[CalibrationPoint], checkpoint: Checkpoint, models: Sequence[tuple[str, Path]],
           labels: Mapping[str, str], host: HostFacts, op_bench=None) -> Recording:
    """The recording of a finished ``collect(models, ..., checkpoint=checkpoint, op_bench=op_bench)``:
    the points it returned, with each point's kept profile and each op case's read from the checkpoint,
    which holds every round's rows (the kept one is the fastest, as collect keeps it). ``labels``: each
    model's set; ``op_bench``: the entered OpBench that ran (None: no single-op cases)."""
    paths = dict(models)
    recorded_models = tuple(RecordedModel(name, labels[name], _shown_source(paths[name]),
                                          pack_graph(shape_only(paths[name])))
                            for name in dict.fromkeys(p.model for p in points))
    recorded_points = tuple(RecordedPoint(p.model, p.batch, p.median_ms, p.round_ms, p.quiet, p.peak_rss_bytes,
                                          p.traits, _fastest_rows(checkpoint.of(PROFILE, p.model, p.batch)))
                            for p in points)
    cases = ()
    if op_bench is not None:
        with tempfile.TemporaryDirectory(prefix="onnxprof-recording-") as folder:
            cases = tuple(_op_case(case, checkpoint.of(OP, name), op_bench, Path(folder))
                          for name, case in op_bench.cases.items())
    return Recording(host, recorded_models, recorded_points, cases)


def _shown_source(path: Path) -> str:
    text = os.fspath(path)
    return text if text.startswith("zoo:") else Path(text).name


def _fastest_rows(records: Sequence[Mapping]) -> tuple[LayerRow, ...]:
    measured = [r for r in records if r.get("ms") is not None]
    if not measured:
        return ()
    return tuple(row_from_json(row) for row in min(measured, key=lambda r: r["ms"])["rows"])


def _op_case(case, records: Sequence[Mapping], op_bench, folder: Path) -> RecordedOpCase:
    path = folder / f"{case.name}.onnx"
    onnx.save(case.model, path)          # its traits, as the op bench read them: from the saved case
    traits = engine_traits(op_bench.engine, op_bench.options, str(path))
    return RecordedOpCase(case.name, case.op, pack_graph(shape_only(path)), traits,
                          tuple(r["ms"] for r in records), _fastest_rows(records))


# -- rebuilt as the library's types ----------------------------------------------------------------


def rebuild(recording: Recording) -> RecordedCollection:
    graphs = {m.name: m.graph for m in recording.models}
    points = tuple(network_point(p.model, p.batch, analysis(graphs[p.model], p.batch, p.model), p.median_ms, p.rows,
                                 p.traits, p.peak_rss_bytes, p.quiet, p.round_ms)
                   for p in recording.points)
    op_timings = tuple(timing for case in recording.op_cases
                       for timing in case_timings(case.op, case.rows, analysis(case.graph, None, case.name),
                                                     case.traits))
    return RecordedCollection(recording.host, points, {m.name: m.label for m in recording.models}, op_timings)


def load_collection(path: Union[str, os.PathLike]) -> RecordedCollection:
    return rebuild(read_recording(path))


# -- the file --------------------------------------------------------------------------------------


def write_recording(recording: Recording, path: Union[str, os.PathLike]) -> None:
    host = recording.host
    body = {
        "host": {**json_ready(host), "options": json.loads(json.dumps(json_ready(host.options), default=str))},
        "models": [{"name": m.name, "set": m.label, "source": m.source, "graph": _text(m.graph)}
                   for m in recording.models],
        "points": [{"model": p.model, "batch": p.batch, "median_ms": p.median_ms, "round_ms": p.round_ms,
                    "quiet": p.quiet, "peak_rss_bytes": p.peak_rss_bytes, "traits": traits_json(p.traits),
                    "rows": p.rows} for p in recording.points],
        "op_cases": [{"case": c.name, "op": c.op, "graph": _text(c.graph), "traits": traits_json(c.traits),
                      "round_ms": c.round_ms, "rows": c.rows} for c in recording.op_cases],
    }
    # no name and no time in the gzip header: the same recording writes the same bytes
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", 9, raw, mtime=0) as stream:
        stream.write(json_document(SCHEMA, body, SCHEMA_VERSION).encode())


def read_recording(path: Union[str, os.PathLike]) -> Recording:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            document = json.load(stream)
    except (OSError, EOFError, ValueError) as exc:
        raise RecordingError(f"{path}: not a readable calibration recording ({exc})") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise RecordingError(f"{path}: not a calibration recording (schema {SCHEMA} expected)")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise RecordingError(f"{path}: a calibration recording of schema version {document.get('schema_version')}, "
                             f"this onnxprof reads version {SCHEMA_VERSION}: record it again")
    try:
        return _recording_from_json(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordingError(f"{path}: a damaged calibration recording ({type(exc).__name__}: {exc})") from None


def _recording_from_json(document: Mapping) -> Recording:
    host = dict(document["host"])
    options = dict(host.pop("options"))
    options["batches"] = tuple(options.get("batches", (1,)))
    options["cache_dir"] = None if options.get("cache_dir") is None else Path(options["cache_dir"])
    host = HostFacts(**host, options=EngineOptions(**options))
    models = tuple(RecordedModel(m["name"], m["set"], m["source"], _bytes(m["graph"])) for m in document["models"])
    points = tuple(RecordedPoint(p["model"], int(p["batch"]), float(p["median_ms"]), tuple(p["round_ms"]),
                                 bool(p["quiet"]), p["peak_rss_bytes"], traits_from_json(p["traits"]),
                                 tuple(row_from_json(row) for row in p["rows"])) for p in document["points"])
    cases = tuple(RecordedOpCase(c["case"], c["op"], _bytes(c["graph"]), traits_from_json(c["traits"]),
                                 tuple(c["round_ms"]), tuple(row_from_json(row) for row in c["rows"]))
                  for c in document["op_cases"])
    return Recording(host, models, points, cases)


def _text(graph: bytes) -> str:
    return base64.b64encode(graph).decode("ascii")


def _bytes(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def traits_json(traits: EngineTraits) -> dict:
    layout = traits.layout
    return {"runs_on_host": traits.runs_on_host,
            "layout": {"block": layout.block, "unblocked": sorted(layout.unblocked),
                       "conversions": [list(c) for c in layout.conversions]}}


def traits_from_json(body: Mapping) -> EngineTraits:
    layout = body["layout"]
    return EngineTraits(bool(body["runs_on_host"]),
                        GraphLayout(frozenset(layout["unblocked"]),
                                    tuple((op, tensor) for op, tensor in layout["conversions"]), int(layout["block"])))
