"""Does a node agree with its op's definition? A node that does not cannot run, so it is reported as
invalid, with the reason, and counted nowhere.

Two layers. :func:`schema_violation` checks, once for every op with a schema (``onnx.defs`` for the
standard domains, a short list for the ONNX Runtime contrib ops onnxprof costs): input and output
counts, required attributes, attribute types, attribute values that can only be positive, and the
element types of inputs and outputs bound to one type parameter (Add(float, int64)). The ONNX checker
does most of this, but ``--no-check`` and in-memory analysis skip it, and it never compares types.
Then each formula checks what only its op knows (a Conv's channels and groups, a Reshape's target)
with the helpers below, which raise :class:`InvalidNode`. Both check only what is known: an unknown
shape or value is never a violation.

Schemas are looked up once per (domain, op type, opset) and cached; a node then costs a few look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping, NoReturn, Optional, Sequence

import onnx.defs
from onnx import AttributeProto, GraphProto, SparseTensorProto, TensorProto, TypeProto

from onnxprof.cost.registry import DEFAULT_DOMAIN, InvalidNode, NodeContext
from onnxprof.model.dtypes import dtype_name

A = AttributeProto
_KIND_WORDS = {A.INT: "an int", A.FLOAT: "a float", A.STRING: "a string", A.TENSOR: "a tensor", A.GRAPH: "a graph",
               A.SPARSE_TENSOR: "a sparse tensor", A.TYPE_PROTO: "a type", A.INTS: "a list of ints",
               A.FLOATS: "a list of floats", A.STRINGS: "a list of strings", A.TENSORS: "a list of tensors",
               A.GRAPHS: "a list of graphs", A.SPARSE_TENSORS: "a list of sparse tensors",
               A.TYPE_PROTOS: "a list of types"}
# The Python value onnx.helper.get_attribute_value gives for each attribute type (the graph keeps those).
_SCALAR_KIND = {int: A.INT, float: A.FLOAT, bytes: A.STRING, TensorProto: A.TENSOR, GraphProto: A.GRAPH,
                SparseTensorProto: A.SPARSE_TENSOR, TypeProto: A.TYPE_PROTO}
_LIST_KIND = {int: A.INTS, float: A.FLOATS, bytes: A.STRINGS, TensorProto: A.TENSORS, GraphProto: A.GRAPHS,
              SparseTensorProto: A.SPARSE_TENSORS, TypeProto: A.TYPE_PROTOS}
_LIST_KINDS = frozenset(_LIST_KIND.values())
_TENSOR_TYPES = {f"tensor({name.lower()})": value for name, value in TensorProto.DataType.items()}
_ANY = (0, 1 << 30)


@dataclass(frozen=True, eq=False)   # one object per (domain, op type, opset): compared and hashed by identity
class SchemaRules:
    """What an op's schema demands of a node, precomputed for quick checks."""

    inputs: tuple[int, int] = _ANY            # fewest and most inputs (trailing empty names count)
    outputs: tuple[int, int] = _ANY
    required_inputs: tuple[int, ...] = ()    # positions that may not be left empty
    required: tuple[str, ...] = ()           # attributes that must be present
    attributes: Mapping[str, int] = field(default_factory=dict)   # name -> AttributeProto type
    input_params: tuple[Optional[str], ...] = ()   # type parameter of each declared input; None: unchecked
    output_params: tuple[Optional[str], ...] = ()
    variadic_input: bool = False              # the last declared input repeats (homogeneous: same parameter)
    variadic_output: bool = False
    allowed: Mapping[str, frozenset[int]] = field(default_factory=dict)   # parameter -> element types


# ONNX Runtime's contrib schemas are not in onnx.defs: the attributes the formulas read, and which of
# them its schemas require (onnxruntime/core/graph/contrib_ops).
_CONV = {"group": A.INT, "kernel_shape": A.INTS, "strides": A.INTS, "pads": A.INTS, "dilations": A.INTS,
         "auto_pad": A.STRING}
_CONTRIB: dict[str, tuple[dict[str, int], tuple[str, ...]]] = {
    "MatMulNBits": ({"K": A.INT, "N": A.INT, "bits": A.INT, "block_size": A.INT}, ("K", "N", "block_size")),
    "GatherBlockQuantized": ({"bits": A.INT, "block_size": A.INT, "gather_axis": A.INT, "quantize_axis": A.INT}, ()),
    "Attention": ({"num_heads": A.INT, "qkv_hidden_sizes": A.INTS}, ("num_heads",)),
    "QAttention": ({"num_heads": A.INT, "qkv_hidden_sizes": A.INTS}, ("num_heads",)),
    "PackedAttention": ({"num_heads": A.INT, "qkv_hidden_sizes": A.INTS}, ("num_heads",)),
    "MultiHeadAttention": ({"num_heads": A.INT}, ("num_heads",)),
    "GroupQueryAttention": ({"num_heads": A.INT, "kv_num_heads": A.INT}, ("num_heads", "kv_num_heads")),
    "RotaryEmbedding": ({"num_heads": A.INT, "rotary_embedding_dim": A.INT}, ()),
    "FusedConv": ({**_CONV, "activation": A.STRING}, ()),
    "NhwcConv": (_CONV, ()),
    "QLinearConv": (_CONV, ()),
    "FusedGemm": ({"transA": A.INT, "transB": A.INT, "alpha": A.FLOAT, "beta": A.FLOAT, "activation": A.STRING}, ()),
    "FusedMatMul": ({"transA": A.INT, "transB": A.INT, "transBatchA": A.INT, "transBatchB": A.INT,
                     "alpha": A.FLOAT}, ()),
    "QGemm": ({"transA": A.INT, "transB": A.INT, "alpha": A.FLOAT}, ()),
    "GridSample": ({"mode": A.STRING}, ()),
}


@lru_cache(maxsize=None)
def rules_for(domain: str, op_type: str, opset: int) -> Optional[SchemaRules]:
    """The rules of ``op_type`` as of ``opset`` of its domain, or None when no schema is known (a
    custom op, an opset before the op existed): nothing is then checked."""
    if domain == "com.microsoft":
        known = _CONTRIB.get(op_type)
        return None if known is None else SchemaRules(required=known[1], attributes=known[0])
    if opset <= 0:
        return None
    try:
        schema = onnx.defs.get_schema(op_type, opset, "" if domain == DEFAULT_DOMAIN else domain)
    except onnx.defs.SchemaError:
        return None
    return _rules(schema)


def _rules(schema) -> SchemaRules:
    allowed = {}
    for constraint in schema.type_constraints:
        types = frozenset(_TENSOR_TYPES[t] for t in constraint.allowed_type_strs if t in _TENSOR_TYPES)
        if types:   # a parameter of sequences or optionals only: their element types are not tracked
            allowed[constraint.type_param_str] = types
    for formal in (*schema.inputs, *schema.outputs):   # a concrete type such as tensor(int64)
        if formal.type_str in _TENSOR_TYPES:
            allowed[formal.type_str] = frozenset({_TENSOR_TYPES[formal.type_str]})
    single = onnx.defs.OpSchema.FormalParameterOption.Single
    return SchemaRules(
        inputs=(schema.min_input, schema.max_input), outputs=(schema.min_output, schema.max_output),
        required_inputs=tuple(i for i, f in enumerate(schema.inputs) if f.option == single),
        required=tuple(sorted(a.name for a in schema.attributes.values() if a.required)),
        attributes={a.name: int(a.type) for a in schema.attributes.values()},
        input_params=_params(schema.inputs, allowed), output_params=_params(schema.outputs, allowed),
        variadic_input=_variadic(schema.inputs), variadic_output=_variadic(schema.outputs), allowed=allowed)


def _params(formals, allowed) -> tuple[Optional[str], ...]:
    variadic = onnx.defs.OpSchema.FormalParameterOption.Variadic
    return tuple(f.type_str if f.type_str in allowed and (f.option != variadic or f.is_homogeneous) else None
                 for f in formals)


def _variadic(formals) -> bool:
    return bool(formals) and formals[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic


def schema_violation(rules: Optional[SchemaRules], op_type: str, attributes: Mapping[str, Any],
                     subgraphs: Mapping[str, Any], input_names: Sequence[str], output_names: Sequence[str],
                     inputs: Sequence, outputs: Sequence) -> str:
    """Why the node contradicts its op's schema (``rules``), or "" when it does not (or none is known).
    ``inputs``/``outputs``: the tensors whose element types are to be judged (None: not judged)."""
    if rules is None:
        return ""
    # Each check runs only where it has something to look at: most nodes pass in a few look-ups.
    return (_count_violation(rules, input_names, output_names)
            or (_attribute_violation(rules, op_type, attributes, subgraphs)
                if attributes or subgraphs or rules.required else "")
            or (_type_violation(rules, op_type, inputs, outputs) if rules.allowed else ""))


def _count_violation(rules: SchemaRules, input_names: Sequence[str], output_names: Sequence[str]) -> str:
    low, high = rules.inputs
    if not low <= len(input_names) <= high:
        return _count_words(len(input_names), "inputs", low, high)
    low, high = rules.outputs
    if not low <= len(output_names) <= high:
        return _count_words(len(output_names), "outputs", low, high)
    for index in rules.required_inputs:
        if index < len(input_names) and not input_names[index]:
            return f"required input {index} is left empty"
    return ""


def _count_words(count: int, what: str, low: int, high: int) -> str:
    expected = f"{low}" if low == high else f"{low} to {high}" if high < _ANY[1] else f"at least {low}"
    return f"has {count} {what}, the op takes {expected}"


def _attribute_violation(rules: SchemaRules, op_type: str, attributes: Mapping[str, Any],
                         subgraphs: Mapping[str, Any]) -> str:
    for name in rules.required:
        if name not in attributes and name not in subgraphs:
            return f"required attribute '{name}' is missing"
    types = rules.attributes
    for name, value in attributes.items():
        expected = types.get(name)
        if expected is None:
            continue
        kind = _kind(value)
        if kind != expected and not (kind is None and expected in _LIST_KINDS):   # [] fits any list type
            given = _KIND_WORDS.get(kind, "an empty list")
            return f"attribute '{name}' is {given}, the op takes {_KIND_WORDS[expected]}"
        check = _OP_VALUE_RULES.get((op_type, name), _VALUE_RULES.get(name))
        if check is not None:
            problem = check(value)
            if problem:
                return f"attribute '{name}' is {_shown(value)}: {problem}"
    for name, sub in subgraphs.items():
        expected, kind = types.get(name), A.GRAPHS if isinstance(sub, list) else A.GRAPH
        if expected is not None and kind != expected:
            return f"attribute '{name}' is {_KIND_WORDS[kind]}, the op takes {_KIND_WORDS[expected]}"
    return ""


def _kind(value: Any) -> Optional[int]:
    """The AttributeProto type a decoded attribute value has; None for an empty list."""
    if isinstance(value, list):
        return _LIST_KIND.get(type(value[0])) if value else None
    return _SCALAR_KIND.get(type(value))


def _positive(value: Any) -> str:
    values = value if isinstance(value, list) else (value,)
    return "" if all(v > 0 for v in values) else "must be positive"


def _not_negative(value: Any) -> str:
    values = value if isinstance(value, list) else (value,)
    return "" if all(v >= 0 for v in values) else "must not be negative"


def _anything(value: Any) -> str:
    return ""


# Attribute values that make no sense below these bounds, whatever the op (names as ONNX and ONNX
# Runtime use them; checked only where the op's schema declares the attribute with an int type).
_VALUE_RULES = {name: _positive for name in (
    "group", "num_groups", "num_heads", "q_num_heads", "kv_num_heads", "hidden_size", "kernel_shape", "strides",
    "dilations", "blocksize", "K", "N", "bits", "size", "num_scan_inputs", "num_outputs",
    "pooled_shape")}
_VALUE_RULES["pads"] = _not_negative
# Where one op gives a name another meaning: Pad's pads may crop; RotaryEmbedding's num_heads is 0
# unless the rotation is partial (exporters write the 0).
_OP_VALUE_RULES = {("Pad", "pads"): _anything, ("RotaryEmbedding", "num_heads"): _not_negative}


def _shown(value: Any) -> str:
    return str(list(value)) if isinstance(value, list) else str(value)


_TYPES_AGREE: set[tuple] = set()   # (rules, input dtypes, output dtypes) already found consistent


def _type_violation(rules: SchemaRules, op_type: str, inputs: Sequence, outputs: Sequence) -> str:
    # Most nodes repeat a handful of signatures: judge each once.
    key = (rules, tuple([0 if t is None else t.dtype for t in inputs]),
           tuple([0 if t is None else t.dtype for t in outputs]))
    if key in _TYPES_AGREE:
        return ""
    reason = _judge_types(rules, inputs, outputs)
    if not reason:
        _TYPES_AGREE.add(key)
    return reason


def _judge_types(rules: SchemaRules, inputs: Sequence, outputs: Sequence) -> str:
    seen: dict[str, Any] = {}   # type parameter -> the first tensor bound to it
    for role, tensors, params, variadic in (("input", inputs, rules.input_params, rules.variadic_input),
                                            ("output", outputs, rules.output_params, rules.variadic_output)):
        last = len(params) - 1
        for index, tensor in enumerate(tensors):
            if tensor is None or not tensor.dtype:
                continue
            param = params[index] if index <= last else params[last] if variadic and last >= 0 else None
            if param is None:
                continue
            if tensor.dtype not in rules.allowed[param]:
                return (f"{role} '{tensor.name}' is {dtype_name(tensor.dtype)}, which the op does not take there "
                        f"(type {param})")
            first = seen.setdefault(param, tensor)
            if first.dtype != tensor.dtype:
                return (f"{role} '{tensor.name}' is {dtype_name(tensor.dtype)} but '{first.name}' is "
                        f"{dtype_name(first.dtype)}: both are type {param}, which must be one type")
    return ""


# -- helpers for the formulas: each raises InvalidNode with the reason -----------------------------

def fail(reason: str) -> NoReturn:
    raise InvalidNode(reason)


def require(condition: bool, reason: str) -> None:
    if not condition:
        raise InvalidNode(reason)


def required(ctx: NodeContext, name: str) -> Any:
    """A required attribute's value. The schema check finds a missing one first where the op's schema
    is known; this covers the rest (an opset the model does not import, ONNX Runtime's ops)."""
    value = ctx.attr(name)
    if value is None:
        fail(f"required attribute '{name}' is missing")
    return value


def int_dims(shape: Optional[Sequence]) -> Optional[tuple[int, ...]]:
    """``shape`` when every dim is a concrete int, else None (a check that needs them is skipped)."""
    if shape is None or not all(type(d) is int for d in shape):
        return None
    return tuple(shape)


def known(dim: Any) -> bool:
    return type(dim) is int


def differ(a: Any, b: Any) -> bool:
    """Both dims are known ints, and unequal: a contradiction (an unknown dim never is one)."""
    return type(a) is int and type(b) is int and a != b


def axis_index(axis: Any, rank: Optional[int], name: str = "axis", extra: int = 0) -> Optional[int]:
    """``axis`` normalised into [0, rank + extra); fails when it lies outside [-rank - extra, rank + extra).
    None when the rank is unknown."""
    if not isinstance(axis, int):
        fail(f"{name} {axis!r} is not an int")
    if rank is None:
        return None
    span = rank + extra
    if not (-span <= axis < span):
        fail(f"{name} {axis} is out of range for rank {rank} (valid: {-span} to {span - 1})")
    return axis % span if span else 0


def axes_indices(axes: Sequence, rank: Optional[int], name: str = "axes") -> Optional[list[int]]:
    """Each of ``axes`` in range and named once; None when the rank is unknown."""
    found = [axis_index(int(a), rank, name) for a in axes]
    if rank is None:
        return None
    if len(set(found)) != len(found):
        fail(f"{name} {list(int(a) for a in axes)} names an axis twice")
    return found


def check_broadcast(shapes: Sequence[Optional[Sequence]], what: str = "inputs") -> None:
    """Numpy-style broadcasting: aligned from the right, each dim equal or 1 (unknown dims pass)."""
    if len(shapes) == 2 and shapes[0] == shapes[1]:
        return   # the common case: operands of one shape
    for offset in range(1, max((len(s) for s in shapes if s is not None), default=0) + 1):
        size = 1
        for shape in shapes:
            if shape is None or offset > len(shape):
                continue
            dim = shape[-offset]
            if not known(dim) or dim == 1:
                continue
            if size not in (1, dim):
                fail(f"{what} do not broadcast: {_shapes_text(shapes)}")
            size = dim


def check_unidirectional(shape: Optional[Sequence], target: Sequence, what: str) -> None:
    """``shape`` broadcasts to ``target`` (Gemm's C to [M, N]): no longer, each dim 1 or equal."""
    if shape is None:
        return
    if len(shape) > len(target):
        fail(f"{what} {_shape_text(shape)} has more dims than {_shape_text(target)}")
    for dim, goal in zip(reversed(shape), reversed(target)):
        if dim != 1 and differ(dim, goal):
            fail(f"{what} {_shape_text(shape)} does not broadcast to {_shape_text(target)}")


def check_window(ctx: NodeContext, spatial: Optional[int]) -> None:
    """Convolution and pooling attributes: one kernel size, stride and dilation per spatial axis, a
    begin and an end pad for each."""
    if spatial is None:
        return
    for name in ("kernel_shape", "strides", "dilations"):
        value = ctx.attr(name)
        if value is not None and len(value) != spatial:
            fail(f"{name} {_shown(value)} has {len(value or ())} values for {spatial} spatial axes")
    pads = ctx.attr("pads")
    if pads is not None and len(pads) != 2 * spatial:
        fail(f"pads {_shown(pads)} has {len(pads or ())} values, {2 * spatial} expected (begin and end per axis)")


def text_attr(ctx: NodeContext, name: str, default: str, allowed: Sequence[str]) -> str:
    """A string attribute decoded, and one of ``allowed``."""
    value = ctx.attr(name, default)
    value = value.decode(errors="replace") if isinstance(value, bytes) else value
    if value not in allowed:
        fail(f"{name} '{value}' is not one of {', '.join(allowed)}")
    return value


def indivisible(part: Any, whole: Any) -> bool:
    """``part`` does not divide ``whole``, both known ints (a part of 0 or less divides nothing)."""
    return known(part) and known(whole) and (part <= 0 or whole % part != 0)


def check_heads(heads: Any, width: Any, what: str) -> None:
    """A width (``what``: "Q's width") holds a whole number of heads."""
    if indivisible(heads, width):
        fail(f"{what} {width} does not split into {heads} heads")


def _shape_text(shape: Sequence) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _shapes_text(shapes: Sequence[Optional[Sequence]]) -> str:
    return ", ".join("?" if s is None else _shape_text(s) for s in shapes)
