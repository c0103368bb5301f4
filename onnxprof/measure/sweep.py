"""A measurement run: one engine, the paper's batch sweep, every batch saved as it finishes.

A batch that does not fit is recorded as out of memory and the sweep goes on; Ctrl-C stops it
cleanly and keeps the finished batches (also when it comes while the engine or the meter closes).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

from onnxprof.cost.analysis import StaticReport, analyze_loaded
from onnxprof.engines import create_engine, engine_traits
from onnxprof.engines.base import EngineOptions, EngineOutOfMemory
from onnxprof.measure.harness import TimingProtocol, failed_batch, now_iso, time_batch
from onnxprof.measure.host import host_info
from onnxprof.measure.batch import BatchChoice, choose_batches, model_inputs, npz_shapes, throughput_unit
from onnxprof.measure.inputs import load_feeds, require_bound, require_feedable_names, require_free_memory, synthetic_feeds
from onnxprof.measure.layers import join_layers
from onnxprof.errors import ModelError, OnnxprofError, UsageError
from onnxprof.measure.records import OUT_OF_MEMORY, BatchResult, RunRecord
from onnxprof.model.load import LoadedModel, file_sha256, load_model
from onnxprof.predict.basic import ONNXRUNTIME_CPU_MEMORY, Prediction, cpu_macs_per_s, predict


@dataclass(frozen=True)
class SweepPlan:
    source: str                          # what the user named
    model_path: Path                     # the file the engine loads
    batches: Optional[Sequence[int]]     # --batch; None: whatever the shapes set, else 1 (see measure.batch)
    engine: str = "onnxruntime"
    options: EngineOptions = EngineOptions()
    protocol: TimingProtocol = TimingProtocol()
    inputs: dict = field(default_factory=dict)    # --input NAME:DIMS (batch dim included: it sets the batch)
    dims: dict = field(default_factory=dict)      # --dim NAME=VALUE
    inputs_file: Optional[Path] = None            # --inputs FILE.npz
    meter: Optional[object] = None                # a onnxprof.meters Meter, sampling through the sweep
    idle_s: float = 0.0                           # --idle: seconds of idle power before the sweep
    predictor: Optional[object] = None            # a calibrated or published-device predictor (predict.resolve)


def run_sweep(plan: SweepPlan, on_batch: Callable[[BatchResult, Prediction], None] = lambda *_: None,
              on_start: Callable[[RunRecord], None] = lambda _: None,
              on_times: Optional[Callable[[int, object, object], None]] = None) -> RunRecord:
    """Measure every batch size; ``on_start`` sees the run before the first batch (to store it),
    ``on_batch`` each batch's result and prediction as soon as it is measured, ``on_times`` (one batch
    size only) its per-run host milliseconds and device milliseconds (empty without a device clock)."""
    import psutil

    baseline_rss = psutil.Process().memory_info().rss
    started = now_iso()
    loaded = load_model(plan.model_path, check=False)
    choice = choose_plan_batches(plan, loaded)
    batches = choice.batches
    if plan.options.profile_layers and len(batches) > 1:
        raise UsageError("--profile-layers profiles one batch size: give a single --batch")
    if on_times is not None and len(batches) > 1:
        raise UsageError("--exportTimes writes one batch size's times, as trtexec does: give a single --batch")
    reports = {b: _static(loaded, choice, b) for b in batches}
    plan = replace(plan, batches=batches)
    if plan.inputs_file is None:
        for report in reports.values():
            require_bound(report)       # before building the engine: a missing --dim fails at once
    first = reports[batches[0]]
    require_feedable_names(first)
    engine = create_engine(plan.engine, plan.model_path, replace(plan.options, batches=tuple(batches)))
    results: list[BatchResult] = []
    predictions: dict[int, dict] = {}
    record: Optional[RunRecord] = None
    interrupted = False
    layers: tuple = ()
    try:
        with engine, _sampling(plan.meter):
            rate = cpu_macs_per_s()
            idle_w = _idle_power(plan.meter, plan.idle_s)
            record = RunRecord(model_source=plan.source, model_path=str(plan.model_path),
                               model_sha256=file_sha256(plan.model_path), engine=engine.info(), host=host_info(),
                               static=_headline(first, plan.batches[0]), batches=(), started_at=started, ended_at="",
                               meter=plan.meter.describe() if plan.meter else "", idle_power_w=idle_w)
            on_start(record)
            try:
                for batch in plan.batches:
                    result, prediction = _measure_one(plan, engine, reports[batch], batch, rate, baseline_rss, idle_w,
                                                      on_times)
                    results.append(result)
                    predictions[batch] = _prediction_json(prediction)
                    on_batch(result, prediction)
            except KeyboardInterrupt:
                interrupted = True
            if plan.options.profile_layers and results:
                layers = tuple(join_layers(reports[results[-1].batch], engine.layer_profile(), rate))
    except KeyboardInterrupt:
        if record is None:          # before the run began: nothing to keep
            raise
        interrupted = True          # also while closing the engine or the meter: the batches are kept
    except EngineOutOfMemory as exc:
        if record is not None:
            raise
        raise ModelError(f"{plan.source}: the engine could not be built, out of memory ({exc}); the model's "
                         "weights need more memory than this machine has free") from None
    return replace(record, engine=engine.info(), batches=tuple(results), ended_at=now_iso(), interrupted=interrupted,
                   predictions=predictions, layers=layers)


def choose_plan_batches(plan: SweepPlan, loaded: LoadedModel) -> BatchChoice:
    """The batch sizes ``plan`` runs and their shapes, from every flag that can set the batch (one
    line where two disagree): see :mod:`onnxprof.measure.batch`."""
    arrays = npz_shapes(plan.inputs_file) if plan.inputs_file is not None else None
    return choose_batches(model_inputs(loaded.model), plan.batches, plan.inputs, plan.dims, arrays,
                          str(plan.inputs_file or ""))


def _measure_one(plan: SweepPlan, engine, report: StaticReport, batch: int, rate: float, baseline_rss: int,
                 idle_w: Optional[float], on_times=None) -> tuple[BatchResult, Prediction]:
    """One batch size's prediction and result; a failure of this batch is its result, not an exception."""
    prediction = (plan.predictor.predict(report, batch) if plan.predictor is not None
                  else predict(report, batch, rate, baseline_rss,
                               ONNXRUNTIME_CPU_MEMORY if runs_on_host(plan) else None))
    try:
        if runs_on_host(plan):
            _require_room_for_activations(report)
        feeds = load_feeds(plan.inputs_file, report) if plan.inputs_file else synthetic_feeds(report)
        result = time_batch(engine, feeds, batch, plan.protocol, plan.meter, idle_w,
                            on_times=None if on_times is None else (lambda host, device: on_times(batch, host, device)))
    except MemoryError as exc:  # its inputs or activations do not fit in host memory
        result = failed_batch(batch, exc, status=OUT_OF_MEMORY)
    except OnnxprofError:
        raise
    except Exception as exc:  # an engine failure on one batch: record it, go on
        result = failed_batch(batch, exc)
    return result, prediction


def runs_on_host(plan: SweepPlan) -> bool:
    """Whether the engine runs the model on the host's CPU (its memory and power are the host's)."""
    return engine_traits(plan.engine, plan.options).runs_on_host


def _require_room_for_activations(report: StaticReport) -> None:
    """MemoryError when the tensors live at the graph's peak (a lower bound on what any execution plan
    holds) exceed the free memory. Where the kernel overcommits memory, running such a batch is not
    refused: the process is killed part-way, and the batches measured before it with it."""
    peak = report.memory.peak_activation_bytes
    if isinstance(peak, int):
        require_free_memory(peak, "its activations alone need at least")


@contextmanager
def _sampling(meter):
    """Run the meter's sampler for the whole sweep (windows are cut from it per batch)."""
    if meter is None:
        yield
        return
    meter.start()
    try:
        yield
    finally:
        meter.stop()


def _idle_power(meter, seconds: float) -> Optional[float]:
    """Mean power over ``seconds`` of doing nothing, before the first batch (the paper's 1.30 W)."""
    if meter is None or seconds <= 0:
        return None
    start = time.perf_counter()
    time.sleep(seconds)
    return meter.window(start, time.perf_counter()).mean_w


def _static(loaded: LoadedModel, choice: BatchChoice, batch: int) -> StaticReport:
    """The static analysis at ``batch``, with the shapes the run feeds (the model is read once)."""
    from onnx import ModelProto

    from onnxprof.gcpause import cyclic_gc_paused

    own = ModelProto()
    own.CopyFrom(loaded.model)          # binding shapes writes into the model
    with cyclic_gc_paused():
        return analyze_loaded(replace(loaded, model=own), choice.binding(batch))


def _headline(report: StaticReport, batch: int) -> dict:
    from onnxprof.report.formats import quantity_json

    return {"analysed_batch": batch, "throughput_unit": throughput_unit([t.shape for t in report.inputs]),
            "parameters": report.parameters.elements, "weight_bytes": report.memory.weight_bytes,
            "macs": quantity_json(report.totals.macs), "flops": quantity_json(report.totals.flops),
            "peak_activation_bytes": quantity_json(report.memory.peak_activation_bytes),
            "complete": report.complete}


def _prediction_json(prediction: Prediction) -> dict:
    return {k: v for k, v in prediction.__dict__.items() if k != "batch"}


