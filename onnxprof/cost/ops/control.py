"""Control flow, costed through its bodies (the analysis costs each body first: ``ctx.bodies``).

If: the larger branch (both are reported). Loop: body × trip count — the constant ``M`` input, else a
symbol ``trips_<node>`` (a Loop may also stop early on its condition: the count is an upper bound).
Scan: body × the scanned axis length. SequenceMap: body × a symbol for the sequence length.
"""

from __future__ import annotations

import re

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.symbolic import Poly, Quantity, greater


def _scaled(body: OpCost, times: Quantity) -> OpCost:
    return OpCost(macs=body.macs * times, flops=body.flops * times)


def _symbol(ctx: NodeContext, what: str) -> Poly:
    name = re.sub(r"\W+", "_", ctx.name or ctx.op_type).strip("_")
    return Poly.symbol(f"{what}_{name}")


@register("If", macs="the larger branch", flops="the larger branch (both reported)")
def if_(ctx: NodeContext) -> OpCost:
    then_cost, else_cost = ctx.bodies["then_branch"], ctx.bodies["else_branch"]
    larger = else_cost if greater(else_cost.flops, then_cost.flops) else then_cost
    return OpCost(macs=larger.macs, flops=larger.flops)


@register("Loop", macs="body × trip count", flops="body × trip count (M, or a trips_<node> symbol)")
def loop(ctx: NodeContext) -> OpCost:
    value = ctx.input_value(0)
    trips = int(value.reshape(-1)[0]) if value is not None else _symbol(ctx, "trips")
    return _scaled(ctx.bodies["body"], trips)


@register("Scan", macs="body × scanned length", flops="body × scanned length")
def scan(ctx: NodeContext) -> OpCost:
    scanned = ctx.attr("num_scan_inputs")
    first = len(ctx.inputs) - scanned               # opset ≥ 9: state inputs, then scan inputs
    axes = ctx.attr("scan_input_axes") or [0] * scanned
    shape = ctx.in_shape(first)
    return _scaled(ctx.bodies["body"], shape[axes[0] % len(shape)])


@register("SequenceMap", macs="body × sequence length", flops="body × sequence length (a symbol)", exact=False)
def sequence_map(ctx: NodeContext) -> OpCost:
    return _scaled(ctx.bodies["body"], _symbol(ctx, "length"))
