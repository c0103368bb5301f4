"""Tensor shapes: bind user-given dims, run ONNX shape inference, fill what it leaves unknown.

ONNX's own inference (with data propagation) does most of the work. PyTorch exports also compute
shapes arithmetically (``Shape -> Gather -> Mul -> Unsqueeze -> Concat -> Reshape``), where ONNX gives
up on symbolic dims; :mod:`onnxprof.model.values` evaluates those chains symbolically and the results
are fed back as value_info, so ONNX carries them on through the rest of the graph.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Mapping, Optional

import onnx
from onnx import GraphProto, ModelProto, TypeProto, ValueInfoProto

from onnxprof.errors import ModelError, UsageError
from onnxprof.model.limits import MAX_ELEMENTS, MAX_NATIVE_PASS_BYTES, MAX_PROPAGATED_ELEMENTS, native_memory_cap
from onnxprof.model.load import GraphLayout, iter_graphs
from onnxprof.symbolic import Poly, Quantity, format_quantity, parse_dim

Dim = Optional[Quantity]  # int, symbolic Poly, or None when unknown
_IS_KNOWN = attrgetter("is_known")


@dataclass(frozen=True)
class TensorType:
    dtype: int
    shape: Optional[tuple[Dim, ...]]  # None when even the rank is unknown
    # every dim known; decided once, as most tensors share a handful of type objects
    is_known: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_known", self.shape is not None and None not in self.shape)


@dataclass(frozen=True)
class ShapeBinding:
    """What the user fixed: whole input shapes, the batch, and named dims."""

    inputs: Optional[Mapping[str, tuple[int, ...]]] = None
    batch: Optional[int] = None
    dims: Optional[Mapping[str, int]] = None


def graph_inputs(graph: GraphProto) -> list[ValueInfoProto]:
    """Inputs a user feeds: IR < 4 models also list their initializers as inputs; those are weights."""
    weights = {t.name for t in graph.initializer}
    return [i for i in graph.input if i.name not in weights]


def parse_input_spec(spec: str) -> tuple[str, tuple[int, ...]]:
    """``NAME:1x3x224x224`` -> (``NAME``, (1, 3, 224, 224)); the name may itself hold colons."""
    name, sep, dims = spec.rpartition(":")
    if not sep or not name or not re.fullmatch(r"\d+(x\d+)*|", dims):
        raise UsageError(f"--input {spec!r}: expected NAME:DIMS such as images:1x3x224x224")
    return name, tuple(int(d) for d in dims.split("x")) if dims else ()


def bind_shapes(model: ModelProto, binding: ShapeBinding) -> dict[str, int]:
    """Make dynamic input dims concrete, in place. Returns the symbols bound, by name."""
    inputs = {i.name: i for i in graph_inputs(model.graph)}
    symbols: dict[str, int] = dict(binding.dims or {})
    for name, dims in (binding.inputs or {}).items():
        if name not in inputs:
            known = ", ".join(inputs) or "none"
            raise UsageError(f"--input {name}: the model has no input of that name (its inputs: {known})")
        shape = inputs[name].type.tensor_type.shape
        if inputs[name].type.tensor_type.HasField("shape") and len(shape.dim) != len(dims):
            raise UsageError(f"--input {name}: gives {len(dims)} dims but the input has rank {len(shape.dim)} "
                             f"({_describe(shape)})")
        for axis, (dim, value) in enumerate(zip(shape.dim, dims)):
            if dim.HasField("dim_value") and dim.dim_value != value:
                raise UsageError(f"--input {name}: dim {axis} is fixed at {dim.dim_value} by the model, "
                                 f"cannot be {value}")
            if dim.HasField("dim_param") and dim.dim_param in symbols and symbols[dim.dim_param] != value:
                raise UsageError(f"--input {name}: dim {axis} ({dim.dim_param}) is bound twice, "
                                 f"to {symbols[dim.dim_param]} and {value}")
            if dim.HasField("dim_param"):
                symbols[dim.dim_param] = value
        _set_shape(inputs[name].type, dims)
    if binding.batch is not None:
        for info in inputs.values():
            if info.name in (binding.inputs or {}):
                continue
            dims = info.type.tensor_type.shape.dim
            if dims and not dims[0].HasField("dim_value"):
                if dims[0].HasField("dim_param"):
                    symbols.setdefault(dims[0].dim_param, binding.batch)
                dims[0].dim_value = binding.batch
    if symbols:
        _substitute_symbols(model, symbols)
    return symbols


def infer_shapes(model: ModelProto, source: str, warnings: Optional[list[str]] = None,
                 layout: Optional[GraphLayout] = None) -> tuple[ModelProto, dict[str, TensorType]]:
    """Shape-infer ``model``; return the inferred model and every tensor's type, dims symbolic where
    they depend on the input symbols and None where unknown. What was left unknown on purpose (sizes
    too large to compute with) is appended to ``warnings``. ``layout``, what the loader learned of the
    nodes, spares walking them again."""
    from onnxprof.model.values import refine_shapes

    nested = layout is None or layout.nested
    symbols = input_symbols(model.graph)
    _forget_foreign_symbols(model.graph, symbols)
    inferred = _onnx_infer(model, source, False, warnings)
    types = collect_types(inferred, symbols, nested)
    propagate = None
    # Run to a fixpoint. ONNX's data propagation stops at Div (``c // groups``) and symbolic arithmetic,
    # and refine_shapes cannot see through Conv or Transpose, so each round may get only one link further
    # down a chain of such shapes (two per ShuffleNet unit). A chain has at most one link per node.
    for _ in range(len(model.graph.node) + 1):
        if _all_known(inferred, types, layout):
            return inferred, types  # nothing left for data propagation or symbolic evaluation to find
        if propagate is None:       # decided on the first pass's shapes, before propagation can blow up
            propagate = _safe_to_propagate(types, warnings)
            if propagate:
                inferred = _onnx_infer(model, source, True, warnings)
                types = collect_types(inferred, symbols, nested)
                continue
        fixes = refine_shapes(inferred, types)
        if not _record_shapes(model.graph, fixes, types):
            return inferred, types  # nothing new: another round would infer the same
        inferred = _onnx_infer(model, source, propagate, warnings)
        types = collect_types(inferred, symbols, nested)
    return inferred, types


def _all_known(inferred: ModelProto, types: Mapping[str, TensorType], layout: Optional[GraphLayout]) -> bool:
    """Every typed tensor has all its dims, and every tensor the main graph's nodes write is typed."""
    written = layout.outputs if layout is not None else (o for node in inferred.graph.node for o in node.output if o)
    return all(map(_IS_KNOWN, types.values())) and all(map(types.__contains__, written))


def _safe_to_propagate(types: Mapping[str, TensorType], warnings: Optional[list[str]]) -> bool:
    """Whether ONNX's data propagation may run: it holds each element of a 1-D tensor as a dim, so a long
    vector (a flattened feature map, not a shape) would take gigabytes. Without it, shapes computed from
    tensor values stay unknown, and the report says so."""
    for name, found in types.items():
        shape = found.shape
        if shape is not None and len(shape) == 1 and isinstance(shape[0], int) and shape[0] >= MAX_PROPAGATED_ELEMENTS:
            if warnings is not None:
                warnings.append(f"tensor {name!r} is a vector of {shape[0]} elements: shapes computed from tensor "
                                f"values were not propagated (limit {MAX_PROPAGATED_ELEMENTS}), some may stay unknown")
            return False
    return True


def _onnx_infer(model: ModelProto, source: str, data_prop: bool, warnings: Optional[list[str]]) -> ModelProto:
    try:
        with native_memory_cap():
            return onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=False, data_prop=data_prop)
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        raise ModelError(f"{source}: ONNX shape inference failed: {str(exc).splitlines()[0]}") from None
    except MemoryError:
        if data_prop:               # propagated values grew too large: go on with what plain inference knows
            if warnings is not None:
                warnings.append("propagating tensor values through the graph needed more memory than allowed; "
                                "shapes computed from values may stay unknown")
            return _onnx_infer(model, source, False, warnings)
        raise ModelError(f"{source}: ONNX shape inference needs more than {MAX_NATIVE_PASS_BYTES >> 30} GB on this "
                         "model: a tensor declares a rank or length no runtime could hold") from None


def _forget_foreign_symbols(graph: GraphProto, symbols: set[str]) -> None:
    """Exporters name dims they could not work out (``Gemm419_dim_0``); ONNX inference keeps such a
    declared name over what it infers. Clearing them lets inference fill in the real dim."""
    for info in (*graph.output, *graph.value_info):
        for dim in info.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                value = parse_dim(dim.dim_param)
                if not isinstance(value, Poly) or not value.symbols() <= symbols:
                    dim.ClearField("dim_param")


def input_symbols(graph: GraphProto) -> set[str]:
    """Names of the dynamic dims of the model's inputs: the symbols totals may be formulas in."""
    found: set[str] = set()
    for info in graph_inputs(graph):
        for dim in info.type.tensor_type.shape.dim:
            if dim.HasField("dim_param"):
                value = parse_dim(dim.dim_param)
                if isinstance(value, Poly):
                    found |= value.symbols()
    return found


def collect_types(model: ModelProto, symbols: set[str], nested: bool = True) -> dict[str, TensorType]:
    """Types of all inputs, initializers, inferred values and outputs, in every graph (``nested``:
    the model may hold subgraphs; False reads the main graph only)."""
    types: dict[str, TensorType] = {}
    dims: dict[str, Dim] = {}
    by_proto: dict[bytes, Optional[TensorType]] = {}  # most tensors share a handful of types
    stored: dict[tuple, TensorType] = {}              # and most weights a handful of shapes
    for graph in iter_graphs(model.graph) if nested else (model.graph,):
        for tensor in graph.initializer:
            key = (tensor.data_type, tuple(tensor.dims))
            found = stored.get(key)
            if found is None:
                found = stored[key] = TensorType(*key)
            types[tensor.name] = found
        for info in (*graph.input, *graph.value_info, *graph.output):
            if info.name in types and types[info.name].is_known:
                continue
            key = info.type.SerializeToString()
            if key not in by_proto:
                by_proto[key] = _tensor_type(info.type, symbols, dims)
            if by_proto[key] is not None:
                types[info.name] = by_proto[key]
    return types


def _tensor_type(type_proto: TypeProto, symbols: set[str], cache: dict[str, Dim]) -> Optional[TensorType]:
    if not type_proto.HasField("tensor_type"):
        return None  # sequences, maps, optionals: not tensors
    tensor_type = type_proto.tensor_type
    shape = None
    if tensor_type.HasField("shape"):
        shape = tuple(_dim_of(d, symbols, cache) for d in tensor_type.shape.dim)
    return TensorType(tensor_type.elem_type, shape)


def _dim_of(dim, symbols: set[str], cache: dict[str, Dim]) -> Dim:
    if dim.HasField("dim_value"):
        return int(dim.dim_value)
    if not dim.HasField("dim_param"):
        return None
    text = dim.dim_param
    if text not in cache:
        value = parse_dim(text)
        # Only formulas in the inputs' symbols are meaningful; exporter-made names are unknowns.
        cache[text] = value if value is not None and (isinstance(value, int) or value.symbols() <= symbols) else None
    return cache[text]


def _record_shapes(graph: GraphProto, fixes: Mapping[str, tuple[Dim, ...]],
                   types: Mapping[str, TensorType]) -> bool:
    """Write ``fixes`` into the graph's value_info; True if that changed anything."""
    existing = {v.name: v for v in graph.value_info}
    changed = False
    for name, shape in fixes.items():
        info = existing.get(name)
        if info is None:
            info = graph.value_info.add()
            info.name = name
        before = info.type.SerializeToString()
        info.type.tensor_type.elem_type = types[name].dtype if name in types else 0
        _set_shape(info.type, shape)
        changed |= info.type.SerializeToString() != before
    return changed


def _set_shape(type_proto: TypeProto, dims) -> None:
    shape = type_proto.tensor_type.shape
    shape.ClearField("dim")
    for value in dims:
        dim = shape.dim.add()
        if isinstance(value, int):
            if 0 <= value <= MAX_ELEMENTS:   # a derived size past int64 (or negative) stays unknown
                dim.dim_value = value
        elif value is not None:
            dim.dim_param = format_quantity(value)


def _substitute_symbols(model: ModelProto, symbols: Mapping[str, int]) -> None:
    """Replace bound symbols in every declared shape (inputs, outputs, value_info), all graphs."""
    for graph in iter_graphs(model.graph):
        for info in (*graph.input, *graph.output, *graph.value_info):
            for dim in info.type.tensor_type.shape.dim:
                if not dim.HasField("dim_param"):
                    continue
                value = parse_dim(dim.dim_param)
                if isinstance(value, Poly) and value.symbols() & symbols.keys():
                    value = value.substitute(symbols)
                    if isinstance(value, int):
                        dim.dim_value = value
                    else:
                        dim.dim_param = format_quantity(value)


def _describe(shape) -> str:
    return "x".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in shape.dim)
