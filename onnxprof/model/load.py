"""Read an ONNX model as metadata: graph, types and tensor sizes, never the weight bytes.

Large tensors stored inside the file are skipped while parsing (:mod:`onnxprof.model.wire`); external
data files are checked (present, inside the model's folder, long enough) but not read. Everything
after loading (checker, shape inference, analysis) works on a graph-sized model.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import onnx
import onnx.inliner
from google.protobuf.message import DecodeError
from google.protobuf.unknown_fields import UnknownFieldSet
from onnx import AttributeProto, GraphProto, ModelProto, TensorProto

from onnxprof.errors import ModelError, first_line
from onnxprof.files import regular_file
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
    graphs, tensors = _contents(model, source)
    _check_stored_tensors(tensors, source, from_file)
    external_bytes = _check_external_data(tensors, folder, source)
    for graph in graphs:
        _order_nodes(graph, source)
    stripped = _strip_tensor_data(tensors)
    if check:
        try:
            _check_model(model, stripped)
        except onnx.checker.ValidationError as exc:
            raise ModelError(f"{source}: the ONNX checker rejects the model: {first_line(exc)} "
                             "(pass --no-check to analyze it anyway)") from None
    functions = frozenset((f.domain, f.name) for f in model.functions)
    if functions:  # model-local functions are costed through their bodies: inline the calls
        model = onnx.inliner.inline_local_functions(model)
    return LoadedModel(source=source, model=model, file_bytes=file_bytes, external_bytes=external_bytes,
                       warnings=warnings, local_functions=functions)


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


def _contents(model: ModelProto, source: str) -> tuple[list[GraphProto], list[TensorProto]]:
    """All graphs (main and subgraphs) and every stored tensor in them: initializers and
    tensor-valued attributes (Constant values), in one walk over the nodes. Subgraphs nested deeper
    than every later walk can follow are refused here."""
    graphs, tensors, pending = [], [], [(model.graph, 0)]
    while pending:
        graph, depth = pending.pop()
        if depth > MAX_GRAPH_DEPTH:
            raise ModelError(f"{source}: If/Loop/Scan bodies are nested more than {MAX_GRAPH_DEPTH} deep; "
                             "onnxprof reads at most that many levels")
        graphs.append(graph)
        tensors.extend(graph.initializer)
        for node in graph.node:
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
    return graphs, tensors


def _check_stored_tensors(tensors: list[TensorProto], source: str, from_file: bool) -> None:
    """Every stored tensor's type and dims are possible and its data, where held, fills them."""
    for tensor in tensors:
        elements = declared_elements(tensor, source)
        if is_external(tensor):
            continue                      # its offset and length are checked with its file
        if has_values(tensor):
            if tensor_nbytes(tensor) <= SMALL_TENSOR_BYTES or tensor.data_type == TensorProto.STRING:
                check_values(tensor, source)
            else:                         # too large to decode for a check: compare lengths
                check_payload_lengths(tensor, held_lengths(tensor), elements, source)
            continue
        if not from_file:
            continue                      # built in memory with dims only (the zoo): nothing was left out
        unread = {_PAYLOAD_NAMES[f.field_number - UNREAD_FIELD_BASE]: f.data for f in UnknownFieldSet(tensor)
                  if f.field_number - UNREAD_FIELD_BASE in _PAYLOAD_NAMES}
        if not unread and elements:
            raise ModelError(f"{source}: tensor {tensor.name!r} declares dims {list(tensor.dims)} but stores no data "
                             "(and no external reference); the file is damaged or was saved without its weights")
        check_payload_lengths(tensor, unread, elements, source)
        tensor.DiscardUnknownFields()


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


def _order_nodes(graph: GraphProto, source: str) -> None:
    """Put nodes in topological order (ONNX requires it; some tools write them unsorted).

    A true cycle cannot be ordered: it is reported with the nodes on it.
    """
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    for node in graph.node:
        if not available.issuperset(node.input):
            break  # produced later, or read from an enclosing graph: look closer below
        available.update(node.output)
    else:
        return
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
        return  # already in order: only outer-scope names made the quick check look closer
    nodes = [graph.node[i] for i in ranked]
    copies = [type(n)() for n in nodes]
    for copy, node in zip(copies, nodes):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def _strip_tensor_data(tensors: list[TensorProto]) -> list[TensorProto]:
    """Drop the bytes of large in-file tensors and the references of external ones: dims and type
    stay, which is all shape inference and the analysis need of a weight. Returns the tensors
    without values (including those whose payload the loader already skipped)."""
    stripped = []
    for tensor in tensors:
        if is_external(tensor) or tensor_nbytes(tensor) > SMALL_TENSOR_BYTES:
            for field in _DATA_FIELDS + ("external_data",):
                tensor.ClearField(field)
            tensor.data_location = TensorProto.DEFAULT
            stripped.append(tensor)
        elif not has_values(tensor):   # already left out by the parser
            stripped.append(tensor)
    return stripped


def has_values(tensor: TensorProto) -> bool:
    """Whether the tensor still carries its values (small tensors do; weights were stripped)."""
    return any(field.name in _DATA_FIELD_NAMES for field, _ in tensor.ListFields()) or 0 in tensor.dims


def _check_model(model: ModelProto, stripped: list[TensorProto]) -> None:
    """Run the ONNX checker. It validates structure, schemas and attribute types, and also that each
    tensor's data fills its dims, which a stripped weight cannot: for the check, each one briefly
    becomes a single zero element of its type, then gets its dims back."""
    dims = [tuple(t.dims) for t in stripped]
    for tensor in stripped:
        del tensor.dims[:]
        tensor.dims.append(1)
        tensor.raw_data = bytes(max(1, BITS.get(tensor.data_type, 8) // 8))
    try:
        with native_memory_cap():
            onnx.checker.check_model(model)
    except MemoryError:
        raise onnx.checker.ValidationError(f"checking needs more than {MAX_NATIVE_PASS_BYTES >> 30} GB: "
                                           "a tensor declares a size no runtime could hold") from None
    finally:
        for tensor, shape in zip(stripped, dims):
            tensor.ClearField("raw_data")
            del tensor.dims[:]
            tensor.dims.extend(shape)
