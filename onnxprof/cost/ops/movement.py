"""Ops that move, select or describe data without arithmetic: 0 FLOPs, but bytes moved.

Views (Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout at inference) share their input's
buffer and move nothing; Shape and Size read only metadata.

No arithmetic, but their arguments still have to make sense: a Reshape target that cannot hold the
input, Split sizes that do not add up, pads that leave a negative size or an out-of-range axis make
the node invalid (its output shape, and everything sized from it, would be made up).
"""

from __future__ import annotations

from typing import Callable, Optional

from onnxprof.cost.registry import CONSTANT, METADATA, OPAQUE, VIEW, NodeContext, OpCost, register, zero_cost
from onnxprof.cost.validate import (axes_indices, axis_index, check_broadcast, differ, fail, int_dims, known,
                                    require, text_attr)
from onnxprof.symbolic import product

MOVES = "0 (data movement, selection, comparison)"
VIEWS = "0 (view of the input's buffer)"

register(["Slice", "GatherND", "Cast", "CastLike", "ScatterND", "Scatter", "SpaceToDepth", "Where", "Equal", "Less",
          "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or", "Xor", "NonZero", "OneHot", "Trilu",
          "CenterCropPad", "EyeLike", "ReverseSequence", "Unique", "BitCast", "TensorScatter", "IsInf", "IsNaN",
          "MaxUnpool"], flops=MOVES)(zero_cost)
register(["SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
          "SequenceLength", "SplitToSequence", "ConcatFromSequence", "Optional", "OptionalGetElement",
          "OptionalHasElement", "StringConcat", "StringNormalizer", "StringSplit", "RegexFullMatch"],
         flops="0 (sequences, optionals, strings: sizes not static)", moves=OPAQUE)(zero_cost)
register(["Identity", "Dropout"], flops=VIEWS, moves=VIEW)(zero_cost)
register(["Shape", "Size"], flops="0 (reads the shape only)", moves=METADATA)(zero_cost)
register("Constant", flops="0 (stored in the model)", moves=CONSTANT)(zero_cost)


def _checked(check: Callable[[NodeContext], None]):
    """A zero-cost formula that first validates the node's arguments."""

    def formula(ctx: NodeContext) -> OpCost:
        check(ctx)
        return OpCost()

    return formula


def _rank(ctx: NodeContext, index: int = 0) -> Optional[int]:
    shape = ctx.dims(index)
    return None if shape is None else len(shape)


def _ints(value) -> Optional[list[int]]:
    """A constant argument (numpy array or attribute list) as a list of ints, or None when unknown."""
    if value is None:
        return None
    return [int(v) for v in (value.reshape(-1) if hasattr(value, "reshape") else value)]


def _explicit_axis(ctx: NodeContext) -> None:
    """An ``axis`` attribute, where given, names an axis of the first input."""
    if "axis" in ctx.attributes:
        axis_index(ctx.attr("axis"), _rank(ctx))


register(["Gather", "GatherElements", "ScatterElements", "ArgMax", "ArgMin", "TopK", "Hardmax", "Compress"],
         flops=MOVES)(_checked(_explicit_axis))


def check_reshape(ctx: NodeContext) -> None:
    """One -1 at most, no other negative, 0 copies an input dim (unless allowzero), same element count."""
    target = _ints(ctx.input_value(1) if ctx.opset >= 5 else ctx.attr("shape"))
    if target is None:
        return
    allowzero = ctx.attr("allowzero", 0)
    if target.count(-1) > 1:
        fail(f"target shape {target} has more than one -1")
    if min(target, default=0) < -1:
        fail(f"target shape {target} has a negative dim other than -1")
    if allowzero and 0 in target and (-1 in target):
        fail(f"target shape {target} has both 0 and -1 with allowzero: the -1 cannot be inferred")
    x = ctx.dims(0)
    if x is None:
        return
    copies = [i for i, v in enumerate(target) if v == 0 and not allowzero]
    if copies and copies[-1] >= len(x):
        fail(f"target shape {target}: dim {copies[-1] if copies else 0} copies an input dim, "
             f"the input has rank {len(x)}")
    resolved = [x[i] if v == 0 and not allowzero else v for i, v in enumerate(target)]
    dims, fixed = int_dims(x), int_dims([d for d in resolved if d != -1])
    if dims is None or fixed is None:
        return
    total, known_part = product(dims), product(fixed)
    if -1 in resolved:
        if known_part == 0 or total % known_part:
            fail(f"target shape {target} cannot hold the input's {total} elements ({list(dims)})")
    else:
        if known_part != total:
            fail(f"target shape {target} holds {known_part} elements, the input {list(dims)} has {total}")


def check_flatten(ctx: NodeContext) -> None:
    rank, axis = _rank(ctx), ctx.attr("axis", 1)
    if rank is not None and not -rank <= axis <= rank:
        fail(f"axis {axis} is out of range for rank {rank} "
             f"(valid: {-(rank or 0)} to {rank})")


def _axes_argument(ctx: NodeContext, input_since: int) -> Optional[list[int]]:
    """``axes``: an attribute before opset ``input_since``, a constant input from it on."""
    return _ints(ctx.input_value(1) if ctx.opset >= input_since else ctx.attr("axes"))


def check_squeeze(ctx: NodeContext) -> None:
    axes = _axes_argument(ctx, 13)
    x = ctx.dims(0)
    found = axes_indices(axes, len(x) if x is not None else None) if axes is not None else None
    for axis in found or ():
        if differ(x[axis], 1):
            fail(f"axis {axis} has size {x[axis]}; only size-1 axes squeeze")


def check_unsqueeze(ctx: NodeContext) -> None:
    axes = _axes_argument(ctx, 13)
    rank = _rank(ctx)
    if axes is not None:
        axes_indices(axes, None if rank is None else rank + len(axes))   # axes of the output


register("Reshape", flops=VIEWS, moves=VIEW)(_checked(check_reshape))
register("Flatten", flops=VIEWS, moves=VIEW)(_checked(check_flatten))
register("Squeeze", flops=VIEWS, moves=VIEW)(_checked(check_squeeze))
register("Unsqueeze", flops=VIEWS, moves=VIEW)(_checked(check_unsqueeze))


def check_split(ctx: NodeContext) -> None:
    """Sizes (input from opset 13, attribute before) one per output, none negative, summing to the axis."""
    x = ctx.dims(0)
    axis = axis_index(ctx.attr("axis", 0), None if x is None else len(x))
    sizes = _ints(ctx.input_value(1) if ctx.opset >= 13 else ctx.attr("split"))
    parts = ctx.attr("num_outputs")
    require(parts is None or sizes is None, "both split sizes and num_outputs are given; the op takes one")
    if parts is not None and parts != len(ctx.outputs):
        fail(f"num_outputs is {parts} but the node has {len(ctx.outputs)} outputs")
    if sizes is None:
        return
    if len(sizes) != len(ctx.outputs):
        fail(f"split {sizes} gives {len(sizes)} parts for {len(ctx.outputs)} outputs")
    if min(sizes, default=0) < 0:
        fail(f"split {sizes} has a negative size")
    if axis is not None and known(x[axis]):
        if sum(sizes) != x[axis]:
            fail(f"split {sizes} adds up to {sum(sizes)}, axis {axis} has {x[axis]}")


def check_pad(ctx: NodeContext) -> None:
    """A begin and an end pad per padded axis, leaving no axis a negative size."""
    text_attr(ctx, "mode", "constant", ("constant", "reflect", "edge", "wrap"))
    pads = _ints(ctx.input_value(1) if ctx.opset >= 11 else ctx.attr("pads", ctx.attr("paddings")))
    x = ctx.dims(0)
    if pads is None or x is None:
        return
    axes = _ints(ctx.input_value(3)) if ctx.opset >= 18 else None
    axes = list(range(len(x))) if axes is None else axes_indices(axes, len(x))
    if len(pads) != 2 * len(axes):
        fail(f"pads {pads} has {len(pads)} values, {2 * len(axes)} expected (begin and end per axis)")
    for position, axis in enumerate(axes):
        size = x[axis] + pads[position] + pads[position + len(axes)] if known(x[axis]) else None
        if size is not None and size < 0:
            fail(f"pads {pads} leave axis {axis} ({x[axis]}) a size of {size}")


def check_range(ctx: NodeContext) -> None:
    """Scalar start, limit and delta (one-element vectors pass, as in ONNX's own function bodies and
    ONNX Runtime); a delta of 0 never reaches the limit."""
    for index, name in enumerate(("start", "limit", "delta")):
        shape = ctx.dims(index)
        if shape is not None and (len(shape) > 1 or (len(shape) == 1 and differ(shape[0], 1))):
            fail(f"{name} has shape {list(shape or ())}; Range takes scalars")
    delta = ctx.input_value(2)
    require(delta is None or float(delta.reshape(-1)[0]) != 0, "delta is 0: the range never reaches its limit")


def check_transpose(ctx: NodeContext) -> None:
    perm, rank = ctx.attr("perm"), _rank(ctx)
    if perm is not None:
        if sorted(perm) != list(range(len(perm))) or (rank is not None and len(perm) != rank):
            fail(f"perm {perm} is not a permutation of the input's {rank if rank is not None else '?'} axes")


def check_concat(ctx: NodeContext) -> None:
    """Inputs of one rank, equal in every dim but ``axis``."""
    shapes = [s for s in (ctx.dims(i) for i in range(len(ctx.inputs))) if s is not None]
    if not shapes:
        return
    if len({len(s) for s in shapes}) != 1:
        fail(f"inputs have different ranks: {[len(s) for s in shapes]}")
    axis = axis_index(ctx.attr("axis", 1), len(shapes[0]))   # optional (1) before opset 4
    for dim in range(len(shapes[0])):
        sizes = {s[dim] for s in shapes if known(s[dim])}
        if dim != axis and len(sizes) > 1:
            fail(f"inputs differ in dim {dim} ({sorted(sizes)}), not the concat axis")


def check_tile(ctx: NodeContext) -> None:
    repeats, rank = _ints(ctx.input_value(1)), _rank(ctx)
    if repeats is not None:
        if rank is not None and len(repeats) != rank:
            fail(f"repeats {repeats} has {len(repeats)} values for rank {rank}")
        if min(repeats, default=0) < 0:
            fail(f"repeats {repeats} has a negative count")


def check_expand(ctx: NodeContext) -> None:
    target = _ints(ctx.input_value(1))
    if target is not None:
        check_broadcast([ctx.dims(0), target], "the input and the target shape")


def check_constant_of_shape(ctx: NodeContext) -> None:
    shape = _ints(ctx.input_value(0))
    if shape is not None and min(shape, default=0) < 0:
        fail(f"shape {shape} has a negative dim")


def check_depth_to_space(ctx: NodeContext) -> None:
    x, block = ctx.dims(0), ctx.attr("blocksize")
    if x is not None and len(x) != 4:
        fail(f"input has rank {len(x or ())}; [N, C, H, W] expected")
    if x is not None and known(x[1]) and isinstance(block, int) and block > 0:
        if x[1] % (block * block) != 0:
            fail(f"{x[1]} channels do not divide into blocks of {block}×{block}")


for _op, _check in (("Split", check_split), ("Pad", check_pad), ("Range", check_range), ("Transpose", check_transpose),
                    ("Concat", check_concat), ("Tile", check_tile), ("Expand", check_expand),
                    ("ConstantOfShape", check_constant_of_shape), ("DepthToSpace", check_depth_to_space)):
    register(_op, flops=MOVES)(_checked(_check))
