"""Parse an .onnx file without reading its weights.

``onnx.load`` parses every byte of the file, weights included: over a second for a 330 MB model, and
memory twice its size. Here the file is memory-mapped and the protobuf wire format walked just deep
enough to find large tensor payloads (``raw_data`` and the packed ``*_data`` fields of initializers and
Constant values), which are left out; the remaining, graph-sized bytes are parsed by protobuf as
usual. Untouched payload pages are never read from disk.

Only messages larger than :data:`SMALL` are walked: smaller ones hold no large payload and pass whole.
Nesting is bounded (:data:`MAX_MESSAGE_DEPTH`), as protobuf's own parser bounds it.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError
from onnx import ModelProto

from onnxprof.model.limits import MAX_GRAPH_DEPTH

SMALL = 4096
# Graph -> node -> attribute -> graph: three messages a level of subgraph nesting, and the model on top.
MAX_MESSAGE_DEPTH = 3 * MAX_GRAPH_DEPTH + 2

# Field numbers (onnx.proto): the path from ModelProto down to tensor payloads.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_NODE_ATTRIBUTE = 5
_ATTR_T, _ATTR_G, _ATTR_TENSORS, _ATTR_GRAPHS = 5, 6, 10, 11
_TENSOR_PAYLOADS = {4, 5, 7, 9, 10, 11}   # float, int32, int64, raw, double, uint64 data
_VARINT_PAYLOADS = {5, 7, 11}             # packed varints: their length in bytes is not their count
# A payload left out is replaced by an unknown varint field, UNREAD_FIELD_BASE + its field number,
# holding its length (bytes; entries for varint fields), so the loader can check it against the dims.
UNREAD_FIELD_BASE = 1 << 20

_MODEL, _GRAPH, _NODE, _ATTRIBUTE, _TENSOR = range(5)
_DESCEND = {
    _MODEL: {_MODEL_GRAPH: _GRAPH},
    _GRAPH: {_GRAPH_NODE: _NODE, _GRAPH_INITIALIZER: _TENSOR},
    _NODE: {_NODE_ATTRIBUTE: _ATTRIBUTE},
    _ATTRIBUTE: {_ATTR_T: _TENSOR, _ATTR_G: _GRAPH, _ATTR_TENSORS: _TENSOR, _ATTR_GRAPHS: _GRAPH},
    _TENSOR: {},
}


class NestedTooDeep(DecodeError):
    """Subgraphs nested deeper than any exporter writes them."""


def load_without_payloads(path: Path) -> tuple[ModelProto, bytes]:
    """The model at ``path`` with large tensor payloads omitted (dims and types kept), and the bytes
    it was parsed from."""
    error = None
    with open(path, "rb") as f:
        if f.seek(0, 2) == 0:
            raise DecodeError("the file is empty")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            if hasattr(mmap, "MADV_RANDOM"):  # no read-ahead: touch tensor headers, not the payloads around them
                mapped.madvise(mmap.MADV_RANDOM)
            view = memoryview(mapped)
            try:
                data = b"".join(_filter(view, 0, len(view), _MODEL, 0))
            except DecodeError as exc:  # keep no traceback: its frames hold slices still viewing the map
                error = (type(exc), str(exc))
            view.release()
    if error is not None:
        raise error[0](error[1])
    model = ModelProto()
    model.ParseFromString(data)
    return model, data


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("varint too long")


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


_MARKER_KEYS = {number: _encode_varint((UNREAD_FIELD_BASE + number) << 3) for number in _TENSOR_PAYLOADS}


def _unread_marker(buf, number: int, body: int, end: int) -> bytes:
    """The field that stands for a payload left out: its length, or its entry count if varints (the
    bytes that end a varint, counted without decoding; only integer tensors are stored so)."""
    if number in _VARINT_PAYLOADS:
        length = int(np.count_nonzero(np.frombuffer(buf[body:end], dtype=np.uint8) < 0x80))
    else:
        length = end - body
    return _MARKER_KEYS[number] + _encode_varint(length)


def _filter(buf, start: int, end: int, kind: int, depth: int) -> list:
    """The message in ``buf[start:end]`` as byte pieces, large payloads dropped, kept runs merged."""
    if depth > MAX_MESSAGE_DEPTH:
        raise NestedTooDeep(f"subgraphs nested more than {MAX_GRAPH_DEPTH} deep")
    pieces: list = []
    descend = _DESCEND[kind]
    run_start = pos = start
    while pos < end:
        field_start = pos
        key = buf[pos]            # keys, lengths and values of one byte are decoded here, the rest by _varint
        if key < 0x80:
            pos += 1
        else:
            key, pos = _varint(buf, pos, end)
        wire = key & 7
        if wire == 0:
            if pos < end and buf[pos] < 0x80:
                pos += 1
            else:
                _, pos = _varint(buf, pos, end)
            continue
        if wire == 2:
            key_end = pos
            length = buf[pos] if pos < end else 0x80
            if length < 0x80:
                body = pos + 1
            else:
                length, body = _varint(buf, pos, end)
            pos = body + length
            if pos > end:
                raise DecodeError("a field runs past the end of its message (truncated file?)")
            if length <= SMALL:
                continue
            number = key >> 3
            if kind == _TENSOR and number in _TENSOR_PAYLOADS:
                pieces.append(buf[run_start:field_start])
                pieces.append(_unread_marker(buf, number, body, pos))
                run_start = pos
            elif number in descend:
                inner = _filter(buf, body, pos, descend[number], depth + 1)
                pieces.append(buf[run_start:key_end])          # up to the field's key, which stays
                pieces.append(_encode_varint(sum(map(len, inner))))
                pieces.extend(inner)
                run_start = pos
            continue
        if wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        if pos > end:
            raise DecodeError("a field runs past the end of its message (truncated file?)")
    if pos != end:
        raise DecodeError("a field runs past the end of its message (truncated file?)")
    pieces.append(buf[run_start:end])
    return pieces
