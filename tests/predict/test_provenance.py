"""Every prediction says where it comes from and when not to trust it (issue 27, item 3): the source kind,
the held-out error, the calibrated batches and models, and the warnings of each prediction."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from onnx import helper

from onnxprof.predict.basic import (CALIBRATED, PUBLISHED, UNCALIBRATED, Provenance, predict, prediction_json,
                                    provenance_from_json)
from onnxprof.predict.latency import LinearFit, OperationsModel, RooflineModel
from onnxprof.predict.power import PowerModel, negative_net_power
from onnxprof.predict.profile import CalibratedProfile, profile_json
from onnxprof.predict.resolve import ResolvedPredictor, calibrated_batches, resolve_predictor, resolved
from onnxprof.store.db import Store
from tests.builders import analyze, make_model, weight

ROOF = RooflineModel(1e11, 1e10, {"MatMul": 0.8}, 0.0, 0.25, 0.9, 40)


def _profile(name: str = "lab", rmspe: float = 0.07, **extra) -> CalibratedProfile:
    line = LinearFit(2e-9, 1.5, 0.99, 10)
    operations = OperationsModel(line, {1: line, 2: line, 8: line}, 0.99, 10)
    fields = dict(name=name, engine="onnxruntime", provider="cpu",
                  predictors={"operations": operations, "roofline": ROOF}, batches=(1, 2, 8), best="operations", rmspe={"operations": rmspe}, share_within_10pct={"operations": 0.8},
                  models=("resnet18", "resnet50", "alexnet"), hostname="box")
    return CalibratedProfile(**{**fields, **extra})


def _report(batch: int, source: str = "zoo:resnet18"):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")]
    report = analyze(make_model(nodes, [("x", [batch, 64])], [("y", [batch, 64])], [weight("w", (64, 64))]),
                     batch=batch)
    return replace(report, model=replace(report.model, source=source))


def test_a_calibrated_prediction_names_its_profile_error_batches_and_models():
    p = resolved(_profile()).predict(_report(2), 2)
    assert p.provenance.kind == CALIBRATED and p.calibrated
    assert p.provenance.held_out_error == pytest.approx(0.07)
    assert p.provenance.calibrated_batches == (1, 2, 8)
    assert p.source_label == "calibrated profile lab (held-out error 7%; batches 1–8, 3 models)"
    assert p.warnings == ()
    assert p.latency_ms == pytest.approx(_profile().predict(_report(2), 2).latency_ms)   # the same numbers


def test_a_batch_outside_the_calibrated_ones_is_an_extrapolation():
    p = resolved(_profile()).predict(_report(64), 64)
    assert len(p.warnings) == 1 and p.warnings[0].startswith("extrapolated: batch 64 is outside")
    assert "1–8" in p.warnings[0]


def test_a_model_family_never_calibrated_is_said():
    vgg = resolved(_profile()).predict(_report(1, "/models/vgg16.onnx"), 1)
    assert any("model family VGG was never calibrated" in w for w in vgg.warnings), vgg.warnings
    resnet34 = resolved(_profile()).predict(_report(1, "zoo:resnet34"), 1)       # ResNet was calibrated
    assert resnet34.warnings == ()
    mine = resolved(_profile()).predict(_report(1, "/home/me/detector.onnx"), 1)
    assert any("detector was not among the 3 calibrated models" in w for w in mine.warnings)


def test_a_negative_predicted_net_power_is_flagged():
    profile = _profile(power=PowerModel(idle_w=5.0, active_w=-2.3, active_std_w=0.1, full_utilisation=1.0, n=3))
    p = resolved(profile).predict(_report(1), 1)
    assert p.warnings == (negative_net_power(-2.3, "predicted"),)
    assert "−2.30 W" in p.warnings[0]
    assert negative_net_power(0.0) is None and negative_net_power(None) is None


def test_uncalibrated_and_published_predictions_say_so():
    guess = predict(_report(1), 1, 1e10, 100_000_000)
    assert guess.provenance.kind == UNCALIBRATED and not guess.calibrated
    assert guess.source_label.startswith("uncalibrated first guess") and "error unknown" in guess.source_label
    published = resolve_predictor("jetson-tx1").predict(_report(64), 64)
    assert published.provenance.kind == PUBLISHED and published.provenance.held_out_error is None
    assert published.source_label == "published device facts of NVIDIA Jetson TX1 (uncalibrated, error unknown)"


def test_the_wrapper_keeps_the_profile_attributes():
    predictor = resolved(_profile())
    assert isinstance(predictor, ResolvedPredictor) and predictor.roofline is ROOF and predictor.best == "operations"
    assert resolved(predictor) is predictor and resolved(None) is None
    assert calibrated_batches(_profile()) == (1, 2, 8)


def test_json_carries_source_warnings_and_provenance_and_reads_back():
    p = resolved(_profile()).predict(_report(64), 64)
    body = json.loads(json.dumps(prediction_json(p), allow_nan=False))
    assert body["source"] == p.source_label and body["warnings"] == list(p.warnings)
    assert body["provenance"]["kind"] == "calibrated" and body["provenance"]["calibrated_batches"] == [1, 2, 8]
    assert provenance_from_json(body["provenance"]) == p.provenance
    assert provenance_from_json({"kind": "nonsense"}) is None and provenance_from_json(None) is None
    with pytest.raises(ValueError):
        Provenance("guessed")


def test_an_unknown_held_out_error_is_said():
    p = resolved(_profile(rmspe=float("nan"))).predict(_report(1), 1)
    assert p.provenance.held_out_error is None and "held-out error unknown" in p.source_label


# --- which stored profile: the best held-out error, or exactly the one named -------------------------

@pytest.fixture
def store(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as opened:
        yield opened


def _save(store, profile: CalibratedProfile) -> int:
    return store.save_profile(profile.name, "2026-11-25T00:00:00+00:00", "box", "onnxruntime", "cpu",
                              profile_json(profile))


def test_the_better_held_out_error_wins_over_the_newer_profile(store):
    _save(store, _profile("careful", rmspe=0.06))
    _save(store, _profile("quick", rmspe=0.31))          # newer, worse
    chosen = resolve_predictor(None, store, hostname="box", engine="onnxruntime", provider="cpu")
    assert chosen.name == "careful"
    assert chosen.predict(_report(1), 1).source_label.startswith("calibrated profile careful (held-out error 6%")
    assert resolve_predictor("quick", store).name == "quick"          # a name picks exactly
    assert store.find_profile(hostname="box").name == "careful"


def test_a_profile_without_a_held_out_error_ranks_last(store):
    _save(store, _profile("unknown", rmspe=float("nan")))
    _save(store, _profile("known", rmspe=0.4))
    assert [p.name for p in store.find_profiles(hostname="box")] == ["known", "unknown"]


# --- stored runs: the JSON export and the comparison show each prediction's source -----------------

def test_stored_predictions_export_with_their_source_and_warnings(store):
    from onnxprof.predict.accuracy import compare_run
    from onnxprof.report.run_json import run_dict
    from tests import synthetic_runs as synth

    p = resolved(_profile()).predict(_report(64), 64)
    record = replace(synth.record(synth.MODELS[1], batches=(1, 2)),
                     predictions={1: {"latency_ms": 5.0, "method": "old"},
                                  2: {"latency_ms": 9.0, "method": p.method, "provenance": p.provenance}})
    run_id = store.save_run(record)
    exported = store.export_run(run_id)["predictions"]
    assert exported["1"]["source"] == "old" and exported["1"]["warnings"] == []
    assert exported["2"]["source"] == p.source_label and exported["2"]["warnings"] == list(p.warnings)
    assert run_dict(record, run_id)["predictions"]["2"]["source"] == p.source_label
    json.dumps(exported, allow_nan=False)
    values = {v.batch: v for v in compare_run(run_id, store.get_run(run_id))}
    assert values[2].source == p.source_label and values[2].warnings == p.warnings and values[1].source == "old"
