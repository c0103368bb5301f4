"""Writing zoo networks to .onnx files, cached: the checkout's ``models/`` when onnxprof runs from a
source tree, a user cache directory otherwise (``$ONNXPROF_CACHE`` overrides both)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import onnx

from onnxprof.model.load import tensor_nbytes
from onnxprof.zoo import build_model, resolve
from onnxprof.zoo.builder import ExternalWeights, MemoryWeights, ShapeOnlyWeights

# Above this many weight bytes a network streams its weights to an external data file while it is
# built, so they never sit in memory at once (VGG-19: 575 MB).
EXTERNAL_DATA_BYTES = 100_000_000


@dataclass(frozen=True)
class ExportResult:
    name: str
    path: Path
    weight_bytes: int
    external_data: bool
    cached: bool          # the file was already there and was reused


def cache_dir() -> Path:
    override = os.environ.get("ONNXPROF_CACHE")
    if override:
        return Path(override)
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout / "models"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "onnxprof" / "models"


def default_path(name: str, batch: Union[str, int] = "N", fold_bn: bool = False) -> Path:
    suffix = ("" if batch == "N" else f"-b{batch}") + ("-foldbn" if fold_bn else "")
    return cache_dir() / f"{resolve(name)}{suffix}.onnx"


def weight_bytes(name: str) -> int:
    model = build_model(name, weights=ShapeOnlyWeights())
    return sum(tensor_nbytes(t) for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)


def export(name: str, path: Optional[Path] = None, batch: Union[str, int] = "N", fold_bn: bool = False,
           force: bool = False) -> ExportResult:
    """Write the network (real, deterministic weights) to ``path`` or the cache; reuse a cached file."""
    key = resolve(name)
    target = Path(path) if path is not None else default_path(key, batch, fold_bn)
    size = weight_bytes(key)
    external = size > EXTERNAL_DATA_BYTES
    if target.is_file() and not force and path is None:
        return ExportResult(key, target, size, external, cached=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    sink = ExternalWeights(target.parent, f"{target.name}.data") if external else MemoryWeights()
    try:
        model = build_model(key, weights=sink, fold_bn=fold_bn, batch=batch)
    finally:
        if external:
            sink.close()
    partial = target.with_name(target.name + ".part")
    onnx.save_model(model, partial)       # the .onnx is written last: its presence means complete
    os.replace(partial, target)
    return ExportResult(key, target, size, external, cached=False)
