"""Fake Jetson sysfs trees (INA3221 over iio or hwmon, INA238) and tegrastats lines, for the meter tests.

Each builder writes one board's power-monitor files under ``root`` with round mV and mA values, and
returns what a correct meter must read from them: every rail's watts (mV × mA / 1e6), the total, and
which input rail gives it (None: the sum). Layouts follow the Jetson sensor paths in docs/power.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

Channel = Optional[tuple[str, int, int]]      # (label, mV, mA); None: an empty channel


@dataclass
class FakeBoard:
    root: Path
    rails_w: dict[str, float]                       # expected watts per rail
    input_rail: Optional[str]                       # expected total rail; None: the sum of the rails
    files: dict[str, dict[str, Path]] = field(default_factory=dict)   # rail -> {"voltage"/"current"/"power": path}

    @property
    def total_w(self) -> float:
        return self.rails_w[self.input_rail] if self.input_rail else sum(self.rails_w.values())


def _write(path: Path, text) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{text}\n")
    return path


def _i2c(root: Path) -> Path:
    return root / "sys" / "bus" / "i2c"


def add_iio(board: FakeBoard, device: str, iio: str, channels: Sequence[Channel], with_power: bool = True) -> Path:
    """JetPack 4: drivers/ina3221x/<device>/<iio>/ with rail_name_N, in_voltageN/in_currentN/in_powerN (N = 0..2)."""
    d = _i2c(board.root) / "drivers" / "ina3221x" / device / iio
    _write(d / "name", "ina3221x")
    for n, channel in enumerate(channels):
        if channel is None:
            continue
        label, mv, ma = channel
        files = {"voltage": _write(d / f"in_voltage{n}_input", mv), "current": _write(d / f"in_current{n}_input", ma)}
        _write(d / f"rail_name_{n}", label)
        _write(d / f"warn_current_limit_{n}", 3000)
        _write(d / f"crit_current_limit_{n}", 4000)
        if with_power:
            files["power"] = _write(d / f"in_power{n}_input", mv * ma // 1000)
        board.files[label] = files
        board.rails_w[label] = mv * ma / 1e6
    return d


def add_hwmon(board: FakeBoard, device: str, hwmon: str, channels: Sequence[Channel], *, under: str = "devices",
              skipped: Sequence[tuple[int, str]] = (), sum_channel: bool = False, **chip_files) -> Path:
    """JetPack 5+: <under>/<device>/hwmon/<hwmon>/ with inN_label, inN_input (mV), currN_input (mA), N = 1..3.

    ``under`` is "devices" or "drivers/ina3221". ``skipped``: (channel, label) pairs written with values
    but not expected as rails (NC). ``sum_channel`` adds channel 7, "sum of shunt voltages".
    """
    d = _i2c(board.root) / under / device / "hwmon" / hwmon
    _write(d / "name", "ina3221")
    for name, value in chip_files.items():
        _write(d / name, value)

    def channel_files(n: int, label: str, mv: int, ma: int) -> dict[str, Path]:
        _write(d / f"in{n}_label", label)
        _write(d / f"curr{n}_max", 3000)
        _write(d / f"curr{n}_crit", 4000)
        _write(d / f"curr{n}_crit_alarm", 0)
        return {"voltage": _write(d / f"in{n}_input", mv), "current": _write(d / f"curr{n}_input", ma)}

    for n, channel in enumerate(channels, start=1):
        if channel is None:
            continue
        label, mv, ma = channel
        board.files[label] = channel_files(n, label, mv, ma)
        board.rails_w[label] = mv * ma / 1e6
    for n, label in skipped:
        channel_files(n, label, 0, 0)
    if sum_channel:
        _write(d / "in7_label", "sum of shunt voltages")
        _write(d / "in7_input", 120)              # µV-scale shunt sum, not a rail
        _write(d / "curr4_input", 2600)           # the summed current: not a rail either
    return d


def link_driver(board: FakeBoard, device: str, driver: str = "ina3221") -> None:
    """drivers/<driver>/<device> -> ../../devices/<device>, as sysfs lists a bound device twice."""
    link = _i2c(board.root) / "drivers" / driver / device
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(Path("..") / ".." / "devices" / device, link)


# -- boards --------------------------------------------------------------------------------------------

def tx1(root: Path, with_power: bool = True) -> FakeBoard:
    board = FakeBoard(root, {}, "VDD_IN")
    add_iio(board, "1-0040", "iio:device0",
            [("VDD_IN", 5000, 1200), ("VDD_GPU", 1000, 500), ("VDD_CPU", 1000, 800)], with_power)
    return board


def tx2(root: Path) -> FakeBoard:
    board = FakeBoard(root, {}, "VDD_IN")
    add_iio(board, "0-0040", "iio:device0",
            [("VDD_SYS_GPU", 19000, 20), ("VDD_SYS_SOC", 19000, 40), ("VDD_4V0_WIFI", 4000, 0)])
    add_iio(board, "0-0041", "iio:device1",
            [("VDD_IN", 19000, 200), ("VDD_SYS_CPU", 19000, 30), ("VDD_SYS_DDR", 19000, 10)])
    return board


def nano(root: Path) -> FakeBoard:
    board = FakeBoard(root, {}, "POM_5V_IN")
    add_iio(board, "6-0040", "iio:device0",
            [("POM_5V_IN", 5000, 600), ("POM_5V_GPU", 5000, 100), ("POM_5V_CPU", 5000, 200)])
    return board


def xavier_nx(root: Path) -> FakeBoard:
    board = FakeBoard(root, {}, "VDD_IN")
    add_hwmon(board, "7-0040", "hwmon6", [("VDD_IN", 5000, 1500), ("VDD_CPU_GPU_CV", 5000, 400),
                                          ("VDD_SOC", 5000, 300)],
              under="drivers/ina3221", update_interval=7, samples=4)
    return board


def agx_xavier(root: Path) -> FakeBoard:
    board = FakeBoard(root, {}, None)
    add_hwmon(board, "1-0040", "hwmon1", [("GPU", 1000, 2000), ("CPU", 1000, 500), ("SOC", 1000, 1000)],
              under="drivers/ina3221")
    add_hwmon(board, "1-0041", "hwmon2", [("CV", 1000, 100), ("VDDRQ", 1000, 400), ("SYS5V", 5000, 400)],
              under="drivers/ina3221")
    return board


def agx_orin(root: Path) -> FakeBoard:
    """Monitors under devices/, listed again through drivers/ina3221 symlinks; an in7 sum channel and NC
    channels that must not become rails; no VDD_IN, so the total is the sum."""
    board = FakeBoard(root, {}, None)
    add_hwmon(board, "1-0040", "hwmon3", [("VDD_GPU_SOC", 20000, 200), ("VDD_CPU_CV", 20000, 50),
                                          ("VIN_SYS_5V0", 5000, 600)], sum_channel=True)
    add_hwmon(board, "1-0041", "hwmon4", [None, ("VDDQ_VDD2_1V8AO", 5000, 100), None],
              skipped=[(1, "NC"), (3, "NC")])
    link_driver(board, "1-0040")
    link_driver(board, "1-0041")
    return board


def thor(root: Path) -> FakeBoard:
    """One INA238 with power1_input in µW and no label file."""
    board = FakeBoard(root, {}, None)
    d = _i2c(root) / "devices" / "2-0040" / "hwmon" / "hwmon5"
    _write(d / "name", "ina238")
    _write(d / "in1_input", 19000)
    _write(d / "curr1_input", 1300)
    # the chip's own power register; deliberately not 19 V × 1.3 A, so reading V × I would show
    board.files["INA238 2-0040"] = {"power": _write(d / "power1_input", 24_500_000)}
    board.rails_w["INA238 2-0040"] = 24.5
    return board


def not_a_jetson(root: Path) -> FakeBoard:
    """An I2C bus with an unrelated hwmon chip (a temperature sensor) and no power monitor."""
    board = FakeBoard(root, {}, None)
    d = _i2c(root) / "devices" / "0-0048" / "hwmon" / "hwmon0"
    _write(d / "name", "lm75")
    _write(d / "temp1_input", 41000)
    _write(d / "in1_label", "VDD_IN")              # a label alone does not make a power monitor
    return board


BOARDS = {"tx1": tx1, "tx2": tx2, "nano": nano, "xavier_nx": xavier_nx, "agx_xavier": agx_xavier,
          "agx_orin": agx_orin, "thor": thor}


# -- tegrastats lines (shapes from jetson.md; the numbers are made up) ---------------------------------

TEGRASTATS_LINES = {
    "tx1": ("RAM 1500/3995MB (lfb 25x4MB) SWAP 0/1997MB (cached 0MB) IRAM 0/252kB(lfb 252kB) "
            "CPU [12%@1734,5%@1734,off,off] EMC_FREQ 4%@1600 GR3D_FREQ 0%@76 APE 25 AO@38C CPU@40.5C "
            "GPU@39C PLL@38C Tboard@35C Tdiode@37.25C PMIC@100C thermal@39.1C "
            "VDD_IN 2500/2700 VDD_CPU 80/170 VDD_GPU 20/20"),
    "tx2": ("RAM 2100/7860MB (lfb 1126x4MB) SWAP 0/3930MB (cached 0MB) CPU [1%@345,off,off,1%@345,0%@345,0%@345] "
            "EMC_FREQ 0% GR3D_FREQ 0% PLL@40C MCPU@40C PMIC@100C Tboard@35C GPU@38.5C BCPU@40C thermal@39.4C "
            "Tdiode@37.25C VDD_SYS_GPU 152/150 VDD_SYS_SOC 305/306 VDD_4V0_WIFI 0/0 VDD_IN 1650/1648 "
            "VDD_SYS_CPU 306/300 VDD_SYS_DDR 170/172"),
    "nano": ("RAM 1400/3964MB (lfb 437x4MB) SWAP 0/1982MB (cached 0MB) IRAM 0/252kB(lfb 252kB) "
             "CPU [3%@102,1%@102,0%@102,0%@102] EMC_FREQ 0%@204 GR3D_FREQ 0%@76 APE 25 PLL@29.5C CPU@32C "
             "PMIC@100C GPU@30C AO@37.5C thermal@31C POM_5V_IN 2000/2010 POM_5V_GPU 0/0 POM_5V_CPU 320/318"),
    "agx_xavier": ("RAM 1900/15692MB (lfb 3237x4MB) SWAP 0/7846MB (cached 0MB) "
                   "CPU [1%@1190,0%@1190,0%@1190,0%@1190,off,off,off,off] EMC_FREQ 0%@2133 GR3D_FREQ 0%@1377 "
                   "APE 150 MTS fg 0% bg 0% AO@33.5C GPU@34C Tdiode@36.25C PMIC@100C AUX@33C CPU@35C "
                   "thermal@34.05C Tboard@34C GPU 0/0 CPU 216/210 SOC 860/864 CV 0/0 VDDRQ 144/140 SYS5V 1890/1889"),
    "agx_orin_jp5": ("04-26-2023 12:00:00 RAM 2829/30536MB (lfb 6431x4MB) SWAP 0/15268MB (cached 0MB) "
                     "CPU [0%@729,0%@729,0%@729,0%@729,off,off,off,off] EMC_FREQ 0%@2133 GR3D_FREQ 0%@[0,0] "
                     "VIC_FREQ 729 APE 174 CV0@-256C CPU@44.5C SOC2@41.5C SOC0@42.5C CV1@-256C GPU@-256C "
                     "tj@44.5C SOC1@41.5C CV2@-256C VDD_GPU_SOC 2400mW/2300mW VDD_CPU_CV 400mW/450mW "
                     "VIN_SYS_5V0 3000mW/2900mW VDDQ_VDD2_1V8AO 500mW/500mW"),
    "agx_orin_recent": ("RAM 3000/62841MB (lfb 12x4MB) CPU [2%@2201,1%@2201] GR3D_FREQ 0%@[1300,1300] "
                        "cpu@45.1C soc0@43.2C VDD_GPU_SOC 5100mW/4900mW/6000mW "
                        "VDD_CPU_CV 3200mW/3100mW/3300mW VIN_SYS_5V0 5500mW/5400mW/5600mW"),
    "orin_nano_recent": ("RAM 2500/7620MB (lfb 2x4MB) CPU [5%@1510,4%@1510] GR3D_FREQ 0% cpu@47C soc2@45C "
                         "VDD_IN 7000mW/6500mW/9000mW VDD_CPU_GPU_CV 2000mW/1900mW/3000mW VDD_SOC 1500mW/1500mW/1600mW"),
}

# What a correct parser reads from each line: the *current* value, in watts.
TEGRASTATS_WATTS = {
    "tx1": {"VDD_IN": 2.5, "VDD_CPU": 0.08, "VDD_GPU": 0.02},
    "tx2": {"VDD_SYS_GPU": 0.152, "VDD_SYS_SOC": 0.305, "VDD_4V0_WIFI": 0.0, "VDD_IN": 1.65,
            "VDD_SYS_CPU": 0.306, "VDD_SYS_DDR": 0.17},
    "nano": {"POM_5V_IN": 2.0, "POM_5V_GPU": 0.0, "POM_5V_CPU": 0.32},
    "agx_xavier": {"GPU": 0.0, "CPU": 0.216, "SOC": 0.86, "CV": 0.0, "VDDRQ": 0.144, "SYS5V": 1.89},
    "agx_orin_jp5": {"VDD_GPU_SOC": 2.4, "VDD_CPU_CV": 0.4, "VIN_SYS_5V0": 3.0, "VDDQ_VDD2_1V8AO": 0.5},
    "agx_orin_recent": {"VDD_GPU_SOC": 5.1, "VDD_CPU_CV": 3.2, "VIN_SYS_5V0": 5.5},
    "orin_nano_recent": {"VDD_IN": 7.0, "VDD_CPU_GPU_CV": 2.0, "VDD_SOC": 1.5},
}

TEGRASTATS_TOTAL = {"tx1": (2.5, "VDD_IN"), "tx2": (1.65, "VDD_IN"), "nano": (2.0, "POM_5V_IN"),
                    "agx_xavier": (3.11, None), "agx_orin_jp5": (6.3, None), "agx_orin_recent": (13.8, None),
                    "orin_nano_recent": (7.0, "VDD_IN")}


def fake_tegrastats(directory: Path, lines: Sequence[str], *, exit_after: Optional[int] = None,
                    stderr: str = "", exit_code: int = 0) -> Path:
    """An executable ``tegrastats`` that prints ``lines`` in turn every ``--interval`` ms (forever, or
    ``exit_after`` lines), after writing its argv to ``argv.txt`` beside it."""
    import sys

    script = directory / "tegrastats"
    script.write_text(f"""#!{sys.executable}
import itertools, sys, time
open({str(directory / 'argv.txt')!r}, "w").write(" ".join(sys.argv[1:]))
if {stderr!r}:
    print({stderr!r}, file=sys.stderr, flush=True)
lines = {list(lines)!r}
interval = int(sys.argv[sys.argv.index("--interval") + 1]) / 1000
count = itertools.count() if {exit_after!r} is None else range({exit_after!r} or 0)
for n in count if lines else ():
    print(lines[n % len(lines)], flush=True)
    time.sleep(interval)
sys.exit({exit_code!r})
""")
    script.chmod(0o755)
    return script
