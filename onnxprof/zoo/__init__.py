"""Reference networks built as ONNX by onnxprof itself (no download): ``zoo:NAME`` wherever a model
path is accepted, ``onnxprof zoo list|export``. Facts about each (accuracy, reference counts, sources)
are in ``manifest.json`` beside this file."""

from __future__ import annotations

import re
from typing import Callable

import onnx

from onnxprof.errors import ModelError
from onnxprof.zoo.builder import GraphBuilder, MemoryWeights, ShapeOnlyWeights

Network = Callable[[GraphBuilder], tuple[str, list]]   # builds into b, returns (output, output shape)


def _networks() -> dict[str, Network]:
    from onnxprof.zoo import classic, inception, mobile, resnet, transformers

    found: dict[str, Network] = {}
    for module in (classic, inception, resnet, mobile, transformers):
        found.update(module.NETWORKS)
    return found


def canonical(name: str) -> str:
    """``ResNet-50``, ``resnet_50`` and ``resnet50`` all name ``resnet50``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def network_names() -> list[str]:
    return list(_networks())


def resolve(name: str) -> str:
    """The zoo's spelling of ``name``; a one-line error listing the zoo when there is none."""
    by_key = {canonical(n): n for n in _networks()}
    if canonical(name) not in by_key:
        raise ModelError(f"zoo:{name}: no such network; available: {', '.join(_networks())}")
    return by_key[canonical(name)]


def build_model(name: str, weights=None, fold_bn: bool = False, batch="N") -> onnx.ModelProto:
    """Build a zoo network. ``weights``: MemoryWeights (default), ShapeOnlyWeights, ExternalWeights."""
    key = resolve(name)
    builder = GraphBuilder(key, weights=weights or MemoryWeights(), fold_bn=fold_bn, batch=batch)
    output, shape = _networks()[key](builder)
    return builder.build(output, shape)


def build_for_analysis(name: str) -> onnx.ModelProto:
    """Dims and types only: what the analyzer reads, built without making a single weight value."""
    return build_model(name, weights=ShapeOnlyWeights())
