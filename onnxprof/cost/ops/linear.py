"""Matrix products."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, ShapeUnknown, register
from onnxprof.symbolic import product


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


@register("MatMulInteger", macs="out elements × K (integer)", flops="2 × MACs + zero-point subtractions")
def matmul_integer(ctx: NodeContext) -> OpCost:
    cost = matmul(ctx)
    offsets = sum(ctx.in_elements(i) for i in (0, 1) if ctx.has_input(i + 2))  # a - a_zero_point, b - b_zero_point
    return OpCost(macs=cost.macs, flops=cost.flops + offsets)


@register("QLinearMatMul", macs="out elements × K (integer)",
          flops="2 × MACs + zero-point subtractions + 3 per output (requantise)")
def qlinear_matmul(ctx: NodeContext) -> OpCost:
    a = ctx.in_shape(0)
    macs = ctx.out_elements() * a[-1]
    return OpCost(macs=macs, flops=2 * macs + ctx.in_elements(0) + ctx.in_elements(3) + 3 * ctx.out_elements())


@register("Einsum", macs="product of every index's size (two operands); 0 for one",
          flops="2 × MACs, or input - output elements for a one-operand sum", exact=True)
def einsum(ctx: NodeContext) -> OpCost:
    equation = ctx.attr("equation")
    equation = equation.decode() if isinstance(equation, bytes) else equation
    terms = equation.replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, object] = {}
    for index, term in enumerate(terms):
        shape = ctx.in_shape(index)
        labels = _expand_ellipsis(term, len(shape))
        for label, dim in zip(labels, shape):
            if dim != 1 or label not in sizes:
                sizes[label] = dim
    if len(terms) == 1:
        return OpCost(flops=ctx.in_elements(0) - ctx.out_elements())
    # n operands evaluated pairwise over the full index space: (n - 1) multiplies per point.
    points = product(sizes.values())
    macs = (len(terms) - 1) * points
    return OpCost(macs=macs, flops=2 * macs)


def _expand_ellipsis(term: str, rank: int) -> list[str]:
    if "..." not in term:
        return list(term)
    head, tail = term.split("...")
    broadcast = rank - len(head) - len(tail)
    return list(head) + [f"…{broadcast - i}" for i in range(broadcast)] + list(tail)  # right-aligned
