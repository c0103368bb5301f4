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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

from onnxprof.cost.analysis import StaticReport
from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.engines.traits import EngineTraits
from onnxprof.errors import UsageError
from onnxprof.files import regular_file
from onnxprof.predict.basic import Prediction, engine_bytes
from onnxprof.measure.records import json_ready
from onnxprof.predict.kernels import KernelModel
from onnxprof.predict.latency import RooflineModel
from onnxprof.predict.memory import MemoryModel
from onnxprof.predict.power import PowerModel
from onnxprof.predict.predictors import LatencyPredictor, predictors_from_json, predictors_json

SCHEMA = "onnxprof.device-profile"
SCHEMA_VERSION = 6      # 6: the latency predictors under "predictors", by name; the calibrated batch sizes
UNCALIBRATED_EFFICIENCY = 0.5   # an uncalibrated guess: half the published peak, for compute and bandwidth


class OtherSchemaVersion(ValueError):
    """A profile written by an older or newer onnxprof, in a profile schema this one does not read."""


@dataclass(frozen=True)
class CalibratedProfile:
    name: str
    engine: str
    provider: str
    predictors: Mapping[str, LatencyPredictor]         # fitted latency predictors by name (predictors.PREDICTORS)
    best: str                                          # the latency predictor with the lowest held-out error
    rmspe: Mapping[str, float] = field(default_factory=dict)          # predictor -> held-out RMSPE
    share_within_10pct: Mapping[str, float] = field(default_factory=dict)
    models: tuple[str, ...] = ()
    batches: tuple[int, ...] = ()                      # the batch sizes it was calibrated at
    memory: Optional[MemoryModel] = None
    memory_rmspe: Optional[float] = None               # held-out RMSPE of the memory model
    power: Optional[PowerModel] = None                 # fitted from stored runs with a power meter
    hostname: str = ""
    created_at: str = ""

    def latency_ms(self, report: StaticReport, batch: int, predictor: Optional[str] = None) -> float:
        """One batch's milliseconds by the predictor named (default: the best one)."""
        chosen = predictor or self.best
        if chosen not in self.predictors:
            raise ValueError(f"profile {self.name} has no {chosen} predictor (it has {', '.join(self.predictors)})")
        return self.predictors[chosen].latency_ms(report, batch, self.traits(report))

    def traits(self, report: StaticReport) -> EngineTraits:
        """How the calibrated engine runs the model of ``report``."""
        return engine_traits(self.engine, EngineOptions(provider=self.provider), report.model.source)

    @property
    def roofline(self) -> Optional[RooflineModel]:
        """The fitted roofline, which also predicts single layers (``compare --layers``)."""
        return self.predictors.get("roofline")

    @property
    def kernels(self) -> Optional[KernelModel]:
        """The fitted kernel model, whose terms the calibration table prints."""
        return self.predictors.get("kernels")

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
    """The profile as standard JSON values: a fit's undefined R² (too few points) or error is null, read
    back as NaN."""
    body = {f.name: getattr(profile, f.name) for f in dataclasses.fields(profile) if f.name != "predictors"}
    return json_ready({"schema": SCHEMA, "schema_version": SCHEMA_VERSION,
                       "profile": {**body, "predictors": predictors_json(profile.predictors)}})


def save_profile(profile: CalibratedProfile, path: Path) -> None:
    Path(path).write_text(json.dumps(profile_json(profile), indent=1, allow_nan=False) + "\n")


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
    """Raises OtherSchemaVersion for a profile of an older or newer schema, ValueError for what is not a
    profile."""
    if document.get("schema") != SCHEMA:
        raise ValueError(f"not a device profile (schema {document.get('schema')!r})")
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValueError(f"no schema_version ({version!r})")
    if version < SCHEMA_VERSION:
        raise OtherSchemaVersion(f"written by an older onnxprof (schema {version}); run onnxprof calibrate again")
    if version > SCHEMA_VERSION:
        raise OtherSchemaVersion(f"written by a newer onnxprof (schema {version}; this one reads {SCHEMA_VERSION}): "
                                 "upgrade onnxprof")
    body = _undefined_as_nan(document["profile"])
    predictors = predictors_from_json(body["predictors"])
    if body["best"] not in predictors:
        raise ValueError(f"its best predictor {body['best']} is not among its predictors")
    return CalibratedProfile(name=body["name"], engine=body["engine"], provider=body["provider"],
                             predictors=predictors, best=body["best"],
                             rmspe=body["rmspe"], share_within_10pct=body["share_within_10pct"],
                             models=tuple(body["models"]), batches=tuple(body.get("batches", ())),
                             memory=_optional(MemoryModel, body.get("memory")), memory_rmspe=body.get("memory_rmspe"),
                             power=_optional(PowerModel, body.get("power")), hostname=body.get("hostname", ""),
                             created_at=body.get("created_at", ""))


def load_profile(path: Path) -> CalibratedProfile:
    regular_file(path, "a device profile (.json, written by onnxprof calibrate)")
    try:
        return profile_from_json(json.loads(Path(path).read_text()))
    except OtherSchemaVersion as exc:
        raise UsageError(f"--device {path}: {exc}") from None
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
