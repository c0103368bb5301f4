"""Window arithmetic on synthetic signals: exact energy, edges, counters, honest warnings."""

from __future__ import annotations

import time

import pytest

from onnxprof.meters.base import Meter, Sample, window_figures


def square_wave(times):
    """10 W before t = 0.5 s, 20 W after."""
    return [Sample(t, 10.0 if t < 0.5 else 20.0) for t in times]


def test_trapezoid_energy_of_a_square_wave_sampled_irregularly():
    times = [0.0, 0.013, 0.1, 0.27, 0.4999, 0.5, 0.61, 0.75, 0.9, 1.0]
    w = window_figures(square_wave(times), 0.0, 1.0)
    # 10 W up to 0.4999 s, a linear step (mean 15 W) to 0.5 s, 20 W to 1 s: 4.999 + 0.0015 + 10 J
    assert w.energy_j == pytest.approx(4.999 + 0.0015 + 10.0, abs=1e-12)
    assert w.mean_w == pytest.approx(w.energy_j / 1.0) and w.peak_w == 20.0 and w.method == "trapezoid"


def test_window_edges_are_interpolated_from_outside_samples():
    ramp = [Sample(t, 100.0 * t) for t in (0.0, 1.0, 2.0, 3.0)]   # P = 100·t
    w = window_figures(ramp, 0.5, 2.5)
    assert w.energy_j == pytest.approx(50.0 * (2.5 ** 2 - 0.5 ** 2))   # ∫ 100 t dt
    assert w.samples == 2


def test_energy_counter_difference_is_preferred():
    samples = [Sample(t, 999.0, energy_j=5.0 + 40.0 * t) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]  # 40 W
    w = window_figures(samples, 0.0, 1.0)
    assert w.method == "energy counter" and w.energy_j == pytest.approx(40.0) and w.mean_w == pytest.approx(40.0)


def test_too_few_samples_and_too_slow_meters_are_said():
    w = window_figures([Sample(t, 5.0) for t in (0.0, 0.5, 1.0)], 0.0, 1.0, min_rate_hz=2800)
    assert any("only 3 samples" in m for m in w.warnings)
    assert any("below the 2800 Hz" in m for m in w.warnings)
    assert w.energy_j == pytest.approx(5.0)


def test_a_window_without_readings_is_missing_with_the_reason():
    w = window_figures([Sample(0.0, 5.0)], 1.0, 2.0, errors=["TimeoutError: no answer"])
    assert w.energy_j is None and w.missing == "TimeoutError: no answer"


class Steady(Meter):
    name, nominal_rate_hz = "steady", 200.0

    def __init__(self, fail_after=None):
        super().__init__()
        self.reads, self.fail_after = 0, fail_after

    def read(self) -> Sample:
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise OSError("sensor file vanished")
        return Sample(time.perf_counter(), 12.0, {"VDD_IN": 12.0})


def test_the_sampler_thread_and_a_window_around_work():
    with Steady() as meter:
        time.sleep(0.05)
        start = time.perf_counter()
        time.sleep(0.3)
        end = time.perf_counter()
    w = meter.window(start, end)
    assert w.samples >= 20 and w.mean_w == pytest.approx(12.0) and w.rails_mean_w == {"VDD_IN": 12.0}
    assert w.energy_j == pytest.approx(12.0 * (end - start))


def test_a_failing_sensor_does_not_stop_the_run():
    with Steady(fail_after=5) as meter:
        start = time.perf_counter()
        time.sleep(0.2)
        end = time.perf_counter()
    w = meter.window(start, end)
    assert meter.errors and "sensor file vanished" in meter.errors[0][1]
    assert w.missing or any("failed readings" in m for m in w.warnings)
