"""Parameters: the weight tensors a model's computation reads, each counted once.

A parameter is a constant tensor (initializer, Constant output, or computed from constants only) that
a computing node reads, with rank ≥ 1 (rank-0 literals such as the 0.5 of a Gelu are constants, not
parameters) and a floating or quantized (8-bit and narrower integer) type: int64/int32 tensors are
shapes, axes and indices.
"""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass
from typing import Mapping

import networkx as nx

from onnxprof.cost.nbits import unpacked_table, unpacked_weight
from onnxprof.model.dtypes import FLOATING, QUANTIZED, dtype_name
from onnxprof.model.graph import CONSTANT, WEIGHT, TensorInfo


@dataclass(frozen=True)
class DtypeShare:
    dtype: str
    elements: int
    bytes: int


@dataclass(frozen=True)
class ParameterSummary:
    elements: int
    bytes: int
    tensors: int
    by_dtype: tuple[DtypeShare, ...]


# Not constant computation even on constant inputs: random ops, and DequantizeLinear, whose quantized
# input is the parameter of a QDQ graph (its float output is an activation).
# Ops that rearrange a constant without changing its values: their output is the same parameter.
_SAME_VALUES = {"Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"}
# Contrib ops reading packed codes: the input that holds them, and the weight it stands for.
_PACKED = {"MatMulNBits": (1, unpacked_weight), "GatherBlockQuantized": (0, unpacked_table)}
_NOT_FOLDED = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Bernoulli",
               "Multinomial", "DequantizeLinear"}


def is_parameter(info: TensorInfo) -> bool:
    """Has the type and rank of a parameter (whether it is one depends on who reads it)."""
    return (info.shape is not None and len(info.shape) >= 1 and info.dtype in FLOATING | QUANTIZED
            and isinstance(info.elements, int))


def parameter_tensors(graph: nx.DiGraph, scope: Mapping[str, TensorInfo] = None,
                      outer_constants: frozenset = frozenset(),
                      outer_aliases: Mapping[str, str] = None) -> dict[str, TensorInfo]:
    """Parameters read by the graph and its subgraphs: tensor name as read -> the parameter's info.

    Constant tensors are initializers, Constant outputs and whatever deterministic nodes compute from
    constants alone (old ONNX-zoo models build their weights with ConstantOfShape at run time). A
    constant is a parameter where a node that is not itself constant computation reads it: a weight
    cast to float16 counts once, as the float16 tensor the Conv reads. A transposed or reshaped
    weight is the same parameter (a tied embedding read by Gather and, transposed, by MatMul counts
    once): several names may then map to one TensorInfo; count by ``info.name``.
    """
    tensors = ChainMap(graph.graph["tensors"], scope) if scope is not None else graph.graph["tensors"]
    constant = set(outer_constants)
    constant.update(name for name, info in graph.graph["tensors"].items() if info.kind in (WEIGHT, CONSTANT))
    aliases: dict[str, str] = dict(outer_aliases or {})
    found: dict[str, TensorInfo] = {}
    for _, data in graph.nodes(data=True):
        names = [n for n in data["inputs"] if n]
        if names and constant.issuperset(names) and data["op_type"] != "Constant" \
                and data["op_type"] not in _NOT_FOLDED and not data["subgraphs"]:
            constant.update(o for o in data["outputs"] if o)   # constant computation: not a reader
            if data["op_type"] in _SAME_VALUES and data["outputs"]:
                aliases[data["outputs"][0]] = aliases.get(names[0], names[0])
            continue
        for name in names:
            root = aliases.get(name, name)
            info = tensors.get(root)
            if root in constant and info is not None and is_parameter(info):
                found[name] = info
        packed = _PACKED.get(data["op_type"]) if data["domain"] == "com.microsoft" else None
        if packed is not None:   # codes packed into bytes: count each weight
            index, unpack = packed
            name = data["inputs"][index] if index < len(data["inputs"]) else ""
            if name in found:
                found[name] = unpack(found[name], data["attributes"]) or found[name]
        for sub in data["subgraphs"].values():
            for body in (sub if isinstance(sub, list) else [sub]):
                found.update(parameter_tensors(body, tensors, frozenset(constant), aliases))
    return found


def summarize_parameters(params: dict[str, TensorInfo]) -> ParameterSummary:
    unique = {info.name: info for info in params.values()}
    by_dtype: dict[int, list[int]] = {}
    for info in unique.values():
        share = by_dtype.setdefault(info.dtype, [0, 0])
        share[0] += info.elements
        share[1] += info.size_bytes or 0
    shares = tuple(DtypeShare(dtype_name(d), e, b) for d, (e, b) in sorted(by_dtype.items(), key=lambda x: -x[1][1]))
    return ParameterSummary(elements=sum(s.elements for s in shares), bytes=sum(s.bytes for s in shares),
                            tensors=len(unique), by_dtype=shares)
