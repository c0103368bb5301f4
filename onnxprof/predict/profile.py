"""A calibrated device profile: the fitted predictors and their measured error, as a shareable file.

``onnxprof calibrate`` stores one in the results database and writes it as a file (``-o``);
``onnxprof predict MODEL --device lab-board.json`` (or the stored profile's name) uses it, and so does
``onnxprof measure`` for its side-by-side report. Without a calibration, ``--device jetson-tx1``
predicts from the device's published facts (roofline at an assumed efficiency) and says the
uncertainty is unknown.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional

from onnxprof.cost.analysis import StaticReport
from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.engines.traits import EngineTraits
from onnxprof.errors import UsageError
from onnxprof.files import regular_file
from onnxprof.predict.basic import Prediction, engine_bytes
from onnxprof.predict.kernels import KernelModel, kernel_model_from_json, kernel_model_json
from onnxprof.predict.latency import LinearFit, OperationsModel, RooflineModel
from onnxprof.predict.memory import MemoryModel
from onnxprof.predict.power import PowerModel

SCHEMA = "onnxprof.device-profile"
SCHEMA_VERSION = 5      # 3: the kernel model learns per-op coefficients from profiled kernels;
                        # 4: memory as `measure` reports it, convolution weights with a slope of their own;
                        # 5: the kernel model's term for feature maps past the cache
UNCALIBRATED_EFFICIENCY = 0.5   # an uncalibrated guess: half the published peak, for compute and bandwidth
LATENCY_PREDICTORS = ("operations", "roofline", "kernels")


@dataclass(frozen=True)
class CalibratedProfile:
    name: str
    engine: str
    provider: str
    operations: OperationsModel
    roofline: RooflineModel
    best: str                                          # the latency predictor with the lowest held-out error
    rmspe: Mapping[str, float] = field(default_factory=dict)          # predictor -> held-out RMSPE
    share_within_10pct: Mapping[str, float] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    kernels: Optional[KernelModel] = None
    memory: Optional[MemoryModel] = None
    memory_rmspe: Optional[float] = None               # held-out RMSPE of the memory model
    power: Optional[PowerModel] = None                 # fitted from stored runs with a power meter
    hostname: str = ""
    created_at: str = ""

    def latency_ms(self, report: StaticReport, batch: int, predictor: Optional[str] = None) -> float:
        chosen = predictor or self.best
        if chosen == "operations":
            return self.operations.predict(float(report.totals.macs) / batch, batch)
        if chosen == "kernels" and self.kernels is not None:
            return self.kernels.latency_ms(report, batch, self.traits(report))
        return self.roofline.predict_total(report)

    def traits(self, report: StaticReport) -> EngineTraits:
        """How the calibrated engine runs the model of ``report``."""
        return engine_traits(self.engine, EngineOptions(provider=self.provider), report.model.source)

    def predict(self, report: StaticReport, batch: int) -> Prediction:
        latency = self.latency_ms(report, batch)
        memory = engine_bytes(report, batch, self.memory) if self.memory is not None else None
        power = self.power.gross_w() if self.power is not None else None
        return Prediction(batch=batch, latency_ms=latency, latency_per_image_ms=latency / batch,
                          throughput_per_s=1000.0 * batch / latency if latency > 0 else None, peak_rss_bytes=memory,
                          method=f"profile {self.name}: {self.best} model (held-out RMSPE "
                                 f"{self.rmspe.get(self.best, float('nan')):.0%})",
                          power_w=power, energy_per_image_j=power * latency / batch / 1000 if power else None,
                          latency_error=self.rmspe.get(self.best))


def profile_json(profile: CalibratedProfile) -> dict:
    body = dataclasses.asdict(replace(profile, kernels=None))
    body["operations"]["by_batch"] = {str(k): v for k, v in body["operations"]["by_batch"].items()}
    body["kernels"] = kernel_model_json(profile.kernels)
    return {"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "profile": body}


def save_profile(profile: CalibratedProfile, path: Path) -> None:
    """Standard JSON: a fit's undefined R² (too few points) or error is written as null, read back as NaN."""
    from onnxprof.measure.records import json_ready

    Path(path).write_text(json.dumps(json_ready(profile_json(profile)), indent=1, allow_nan=False) + "\n")


def _undefined_as_nan(value: Any, key: str = "") -> Any:
    """The inverse of writing NaN as null, for the figures that may be undefined: every R², and the
    held-out errors and shares by predictor."""
    if isinstance(value, dict):
        return {k: _undefined_as_nan(v, k if key not in _UNDEFINED_BY_PREDICTOR else key) for k, v in value.items()}
    if value is None and (key == "r_squared" or key in _UNDEFINED_BY_PREDICTOR):
        return float("nan")
    return value


_UNDEFINED_BY_PREDICTOR = ("rmspe", "share_within_10pct")


def _optional(cls, value: Optional[Mapping]):
    if value is None:
        return None
    if cls is MemoryModel:
        value = {**value, "unfitted": tuple(value.get("unfitted", ()))}
    return cls(**value)


def profile_from_json(document: Mapping) -> CalibratedProfile:
    if document.get("schema") != SCHEMA:
        raise ValueError(f"not a device profile (schema {document.get('schema')!r})")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"made by another onnxprof version (profile schema {document.get('schema_version')}, this "
                         f"onnxprof reads {SCHEMA_VERSION}): run onnxprof calibrate again")
    body = _undefined_as_nan(document["profile"])
    ops = body["operations"]
    operations = OperationsModel(pooled=LinearFit(**ops["pooled"]),
                                 by_batch={int(k): LinearFit(**v) for k, v in ops["by_batch"].items()},
                                 r_squared=ops["r_squared"], n=ops["n"])
    return CalibratedProfile(name=body["name"], engine=body["engine"], provider=body["provider"],
                             operations=operations, roofline=RooflineModel(**body["roofline"]), best=body["best"],
                             rmspe=body["rmspe"], share_within_10pct=body["share_within_10pct"],
                             models=tuple(body["models"]),
                             kernels=kernel_model_from_json(body["kernels"]) if body.get("kernels") else None,
                             memory=_optional(MemoryModel, body.get("memory")), memory_rmspe=body.get("memory_rmspe"),
                             power=_optional(PowerModel, body.get("power")), hostname=body.get("hostname", ""),
                             created_at=body.get("created_at", ""))


def load_profile(path: Path) -> CalibratedProfile:
    regular_file(path, "a device profile (.json, written by onnxprof calibrate)")
    try:
        return profile_from_json(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--device {path}: not a readable device profile ({exc})") from None


def uncalibrated_roofline(compute_flops_per_s: float, bandwidth_bytes_per_s: float) -> RooflineModel:
    return RooflineModel(compute_flops_per_s=compute_flops_per_s, bandwidth_bytes_per_s=bandwidth_bytes_per_s,
                         efficiency_by_op={}, launch_overhead_ms=0.0, default_efficiency=UNCALIBRATED_EFFICIENCY)


def held_out_error(profile: Optional[CalibratedProfile]) -> Optional[float]:
    return None if profile is None else profile.rmspe.get(profile.best)


@dataclass(frozen=True)
class PublishedDevice:
    """Predictions from a device's published facts only: the roofline at UNCALIBRATED_EFFICIENCY,
    memory = weights + peak activations (no runtime floor), power = the published maximum."""

    facts: object           # onnxprof.predict.devices.DeviceProfile

    @property
    def roofline(self) -> RooflineModel:
        if not self.facts.fp32_tflops or not self.facts.memory_bandwidth_gbs:
            raise UsageError(f"--device {self.facts.name}: its published compute or bandwidth is unknown; "
                             "calibrate instead")
        return uncalibrated_roofline(self.facts.fp32_tflops * 1e12, self.facts.memory_bandwidth_gbs * 1e9)

    def traits(self, report: StaticReport) -> EngineTraits:
        """How the calibrated engine runs the model of ``report``."""
        return engine_traits(self.engine, EngineOptions(provider=self.provider), report.model.source)

    def predict(self, report: StaticReport, batch: int) -> Prediction:
        latency = self.roofline.predict_total(report)
        peak = report.memory.peak_activation_bytes
        power = self.facts.max_power_w
        return Prediction(batch=batch, latency_ms=latency, latency_per_image_ms=latency / batch,
                          throughput_per_s=1000.0 * batch / latency if latency > 0 else None,
                          peak_rss_bytes=report.memory.weight_bytes + peak if isinstance(peak, int) else None,
                          method=f"{self.facts.title}: published facts, roofline at "
                                 f"{UNCALIBRATED_EFFICIENCY:.0%} of peak (uncalibrated)",
                          power_w=power, energy_per_image_j=power * latency / batch / 1000 if power else None)
