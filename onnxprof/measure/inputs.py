"""Inputs to feed a model: synthetic from each input's type and bound shape, or real from an .npz.

Synthetic values look like real data so the measurement is not distorted: floats ~ N(0, 1) as
normalised images or embeddings are; integer ids within the rows of the table they index (found in
the static graph: the input feeds a Gather); booleans all true (masks that attend everywhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import psutil
from onnx import helper

from onnxprof.cost.analysis import StaticReport
from onnxprof.errors import ModelError, UsageError

DEFAULT_INT_HIGH = 2   # an integer input that indexes nothing known: 0/1 (token types, flags)


def synthetic_feeds(report: StaticReport, seed: int = 0) -> dict[str, np.ndarray]:
    """Feeds for every input of an analysed model whose shapes are all bound.

    Raises MemoryError, before allocating anything, when the inputs alone need more than the host has
    free: where the kernel overcommits memory (containers often do), allocating them would succeed and
    the process would be killed while filling them, losing the batches already measured."""
    rng = np.random.default_rng(seed)
    tensors = report.graph.graph["tensors"]
    wanted = {t.name: (_concrete(t.name, t.shape), helper.tensor_dtype_to_np_dtype(tensors[t.name].dtype))
              for t in report.inputs}
    require_free_memory(sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype in wanted.values()))
    feeds = {}
    for name, (shape, dtype) in wanted.items():
        if dtype == np.bool_:
            feeds[name] = np.ones(shape, dtype=np.bool_)
        elif np.issubdtype(dtype, np.integer):
            high = min(index_range(report, name) or DEFAULT_INT_HIGH, int(np.iinfo(dtype).max) + 1)
            feeds[name] = rng.integers(0, high, size=shape, dtype=dtype)
        else:    # drawn in float32, never float64: a large batch would briefly need twice its size
            feeds[name] = rng.standard_normal(shape, dtype=np.float32).astype(dtype, copy=False)
    return feeds


def require_free_memory(needed: int, what: str = "the inputs alone need") -> None:
    """MemoryError, before anything is allocated, when ``needed`` bytes exceed the host's free memory."""
    free = psutil.virtual_memory().available
    if needed > free:
        raise MemoryError(f"{what} {needed / 1e9:.1f} GB and this host has {free / 1e9:.1f} GB free: "
                          "measure a smaller batch")


def require_bound(report: StaticReport) -> None:
    """A one-line error naming the first input whose shape still has a symbol."""
    for tensor in report.inputs:
        _concrete(tensor.name, tensor.shape)


def require_feedable_names(report: StaticReport) -> None:
    """An input or output whose name was not UTF-8 in the file (decoded with U+FFFD when loaded) cannot
    be named to ONNX Runtime or TensorRT: one line, before an engine is built."""
    for tensor in (*report.inputs, *report.outputs):
        if "\ufffd" in tensor.name:
            raise ModelError(f"{report.model.source}: the model's input or output {tensor.name!r} is not UTF-8 "
                             "in the file, so no engine's Python API can feed or fetch it; rename it in the model")


def index_range(report: StaticReport, name: str) -> Optional[int]:
    """Rows of the smallest table this input indexes through Gather (its ids must stay below)."""
    graph = report.graph
    tensors = graph.graph["tensors"]
    limits = []
    for _, data in graph.nodes(data=True):
        if data["op_type"] == "Gather" and len(data["inputs"]) > 1 and data["inputs"][1] == name:
            table = tensors.get(data["inputs"][0])
            axis = data["attributes"].get("axis", 0)
            if table is not None and table.shape is not None and isinstance(table.shape[axis], int):
                limits.append(table.shape[axis])
    return min(limits) if limits else None


def _concrete(name: str, shape) -> tuple[int, ...]:
    if shape is None or any(not isinstance(d, int) for d in shape):
        dims = "?" if shape is None else "x".join(str(d) for d in shape)
        raise UsageError(f"input {name} has shape {dims} with unbound dims: bind them with --batch, "
                         f"--input {name}:DIMS or --dim NAME=VALUE")
    return tuple(shape)


def load_feeds(path: Path, report: StaticReport) -> dict[str, np.ndarray]:
    """Real inputs from an .npz whose arrays are named like the model's inputs."""
    try:
        archive = np.load(path)
    except (OSError, ValueError) as exc:
        raise UsageError(f"--inputs {path}: not a readable .npz file ({exc})") from None
    expected = {t.name for t in report.inputs}
    missing = expected - set(archive.files)
    if missing:
        raise UsageError(f"--inputs {path}: no array for input(s) {', '.join(sorted(missing))} "
                         f"(the file has {', '.join(archive.files) or 'none'})")
    return {name: archive[name] for name in expected}

