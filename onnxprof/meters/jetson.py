"""Jetson on-board power monitors (INA3221, and INA238 on Thor) read straight from sysfs.

Discovery, under ``root`` (``/`` on a board, a fake tree in the tests):

- JetPack 4 and older kernels: ``sys/bus/i2c/drivers/ina3221x/*/iio:device*/`` with ``rail_name_N``,
  ``in_voltageN_input`` (mV), ``in_currentN_input`` (mA), ``in_powerN_input`` (mW), N = 0..2.
- JetPack 5 and later: ``hwmon/hwmon*/`` under ``sys/bus/i2c/drivers/ina3221/*/`` or
  ``sys/bus/i2c/devices/*/`` whose ``name`` is ina3221, with ``inN_label``, ``inN_input`` (mV),
  ``currN_input`` (mA), N = 1..3. Channel 7 ("sum of shunt voltages") and labels marked NC (not
  connected) are skipped.
- Thor: an INA238 hwmon (``name`` ina238) with ``power1_input`` in µW.

Every rail goes into ``Sample.rails_w``. The total is the board's input rail (VDD_IN, POM_5V_IN, ...)
when the board has one; otherwise (AGX Xavier, AGX Orin) the sum of the rails, which may count a
sub-rail twice if a board nests them: ``describe()`` says which was used.

Sample rate. ``nominal_rate_hz`` is 100: one reading is two small sysfs reads per rail (one I2C register
read each, on the order of 0.1 ms at 400 kHz), so polling at 100 Hz costs little CPU. Polling faster
than the chip converts only repeats values: the INA3221 refreshes a channel once per conversion cycle,
number of channels × (bus + shunt conversion time, 140 µs to 8.2 ms each) × averaged samples (1 to
1024). With the datasheet's power-on settings (1.1 ms conversions, no averaging, three channels) that
is 6.6 ms, about 150 Hz; L4T's device trees may configure other values, and with averaging each value
is the mean over the cycle — a low-pass filter no polling rate can undo. The hwmon driver reports its
cycle as ``update_interval`` (ms) and its averaging as ``samples``; ``describe()`` shows both when
present. (The kernel's documented formula for update_interval includes the averaged samples; an NVIDIA
patch redefines it without them, so read it together with ``samples``.) Nothing here has been checked on
a board by this project.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Optional

from onnxprof.meters.base import Meter, MeterUnavailable, Sample, clock

# Rails that carry the whole board's input power, by board family (see the reference table):
# VDD_IN (TX1, TX2, Xavier NX, Orin NX/Nano), POM_5V_IN (Nano), 5V_IN (Xavier NX on some releases).
INPUT_RAILS = ("VDD_IN", "POM_5V_IN", "5V_IN")

NOT_AVAILABLE = ("no INA3221/INA238 power monitor under /sys (not a Jetson, or sysfs needs root: "
                 "try --meter tegrastats)")

_NC = re.compile(r"(?<![A-Za-z0-9])NC(?![A-Za-z])")     # "NC", "NC_2", not the letters in "VDD_SYNC"
_SUM_CHANNEL = 7                                         # hwmon in7: "sum of shunt voltages"


def not_connected(label: str) -> bool:
    """A rail label marked NC (not connected), as on AGX Orin's second monitor."""
    return bool(_NC.search(label))


def board_total(rails_w: Mapping[str, float]) -> tuple[float, Optional[str]]:
    """(total W, the input rail used) — or (sum of all rails, None) when the board has no input rail."""
    for name in INPUT_RAILS:
        if name in rails_w:
            return rails_w[name], name
    return sum(rails_w.values()), None


def total_description(rails: Iterable[str], input_rail: Optional[str]) -> str:
    rails = list(rails)
    if input_rail is not None:
        return f"total = {input_rail} (the board's input rail)"
    return (f"total = sum of {len(rails)} rails (no input rail such as {'/'.join(INPUT_RAILS)}; "
            f"a nested sub-rail would be counted twice)")


@dataclass(frozen=True)
class Rail:
    """One monitored rail and the files its power comes from."""

    name: str
    monitor: str                               # e.g. "1-0040 (hwmon)"
    power_path: Optional[Path] = None          # a power file, scaled by power_scale to watts
    power_scale: float = 1e-3
    voltage_path: Optional[Path] = None        # mV
    current_path: Optional[Path] = None        # mA

    def watts(self) -> float:
        if self.power_path is not None:
            return read_number(self.power_path) * self.power_scale
        return read_number(self.voltage_path) * read_number(self.current_path) / 1e6


def read_number(path: Path) -> float:
    """A sysfs value: the first word of the file (some L4T files append a unit)."""
    with open(path, "r") as f:
        text = f.read().split()
    if not text:
        raise ValueError(f"{path} is empty")
    return float(text[0])


def _read_text(path: Path) -> Optional[str]:
    try:
        return path.read_text().strip()
    except OSError:
        return None


@dataclass(frozen=True)
class Monitor:
    device: str                                # the I2C device, e.g. "1-0040"
    kind: str                                  # "iio", "hwmon" or "ina238"
    path: Path
    rails: tuple[Rail, ...]
    update_interval_ms: Optional[str] = None
    samples: Optional[str] = None


def _iio_monitor(path: Path) -> Monitor:
    device = path.parent.name
    monitor = f"{device} (iio)"
    rails = []
    for label_file in sorted(path.glob("rail_name_*")):
        suffix = label_file.name[len("rail_name_"):]
        label = _read_text(label_file)
        if not suffix.isdigit() or not label or not_connected(label):
            continue
        n = int(suffix)
        power = path / f"in_power{n}_input"
        volt, curr = path / f"in_voltage{n}_input", path / f"in_current{n}_input"
        if power.exists():          # the driver's own V×I, from one consistent reading
            rails.append(Rail(label, monitor, power_path=power, power_scale=1e-3))
        elif volt.exists() and curr.exists():
            rails.append(Rail(label, monitor, voltage_path=volt, current_path=curr))
    return Monitor(device, "iio", path, tuple(rails))


def _hwmon_ina3221(path: Path, device: str) -> Monitor:
    monitor = f"{device} (hwmon)"
    rails = []
    for label_file in path.glob("in*_label"):
        number = label_file.name[2:-len("_label")]
        label = _read_text(label_file)
        if not number.isdigit() or not label:
            continue
        n = int(number)
        if n == _SUM_CHANNEL or label.lower().startswith("sum of") or not_connected(label):
            continue
        volt, curr = path / f"in{n}_input", path / f"curr{n}_input"
        if volt.exists() and curr.exists():
            rails.append((n, Rail(label, monitor, voltage_path=volt, current_path=curr)))
    rails.sort(key=lambda item: item[0])
    return Monitor(device, "hwmon", path, tuple(r for _, r in rails),
                   _read_text(path / "update_interval"), _read_text(path / "samples"))


def _hwmon_ina238(path: Path, device: str) -> Monitor:
    power = path / "power1_input"
    if not power.exists():
        return Monitor(device, "ina238", path, ())
    label = _read_text(path / "power1_label") or _read_text(path / "in1_label") or f"INA238 {device}"
    rail = Rail(label, f"{device} (ina238)", power_path=power, power_scale=1e-6)
    return Monitor(device, "ina238", path, (rail,))


def find_monitors(root: Path) -> list[Monitor]:
    """Every INA3221/INA238 under ``root``, each I2C device once (drivers/ and devices/ both list it)."""
    i2c = root / "sys" / "bus" / "i2c"
    found: dict[str, Monitor] = {}
    for path in sorted(i2c.glob("drivers/ina3221x/*/iio:device*")):
        device = path.parent.name
        if device not in found and path.is_dir():
            found[device] = _iio_monitor(path)
    hwmons = (sorted(i2c.glob("drivers/ina3221/*/hwmon/hwmon*")) + sorted(i2c.glob("drivers/ina238/*/hwmon/hwmon*"))
              + sorted(i2c.glob("devices/*/hwmon/hwmon*")))
    for path in hwmons:
        device = path.parent.parent.name
        if device in found or not path.is_dir():
            continue
        chip = _read_text(path / "name") or _read_text(path.parent.parent / "name") or ""
        if chip.startswith("ina3221"):
            found[device] = _hwmon_ina3221(path, device)
        elif chip.startswith("ina238"):
            found[device] = _hwmon_ina238(path, device)
    return [m for _, m in sorted(found.items()) if m.rails]


def _unique_names(monitors: Iterable[Monitor]) -> list[Rail]:
    """All rails; a label seen on two monitors gets the second one's device appended."""
    rails, seen = [], set()
    for m in monitors:
        for rail in m.rails:
            if rail.name in seen:
                rail = Rail(f"{rail.name}@{m.device}", rail.monitor, rail.power_path, rail.power_scale,
                            rail.voltage_path, rail.current_path)
            seen.add(rail.name)
            rails.append(rail)
    return rails


class JetsonMeter(Meter):
    """Jetson rails from the INA3221/INA238 sysfs files; total from the input rail, else the sum."""

    name = "jetson"
    nominal_rate_hz = 100.0

    def __init__(self, root: Path = Path("/"), interval_s: Optional[float] = None):
        super().__init__(interval_s)
        self.root = Path(root)
        self.monitors: list[Monitor] = []
        self.rails: list[Rail] = []
        self.input_rail: Optional[str] = None      # the rail used as total; None: the sum of all

    def open(self) -> None:
        self.monitors = find_monitors(self.root)
        if not self.monitors:
            raise MeterUnavailable(NOT_AVAILABLE)
        self.rails = _unique_names(self.monitors)
        names = [r.name for r in self.rails]
        self.input_rail = next((n for n in INPUT_RAILS if n in names), None)
        try:
            self.read()
        except PermissionError as exc:
            raise MeterUnavailable(f"cannot read {exc.filename}: permission denied "
                                   f"(run as root, or try --meter tegrastats)") from None
        except (OSError, ValueError) as exc:
            raise MeterUnavailable(f"the Jetson power monitor cannot be read: {exc}") from None

    def read(self) -> Sample:
        t = clock()
        rails_w = {rail.name: rail.watts() for rail in self.rails}   # a vanished file raises: recorded
        total, _ = board_total(rails_w)
        return Sample(t, total, rails_w)

    def describe(self) -> str:
        if not self.monitors:
            return f"Jetson INA3221/INA238 sysfs under {self.root} (not opened)"
        chips = ", ".join(f"{m.device} ({m.kind})" for m in self.monitors)
        text = (f"Jetson power monitors {chips}: rails {', '.join(r.name for r in self.rails)}; "
                f"{total_description((r.name for r in self.rails), self.input_rail)}; "
                f"polled every {self.interval_s * 1000:g} ms")
        sensor = [f"{m.device} update_interval {m.update_interval_ms} ms"
                  + (f", samples {m.samples}" if m.samples else "")
                  for m in self.monitors if m.update_interval_ms]
        if sensor:
            text += "; sensor " + "; ".join(sensor)
        return text
