"""NvmlMeter against a mocked pynvml module (the hardware boundary): a fake GPU whose energy counter
rises at a known rate, one without the counter, one that fails mid-run, and no driver at all."""

from __future__ import annotations

import sys
import time
import types

import pytest

from onnxprof.meters.base import MeterUnavailable, clock
from onnxprof.meters.nvml import NvmlMeter

NOT_SUPPORTED, LIBRARY_NOT_FOUND, GPU_IS_LOST = 3, 12, 15
_MESSAGES = {NOT_SUPPORTED: "Not Supported", LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
             GPU_IS_LOST: "GPU is lost"}


class NVMLError(Exception):
    def __init__(self, value):
        super().__init__(value)
        self.value = value

    def __str__(self):
        return _MESSAGES.get(self.value, f"NVML Error with code {self.value}")


class FakeGpu:
    """Counter in mJ = watts × 1000 × seconds since creation; PowerUsage in mW."""

    def __init__(self, watts=150.0, counter=True, power=True, fail_after=None, name=b"NVIDIA Fake A100",
                 tick_s=None):
        self.watts, self.counter, self.power, self.fail_after, self.name = watts, counter, power, fail_after, name
        self.tick_s = tick_s        # the counter moves in steps this far apart (None: continuously)
        self.t0 = clock()
        self.reads = 0

    def energy_mj(self):
        self.reads += 1
        if self.fail_after is not None and self.reads > self.fail_after:
            raise NVMLError(GPU_IS_LOST)
        if not self.counter:
            raise NVMLError(NOT_SUPPORTED)
        elapsed = clock() - self.t0
        if self.tick_s is not None:
            elapsed = (elapsed // self.tick_s) * self.tick_s
        return int(self.watts * 1000 * elapsed)

    def power_mw(self):
        if not self.power:
            raise NVMLError(NOT_SUPPORTED)
        return int(self.watts * 1000)


def fake_pynvml(gpus, init_error=None):
    calls = []
    module = types.ModuleType("pynvml")
    module.NVMLError = NVMLError
    module.NVML_ERROR_NOT_SUPPORTED = NOT_SUPPORTED

    def init():
        calls.append("init")
        if init_error is not None:
            raise NVMLError(init_error)

    module.nvmlInit = init
    module.nvmlShutdown = lambda: calls.append("shutdown")
    module.nvmlDeviceGetCount = lambda: len(gpus)
    module.nvmlDeviceGetHandleByIndex = lambda i: gpus[i]
    module.nvmlDeviceGetName = lambda gpu: gpu.name
    module.nvmlDeviceGetTotalEnergyConsumption = lambda gpu: gpu.energy_mj()
    module.nvmlDeviceGetPowerUsage = lambda gpu: gpu.power_mw()
    module.calls = calls
    return module


@pytest.fixture
def install(monkeypatch):
    def put(*gpus, init_error=None):
        module = fake_pynvml(list(gpus), init_error)
        monkeypatch.setitem(sys.modules, "pynvml", module)
        return module
    return put


def run_for(meter, seconds=0.3):
    with meter:
        a = clock()
        time.sleep(seconds)
        b = clock()
    return a, b


def test_energy_counter_gives_window_energy(install):
    module = install(FakeGpu(watts=150.0, power=False))
    meter = NvmlMeter(interval_s=0.01)
    a, b = run_for(meter)
    w = meter.window(a, b)
    assert w.method == "energy counter"
    assert w.samples >= 10
    assert w.mean_w == pytest.approx(150.0, rel=0.02)
    assert w.energy_j == pytest.approx(150.0 * (b - a), rel=0.02)
    assert all(s.energy_j is not None for s in meter.samples)
    # power from the counter's change: about 150 W, never a 0 W reading between ticks
    powers = sorted(s.power_w for s in meter.samples)
    assert powers[len(powers) // 2] == pytest.approx(150.0, rel=0.05) and powers[0] > 0
    assert module.calls == ["init", "shutdown"]
    assert "total-energy counter" in meter.describe() and "NVIDIA Fake A100" in meter.describe()


def test_stepping_counter_power_held_between_ticks(install):
    # a counter that moves every 50 ms, read every 10 ms: readings between ticks repeat the last power
    # and a tick's energy is spread over the tick, not over the 10 ms since the previous reading
    install(FakeGpu(watts=150.0, power=False, tick_s=0.05))
    meter = NvmlMeter(interval_s=0.01)
    run_for(meter, 0.4)
    powers = [s.power_w for s in meter.samples]
    assert len(powers) >= 20 and None not in powers[6:]
    assert all(p == pytest.approx(150.0, rel=0.4) for p in powers if p is not None)
    assert sorted(powers[6:])[len(powers[6:]) // 2] == pytest.approx(150.0, rel=0.15)


def test_counter_with_power_usage_reports_both(install):
    install(FakeGpu(watts=150.0))
    meter = NvmlMeter(interval_s=0.01)
    a, b = run_for(meter, 0.2)
    w = meter.window(a, b)
    assert w.method == "energy counter"
    assert w.peak_w == pytest.approx(150.0)
    assert "nvmlDeviceGetPowerUsage" in meter.describe() and "1 s average" in meter.describe()


def test_counter_not_supported_falls_back_to_power_sampling(install):
    install(FakeGpu(watts=80.0, counter=False))
    meter = NvmlMeter(interval_s=0.01)
    a, b = run_for(meter)
    w = meter.window(a, b)
    assert w.method == "trapezoid"
    assert all(s.energy_j is None for s in meter.samples)
    assert w.mean_w == pytest.approx(80.0)
    assert w.energy_j == pytest.approx(80.0 * (b - a))
    text = meter.describe()
    assert "power sampling only" in text and "Not Supported" in text and "1 s average" in text


def test_no_power_at_all_is_unavailable(install):
    module = install(FakeGpu(counter=False, power=False, name=b"Orin (nvgpu)"))
    with pytest.raises(MeterUnavailable, match="reports no power") as info:
        NvmlMeter().start()
    assert "\n" not in str(info.value)
    assert module.calls == ["init", "shutdown"]


def test_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)     # import pynvml raises ImportError
    with pytest.raises(MeterUnavailable) as info:
        NvmlMeter().start()
    assert "pip install 'onnxprof[nvml]'" in str(info.value)
    assert "\n" not in str(info.value)


def test_no_driver(install):
    install(init_error=LIBRARY_NOT_FOUND)
    with pytest.raises(MeterUnavailable) as info:
        NvmlMeter().start()
    message = str(info.value)
    assert "NVML Shared Library Not Found" in message and "driver" in message and "\n" not in message


def test_gpu_index_out_of_range(install):
    module = install(FakeGpu())
    with pytest.raises(MeterUnavailable, match=r"no GPU 2: NVML sees 1 GPU \(indices 0-0\)"):
        NvmlMeter(gpu_index=2).start()
    assert module.calls == ["init", "shutdown"]
    install()
    with pytest.raises(MeterUnavailable, match="no GPU 0: NVML sees 0 GPUs"):
        NvmlMeter().start()


def test_read_failing_mid_run_is_recorded(install):
    module = install(FakeGpu(watts=150.0, power=False, fail_after=5))   # probe + 4 readings, then lost
    meter = NvmlMeter(interval_s=0.01)
    meter.start()
    a = clock()
    time.sleep(0.2)
    began = time.perf_counter()
    meter.stop()
    assert time.perf_counter() - began < 1.0
    b = clock()
    assert meter.samples and meter.errors and all("GPU is lost" in reason for _, reason in meter.errors)
    assert max(s.t for s in meter.samples) < min(t for t, _ in meter.errors)
    w = meter.window(a, b)
    assert any("failed readings" in warning and "GPU is lost" in warning for warning in w.warnings)
    assert module.calls == ["init", "shutdown"]
