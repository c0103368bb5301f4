"""Device facts: published peak compute, memory and power of Jetson boards and GPUs, each with its source.

The table ships inside the package (``devices.json``). Conventions (also in the file): fp32 is the CUDA-core
rate; fp16 and int8 are dense (no 2:4 sparsity), tensor-core rates where the part has tensor cores; power is
the module or board figure. A value nobody publishes is ``None`` with a source that says "none found", never 0.
"This machine" is measured instead: :func:`onnxprof.predict.microbench.measure_this_machine`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Optional

from onnxprof.errors import UsageError

KINDS = ("jetson", "gpu", "cpu")
VALUE_FIELDS = ("fp32_tflops", "fp16_tflops", "int8_tops", "memory_bandwidth_gbs", "memory_gb",
                "idle_power_w", "max_power_w")
NONE_FOUND = "none found"


@dataclass(frozen=True)
class DeviceProfile:
    name: str
    title: str
    kind: str                                   # jetson | gpu | cpu
    fp32_tflops: Optional[float]                # peak FP32, 10^12 FLOP/s (2 FLOPs per FMA)
    fp32_tflops_source: str
    fp16_tflops: Optional[float]                # peak FP16, dense
    fp16_tflops_source: str
    int8_tops: Optional[float]                  # peak INT8, dense, 10^12 op/s
    int8_tops_source: str
    memory_bandwidth_gbs: Optional[float]       # peak DRAM bandwidth, 10^9 B/s
    memory_bandwidth_gbs_source: str
    memory_gb: Optional[float]                  # device (or shared) memory, GB
    memory_gb_source: str
    idle_power_w: Optional[float]
    idle_power_w_source: str
    max_power_w: Optional[float]                # TDP, total board power or top power mode
    max_power_w_source: str
    notes: str = ""

    @property
    def fp32_macs_per_s(self) -> Optional[float]:
        """Peak FP32 multiply-accumulates per second (half the FLOP rate), for MAC-based predictors."""
        return self.fp32_tflops * 1e12 / 2 if self.fp32_tflops is not None else None

    @property
    def ridge_flops_per_byte(self) -> Optional[float]:
        """Roofline ridge point: FP32 FLOPs per DRAM byte above which a kernel is compute-bound."""
        if self.fp32_tflops is None or not self.memory_bandwidth_gbs:
            return None
        return self.fp32_tflops * 1e12 / (self.memory_bandwidth_gbs * 1e9)


@lru_cache(maxsize=1)
def devices() -> dict[str, DeviceProfile]:
    """Every published device profile by name (read once from the package's devices.json)."""
    text = resources.files("onnxprof.predict").joinpath("devices.json").read_text(encoding="utf-8")
    return {entry["name"]: DeviceProfile(**entry) for entry in json.loads(text)["devices"]}


def device(name: str) -> DeviceProfile:
    """The profile called ``name``; a UsageError naming the known devices otherwise."""
    table = devices()
    try:
        return table[name]
    except KeyError:
        raise UsageError(f"unknown device {name!r} (devices: {', '.join(sorted(table))})") from None
