"""Activation memory: buffer liveness along the topological order.

Every input and activation tensor is a buffer, allocated when produced (inputs: before the first
node) and freed after its last reader; graph outputs live to the end. View ops (Reshape, Squeeze...)
alias their input's buffer instead of allocating. The peak is the largest total of live buffers at
any node, the node's inputs and outputs both live. Symbolic sizes are compared as the symbols grow
(see :func:`onnxprof.symbolic.greater`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Optional

import networkx as nx

from onnxprof.cost.registry import VIEW, lookup
from onnxprof.model.graph import ACTIVATION
from onnxprof.symbolic import Quantity, greater


@dataclass(frozen=True)
class ActivationPeak:
    peak_bytes: Quantity
    peak_at: Optional[str]        # the node during which the peak occurs
    unknown_tensors: int          # buffers of unknown size, left out of the peak


def activation_peak(graph: nx.DiGraph, unknown: Collection[str] = ()) -> ActivationPeak:
    """The peak of live activation bytes; tensors named in ``unknown`` (those whose inferred shapes
    derive from an invalid node) count as unknown, like tensors inference could not size."""
    tensors = graph.graph["tensors"]
    nodes = list(graph.nodes(data=True))  # insertion order is the topological order
    buffer_of = {name: name for name in graph.graph["inputs"]}   # tensor -> the buffer holding it
    allocated_at: dict[int, list[str]] = {}
    last_use: dict[str, int] = {}
    views: dict[tuple[str, str], bool] = {}   # (domain, op type) -> whether it aliases its input
    for index, (_, data) in enumerate(nodes):
        for name in _reads(data):
            if name in buffer_of:
                last_use[buffer_of[name]] = index
        op = (data["domain"], data["op_type"])
        view = views.get(op)
        if view is None:
            entry = lookup(*op)
            view = views[op] = entry is not None and entry.moves == VIEW
        source = data["inputs"][0] if data["inputs"] else ""
        for name in data["outputs"]:
            if not name or tensors[name].kind != ACTIVATION:
                continue
            if view and source in buffer_of:
                buffer_of[name] = buffer_of[source]
            else:
                buffer_of[name] = name
                allocated_at.setdefault(index, []).append(name)
                last_use.setdefault(name, index)   # never read: freed right after its producer
    for name in graph.graph["outputs"]:
        if name in buffer_of:
            last_use[buffer_of[name]] = len(nodes)
    freed_at: dict[int, list[str]] = {}
    for buffer, index in last_use.items():
        freed_at.setdefault(index, []).append(buffer)

    missing = 0

    def known_size(name: str) -> Optional[Quantity]:
        return None if name in unknown else tensors[name].size_bytes

    def size(name: str) -> Quantity:
        nonlocal missing
        value = known_size(name)
        if value is None:
            missing += 1
            return 0
        return value

    live: Quantity = sum(size(name) for name in graph.graph["inputs"])
    peak, peak_at = live, None
    for index, (key, _) in enumerate(nodes):
        for name in allocated_at.get(index, ()):
            live = live + size(name)
        if (live > peak if type(live) is int and type(peak) is int else greater(live, peak)):
            peak, peak_at = live, key
        for name in freed_at.get(index, ()):
            value = known_size(name)
            live = live - (value if value is not None else 0)
    return ActivationPeak(peak, peak_at, missing)


def _reads(data: dict) -> tuple[str, ...]:
    return data["inputs"] + data["captured"] if data["captured"] else data["inputs"]
