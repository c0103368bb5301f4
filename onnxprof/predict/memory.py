"""Memory predictor fitted to measurements (Canziani et al. 2016, Figure 5).

Memory in use while a model runs = a static floor (the runtime before the model) + a slope on the
weights (the paper finds ≈ 1.30 × parameters on the TX1: weights plus the runtime's copies and
workspaces) + a slope on the activations, which grow with the batch:

    measured_bytes = floor_bytes + k_w · other weight bytes + k_c · convolution weight bytes
                     + k_a · peak_activation_bytes(batch 1) · batch

Convolution weights have a slope of their own because engines repack them into their blocked layout
beside the original (ONNX Runtime's CPU provider: about ×3 against ×1 for fully connected weights, so
one slope put ResNet-18 30 % low and AlexNet high). Fitted by nonnegative least squares (every
coefficient ≥ 0). A regressor that does not vary over the samples cannot be told apart from the
floor: its slope is then not fitted (left at 0, the floor absorbs it) and its name is listed in
``unfitted``; when the samples cannot tell the two kinds of weight apart, both share one slope.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence, Union

import numpy as np

from onnxprof.predict.metrics import nonnegative_least_squares, r_squared

CONVOLUTIONS = frozenset({"Conv", "ConvTranspose", "ConvInteger", "QLinearConv"})


@dataclass(frozen=True)
class MemorySample:
    weight_bytes: float             # all of them
    peak_activation_bytes: float    # at batch 1
    batch: int
    measured_bytes: float
    conv_weight_bytes: float = 0.0  # the part of weight_bytes that convolutions read

    @property
    def measured(self) -> float:
        return self.measured_bytes


@dataclass(frozen=True)
class MemoryModel:
    floor_bytes: float
    weight_slope: float             # bytes in use per weight byte (weights other than convolutions')
    activation_slope: float         # bytes in use per activation byte per image
    r_squared: float = float("nan")
    n: int = 0
    unfitted: tuple[str, ...] = ()  # slopes the samples could not determine ("weights", "activations")
    conv_weight_slope: float = 0.0  # bytes in use per convolution weight byte

    def static_bytes(self, weight_bytes: float, conv_weight_bytes: float = 0.0) -> float:
        return (self.floor_bytes + self.weight_slope * (weight_bytes - conv_weight_bytes)
                + self.conv_weight_slope * conv_weight_bytes)

    def dynamic_bytes(self, peak_activation_bytes: float, batch: int) -> float:
        return self.activation_slope * peak_activation_bytes * batch

    def predict_bytes(self, weight_bytes: float, peak_activation_bytes: float, batch: int,
                      conv_weight_bytes: float = 0.0) -> float:
        return self.static_bytes(weight_bytes, conv_weight_bytes) + self.dynamic_bytes(peak_activation_bytes, batch)

    def predict_sample(self, sample: MemorySample) -> float:
        return self.predict_bytes(sample.weight_bytes, sample.peak_activation_bytes, sample.batch,
                                  sample.conv_weight_bytes)


def _as_memory(sample) -> MemorySample:
    return sample if isinstance(sample, MemorySample) else MemorySample(*sample)


def fit_memory(samples: Sequence[Union[MemorySample, tuple]]) -> MemoryModel:
    rows = [_as_memory(s) for s in samples]
    if len(rows) < 2:
        raise ValueError("the memory model needs at least two samples")
    convolution = np.array([s.conv_weight_bytes for s in rows], dtype=float)
    other = np.array([s.weight_bytes for s in rows], dtype=float) - convolution
    activations = np.array([s.peak_activation_bytes * s.batch for s in rows], dtype=float)
    measured = np.array([s.measured_bytes for s in rows], dtype=float)
    columns = ({"weights": other, "convolution weights": convolution} if _separable(other, convolution)
               else {"weights": other + convolution})
    columns["activations"] = activations
    varying = [name for name, column in columns.items() if np.ptp(column) > 0]
    design = np.column_stack([np.ones_like(measured)] + [columns[name] for name in varying])
    solution = nonnegative_least_squares(design, measured)
    slopes = dict(zip(varying, solution[1:]))
    weight_slope = float(slopes.get("weights", 0.0))
    model = MemoryModel(floor_bytes=float(solution[0]), weight_slope=weight_slope,
                        activation_slope=float(slopes.get("activations", 0.0)), n=len(rows),
                        unfitted=tuple(name for name in columns if name not in varying),
                        conv_weight_slope=float(slopes.get("convolution weights", weight_slope)))
    return replace(model, r_squared=r_squared([model.predict_sample(s) for s in rows], measured))


def _separable(other: np.ndarray, convolution: np.ndarray) -> bool:
    """Whether the samples can tell the two weight slopes apart: at least three models whose (other,
    convolution) weight bytes do not lie on one line. With fewer, one slope is fitted for all weights
    (two models and four unknowns fitted anything: a 3-model calibration held out at 84 % RMSPE)."""
    models = np.unique(np.column_stack([other, convolution]), axis=0)
    return len(models) >= 3 and np.linalg.matrix_rank(models[1:] - models[0]) == 2


def conv_weight_bytes(report) -> int:
    """Bytes of the weights that convolutions read (a StaticReport's graph)."""
    graph = report.graph
    tensors, weights = graph.graph["tensors"], graph.graph["weights"]
    read = {name for _, data in graph.nodes(data=True) if data["op_type"] in CONVOLUTIONS
            for name in data["inputs"] if name in weights}
    return sum(tensors[name].size_bytes or 0 for name in read)


def knee_batch(model: MemoryModel, weight_bytes: float, peak_activation_bytes: float,
               conv_weight_bytes: float = 0.0) -> float:
    """The batch size at which the batch-dependent part equals the static part (the knee of the
    paper's Figure 5): (floor + k_w·other weights + k_c·convolution weights) / (k_a·activations).
    Infinite when nothing grows."""
    growth = model.activation_slope * peak_activation_bytes
    return model.static_bytes(weight_bytes, conv_weight_bytes) / growth if growth > 0 else float("inf")
