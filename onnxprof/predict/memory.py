"""Memory predictor fitted to measurements (Canziani et al. 2016, Figure 5).

Memory in use while a model runs = a static floor (the runtime before the model) + a slope on the
weights (the paper finds ≈ 1.30 × parameters on the TX1: weights plus the runtime's copies and
workspaces) + a slope on the activations, which grow with the batch:

    measured_bytes = floor_bytes + k_w · weight_bytes + k_a · peak_activation_bytes(batch 1) · batch

fitted by nonnegative least squares (every coefficient ≥ 0). A regressor that does not vary over the
samples cannot be told apart from the floor: its slope is then not fitted (left at 0, the floor
absorbs it) and its name is listed in ``unfitted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np

from onnxprof.predict.metrics import nonnegative_least_squares, r_squared


@dataclass(frozen=True)
class MemorySample:
    weight_bytes: float
    peak_activation_bytes: float    # at batch 1
    batch: int
    measured_bytes: float

    @property
    def measured(self) -> float:
        return self.measured_bytes


@dataclass(frozen=True)
class MemoryModel:
    floor_bytes: float
    weight_slope: float             # bytes in use per weight byte
    activation_slope: float         # bytes in use per activation byte per image
    r_squared: float = float("nan")
    n: int = 0
    unfitted: tuple[str, ...] = ()  # slopes the samples could not determine ("weights", "activations")

    def static_bytes(self, weight_bytes: float) -> float:
        return self.floor_bytes + self.weight_slope * weight_bytes

    def dynamic_bytes(self, peak_activation_bytes: float, batch: int) -> float:
        return self.activation_slope * peak_activation_bytes * batch

    def predict_bytes(self, weight_bytes: float, peak_activation_bytes: float, batch: int) -> float:
        return self.static_bytes(weight_bytes) + self.dynamic_bytes(peak_activation_bytes, batch)

    def predict_sample(self, sample: MemorySample) -> float:
        return self.predict_bytes(sample.weight_bytes, sample.peak_activation_bytes, sample.batch)


def _as_memory(sample) -> MemorySample:
    return sample if isinstance(sample, MemorySample) else MemorySample(*sample)


def fit_memory(samples: Sequence[Union[MemorySample, tuple]]) -> MemoryModel:
    rows = [_as_memory(s) for s in samples]
    if len(rows) < 2:
        raise ValueError("the memory model needs at least two samples")
    weights = np.array([s.weight_bytes for s in rows], dtype=float)
    activations = np.array([s.peak_activation_bytes * s.batch for s in rows], dtype=float)
    measured = np.array([s.measured_bytes for s in rows], dtype=float)
    columns = {"weights": weights, "activations": activations}
    varying = [name for name, column in columns.items() if np.ptp(column) > 0]
    design = np.column_stack([np.ones_like(measured)] + [columns[name] for name in varying])
    solution = nonnegative_least_squares(design, measured)
    slopes = dict(zip(varying, solution[1:]))
    model = MemoryModel(floor_bytes=float(solution[0]), weight_slope=float(slopes.get("weights", 0.0)),
                        activation_slope=float(slopes.get("activations", 0.0)), n=len(rows),
                        unfitted=tuple(name for name in columns if name not in varying))
    return MemoryModel(floor_bytes=model.floor_bytes, weight_slope=model.weight_slope,
                       activation_slope=model.activation_slope,
                       r_squared=r_squared([model.predict_sample(s) for s in rows], measured),
                       n=model.n, unfitted=model.unfitted)


def knee_batch(model: MemoryModel, weight_bytes: float, peak_activation_bytes: float) -> float:
    """The batch size at which the batch-dependent part equals the static part (the knee of the
    paper's Figure 5): (floor + k_w·weights) / (k_a·activations). Infinite when nothing grows."""
    growth = model.activation_slope * peak_activation_bytes
    return model.static_bytes(weight_bytes) / growth if growth > 0 else float("inf")
