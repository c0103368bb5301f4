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
from typing import Optional

from onnxprof.cost.analysis import StaticReport
from onnxprof.predict.memory import MemoryModel, conv_weight_bytes

# What a built ONNX Runtime CPU session adds to the process's peak RSS, as `onnxprof measure` reports
# it: the library and the session (floor), each convolution's weights ×2.55 (the initializer and the
# blocked copy MLAS packs beside it), other weights ×0.96, and the arena's activations ×1.6 per image.
# Fitted on 8 zoo models at batch 1 and 8 (ONNX Runtime 1.32, x86-64 Linux, 2 threads); without it the
# guess was 14-59 % low. scripts/bench_memory_guess.py measures it again, on models outside the fit too.
ONNXRUNTIME_CPU_MEMORY = MemoryModel(floor_bytes=47e6, weight_slope=0.96, activation_slope=1.6,
                                     conv_weight_slope=2.55)


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
                      method=f"MACs ÷ {macs_per_s / 1e9:.1f} G MAC/s (numpy matmul rate); memory: process + {how}")
