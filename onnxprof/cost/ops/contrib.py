"""ONNX Runtime contrib ops (domain com.microsoft): what its transformer optimizer and quantization
tools emit. Layouts follow ONNX Runtime's ContribOperators.md and contrib_defs; each formula reuses
the default-domain arithmetic it fuses (Conv, Gemm, LayerNormalization, Gelu, attention).
"""

from __future__ import annotations

from onnxprof.cost.nbits import nbits_layout
from onnxprof.cost.ops.attention import rotary_embedding
from onnxprof.cost.ops.conv import conv, qlinear_conv
from onnxprof.cost.ops.factories import per_output_element
from onnxprof.cost.ops.linear import check_gemm, check_matmul, gemm
from onnxprof.cost.ops.sampling import grid_sample
from onnxprof.cost.registry import NodeContext, OpCost, ShapeUnknown, register
from onnxprof.cost.validate import check_heads, differ, fail, indivisible, int_dims, known, required
from onnxprof.symbolic import product

MS = "com.microsoft"
SOFTMAX_PER_SCORE = 7   # scale 1, mask or bias 1, softmax 5 (less 2 per row, subtracted below)
_ACTIVATION_FLOPS = {"Relu": 1, "Tanh": 1, "Sigmoid": 4, "LeakyRelu": 2, "Clip": 2, "HardSigmoid": 4}

per_output_element("Gelu", 5, "5 per element (erf form)", domain=MS)
per_output_element("BiasGelu", 6, "6 per element (bias add, erf Gelu)", domain=MS)
per_output_element("QuickGelu", 6, "6 per element (scale, sigmoid, multiply)", domain=MS)
per_output_element("BiasAdd", 2, "2 per element (bias and skip adds)", domain=MS)
per_output_element("QLinearSigmoid", 11, "11 per element (dequantize 2, sigmoid 4, quantize 5)", domain=MS)
per_output_element("QLinearAdd", 7, "7 per element (dequantize both, add, requantize)", domain=MS)
per_output_element("QLinearMul", 6, "6 per element (offsets, multiply, rescale, requantize)", domain=MS)
register("RotaryEmbedding", domain=MS, flops="3 per rotated element")(rotary_embedding)
register("GridSample", domain=MS, flops="per output: 3 per axis + 2 per tap", exact=False)(grid_sample)
register("QLinearConv", domain=MS, macs="out elements × (C_in/group) × kernel size (integer)",
         flops="2 × MACs + zero points + bias + requantise")(qlinear_conv)
register("NhwcConv", domain=MS, macs="out elements × kH·kW·(C_in/group)", flops="2 × MACs + bias")(conv)


def _activation(ctx: NodeContext) -> int:
    name = ctx.attr("activation", b"")
    name = name.decode() if isinstance(name, bytes) else name
    return _ACTIVATION_FLOPS.get(name, 1 if name else 0)


@register("FusedConv", domain=MS, macs="as Conv", flops="Conv + activation + Z add per output")
def fused_conv(ctx: NodeContext) -> OpCost:
    base = conv(ctx)   # validates the convolution too
    out = ctx.out_elements()
    return OpCost(macs=base.macs, flops=base.flops + (_activation(ctx) + (1 if ctx.has_input(3) else 0)) * out)


@register("FusedGemm", domain=MS, macs="as Gemm", flops="Gemm + activation per output")
def fused_gemm(ctx: NodeContext) -> OpCost:
    base = gemm(ctx)
    return OpCost(macs=base.macs, flops=base.flops + _activation(ctx) * ctx.out_elements())


@register("FusedMatMul", domain=MS, macs="out elements × K (after transposes)", flops="2 × MACs + alpha scaling")
def fused_matmul(ctx: NodeContext) -> OpCost:
    if not any(ctx.attr(name, 0) for name in ("transA", "transB", "transBatchA", "transBatchB")):
        check_matmul(ctx)
    a = ctx.in_shape(0)
    k = a[-2] if ctx.attr("transA", 0) and len(a) > 1 else a[-1]
    if ctx.attr("transBatchA", 0) and len(a) > 2:
        k = a[0] if ctx.attr("transA", 0) else a[-1]
    out = ctx.out_elements()
    return OpCost(macs=out * k, flops=2 * out * k + (out if ctx.attr("alpha", 1.0) != 1.0 else 0))


@register("MatMulNBits", domain=MS, macs="out elements × K",
          flops="2 × MACs + 2·K·N dequantisation + bias")
def matmul_nbits(ctx: NodeContext) -> OpCost:
    k, n = required(ctx, "K"), required(ctx, "N")
    if required(ctx, 'block_size') <= 0:
        fail(f"block_size {ctx.attr('block_size')} must be positive")
    a = ctx.dims(0)
    if a is not None and differ(a[-1], k):
        fail(f"A's last dim is {a[-1] if a else '?'} but K is {k}")
    packed = int_dims(ctx.dims(1))
    if packed is not None and len(packed) == 3 and packed != nbits_layout(ctx.attributes):
        fail(f"B has shape {list(packed)} but K {k}, N {n}, bits {ctx.attr('bits', 4)} and block_size "
             f"{ctx.attr('block_size')} pack into {list(nbits_layout(ctx.attributes))}")
    out = ctx.out_elements()
    bias = out if ctx.has_input(5) else 0
    return OpCost(macs=out * k, flops=2 * out * k + 2 * k * n + bias)


@register("GatherBlockQuantized", domain=MS, flops="2 per output element (zero point, scale)")
def gather_block_quantized(ctx: NodeContext) -> OpCost:
    if ctx.attr("bits", 4) not in (2, 4, 8):
        fail(f"bits {ctx.attr('bits')} is not 2, 4 or 8")
    return OpCost(flops=2 * ctx.out_elements())


@register("MatMulIntegerToFloat", domain=MS, macs="out elements × K (integer)",
          flops="2 × MACs + 2 per output (scales) + bias")
def matmul_integer_to_float(ctx: NodeContext) -> OpCost:
    check_matmul(ctx)
    out, k = ctx.out_elements(), ctx.in_shape(0)[-1]
    return OpCost(macs=out * k, flops=2 * out * k + 2 * out + (out if ctx.has_input(6) else 0))


@register("DynamicQuantizeMatMul", domain=MS, macs="out elements × K (integer)",
          flops="2 × MACs + 7 per A element (quantise) + 2 per output + bias")
def dynamic_quantize_matmul(ctx: NodeContext) -> OpCost:
    check_matmul(ctx)
    out, k = ctx.out_elements(), ctx.in_shape(0)[-1]
    return OpCost(macs=out * k, flops=2 * out * k + 7 * ctx.in_elements(0) + 2 * out + (out if ctx.has_input(4) else 0))


@register("QGemm", domain=MS, macs="M × K × N (integer)", flops="2 × MACs + C + requantise 3 per output")
def qgemm(ctx: NodeContext) -> OpCost:
    check_gemm(ctx, 0, 3, 6)                        # a, a_scale, a_zp, b, b_scale, b_zp, C, y_scale, y_zp
    a = ctx.in_shape(0)
    k = a[0] if ctx.attr("transA", 0) else a[1]
    out = ctx.out_elements()
    return OpCost(macs=out * k, flops=2 * out * k + (out if ctx.has_input(6) else 0) + (3 * out if ctx.has_input(7) else 0))


@register("QLinearGlobalAveragePool", domain=MS, flops="input elements + 4 per output (rescale)")
def qlinear_global_average_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0) + 4 * ctx.out_elements())


# -- normalisations ------------------------------------------------------------------------------

def _rows(ctx: NodeContext):
    shape = ctx.in_shape(0)
    return product(shape[:-1])


@register("SkipLayerNormalization", domain=MS,
          flops="skip add 1 (+ bias 1) + LayerNorm 8 (7 without beta) per element + 3 per row")
def skip_layer_norm(ctx: NodeContext) -> OpCost:
    per_element = 1 + (1 if ctx.has_input(4) else 0) + (8 if ctx.has_input(3) else 7)
    return OpCost(flops=per_element * ctx.in_elements(0) + 3 * _rows(ctx))


@register("SkipSimplifiedLayerNormalization", domain=MS,
          flops="skip add 1 (+ bias 1) + RMS norm 4 per element + 3 per row")
def skip_simplified_layer_norm(ctx: NodeContext) -> OpCost:
    per_element = 1 + (1 if ctx.has_input(3) else 0) + 4
    return OpCost(flops=per_element * ctx.in_elements(0) + 3 * _rows(ctx))


def simplified_layer_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axis = ctx.attr("axis", -1) % len(shape)
    return OpCost(flops=4 * ctx.out_elements() + 3 * product(shape[:axis]))


for _domain in (MS, "ai.onnx"):  # ONNX Runtime registers it in the default domain too
    register("SimplifiedLayerNormalization", domain=_domain,
             flops="4 per element + 3 per row (RMS norm)")(simplified_layer_norm)


@register("EmbedLayerNormalization", domain=MS,
          flops="embedding sums 1–2 per element + LayerNorm 8 per element + 3 per row")
def embed_layer_norm(ctx: NodeContext) -> OpCost:
    out = ctx.out_elements()
    sums = 2 if ctx.has_input(4) else 1
    rows = product(ctx.in_shape(0))
    return OpCost(flops=(sums + 8) * out + 3 * rows)


@register("FastGelu", domain=MS, flops="9 per element (tanh approximation) + 1 with bias")
def fast_gelu(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(9 + (1 if ctx.has_input(1) else 0)) * ctx.out_elements())


# -- attention -----------------------------------------------------------------------------------

def _scores(batch, heads, q_len, kv_len, head_dim, v_dim, projection_macs=0, extra_flops=0) -> OpCost:
    scores = batch * heads * q_len * kv_len
    macs = projection_macs + scores * (head_dim + v_dim)
    return OpCost(macs=macs, flops=2 * macs + SOFTMAX_PER_SCORE * scores - 2 * batch * heads * q_len + extra_flops)


def _head_sizes(ctx: NodeContext, weight) -> tuple[int, list]:
    """num_heads and the Q, K, V widths (qkv_hidden_sizes, else equal thirds of the weight), each a
    whole number of heads."""
    heads = required(ctx, "num_heads")
    sizes = ctx.attr("qkv_hidden_sizes") or [weight[1] // 3 if known(weight[1]) else weight[1]] * 3
    if len(sizes) != 3:
        fail(f"qkv_hidden_sizes {sizes} has {len(sizes)} values, 3 expected (Q, K, V)")
    if not ctx.attr("qkv_hidden_sizes") and indivisible(3, weight[1]):
        fail(f"the weight's {weight[1]} columns do not split into equal Q, K and V")
    for size in sizes:
        check_heads(heads, size, "a width of")
    return heads, sizes


def _projected_attention(ctx: NodeContext, weight_index: int, past_index: int) -> OpCost:
    """Attention / QAttention: input [B, S, In] @ weights [In, Dq + Dk + Dv], then per-head attention."""
    x, weight = ctx.in_shape(0), ctx.in_shape(weight_index)
    heads, sizes = _head_sizes(ctx, weight)
    if not isinstance(sizes[0], int):
        raise ShapeUnknown("Attention")
    batch, seq = x[0], x[1]
    past = ctx.in_shape(past_index)[3] if ctx.has_input(past_index) else 0
    projection = batch * seq * weight[0] * weight[1]
    return _scores(batch, heads, seq, seq + past, sizes[0] // heads, sizes[2] // heads, projection,
                   extra_flops=batch * seq * weight[1])   # the projection bias


@register("Attention", domain=MS, macs="QKV projection + batch × heads × S × (P + S) × (head + v_head)",
          flops="2 × MACs + bias + per score: scale, mask, softmax")
def ms_attention(ctx: NodeContext) -> OpCost:
    return _projected_attention(ctx, weight_index=1, past_index=4)


@register("QAttention", domain=MS, macs="integer QKV projection + attention as Attention",
          flops="2 × MACs + bias + per score: scale, mask, softmax")
def q_attention(ctx: NodeContext) -> OpCost:
    return _projected_attention(ctx, weight_index=1, past_index=8)


@register("PackedAttention", domain=MS, macs="projection over tokens + batch × heads × S² × (head + v_head)",
          flops="2 × MACs + bias + per score: scale, mask, softmax (padded length: an upper bound)", exact=False)
def packed_attention(ctx: NodeContext) -> OpCost:
    tokens_in, weight = ctx.in_shape(0), ctx.in_shape(1)
    offsets = ctx.in_shape(3)                       # [B, S]
    heads, sizes = _head_sizes(ctx, weight)
    projection = tokens_in[0] * weight[0] * weight[1]
    return _scores(offsets[0], heads, offsets[1], offsets[1], sizes[0] // heads, sizes[2] // heads, projection,
                   extra_flops=tokens_in[0] * weight[1])


@register("MultiHeadAttention", domain=MS, macs="batch × heads × S × (P + L) × (head + v_head); no projection",
          flops="2 × MACs + bias + per score: scale, mask, softmax")
def multi_head_attention(ctx: NodeContext) -> OpCost:
    q = ctx.in_shape(0)
    heads = required(ctx, "num_heads")
    batch, q_len = q[0], q[1]
    if len(q) not in (3, 5):
        fail(f"query has rank {len(q)}; [B, S, D] or packed [B, S, N, 3, H] expected")
    if len(q) == 3:
        check_heads(heads, q[2], "the query's width")
    head_dim = q[4] if len(q) == 5 else q[2] // heads
    if not ctx.has_input(1):                        # packed QKV [B, S, N, 3, H]
        kv_len, v_dim = q_len, head_dim
    else:
        k = ctx.in_shape(1)
        kv_len = k[2] if len(k) == 4 else k[1]
        v_dim = head_dim
        if ctx.has_input(2):
            v = ctx.in_shape(2)
            v_dim = v[3] if len(v) == 4 else v[2] // heads
    if ctx.has_input(6):
        kv_len = kv_len + ctx.in_shape(6)[2]
    bias = 0
    if ctx.has_input(3):   # [Dq + Dk + Dv], equal thirds: added to the query's tokens and the key/value's
        width = ctx.in_shape(3)[0] // 3
        new_kv = kv_len - ctx.in_shape(6)[2] if ctx.has_input(6) else kv_len
        bias = batch * width * (q_len + 2 * new_kv)
    return _scores(batch, heads, q_len, kv_len, head_dim, v_dim, extra_flops=bias)


@register("GroupQueryAttention", domain=MS,
          macs="batch × heads × S × total length × 2·head (key/value heads shared)",
          flops="2 × MACs + per score: scale, mask, softmax + 3 per rotated query and key element (do_rotary)")
def group_query_attention(ctx: NodeContext) -> OpCost:
    q = ctx.in_shape(0)
    heads, kv_heads = required(ctx, "num_heads"), required(ctx, "kv_num_heads")
    if heads % kv_heads != 0:
        fail(f"num_heads {heads} is not a multiple of kv_num_heads {kv_heads}")
    batch, q_len = q[0], q[1]
    width = heads + (0 if ctx.has_input(1) else 2 * kv_heads)
    check_heads(width, q[2], "the query's width")
    head_dim = q[2] // width
    if len(ctx.outputs) > 1 and ctx.outputs[1] is not None and ctx.outputs[1].is_known:
        total = ctx.out_shape(1)[2]                 # present_key: past and new keys (or the buffer)
    elif ctx.has_input(3):
        total = ctx.in_shape(3)[2] + q_len
    else:
        total = q_len
    rotary = 0
    if ctx.attr("do_rotary", 0):   # queries and keys rotated inside, counted as RotaryEmbedding counts them
        cos = ctx.dims(7)               # [max length, rotated / 2]: the cache says how much of a head rotates
        rotated = 2 * cos[1] if cos is not None and len(cos) == 2 and known(cos[1]) else head_dim
        rotary = 3 * batch * q_len * (heads + kv_heads) * rotated
    return _scores(batch, heads, q_len, total, head_dim, head_dim, extra_flops=rotary)
