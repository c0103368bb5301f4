"""What a calibration measured, as the predictors are fitted on it: a point per model and batch size
(its time, per-layer profile and memory), and the data every latency predictor is fitted from."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional, Sequence

from onnxprof.cost.analysis import StaticReport
from onnxprof.engines.traits import EngineTraits
from onnxprof.measure.layers import LayerRow
from onnxprof.predict.kernels import KernelTiming, NetworkTiming, kernel_timings
from onnxprof.predict.latency import LayerSample, OpsSample, layer_samples
from onnxprof.predict.memory import MemorySample, conv_weight_bytes


@dataclass(frozen=True)
class CalibrationPoint:
    model: str
    batch: int
    macs_per_image: float
    median_ms: float                  # one batch, unprofiled: the fastest round's median (see calibrate.collect)
    layers: tuple[LayerSample, ...]   # per-layer profile joined to the ONNX nodes
    report: StaticReport
    peak_rss_bytes: Optional[int] = None     # as onnxprof measure reports it (see measure.isolated)
    kernels: tuple[KernelTiming, ...] = ()   # the same profile, node by node, for the kernel model
    quiet: bool = True                # some round of its timing and of its profile found the machine quiet
    round_ms: tuple[float, ...] = ()  # every round's timed median, the kept fastest among them
    traits: EngineTraits = EngineTraits()    # how the engine ran the model (its layout, on the host or not)

    @property
    def round_spread(self) -> Optional[float]:
        """How much slower its second-fastest timed round ran than the fastest, which it keeps (None: fewer
        than two rounds): how far the kept time may be from the device's own, which no predictor can be
        judged finer than. Not the slowest: a round that load from elsewhere slowed is discarded anyway."""
        if len(self.round_ms) < 2:
            return None
        fastest, second = sorted(self.round_ms)[:2]
        return second / fastest - 1

    def memory_sample(self) -> Optional[MemorySample]:
        peak = self.report.memory.peak_activation_bytes
        if self.peak_rss_bytes is None or not isinstance(peak, int):
            return None
        return MemorySample(self.report.memory.weight_bytes, peak / self.batch, self.batch, self.peak_rss_bytes,
                            conv_weight_bytes(self.report))


@dataclass(frozen=True)
class CalibrationData:
    """Everything a latency predictor may be fitted from: the points, the single-op benchmarks' kernel
    timings, the machine's measured compute rate and bandwidth (the roofline's roofs), and where the
    host's caches give out (``spill_from_bytes``: see kernels.fit_kernels; None where not known)."""

    points: tuple[CalibrationPoint, ...]
    compute_flops_per_s: float
    bandwidth_bytes_per_s: float
    op_timings: tuple[KernelTiming, ...] = ()
    spill_from_bytes: Optional[float] = None

    def without(self, model: str) -> "CalibrationData":
        """The same data less ``model``'s points (the single-op benchmarks stay: they are not a model)."""
        return replace(self, points=tuple(p for p in self.points if p.model != model))

    def ops_samples(self) -> list[OpsSample]:
        return [OpsSample(p.macs_per_image, p.batch, p.median_ms) for p in self.points]

    def layer_samples(self) -> list[LayerSample]:
        return [layer for p in self.points for layer in p.layers]

    def kernel_timings(self) -> list[KernelTiming]:
        """The networks' profiled kernels, then the single-op benchmarks'."""
        return [t for p in self.points for t in p.kernels] + list(self.op_timings)

    def network_timings(self) -> list[NetworkTiming]:
        """Each profiled point's timed run against the sum and count of its profiled kernels."""
        return [NetworkTiming(p.report, p.batch, p.median_ms, sum(layer.measured_ms for layer in p.layers),
                              len(p.layers), p.traits) for p in self.points if p.layers]


def network_point(name: str, batch: int, report: StaticReport, median_ms: float, rows: Sequence[LayerRow],
                  traits: EngineTraits, peak_rss_bytes: Optional[int] = None, quiet: bool = True,
                  round_ms: Sequence[float] = ()) -> CalibrationPoint:
    """A calibration point from a network's measurements: its timed median and profiled rows."""
    return CalibrationPoint(name, batch, float(report.totals.macs) / batch, median_ms,
                            tuple(layer_samples(rows, report)), report, peak_rss_bytes,
                            tuple(kernel_timings(rows, report, f"{name}@{batch}", traits)), quiet,
                            tuple(round_ms), traits)
