"""Every input answered, for the results store, measure's ending and imported or replayed data: a
damaged database, a run killed by SIGKILL, two Ctrl-Cs, batches that all fail, hostile trtexec files and
replay CSVs. Each answer is one line (and the documented exit code), never a traceback, a hang, a wrong
number or a lost measurement."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import sqlalchemy
from onnx import helper
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.errors import OnnxprofError
from onnxprof.measure.records import COMPLETE, INTERRUPTED, OK, UNFINISHED, PowerFigures, error_line, json_ready
from onnxprof.meters.base import MeterUnavailable
from onnxprof.meters.replay import ReplayMeter
from onnxprof.report.run_json import run_json
from onnxprof.store import db as store_db
from onnxprof.store import schema
from onnxprof.store.db import DamagedRun, Store
from tests import synthetic_runs as synth
from tests.builders import ints, make_model, weight

FAST = ["--duration", "0", "--iterations", "3", "--warmup", "1", "--warmup-time", "0"]
DATA = Path(__file__).parent.parent / "store" / "data"
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def one_error_line(result, *words):
    """The command's stderr is exactly one `onnxprof: error:` line holding ``words``; no traceback."""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("onnxprof: error:"), result.stderr
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def strict_json(text: str):
    """Standard JSON only: NaN, Infinity and -Infinity are refused."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def mlp(tmp_path_factory) -> Path:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["y"], name="relu")]
    path = tmp_path_factory.mktemp("robust") / "mlp.onnx"
    onnx.save(make_model(nodes, [("x", ["N", 64])], [("y", ["N", 128])], [weight("w1", [64, 128])]), path)
    return path


@pytest.fixture(scope="module")
def reshape_to_one(tmp_path_factory) -> Path:
    """Runs at batch 1 only: ONNX Runtime fails every larger batch inside the engine."""
    node = helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")
    path = tmp_path_factory.mktemp("robust") / "reshape.onnx"
    onnx.save(make_model([node], [("x", ["N", 64])], [("y", [1, 64])], [ints("shape", [1, 64])]), path)
    return path


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """Four runs; run 2 also has a layer row."""
    path = tmp_path_factory.mktemp("template") / "runs.sqlite"
    with Store(str(path)) as store:
        synth.fill(store, synth.MODELS[:3])
        store.save_run(synth.record(synth.MODELS[0]))
        store.finish_run(2, "2026-11-25T00:02:00+00:00", layers=[_layer()])
    return path


@pytest.fixture
def filled_db(template_db, tmp_path) -> Path:
    path = tmp_path / "runs.sqlite"
    shutil.copy(template_db, path)
    return path


# ------------------------------------------------------------------------------------------ damaged database

def overwrite_page(path: Path, page: int, page_size: int) -> None:
    with open(path, "r+b") as f:
        f.seek((page - 1) * page_size)
        f.write(bytes(range(256)) * (page_size // 256))


def root_page(path: Path, table: str) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        size = conn.execute("pragma page_size").fetchone()[0]
        return conn.execute("select rootpage from sqlite_master where name = ?", (table,)).fetchone()[0], size


@pytest.mark.parametrize("table", ["runs", "batches"])
@pytest.mark.parametrize("command", [["results", "list"], ["results", "show", "1"], ["results", "export"],
                                     ["compare"]])
def test_a_damaged_page_is_one_line_naming_the_file(filled_db, table, command):
    path = filled_db
    page, size = root_page(path, table)
    overwrite_page(path, page, size)
    result = cli(*command, "--db", str(path))
    assert result.exit_code == 2
    one_error_line(result, str(path), "damaged", "sqlite3 FILE .recover")


# one value of the wrong kind for each kind of column: text where a number or flag belongs, bytes where
# text belongs, JSON that does not parse or is the wrong shape
def _garbage(column) -> list:
    kind = column.type
    if isinstance(kind, sqlalchemy.JSON):
        return ["{not json", "[1, 2]"] if column.name in ("engine_info", "host", "static", "predictions") else ["{not json"]
    if isinstance(kind, (sqlalchemy.Integer, sqlalchemy.BigInteger, sqlalchemy.Double, sqlalchemy.Boolean)):
        return ["abc"]
    return [b"\xff\xfe"]


DAMAGES = [(table.name, column.name, value)
           for table in (schema.runs, schema.batches, schema.run_layers)
           for column in table.c if not column.primary_key and column.name not in ("run_id", "status", "position")
           for value in _garbage(column)]


@pytest.mark.parametrize("table, column, value", DAMAGES, ids=[f"{t}.{c}={v!r}" for t, c, v in DAMAGES])
def test_a_damaged_value_damages_its_run_only(filled_db, table, column, value):
    path = filled_db
    with sqlite3.connect(path) as conn:
        key = "id" if table == "runs" else "run_id"
        conn.execute(f"update {table} set {column} = ? where {key} = 2", (value,))
    with Store(str(path)) as store:
        with pytest.raises(DamagedRun, match=f"run 2 .* damaged .*{table} row .*{column}"):
            store.get_run(2)
        assert store.get_run(1).model_source == "zoo:alexnet"
        listed = {run.id: run for run in store.list_runs()}
    assert len(listed) == 4 and not listed[1].damage
    listing_reads_it = column in (store_db.SUMMARY_COLUMNS if table == "runs" else ("batch", "status"))
    assert bool(listed[2].damage) == listing_reads_it              # the listing reads few columns: fast

    if listing_reads_it:
        shown = cli("results", "list", "--db", str(path))
        assert shown.exit_code == 0 and "zoo:resnet50" in shown.output and "(damaged)" in shown.output
    exported = cli("results", "export", "--db", str(path))
    assert exported.exit_code == 0 and "warning: left out: run 2" in exported.stderr
    assert [run["id"] for run in strict_json(exported.stdout)["runs"]] == [1, 3, 4]
    named = cli("results", "show", "2", "1", "--db", str(path))
    assert named.exit_code == 2 and "Run 1: zoo:alexnet" in named.stdout
    one_error_line(named, "run 2", column)


def _layer():
    from onnxprof.measure.layers import LayerRow

    return LayerRow("fc", ("fc1",), ("MatMul",), 1.0, None, 1000)


# ------------------------------------------------------------------------------------------ run status

def wait_for(process: subprocess.Popen, text: str, timeout_s: float = 60) -> str:
    seen, deadline = "", time.time() + timeout_s
    while text not in seen and time.time() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen += line
    assert text in seen, seen
    return seen


def measuring(model: Path, db: Path, batches: str = "1,2,4,8") -> subprocess.Popen:
    command = [sys.executable, "-m", "onnxprof", "measure", str(model), "--batch", batches, "--duration", "0.5",
               "--iterations", "3", "--warmup", "1", "--warmup-time", "0", "--db", str(db)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "120", "PYTHONUNBUFFERED": "1"})


def test_a_run_killed_by_sigkill_is_unfinished_everywhere(mlp, tmp_path):
    db = tmp_path / "runs.sqlite"
    with Store(str(db)) as store:
        complete = store.save_run(replace(synth.record(synth.MODELS[1]), model_source=str(mlp)))
    process = measuring(mlp, db)
    wait_for(process, "batch 1")
    time.sleep(0.2)
    process.kill()
    process.wait(timeout=30)
    with Store(str(db)) as store:
        killed = store.list_runs()[-1]
        record = store.get_run(killed.id)
        assert killed.status == UNFINISHED and record.status == UNFINISHED and not record.ended_at
        assert record.batches[0].status == OK                      # what was measured is kept
        assert store.run_ids() == [complete] and store.run_ids(unfinished=True) == [complete, killed.id]
    listed = cli("results", "list", "--db", str(db))
    assert "unfinished: killed or still running" in listed.output
    shown = cli("results", "show", str(killed.id), "--db", str(db))
    assert shown.exit_code == 0 and "unfinished" in shown.output
    runs = {run["id"]: run for run in strict_json(cli("results", "export", "--db", str(db)).stdout)["runs"]}
    assert runs[killed.id]["status"] == UNFINISHED and runs[complete]["status"] == COMPLETE
    rows = cli("results", "export", "-f", "csv", "--db", str(db)).stdout.splitlines()
    assert rows[0].split(",")[9] == "run_status" and rows[-1].split(",")[9] == UNFINISHED


def test_reports_read_the_newest_finished_run_not_an_unfinished_one(tmp_path):
    from onnxprof.report.dataset import load_points

    model = synth.MODELS[1]
    with Store(str(tmp_path / "r.sqlite")) as store:
        store.save_run(synth.record(model))
        slower = replace(synth.record(model), ended_at="",
                         batches=tuple(replace(b, latency=replace(b.latency, median_ms=999.0))
                                       for b in synth.record(model).batches[:2]))
        store.save_run(slower)                                     # newer, but killed after two batches
        points = load_points(store)
    assert sorted(p.batch for p in points) == list(synth.BATCHES)
    assert all(p.latency_ms != 999.0 for p in points)


def test_an_older_database_gets_statuses_from_its_rows(tmp_path):
    path = tmp_path / "old.sqlite"
    with Store(str(path)) as store:
        for ended_at, interrupted in (("2026-11-25T00:01:00+00:00", False), ("", False),
                                      ("2026-11-25T00:01:00+00:00", True)):
            store.save_run(replace(synth.record(synth.MODELS[0]), ended_at=ended_at, interrupted=interrupted))
    with sqlite3.connect(path) as conn:                            # as schema version 1 wrote it
        conn.execute("alter table runs drop column status")
        conn.execute("update runs set schema_version = 1")
    with Store(str(path)) as store:
        assert [run.status for run in store.list_runs()] == [COMPLETE, UNFINISHED, INTERRUPTED]
        assert store.run_ids() == [1, 3]
    with sqlite3.connect(path) as conn:
        assert [row[0] for row in conn.execute("select status from runs order by id")] == [
            COMPLETE, UNFINISHED, INTERRUPTED]


def test_a_second_ctrl_c_while_saving_still_exits_130_with_the_batches_saved(mlp, tmp_path):
    db = tmp_path / "runs.sqlite"
    process = measuring(mlp, db)
    wait_for(process, "batch 1")
    time.sleep(0.2)
    deadline = time.time() + 30
    while process.poll() is None and time.time() < deadline:       # Ctrl-C held down: one every 5 ms
        process.send_signal(signal.SIGINT)
        time.sleep(0.005)
    rest, _ = process.communicate(timeout=30)
    assert process.returncode == 130, rest
    assert "Traceback" not in rest and "interrupted:" in rest
    with Store(str(db)) as store:
        [summary] = store.list_runs()
        run = store.get_run(summary.id)
    assert run.status == INTERRUPTED and 1 <= len(run.batches) < 4 and run.batches[0].status == OK


# ------------------------------------------------------------------------------------------ measure's exit code

@pytest.mark.parametrize("batches, code, message", [
    ("1", 0, None),
    ("1,2", 1, "1 of 2 batch sizes not measured: 2 (failed)"),
    ("2,3", 1, "no batch size was measured: 2 (failed), 3 (failed)"),
])
def test_measure_exits_non_zero_when_a_batch_fails_in_the_engine(reshape_to_one, tmp_path, batches, code, message):
    db = tmp_path / "runs.sqlite"
    result = cli("measure", str(reshape_to_one), "--batch", batches, *FAST, "--db", str(db), "-f", "json")
    assert result.exit_code == code, result.output
    run = strict_json(result.stdout)["run"]
    assert [b["batch"] for b in run["batches"]] == [int(b) for b in batches.split(",")]
    last = result.stderr.splitlines()[-1]          # the report goes to stderr too, with -f json
    assert "Traceback" not in result.stderr
    if message is None:
        assert "onnxprof: error" not in result.stderr
    else:
        assert last == f"onnxprof: error: {message}" and result.stderr.count("onnxprof: error") == 1
    with Store(str(db)) as store:                                  # kept, and finished
        stored = store.get_run(run["id"])
    assert stored.status == COMPLETE and [b.status for b in stored.batches] == [b["status"] for b in run["batches"]]


def test_out_of_memory_at_the_end_of_a_sweep_is_still_success(tmp_path):
    relu = helper.make_node("Relu", ["x"], ["y"], name="relu")
    path = tmp_path / "wide.onnx"
    onnx.save(make_model([relu], [("x", ["N", 1024])], [("y", ["N", 1024])]), path)
    assert cli("measure", str(path), "--batch", "1,268435456", *FAST, "--no-save").exit_code == 0
    only = cli("measure", str(path), "--batch", "268435456", *FAST, "--no-save")
    assert only.exit_code == 1
    one_error_line(only, "no batch size was measured: 268435456 (out of memory)")


# ------------------------------------------------------------------------------------------ bytes that are not UTF-8

def test_a_model_file_name_onnx_runtime_cannot_take_is_one_line(mlp, tmp_path):
    odd = Path(os.fsdecode(os.fsencode(str(tmp_path)) + b"/m\xff\xfe.onnx"))
    odd.write_bytes(mlp.read_bytes())
    result = cli("measure", str(odd), *FAST, "--no-save")
    assert result.exit_code == 2
    one_error_line(result, "UTF-8", "m\ufffd\ufffd.onnx")


@pytest.mark.parametrize("error", [
    UnicodeDecodeError("utf-8", b"Non-zero status running node 'conv\xff\xfe1'", 35, 36, "invalid start byte"),
    RuntimeError(b"node 'conv\xff1' failed"),
    RuntimeError("node '" + os.fsdecode(b"conv\xff1") + "' failed"),
])
def test_engine_errors_with_bytes_that_are_not_utf8_are_stored_and_exported(tmp_path, error):
    from onnxprof.measure.harness import failed_batch

    line = error_line(error)
    assert "conv\ufffd" in line and line.encode("utf-8")
    record = replace(synth.record(synth.MODELS[0]), batches=(failed_batch(4, error),))
    with Store(str(tmp_path / "r.sqlite")) as store:
        assert store.get_run(store.save_run(record)).batches[0].error == line
    exported = cli("results", "export", "--db", str(tmp_path / "r.sqlite"))
    assert strict_json(exported.stdout)["runs"][0]["batches"][0]["error"] == line


# ------------------------------------------------------------------------------------------ standard JSON out

def test_non_finite_numbers_are_written_as_null(tmp_path):
    power = PowerFigures(meter="m", gross_w=math.nan, energy_j=math.inf, images_per_j=-math.inf, samples=3)
    batch = replace(synth.record(synth.MODELS[0]).batches[0], power=power, throughput_per_s=math.inf)
    record = replace(synth.record(synth.MODELS[0]), batches=(batch,), idle_power_w=math.nan,
                     predictions={1: {"latency_ms": math.inf, "power_w": math.nan}})
    with Store(str(tmp_path / "r.sqlite")) as store:
        store.save_run(record)
    for fmt in ("json", "csv"):
        result = cli("results", "export", "-f", fmt, "--db", str(tmp_path / "r.sqlite"))
        assert result.exit_code == 0 and "nan" not in result.stdout.lower() and "inf" not in result.stdout.lower()
    run = strict_json(cli("results", "export", "--db", str(tmp_path / "r.sqlite")).stdout)["runs"][0]
    assert run["batches"][0]["power"]["gross_w"] is None and run["batches"][0]["throughput_per_s"] is None
    prediction = run["predictions"]["1"]
    assert (prediction["latency_ms"], prediction["power_w"], run["idle_power_w"]) == (None, None, None)
    assert strict_json(run_json(record))["run"]["batches"][0]["power"]["energy_j"] is None
    assert json_ready([1.5, math.nan, {"a": math.inf}]) == [1.5, None, {"a": None}]


# ------------------------------------------------------------------------------------------ trtexec import

TIMES_FIELDS = ("startEnqMs", "endEnqMs", "startH2dMs", "endH2dMs", "startComputeMs", "endComputeMs", "startD2hMs",
                "endD2hMs", "h2dMs", "computeMs", "d2hMs", "latencyMs")
LAYER_FIELDS = ("timeMs", "averageMs", "medianMs", "percentage")
HOSTILE = {"negative": -0.5, "nan": math.nan, "inf": math.inf, "1e308": 1e308, "10**30": 10**30, "text": "2.0",
           "true": True}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def import_files(model: Path, db: Path, times: Path, profile: Path | None = None):
    return cli("results", "import-trtexec", "--model", str(model), "--times", str(times),
               *(["--profile", str(profile)] if profile else []), "--db", str(db))


def assert_refused(result, db: Path, *words):
    assert result.exit_code == 2, result.output
    one_error_line(result, *words)
    if db.exists():
        with Store(str(db)) as store:
            assert store.list_runs() == []


@pytest.mark.parametrize("value", HOSTILE, ids=list(HOSTILE))
@pytest.mark.parametrize("field", TIMES_FIELDS)
def test_every_times_field_is_checked(mlp, tmp_path, field, value):
    queries = json.loads((DATA / "times.json").read_text())
    queries[3][field] = HOSTILE[value]
    times = write(tmp_path / "times.json", json.dumps(queries))
    db = tmp_path / "x.sqlite"
    assert_refused(import_files(mlp, db, times), db, "query 3", repr(field))


@pytest.mark.parametrize("value", {**HOSTILE, "500": 500.0}, ids=[*HOSTILE, "500"])
@pytest.mark.parametrize("field", LAYER_FIELDS)
def test_every_profile_field_is_checked(mlp, tmp_path, field, value):
    layers = json.loads((DATA / "profile.json").read_text())
    layers[2][field] = {**HOSTILE, "500": 500.0}[value]
    if value == "500" and field != "percentage":
        layers[2][field] = 2e7                                      # past any real layer time
    profile = write(tmp_path / "profile.json", json.dumps(layers))
    db = tmp_path / "x.sqlite"
    assert_refused(import_files(mlp, db, DATA / "times.json", profile), db, "layer 1", repr(field))


@pytest.mark.parametrize("count", [-1, 10**30, 2**63, 1.5, "20", None])
def test_the_iteration_count_fits_the_database(mlp, tmp_path, count):
    layers = json.loads((DATA / "profile.json").read_text())
    layers[0]["count"] = count
    profile = write(tmp_path / "profile.json", json.dumps(layers))
    db = tmp_path / "x.sqlite"
    assert_refused(import_files(mlp, db, DATA / "times.json", profile), db, '"count"')


@pytest.mark.parametrize("which", ["times", "profile"])
def test_repeated_keys_and_lone_surrogates_are_refused(mlp, tmp_path, which):
    db = tmp_path / "x.sqlite"
    text = (DATA / f"{which}.json").read_text()
    repeated = text.replace('"computeMs" : 2,', '"computeMs" : 2, "computeMs" : 9,', 1) if which == "times" else \
        text.replace('"timeMs" : 12.2,', '"timeMs" : 12.2, "timeMs" : -1,', 1)
    assert repeated != text
    path = write(tmp_path / f"{which}.json", repeated)
    args = (path,) if which == "times" else (DATA / "times.json", path)
    assert_refused(import_files(mlp, db, *args), db, "repeats the key")
    if which == "profile":
        lone = write(tmp_path / "lone.json", text.replace('"pool1"', '"pool\\ud800"', 1))
        assert_refused(import_files(mlp, db, DATA / "times.json", lone), db, "layer 1", "lone surrogate")


@pytest.mark.parametrize("which", ["times", "profile"])
def test_deeply_nested_json_is_a_clean_error(mlp, tmp_path, which):
    deep = write(tmp_path / "deep.json", "[" * 100_000 + "]" * 100_000)
    db = tmp_path / "x.sqlite"
    args = (deep,) if which == "times" else (DATA / "times.json", deep)
    assert_refused(import_files(mlp, db, *args), db, "deep.json", "nest deeper")


# ------------------------------------------------------------------------------------------ replayed power

@pytest.mark.parametrize("cell", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999"])
@pytest.mark.parametrize("column", [0, 1, 2])
def test_replayed_readings_must_be_finite(tmp_path, column, cell):
    rows = [["0.0", "10", "1"], ["0.1", "10", "1"], ["0.2", "10", "1"]]
    rows[1][column] = cell
    path = write(tmp_path / "p.csv", "time,power_w,gpu_w\n" + "\n".join(",".join(r) for r in rows) + "\n")
    with pytest.raises(MeterUnavailable, match=f"line 3: '{cell}' in column '{['time', 'power_w', 'gpu_w'][column]}' "
                                               "is not a finite number") as caught:
        ReplayMeter(path, clock_offset_s=0.0).start()
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_measure_with_a_nan_replay_is_one_line(mlp, tmp_path):
    path = write(tmp_path / "p.csv", "time,power_w\n0,10\n1,nan\n2,10\n")
    result = cli("measure", str(mlp), *FAST, "--no-save", "--meter", "replay", "--replay", str(path),
                 "--replay-offset", "0")
    assert result.exit_code == 2
    one_error_line(result, "line 3", "'nan'", "not a finite number")


def test_a_long_replay_is_held_in_a_few_bytes_a_reading(tmp_path):
    import tracemalloc

    rows = 50_000
    lines = "\n".join(f"{i / 1000!r},{10 + i % 7},{1 + i % 3}" for i in range(rows))
    path = write(tmp_path / "long.csv", "time,power_w,gpu_w\n" + lines + "\n")
    tracemalloc.start()
    try:
        meter = ReplayMeter(path, clock_offset_s=0.0)
        meter.start()
        window = meter.window(20.0, 21.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak / rows < 80, f"{peak / rows:.0f} bytes a reading"     # a list of Samples took 674
    assert window.samples == 1001 and window.energy_j == pytest.approx(13.0, rel=1e-3)


def test_windows_from_a_replay_equal_those_from_every_sample(tmp_path):
    from onnxprof.meters.base import window_figures

    rng = np.random.default_rng(7)
    times = np.cumsum(rng.choice([0.0, 0.013, 0.05, 0.2], size=400))
    lines = []
    for i, t in enumerate(times):
        power = "" if i % 17 == 5 else repr(float(rng.uniform(5, 15)))       # readings without power too
        rail = "" if i % 11 == 3 else repr(float(rng.uniform(0, 2)))
        lines.append(f"{float(t)!r},{power},{rail}")
    path = write(tmp_path / "r.csv", "time,power_w,gpu_w\n" + "\n".join(lines) + "\n")
    meter = ReplayMeter(path, clock_offset_s=-3.0)
    meter.start()
    every = list(meter.samples)
    assert len(every) == 400 and sum(s.power_w is None for s in every) == len(range(5, 400, 17))
    edges = [float(times[0]) + 3.0 - 1.0, float(times[7]) + 3.0, float(times[200]) + 3.0,
             float(times[-1]) + 3.0, float(times[-1]) + 10.0]
    for start in edges + list(rng.uniform(times[0] + 2.0, times[-1] + 4.0, size=30)):
        for length in (0.0, 0.01, 0.3, 5.0):
            assert meter.window(start, start + length) == window_figures(every, start, start + length)


def test_a_damaged_profile_is_one_line_not_a_silently_older_one(tmp_path):
    path = tmp_path / "p.sqlite"
    with Store(str(path)) as store:
        store.save_profile("lab", "2026-01-01", "box", "onnxruntime", "cpu", {"profile": {"n": 1}})
        store.save_profile("lab", "2026-02-01", "box", "onnxruntime", "cpu", {"profile": {"n": 2}})
    with sqlite3.connect(path) as conn:
        conn.execute("update profiles set document = '{\"profile\": ' where id = 2")
    with Store(str(path)) as store, pytest.raises(OnnxprofError, match="profiles row 2: column 'document'") as caught:
        store.find_profile(name="lab")
    assert "\n" not in str(caught.value)


def test_measure_output_that_cannot_be_written_is_one_line_before_measuring(mlp, tmp_path):
    """Checked before the sweep, so no measurement waits on a path that cannot take it; a missing folder
    is made."""
    db = tmp_path / "runs.sqlite"
    (tmp_path / "a-file").write_text("")
    result = cli("measure", str(mlp), *FAST, "--db", str(db), "-o", str(tmp_path / "a-file" / "run.json"))
    assert result.exit_code == 2
    one_error_line(result, "a-file")
    if db.exists():
        with Store(str(db)) as store:
            assert store.list_runs() == []
    made = cli("measure", str(mlp), *FAST, "--db", str(db), "-o", str(tmp_path / "no" / "such" / "run.json"))
    assert made.exit_code == 0 and json.loads((tmp_path / "no" / "such" / "run.json").read_text())["run"]
    with Store(str(db)) as store:
        assert [run.status for run in store.list_runs()] == [COMPLETE]