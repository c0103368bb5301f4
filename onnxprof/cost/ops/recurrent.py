"""Recurrent layers, unrolled over the sequence: every step of every direction for every batch row.

Per step a cell multiplies the input (I) and the previous hidden state (H) by G gate matrices:
G·H·(I + H) MACs, G = 1 (RNN), 3 (GRU), 4 (LSTM). Then, per step: G·H adds joining the two products,
2·G·H bias adds when B is given, and the gate arithmetic (sigmoid 4, tanh 1, as the activations count):
RNN H; GRU 14·H (2 sigmoid gates, reset product, tanh, interpolation); LSTM 18·H (3 sigmoid gates,
tanh candidate, cell update, tanh of the cell, output product) + 6·H with peepholes.
"""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import differ, fail, known, text_attr

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
_GATE_FLOPS = {"RNN": 1, "GRU": 14, "LSTM": 18}


def check_recurrent(ctx: NodeContext) -> None:
    """X [steps, batch, input] (layout 1: [batch, steps, input]), W [directions, gates·H, input],
    R [directions, gates·H, H] agree with each other, with ``direction`` and with ``hidden_size``."""
    x, w, r = ctx.dims(0), ctx.dims(1), ctx.dims(2)
    for name, shape in (("X", x), ("W", w), ("R", r)):
        if shape is not None and len(shape) != 3:
            fail(f"{name} has rank {len(shape or ())}, 3 expected")
    direction = text_attr(ctx, "direction", "forward", ("forward", "reverse", "bidirectional"))
    gates, hidden = _GATES[ctx.op_type], ctx.attr("hidden_size")
    expected = {"directions": 2 if direction == "bidirectional" else 1}
    if hidden is not None:
        expected["gates·H"] = gates * hidden
    for name, shape in (("W", w), ("R", r)):
        if shape is None:
            continue
        for (what, value), dim in zip(expected.items(), shape):
            if differ(dim, value):
                fail(f"{name} has {dim} {what}, {value} expected ({name} {list(shape)})")
    if x is not None and w is not None:
        if differ(x[2], w[2]):
            fail(f"X has {x[2]} input features, W expects {w[2]}")
    if r is not None and known(r[1]):
        if r[1] % gates or differ(r[2], r[1] // gates):
            fail(f"R {list(r)} is not [directions, {gates}·H, H]")


@register(["RNN", "GRU", "LSTM"], macs="directions × steps × batch × gates·H × (input + H)",
          flops="2 × MACs + per step: gates·H joins, 2·gates·H bias, gate arithmetic (module docs)")
def recurrent(ctx: NodeContext) -> OpCost:
    check_recurrent(ctx)
    x = ctx.in_shape(0)
    weight = ctx.in_shape(1)                        # [directions, gates·H, input]
    steps, batch = (x[1], x[0]) if ctx.attr("layout", 0) else (x[0], x[1])
    gates = _GATES[ctx.op_type]
    hidden = ctx.attr("hidden_size") or weight[1] // gates
    directions, inputs = weight[0], weight[2]
    cells = directions * steps * batch
    macs = cells * gates * hidden * (inputs + hidden)
    per_cell = gates * hidden + _GATE_FLOPS[ctx.op_type] * hidden
    if ctx.has_input(3):
        per_cell += 2 * gates * hidden
    if ctx.op_type == "LSTM" and ctx.has_input(7):
        per_cell += 6 * hidden
    return OpCost(macs=macs, flops=2 * macs + cells * per_cell)
