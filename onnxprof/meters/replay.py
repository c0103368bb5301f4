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

The file is already recorded, so there is no sampler thread: ``start()`` loads every reading, one row
at a time into arrays of 8-byte floats (10 million rows: 160 MB, not the 3.8 GB of a list of samples);
``samples`` shows them as Samples on the harness clock, and ``window()`` reads only those a window
needs. ``stop()`` reads the file again if it has grown meanwhile, for a recorder still appending to it.
Problems with the file are one line naming it (and the line): a value that is not a finite number
(NaN, inf) is one of them.
"""

from __future__ import annotations

import csv
import math
import os
import re
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Optional, Sequence, TextIO, Union, overload

import numpy as np

from onnxprof.files import regular_file
from onnxprof.meters.base import Meter, MeterUnavailable, PowerWindow, Sample, clock, window_figures

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
    """A parsed CSV: readings on the file's own clock, 8 bytes a value (NaN: no reading in that cell)."""

    times_s: np.ndarray                    # float64, never decreasing
    power_w: np.ndarray                    # float64
    rails_w: Mapping[str, np.ndarray]      # rail name -> float64, one value a reading
    time_column: Column
    power_column: Column
    rail_columns: tuple[Column, ...]

    @property
    def epoch(self) -> bool:
        return bool(len(self.times_s)) and self.times_s[0] >= EPOCH_MIN_S


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
    """The cell's value; None when empty. ValueError for text, and for NaN and infinities: a reading is finite."""
    cell = cell.strip()
    if not cell:
        return None
    value = float(cell)
    if not math.isfinite(value):
        raise ValueError(cell)
    return value


def _lines(handle: TextIO, where: list[int]) -> Iterator[str]:
    """The file's lines but blank ones and ``#`` comments, one at a time; ``where[0]`` is the number of
    the line given last (the CSV reader takes one line a row)."""
    for number, line in enumerate(handle, 1):
        if line.strip() and not line.lstrip().startswith("#"):
            where[0] = number
            yield line


def load_trace(path: Union[str, Path], time_column: Optional[str] = None,
               power_column: Optional[str] = None) -> Trace:
    """Parse a CSV of time and power, one row at a time (memory: 8 bytes a value, however long the
    file). Raises MeterUnavailable, one line naming the file (and line), when it is missing,
    unparsable, lacks a time or power column, holds a value that is not a finite number, or its times
    go backwards."""
    path = regular_file(path, "a CSV of time and watts", MeterUnavailable)    # a FIFO would block the read
    try:
        with open(path, encoding="utf-8-sig", errors="strict", newline="") as handle:
            return _parse(handle, path, time_column, power_column)
    except FileNotFoundError:
        raise MeterUnavailable(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MeterUnavailable(f"{path}: cannot read it ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    except csv.Error as exc:
        raise MeterUnavailable(f"{path}: not a CSV file ({exc})") from None


def _parse(handle: TextIO, path: Path, time_column: Optional[str], power_column: Optional[str]) -> Trace:
    where = [0]
    lines = _lines(handle, where)
    first = next(lines, None)
    if first is None:
        raise MeterUnavailable(f"{path}: empty file (expected a header row and readings)")
    try:
        delimiter = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    headers = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
    if all(_is_number(h) for h in headers if h):
        raise MeterUnavailable(f"{path}: no header row (expected column names such as time,power_w)")
    tcol = _pick(headers, time_column, "time", _time_scale, path)
    pcol = _pick(headers, power_column, "power", _power_scale, path)
    if tcol.index == pcol.index:
        raise MeterUnavailable(f"{path}: column {tcol.header!r} cannot be both time and power")
    rails = _rail_columns(headers, (tcol.index, pcol.index))
    times, powers = array("d"), array("d")
    rail_values = {col.name: array("d") for col in rails}
    for row in csv.reader(lines, delimiter=delimiter):
        lineno = where[0]
        t = _cell(row, tcol, path, lineno)
        if t is None:
            raise MeterUnavailable(f"{path}: line {lineno}: no time in column {tcol.header!r}")
        if times and t < times[-1]:
            raise MeterUnavailable(f"{path}: line {lineno}: times go backwards ({t:g} s after {times[-1]:g} s)")
        times.append(t)
        p = _cell(row, pcol, path, lineno)
        powers.append(math.nan if p is None else p)
        for col in rails:
            v = _cell(row, col, path, lineno)
            rail_values[col.name].append(math.nan if v is None else v)
    power_w = np.frombuffer(powers, dtype=np.float64)
    if np.isnan(power_w).all():
        raise MeterUnavailable(f"{path}: no power readings in column {pcol.header!r}")
    times_s = np.frombuffer(times, dtype=np.float64)
    # a unit-less time column holding epoch milliseconds (past year 5000 as seconds)
    if times_s[0] >= EPOCH_MS_MIN and _split_unit(tcol.header)[1] is None:
        times_s = times_s * 1e-3
        tcol = Column(tcol.index, tcol.header, tcol.name, tcol.scale * 1e-3)
    return Trace(times_s, power_w,
                 {name: np.frombuffer(values, dtype=np.float64) for name, values in rail_values.items()},
                 tcol, pcol, tuple(rails))


def _rail_columns(headers: list[str], taken: tuple[int, ...]) -> list[Column]:
    rails = []
    for i, header in enumerate(headers):
        if i in taken:
            continue
        name, unit = _split_unit(header)
        scale = _rail_scale(name, unit)
        if scale is not None:
            rails.append(Column(i, header, name or header, scale))
    return rails


def _cell(row: list[str], col: Column, path: Path, lineno: int) -> Optional[float]:
    """The row's value in ``col`` (scaled to seconds or watts); None when the row has none."""
    if col.index >= len(row):
        return None
    try:
        value = _number(row[col.index])
    except ValueError:
        cell = row[col.index].strip()
        what = "a finite number" if _is_number(cell) else "a number"
        raise MeterUnavailable(f"{path}: line {lineno}: {cell!r} in column {col.header!r} is not {what}") from None
    return None if value is None else value * col.scale


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
        samples = _Samples(trace, self.offset_s)
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

    def window(self, start_s: float, end_s: float, min_rate_hz: Optional[float] = None) -> PowerWindow:
        """As for any meter, from only the readings the window needs: those inside it and the nearest
        one on each side (the same figures as from all of them, without making millions of samples)."""
        with self._lock:
            samples = self.samples
            errors = [reason for t, reason in self.errors if start_s <= t <= end_s]
        near = samples.around(start_s, end_s) if isinstance(samples, _Samples) else list(samples)
        return window_figures(near, start_s, end_s, errors, min_rate_hz)

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
        return (f"replay of {self.path}: {len(trace.times_s)} readings over {float(span):.3f} s "
                f"(~{self.nominal_rate_hz:.1f} Hz), time {trace.time_column.header!r}, "
                f"power {trace.power_column.header!r}{rails}; clock: {clock_rule}")


class _Samples(Sequence[Sample]):
    """A trace's readings as Samples on the harness clock (harness t = CSV t − offset), made on demand."""

    def __init__(self, trace: Trace, offset_s: float):
        self._t = trace.times_s - offset_s
        self._power = trace.power_w
        self._rails = trace.rails_w
        self._valid = None if not np.isnan(self._power).any() else np.flatnonzero(~np.isnan(self._power))

    def __len__(self) -> int:
        return len(self._t)

    @overload
    def __getitem__(self, index: int) -> Sample: ...

    @overload
    def __getitem__(self, index: slice) -> list[Sample]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._sample(i) for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(index)
        return self._sample(index % len(self))

    def _sample(self, i: int) -> Sample:
        power = float(self._power[i])
        rails = {name: float(values[i]) for name, values in self._rails.items() if not math.isnan(values[i])}
        return Sample(float(self._t[i]), None if math.isnan(power) else power, rails)

    def around(self, start_s: float, end_s: float) -> list[Sample]:
        """The readings with power in [start_s, end_s] and the nearest one with power on each side."""
        t = self._t if self._valid is None else self._t[self._valid]
        first = max(int(np.searchsorted(t, start_s, side="left")) - 1, 0)
        last = min(int(np.searchsorted(t, end_s, side="right")) + 1, len(t))
        rows = range(first, last) if self._valid is None else self._valid[first:last]
        return [self._sample(int(i)) for i in rows]
