"""Fitted predictors: synthetic data with known coefficients is recovered, the arithmetic matches hand
values, and the quality metrics agree with hand-computed ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import helper

from onnxprof.predict.latency import (LayerSample, OpsSample, RooflineModel, dominant_op, fit_operations,
                                      fit_roofline, roofline_node_ms)
from onnxprof.predict.basic import engine_bytes, predict
from onnxprof.predict.memory import MemoryModel, MemorySample, conv_weight_bytes, fit_memory, knee_batch
from onnxprof.predict.metrics import (average_ranks, fit_quality, leave_one_out, nonnegative_least_squares,
                                      r_squared, rmspe, share_within, spearman)
from onnxprof.predict.power import fit_power
from tests.builders import analyze, make_model, weight

# -- operations model ---------------------------------------------------------------------------------

A_MS_PER_MAC, B_MS = 1.5e-9, 0.7
MODEL_MACS = {"alexnet": 0.72e9, "googlenet": 1.5e9, "resnet50": 4.1e9, "vgg16": 15.5e9}


def _ops_samples(a=A_MS_PER_MAC, b=B_MS, batches=(1, 2, 4)):
    return [OpsSample(macs, batch, a * macs * batch + b) for macs in MODEL_MACS.values() for batch in batches]


def test_operations_fit_recovers_slope_and_intercept():
    model = fit_operations(_ops_samples())
    assert model.pooled.ms_per_mac == pytest.approx(A_MS_PER_MAC, rel=1e-9)
    assert model.pooled.intercept_ms == pytest.approx(B_MS, rel=1e-6)
    assert model.r_squared == pytest.approx(1.0) and model.n == 12
    assert model.predict(2e9, 8) == pytest.approx(1.5e-9 * 16e9 + 0.7)     # 24.7 ms: batch 8 unseen, pooled line
    assert not model.by_batch


def test_operations_fit_accepts_plain_tuples():
    model = fit_operations([(1e9, 1, 2.0), (3e9, 1, 4.0)])                # a = 1e-9 ms/MAC, b = 1 ms
    assert model.pooled.ms_per_mac == pytest.approx(1e-9) and model.pooled.intercept_ms == pytest.approx(1.0)


def test_operations_fit_per_batch_keeps_one_line_per_batch():
    samples = _ops_samples(a=2e-9, b=1.0, batches=(1,)) + _ops_samples(a=1e-9, b=3.0, batches=(8,))
    model = fit_operations(samples, per_batch=True)
    assert set(model.by_batch) == {1, 8}
    assert model.by_batch[1].ms_per_mac == pytest.approx(2e-9) and model.by_batch[1].intercept_ms == pytest.approx(1.0)
    assert model.by_batch[8].ms_per_mac == pytest.approx(1e-9) and model.by_batch[8].intercept_ms == pytest.approx(3.0)
    assert model.predict(1e9, 1) == pytest.approx(3.0)                     # 2e-9·1e9 + 1
    assert model.predict(1e9, 8) == pytest.approx(11.0)                    # 1e-9·8e9 + 3
    assert model.r_squared == pytest.approx(1.0)
    pooled = fit_operations(samples)                                       # one line cannot fit both
    assert pooled.r_squared < 1.0 - 1e-6


def test_operations_fit_with_seeded_noise_stays_close():
    rng = np.random.default_rng(7)
    samples = [OpsSample(s.macs, s.batch, s.latency_ms * (1 + 0.02 * rng.standard_normal()))
               for s in _ops_samples(batches=(1, 2, 4, 8, 16))]
    model = fit_operations(samples)
    assert model.pooled.ms_per_mac == pytest.approx(A_MS_PER_MAC, rel=0.03)
    assert 0.98 < model.r_squared < 1.0


# -- roofline -----------------------------------------------------------------------------------------

COMPUTE, BANDWIDTH = 1e12, 1e11        # 1 TFLOP/s, 100 GB/s


def test_roofline_node_by_hand():
    # compute-bound: 2 GFLOP / 1 TFLOP/s = 2 ms; 1 MB / 100 GB/s = 0.01 ms
    assert roofline_node_ms(2e9, 1e6, COMPUTE, BANDWIDTH) == pytest.approx(2.0)
    assert roofline_node_ms(2e9, 1e6, COMPUTE, BANDWIDTH, efficiency=0.5) == pytest.approx(4.0)
    # memory-bound: 1 MFLOP → 0.001 ms; 400 MB / 100 GB/s = 4 ms
    assert roofline_node_ms(1e6, 4e8, COMPUTE, BANDWIDTH) == pytest.approx(4.0)
    assert roofline_node_ms(1e6, 4e8, COMPUTE, BANDWIDTH, efficiency=0.8) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        roofline_node_ms(1.0, 1.0, COMPUTE, BANDWIDTH, efficiency=0.0)


def test_dominant_op_is_the_one_with_most_flops_else_the_first():
    assert dominant_op(("Relu", "Conv", "Add"), (1e3, 5e6, 1e3)) == "Conv"
    assert dominant_op(("BatchNormalization", "Relu")) == "BatchNormalization"
    assert dominant_op(("Reshape", "Transpose"), (0.0, 0.0)) == "Reshape"
    assert LayerSample(("Relu", "Conv"), 1.0, 1.0, 1.0, (1.0, 9.0)).group == "Conv"


TRUE_EFFICIENCY = {"Conv": 0.6, "MatMul": 0.8, "Relu": 0.25, "BatchNormalization": 0.4}
OVERHEAD_MS = 0.004


def _layers():
    shapes = [  # (op_types, flops, bytes, op_flops)
        (("Conv", "Relu"), 2e9, 3e7, (1.99e9, 1e7)), (("Conv", "Relu"), 4e8, 9e6, (3.9e8, 1e7)),
        (("Conv",), 8e9, 5e7, ()), (("Relu",), 1e7, 8e7, ()), (("Relu",), 2e6, 1.6e7, ()),
        (("MatMul",), 6e9, 2e7, ()), (("MatMul", "Add"), 1e9, 4e7, (9.9e8, 1e7)),
        (("BatchNormalization", "Relu"), 5e7, 1.2e8, ()), (("BatchNormalization",), 1e7, 3e7, ()),
    ]
    return [LayerSample(ops, f, b, roofline_node_ms(f, b, COMPUTE, BANDWIDTH, TRUE_EFFICIENCY[dominant_op(ops, of)])
                        + OVERHEAD_MS, of) for ops, f, b, of in shapes]


def test_roofline_fit_recovers_efficiencies_and_overhead():
    layers = _layers()
    model = fit_roofline(layers, COMPUTE, BANDWIDTH)
    assert set(model.efficiency_by_op) == set(TRUE_EFFICIENCY)
    for op, eff in TRUE_EFFICIENCY.items():
        assert model.efficiency_by_op[op] == pytest.approx(eff, rel=1e-6)
    assert model.launch_overhead_ms == pytest.approx(OVERHEAD_MS, rel=1e-6)
    assert model.default_efficiency == pytest.approx(0.5)                  # median of 0.25, 0.4, 0.6, 0.8
    assert model.predict_layers(layers) == pytest.approx([s.measured_ms for s in layers], rel=1e-6)
    assert model.r_squared == pytest.approx(1.0)
    # tuples work too, and an unseen op type uses the median efficiency
    [softmax] = model.predict_layers([(("Softmax",), 1e6, 4e8)])
    assert softmax == pytest.approx(4.0 / 0.5 + OVERHEAD_MS)


def test_roofline_fit_clamps_overhead_and_efficiency():
    # measurements below the roofline by a constant: an unconstrained fit would give a negative overhead
    layers = [LayerSample(("Conv",), f, 1e3, roofline_node_ms(f, 1e3, COMPUTE, BANDWIDTH) - 0.5)
              for f in (1e9, 2e9, 4e9)]
    model = fit_roofline(layers, COMPUTE, BANDWIDTH)
    assert model.launch_overhead_ms == 0.0
    assert 0 < model.efficiency_by_op["Conv"] < 1e3


def test_roofline_predict_total_sums_nodes_with_median_for_unknown_ops():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"], name="relu")]
    report = analyze(make_model(nodes, [("x", [1, 3, 16, 16])], [("y", [1, 8, 16, 16])], [weight("w", (8, 3, 3, 3))]))
    model = RooflineModel(COMPUTE, BANDWIDTH, {"Conv": 0.5, "Gemm": 0.1, "MatMul": 0.3}, launch_overhead_ms=0.01,
                          default_efficiency=0.3)
    conv, relu = report.nodes
    expected = (roofline_node_ms(conv.flops, conv.bytes_read + conv.bytes_written, COMPUTE, BANDWIDTH, 0.5)
                + roofline_node_ms(relu.flops, relu.bytes_read + relu.bytes_written, COMPUTE, BANDWIDTH, 0.3) + 0.02)
    assert conv.macs == 8 * 27 * 256 and relu.bytes_read == 8 * 256 * 4          # the counts the sum uses
    assert model.predict_total(report) == pytest.approx(expected)


# -- memory -------------------------------------------------------------------------------------------

FLOOR, K_W, K_A = 200e6, 1.30, 1.1
MODELS_MEMORY = {"a": (10e6, 3e6), "b": (60e6, 12e6), "c": (240e6, 20e6), "d": (550e6, 40e6)}


def _memory_samples(models=MODELS_MEMORY, batches=(1, 2, 4, 8, 16)):
    return {name: [MemorySample(w, a, b, FLOOR + K_W * w + K_A * a * b) for b in batches]
            for name, (w, a) in models.items()}


def test_memory_fit_recovers_floor_and_slopes():
    model = fit_memory([s for group in _memory_samples().values() for s in group])
    assert model.floor_bytes == pytest.approx(FLOOR, rel=1e-6)
    assert model.weight_slope == pytest.approx(K_W, rel=1e-6)
    assert model.activation_slope == pytest.approx(K_A, rel=1e-6)
    assert model.r_squared == pytest.approx(1.0) and model.unfitted == ()
    assert model.predict_bytes(100e6, 10e6, 3) == pytest.approx(200e6 + 130e6 + 33e6)


def test_knee_is_where_the_batch_part_equals_the_static_part():
    model = fit_memory([s for group in _memory_samples().values() for s in group])
    # static = 200 MB + 1.3 × 100 MB = 330 MB; dynamic = 1.1 × 10 MB × batch → knee at batch 30
    assert knee_batch(model, 100e6, 10e6) == pytest.approx(30.0, rel=1e-6)


def test_memory_fit_of_one_model_leaves_the_weight_slope_to_the_floor():
    samples = [(100e6, 10e6, b, FLOOR + K_W * 100e6 + K_A * 10e6 * b) for b in (1, 2, 4, 8)]
    model = fit_memory(samples)
    assert model.unfitted == ("weights",) and model.weight_slope == 0.0
    assert model.floor_bytes == pytest.approx(FLOOR + K_W * 100e6)
    assert model.activation_slope == pytest.approx(K_A)


K_C = 2.6     # convolution weights: the engine's repacked copy beside the original


def test_memory_fit_gives_convolution_weights_a_slope_of_their_own():
    # (all weights, convolution weights, activations per image)
    models = {"convnet": (50e6, 45e6, 8e6), "fc-heavy": (250e6, 10e6, 2e6), "mixed": (120e6, 60e6, 5e6),
              "small": (5e6, 4e6, 6e6)}
    samples = [MemorySample(w, a, b, FLOOR + K_W * (w - c) + K_C * c + K_A * a * b, c)
               for w, c, a in models.values() for b in (1, 4, 8)]
    model = fit_memory(samples)
    assert model.floor_bytes == pytest.approx(FLOOR, rel=1e-6)
    assert (model.weight_slope, model.conv_weight_slope, model.activation_slope) == pytest.approx((K_W, K_C, K_A),
                                                                                                   rel=1e-6)
    assert model.predict_bytes(100e6, 10e6, 2, conv_weight_bytes=40e6) == pytest.approx(
        200e6 + 1.3 * 60e6 + 2.6 * 40e6 + 1.1 * 20e6)


def test_memory_fit_with_one_kind_of_weight_gives_both_kinds_its_slope():
    # every model all convolutions: the other weights' slope cannot be fitted, so it is the convolutions'
    samples = [MemorySample(w, a, b, FLOOR + K_C * w + K_A * a * b, w) for w, a in MODELS_MEMORY.values()
               for b in (1, 8)]
    model = fit_memory(samples)
    assert model.weight_slope == model.conv_weight_slope == pytest.approx(K_C, rel=1e-6)
    assert model.predict_bytes(100e6, 10e6, 1) == pytest.approx(FLOOR + K_C * 100e6 + K_A * 10e6)


def test_two_models_cannot_tell_the_weight_kinds_apart_so_they_share_a_slope():
    # two models: floor and two weight slopes are not identifiable from them (any split fits)
    models = {"convnet": (50e6, 45e6, 8e6), "fc-heavy": (250e6, 10e6, 2e6)}
    samples = [MemorySample(w, a, b, FLOOR + K_W * w + K_A * a * b, c) for w, c, a in models.values() for b in (1, 8)]
    model = fit_memory(samples)
    assert model.weight_slope == model.conv_weight_slope == pytest.approx(K_W, rel=1e-6)
    assert model.floor_bytes == pytest.approx(FLOOR, rel=1e-6)


def test_convolution_weights_are_the_initializers_convolutions_read():
    nodes = [helper.make_node("Conv", ["x", "k", "bias"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "w"], ["y"], name="fc")]
    report = analyze(make_model(nodes, [("x", [1, 3, 8, 8])], [("y", [1, 10])],
                                [weight("k", [16, 3, 3, 3]), weight("bias", [16]), weight("w", [16 * 6 * 6, 10])]))
    assert conv_weight_bytes(report) == 4 * (16 * 3 * 3 * 3 + 16)
    assert report.memory.weight_bytes == 4 * (16 * 3 * 3 * 3 + 16 + 576 * 10)


def test_uncalibrated_memory_adds_what_the_engine_model_says_to_the_process():
    nodes = [helper.make_node("Conv", ["x", "k", "bias"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "w"], ["y"], name="fc")]
    report = analyze(make_model(nodes, [("x", [2, 3, 8, 8])], [("y", [2, 10])],
                                [weight("k", [16, 3, 3, 3]), weight("bias", [16]), weight("w", [16 * 6 * 6, 10])]),
                     batch=2)
    conv, other, peak = 4 * (16 * 27 + 16), 4 * 576 * 10, report.memory.peak_activation_bytes
    engine = MemoryModel(floor_bytes=1000.0, weight_slope=0.5, activation_slope=3.0, conv_weight_slope=2.0)
    # batch 2: the report's peak is both images' activations, so 3 × peak (not 3 × 2 × peak)
    assert engine_bytes(report, 2, engine) == 1000 + 0.5 * other + 2 * conv + 3 * peak
    assert engine_bytes(report, 2) == conv + other + peak              # no engine model: each once
    guess = predict(report, 2, macs_per_s=1e9, baseline_rss_bytes=50_000_000, engine_memory=engine)
    assert guess.peak_rss_bytes == 50_000_000 + 1000 + 0.5 * other + 2 * conv + 3 * peak
    assert guess.latency_ms == pytest.approx(report.totals.macs / 1e9 * 1000)


def test_memory_coefficients_are_never_negative():
    # memory falling with the weights: least squares alone would give a negative weight slope
    samples = [(w, 1e6, 1, 500e6 - 0.5 * w) for w in (10e6, 100e6, 200e6)] + [(50e6, 1e6, 4, 480e6)]
    model = fit_memory(samples)
    assert model.weight_slope == 0.0
    assert model.floor_bytes >= 0 and model.activation_slope >= 0


# -- power --------------------------------------------------------------------------------------------


def test_power_fit_mean_and_spread_of_active_power():
    # net powers 11.1, 12.5, 11.8, 11.8 W above 5 W idle: mean 11.8, population std sqrt(0.245) ≈ 0.495
    model = fit_power([(b, 1.0, 5.0 + net, 5.0) for b, net in zip((1, 2, 4, 8), (11.1, 12.5, 11.8, 11.8))])
    assert model.idle_w == pytest.approx(5.0)
    assert model.active_w == pytest.approx(11.8)
    assert model.active_std_w == pytest.approx(math.sqrt(0.245))
    assert model.gross_w() == pytest.approx(16.8)
    assert model.energy_per_inference_j(10.0) == pytest.approx(0.118)   # 11.8 W × 10 ms


def test_power_scales_with_the_utilisation_proxy():
    model = fit_power([(1, 50.0, 9.0, 3.0), (8, 100.0, 15.0, 3.0)])    # 6 W at half the throughput, 12 W at full
    assert model.active_w == pytest.approx(12.0) and model.active_std_w == pytest.approx(0.0)
    assert model.gross_w(50.0) == pytest.approx(9.0)
    assert model.energy_per_inference_j(2.0, utilisation=50.0) == pytest.approx(0.012)


# -- metrics ------------------------------------------------------------------------------------------


def test_r_squared_rmspe_share_within_by_hand():
    assert r_squared([1, 2, 3, 5], [1, 2, 3, 4]) == pytest.approx(0.8)     # SS_res 1, SS_tot 5
    assert rmspe([110, 90, 100], [100, 100, 100]) == pytest.approx(math.sqrt(0.02 / 3))
    assert share_within([110, 90, 100, 111, 50], [100] * 5) == pytest.approx(0.6)
    assert share_within([111, 50], [100, 100], tolerance=0.5) == pytest.approx(1.0)
    quality = fit_quality([110, 90, 100], [100, 100, 101])
    assert quality.n == 3 and quality.share_within_10pct == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rmspe([1.0], [0.0])


def test_spearman_with_ties_by_hand():
    assert list(average_ranks([10, 20, 20, 30])) == [1.0, 2.5, 2.5, 4.0]
    assert list(average_ranks([3, 1, 3, 3, 2])) == [4.0, 1.0, 4.0, 4.0, 2.0]
    # ranks (1, 2.5, 2.5, 4) vs (1, 3, 2, 4): Σdxdy = 4.5, Σdx² = 4.5, Σdy² = 5 → ρ = 3/√10
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10))
    assert spearman([1, 2, 3, 4], [40, 30, 20, 10]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3], [1, 8, 1000]) == pytest.approx(1.0)         # monotone, not linear


def test_nonnegative_least_squares_by_hand():
    assert nonnegative_least_squares(np.eye(2), np.array([2.0, -1.0])) == pytest.approx([2.0, 0.0])
    a = np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0]])
    assert nonnegative_least_squares(a, a @ [0.5, 2.0]) == pytest.approx([0.5, 2.0])
    # the unconstrained line through (1, 3), (2, 2), (3, 1) has slope −1: clamped, the mean remains
    assert nonnegative_least_squares(a, np.array([3.0, 2.0, 1.0])) == pytest.approx([2.0, 0.0])


def _loo(groups):
    return leave_one_out(groups, fit_operations, lambda model, s: model.predict_sample(s))


def test_leave_one_out_on_an_exact_line_predicts_every_model_exactly():
    groups = {name: [OpsSample(macs, b, A_MS_PER_MAC * macs * b + B_MS) for b in (1, 2, 4)]
              for name, macs in MODEL_MACS.items()}                           # 4 models on one line
    result = _loo(groups)
    assert set(result) == set(MODEL_MACS)
    for name, (predicted, measured) in result.items():
        assert list(measured) == [s.latency_ms for s in groups[name]]
        assert predicted == pytest.approx(measured, rel=1e-9)


def test_leave_one_out_exposes_the_outlier_model():
    # ten models of 1..10 G MACs on t = 1e-9·MACs·batch + 5 ms; "m5" measured 30 % slower
    groups = {f"m{i}": [OpsSample(g * 1e9, b, (1e-9 * g * 1e9 * b + 5.0) * (1.3 if i == 5 else 1.0))
                        for b in (1, 2, 4)] for i, g in enumerate(range(1, 11))}
    errors = {name: rmspe(p, m) for name, (p, m) in _loo(groups).items()}
    assert errors["m5"] == pytest.approx(1 - 1 / 1.3, rel=1e-6)           # fitted on the nine exact models
    others = [e for name, e in errors.items() if name != "m5"]
    assert max(others) < 0.07 and max(others) < errors["m5"] / 3        # the outlier only nudges their line


def test_leave_one_out_needs_two_groups():
    with pytest.raises(ValueError):
        _loo({"only": [OpsSample(1e9, 1, 2.0), OpsSample(2e9, 1, 3.0)]})
