"""`onnxprof measure` end to end on ONNX Runtime's CPU provider: the sweep, statistics, the store,
the report and JSON; out-of-memory batches, an interrupted sweep, a GPU provider that is not there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.cost.analysis import analyze as analyze_file
from onnxprof.engines.base import EngineOptions
from onnxprof.engines.onnxruntime import OnnxRuntimeEngine
from onnxprof.measure.harness import TimingProtocol, time_batch
from onnxprof.measure.records import OK, OUT_OF_MEMORY
from onnxprof.model.shapes import ShapeBinding
from onnxprof.predict.basic import ONNXRUNTIME_CPU_MEMORY, engine_bytes
from onnxprof.store.db import Store
from tests.builders import make_model, weight

FAST = ["--duration", "0", "--iterations", "5", "--warmup", "1", "--warmup-time", "0"]


@pytest.fixture(scope="module")
def mlp(tmp_path_factory) -> Path:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")]
    path = tmp_path_factory.mktemp("measure") / "mlp.onnx"
    onnx.save(make_model(nodes, [("x", ["N", 64])], [("y", ["N", 10])], [weight("w1", [64, 128]), weight("w2", [128, 10])]),
              path)
    return path


def test_protocol_meets_both_the_count_and_the_duration(mlp):
    with OnnxRuntimeEngine(mlp, EngineOptions()) as engine:
        feeds = {"x": np.ones((4, 64), np.float32)}
        result = time_batch(engine, feeds, 4, TimingProtocol(warmup_runs=3, warmup_s=0.0, min_runs=7, min_duration_s=0.3))
    assert result.status == OK and result.warmup_runs >= 3
    assert result.latency.samples >= 7 and result.latency.total_s >= 0.3
    lat = result.latency
    assert lat.min_ms <= lat.median_ms <= lat.p90_ms <= lat.p99_ms <= lat.max_ms
    assert result.throughput_per_s == pytest.approx(4 * 1000 / lat.median_ms)     # the median, as trtexec reports
    assert result.latency_per_image_ms == pytest.approx(lat.median_ms / 4)
    assert result.memory.peak_rss_bytes > 10_000_000 and result.memory.system_used_bytes > 0


def test_peak_memory_does_not_grow_with_the_number_of_timed_runs(mlp):
    """The peak RSS is the model's, not the harness's: timing ten times longer (some 10⁵ more runs of a
    model of a few µs) adds only the 8 bytes a run of the timing record. A list of Python ints turned into
    floats inside the window added 110 bytes a run, tens of MB here. A first long window settles the
    allocator: freeing its multi-MB arrays raises glibc's mmap threshold, so later ones come from a heap
    that stays resident, and a long window timed first showed that once (31 bytes a run on one host)."""
    with OnnxRuntimeEngine(mlp, EngineOptions()) as engine:
        feeds = {"x": np.ones((1, 64), np.float32)}
        time_batch(engine, feeds, 1, TimingProtocol(warmup_runs=3, warmup_s=0.0, min_runs=7, min_duration_s=2.0))
        short = time_batch(engine, feeds, 1, TimingProtocol(warmup_runs=3, warmup_s=0.0, min_runs=7, min_duration_s=0.2))
        long = time_batch(engine, feeds, 1, TimingProtocol(warmup_runs=3, warmup_s=0.0, min_runs=7, min_duration_s=2.0))
    extra_runs = long.latency.samples - short.latency.samples
    assert extra_runs > 100_000, "the model ran too slowly on this machine to show the harness's own memory"
    grown = long.memory.peak_rss_bytes - short.memory.peak_rss_bytes
    assert grown < 20 * extra_runs + 2_000_000, f"{grown / extra_runs:.0f} bytes a run"


def test_measure_sweep_is_stored_and_reported_as_json(mlp, tmp_path):
    db = tmp_path / "runs.sqlite"
    result = CliRunner().invoke(app, ["measure", str(mlp), "--batch", "1,8", *FAST, "--db", str(db), "-f", "json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "onnxprof.measurement"
    run = doc["run"]
    assert [b["batch"] for b in run["batches"]] == [1, 8] and {b["status"] for b in run["batches"]} == {OK}
    assert run["engine"]["nodes_by_provider"] == {"CPUExecutionProvider": 3}
    assert run["static"]["parameters"] == 64 * 128 + 128 * 10
    assert run["predictions"]["8"]["latency_ms"] > 0
    # uncalibrated memory on the host's CPU: the process before the engine + ONNX Runtime's own part
    predicted, measured = run["predictions"]["8"]["peak_rss_bytes"], run["batches"][1]["memory"]["peak_rss_bytes"]
    process = predicted - engine_bytes(analyze_file(mlp, ShapeBinding(batch=8), check=False), 8, ONNXRUNTIME_CPU_MEMORY)
    # equal where a large test process reuses freed heap for the small engine (the whole suite in one process)
    assert 10_000_000 < process <= measured and "engine's floor" in run["predictions"]["8"]["method"]
    stored = Store(str(db)).get_run(run["id"])
    assert [b.batch for b in stored.batches] == [1, 8] and not stored.interrupted
    assert stored.predictions[8]["latency_ms"] == pytest.approx(run["predictions"]["8"]["latency_ms"])
    shown = CliRunner().invoke(app, ["results", "show", str(run["id"]), "--db", str(db)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0 and "mlp.onnx" in shown.output


def test_side_by_side_table(mlp, tmp_path):
    out = CliRunner().invoke(app, ["measure", str(mlp), "--batch", "2", *FAST, "--no-save"], env={"COLUMNS": "120"}).output
    assert "nodes by provider: CPUExecutionProvider 3" in out
    assert "batch 2" in out and "predicted" in out and "measured" in out and "latency per image" in out
    assert "1 of 1 batch sizes measured, not saved" in out


def test_a_batch_that_does_not_fit_is_recorded_and_the_sweep_goes_on(tmp_path):
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    path = tmp_path / "wide.onnx"
    onnx.save(make_model([relu], [("x", ["N", 1024])], [("y", ["N", 1024])]), path)
    result = CliRunner().invoke(app, ["measure", str(path), "--batch", "1,268435456,2", *FAST, "--no-save", "-f", "json"])
    batches = json.loads(result.stdout)["run"]["batches"]
    assert [(b["batch"], b["status"]) for b in batches] == [(1, OK), (268435456, OUT_OF_MEMORY), (2, OK)]
    # refused before allocating (2.2 TB live at the Relu), so it holds where the kernel overcommits memory too
    assert "its activations alone need at least 2199.0 GB" in batches[1]["error"]


def test_a_batch_whose_inputs_fit_but_activations_do_not_is_refused_before_it_runs(tmp_path):
    # 4 KB of input a row, tiled to 64 MB a row: 100,000 rows hold both, 6711.3 GB, at the Tile
    repeats = onnx.numpy_helper.from_array(np.array([1, 16384], np.int64), "repeats")
    tile = helper.make_node("Tile", ["x", "repeats"], ["y"], name="tile")
    path = tmp_path / "tile.onnx"
    onnx.save(make_model([tile], [("x", ["N", 1024])], [("y", ["N", 16777216])], [repeats]), path)
    result = CliRunner().invoke(app, ["measure", str(path), "--batch", "1,100000", *FAST, "--no-save", "-f", "json"])
    batches = json.loads(result.stdout)["run"]["batches"]
    assert [(b["batch"], b["status"]) for b in batches] == [(1, OK), (100000, OUT_OF_MEMORY)]
    assert "its activations alone need at least 6711.3 GB" in batches[1]["error"]


def test_inputs_larger_than_the_free_memory_are_refused_before_they_are_drawn():
    from onnxprof.cost.analysis import analyze_model
    from onnxprof.measure.inputs import synthetic_feeds
    from onnxprof.model.shapes import ShapeBinding

    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    report = analyze_model(make_model([relu], [("x", ["N", 1024])], [("y", ["N", 1024])]), ShapeBinding(batch=2 ** 28))
    with pytest.raises(MemoryError, match="the inputs alone need 1099.5 GB"):
        synthetic_feeds(report)


def test_a_gpu_provider_that_is_not_there_is_one_line(mlp):
    result = CliRunner().invoke(app, ["measure", str(mlp), "--provider", "cuda", *FAST, "--no-save"])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "CUDAExecutionProvider" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--batch", "0,2"], "expected positive sizes"),
    (["--engine", "tvm"], "choose one of onnxruntime, tensorrt"),
    (["--inputs", "missing.npz"], "no such file"),
])
def test_bad_measure_flags(mlp, args, message):
    result = CliRunner().invoke(app, ["measure", str(mlp), *args, *FAST, "--no-save"])
    assert result.exit_code == 2 and message in result.stderr


def test_real_inputs_from_npz(mlp, tmp_path):
    data = tmp_path / "inputs.npz"
    np.savez(data, x=np.ones((3, 64), np.float32))
    result = CliRunner().invoke(app, ["measure", str(mlp), "--inputs", str(data), *FAST, "--no-save", "-f", "json"])
    assert json.loads(result.stdout)["run"]["batches"][0]["batch"] == 3


def test_token_ids_stay_inside_the_embedding_table(tmp_path):
    from onnxprof.cost.analysis import analyze_model
    from onnxprof.measure.inputs import synthetic_feeds

    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"], name="embed", axis=0)]
    model = make_model(nodes, [("ids", [4, 16], TensorProto.INT64)], [("e", None)], [weight("table", [37, 8])])
    feeds = synthetic_feeds(analyze_model(model, check=False))
    assert feeds["ids"].dtype == np.int64 and 0 <= feeds["ids"].min() and feeds["ids"].max() < 37


def test_ctrl_c_keeps_the_finished_batches(mlp, tmp_path):
    db = tmp_path / "runs.sqlite"
    command = [sys.executable, "-m", "onnxprof", "measure", str(mlp), "--batch", "1,2,4,8", "--duration", "1.5",
               "--db", str(db)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "COLUMNS": "120", "PYTHONUNBUFFERED": "1"})  # see each batch as it ends
    deadline = time.time() + 60
    seen = ""
    while "batch 1" not in seen and time.time() < deadline:   # the first batch is reported (and stored)
        seen += process.stdout.readline()
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted:" in seen + rest and "Traceback" not in seen + rest
    stored = Store(str(db)).list_runs()
    run = Store(str(db)).get_run(stored[0].id)
    assert run.interrupted and 1 <= len(run.batches) < 4 and run.batches[0].status == OK


def test_an_unbound_sequence_length_fails_before_the_engine_is_built(tmp_path):
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"], name="embed", axis=0)]
    path = tmp_path / "tokens.onnx"
    onnx.save(make_model(nodes, [("ids", ["N", "S"], TensorProto.INT64)], [("e", None)], [weight("table", [37, 8])]), path)
    result = CliRunner().invoke(app, ["measure", str(path), *FAST, "--no-save"])
    assert result.exit_code == 2 and "unbound dims" in result.stderr and "onnxruntime cpu" not in result.output
    bound = CliRunner().invoke(app, ["measure", str(path), "--dim", "S=16", *FAST, "--no-save", "-f", "json"])
    assert json.loads(bound.stdout)["run"]["batches"][0]["status"] == OK
