"""Signal processing. FFTs are estimated at 5·n·log2(n) FLOPs per complex transform of length n
(half for real input), the classic radix-2 count."""

from __future__ import annotations

import math

from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import differ, fail


def _fft_flops(length) -> float:
    return 5 * length * math.log2(length) if isinstance(length, int) and length > 1 else 0


@register("DFT", flops="5·n·log2(n) per transform (half for real input)", exact=False)
def dft(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    axis_value = ctx.input_value(2)
    axis = int(axis_value) if axis_value is not None else ctx.attr("axis", 1)
    # The last axis holds the real and imaginary parts: valid axes are [-r, -2] and [0, r - 2].
    if not -len(shape) <= axis <= len(shape) - 2 or axis == -1:
        fail(f"axis {axis} is out of range for rank {len(shape)} (the last axis holds the complex parts)")
    axis %= len(shape)
    length_value = ctx.input_value(1)
    length = int(length_value) if length_value is not None else shape[axis]
    if length_value is not None and length <= 0:
        fail(f"dft_length {length} must be positive")
    if differ(shape[-1], 1) and differ(shape[-1], 2):
        fail(f"the last axis has size {shape[-1]}; it holds a real (1) or a complex (2) value")
    if shape[axis] == 0:
        return OpCost(flops=0)                      # an empty signal: nothing to transform
    transforms = ctx.in_elements(0) // (shape[axis] * shape[-1]) if isinstance(shape[axis], int) else None
    if transforms is None or not isinstance(length, int):
        return OpCost(flops=0)
    real = shape[-1] == 1
    return OpCost(flops=transforms * round(_fft_flops(length) / (2 if real else 1)))


@register("STFT", flops="per frame: window multiply + 5·n·log2(n)", exact=False)
def stft(ctx: NodeContext) -> OpCost:
    out = ctx.out_shape()                           # [batch, frames, bins, 2]
    length_value = ctx.input_value(3)
    window = ctx.in_shape(2)[0] if ctx.has_input(2) else None
    length = int(length_value) if length_value is not None else window
    if not isinstance(length, int):
        return OpCost(flops=0)
    frames = out[0] * out[1]
    return OpCost(flops=frames * (length + round(_fft_flops(length) / 2)))


@register(["HannWindow", "HammingWindow", "BlackmanWindow"], flops="4 per element (cos terms, scale, sum)")
def window(ctx: NodeContext) -> OpCost:
    return OpCost(flops=4 * ctx.out_elements())


@register("MelWeightMatrix", flops="4 per element (triangle filter evaluation)", exact=False)
def mel_weight_matrix(ctx: NodeContext) -> OpCost:
    return OpCost(flops=4 * ctx.out_elements())
