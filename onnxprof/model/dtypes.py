"""Element types: storage bits (sub-byte types count their real bits) and readable names."""

from __future__ import annotations

from functools import lru_cache

from onnx import TensorProto

from onnxprof.symbolic import exact_div

_BITS_BY_NAME = {
    "FLOAT": 32, "UINT8": 8, "INT8": 8, "UINT16": 16, "INT16": 16, "INT32": 32, "INT64": 64,
    "BOOL": 8, "FLOAT16": 16, "DOUBLE": 64, "UINT32": 32, "UINT64": 64, "COMPLEX64": 64,
    "COMPLEX128": 128, "BFLOAT16": 16, "FLOAT8E4M3FN": 8, "FLOAT8E4M3FNUZ": 8, "FLOAT8E5M2": 8,
    "FLOAT8E5M2FNUZ": 8, "FLOAT8E8M0": 8, "UINT4": 4, "INT4": 4, "FLOAT4E2M1": 4, "UINT2": 2,
    "INT2": 2,
}
# Keyed by the enum values this onnx release defines, so newer type names are simply absent.
BITS: dict[int, int] = {
    getattr(TensorProto, name): bits for name, bits in _BITS_BY_NAME.items() if hasattr(TensorProto, name)
}

FLOATING = frozenset(
    getattr(TensorProto, n)
    for n in ("FLOAT", "FLOAT16", "DOUBLE", "BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
              "FLOAT8E5M2FNUZ", "FLOAT8E8M0", "FLOAT4E2M1")
    if hasattr(TensorProto, n)
)
# Integer types narrow enough to hold quantized weights (wider ints are indices and shapes).
QUANTIZED = frozenset(
    getattr(TensorProto, n) for n in ("INT8", "UINT8", "INT4", "UINT4", "INT2", "UINT2") if hasattr(TensorProto, n)
)


@lru_cache(maxsize=None)
def dtype_name(dtype: int) -> str:
    """``float32``-style name of an ONNX element type (``undefined`` for 0 or unknown values)."""
    try:
        name = TensorProto.DataType.Name(dtype).lower()
    except ValueError:
        return f"dtype{dtype}"
    return {"float": "float32", "double": "float64"}.get(name, name)


def storage_bytes(elements, dtype: int):
    """Bytes that ``elements`` values of ``dtype`` occupy, sub-byte types packed (rounded up).

    Works on ints and symbolic quantities; returns None for types without a fixed size (string).
    """
    bits = BITS.get(dtype)
    if bits is None:
        return None
    if bits % 8 == 0:
        return elements * (bits // 8)
    if isinstance(elements, int):
        return -(-elements * bits // 8)
    # Symbolic count of a sub-byte type: exact when the coefficients pack into whole bytes; otherwise
    # a byte per element, an over-estimate the size of the tensor's padding at most.
    packed = exact_div(elements * bits, 8)
    return packed if packed is not None else elements
