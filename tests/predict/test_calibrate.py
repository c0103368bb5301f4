"""Calibration end to end on small models with ONNX Runtime's CPU provider: points collected,
leave-one-model-out predictions made without the held-out model."""

from __future__ import annotations

import onnx
from onnx import helper

from onnxprof.measure.harness import TimingProtocol
from onnxprof.predict.calibrate import (CalibrationPoint, PredictorQuality, _op_rounds_before, best, collect,
                                       leave_one_model_out, repeatability)
from onnxprof.predict.opbench import OpBench, op_cases
from onnxprof.predict.metrics import FitQuality
from tests.builders import make_model, weight


def _mlp(path, width: int, layers: int):
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"fc{i}"),
                  helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"relu{i}")]
        inits.append(weight(f"w{i}", [width, width], value=0.01))
        x = f"r{i}"
    onnx.save(make_model(nodes, [("x", ["N", width])], [(x, ["N", width])], inits), path)
    return path


def test_calibration_points_and_held_out_predictions(tmp_path):
    models = [(f"mlp{w}x{n}", _mlp(tmp_path / f"mlp{w}x{n}.onnx", w, n)) for w, n in ((128, 2), (256, 2), (256, 4))]
    points = collect(models, [1, 4], protocol=TimingProtocol(warmup_runs=2, warmup_s=0, min_runs=5, min_duration_s=0))
    assert [(p.model, p.batch) for p in points] == [(m, b) for m, _ in models for b in (1, 4)]
    first = points[0]
    assert first.macs_per_image == 2 * 128 * 128 and first.median_ms > 0
    assert {layer.group for layer in first.layers} >= {"MatMul"}
    results = leave_one_model_out(points, compute_flops_per_s=1e10, bandwidth_bytes_per_s=1e10)
    assert {(r.predictor, r.batch) for r in results} == {(p, b) for p in ("operations", "roofline", "kernels")
                                                         for b in (1, 4)}
    for r in results:
        assert set(r.predicted_ms) == {m for m, _ in models}
        assert r.quality.n == 3, r
        # a least-squares line may extrapolate below zero for the smallest model on a noisy machine;
        # the roofline and kernel models cannot (nonnegative terms, a positive constant)
        assert all(v > 0 if r.predictor != "operations" else v == v for v in r.predicted_ms.values()), r
    assert best(results) in ("operations", "roofline", "kernels")
    # memory: each point has the peak that `onnxprof measure` reported, at least the interpreter's size
    assert all(p.peak_rss_bytes > 10e6 for p in points)


def test_calibrate_then_predict_from_the_profile(tmp_path):
    import json

    from typer.testing import CliRunner

    from onnxprof.cli.main import app

    paths = [str(_mlp(tmp_path / f"m{w}.onnx", w, 2)) for w in (64, 128, 192)]
    profile = tmp_path / "here.json"
    runner = CliRunner()
    db = str(tmp_path / "r.sqlite")
    done = runner.invoke(app, ["calibrate", "--models", ",".join(paths), "--batch", "1,2", "--duration", "0",
                               "-o", str(profile), "--name", "test-box", "--db", db], env={"COLUMNS": "160"})
    assert done.exit_code == 0, done.output
    assert "Held-out error" in done.output and profile.is_file() and "stored as profile 1" in done.output
    body = json.loads(profile.read_text())
    assert body["schema"] == "onnxprof.device-profile" and body["profile"]["name"] == "test-box"
    assert body["profile"]["memory"]["floor_bytes"] > 0 and body["profile"]["batches"] == [1, 2]
    assert set(body["profile"]["predictors"]) == {"operations", "roofline", "kernels"}
    for device in (str(profile), "test-box"):      # the file, or the profile stored under its name
        predicted = runner.invoke(app, ["predict", paths[1], "--device", device, "--batch", "1,2", "--db", db],
                                  env={"COLUMNS": "200"})
        assert predicted.exit_code == 0 and "held-out error" in predicted.output, predicted.output
    # without --device: the profile calibrated on this host with this engine and provider
    here = runner.invoke(app, ["predict", paths[1], "--db", db], env={"COLUMNS": "200"})
    assert here.exit_code == 0 and "profile test-box" in " ".join(here.output.split())
    from onnxprof.store.db import Store

    Store(str(tmp_path / "empty.sqlite")).close()      # predict only reads a database: one without profiles
    nothing = runner.invoke(app, ["predict", paths[1], "--db", str(tmp_path / "empty.sqlite")])
    assert nothing.exit_code == 2 and "no profile calibrated on this host" in nothing.stderr


def test_predict_from_published_facts_and_bad_profiles(tmp_path):
    from typer.testing import CliRunner

    from onnxprof.cli.main import app

    # no results database named: the session's (ONNXPROF_DB) may not exist yet, and predict only reads one
    runner = CliRunner(env={"ONNXPROF_DB": None, "XDG_DATA_HOME": str(tmp_path)})
    out = runner.invoke(app, ["predict", "zoo:resnet18", "--device", "jetson-tx1", "--batch", "1"], env={"COLUMNS": "160"})
    assert out.exit_code == 0 and "uncalibrated" in out.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    result = runner.invoke(app, ["predict", "zoo:resnet18", "--device", str(bad)])
    assert result.exit_code == 2 and "not a readable device profile" in result.stderr
    unknown = runner.invoke(app, ["predict", "zoo:resnet18", "--device", "no-such-board"])
    assert unknown.exit_code == 2 and "not a profile file, a stored profile" in unknown.stderr
    few = runner.invoke(app, ["calibrate", "--models", "resnet18,alexnet"])
    assert few.exit_code == 2 and "at least 3 models" in few.stderr


def test_models_to_be_predicted_are_timed_not_profiled(tmp_path):
    models = [(f"mlp{w}", _mlp(tmp_path / f"mlp{w}.onnx", w, 2)) for w in (64, 128)]
    points = collect(models, [2], protocol=TimingProtocol(warmup_runs=1, warmup_s=0, min_runs=3, min_duration_s=0),
                     unprofiled={"mlp128"})
    profiled = {p.model: bool(p.layers and p.kernels) for p in points}
    assert profiled == {"mlp64": True, "mlp128": False} and all(p.median_ms > 0 for p in points)


def test_single_op_rounds_run_between_the_networks_rounds(tmp_path):
    """A spell of load from elsewhere then lands on one round of the op cases, not on all of them."""
    models = [(f"mlp{w}", _mlp(tmp_path / f"mlp{w}.onnx", w, 2)) for w in (64, 128)]
    said = []
    with OpBench(ops=("Relu",), rounds=2, progress=said.append) as op_bench:
        points = collect(models, [1], protocol=TimingProtocol(warmup_runs=1, warmup_s=0, min_runs=3, min_duration_s=0),
                         rounds=2, progress=said.append, op_bench=op_bench)
    cases = len(op_cases(("Relu",)))
    rounds = [("ops" if what.startswith("single-op") else "networks", what.rsplit("(round ", 1)[1])
              for what in said if "(round " in what]
    # each network's timing and then its profile
    assert rounds == ([("ops", "1 of 2)")] * cases + [("networks", "1 of 2)")] * 4
                      + [("ops", "2 of 2)")] * cases + [("networks", "2 of 2)")] * 4)
    assert len(op_bench.timings) == cases and {t.source for t in op_bench.timings} == {"op:Relu"}
    assert len(points) == 2
    # every timed round is kept beside the fastest, which is the point's time
    assert all(len(p.round_ms) >= 2 and p.median_ms == min(p.round_ms) for p in points)


def test_repeatability_is_the_spread_of_each_points_rounds():
    def point(batch: int, *rounds: float) -> CalibrationPoint:
        return CalibrationPoint("m", batch, 0.0, min(rounds), (), None, round_ms=rounds)

    # the second-fastest round against the fastest: the slowest (a round load from elsewhere slowed) is not it
    assert point(1, 12.0, 10.0, 11.0, 30.0).round_spread == 11.0 / 10.0 - 1
    assert point(1, 10.0).round_spread is None
    line = repeatability([point(1, 10.2, 10.0), point(1, 10.0, 10.4, 10.1), point(1, 10.0, 13.0),
                          point(8, 50.0, 52.5), point(8, 40.0)])
    # batch 1: gaps 2 %, 1 %, 30 % (median 2 %); batch 8: 5 % (the one-round point has none)
    assert "a median 2.0% at batch 1, 5.0% at batch 8 slower" in line
    assert line.endswith("1 of 4 points more than 10%")
    assert repeatability([point(1, 10.0)]) is None


def test_op_rounds_are_spread_evenly_over_the_network_rounds():
    def spread(op_rounds: int, network_rounds: int) -> list[int]:
        bench = OpBench(ops=("Relu",), rounds=op_rounds)
        return [_op_rounds_before(bench, r, network_rounds) for r in range(network_rounds)]
    assert spread(3, 3) == [1, 1, 1]
    assert spread(3, 1) == [3]
    assert spread(3, 2) == [1, 2]
    assert spread(2, 4) == [0, 1, 0, 1]
    assert _op_rounds_before(None, 0, 3) == 0


def _quality(predictor: str, share: float, rmspe: float, n: int = 3) -> PredictorQuality:
    return PredictorQuality(predictor, 1, {}, {}, FitQuality(r_squared=0.9, rmspe=rmspe, share_within_10pct=share,
                                                              spearman_rho=0.9, n=n))


def test_best_prefers_the_lower_error_when_the_shares_differ_by_less_than_one_model():
    close = [_quality("roofline", 0.67, 0.25), _quality("kernels", 0.665, 0.08), _quality("operations", 0.33, 0.3)]
    assert best(close) == "kernels"
    # a whole model more within ±10 % wins over a lower RMSPE
    apart = [_quality("roofline", 1.0, 0.09), _quality("kernels", 2 / 3, 0.05)]
    assert best(apart) == "roofline"
    assert best([]) is None
