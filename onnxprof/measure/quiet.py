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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Hashable, Mapping, Optional, Sequence

import onnx

from onnxprof.engines import create_engine
from onnxprof.engines.base import EngineOptions
from onnxprof.measure.inputs import synthetic_feeds

PROBE_RUNS = 50          # with the session build, a reading takes about 30 ms on a 2-core x86 CPU
DISTURBED = 1.25         # a reading this much above the quietest one means load from elsewhere
POLL_S = 0.5             # between readings while waiting for the machine to quieten
MEASURE_AGAIN = 2        # extra measurements of a point none of whose rounds was quiet
QUIET_WAIT_S = 15.0      # before each of them, at most this long for the machine to quieten
MEASURE_AGAIN_SHARE = 0.25   # all of them together, at most this share of the time the rounds took


@dataclass(frozen=True)
class Round:
    """One measurement of a point (``ms``: a timing's median or a profile's kernel sum; ``payload``: what
    else it gave, such as the profile's rows), with the probe's readings just before and just after."""

    ms: float
    probe_ms: tuple[float, float]
    payload: tuple = ()


def fastest_round(rounds: Sequence[Round], is_quiet: Callable[[float], bool]) -> tuple[Round, bool]:
    """The fastest round, and whether any round had both probe readings quiet. The fastest is kept
    whatever the probe said of it: load from elsewhere only ever adds time, so a faster round is
    never the more disturbed one; the probe only says when to measure once more."""
    return (min(rounds, key=lambda r: r.ms),
            any(all(map(is_quiet, r.probe_ms)) for r in rounds))


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

    def __init__(self, threads: int = 0, wait_budget_s: Optional[float] = None,
                 on_budget_spent: Callable[[float], None] = lambda _: None):
        self.options = EngineOptions(threads=threads)
        self.readings: list[float] = []
        self._stack = ExitStack()
        # all waits for a quiet machine together last at most ``wait_budget_s`` (None: no bound); once it
        # is spent on a busy machine, ``budget_spent`` is set, ``on_budget_spent(waited_s)`` is called once
        # and no point is measured again (it stays marked as taken on a busy machine)
        self.wait_budget_s, self.on_budget_spent = wait_budget_s, on_budget_spent
        self.waited_s, self.budget_spent = 0.0, False

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

    def around(self, measure: Callable[[], Optional[tuple[float, tuple]]]) -> Optional[Round]:
        """``measure()`` (its ms and payload, or None when it failed) between two readings."""
        before = self()
        measured = measure()
        return None if measured is None else Round(measured[0], (before, self()), measured[1])

    def measure_again(self, rounds: Mapping[Hashable, list[Round]], measure: Callable[[Hashable], None],
                      rounds_took_s: float, tell: Callable[[Hashable], None] = lambda _: None) -> None:
        """Each point none of whose rounds was quiet is measured again (``measure`` appends its round,
        or nothing when the measurement failed, which ends the point's retries), each time after
        waiting for a quiet reading, up to MEASURE_AGAIN times, and all of it within
        MEASURE_AGAIN_SHARE of ``rounds_took_s`` (the time the rounds took)."""
        deadline_s = time.perf_counter() + MEASURE_AGAIN_SHARE * rounds_took_s
        for key, measured in rounds.items():
            for _ in range(MEASURE_AGAIN):
                if (fastest_round(measured, self.is_quiet)[1] or time.perf_counter() > deadline_s
                        or self.budget_spent):
                    break
                tell(key)
                self.wait_for_quiet(QUIET_WAIT_S)
                if self.budget_spent:       # still busy when the wait budget ran out: measure no more
                    return
                count = len(measured)
                measure(key)
                if len(measured) == count:
                    break

    def wait_for_quiet(self, max_wait_s: float) -> float:
        """Readings every POLL_S until one is quiet or ``max_wait_s`` (or what is left of the wait budget)
        has passed; the last reading."""
        started = time.perf_counter()
        if self.wait_budget_s is not None:
            max_wait_s = min(max_wait_s, max(0.0, self.wait_budget_s - self.waited_s))
        deadline = started + max_wait_s
        reading = self()
        while not self.is_quiet(reading) and time.perf_counter() < deadline:
            time.sleep(POLL_S)
            reading = self()
        self.waited_s += time.perf_counter() - started
        if (not self.is_quiet(reading) and self.wait_budget_s is not None and not self.budget_spent
                and self.waited_s >= self.wait_budget_s):
            self.budget_spent = True
            self.on_budget_spent(self.waited_s)
        return reading
