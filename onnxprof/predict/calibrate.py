"""Calibration: measure a set of models on this device with measure's protocol and per-layer profiles,
then fit the predictors and judge them by leave-one-model-out error (each model predicted by a fit
made without it)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from onnxprof.cost.analysis import StaticReport, analyze
from onnxprof.engines import create_engine
from onnxprof.engines.base import EngineOptions
from onnxprof.measure.harness import TimingProtocol, time_batch
from onnxprof.measure.inputs import synthetic_feeds
from onnxprof.measure.layers import join_layers
from onnxprof.measure.records import OK
from onnxprof.model.shapes import ShapeBinding
from onnxprof.predict.latency import LayerSample, OpsSample, fit_operations, fit_roofline, layer_samples
from onnxprof.predict.metrics import FitQuality, fit_quality

PROFILED_RUNS = 5


@dataclass(frozen=True)
class CalibrationPoint:
    model: str
    batch: int
    macs_per_image: float
    median_ms: float                  # one batch, unprofiled timing
    layers: tuple[LayerSample, ...]   # per-layer profile joined to the ONNX nodes
    report: StaticReport


@dataclass(frozen=True)
class PredictorQuality:
    predictor: str
    batch: int
    predicted_ms: dict                # model -> held-out prediction
    measured_ms: dict
    quality: FitQuality


def collect(models: Sequence[tuple[str, Path]], batches: Sequence[int], engine: str = "onnxruntime",
            options: EngineOptions = EngineOptions(), protocol: TimingProtocol = TimingProtocol(min_duration_s=1.0),
            progress: Callable[[str], None] = lambda _: None) -> list[CalibrationPoint]:
    """Time and profile every (model, batch)."""
    points = []
    for name, path in models:
        for batch in batches:
            progress(f"{name} batch {batch}")
            report = analyze(path, ShapeBinding(batch=batch), check=False)
            feeds = synthetic_feeds(report)
            with create_engine(engine, path, replace(options, profile_layers=False)) as timed:
                result = time_batch(timed, feeds, batch, protocol)
            if result.status != OK:
                continue
            with create_engine(engine, path, replace(options, profile_layers=True)) as profiled:
                profiled.activate(feeds)
                for _ in range(PROFILED_RUNS):
                    profiled.infer()
                rows = join_layers(report, profiled.layer_profile(), macs_per_s=1e12)
                profiled.deactivate()
            points.append(CalibrationPoint(name, batch, float(report.totals.macs) / batch, result.latency.median_ms,
                                           tuple(layer_samples(rows, report)), report))
    return points


def leave_one_model_out(points: Sequence[CalibrationPoint], compute_flops_per_s: float,
                        bandwidth_bytes_per_s: float) -> list[PredictorQuality]:
    """Held-out predictions per batch size for the operations model and the per-node roofline."""
    results = []
    for batch in sorted({p.batch for p in points}):
        at_batch = [p for p in points if p.batch == batch]
        predicted: dict[str, dict[str, float]] = {"operations": {}, "roofline": {}}
        for held_out in at_batch:
            others = [p for p in points if p.model != held_out.model]
            ops = fit_operations([OpsSample(p.macs_per_image, p.batch, p.median_ms) for p in others], per_batch=True)
            predicted["operations"][held_out.model] = ops.predict(held_out.macs_per_image, batch)
            layers = [layer for p in others for layer in p.layers]
            roof = fit_roofline(layers, compute_flops_per_s, bandwidth_bytes_per_s)
            predicted["roofline"][held_out.model] = roof.predict_total(held_out.report)
        measured = {p.model: p.median_ms for p in at_batch}
        for name, preds in predicted.items():
            order = list(measured)
            results.append(PredictorQuality(name, batch, preds, measured,
                                            fit_quality([preds[m] for m in order], [measured[m] for m in order])))
    return results


def best(results: Sequence[PredictorQuality]) -> Optional[str]:
    """The predictor with the highest mean share within ±10 % (ties: higher Spearman)."""
    scores: dict[str, list] = {}
    for r in results:
        scores.setdefault(r.predictor, []).append((r.quality.share_within_10pct, r.quality.spearman_rho))
    if not scores:
        return None
    return max(scores, key=lambda k: tuple(np.mean(scores[k], axis=0)))
