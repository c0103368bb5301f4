"""Attention in the default domain (opset 23+): scaled dot-product attention, rotary embeddings,
linear attention.

Attention: scores Q·Kᵀ and the weighted sum P·V are MACs: batch × q_heads × q_len × kv_len ×
(head_dim + v_head_dim); per score: scale 1, mask 1 (when given), softmax 5 (less 2 per row).
"""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import check_heads, fail, required


def _heads_layout(shape, heads, what: str):
    """(batch, heads, length, head_dim) from a 4-D [B, H, S, D] or a 3-D [B, S, H·D] tensor."""
    if len(shape) == 4:
        return shape
    if len(shape) == 3:
        if heads is None:
            fail(f"{what} is 3-D [B, S, H·D], which needs its number of heads as an attribute")
        check_heads(heads, shape[2], f"{what}'s width")
        return shape[0], heads, shape[1], shape[2] // heads
    fail(f"{what} has rank {len(shape)}; [B, H, S, D] or [B, S, H·D] expected")


@register("Attention", macs="batch × q_heads × q_len × kv_len × (head_dim + v_head_dim)",
          flops="2 × MACs + per score: scale, mask, softmax (5 less 2 per row)")
def attention(ctx: NodeContext) -> OpCost:
    batch, q_heads, q_len, head_dim = _heads_layout(ctx.in_shape(0), ctx.attr("q_num_heads"), "Q")
    v_dim = _heads_layout(ctx.in_shape(2), ctx.attr("kv_num_heads"), "V")[3]
    if ctx.has_input(4) and len(ctx.outputs) > 1 and ctx.outputs[1] is not None:
        kv_len = ctx.out_shape(1)[2]               # present_key: past and new keys together
    else:
        kv_len = _heads_layout(ctx.in_shape(1), ctx.attr("kv_num_heads"), "K")[2]
    scores = batch * q_heads * q_len * kv_len
    macs = scores * (head_dim + v_dim)
    per_score = 1 + (1 if ctx.has_input(3) else 0) + 5
    return OpCost(macs=macs, flops=2 * macs + per_score * scores - 2 * batch * q_heads * q_len)


@register("RotaryEmbedding", flops="3 per rotated element (two products and a sum)")
def rotary_embedding(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    rotated = ctx.attr("rotary_embedding_dim", 0)
    out = ctx.out_elements()
    if rotated and isinstance(shape[-1], int):
        heads = ctx.attr("num_heads", 0)
        if len(shape) == 3 and heads:
            check_heads(heads, shape[-1], "the input's width")
        head_dim = shape[-1] // heads if len(shape) == 3 and heads else shape[-1]
        if not (0 < rotated <= head_dim):
            fail(f"rotary_embedding_dim {rotated} is not within the head size {head_dim}")
        return OpCost(flops=3 * out * rotated // head_dim)
    return OpCost(flops=3 * out)


@register("LinearAttention", macs="batch × tokens × (kv_heads + q_heads) × d_k × d_v (+ kv_heads·d_k·d_v for delta rules)",
          flops="2 × MACs + state decay and update per token", exact=False)
def linear_attention(ctx: NodeContext) -> OpCost:
    q = ctx.in_shape(0)
    v = ctx.in_shape(2)
    q_heads, kv_heads = required(ctx, "q_num_heads"), required(ctx, "kv_num_heads")
    check_heads(q_heads, q[2], "Q's width")
    check_heads(kv_heads, v[2], "V's width")
    batch, tokens = q[0], q[1]
    d_k, d_v = q[2] // q_heads, v[2] // kv_heads
    state = d_k * d_v
    rule = ctx.attr("update_rule", b"linear")
    rule = rule.decode() if isinstance(rule, bytes) else rule
    per_token = (kv_heads + q_heads) * state + (kv_heads * state if "delta" in rule else 0)
    decay = kv_heads * state if "gated" in rule else 0
    macs = batch * tokens * per_token
    return OpCost(macs=macs, flops=2 * macs + batch * tokens * (decay + kv_heads * state))
