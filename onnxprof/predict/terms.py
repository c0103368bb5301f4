"""The kernel model's terms, each declared once: the design matrix it is fitted on, its coefficients'
names in JSON and its printout are all built from these lists.

A *class* term has one coefficient per kernel class (products and other ops have their own lists); a
*shared* term has one coefficient for every class. A ``network_only`` term is what a kernel costs more
inside a network than profiled alone, over and over (its weights and maps are no longer where its last
run left them): it is zero for single-op benchmarks and always counted in a prediction. A ``host_only``
term needs the host's cache size (the spill threshold), so an engine that runs on a device has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from onnxprof.predict.kernel_work import NodeWork


@dataclass(frozen=True)
class Work:
    """One node as a term reads it: its work, whether it ran fused, the spill threshold (None: unknown)."""

    node: NodeWork
    fused: bool
    spill_from_bytes: Optional[float]

    @property
    def starts_kernel(self) -> float:
        return 0.0 if self.fused else 1.0

    # a product with nothing to multiply (an empty KV cache's MatMul) moves bytes and starts a kernel:
    # its other product terms are zero
    @property
    def patches(self) -> float:             # macs/m
        return self.node.macs / self.node.columns if self.node.is_product else 0.0

    @property
    def outputs(self) -> float:             # macs/k
        return self.node.outputs if self.node.is_product else 0.0

    @property
    def weights(self) -> float:             # macs/n: n output positions, outputs per output column
        node = self.node
        return node.macs * node.columns * node.groups / node.outputs if node.is_product else 0.0


@dataclass(frozen=True)
class Term:
    name: str
    value: Callable[[Work], float]
    meaning: str                    # what its coefficient is, for the printout
    scale: float = 1.0              # printed coefficient = coefficient × scale, in ``unit``
    unit: str = "ms"
    network_only: bool = False
    host_only: bool = False


# a product (Conv, MatMul …) is m output columns a group × n positions × a reduction of k: full speed
# for large tiles, slower as any side gets small; macs/m, macs/k and macs/n are its input patches, its
# outputs and its weights, so the model stays linear in its coefficients
PRODUCT_TERMS = (
    Term("macs", lambda w: w.node.macs, "a MAC"),
    Term("patches", lambda w: w.patches, "an input patch element"),
    Term("outputs", lambda w: w.outputs, "an output"),
    Term("weights", lambda w: w.weights, "a weight use"),
    Term("bytes", lambda w: w.node.bytes_moved, "a byte moved"),
    # a node run inside its producer's kernel starts no kernel of its own: no per-kernel constant
    Term("kernel", lambda w: w.starts_kernel, "a kernel"),
)
OTHER_TERMS = (
    Term("flops", lambda w: w.node.flops, "a FLOP"),
    Term("bytes", lambda w: w.node.bytes_moved, "a byte moved"),
    Term("kernel", lambda w: w.starts_kernel, "a kernel"),
)
SHARED_TERMS = (
    # maps past the cores' own caches stream from a shared cache or memory, at one rate for every class
    Term("spilled_bytes", lambda w: w.node.spilled_bytes(w.spill_from_bytes), "a MB of maps past the cores' caches",
         1e9, "µs", host_only=True),
    Term("in_network_kernel", lambda w: w.starts_kernel, "a kernel inside a network", 1e3, "µs", network_only=True),
    Term("in_network_weight_bytes", lambda w: w.node.weight_bytes, "a MB of weights inside a network", 1e9, "µs",
         network_only=True),
    Term("in_network_spilled_bytes", lambda w: w.node.spilled_bytes(w.spill_from_bytes),
         "a MB of spilled maps inside a network", 1e9, "µs", network_only=True, host_only=True),
)


def class_terms(work: NodeWork) -> tuple[Term, ...]:
    return PRODUCT_TERMS if work.kernel_class.is_product else OTHER_TERMS


def shared_terms(spill_known: bool) -> tuple[Term, ...]:
    return tuple(t for t in SHARED_TERMS if spill_known or not t.host_only)


def describe_shared(coefficients: dict[str, float], terms: Sequence[Term] = SHARED_TERMS) -> str:
    """``+1.2 µs a kernel inside a network, …`` for each shared term fitted."""
    return ", ".join(f"{coefficients[t.name] * t.scale:+.1f} {t.unit} {t.meaning}" for t in terms
                     if t.name in coefficients)
