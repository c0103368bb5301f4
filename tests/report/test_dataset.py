"""The results store read as one table of (model, batch) points."""

from __future__ import annotations

import pytest

from onnxprof.measure.records import OUT_OF_MEMORY
from onnxprof.measure.records import model_name
from onnxprof.report.dataset import at_batch, by_model, load_points
from onnxprof.store.db import Store
from tests import synthetic_runs as synth


@pytest.fixture
def store(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as opened:
        synth.fill(opened)
        yield opened


def test_points_carry_measured_figures_and_published_facts(store):
    points = {(p.model, p.batch): p for p in load_points(store)}
    p = points[("resnet18", 4)]
    assert p.title == "ResNet-18" and p.family == "ResNet" and p.top1 == 69.31
    assert p.macs_per_image == 1_814_000_000
    assert p.latency_ms == pytest.approx(2.0 * 1.814 * 4 + 1.5)
    assert p.latency_per_image_ms == pytest.approx(p.latency_ms / 4)
    assert p.throughput_per_s == pytest.approx(4000 / p.latency_ms)
    assert p.net_w == 11.0 and p.idle_w == 1.3
    assert p.memory_bytes == synth.memory_bytes(synth.MODELS[1], 4)
    assert p.predicted_latency_ms == pytest.approx(p.latency_ms * 1.1)
    assert p.top1_per_mparams == pytest.approx(69.31 / 11.689512)


def test_failed_batches_stay_as_gaps_and_missing_power_is_none(store):
    points = load_points(store)
    resnet50 = by_model(points)["resnet50"]
    assert [p.batch for p in resnet50] == list(synth.BATCHES)
    assert [p.status for p in resnet50 if p.batch >= 16] == [OUT_OF_MEMORY]
    assert all(p.latency_ms is None for p in resnet50 if not p.ok)
    assert {p.model for p in at_batch(points, 16)} == {"alexnet", "resnet18", "mobilenet-v2", "vgg16"}
    assert all(p.net_w is None for p in by_model(points)["vgg16"])


def test_the_latest_run_of_a_model_replaces_older_ones(store):
    newer = synth.SyntheticModel("resnet18", 1.814, 11_689_512, 20.0)
    new_id = store.save_run(synth.record(newer))
    resnet18 = by_model(load_points(store))["resnet18"]
    assert {p.run_id for p in resnet18} == {new_id} and resnet18[0].net_w == 20.0
    # another host is another set-up: both stay
    store.save_run(synth.record(newer, hostname="jetson"))
    assert len({p.hostname for p in load_points(store) if p.model == "resnet18"}) == 2
    assert {p.hostname for p in load_points(store, host="jetson")} == {"jetson"}


@pytest.mark.parametrize("source, name", [("zoo:vgg16", "vgg16"), ("/a/b/my-net.onnx", "my-net"), ("x", "x")])
def test_model_names(source, name):
    assert model_name(source) == name
