"""Read an ONNX model as metadata: graph, types and tensor sizes, never the weight bytes.

Large tensors stored inside the file are skipped while parsing (:mod:`onnxprof.model.wire`); external
data files are checked (present, inside the model's folder, long enough) but not read. Everything
after loading (checker, shape inference, analysis) works on a graph-sized model.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import onnx
import onnx.inliner
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from onnx import AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto

from onnxprof.errors import ModelError, first_line
from onnxprof.files import regular_file
from onnxprof.model.contrib_shapes import CONTRIB_DOMAIN, ORT_DEFAULT_DOMAIN_OPS
from onnxprof.model.dtypes import BITS, storage_bytes
from onnxprof.model.limits import MAX_GRAPH_DEPTH, MAX_NATIVE_PASS_BYTES, native_memory_cap
from onnxprof.model.stored import (check_payload_lengths, check_values, declared_elements, external_range,
                                   held_lengths)
from onnxprof.model.text import decode_names, has_invalid_utf8
from onnxprof.model.wire import SMALL, UNREAD_FIELD_BASE, NestedTooDeep, load_without_payloads

# Tensors at most this large keep their values: shape vectors, axes, scales, pads. Shape inference and
# constant propagation need them; weights are far larger. The same bound as the parser's.
SMALL_TENSOR_BYTES = SMALL
_DATA_FIELDS = ("raw_data", "float_data", "int32_data", "string_data", "int64_data", "double_data",
                "uint64_data")
_DATA_FIELD_NAMES = frozenset(_DATA_FIELDS)
_PAYLOAD_NAMES = {TensorProto.DESCRIPTOR.fields_by_name[name].number: name for name in _DATA_FIELDS
                  if name != "string_data"}
_DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass(frozen=True)
class GraphLayout:
    """What the loader's walk over every node found, so that later passes need not walk them again."""

    nested: bool                   # some node holds a subgraph (If/Loop/Scan bodies)
    outputs: frozenset[str]        # the tensors the main graph's nodes write


@dataclass(frozen=True)
class LoadedModel:
    """A parsed model whose large tensors carry dims and type only."""

    source: str                 # what the user named: a path or ``zoo:NAME``
    model: ModelProto
    file_bytes: int             # size of the .onnx file itself (0 for a model built in memory)
    external_bytes: int         # bytes referenced in external data files (never read)
    warnings: tuple[str, ...] = ()   # what was repaired or left unknown while reading, for the report
    # (domain, name) of the model's own functions, whose calls were inlined: a call left in one of their
    # domains names a function the model does not define
    local_functions: frozenset[tuple[str, str]] = frozenset()
    layout: Optional[GraphLayout] = None   # None when unknown: passes that need it walk the graph


def load_model(source: str | os.PathLike, check: bool = True) -> LoadedModel:
    """Load ``source`` (a path, or ``zoo:NAME``), validate it and strip its weight bytes."""
    text = os.fspath(source)
    if text.startswith("zoo:"):
        from onnxprof.zoo import build_for_analysis

        return prepare_model(build_for_analysis(text[4:]), text, check=check)
    path = regular_file(text, "an .onnx model (or zoo:NAME)", ModelError)
    try:
        model, serialized = load_without_payloads(path)
    except NestedTooDeep as exc:
        raise ModelError(f"{text}: {exc}; onnxprof reads at most {MAX_GRAPH_DEPTH} levels of If/Loop/Scan "
                         "bodies") from None
    except DecodeError as exc:
        if "MaxDepth" in str(exc):
            raise ModelError(f"{text}: its messages are nested deeper than protobuf parses (subgraphs more than "
                             f"about {MAX_GRAPH_DEPTH} levels deep)") from None
        raise ModelError(f"{text}: not a readable ONNX file (protobuf parse failed: {exc}); "
                         "the file may be truncated or corrupted, re-export or re-download it") from None
    except OSError as exc:
        raise ModelError(f"{text}: cannot be read ({exc.strerror})") from None
    if not model.HasField("graph") or (model.ir_version == 0 and not model.graph.node):
        raise ModelError(f"{text}: parses but holds no ONNX graph (ir_version 0, no nodes); "
                         "is it really an .onnx model?")
    warnings = []
    if has_invalid_utf8(serialized):
        repaired = decode_names(model)
        warnings.append(f"{repaired} name{'s' if repaired != 1 else ''} in the file {'are' if repaired != 1 else 'is'} "
                        "not UTF-8; shown with replacement characters (�)")
    # ONNX Runtime resolves external data beside the path it is given, a symlink's own folder included.
    return prepare_model(model, text, folder=path.absolute().parent, file_bytes=path.stat().st_size, check=check,
                         from_file=True, warnings=tuple(warnings))


def prepare_model(model: ModelProto, source: str, folder: Path | None = None, file_bytes: int = 0,
                  check: bool = True, from_file: bool = False, warnings: tuple[str, ...] = ()) -> LoadedModel:
    """Validate versions, stored tensors and external data (relative to ``folder``, the model file's),
    order the nodes, drop weight bytes and run the ONNX checker. ``from_file``: the model was parsed
    by :func:`load_without_payloads`, which recorded the length of every payload it left unread."""
    _check_versions(model, source)
    contents = _contents(model, source)
    while contents.unordered and any([_order_nodes(graph, source) for graph in contents.unordered]):
        contents = _contents(model, source)   # ordering copied nodes, subgraphs with them: walk the copies
    bare, held = _check_stored_tensors(contents.tensors, source, from_file)
    external_bytes = _check_external_data(held, folder, source)
    stripped = bare + _strip_tensor_data(held)
    if check:
        try:
            _check_model(model, stripped, contents.ort_default)
        except onnx.checker.ValidationError as exc:
            raise ModelError(f"{source}: the ONNX checker rejects the model: {first_line(exc)} "
                             "(pass --no-check to analyze it anyway)") from None
    functions = frozenset((f.domain, f.name) for f in model.functions)
    layout = contents.layout
    if functions:  # model-local functions are costed through their bodies: inline the calls
        model = onnx.inliner.inline_local_functions(model)
        layout = None   # inlining added nodes
    return LoadedModel(source=source, model=model, file_bytes=file_bytes, external_bytes=external_bytes,
                       warnings=warnings, local_functions=functions, layout=layout)


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def iter_graphs(graph: GraphProto) -> Iterator[GraphProto]:
    """The graph and every subgraph of If/Loop/Scan (and any other graph attribute), depth first."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                yield from iter_graphs(attr.g)
            elif attr.type == AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from iter_graphs(sub)


@dataclass(frozen=True)
class _Contents:
    graphs: list[GraphProto]            # the main graph and every subgraph
    tensors: list[TensorProto]          # initializers and tensor-valued attributes (Constant values)
    unordered: list[GraphProto]         # graphs whose nodes are not in topological order
    ort_default: list[NodeProto]        # nodes of ops only ONNX Runtime defines in the default domain
    layout: GraphLayout


def _contents(model: ModelProto, source: str) -> _Contents:
    """Everything the loader needs from the nodes, in one walk over them: all graphs (main and
    subgraphs), every stored tensor in them, the graphs whose nodes are out of order and the nodes the
    checker must not judge by ONNX's schemas. Subgraphs nested deeper than every later walk can
    follow are refused here."""
    graphs, tensors, unordered, ort_default, pending = [], [], [], [], [(model.graph, 0)]
    outputs: frozenset[str] = frozenset()
    while pending:
        graph, depth = pending.pop()
        if depth > MAX_GRAPH_DEPTH:
            raise ModelError(f"{source}: If/Loop/Scan bodies are nested more than {MAX_GRAPH_DEPTH} deep; "
                             "onnxprof reads at most that many levels")
        graphs.append(graph)
        tensors.extend(graph.initializer)
        given = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
        available, ordered = set(given), True
        for node in graph.node:
            # In order while every input is given or written by an earlier node; a name read from an
            # enclosing graph also looks out of order here, and _order_nodes looks closer.
            if ordered and not available.issuperset(node.input):
                ordered = False
            available.update(node.output)
            if node.op_type in ORT_DEFAULT_DOMAIN_OPS and node.domain in _DEFAULT_DOMAINS:
                ort_default.append(node)
            for attr in node.attribute:
                kind = attr.type
                if kind == AttributeProto.TENSOR:
                    tensors.append(attr.t)
                elif kind == AttributeProto.TENSORS:
                    tensors.extend(attr.tensors)
                elif kind == AttributeProto.GRAPH:
                    pending.append((attr.g, depth + 1))
                elif kind == AttributeProto.GRAPHS:
                    pending.extend((sub, depth + 1) for sub in attr.graphs)
        if not ordered:
            unordered.append(graph)
        if depth == 0:
            outputs = frozenset(available - given)
    return _Contents(graphs, tensors, unordered, ort_default, GraphLayout(len(graphs) > 1, outputs))


def _check_stored_tensors(tensors: list[TensorProto], source: str,
                          from_file: bool) -> tuple[list[TensorProto], list[TensorProto]]:
    """Every stored tensor's type and dims are possible and its data, where held, fills them. Returns
    the tensors without values (their payload left unread by the parser, or built with dims only) and
    the others (holding values, or external)."""
    bare, held = [], []
    for tensor in tensors:
        elements = declared_elements(tensor, source)
        if is_external(tensor):
            held.append(tensor)
            continue                      # its offset and length are checked with its file
        if has_values(tensor):
            held.append(tensor)
            if tensor_nbytes(tensor) <= SMALL_TENSOR_BYTES or tensor.data_type == TensorProto.STRING:
                check_values(tensor, source)
            else:                         # too large to decode for a check: compare lengths
                check_payload_lengths(tensor, held_lengths(tensor), elements, source)
            continue
        bare.append(tensor)
        if not from_file:
            continue                      # built in memory with dims only (the zoo): nothing was left out
        unread = {_PAYLOAD_NAMES[f.field_number - UNREAD_FIELD_BASE]: f.data for f in UnknownFieldSet(tensor)
                  if f.field_number - UNREAD_FIELD_BASE in _PAYLOAD_NAMES}
        if not unread and elements:
            raise ModelError(f"{source}: tensor {tensor.name!r} declares dims {list(tensor.dims)} but stores no data "
                             "(and no external reference); the file is damaged or was saved without its weights")
        check_payload_lengths(tensor, unread, elements, source)
        tensor.DiscardUnknownFields()
    return bare, held


def is_external(tensor: TensorProto) -> bool:
    return tensor.data_location == TensorProto.EXTERNAL


def tensor_nbytes(tensor: TensorProto) -> int:
    elements = 1
    for d in tensor.dims:
        elements *= d
    return storage_bytes(elements, tensor.data_type) or 0


def _check_versions(model: ModelProto, source: str) -> None:
    if model.ir_version > onnx.IR_VERSION:
        raise ModelError(f"{source}: IR version {model.ir_version} is newer than this onnx "
                         f"{onnx.__version__} reads (≤ {onnx.IR_VERSION}); upgrade it: pip install -U onnx")
    newest = onnx.defs.onnx_opset_version()
    for opset in model.opset_import:
        if opset.version < 1:         # every schema lookup (and the checker) starts at version 1
            raise ModelError(f"{source}: opset {opset.version} of domain '{opset.domain or 'ai.onnx'}' is not a "
                             "version; opsets count from 1")
        if opset.domain in ("", "ai.onnx") and opset.version > newest:
            raise ModelError(f"{source}: opset {opset.version} is newer than this onnx {onnx.__version__} "
                             f"knows (≤ {newest}); upgrade it: pip install -U onnx")


def _check_external_data(tensors: list[TensorProto], folder: Path | None, source: str) -> int:
    """Check every external reference; return the bytes they cover. Reads sizes, never contents."""
    total = 0
    sizes: dict[Path, int] = {}
    for tensor in tensors:
        if not is_external(tensor):
            continue
        if folder is None:
            raise ModelError(f"{source}: tensor {tensor.name!r} refers to external data, but the model was "
                             "not loaded from a file; save it next to its data and analyse the file")
        info = {entry.key: entry.value for entry in tensor.external_data}
        location = info.get("location", "")
        where = f"{source}: external data of tensor {tensor.name!r}"
        if not location:
            raise ModelError(f"{where} names no file (its 'location' is missing)")
        if "\0" in location:
            raise ModelError(f"{where} names a file with a NUL character in it ({location!r})")
        target = (folder / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(folder.resolve()):
            raise ModelError(f"{where} points outside the model's folder ({location}); "
                             "external data must sit beside the model")
        if target not in sizes:
            if not target.is_file():
                raise ModelError(f"{where} is missing: {location} not found next to the model; "
                                 "copy the data file into the model's folder")
            sizes[target] = target.stat().st_size
        offset, length = external_range(info, tensor, declared_elements(tensor, source), where)
        if offset + length > sizes[target]:
            raise ModelError(f"{where} runs past the end of {location} (needs {offset + length} bytes, "
                             f"file has {sizes[target]}); the data file is truncated or from another model")
        total += length
    return total


def _order_nodes(graph: GraphProto, source: str) -> bool:
    """Put the nodes of a graph that looked out of order in topological order (ONNX requires it; some
    tools write them unsorted); True if that moved any. A graph reading names from an enclosing scope
    only looks out of order, and stays as it is.

    A true cycle cannot be ordered: it is reported with the nodes on it.
    """
    outer = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    import networkx as nx

    producer = {o: idx for idx, n in enumerate(graph.node) for o in n.output if o}
    order = nx.DiGraph()
    order.add_nodes_from(range(len(graph.node)))
    for idx, node in enumerate(graph.node):
        for name in node.input:
            if name and name not in outer and name in producer:
                order.add_edge(producer[name], idx)
    try:
        ranked = list(nx.lexicographical_topological_sort(order))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(order)
        names = [graph.node[u].name or f"{graph.node[u].op_type}#{u}" for u, _ in cycle]
        raise ModelError(f"{source}: the graph has a cycle ({' -> '.join(names + names[:1])}); "
                         "an ONNX graph must be acyclic, fix the exporter or the edit that made it") from None
    if ranked == sorted(ranked):
        return False  # already in order: only outer-scope names made the loader's walk look closer
    nodes = [graph.node[i] for i in ranked]
    copies = [type(n)() for n in nodes]
    for copy, node in zip(copies, nodes):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)
    return True


def _strip_tensor_data(tensors: list[TensorProto]) -> list[TensorProto]:
    """Drop the bytes of large in-file tensors and the references of external ones: dims and type
    stay, which is all shape inference and the analysis need of a weight. ``tensors`` hold values or
    are external; returns those stripped."""
    stripped = []
    for tensor in tensors:
        if is_external(tensor) or tensor_nbytes(tensor) > SMALL_TENSOR_BYTES:
            for field in _DATA_FIELDS + ("external_data",):
                tensor.ClearField(field)
            tensor.data_location = TensorProto.DEFAULT
            stripped.append(tensor)
    return stripped


def has_values(tensor: TensorProto) -> bool:
    """Whether the tensor still carries its values (small tensors do; weights were stripped)."""
    return any(field.name in _DATA_FIELD_NAMES for field, _ in tensor.ListFields()) or 0 in tensor.dims


def _check_model(model: ModelProto, stripped: list[TensorProto], ort_default: list[NodeProto] = ()) -> None:
    """Run the ONNX checker. It validates structure, schemas and attribute types, and also that each
    tensor's data fills its dims, which a stripped weight cannot: for the check, each one briefly
    becomes a single zero element of its type, then gets its dims back."""
    dims = [tuple(t.dims) for t in stripped]
    for tensor in stripped:
        del tensor.dims[:]
        tensor.dims.append(1)
        tensor.raw_data = bytes(max(1, BITS.get(tensor.data_type, 8) // 8))
    try:
        with native_memory_cap(), _checked_as_contrib_ops(model, ort_default):
            onnx.checker.check_model(model)
    except MemoryError:
        raise onnx.checker.ValidationError(f"checking needs more than {MAX_NATIVE_PASS_BYTES >> 30} GB: "
                                           "a tensor declares a size no runtime could hold") from None
    finally:
        for tensor, shape in zip(stripped, dims):
            tensor.ClearField("raw_data")
            del tensor.dims[:]
            tensor.dims.extend(shape)


@contextmanager
def _checked_as_contrib_ops(model: ModelProto, nodes: list[NodeProto]) -> Iterator[None]:
    """While the checker runs, the ``nodes`` whose op ONNX does not define at the model's opset sit in
    ONNX Runtime's domain, where the checker leaves them to ONNX Runtime, which defines them."""
    version = next((o.version for o in model.opset_import if o.domain in _DEFAULT_DOMAINS), 0)
    moved = []
    for node in nodes:
        try:
            onnx.defs.get_schema(node.op_type, version, "")
        except onnx.defs.SchemaError:
            moved.append((node, node.domain))
            node.domain = CONTRIB_DOMAIN
    imported = any(o.domain == CONTRIB_DOMAIN for o in model.opset_import)
    if moved and not imported:
        model.opset_import.add(domain=CONTRIB_DOMAIN, version=1)
    try:
        yield
    finally:
        for node, domain in moved:
            node.domain = domain
        if moved and not imported:
            del model.opset_import[-1]
