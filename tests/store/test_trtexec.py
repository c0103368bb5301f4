"""Latency statistics and the trtexec import, on files in trtexec's own --exportTimes/--exportProfile format."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.errors import OnnxprofError
from onnxprof.measure.stats import latency_stats
from onnxprof.store.db import Store
from onnxprof.store.trtexec import TRTEXEC_ENGINE, parse_profile, parse_times, read_json
from tests.cost.test_models import RESNET_STYLE_MACS, RESNET_STYLE_PARAMS, resnet_style_model

DATA = Path(__file__).parent / "data"
TIMES, PROFILE, TRUNCATED = DATA / "times.json", DATA / "profile.json", DATA / "truncated_times.json"
runner = CliRunner()


# ------------------------------------------------------------------------------------------ statistics

def test_statistics_of_one_to_ten_ms():
    s = latency_stats([float(v) for v in (7, 1, 10, 3, 5, 2, 9, 4, 8, 6)])  # order must not matter
    assert s.samples == 10 and s.min_ms == 1.0 and s.max_ms == 10.0
    assert s.mean_ms == pytest.approx(5.5) and s.median_ms == pytest.approx(5.5)
    # linear interpolation between closest ranks: rank (n-1)·q = 8.1, 8.55, 8.91 → 9.1, 9.55, 9.91
    assert (s.p90_ms, s.p95_ms, s.p99_ms) == pytest.approx((9.1, 9.55, 9.91))
    assert s.std_ms == pytest.approx(math.sqrt(8.25))           # population std (ddof 0), not 3.0277
    assert s.cv == pytest.approx(math.sqrt(8.25) / 5.5) and s.noisy
    assert s.total_s == pytest.approx(0.055)                    # no window given: the sum of the samples


def test_statistics_threshold_and_window():
    steady = latency_stats([2.0, 2.0, 2.0, 2.0], total_s=0.5)
    assert steady.std_ms == 0.0 and steady.cv == 0.0 and not steady.noisy and steady.total_s == 0.5
    # cv = 0.02 exactly: noisy only above the threshold
    borderline = latency_stats([0.98, 1.02])
    assert borderline.cv == pytest.approx(0.02)
    assert not borderline.noisy and latency_stats([0.98, 1.02], noisy_cv=0.019).noisy
    single = latency_stats([3.25])
    assert single.median_ms == single.p99_ms == 3.25 and single.std_ms == 0.0
    assert all(type(getattr(single, name)) is float for name in ("mean_ms", "p90_ms", "std_ms", "cv"))
    with pytest.raises(ValueError):
        latency_stats([])


# ------------------------------------------------------------------------------------------ parsing

def test_times_file_gives_host_and_device_statistics():
    document, _ = read_json(TIMES, "--exportTimes")
    times = parse_times(document, str(TIMES))
    assert times.queries == 20
    # computeMs is 2.00, 2.01, ... 2.19; latencyMs adds 0.1 ms H2D and 0.05 ms D2H
    assert times.device.median_ms == pytest.approx(2.095) and times.device.mean_ms == pytest.approx(2.095)
    assert times.device.p90_ms == pytest.approx(2.171) and times.device.p99_ms == pytest.approx(2.1881)
    assert times.host.median_ms == pytest.approx(2.245) and times.host.min_ms == pytest.approx(2.15)
    assert times.device.std_ms == pytest.approx(0.01 * math.sqrt(399 / 12))
    assert times.device.noisy                                   # cv 2.75 %
    assert times.span_s == pytest.approx(0.04985)               # startEnqMs 100 → endD2hMs 149.85
    assert times.host.total_s == pytest.approx(0.04985)


def test_profile_file_gives_layers_in_file_order():
    document, _ = read_json(PROFILE, "--exportProfile")
    profile = parse_profile(document, str(PROFILE))
    assert profile.iterations == 20
    assert [layer.name for layer in profile.layers][:3] == ["conv1 + relu1", "pool1", "conv2 + relu2"]
    fused = profile.layers[0]
    assert (fused.time_ms, fused.average_ms, fused.median_ms) == (12.2, 0.61, 0.6039)
    assert fused.percentage == pytest.approx(29.0476)
    assert profile.layers[-1].name == "{ForeignNode[fc2...softmax]}"


def test_profile_before_tensorrt_8_6_has_no_median():
    profile = parse_profile([{"count": 3}, {"name": "conv1 + relu1", "timeMs": 3.0, "averageMs": 1.0,
                                            "percentage": 100.0}])
    assert profile.layers[0].median_ms is None and profile.layers[0].average_ms == 1.0


@pytest.mark.parametrize("document, message", [
    ({"latencyMs": 1.0}, "expected a list of per-query objects"),
    ([], "holds no queries"),
    ([{"computeMs": 1.0}], "query 0: 'latencyMs' is missing"),
    ([{"latencyMs": 1.0, "computeMs": 1.0}, {"latencyMs": "2", "computeMs": 1.0}], "query 1: 'latencyMs' is '2'"),
    ([{"latencyMs": float("nan"), "computeMs": 1.0}], "'latencyMs' is nan"),
])
def test_times_that_are_not_trtexec_times(document, message):
    with pytest.raises(OnnxprofError, match=message):
        parse_times(document, "t.json")


@pytest.mark.parametrize("document, message", [
    ([{"name": "a", "timeMs": 1, "averageMs": 1}], r"expected a list starting with \{\"count\": N\}"),
    ([{"count": "20"}], "\"count\" is '20'"),
    ([{"count": 2}, {"timeMs": 1.0, "averageMs": 0.5}], "layer 0: expected an object with a \"name\" string"),
    ([{"count": 2}, {"name": "x", "averageMs": 0.5}], "layer 0: 'timeMs' is missing"),
])
def test_profiles_that_are_not_trtexec_profiles(document, message):
    with pytest.raises(OnnxprofError, match=message):
        parse_profile(document, "p.json")


def test_truncated_json_is_one_line():
    with pytest.raises(OnnxprofError, match="not valid JSON .* is the file complete") as caught:
        read_json(TRUNCATED, "--exportTimes")
    assert "\n" not in str(caught.value)


# ------------------------------------------------------------------------------------------ import CLI

@pytest.fixture
def model(tmp_path):
    path = tmp_path / "resnet_style.onnx"
    onnx.save(resnet_style_model(), path)
    return path


def invoke(*args):
    return runner.invoke(app, ["results", *args], env={"COLUMNS": "200"})


def test_import_stores_a_trtexec_run(model, tmp_path):
    db = str(tmp_path / "x.sqlite")
    result = invoke("import-trtexec", "--model", str(model), "--times", str(TIMES), "--profile", str(PROFILE),
                    "--batch", "4", "--precision", "fp16", "--host", "orin-1", "--db", db)
    assert result.exit_code == 0, result.output
    assert "stored run 1: 20 queries at batch 4" in result.output and "6 profiled layers" in result.output
    with Store(db) as store:
        record = store.get_run(1)
        provenance = store.trtexec_provenance(1)
    assert record.engine.engine == TRTEXEC_ENGINE == "tensorrt (trtexec)" and record.engine.precision == "fp16"
    assert record.model_sha256 == hashlib.sha256(model.read_bytes()).hexdigest()
    assert record.host.hostname == "orin-1"
    [batch] = record.batches
    assert batch.batch == 4 and batch.status == "ok" and batch.memory is None
    assert batch.latency.median_ms == pytest.approx(2.245) and batch.device_latency.median_ms == pytest.approx(2.095)
    assert batch.throughput_per_s == pytest.approx(4000 / 2.095)        # the GPU's own median, as trtexec reports
    assert batch.latency_per_image_ms == pytest.approx(2.095 / 4)
    assert record.static["parameters"] == RESNET_STYLE_PARAMS
    assert record.static["macs"] == 4 * RESNET_STYLE_MACS           # bound at the imported batch size
    assert provenance.queries == 20 and provenance.profile_iterations == 20
    assert provenance.times_sha256 == hashlib.sha256(TIMES.read_bytes()).hexdigest()
    assert [layer.name for layer in provenance.layers][0] == "conv1 + relu1" and len(provenance.layers) == 6

    shown = invoke("show", "1", "--db", db)
    assert shown.exit_code == 0, shown.output
    assert "tensorrt (trtexec)" in shown.output and "2.245" in shown.output and "2.095" in shown.output
    assert "conv1 + relu1" in shown.output and "trtexec profile: top 6 of 6 layers (20 iterations)" in shown.output

    exported = json.loads(invoke("export", "--db", db).stdout)
    run = exported["runs"][0]
    assert run["engine"]["engine"] == "tensorrt (trtexec)"
    assert run["trtexec"]["layers"][0]["name"] == "conv1 + relu1"
    assert run["static"]["macs"] == 4 * RESNET_STYLE_MACS


def test_import_without_profile_and_default_batch(model, tmp_path):
    db = str(tmp_path / "x.sqlite")
    assert invoke("import-trtexec", "-m", str(model), "--times", str(TIMES), "--db", db).exit_code == 0
    with Store(db) as store:
        record = store.get_run(1)
        provenance = store.trtexec_provenance(1)
    assert record.batches[0].batch == 1 and provenance.layers == () and provenance.profile_iterations is None
    assert record.static["macs"] == RESNET_STYLE_MACS


@pytest.mark.parametrize("times, profile, message", [
    (TRUNCATED, None, "truncated_times.json: not valid JSON"),
    (TIMES, TRUNCATED, "truncated_times.json: not trtexec --exportProfile JSON"),
    (PROFILE, None, "profile.json: query 0: 'latencyMs' is missing"),
    (DATA / "missing.json", None, "missing.json: no such file"),
])
def test_bad_files_are_one_line_and_store_nothing(model, tmp_path, times, profile, message):
    db = tmp_path / "x.sqlite"
    if profile is TRUNCATED:          # a profile that parses as JSON but is a times file
        profile = tmp_path / "truncated_times.json"
        shutil.copy(TIMES, profile)
    args = ["import-trtexec", "--model", str(model), "--times", str(times), "--db", str(db)]
    result = invoke(*args, *(["--profile", str(profile)] if profile else []))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and result.stderr.startswith("onnxprof: error:")
    assert "Traceback" not in result.output
    if db.exists():
        with Store(str(db)) as store:
            assert store.list_runs() == []


def test_import_of_a_model_that_is_not_onnx(tmp_path):
    bogus = tmp_path / "m.onnx"
    bogus.write_bytes(b"\xff\xfe not a protobuf")
    result = invoke("import-trtexec", "--model", str(bogus), "--times", str(TIMES), "--db", str(tmp_path / "x.sqlite"))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "m.onnx" in result.stderr
