"""A first predictor: time = MACs ÷ the device's effective MAC rate; memory = the process before the
model + weights + peak activations. Its error is what the side-by-side report shows; calibrated
predictors replace it later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from onnxprof.cost.analysis import StaticReport


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


def predict(report: StaticReport, batch: int, macs_per_s: float, baseline_rss_bytes: int) -> Prediction:
    macs = report.totals.macs if isinstance(report.totals.macs, int) else None
    latency = macs / macs_per_s * 1000 if macs else None
    peak = report.memory.peak_activation_bytes
    memory = baseline_rss_bytes + report.memory.weight_bytes + peak if isinstance(peak, int) else None
    return Prediction(batch=batch, latency_ms=latency, latency_per_image_ms=latency / batch if latency else None,
                      throughput_per_s=batch * 1000 / latency if latency else None, peak_rss_bytes=memory,
                      method=f"MACs ÷ {macs_per_s / 1e9:.1f} G MAC/s (numpy matmul rate); memory: process + weights "
                             "+ peak activations")
