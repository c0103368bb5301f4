"""A calibration collection recorded and read back: the graphs without weights analyse as their files do,
and a real collection rebuilds the same points, op timings and fitted predictions as were measured."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace

import numpy as np
import onnx
import pytest
from onnx import helper

from onnxprof.cost.analysis import analyze
from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.engines.traits import EngineTraits, GraphLayout
from onnxprof.measure.harness import TimingProtocol
from onnxprof.model.load import has_values
from onnxprof.model.shapes import ShapeBinding
from onnxprof.predict.calibrate import Checkpoint, collect, leave_one_model_out
from onnxprof.predict.microbench import spill_from_bytes
from onnxprof.predict.opbench import OpBench
from onnxprof.predict.recording import (FLOAT_VALUES_KEPT, RecordingError, analysis, host_facts, load_collection,
                                        pack_graph, read_recording, record, shape_only, traits_from_json,
                                        traits_json, write_recording)
from onnxprof.zoo.export import export
from tests.builders import ints, make_model, weight


def _upsampling_net(path):
    """Conv (weights and bias), a Constant of 24 floats added, Resize by float scales, Reshape by an int64
    shape: the scales and the shape decide the output, the weights' values do not."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("Constant", [], ["k"], name="k",
                              value=onnx.numpy_helper.from_array(np.full((1, 24, 1, 1), 0.5, np.float32), "k")),
             helper.make_node("Add", ["c", "k"], ["a"], name="add"),
             helper.make_node("Resize", ["a", "", "scales"], ["r"], name="resize", mode="nearest"),
             helper.make_node("Reshape", ["r", "shape"], ["y"], name="flatten")]
    inits = [weight("w", [24, 3, 3, 3]), weight("b", [24]),
             onnx.numpy_helper.from_array(np.array([1, 1, 2, 3], np.float32), "scales"), ints("shape", [0, -1])]
    model = make_model(nodes, [("x", ["N", 3, 16, 16])], [("y", ["N", None])], inits)
    # the filters go to a file of their own, as a large export's weights do
    onnx.save(model, path, save_as_external_data=True, location="net.data", size_threshold=200)
    return path


def test_a_graph_without_weights_analyses_as_its_file(tmp_path):
    path = _upsampling_net(tmp_path / "net.onnx")
    graph = shape_only(path)
    stored = {t.name: t for t in graph.graph.initializer}
    assert 4 <= FLOAT_VALUES_KEPT < 24
    assert not has_values(stored["w"]) and not has_values(stored["b"])     # 648 and 24 floats: dims only
    assert list(stored["w"].dims) == [24, 3, 3, 3] and not stored["w"].external_data
    assert has_values(stored["scales"]) and has_values(stored["shape"])
    constant = next(n for n in graph.graph.node if n.op_type == "Constant").attribute[0].t
    assert not has_values(constant) and list(constant.dims) == [1, 24, 1, 1]
    for batch in (1, 4):
        from_file = analyze(path, ShapeBinding(batch=batch), check=False)
        recorded = analysis(pack_graph(graph), batch, "net")
        assert recorded.totals == from_file.totals
        assert [(n.name, n.macs, n.flops, n.bytes_read, n.bytes_written) for n in recorded.nodes] == \
               [(n.name, n.macs, n.flops, n.bytes_read, n.bytes_written) for n in from_file.nodes]
        assert recorded.memory == from_file.memory
        # 16×16 upsampled by 2 and 3, 24 channels, flattened: what the kept scales and shape say
        assert recorded.outputs[0].shape == (batch, 24 * 32 * 48)
        assert recorded.totals.macs == batch * 24 * 3 * 9 * 16 * 16


def test_float_tensors_past_the_kept_size_lose_their_values_in_initializers_and_constants():
    big = onnx.numpy_helper.from_array(np.ones((4, 5), np.float32), "big")      # 20 > FLOAT_VALUES_KEPT
    nodes = [helper.make_node("Constant", [], ["k"], name="k", value=big),
             helper.make_node("Add", ["x", "k"], ["y"], name="add")]
    model = make_model(nodes, [("x", [4, 5])], [("y", [4, 5])])
    stripped = shape_only(model)
    constant = stripped.graph.node[0].attribute[0].t
    assert not has_values(constant) and list(constant.dims) == [4, 5]
    assert has_values(model.graph.node[0].attribute[0].t)                     # the caller's model untouched


def test_traits_round_trip_with_their_layout():
    traits = EngineTraits(True, GraphLayout(frozenset({"conv2", "conv1"}), (("ReorderInput", "x"),
                                                                             ("ReorderOutput", "y")), 16))
    assert traits_from_json(json.loads(json.dumps(traits_json(traits)))) == traits
    assert traits_from_json(traits_json(EngineTraits())) == EngineTraits()


def test_a_recorded_collection_rebuilds_the_points_op_timings_and_predictions(tmp_path):
    names = ("squeezenet1.1", "mobilenet-v2", "resnet18")
    models = [(name, export(name).path) for name in names]
    kept = Checkpoint(None)
    quick = TimingProtocol(warmup_runs=1, warmup_s=0, min_runs=3, min_duration_s=0)
    # two rounds: the recording must keep the fastest profile of each point, as collect does
    with OpBench(ops=("Relu", "Conv (depthwise)"), rounds=2) as bench:
        points = collect(models, [1], protocol=quick, rounds=2, op_bench=bench, checkpoint=kept)
    spill = spill_from_bytes(engine_traits("onnxruntime"))
    host = host_facts("onnxruntime", EngineOptions(), 5e10, 2e10, spill)
    labels = {"squeezenet1.1": "zoo", "mobilenet-v2": "zoo", "resnet18": "heldout"}
    path = tmp_path / "tiny.json.gz"
    write_recording(record(points, kept, models, labels, host, bench), path)
    collection = load_collection(path)

    assert collection.host == host
    assert [p.model for p in collection.labelled("heldout")] == ["resnet18"]
    assert len(collection.points) == len(points) == 3
    for measured, rebuilt in zip(points, collection.points):
        assert rebuilt.kernels == measured.kernels and rebuilt.layers == measured.layers
        assert rebuilt.traits == measured.traits
        assert (rebuilt.model, rebuilt.batch, rebuilt.median_ms, rebuilt.round_ms, rebuilt.quiet,
                rebuilt.peak_rss_bytes, rebuilt.macs_per_image) == \
               (measured.model, measured.batch, measured.median_ms, measured.round_ms, measured.quiet,
                measured.peak_rss_bytes, measured.macs_per_image)
    assert len(bench.timings) > 0 and list(collection.op_timings) == list(bench.timings)
    fitted = leave_one_model_out(points, 5e10, 2e10, bench.timings, spill)
    again = leave_one_model_out(list(collection.points), 5e10, 2e10, collection.op_timings,
                                collection.host.spill_from_bytes)
    assert [(r.predictor, r.batch, r.predicted_ms) for r in again] == \
           [(r.predictor, r.batch, r.predicted_ms) for r in fitted]

    # the same recording writes the same bytes; a point's recorded profile is what it rebuilds from
    write_recording(read_recording(path), tmp_path / "again.json.gz")
    assert (tmp_path / "again.json.gz").read_bytes() == path.read_bytes()
    recording = read_recording(path)
    slower = replace(recording, points=tuple(replace(p, rows=tuple(replace(r, measured_ms=2 * r.measured_ms)
                                                                  for r in p.rows)) for p in recording.points))
    write_recording(slower, tmp_path / "slower.json.gz")
    doubled = load_collection(tmp_path / "slower.json.gz").points[0]
    assert sum(k.measured_ms for k in doubled.kernels) == pytest.approx(
        2 * sum(k.measured_ms for k in points[0].kernels))


def test_a_file_that_is_not_a_recording_is_refused_in_one_line(tmp_path):
    plain = tmp_path / "plain.json.gz"
    plain.write_text("not gzip")
    with pytest.raises(RecordingError, match="not a readable calibration recording"):
        read_recording(plain)
    other = tmp_path / "other.json.gz"
    with gzip.open(other, "wt") as stream:
        json.dump({"schema": "onnxprof.device-profile", "schema_version": 5}, stream)
    with pytest.raises(RecordingError, match="not a calibration recording"):
        read_recording(other)
    newer = tmp_path / "newer.json.gz"
    with gzip.open(newer, "wt") as stream:
        json.dump({"schema": "onnxprof.calibration-recording", "schema_version": 99}, stream)
    with pytest.raises(RecordingError, match="schema version 99.*record it again"):
        read_recording(newer)
    cut = tmp_path / "cut.json.gz"
    with gzip.open(cut, "wt") as stream:
        json.dump({"schema": "onnxprof.calibration-recording", "schema_version": 1, "host": {}}, stream)
    with pytest.raises(RecordingError, match="damaged"):
        read_recording(cut)
