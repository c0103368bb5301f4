"""VISA meters: block/preamble/waveform arithmetic on raw bytes, exact acquisition windows, and the
supply and scope meters against pyvisa-sim instruments (tests/meters/sim/*.yaml)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pytest

from onnxprof.errors import UsageError
from onnxprof.meters.base import MeterUnavailable, window_figures
from onnxprof.meters.visa import (AcquisitionSample, Preamble, VisaScopeMeter, VisaSupplyMeter, acquisition_window,
                                  parse_ieee_block, parse_preamble, waveform_values)

SIM = Path(__file__).parent / "sim"
SCOPE = "USB0::0x0957::0x179A::MY12345678::INSTR"
BROKEN_SCOPE = "USB0::0x0957::0x179A::MY00000002::INSTR"
REFUSING_SCOPE = "USB0::0x0957::0x179A::MY00000003::INSTR"


# -- IEEE 488.2 blocks ---------------------------------------------------------------------------

def test_definite_length_block_payload_including_high_bytes_and_terminator():
    payload = bytes([0x00, 0x0A, 0x80, 0xFF, 0x23])          # a newline and '#' inside the data
    assert parse_ieee_block(b"#15" + payload + b"\n") == payload
    assert parse_ieee_block(b"#800000005" + payload) == payload


@pytest.mark.parametrize("raw, reason", [
    (b"#15\x01\x02", "truncated"),
    (b"15\x01\x02\x03\x04\x05", "not an IEEE"),
    (b"#", "digit count"),
    (b"#4 12\x01", "length field"),
    (b"#0\x01\x02\n", "indefinite"),
    (b"#12\x01\x02garbage", "unexpected bytes"),
])
def test_truncated_or_garbage_blocks_are_rejected(raw, reason):
    with pytest.raises(ValueError, match=reason):
        parse_ieee_block(raw)


# -- preamble and conversion -----------------------------------------------------------------------

BYTE_PREAMBLE = "+0,+0,+3,+1,+1.00000000E-04,-1.00000000E-03,+0,+1.00000000E-02,+5.00000000E-01,+128"


def test_preamble_fields():
    p = parse_preamble(BYTE_PREAMBLE + "\n")
    assert p == Preamble("BYTE", "NORMal", 3, 1, 1e-4, -1e-3, 0.0, 1e-2, 0.5, 128.0)
    assert p.duration_s == pytest.approx(3e-4)


@pytest.mark.parametrize("text", ["+0,+0,+3", "BYTE,NORM,3,1,1e-4,0,0,1e-2,0.5,128", "+7,+0,+3,+1,1e-4,0,0,1e-2,0.5,128"])
def test_bad_preambles_are_rejected(text):
    with pytest.raises(ValueError):
        parse_preamble(text)


def test_byte_codes_become_amps_and_seconds():
    times, values = waveform_values(bytes([0, 128, 255]), parse_preamble(BYTE_PREAMBLE))
    # (code − 128) × 0.01 + 0.5 ; (i − 0) × 1e-4 − 1e-3
    np.testing.assert_allclose(values, [-1.28 + 0.5, 0.5, 1.27 + 0.5])
    np.testing.assert_allclose(times, [-1e-3, -0.9e-3, -0.8e-3])


def test_word_codes_follow_the_byte_order():
    p = Preamble("WORD", "NORMal", 2, 1, 1e-6, 0.0, 1.0, 1e-3, 0.0, 32768.0)
    raw = bytes([0x80, 0x01, 0x7F, 0xFF])
    _, msb = waveform_values(raw, p)                              # default MSBFirst: 0x8001, 0x7FFF
    np.testing.assert_allclose(msb, [(0x8001 - 32768) * 1e-3, (0x7FFF - 32768) * 1e-3])
    times, lsb = waveform_values(raw, p, byte_order="LSBFirst")   # 0x0180, 0xFF7F
    np.testing.assert_allclose(lsb, [(0x0180 - 32768) * 1e-3, (0xFF7F - 32768) * 1e-3])
    np.testing.assert_allclose(times, [-1e-6, 0.0])               # xreference 1


def test_waveform_length_must_match_the_preamble():
    p = parse_preamble(BYTE_PREAMBLE)
    with pytest.raises(ValueError, match="preamble says 3"):
        waveform_values(bytes([1, 2]), p)
    with pytest.raises(ValueError, match="whole number"):
        waveform_values(bytes([1, 2, 3]), Preamble("WORD", "NORMal", 2, 1, 1e-6, 0, 0, 1, 0, 0))


# -- acquisition windows ---------------------------------------------------------------------------

def acq(start, end, watts, peak=None, rate=None):
    return AcquisitionSample((start + end) / 2, watts, {"scope": watts}, start_s=start, end_s=end, peak_w=peak,
                             point_rate_hz=rate)


def test_a_window_of_whole_acquisitions_is_integrated_exactly():
    samples = [acq(0.0, 1.0, 10.0, peak=12.0), acq(1.0, 2.0, 20.0, peak=25.0)]
    w = acquisition_window(samples, 0.0, 1.0)
    assert w.energy_j == pytest.approx(10.0) and w.mean_w == pytest.approx(10.0) and w.peak_w == 12.0
    assert window_figures(samples, 0.0, 1.0).energy_j == pytest.approx(11.25)   # midpoint trapezoid would not be
    assert acquisition_window(samples, 0.25, 0.75).energy_j == pytest.approx(5.0)
    assert acquisition_window(samples, 0.0, 2.0).method == "acquisition mean × duration"
    inner = acquisition_window(samples, 0.6, 0.9)                 # inside one acquisition, past its midpoint
    assert inner.energy_j == pytest.approx(3.0) and not inner.missing
    assert acquisition_window(samples, 2.5, 3.0).missing == "no acquisition covers this window"


def test_dead_time_between_acquisitions_is_interpolated_and_low_coverage_said():
    samples = [acq(0.0, 1.0, 10.0), acq(1.5, 2.5, 20.0)]
    w = acquisition_window(samples, 0.0, 2.5)
    assert w.energy_j == pytest.approx(10.0 + 0.5 * 15.0 + 20.0)
    assert not any("observed" in m for m in w.warnings)
    sparse = acquisition_window([acq(0.0, 0.1, 10.0), acq(0.9, 1.0, 10.0)], 0.0, 1.0)
    assert sparse.energy_j == pytest.approx(10.0) and any("observed 20 %" in m for m in sparse.warnings)


def test_point_rate_not_acquisition_rate_is_checked_against_the_load():
    samples = [acq(0.0, 1.0, 10.0, rate=50e3)]
    assert acquisition_window(samples, 0.0, 1.0, min_rate_hz=2800).warnings == ()
    slow = acquisition_window([acq(0.0, 1.0, 10.0, rate=1000.0)], 0.0, 1.0, min_rate_hz=2800)
    assert any("1000.0 Hz is below the 2800 Hz" in m for m in slow.warnings)


# -- pyvisa-sim instruments ------------------------------------------------------------------------

@pytest.fixture
def supply_rm():
    pyvisa = pytest.importorskip("pyvisa")
    pytest.importorskip("pyvisa_sim")
    rm = pyvisa.ResourceManager(f"{SIM / 'e3645a.yaml'}@sim")
    yield rm
    rm.close()


@pytest.fixture
def scope_rm():
    pyvisa = pytest.importorskip("pyvisa")
    pytest.importorskip("pyvisa_sim")
    rm = pyvisa.ResourceManager(f"{SIM / 'infiniivision.yaml'}@sim")
    yield rm
    rm.close()


class Recording:
    """A resource manager handing out resources that log every message sent."""

    def __init__(self, rm):
        self.rm, self.sent = rm, []

    def open_resource(self, name, **kwargs):
        return _Logged(self.rm.open_resource(name, **kwargs), self.sent)


class _Logged:
    def __init__(self, res, sent):
        object.__setattr__(self, "_res", res)
        object.__setattr__(self, "_sent", sent)

    def __getattr__(self, name):
        return getattr(self._res, name)

    def __setattr__(self, name, value):
        setattr(self._res, name, value)

    def write(self, message):
        self._sent.append(message)
        return self._res.write(message)

    def query(self, message):
        self._sent.append(message)
        return self._res.query(message)


def test_supply_power_is_volts_times_amps_and_settings_are_never_touched(supply_rm):
    rm = Recording(supply_rm)
    meter = VisaSupplyMeter("GPIB0::5::INSTR", resource_manager=rm)
    meter.open()
    try:
        sample = meter.read()
    finally:
        meter.close()
    assert sample.power_w == pytest.approx(19.0 * 0.5) and sample.rails_w == {"supply": pytest.approx(9.5)}
    assert meter.last_voltage_v == 19.0 and "E3645A" in meter.describe()
    assert set(rm.sent) == {"*IDN?", "*CLS", "MEAS:VOLT?", "MEAS:CURR?", "SYST:ERR?"}   # queries and *CLS only


def test_supply_sampler_window_mean_is_v_times_i(supply_rm):
    meter = VisaSupplyMeter("GPIB0::5::INSTR", resource_manager=supply_rm, interval_s=0.02)
    with meter:
        start = time.perf_counter()
        time.sleep(0.3)
        end = time.perf_counter()
    w = meter.window(start, end)
    assert w.samples >= 5 and not meter.errors
    assert w.mean_w == pytest.approx(9.5) and w.energy_j == pytest.approx(9.5 * (end - start))
    assert w.rails_mean_w == {"supply": pytest.approx(9.5)}


@pytest.mark.parametrize("resource, reason", [
    ("GPIB0::6::INSTR", "MEAS:VOLT\\? answered '#\\$%&\\?!', not a number"),
    ("GPIB0::7::INSTR", "overflow"),
    ("GPIB0::8::INSTR", "-0.2 A, below zero"),
    ("GPIB0::9::INSTR", "-222,\"Data out of range\""),
])
def test_bad_supply_replies_raise_with_the_reason(supply_rm, resource, reason):
    meter = VisaSupplyMeter(resource, resource_manager=supply_rm)
    meter.open()
    try:
        with pytest.raises(Exception, match=reason):
            meter.read()
    finally:
        meter.close()


def test_sampler_records_the_reason_of_error_replies(supply_rm):
    meter = VisaSupplyMeter("GPIB0::9::INSTR", resource_manager=supply_rm, interval_s=0.02)
    with meter:
        start = time.perf_counter()
        time.sleep(0.1)
        end = time.perf_counter()
    w = meter.window(start, end)
    assert meter.errors and not meter.samples
    assert w.energy_j is None and "Data out of range" in w.missing


def test_a_silent_instrument_is_recorded_not_hung(supply_rm):
    meter = VisaSupplyMeter("GPIB0::10::INSTR", resource_manager=supply_rm, timeout_ms=50, interval_s=0.01)
    began = time.perf_counter()
    with meter:
        start = time.perf_counter()
        time.sleep(0.3)
        end = time.perf_counter()
    assert time.perf_counter() - began < 1.0
    w = meter.window(start, end)
    assert len(meter.errors) >= 2 and w.energy_j is None and "VI_ERROR_TMO" in w.missing


@pytest.mark.parametrize("resource", ["GPIB0::99::INSTR", "GPIB0::11::INSTR"])   # absent; present but mute
def test_a_missing_instrument_is_unavailable_quickly(supply_rm, resource):
    began = time.perf_counter()
    with pytest.raises(MeterUnavailable, match=f"visa-supply: {resource}"):
        VisaSupplyMeter(resource, resource_manager=supply_rm, timeout_ms=100).open()
    assert time.perf_counter() - began < 1.0


def test_a_bad_resource_name_is_unavailable_with_the_py_backend():
    pytest.importorskip("pyvisa_py")
    with pytest.raises(MeterUnavailable, match="cannot open nonsense"):
        VisaSupplyMeter("nonsense", timeout_ms=100).open()


def test_without_pyvisa_the_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyvisa", None)
    with pytest.raises(MeterUnavailable, match=r"pip install 'onnxprof\[visa\]'"):
        VisaSupplyMeter("GPIB0::5::INSTR").open()
    with pytest.raises(MeterUnavailable, match=r"onnxprof\[visa\]"):
        VisaScopeMeter(SCOPE, voltage_v=12.0).open()


def scope(rm, resource=SCOPE, **kwargs):
    kwargs.setdefault("voltage_v", 12.0)
    return VisaScopeMeter(resource, timebase_s_per_div=0.001, waveform_format="ASCii", points=10,
                          resource_manager=rm, timeout_ms=200, **kwargs)


def test_scope_waveform_acquisition_mean_power_and_interval(scope_rm):
    rm = Recording(scope_rm)
    meter = scope(rm)
    meter.open()
    try:
        sample = meter.read()
    finally:
        meter.close()
    assert isinstance(sample, AcquisitionSample)
    assert sample.power_w == pytest.approx(0.5 * 12.0) and sample.peak_w == pytest.approx(0.6 * 12.0)
    assert sample.duration_s == pytest.approx(10 * 1e-3) and sample.point_rate_hz == pytest.approx(1000.0)
    assert sample.t == pytest.approx((sample.start_s + sample.end_s) / 2)
    times, amps = meter.last_waveform
    np.testing.assert_allclose(amps, [0.4, 0.6] * 5)
    np.testing.assert_allclose(times, -5e-3 + 1e-3 * np.arange(10))
    assert rm.sent[:7] == ["*IDN?", ":CHANnel1:DISPlay ON", ":TIMebase:SCALe 0.001", ":WAVeform:SOURce CHANnel1",
                           ":WAVeform:FORMat ASCii", ":WAVeform:POINts 10", ":SYSTem:ERRor?"]
    assert rm.sent[-1] == ":RUN"                    # handed back running


def test_scope_quick_path_uses_the_screen_average_and_supply_voltage(scope_rm, supply_rm):
    supply = VisaSupplyMeter("GPIB0::5::INSTR", resource_manager=supply_rm)
    meter = scope(scope_rm, voltage_v=None, supply=supply, quick=True)
    meter.open()
    try:
        with pytest.raises(RuntimeError, match="no supply voltage"):
            meter.read()
        supply.open()
        supply.read()
        sample = meter.read()
    finally:
        meter.close()
        supply.close()
    assert sample.power_w == pytest.approx(0.5 * 19.0) and sample.duration_s == pytest.approx(0.01)


def test_scope_sampler_window_is_mean_times_duration(scope_rm):
    meter = scope(scope_rm, interval_s=0.02)
    with meter:
        time.sleep(0.05)
        start = time.perf_counter()
        time.sleep(0.3)
        end = time.perf_counter()
    w = meter.window(start, end)
    assert not meter.errors and w.samples >= 5
    assert w.method == "acquisition mean × duration"
    assert w.mean_w == pytest.approx(6.0) and w.energy_j == pytest.approx(6.0 * (end - start))
    assert w.peak_w == pytest.approx(7.2)


def test_broken_scope_replies_raise(scope_rm):
    for quick, reason in ((True, "overflow"), (False, "truncated")):
        meter = scope(scope_rm, BROKEN_SCOPE, quick=quick)
        meter.open()
        try:
            with pytest.raises(ValueError, match=reason):
                meter.read()
        finally:
            meter.close()


def test_a_scope_rejecting_the_setup_is_unavailable(scope_rm):
    with pytest.raises(MeterUnavailable, match="did not take the set-up.*Undefined header"):
        scope(scope_rm, REFUSING_SCOPE, quick=True).open()


def test_scope_arguments_and_rate():
    with pytest.raises(UsageError, match="supply voltage"):
        VisaScopeMeter(SCOPE)
    with pytest.raises(UsageError, match="waveform format"):
        VisaScopeMeter(SCOPE, voltage_v=5.0, waveform_format="FLOAT")
    meter = VisaScopeMeter(SCOPE, voltage_v=5.0, timebase_s_per_div=0.01)
    assert meter.nominal_rate_hz == pytest.approx(1 / (0.1 + 0.05)) and meter.interval_s == pytest.approx(0.15)
    assert VisaSupplyMeter("GPIB0::5::INSTR").nominal_rate_hz == 12.0
