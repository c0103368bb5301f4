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


@register("ConvInteger", macs="out elements × (C_in/group) × kernel size (integer)",
          flops="2 × MACs + zero-point subtractions")
def conv_integer(ctx: NodeContext) -> OpCost:
    weight = ctx.in_shape(1)
    macs = ctx.out_elements() * product(weight[1:])
    offsets = sum(ctx.in_elements(i) for i in (0, 1) if ctx.has_input(i + 2))
    return OpCost(macs=macs, flops=2 * macs + offsets)


@register("QLinearConv", macs="out elements × (C_in/group) × kernel size (integer)",
          flops="2 × MACs + zero-point subtractions + bias + 3 per output (requantise)")
def qlinear_conv(ctx: NodeContext) -> OpCost:
    weight = ctx.in_shape(3)                 # x, x_scale, x_zero_point, w, w_scale, w_zero_point, ...
    out = ctx.out_elements()
    macs = out * product(weight[1:])
    bias = out if ctx.has_input(8) else 0
    return OpCost(macs=macs, flops=2 * macs + ctx.in_elements(0) + ctx.in_elements(3) + bias + 3 * out)


@register("DeformConv", macs="conv MACs + 4 per sampled input value (bilinear)",
          flops="2 × MACs + offsets and mask", exact=False)
def deform_conv(ctx: NodeContext) -> OpCost:
    weight = ctx.in_shape(1)
    out = ctx.out_elements()
    conv_macs = out * product(weight[1:])
    samples = out // weight[0] * ctx.in_shape(0)[1] * product(weight[2:]) if isinstance(weight[0], int) else 0
    mask = samples if ctx.has_input(4) else 0
    return OpCost(macs=conv_macs + 4 * samples, flops=2 * (conv_macs + 4 * samples) + mask + (out if ctx.has_input(2) else 0))


@register("Col2Im", flops="input elements (overlapping patches summed)")
def col2im(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0))


@register("CausalConvWithState", macs="batch × channels × length × kernel (depthwise)",
          flops="2 × MACs + bias + 6 per output with SiLU")
def causal_conv_with_state(ctx: NodeContext) -> OpCost:
    kernel = ctx.in_shape(1)[-1]
    out = ctx.out_elements()
    macs = out * kernel
    activation = ctx.attr("activation", b"none")
    activation = activation.decode() if isinstance(activation, bytes) else activation
    extra = (out if ctx.has_input(2) else 0) + (6 * out if activation in ("silu", "swish") else 0)
    return OpCost(macs=macs, flops=2 * macs + extra)
