"""A calibrated device profile: the fitted predictors and their measured error, as a shareable file.

``onnxprof calibrate -o lab-board.json`` writes one; ``onnxprof predict MODEL --device lab-board.json``
uses it. Without a calibration, ``--device jetson-tx1`` predicts from the device's published facts
(roofline at an assumed efficiency), and says the uncertainty is unknown.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

from onnxprof.errors import UsageError
from onnxprof.predict.latency import LinearFit, OperationsModel, RooflineModel

SCHEMA = "onnxprof.device-profile"
SCHEMA_VERSION = 1
UNCALIBRATED_EFFICIENCY = 0.5   # an uncalibrated guess: half the published peak, for compute and bandwidth


@dataclass(frozen=True)
class CalibratedProfile:
    name: str
    engine: str
    provider: str
    operations: OperationsModel
    roofline: RooflineModel
    best: str                                          # the predictor with the lower held-out error
    rmspe: Mapping[str, float] = field(default_factory=dict)          # predictor -> held-out RMSPE
    share_within_10pct: Mapping[str, float] = field(default_factory=dict)
    models: tuple[str, ...] = ()


def save_profile(profile: CalibratedProfile, path: Path) -> None:
    body = dataclasses.asdict(profile)
    body["operations"]["by_batch"] = {str(k): v for k, v in body["operations"]["by_batch"].items()}
    path.write_text(json.dumps({"schema": SCHEMA, "schema_version": SCHEMA_VERSION, "profile": body}, indent=1) + "\n")


def load_profile(path: Path) -> CalibratedProfile:
    try:
        document = json.loads(Path(path).read_text())
        if document.get("schema") != SCHEMA:
            raise ValueError(f"not a device profile (schema {document.get('schema')!r})")
        body = document["profile"]
        ops = body["operations"]
        operations = OperationsModel(pooled=LinearFit(**ops["pooled"]),
                                     by_batch={int(k): LinearFit(**v) for k, v in ops["by_batch"].items()},
                                     r_squared=ops["r_squared"], n=ops["n"])
        return CalibratedProfile(name=body["name"], engine=body["engine"], provider=body["provider"],
                                 operations=operations, roofline=RooflineModel(**body["roofline"]), best=body["best"],
                                 rmspe=body["rmspe"], share_within_10pct=body["share_within_10pct"],
                                 models=tuple(body["models"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--device {path}: not a readable device profile ({exc})") from None


def uncalibrated_roofline(compute_flops_per_s: float, bandwidth_bytes_per_s: float) -> RooflineModel:
    return RooflineModel(compute_flops_per_s=compute_flops_per_s, bandwidth_bytes_per_s=bandwidth_bytes_per_s,
                         efficiency_by_op={}, launch_overhead_ms=0.0, default_efficiency=UNCALIBRATED_EFFICIENCY)


def held_out_error(profile: Optional[CalibratedProfile]) -> Optional[float]:
    return None if profile is None else profile.rmspe.get(profile.best)
