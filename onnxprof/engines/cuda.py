"""Small helpers over cuda-python's runtime API (cudart) for the GPU engines.

cuda-python returns ``(error, *values)`` from every call; :func:`check` turns a non-success error into
an exception (``EngineOutOfMemory`` for an allocation failure) and returns the values. Nothing here is
imported at module load: :func:`runtime` imports cudart on first use, so this module imports on any
machine.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from onnxprof.engines.base import EngineOutOfMemory, EngineUnavailable

INSTALL_HINT = "pip install 'onnxprof[tensorrt]' (it brings cuda-python; on a Jetson: pip install cuda-python)"

_cudart: Any = None


def runtime() -> Any:
    """The cudart module: ``cuda.bindings.runtime`` (cuda-python >= 12.6) or the older ``cuda.cudart``."""
    global _cudart
    if _cudart is None:
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:
            try:
                from cuda import cudart  # type: ignore[no-redef]
            except ImportError:
                raise EngineUnavailable(f"cuda-python is not installed: {INSTALL_HINT}") from None
        _cudart = cudart
    return _cudart


def check(result: Any) -> Any:
    """Unpack a cudart result: raise on an error, return None, the single value or a tuple of values."""
    cudart = runtime()
    if isinstance(result, tuple):
        err, values = result[0], result[1:]
    else:
        err, values = result, ()
    if err != cudart.cudaError_t.cudaSuccess:
        name = getattr(err, "name", str(err))
        described = cudart.cudaGetErrorString(err)
        text = described[1].decode() if isinstance(described, tuple) and isinstance(described[1], bytes) else ""
        message = f"CUDA error {name}" + (f": {text}" if text else "")
        if err == cudart.cudaError_t.cudaErrorMemoryAllocation:
            raise EngineOutOfMemory(message)
        raise RuntimeError(message)
    if not values:
        return None
    return values[0] if len(values) == 1 else values


def device_name(device_id: int = 0) -> str:
    props = check(runtime().cudaGetDeviceProperties(device_id))
    name = props.name
    return (name.decode(errors="replace") if isinstance(name, bytes) else str(name)).rstrip("\x00").strip()


def set_device(device_id: int) -> None:
    check(runtime().cudaSetDevice(device_id))


def runtime_version() -> str:
    """CUDA runtime version as "major.minor" (e.g. 12040 -> "12.4")."""
    version = int(check(runtime().cudaRuntimeGetVersion()))
    return f"{version // 1000}.{version % 1000 // 10}"


class DeviceBuffer:
    """``nbytes`` of device memory (cudaMalloc), freed by :meth:`free`."""

    def __init__(self, nbytes: int):
        self.nbytes = int(nbytes)
        self.ptr = int(check(runtime().cudaMalloc(max(self.nbytes, 1))))

    def copy_from_host(self, array: np.ndarray, stream: Any) -> None:
        assert array.flags["C_CONTIGUOUS"] and array.nbytes == self.nbytes
        cudart = runtime()
        check(cudart.cudaMemcpyAsync(self.ptr, array.ctypes.data, self.nbytes,
                                     cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, stream))

    def copy_to_host(self, array: np.ndarray, stream: Any) -> None:
        assert array.flags["C_CONTIGUOUS"] and array.nbytes == self.nbytes
        cudart = runtime()
        check(cudart.cudaMemcpyAsync(array.ctypes.data, self.ptr, self.nbytes,
                                     cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream))

    def free(self) -> None:
        if self.ptr:
            check(runtime().cudaFree(self.ptr))
            self.ptr = 0


class Stream:
    """A CUDA stream with a pair of events for timing work enqueued on it."""

    def __init__(self) -> None:
        cudart = runtime()
        self.handle = check(cudart.cudaStreamCreate())
        self._start = check(cudart.cudaEventCreate())
        self._end = check(cudart.cudaEventCreate())

    def __int__(self) -> int:
        return int(self.handle)

    def synchronize(self) -> None:
        check(runtime().cudaStreamSynchronize(self.handle))

    def record_start(self) -> None:
        check(runtime().cudaEventRecord(self._start, self.handle))

    def record_end(self) -> None:
        check(runtime().cudaEventRecord(self._end, self.handle))

    def elapsed_ms(self) -> float:
        """Waits for the end event, then returns the time between the two events (~0.5 µs resolution)."""
        cudart = runtime()
        check(cudart.cudaEventSynchronize(self._end))
        return float(check(cudart.cudaEventElapsedTime(self._start, self._end)))

    def destroy(self) -> None:
        cudart = runtime()
        for event in (self._start, self._end):
            if event is not None:
                check(cudart.cudaEventDestroy(event))
        self._start = self._end = None
        if self.handle is not None:
            check(cudart.cudaStreamDestroy(self.handle))
            self.handle = None


def free_all(buffers: dict[str, Optional[DeviceBuffer]]) -> None:
    for buffer in buffers.values():
        if buffer is not None:
            buffer.free()
    buffers.clear()
