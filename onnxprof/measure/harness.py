"""The timing protocol (trtexec's rules): warm up by count and time, then time synchronous runs until
both a minimum count and a minimum duration are met.

Host timing is ``time.perf_counter_ns`` around each synchronous ``engine.infer()``; engines with a
device clock (CUDA events) also report device time per run. The timed loop does nothing else: no
sampling thread, no allocation beyond appending to a typed array. Its 8 bytes a run (up to 13 while it
grows) are all the timing adds to the peak RSS measured around the loop: 11 MB for the 970,000 runs a
3 µs model makes in 3 s, where a list of Python ints, converted to floats inside the window, had added
110 bytes a run (150 MB for that model timed 6 s).
"""

from __future__ import annotations

import time
from array import array
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Mapping, Optional

import numpy as np

from onnxprof.engines.base import Engine, EngineOutOfMemory
from onnxprof.measure.memory import PeakMemory
from onnxprof.measure.records import FAILED, OK, OUT_OF_MEMORY, BatchResult, PowerFigures, error_line
from onnxprof.measure.stats import latency_per_image_ms, latency_stats, reference_ms, throughput_per_s

if TYPE_CHECKING:
    from onnxprof.meters.base import Meter, PowerWindow


@dataclass(frozen=True)
class TimingProtocol:
    warmup_runs: int = 10          # trtexec has none: it warms up by time only
    warmup_s: float = 0.2          # trtexec: --warmUp 200 (ms)
    min_runs: int = 10             # trtexec: 10 iterations
    min_duration_s: float = 3.0    # trtexec: 3 s
    noisy_cv: float = 0.025        # trtexec warns above 2.5 %


def now_iso() -> str:
    """UTC now, as stored in records."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def time_batch(engine: Engine, feeds: Mapping[str, np.ndarray], batch: int,
               protocol: TimingProtocol = TimingProtocol(), meter: Optional["Meter"] = None,
               idle_w: Optional[float] = None,
               on_times: Optional[Callable[[np.ndarray, np.ndarray], None]] = None) -> BatchResult:
    """Measure one batch size. Out-of-memory becomes a result, not an exception. With a meter, the
    power window is exactly the timed runs (same clock). ``on_times`` receives every timed run's host
    milliseconds and device milliseconds (empty without a device clock), after the window."""
    started = now_iso()
    try:
        engine.activate(feeds)
    except EngineOutOfMemory as exc:
        return BatchResult(batch, OUT_OF_MEMORY, error=error_line(exc), started_at=started, ended_at=now_iso())
    try:
        warmups = _warm_up(engine, protocol)
        with PeakMemory() as peak:
            host_ns, device_ms, window_start, window_end = _timed_runs(engine, protocol)
        memory = peak.result(engine.memory_bytes())
        host_ms = np.frombuffer(host_ns, dtype=np.int64) / 1e6     # converted outside the measured window
    except EngineOutOfMemory as exc:
        return BatchResult(batch, OUT_OF_MEMORY, error=error_line(exc), started_at=started, ended_at=now_iso())
    finally:
        engine.deactivate()
    if on_times is not None:
        on_times(host_ms, np.frombuffer(device_ms, dtype=np.float64))
    latency = latency_stats(host_ms, window_end - window_start, protocol.noisy_cv)
    device = latency_stats(device_ms, None, protocol.noisy_cv) if device_ms else None
    reference = reference_ms(latency, device)
    power = None
    if meter is not None:
        power = power_figures(meter.name, meter.window(window_start, window_end, meter_min_rate(meter)),
                              images=len(host_ms) * batch, idle_w=idle_w)
    return BatchResult(batch, OK, latency=latency, device_latency=device,
                       throughput_per_s=throughput_per_s(reference, batch),
                       latency_per_image_ms=latency_per_image_ms(reference, batch),
                       memory=memory, warmup_runs=warmups, started_at=started, ended_at=now_iso(), power=power)


def meter_min_rate(meter: "Meter") -> Optional[float]:
    """The sample rate a load needs to be resolved, when the user said (``--min-rate``)."""
    return getattr(meter, "min_rate_hz", None)


def power_figures(meter: str, window: "PowerWindow", images: int, idle_w: Optional[float]) -> PowerFigures:
    """Gross and net power, energy per image and images per joule from a window."""
    duration = window.end_s - window.start_s
    gross, energy = window.mean_w, window.energy_j
    net = gross - idle_w if gross is not None and idle_w is not None else None
    per_image = energy / images if energy is not None and images else None
    net_per_image = net * duration / images if net is not None and images else None
    return PowerFigures(meter=meter, gross_w=gross, peak_w=window.peak_w, energy_j=energy, idle_w=idle_w, net_w=net,
                        energy_per_image_j=per_image, net_energy_per_image_j=net_per_image,
                        images_per_j=1 / per_image if per_image else None, samples=window.samples,
                        sample_rate_hz=window.sample_rate_hz, rails_w=dict(window.rails_mean_w), method=window.method,
                        warnings=window.warnings, missing=window.missing)


def failed_batch(batch: int, error: Exception, status: str = FAILED) -> BatchResult:
    now = now_iso()
    return BatchResult(batch, status, error=error_line(error), started_at=now, ended_at=now)


def _warm_up(engine: Engine, protocol: TimingProtocol) -> int:
    runs, start = 0, time.perf_counter()
    while runs < protocol.warmup_runs or time.perf_counter() - start < protocol.warmup_s:
        engine.infer()
        runs += 1
    return runs


def _timed_runs(engine: Engine, protocol: TimingProtocol) -> tuple[array, array, float, float]:
    """Host nanoseconds and device milliseconds per run, and the window's start and end in
    ``time.perf_counter`` seconds: the power window and the wall-clock total are both cut from these two
    readings."""
    clock, infer = time.perf_counter_ns, engine.infer
    device_timer = engine.device_time_ms if _has_device_clock(engine) else None
    samples = array("q")       # 8 bytes a run, inside the window whose peak memory is measured
    device = array("d")
    min_ns = int(protocol.min_duration_s * 1e9)
    start = clock()
    while True:
        t0 = clock()
        if device_timer is None:
            infer()
        else:
            device.append(device_timer())
        samples.append(clock() - t0)
        if len(samples) >= protocol.min_runs and clock() - start >= min_ns:
            break
    end = clock()
    return samples, device, start / 1e9, end / 1e9


def _has_device_clock(engine: Engine) -> bool:
    return type(engine).device_time_ms is not Engine.device_time_ms
