"""Resampling. Nearest copies (0 FLOPs). Linear interpolates: 2^k - 1 lerps of 3 FLOPs per output
element over k resized axes. Cubic: (4^k - 1) / 3 four-tap filters of 7 FLOPs (an estimate: the
coordinate arithmetic is left out)."""

from __future__ import annotations

from onnxprof.cost.registry import NodeContext, OpCost, register


def _resized_axes(ctx: NodeContext) -> int:
    return sum(1 for a, b in zip(ctx.in_shape(0), ctx.out_shape()) if a != b)


@register(["Resize", "Upsample"], flops="nearest 0; linear 3 × (2^k - 1); cubic 7 × (4^k - 1) / 3 per output",
          exact=False)
def resize(ctx: NodeContext) -> OpCost:
    mode = ctx.attr("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    k = _resized_axes(ctx)
    if mode in ("linear", "bilinear", "trilinear"):
        per_output = 3 * (2 ** k - 1)
    elif mode == "cubic":
        per_output = 7 * (4 ** k - 1) // 3
    else:
        per_output = 0
    return OpCost(flops=per_output * ctx.out_elements())
