"""Reference networks built as ONNX by onnxprof itself (no download): ``zoo:NAME`` anywhere a model
path is accepted."""

from __future__ import annotations

from typing import Callable

import onnx

from onnxprof.errors import ModelError

NETWORKS: dict[str, Callable[[], onnx.ModelProto]] = {}


def _register_resnets() -> None:
    from onnxprof.zoo.resnet import DEPTHS, resnet

    for depth in DEPTHS:
        NETWORKS[f"resnet{depth}"] = lambda depth=depth: resnet(depth)


_register_resnets()


def build_model(name: str) -> onnx.ModelProto:
    key = name.lower().replace("-", "").replace("_", "")
    if key not in NETWORKS:
        raise ModelError(f"zoo:{name}: no such network; available: {', '.join(NETWORKS)}")
    return NETWORKS[key]()
