"""`onnxprof analyze` as a user runs it: the report, JSON/CSV, and one-line errors."""

from __future__ import annotations

import csv
import io
import json

import onnx
import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from tests.cost.test_models import RESNET_STYLE_MACS, RESNET_STYLE_PARAMS, resnet_style_model

runner = CliRunner()


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "resnet_style.onnx"
    onnx.save(resnet_style_model(), path)
    return str(path)


def invoke(*args):
    return runner.invoke(app, ["analyze", *args], env={"COLUMNS": "160"})


def test_table_report_shows_totals_as_formulas(model_path):
    result = invoke(model_path)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "1.401\u00a0M·N" in out                      # MACs, symbolic in the batch
    assert f"{RESNET_STYLE_PARAMS:,}" in out
    assert "Top 4 layers by MACs" in out and "block.conv1" in out
    assert "Totals are formulas in N" in out
    assert "14 / 14" in out or "complete" in out


def test_batch_makes_the_table_concrete(model_path):
    out = invoke(model_path, "--batch", "2", "--layers").output
    assert "2.802\u00a0M" in out and "·N" not in out
    assert "All 17 nodes" in out and "unsqueeze" in out


def test_json_schema_and_exact_values(model_path, tmp_path):
    target = tmp_path / "report.json"
    result = invoke(model_path, "--format", "json", "-o", str(target))
    assert result.exit_code == 0 and result.output == ""
    doc = json.loads(target.read_text())
    assert doc["schema"] == "onnxprof.analysis" and doc["schema_version"] == 1
    assert doc["totals"]["macs"] == {"formula": f"{RESNET_STYLE_MACS}*N",
                                     "terms": [{"coefficient": RESNET_STYLE_MACS, "powers": {"N": 1}}]}
    assert doc["parameters"]["elements"] == RESNET_STYLE_PARAMS
    assert doc["inputs"][0] == {"name": "x", "dtype": "float32", "shape": ["N", 3, 32, 32],
                                "size_bytes": {"formula": "12288*N", "terms": [{"coefficient": 12288, "powers": {"N": 1}}]}}
    assert doc["complete"] is True and doc["uncounted_ops"] == [] and doc["unknown_shape_nodes"] == []
    fc = next(n for n in doc["nodes"] if n["name"] == "fc")
    assert fc["output_shapes"] == [["N", 10]] and fc["params"] == 90
    assert fc["output_bytes"] == [{"formula": "40*N", "terms": [{"coefficient": 40, "powers": {"N": 1}}]}]
    assert set(doc) >= {"model", "symbols", "bindings", "totals", "memory", "op_types", "nodes"}


def test_json_with_bound_batch_is_plain_integers(model_path):
    doc = json.loads(invoke(model_path, "-f", "json", "-b", "3").output)
    assert doc["totals"]["macs"] == 3 * RESNET_STYLE_MACS
    assert doc["bindings"] == {"N": 3} and doc["symbols"] == []


def test_csv_has_a_row_per_node(model_path):
    rows = list(csv.DictReader(io.StringIO(invoke(model_path, "--format", "csv", "-b", "1").output)))
    assert len(rows) == 17
    conv1 = next(r for r in rows if r["name"] == "conv1")
    assert int(conv1["macs"]) == 8 * 1024 * 27 and conv1["output_shapes"] == "1×8×32×32"
    assert int(conv1["output_bytes"]) == 8 * 1024 * 4


def test_zoo_default_runs():
    result = invoke("--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.output)["totals"]["macs"]["formula"] == "4089184256*N"


@pytest.mark.parametrize("args, message", [
    (["missing.onnx"], "missing.onnx: no such file"),
    (["zoo:nonet"], "zoo:nonet: no such network; available: alexnet"),
    (["MODEL", "--input", "images:1x3x224x224"], "no input of that name (its inputs: x)"),
    (["MODEL", "--input", "x:1x3"], "gives 2 dims but the input has rank 4"),
    (["MODEL", "--input", "x1x3"], "expected NAME:DIMS"),
    (["MODEL", "--dim", "N"], "expected NAME=VALUE"),
    (["MODEL", "--format", "xml"], "choose one of table, json, csv"),
])
def test_bad_input_is_one_line_without_traceback(model_path, args, message):
    result = invoke(*[model_path if a == "MODEL" else a for a in args])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_bad_file_through_the_real_entry_point(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "notes.onnx"
    bad.write_text("not a model")
    done = subprocess.run([sys.executable, "-m", "onnxprof", "analyze", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("onnxprof: error: ") and done.stderr.count("\n") == 1
    assert done.stdout == ""


def test_help_is_fast_to_import():
    import subprocess
    import sys

    code = "import sys, onnxprof.cli.main; print(sorted(m for m in ('onnx', 'networkx', 'numpy') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"
