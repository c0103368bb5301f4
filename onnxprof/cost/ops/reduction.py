"""Reductions: reducing n values takes n - 1 operations, so in - out per tensor."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import axes_indices, axis_index


def check_axes(ctx: NodeContext) -> None:
    """The reduced axes (an attribute, an input from opset 18 — 13 for ReduceSum) in range, each once."""
    from_input = ctx.opset >= (13 if ctx.op_type == "ReduceSum" else 18)
    value = ctx.input_value(1) if from_input else ctx.attr("axes")
    x = ctx.dims(0)
    if value is not None:
        axes_indices([int(a) for a in (value.reshape(-1) if hasattr(value, "reshape") else value)],
                     None if x is None else len(x))


@register(["ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd"], flops="input - output elements")
def reduce(ctx: NodeContext) -> OpCost:
    check_axes(ctx)
    return OpCost(flops=ctx.in_elements(0) - ctx.out_elements())


@register("ReduceMean", flops="input elements (sums, then one divide per output)")
def reduce_mean(ctx: NodeContext) -> OpCost:
    check_axes(ctx)
    return OpCost(flops=ctx.in_elements(0))


@register(["ReduceSumSquare", "ReduceL2", "ReduceLogSumExp", "ReduceL1"],
          flops="2 × input - output elements (+1 per output for the root or log)")
def reduce_with_map(ctx: NodeContext) -> OpCost:
    check_axes(ctx)
    finish = ctx.out_elements() if ctx.op_type in ("ReduceL2", "ReduceLogSumExp") else 0
    return OpCost(flops=2 * ctx.in_elements(0) - ctx.out_elements() + finish)


@register("ReduceLogSum", flops="input elements (sums, then one log per output)")
def reduce_log_sum(ctx: NodeContext) -> OpCost:
    check_axes(ctx)
    return OpCost(flops=ctx.in_elements(0))


@register(["CumSum", "CumProd"], flops="1 per element (running sum or product)")
def cumulative(ctx: NodeContext) -> OpCost:
    axis, x = ctx.input_value(1), ctx.dims(0)
    if axis is not None:
        axis_index(int(axis.reshape(-1)[0]), None if x is None else len(x))
    return OpCost(flops=ctx.out_elements())
