"""tegrastats: the line parser on every known format, and the meter driving a fake tegrastats."""

from __future__ import annotations

import time

import pytest

from onnxprof.meters.base import MeterUnavailable, clock
from onnxprof.meters.jetson import board_total
from onnxprof.meters.tegrastats import TegrastatsMeter, parse_tegrastats_line
from tests.meters.fake_boards import TEGRASTATS_LINES, TEGRASTATS_TOTAL, TEGRASTATS_WATTS, fake_tegrastats


@pytest.mark.parametrize("board", sorted(TEGRASTATS_LINES))
def test_parse_known_lines(board):
    rails = parse_tegrastats_line(TEGRASTATS_LINES[board])
    assert rails == pytest.approx(TEGRASTATS_WATTS[board])
    assert list(rails) == list(TEGRASTATS_WATTS[board])          # nothing else (RAM, CPU, temperatures)
    total, rail = board_total(rails)
    assert (total, rail) == (pytest.approx(TEGRASTATS_TOTAL[board][0]), TEGRASTATS_TOTAL[board][1])


@pytest.mark.parametrize("text, expected", [
    ("VDD_IN 5100/4000", {"VDD_IN": 5.1}),                       # mW, no unit: current, not average
    ("VDD_IN 5100mW/4000mW", {"VDD_IN": 5.1}),
    ("VDD_IN 5100mW/4000mW/9000mW", {"VDD_IN": 5.1}),            # cur/avg/peak: current
    ("VDD_IN 5100/4000/9000", {"VDD_IN": 5.1}),
    ("RAM 2100/7860MB SWAP 0/3930MB (cached 0MB) IRAM 0/252kB(lfb 252kB)", {}),
    ("CPU [1%@345,off] GR3D_FREQ 0%@76 EMC_FREQ 0% CPU@45C GPU@-256C tj@44.5C MTS fg 0% bg 0%", {}),
    ("", {}),
])
def test_parse_forms_and_non_power_fields(text, expected):
    assert parse_tegrastats_line(text) == pytest.approx(expected)


def test_parse_keeps_rail_named_like_a_temperature_apart():
    # AGX Xavier prints "CPU@35C" (a temperature), "CPU [..]" (loads) and "CPU 216/210" (the rail)
    assert parse_tegrastats_line("CPU [1%@1190,off] CPU@35C CPU 216/210 GPU@34C GPU 0/0") == \
        pytest.approx({"CPU": 0.216, "GPU": 0.0})


def test_meter_runs_fake_tegrastats_and_gives_a_window(tmp_path):
    line = "RAM 1400/3964MB (lfb 437x4MB) CPU@32C VDD_IN 5000mW/4000mW VDD_CPU_GPU_CV 1000mW/900mW"
    script = fake_tegrastats(tmp_path, [line])
    meter = TegrastatsMeter(interval_s=0.02, command=[str(script)])
    assert meter.nominal_rate_hz == pytest.approx(50)
    began = clock()
    with meter:
        start = clock()
        time.sleep(0.5)
        end = clock()
        time.sleep(0.05)
    assert (tmp_path / "argv.txt").read_text() == "--interval 20"
    assert meter._proc.poll() is not None                        # tegrastats was stopped
    assert clock() - began < 3
    window = meter.window(start, end)
    assert 10 <= window.samples <= 30 and not window.missing
    assert window.mean_w == pytest.approx(5.0)
    assert window.rails_mean_w == pytest.approx({"VDD_IN": 5.0, "VDD_CPU_GPU_CV": 1.0})
    assert "VDD_IN" in meter.describe() and "total = VDD_IN" in meter.describe()
    with pytest.raises(RuntimeError, match="not running"):       # read() after stop: no stale sample
        meter.read()


def test_meter_window_over_changing_lines(tmp_path):
    lines = ["GPU 0/0 CPU 4000/4000 SOC 0/0", "GPU 0/0 CPU 6000/6000 SOC 0/0"]   # AGX Xavier: sum
    meter = TegrastatsMeter(interval_s=0.01, command=[str(fake_tegrastats(tmp_path, lines))])
    with meter:
        time.sleep(0.05)
        start = clock()
        time.sleep(0.3)
        end = clock()
        time.sleep(0.03)
    window = meter.window(start, end)
    assert window.peak_w == pytest.approx(6.0)
    assert 4.6 < window.mean_w < 5.4
    assert meter.input_rail is None and "total = sum of 3 rails" in meter.describe()
    assert not meter.errors


def test_samples_are_the_lines_not_a_poll(tmp_path):
    lines = [f"VDD_IN {1000 * (i + 1)}/0" for i in range(5)]
    meter = TegrastatsMeter(interval_s=0.01, command=[str(fake_tegrastats(tmp_path, lines, exit_after=5))])
    meter.start()
    time.sleep(0.2)
    meter.stop()
    assert [s.power_w for s in meter.samples] == pytest.approx([1.0, 2.0, 3.0, 4.0, 5.0])
    assert any("tegrastats stopped" in reason for _, reason in meter.errors)   # it exited on its own


def test_missing_binary_is_unavailable(tmp_path):
    with pytest.raises(MeterUnavailable, match="not found"):
        TegrastatsMeter(command=[str(tmp_path / "tegrastats")]).start()


def test_failing_binary_is_unavailable_with_its_message(tmp_path):
    script = fake_tegrastats(tmp_path, [], stderr="tegrastats: permission denied", exit_code=1)
    began = time.monotonic()
    with pytest.raises(MeterUnavailable, match="status 1: tegrastats: permission denied"):
        TegrastatsMeter(interval_s=0.01, command=[str(script)]).start()
    assert time.monotonic() - began < 3


def test_board_without_power_fields_is_unavailable(tmp_path):
    script = fake_tegrastats(tmp_path, ["RAM 1400/1982MB (lfb 4x4MB) CPU [3%@102] GR3D_FREQ 0%@76 CPU@32C"])
    meter = TegrastatsMeter(interval_s=0.01, command=[str(script)])
    with pytest.raises(MeterUnavailable, match="no power rails"):
        meter.start()
    assert meter._proc.poll() is not None


def test_silent_binary_times_out(tmp_path):
    script = tmp_path / "tegrastats"
    import sys
    script.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(30)\n")
    script.chmod(0o755)
    meter = TegrastatsMeter(interval_s=0.01, command=[str(script)], startup_timeout_s=0.2)
    began = time.monotonic()
    with pytest.raises(MeterUnavailable, match="no output"):
        meter.start()
    assert time.monotonic() - began < 3 and meter._proc.poll() is not None
