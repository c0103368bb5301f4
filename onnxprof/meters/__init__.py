"""Power meters: lab instruments over VISA, Jetson on-board sensors, tegrastats, NVML, replayed CSVs.

Each meter module imports its hardware stack (pyvisa, pynvml, sysfs) only when opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from onnxprof.meters.base import Meter, MeterUnavailable

METERS = ("visa-supply", "visa-scope", "jetson", "tegrastats", "nvml", "replay")
AUTO_ORDER = ("jetson", "nvml", "tegrastats")   # what a machine can have without a lab instrument


@dataclass(frozen=True)
class MeterOptions:
    visa_resource: Optional[str] = None
    visa_backend: str = "@py"
    scope_channel: int = 1
    supply_voltage: Optional[float] = None
    gpu_index: int = 0
    replay: Optional[Path] = None
    replay_offset: Optional[float] = None
    interval_s: Optional[float] = None
    min_rate_hz: Optional[float] = None      # the rate the load needs (warn below it)


def create_meter(name: str, options: MeterOptions = MeterOptions()) -> Meter:
    """A meter by name (``auto``: the first this machine has). Not yet opened."""
    if name == "auto":
        return _auto(options)
    meter = _construct(name, options)
    meter.min_rate_hz = options.min_rate_hz
    return meter


def _construct(name: str, options: MeterOptions) -> Meter:
    if name in ("visa-supply", "visa-scope") and not options.visa_resource:
        raise MeterUnavailable(f"--meter {name} needs --visa-resource, e.g. GPIB0::5::INSTR or USB0::...::INSTR")
    if name == "visa-supply":
        from onnxprof.meters.visa import VisaSupplyMeter

        return VisaSupplyMeter(options.visa_resource, backend=options.visa_backend)
    if name == "visa-scope":
        from onnxprof.meters.visa import VisaScopeMeter

        return VisaScopeMeter(options.visa_resource, channel=options.scope_channel, voltage_v=options.supply_voltage,
                              backend=options.visa_backend)
    if name == "jetson":
        from onnxprof.meters.jetson import JetsonMeter

        return JetsonMeter(interval_s=options.interval_s)
    if name == "tegrastats":
        from onnxprof.meters.tegrastats import TegrastatsMeter

        return TegrastatsMeter()
    if name == "nvml":
        from onnxprof.meters.nvml import NvmlMeter

        return NvmlMeter(gpu_index=options.gpu_index, interval_s=options.interval_s)
    if name == "replay":
        if options.replay is None:
            raise MeterUnavailable("--meter replay needs --replay FILE.csv (time and watts from another tool)")
        from onnxprof.meters.replay import ReplayMeter

        return ReplayMeter(options.replay, clock_offset_s=options.replay_offset)
    raise MeterUnavailable(f"--meter {name!r}: choose one of {', '.join(METERS + ('auto',))}")


def detect(options: MeterOptions = MeterOptions()) -> list[tuple[str, Optional[Meter], str]]:
    """(name, an opened-then-closed meter or None, its description or why it is not here) for the
    meters a machine can have on its own; VISA instruments need a resource name to be tried."""
    found = []
    for name in AUTO_ORDER:
        try:
            meter = _construct(name, options)
            meter.open()
            description = meter.describe()
            meter.close()
            found.append((name, meter, description))
        except MeterUnavailable as exc:
            found.append((name, None, str(exc)))
    return found


def _auto(options: MeterOptions) -> Meter:
    for name, meter, _ in detect(options):
        if meter is not None:
            meter.min_rate_hz = options.min_rate_hz
            return meter
    raise MeterUnavailable("no power meter found on this machine (no Jetson sensors, no NVIDIA GPU, no tegrastats): "
                           "name a lab instrument with --meter visa-supply --visa-resource ..., or --meter replay")
