"""The .onnx file a command runs or reads: a path, or ``zoo:NAME`` exported to the zoo's cache. Every
command that takes a model resolves it here, so that zoo:NAME works wherever a model path does."""

from __future__ import annotations

import os
from pathlib import Path


def model_file(model: str | os.PathLike) -> Path:
    """The .onnx file to run: the path itself, or a zoo network exported to the cache."""
    text = os.fspath(model)
    if text.startswith("zoo:"):
        from onnxprof.zoo.export import export

        return export(text[4:]).path
    from onnxprof.errors import ModelError
    from onnxprof.files import regular_file

    return regular_file(text, "an .onnx model (or zoo:NAME)", ModelError)
