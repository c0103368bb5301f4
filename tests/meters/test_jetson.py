"""JetsonMeter on fake sysfs trees: discovery per board, watts from mV × mA (or the power file), the
total rail or the sum, skipped channels, faults mid-run, no monitor."""

from __future__ import annotations

import os
import time

import pytest

from onnxprof.meters.base import MeterUnavailable, clock
from onnxprof.meters.jetson import NOT_AVAILABLE, JetsonMeter, board_total, not_connected
from tests.meters import fake_boards
from tests.meters.fake_boards import BOARDS


@pytest.mark.parametrize("board_name", sorted(BOARDS))
def test_each_board_rails_watts_and_total(tmp_path, board_name):
    board = BOARDS[board_name](tmp_path)
    meter = JetsonMeter(root=tmp_path)
    meter.open()
    sample = meter.read()
    assert list(sample.rails_w) == list(board.rails_w)          # every rail, each once, in channel order
    for rail, watts in board.rails_w.items():
        assert sample.rails_w[rail] == pytest.approx(watts), rail
    assert meter.input_rail == board.input_rail
    assert sample.power_w == pytest.approx(board.total_w)
    assert sample.t == pytest.approx(clock(), abs=1.0)
    text = meter.describe()
    assert (f"total = {board.input_rail}" in text) if board.input_rail else ("total = sum of" in text)


def test_hand_computed_values(tmp_path):
    # TX1: VDD_IN 5000 mV × 1200 mA = 6 W is the total; AGX Xavier: no input rail, sum = 2 + .5 + 1 + .1 + .4 + 2
    fake_boards.tx1(tmp_path / "tx1")
    fake_boards.agx_xavier(tmp_path / "xavier")
    tx1 = JetsonMeter(root=tmp_path / "tx1")
    tx1.open()
    assert tx1.read().power_w == pytest.approx(6.0)
    xavier = JetsonMeter(root=tmp_path / "xavier")
    xavier.open()
    assert xavier.read().power_w == pytest.approx(6.0)
    assert xavier.input_rail is None


def test_iio_prefers_the_power_file_and_falls_back_to_volts_times_amps(tmp_path):
    board = fake_boards.tx1(tmp_path)
    meter = JetsonMeter(root=tmp_path)
    meter.open()
    board.files["VDD_GPU"]["power"].write_text("750\n")          # 750 mW, not 1000 mV × 500 mA
    assert meter.read().rails_w["VDD_GPU"] == pytest.approx(0.75)

    bare = fake_boards.tx1(tmp_path / "bare", with_power=False)
    meter = JetsonMeter(root=bare.root)
    meter.open()
    assert meter.read().rails_w == pytest.approx({"VDD_IN": 6.0, "VDD_GPU": 0.5, "VDD_CPU": 0.8})


def test_values_follow_the_files(tmp_path):
    board = fake_boards.xavier_nx(tmp_path)
    meter = JetsonMeter(root=tmp_path)
    meter.open()
    board.files["VDD_IN"]["current"].write_text("2000\n")       # 5000 mV × 2000 mA
    sample = meter.read()
    assert sample.rails_w["VDD_IN"] == pytest.approx(10.0)
    assert sample.power_w == pytest.approx(10.0)


def test_orin_skips_sum_channel_and_nc_and_lists_each_monitor_once(tmp_path):
    fake_boards.agx_orin(tmp_path)
    meter = JetsonMeter(root=tmp_path)
    meter.open()
    rails = meter.read().rails_w
    assert set(rails) == {"VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"}
    assert [m.device for m in meter.monitors] == ["1-0040", "1-0041"]   # devices/ and drivers/ link: once
    assert rails["VDD_GPU_SOC"] == pytest.approx(4.0)
    assert meter.read().power_w == pytest.approx(4.0 + 1.0 + 3.0 + 0.5)


def test_describe_names_rails_total_and_sensor_interval(tmp_path):
    fake_boards.xavier_nx(tmp_path)
    meter = JetsonMeter(root=tmp_path)
    assert "not opened" in meter.describe()
    meter.open()
    text = meter.describe()
    assert "7-0040 (hwmon)" in text and "VDD_CPU_GPU_CV" in text
    assert "total = VDD_IN" in text
    assert "update_interval 7 ms, samples 4" in text


def test_same_label_on_two_monitors_stays_two_rails(tmp_path):
    board = fake_boards.FakeBoard(tmp_path, {}, None)
    fake_boards.add_hwmon(board, "1-0040", "hwmon1", [("VDD_X", 1000, 1000)])
    fake_boards.add_hwmon(board, "1-0041", "hwmon2", [("VDD_X", 1000, 2000)])
    meter = JetsonMeter(root=tmp_path)
    meter.open()
    assert meter.read().rails_w == pytest.approx({"VDD_X": 1.0, "VDD_X@1-0041": 2.0})


def test_not_connected_is_a_word_not_letters():
    assert not_connected("NC") and not_connected("NC_2")
    assert not not_connected("VDD_SYNC") and not not_connected("VDD_IN")


def test_board_total():
    assert board_total({"VDD_CPU": 1.0, "VDD_IN": 5.0}) == (5.0, "VDD_IN")
    assert board_total({"POM_5V_IN": 3.0, "POM_5V_GPU": 1.0}) == (3.0, "POM_5V_IN")
    assert board_total({"GPU": 1.0, "CPU": 2.0}) == (3.0, None)


@pytest.mark.parametrize("builder", [None, fake_boards.not_a_jetson])
def test_no_monitor_is_unavailable(tmp_path, builder):
    if builder:
        builder(tmp_path)
    with pytest.raises(MeterUnavailable) as info:
        JetsonMeter(root=tmp_path).open()
    assert str(info.value) == NOT_AVAILABLE
    with pytest.raises(MeterUnavailable):
        JetsonMeter(root=tmp_path).start()


def test_unreadable_sensor_is_unavailable_with_a_hint(tmp_path, monkeypatch):
    board = fake_boards.nano(tmp_path)
    path = board.files["POM_5V_IN"]["power"]
    if os.geteuid() != 0:
        path.chmod(0)
    else:                                                        # root reads files whatever their mode
        def denied(p):
            raise PermissionError(13, "Permission denied", str(p))
        monkeypatch.setattr("onnxprof.meters.jetson.read_number", denied)
    with pytest.raises(MeterUnavailable, match="permission denied"):
        JetsonMeter(root=tmp_path).open()


def test_nominal_rate_and_default_interval():
    meter = JetsonMeter()
    assert meter.nominal_rate_hz == 100
    assert meter.interval_s == pytest.approx(0.01)
    assert JetsonMeter(interval_s=0.05).interval_s == 0.05


def test_sampling_gives_a_window_mean(tmp_path):
    fake_boards.nano(tmp_path)
    meter = JetsonMeter(root=tmp_path, interval_s=0.005)
    with meter:
        start = clock()
        time.sleep(0.15)
        end = clock()
        time.sleep(0.02)
    window = meter.window(start, end)
    assert window.samples >= 10 and not window.missing
    assert window.mean_w == pytest.approx(3.0)
    assert window.rails_mean_w["POM_5V_CPU"] == pytest.approx(1.0)
    assert window.energy_j == pytest.approx(3.0 * (end - start))


def test_rail_file_vanishing_mid_run_is_recorded_and_the_run_goes_on(tmp_path):
    board = fake_boards.agx_orin(tmp_path)
    current = board.files["VDD_CPU_CV"]["current"]
    meter = JetsonMeter(root=tmp_path, interval_s=0.005)
    began = time.monotonic()
    meter.start()
    try:
        time.sleep(0.05)
        current.unlink()                                         # the sensor goes away
        time.sleep(0.03)
        start = clock()
        time.sleep(0.08)
        end = clock()
        during = meter.window(start, end)
        assert during.missing and "FileNotFoundError" in during.missing
        assert during.mean_w is None
        assert meter.errors and "curr2_input" in meter.errors[-1][1]

        current.write_text("50\n")                               # it comes back: sampling resumes
        time.sleep(0.05)
        after = meter.window(start, end)                         # same span, now bracketed by readings
        assert not after.missing and after.mean_w == pytest.approx(8.5)
        assert any("failed readings" in w for w in after.warnings)
        later = meter.window(end + 0.03, clock())
        assert not later.missing and later.mean_w == pytest.approx(8.5)
    finally:
        meter.stop()
    assert time.monotonic() - began < 3                          # nothing hung
    assert not meter._thread.is_alive()
