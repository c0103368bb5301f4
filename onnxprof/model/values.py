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
        shape_rule = _SHAPE_RULES.get(node.op_type)
        if shape_rule is None or node.domain not in ("", "ai.onnx") or not node.output:
            continue
        out = node.output[0]
        current = types.get(out)
        if current is not None and current.is_known:
            continue
        derived = shape_rule(values, node)
        if derived is None or not _improves(derived, current):
            continue
        dtype = current.dtype if current is not None else _dtype_of(node, types)
        types[out] = TensorType(dtype, derived)
        fixes[out] = derived
    return fixes


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


def _binary(op: Callable) -> Callable:
    def rule(values: _Values, node: NodeProto) -> None:
        a, b = values.known.get(node.input[0]), values.known.get(node.input[1])
        if a is None or b is None:
            return
        if len(a) != len(b) and 1 not in (len(a), len(b)):
            return
        width = max(len(a), len(b))
        a, b = (a * width if len(a) == 1 else a), (b * width if len(b) == 1 else b)
        result = tuple(None if x is None or y is None else op(x, y) for x, y in zip(a, b))
        scalar = node.input[0] in values.scalars and node.input[1] in values.scalars
        values.put(node.output[0], result, scalar=scalar)

    return rule


_VALUE_RULES: dict[str, Callable] = {
    "Shape": _shape, "Gather": _gather, "Slice": _slice, "Concat": _concat, "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze, "Cast": _copy, "Identity": _copy,
    "Add": _binary(lambda x, y: x + y), "Sub": _binary(lambda x, y: x - y),
    "Mul": _binary(lambda x, y: x * y), "Div": _binary(_divide),
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


_SHAPE_RULES: dict[str, Callable] = {
    "Reshape": _reshape, "Expand": _expand, "ConstantOfShape": _constant_of_shape, "Tile": _tile,
}
