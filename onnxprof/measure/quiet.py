"""Telling a quiet machine from a busy one: a small fixed model, timed for a few milliseconds between
the timings of a calibration, shows when load from elsewhere slows the host down.

On a shared host the slowdown comes in spells of seconds to minutes, and it is not one factor for
every model: on a 2-core virtual machine whose second core was taken by a neighbour, SqueezeNet ran
1.5 times slower and a ResNet-18 barely slower, so a probe cannot correct a timing, only judge it. A
measurement counts as quiet when the probe readings on both sides of it are within ``DISTURBED`` of
the quietest reading of the whole collection.

The probe runs on ONNX Runtime's CPU provider whatever engine is measured (it judges the host; a
TensorRT build per reading would cost seconds), with the measured engine's thread count (a
single-threaded probe did not see that neighbour at all), in a session of its own per reading, so
that no idle thread pool of the probe sits beside the session being measured.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import onnx

from onnxprof.engines import create_engine
from onnxprof.engines.base import EngineOptions
from onnxprof.measure.inputs import synthetic_feeds

PROBE_RUNS = 50          # about 15 ms on a 2-core x86 CPU
DISTURBED = 1.25         # a reading this much above the quietest one means load from elsewhere
POLL_S = 0.5             # between readings while waiting for the machine to quieten


def probe_model() -> onnx.ModelProto:
    """Six MobileNet-style blocks (1×1 convolution, 3×3 depthwise, ReLUs) on a 64×28×28 map: short
    kernels of both kinds, which a busy machine slows down the most."""
    from onnxprof.zoo.builder import GraphBuilder

    b = GraphBuilder("quiet-probe", batch=1)
    x = b.input("x", [1, 64, 28, 28])
    for i in range(6):
        x = b.relu(b.conv(x, f"pointwise{i}", 64, 64, 1), f"relu{i}a")
        x = b.relu(b.conv(x, f"depthwise{i}", 64, 64, 3, 1, 1, groups=64), f"relu{i}b")
    return b.build(x, [1, 64, 28, 28])


class MachineProbe:
    """``with MachineProbe(threads) as probe:`` — ``probe()`` is one reading: the median ms of
    PROBE_RUNS runs after one warm-up, in a fresh ONNX Runtime session."""

    def __init__(self, threads: int = 0):
        self.options = EngineOptions(threads=threads)
        self.readings: list[float] = []
        self._stack = ExitStack()

    def __enter__(self) -> "MachineProbe":
        from onnxprof.cost.analysis import analyze_model

        with ExitStack() as stack:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="onnxprof-probe-"))
            model, self._path = probe_model(), Path(folder) / "probe.onnx"
            onnx.save(model, self._path)
            self._feeds = synthetic_feeds(analyze_model(model))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()

    def __call__(self) -> float:
        clock, times = time.perf_counter, []
        with create_engine("onnxruntime", self._path, self.options) as engine:
            engine.activate(self._feeds)
            engine.infer()     # warm-up: allocation, kernel choice
            for _ in range(PROBE_RUNS):
                start = clock()
                engine.infer()
                times.append(clock() - start)
            engine.deactivate()
        reading = statistics.median(times) * 1000.0
        self.readings.append(reading)
        return reading

    @property
    def quietest_ms(self) -> float:
        return min(self.readings)

    def is_quiet(self, reading: float) -> bool:
        return reading <= DISTURBED * self.quietest_ms

    def wait_for_quiet(self, max_wait_s: float) -> float:
        """Readings every POLL_S until one is quiet or ``max_wait_s`` has passed; the last reading."""
        deadline = time.perf_counter() + max_wait_s
        reading = self()
        while not self.is_quiet(reading) and time.perf_counter() < deadline:
            time.sleep(POLL_S)
            reading = self()
        return reading
