"""Control flow, costed through its bodies (the analysis costs each body first: ``ctx.bodies``).

If: the larger branch (both are reported). Loop: body × trip count — the constant ``M`` input, else a
symbol ``trips_<node>`` (a Loop may also stop early on its condition: the count is an upper bound).
Scan: body × the scanned axis length (opset 8: × batch too, its body sees one batch row).
SequenceMap: body × a symbol for the sequence length.
"""

from __future__ import annotations

import re

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import axis_index, fail, required
from onnxprof.symbolic import Poly, Quantity, greater


def _scaled(body: OpCost, times: Quantity) -> OpCost:
    return OpCost(macs=body.macs * times, flops=body.flops * times)


def _symbol(ctx: NodeContext, what: str) -> Poly:
    name = re.sub(r"\W+", "_", ctx.name or ctx.op_type).strip("_")
    return Poly.symbol(f"{what}_{name}")


def _body(ctx: NodeContext, name: str):
    """The costed body ``name`` (macs, flops of one run)."""
    if name not in ctx.bodies:
        fail(f"required attribute '{name}' is missing")
    if isinstance(ctx.bodies[name], list):
        fail(f"attribute '{name}' is a list of graphs, the op takes one graph")
    return ctx.bodies[name]


@register("If", macs="the larger branch", flops="the larger branch (both reported)")
def if_(ctx: NodeContext) -> OpCost:
    then_cost, else_cost = _body(ctx, "then_branch"), _body(ctx, "else_branch")
    larger = else_cost if greater(else_cost.flops, then_cost.flops) else then_cost
    return OpCost(macs=larger.macs, flops=larger.flops)


@register("Loop", macs="body × trip count", flops="body × trip count (M, or a trips_<node> symbol)")
def loop(ctx: NodeContext) -> OpCost:
    value = ctx.input_value(0)
    # A negative M runs the body no time at all (the loop tests i < M), it does not undo work.
    trips = max(0, int(value.reshape(-1)[0])) if value is not None else _symbol(ctx, "trips")
    return _scaled(_body(ctx, "body"), trips)


@register("Scan", macs="body × scanned length", flops="body × scanned length")
def scan(ctx: NodeContext) -> OpCost:
    scanned = required(ctx, "num_scan_inputs")
    states = len(ctx.inputs) - scanned - (1 if ctx.opset < 9 else 0)   # opset 8 starts with sequence_lens
    if scanned < 1 or states < 0:
        fail(f"num_scan_inputs is {scanned} but the node has {len(ctx.inputs)} inputs")
    body = _body(ctx, "body")
    first = len(ctx.inputs) - scanned               # state inputs, then scan inputs
    if ctx.opset < 9:                               # [batch, sequence, ...]: the body runs per row and step
        shape = ctx.in_shape(first)
        if len(shape) < 2:
            fail(f"scan input has rank {len(shape)}; opset 8 scans [batch, sequence, ...]")
        return _scaled(body, shape[0] * shape[1])
    axes = ctx.attr("scan_input_axes") or [0] * scanned
    if len(axes) != scanned:
        fail(f"scan_input_axes {axes} has {len(axes)} values for {scanned} scan inputs")
    shape = ctx.in_shape(first)
    return _scaled(body, shape[axis_index(axes[0], len(shape), "scan_input_axes")])


@register("SequenceMap", macs="body × sequence length", flops="body × sequence length (a symbol)", exact=False)
def sequence_map(ctx: NodeContext) -> OpCost:
    return _scaled(_body(ctx, "body"), _symbol(ctx, "length"))
