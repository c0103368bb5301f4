"""Pooling. A window of k values costs k - 1 comparisons (max) or k - 1 adds and 1 divide (average)."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.symbolic import product


@register("MaxPool", flops="(kernel size - 1) per output element")
def max_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(product(ctx.attr("kernel_shape")) - 1) * ctx.out_elements())


@register("AveragePool", flops="kernel size per output element")
def average_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=product(ctx.attr("kernel_shape")) * ctx.out_elements())


@register("LpPool", flops="(2 × kernel size + 1) per output element (power, sum, root)")
def lp_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(2 * product(ctx.attr("kernel_shape")) + 1) * ctx.out_elements())


@register("GlobalAveragePool", flops="input elements (adds and one divide per output)")
def global_average_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0))


@register("GlobalMaxPool", flops="input elements - output elements")
def global_max_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0) - ctx.out_elements())
