"""ONNX Runtime contrib ops (shapes inferred by onnxprof, costs by hand), a BERT-style fused graph with
symbolic batch and sequence, and precision: dtype splits, sub-byte weights, QDQ graphs."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from onnxprof.symbolic import Poly
from tests.builders import analyze, make_model, weight

MS = "com.microsoft"
N, S = Poly.symbol("N"), Poly.symbol("S")


def _ms_model(nodes, inputs, outputs, inits):
    model = make_model(nodes, inputs, outputs, inits)
    model.opset_import.append(helper.make_opsetid(MS, 1))
    return model


def bert_layer_model():
    d, ff = 64, 128
    nodes = [
        helper.make_node("EmbedLayerNormalization", ["ids", "", "word", "pos", "", "g0", "b0"], ["emb"],
                         name="embed", domain=MS),
        helper.make_node("Attention", ["emb", "qkv_w", "qkv_b"], ["attn"], name="attention", domain=MS, num_heads=4),
        helper.make_node("SkipLayerNormalization", ["attn", "emb", "g1", "b1"], ["ln1"], name="ln1", domain=MS),
        helper.make_node("MatMul", ["ln1", "w1"], ["h"], name="ff1"),
        helper.make_node("FastGelu", ["h", "bias1"], ["act"], name="gelu", domain=MS),
        helper.make_node("MatMul", ["act", "w2"], ["out"], name="ff2"),
        helper.make_node("SkipLayerNormalization", ["out", "ln1", "g2", "b2"], ["y"], name="ln2", domain=MS),
    ]
    inits = [weight("word", [100, d]), weight("pos", [32, d]), weight("qkv_w", [d, 3 * d]), weight("qkv_b", [3 * d]),
             weight("w1", [d, ff]), weight("bias1", [ff]), weight("w2", [ff, d])]
    inits += [weight(f"{p}{i}", [d]) for i in range(3) for p in ("g", "b")]
    return _ms_model(nodes, [("ids", ["N", "S"], TensorProto.INT32)], [("y", None)], inits)


def test_bert_style_contrib_graph_has_the_quadratic_term():
    report = analyze(bert_layer_model())
    assert report.complete
    shapes = {n.name: n.output_shapes[0] for n in report.nodes}
    assert shapes["attention"] == (N, S, 64) and shapes["gelu"] == (N, S, 128)
    # QKV projection 64×192 + q·kᵀ and p·v over 4 heads of 16 + two feed-forward matmuls 64×128.
    assert report.totals.macs == (64 * 192 + 2 * 64 * 128) * N * S + 4 * 32 * N * S * S
    # embed 9/elt + 3/row; attention 2×MACs + bias 192/token + 7 per score − 2 per row; two skip
    # layer norms 9/elt + 3/row; FastGelu with bias 10/elt; feed-forward 2×MACs.
    per_token = (3 * (9 * 64 + 3) + 2 * 64 * 192 + 192 - 8 + 10 * 128 + 2 * 2 * 64 * 128)
    assert report.totals.flops == per_token * N * S + (2 * 128 + 7 * 4) * N * S * S


def test_matmul_nbits_int4_weights_are_sized_by_their_bits():
    k, n_out, block = 64, 32, 32
    packed = numpy_helper.from_array(np.zeros((n_out, k // block, block * 4 // 8), np.uint8), "w_q4")
    scales = weight("scales", [n_out, k // block])
    node = helper.make_node("MatMulNBits", ["x", "w_q4", "scales"], ["y"], name="q4", domain=MS,
                            K=k, N=n_out, bits=4, block_size=block)
    report = analyze(_ms_model([node], [("x", ["N", k])], [("y", None)], [packed, scales]))
    assert report.nodes[0].output_shapes == ((N, n_out),)
    assert report.totals.macs == k * n_out * N
    assert report.totals.flops == 2 * k * n_out * N + 2 * k * n_out
    assert report.memory.weight_bytes == k * n_out // 2 + n_out * 2 * 4   # 4-bit weights + float scales


def test_int4_initializers_pack_two_per_byte():
    w = helper.make_tensor("w4", TensorProto.INT4, [16, 8], np.zeros(128, np.int8))
    node = helper.make_node("DequantizeLinear", ["w4", "scale"], ["w"], name="dq", axis=0)
    mm = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    report = analyze(make_model([node, mm], [("x", [2, 16])], [("y", [2, 8])], [w, weight("scale", [16])], opset=21))
    assert report.parameters.bytes == 64 + 16 * 4
    assert {d.dtype: d.bytes for d in report.parameters.by_dtype} == {"int4": 64, "float32": 64}


def test_qdq_weights_are_the_quantized_ones():
    w_q = numpy_helper.from_array(np.ones((8, 4, 3, 3), np.int8), "w_q")
    scale = numpy_helper.from_array(np.full(8, 0.1, np.float32), "w_scale")
    nodes = [helper.make_node("DequantizeLinear", ["w_q", "w_scale"], ["w"], name="dq_w", axis=0),
             helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])]
    report = analyze(make_model(nodes, [("x", [1, 4, 8, 8])], [("y", [1, 8, 8, 8])], [w_q, scale]))
    assert report.parameters.elements == 8 * 4 * 9 + 8
    assert {d.dtype: d.bytes for d in report.parameters.by_dtype} == {"int8": 288, "float32": 32}
    assert report.memory.weight_bytes == 288 + 32


def test_macs_split_by_compute_dtype():
    nodes = [helper.make_node("MatMul", ["x16", "w16"], ["a"], name="half"),
             helper.make_node("MatMulInteger", ["x8", "w8"], ["b"], name="int8")]
    inits = [weight("w16", [4, 4], np.float16), numpy_helper.from_array(np.ones((4, 4), np.int8), "w8")]
    report = analyze(make_model(nodes, [("x16", [2, 4], TensorProto.FLOAT16), ("x8", [2, 4], TensorProto.INT8)],
                                [("a", [2, 4], TensorProto.FLOAT16), ("b", [2, 4], TensorProto.INT32)], inits))
    assert report.totals.macs_by_dtype == {"float16": 32, "int8": 32}


def test_group_query_attention_shares_key_value_heads():
    # packed QKV: 8 query heads + 2×2 kv heads of 16 → width 192; present length from the output.
    node = helper.make_node("GroupQueryAttention", ["qkv", "", "", "pk", "pv", "seqlens", "total"],
                            ["y", "present_k", "present_v"], name="gqa", domain=MS, num_heads=8, kv_num_heads=2)
    model = _ms_model([node], [("qkv", [1, "S", 192]), ("pk", [1, 2, "P", 16]), ("pv", [1, 2, "P", 16]),
                               ("seqlens", [1], TensorProto.INT32), ("total", [], TensorProto.INT32)],
                      [("y", None), ("present_k", None), ("present_v", None)], [])
    report = analyze(model)
    total = Poly.symbol("P") + S
    assert report.nodes[0].output_shapes == ((1, S, 128), (1, 2, total, 16), (1, 2, total, 16))
    assert report.totals.macs == 8 * S * total * 32


def test_fused_conv_and_nhwc_conv_shapes_and_costs():
    fused = helper.make_node("FusedConv", ["x", "w"], ["y"], name="fused", domain=MS, activation="Relu",
                             kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    report = analyze(_ms_model([fused], [("x", [1, 3, 8, 8])], [("y", None)], [weight("w", [4, 3, 3, 3])]))
    assert report.nodes[0].output_shapes == ((1, 4, 8, 8),)
    assert report.totals.macs == 256 * 27 and report.totals.flops == 2 * 256 * 27 + 256
    nhwc = helper.make_node("NhwcConv", ["x", "w"], ["y"], name="nhwc", domain=MS, kernel_shape=[3, 3], strides=[2, 2])
    report = analyze(_ms_model([nhwc], [("x", [1, 9, 9, 3])], [("y", None)], [weight("w", [4, 3, 3, 3])]))
    assert report.nodes[0].output_shapes == ((1, 4, 4, 4),)
    assert report.totals.macs == 64 * 27


def test_multi_head_attention_without_projection():
    # 2 heads of 4: 1 × 2 × 4 queries × 6 keys = 48 scores, each 4 + 4 MACs (q·k, p·v); the bias
    # [8 + 8 + 8] is added to 4 query and 2 × 6 key/value tokens.
    node = helper.make_node("MultiHeadAttention", ["q", "k", "v", "bias"], ["y"], name="mha", domain=MS, num_heads=2)
    report = analyze(_ms_model([node], [("q", [1, 4, 8]), ("k", [1, 6, 8]), ("v", [1, 6, 8])], [("y", None)],
                               [weight("bias", [24])]))
    mha = report.nodes[0]
    assert mha.output_shapes == ((1, 4, 8),)
    assert mha.macs == 48 * 8
    assert mha.flops == 2 * 384 + 7 * 48 - 2 * 2 * 4 + 8 * (4 + 2 * 6)


def test_an_embedding_layer_norm_computes_in_its_embeddings_type_not_its_ids():
    """int32 token ids in, float embeddings out: the layer after it (Attention) runs in float32."""
    report = analyze(bert_layer_model())
    dtypes = {n.name: n.compute_dtype for n in report.nodes}
    assert dtypes["attention"] == "float32" and dtypes["ff1"] == "float32"
    assert report.graph.graph["tensors"]["emb"].dtype == TensorProto.FLOAT
    assert set(report.totals.macs_by_dtype) == {"float32"}
