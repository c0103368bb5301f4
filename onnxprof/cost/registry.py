"""The op registry: (domain, op type) -> a pure cost formula and its description in words.

A formula takes a :class:`NodeContext` (tensor facts, attributes, opset) and returns an
:class:`OpCost` (MACs and FLOPs). Bytes read and written are not the formula's business: they follow
from the tensors and the op's ``moves`` kind, the same way for every op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional

from onnxprof.model.graph import TensorInfo
from onnxprof.symbolic import Quantity

DEFAULT_DOMAIN = "ai.onnx"

# How an op touches memory. "data": reads its inputs, writes its outputs. "view": shares its input's
# buffer (Reshape, Squeeze...), moves nothing. "metadata": reads only shapes, writes its small output.
# "constant": baked into the model, moves nothing at run time. "opaque": sequences, optionals and
# strings, whose sizes are not static: no bytes counted.
DATA, VIEW, METADATA, CONSTANT, OPAQUE = "data", "view", "metadata", "constant", "opaque"


class ShapeUnknown(Exception):
    """Raised inside a formula when a shape it needs was not inferred."""


class InvalidNode(Exception):
    """Raised inside a formula when the node's attributes or shapes contradict its op's definition:
    such a node cannot run, so any count for it would be a made-up number. ``reason`` says what."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OpCost:
    macs: Quantity = 0
    flops: Quantity = 0


@dataclass(frozen=True)
class NodeContext:
    op_type: str
    domain: str
    attributes: Mapping[str, Any]
    inputs: tuple[Optional[TensorInfo], ...]   # None for an omitted optional input
    outputs: tuple[Optional[TensorInfo], ...]
    opset: int
    constants: Mapping[str, Any] = field(default_factory=dict)  # small constant tensors by name (numpy)
    bodies: Mapping[str, Any] = field(default_factory=dict)     # subgraph attribute -> its OpCost(s)
    name: str = ""

    def attr(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(name, default)

    def has_input(self, index: int) -> bool:
        return index < len(self.inputs) and self.inputs[index] is not None

    def in_shape(self, index: int) -> tuple[Quantity, ...]:
        return _known_shape(self.inputs, index, self.op_type)

    def out_shape(self, index: int = 0) -> tuple[Quantity, ...]:
        return _known_shape(self.outputs, index, self.op_type)

    def input_value(self, index: int) -> Any:
        """The input's value when it is a small constant (numpy array), else None."""
        if not self.has_input(index):
            return None
        return self.constants.get(self.inputs[index].name)

    def dims(self, index: int) -> Optional[tuple]:
        """The input's shape as far as it is known (dims may be None or symbolic), or None: for
        validation, which checks what it can and never needs a shape."""
        if index >= len(self.inputs) or self.inputs[index] is None:
            return None
        return self.inputs[index].shape

    def in_elements(self, index: int = 0) -> Quantity:
        return _elements(self.inputs, index)

    def out_elements(self, index: int = 0) -> Quantity:
        return _elements(self.outputs, index)


def _known_shape(tensors, index: int, op_type: str) -> tuple[Quantity, ...]:
    if index >= len(tensors) or tensors[index] is None or not tensors[index].is_known:
        raise ShapeUnknown(op_type)
    return tensors[index].shape


def _elements(tensors, index: int) -> Quantity:
    if index >= len(tensors) or tensors[index] is None or tensors[index].elements is None:
        raise ShapeUnknown()
    return tensors[index].elements


Formula = Callable[[NodeContext], OpCost]


@dataclass(frozen=True)
class OpEntry:
    domain: str
    op_type: str
    formula: Formula
    macs: str          # the formula in words, for the op table
    flops: str
    moves: str = DATA
    exact: bool = True


_REGISTRY: dict[tuple[str, str], OpEntry] = {}


def register(op_types: str | Iterable[str], *, flops: str, macs: str = "0", moves: str = DATA,
             exact: bool = True, domain: str = DEFAULT_DOMAIN) -> Callable[[Formula], Formula]:
    """Decorator: register ``formula`` for each op type. Registering an op twice is an error."""
    names = [op_types] if isinstance(op_types, str) else list(op_types)

    def wrap(formula: Formula) -> Formula:
        for name in names:
            key = (domain, name)
            if key in _REGISTRY:
                raise ValueError(f"cost formula for {domain}::{name} registered twice")
            _REGISTRY[key] = OpEntry(domain, name, formula, macs, flops, moves, exact)
        return formula

    return wrap


def lookup(domain: str, op_type: str) -> Optional[OpEntry]:
    if not _loaded:
        _load_formulas()
    return _REGISTRY.get((domain or DEFAULT_DOMAIN, op_type))


def all_entries() -> list[OpEntry]:
    _load_formulas()
    return sorted(_REGISTRY.values(), key=lambda e: (e.domain, e.op_type))


_loaded = False


def _load_formulas() -> None:
    global _loaded
    import onnxprof.cost.ops  # noqa: F401  (registers every family on first use)

    _loaded = True


def zero_cost(ctx: NodeContext) -> OpCost:
    """Data movement, shape and selection ops: no arithmetic."""
    return OpCost()
