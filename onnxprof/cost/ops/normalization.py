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
