"""scripts/reproduce_paper.py on three tiny models: measure, report, resume, Ctrl-C, user errors."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import onnx
import pytest
from onnx import helper

from onnxprof.measure import sweep
from onnxprof.store.db import Store
from tests.builders import make_model, weight

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "reproduce_paper.py"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("reproduce_paper", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("tiny")
    paths = []
    for width in (8, 16, 32):
        nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="fc"), helper.make_node("Relu", ["h"], ["y"], name="relu")]
        path = folder / f"tiny{width}.onnx"
        onnx.save(make_model(nodes, [("x", ["N", 32])], [("y", ["N", width])], [weight("w", [32, width])]), path)
        paths.append(path)
    return paths


def argv(models, tmp_path) -> list[str]:
    return ["--networks", ",".join(map(str, models)), "--batches", "1,2", "--duration", "0",
            "--output", str(tmp_path / "out"), "--db", str(tmp_path / "r.sqlite")]


def runs(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as store:
        return store.list_runs()


def test_measures_reports_and_resumes(script, models, tmp_path, capsys):
    assert script.main(argv(models, tmp_path)) == 0
    stored = runs(tmp_path)
    assert sorted(r.model_source for r in stored) == sorted(str(m) for m in models)
    assert all(r.batch_sizes == (1, 2) and not r.interrupted and r.ended_at for r in stored)
    out = tmp_path / "out"
    assert len(list((out / "figures").glob("*.png"))) == 10
    assert "| finding |" in (out / "findings.md").read_text()
    assert "tiny16" in (out / "report.html").read_text()
    assert "paper's findings" in capsys.readouterr().out

    assert script.main(argv(models, tmp_path)) == 0          # again: everything is there already
    assert len(runs(tmp_path)) == len(stored)
    printed = capsys.readouterr().out
    assert all(f"{m.stem}: already measured" in printed for m in models)
    assert "Measuring" not in printed


def test_ctrl_c_keeps_the_batches_and_the_next_run_resumes(script, models, tmp_path, capsys, monkeypatch):
    timed = sweep.time_batch
    calls = []

    def interrupted_at_the_fourth_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:          # the second model's batch 2
            raise KeyboardInterrupt
        return timed(*args, **kwargs)

    monkeypatch.setattr(sweep, "time_batch", interrupted_at_the_fourth_batch)
    assert script.main(argv(models, tmp_path)) == 130
    assert "Run the same command again to resume" in capsys.readouterr().out
    first, second = runs(tmp_path)
    assert first.batch_sizes == (1, 2) and not first.interrupted
    assert second.batch_sizes == (1,) and second.interrupted

    monkeypatch.setattr(sweep, "time_batch", timed)
    assert script.main(argv(models, tmp_path)) == 0
    assert f"{models[0].stem}: already measured" in capsys.readouterr().out
    assert [(r.model_source, r.batch_sizes) for r in runs(tmp_path)[2:]] == [(str(m), (1, 2)) for m in models[1:]]


@pytest.mark.parametrize("args, message", [
    (["--networks", "alexnt"], "no such network"),
    (["--networks", "bert-base"], "takes tokens"),
    (["--batches", "1,x"], "--batches"),
    (["--networks", "missing.onnx"], "no such file"),
])
def test_a_user_error_is_one_line_and_exit_code_2(script, tmp_path, capsys, args, message):
    assert script.main([*args, "--db", str(tmp_path / "r.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
