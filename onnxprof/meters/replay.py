"""Power recorded by another tool (a logging multimeter, a power analyser's export, a script reading
a sensor), replayed from a CSV of time and watts onto the harness's clock.

Columns, found by header name (case-insensitive; a unit may follow in brackets, ``time (ms)``,
``power [mW]``, or as a suffix, ``time_ms``, ``power_w``) unless named with ``time_column`` /
``power_column``:

- time: ``time``, ``t``, ``timestamp``, ``elapsed``, ``seconds``/``s`` — seconds; ``ms`` /
  ``milliseconds`` (also ``us``, ``ns``) are converted. A unit-less column whose first value is past
  1e11 is taken as Unix epoch milliseconds.
- power: ``power``, ``watts``, ``w``, ``p``, ``total`` — watts; ``mW`` / ``milliwatts`` converted.
- rails: any other column with a power unit (``VDD_GPU (mW)``, ``cpu_w``) or ``power``/``watt`` in its
  name, kept per sample under its name without the unit.

Alignment (the rule): harness time = CSV time − offset, where offset is the CSV clock's reading minus
the harness clock's (``base.clock``, ``time.perf_counter``).

- Times at or past 1e9 s (September 2001) are Unix epoch: offset = ``time.time() − clock()``, taken at
  ``open()``. The recorder's wall clock must agree with this machine's (same host, or NTP).
- Other times (seconds since the recorder started...) need ``clock_offset_s`` (CLI ``--replay-offset``).
- A given ``clock_offset_s`` always wins, also over epoch detection.

The file is already recorded, so there is no sampler thread: ``start()`` loads every reading into
``samples`` (``window()`` then works as for any meter); ``stop()`` reads the file again if it has grown
meanwhile, for a recorder still appending to it. Problems with the file are one line naming it.
"""

from __future__ import annotations

import csv
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

from onnxprof.meters.base import Meter, MeterUnavailable, Sample, clock

EPOCH_MIN_S = 1e9             # 2001-09-09: later timestamps are Unix epoch seconds
EPOCH_MS_MIN = 1e11           # a unit-less time column past this is epoch milliseconds

_TIME_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
               "ms": 1e-3, "msec": 1e-3, "millisecond": 1e-3, "milliseconds": 1e-3,
               "us": 1e-6, "µs": 1e-6, "microseconds": 1e-6, "ns": 1e-9, "nanoseconds": 1e-9}
_POWER_UNITS = {"w": 1.0, "watt": 1.0, "watts": 1.0, "mw": 1e-3, "milliwatt": 1e-3, "milliwatts": 1e-3}
_TIME_NAMES = {"", "time", "t", "timestamp", "elapsed", "epoch", "unix_time", "time_since_start"}
_POWER_NAMES = {"", "power", "p", "total", "total_power", "power_total"}

_BRACKETED = re.compile(r"(.*?)\s*[(\[]\s*([^()\[\]\s]+)\s*[)\]]\s*", re.IGNORECASE)
_SUFFIXED = re.compile(r"(.*?)[\s_\-.]+([a-zµ]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    name: str                 # the header without its unit
    scale: float              # multiply by this for seconds or watts


@dataclass(frozen=True)
class Trace:
    """A parsed CSV: readings on the file's own clock."""

    times_s: tuple[float, ...]
    power_w: tuple[Optional[float], ...]
    rails_w: tuple[dict[str, float], ...]
    time_column: Column
    power_column: Column
    rail_columns: tuple[Column, ...]

    @property
    def epoch(self) -> bool:
        return bool(self.times_s) and self.times_s[0] >= EPOCH_MIN_S


def _split_unit(header: str) -> tuple[str, Optional[str]]:
    """('VDD_GPU', 'mw') from 'VDD_GPU (mW)' or 'VDD_GPU_mW'; a bare unit ('ms', 'W') has name ''."""
    text = header.strip()
    lowered = text.lower()
    if lowered in _TIME_UNITS or lowered in _POWER_UNITS:
        return "", lowered
    match = _BRACKETED.fullmatch(text)
    if match:
        return match.group(1).strip(), match.group(2).lower()
    match = _SUFFIXED.fullmatch(text)
    if match and (match.group(2).lower() in _TIME_UNITS or match.group(2).lower() in _POWER_UNITS):
        return match.group(1).strip(), match.group(2).lower()
    return text, None


def _norm(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _time_scale(name: str, unit: Optional[str]) -> Optional[float]:
    name = _norm(name)
    if unit is None:
        return 1.0 if name in _TIME_NAMES - {""} else None
    return _TIME_UNITS.get(unit) if name in _TIME_NAMES else None


def _power_scale(name: str, unit: Optional[str]) -> Optional[float]:
    name = _norm(name)
    if unit is None:
        return 1.0 if name in (_POWER_NAMES | {"watts", "w"}) - {""} else None
    return _POWER_UNITS.get(unit) if name in _POWER_NAMES else None


def _rail_scale(name: str, unit: Optional[str]) -> Optional[float]:
    if unit in _POWER_UNITS:
        return _POWER_UNITS[unit]
    if unit is None and ("power" in name.lower() or "watt" in name.lower()):
        return 1.0
    return None


def _pick(headers: list[str], wanted: Optional[str], kind: str, scale_of, path: Path) -> Column:
    if wanted is not None:
        units = _TIME_UNITS if kind == "time" else _POWER_UNITS
        for i, header in enumerate(headers):
            if header.strip().lower() == wanted.strip().lower():
                name, unit = _split_unit(header)   # a named column: its unit where it has one, else s / W
                return Column(i, header, name or header.strip(), units.get(unit or "", 1.0))
        raise MeterUnavailable(f"{path}: no column named {wanted!r} (columns: {', '.join(headers)})")
    for i, header in enumerate(headers):
        name, unit = _split_unit(header)
        scale = scale_of(name, unit)
        if scale is not None:
            return Column(i, header, name or header.strip(), scale)
    raise MeterUnavailable(f"{path}: no {kind} column (columns: {', '.join(headers) or 'none'}); "
                           f"name the {kind} column explicitly")


def _number(cell: str) -> Optional[float]:
    cell = cell.strip()
    if not cell:
        return None
    return float(cell)


def load_trace(path: Union[str, Path], time_column: Optional[str] = None,
               power_column: Optional[str] = None) -> Trace:
    """Parse a CSV of time and power. Raises MeterUnavailable, one line naming the file, when it is
    missing, unparsable, lacks a time or power column, or its times go backwards."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except FileNotFoundError:
        raise MeterUnavailable(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MeterUnavailable(f"{path}: cannot read it ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise MeterUnavailable(f"{path}: empty file (expected a header row and readings)")
    try:
        dialect = csv.Sniffer().sniff(lines[0][1], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        rows = list(csv.reader([line for _, line in lines], delimiter=delimiter))
    except csv.Error as exc:
        raise MeterUnavailable(f"{path}: not a CSV file ({exc})") from None
    headers = [h.strip() for h in rows[0]]
    if all(_is_number(h) for h in headers if h):
        raise MeterUnavailable(f"{path}: no header row (expected column names such as time,power_w)")
    tcol = _pick(headers, time_column, "time", _time_scale, path)
    pcol = _pick(headers, power_column, "power", _power_scale, path)
    if tcol.index == pcol.index:
        raise MeterUnavailable(f"{path}: column {tcol.header!r} cannot be both time and power")
    rails = []
    for i, header in enumerate(headers):
        if i in (tcol.index, pcol.index):
            continue
        name, unit = _split_unit(header)
        scale = _rail_scale(name, unit)
        if scale is not None:
            rails.append(Column(i, header, name or header, scale))

    times: list[float] = []
    powers: list[Optional[float]] = []
    rails_w: list[dict[str, float]] = []
    for (lineno, _), row in zip(lines[1:], rows[1:]):
        def cell(col: Column) -> Optional[float]:
            if col.index >= len(row):
                return None
            try:
                value = _number(row[col.index])
            except ValueError:
                raise MeterUnavailable(f"{path}: line {lineno}: {row[col.index].strip()!r} in column "
                                       f"{col.header!r} is not a number") from None
            return None if value is None else value * col.scale
        t = cell(tcol)
        if t is None:
            raise MeterUnavailable(f"{path}: line {lineno}: no time in column {tcol.header!r}")
        if times and t < times[-1]:
            raise MeterUnavailable(f"{path}: line {lineno}: times go backwards ({t:g} s after {times[-1]:g} s)")
        times.append(t)
        powers.append(cell(pcol))
        rails_w.append({col.name: v for col in rails if (v := cell(col)) is not None})
    if not any(p is not None for p in powers):
        raise MeterUnavailable(f"{path}: no power readings in column {pcol.header!r}")
    # a unit-less time column holding epoch milliseconds (past year 5000 as seconds)
    if times[0] >= EPOCH_MS_MIN and _split_unit(tcol.header)[1] is None:
        times = [t * 1e-3 for t in times]
        tcol = Column(tcol.index, tcol.header, tcol.name, tcol.scale * 1e-3)
    return Trace(tuple(times), tuple(powers), tuple(rails_w), tcol, pcol, tuple(rails))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class ReplayMeter(Meter):
    name = "replay"
    nominal_rate_hz = 10.0          # replaced by the file's own rate once loaded

    def __init__(self, path: Union[str, Path], time_column: Optional[str] = None,
                 power_column: Optional[str] = None, clock_offset_s: Optional[float] = None):
        super().__init__()
        self.path = Path(path)
        self.time_column = time_column
        self.power_column = power_column
        self.clock_offset_s = clock_offset_s
        self.offset_s: Optional[float] = None     # CSV clock − harness clock, fixed at open()
        self.trace: Optional[Trace] = None
        self._stamp: Optional[tuple[float, int]] = None

    def open(self) -> None:
        trace = load_trace(self.path, self.time_column, self.power_column)
        if self.clock_offset_s is not None:
            self.offset_s = float(self.clock_offset_s)
        elif trace.epoch:
            self.offset_s = time.time() - clock()
        else:
            raise MeterUnavailable(
                f"{self.path}: times are not Unix epoch (first {trace.times_s[0]:g} s): give the CSV clock's "
                f"offset from the harness clock (--replay-offset)")
        self._install(trace)

    def _install(self, trace: Trace) -> None:
        offset = self.offset_s
        samples = [Sample(t - offset, p, rails) for t, p, rails in zip(trace.times_s, trace.power_w, trace.rails_w)]
        with self._lock:
            self.samples = samples
        self.trace = trace
        span = trace.times_s[-1] - trace.times_s[0]
        if len(samples) > 1 and span > 0:
            self.nominal_rate_hz = (len(samples) - 1) / span
        try:
            st = os.stat(self.path)
            self._stamp = (st.st_mtime, st.st_size)
        except OSError:
            self._stamp = None

    def read(self) -> Sample:
        raise RuntimeError("a replayed CSV has no live readings: use start() and window()")

    def start(self) -> None:
        self.open()

    def stop(self) -> None:
        """Read the file again if a recorder has appended to it since start(); a failure then keeps
        the readings already loaded and is recorded in ``errors``."""
        try:
            st = os.stat(self.path)
            grown = self._stamp is None or (st.st_mtime, st.st_size) != self._stamp
        except OSError:
            grown = False
        if grown and self.offset_s is not None:
            try:
                self._install(load_trace(self.path, self.time_column, self.power_column))
            except MeterUnavailable as exc:
                with self._lock:
                    self.errors.append((clock(), str(exc)))
        self.close()

    def describe(self) -> str:
        trace = self.trace
        if trace is None:
            return f"replay of {self.path}: not loaded"
        span = trace.times_s[-1] - trace.times_s[0]
        rails = f", rails {', '.join(c.name for c in trace.rail_columns)}" if trace.rail_columns else ""
        if self.clock_offset_s is not None:
            clock_rule = f"given offset {self.offset_s:g} s (harness t = CSV t − offset)"
        else:
            clock_rule = "Unix epoch, offset time.time() − perf_counter() at open"
        return (f"replay of {self.path}: {len(trace.times_s)} readings over {span:.3f} s "
                f"(~{self.nominal_rate_hz:.1f} Hz), time {trace.time_column.header!r}, "
                f"power {trace.power_column.header!r}{rails}; clock: {clock_rule}")
