"""One meter interface (DESIGN style 4): a background sampler of timestamped power readings on the
harness's monotonic clock (``time.perf_counter``), windows opened and closed around each batch size's
timed runs, and per-window figures: mean and peak power, energy, sample count and effective rate,
per-rail values.

Energy is the trapezoidal integral of power over the window — with the samples just outside the
window interpolated onto its edges, so a window is covered exactly — or, for meters with an energy
counter (NVML), the counter's difference. A window with too few samples, or a meter too slow for the
load, is marked: the paper's supply read back at ~12 Hz and a power strip at ~2 Hz, far too slow for
a current with a 1.4 kHz component.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

from onnxprof.errors import OnnxprofError

clock = time.perf_counter      # the harness's clock: windows and samples share it
MIN_SAMPLES = 10               # fewer samples than this in a window: too few to trust


class MeterUnavailable(OnnxprofError):
    """The meter cannot run here (no instrument, no sensor, a missing package): one line saying why."""


@dataclass(frozen=True)
class Sample:
    t: float                                   # clock() seconds
    power_w: Optional[float]                   # total power; None when this reading failed
    rails_w: Mapping[str, float] = field(default_factory=dict)
    energy_j: Optional[float] = None           # cumulative energy counter, where the meter has one


@dataclass(frozen=True)
class PowerWindow:
    """Power over one window (one batch size's timed runs)."""

    start_s: float
    end_s: float
    samples: int
    sample_rate_hz: float                      # samples per second actually achieved
    mean_w: Optional[float] = None
    peak_w: Optional[float] = None
    energy_j: Optional[float] = None
    rails_mean_w: Mapping[str, float] = field(default_factory=dict)
    method: str = ""                           # "trapezoid" or "energy counter"
    warnings: tuple[str, ...] = ()             # too few samples, rate too low ...
    missing: str = ""                          # why there is no power for this window (a fault)


class Meter(ABC):
    """Start sampling, open and close windows, stop. Subclasses implement ``read()`` (one sample) and
    declare their nominal sample rate; the base class runs the sampler thread."""

    name = "meter"
    nominal_rate_hz: float = 10.0
    min_rate_hz: Optional[float] = None   # the rate the measured load needs; windows warn below it

    def __init__(self, interval_s: Optional[float] = None):
        self.interval_s = interval_s if interval_s is not None else 1.0 / self.nominal_rate_hz
        self.samples: list[Sample] = []
        self.errors: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()

    # -- what a meter implements -----------------------------------------------------------------
    def open(self) -> None:
        """Connect to the instrument or sensor; raise MeterUnavailable when it is not there."""

    @abstractmethod
    def read(self) -> Sample:
        """One reading now (blocking at most the meter's timeout). Raise on a fault: the sampler
        records the reason and keeps going."""

    def close(self) -> None:
        """Disconnect, leaving the instrument in a safe state (never switching a supply's output)."""

    def describe(self) -> str:
        """What this meter is reading (instrument identity, rails...)."""
        return self.name

    # -- sampling --------------------------------------------------------------------------------
    def start(self) -> None:
        self.open()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"onnxprof-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            began = clock()
            try:
                sample = self.read()
            except Exception as exc:  # a fault: note it, keep sampling (the run must go on)
                with self._lock:
                    self.errors.append((began, f"{type(exc).__name__}: {exc}".splitlines()[0]))
            else:
                with self._lock:
                    self.samples.append(sample)
            self._stop.wait(max(0.0, self.interval_s - (clock() - began)))

    def __enter__(self) -> "Meter":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- windows ---------------------------------------------------------------------------------
    def window(self, start_s: float, end_s: float, min_rate_hz: Optional[float] = None) -> PowerWindow:
        """Figures for [start_s, end_s] from the samples collected so far."""
        with self._lock:
            samples = list(self.samples)
            errors = [reason for t, reason in self.errors if start_s <= t <= end_s]
        return window_figures(samples, start_s, end_s, errors, min_rate_hz)


def window_figures(samples: Sequence[Sample], start_s: float, end_s: float, errors: Sequence[str] = (),
                   min_rate_hz: Optional[float] = None) -> PowerWindow:
    """Mean/peak power and energy of a window. Pure: the tests feed it synthetic signals."""
    duration = max(end_s - start_s, 1e-12)
    valid = [s for s in samples if s.power_w is not None]
    inside = [s for s in valid if start_s <= s.t <= end_s]
    rate = len(inside) / duration
    warnings = []
    if len(inside) < MIN_SAMPLES:
        warnings.append(f"only {len(inside)} samples in {duration:.2f} s: lengthen --duration or use a faster meter")
    if min_rate_hz is not None and rate < min_rate_hz:
        warnings.append(f"{rate:.1f} Hz is below the {min_rate_hz:g} Hz this load needs to be resolved")
    if errors:
        warnings.append(f"{len(errors)} failed readings: {errors[0]}")
    counter = [s for s in inside if s.energy_j is not None]
    edges = _edge_samples(valid, start_s, end_s)
    if edges is None:
        reason = errors[0] if errors else "no readings cover this window"
        return PowerWindow(start_s, end_s, len(inside), rate, warnings=tuple(warnings), missing=reason)
    if len(counter) >= 2:
        energy = counter[-1].energy_j - counter[0].energy_j
        span = counter[-1].t - counter[0].t
        mean = energy / span if span > 0 else None
        energy = mean * duration if mean is not None else None
        method = "energy counter"
    else:
        energy = _trapezoid(edges)
        mean = energy / duration
        method = "trapezoid"
    rails = _rail_means(inside)
    peak = max((s.power_w for s in inside), default=None)
    return PowerWindow(start_s, end_s, len(inside), rate, mean, peak, energy, rails, method, tuple(warnings))


def _edge_samples(valid: Sequence[Sample], start_s: float, end_s: float) -> Optional[list[tuple[float, float]]]:
    """(t, W) points covering exactly [start, end]: the inside samples plus values interpolated at the
    edges from their neighbours (held constant past the last reading). None when no reading falls in
    the window and none brackets it."""
    points = [(s.t, s.power_w) for s in valid]
    inside = [(t, p) for t, p in points if start_s < t < end_s]
    brackets = any(t <= start_s for t, _ in points) and any(t >= end_s for t, _ in points)
    if not inside and not brackets:
        return None
    return [(start_s, _value_at(points, start_s))] + inside + [(end_s, _value_at(points, end_s))]


def _value_at(points: Sequence[tuple[float, float]], t: float) -> float:
    before = [(tt, p) for tt, p in points if tt <= t]
    after = [(tt, p) for tt, p in points if tt >= t]
    if not before:
        return after[0][1]
    if not after:
        return before[-1][1]
    (t0, p0), (t1, p1) = before[-1], after[0]
    return p0 if t1 == t0 else p0 + (p1 - p0) * (t - t0) / (t1 - t0)


def _trapezoid(points: Sequence[tuple[float, float]]) -> float:
    return sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in zip(points, points[1:]))


def _rail_means(samples: Sequence[Sample]) -> dict[str, float]:
    sums: dict[str, list[float]] = {}
    for s in samples:
        for rail, watts in s.rails_w.items():
            sums.setdefault(rail, []).append(watts)
    return {rail: sum(values) / len(values) for rail, values in sums.items()}
