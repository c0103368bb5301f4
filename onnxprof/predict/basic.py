"""A first predictor, for a device nobody has calibrated: time = MACs ÷ the device's effective MAC
rate; memory = the process before the engine + what the engine adds for the model. Its error is
what the side-by-side report shows; a calibrated profile replaces it (``onnxprof calibrate``).

What an engine adds is known for ONNX Runtime's CPU provider (ONNXRUNTIME_CPU_MEMORY); for other
engines, whose memory is not the host's, it is the weights and the peak activations once each.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Optional

from onnxprof.predict.memory import MemoryModel, conv_weight_bytes

if TYPE_CHECKING:       # the report layer reads Provenance without importing onnx
    from onnxprof.cost.analysis import StaticReport

# What a built ONNX Runtime CPU session adds to the process's peak RSS, as `onnxprof measure` reports
# it: the library and the session (floor), each convolution's weights ×2.55 (the initializer and the
# blocked copy MLAS packs beside it), other weights ×0.96, and the arena's activations ×1.6 per image.
# Fitted on 8 zoo models at batch 1 and 8 (ONNX Runtime 1.32, x86-64 Linux, 2 threads); without it the
# guess was 14-59 % low. scripts/bench_memory_guess.py measures it again, on models outside the fit too.
ONNXRUNTIME_CPU_MEMORY = MemoryModel(floor_bytes=47e6, weight_slope=0.96, activation_slope=1.6,
                                     conv_weight_slope=2.55)


# Where a prediction comes from (Provenance.kind), from the least to the most trustworthy.
UNCALIBRATED = "uncalibrated"   # a first guess from this machine's matrix-multiply rate: error unknown
PUBLISHED = "published"         # a device's published facts (roofline at an assumed efficiency): error unknown
CALIBRATED = "calibrated"       # a profile calibrated with `onnxprof calibrate`: its held-out error is known
SOURCE_KINDS = (UNCALIBRATED, PUBLISHED, CALIBRATED)


@dataclass(frozen=True)
class Provenance:
    """What a prediction rests on, shown beside it wherever it is shown (``label`` and ``warnings``).

    ``held_out_error`` is the held-out RMSPE (a fraction) of the profile's latency predictor, None where
    unknown (never for the uncalibrated and published kinds); ``calibrated_batches`` and
    ``calibrated_models`` are what the profile was fitted on (empty when not calibrated). ``warnings``
    are this prediction's own: a batch outside the calibrated ones, a model family the profile never
    saw, a negative net power."""

    kind: str                                    # one of SOURCE_KINDS
    name: str = ""                               # the profile's or the device's name
    held_out_error: Optional[float] = None
    calibrated_batches: tuple[int, ...] = ()
    calibrated_models: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_KINDS:
            raise ValueError(f"provenance kind {self.kind!r}: one of {', '.join(SOURCE_KINDS)}")

    @property
    def calibrated(self) -> bool:
        return self.kind == CALIBRATED

    @property
    def label(self) -> str:
        """One line: ``calibrated profile lab (held-out error 7 %; batches 1–8, 5 models)``."""
        if self.kind == UNCALIBRATED:
            return ("uncalibrated first guess from this machine's matrix-multiply rate (error unknown; "
                    "`onnxprof calibrate` measures it)")
        if self.kind == PUBLISHED:
            return f"published device facts{' of ' + self.name if self.name else ''} (uncalibrated, error unknown)"
        error = ("held-out error unknown" if self.held_out_error is None
                 else f"held-out error {self.held_out_error:.0%}")
        fitted = []
        if self.calibrated_batches:
            low, high = min(self.calibrated_batches), max(self.calibrated_batches)
            fitted.append(f"batch {low}" if low == high else f"batches {low}–{high}")
        if self.calibrated_models:
            count = len(self.calibrated_models)
            fitted.append(f"{count} model{'s' if count != 1 else ''}")
        return f"calibrated profile {self.name or '?'} ({'; '.join([error, *filter(None, [', '.join(fitted)])])})"


@dataclass(frozen=True)
class Prediction:
    batch: int
    latency_ms: Optional[float]
    latency_per_image_ms: Optional[float]
    throughput_per_s: Optional[float]
    peak_rss_bytes: Optional[int]
    method: str
    power_w: Optional[float] = None               # gross power while running
    energy_per_image_j: Optional[float] = None    # gross power × time per image
    latency_error: Optional[float] = None         # held-out RMSPE of the latency predictor (fraction)
    provenance: Optional[Provenance] = None       # None: made by a predictor that did not say (predict.resolve adds it)

    @property
    def source_label(self) -> str:
        """Where the prediction comes from, one line (``Provenance.label``); what every table shows."""
        return self.provenance.label if self.provenance is not None else "source not stated"

    @property
    def warnings(self) -> tuple[str, ...]:
        return self.provenance.warnings if self.provenance is not None else ()

    @property
    def calibrated(self) -> bool:
        return self.provenance is not None and self.provenance.calibrated


def provenance_from_json(value: object) -> Optional[Provenance]:
    """A stored prediction's provenance (as ``prediction_json`` or a stored ``Prediction`` wrote it);
    None when absent or not readable (runs stored before it existed)."""
    if not isinstance(value, dict) or value.get("kind") not in SOURCE_KINDS:
        return None
    error = value.get("held_out_error")

    def texts(key: str) -> tuple:
        items = value.get(key)
        return tuple(items) if isinstance(items, list) else ()

    return Provenance(kind=value["kind"], name=str(value.get("name") or ""),
                      held_out_error=float(error) if isinstance(error, (int, float)) and not isinstance(error, bool)
                      else None,
                      calibrated_batches=tuple(b for b in texts("calibrated_batches") if isinstance(b, int)),
                      calibrated_models=tuple(str(m) for m in texts("calibrated_models")),
                      warnings=tuple(str(w) for w in texts("warnings")))


def with_source(figures: dict) -> dict:
    """A stored prediction (one batch's figures, as a run keeps them) with ``source`` and ``warnings``
    added where missing: from its provenance, or for runs stored before provenance existed, its method."""
    provenance = provenance_from_json(figures.get("provenance"))
    source = figures.get("source") or (provenance.label if provenance else str(figures.get("method") or ""))
    warnings = figures.get("warnings")
    if not isinstance(warnings, list):
        warnings = list(provenance.warnings) if provenance else []
    return {**figures, "source": source, "warnings": warnings}


def predictions_with_sources(predictions):
    """A run's JSON-ready predictions ({batch: figures}), each with ``with_source``."""
    if not isinstance(predictions, dict):
        return predictions
    return {batch: with_source(figures) if isinstance(figures, dict) else figures
            for batch, figures in predictions.items()}


def prediction_json(prediction: Prediction) -> dict:
    """A prediction as JSON-ready values: its batch and figures, ``method``, ``source`` (the one-line
    label), ``warnings`` and the structured ``provenance`` (kind, name, held-out error, calibrated
    batches and models, warnings). Non-finite numbers still need ``json_ready``."""
    import dataclasses

    body = {f.name: getattr(prediction, f.name) for f in dataclasses.fields(prediction) if f.name != "provenance"}
    body["source"] = prediction.source_label
    body["warnings"] = list(prediction.warnings)
    if prediction.provenance is not None:
        p = prediction.provenance
        body["provenance"] = {"kind": p.kind, "name": p.name, "held_out_error": p.held_out_error,
                              "calibrated_batches": list(p.calibrated_batches),
                              "calibrated_models": list(p.calibrated_models), "warnings": list(p.warnings)}
    return body


@lru_cache(maxsize=1)
def cpu_macs_per_s(size: int = 1024, repeats: int = 3) -> float:
    """This machine's float32 matrix-multiply rate through numpy's BLAS (best of a few runs)."""
    import numpy as np

    a = np.ones((size, size), np.float32)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return size ** 3 / best


def engine_bytes(report: StaticReport, batch: int, engine_memory: Optional[MemoryModel] = None) -> Optional[int]:
    """What the engine adds to the process for the model at ``batch`` (``report`` is analysed at that
    batch): ``engine_memory``'s estimate, or without one the weights + the peak activations."""
    peak = report.memory.peak_activation_bytes
    if not isinstance(peak, int):
        return None
    if engine_memory is None:
        return report.memory.weight_bytes + peak
    return int(engine_memory.predict_bytes(report.memory.weight_bytes, peak / batch, batch, conv_weight_bytes(report)))


def predict(report: StaticReport, batch: int, macs_per_s: float, baseline_rss_bytes: int,
            engine_memory: Optional[MemoryModel] = None) -> Prediction:
    """``baseline_rss_bytes``: the process before the engine was built; ``engine_memory``: what the
    engine adds (ONNXRUNTIME_CPU_MEMORY where the model runs on the host's CPU)."""
    macs = report.totals.macs if isinstance(report.totals.macs, int) else None
    latency = macs / macs_per_s * 1000 if macs else None
    added = engine_bytes(report, batch, engine_memory)
    how = "the engine's floor + slopes on weights and activations" if engine_memory else "weights + peak activations"
    return Prediction(batch=batch, latency_ms=latency, latency_per_image_ms=latency / batch if latency else None,
                      throughput_per_s=batch * 1000 / latency if latency else None,
                      peak_rss_bytes=baseline_rss_bytes + added if added is not None else None,
                      method=f"MACs ÷ {macs_per_s / 1e9:.1f} G MAC/s (numpy matmul rate); memory: process + {how}",
                      provenance=Provenance(UNCALIBRATED))
