"""Latency predictors fitted to measurements.

Three forms:

* **Operations model** (Canziani et al. 2016): the time of one batch is linear in the work it does,
  ``latency_ms = a · (MACs per image × batch) + b``, fitted by least squares over models, either pooled
  over all batch sizes or one line per batch size (``per_batch=True``; batch sizes whose samples have
  fewer than two distinct MAC counts fall back to the pooled line).
* **Roofline per node**: a node takes ``max(FLOPs / compute, bytes / bandwidth) / efficiency``; the
  efficiency of each op type and a constant per-kernel launch overhead are fitted from per-layer
  profiles (:class:`onnxprof.measure.layers.LayerRow`).

The kernel model (each node's time from its shape) is in :mod:`onnxprof.predict.kernels`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional, Sequence, Union

import numpy as np

from onnxprof.cost.analysis import COUNTED, NodeReport, StaticReport
from onnxprof.engines.traits import EngineTraits
from onnxprof.measure.layers import op_class
from onnxprof.predict.metrics import nonnegative_least_squares, r_squared

# -- operations model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpsSample:
    macs: float            # MACs of one image (the model's count at batch 1)
    batch: int
    latency_ms: float      # measured time of one batch

    @property
    def measured(self) -> float:
        return self.latency_ms


@dataclass(frozen=True)
class LinearFit:
    ms_per_mac: float      # a: slope in milliseconds per multiply–accumulate processed
    intercept_ms: float    # b: fixed time per batch
    r_squared: float
    n: int

    def predict_ms(self, macs_processed: float) -> float:
        return self.ms_per_mac * macs_processed + self.intercept_ms


@dataclass(frozen=True)
class OperationsModel:
    pooled: LinearFit                                              # all batch sizes together
    by_batch: Mapping[int, LinearFit] = field(default_factory=dict)  # per batch size, when fitted so
    r_squared: float = float("nan")                                # of the model's predictions on its samples
    n: int = 0

    def line(self, batch: int) -> LinearFit:
        return self.by_batch.get(batch, self.pooled)

    def predict(self, macs: float, batch: int) -> float:
        """Predicted milliseconds for one batch of ``batch`` images of a model of ``macs`` MACs per image."""
        return self.line(batch).predict_ms(macs * batch)

    def predict_sample(self, sample: OpsSample) -> float:
        return self.predict(sample.macs, sample.batch)

    def latency_ms(self, report: StaticReport, batch: int, traits: Optional[EngineTraits] = None) -> float:
        """A batch of the model of ``report`` (analysed at ``batch``); the engine's traits play no part."""
        return self.predict(float(report.totals.macs) / batch, batch)


def operations_json(model: OperationsModel) -> dict:
    body = dataclasses.asdict(model)
    body["by_batch"] = {str(batch): line for batch, line in body["by_batch"].items()}
    return body


def operations_from_json(body: Mapping) -> OperationsModel:
    return OperationsModel(pooled=LinearFit(**body["pooled"]),
                           by_batch={int(k): LinearFit(**v) for k, v in body["by_batch"].items()},
                           r_squared=body["r_squared"], n=body["n"])


def _as_ops(sample) -> OpsSample:
    return sample if isinstance(sample, OpsSample) else OpsSample(*sample)


def _line(work: np.ndarray, ms: np.ndarray) -> LinearFit:
    design = np.column_stack([work, np.ones_like(work)])
    (a, b), *_ = np.linalg.lstsq(design, ms, rcond=None)
    return LinearFit(ms_per_mac=float(a), intercept_ms=float(b), r_squared=r_squared(design @ [a, b], ms),
                     n=int(ms.size))


def fit_operations(samples: Sequence[Union[OpsSample, tuple]], per_batch: bool = False) -> OperationsModel:
    """Least-squares fit of ``latency_ms = a · macs · batch + b``."""
    rows = [_as_ops(s) for s in samples]
    if len(rows) < 2:
        raise ValueError("the operations model needs at least two samples")
    work = np.array([s.macs * s.batch for s in rows], dtype=float)
    ms = np.array([s.latency_ms for s in rows], dtype=float)
    pooled = _line(work, ms)
    by_batch: dict[int, LinearFit] = {}
    if per_batch:
        batches = np.array([s.batch for s in rows])
        for batch in sorted(set(batches.tolist())):
            mask = batches == batch
            if np.unique(work[mask]).size >= 2:
                by_batch[int(batch)] = _line(work[mask], ms[mask])
    model = OperationsModel(pooled=pooled, by_batch=by_batch, n=len(rows))
    predicted = [model.predict_sample(s) for s in rows]
    return OperationsModel(pooled=pooled, by_batch=by_batch, r_squared=r_squared(predicted, ms), n=len(rows))


# -- roofline -----------------------------------------------------------------------------------------

MIN_INVERSE_EFFICIENCY = 1e-3    # 1/eff is kept at or above this: an op type at most 1000× the roofline


def roofline_node_ms(flops: float, bytes_moved: float, compute_flops_per_s: float, bandwidth_bytes_per_s: float,
                     efficiency: float = 1.0) -> float:
    """max(FLOPs / (compute·eff), bytes / (bandwidth·eff)), in milliseconds."""
    if compute_flops_per_s <= 0 or bandwidth_bytes_per_s <= 0 or efficiency <= 0:
        raise ValueError("compute rate, bandwidth and efficiency must be positive")
    return max(flops / (compute_flops_per_s * efficiency), bytes_moved / (bandwidth_bytes_per_s * efficiency)) * 1000.0


@dataclass(frozen=True)
class LayerSample:
    """One profiled kernel: the ONNX op types it covers (a fused kernel may cover several), its work
    and its measured time. ``op_flops``, aligned with ``op_types``, picks the dominant op; without it
    the first op type is the kernel's group."""

    op_types: tuple[str, ...]
    flops: float
    bytes_moved: float
    measured_ms: float = float("nan")
    op_flops: tuple[float, ...] = ()

    @property
    def measured(self) -> float:
        return self.measured_ms

    @property
    def group(self) -> str:
        return dominant_op(self.op_types, self.op_flops)


def dominant_op(op_types: Sequence[str], op_flops: Sequence[float] = ()) -> str:
    """The op with the most FLOPs among a kernel's op types; the first one when FLOPs are not given."""
    if not op_types:
        return ""
    if len(op_flops) == len(op_types) and max(op_flops) > 0:
        return op_types[int(np.argmax(op_flops))]
    return op_types[0]


def _as_layer(sample) -> LayerSample:
    if isinstance(sample, LayerSample):
        return sample
    op_types, *rest = sample
    return LayerSample((op_types,) if isinstance(op_types, str) else tuple(op_types), *rest)


def working_nodes(report: StaticReport) -> Iterator[tuple[NodeReport, str, float, float]]:
    """(node, op class, FLOPs, bytes moved) of each counted node that does work; views such as Reshape
    (no FLOPs, no bytes) are left out. Dimensions must be bound."""
    for node in report.nodes:
        if node.status != COUNTED:
            continue
        flops, moved = node.flops, node.bytes_read + node.bytes_written
        if not isinstance(flops, (int, float)) or not isinstance(moved, (int, float)):
            raise ValueError(f"node {node.name} has symbolic costs: bind the model's dimensions first")
        if flops or moved:
            yield node, op_class(report.graph.nodes[node.name]), float(flops), float(moved)


@dataclass(frozen=True)
class RooflineModel:
    compute_flops_per_s: float
    bandwidth_bytes_per_s: float
    efficiency_by_op: Mapping[str, float]    # dominant op type -> fraction of the roofline it reaches
    launch_overhead_ms: float                # constant per kernel (per counted node in predict_total)
    default_efficiency: float                # median of the fitted efficiencies: for op types not seen
    r_squared: float = float("nan")
    n: int = 0

    def efficiency(self, op_type: str) -> float:
        return self.efficiency_by_op.get(op_type, self.default_efficiency)

    def layer_ms(self, flops: float, bytes_moved: float, op_type: str) -> float:
        return roofline_node_ms(flops, bytes_moved, self.compute_flops_per_s, self.bandwidth_bytes_per_s,
                                self.efficiency(op_type)) + self.launch_overhead_ms

    def predict_layers(self, layers: Sequence[Union[LayerSample, tuple]]) -> list[float]:
        """Predicted milliseconds of each layer (LayerSample, or (op_types, flops, bytes[, ...]) tuples)."""
        return [self.layer_ms(s.flops, s.bytes_moved, s.group) for s in map(_as_layer, layers)]

    def predict_total(self, report: StaticReport) -> float:
        """Sum over the report's counted nodes, each a kernel of its own. Nodes that do no work
        (no FLOPs, no bytes: views such as Reshape) add no launch overhead. Dimensions must be bound."""
        return sum(self.layer_ms(flops, moved, kind) for _, kind, flops, moved in working_nodes(report))

    def latency_ms(self, report: StaticReport, batch: int, traits: Optional[EngineTraits] = None) -> float:
        """A batch of the model of ``report`` (analysed at ``batch``): :meth:`predict_total`."""
        return self.predict_total(report)


def roofline_json(model: RooflineModel) -> dict:
    return dataclasses.asdict(model)


def roofline_from_json(body: Mapping) -> RooflineModel:
    return RooflineModel(**body)


def fit_roofline(layer_samples: Sequence[Union[LayerSample, tuple]], compute_flops_per_s: float,
                 bandwidth_bytes_per_s: float) -> RooflineModel:
    """Fit one efficiency per dominant op type and one launch overhead from per-layer timings.

    With r = the roofline time at efficiency 1, the model is ``measured_ms = r · (1/eff_g) + overhead``,
    linear in (1/eff_g, overhead); it is solved by nonnegative least squares with 1/eff_g ≥
    MIN_INVERSE_EFFICIENCY and overhead ≥ 0."""
    layers = [_as_layer(s) for s in layer_samples]
    if not layers:
        raise ValueError("no layers to fit")
    roof = np.array([roofline_node_ms(s.flops, s.bytes_moved, compute_flops_per_s, bandwidth_bytes_per_s)
                     for s in layers])
    measured = np.array([s.measured_ms for s in layers], dtype=float)
    if not np.all(np.isfinite(measured)):
        raise ValueError("every layer needs a measured time")
    groups = sorted({s.group for s in layers})
    index = {g: i for i, g in enumerate(groups)}
    design = np.zeros((len(layers), len(groups) + 1))
    for row, (sample, r) in enumerate(zip(layers, roof)):
        design[row, index[sample.group]] = r
    design[:, -1] = 1.0
    # substitute 1/eff = MIN + u, u ≥ 0, so that one nonnegative solve keeps 1/eff away from zero
    shifted = measured - MIN_INVERSE_EFFICIENCY * roof
    solution = nonnegative_least_squares(design, shifted)
    inverse = solution[:-1] + MIN_INVERSE_EFFICIENCY
    # a group whose layers have no roofline time (all zero work) gets no information: leave it out
    informed = design[:, :-1].any(axis=0)
    efficiency = {g: float(1.0 / inverse[i]) for g, i in index.items() if informed[i]}
    default = float(np.median(list(efficiency.values()))) if efficiency else 1.0
    model = RooflineModel(compute_flops_per_s=compute_flops_per_s, bandwidth_bytes_per_s=bandwidth_bytes_per_s,
                          efficiency_by_op=efficiency, launch_overhead_ms=float(solution[-1]),
                          default_efficiency=default, n=len(layers))
    return RooflineModel(compute_flops_per_s=compute_flops_per_s, bandwidth_bytes_per_s=bandwidth_bytes_per_s,
                         efficiency_by_op=efficiency, launch_overhead_ms=float(solution[-1]),
                         default_efficiency=default, r_squared=r_squared(model.predict_layers(layers), measured),
                         n=len(layers))


def layer_samples(rows: Sequence, report: StaticReport) -> list[LayerSample]:
    """Per-layer samples from joined profile rows (:class:`onnxprof.measure.layers.LayerRow`): each row's
    FLOPs and bytes are the sums over the ONNX nodes it covers; per-op FLOPs pick the dominant op."""
    by_name = {n.name: n for n in report.nodes}
    samples = []
    for row in rows:
        flops_by_op: dict[str, float] = {}
        flops = moved = 0.0
        for name in row.onnx_nodes:
            node = by_name.get(name)
            if node is None or node.status != COUNTED:
                continue
            node_moved = node.bytes_read + node.bytes_written
            if not isinstance(node.flops, (int, float)) or not isinstance(node_moved, (int, float)):
                raise ValueError(f"node {name} has symbolic costs: bind the model's dimensions first")
            flops += node.flops
            moved += node_moved
            kind = op_class(report.graph.nodes[name])
            flops_by_op[kind] = flops_by_op.get(kind, 0.0) + node.flops
        op_types = tuple(row.op_types)
        samples.append(LayerSample(op_types, flops, moved, float(row.measured_ms),
                                   tuple(flops_by_op.get(op, 0.0) for op in op_types)))
    return samples
