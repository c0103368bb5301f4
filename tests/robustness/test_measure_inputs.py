"""Hostile model files through `onnxprof measure`: ONNX Runtime meets them after the loader, and what it
cannot take (names that are not UTF-8, weights past memory) is one line before any batch, never a traceback."""

from __future__ import annotations

import random

import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from tests.robustness import hostile_models as hostile

pytest.importorskip("onnxruntime")

# What ONNX Runtime can run of each non-UTF-8 name: a node, tensor or graph name it never hands back to
# Python; an input, a dim_param of one, or a domain (quoted in its error) it cannot.
RUNS = {"node", "tensor", "graph"}


def _measure(path, db):
    result = CliRunner().invoke(app, ["measure", str(path), "--batch", "1", "--warmup", "1", "--iterations", "2",
                                      "--duration", "0", "--db", str(db)], env={"COLUMNS": "100"})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def test_names_that_are_not_utf8_are_measured_or_refused_in_one_line_before_the_engine(tmp_path):
    for case in hostile.not_utf8(tmp_path, random.Random(1)):
        result = _measure(case.path, tmp_path / "runs.sqlite")
        if case.name in RUNS:
            assert result.exit_code == 0, (case.name, result.output)
        else:
            lines = result.stderr.strip().splitlines()
            assert result.exit_code == 2 and len(lines) == 1 and "not UTF-8" in lines[0], (case.name, result.stderr)


def test_weights_past_memory_are_one_line_not_a_traceback(tmp_path):
    case = hostile._sparse_constant(tmp_path)      # 2^38 floats: ONNX Runtime's allocation fails at once
    result = _measure(case.path, tmp_path / "runs.sqlite")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and "out of memory" in lines[0]
