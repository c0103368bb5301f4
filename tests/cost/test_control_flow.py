"""Control flow and recurrence: bodies counted per iteration, branches both reported, RNNs unrolled."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from onnxprof.cost.analysis import COUNTED
from onnxprof.symbolic import Poly
from tests.builders import analyze, ints, make_model, one_node, weight

F32 = TensorProto.FLOAT


def _loop_model(trip_count_input: bool):
    # body: acc_out = acc_in @ w (4×4): 16 MACs per iteration on a [1, 4] state
    body = helper.make_graph(
        [helper.make_node("MatMul", ["acc_in", "w"], ["acc_out"], name="step"),
         helper.make_node("Identity", ["cond_in"], ["cond_out"], name="keep_going")],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", F32, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_out", F32, [1, 4])])
    inits = [weight("w", [4, 4]), helper.make_tensor("cond", TensorProto.BOOL, [], [True])]
    if trip_count_input:
        inits.append(ints("M", 10))
        inputs = [("x", [1, 4])]
    else:
        inputs = [("x", [1, 4]), ("M", [], TensorProto.INT64)]
    node = helper.make_node("Loop", ["M", "cond", "x"], ["y"], name="repeat", body=body)
    return make_model([node], inputs, [("y", [1, 4])], inits)


def test_loop_body_times_constant_trip_count():
    report = analyze(_loop_model(trip_count_input=True))
    loop = report.nodes[0]
    assert loop.status == COUNTED
    assert loop.macs == 10 * 16
    assert loop.subgraphs[0].attribute == "body" and loop.subgraphs[0].macs == 16
    assert report.parameters.elements == 16


def test_loop_with_run_time_trip_count_is_a_symbol():
    report = analyze(_loop_model(trip_count_input=False))
    assert report.totals.macs == 16 * Poly.symbol("trips_repeat")
    assert "trips_repeat" in report.symbols


def test_if_counts_the_larger_branch_and_reports_both():
    then_graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["t"], name="heavy")], "then", [],
                                   [helper.make_tensor_value_info("t", F32, [2, 8])])
    else_graph = helper.make_graph([helper.make_node("Relu", ["x"], ["e"], name="light")], "else", [],
                                   [helper.make_tensor_value_info("e", F32, [2, 8])])
    node = helper.make_node("If", ["cond"], ["y"], name="branch", then_branch=then_graph, else_branch=else_graph)
    model = make_model([node], [("cond", [], TensorProto.BOOL), ("x", [2, 8])], [("y", [2, 8])], [weight("w", [8, 8])])
    report = analyze(model)
    branch = report.nodes[0]
    assert branch.macs == 2 * 8 * 8 and branch.flops == 2 * 2 * 8 * 8
    assert {s.attribute: s.flops for s in branch.subgraphs} == {"then_branch": 256, "else_branch": 16}


def test_scan_multiplies_by_the_scanned_length():
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"], name="accumulate"),
         helper.make_node("Identity", ["s_out"], ["y_t"], name="emit")],
        "body", [helper.make_tensor_value_info("s_in", F32, [3]), helper.make_tensor_value_info("x_t", F32, [3])],
        [helper.make_tensor_value_info("s_out", F32, [3]), helper.make_tensor_value_info("y_t", F32, [3])])
    node = helper.make_node("Scan", ["init", "xs"], ["final", "ys"], name="scan", body=body, num_scan_inputs=1)
    model = make_model([node], [("init", [3]), ("xs", ["T", 3])], [("final", [3]), ("ys", ["T", 3])])
    report = analyze(model)
    assert report.totals.flops == 3 * Poly.symbol("T")


def _rnn_weights(op, gates, directions=1, hidden=8, inputs=4, bias=True):
    w = [weight("W", [directions, gates * hidden, inputs]), weight("R", [directions, gates * hidden, hidden])]
    return w + ([weight("B", [directions, 2 * gates * hidden])] if bias else [])


def test_lstm_unrolled_over_the_sequence():
    # S steps × B rows × 4 gates·H(8) × (I 4 + H 8) MACs; per cell 4H joins + 8H bias + 18H gate math.
    node = one_node("LSTM", [("x", ["S", 2, 4])], initializers=_rnn_weights("LSTM", 4), hidden_size=8)
    s = Poly.symbol("S")
    assert node.macs == s * 2 * 32 * 12
    assert node.flops == 2 * node.macs + s * 2 * (32 + 64 + 18 * 8)


def test_bidirectional_gru_and_plain_rnn():
    gru = one_node("GRU", [("x", [5, 1, 4])], initializers=_rnn_weights("GRU", 3, directions=2, bias=False),
                   hidden_size=8, direction="bidirectional")
    assert gru.macs == 2 * 5 * 1 * 24 * 12
    assert gru.flops == 2 * gru.macs + 2 * 5 * (24 + 14 * 8)
    rnn = one_node("RNN", [("x", [1, 5, 4])], initializers=_rnn_weights("RNN", 1, bias=False), hidden_size=8, layout=1)
    assert rnn.macs == 5 * 1 * 8 * 12      # layout 1: [batch, seq, input]


def test_model_local_functions_are_costed_through_their_bodies():
    function = helper.make_function("my.domain", "DoubleMatMul", ["a", "w"], ["out"],
                                    [helper.make_node("MatMul", ["a", "w"], ["h"]),
                                     helper.make_node("MatMul", ["h", "w"], ["out"])],
                                    [helper.make_opsetid("", 17)])
    node = helper.make_node("DoubleMatMul", ["x", "w"], ["y"], name="call", domain="my.domain")
    model = make_model([node], [("x", [2, 4])], [("y", [2, 4])], [weight("w", [4, 4])])
    model.opset_import.append(helper.make_opsetid("my.domain", 1))
    model.functions.append(function)
    report = analyze(model)
    assert report.complete
    assert report.totals.macs == 2 * 2 * 4 * 4


def test_einsum_attention_scores_and_a_one_operand_sum():
    node = one_node("Einsum", [("q", ["N", 4, "S", 16]), ("k", ["N", 4, "S", 16])], equation="bhqd,bhkd->bhqk")
    n, s = Poly.symbol("N"), Poly.symbol("S")
    assert node.macs == 64 * n * s * s
    assert one_node("Einsum", [("x", [3, 5])], equation="ij->i").flops == 15 - 3
    batched = one_node("Einsum", [("a", [2, 3, 4]), ("b", [4, 5])], equation="...ij,jk->...ik")
    assert batched.macs == 2 * 3 * 4 * 5


def test_where_is_selection():
    node = one_node("Where", [("c", [4], TensorProto.BOOL), ("a", [4]), ("b", [4])])
    assert node.flops == 0 and node.bytes_read == 4 + 16 + 16


def test_loop_values_reach_inside_the_body():
    report = analyze(_loop_model(trip_count_input=True))
    inner = report.nodes[0].subgraphs[0].nodes
    assert [n.name for n in inner] == ["step", "keep_going"] and inner[0].macs == 16
    assert np.isclose(report.nodes[0].flops, 10 * 32)
