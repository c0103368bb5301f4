"""Activation liveness: views share buffers, outputs live to the end, the peak is where it should be."""

from __future__ import annotations

from onnx import helper

from onnxprof.symbolic import Poly
from tests.builders import analyze, ints, make_model


def test_views_share_their_inputs_buffer():
    # x (400 B) → Relu r (400) → Reshape v (view of r) → Relu y (400). r lives until y is computed.
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu1"),
             helper.make_node("Reshape", ["r", "shape"], ["v"], name="view"),
             helper.make_node("Relu", ["v"], ["y"], name="relu2")]
    report = analyze(make_model(nodes, [("x", [10, 10])], [("y", [100])], [ints("shape", [100])]))
    # During relu2: r (aliased by v) and y = 800; x was freed after relu1 (x + r = 800 there too).
    assert report.memory.peak_activation_bytes == 800
    assert report.memory.peak_at == "relu1"


def test_a_tensor_read_late_stays_live():
    # x is read by the last node, so it stays live across the chain: x + a + b at the peak.
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"),
             helper.make_node("Relu", ["a"], ["b"], name="b"),
             helper.make_node("Add", ["b", "x"], ["y"], name="add")]
    report = analyze(make_model(nodes, [("x", [25])], [("y", [25])]))
    assert report.memory.peak_activation_bytes == 300   # during add: x, b and y (a was freed after b)
    assert report.memory.peak_at == "b"


def test_symbolic_peak_is_a_formula_in_the_batch():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="a"), helper.make_node("Relu", ["a"], ["y"], name="b")]
    report = analyze(make_model(nodes, [("x", ["N", 10])], [("y", ["N", 10])]))
    assert report.memory.peak_activation_bytes == 80 * Poly.symbol("N")


def test_weights_are_not_activations():
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    from tests.builders import weight

    report = analyze(make_model([node], [("x", [1, 100])], [("y", [1, 100])], [weight("w", [100, 100])]))
    assert report.memory.weight_bytes == 40_000
    assert report.memory.peak_activation_bytes == 800
