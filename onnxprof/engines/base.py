"""The engine life cycle (DESIGN style 3): build/load -> activate -> infer -> deactivate.

An engine owns a compiled model and runs it; the harness (onnxprof.measure) owns warm-up, timing and
windows. Heavy imports (onnxruntime, tensorrt, cuda) live inside each engine module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from onnxprof.engines.traits import EngineTraits
from onnxprof.errors import OnnxprofError
from onnxprof.measure.records import EngineInfo


class EngineUnavailable(OnnxprofError):
    """The engine or provider cannot run here; the message names what to install."""


class ProviderFallback(OnnxprofError):
    """The session put nodes on another provider than the one asked for."""


class EngineOutOfMemory(Exception):
    """The batch does not fit (device or host memory): the sweep records it and goes on."""


@dataclass(frozen=True)
class EngineOptions:
    provider: str = "cpu"                 # ORT: cpu | cuda | tensorrt
    precision: str = "fp32"               # fp32 | fp16 | int8
    threads: int = 0                      # ORT intra-op threads (0: ORT's default)
    optimization: str = "all"             # ORT graph optimisation: disable | basic | extended | all
    device_id: int = 0
    workspace_mb: int = 1024              # TensorRT builder workspace
    include_transfers: bool = False       # time host<->device copies too (GPU engines)
    allow_fallback: bool = False          # accept nodes running on another provider than asked
    batches: Sequence[int] = (1,)         # all batch sizes of the sweep (TensorRT optimisation profile)
    profile_layers: bool = False
    cache_dir: Optional[Path] = None      # TensorRT engine cache
    extra: Mapping[str, str] = field(default_factory=dict)


class Engine(ABC):
    """One model on one engine. Use as a context manager: ``with engine: ...`` builds and closes."""

    name = "engine"

    def __init__(self, model_path: Path, options: EngineOptions = EngineOptions()):
        self.model_path = Path(model_path)
        self.options = options

    # -- life cycle ------------------------------------------------------------------------------
    @abstractmethod
    def build(self) -> None:
        """Load or compile the model (ORT session, TensorRT engine). Raises EngineUnavailable."""

    @abstractmethod
    def activate(self, feeds: Mapping[str, np.ndarray]) -> None:
        """Bind these inputs (on the device for GPU engines) and allocate outputs. May raise
        EngineOutOfMemory."""

    @abstractmethod
    def infer(self) -> None:
        """Run once on the activated inputs and return when the results are complete."""

    def device_time_ms(self) -> Optional[float]:
        """Run once, timed on the device (CUDA events); None for engines without a device clock."""
        return None

    @abstractmethod
    def deactivate(self) -> None:
        """Release what activate bound."""

    def close(self) -> None:
        """Release the model."""

    # -- facts -----------------------------------------------------------------------------------
    @classmethod
    def traits(cls, options: EngineOptions = EngineOptions(), model_source: Optional[str] = None) -> EngineTraits:
        """How this engine runs a graph with ``options``, as a predictor needs it (the layout it gives
        the model at ``model_source``, a path or ``zoo:NAME``; none without one). Nothing is built."""
        return EngineTraits()

    @abstractmethod
    def info(self) -> EngineInfo:
        """Engine, provider, precision, versions and where the nodes run (after build)."""

    def input_specs(self) -> list[tuple[str, str, list]]:
        """(name, numpy dtype name, shape with None for dynamic dims) of each model input."""
        raise NotImplementedError

    def memory_bytes(self) -> Optional[int]:
        """Memory the engine itself reports holding (TensorRT device memory); None if it says nothing."""
        return None

    def layer_profile(self) -> list[dict]:
        """Per-layer times after profiled runs: [{"name", "nodes": [onnx node names], "time_ms"}]."""
        return []

    def __enter__(self) -> "Engine":
        self.build()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
