"""Predicted against measured for stored runs: per model and batch size, per layer, and the summary
metrics of the calibration (share within ±10 %, RMSPE, Spearman ρ).

Predictions come from the run itself (what ``measure`` predicted when it ran) or, given a predictor,
are made again now from the model file, so a new calibration can be judged on old measurements.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from onnxprof.measure.records import OK, RunRecord, model_name
from onnxprof.predict.metrics import FitQuality, fit_quality

FIGURES = ("latency_ms", "peak_rss_bytes")


@dataclass(frozen=True)
class ComparedValue:
    run_id: int
    model: str
    batch: int
    figure: str                     # latency_ms | peak_rss_bytes
    predicted: float
    measured: float
    method: str
    source: str = ""                # where the prediction came from (Provenance.label; else the method)
    warnings: tuple[str, ...] = ()  # the prediction's own: extrapolated batch, family never calibrated ...

    @property
    def error(self) -> float:
        """(predicted − measured) / measured, a fraction."""
        return self.predicted / self.measured - 1.0


@dataclass(frozen=True)
class ComparedLayer:
    run_id: int
    model: str
    layer: str
    op_types: tuple[str, ...]
    predicted_ms: Optional[float]
    measured_ms: float


@dataclass(frozen=True)
class Summary:
    figure: str
    batch: Optional[int]            # None: all batch sizes together
    quality: FitQuality


def _measured(result, figure: str) -> Optional[float]:
    if figure == "latency_ms":
        stats = result.device_latency or result.latency
        return stats.median_ms if stats else None
    return result.memory.peak_rss_bytes if result.memory else None


def _repredicted(record: RunRecord, batch: int, predictor):
    from onnxprof.cost.analysis import analyze
    from onnxprof.model.shapes import ShapeBinding

    path = Path(record.model_path)
    if not path.is_file():
        return None
    return predictor.predict(analyze(path, ShapeBinding(batch=batch), check=False), batch)


def compare_run(run_id: int, record: RunRecord, predictor=None) -> list[ComparedValue]:
    """Every successful batch's predicted and measured figures (where both are known), each with the
    prediction's source and warnings."""
    from onnxprof.predict.basic import with_source
    from onnxprof.predict.resolve import resolved

    predictor = resolved(predictor)
    values = []
    for result in record.batches:
        if result.status != OK:
            continue
        if predictor is not None:
            prediction = _repredicted(record, result.batch, predictor)
            predicted = {} if prediction is None else {f: getattr(prediction, f) for f in FIGURES}
            method = "" if prediction is None else prediction.method
            source = "" if prediction is None else prediction.source_label
            warnings = () if prediction is None else prediction.warnings
        else:
            stored = record.predictions.get(result.batch, {})
            predicted = with_source(dict(stored)) if stored else {}
            method = str(predicted.get("method", ""))
            source = str(predicted.get("source", ""))
            warnings = tuple(str(w) for w in predicted.get("warnings", ()))
        for figure in FIGURES:
            guess, measured = predicted.get(figure), _measured(result, figure)
            if guess is not None and measured:
                values.append(ComparedValue(run_id, model_name(record.model_source), result.batch, figure,
                                            float(guess), float(measured), method, source, warnings))
    return values


def compare_layers(run_id: int, record: RunRecord, predictor=None) -> list[ComparedLayer]:
    """A profiled run's layers; with a calibrated profile, each layer predicted by its roofline."""
    if not record.layers:
        return []
    predicted = [layer.predicted_ms for layer in record.layers]
    roofline = getattr(predictor, "roofline", None)
    path = Path(record.model_path)
    if roofline is not None and path.is_file() and record.batches:
        from onnxprof.cost.analysis import analyze
        from onnxprof.model.shapes import ShapeBinding
        from onnxprof.predict.latency import layer_samples

        report = analyze(path, ShapeBinding(batch=record.batches[-1].batch), check=False)
        predicted = roofline.predict_layers(layer_samples(record.layers, report))
    return [ComparedLayer(run_id, model_name(record.model_source), layer.name, tuple(layer.op_types), guess,
                          layer.measured_ms) for layer, guess in zip(record.layers, predicted)]


def summarise(values: Sequence[ComparedValue]) -> list[Summary]:
    """Fit quality per figure, per batch size and over all batch sizes (needs two values or more)."""
    summaries = []
    for figure in FIGURES:
        chosen = [v for v in values if v.figure == figure]
        for batch in [*sorted({v.batch for v in chosen}), None]:
            group = [v for v in chosen if batch is None or v.batch == batch]
            if len(group) >= 2:
                summaries.append(Summary(figure, batch, fit_quality([v.predicted for v in group],
                                                                    [v.measured for v in group])))
    return summaries
