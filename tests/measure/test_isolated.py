"""measure's sweep in a process of its own: the engine options reach the child whole, its peak RSS is the
model's and not the caller's, and it agrees with what `onnxprof measure` reports. Real sweeps of a small
MLP on ONNX Runtime's CPU provider, each child a fresh interpreter (a few seconds)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import onnx
import psutil
import pytest
from onnx import helper

from onnxprof.engines.base import EngineOptions
from onnxprof.measure.harness import TimingProtocol
from onnxprof.measure.isolated import MEMORY_PROTOCOL, peak_rss_in_own_process, sweep_in_own_process
from onnxprof.measure.records import OK
from onnxprof.measure.sweep import SweepPlan
from tests.builders import make_model, weight

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mlp(tmp_path_factory) -> Path:
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="fc2")]
    path = tmp_path_factory.mktemp("isolated") / "mlp.onnx"
    onnx.save(make_model(nodes, [("x", ["N", 512])], [("y", ["N", 512])],
                         [weight("w1", [512, 2048]), weight("w2", [2048, 512])]), path)
    return path


def test_the_child_runs_with_every_engine_option_it_was_given(mlp, tmp_path):
    # options that `calibrate` once lost by turning them into measure's flags: include_transfers, cache_dir, extra
    options = EngineOptions(threads=1, optimization="basic", include_transfers=True, cache_dir=tmp_path / "cache",
                            extra={"note": "kept"})
    protocol = TimingProtocol(warmup_runs=2, warmup_s=0.0, min_runs=4, min_duration_s=0.0)
    record = sweep_in_own_process(SweepPlan(str(mlp), mlp, (1, 4), options=options, protocol=protocol))
    assert [(b.batch, b.status) for b in record.batches] == [(1, OK), (4, OK)]
    engine = record.engine
    assert (engine.engine, engine.provider, engine.precision) == ("onnxruntime", "cpu", "fp32")
    assert {k: engine.options[k] for k in ("threads", "optimization", "include_transfers")} == {
        "threads": 1, "optimization": "basic", "include_transfers": True}
    assert [(b.warmup_runs, b.latency.samples) for b in record.batches] == [(2, 4), (2, 4)]   # and the protocol


def test_the_peak_is_the_models_not_the_callers(mlp):
    held = np.ones(400_000_000 // 8)          # 400 MB the calling process holds (and has touched)
    caller = psutil.Process().memory_info().rss
    peaks = peak_rss_in_own_process(mlp, [1, 64])
    assert set(peaks) == {1, 64} and caller > 400e6
    # a fresh interpreter with onnxruntime and the store loaded: far below the caller's 400 MB and more
    assert 20e6 < peaks[1] < caller - 200e6
    # batch 64 holds 64 × (2048 + 512 + 512) floats more in flight than batch 1
    assert peaks[64] >= peaks[1] + 64 * 3072 * 4 * 0.5
    del held


def test_a_model_the_child_cannot_run_gives_no_peaks(tmp_path, mlp):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert peak_rss_in_own_process(bad, [1]) == {}
    with pytest.raises(ChildProcessError, match="bad.onnx"):       # the child's error, in one line
        sweep_in_own_process(SweepPlan(str(bad), bad, (1,), protocol=MEMORY_PROTOCOL))
    with pytest.raises(ChildProcessError, match="--provider 'nope'"):
        sweep_in_own_process(SweepPlan(str(mlp), mlp, (1,), options=EngineOptions(provider="nope")))
    assert peak_rss_in_own_process(mlp, [1], options=EngineOptions(provider="nope")) == {}


def test_the_peak_is_close_to_what_measure_reports(mlp, tmp_path):
    command = [sys.executable, "-m", "onnxprof", "measure", str(mlp), "--batch", "1,64", "--warmup-runs", "1",
               "--warmup", "0", "--iterations", "3", "--duration", "0", "--db", str(tmp_path / "r.sqlite"),
               "--format", "json"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    reported = {b["batch"]: b["memory"]["peak_rss_bytes"] for b in json.loads(done.stdout)["run"]["batches"]}
    peaks = peak_rss_in_own_process(mlp, [1, 64])
    for batch in (1, 64):     # the command line's own parsing is all the child leaves out: a few MB
        assert abs(peaks[batch] / reported[batch] - 1) < 0.1, (batch, peaks, reported)


def _sweeping_children() -> list[psutil.Process]:
    """The spawned children of this process that run a sweep (not multiprocessing's resource tracker)."""
    found = []
    for child in psutil.Process().children():
        try:
            if "spawn_main" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _sweeping_child(timeout_s: float = 60.0) -> psutil.Process:
    """The spawned child of this process, once it is there."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := _sweeping_children():
            return found[0]
        time.sleep(0.05)
    raise AssertionError("no child process started")


LONG = TimingProtocol(warmup_runs=1, warmup_s=0.0, min_runs=3, min_duration_s=120.0)   # stopped long before


def test_a_child_that_dies_is_an_error_and_gives_no_peaks(mlp):
    outcome: dict = {}

    def sweep() -> None:
        try:
            sweep_in_own_process(SweepPlan(str(mlp), mlp, (1,), protocol=LONG))
        except ChildProcessError as exc:
            outcome["error"] = str(exc)

    thread = threading.Thread(target=sweep)
    thread.start()
    _sweeping_child().kill()
    thread.join(timeout=60)
    assert not thread.is_alive() and outcome["error"] == f"the sweep's process died (exit code {-signal.SIGKILL})"


def test_ctrl_c_stops_the_child_too(mlp):
    def interrupt() -> None:
        _sweeping_child()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        sweep_in_own_process(SweepPlan(str(mlp), mlp, (1,), protocol=LONG))
    assert _sweeping_children() == []
