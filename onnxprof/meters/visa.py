"""Lab instruments over VISA, as in the paper: a Keysight E3645A supply's own readback and an
InfiniiVision 2000/3000 X oscilloscope with a current probe.

pyvisa is imported inside ``open()`` (DESIGN style 5); without it a meter says which extra to install.
Every call to an instrument is bounded by the resource timeout, so a silent instrument costs a failed
reading (the sampler records the reason), never a hung run. Neither meter ever switches a supply's
output or changes its settings.

The scope takes whole acquisitions, not point readings: one ``read()`` returns an
``AcquisitionSample`` — the acquisition's mean power at its midpoint, plus the interval it covers.
``VisaScopeMeter.window()`` integrates those intervals as they are (energy = mean × the part of the
acquisition inside the window), so a window made of whole consecutive acquisitions is integrated
exactly, whatever their number; only the dead time between acquisitions (the transfer) is
interpolated, linearly from the neighbouring means, and a window the scope observed less than half of
says so.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, replace
from typing import Optional, Sequence

import numpy as np

from onnxprof.errors import UsageError, first_line
from onnxprof.meters.base import Meter, MeterUnavailable, PowerWindow, Sample, clock, window_figures

INSTALL_HINT = "pip install 'onnxprof[visa]'"
SCPI_OVERFLOW = 9.9e37            # SCPI "no valid value" (overflow / measurement not possible)
CURRENT_NOISE_A = 0.005           # a supply reading a little below zero at no load is noise, not a fault
VOLTAGE_NOISE_V = 0.01
SCOPE_TRANSFER_S = 0.05           # digitize set-up + preamble + a 1000-point transfer, roughly
SCOPE_QUICK_S = 0.02              # one :MEASure query
MIN_COVERAGE = 0.5                # a window the scope observed less of than this is said


# -- pure helpers: IEEE 488.2 blocks, preambles, waveform conversion -----------------------------

def parse_ieee_block(raw: bytes) -> bytes:
    """The payload of an IEEE 488.2 definite-length block ``#<d><len><payload>`` (a trailing line
    terminator is allowed). Truncated or malformed data raises ValueError."""
    data = bytes(raw).lstrip(b" \t\r\n")
    if not data.startswith(b"#"):
        raise ValueError(f"not an IEEE 488.2 block (starts {data[:12]!r})")
    if len(data) < 2 or not data[1:2].isdigit():
        raise ValueError("IEEE 488.2 block header has no digit count")
    digits = int(data[1:2])
    if digits == 0:
        raise ValueError("indefinite-length IEEE 488.2 blocks (#0) are not supported")
    length_field = data[2:2 + digits]
    if len(length_field) < digits or not length_field.isdigit():
        raise ValueError(f"IEEE 488.2 block length field {length_field!r} is not {digits} digits")
    length = int(length_field)
    start = 2 + digits
    payload = data[start:start + length]
    if len(payload) < length:
        raise ValueError(f"truncated IEEE 488.2 block: {len(payload)} of {length} bytes")
    trailer = data[start + length:]
    if trailer.strip(b"\r\n"):
        raise ValueError(f"{len(trailer)} unexpected bytes after the IEEE 488.2 block")
    return payload


_FORMATS = {0: "BYTE", 1: "WORD", 4: "ASCii"}
_TYPES = {0: "NORMal", 1: "PEAK", 2: "AVERage", 3: "HRESolution"}


@dataclass(frozen=True)
class Preamble:
    """``:WAVeform:PREamble?`` of an InfiniiVision scope."""

    format: str            # BYTE, WORD or ASCii
    type: str              # NORMal, PEAK, AVERage, HRESolution
    points: int
    count: int
    xincrement: float      # seconds per point
    xorigin: float
    xreference: float
    yincrement: float      # units per code
    yorigin: float
    yreference: float

    @property
    def duration_s(self) -> float:
        return self.points * self.xincrement


def parse_preamble(text: str) -> Preamble:
    """Ten comma-separated fields: format, type, points, count, xincrement, xorigin, xreference,
    yincrement, yorigin, yreference."""
    fields = [f.strip() for f in str(text).strip().split(",")]
    if len(fields) != 10:
        raise ValueError(f"waveform preamble has {len(fields)} fields, not 10: {str(text).strip()[:80]!r}")
    try:
        numbers = [float(f) for f in fields]
    except ValueError:
        raise ValueError(f"waveform preamble is not numeric: {str(text).strip()[:80]!r}") from None
    if not all(math.isfinite(x) for x in numbers):
        raise ValueError("waveform preamble has a non-finite field")
    fmt, typ = int(numbers[0]), int(numbers[1])
    if fmt not in _FORMATS:
        raise ValueError(f"unknown waveform format code {fmt}")
    points, count = int(numbers[2]), int(numbers[3])
    if points <= 0 or numbers[4] <= 0:
        raise ValueError(f"waveform preamble has {points} points of {numbers[4]} s")
    return Preamble(_FORMATS[fmt], _TYPES.get(typ, str(typ)), points, count, *numbers[4:])


def waveform_values(payload: bytes, preamble: Preamble, byte_order: str = "MSBFirst",
                    unsigned: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(times s, values) of a ``:WAVeform:DATA?`` payload: value = (code − yreference) × yincrement +
    yorigin, time = (i − xreference) × xincrement + xorigin. BYTE is 8-bit and WORD 16-bit codes
    (byte order as set by ``:WAVeform:BYTeorder``); ASCii is already in units."""
    if preamble.format == "ASCii":
        text = bytes(payload).decode("ascii", errors="replace").strip().rstrip(",")
        try:
            values = np.array([float(v) for v in text.split(",")] if text else [], dtype=np.float64)
        except ValueError:
            raise ValueError(f"ASCii waveform data is not numeric: {text[:40]!r}") from None
    else:
        if preamble.format == "BYTE":
            dtype = np.dtype(np.uint8 if unsigned else np.int8)
        elif preamble.format == "WORD":
            order = ">" if byte_order.upper().startswith("MSBF") else "<"
            dtype = np.dtype(f"{order}{'u' if unsigned else 'i'}2")
        else:
            raise ValueError(f"unsupported waveform format {preamble.format}")
        if len(payload) % dtype.itemsize:
            raise ValueError(f"{len(payload)} bytes is not a whole number of {preamble.format} points")
        codes = np.frombuffer(bytes(payload), dtype=dtype).astype(np.float64)
        values = (codes - preamble.yreference) * preamble.yincrement + preamble.yorigin
    if len(values) != preamble.points:
        raise ValueError(f"waveform has {len(values)} points, the preamble says {preamble.points}")
    times = (np.arange(len(values), dtype=np.float64) - preamble.xreference) * preamble.xincrement + preamble.xorigin
    return times, values


def parse_number(reply: str, what: str) -> float:
    """A SCPI NR1/NR2/NR3 reply as a float; garbage, NaN and the 9.9E37 overflow value raise."""
    text = str(reply).strip()
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} answered {text[:40]!r}, not a number") from None
    if math.isnan(value):
        raise ValueError(f"{what} answered NaN")
    if abs(value) >= SCPI_OVERFLOW or math.isinf(value):
        raise ValueError(f"{what} answered {text} (overflow: no valid measurement)")
    return value


def check_error_queue(reply: str, who: str) -> None:
    """``SYST:ERR?`` answers ``+0,"No error"``; anything else raises with the instrument's words."""
    text = str(reply).strip()
    match = re.match(r"^\s*([+-]?\d+)\s*(?:,|$)", text)
    if match is None:
        raise ValueError(f"{who} SYST:ERR? answered {text[:60]!r}")
    if int(match.group(1)) != 0:
        raise RuntimeError(f"{who} reports error {text}")


# -- opening a resource --------------------------------------------------------------------------

def _open_resource(who: str, resource: str, backend: str, timeout_ms: int, resource_manager):
    """(resource manager we created or None, open resource). MeterUnavailable when pyvisa, the
    backend or the instrument is not there."""
    try:
        import pyvisa
    except ImportError:
        raise MeterUnavailable(f"{who} needs pyvisa: {INSTALL_HINT}") from None
    owned = None
    rm = resource_manager
    if rm is None:
        try:
            rm = owned = pyvisa.ResourceManager(backend)
        except Exception as exc:  # backend library missing (pyvisa-py, NI-VISA ...)
            raise MeterUnavailable(f"{who}: no VISA backend {backend!r} ({first_line(exc)}): {INSTALL_HINT}") from None
    try:
        res = rm.open_resource(resource, open_timeout=timeout_ms)
        res.timeout = timeout_ms
        res.read_termination = "\n"
        res.write_termination = "\n"
    except Exception as exc:
        if owned is not None:
            owned.close()
        raise MeterUnavailable(f"{who}: cannot open {resource} ({first_line(exc)})") from None
    return owned, res


def _identify(who: str, resource: str, res) -> str:
    """The ``*IDN?`` answer; MeterUnavailable when there is none (a missing instrument times out or,
    on some backends, answers nothing)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")          # pyvisa warns about an unterminated (empty) reply
            idn = res.query("*IDN?").strip()
    except Exception as exc:
        raise MeterUnavailable(f"{who}: {resource} does not answer *IDN? ({first_line(exc)})") from None
    if not idn:
        raise MeterUnavailable(f"{who}: {resource} does not answer *IDN?")
    return idn


def _safe_close(res, rm) -> None:
    for thing in (res, rm):
        if thing is not None:
            try:
                thing.close()
            except Exception:
                pass


# -- the supply --------------------------------------------------------------------------------

class VisaSupplyMeter(Meter):
    """A Keysight E3645A (E364xA) supply's readback: ``MEAS:VOLT?`` × ``MEAS:CURR?``, ~12 Hz in the
    paper. Only queries and ``*CLS`` are sent: the output and its settings are never touched."""

    name = "visa-supply"
    nominal_rate_hz = 12.0

    def __init__(self, resource: str, backend: str = "@py", timeout_ms: int = 2000, resource_manager=None,
                 check_errors: bool = True, interval_s: Optional[float] = None):
        super().__init__(interval_s)
        self.resource, self.backend, self.timeout_ms = resource, backend, timeout_ms
        self.check_errors = check_errors
        self._rm_given = resource_manager
        self._rm = None
        self._res = None
        self.idn = ""
        self.last_voltage_v: Optional[float] = None

    def open(self) -> None:
        self._rm, self._res = _open_resource(self.name, self.resource, self.backend, self.timeout_ms, self._rm_given)
        try:
            self.idn = _identify(self.name, self.resource, self._res)
            self._res.write("*CLS")
        except MeterUnavailable:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise MeterUnavailable(f"{self.name}: {self.resource} does not take *CLS ({first_line(exc)})") from None

    def read(self) -> Sample:
        res = self._res
        if res is None:
            raise RuntimeError(f"{self.name} is not open")
        try:
            began = clock()
            volts = parse_number(res.query("MEAS:VOLT?"), "MEAS:VOLT?")
            amps = parse_number(res.query("MEAS:CURR?"), "MEAS:CURR?")
            ended = clock()
            if self.check_errors:
                check_error_queue(res.query("SYST:ERR?"), self.resource)
        except Exception as exc:
            if "TMO" in str(exc) or "imeout" in str(exc):
                self._clear()
            raise
        if volts < -VOLTAGE_NOISE_V:
            raise ValueError(f"MEAS:VOLT? answered {volts} V, below zero")
        if amps < -CURRENT_NOISE_A:
            raise ValueError(f"MEAS:CURR? answered {amps} A, below zero")
        self.last_voltage_v = volts
        watts = volts * amps
        return Sample(t=(began + ended) / 2, power_w=watts, rails_w={"supply": watts})

    def _clear(self) -> None:
        """After a timeout a late reply would answer the next query: clear the device's buffers."""
        try:
            self._res.clear()
        except Exception:
            pass

    def close(self) -> None:
        _safe_close(self._res, self._rm)
        self._res = self._rm = None

    def describe(self) -> str:
        return f"{self.name} {self.resource}: {self.idn or 'not opened'} (MEAS:VOLT? × MEAS:CURR?)"


# -- the scope ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class AcquisitionSample(Sample):
    """One scope acquisition: ``power_w`` is its mean power, ``t`` its midpoint, and it covers
    [start_s, end_s] on the harness clock, so energy = power_w × duration_s exactly."""

    start_s: float = 0.0
    end_s: float = 0.0
    peak_w: Optional[float] = None
    point_rate_hz: Optional[float] = None     # the scope's sample rate within the acquisition

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def acquisition_window(samples: Sequence[Sample], start_s: float, end_s: float, errors: Sequence[str] = (),
                       min_rate_hz: Optional[float] = None) -> PowerWindow:
    """Window figures from whole acquisitions. Power is each acquisition's mean over its interval and
    is interpolated linearly across the dead time between acquisitions (held before the first and after
    the last); energy is the exact integral of that over [start_s, end_s]. Pure: tested on synthetic
    acquisitions."""
    figures = window_figures(samples, start_s, end_s, errors)
    acqs = sorted((s for s in samples if isinstance(s, AcquisitionSample) and s.power_w is not None),
                  key=lambda s: s.start_s)
    if not acqs:
        return figures
    if not (any(a.start_s <= end_s for a in acqs) and any(a.end_s >= start_s for a in acqs)):
        return replace(figures, missing=errors[0] if errors else "no acquisition covers this window")
    duration = max(end_s - start_s, 1e-12)
    # flat segments over acquisitions, ramps across the gaps (overlapping estimates are clipped),
    # held before the first and after the last
    segments: list[tuple[float, float, float, float]] = []      # (t0, t1, W at t0, W at t1)
    covered = 0.0
    overlapping: list[AcquisitionSample] = []
    first = acqs[0]
    segments.append((min(start_s, first.start_s), first.start_s, first.power_w, first.power_w))
    last_end, last_w = -math.inf, None
    for a in acqs:
        a_start = max(a.start_s, last_end)
        a_end = max(a.end_s, a_start)
        if last_w is not None:
            segments.append((last_end, a_start, last_w, a.power_w))
        segments.append((a_start, a_end, a.power_w, a.power_w))
        covered += max(0.0, min(a_end, end_s) - max(a_start, start_s))
        if a_end > start_s and a_start < end_s:
            overlapping.append(a)
        last_end, last_w = a_end, a.power_w
    segments.append((last_end, max(end_s, last_end), last_w, last_w))
    energy = sum(_linear_integral(seg, start_s, end_s) for seg in segments)
    warnings = [w for w in figures.warnings if not w.startswith("only ")]
    coverage = covered / duration
    if not overlapping:
        warnings.append("no acquisition overlaps this window: its power is interpolated between acquisitions")
    elif coverage < MIN_COVERAGE:
        warnings.append(f"the scope observed {100 * coverage:.0f} % of this window; "
                        "the gaps between acquisitions are interpolated")
    rates = [a.point_rate_hz for a in overlapping if a.point_rate_hz]
    if min_rate_hz is not None and rates and min(rates) < min_rate_hz:
        warnings.append(f"{min(rates):.1f} Hz is below the {min_rate_hz:g} Hz this load needs to be resolved")
    peaks = [a.peak_w if a.peak_w is not None else a.power_w for a in overlapping]
    return replace(figures, mean_w=energy / duration, energy_j=energy, peak_w=max(peaks, default=figures.peak_w),
                   method="acquisition mean × duration", warnings=tuple(warnings), missing="")


def _linear_integral(segment: tuple[float, float, float, float], lo: float, hi: float) -> float:
    """∫ over [lo, hi] ∩ [t0, t1] of the line from (t0, p0) to (t1, p1)."""
    t0, t1, p0, p1 = segment
    a, b = max(t0, lo), min(t1, hi)
    if b <= a:
        return 0.0
    slope = (p1 - p0) / (t1 - t0)
    return (b - a) * (p0 + slope * (a - t0) + p0 + slope * (b - t0)) / 2


class VisaScopeMeter(Meter):
    """An InfiniiVision 2000/3000 X scope with a current probe on ``channel`` (read in amps). Power is
    current × ``voltage_v`` or × the supply meter's last measured voltage.

    Full path: ``:DIGitize``, ``:WAVeform:PREamble?``, ``:WAVeform:DATA?`` — the waveform's mean power
    over the acquisition. Quick path (``quick=True``): ``:MEASure:VAVerage?`` over the screen (ten
    divisions). Either way each reading is an ``AcquisitionSample`` covering its interval, and
    ``window()`` integrates mean × duration (see ``acquisition_window``)."""

    name = "visa-scope"

    def __init__(self, resource: str, channel: int = 1, voltage_v: Optional[float] = None,
                 supply: Optional[VisaSupplyMeter] = None, timebase_s_per_div: float = 0.01, quick: bool = False,
                 backend: str = "@py", timeout_ms: int = 5000, resource_manager=None,
                 waveform_format: str = "BYTE", points: int = 1000, byte_order: str = "MSBFirst",
                 interval_s: Optional[float] = None):
        if voltage_v is None and supply is None:
            raise UsageError("visa-scope measures current only: give the supply voltage or a supply meter")
        fmt = {"BYTE": "BYTE", "WORD": "WORD", "ASCII": "ASCii"}.get(waveform_format.upper())
        if fmt is None:
            raise UsageError(f"waveform format {waveform_format!r}: use BYTE, WORD or ASCii")
        if timebase_s_per_div <= 0 or points <= 0 or channel < 1:
            raise UsageError("visa-scope needs a positive timebase, point count and channel number")
        self.nominal_rate_hz = 1.0 / (10 * timebase_s_per_div + (SCOPE_QUICK_S if quick else SCOPE_TRANSFER_S))
        super().__init__(interval_s)
        self.resource, self.channel, self.voltage_v, self.supply = resource, channel, voltage_v, supply
        self.timebase_s_per_div, self.quick, self.backend, self.timeout_ms = timebase_s_per_div, quick, backend, timeout_ms
        self.waveform_format, self.points, self.byte_order = fmt, points, byte_order
        self._rm_given = resource_manager
        self._rm = None
        self._res = None
        self.idn = ""
        self.last_waveform: Optional[tuple[np.ndarray, np.ndarray]] = None   # (times s, current A)

    def open(self) -> None:
        self._rm, self._res = _open_resource(self.name, self.resource, self.backend, self.timeout_ms, self._rm_given)
        try:
            self.idn = _identify(self.name, self.resource, self._res)
        except MeterUnavailable:
            self.close()
            raise
        ch = f"CHANnel{self.channel}"
        commands = [f":{ch}:DISPlay ON", f":TIMebase:SCALe {self.timebase_s_per_div:g}"]
        if self.quick:
            commands.append(":RUN")
        else:
            commands += [f":WAVeform:SOURce {ch}", f":WAVeform:FORMat {self.waveform_format}"]
            if self.waveform_format == "WORD":
                commands.append(f":WAVeform:BYTeorder {self.byte_order}")
            if self.waveform_format != "ASCii":
                commands.append(":WAVeform:UNSigned ON")
            commands.append(f":WAVeform:POINts {self.points}")
        try:
            for command in commands:
                self._res.write(command)
            check_error_queue(self._res.query(":SYSTem:ERRor?"), self.resource)
        except Exception as exc:
            self.close()
            raise MeterUnavailable(f"{self.name}: {self.resource} did not take the set-up ({first_line(exc)})") from None

    def _voltage(self) -> float:
        if self.voltage_v is not None:
            return self.voltage_v
        volts = self.supply.last_voltage_v if self.supply is not None else None
        if volts is None:
            raise RuntimeError("no supply voltage measured yet")
        return volts

    def read(self) -> AcquisitionSample:
        res = self._res
        if res is None:
            raise RuntimeError(f"{self.name} is not open")
        ch = f"CHANnel{self.channel}"
        if self.quick:
            amps = parse_number(res.query(f":MEASure:VAVerage? DISPlay,{ch}"), ":MEASure:VAVerage?")
            ended = clock()
            watts = amps * self._voltage()
            screen = 10 * self.timebase_s_per_div
            return AcquisitionSample(ended - screen / 2, watts, {"scope": watts}, start_s=ended - screen, end_s=ended)
        res.write(f":DIGitize {ch}")
        preamble = parse_preamble(res.query(":WAVeform:PREamble?"))   # answered once the acquisition is done
        ended = clock()
        res.write(":WAVeform:DATA?")
        with res.read_termination_context(None):
            raw = res.read_raw()
        times, amps = waveform_values(parse_ieee_block(raw), preamble, self.byte_order)
        self.last_waveform = (times, amps)
        watts = amps * self._voltage()
        mean = float(watts.mean())
        start = ended - preamble.duration_s
        return AcquisitionSample((start + ended) / 2, mean, {"scope": mean}, start_s=start, end_s=ended,
                                 peak_w=float(watts.max()), point_rate_hz=1.0 / preamble.xincrement)

    def window(self, start_s: float, end_s: float, min_rate_hz: Optional[float] = None) -> PowerWindow:
        with self._lock:
            samples = list(self.samples)
            errors = [reason for t, reason in self.errors if start_s <= t <= end_s]
        return acquisition_window(samples, start_s, end_s, errors, min_rate_hz)

    def close(self) -> None:
        if self._res is not None and not self.quick:
            try:
                self._res.write(":RUN")       # :DIGitize leaves the scope stopped; hand it back running
            except Exception:
                pass
        _safe_close(self._res, self._rm)
        self._res = self._rm = None

    def describe(self) -> str:
        how = "screen average" if self.quick else f"{self.waveform_format} waveforms"
        volts = f"{self.voltage_v:g} V" if self.voltage_v is not None else f"voltage from {self.supply.resource}"
        return (f"{self.name} {self.resource}: {self.idn or 'not opened'} — channel {self.channel} in A × {volts}, "
                f"{10 * self.timebase_s_per_div:g} s acquisitions, {how}")
