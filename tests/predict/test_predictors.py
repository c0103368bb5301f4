"""The latency predictors' registry: exactly the three kinds, each fitted from one CalibrationData, each
the same predictor after its JSON (alone and in a profile file), and leave-one-model-out made of fits
without the held-out model. Fitted on real profiles of three small models (ONNX Runtime, CPU)."""

from __future__ import annotations

import json

import onnx
import pytest
from onnx import helper

from onnxprof.cost.analysis import analyze
from onnxprof.engines import create_engine, engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.measure.harness import TimingProtocol, time_batch
from onnxprof.measure.inputs import synthetic_feeds
from onnxprof.measure.profiled import profiled_rows
from onnxprof.measure.records import json_ready
from onnxprof.model.shapes import ShapeBinding
from onnxprof.predict.calibrate import leave_one_model_out, predict_new_models
from onnxprof.predict.calibration_data import CalibrationData, CalibrationPoint
from onnxprof.predict.kernels import kernel_timings
from onnxprof.predict.latency import layer_samples
from onnxprof.predict.predictors import PREDICTORS, LatencyPredictor, fit_predictors, predictors_from_json
from onnxprof.predict.profile import CalibratedProfile, load_profile, save_profile
from tests.builders import make_model, weight

QUICK = TimingProtocol(warmup_runs=2, warmup_s=0, min_runs=5, min_duration_s=0)
COMPUTE, BANDWIDTH = 2e10, 1e10


def _convnet(path, channels: int):
    nodes = [helper.make_node("Conv", ["x", "k1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
             helper.make_node("Conv", ["r1", "k2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "w"], ["y"], name="fc")]
    onnx.save(make_model(nodes, [("x", ["N", 3, 32, 32])], [("y", ["N", 10])],
                         [weight("k1", [channels, 3, 3, 3], value=0.01),
                          weight("k2", [channels, channels, 3, 3], value=0.01),
                          weight("w", [channels, 10], value=0.01)]), path)
    return path


def _point(name: str, path, batch: int) -> CalibrationPoint:
    """A calibration point as collect makes one: the timed median, the profile joined to the nodes."""
    options = EngineOptions()
    report = analyze(path, ShapeBinding(batch=batch), check=False)
    feeds = synthetic_feeds(report)
    with create_engine("onnxruntime", path, options) as engine:
        median_ms = time_batch(engine, feeds, batch, QUICK).latency.median_ms
    rows = profiled_rows("onnxruntime", path, options, feeds, report, min_runs=4)
    traits = engine_traits("onnxruntime", options, str(path))
    return CalibrationPoint(name, batch, float(report.totals.macs) / batch, median_ms,
                            tuple(layer_samples(rows, report)), report,
                            kernels=tuple(kernel_timings(rows, report, f"{name}@{batch}", traits)), traits=traits)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> CalibrationData:
    folder = tmp_path_factory.mktemp("predictors")
    points = [_point(f"conv{c}", _convnet(folder / f"conv{c}.onnx", c), batch)
              for c in (8, 16, 32) for batch in (1, 4)]
    return CalibrationData(tuple(points), COMPUTE, BANDWIDTH)


def test_the_registry_holds_exactly_the_three_predictors_in_table_order():
    assert tuple(PREDICTORS) == ("operations", "roofline", "kernels")
    assert all(kind.name == name for name, kind in PREDICTORS.items())


def test_each_predictor_is_fitted_from_the_data_and_is_the_same_after_its_json(data):
    fitted = fit_predictors(data)
    assert tuple(fitted) == tuple(PREDICTORS)
    for name, predictor in fitted.items():
        assert isinstance(predictor, LatencyPredictor), name
        text = json.dumps(json_ready(PREDICTORS[name].to_json(predictor)), allow_nan=False)
        again = PREDICTORS[name].from_json(json.loads(text))
        assert type(again) is type(predictor)
        before = [predictor.latency_ms(p.report, p.batch, p.traits) for p in data.points]
        after = [again.latency_ms(p.report, p.batch, p.traits) for p in data.points]
        assert after == pytest.approx(before, rel=1e-12), name
        assert len(set(before)) > 1 and all(ms == ms for ms in before), name   # a real fit, not a constant


def test_a_profile_file_keeps_every_fitted_predictor(data, tmp_path):
    profile = CalibratedProfile("lab", "onnxruntime", "cpu", fit_predictors(data), best="kernels",
                                models=("conv8", "conv16", "conv32"), batches=(1, 4))
    save_profile(profile, tmp_path / "p.json")
    loaded = load_profile(tmp_path / "p.json")
    assert tuple(loaded.predictors) == tuple(PREDICTORS) and loaded.batches == (1, 4)
    for name in PREDICTORS:
        for p in data.points:
            assert loaded.latency_ms(p.report, p.batch, name) == pytest.approx(profile.latency_ms(p.report, p.batch, name),
                                                                             rel=1e-12)
    report = data.points[0].report
    assert loaded.latency_ms(report, 1) == loaded.predictors["kernels"].latency_ms(report, 1, loaded.traits(report))
    with pytest.raises(ValueError, match="profile lab has no guess predictor"):
        loaded.latency_ms(report, 1, "guess")


def test_a_predictor_this_onnxprof_does_not_know_is_refused():
    with pytest.raises(ValueError, match="unknown latency predictor guess"):
        predictors_from_json({"guess": {}})


def test_leave_one_model_out_predicts_each_model_by_fits_made_without_it(data):
    results = leave_one_model_out(data.points, COMPUTE, BANDWIDTH)
    assert [(r.predictor, r.batch) for r in results] == [(name, b) for b in (1, 4) for name in PREDICTORS]
    for held_out in ("conv8", "conv32"):
        without = fit_predictors(data.without(held_out))
        for point in (p for p in data.points if p.model == held_out):
            for r in (r for r in results if r.batch == point.batch):
                expected = without[r.predictor].latency_ms(point.report, point.batch, point.traits)
                assert r.predicted_ms[held_out] == pytest.approx(expected, rel=1e-12)
                assert r.measured_ms[held_out] == point.median_ms
    # fitted on two models, judged on the third: the same fits as leaving the third out
    new = [p for p in data.points if p.model == "conv16"]
    judged = predict_new_models([p for p in data.points if p.model != "conv16"], new, COMPUTE, BANDWIDTH)
    for r in judged:
        held = next(h for h in results if (h.predictor, h.batch) == (r.predictor, r.batch))
        assert r.predicted_ms == pytest.approx({"conv16": held.predicted_ms["conv16"]}, rel=1e-12)
