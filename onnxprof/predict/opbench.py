"""Single-op benchmarks: one-op models of the kernels networks are made of, profiled on the device so that
the kernel model has seen every common op at many sizes — also ops and shapes none of the calibration
networks has — plus Conv → BatchNorm → activation chains, which show which activations the engine fuses
into the convolution (nn-Meter's fusion-rule detection).

The configurations are sampled, as nn-Meter and LitePred sample theirs, not picked by hand: each family
(FAMILIES) draws its cases from a small space of its own — its discrete variants (kernel shapes, group
widths, permutations, broadcasts …) in turn, then strides, dilations, channel counts on a log scale,
feature-map sides, token counts, widths, heads, batch 1 or 8 at random — with a generator seeded by
(SEED, the family's name), so one seed always gives the same cases under the same names, and a family
added or resized leaves the others' cases as they were. A draw larger than MAX_ACTIVATION_BYTES,
MAX_WEIGHT_BYTES or MAX_MACS is rejected: it would only lengthen the benchmark. Each family is one
source, weighted like one network in the fit.
"""

from __future__ import annotations

import math
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto

from onnxprof.cost.analysis import StaticReport, analyze
from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.engines.traits import EngineTraits
from onnxprof.measure.inputs import synthetic_feeds
from onnxprof.measure.layers import LayerRow
from onnxprof.measure.profiled import profiled_rows
from onnxprof.measure.quiet import MachineProbe, Round, fastest_round
from onnxprof.predict.kernel_work import REORDER
from onnxprof.predict.kernels import KernelTiming, kernel_timings
from onnxprof.zoo.builder import GraphBuilder, constant, he_normal, normal

SEED = 0
SIGN_RUN = 2     # feature maps change sign in runs of pixels, not at random (see _feature_map_feeds)
ROUNDS = 3       # passes over all cases; each case keeps its fastest pass (load from elsewhere only adds)
# a case's bounds: its graph inputs and output together, its weights, its multiply-accumulates
MAX_ACTIVATION_BYTES = 64 << 20
MAX_WEIGHT_BYTES = 64 << 20
MAX_MACS = 1_000_000_000
DRAWS_PER_CASE = 50       # a family gives up after this many draws per case it still lacks

BATCHES = (1, 8)
SIDES = (7, 14, 28, 56, 112)          # the stages of an ImageNet CNN; half the sides are drawn off them
# a channel count drawn as is, not rounded to a multiple of 8: most of these are not multiples of 4 either,
# which ONNX Runtime's CPU provider leaves in NCHW (ShuffleNetV2's 58), running other kernels
RAW_CHANNELS = 0.25
TOKENS = (49, 50, 196, 197, 256, 577, 784, 1024, 3136)
WIDTHS = (64, 96, 128, 192, 256, 384, 512, 768, 1024)
HEADS = (1, 2, 3, 4, 6, 8, 12, 16)
HEAD_DIMS = (16, 24, 32, 48, 64, 96, 128)
WINDOWS = (4, 7, 8, 12)               # attention windows' sides (Swin's 7, other windowed designs)


@dataclass(frozen=True)
class OpCase:
    op: str                  # the source name: one family, all its sizes
    name: str
    model: onnx.ModelProto


@dataclass(frozen=True)
class Draw:
    """One sampled configuration, before its model is built: its inputs' shapes decide whether it is kept."""

    detail: str                                   # the configuration beyond the inputs' shapes, for the name
    inputs: tuple[tuple[int, ...], ...]           # the graph's inputs, in the order ``make`` takes them
    output: tuple[int, ...]
    make: Callable[..., str]                      # (builder, *input names) -> the output's name
    weights: int = 0                              # elements
    macs: int = 0
    int_inputs: tuple[int, ...] = ()              # indices of inputs that are int64 (Gather's indices)

    def within_bounds(self) -> bool:
        activations = sum(map(math.prod, self.inputs)) + math.prod(self.output)
        return (4 * activations <= MAX_ACTIVATION_BYTES and 4 * self.weights <= MAX_WEIGHT_BYTES
                and self.macs <= MAX_MACS)


@dataclass(frozen=True)
class Family:
    """Cases of one op (or one chain) drawn from one space. ``strata``: the space's discrete variants (kernel
    shapes, permutations, broadcasts …), taken in turn so that each has its share of the cases; the sizes
    within a variant are drawn at random."""

    op: str                                       # the source name of its cases
    count: int
    draw: Callable[[np.random.Generator, object], Draw]     # (generator, stratum) -> a configuration
    strata: tuple = (None,)


# -- the spaces' dimensions -------------------------------------------------------------------------------
def _log_int(rng: np.random.Generator, low: int, high: int) -> int:
    return int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))


def _pick(rng: np.random.Generator, options: Sequence):
    return options[int(rng.integers(len(options)))]


def _batch(rng) -> int:
    return _pick(rng, BATCHES)


def _channels(rng, low: int = 8, high: int = 1024) -> int:
    drawn = _log_int(rng, low, high)
    return drawn if rng.random() < RAW_CHANNELS else max(8, 8 * round(drawn / 8))


def _side(rng, low: int = 7, high: int = 112) -> int:
    on_ladder = [s for s in SIDES if low <= s <= high]
    return _pick(rng, on_ladder) if on_ladder and rng.random() < 0.5 else _log_int(rng, low, high)


def _image(rng, low_side: int = 7, high_side: int = 112, channels: Optional[int] = None) -> tuple[int, ...]:
    """(batch, channels, height, width): square but one time in five (dense-prediction inputs)."""
    height = _side(rng, low_side, high_side)
    width = _side(rng, low_side, high_side) if rng.random() < 0.2 else height
    return (_batch(rng), channels or _channels(rng), height, width)


def _tokens(rng, high: int = 4096) -> int:
    listed = [t for t in TOKENS if t <= high]
    return _pick(rng, listed) if rng.random() < 0.5 else _log_int(rng, 16, high)


def _width(rng, low: int = 32, high: int = 1024) -> int:
    listed = [w for w in WIDTHS if low <= w <= high]
    return _pick(rng, listed) if rng.random() < 0.6 else _channels(rng, low, high)


def _sequence(rng) -> tuple[int, ...]:
    return (_batch(rng), _tokens(rng), _width(rng))


def _activation_shape(rng) -> tuple[int, ...]:
    """Where elementwise ops run: CNN feature maps (NCHW) or transformer tokens (batch, tokens, width)."""
    return _image(rng) if rng.random() < 0.7 else _sequence(rng)


def _windows(rng) -> tuple[int, int]:
    """Attention in windows: (tokens a window, windows an image)."""
    return _pick(rng, WINDOWS) ** 2, _pick(rng, (1, 4, 16, 49, 64))


def _windowed_map(rng) -> tuple[int, int, int, int]:
    """A channels-last map cut in whole windows: (batch, windows down, windows across, window side)."""
    return _batch(rng), _log_int(rng, 1, 16), _log_int(rng, 1, 16), _pick(rng, WINDOWS)


def _text(shape: Sequence[int]) -> str:
    return "x".join(map(str, shape))


def _per_channel(shape: Sequence[int]) -> tuple[int, ...]:
    """A per-channel parameter's shape, broadcast over a feature map or over tokens."""
    return (shape[1], 1, 1) if len(shape) == 4 else (shape[-1],)


# -- elementwise ops ----------------------------------------------------------------------------------------
def _activation(op_type: str, **attrs) -> Callable[[GraphBuilder, str, tuple], str]:
    return lambda b, x, shape: b.node(op_type, [x], "op", **attrs)


def _clip(b, x, shape):      # ReLU6, as MobileNets export it
    return b.node("Clip", [x, b.const("low", np.float32(0.0)), b.const("high", np.float32(6.0))], "op")


def _prelu(b, x, shape):
    return b.node("PRelu", [x, b.param("slope", _per_channel(shape), constant(0.25))], "op")


# name -> (builder, input name, input shape) -> output name; SiLU and GELU are chains of nodes, as exported
ACTIVATIONS: dict[str, Callable[[GraphBuilder, str, tuple], str]] = {
    "Relu": _activation("Relu"), "Sigmoid": _activation("Sigmoid"), "Tanh": _activation("Tanh"), "Clip": _clip,
    "LeakyRelu": _activation("LeakyRelu", alpha=0.1), "HardSigmoid": _activation("HardSigmoid"),
    "HardSwish": _activation("HardSwish"), "Elu": _activation("Elu"), "Erf": _activation("Erf"),
    "Exp": _activation("Exp"), "PRelu": _prelu, "SiLU": lambda b, x, shape: b.silu(x, "op"),
    "GELU": lambda b, x, shape: b.gelu(x, "op"),
}
# alone, ONNX Runtime's CPU provider runs HardSwish as kernels of names of its own that join no ONNX node,
# so only its fusion probes time something
ALONE = tuple(op for op in ACTIVATIONS if op != "HardSwish")
# activations an engine may run inside the convolution before them: each is also benchmarked after a
# depthwise Conv and its BatchNorm, as cheap a convolution as its output allows, so that which of them fuse
# and what a fused one adds (ONNX Runtime runs a fused ReLU for free, a fused Clip as one more pass over
# the output) is measured, not assumed
FUSIBLE = ("Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Elu", "PRelu")
# the 1×1 maps of squeeze-and-excitation gates, all fixed cost: they pin a class's constant
GATED = ("SiLU", "Sigmoid", "HardSigmoid", "Relu")


def _unary(op: str) -> Callable[[np.random.Generator, object], Draw]:
    def draw(rng, _) -> Draw:
        shape = _activation_shape(rng)
        return Draw("", (shape,), shape, lambda b, x: ACTIVATIONS[op](b, x, shape))
    return draw


def _gate(op: str) -> Callable[[np.random.Generator, object], Draw]:
    def draw(rng, _) -> Draw:
        shape = (_batch(rng), _channels(rng, 8, 1280), 1, 1)
        return Draw("", (shape,), shape, lambda b, x: ACTIVATIONS[op](b, x, shape))
    return draw


# how the second operand of a binary op broadcasts: a whole tensor (a residual), one input value per
# channel (a squeeze-and-excitation scale), a parameter per channel (a bias, a layer scale), one scalar
BROADCASTS = ("same", "per channel", "parameter", "scalar")


def _binary(op_type: str) -> Callable[[np.random.Generator, str], Draw]:
    def draw(rng, broadcast: str) -> Draw:
        if broadcast == "same":
            shape = _activation_shape(rng)
            return Draw(broadcast, (shape, shape), shape, lambda b, x, y: b.node(op_type, [x, y], "op"))
        if broadcast == "per channel":
            shape = _image(rng)
            return Draw(broadcast, (shape, shape[:2] + (1, 1)), shape, lambda b, x, y: b.node(op_type, [x, y], "op"))
        shape = _activation_shape(rng)
        if broadcast == "scalar":
            return Draw(broadcast, (shape,), shape,
                        lambda b, x: b.node(op_type, [x, b.const("scalar", np.float32(0.5))], "op"))
        return Draw(broadcast, (shape,), shape, lambda b, x: b.node(
            op_type, [x, b.param("other", _per_channel(shape), normal(0.5))], "op"),
            weights=math.prod(_per_channel(shape)))
    return draw


def _batch_norm(rng, _) -> Draw:
    shape = _image(rng)
    return Draw("", (shape,), shape, lambda b, x: b.batch_norm(x, "op", shape[1]))


# -- convolutions ---------------------------------------------------------------------------------------------
def _conv_draw(shape: tuple[int, ...], cout: int, kernel: tuple[int, int], stride: int, groups: int,
               dilation: int = 1) -> Draw:
    batch, cin, height, width = shape
    pads = [dilation * (k // 2) for k in kernel]
    out = tuple((side + 2 * pad - dilation * (k - 1) - 1) // stride + 1
                for side, pad, k in zip((height, width), pads, kernel))
    weights = cout * cin // groups * kernel[0] * kernel[1]
    return Draw(f"k{_text(kernel)}-s{stride}-d{dilation}-g{groups}-o{cout}", (shape,), (batch, cout, *out),
                lambda b, x: b.conv(x, "op", cin, cout, kernel, stride, pads, groups=groups, dilation=dilation),
                weights=weights, macs=weights * batch * math.prod(out))


def _pointwise_conv(rng, _) -> Draw:
    stride = 2 if rng.random() < 0.15 else 1
    return _conv_draw(_image(rng), _channels(rng), (1, 1), stride, 1)


def _dense_conv(rng, kernel: tuple[int, int]) -> Draw:
    """Strided one time in two, dilated one 3×3 in five."""
    stride = _pick(rng, (1, 2))
    dilation = 2 if stride == 1 and kernel == (3, 3) and rng.random() < 0.2 else 1
    return _conv_draw(_image(rng), _channels(rng), kernel, stride, 1, dilation)


def _stem_conv(rng, size: int) -> Draw:
    """A network's first convolution, on the 3-channel image, at input sizes from 96 to 320."""
    return _conv_draw(_image(rng, 96, 320, channels=3), _channels(rng, 8, 64), (size, size), 2, 1)


def _depthwise_conv(rng, size: int) -> Draw:
    stride = _pick(rng, (1, 2))
    dilation = 2 if stride == 1 and size == 3 and rng.random() < 0.15 else 1
    shape = _image(rng)
    return _conv_draw(shape, shape[1], (size, size), stride, shape[1], dilation)


def _grouped_conv(rng, per_group: int) -> Draw:
    """3×3 (ResNeXt's 4 channels a group, RegNet's 8 and more), and 1×1 as ShuffleNetV1's."""
    channels = per_group * max(2, round(_channels(rng, 16, 1024) / per_group))
    size, stride = _pick(rng, (3, 3, 1)), _pick(rng, (1, 2))
    return _conv_draw(_image(rng, channels=channels), channels, (size, size), stride, channels // per_group)


def _fusion_probe(activation: str) -> Callable[[np.random.Generator, object], Draw]:
    def draw(rng, _) -> Draw:
        shape, size = _image(rng, 7, 56), _pick(rng, (3, 5))

        def make(b, x):
            y = b.conv_bn(x, "conv", "bn", shape[1], shape[1], size, 1, size // 2, groups=shape[1])
            return ACTIVATIONS[activation](b, y, shape)
        return Draw(f"k{size}", (shape,), shape, make, weights=shape[1] * size * size,
                    macs=math.prod(shape) * size * size)
    return draw


# -- matrix products ----------------------------------------------------------------------------------------
def _linear(rng, rank: int) -> Draw:
    """MatMul by a weight, as nn.Linear exports: rank 2 (rows of tokens), 3 (tokens), 4 (channels-last maps)."""
    batch, fin = _batch(rng), _width(rng, 32, 4096)
    fout = _pick(rng, (fin // 4, fin // 2, fin, 2 * fin, 3 * fin, 4 * fin, _width(rng, 32, 4096)))
    side = _side(rng, 7, 56)
    lead = {2: (batch * _tokens(rng, 1024),), 3: (batch, _tokens(rng)), 4: (batch, side, side)}[rank]
    return Draw(f"o{fout}", (lead + (fin,),), lead + (fout,),
                lambda b, x: b.node("MatMul", [x, b.param("w", (fin, fout), he_normal(fin))], "op"),
                weights=fin * fout, macs=math.prod(lead) * fin * fout)


def _attention_product(rng, stratum: tuple[str, str]) -> Draw:
    """Both operands activations: q·kᵀ or scores·v over (batch·windows, heads) — rank 4, or rank 3 with the
    heads folded into the batch one time in four — in windows of 16-144 tokens or over all tokens."""
    attention, product = stratum
    batch, heads, dim = _batch(rng), _pick(rng, HEADS), _pick(rng, HEAD_DIMS)
    tokens, windows = _windows(rng) if attention == "windows" else (_tokens(rng, 3136), 1)
    lead = (batch * windows, heads) if rng.random() < 0.75 else (batch * windows * heads,)
    if product == "keys":
        a, c, out = lead + (tokens, dim), lead + (dim, tokens), lead + (tokens, tokens)
    else:
        a, c, out = lead + (tokens, tokens), lead + (tokens, dim), lead + (tokens, dim)
    return Draw("", (a, c), out, lambda b, x, y: b.node("MatMul", [x, y], "op"), macs=math.prod(out) * a[-1])


def _gemm(rng, _) -> Draw:
    """A classifier or fully connected layer: Gemm on (batch, features), PyTorch's weight layout."""
    batch, features = _batch(rng), _channels(rng, 128, 9216)
    outputs = _pick(rng, (10, 100, 1000, 1000, 4096, _channels(rng, 16, 4096)))
    return Draw(f"o{outputs}", ((batch, features),), (batch, outputs),
                lambda b, x: b.linear(x, "op", features, outputs), weights=features * outputs + outputs,
                macs=batch * features * outputs)


# -- normalisations and reductions ----------------------------------------------------------------------------
def _softmax(rng, over: str) -> Draw:
    """Over the last axis of attention scores (many short rows in windows, fewer long ones over all tokens)
    and of tokens; over the channels of a feature map."""
    if over in ("windows", "global"):
        tokens, windows = _windows(rng) if over == "windows" else (_tokens(rng, 3136), 1)
        shape, axis = (_batch(rng) * windows, _pick(rng, HEADS), tokens, tokens), -1
    else:
        shape, axis = (_sequence(rng), -1) if over == "tokens" else (_image(rng), 1)
    return Draw(f"axis{axis}", (shape,), shape, lambda b, x: b.softmax(x, "op", axis))


def _layer_norm(rng, over: str) -> Draw:
    """Over the last axis of tokens or of a channels-last map (ConvNeXt); or over all of C, H, W."""
    if over == "tokens":
        shape = _sequence(rng)
    elif over == "channels last":
        batch, _, height, width = _image(rng, 7, 56)
        shape = (batch, height, width, _width(rng, 32, 1024))
    else:
        shape = _image(rng)
    axis = 1 if over == "whole map" else -1

    def make(b, x):
        scale = b.param("op.weight", shape[axis:], constant(1.0))
        bias = b.param("op.bias", shape[axis:], constant(0.0))
        return b.node("LayerNormalization", [x, scale, bias], "op", axis=axis, epsilon=1e-5)
    return Draw(f"axis{axis}", (shape,), shape, make, weights=2 * math.prod(shape[axis:]))


def _reduce_mean(rng, over: str) -> Draw:
    """Over the last axis of tokens (a layer norm exported piece by piece), over H and W (a squeeze), over C."""
    shape = _sequence(rng) if over == "tokens" else _image(rng)
    axes = {"tokens": [-1], "spatial": [2, 3], "channels": [1]}[over]
    out = tuple(1 if i in [a % len(shape) for a in axes] else d for i, d in enumerate(shape))
    return Draw(f"axes{'.'.join(map(str, axes))}", (shape,), out,
                lambda b, x: b.node("ReduceMean", [x], "op", axes=axes, keepdims=1))


# -- pooling and resizing --------------------------------------------------------------------------------------
def _pool(op_type: str) -> Callable[[np.random.Generator, tuple[int, int, int]], Draw]:
    def draw(rng, window: tuple[int, int, int]) -> Draw:
        kernel, stride, pad = window
        batch, channels, height, width = shape = _image(rng)
        out = tuple((side + 2 * pad - kernel) // stride + 1 for side in (height, width))
        return Draw(f"k{kernel}-s{stride}-p{pad}", (shape,), (batch, channels, *out), lambda b, x: b.node(
            op_type, [x], "op", kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4))
    return draw


def _global_pool(rng, _) -> Draw:
    shape = _image(rng)
    return Draw("", (shape,), shape[:2] + (1, 1), lambda b, x: b.global_avg_pool(x, "op"))


def _resize(rng, mode: str) -> Draw:
    """Upsampling by 2 (or 4), as feature pyramids and segmentation heads do: nearest or bilinear."""
    scale = _pick(rng, (2, 2, 4))
    batch, channels, height, width = shape = _image(rng, 7, 56)

    def make(b, x):
        scales = b.const("scales", np.array([1, 1, scale, scale], np.float32))
        return b.node("Resize", [x, "", scales], "op", mode=mode, coordinate_transformation_mode=(
            "asymmetric" if mode == "nearest" else "half_pixel"), nearest_mode="floor")
    return Draw(f"{mode}-x{scale}", (shape,), (batch, channels, height * scale, width * scale), make)


# -- moving data -------------------------------------------------------------------------------------------
# the permutations networks use, ranks 3 to 6: tokens ↔ channels, NCHW ↔ NHWC, heads out of the tokens,
# kᵀ, q/k/v apart, a channel shuffle, a window partition (and its reverse: the same permutation)
TRANSPOSES = ("tokens", "to channels last", "to channels first", "heads", "keys", "qkv", "shuffle", "windows")


def _transpose(rng, kind: str) -> Draw:
    if kind == "tokens":
        shape, perm = _sequence(rng), (0, 2, 1)
    elif kind in ("to channels last", "to channels first"):
        batch, channels, height, width = _image(rng)
        shape, perm = (((batch, channels, height, width), (0, 2, 3, 1)) if kind == "to channels last"
                       else ((batch, height, width, channels), (0, 3, 1, 2)))
    elif kind in ("heads", "keys"):
        batch, tokens, heads, dim = _batch(rng), _tokens(rng), _pick(rng, HEADS), _pick(rng, HEAD_DIMS)
        shape, perm = (((batch, tokens, heads, dim), (0, 2, 1, 3)) if kind == "heads"
                       else ((batch, heads, tokens, dim), (0, 1, 3, 2)))
    elif kind == "qkv":
        shape, perm = (_batch(rng), _tokens(rng), 3, _pick(rng, HEADS), _pick(rng, HEAD_DIMS)), (2, 0, 3, 1, 4)
    elif kind == "shuffle":
        batch, channels, height, width = _image(rng)
        groups = _pick(rng, (2, 3, 4, 8))
        shape, perm = (batch, groups, max(1, channels // groups), height, width), (0, 2, 1, 3, 4)
    else:
        batch, down, across, window = _windowed_map(rng)
        shape, perm = (batch, down, window, across, window, _width(rng, 32, 768)), (0, 1, 3, 2, 4, 5)
    return Draw(f"perm{''.join(map(str, perm))}", (shape,), tuple(shape[p] for p in perm),
                lambda b, x: b.node("Transpose", [x], "op", perm=list(perm)))


def _concat(rng, kind: str) -> Draw:
    """Branches joined on channels (2-4 of them), a class token before the tokens, channels-last halves."""
    if kind == "channels":
        batch, _, height, width = _image(rng)
        parts = tuple((batch, _channels(rng, 8, 512), height, width) for _ in range(_pick(rng, (2, 2, 3, 4))))
        axis = 1
    elif kind == "class token":
        batch, tokens, width = _sequence(rng)
        parts, axis = ((batch, 1, width), (batch, tokens, width)), 1
    else:
        batch, channels, height, width = _image(rng, 7, 56)
        parts, axis = ((batch, height, width, channels),) * 2, 3
    out = list(parts[0])
    out[axis] = sum(p[axis] for p in parts)
    return Draw(f"axis{axis}", parts, tuple(out), lambda b, *xs: b.concat(list(xs), "op", axis=axis))


def _split(rng, kind: str) -> Draw:
    """Channels in two halves (ShuffleNetV2); q, k and v apart on the last axis of tokens."""
    if kind == "channels":
        shape, axis, parts = _image(rng), 1, 2
    else:
        batch, tokens, width = _sequence(rng)
        shape, axis, parts = (batch, tokens, 3 * width), 2, 3
    size = shape[axis] // parts
    sizes = [size] * (parts - 1) + [shape[axis] - size * (parts - 1)]
    out = tuple(size if i == axis else d for i, d in enumerate(shape))

    def make(b, x):
        return b.node("Split", [x, b.const("sizes", np.array(sizes, np.int64))], "op", outputs=parts, axis=axis)[0]
    return Draw(f"axis{axis}-{parts}", (shape,), out, make)


def _slice(rng, kind: str) -> Draw:
    """The tokens after the class token, a cropped map, every other pixel (YOLOv5's focus)."""
    if kind == "after class token":
        shape = _sequence(rng)
        starts, ends, axes, steps = [1], [shape[1]], [1], [1]
    elif kind == "crop":
        shape = _image(rng, 14, 112)
        starts, ends, axes, steps = [1, 1], [shape[2] - 1, shape[3] - 1], [2, 3], [1, 1]
    else:
        shape = _image(rng, 14, 112)
        starts, ends, axes, steps = [int(rng.integers(2))] * 2, [shape[2], shape[3]], [2, 3], [2, 2]
    out = list(shape)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        out[axis] = len(range(start, end, step))

    def make(b, x):
        return b.node("Slice", [x, *(b.const(part, np.array(values, np.int64)) for part, values in
                                     (("starts", starts), ("ends", ends), ("axes", axes), ("steps", steps)))], "op")
    return Draw(f"{kind.replace(' ', '')}-{starts[0]}", (shape,), tuple(out), make)


def _pad(rng, mode: str) -> Draw:
    pad = _pick(rng, (1, 1, 2, 3))
    batch, channels, height, width = shape = _image(rng)

    def make(b, x):
        return b.node("Pad", [x, b.const("pads", np.array([0, 0, pad, pad] * 2, np.int64))], "op", mode=mode)
    return Draw(f"{mode}-p{pad}", (shape,), (batch, channels, height + 2 * pad, width + 2 * pad), make)


def _roll(rng, axis: int) -> Draw:
    """torch.roll as exported: two Slices and a Concat (Swin's shifted windows, along H or W of NHWC)."""
    batch, down, across, window = _windowed_map(rng)
    shape = (batch, down * window, across * window, _width(rng, 32, 768))
    shift = max(1, window // 2)

    def make(b, x):
        def part(name, start, end):
            consts = [b.const(f"{name}.{p}", np.array([v], np.int64)) for p, v in
                      (("starts", start), ("ends", end), ("axes", axis))]
            return b.node("Slice", [x, *consts], name)
        return b.concat([part("tail", -shift, shape[axis]), part("head", 0, -shift)], "op", axis=axis)
    return Draw(f"axis{axis}-by{shift}", (shape,), shape, make)


def _gather(rng, kind: str) -> Draw:
    """An embedding lookup (ids in, a table of weights) or the class token taken out of the tokens."""
    if kind == "table":
        batch, tokens, width = _sequence(rng)
        vocabulary = _log_int(rng, 256, 32000)
        return Draw(f"table{vocabulary}", ((batch, tokens),), (batch, tokens, width), lambda b, ids: b.node(
            "Gather", [b.param("table", (vocabulary, width), normal(0.02)), ids], "op", axis=0),
            weights=vocabulary * width, int_inputs=(0,))
    shape = _sequence(rng)
    return Draw("token0", (shape,), (shape[0], shape[2]),
                lambda b, x: b.node("Gather", [x, b.const("index", np.array(0, np.int64))], "op", axis=1))


# -- the families -------------------------------------------------------------------------------------------
FAMILIES: tuple[Family, ...] = (
    Family("Conv 1x1", 28, _pointwise_conv),
    Family("Conv", 32, _dense_conv, ((3, 3), (3, 3), (5, 5), (7, 7), (1, 3), (3, 1), (1, 7), (7, 1))),
    Family("Conv (stem)", 4, _stem_conv, (3, 7)),
    Family("Conv (depthwise)", 28, _depthwise_conv, (3, 3, 5, 7)),
    Family("Conv (grouped)", 25, _grouped_conv, (2, 4, 8, 16, 32)),
    *(Family(f"Conv+BatchNormalization+{op}", 3, _fusion_probe(op)) for op in FUSIBLE),
    Family("MatMul", 24, _linear, (2, 3, 4)),
    Family("MatMul (activations)", 20, _attention_product,
           (("windows", "keys"), ("windows", "values"), ("global", "keys"), ("global", "values"))),
    Family("Gemm", 8, _gemm),
    Family("Softmax", 20, _softmax, ("windows", "windows", "global", "tokens", "channels")),
    Family("LayerNormalization", 12, _layer_norm, ("tokens", "tokens", "channels last", "whole map")),
    Family("ReduceMean", 6, _reduce_mean, ("tokens", "spatial", "channels")),
    Family("BatchNormalization", 5, _batch_norm),
    *(Family(op, 5, _unary(op)) for op in ALONE),
    *(Family(f"{op} (gate)", 4, _gate(op)) for op in GATED),
    *(Family(op, 6, _binary(op), BROADCASTS) for op in ("Add", "Mul", "Sub", "Div")),
    Family("MaxPool", 6, _pool("MaxPool"), ((3, 2, 1), (2, 2, 0), (3, 1, 1), (5, 1, 2))),
    Family("AveragePool", 6, _pool("AveragePool"), ((3, 1, 1), (2, 2, 0), (3, 2, 1))),
    Family("GlobalAveragePool", 5, _global_pool),
    Family("Resize", 8, _resize, ("nearest", "linear")),
    Family("Transpose", 16, _transpose, TRANSPOSES),
    Family("Concat", 6, _concat, ("channels", "class token", "channels last")),
    Family("Split", 4, _split, ("channels", "qkv")),
    Family("Slice", 5, _slice, ("after class token", "crop", "every other")),
    Family("Pad", 5, _pad, ("constant", "constant", "reflect")),
    Family("roll", 4, _roll, (1, 2)),
    Family("Gather", 4, _gather, ("table", "token")),
)


def sampled(family: Family, seed: int = SEED) -> dict[str, Draw]:
    """The family's ``count`` configurations within the bounds, by name, its strata in turn, drawn from a
    generator seeded by (seed, the family's name): the same seed always gives the same ones."""
    rng = np.random.default_rng([seed, zlib.crc32(family.op.encode())])
    drawn: dict[str, Draw] = {}
    for _ in range(DRAWS_PER_CASE * family.count):
        if len(drawn) == family.count:
            break
        draw = family.draw(rng, family.strata[len(drawn) % len(family.strata)])
        name = "-".join([family.op, *map(_text, draw.inputs)] + ([draw.detail] if draw.detail else []))
        if draw.within_bounds():
            drawn.setdefault(name, draw)
    return drawn


def _build(op: str, name: str, draw: Draw) -> OpCase:
    b = GraphBuilder(name, batch=draw.inputs[0][0])
    inputs = [b.input(f"x{i}" if i else "x", list(shape),
                      TensorProto.INT64 if i in draw.int_inputs else TensorProto.FLOAT)
              for i, shape in enumerate(draw.inputs)]
    return OpCase(op, name, b.build(draw.make(b, *inputs), list(draw.output)))


def op_cases(ops: Sequence[str] = (), seed: int = SEED) -> list[OpCase]:
    """Every benchmark case (or those of the named families), drawn with ``seed``."""
    return [_build(family.op, name, draw) for family in FAMILIES if not ops or family.op in ops
            for name, draw in sampled(family, seed).items()]


def _feature_map_feeds(report) -> dict[str, np.ndarray]:
    """Random feeds whose image-shaped inputs are constant over SIGN_RUN × SIGN_RUN blocks. Some kernels
    branch on the data: ONNX Runtime's PReLU on a CPU is about 7× slower on independent random signs
    than on runs of 8 equal signs. A network's feature maps are spatially correlated, so independent
    pixels would overstate such kernels; how much is a property of the data, not of the shape."""
    feeds = synthetic_feeds(report)
    for name, value in feeds.items():
        if value.ndim == 4 and np.issubdtype(value.dtype, np.floating):
            n, c, h, w = value.shape
            low = value[:, :, ::SIGN_RUN, ::SIGN_RUN]
            feeds[name] = np.ascontiguousarray(low.repeat(SIGN_RUN, 2).repeat(SIGN_RUN, 3)[:, :, :h, :w])
    return feeds


@dataclass(frozen=True)
class Prepared:
    """A case made once and profiled every round: its file, analysis, feeds and the engine's traits for it."""

    path: Path
    report: StaticReport
    feeds: dict[str, np.ndarray]
    traits: EngineTraits


def _prepare(case: OpCase, folder: Path, engine: str, options: EngineOptions) -> Prepared:
    path = folder / f"{case.name}.onnx"
    onnx.save(case.model, path)
    report = analyze(path, check=False)     # from the file: the layout the engine picks is read from it
    return Prepared(path, report, _feature_map_feeds(report), engine_traits(engine, options, str(path)))


def case_timings(op: str, rows: Sequence[LayerRow], report: StaticReport, traits: EngineTraits) -> list[KernelTiming]:
    """A single-op case's profiled kernels, its lone layout conversions left out: the graph's input
    converted in and its output out are not what a network's conversions between its layers cost."""
    found = kernel_timings(rows, report, f"op:{op}", traits, alone=True)
    return [timing for timing in found if timing.nodes[0].op != REORDER]


class OpBench:
    """``with OpBench(engine, options) as bench:`` — the cases, saved and analysed once; ``run_round(probe)``
    profiles each case once between two readings of ``probe``; ``finish(probe, took_s)`` profiles again
    the cases none of whose rounds found the machine quiet (see :mod:`onnxprof.measure.quiet`) and keeps
    each case's fastest round in ``timings``. Calibration runs its rounds between the networks' rounds
    (:func:`onnxprof.predict.calibrate.collect`), so that a spell of load from elsewhere lands on one
    round of the cases, not on all of them: run first and alone, every case of one calibration ran
    24 % slower than in the eight before it, while its networks did not."""

    def __init__(self, engine: str = "onnxruntime", options: EngineOptions = EngineOptions(), ops: Sequence[str] = (),
                 progress: Callable[[str], None] = lambda _: None, rounds: int = ROUNDS, seed: int = SEED):
        self.engine, self.options, self.progress, self.rounds = engine, options, progress, rounds
        self.cases = {case.name: case for case in op_cases(ops, seed)}
        self.measured: dict[str, list[Round]] = {name: [] for name in self.cases}
        self.timings: list[KernelTiming] = []
        self.rounds_run = 0
        # called after each case is profiled: (name, its round's index, the Round, the profile's rows, when
        # it began); calibrate writes it to its checkpoint
        self.on_profiled: Callable[[str, int, Round, Sequence[LayerRow], float], None] = lambda *_: None

    def __enter__(self) -> "OpBench":
        self._folder = tempfile.TemporaryDirectory(prefix="onnxprof-ops-")
        self._prepared = {name: _prepare(case, Path(self._folder.name), self.engine, self.options)
                          for name, case in self.cases.items()}
        return self

    def __exit__(self, *exc) -> None:
        self._folder.cleanup()

    def _timings(self, name: str, rows: Sequence[LayerRow]) -> list[KernelTiming]:
        case = self._prepared[name]
        return case_timings(self.cases[name].op, rows, case.report, case.traits)

    def _profile(self, name: str, probe: MachineProbe) -> None:
        case = self._prepared[name]
        profiled: list[LayerRow] = []

        def timings() -> tuple[float, tuple]:
            profiled.extend(profiled_rows(self.engine, case.path, self.options, case.feeds, case.report))
            found = self._timings(name, profiled)
            return _total(found), tuple(found)
        began = time.perf_counter()
        round_ = probe.around(timings)
        self.measured[name].append(round_)
        self.on_profiled(name, len(self.measured[name]) - 1, round_, tuple(profiled), began)

    def restore(self, name: str, probe_ms: tuple[float, float], rows: Sequence[LayerRow]) -> None:
        """A round of case ``name`` profiled before (a stopped calibration's checkpoint), kept as if
        profiled now: run_round skips the cases whose round it holds."""
        found = self._timings(name, rows)
        self.measured[name].append(Round(_total(found), tuple(probe_ms), tuple(found)))

    def run_round(self, probe: MachineProbe) -> None:
        done, self.rounds_run = self.rounds_run, self.rounds_run + 1
        for name in self.cases:
            if len(self.measured[name]) > done:
                continue           # restored
            self.progress(f"single-op benchmark {name} (round {done + 1} of {self.rounds})")
            self._profile(name, probe)

    def finish(self, probe: MachineProbe, rounds_took_s: float) -> list[KernelTiming]:
        probe.measure_again(self.measured, lambda name: self._profile(name, probe), rounds_took_s,
                            lambda name: self.progress(f"single-op benchmark {name}: no round ran on a quiet "
                                                       "machine; waiting to profile it again"))
        kept = {name: fastest_round(rounds_of, probe.is_quiet)[0] for name, rounds_of in self.measured.items()}
        self.timings = [timing for name in self.cases for timing in kept[name].payload]
        return self.timings


def profile_ops(engine: str = "onnxruntime", options: EngineOptions = EngineOptions(),
                progress: Callable[[str], None] = lambda _: None, ops: Sequence[str] = (),
                rounds: int = ROUNDS) -> list[KernelTiming]:
    """The kernel timings of every case (or of the named families'), on their own: what each op costs
    alone, and, from the Conv → BatchNorm → activation chains, which activations the engine fuses. Like
    calibrate's networks, each case keeps its fastest round, and a case no round of which found the
    machine quiet is profiled again: one spell of load from elsewhere once made every Transpose case
    2–5 times slower in all three rounds."""
    started = time.perf_counter()
    with OpBench(engine, options, ops, progress, rounds) as bench, MachineProbe(options.threads) as probe:
        for _ in range(rounds):
            bench.run_round(probe)
        return bench.finish(probe, time.perf_counter() - started)


def _total(timings: Sequence[KernelTiming]) -> float:
    return sum(t.measured_ms for t in timings)
