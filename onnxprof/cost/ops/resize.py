"""Resampling. Nearest copies (0 FLOPs). Linear interpolates: 2^k - 1 lerps of 3 FLOPs per output
element over k resized axes. Cubic: (4^k - 1) / 3 four-tap filters of 7 FLOPs (an estimate: the
coordinate arithmetic is left out)."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import fail, text_attr


def _resized_axes(ctx: NodeContext) -> int:
    return sum(1 for a, b in zip(ctx.in_shape(0), ctx.out_shape()) if a != b)


@register(["Resize", "Upsample"], flops="nearest 0; linear 3 × (2^k - 1); cubic 7 × (4^k - 1) / 3 per output",
          exact=False)
def resize(ctx: NodeContext) -> OpCost:
    # An unknown mode would count as nearest (0 FLOPs): no runtime accepts one.
    mode = text_attr(ctx, "mode", "nearest", ("nearest", "linear", "bilinear", "trilinear", "cubic"))
    x, out = ctx.dims(0), ctx.outputs[0].shape if ctx.outputs and ctx.outputs[0] is not None else None
    if x is not None and out is not None and len(x) != len(out):
        fail(f"output rank {len(out or ())} differs from the "
             f"input's {len(x or ())}")
    k = _resized_axes(ctx)
    if mode in ("linear", "bilinear", "trilinear"):
        per_output = 3 * (2 ** k - 1)
    elif mode == "cubic":
        per_output = 7 * (4 ** k - 1) // 3
    else:
        per_output = 0
    return OpCost(flops=per_output * ctx.out_elements())
