"""The model as a ``networkx.DiGraph``: the one structure every later stage reads.

Nodes are ONNX nodes keyed by a unique name, carrying ``op_type``, ``domain``, ``attributes``, the
ordered ``inputs``/``outputs`` tensor names, their topological ``order`` (also the nodes' iteration
order) and, for If/Loop/Scan, their ``subgraphs`` as nested DiGraphs with the outer tensors those
read as ``captured``. ``G.graph["values"]`` holds the small constant tensors (shapes, axes, trip
counts) as numpy arrays. An edge runs from producer to consumer and carries the
:class:`TensorInfo` of each tensor between them (usually one). Graph-level facts live in ``G.graph``:
``tensors`` (every tensor by name), ``inputs``, ``outputs``, ``weights`` and ``opsets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import networkx as nx
import numpy as np
from onnx import AttributeProto, GraphProto, ModelProto, TensorProto, helper, numpy_helper

from onnxprof.errors import ModelError, first_line
from onnxprof.model.dtypes import storage_bytes
from onnxprof.model.limits import MAX_ELEMENTS
from onnxprof.model.load import SMALL_TENSOR_BYTES, has_values, tensor_nbytes
from onnxprof.model.shapes import Dim, TensorType
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
    sizes = _Sizes()
    weights = {t.name for t in proto.initializer}
    inputs = [i.name for i in proto.input if i.name not in weights]   # IR < 4 lists weights as inputs too
    for name in inputs:
        tensors[name] = _tensor(name, types, INPUT, sizes)
    for name in weights:
        tensors[name] = _tensor(name, types, WEIGHT, sizes)

    values = {t.name: numpy_helper.to_array(t) for t in proto.initializer
              if tensor_nbytes(t) <= SMALL_TENSOR_BYTES and has_values(t)}
    producer: dict[str, str] = {}
    keys: set[str] = set()
    nodes: list[tuple[str, dict]] = []
    edges: dict[tuple[str, str], list[TensorInfo]] = {}
    foreign: set[str] = set()   # names read before this graph defines them: an enclosing graph's
    for order, node in enumerate(proto.node):
        op_type = node.op_type
        key = node.name or f"{op_type}_{order}"
        if key in keys:
            key = _unique_key(key, keys)
        keys.add(key)
        attributes, subgraphs, captured = {}, {}, []
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                subgraphs[attr.name] = _build(attr.g, types, opsets)
                captured.extend(subgraphs[attr.name].graph["captured"])
            elif attr.type == AttributeProto.GRAPHS:
                subgraphs[attr.name] = [_build(s, types, opsets) for s in attr.graphs]
                captured.extend(n for body in subgraphs[attr.name] for n in body.graph["captured"])
            else:
                attributes[attr.name] = _attribute_value(attr, key)
        input_names, output_names = tuple(node.input), tuple(node.output)
        kind = CONSTANT if op_type == "Constant" else ACTIVATION
        if kind == CONSTANT and output_names:
            value = _constant_value(attributes)
            if value is not None:
                values[output_names[0]] = value
        for name in output_names:
            if name:
                tensors[name] = _tensor(name, types, kind, sizes)
                producer[name] = key
        nodes.append((key, {"op_type": op_type, "domain": node.domain or "ai.onnx", "attributes": attributes,
                            "inputs": input_names, "outputs": output_names, "subgraphs": subgraphs,
                            "captured": tuple(dict.fromkeys(captured)) if captured else (), "order": order}))
        for name in (*input_names, *captured) if captured else input_names:
            source = producer.get(name)
            if source is None or source == key:
                if name not in tensors:
                    foreign.add(name)
                continue
            between = edges.setdefault((source, key), [])
            if tensors[name] not in between:
                between.append(tensors[name])
    g = nx.DiGraph(tensors=tensors, inputs=inputs, outputs=[o.name for o in proto.output], weights=weights,
                   opsets=opsets, values=values)
    g.add_nodes_from(key for key, _ in nodes)   # then each node's data: quicker than (key, data) pairs
    node_data = g.nodes
    for key, data in nodes:
        node_data[key].update(data)
    g.add_edges_from((u, v, {"tensors": tuple(infos)}) for (u, v), infos in edges.items())
    # Names this graph reads from an enclosing scope (If/Loop/Scan bodies): edges into the parent node.
    g.graph["captured"] = sorted(n for n in foreign if n and n not in tensors)
    return g


def _attribute_value(attr: AttributeProto, node: str):
    if attr.type == AttributeProto.UNDEFINED:     # its value would read as None, whatever it holds
        raise ModelError(f"node {node!r}: attribute {attr.name!r} has no type; the ONNX checker refuses it too "
                         "(drop --no-check to see why)")
    try:
        return helper.get_attribute_value(attr)
    except ValueError as exc:   # a reference to a function's attribute outside a function, an unset type
        raise ModelError(f"node {node!r}: attribute {attr.name!r} cannot be read ({first_line(exc)}); "
                         "the ONNX checker refuses it too (drop --no-check to see why)") from None


def _constant_value(attributes: dict):
    """A Constant node's value as numpy, when small and present (weights were stripped)."""
    for name in ("value_int", "value_float", "value_ints", "value_floats"):
        if name in attributes:
            return np.asarray(attributes[name])
    tensor = attributes.get("value")
    if isinstance(tensor, TensorProto) and has_values(tensor) and tensor_nbytes(tensor) <= SMALL_TENSOR_BYTES:
        return numpy_helper.to_array(tensor)
    return None


def _unique_key(name: str, taken: set[str]) -> str:
    """``name#2``, ``name#3``... the first not in ``taken``."""
    key, suffix = name, 1
    while key in taken:
        suffix += 1
        key = f"{name}#{suffix}"
    return key


class _Sizes(dict):
    """(elements, bytes) of each distinct TensorType, by identity: tensors share a handful of type
    objects, so each size is computed once (the type is kept, so its id stays its own)."""

    def of(self, found: TensorType) -> tuple[Optional[Quantity], Optional[Quantity]]:
        known = self.get(id(found))
        if known is None:
            known = self[id(found)] = (found, *_size(found))
        return known[1], known[2]


def _size(found: TensorType) -> tuple[Optional[Quantity], Optional[Quantity]]:
    if not found.is_known:
        return None, None
    elements = product(found.shape)
    if isinstance(elements, int) and not 0 <= elements <= MAX_ELEMENTS:
        return None, None   # not a tensor any runtime could hold
    return elements, storage_bytes(elements, found.dtype)


def _tensor(name: str, types: Mapping[str, TensorType], kind: str, sizes: _Sizes) -> TensorInfo:
    found = types.get(name)
    if found is None:
        return TensorInfo(name, 0, None, kind, None, None)
    elements, size_bytes = sizes.of(found)
    return TensorInfo(name, found.dtype, found.shape, kind, elements, size_bytes)
