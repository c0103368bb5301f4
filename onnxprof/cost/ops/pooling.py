"""Pooling. A window of k values costs k - 1 comparisons (max) or k - 1 adds and 1 divide (average)."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import check_window, differ, fail, required
from onnxprof.symbolic import product


def _window(ctx: NodeContext) -> int:
    """The kernel size, once the window attributes fit the input."""
    kernel = required(ctx, "kernel_shape")
    x = ctx.dims(0)
    if x is not None and len(x) < 3:
        fail(f"input has rank {len(x or ())}; pooling takes [N, C, spatial...]")
    check_window(ctx, len(x) - 2 if x is not None else len(kernel))
    return product(kernel)


@register("MaxPool", flops="(kernel size - 1) per output element")
def max_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(_window(ctx) - 1) * ctx.out_elements())


@register("AveragePool", flops="kernel size per output element")
def average_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=_window(ctx) * ctx.out_elements())


@register("LpPool", flops="(2 × kernel size + 1) per output element (power, sum, root)")
def lp_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=(2 * _window(ctx) + 1) * ctx.out_elements())


@register("GlobalAveragePool", flops="input elements (adds and one divide per output)")
def global_average_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0))


@register("GlobalMaxPool", flops="input elements - output elements")
def global_max_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0) - ctx.out_elements())


@register("GlobalLpPool", flops="2 × input elements + output elements (power, sum, root)")
def global_lp_pool(ctx: NodeContext) -> OpCost:
    return OpCost(flops=2 * ctx.in_elements(0) + ctx.out_elements())


@register("MaxRoiPool", flops="regions × one feature map (an upper bound: region sizes are data)", exact=False)
def max_roi_pool(ctx: NodeContext) -> OpCost:
    rois = ctx.dims(1)
    if rois is not None and (len(rois) != 2 or differ(rois[1], 5)):
        fail(f"rois has shape {list(rois or ())}; [regions, 5] expected (batch index, x1, y1, x2, y2)")
    shape = ctx.in_shape(0)
    regions = ctx.in_shape(1)[0]
    return OpCost(flops=regions * product(shape[1:]))


@register("RoiAlign", flops="per output: samples × (4 bilinear taps × 2 + pooling)", exact=False)
def roi_align(ctx: NodeContext) -> OpCost:
    if ctx.attr('sampling_ratio', 0) < 0:
        fail(f"sampling_ratio {ctx.attr('sampling_ratio')} is negative")
    ratio = ctx.attr("sampling_ratio", 0) or 2   # adaptive sampling: about 2 per axis for typical regions
    return OpCost(flops=ctx.out_elements() * ratio * ratio * 9)
