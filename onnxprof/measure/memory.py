"""Memory during a batch's timed runs, measured without a sampling thread in the timed loop.

Peak RSS: on Linux the kernel's own high-water mark (VmHWM) is reset before the batch by writing 5
to /proc/self/clear_refs and read after it — exact and free. Elsewhere a background sampler polls.
System memory in use (what the paper measured on the Jetson, whose CPU and GPU share RAM) and the
GPU's memory (NVML) are read at the end of the timed runs, when the working set is live.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Optional

from onnxprof.measure.records import MemoryMeasurement

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class PeakMemory:
    """``with PeakMemory() as peak: ...`` then ``peak.result(engine_bytes)``."""

    def __init__(self, sample_s: float = 0.02):
        self.sample_s = sample_s
        self.peak_rss: Optional[int] = None
        self._kernel = _can_reset_peak()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "PeakMemory":
        if self._kernel:
            _CLEAR_REFS.write_text("5")
        else:
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._kernel:
            self.peak_rss = _vm_hwm()
        else:
            self._stop.set()
            self._thread.join()

    def _poll(self) -> None:
        import psutil

        process = psutil.Process()
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss or 0, process.memory_info().rss)
            self._stop.wait(self.sample_s)

    def result(self, engine_bytes: Optional[int] = None) -> MemoryMeasurement:
        import psutil

        return MemoryMeasurement(peak_rss_bytes=self.peak_rss, system_used_bytes=psutil.virtual_memory().used,
                                 gpu_used_bytes=gpu_memory_used(), engine_bytes=engine_bytes)


def _vm_hwm() -> Optional[int]:
    for line in _STATUS.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


def _can_reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
        return _vm_hwm() is not None
    except OSError:
        return False


def gpu_memory_used(index: int = 0) -> Optional[int]:
    """Bytes in use on the GPU (NVML); None without an NVIDIA driver."""
    try:
        import pynvml

        pynvml.nvmlInit()
        return int(pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(index)).used)
    except Exception:  # no nvidia-ml-py, no driver or no GPU
        return None
