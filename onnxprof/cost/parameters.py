"""Parameters: the weight tensors a model's computation reads, each counted once.

A parameter is an initializer or Constant output that feeds at least one node, has rank ≥ 1 (rank-0
literals such as the 0.5 of a Gelu are constants, not parameters) and a floating or quantized
(8-bit and narrower integer) type: int64/int32 tensors are shapes, axes and indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

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


def is_parameter(info: TensorInfo) -> bool:
    return (info.kind in (WEIGHT, CONSTANT) and info.shape is not None and len(info.shape) >= 1
            and info.dtype in FLOATING | QUANTIZED and isinstance(info.elements, int))


def parameter_tensors(graph: nx.DiGraph) -> dict[str, TensorInfo]:
    """Parameters read by the graph and its subgraphs, by name (so shared tensors count once)."""
    found: dict[str, TensorInfo] = {}
    tensors = graph.graph["tensors"]
    for _, data in graph.nodes(data=True):
        for name in data["inputs"]:
            info = tensors.get(name)
            if info is not None and is_parameter(info):
                found[name] = info
        for sub in data["subgraphs"].values():
            for body in (sub if isinstance(sub, list) else [sub]):
                found.update(parameter_tensors(body))
    return found


def summarize_parameters(params: dict[str, TensorInfo]) -> ParameterSummary:
    by_dtype: dict[int, list[int]] = {}
    for info in params.values():
        share = by_dtype.setdefault(info.dtype, [0, 0])
        share[0] += info.elements
        share[1] += info.size_bytes or 0
    shares = tuple(DtypeShare(dtype_name(d), e, b) for d, (e, b) in sorted(by_dtype.items(), key=lambda x: -x[1][1]))
    return ParameterSummary(elements=sum(s.elements for s in shares), bytes=sum(s.bytes for s in shares),
                            tensors=len(params), by_dtype=shares)
