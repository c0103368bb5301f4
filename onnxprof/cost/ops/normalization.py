"""Normalisations, counted for inference.

BatchNormalization uses stored statistics: per element one multiply and one add after a per-channel
precomputation (add eps, sqrt, divide, multiply, subtract). Instance and layer normalisation compute
their statistics: per normalised group of S elements, mean S, variance 3S, reciprocal std 3,
normalise 2S, scale S and bias S — 8S + 3 (7S + 3 without bias).
"""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.symbolic import product


@register("BatchNormalization", flops="2 per element + 5 per channel")
def batch_norm(ctx: NodeContext) -> OpCost:
    channels = ctx.in_shape(1)[0]
    return OpCost(flops=2 * ctx.out_elements() + 5 * channels)


@register("InstanceNormalization", flops="8 per element + 3 per (batch, channel) instance")
def instance_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    return OpCost(flops=8 * ctx.out_elements() + 3 * product(shape[:2]))


@register("LayerNormalization", flops="8 per element + 3 per normalised row (7 per element without bias)")
def layer_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axis = ctx.attr("axis", -1) % len(shape)
    per_element = 8 if ctx.has_input(2) else 7
    return OpCost(flops=per_element * ctx.out_elements() + 3 * product(shape[:axis]))


@register("LRN", flops="2 × size + 3 per element (window squares and sums, scale, bias, pow, divide)")
def lrn(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(2 * ctx.attr("size") + 3) * ctx.out_elements())


@register("GroupNormalization", flops="8 per element + 3 per (batch, group)")
def group_norm(ctx: NodeContext) -> OpCost:
    batch = ctx.in_shape(0)[0]
    return OpCost(flops=8 * ctx.out_elements() + 3 * batch * ctx.attr("num_groups"))


@register("RMSNormalization", flops="4 per element + 3 per normalised row (square, sum, normalise, scale)")
def rms_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axis = ctx.attr("axis", -1) % len(shape)
    return OpCost(flops=4 * ctx.out_elements() + 3 * product(shape[:axis]))


@register("LpNormalization", flops="3 per element + 1 per vector (|x| or x², sum, divide; root)")
def lp_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axis = ctx.attr("axis", -1) % len(shape)
    return OpCost(flops=3 * ctx.out_elements() + product(shape[:axis] + shape[axis + 1:]))


@register("MeanVarianceNormalization", flops="6 per element + 3 per normalised group")
def mean_variance_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axes = {a % len(shape) for a in ctx.attr("axes", [0, 2, 3])}
    groups = product(d for i, d in enumerate(shape) if i not in axes)
    return OpCost(flops=6 * ctx.out_elements() + 3 * groups)
