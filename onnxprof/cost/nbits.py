"""Weights packed as ONNX Runtime's 2-, 4- and 8-bit block quantization stores them (MatMulNBits,
GatherBlockQuantized): their layout, and the weight they stand for, counted in its real bits."""

from __future__ import annotations

from typing import Mapping, Optional

from onnx import TensorProto

from onnxprof.model.graph import TensorInfo

# The element type of a B code of each width: unsigned, as the op subtracts a zero point from it.
_CODE_TYPES = {bits: getattr(TensorProto, name) for bits, name in ((2, "UINT2"), (4, "UINT4"), (8, "UINT8"))
               if hasattr(TensorProto, name)}


def nbits_layout(attributes: Mapping) -> tuple[int, int, int]:
    """B's shape: per output column, ceil(K / block_size) blocks of block_size codes of ``bits``
    bits each, packed into bytes."""
    k, n, block = attributes["K"], attributes["N"], attributes["block_size"]
    return n, -(-k // block), block * attributes.get("bits", 4) // 8


def unpacked_weight(packed: TensorInfo, attributes: Mapping) -> Optional[TensorInfo]:
    """The K×N weight of ``bits``-bit codes that a MatMulNBits B tensor holds, in the bytes B takes;
    None when B is not laid out as the attributes say (the node is then invalid) or the width has no
    element type."""
    try:
        layout = nbits_layout(attributes)
        code_type = _CODE_TYPES.get(attributes.get("bits", 4))
    except (KeyError, TypeError, ZeroDivisionError):
        return None
    if packed.shape != layout or code_type is None:
        return None
    k, n = attributes["K"], attributes["N"]
    return TensorInfo(packed.name, code_type, (n, k), packed.kind, k * n, packed.size_bytes)


def unpacked_table(packed: TensorInfo, attributes: Mapping) -> Optional[TensorInfo]:
    """The table of ``bits``-bit codes a GatherBlockQuantized uint8 ``data`` tensor packs along its last
    axis, in the bytes it takes; None when it is not packed (int4 data counts as it is)."""
    code_type = _CODE_TYPES.get(attributes.get("bits", 4))
    if packed.dtype != TensorProto.UINT8 or code_type is None or code_type == TensorProto.UINT8 \
            or not packed.shape or not isinstance(packed.elements, int):
        return None
    per_byte = 8 // attributes.get("bits", 4)
    shape = (*packed.shape[:-1], packed.shape[-1] * per_byte)
    return TensorInfo(packed.name, code_type, shape, packed.kind, packed.elements * per_byte, packed.size_bytes)
