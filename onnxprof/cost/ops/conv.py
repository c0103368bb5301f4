"""Convolutions. Grouping, dilation, stride, padding and auto_pad are already in the output shape
(ONNX inference computes it), so the counts need only the output and the weight shapes."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.symbolic import product


@register("Conv", macs="out elements × (C_in/group) × kernel size",
          flops="2 × MACs + out elements if bias")
def conv(ctx: NodeContext) -> OpCost:
    weight = ctx.in_shape(1)                 # [M, C/group, k1, k2, ...]
    out_elements = ctx.out_elements()
    macs = out_elements * product(weight[1:])
    bias = out_elements if ctx.has_input(2) else 0
    return OpCost(macs=macs, flops=2 * macs + bias)


@register("ConvTranspose", macs="in elements × (C_out/group) × kernel size",
          flops="2 × MACs + out elements if bias")
def conv_transpose(ctx: NodeContext) -> OpCost:
    weight = ctx.in_shape(1)                 # [C, M/group, k1, k2, ...]: every input value meets these
    macs = ctx.in_elements(0) * product(weight[1:])
    bias = ctx.out_elements() if ctx.has_input(2) else 0
    return OpCost(macs=macs, flops=2 * macs + bias)
