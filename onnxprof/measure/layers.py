"""Joining an engine's per-layer profile back to the ONNX nodes of the static analysis.

Engines rename what they fuse: ONNX Runtime names a fused kernel after one of its nodes or its output
tensor (``conv1.relu.out_nchwc``, ``bn.out_bn_nchwc`` for a BatchNorm run as a blocked depthwise conv,
``fused conv1``, ``act/QuickGeluFusion/`` for x·sigmoid(x)), TensorRT joins the names with " + ". Each
profiled layer is anchored to a static node (by node name, by the name of a tensor it produces, after
stripping the engine's decorations); every static node left without a layer was absorbed by a fusion
and is attributed to the nearest anchored node it connects to through other absorbed nodes —
downstream first (Conv+BN+ReLU named after the ReLU), then upstream (``fused Conv`` swallowing its
ReLU). A fused kernel's time is then one row covering all its ONNX nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Optional

import networkx as nx

from onnxprof.cost.analysis import COUNTED, StaticReport

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
            node = _anchor(candidate, graph, producers)
            if node is not None and node not in anchors:
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
