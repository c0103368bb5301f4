"""Matrix products."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import check_broadcast, check_unidirectional, differ, fail, required
from onnxprof.symbolic import product


def check_gemm(ctx: NodeContext, a_index: int = 0, b_index: int = 1, c_index: int = 2) -> None:
    """A and B are matrices whose inner dims agree (after transA/transB); C broadcasts to [M, N]."""
    a, b = ctx.dims(a_index), ctx.dims(b_index)
    for name, shape in (("A", a), ("B", b)):
        if shape is not None and len(shape) != 2:
            fail(f"{name} has rank {len(shape or ())}; Gemm multiplies matrices")
    if a is None or b is None:
        return
    (m, k_a), (k_b, n) = (a[::-1] if ctx.attr("transA", 0) else a), (b[::-1] if ctx.attr("transB", 0) else b)
    if differ(k_a, k_b):
        fail(f"inner dims differ: A gives K = {k_a}, B gives K = {k_b} (transA {ctx.attr('transA', 0)}, "
             f"transB {ctx.attr('transB', 0)})")
    if c_index is not None:
        check_unidirectional(ctx.dims(c_index), (m, n), "C")


def check_matmul(ctx: NodeContext, a_index: int = 0, b_index: int = 1) -> None:
    """numpy matmul: A's last dim meets B's second-to-last (a 1-D operand is a vector); batch dims broadcast."""
    a, b = ctx.dims(a_index), ctx.dims(b_index)
    if a == () or b == ():
        fail(f"{'A' if a == () else 'B'} is a scalar; MatMul needs at least a vector")
    if a is None or b is None:
        return
    k_a, k_b = a[-1], b[-2] if len(b) > 1 else b[0]
    if differ(k_a, k_b):
        fail(f"inner dims differ: A {list(a)} has K = {k_a}, B {list(b)} has K = {k_b}")
    if len(a) > 2 or len(b) > 2:
        check_broadcast([a[:-2], b[:-2]], "batch dims")


@register("Gemm", macs="M × K × N",
          flops="2 × MACs + M×N for alpha ≠ 1, for C, and for beta ≠ 1")
def gemm(ctx: NodeContext) -> OpCost:
    check_gemm(ctx)
    a = ctx.in_shape(0)
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
    check_matmul(ctx)
    a = ctx.in_shape(0)
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
    check_matmul(ctx, 0, 3)              # a, a_scale, a_zero_point, b, ...
    a = ctx.in_shape(0)
    macs = ctx.out_elements() * a[-1]
    return OpCost(macs=macs, flops=2 * macs + ctx.in_elements(0) + ctx.in_elements(3) + 3 * ctx.out_elements())


@register("Einsum", macs="product of every index's size (two operands); 0 for one",
          flops="2 × MACs, or input - output elements for a one-operand sum", exact=True)
def einsum(ctx: NodeContext) -> OpCost:
    equation = required(ctx, "equation")
    equation = equation.decode(errors="replace") if isinstance(equation, bytes) else equation
    terms = equation.replace(" ", "").split("->")[0].split(",")
    if len(terms) != len(ctx.inputs):
        fail(f"equation '{equation}' has {len(terms)} operands, the node "
             f"{len(ctx.inputs)} inputs")
    sizes: dict[str, object] = {}
    for index, term in enumerate(terms):
        shape = ctx.in_shape(index)
        explicit = len(term.replace("...", ""))
        if term.count("...") > 1 or explicit > len(shape) or ("..." not in term and explicit != len(shape)):
            fail(f"operand {index} '{term}' does not fit its input's rank {len(shape)}")
        labels = _expand_ellipsis(term, len(shape))
        for label, dim in zip(labels, shape):
            seen = sizes.get(label, 1)
            if dim != 1 and seen != 1 and differ(dim, seen):
                fail(f"index '{label}' is {seen} in one operand and {dim} in another")
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
