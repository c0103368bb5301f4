"""Spatial sampling: affine grids and grid sampling (estimates: coordinate arithmetic included
as 3 FLOPs per axis, interpolation as a multiply-add per tap)."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import differ, fail, known, text_attr


@register("AffineGrid", macs="output points × (rank + 1) per coordinate", flops="2 × MACs")
def affine_grid(ctx: NodeContext) -> OpCost:
    theta = ctx.in_shape(0)                         # [N, k, k + 1]
    if len(theta) != 3 or (known(theta[1]) and differ(theta[2], theta[1] + 1)):
        fail(f"theta has shape {list(theta)}; [N, k, k + 1] expected")
    macs = ctx.out_elements() * theta[2]            # each of the k coordinates of a point: k + 1 MACs
    return OpCost(macs=macs, flops=2 * macs)


@register("GridSample", flops="per output: 3 per axis + 2 per tap (nearest 0, linear 2^k, cubic 4^k taps)",
          exact=False)
def grid_sample(ctx: NodeContext) -> OpCost:
    axes = len(ctx.out_shape()) - 2
    mode = text_attr(ctx, "mode", "linear", ("nearest", "linear", "bilinear", "cubic", "bicubic"))
    taps = {"nearest": 0, "cubic": 4 ** axes, "bicubic": 4 ** axes}.get(mode, 2 ** axes)
    return OpCost(flops=ctx.out_elements() * (3 * axes + 2 * taps))
