"""The latency predictors a calibration fits, in one registry: each kind's name (what tables print and
the key of its fit in a profile's JSON), how it is fitted from a calibration's data, and its JSON.

* ``operations``: a line in the MACs per batch, one per batch size (:class:`latency.OperationsModel`);
* ``roofline``: each node at its op type's fitted share of the roofline (:class:`latency.RooflineModel`);
* ``kernels``: each kernel's time from its class and shape (:class:`kernels.KernelModel`).

Every fitted predictor answers :class:`LatencyPredictor`; calibration, its held-out errors, a profile
and its file go through :data:`PREDICTORS` and never ask for a kind by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

from onnxprof.cost.analysis import StaticReport
from onnxprof.engines.traits import EngineTraits
from onnxprof.predict.calibration_data import CalibrationData
from onnxprof.predict.kernels import fit_kernels, kernel_model_from_json, kernel_model_json
from onnxprof.predict.latency import (fit_operations, fit_roofline, operations_from_json, operations_json,
                                      roofline_from_json, roofline_json)


@runtime_checkable
class LatencyPredictor(Protocol):
    def latency_ms(self, report: StaticReport, batch: int, traits: EngineTraits) -> float:
        """Milliseconds for one batch of ``batch`` through the model of ``report`` (analysed at that batch),
        on an engine that runs it as ``traits`` say."""
        ...


@dataclass(frozen=True)
class PredictorKind:
    name: str
    fit: Callable[[CalibrationData], LatencyPredictor]
    to_json: Callable[[Any], dict]                       # a fitted predictor of this kind -> JSON-ready values
    from_json: Callable[[Mapping], LatencyPredictor]


def _registry(*kinds: PredictorKind) -> Mapping[str, PredictorKind]:
    names = [kind.name for kind in kinds]
    if len(set(names)) != len(names):
        raise ValueError(f"a latency predictor registered twice among {names}")
    return MappingProxyType({kind.name: kind for kind in kinds})


# in the order tables list them
PREDICTORS: Mapping[str, PredictorKind] = _registry(
    PredictorKind("operations", lambda data: fit_operations(data.ops_samples(), per_batch=True),
                  operations_json, operations_from_json),
    PredictorKind("roofline", lambda data: fit_roofline(data.layer_samples(), data.compute_flops_per_s,
                                                        data.bandwidth_bytes_per_s),
                  roofline_json, roofline_from_json),
    PredictorKind("kernels", lambda data: fit_kernels(data.kernel_timings(), data.network_timings(),
                                                      data.spill_from_bytes),
                  kernel_model_json, kernel_model_from_json),
)


def fit_predictors(data: CalibrationData) -> dict[str, LatencyPredictor]:
    """Every registered predictor fitted on ``data``, by name."""
    return {name: kind.fit(data) for name, kind in PREDICTORS.items()}


def predictors_json(predictors: Mapping[str, LatencyPredictor]) -> dict:
    return {name: PREDICTORS[name].to_json(predictor) for name, predictor in predictors.items()}


def predictors_from_json(body: Mapping) -> dict[str, LatencyPredictor]:
    unknown = sorted(set(body) - set(PREDICTORS))
    if unknown:
        raise ValueError(f"unknown latency predictor {', '.join(unknown)} (this onnxprof has "
                         f"{', '.join(PREDICTORS)})")
    return {name: PREDICTORS[name].from_json(value) for name, value in body.items()}
