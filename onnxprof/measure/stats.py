"""Statistics of timed runs: one definition, shared by the harness and the trtexec import.

Percentiles interpolate linearly between closest ranks (numpy's ``linear`` method); the standard
deviation is the population one (ddof 0); the coefficient of variation is std / mean, and a batch is
noisy when it exceeds ``noisy_cv`` (trtexec warns at 2.5 %).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from onnxprof.measure.records import LatencyStats

NOISY_CV = 0.025


def latency_stats(samples_ms: Sequence[float], total_s: Optional[float] = None,
                  noisy_cv: float = NOISY_CV) -> LatencyStats:
    """Statistics of per-run latencies in milliseconds.

    ``total_s`` is the wall-clock length of the timed window; without it, the sum of the samples.
    """
    values = np.asarray(samples_ms, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("latency_stats needs a non-empty sequence of latencies")
    p50, p90, p95, p99 = np.percentile(values, (50, 90, 95, 99), method="linear")
    mean = float(values.mean())
    std = float(values.std(ddof=0))
    cv = std / mean if mean > 0 else 0.0
    return LatencyStats(
        samples=int(values.size),
        total_s=float(values.sum() / 1000.0) if total_s is None else float(total_s),
        min_ms=float(values.min()),
        mean_ms=mean,
        median_ms=float(p50),
        p90_ms=float(p90),
        p95_ms=float(p95),
        p99_ms=float(p99),
        max_ms=float(values.max()),
        std_ms=std,
        cv=cv,
        noisy=bool(cv > noisy_cv),
    )


def reference_ms(host: LatencyStats, device: Optional[LatencyStats]) -> float:
    """The batch latency throughput and per-image time derive from: the median, as trtexec reports it,
    of the device's clock where the engine has one (the GPU's own time), else of the host's."""
    return (device if device is not None else host).median_ms


def throughput_per_s(median_ms: float, batch: int) -> Optional[float]:
    """Images (batch items) per second, from the median batch latency (None when it is 0)."""
    return batch * 1000.0 / median_ms if median_ms > 0 else None


def latency_per_image_ms(median_ms: float, batch: int) -> float:
    return median_ms / batch
