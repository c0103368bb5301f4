"""Normalisations, counted for inference.

BatchNormalization uses stored statistics: per element one multiply and one add after a per-channel
precomputation (add eps, sqrt, divide, multiply, subtract). Instance and layer normalisation compute
their statistics: per normalised group of S elements, mean S, variance 3S, reciprocal std 3,
normalise 2S, scale S and bias S — 8S + 3 (7S + 3 without bias).
"""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import axes_indices, axis_index, differ, fail, indivisible, known, required
from onnxprof.symbolic import product


def check_per_channel(ctx: NodeContext, indices, channels, what: str = "channel") -> None:
    """Each of the inputs at ``indices`` (scale, bias, statistics) holds one value per ``what``."""
    for index in indices:
        shape = ctx.dims(index)
        if shape is None or not known(channels):
            continue
        if len(shape) != 1 or differ(shape[0], channels):
            fail(f"input {index} has shape {list(shape)}, [{channels}] expected (one per {what})")


def _channels(ctx: NodeContext):
    x = ctx.dims(0)
    if x is not None and len(x) < 2:
        fail(f"input has rank {len(x or ())}; [N, C, ...] expected")
    return None if x is None else x[1]


@register("BatchNormalization", flops="2 per element + 5 per channel")
def batch_norm(ctx: NodeContext) -> OpCost:
    if ctx.opset >= 9:   # before, ``spatial = 0`` took per-element statistics
        check_per_channel(ctx, (1, 2, 3, 4), _channels(ctx))
    channels = ctx.in_shape(1)[0]
    return OpCost(flops=2 * ctx.out_elements() + 5 * channels)


@register("InstanceNormalization", flops="8 per element + 3 per (batch, channel) instance")
def instance_norm(ctx: NodeContext) -> OpCost:
    check_per_channel(ctx, (1, 2), _channels(ctx))
    shape = ctx.in_shape(0)
    return OpCost(flops=8 * ctx.out_elements() + 3 * product(shape[:2]))


def _normalised_axis(ctx: NodeContext) -> int:
    """The first normalised axis (``axis``, default -1) of the input, in range."""
    return axis_index(ctx.attr("axis", -1), len(ctx.in_shape(0)))


@register("LayerNormalization", flops="8 per element + 3 per normalised row (7 per element without bias)")
def layer_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axis = _normalised_axis(ctx)
    per_element = 8 if ctx.has_input(2) else 7
    return OpCost(flops=per_element * ctx.out_elements() + 3 * product(shape[:axis]))


@register("LRN", flops="2 × size + 3 per element (window squares and sums, scale, bias, pow, divide)")
def lrn(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(2 * required(ctx, "size") + 3) * ctx.out_elements())


@register("GroupNormalization", flops="8 per element + 3 per (batch, group)")
def group_norm(ctx: NodeContext) -> OpCost:
    groups, channels = required(ctx, "num_groups"), _channels(ctx)
    if indivisible(groups, channels):
        fail(f"num_groups {groups} does not divide the {channels} channels")
    # Opset 18 scales each group, opset 21 each channel.
    check_per_channel(ctx, (1, 2), groups if ctx.opset < 21 else channels, "group" if ctx.opset < 21 else "channel")
    batch = ctx.in_shape(0)[0]
    return OpCost(flops=8 * ctx.out_elements() + 3 * batch * groups)


@register("RMSNormalization", flops="4 per element + 3 per normalised row (square, sum, normalise, scale)")
def rms_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axis = _normalised_axis(ctx)
    return OpCost(flops=4 * ctx.out_elements() + 3 * product(shape[:axis]))


@register("LpNormalization", flops="3 per element + 1 per vector (|x| or x², sum, divide; root)")
def lp_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axis = _normalised_axis(ctx)
    if ctx.attr('p', 2) not in (1, 2):
        fail(f"p is {ctx.attr('p')}; LpNormalization takes 1 or 2")
    return OpCost(flops=3 * ctx.out_elements() + product(shape[:axis] + shape[axis + 1:]))


@register("MeanVarianceNormalization", flops="6 per element + 3 per normalised group")
def mean_variance_norm(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    given = ctx.attr("axes")   # the default [0, 2, 3] is meant for 4-D input: checked only when given
    axes = set(axes_indices(given, len(shape))) if given is not None else {a % len(shape) for a in (0, 2, 3)}
    groups = product(d for i, d in enumerate(shape) if i not in axes)
    return OpCost(flops=6 * ctx.out_elements() + 3 * groups)
