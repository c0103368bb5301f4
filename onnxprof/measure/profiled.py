"""An engine's per-layer profile of a model, joined to the static report's nodes: what the kernel model
is fitted on, for whole networks and for single-op cases alike."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from onnxprof.cost.analysis import StaticReport
from onnxprof.engines import create_engine
from onnxprof.engines.base import EngineOptions
from onnxprof.measure.layers import LayerRow, join_layers

# each kernel's time is its median over one profile's runs: at least MIN_PROFILED_RUNS, and more, up to
# PROFILED_RUNS, while the profile is shorter than PROFILE_S (the first runs after a build are slow, and
# a 4 ms network's profile of 4 runs came out 10-20 % above one of 10)
PROFILED_RUNS = 10
MIN_PROFILED_RUNS = 4
PROFILE_S = 0.5


def profiled_rows(engine: str, path: Path, options: EngineOptions, feeds, report: StaticReport,
                  min_runs: int = PROFILED_RUNS) -> list[LayerRow]:
    """The engine's per-layer profile of at least ``min_runs`` runs (more, up to PROFILED_RUNS, within
    PROFILE_S), joined to the report's nodes."""
    with create_engine(engine, path, replace(options, profile_layers=True)) as profiled:
        profiled.activate(feeds)
        started, runs = time.perf_counter(), 0
        while runs < min_runs or (runs < PROFILED_RUNS and time.perf_counter() - started < PROFILE_S):
            profiled.infer()
            runs += 1
        rows = join_layers(report, profiled.layer_profile(), macs_per_s=1e12)
        profiled.deactivate()
    return rows
