"""Stored tensors (initializers, Constant values) checked against what they declare.

A tensor's dims and type set every count onnxprof prints about it, so they must be possible (a known
element type, no negative dim, at most int64 elements) and its data, where the file holds it, must fill
exactly those dims. Payloads the parser left unread are checked by the length it recorded
(:mod:`onnxprof.model.wire`); external references by their offset and length.
"""

from __future__ import annotations

from typing import Mapping, Optional

from onnx import TensorProto, numpy_helper

from onnxprof.errors import ModelError
from onnxprof.model.dtypes import BITS, dtype_name, storage_bytes
from onnxprof.model.limits import MAX_ELEMENTS

# Elements each entry of a typed data field holds (complex numbers take two entries), by field.
_ENTRIES_PER_ELEMENT = {
    "float_data": {TensorProto.COMPLEX64: 2},
    "double_data": {TensorProto.COMPLEX128: 2},
}
_ENTRY_BYTES = {"float_data": 4, "double_data": 8}      # fixed-width fields, counted in bytes


def declared_elements(tensor: TensorProto, where: str) -> int:
    """The element count the tensor's dims declare, after checking its type and dims are possible."""
    if tensor.data_type not in BITS and tensor.data_type != TensorProto.STRING:
        kind = "no element type (data_type 0)" if tensor.data_type == 0 else \
            f"element type {tensor.data_type}, which this onnx does not define"
        raise ModelError(f"{where}: tensor {tensor.name!r} has {kind}; the file is damaged or from a newer exporter")
    elements = 1
    for dim in tensor.dims:
        if dim < 0:
            raise ModelError(f"{where}: tensor {tensor.name!r} has a negative dim ({list(tensor.dims)}); "
                             "a stored tensor's dims must be 0 or more")
        elements *= dim
        if elements > MAX_ELEMENTS:
            raise ModelError(f"{where}: tensor {tensor.name!r} declares more elements than int64 can count "
                             f"(dims {list(tensor.dims)})")
    return elements


def check_values(tensor: TensorProto, where: str) -> None:
    """A tensor whose values are held in memory must decode into exactly its dims."""
    try:
        numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as exc:
        raise ModelError(f"{where}: tensor {tensor.name!r} holds data that does not fill its dims "
                         f"{list(tensor.dims)} ({dtype_name(tensor.data_type)}): {exc}") from None


def held_lengths(tensor: TensorProto) -> dict[str, int]:
    """The lengths of the data a tensor holds, in the units the parser records for a payload it left
    unread: bytes for raw and fixed-width fields, entries for varint-packed ones."""
    lengths = {}
    for field, value in tensor.ListFields():
        if field.name == "raw_data":
            lengths["raw_data"] = len(value)
        elif field.name in _ENTRY_BYTES:
            lengths[field.name] = _ENTRY_BYTES[field.name] * len(value)
        elif field.name in ("int32_data", "int64_data", "uint64_data"):
            lengths[field.name] = len(value)
    return lengths


def check_payload_lengths(tensor: TensorProto, lengths: Mapping[str, int], elements: int, where: str) -> None:
    """Compare payload lengths (as :func:`held_lengths` gives them) with what the dims need."""
    for field, measured in lengths.items():
        expected = _expected_length(field, tensor.data_type, elements)
        if expected is not None and measured != expected:
            unit = "bytes" if field == "raw_data" or field in _ENTRY_BYTES else "values"
            raise ModelError(f"{where}: tensor {tensor.name!r} stores {measured} {unit} of {field} but its dims "
                             f"{list(tensor.dims)} ({dtype_name(tensor.data_type)}) need {expected}; "
                             "the file is damaged or was edited without its data")


def _expected_length(field: str, dtype: int, elements: int) -> Optional[int]:
    if field == "raw_data":
        return storage_bytes(elements, dtype)
    entries = elements * _ENTRIES_PER_ELEMENT.get(field, {}).get(dtype, 1)
    if field in _ENTRY_BYTES:
        return _ENTRY_BYTES[field] * entries
    if BITS.get(dtype, 8) < 8:
        return None          # sub-byte types pack several elements into an int32 entry
    return entries


def external_range(info: Mapping[str, str], tensor: TensorProto, elements: int, where: str) -> tuple[int, int]:
    """(offset, length) of an external tensor, as whole non-negative numbers; length from the dims when
    the reference gives none."""
    offset = _whole_number(info.get("offset", "") or "0", "offset", where)
    needed = storage_bytes(elements, tensor.data_type)
    if not info.get("length"):
        return offset, needed or 0
    length = _whole_number(info["length"], "length", where)
    if needed is not None and length != needed:
        raise ModelError(f"{where} gives length {length} but its dims {list(tensor.dims)} "
                         f"({dtype_name(tensor.data_type)}) need {needed} bytes")
    return offset, length


def _whole_number(text: str, key: str, where: str) -> int:
    """A decimal byte count as ONNX Runtime reads it: digits only."""
    if not (text.isascii() and text.isdigit()):
        raise ModelError(f"{where} has {key} {text!r}; it must be a whole number of bytes, 0 or more")
    return int(text)
