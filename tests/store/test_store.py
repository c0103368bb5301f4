"""The results store: exact round trips, all-or-nothing writes, incremental sweeps, the CLI."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import replace

import pytest
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import CreateTable
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.errors import OnnxprofError
from onnxprof.measure.records import (FAILED, OK, OUT_OF_MEMORY, BatchResult, EngineInfo, HostInfo, LatencyStats,
                                      MemoryMeasurement, RunRecord)
from onnxprof.store import db as store_db
from onnxprof.store import schema
from onnxprof.store.db import SCHEMA_VERSION, Store, database_url

runner = CliRunner()


def stats(median: float, noisy: bool = False) -> LatencyStats:
    return LatencyStats(samples=37, total_s=3.0125, min_ms=median * 0.9, mean_ms=median * 1.01, median_ms=median,
                        p90_ms=median * 1.1, p95_ms=median * 1.15, p99_ms=median * 1.3, max_ms=median * 1.5,
                        std_ms=median * 0.02, cv=0.0198019801980198, noisy=noisy)


def make_record(batches=None, interrupted=False) -> RunRecord:
    ok = BatchResult(batch=8, status=OK, latency=stats(12.345678901234), device_latency=stats(11.1, noisy=True),
                     throughput_per_s=641.0123456789, latency_per_image_ms=1.5432098765,
                     memory=MemoryMeasurement(peak_rss_bytes=3 * 2**31, system_used_bytes=None,
                                              gpu_used_bytes=123456789, engine_bytes=None),
                     warmup_runs=10, started_at="2026-07-01T10:00:01.250+00:00", ended_at="2026-07-01T10:00:04.500+00:00")
    oom = BatchResult(batch=256, status=OUT_OF_MEMORY, error="CUDA out of memory: tried to allocate 2.1 GiB",
                      started_at="2026-07-01T10:00:05.000+00:00", ended_at="2026-07-01T10:00:05.900+00:00")
    return RunRecord(
        model_source="zoo:resnet50", model_path="/models/resnet50.onnx", model_sha256="ab" * 32,
        engine=EngineInfo(engine="onnxruntime", provider="cuda", precision="fp16",
                          options={"threads": 4, "optimization": "all", "nested": {"a": [1, 2.5, None]}},
                          nodes_by_provider={"CUDAExecutionProvider": 120, "CPUExecutionProvider": 3},
                          fallback=True, versions={"onnxruntime": "1.31.0"}),
        host=HostInfo(hostname="jetson-1", os="Linux 5.15", cpu="ARMv8 Processor rev 1 (v8l)", cpu_count=6,
                      memory_bytes=8 * 2**30, python="3.12.3", versions={"onnx": "1.23.0"}, gpu="Orin",
                      gpu_driver="540.4", jetson={"l4t": "36.4.3", "nvpmodel": "MAXN"}),
        static={"parameters": 25557032, "macs": {"formula": "4089184256*N",
                                                  "terms": [{"coefficient": 4089184256, "powers": {"N": 1}}]}},
        batches=(ok, oom) if batches is None else batches,
        started_at="2026-07-01T10:00:00.000+00:00", ended_at="2026-07-01T10:00:06.000+00:00",
        interrupted=interrupted, predictions={8: {"latency_ms": 12.0, "power_w": 9.5}, 256: {"latency_ms": 380.25}})


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "x.sqlite"


@pytest.fixture
def store(db_path):
    with Store(str(db_path)) as opened:
        yield opened


def table_counts(path) -> tuple[int, int]:
    with sqlite3.connect(path) as conn:
        return (conn.execute("select count(*) from runs").fetchone()[0],
                conn.execute("select count(*) from batches").fetchone()[0])


# ------------------------------------------------------------------------------------------ round trips

def test_round_trip_is_exact_with_none_fields(store):
    record = make_record()
    run_id = store.save_run(record)
    back = store.get_run(run_id)
    assert back == record
    assert back.batches[1].latency is None and back.batches[1].memory is None
    assert back.batches[0].memory.system_used_bytes is None and back.batches[0].memory.peak_rss_bytes == 3 * 2**31
    assert back.predictions == {8: {"latency_ms": 12.0, "power_w": 9.5}, 256: {"latency_ms": 380.25}}
    assert type(next(iter(back.predictions))) is int


def test_empty_memory_measurement_is_not_confused_with_none(store):
    record = make_record(batches=(BatchResult(batch=1, status=FAILED, error="boom", memory=MemoryMeasurement()),))
    assert store.get_run(store.save_run(record)) == record


def test_runs_keep_their_own_batches_in_order(store):
    first = store.save_run(make_record())
    reordered = make_record(batches=tuple(reversed(make_record().batches)))
    second = store.save_run(reordered)
    assert second == first + 1
    assert [b.batch for b in store.get_run(first).batches] == [8, 256]
    assert [b.batch for b in store.get_run(second).batches] == [256, 8]


def test_a_failing_batch_insert_leaves_no_run(store, db_path, monkeypatch):
    store.save_run(make_record())                     # one good run already there
    inserts = {"batches": 0}
    original = Connection.execute

    def failing(self, statement, *args, **kwargs):
        if getattr(statement, "is_insert", False) and statement.table.name == "batches":
            inserts["batches"] += 1
            if inserts["batches"] == 2:
                raise OperationalError("INSERT INTO batches", {}, Exception("disk I/O error"))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", failing)
    with pytest.raises(OnnxprofError, match="disk I/O error"):
        store.save_run(make_record())
    monkeypatch.undo()
    assert inserts["batches"] == 2                    # the run row and the first batch had been written
    assert table_counts(db_path) == (1, 2)            # ... and were rolled back
    assert [run.id for run in store.list_runs()] == [1]


def test_a_programming_error_midway_also_leaves_nothing(store, db_path):
    broken = make_record(batches=(make_record().batches[0], BatchResult(batch=2, status=OK, latency="fast")))
    with pytest.raises(AttributeError):
        store.save_run(broken)
    assert table_counts(db_path) == (0, 0)


def test_incremental_sweep_append_and_finish(store, db_path):
    full = make_record(interrupted=True)
    run_id = store.save_run(replace(full, batches=(), ended_at=""))
    assert store.get_run(run_id).batches == ()
    store.append_batch(run_id, full.batches[0])
    assert table_counts(db_path) == (1, 1)            # committed before the next batch runs
    store.append_batch(run_id, full.batches[1])
    store.finish_run(run_id, full.ended_at, interrupted=True)
    assert store.get_run(run_id) == full
    summary = store.list_runs()[0]
    assert summary.batch_sizes == (8, 256) and summary.failed_batches == 1 and summary.interrupted


def test_finish_run_records_what_is_known_only_at_the_end(store):
    full = make_record()
    early = replace(full, engine=replace(full.engine, nodes_by_provider={}, fallback=False), predictions={},
                    batches=(), ended_at="")
    run_id = store.save_run(early)
    for result in full.batches:
        store.append_batch(run_id, result)
    store.finish_run(run_id, full.ended_at, predictions=full.predictions, engine=full.engine)
    assert store.get_run(run_id) == full


def test_unknown_run_is_a_user_error(store):
    for call in (lambda: store.get_run(7), lambda: store.finish_run(7, "x"),
                 lambda: store.append_batch(7, make_record().batches[0]), lambda: store.export([7])):
        with pytest.raises(OnnxprofError, match="no run 7"):
            call()


def test_export_is_json_ready(store):
    run_id = store.save_run(make_record())
    [exported] = store.export()
    assert exported["id"] == run_id and exported["schema_version"] == SCHEMA_VERSION
    # each prediction with its source (its provenance's label, else its method: none here) and warnings
    assert json.loads(json.dumps(exported))["predictions"] == {
        "8": {"latency_ms": 12.0, "power_w": 9.5, "source": "", "warnings": []},
        "256": {"latency_ms": 380.25, "source": "", "warnings": []}}
    assert exported["batches"][0]["latency"]["median_ms"] == 12.345678901234
    assert exported["batches"][1]["latency"] is None and "trtexec" not in exported


# ------------------------------------------------------------------------------------------ locations

def test_plain_path_is_a_sqlite_file_and_folders_are_created(tmp_path):
    target = tmp_path / "deep" / "er" / "r.sqlite"
    with Store(str(target)) as opened:
        assert opened.url.drivername == "sqlite" and opened.url.database == str(target)
    assert target.is_file()


def test_default_location_follows_xdg_and_onnxprof_db(tmp_path, monkeypatch):
    monkeypatch.delenv("ONNXPROF_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert database_url(None).database == str(tmp_path / "data" / "onnxprof" / "results.sqlite")
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert database_url(None).database == str(tmp_path / "home" / ".local" / "share" / "onnxprof" / "results.sqlite")
    monkeypatch.setenv("ONNXPROF_DB", str(tmp_path / "chosen.sqlite"))
    assert database_url(None).database == str(tmp_path / "chosen.sqlite")
    assert database_url("postgresql://me@db.example/results").drivername == "postgresql+psycopg"


@pytest.mark.parametrize("inside, message", [
    ("afile/r.sqlite", "afile is a file, not a folder"),
    ("afile/sub/r.sqlite", r"cannot create the folder .*afile/sub \(Not a directory\)"),
])
def test_folder_that_cannot_be_created_is_one_line(tmp_path, inside, message):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OnnxprofError, match=message) as caught:
        Store(str(tmp_path / inside))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("url, message", [
    ("nosuchdb://host/x", "SQLAlchemy knows no database 'nosuchdb'"),
    ("sqlite://///", "cannot open the results database"),
])
def test_rejected_urls_are_one_line(url, message):
    with pytest.raises(OnnxprofError, match=message) as caught:
        Store(url)
    assert "\n" not in str(caught.value)


def test_a_file_that_is_not_a_database(tmp_path):
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"\x08\x07" + b"not sqlite at all" * 100)
    with pytest.raises(OnnxprofError, match="cannot open the results database .*not a database"):
        Store(str(bogus))


def test_missing_postgres_driver_names_the_extra():
    try:
        import psycopg  # noqa: F401
        pytest.skip("psycopg is installed here")
    except ImportError:
        pass
    with pytest.raises(OnnxprofError, match=r"pip install 'onnxprof\[postgres\]'") as caught:
        Store("postgresql://me:secret@localhost/results")
    assert "secret" not in str(caught.value)


def test_schema_compiles_for_postgresql():
    for table in schema.metadata.sorted_tables:
        ddl = str(CreateTable(table).compile(dialect=postgresql.dialect()))
        assert "CREATE TABLE" in ddl
    runs_ddl = str(CreateTable(schema.runs).compile(dialect=postgresql.dialect()))
    assert "host JSON" in runs_ddl and "id SERIAL" in runs_ddl


def test_newer_schema_is_refused(db_path, store):
    store.save_run(make_record())
    with sqlite3.connect(db_path) as conn:
        conn.execute("update runs set schema_version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(OnnxprofError, match="upgrade onnxprof"):
        Store(str(db_path))


# ------------------------------------------------------------------------------------------ CLI

def invoke(*args):
    return runner.invoke(app, ["results", *args], env={"COLUMNS": "200"})


@pytest.fixture
def filled(db_path):
    with Store(str(db_path)) as opened:
        opened.save_run(make_record())
        opened.save_run(replace(make_record(), model_source="models/vgg16.onnx", batches=(make_record().batches[0],)))
    return str(db_path)


def test_cli_list(filled):
    result = invoke("list", "--db", filled)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "zoo:resnet50" in out and "models/vgg16.onnx" in out and "onnxruntime/cuda" in out
    assert "8, 256 (1 not ok)" in out and "jetson-1" in out and "2026-07-01 10:00:00" in out


def test_cli_list_empty(tmp_path):
    with Store(str(tmp_path / "new.sqlite")):
        pass
    result = invoke("list", "--db", str(tmp_path / "new.sqlite"))
    assert result.exit_code == 0 and "No runs" in result.output
    mistyped = invoke("list", "--db", str(tmp_path / "nwe.sqlite"))     # a read never creates a database
    assert mistyped.exit_code == 2 and "no such file" in mistyped.stderr and not (tmp_path / "nwe.sqlite").exists()


def test_cli_show(filled):
    result = invoke("show", "1", "--db", filled)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Run 1: zoo:resnet50" in out and "out_of_memory: CUDA out of memory" in out
    # per image and throughput from the device clock's median (11.1 ms for 8 images); bytes in MB = 10^6 B
    assert "12.346" in out and "1.387" in out and "720.7" in out and "6,442.45\u00a0MB" in out
    assert "device median ms" in out and "11.100" in out


def test_cli_show_unknown_run_is_one_line(filled):
    result = invoke("show", "42", "--db", filled)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "no run 42" in result.stderr
    assert "Traceback" not in result.output


def test_cli_export_json(filled, tmp_path):
    target = tmp_path / "out.json"
    result = invoke("export", "2", "--format", "json", "-o", str(target), "--db", filled)
    assert result.exit_code == 0 and result.output == ""
    doc = json.loads(target.read_text())
    assert doc["schema"] == "onnxprof.results" and doc["schema_version"] == 1
    assert [run["id"] for run in doc["runs"]] == [2] and doc["runs"][0]["model_source"] == "models/vgg16.onnx"


def test_cli_export_csv_one_row_per_batch(filled):
    result = invoke("export", "--format", "csv", "--db", filled)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["run_id"], r["batch"], r["status"]) for r in rows] == [("1", "8", "ok"), ("1", "256", "out_of_memory"),
                                                                      ("2", "8", "ok")]
    assert float(rows[0]["host_median_ms"]) == 12.345678901234 and rows[1]["host_median_ms"] == ""
    assert rows[0]["device_noisy"] == "True" and rows[0]["peak_rss_bytes"] == str(3 * 2**31)


def test_cli_export_bad_format(filled):
    result = invoke("export", "--format", "xml", "--db", filled)
    assert result.exit_code == 2 and "choose json or csv" in result.stderr


def test_cli_bad_db_is_one_line(tmp_path):
    result = invoke("list", "--db", "nosuchdb://x/y")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "SQLAlchemy knows no database" in result.stderr


# ------------------------------------------------------------------------------------------ layers and profiles

def test_layer_profiles_round_trip_with_their_run(store):
    from onnxprof.measure.layers import LayerRow

    layers = (LayerRow("fused conv1", ("conv1", "relu1"), ("Conv", "Relu"), 1.25, 0.9, 118013952),
              LayerRow("pool", ("pool",), ("MaxPool",), 0.125, None, 0))
    run_id = store.save_run(replace(make_record(), layers=layers))
    assert store.get_run(run_id).layers == layers
    later = store.save_run(make_record(batches=()))
    store.finish_run(later, "2026-07-01T10:00:09.000+00:00", layers=layers[1:])
    assert store.get_run(later).layers == layers[1:]


def test_profiles_are_found_by_any_field_a_name_picking_its_newest(store):
    first = store.save_profile("lab", "2026-01-01", "box", "onnxruntime", "cpu", {"profile": {"n": 1}})
    second = store.save_profile("lab", "2026-02-01", "box", "onnxruntime", "cuda", {"profile": {"n": 2}})
    assert [p.id for p in store.list_profiles()] == [first, second]
    assert store.find_profile(name="lab").document == {"profile": {"n": 2}}
    assert store.find_profile(hostname="box", provider="cpu").id == first
    assert store.find_profile(hostname="other") is None


def test_without_a_name_the_best_held_out_error_wins_not_the_newest(store):
    def document(error):
        return {"profile": {"best": "kernels", "rmspe": {"kernels": error, "operations": 0.01}}}

    good = store.save_profile("careful", "2026-01-01", "box", "onnxruntime", "cpu", document(0.08))
    store.save_profile("quick", "2026-02-01", "box", "onnxruntime", "cpu", document(0.35))
    store.save_profile("undefined", "2026-03-01", "box", "onnxruntime", "cpu", document(None))
    assert store.find_profile(hostname="box").id == good
    assert [p.name for p in store.find_profiles(hostname="box")] == ["careful", "quick", "undefined"]
    assert store.find_profile(name="quick").name == "quick"
    assert [p.held_out_error for p in store.list_profiles()] == [0.08, 0.35, None]


def test_an_older_database_gains_the_new_tables(db_path):
    with sqlite3.connect(db_path) as conn:
        conn.execute("create table runs (id integer primary key, schema_version integer)")
    with Store(str(db_path)) as opened:
        assert opened.list_profiles() == []


# ------------------------------------------------------------------------------------------ delete

def test_delete_removes_a_run_with_its_batches_and_layers(store, db_path):
    from onnxprof.measure.layers import LayerRow

    keep = store.save_run(make_record())
    gone = store.save_run(replace(make_record(), layers=(LayerRow("fc", ("fc",), ("Gemm",), 1.0, None, 10),)))
    before_runs, before_batches = table_counts(db_path)
    deleted = store.delete_runs([gone])
    assert [run.id for run in deleted] == [gone] and deleted[0].model_source == "zoo:resnet50"
    assert store.run_ids(unfinished=True) == [keep]
    assert table_counts(db_path) == (before_runs - 1, before_batches - len(make_record().batches))
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("select count(*) from run_layers").fetchone()[0] == 0
    with pytest.raises(store_db.MissingRun, match=f"no run {gone}"):
        store.get_run(gone)


def test_deleting_a_missing_run_deletes_nothing(store):
    keep = store.save_run(make_record())
    with pytest.raises(store_db.MissingRun, match="no run 42"):
        store.delete_runs([keep, 42])
    assert store.run_ids() == [keep]


def test_cli_delete_prints_what_it_deleted(filled):
    result = invoke("delete", "2", "--db", filled)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("deleted run 2: models/vgg16.onnx · onnxruntime/cuda")
    listed = invoke("list", "--db", filled).output
    assert "zoo:resnet50" in listed and "vgg16" not in listed


def test_cli_delete_of_a_missing_run_is_one_line_and_exit_2(filled):
    result = invoke("delete", "1", "42", "--db", filled)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "no run 42" in result.stderr and "Traceback" not in result.output
    assert "zoo:resnet50" in invoke("list", "--db", filled).output          # nothing deleted
