"""A results store whose figures follow known laws, for the report, findings and selection tests.

Every number is computed from the constants below, so a test can derive the right answer by hand:

* latency of one batch (ms)  = MS_PER_GMAC · GMACs per image · batch + INTERCEPT_MS
* peak memory (bytes)        = FLOOR_BYTES + WEIGHT_SLOPE · weight bytes + ACTIVATION_BYTES_PER_IMAGE · batch
* gross power (W)            = IDLE_W + NET_W[model]   (the same at every batch size)
* energy per image (J)       = gross power × latency per image
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from onnxprof.measure.records import (OK, OUT_OF_MEMORY, BatchResult, EngineInfo, HostInfo, LatencyStats,
                                      MemoryMeasurement, PowerFigures, RunRecord)

MS_PER_GMAC = 2.0
INTERCEPT_MS = 1.5
FLOOR_BYTES = 200_000_000
WEIGHT_SLOPE = 1.3
ACTIVATION_BYTES_PER_IMAGE = 10_000_000
IDLE_W = 1.3
BATCHES = (1, 2, 4, 8, 16)


@dataclass(frozen=True)
class SyntheticModel:
    name: str                  # a zoo name: the manifest supplies title, family and top-1
    gmacs: float               # per image
    parameters: int
    net_w: Optional[float]     # None: measured without a power meter
    oom_from: Optional[int] = None   # batch sizes from this one on run out of memory


MODELS = (
    SyntheticModel("alexnet", 0.714, 61_100_840, 10.0),
    SyntheticModel("resnet18", 1.814, 11_689_512, 11.0),
    SyntheticModel("resnet50", 4.089, 25_557_032, 12.0, oom_from=16),
    SyntheticModel("mobilenet-v2", 0.301, 3_504_872, 11.5),
    SyntheticModel("vgg16", 15.47, 138_357_544, None),
)


def latency_ms(model: SyntheticModel, batch: int) -> float:
    return MS_PER_GMAC * model.gmacs * batch + INTERCEPT_MS


def memory_bytes(model: SyntheticModel, batch: int) -> int:
    return int(FLOOR_BYTES + WEIGHT_SLOPE * 4 * model.parameters + ACTIVATION_BYTES_PER_IMAGE * batch)


def _stats(median: float) -> LatencyStats:
    return LatencyStats(samples=20, total_s=median * 20 / 1000, min_ms=median, mean_ms=median, median_ms=median,
                        p90_ms=median, p95_ms=median, p99_ms=median, max_ms=median, std_ms=0.0, cv=0.0, noisy=False)


def _batch(model: SyntheticModel, batch: int) -> BatchResult:
    if model.oom_from is not None and batch >= model.oom_from:
        return BatchResult(batch=batch, status=OUT_OF_MEMORY, error="out of memory")
    ms = latency_ms(model, batch)
    power = None
    if model.net_w is not None:
        gross = IDLE_W + model.net_w
        power = PowerFigures(meter="synthetic", gross_w=gross, idle_w=IDLE_W, net_w=model.net_w,
                             energy_per_image_j=gross * ms / batch / 1000,
                             net_energy_per_image_j=model.net_w * ms / batch / 1000, samples=100)
    return BatchResult(batch=batch, status=OK, latency=_stats(ms), throughput_per_s=1000 * batch / ms,
                       latency_per_image_ms=ms / batch, memory=MemoryMeasurement(peak_rss_bytes=memory_bytes(model, batch)),
                       power=power)


def record(model: SyntheticModel, batches: Sequence[int] = BATCHES, hostname: str = "bench-1") -> RunRecord:
    """A run of ``model`` analysed at batch 1 (the static counts are per image)."""
    return RunRecord(
        model_source=f"zoo:{model.name}", model_path=f"/models/{model.name}.onnx", model_sha256="0" * 64,
        engine=EngineInfo(engine="onnxruntime", provider="cpu", precision="fp32"),
        host=HostInfo(hostname=hostname, os="Linux", cpu="test cpu", cpu_count=2, memory_bytes=8 * 2**30, python="3.11"),
        static={"analysed_batch": 1, "parameters": model.parameters, "weight_bytes": 4 * model.parameters,
                "macs": int(model.gmacs * 1e9), "peak_activation_bytes": ACTIVATION_BYTES_PER_IMAGE, "complete": True},
        batches=tuple(_batch(model, b) for b in batches), started_at="2026-11-25T00:00:00+00:00",
        ended_at="2026-11-25T00:01:00+00:00", meter="synthetic" if model.net_w is not None else "",
        idle_power_w=IDLE_W if model.net_w is not None else None,
        predictions={b: {"latency_ms": latency_ms(model, b) * 1.1} for b in batches})


def fill(store, models: Sequence[SyntheticModel] = MODELS) -> list[int]:
    """Save one run per model; returns the run ids."""
    return [store.save_run(record(m)) for m in models]
