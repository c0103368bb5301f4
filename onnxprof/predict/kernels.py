"""The kernel model: a network's time as the sum of its kernels' times, each kernel's time from its
shape, fitted on profiled kernels (every layer of every calibration network and single-op benchmarks).

For a node of kernel class c (:class:`~onnxprof.predict.kernel_work.KernelClass`) the model fits::

    node_ms = Σ_class-terms a[c, t] · t(node) + Σ_shared-terms b[t] · t(node)
    product terms (Conv, MatMul …): macs, macs/m, macs/k, macs/n, bytes, kernel
    other terms:                    flops, bytes, kernel
    shared terms:                   spilled bytes; in a network: kernel, weight bytes, spilled bytes

(terms are declared in :mod:`onnxprof.predict.terms`; m, n, k: output columns a group, positions and
reduction length; kernel: 1 for a node that starts a kernel, 0 for one fused into its producer; spilled
bytes: feature-map bytes past the cores' own caches, for an engine on the host). A fused node never
costs more than alone. Coefficients are nonnegative least squares over all profiled kernels, each
error weighted by the geometric mean of its share of its network's time and of its own time.

    network_ms = s · (Σ node_ms − o · kernels)

o is what profiling adds to each kernel, read off the calibration networks' profiled sums against
their unprofiled runs; s is the median remaining ratio per batch size. Which (producer, consumer) op
pairs run as one kernel is read off the profiles; the layout an engine imposes (blocked channels, the
conversions it inserts) comes from the engine's traits (:mod:`onnxprof.engines.traits`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Mapping, Optional, Sequence

import networkx as nx
import numpy as np

from onnxprof.cost.analysis import StaticReport
from onnxprof.engines.ort_layout import REORDER_OPS
from onnxprof.engines.traits import EngineTraits
from onnxprof.measure.layers import LayerRow
from onnxprof.predict.kernel_work import REORDER, KernelClass, NodeWork, layout_works, node_works
from onnxprof.predict.metrics import nonnegative_least_squares, r_squared
from onnxprof.predict.terms import OTHER_TERMS, SHARED_TERMS, Term, Work, class_terms, shared_terms

OTHER = KernelClass("other")     # ops without calibration data: the median of the other ops' coefficients
MIN_FUSION_SHARE = 0.5           # a (producer, consumer) pair fuses when it did at least this often
PROFILER_RESOLUTION_MS = 1e-4    # a kernel timed shorter is weighted as this long in the fit
MIN_NETWORK_SHARE = 0.5          # the profiling-overhead correction never takes more than half the kernels' sum
# ops that only gather their inputs into one tensor cost what fetching those inputs costs: in a network
# other kernels just wrote them, so where networks have some their single-op cases are left out
GATHERS = frozenset({"Concat"})


def _sole_producers(graph: nx.DiGraph, node: str) -> list[str]:
    """The nodes feeding ``node`` whose output nothing else reads: the only ones it can fuse with."""
    return [p for p in graph.predecessors(node) if graph.out_degree(p) == 1]


# -- training data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelTiming:
    """One profiled kernel: the ONNX nodes it ran (with which of them ran fused into a producer in the
    same kernel), its measured time, and the run it came from."""

    nodes: tuple[NodeWork, ...]
    fused: tuple[bool, ...]
    measured_ms: float
    source: str                  # the network (or single-op benchmark) and batch: rows are weighted per source
    # (producer op, consumer op, ran in one kernel) for each node's producers that it alone reads
    links: tuple[tuple[str, str, bool], ...] = ()
    alone: bool = False          # a single-op benchmark: profiled on its own, not inside a network

    def classes(self) -> tuple[KernelClass, ...]:
        """Each node's class as it ran (fused or not)."""
        return tuple(replace(work.kernel_class, fused=fused) for work, fused in zip(self.nodes, self.fused))

    def started_classes(self, weighted: bool = False) -> set[KernelClass]:
        """The classes of the nodes that start a kernel of their own (``weighted``: products with weights)."""
        return {work.kernel_class for work, fused in zip(self.nodes, self.fused)
                if not fused and (not weighted or work.is_product and work.weight_bytes > 0)}


def kernel_timings(rows: Sequence[LayerRow], report: StaticReport, source: str, traits: EngineTraits,
                   alone: bool = False) -> list[KernelTiming]:
    """Profiled layers joined to the nodes they cover, nodes that do no work left out; of the layers the
    engine inserted (no ONNX node), the layout conversions as one timing covering all of them. ``alone``:
    the report is a single-op benchmark's, not a network's."""
    works = node_works(report, traits)
    timings = _layout_timing(rows, report, source, traits, alone)
    for row in rows:
        covered = set(row.onnx_nodes)
        names = [n for n in row.onnx_nodes if n in works]
        if not names or not row.measured_ms > 0:
            continue
        producers = {n: [p for p in _sole_producers(report.graph, n) if p in works] for n in names}
        links = tuple((works[p].op, works[n].op, p in covered) for n in names for p in producers[n])
        # fused: fed by a node that does work in the same kernel (a view such as Flatten is not one)
        fused = tuple(any(p in covered for p in producers[n]) for n in names)
        timings.append(KernelTiming(tuple(works[n] for n in names), fused, float(row.measured_ms), source, links,
                                    alone))
    return timings


def _layout_timing(rows: Sequence[LayerRow], report: StaticReport, source: str, traits: EngineTraits,
                   alone: bool) -> list[KernelTiming]:
    """Profiled reorder kernels cannot be told apart by name (ONNX Runtime numbers them per session), so
    they are fitted together: their summed time against the conversions predicted for the model."""
    measured = sum(row.measured_ms for row in rows if not row.onnx_nodes and row.name.startswith(REORDER_OPS))
    predicted = layout_works(report, traits) if measured > 0 else []
    return ([KernelTiming(tuple(predicted), (False,) * len(predicted), float(measured), source, alone=alone)]
            if predicted else [])


def observed_fusions(timings: Sequence[KernelTiming]) -> frozenset[tuple[str, str]]:
    """(producer op, consumer op) pairs that ran as one kernel in at least MIN_FUSION_SHARE of the
    profiled cases where they could (the producer's output read by the consumer alone). By op, not by
    class: an engine's graph fusions match the op (ONNX Runtime folds a BatchNorm into any Conv)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for timing in timings:
        for producer, consumer, together in timing.links:
            entry = counts.setdefault((producer, consumer), [0, 0])
            entry[0] += together
            entry[1] += 1
    return frozenset(pair for pair, (fused, total) in counts.items() if fused >= MIN_FUSION_SHARE * total)


# -- the design matrix --------------------------------------------------------------------------------


def _term_values(work: NodeWork, fused: bool, spill_from_bytes: Optional[float], terms: Sequence[Term]) -> np.ndarray:
    seen = Work(work, fused, spill_from_bytes)
    return np.array([term.value(seen) for term in terms])


@dataclass(frozen=True)
class Design:
    """The columns of the fit: each class's own terms, then the shared terms."""

    class_columns: Mapping[KernelClass, slice]          # in sorted class order
    class_terms: Mapping[KernelClass, tuple[Term, ...]]
    shared: tuple[Term, ...]

    @property
    def width(self) -> int:
        return max((s.stop for s in self.class_columns.values()), default=0) + len(self.shared)

    def shared_column(self, index: int) -> int:
        return self.width - len(self.shared) + index

    def row(self, timing: KernelTiming, spill_from_bytes: Optional[float]) -> np.ndarray:
        row = np.zeros(self.width)
        for work, kernel_class, fused in zip(timing.nodes, timing.classes(), timing.fused):
            row[self.class_columns[kernel_class]] += _term_values(work, fused, spill_from_bytes, class_terms(work))
            for index, term in enumerate(self.shared):
                if not (term.network_only and timing.alone):
                    row[self.shared_column(index)] += term.value(Work(work, fused, spill_from_bytes))
        return row


def _design(timings: Sequence[KernelTiming], spill_known: bool) -> Design:
    terms: dict[KernelClass, tuple[Term, ...]] = {}
    for t in timings:
        for work, kernel_class in zip(t.nodes, t.classes()):
            terms[kernel_class] = class_terms(work)
    columns, start = {}, 0
    for kernel_class in sorted(terms):
        columns[kernel_class] = slice(start, start + len(terms[kernel_class]))
        start += len(terms[kernel_class])
    shared = tuple(t for t in shared_terms(spill_known) if not t.network_only or _in_network_identifiable(timings, t))
    return Design(columns, terms, shared)


def _in_network_identifiable(timings: Sequence[KernelTiming], term: Term) -> bool:
    """Whether what a kernel costs more in a network can be told from the classes' own coefficients:
    only where some class starts kernels both alone and in a network (for the weight-bytes term, a
    product with weights: a BatchNormalization's few kilobytes would set a cost then charged to a Gemm's
    megabytes). Otherwise its column is a sum of class columns, split between them at random."""
    weighted = term.name == "in_network_weight_bytes"
    alone, in_networks = set(), set()
    for t in timings:
        (alone if t.alone else in_networks).update(t.started_classes(weighted))
    return bool(alone & in_networks)


def _gathers_from_networks(timings: Sequence[KernelTiming]) -> list[KernelTiming]:
    in_networks = {work.op for t in timings if not t.alone for work in t.nodes}
    return [t for t in timings if not (t.alone and any(w.op in GATHERS and w.op in in_networks for w in t.nodes))]


@dataclass(frozen=True)
class KernelFit:
    coefficients: Mapping[KernelClass, Mapping[str, float]]   # class -> its terms' coefficients by name
    shared: Mapping[str, float]                                # shared term -> coefficient (absent: not fitted)
    r_squared: float


def fit_kernel_times(timings: Sequence[KernelTiming], spill_from_bytes: Optional[float] = None) -> KernelFit:
    """Coefficients by nonnegative least squares. Each kernel's squared error is divided by its source's
    total time, its own time and its source's number of kernels: the geometric mean of its error
    relative to its network and to itself, every source weighing alike (a 4 ms network as much as a
    400 ms one)."""
    if not timings:
        raise ValueError("no profiled kernels to fit")
    timings = _gathers_from_networks(timings)
    design = _design(timings, spill_from_bytes is not None)
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for t in timings:
        totals[t.source] = totals.get(t.source, 0.0) + t.measured_ms
        counts[t.source] = counts.get(t.source, 0) + 1
    matrix = np.array([design.row(t, spill_from_bytes) for t in timings])
    measured = np.array([t.measured_ms for t in timings])
    weights = 1.0 / np.sqrt([totals[t.source] * max(t.measured_ms, PROFILER_RESOLUTION_MS) * counts[t.source]
                             for t in timings])
    solution = nonnegative_least_squares(matrix * weights[:, None], measured * weights)
    coefficients: dict[KernelClass, dict[str, float]] = {}
    for kernel_class, columns in design.class_columns.items():
        terms = design.class_terms[kernel_class]
        coefficients[kernel_class] = {t.name: float(v) for t, v in zip(terms, solution[columns])}
    standalone = [c for k, c in coefficients.items()
                  if design.class_terms[k] == OTHER_TERMS and not k.fused and k.op != REORDER]
    coefficients[OTHER] = {t.name: float(np.median([c[t.name] for c in standalone])) if standalone else 0.0
                           for t in OTHER_TERMS}
    shared = {t.name: float(solution[design.shared_column(i)]) for i, t in enumerate(design.shared)}
    return KernelFit(coefficients, shared, r_squared(matrix @ solution, measured))


# -- the model ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NetworkFit:
    """From kernels to the whole network: ``scale · (Σ kernels − overhead · kernels)``."""

    overhead_ms: float = 0.0     # per kernel: what profiling adds to it (negative: the run has time between kernels)
    scale: float = 1.0

    def apply(self, kernels_ms: float, kernels: int) -> float:
        return self.scale * max(kernels_ms - self.overhead_ms * kernels, MIN_NETWORK_SHARE * kernels_ms)


@dataclass(frozen=True)
class KernelModel:
    coefficients: Mapping[KernelClass, Mapping[str, float]]   # class -> its terms' coefficients by name
    shared: Mapping[str, float] = field(default_factory=dict)  # shared term -> coefficient
    fusions: frozenset = frozenset()                # (producer op, consumer op) pairs run as one kernel
    network_by_batch: Mapping[int, NetworkFit] = field(default_factory=dict)   # Σ kernels → whole network
    network: Optional[NetworkFit] = None            # pooled over batch sizes: for batch sizes not calibrated
    r_squared: float = float("nan")                 # of the kernel times it was fitted on
    n: int = 0                                      # kernels fitted on
    spill_from_bytes: Optional[float] = None        # activation bytes past which a kernel streams its maps

    def _coefficients(self, kernel_class: KernelClass, work: NodeWork) -> Optional[Mapping[str, float]]:
        """The nearest measured class's (see KernelClass.fallbacks); any product's for a product never
        seen; the other ops' median for an op never seen."""
        names = {t.name for t in class_terms(work)}
        last_resort = (OTHER,) if not kernel_class.is_product else self._products
        for candidate in (*kernel_class.fallbacks(), *last_resort):
            found = self.coefficients.get(candidate)
            if found is not None and set(found) == names:
                return found
        return None     # a product when no product was calibrated: unknown

    @functools.cached_property
    def _products(self) -> tuple[KernelClass, ...]:
        return tuple(sorted(k for k in self.coefficients if k.is_product and not k.fused))

    def _class_ms(self, work: NodeWork, fused: bool) -> float:
        coefficients = self._coefficients(replace(work.kernel_class, fused=fused), work)
        if coefficients is None:
            return 0.0
        seen = Work(work, fused, self.spill_from_bytes)
        own = sum(coefficients[t.name] * t.value(seen) for t in class_terms(work))
        return own + sum(self.shared.get(t.name, 0.0) * t.value(seen) for t in SHARED_TERMS if not t.network_only)

    def node_ms(self, work: NodeWork, fused: bool = False) -> float:
        """As profiled alone. Run inside its producer's kernel a node saves a kernel and a pass over
        memory: it never costs more than alone (a fused class is read off small differences of noisy
        timings)."""
        alone = self._class_ms(work, False)
        return min(self._class_ms(work, True), alone) if fused else alone

    def in_network_ms(self, work: NodeWork, fused: bool = False) -> float:
        """What the node costs more inside a network than profiled alone."""
        seen = Work(work, fused, self.spill_from_bytes)
        return sum(self.shared.get(t.name, 0.0) * t.value(seen) for t in SHARED_TERMS if t.network_only)

    def fused_nodes(self, report: StaticReport, works: Mapping[str, NodeWork]) -> set[str]:
        return {name for name, work in works.items()
                if any(p in works and (works[p].op, work.op) in self.fusions
                       for p in _sole_producers(report.graph, name))}

    def kernels(self, report: StaticReport, traits: EngineTraits) -> tuple[float, int]:
        """Σ of the predicted node times in a network, as a profiler would see them, and the number of kernels."""
        works = node_works(report, traits)
        fused = self.fused_nodes(report, works)
        layout = layout_works(report, traits) if KernelClass(REORDER) in self.coefficients else []
        every_node = [(work, name in fused) for name, work in works.items()] + [(work, False) for work in layout]
        total = sum(self.node_ms(work, is_fused) + self.in_network_ms(work, is_fused) for work, is_fused in every_node)
        return total, sum(not is_fused for _, is_fused in every_node)

    def kernels_ms(self, report: StaticReport, traits: EngineTraits) -> float:
        return self.kernels(report, traits)[0]

    def latency_ms(self, report: StaticReport, batch: int, traits: EngineTraits) -> float:
        network = self.network_by_batch.get(batch, self.network or NetworkFit())
        return network.apply(*self.kernels(report, traits))


@dataclass(frozen=True)
class NetworkTiming:
    """A whole network's unprofiled time, and the sum and number of its profiled kernels."""

    report: StaticReport
    batch: int
    measured_ms: float
    profiled_ms: float
    profiled_kernels: int
    traits: EngineTraits = EngineTraits()


def _profiling_overhead(networks: Sequence[NetworkTiming]) -> float:
    """What profiling adds to each kernel, read off the measurements alone (profiled sum against the
    unprofiled run), by relative least squares of (profiled − measured)/measured on kernels/measured,
    one value for every batch size: the networks of many short kernels, where it matters, are where
    it can be read."""
    x = np.array([n.profiled_kernels / n.measured_ms for n in networks])
    y = np.array([(n.profiled_ms - n.measured_ms) / n.measured_ms for n in networks])
    return float(x @ y / (x @ x)) if x.any() else 0.0


def _network_fit(networks: Sequence[NetworkTiming], kernels: Sequence[tuple[float, int]],
                 overhead: float) -> NetworkFit:
    """``kernels``: the model's (Σ kernels, kernels) for each network. Less the profiling overhead, the
    scale corrects what remains of the model's bias as a median, so that one network whose kernels
    the model gets wrong moves nothing."""
    fit = NetworkFit(overhead, 1.0)
    return NetworkFit(overhead, float(np.median([n.measured_ms / fit.apply(*predicted)
                                                 for n, predicted in zip(networks, kernels)])))


def fit_kernels(timings: Sequence[KernelTiming], networks: Sequence[NetworkTiming],
                spill_from_bytes: Optional[float] = None) -> KernelModel:
    """Kernel coefficients and fusions from profiled kernels, then the profiling overhead and the
    network scale per batch size from whole-network timings. ``spill_from_bytes``: where the host's
    caches give out (:func:`onnxprof.predict.microbench.spill_from_bytes`; None: not known or not a host)."""
    fit = fit_kernel_times(timings, spill_from_bytes)
    model = KernelModel(fit.coefficients, fit.shared, observed_fusions(timings), r_squared=fit.r_squared,
                        n=len(timings), spill_from_bytes=spill_from_bytes)
    if not networks:
        return model
    kernels = [model.kernels(n.report, n.traits) for n in networks]
    overhead = _profiling_overhead(networks)
    by_batch = {}
    for batch in sorted({n.batch for n in networks}):
        at_batch = [i for i, n in enumerate(networks) if n.batch == batch]
        by_batch[batch] = _network_fit([networks[i] for i in at_batch], [kernels[i] for i in at_batch], overhead)
    return replace(model, network_by_batch=by_batch, network=_network_fit(networks, kernels, overhead))


# -- JSON ---------------------------------------------------------------------------------------------


def _class_json(kernel_class: KernelClass) -> dict:
    return {"op": kernel_class.op, "group_width": kernel_class.group_width, "strided": kernel_class.strided,
            "blocked": kernel_class.blocked, "fused": kernel_class.fused}


def kernel_model_json(model: Optional[KernelModel]) -> Optional[dict]:
    if model is None:
        return None
    return {"classes": [{"class": _class_json(k), "coefficients": dict(c)}
                        for k, c in sorted(model.coefficients.items())],
            "shared": dict(model.shared),
            "fusions": sorted(list(pair) for pair in model.fusions),
            "network_by_batch": {str(k): [v.overhead_ms, v.scale] for k, v in model.network_by_batch.items()},
            "network": [model.network.overhead_ms, model.network.scale] if model.network else None,
            "r_squared": model.r_squared, "n": model.n, "spill_from_bytes": model.spill_from_bytes}


def kernel_model_from_json(body: Mapping) -> KernelModel:
    return KernelModel(coefficients={KernelClass(**entry["class"]): dict(entry["coefficients"])
                                     for entry in body["classes"]},
                       shared=dict(body["shared"]),
                       fusions=frozenset(tuple(pair) for pair in body["fusions"]),
                       network_by_batch={int(k): NetworkFit(*v) for k, v in body["network_by_batch"].items()},
                       network=NetworkFit(*body["network"]) if body.get("network") else None,
                       r_squared=body.get("r_squared", float("nan")), n=body.get("n", 0),
                       spill_from_bytes=body.get("spill_from_bytes"))
