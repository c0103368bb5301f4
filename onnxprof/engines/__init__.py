"""Engines that run a model: ONNX Runtime (any provider) and native TensorRT."""

from __future__ import annotations

from pathlib import Path

from onnxprof.engines.base import Engine, EngineOptions, EngineUnavailable

ENGINES = ("onnxruntime", "tensorrt")


def create_engine(name: str, model_path: Path, options: EngineOptions) -> Engine:
    if name == "onnxruntime":
        from onnxprof.engines.onnxruntime import OnnxRuntimeEngine

        return OnnxRuntimeEngine(model_path, options)
    if name == "tensorrt":
        from onnxprof.engines.tensorrt import TensorRTEngine

        return TensorRTEngine(model_path, options)
    raise EngineUnavailable(f"--engine {name!r}: choose one of {', '.join(ENGINES)}")
