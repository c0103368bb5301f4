"""Engines that run a model: ONNX Runtime (any provider) and native TensorRT."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from onnxprof.engines.base import Engine, EngineOptions, EngineUnavailable
from onnxprof.engines.traits import EngineTraits

ENGINES = ("onnxruntime", "tensorrt")


def engine_class(name: str) -> type[Engine]:
    if name == "onnxruntime":
        from onnxprof.engines.onnxruntime import OnnxRuntimeEngine

        return OnnxRuntimeEngine
    if name == "tensorrt":
        from onnxprof.engines.tensorrt import TensorRTEngine

        return TensorRTEngine
    raise EngineUnavailable(f"no engine named {name!r}: choose one of {', '.join(ENGINES)}")


def create_engine(name: str, model_path: Path, options: EngineOptions) -> Engine:
    return engine_class(name)(model_path, options)


def engine_traits(name: str, options: EngineOptions = EngineOptions(), model_source: Optional[str] = None
                  ) -> EngineTraits:
    """What the engine ``name`` tells a predictor about how it runs a graph (see engines.traits)."""
    return engine_class(name).traits(options, model_source)
