"""A discrete NVIDIA GPU's own power readings through NVML (the nvidia-ml-py package, imported in
``open()``: DESIGN style 5).

Two sources, the better one chosen at ``open()``:

- the **total-energy counter** ``nvmlDeviceGetTotalEnergyConsumption`` (mJ since the driver was loaded;
  Volta and newer), updated by the driver roughly every 100 ms or faster. Samples carry it as
  ``Sample.energy_j`` (joules), so a window's energy is the counter's difference and does not depend
  on how often we sample. ``Sample.power_w`` (mean and peak figures) then comes from
  ``nvmlDeviceGetPowerUsage`` when the GPU has it, else from the counter's change between its ticks
  (``open()`` waits for one tick, ≤ ~100 ms, to start from one).
- **power sampling** only, ``nvmlDeviceGetPowerUsage`` (mW), when the counter is not supported. On
  Ampere and newer (except GA100) this reading is a 1-second moving average, so short windows and
  peaks are smoothed; on older GPUs it is instantaneous. Energy is then the trapezoid over samples.

We sample at 10 Hz by default (``nominal_rate_hz``), about the counter's update period. NVML answers
NotSupported for power on Jetson boards: use the on-board sensors there.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from onnxprof.meters.base import Meter, MeterUnavailable, Sample, clock

INSTALL_HINT = "pip install 'onnxprof[nvml]'"


class NvmlMeter(Meter):
    name = "nvml"
    nominal_rate_hz = 10.0

    def __init__(self, gpu_index: int = 0, interval_s: Optional[float] = None):
        super().__init__(interval_s)
        self.gpu_index = gpu_index
        self.gpu_name = ""
        self.has_counter = False
        self.has_power = False
        self.counter_reason = ""          # why the energy counter is not used, when it is not
        self._nvml: Any = None
        self._handle: Any = None
        self._tick: Optional[tuple[float, float]] = None   # (t, J) where the counter last changed
        self._tick_power_w: Optional[float] = None          # counter-derived power, held between ticks

    # -- life cycle ------------------------------------------------------------------------------
    def open(self) -> None:
        try:
            import pynvml
        except ImportError:
            raise MeterUnavailable(f"the nvml meter needs nvidia-ml-py: {INSTALL_HINT}") from None
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            raise MeterUnavailable(f"NVML cannot start ({exc}): no NVIDIA driver or GPU here") from None
        self._nvml = pynvml
        try:
            self._open_device(pynvml)
        except BaseException:
            self.close()
            raise

    def _open_device(self, nvml: Any) -> None:
        index = self.gpu_index
        try:
            count = nvml.nvmlDeviceGetCount()
        except nvml.NVMLError as exc:
            raise MeterUnavailable(f"NVML cannot count GPUs ({exc})") from None
        if not 0 <= index < count:
            raise MeterUnavailable(f"no GPU {index}: NVML sees {count} GPU{'' if count == 1 else 's'}"
                                   + (f" (indices 0-{count - 1})" if count else ""))
        try:
            self._handle = nvml.nvmlDeviceGetHandleByIndex(index)
            name = nvml.nvmlDeviceGetName(self._handle)
        except nvml.NVMLError as exc:
            raise MeterUnavailable(f"NVML cannot open GPU {index} ({exc})") from None
        self.gpu_name = name.decode() if isinstance(name, bytes) else str(name)

        power_reason = ""
        try:
            nvml.nvmlDeviceGetPowerUsage(self._handle)
            self.has_power = True
        except nvml.NVMLError as exc:
            power_reason = str(exc)
        try:
            self._tick = self._await_tick(nvml)
            self.has_counter = True
        except nvml.NVMLError as exc:
            self.counter_reason = str(exc)
        if not (self.has_counter or self.has_power):
            raise MeterUnavailable(f"GPU {index} ({self.gpu_name}) reports no power through NVML "
                                   f"({power_reason}), as on Jetson boards: use an on-board or external meter")

    def _await_tick(self, nvml: Any, limit_s: float = 0.3) -> tuple[float, float]:
        """(t, J) of a counter change, so the first counter-derived power spans a whole tick: the
        counter moves about every 100 ms, so this waits that long at most (``limit_s`` if it stalls)."""
        first = nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1000.0
        began = t = clock()
        joules = first
        while joules == first and t - began < limit_s:
            time.sleep(0.002)
            joules = nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle) / 1000.0
            t = clock()
        return t, joules

    def close(self) -> None:
        nvml, self._nvml, self._handle = self._nvml, None, None
        if nvml is not None:
            try:
                nvml.nvmlShutdown()
            except nvml.NVMLError:
                pass      # nothing to leave in a safe state: NVML is only read

    # -- readings --------------------------------------------------------------------------------
    def read(self) -> Sample:
        """One reading; an NVMLError (GPU lost, driver gone...) propagates and the sampler records it."""
        nvml, handle = self._nvml, self._handle
        if nvml is None:
            raise RuntimeError("NvmlMeter.read() before open()")
        if not self.has_counter:
            before = clock()
            milliwatts = nvml.nvmlDeviceGetPowerUsage(handle)
            return Sample(t=(before + clock()) / 2, power_w=milliwatts / 1000.0)
        before = clock()
        joules = nvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0
        t = (before + clock()) / 2
        power_w = self._counter_power(t, joules)
        if self.has_power:
            power_w = nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
        return Sample(t=t, power_w=power_w, energy_j=joules)

    def _counter_power(self, t: float, joules: float) -> Optional[float]:
        """Mean power between the last two counter changes seen. The counter ticks about every 100 ms,
        faster than or near our 10 Hz: a reading between ticks repeats the last value (not 0 W), and
        a tick's energy is spread over the time since the previous tick, not since the last reading.
        None until the first change after open() (then the sample does not count)."""
        tick = self._tick
        if tick is not None and joules != tick[1] and t > tick[0]:
            self._tick_power_w = (joules - tick[1]) / (t - tick[0])
            self._tick = (t, joules)
        elif tick is None:
            self._tick = (t, joules)
        return self._tick_power_w

    def describe(self) -> str:
        where = f"NVML GPU {self.gpu_index}" + (f" ({self.gpu_name})" if self.gpu_name else "")
        if self._handle is None and not self.gpu_name:
            return f"{where}: not opened"
        power_usage = ("nvmlDeviceGetPowerUsage (a 1 s average on Ampere and newer except GA100, "
                       "instantaneous on older GPUs)")
        if self.has_counter:
            power = power_usage if self.has_power else "the counter's change between its ticks"
            return (f"{where}: total-energy counter (mJ since driver load, updated about every 100 ms "
                    f"or faster) for energy; power from {power}")
        return (f"{where}: power sampling only, {power_usage}; energy counter not available "
                f"({self.counter_reason}), energy by trapezoids")
