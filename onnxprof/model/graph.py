"""The model as a ``networkx.DiGraph``: the one structure every later stage reads.

Nodes are ONNX nodes keyed by a unique name, carrying ``op_type``, ``domain``, ``attributes``, the
ordered ``inputs``/``outputs`` tensor names, their topological ``order`` and, for If/Loop/Scan, their
``subgraphs`` as nested DiGraphs. An edge runs from producer to consumer and carries the
:class:`TensorInfo` of each tensor between them (usually one). Graph-level facts live in ``G.graph``:
``tensors`` (every tensor by name), ``inputs``, ``outputs``, ``weights`` and ``opsets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import networkx as nx
from onnx import AttributeProto, GraphProto, ModelProto, helper

from onnxprof.model.dtypes import storage_bytes
from onnxprof.model.shapes import Dim, TensorType, graph_inputs
from onnxprof.symbolic import Quantity, product

INPUT, WEIGHT, CONSTANT, ACTIVATION = "input", "weight", "constant", "activation"


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: int
    shape: Optional[tuple[Dim, ...]]
    kind: str                         # input | weight | constant | activation
    elements: Optional[Quantity]      # None when any dim is unknown
    size_bytes: Optional[Quantity]

    @property
    def is_known(self) -> bool:
        return self.elements is not None


def build_graph(model: ModelProto, types: Mapping[str, TensorType]) -> nx.DiGraph:
    """Turn an inferred model into the analysis graph."""
    opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
    graph = _build(model.graph, types, opsets)
    graph.graph["name"] = model.graph.name
    return graph


def _build(proto: GraphProto, types: Mapping[str, TensorType], opsets: dict) -> nx.DiGraph:
    tensors: dict[str, TensorInfo] = {}
    weights = {t.name for t in proto.initializer}
    constants = {o for n in proto.node if n.op_type == "Constant" for o in n.output}
    for info in graph_inputs(proto):
        tensors[info.name] = _tensor(info.name, types, INPUT)
    for name in weights:
        tensors[name] = _tensor(name, types, WEIGHT)

    g = nx.DiGraph(tensors=tensors, inputs=[i.name for i in graph_inputs(proto)],
                   outputs=[o.name for o in proto.output], weights=weights, opsets=opsets)
    producer: dict[str, str] = {}
    keys: set[str] = set()
    reads: set[str] = set()
    for order, node in enumerate(proto.node):
        key = _unique_key(node.name or f"{node.op_type}_{order}", keys)
        attributes, subgraphs = {}, {}
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                subgraphs[attr.name] = _build(attr.g, types, opsets)
            elif attr.type == AttributeProto.GRAPHS:
                subgraphs[attr.name] = [_build(s, types, opsets) for s in attr.graphs]
            else:
                attributes[attr.name] = helper.get_attribute_value(attr)
        for name in node.output:
            if name:
                tensors[name] = _tensor(name, types, CONSTANT if name in constants else ACTIVATION)
                producer[name] = key
        g.add_node(key, op_type=node.op_type, domain=node.domain or "ai.onnx", attributes=attributes,
                   inputs=tuple(node.input), outputs=tuple(node.output), subgraphs=subgraphs, order=order)
        used = list(node.input)
        for sub in subgraphs.values():
            for body in (sub if isinstance(sub, list) else [sub]):
                used.extend(body.graph["captured"])
        reads.update(used)
        for name in used:
            source = producer.get(name)
            if source is None or source == key:
                continue
            info = tensors[name]
            if g.has_edge(source, key):
                edge = g.edges[source, key]
                if info not in edge["tensors"]:
                    edge["tensors"] = edge["tensors"] + (info,)
            else:
                g.add_edge(source, key, tensors=(info,))
    # Names a subgraph reads from its enclosing scope: they become edges into the control-flow node.
    g.graph["captured"] = sorted(n for n in reads if n and n not in tensors)
    return g


def _unique_key(name: str, taken: set[str]) -> str:
    key, suffix = name, 1
    while key in taken:
        suffix += 1
        key = f"{name}#{suffix}"
    taken.add(key)
    return key


def _tensor(name: str, types: Mapping[str, TensorType], kind: str) -> TensorInfo:
    found = types.get(name)
    if found is None:
        return TensorInfo(name, 0, None, kind, None, None)
    elements: Optional[Quantity] = None
    if found.is_known:
        elements = product(found.shape)
    size = storage_bytes(elements, found.dtype) if elements is not None else None
    return TensorInfo(name, found.dtype, found.shape, kind, elements, size)
