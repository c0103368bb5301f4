"""Matrix products."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, ShapeUnknown, register


@register("Gemm", macs="M × K × N",
          flops="2 × MACs + M×N for alpha ≠ 1, for C, and for beta ≠ 1")
def gemm(ctx: NodeContext) -> OpCost:
    a = ctx.in_shape(0)
    if len(a) != 2:
        raise ShapeUnknown("Gemm")
    k = a[0] if ctx.attr("transA", 0) else a[1]
    out = ctx.out_elements()
    macs = out * k
    extra = 0
    if ctx.attr("alpha", 1.0) != 1.0:
        extra += out
    if ctx.has_input(2):
        extra += out
        if ctx.attr("beta", 1.0) != 1.0:
            extra += out
    return OpCost(macs=macs, flops=2 * macs + extra)


@register("MatMul", macs="out elements × K (batch dims broadcast)", flops="2 × MACs")
def matmul(ctx: NodeContext) -> OpCost:
    a = ctx.in_shape(0)
    if not a:
        raise ShapeUnknown("MatMul")
    macs = ctx.out_elements() * a[-1]   # a 1-D A is [K]; a 1-D B only drops the N axis from the output
    return OpCost(macs=macs, flops=2 * macs)
