"""Names are data: a model, node or file name that looks like rich markup or an emoji code is printed
as it is, by every command that shows it, never read as a style (or as a broken tag that ends the
command)."""

from __future__ import annotations

import onnx
import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from tests.robustness.hostile_models import small_cnn

NAMES = ["[red]conv", "[/]relu[bold", "pool[/x]", "[link=file:///etc]flatten", ":thumbs_up:gemm"]


@pytest.fixture(scope="module")
def marked(tmp_path_factory):
    model = small_cnn()
    for node, name in zip(model.graph.node, NAMES):
        node.name = name
    folder = tmp_path_factory.mktemp("markup")
    path = folder / "net[bold].onnx"
    onnx.save(model, path)
    return path, folder / "runs.sqlite"


def _run(*args):
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_analyze_prints_every_name_as_it_is(marked):
    path, _ = marked
    out = _run("analyze", str(path), "--layers")
    assert path.name in out
    for name in NAMES:
        assert name in out, name


def test_measure_and_the_results_commands_print_the_file_name_as_it_is(marked):
    path, db = marked
    _run("measure", str(path), "--batch", "1", "--warmup", "1", "--iterations", "2", "--duration", "0", "--db", str(db))
    assert path.name in _run("results", "list", "--db", str(db)).replace("\n", "")
    assert path.name in _run("results", "show", "1", "--db", str(db)).replace("\n", "")
