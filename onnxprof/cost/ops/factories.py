"""Small factories shared by families: a per-element constant, a per-output constant."""

from __future__ import annotations

from onnxprof.cost.registry import DEFAULT_DOMAIN, NodeContext, OpCost, register
from onnxprof.cost.validate import check_broadcast


def per_output_element(op_types, flops_per_element: int, words: str, exact: bool = True,
                       domain: str = DEFAULT_DOMAIN) -> None:
    """Register ops costing a fixed number of FLOPs per output element (activations, unary math)."""

    def formula(ctx: NodeContext) -> OpCost:
        return OpCost(flops=flops_per_element * ctx.out_elements())

    register(op_types, flops=words, exact=exact, domain=domain)(formula)


def variadic_elementwise(op_types, extra_per_element: int = 0, words: str = "") -> None:
    """Broadcasting n-ary ops: (inputs - 1) operations per output element, plus a constant."""

    def formula(ctx: NodeContext) -> OpCost:
        check_broadcast([t.shape if t is not None else None for t in ctx.inputs])
        operands = sum(1 for t in ctx.inputs if t is not None)
        return OpCost(flops=(operands - 1 + extra_per_element) * ctx.out_elements())

    register(op_types, flops=words or "(inputs - 1) per output element")(formula)
