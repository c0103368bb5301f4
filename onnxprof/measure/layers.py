"""Joining an engine's per-layer profile back to the ONNX nodes of the static analysis.

Engines rename what they fuse: ONNX Runtime names a fused kernel after one of its nodes or its output
tensor (``conv1.relu.out_nchwc``, ``bn.out_bn_nchwc`` for a BatchNorm run as a blocked depthwise conv,
``fused conv1``, ``act/QuickGeluFusion/`` for x·sigmoid(x)), TensorRT joins the names with " + ". Each
profiled layer is anchored to a static node (by node name, by the name of a tensor it produces, after
stripping the engine's decorations); every static node left without a layer was absorbed by a fusion
and is attributed to the nearest anchored node it connects to through other absorbed nodes —
downstream first (Conv+BN+ReLU named after the ReLU), then upstream (``fused Conv`` swallowing its
ReLU). A kernel whose name joins nothing is anchored to the node that wrote its output, where the engine
says which tensors it writes (ONNX Runtime's ``Gelu`` fusion of an Erf chain). A fused kernel's time is
then one row covering all its ONNX nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

import networkx as nx

from onnxprof.cost.analysis import COUNTED, StaticReport
from onnxprof.cost.registry import VIEW, lookup

_DECORATION = re.compile(r"^(fused |_)|(_bn_nchwc|_nchwc|_token_\d+|_kernel_time|/[^/]*_output_\d+|/\w+Fusion/?)$")


@dataclass(frozen=True)
class LayerRow:
    name: str                        # the engine's layer name
    onnx_nodes: tuple[str, ...]      # the static nodes it covers
    op_types: tuple[str, ...]
    measured_ms: float
    predicted_ms: Optional[float]    # covered MACs ÷ the device rate (None when they have no MACs)
    macs: int


def join_layers(report: StaticReport, profile: list[dict], macs_per_s: float) -> list[LayerRow]:
    graph = report.graph
    producers = {o: key for key, data in graph.nodes(data=True) for o in data["outputs"] if o}
    anchors: dict[str, str] = {}                 # static node -> profile layer name
    for layer in profile:
        for candidate in layer.get("nodes") or [layer["name"]]:
            _claim(anchors, _anchor(candidate, graph, producers), layer["name"])
    # a kernel the engine named itself (a fusion named "Gelu") ran the nodes that wrote the tensors it
    # writes; not a view the engine inserted, which only inherits the name of a tensor another kernel made
    kernels = [layer for layer in profile if not _is_view(layer.get("op_type", ""))]
    for layer in kernels:
        for output in layer.get("outputs") or ():
            _claim(anchors, _anchor(output, graph, producers), layer["name"])
    # one whose tensors all have made-up names (a Gelu between two blocked convolutions) ran the
    # unclaimed nodes between the kernels that feed it and those it feeds
    joined = set(anchors.values())
    writer = {t: layer["name"] for layer in profile for t in layer.get("outputs") or ()}
    reader: dict[str, list[str]] = {}
    for layer in profile:
        for t in layer.get("inputs") or ():
            reader.setdefault(t, []).append(layer["name"])
    for layer in kernels:
        if layer["name"] in joined or not layer.get("inputs"):
            continue
        before = {writer[t] for t in layer["inputs"] if t in writer}
        after = {r for t in layer.get("outputs") or () for r in reader.get(t, ())}
        for node in _between(graph, anchors, before, after):
            anchors[node] = layer["name"]
    covered: dict[str, list[str]] = {layer["name"]: [] for layer in profile}
    for node in graph.nodes:
        owner = anchors.get(node) or _absorbing_layer(graph, node, anchors)
        if owner is not None:
            covered[owner].append(node)
    by_name = {n.name: n for n in report.nodes}
    rows = []
    for layer in profile:
        nodes = tuple(covered[layer["name"]])
        macs = sum(by_name[n].macs for n in nodes if by_name[n].status == COUNTED and isinstance(by_name[n].macs, int))
        rows.append(LayerRow(layer["name"], nodes, tuple(dict.fromkeys(op_class(graph.nodes[n]) for n in nodes)),
                             float(layer["time_ms"]), macs / macs_per_s * 1000 if macs else None, macs))
    return rows


def _claim(anchors: dict[str, str], node: Optional[str], layer: str) -> None:
    if node is not None and node not in anchors:
        anchors[node] = layer


def _between(graph: nx.DiGraph, anchors: Mapping[str, str], before: set[str], after: set[str]) -> set[str]:
    """The nodes no layer claims on paths from a node of a layer in ``before`` to one of a layer in ``after``."""
    def reach(starts, step) -> set[str]:
        seen, frontier = set(), [n for n in starts for n in step(n) if n not in anchors]
        while frontier:
            node = frontier.pop()
            if node not in seen:
                seen.add(node)
                frontier.extend(n for n in step(node) if n not in anchors)
        return seen

    sources = [n for n, layer in anchors.items() if layer in before]
    sinks = [n for n, layer in anchors.items() if layer in after]
    return reach(sources, graph.successors) & reach(sinks, graph.predecessors)


def _is_view(op_type: str) -> bool:
    entry = lookup("", op_type)
    return entry is not None and entry.moves == VIEW


def op_class(data: Mapping) -> str:
    """The op type, with grouped convolutions told apart: a depthwise or grouped Conv runs at a very
    different fraction of the roofline than a dense one, so predictors fit them separately."""
    if data["op_type"] == "Conv" and data["attributes"].get("group", 1) > 1:
        return "Conv(grouped)"
    return data["op_type"]


def _anchor(name: str, graph: nx.DiGraph, producers: Mapping[str, str]) -> Optional[str]:
    for candidate in (name, _DECORATION.sub("", name), _DECORATION.sub("", _DECORATION.sub("", name))):
        if candidate in graph:
            return candidate
        if candidate in producers:
            return producers[candidate]
    return None


def _absorbing_layer(graph: nx.DiGraph, node: str, anchors: Mapping[str, str]) -> Optional[str]:
    for neighbours in (graph.successors, graph.predecessors):
        seen, frontier = {node}, [node]
        while frontier:
            nxt = []
            for current in frontier:
                for other in neighbours(current):
                    if other in anchors:
                        return anchors[other]
                    if other not in seen:
                        seen.add(other)
                        nxt.append(other)
            frontier = nxt
    return None
