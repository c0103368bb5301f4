"""Symbolic evaluation of the small integer tensors that describe shapes.

PyTorch exports compute target shapes at run time: ``Shape(x) -> Gather -> Mul -> Unsqueeze -> Concat``
feeding ``Reshape``, ``Expand`` or ``ConstantOfShape``. ONNX's data propagation stops at arithmetic on
symbolic dims; here every such value is a tuple of ints, symbolic :class:`Poly` entries (``N*S``), or
None where unknown, and the consumers' output shapes are derived from it.
"""

from __future__ import annotations

from typing import Callable, Mapping, Optional

import numpy as np
from onnx import ModelProto, NodeProto, TensorProto, numpy_helper

from onnxprof.model.contrib_shapes import ORT_DEFAULT_DOMAIN_OPS, contrib_output_dtype, contrib_output_shapes
from onnxprof.model.load import has_values
from onnxprof.symbolic import Quantity, exact_div, product

Value = tuple[Optional[Quantity], ...]  # a 0-D value is a 1-tuple recorded in ``scalars``
_INTEGER_TYPES = {TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8,
                  TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32}
_MAX_ELEMENTS = 64  # a shape vector; larger integer tensors are data, not shapes


class _Values:
    def __init__(self, types):
        self.types = types
        self.known: dict[str, Value] = {}
        self.scalars: set[str] = set()

    def put(self, name: str, value: Value, scalar: bool = False) -> None:
        self.known[name] = value
        if scalar:
            self.scalars.add(name)

    def ints(self, name: str) -> Optional[list[int]]:
        value = self.known.get(name)
        if value is None or not all(isinstance(v, int) for v in value):
            return None
        return list(value)


def refine_shapes(model: ModelProto, types: Mapping) -> dict[str, tuple]:
    """Output shapes that symbolic evaluation knows better than ONNX inference did.

    Updates ``types`` in place for the tensors it improves, so later nodes in the same pass see them.
    """
    from onnxprof.model.shapes import TensorType

    values = _Values(types)
    for tensor in model.graph.initializer:
        _add_constant(values, tensor.name, tensor)
    fixes: dict[str, tuple] = {}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
            _add_constant_node(values, node)
            continue
        rule = _VALUE_RULES.get(node.op_type)
        if rule is not None and node.domain in ("", "ai.onnx") and node.output:
            try:
                rule(values, node)
            except (IndexError, TypeError, ValueError, ZeroDivisionError):
                pass  # an unusual form of the op: its value simply stays unknown
        if not node.output:
            continue
        if node.domain not in ("", "ai.onnx") or node.op_type in ORT_DEFAULT_DOMAIN_OPS:
            _contrib_fixes(node, types, fixes)
            continue
        out = node.output[0]
        current = types.get(out)
        if current is not None and current.is_known:
            continue
        derived = None
        if out in values.known:  # a value's length is its shape
            derived = () if out in values.scalars else (len(values.known[out]),)
        elif node.op_type in _SHAPE_RULES:
            derived = _SHAPE_RULES[node.op_type](values, node)
        if derived is None or not _improves(derived, current):
            continue
        dtype = current.dtype if current is not None and current.dtype else _dtype_of(node, types)
        types[out] = TensorType(dtype, derived)
        fixes[out] = derived
    return fixes


def _contrib_fixes(node: NodeProto, types: Mapping, fixes: dict) -> None:
    from onnxprof.model.shapes import TensorType

    inputs = [types.get(name) if name else None for name in node.input]
    dtypes = [0 if t is None else t.dtype for t in inputs]
    shapes = contrib_output_shapes(node, [None if t is None else t.shape for t in inputs], dtypes)
    if not shapes:
        return
    for index, (name, shape) in enumerate(zip(node.output, shapes)):
        current = types.get(name)
        if not name or shape is None or (current is not None and current.is_known) or not _improves(shape, current):
            continue
        types[name] = TensorType(contrib_output_dtype(node, dtypes, index), tuple(shape))
        fixes[name] = tuple(shape)


def _improves(derived: tuple, current) -> bool:
    if current is None or current.shape is None:
        return True
    if len(current.shape) != len(derived):
        return False
    return any(old is None and new is not None for old, new in zip(current.shape, derived))


def _dtype_of(node: NodeProto, types: Mapping) -> int:
    source = types.get(node.input[0]) if node.input else None
    return source.dtype if source is not None else TensorProto.FLOAT


# -- sources of values ---------------------------------------------------------------------------

def _add_constant(values: _Values, name: str, tensor: TensorProto) -> None:
    if tensor.data_type not in _INTEGER_TYPES or not has_values(tensor):
        return
    count = int(np.prod(tensor.dims)) if tensor.dims else 1
    if count > _MAX_ELEMENTS:
        return
    array = numpy_helper.to_array(tensor)
    values.put(name, tuple(int(v) for v in array.reshape(-1)), scalar=array.ndim == 0)


def _add_constant_node(values: _Values, node: NodeProto) -> None:
    for attr in node.attribute:
        if attr.name == "value":
            _add_constant(values, node.output[0], attr.t)
        elif attr.name == "value_int":
            values.put(node.output[0], (int(attr.i),), scalar=True)
        elif attr.name == "value_ints":
            values.put(node.output[0], tuple(int(v) for v in attr.ints))


def _attr(node: NodeProto, name: str, default=None):
    for attr in node.attribute:
        if attr.name == name:
            return attr.ints if attr.ints else attr.i
    return default


def _shape(values: _Values, node: NodeProto) -> None:
    source = values.types.get(node.input[0])
    if source is None or source.shape is None:
        return
    rank = len(source.shape)
    start, end = _attr(node, "start", 0), _attr(node, "end", rank)
    values.put(node.output[0], source.shape[slice(start, end)])


def _gather(values: _Values, node: NodeProto) -> None:
    data, indices = values.known.get(node.input[0]), values.ints(node.input[1])
    if data is None or indices is None or _attr(node, "axis", 0) != 0:
        return
    picked = tuple(data[i] for i in indices)
    values.put(node.output[0], picked, scalar=node.input[1] in values.scalars)


def _slice(values: _Values, node: NodeProto) -> None:
    data = values.known.get(node.input[0])
    if data is None:
        return
    if len(node.input) >= 3:
        starts, ends = values.ints(node.input[1]), values.ints(node.input[2])
        steps = values.ints(node.input[4]) if len(node.input) > 4 and node.input[4] else [1]
    else:  # opset < 10: attributes
        starts, ends, steps = list(_attr(node, "starts", [])), list(_attr(node, "ends", [])), [1]
    if not starts or not ends or len(starts) != 1:
        return
    values.put(node.output[0], data[slice(starts[0], min(ends[0], len(data) + 1), steps[0])])


def _concat(values: _Values, node: NodeProto) -> None:
    parts = [values.known.get(name) for name in node.input]
    if any(p is None for p in parts):
        return
    values.put(node.output[0], tuple(v for p in parts for v in p))


def _unsqueeze(values: _Values, node: NodeProto) -> None:
    if node.input[0] in values.known and node.input[0] in values.scalars:
        values.put(node.output[0], values.known[node.input[0]])


def _squeeze(values: _Values, node: NodeProto) -> None:
    value = values.known.get(node.input[0])
    if value is not None and len(value) == 1:
        values.put(node.output[0], value, scalar=True)


def _copy(values: _Values, node: NodeProto) -> None:
    if node.input[0] in values.known:
        values.put(node.output[0], values.known[node.input[0]], scalar=node.input[0] in values.scalars)


def _divide(a: Quantity, b: Quantity) -> Optional[Quantity]:
    quotient = exact_div(a, b)
    if quotient is None and isinstance(a, int) and isinstance(b, int) and b:
        quotient = int(a / b)  # ONNX integer division truncates toward zero
    return quotient


def _broadcast(*operands: Value) -> Optional[list[Value]]:
    """Equal-length operands, length-1 ones repeated (1-D broadcasting); None if incompatible."""
    width = max(len(o) for o in operands)
    if any(len(o) not in (1, width) for o in operands):
        return None
    return [o * width if len(o) == 1 else o for o in operands]


def _elementwise(op: Callable) -> Callable:
    """A rule applying ``op`` position by position; ``op`` returns None where it cannot decide."""

    def rule(values: _Values, node: NodeProto) -> None:
        operands = [values.known.get(name) for name in node.input]
        if any(o is None for o in operands) or not operands:
            return
        aligned = _broadcast(*operands)
        if aligned is None:
            return
        result = tuple(None if None in items else op(*items) for items in zip(*aligned))
        values.put(node.output[0], result, scalar=all(name in values.scalars for name in node.input))

    return rule


def _equal(x: Quantity, y: Quantity) -> Optional[int]:
    if isinstance(x, int) and isinstance(y, int):
        return int(x == y)
    if x == y:
        return 1
    # A dim symbol stands for a positive size: it never equals 0 or a negative marker such as -1.
    constant = x if isinstance(x, int) else y if isinstance(y, int) else None
    return 0 if constant is not None and constant <= 0 else None


def _reshape_value(values: _Values, node: NodeProto) -> None:
    target = values.ints(node.input[1])
    if node.input[0] in values.known and target is not None:
        values.put(node.output[0], values.known[node.input[0]], scalar=len(target) == 0)


def _range(values: _Values, node: NodeProto) -> None:
    start, limit, delta = (values.ints(name) for name in node.input[:3])
    if start and limit and delta and delta[0] and abs(limit[0] - start[0]) // abs(delta[0]) <= _MAX_ELEMENTS:
        values.put(node.output[0], tuple(range(start[0], limit[0], delta[0])))


def _constant_of_shape_value(values: _Values, node: NodeProto) -> None:
    shape = values.ints(node.input[0])
    if shape is None or len(shape) != 1 or shape[0] > _MAX_ELEMENTS:
        return
    fill = 0
    for attr in node.attribute:
        if attr.name == "value" and attr.t.data_type in _INTEGER_TYPES:
            fill = int(numpy_helper.to_array(attr.t).reshape(-1)[0])
        elif attr.name == "value":
            return  # a float fill is data, not a shape
    values.put(node.output[0], (fill,) * shape[0])


def _expand_value(values: _Values, node: NodeProto) -> None:
    data, shape = values.known.get(node.input[0]), values.ints(node.input[1])
    if data is not None and shape is not None and len(shape) <= 1:
        width = max([len(data)] + shape)
        aligned = _broadcast(data, (None,) * width)
        if aligned is not None:
            values.put(node.output[0], aligned[0])


def _mod(x: Quantity, y: Quantity) -> Optional[int]:
    return x % y if isinstance(x, int) and isinstance(y, int) and y else None


def _min_max(pick: Callable) -> Callable:
    def op(*items: Quantity) -> Optional[Quantity]:
        return pick(items) if all(isinstance(v, int) for v in items) else None

    return op


_VALUE_RULES: dict[str, Callable] = {
    "Shape": _shape, "Gather": _gather, "Slice": _slice, "Concat": _concat, "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze, "Cast": _copy, "Identity": _copy, "Reshape": _reshape_value, "Range": _range,
    "ConstantOfShape": _constant_of_shape_value, "Expand": _expand_value,
    "Add": _elementwise(lambda x, y: x + y), "Sub": _elementwise(lambda x, y: x - y),
    "Mul": _elementwise(lambda x, y: x * y), "Div": _elementwise(_divide), "Mod": _elementwise(_mod),
    "Neg": _elementwise(lambda x: -x), "Equal": _elementwise(_equal),
    "Not": _elementwise(lambda x: int(not x) if isinstance(x, int) else None),
    "Where": _elementwise(lambda c, x, y: (x if c else y) if isinstance(c, int) else None),
    "Max": _elementwise(_min_max(max)), "Min": _elementwise(_min_max(min)),
}


# -- consumers whose output shape is a value -----------------------------------------------------

def _reshape(values: _Values, node: NodeProto) -> Optional[tuple]:
    target = values.known.get(node.input[1]) if len(node.input) > 1 else None
    if target is None:
        return None
    source = values.types.get(node.input[0])
    source_shape = source.shape if source is not None else None
    allow_zero = _attr(node, "allowzero", 0)
    dims = []
    for axis, d in enumerate(target):
        if d == 0 and not allow_zero:
            d = source_shape[axis] if source_shape is not None and axis < len(source_shape) else None
        dims.append(d)
    if sum(1 for d in dims if d == -1) == 1:
        missing = dims.index(-1)
        dims[missing] = None
        if source is not None and source.is_known and all(d is not None for d in dims[:missing] + dims[missing + 1:]):
            total = product(source_shape)
            dims[missing] = exact_div(total, product(d for d in dims if d is not None))
    return tuple(dims)


def _expand(values: _Values, node: NodeProto) -> Optional[tuple]:
    target = values.known.get(node.input[1])
    source = values.types.get(node.input[0])
    if target is None or source is None or source.shape is None:
        return None
    rank = max(len(target), len(source.shape))
    a = (1,) * (rank - len(source.shape)) + tuple(source.shape)
    b = (1,) * (rank - len(target)) + tuple(target)
    return tuple(y if x == 1 else x if y == 1 else (x if x == y else None) for x, y in zip(a, b))


def _constant_of_shape(values: _Values, node: NodeProto) -> Optional[tuple]:
    return values.known.get(node.input[0])


def _tile(values: _Values, node: NodeProto) -> Optional[tuple]:
    repeats = values.known.get(node.input[1])
    source = values.types.get(node.input[0])
    if repeats is None or source is None or source.shape is None or len(repeats) != len(source.shape):
        return None
    return tuple(None if d is None or r is None else d * r for d, r in zip(source.shape, repeats))


_INT_MAX = 2 ** 31 - 1  # "to the end" in exported slices (INT64_MAX and INT32_MAX both reach past this)


def _slice_length(dim: Quantity, start, end, step: int) -> Optional[Quantity]:
    """Length of ``x[start:end:step]`` along an axis of size ``dim``; a symbolic bound is taken to lie
    inside the axis (``pos_emb[:S]`` with S ≤ 512 has S rows)."""
    if all(isinstance(v, int) for v in (dim, start, end)):
        return len(range(*slice(start, end, step).indices(dim)))
    if step != 1 or not isinstance(start, int):
        return None
    if isinstance(end, int) and end >= _INT_MAX:
        end = dim
    elif isinstance(end, int) and end < 0:
        end = dim + end
    if start < 0:
        start = dim + start
    return end - start


def _slice_shape(values: _Values, node: NodeProto) -> Optional[tuple]:
    source = values.types.get(node.input[0])
    if source is None or source.shape is None or len(node.input) < 3:
        return None
    starts, ends = values.known.get(node.input[1]), values.known.get(node.input[2])
    axes = values.ints(node.input[3]) if len(node.input) > 3 and node.input[3] else list(range(len(starts or ())))
    steps = values.ints(node.input[4]) if len(node.input) > 4 and node.input[4] else [1] * len(axes)
    if starts is None or ends is None or axes is None or steps is None or None in starts or None in ends:
        return None
    dims = list(source.shape)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= len(dims)
        if dims[axis] is None:
            return None
        dims[axis] = _slice_length(dims[axis], start, end, step)
    return tuple(dims)


def _range_shape(values: _Values, node: NodeProto) -> Optional[tuple]:
    start, limit, delta = (values.known.get(name) for name in node.input[:3])
    if start is None or limit is None or delta is None or None in (start[0], limit[0], delta[0]):
        return None
    if delta[0] == 1:
        return (limit[0] - start[0],)
    if all(isinstance(v[0], int) for v in (start, limit, delta)):
        return (max(0, -(-(limit[0] - start[0]) // delta[0])),)
    return None


_SHAPE_RULES: dict[str, Callable] = {
    "Reshape": _reshape, "Expand": _expand, "ConstantOfShape": _constant_of_shape, "Tile": _tile,
    "Slice": _slice_shape, "Range": _range_shape,
}
