"""Power in `onnxprof measure` (through a replayed recording), and the meters commands on a machine
that has no meter."""

from __future__ import annotations

import json
import sys
import time

import onnx
import pytest
from onnx import helper
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.store.db import Store
from tests.builders import make_model, weight

FAST = ["--duration", "0.3", "--iterations", "5", "--warmup", "1", "--warmup-time", "0"]


@pytest.fixture()
def model(tmp_path):
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")
    path = tmp_path / "fc.onnx"
    onnx.save(make_model([node], [("x", ["N", 256])], [("y", ["N", 256])], [weight("w", [256, 256])]), path)
    return path


def test_measure_with_a_replayed_power_trace(model, tmp_path):
    # A recorder's CSV in epoch seconds at 1 kHz: 12 W throughout the next minute.
    trace = tmp_path / "power.csv"
    now = time.time()
    rows = "\n".join(f"{now - 1 + i / 1000:.6f},12.0" for i in range(60_000))
    trace.write_text("timestamp,power_w\n" + rows + "\n")
    db = tmp_path / "runs.sqlite"
    result = CliRunner().invoke(app, ["measure", str(model), "--batch", "1,4", *FAST, "--meter", "replay",
                                      "--replay", str(trace), "--idle", "0.2", "--db", str(db), "-f", "json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)["run"]
    assert run["idle_power_w"] == pytest.approx(12.0)
    for batch in run["batches"]:
        power = batch["power"]
        images = batch["latency"]["samples"] * batch["batch"]
        assert power["gross_w"] == pytest.approx(12.0) and power["net_w"] == pytest.approx(0.0, abs=1e-9)
        assert power["energy_j"] == pytest.approx(12.0 * batch["latency"]["total_s"], rel=0.01)
        assert power["energy_per_image_j"] == pytest.approx(power["energy_j"] / images)
        assert power["samples"] > 200 and power["method"] == "trapezoid"
    stored = Store(str(db)).get_run(run["id"])
    assert stored.idle_power_w == pytest.approx(12.0) and stored.batches[1].power.gross_w == pytest.approx(12.0)


def test_meters_read_piped_prints_one_finished_table(tmp_path):
    """Piped to a file or a log (not a terminal), `meters read` prints its table once, ended by a newline."""
    trace = tmp_path / "power.csv"
    now = time.time()
    trace.write_text("timestamp,power_w\n" + "\n".join(f"{now - 1 + i / 100:.3f},7.5" for i in range(1000)) + "\n")
    result = CliRunner().invoke(app, ["meters", "read", "replay", "--replay", str(trace), "--seconds", "0.3"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert result.output.count("mean power") == 1 and "7.500 W" in result.output
    assert "┘\nreplay of" in result.output


@pytest.fixture()
def no_meters(monkeypatch, tmp_path):
    """A machine with no meter, also when the tests run on a GPU host: no NVML, no tegrastats on PATH."""
    monkeypatch.setitem(sys.modules, "pynvml", None)      # import pynvml raises ImportError
    monkeypatch.setenv("PATH", str(tmp_path))


def test_meters_list_says_there_is_none_here(no_meters):
    result = CliRunner().invoke(app, ["meters", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "No power meter found on this machine" in result.output and "jetson" in result.output


def test_reading_auto_without_a_meter_is_one_line(no_meters):
    result = CliRunner().invoke(app, ["meters", "read", "--seconds", "0.2"])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "no power meter found" in result.stderr


def test_idle_needs_a_meter(model):
    result = CliRunner().invoke(app, ["measure", str(model), "--idle", "1", *FAST, "--no-save"])
    assert result.exit_code == 2 and "--idle" in result.stderr


def test_an_nvml_meter_beside_the_cpu_provider_is_said_to_measure_the_gpu(model, monkeypatch):
    from tests.meters.test_nvml import FakeGpu, fake_pynvml

    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([FakeGpu(watts=70.0)]))
    result = CliRunner().invoke(app, ["measure", str(model), *FAST, "--meter", "nvml", "--no-save"],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "the nvml meter reads GPU 0's power while the model runs on the CPU" in result.output
