"""`onnxprof analyze` imports what the analysis needs and nothing of the other commands: each command's
module is imported when that command runs, and typer's pydantic validators are not built for text,
path and flag values. A regression that imports one of them again fails here, whatever the timing."""

from __future__ import annotations

import json
import subprocess
import sys

import onnx
import pytest
import typer
from onnx import TensorProto, helper
from typer.testing import CliRunner

from onnxprof.cli.main import COMMANDS, app

# What `analyze` of a file never needs: the other commands, the results database, the engines,
# the predictors, the figures, the zoo's network builders, and typer's value validation.
NOT_NEEDED = ("onnxprof.cli.measure", "onnxprof.cli.predict", "onnxprof.cli.report", "onnxprof.cli.results",
              "onnxprof.cli.compare", "onnxprof.cli.meters", "onnxprof.cli.zoo", "onnxprof.cli.ops",
              "onnxprof.store", "onnxprof.engines", "onnxprof.predict", "onnxprof.meters", "onnxprof.measure.sweep",
              "onnxprof.zoo", "onnxruntime", "sqlalchemy", "matplotlib", "pydantic")

RUN_MAIN = """
import json, sys
sys.argv = ["onnxprof", "analyze", *sys.argv[1:]]
from onnxprof.cli.main import main
code = 0
try:
    main()
except SystemExit as done:
    code = done.code
print(json.dumps({"exit": code, "loaded": sorted(m for m in NOT_NEEDED if m in sys.modules)}), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def relu(tmp_path_factory):
    """One Relu over a 1×64 float tensor: 64 FLOPs, no MACs, no parameters."""
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = tmp_path_factory.mktemp("lazy") / "relu.onnx"
    onnx.save(model, path)
    return path


def _analyze_in_a_new_process(*args):
    code = f"NOT_NEEDED = {NOT_NEEDED!r}\n{RUN_MAIN}"
    done = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True)
    return done, json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_analyze_imports_nothing_another_command_needs(relu, tmp_path, fmt):
    output = tmp_path / "report.json"
    done, seen = _analyze_in_a_new_process(relu, "-f", fmt, *(["-o", output] if fmt == "json" else []))
    assert seen["exit"] == 0, done.stderr
    if fmt == "json":
        assert json.loads(output.read_text())["totals"]["flops"] == 64          # the analysis did run
    else:
        assert "Relu" in done.stdout
    assert seen["loaded"] == []


def test_a_json_report_does_not_import_rich(relu, tmp_path):
    code = f"NOT_NEEDED = ('rich',)\n{RUN_MAIN}"
    done = subprocess.run([sys.executable, "-c", code, str(relu), "-f", "json", "-o", str(tmp_path / "r.json")],
                          capture_output=True, text=True)
    assert json.loads(done.stderr.strip().splitlines()[-1]) == {"exit": 0, "loaded": []}, done.stderr


def test_a_number_is_still_checked_by_typer():
    """A number option still goes through typer's own check (only text, paths and flags skip it)."""
    result = CliRunner().invoke(app, ["compare", "two"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert "Invalid value for 'runs'" in result.output and "valid integer" in result.output


def test_every_command_is_listed_without_being_built():
    root = typer.main.get_command(app)
    assert list(root.commands) == list(COMMANDS)
    assert "analyze" in root.commands and "no-such-command" not in root.commands
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    for name in COMMANDS:
        assert f" {name} " in result.output


def test_paths_and_lists_arrive_as_the_command_declares_them(relu, tmp_path):
    """-o gives a Path (folders created), -i and -d lists: the same values typer's validators gave."""
    out = tmp_path / "new" / "r.json"
    result = CliRunner().invoke(app, ["analyze", str(relu), "-f", "json", "-o", str(out), "-i", "x:1x64",
                                      "-d", "unused=3"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["model"]["nodes"] == 1
