"""A decoder LLM as ONNX Runtime GenAI exports it (KV cache, GroupQueryAttention, 4-bit MatMulNBits,
weights in external data), analysed from its file with symbolic batch, sequence and cache lengths.

The tiny configuration: 2 layers, hidden 64, 4 heads of 16 (2 key/value heads), MLP 128, vocabulary
100, 4-bit blocks of 32.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxprof.cost.analysis import analyze, analyze_model
from onnxprof.model.shapes import ShapeBinding
from onnxprof.symbolic import Poly
from onnxprof.zoo.decoder import write_decoder
from tests.builders import make_model, weight

MS = "com.microsoft"
B, S, T = Poly.symbol("batch_size"), Poly.symbol("sequence_length"), Poly.symbol("total_sequence_length")
TINY = dict(layers=2, hidden=64, heads=4, kv_heads=2, intermediate=128, vocab=100, block_size=32)
# Per token and layer: q 64·64, k and v 64·32, o 64·64, gate and up 64·128, down 128·64; then lm_head 64·100.
LINEAR_MACS_PER_TOKEN = 2 * (4096 + 2048 + 2048 + 4096 + 8192 + 8192 + 8192) + 6400
# Per token, key and layer: 4 query heads × (q·k and p·v over a head of 16).
ATTENTION_MACS_PER_KEY = 2 * 4 * 2 * 16
CODES = LINEAR_MACS_PER_TOKEN          # one 4-bit code per weight
# float16: embedding 100·64, 5 norms of 64, cos and sin caches 4096·8 each, and one scale per 32 codes.
HALF = 100 * 64 + 5 * 64 + 2 * 4096 * 8 + CODES // 32


@pytest.fixture(scope="module", params=[False, True], ids=["rotary nodes", "rotary in attention"])
def tiny(request, tmp_path_factory):
    return write_decoder(tmp_path_factory.mktemp("decoder"), fused_rotary=request.param, **TINY)


def test_macs_are_linear_per_token_plus_attention_over_the_whole_sequence(tiny):
    report = analyze(tiny)          # the ONNX checker included: it takes ONNX Runtime's default-domain norm
    assert report.complete
    assert report.totals.macs == LINEAR_MACS_PER_TOKEN * B * S + ATTENTION_MACS_PER_KEY * B * S * T
    assert report.symbols == ("batch_size", "past_sequence_length", "sequence_length", "total_sequence_length")


def test_rotary_inside_the_attention_costs_what_rotary_nodes_cost(tmp_path):
    nodes = analyze(write_decoder(tmp_path / "nodes", **TINY))
    fused = analyze(write_decoder(tmp_path / "fused", fused_rotary=True, **TINY))
    # per layer and token: 3 FLOPs for each element of the 4 query and 2 key heads of 16
    rope = [n for n in nodes.nodes if n.op_type == "RotaryEmbedding"]
    assert sum(n.flops for n in rope) == 2 * 3 * (4 + 2) * 16 * B * S
    assert fused.totals.macs == nodes.totals.macs and fused.totals.flops == nodes.totals.flops


def test_bound_dims_give_the_count_of_one_decoding_step(tiny):
    step = ShapeBinding(dims={"batch_size": 1, "sequence_length": 1, "past_sequence_length": 99,
                              "total_sequence_length": 100})
    report = analyze(tiny, step)
    assert report.totals.macs == LINEAR_MACS_PER_TOKEN + ATTENTION_MACS_PER_KEY * 100
    # the cache read: 2 layers × key and value × 2 heads × 99 positions × 16 × 2 bytes
    past = sum(t.size_bytes for t in report.inputs if t.name.startswith("past_key_values"))
    assert past == 2 * 2 * 2 * 99 * 16 * 2


def test_four_bit_weights_count_each_weight_in_its_real_bits(tiny):
    report = analyze(tiny)
    shares = {d.dtype: (d.elements, d.bytes) for d in report.parameters.by_dtype}
    assert shares == {"uint4": (CODES, CODES // 2), "float16": (HALF, 2 * HALF)}
    assert report.memory.weight_bytes == CODES // 2 + 2 * HALF == report.model.external_bytes
    q_proj = next(n for n in report.nodes if n.name == "/model/layers.0/attn/q_proj/MatMulNBits")
    assert q_proj.params == 64 * 64 + 64 * 2      # its codes and its scales


def test_the_full_size_decoder_is_read_without_its_weights(tmp_path):
    """Mistral-7B's sizes: 4.26 GB of external data in a sparse file, analysed from its dims."""
    path = write_decoder(tmp_path)
    report = analyze(path)
    per_layer = 2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336
    assert report.totals.macs.substitute({"batch_size": 1, "sequence_length": 1, "total_sequence_length": 1}) \
        == 32 * per_layer + 4096 * 32000 + 32 * 32 * 2 * 128
    assert report.model.external_bytes == (tmp_path / "model.onnx.data").stat().st_size
    assert (tmp_path / "model.onnx.data").stat().st_blocks == 0    # never written, so never read back


# -- the contrib ops on their own ---------------------------------------------------------------

def _ms_model(nodes, inputs, outputs, inits, opset=17):
    model = make_model(nodes, inputs, outputs, inits, opset=opset)
    model.opset_import.append(helper.make_opsetid(MS, 1))
    return model


def test_matmul_nbits_whose_packed_weight_does_not_fit_k_and_n_is_invalid():
    # K 64 in blocks of 32 packs into [N, 2, 16]; a [N, 4, 16] B holds 128 codes per column
    packed = numpy_helper.from_array(np.zeros((32, 4, 16), np.uint8), "w_q4")
    node = helper.make_node("MatMulNBits", ["x", "w_q4", "scales"], ["y"], name="q4", domain=MS,
                            K=64, N=32, bits=4, block_size=32)
    report = analyze_model(_ms_model([node], [("x", [2, 64])], [("y", None)], [packed, weight("scales", [32, 2])]),
                           check=False)
    assert report.nodes[0].status == "invalid"
    assert "pack into [32, 2, 16]" in report.nodes[0].reason


@pytest.mark.parametrize("heads, status", [(0, "counted"), (-1, "invalid")])
def test_rotary_embedding_takes_num_heads_0_as_unset(heads, status):
    node = helper.make_node("RotaryEmbedding", ["x", "pos", "cos", "sin"], ["y"], name="rope", domain=MS,
                            num_heads=heads, rotary_embedding_dim=0, interleaved=0)
    model = _ms_model([node], [("x", [1, 3, 32]), ("pos", [1, 3], TensorProto.INT64)], [("y", None)],
                      [weight("cos", [16, 8]), weight("sin", [16, 8])])
    rope = analyze_model(model, check=False).nodes[0]
    assert rope.status == status
    if status == "counted":
        assert rope.flops == 3 * 96    # every element rotated: two products and a sum


def test_layer_normalization_of_onnx_runtime_default_domain_before_opset_17_is_costed():
    """Exporters for ONNX Runtime write LayerNormalization at opset 14, where only ONNX Runtime defines it."""
    node = helper.make_node("LayerNormalization", ["x", "g", "b"], ["y"], name="ln", axis=-1, epsilon=1e-5)
    report = analyze_model(make_model([node], [("x", [2, 5, 8])], [("y", [2, 5, 8])],
                                      [weight("g", [8]), weight("b", [8])], opset=14))   # the ONNX checker included
    assert report.nodes[0].output_shapes == ((2, 5, 8),)
    assert report.nodes[0].flops == 8 * 80 + 3 * 10


def test_a_4_bit_embedding_table_is_gathered_unpacked_and_counted_in_its_real_bits():
    """GatherBlockQuantized: 100 rows of 64 4-bit codes, two per byte, one float16 scale per block of 32."""
    table = numpy_helper.from_array(np.zeros((100, 32), np.uint8), "table")
    scales = weight("scales", [100, 2], np.float16)
    node = helper.make_node("GatherBlockQuantized", ["table", "ids", "scales"], ["emb"], name="embed", domain=MS,
                            bits=4, block_size=32, gather_axis=0, quantize_axis=1)
    model = _ms_model([node], [("ids", ["batch_size", "sequence_length"], TensorProto.INT64)], [("emb", None)],
                      [table, scales])
    report = analyze_model(model, check=False)
    embed = report.nodes[0]
    assert embed.output_shapes == ((B, S, 64),) and embed.compute_dtype == "uint8"
    assert report.graph.graph["tensors"]["emb"].dtype == TensorProto.FLOAT16
    assert embed.flops == 2 * 64 * B * S
    shares = {d.dtype: (d.elements, d.bytes) for d in report.parameters.by_dtype}
    assert shares == {"uint4": (6400, 3200), "float16": (200, 400)}
