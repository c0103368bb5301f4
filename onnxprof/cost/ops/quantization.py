"""Quantize and dequantize: the arithmetic of moving between float and integer grids."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register


@register("QuantizeLinear", flops="5 per element (divide by scale, round, add zero point, saturate)")
def quantize(ctx: NodeContext) -> OpCost:
    return OpCost(flops=5 * ctx.out_elements())


@register("DequantizeLinear", flops="2 per element (subtract zero point, multiply by scale)")
def dequantize(ctx: NodeContext) -> OpCost:
    return OpCost(flops=2 * ctx.out_elements())


@register("DynamicQuantizeLinear", flops="7 per element (min and max, then quantize) + scale computation")
def dynamic_quantize(ctx: NodeContext) -> OpCost:
    return OpCost(flops=7 * ctx.out_elements() + 6)
