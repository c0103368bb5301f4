"""Reductions: reducing n values takes n - 1 operations, so in - out per tensor."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register


@register(["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"], flops="input - output elements")
def reduce(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0) - ctx.out_elements())


@register("ReduceMean", flops="input elements (sums, then one divide per output)")
def reduce_mean(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0))


@register(["ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "ReduceL1"],
          flops="2 × input - output elements (+1 per output for the root or log)")
def reduce_with_map(ctx: NodeContext) -> OpCost:
    finish = ctx.out_elements() if ctx.op_type in ("ReduceL2", "ReduceLogSumExp") else 0
    return OpCost(flops=2 * ctx.in_elements(0) - ctx.out_elements() + finish)


@register("ReduceLogSum", flops="input elements (sums, then one log per output)")
def reduce_log_sum(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0))


@register(["CumSum", "CumProd"], flops="1 per element (running sum or product)")
def cumulative(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.out_elements())
