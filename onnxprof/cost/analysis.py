"""The static analysis: model -> shapes -> graph -> per-node costs -> :class:`StaticReport`."""

from __future__ import annotations

import os
from collections import ChainMap
from dataclasses import dataclass, field
from typing import Mapping, Optional

import networkx as nx
from onnx import ModelProto

from onnxprof.cost.memory import activation_peak
from onnxprof.gcpause import cyclic_gc_paused
from onnxprof.cost.parameters import ParameterSummary, parameter_tensors, summarize_parameters
from onnxprof.cost.registry import DATA, METADATA, InvalidNode, NodeContext, ShapeUnknown, lookup
from onnxprof.cost.validate import rules_for, schema_violation
from onnxprof.model.dtypes import dtype_name
from onnxprof.model.graph import WEIGHT, TensorInfo, build_graph
from onnxprof.model.load import LoadedModel, load_model, prepare_model
from onnxprof.model.shapes import ShapeBinding, bind_shapes, infer_shapes, input_symbols
from onnxprof.symbolic import Quantity, symbols_of

COUNTED, NO_FORMULA, UNKNOWN_SHAPE, INVALID = "counted", "no_formula", "unknown_shape", "invalid"


@dataclass(frozen=True)
class NodeReport:
    name: str
    op_type: str
    domain: str
    status: str                        # counted | no_formula | unknown_shape | invalid
    macs: Optional[Quantity]
    flops: Optional[Quantity]
    bytes_read: Optional[Quantity]
    bytes_written: Optional[Quantity]
    params: int                        # parameter elements this node reads
    output_shapes: tuple[Optional[tuple], ...]  # dims: int, symbolic, or None when unknown
    output_bytes: tuple[Optional[Quantity], ...]  # activation bytes of each output tensor
    subgraphs: tuple["SubgraphReport", ...] = ()  # If/Loop/Scan bodies, costed once (per iteration)
    compute_dtype: str = ""            # element type of the first input: what the arithmetic runs in
    reason: str = ""                   # why a node is invalid, or which invalid node its shapes depend on


@dataclass(frozen=True)
class SubgraphReport:
    attribute: str                     # then_branch, else_branch, body ...
    macs: Quantity                     # one execution of the body, counted nodes only
    flops: Quantity
    nodes: tuple[NodeReport, ...]


@dataclass(frozen=True)
class OpTypeReport:
    op_type: str
    domain: str
    count: int
    counted: int
    macs: Quantity
    flops: Quantity
    bytes_moved: Quantity
    params: int


@dataclass(frozen=True)
class TensorReport:
    name: str
    dtype: str
    shape: Optional[tuple]             # dims: int, symbolic, or None when unknown; None if rank unknown
    size_bytes: Optional[Quantity]


@dataclass(frozen=True)
class MemoryReport:
    weight_bytes: int
    peak_activation_bytes: Quantity
    peak_at: Optional[str]
    input_bytes: Optional[Quantity]
    output_bytes: Optional[Quantity]
    unknown_tensors: int


@dataclass(frozen=True)
class ModelInfo:
    source: str
    graph_name: str
    ir_version: int
    opsets: Mapping[str, int]
    producer: str
    nodes: int
    file_bytes: int
    external_bytes: int


@dataclass(frozen=True)
class Totals:
    macs: Quantity
    flops: Quantity
    bytes_read: Quantity
    bytes_written: Quantity
    macs_by_dtype: Mapping[str, Quantity] = field(default_factory=dict)   # float32, float16, int8 ...
    flops_by_dtype: Mapping[str, Quantity] = field(default_factory=dict)

    @property
    def bytes_moved(self) -> Quantity:
        return self.bytes_read + self.bytes_written


@dataclass(frozen=True)
class UncountedOp:
    domain: str
    op_type: str
    count: int


@dataclass(frozen=True)
class InvalidNodeReport:
    name: str                              # qualified: ``loop/body/inner`` inside a subgraph
    op_type: str
    domain: str
    reason: str


@dataclass(frozen=True)
class StaticReport:
    model: ModelInfo
    inputs: tuple[TensorReport, ...]
    outputs: tuple[TensorReport, ...]
    symbols: tuple[str, ...]               # dims still symbolic: totals are formulas in these
    bindings: Mapping[str, int]            # dims the user bound (--batch, --input, --dim)
    totals: Totals
    parameters: ParameterSummary
    memory: MemoryReport
    op_types: tuple[OpTypeReport, ...]
    nodes: tuple[NodeReport, ...]
    uncounted_ops: tuple[UncountedOp, ...]
    unknown_shape_nodes: tuple[str, ...]
    graph: nx.DiGraph = field(repr=False, compare=False, default=None)
    reference: Optional[object] = None     # a zoo network's published facts (NetworkFacts), when known
    warnings: tuple[str, ...] = ()         # input repaired or bounded while reading (names, sizes)
    invalid_nodes: tuple[InvalidNodeReport, ...] = ()   # nodes that contradict their op's definition

    @property
    def complete(self) -> bool:
        return not self.uncounted_ops and not self.unknown_shape_nodes and not self.invalid_nodes


def analyze(source: str | os.PathLike, binding: ShapeBinding = ShapeBinding(), check: bool = True) -> StaticReport:
    """Analyse a model file (or ``zoo:NAME``) without running it."""
    with cyclic_gc_paused():
        return analyze_loaded(load_model(source, check=check), binding)


def analyze_model(model: ModelProto, binding: ShapeBinding = ShapeBinding(), check: bool = True,
                  name: str = "<in memory>") -> StaticReport:
    """Analyse a ModelProto held in memory (the caller's copy is left untouched)."""
    own = ModelProto()
    own.CopyFrom(model)
    with cyclic_gc_paused():
        return analyze_loaded(prepare_model(own, name, check=check), binding)


def analyze_loaded(loaded: LoadedModel, binding: ShapeBinding = ShapeBinding()) -> StaticReport:
    bound = bind_shapes(loaded.model, binding)
    warnings = list(loaded.warnings)
    inferred, types = infer_shapes(loaded.model, loaded.source, warnings, loaded.layout)
    graph = build_graph(inferred, types)
    return summarize(graph, loaded, bound, sorted(input_symbols(inferred.graph)), tuple(warnings))


def summarize(graph: nx.DiGraph, loaded: LoadedModel, bindings: Mapping[str, int], symbols: list[str],
              warnings: tuple[str, ...] = ()) -> StaticReport:
    tensors = graph.graph["tensors"]
    params = parameter_tensors(graph)
    scope = CostScope(params, graph.graph["opsets"], LocalFunctions.of(loaded.local_functions))
    nodes = cost_nodes(graph, tensors, graph.graph["values"], scope)
    totals, op_types, formula_symbols = _tally(nodes)
    peak = activation_peak(graph, unknown=scope.tainted)
    inputs = tuple(_tensor_report(tensors[name]) for name in graph.graph["inputs"])
    outputs = tuple(_tensor_report(tensors[name], name in scope.tainted) for name in graph.graph["outputs"]
                    if name in tensors)
    memory = MemoryReport(
        weight_bytes=sum(t.size_bytes or 0 for t in map(tensors.get, graph.graph["weights"]) if t.kind == WEIGHT),
        peak_activation_bytes=peak.peak_bytes, peak_at=peak.peak_at,
        input_bytes=_sum_known(t.size_bytes for t in inputs), output_bytes=_sum_known(t.size_bytes for t in outputs),
        unknown_tensors=peak.unknown_tensors)
    uncounted: dict[tuple[str, str], int] = {}
    unknown_shape: list[str] = []
    invalid: list[InvalidNodeReport] = []
    for path, n in _not_counted(nodes):
        if n.status == NO_FORMULA:
            uncounted[(n.domain, n.op_type)] = uncounted.get((n.domain, n.op_type), 0) + 1
        elif n.status == UNKNOWN_SHAPE:
            unknown_shape.append(path)
        elif n.status == INVALID:
            invalid.append(InvalidNodeReport(path, n.op_type, n.domain, n.reason))
    model = loaded.model
    info = ModelInfo(source=loaded.source, graph_name=model.graph.name, ir_version=model.ir_version,
                     opsets={(o.domain or "ai.onnx"): o.version for o in model.opset_import},
                     producer=f"{model.producer_name} {model.producer_version}".strip(), nodes=len(nodes),
                     file_bytes=loaded.file_bytes, external_bytes=loaded.external_bytes)
    remaining = sorted(set(symbols) - set(bindings) | formula_symbols)
    return StaticReport(
        model=info, inputs=inputs, outputs=outputs, symbols=tuple(remaining), bindings=dict(bindings),
        totals=totals, parameters=summarize_parameters(params), memory=memory, op_types=op_types,
        nodes=tuple(nodes), uncounted_ops=tuple(UncountedOp(d, o, c) for (d, o), c in sorted(uncounted.items())),
        unknown_shape_nodes=tuple(unknown_shape), graph=graph, reference=_zoo_facts(loaded), warnings=warnings,
        invalid_nodes=tuple(invalid))


def _zoo_facts(loaded: LoadedModel):
    """The manifest entry of a zoo network, by ``zoo:NAME`` or by an exported file's graph name."""
    model = loaded.model
    if loaded.source.startswith("zoo:"):
        name = loaded.source[4:]
    elif model.producer_name == "onnxprof.zoo":
        name = model.graph.name
    else:
        return None
    from onnxprof.zoo import canonical      # imports every network's builder: only for the zoo's own
    from onnxprof.zoo.manifest import manifest

    by_key = {canonical(n): facts for n, facts in manifest().items()}
    return by_key.get(canonical(name))


@dataclass(frozen=True)
class LocalFunctions:
    """The model's own functions, by (domain, name). The loader inlines every call to one, so a node
    left in one of their domains calls a function the model does not define."""

    domains: frozenset = frozenset()
    defined: frozenset = frozenset()

    @staticmethod
    def of(pairs) -> "LocalFunctions":
        pairs = frozenset(pairs)
        return LocalFunctions(frozenset(d for d, _ in pairs), pairs)

    def undefined(self, domain: str, op_type: str) -> bool:
        return domain in self.domains and (domain, op_type) not in self.defined


@dataclass(frozen=True)
class CostScope:
    """What every node of one analysis shares, subgraphs included."""

    params: Mapping[str, TensorInfo]       # the graph's parameter tensors, by name
    opsets: Mapping[str, int]
    functions: LocalFunctions = LocalFunctions()
    # Tensors whose shapes cannot be trusted -> the invalid node they derive from. Filled in node order:
    # an invalid node's outputs, then the outputs of every node that reads one (shapes inferred from
    # an impossible node are made up too). Tensor names are unique across a model's graphs.
    tainted: dict[str, str] = field(default_factory=dict)
    # Tensors whose element type onnxprof guessed (outputs of ops without an ONNX schema, such as ONNX
    # Runtime's contrib ops, and what is computed from them): their types are not judged.
    guessed: set[str] = field(default_factory=set)


def cost_nodes(graph: nx.DiGraph, tensors: Mapping[str, TensorInfo], values: Mapping[str, object],
               scope: CostScope) -> list[NodeReport]:
    """Reports for the nodes of ``graph``; ``tensors`` and ``values`` hold its scope (a subgraph also
    sees its enclosing graphs' tensors)."""
    reports = []
    for key, data in graph.nodes(data=True):
        bodies: dict[str, list[SubgraphReport]] = {}
        for attribute, sub in data["subgraphs"].items():
            for body in (sub if isinstance(sub, list) else [sub]):
                inner = cost_nodes(body, ChainMap(body.graph["tensors"], tensors),
                                   ChainMap(body.graph["values"], values), scope)
                counted = [n for n in inner if n.status == COUNTED]
                bodies.setdefault(attribute, []).append(SubgraphReport(
                    attribute, sum(n.macs for n in counted), sum(n.flops for n in counted), tuple(inner)))
        reports.append(node_report(key, data, tensors, scope, values, bodies))
    return reports


def _tally(nodes: list[NodeReport]) -> tuple[Totals, tuple[OpTypeReport, ...], set[str]]:
    """In one pass over the nodes, in their order: the totals of the counted ones (and their shares by
    compute type), each op type's counts, and the symbols their FLOPs are formulas in."""
    macs: Quantity = 0
    flops: Quantity = 0
    read: Quantity = 0
    written: Quantity = 0
    macs_by_dtype: dict[str, Quantity] = {}
    flops_by_dtype: dict[str, Quantity] = {}
    groups: dict[tuple[str, str], list] = {}   # (domain, op type) -> [count, counted, macs, flops, bytes, params]
    symbols: set[str] = set()
    for n in nodes:
        group = groups.get((n.domain, n.op_type))
        if group is None:
            group = groups[(n.domain, n.op_type)] = [0, 0, 0, 0, 0, 0]
        group[0] += 1
        group[5] += n.params
        if n.status != COUNTED:
            continue
        macs, flops, read, written = macs + n.macs, flops + n.flops, read + n.bytes_read, written + n.bytes_written
        dtype = n.compute_dtype or "unknown"
        if n.macs != 0:
            macs_by_dtype[dtype] = macs_by_dtype.get(dtype, 0) + n.macs
        if n.flops != 0:
            flops_by_dtype[dtype] = flops_by_dtype.get(dtype, 0) + n.flops
        group[1] += 1
        group[2], group[3], group[4] = group[2] + n.macs, group[3] + n.flops, group[4] + (n.bytes_read + n.bytes_written)
        if type(n.flops) is not int:
            symbols |= symbols_of(n.flops)
    totals = Totals(macs, flops, read, written, macs_by_dtype, flops_by_dtype)
    op_types = tuple(OpTypeReport(op_type=op_type, domain=domain, count=g[0], counted=g[1], macs=g[2], flops=g[3],
                                  bytes_moved=g[4], params=g[5]) for (domain, op_type), g in groups.items())
    return totals, op_types, symbols


def _not_counted(nodes, prefix: str = ""):
    """(qualified name, report) of every node not counted, subgraph bodies included, in walk_nodes' order."""
    for n in nodes:
        if n.status != COUNTED:
            yield prefix + n.name, n
        for sub in n.subgraphs:
            yield from _not_counted(sub.nodes, f"{prefix}{n.name}/{sub.attribute}/")


def walk_nodes(nodes, prefix: str = ""):
    """(qualified name, report) for every node, subgraph bodies included: ``loop/body/inner``."""
    for n in nodes:
        yield prefix + n.name, n
        for sub in n.subgraphs:
            yield from walk_nodes(sub.nodes, f"{prefix}{n.name}/{sub.attribute}/")


def node_report(key: str, data: dict, tensors: Mapping[str, TensorInfo], scope: CostScope,
                values: Mapping[str, object] = None, bodies: Mapping[str, list] = None) -> NodeReport:
    """One node's costs; ``bodies`` are the costed subgraphs of a control-flow node."""
    op_type, domain, names = data["op_type"], data["domain"], data["inputs"]
    inputs = tuple([tensors.get(name) if name else None for name in names])
    outputs = tuple([tensors.get(name) if name else None for name in data["outputs"]])
    own_params = 0
    params = scope.params
    for index, name in enumerate(names):
        if name in params and name not in names[:index]:   # a tensor read twice counts once
            own_params += params[name].elements
    subgraphs = tuple([s for group in bodies.values() for s in group]) if bodies else ()
    dtype = dtype_name(inputs[0].dtype) if inputs and inputs[0] is not None and inputs[0].dtype else ""
    opset = scope.opsets.get(domain, 0)
    facts = (key, op_type, domain, own_params, outputs, subgraphs, dtype)
    reason = _violation(scope, data, opset, inputs, outputs)
    if reason:
        _taint(scope, data["outputs"], key)
        return _uncounted(facts, INVALID, reason, trusted=False)
    derived = _tainted_input(scope, data) if scope.tainted else ""
    if derived:   # shapes inferred past an invalid node: the node is not itself wrong, its numbers would be
        origin = scope.tainted[derived]
        _taint(scope, data["outputs"], origin)
        inputs = tuple(_unknown(t) if t is not None and t.name in scope.tainted else t for t in inputs)
        outputs = tuple(None if t is None else _unknown(t) for t in outputs)
    entry = lookup(domain, op_type)
    if entry is None:
        return _uncounted(facts, NO_FORMULA, trusted=not derived)
    body_costs = {a: (g[0] if len(g) == 1 else g) for a, g in bodies.items()} if bodies else {}
    ctx = NodeContext(op_type, domain, data["attributes"], inputs, outputs, opset,
                      values if values is not None else {}, body_costs, key)
    try:
        cost = entry.formula(ctx)
        read, written = _bytes_moved(entry.moves, inputs, outputs)
    except ShapeUnknown:
        cost = None
    except InvalidNode as invalid:
        _taint(scope, data["outputs"], key)
        return _uncounted(facts, INVALID, invalid.reason, trusted=False)
    if derived:
        return _uncounted(facts, UNKNOWN_SHAPE, f"its input {derived!r} derives from invalid node {origin!r}",
                          trusted=False)
    if cost is None:
        return _uncounted(facts, UNKNOWN_SHAPE)
    return NodeReport(key, op_type, domain, COUNTED, cost.macs, cost.flops, read, written, own_params,
                      tuple([None if t is None else t.shape for t in outputs]),
                      tuple([None if t is None else t.size_bytes for t in outputs]), subgraphs, dtype)


def _uncounted(facts: tuple, status: str, reason: str = "", trusted: bool = True) -> NodeReport:
    """A node with no counts; its output shapes are left out where they cannot be trusted."""
    key, op_type, domain, own_params, outputs, subgraphs, dtype = facts
    shapes = tuple(None if t is None or not trusted else t.shape for t in outputs)
    sizes = tuple(None if t is None or not trusted else t.size_bytes for t in outputs)
    return NodeReport(key, op_type, domain, status, None, None, None, None, own_params, shapes, sizes, subgraphs,
                      dtype, reason)


def _violation(scope: CostScope, data: dict, opset: int, inputs: tuple, outputs: tuple) -> str:
    """Why the node contradicts its op's definition as the schema and the model state it, or ""."""
    op_type, domain = data["op_type"], data["domain"]
    rules = rules_for(domain, op_type, opset)
    if scope.guessed or rules is None or not rules.allowed:
        inputs, outputs = _typed(scope, data, rules, inputs, outputs)
    reason = schema_violation(rules, op_type, data["attributes"], data["subgraphs"], data["inputs"],
                              data["outputs"], inputs, outputs)
    if not reason and scope.functions.undefined(domain, op_type):
        return f"calls {domain}::{op_type}, a function the model does not define"
    return reason


def _typed(scope: CostScope, data: dict, rules, inputs: tuple, outputs: tuple) -> tuple[tuple, tuple]:
    """The inputs and outputs whose element types are facts, to be judged against the schema; records
    the node's outputs as guessed when their types are (an op without a schema, or a guessed input)."""
    if not (scope.guessed and any(name in scope.guessed for name in data["inputs"])) \
            and rules is not None and rules.allowed:
        return inputs, outputs
    scope.guessed.update(name for name in data["outputs"] if name)
    return (), ()


def _tainted_input(scope: CostScope, data: dict) -> str:
    """The first tensor this node reads (captured ones included) whose shape derives from an invalid node."""
    for name in (*data["inputs"], *data["captured"]):
        if name in scope.tainted:
            return name
    return ""


def _taint(scope: CostScope, names, origin: str) -> None:
    for name in names:
        if name:
            scope.tainted.setdefault(name, origin)


def _unknown(info: TensorInfo) -> TensorInfo:
    return TensorInfo(info.name, info.dtype, None, info.kind, None, None)


def _bytes_moved(moves: str, inputs, outputs) -> tuple[Quantity, Quantity]:
    if moves not in (DATA, METADATA):
        return 0, 0
    written = _sizes(outputs)
    if moves == METADATA:
        return 0, written
    return _sizes({t.name: t for t in inputs if t is not None}.values()), written


def _sizes(tensors) -> Quantity:
    total: Quantity = 0
    for t in tensors:
        if t is None:
            continue
        if t.size_bytes is None:
            raise ShapeUnknown(t.name)
        total = total + t.size_bytes
    return total


def _sum_known(values) -> Optional[Quantity]:
    total: Quantity = 0
    for v in values:
        if v is None:
            return None
        total = total + v
    return total


def _tensor_report(info: TensorInfo, untrusted: bool = False) -> TensorReport:
    if untrusted:   # produced by, or downstream of, an invalid node: its inferred shape is made up
        return TensorReport(info.name, dtype_name(info.dtype), None, None)
    return TensorReport(info.name, dtype_name(info.dtype), info.shape, info.size_bytes)
