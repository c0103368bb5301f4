"""The batch a run measures, decided once from every flag that can set it.

A batch is set by ``--batch`` (a sweep), by the leading dim of an input bound with ``--input NAME:DIMS``,
by ``--dim SYMBOL=VALUE`` of the batch symbol (the symbol at the inputs' leading dim, e.g. N), by the
arrays of an ``--inputs`` .npz, or by the model itself when its inputs' leading dims are fixed. All that
set it must agree: ``--batch 2 --input x:8x3x224x224`` is an error, not a run at batch 1 or 2 labelled as
the other. The label, the static analysis and the prediction all use :attr:`BatchChoice.batches`.

The batch inputs are the inputs whose leading dim the model leaves dynamic (a symbol or unknown); a model
with none has its batch fixed by its first input of rank 1 or more.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

from onnxprof.errors import UsageError
from onnxprof.model.shapes import ShapeBinding

Dim = Union[int, str, None]          # a fixed size, a symbol, or unknown
DEFAULT_BATCH = 1


@dataclass(frozen=True)
class BatchChoice:
    """The batch sizes a run measures and the shapes that go with them."""

    batches: tuple[int, ...]                       # () only where nothing set a batch and no default was asked
    inputs: Mapping[str, tuple[int, ...]] = field(default_factory=dict)   # whole shapes: --input, the .npz
    dims: Mapping[str, int] = field(default_factory=dict)                 # --dim
    set_by: str = "the default"                    # what fixed the batch, for messages

    def binding(self, batch: Optional[int]) -> ShapeBinding:
        """The shapes of one batch size: bound inputs as given, every other batch input's leading dim
        ``batch``."""
        return ShapeBinding(inputs=dict(self.inputs), batch=batch, dims=dict(self.dims))


def model_inputs(model) -> dict[str, Optional[tuple[Dim, ...]]]:
    """The feedable inputs of a ModelProto with their declared dims (None: no shape declared)."""
    from onnxprof.model.shapes import graph_inputs

    found: dict[str, Optional[tuple[Dim, ...]]] = {}
    for info in graph_inputs(model.graph):
        tensor = info.type.tensor_type
        if not tensor.HasField("shape"):
            found[info.name] = None
            continue
        found[info.name] = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                                 for d in tensor.shape.dim)
    return found


def choose_batches(declared: Mapping[str, Optional[tuple[Dim, ...]]], batches: Optional[Sequence[int]] = None,
                   inputs: Optional[Mapping[str, tuple[int, ...]]] = None, dims: Optional[Mapping[str, int]] = None,
                   arrays: Optional[Mapping[str, tuple[int, ...]]] = None, arrays_from: str = "",
                   default: Optional[int] = DEFAULT_BATCH, batch_text: str = "") -> BatchChoice:
    """The batch sizes to run and the shapes to bind, from the model's declared inputs and every flag
    that can set the batch; a one-line UsageError where two of them disagree.

    ``batches``: the ``--batch`` list (None: not given; ``batch_text`` is how it was typed). ``arrays``:
    the shapes of an .npz's arrays (``arrays_from`` its path). ``default``: the batch when nothing sets
    one (None: leave it unbound, as ``analyze`` does)."""
    bound = dict(inputs or {})
    named = dict(dims or {})
    given_as = {name: f"--input {name}:{_dims(shape)}" for name, shape in bound.items()}
    for name, shape in (arrays or {}).items():
        if name not in declared:
            continue                              # arrays the model does not take are not fed
        declared_shape = declared[name]
        if declared_shape is not None and len(declared_shape) != len(shape):
            raise UsageError(f"--inputs {arrays_from}: array {name} is {_dims(shape)}, rank {len(shape)}, but the "
                             f"model's input {name} has rank {len(declared_shape)} ({_dims(declared_shape)})")
        if name in bound and tuple(bound[name]) != tuple(shape):
            raise UsageError(f"{given_as[name]} contradicts --inputs {arrays_from}, whose array {name} is "
                             f"{_dims(shape)}: give one of them")
        bound[name] = tuple(shape)
        given_as[name] = f"--inputs {arrays_from} (array {name}: {_dims(shape)})"

    dynamic = {name: shape for name, shape in declared.items() if shape and not isinstance(shape[0], int)}
    claims: list[tuple[int, str]] = []
    for name, shape in dynamic.items():
        if name in bound and bound[name]:
            claims.append((bound[name][0], given_as[name]))
    for symbol in dict.fromkeys(shape[0] for shape in dynamic.values() if isinstance(shape[0], str)):
        if symbol in named:
            claims.append((named[symbol], f"--dim {symbol}={named[symbol]}"))
    if not dynamic:
        fixed = next(((name, shape) for name, shape in declared.items() if shape), None)
        if fixed is not None:
            claims.append((fixed[1][0], f"the model (its input {fixed[0]} is {_dims(fixed[1])}; export it with "
                                        "a dynamic batch dim to run other sizes)"))
    values = dict.fromkeys(value for value, _ in claims)
    if len(values) > 1:
        first, second = claims[0], next(c for c in claims if c[0] != claims[0][0])
        raise UsageError(f"the batch is set twice: {first[0]} by {first[1]} and {second[0]} by {second[1]}; "
                         "give it once")
    if claims:
        value, set_by = claims[0]
        if batches is not None and tuple(batches) != (value,):
            typed = batch_text or ",".join(map(str, batches))
            raise UsageError(f"--batch {typed} contradicts {set_by}, which sets batch {value}: give the batch once")
        return BatchChoice(batches=(value,), inputs=bound, dims=named, set_by=set_by)
    if batches is not None:
        return BatchChoice(batches=tuple(batches), inputs=bound, dims=named, set_by="--batch")
    return BatchChoice(batches=() if default is None else (default,), inputs=bound, dims=named)


def npz_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """The shape of every array in an .npz, read from the array headers (no data is loaded)."""
    import numpy as np

    shapes: dict[str, tuple[int, ...]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    reader = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape, _, _ = reader(member)
                shapes[info.filename[:-4]] = tuple(int(d) for d in shape)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UsageError(f"--inputs {path}: not a readable .npz file ({exc})") from None
    return shapes


def throughput_unit(input_shapes: Sequence[Optional[Sequence]]) -> str:
    """What a run's throughput counts: ``images/s`` when the model takes a 4-D image batch
    (N×C×H×W or N×H×W×C with 1, 3 or 4 channels), else ``samples/s`` (a token sequence, a feature
    vector: one batch item, whatever it is)."""
    for shape in input_shapes:
        if shape is not None and len(shape) == 4 and (shape[1] in (1, 3, 4) or shape[3] in (1, 3, 4)):
            return "images/s"
    return "samples/s"


def _dims(shape) -> str:
    return "x".join("?" if d is None else str(d) for d in shape) if shape else "scalar"
