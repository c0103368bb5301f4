"""ReplayMeter: CSVs of time and power put onto the harness clock, windows integrated from them."""

from __future__ import annotations

import time

import pytest

from onnxprof.errors import OnnxprofError
from onnxprof.meters.base import MeterUnavailable, clock
from onnxprof.meters.replay import ReplayMeter, load_trace

# a square wave sampled irregularly: 10 W over [0, 0.5], 20 W over [0.5, 1.0], with a reading on each
# side of the jump (both at 0.5 s), so trapezoids give exactly 10*0.5 + 20*0.5 = 15 J
TIMES = [0.0, 0.07, 0.19, 0.2, 0.33, 0.5, 0.5, 0.61, 0.62, 0.8, 0.93, 1.0]
POWER = [10.0] * 6 + [20.0] * 6


def square_csv(tmp_path, header="time,power_w", scale_t=1.0, scale_p=1.0, t0=0.0, name="trace.csv", extra=None):
    lines = [header]
    for i, (t, p) in enumerate(zip(TIMES, POWER)):
        row = f"{t0 + t * scale_t!r},{p * scale_p!r}"
        if extra is not None:
            row += f",{extra(i)!r}"
        lines.append(row)
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_square_wave_energy_exact_with_given_offset(tmp_path):
    path = square_csv(tmp_path, t0=100.0)     # seconds since some recorder started
    meter = ReplayMeter(path, clock_offset_s=100.0 - 5000.0)    # CSV 100 s == harness 5000 s
    meter.start()
    w = meter.window(5000.0, 5001.0)
    meter.stop()
    assert w.method == "trapezoid"
    assert w.energy_j == pytest.approx(15.0, abs=1e-9)
    assert w.mean_w == pytest.approx(15.0, abs=1e-9)
    assert w.peak_w == 20.0 and w.samples == 12
    # a window on the second half only
    assert meter.window(5000.5, 5001.0).energy_j == pytest.approx(10.0, abs=1e-9)
    # a window half-way through a flat part: interpolated edges
    assert meter.window(5000.1, 5000.3).energy_j == pytest.approx(2.0, abs=1e-9)
    assert meter._thread is None                # no sampler: the file is already recorded
    assert "12 readings" in meter.describe() and "given offset" in meter.describe()


def test_epoch_timestamps_align_to_harness_clock(tmp_path):
    now = time.time()
    path = square_csv(tmp_path, header="timestamp,watts", t0=now - 2.0)
    meter = ReplayMeter(path)
    before = time.time() - clock()
    meter.start()
    after = time.time() - clock()
    assert before - 1e-3 <= meter.offset_s <= after + 1e-3
    first = meter.samples[0].t
    assert first == pytest.approx((now - 2.0) - meter.offset_s, abs=1e-6)
    assert first == pytest.approx(clock() - 2.0, abs=0.5)     # 2 s ago on the harness clock
    w = meter.window(first, first + 1.0)
    assert w.energy_j == pytest.approx(15.0, abs=1e-6)
    assert "Unix epoch" in meter.describe()


def test_relative_times_need_an_offset(tmp_path):
    path = square_csv(tmp_path)
    with pytest.raises(MeterUnavailable, match="--replay-offset") as info:
        ReplayMeter(path).start()
    assert str(path) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("header,scale_t,scale_p", [
    ("ms,mW", 1e3, 1e3),
    ("time (ms),power [mW]", 1e3, 1e3),
    ("Time_ms,Power_mW", 1e3, 1e3),
    ("t,power", 1.0, 1.0),
    ("seconds,W", 1.0, 1.0),
    ("Time (s),Total Power (W)", 1.0, 1.0),
    ("elapsed_us,milliwatts", 1e6, 1e3),
])
def test_units_and_header_names(tmp_path, header, scale_t, scale_p):
    path = square_csv(tmp_path, header=header, scale_t=scale_t, scale_p=scale_p)
    meter = ReplayMeter(path, clock_offset_s=0.0)
    meter.start()
    assert [s.t for s in meter.samples] == pytest.approx(TIMES)
    assert [s.power_w for s in meter.samples] == pytest.approx(POWER)
    assert meter.window(0.0, 1.0).energy_j == pytest.approx(15.0, abs=1e-9)


def test_epoch_milliseconds_without_unit(tmp_path):
    now = time.time()
    path = square_csv(tmp_path, header="timestamp,power_w", scale_t=1e3, t0=(now - 2.0) * 1e3)
    meter = ReplayMeter(path)
    meter.start()
    assert meter.trace.epoch
    assert meter.samples[0].t == pytest.approx(clock() - 2.0, abs=0.5)


def test_rails_and_explicit_columns(tmp_path):
    path = tmp_path / "rails.csv"
    path.write_text("# exported by a logger\n"
                    "sample;t_rel;VDD_GPU (mW);cpu_w;voltage_v;board\n"
                    "1;0.0;4000;1.5;12.0;7.0\n"
                    "2;0.5;6000;2.5;12.0;9.0\n"
                    "3;1.0;5000;2.0;11.9;8.0\n")
    meter = ReplayMeter(path, time_column="t_rel", power_column="board", clock_offset_s=0.0)
    meter.start()
    assert [s.power_w for s in meter.samples] == [7.0, 9.0, 8.0]
    assert meter.samples[1].rails_w == {"VDD_GPU": 6.0, "cpu": 2.5}
    w = meter.window(0.0, 1.0)
    assert w.energy_j == pytest.approx(0.5 * (7 + 9) / 2 + 0.5 * (9 + 8) / 2)
    assert w.rails_mean_w == pytest.approx({"VDD_GPU": 5.0, "cpu": 2.0})


def test_stop_reloads_a_grown_file(tmp_path):
    path = square_csv(tmp_path)
    meter = ReplayMeter(path, clock_offset_s=0.0)
    meter.start()
    with path.open("a") as f:
        f.write("1.5,20.0\n")
    meter.stop()
    assert len(meter.samples) == 13 and meter.samples[-1].t == 1.5


@pytest.mark.parametrize("content,problem", [
    (None, "no such file"),
    ("", "empty file"),
    ("0.0,10\n0.1,10\n", "no header row"),
    ("time,voltage\n0,12\n", "no power column"),
    ("volts,power\n12,10\n", "no time column"),
    ("time,power\n0.0,10\n0.1,abc\n", "line 3: 'abc' in column 'power' is not a number"),
    ("time,power\n0.0,10\n0.2,10\n0.1,10\n", "line 4: times go backwards"),
    ("time,power\n0.0,\n0.1,\n", "no power readings"),
    ("time,power\n0.0,10\n,10\n", "line 3: no time"),
])
def test_bad_files_are_one_clear_line(tmp_path, content, problem):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(OnnxprofError) as info:
        ReplayMeter(path, clock_offset_s=0.0).start()
    message = str(info.value)
    assert isinstance(info.value, MeterUnavailable)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_named_column_missing(tmp_path):
    path = square_csv(tmp_path)
    with pytest.raises(MeterUnavailable, match=r"no column named 'watts' \(columns: time, power_w\)"):
        load_trace(path, power_column="watts")


def test_meters_read_gives_the_window_as_standard_json(tmp_path):
    """A replayed 10 / 11 / 12 W cycle at 20 Hz: the JSON window's mean lies within the cycle and its energy is
    mean × duration."""
    import json
    import time

    from typer.testing import CliRunner

    from onnxprof.cli.main import app

    start = time.time() - 2
    csv_path = tmp_path / "w.csv"
    csv_path.write_text("time_s,power_w\n" + "".join(f"{start + i * 0.05},{10 + i % 3}\n" for i in range(400)))
    result = CliRunner().invoke(app, ["meters", "read", "replay", "--replay", str(csv_path), "--seconds", "0.5",
                                      "-f", "json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(name))
    window = body["window"]
    assert body["schema"] == "onnxprof.meter-reading" and window["samples"] >= 8
    assert 10.0 <= window["mean_w"] <= 12.0 and window["peak_w"] <= 12.0
    assert window["energy_j"] == pytest.approx(window["mean_w"] * (window["end_s"] - window["start_s"]), rel=0.1)
