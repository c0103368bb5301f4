"""Convolutions. Grouping, dilation, stride, padding and auto_pad are already in the output shape
(ONNX inference computes it), so the counts need only the output and the weight shapes — once the
node is known to be a convolution that can run: channels, groups, bias and window agree."""

from __future__ import annotations

from typing import Optional

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import check_window, differ, fail, indivisible, known
from onnxprof.symbolic import product


def check_conv(ctx: NodeContext, x: int = 0, w: int = 1, bias: Optional[int] = 2, channels_last: bool = False,
               transposed: bool = False) -> None:
    """A convolution's input ``x``, weight ``w`` and bias agree with each other and with ``group``.

    Weight [M, C/group, k...] (transposed: [C, M/group, k...]); bias [M]. Checks what is known.
    ``channels_last``: ONNX Runtime's NHWC convolutions, whose weights are laid out [M, k..., C/group]
    by some providers: the channel and kernel comparisons are left out."""
    group = ctx.attr("group", 1)
    x_shape, w_shape = ctx.dims(x), ctx.dims(w)
    if w_shape is None:
        return
    if len(w_shape) < 3:
        fail(f"weight has rank {len(w_shape)}; a convolution's weight has at least 3 dims")
    if x_shape is not None and not channels_last:
        if len(x_shape) != len(w_shape):
            fail(f"input has rank {len(x_shape)} but weight rank {len(w_shape)}: "
                 "both are [batch or filters, channels, spatial...]")
        channels = x_shape[1]
        per_group = w_shape[0] if transposed else w_shape[1] * group if known(w_shape[1]) else None
        if differ(channels, per_group):
            fail(f"input has {channels} channels but the weight expects {per_group} "
                 f"({'weight dim 0' if transposed else f'{w_shape[1]} per group × group {group}'})")
    filters = w_shape[1] * group if transposed and known(w_shape[1]) else w_shape[0]
    if indivisible(group, w_shape[0]):
        fail(f"group {group} does not divide the weight's {w_shape[0]} {'input' if transposed else 'output'} channels")
    kernel = ctx.attr("kernel_shape")
    comparable = kernel is not None and not channels_last and all(known(k) for k in w_shape[2:])
    if comparable and list(w_shape[2:]) != list(kernel):
        fail(f"kernel_shape {kernel} differs from the weight's spatial dims {list(w_shape[2:])}")
    check_window(ctx, len(w_shape) - 2)
    b_shape = ctx.dims(bias) if bias is not None else None
    if b_shape is not None:
        if len(b_shape) != 1 or differ(b_shape[0], filters):
            fail(f"bias has shape {list(b_shape)}, [{filters}] expected (one per output channel)")


@register("Conv", macs="out elements × (C_in/group) × kernel size",
          flops="2 × MACs + out elements if bias")
def conv(ctx: NodeContext) -> OpCost:
    check_conv(ctx, channels_last=ctx.op_type == "NhwcConv")   # FusedConv and NhwcConv share this formula
    weight = ctx.in_shape(1)                 # [M, C/group, k1, k2, ...]
    out_elements = ctx.out_elements()
    macs = out_elements * product(weight[1:])
    bias = out_elements if ctx.has_input(2) else 0
    return OpCost(macs=macs, flops=2 * macs + bias)


@register("ConvTranspose", macs="in elements × (C_out/group) × kernel size",
          flops="2 × MACs + out elements if bias")
def conv_transpose(ctx: NodeContext) -> OpCost:
    check_conv(ctx, transposed=True)
    weight = ctx.in_shape(1)                 # [C, M/group, k1, k2, ...]: every input value meets these
    macs = ctx.in_elements(0) * product(weight[1:])
    bias = ctx.out_elements() if ctx.has_input(2) else 0
    return OpCost(macs=macs, flops=2 * macs + bias)


@register("ConvInteger", macs="out elements × (C_in/group) × kernel size (integer)",
          flops="2 × MACs + zero-point subtractions")
def conv_integer(ctx: NodeContext) -> OpCost:
    check_conv(ctx, bias=None)
    weight = ctx.in_shape(1)
    macs = ctx.out_elements() * product(weight[1:])
    offsets = sum(ctx.in_elements(i) for i in (0, 1) if ctx.has_input(i + 2))
    return OpCost(macs=macs, flops=2 * macs + offsets)


@register("QLinearConv", macs="out elements × (C_in/group) × kernel size (integer)",
          flops="2 × MACs + zero-point subtractions + bias + 3 per output (requantise)")
def qlinear_conv(ctx: NodeContext) -> OpCost:
    check_conv(ctx, x=0, w=3, bias=8, channels_last=bool(ctx.attr("channels_last", 0)))
    weight = ctx.in_shape(3)                 # x, x_scale, x_zero_point, w, w_scale, w_zero_point, ...
    out = ctx.out_elements()
    macs = out * product(weight[1:])
    bias = out if ctx.has_input(8) else 0
    return OpCost(macs=macs, flops=2 * macs + ctx.in_elements(0) + ctx.in_elements(3) + bias + 3 * out)


@register("DeformConv", macs="conv MACs + 4 per sampled input value (bilinear)",
          flops="2 × MACs + offsets and mask", exact=False)
def deform_conv(ctx: NodeContext) -> OpCost:
    check_conv(ctx, bias=3)                  # X, W, offset, B, mask
    weight = ctx.in_shape(1)
    out = ctx.out_elements()
    conv_macs = out * product(weight[1:])
    samples = out // weight[0] * ctx.in_shape(0)[1] * product(weight[2:]) if known(weight[0]) and weight[0] else 0
    mask = samples if ctx.has_input(4) else 0
    bias = out if ctx.has_input(3) else 0
    return OpCost(macs=conv_macs + 4 * samples, flops=2 * (conv_macs + 4 * samples) + mask + bias)


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
