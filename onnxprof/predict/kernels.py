"""The kernel model: each node's time from its shape, learned from per-layer profiles.

Like nn-Meter, it predicts a model as the sum of its kernels, each kernel's time fitted from many
profiled kernels (every layer of every calibration network, plus single-op benchmarks), not from a
dozen whole-model timings.

* **Products** (Conv, grouped Conv, MatMul, Gemm …) reduce to a matrix product of m output columns
  per group, n output positions and a reduction of length k. Its time is modelled as
  ``macs · (c₀ + c₁/m + c₂/k + c₃/n) + c₄ · bytes + c₅``: full speed for large tiles, slower as any
  side gets small (a 3-channel first layer, a 7×7 map at batch 1, a depthwise filter). Since
  macs/m, macs/k and macs/n are the input patches, the output elements and the weights, the model is
  linear in its coefficients.
* **Everything else** is ``c₀ · flops + c₁ · bytes + c₂``.
* Both have one more term, ``c · max(0, activation bytes − spill_from_bytes)`` (on a CPU, what the
  cores' own caches hold, :func:`onnxprof.predict.microbench.spill_from_bytes`): a kernel whose feature
  maps outgrow them streams them from a shared cache or memory. Without it, depthwise convolutions at
  batch 8 (25-48 MB of maps against a 32 MB cache) ran at twice the fitted time, which batch 1 and the
  single-op cases, all in cache, had set; no one cost per byte fits both. ``c`` is one cost per
  spilled byte for every class: a byte comes from memory at the same rate whichever kernel asks for it,
  and few classes have enough large kernels to fit a cost of their own. Fitted per class, a class with
  none paid nothing (EfficientNet-B0's Sigmoid·Mul at batch 8 ran its 116 MB at the memory's 37 GB/s,
  twice the fitted time), and a few large single-op cases set MatMul's at ten times a memory byte's
  cost, which priced ConvNeXt-T at +51 % at batch 8.

Coefficients are fitted per op class, by nonnegative least squares, each layer's error weighted by the
geometric mean of its share of its network's time and its own time (see fit_kernel_times). An op that an
engine runs inside its producer's kernel (ReLU after Conv, x·sigmoid(x)) costs differently from the same
op alone, so fused and standalone nodes have separate coefficients (a fused node is never predicted
above its cost alone); which (producer, consumer) pairs fuse is learned from the profiles too, for
every kind of convolution alike (see fusion_kind). A
convolution or pool that ONNX Runtime's CPU provider cannot run in its blocked layout runs another
kernel, several times slower (:mod:`onnxprof.engines.ort_layout`), so it has a class of its own
(``[NCHW]``), fitted on the single-op benchmarks at channel counts the engine does not block. The
kernels that engine inserts to convert tensors to and from its blocked layout are predicted where it
says it will insert them: their class, ``Reorder`` (``c₀ · bytes + c₁`` a kernel), is fitted on each
profiled network's reorder kernels together (they cannot be told apart by name), and only a model fitted
on some predicts them. A network's time is then
``s · (Σ nodes + (in_network_ms − o) · kernels + in_network_ms_per_weight_byte · weight bytes)`` (the
in-network terms: below): o is what profiling adds to each kernel (relative least squares of the
calibration networks' profiled sums against their unprofiled runs, all batch sizes together: it is the
profiler's cost, not the kernel's), s the median remaining ratio per batch size (time between kernels,
kernels no ONNX node accounts for and the model does not predict).

A kernel inside a network also costs more than the same kernel profiled alone, over and over, as the
single-op benchmarks do: its weights and input are no longer where its previous run left them, and the
kernel before it has to hand the threads over. One constant for every class, ``in_network_ms`` a kernel,
fitted on the network kernels only (zero for the single-op ones), carries the difference; every
prediction is of a network, so it is always added. Without it, the class coefficients followed the
single-op cases (0-5 % off them) and the network kernels of 10-160 µs came out 9-19 % low, in-sample,
which the network scale could only correct in proportion to time: networks of many short kernels
(MobileNetV3, ShuffleNetV2, RegNetX, MnasNet) came out 11-14 % low.

Weights are the other difference: run over and over, a kernel finds its weights where its last run
left them, in a cache that may hold tens of megabytes; in a network, the other layers' weights and
maps have pushed them out by its next run. ``in_network_ms_per_weight_byte``, also fitted on the network
kernels alone, is what each byte of weights costs more there. On a 2-core guest of a Xeon with 480 MB
of L3, a 4096×4096 Gemm at batch 1 read its 67 MB of weights at 51 GB/s alone and at 27 GB/s inside
AlexNet, and without the term AlexNet and BN-AlexNet came out 20-25 % low held out at batch 1.

So are feature maps past the cores' own caches: run over and over, a kernel finds them in the shared
cache, where its last run left them; in a network, they were written by the kernel before, on other
cores, or long before. ``in_network_ms_per_spilled_byte``, fitted on the network kernels alone, is what
each spilled byte costs more there (on top of the spill term every class has). A 3×3 depthwise
convolution on 8 × 384 × 14 × 14 took 90 µs profiled alone and 150-159 µs inside MobileNetV2; without
the term, EfficientNet-B0 came out 10-13 % low held out at batch 8 in four calibrations and MobileNetV2
7-11 % low, with it 6-10 % and 5-7 %. """

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, NamedTuple, Optional, Sequence

import networkx as nx
import numpy as np

from onnxprof.cost.analysis import StaticReport
from onnxprof.engines.ort_layout import REORDER_OPS, padded_channels
from onnxprof.engines.traits import EngineTraits
from onnxprof.measure.layers import LayerRow
from onnxprof.predict.latency import working_nodes
from onnxprof.predict.metrics import nonnegative_least_squares, r_squared

WIDEST_GROUP_CLASS = 32
# grouped convolutions by channels per group, in powers of two: engines pick their kernel by it (a width
# that fills the CPU's vector registers runs several times faster than one that does not)
GROUPED = tuple(f"Conv(groups of {w}+)" for w in (2 ** i for i in range(1, WIDEST_GROUP_CLASS.bit_length())))
PRODUCTS = frozenset({"Conv", "Conv(grouped)", "Conv(depthwise)", *GROUPED, "ConvTranspose", "MatMul", "Gemm",
                      "Einsum"})
# each followed by the bytes spilled past the cache when the model knows where the cache gives out
PRODUCT_TERMS = ("macs", "patches", "outputs", "weights", "bytes", "kernel")
OTHER_TERMS = ("flops", "bytes", "kernel")
FUSED = " (fused)"           # suffix of the class of a node that runs inside its producer's kernel
# a softmax over any axis but the last (opset 13 on) gathers strided elements: on ONNX Runtime's CPU
# provider the single-op cases over an image's channels ran at about 1 GB/s, those over tokens' last
# axis at 21-46 GB/s, and one class for both priced the channel softmax 50 times too low
SOFTMAX_OPS = ("Softmax", "LogSoftmax")
STRIDED = "(axis not last)"
LOOKUPS = frozenset({"Gather", "GatherElements", "GatherND"})   # read only the rows they look up in their table
UNBLOCKED = " [NCHW]"        # suffix of the class of a convolution or pool the engine leaves unblocked
LAYOUT = "Reorder"           # class of the layout conversions the engine inserts
BLOCKED_POOLS = frozenset({"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"})
OTHER = "other"              # op classes without calibration data use the median of the others
MIN_FUSION_SHARE = 0.5       # a (producer, consumer) pair fuses when it did at least this often
PROFILER_RESOLUTION_MS = 1e-4   # a kernel timed shorter is weighted as this long in the fit
# ops that only gather their inputs into one tensor: what they cost is where those inputs are. A single-op
# case finds them where its last run left them; in a network they are branch outputs that other kernels
# wrote, and a 1.6 MB Concat took 20 µs alone, 51 µs in GoogLeNet and 40-86 µs in DenseNet-121
GATHERS = frozenset({"Concat"})


@dataclass(frozen=True)
class NodeWork:
    """What one ONNX node asks of the device."""

    name: str
    kind: str                # op class (grouped convolutions apart)
    macs: float
    flops: float
    bytes_moved: float
    outputs: float           # output elements
    columns: float = 0.0     # m: output channels per group (Conv) or output features (MatMul); 0: not a product
    groups: int = 1
    blocked: bool = True     # False: a convolution or pool the engine runs in plain NCHW (see ort_layout)
    activation_bytes: Optional[float] = None    # bytes moved less the weights read (None: all of them)

    @property
    def weight_bytes(self) -> float:
        """The weights it reads (a lookup's table is not read whole: none)."""
        if self.activation_bytes is None or self.kind in LOOKUPS:
            return 0.0
        return self.bytes_moved - self.activation_bytes

    @property
    def is_product(self) -> bool:
        return self.kind in PRODUCTS and self.macs > 0 and self.columns > 0 and self.outputs > 0

    def terms(self, fused: bool = False, spill_from_bytes: Optional[float] = None) -> np.ndarray:
        # a node run inside its producer's kernel starts no kernel of its own: no per-kernel constant
        # (with one, the fit gave fused ReLU 12 µs a kernel, and a depthwise conv + BN + ReLU twice its time)
        kernel = 0.0 if fused else 1.0
        if self.is_product:
            reduction = self.macs / self.outputs                          # k
            positions = self.outputs / (self.columns * self.groups)       # n
            terms = [self.macs, self.macs / self.columns, self.macs / reduction, self.macs / positions,
                     self.bytes_moved, kernel]
        else:
            terms = [self.flops, self.bytes_moved, kernel]
        if spill_from_bytes is not None:
            terms.append(self.spilled_bytes(spill_from_bytes))
        return np.array(terms)

    def spilled_bytes(self, spill_from_bytes: Optional[float]) -> float:
        """Its feature maps' bytes past ``spill_from_bytes`` (None: no such threshold, none)."""
        if spill_from_bytes is None:
            return 0.0
        streamed = self.bytes_moved if self.activation_bytes is None else self.activation_bytes
        return max(0.0, streamed - spill_from_bytes)


def node_works(report: StaticReport, traits: EngineTraits) -> dict[str, NodeWork]:
    """Every counted node that does work (views such as Reshape move no bytes and are left out), as the
    engine runs it: a convolution or pool in a blocked layout works on whole blocks (see _in_blocks)."""
    layout = traits.layout
    tensors, weights = report.graph.graph["tensors"], report.graph.graph["weights"]
    works = {}
    for node, kind, flops, moved in working_nodes(report):
        data = report.graph.nodes[node.name]
        shape = node.output_shapes[0] if node.output_shapes else None
        outputs = float(np.prod(shape)) if shape and all(isinstance(d, int) for d in shape) else 0.0
        columns, groups = 0.0, 1
        if kind in PRODUCTS and shape:
            convolution = kind.startswith("Conv") and len(shape) > 1
            groups = int(data["attributes"].get("group", 1)) if convolution else 1
            columns = float(shape[1] if convolution else shape[-1]) / groups
            if kind == "Conv(grouped)":
                kind = _grouped_class(columns)
        if kind in SOFTMAX_OPS and _over_strided_axis(data, len(shape or ()), report.graph.graph["opsets"]):
            kind += STRIDED
        weights_read = sum(tensors[name].size_bytes or 0 for name in data["inputs"] if name in weights)
        work = NodeWork(node.name, kind, float(node.macs or 0), flops, moved, outputs, columns, groups,
                        blocked=node.name not in layout.unblocked, activation_bytes=max(0.0, moved - weights_read))
        # grouped convolutions the engine blocks have whole blocks a group already: nothing to pad
        if (layout.block and work.blocked and len(shape or ()) > 1
                and (kind in BLOCKED_POOLS or kind == "Conv(depthwise)" or kind == "Conv" and groups == 1)):
            input_shape = tensors[data["inputs"][0]].shape
            work = _in_blocks(work, int(shape[1]), int(input_shape[1]) if kind == "Conv" else None,
                              float(node.output_bytes[0]), layout.block)
        works[node.name] = work
    return works


def _over_strided_axis(data: Mapping, rank: int, opsets: Mapping[str, int]) -> bool:
    """Whether a softmax reduces over an axis other than the last. Before opset 13 the input is read as
    a 2-D matrix from ``axis`` on, whose rows are contiguous whatever the axis."""
    if opsets.get("ai.onnx", 0) < 13 or rank < 2:
        return False
    return int(data["attributes"].get("axis", -1)) % rank != rank - 1


def _in_blocks(work: NodeWork, channels: int, input_channels: Optional[int], output_bytes: float,
               block: int) -> NodeWork:
    """The work of a convolution or pool that the engine runs in its blocked layout, whose channels are
    padded to whole blocks (ort_layout.padded_channels): on a CPU with 16-channel blocks a 1×1
    convolution from 40 to 120 channels computes 48 × 128. MobileNetV3's, MnasNet's and EfficientNet's
    24-, 40-, 72- and 120-channel layers do up to a third more than their ONNX counts, and, counted as
    ONNX counts them, MobileNetV3 was predicted 3-16 % low at batch 8 in 10 of 11 calibrations.
    ``channels``: the output's; ``input_channels``: a dense convolution's (None: a depthwise convolution
    or a pool, whose input has its output's channels). An input narrower than a block is read as it is."""
    padded = padded_channels(channels, block)
    out_scale = padded / channels
    if input_channels is None:          # the input is padded like the output; the work per output is not
        in_scale, work_scale = out_scale, out_scale
    else:
        in_scale = padded_channels(input_channels, block) / input_channels if input_channels >= block else 1.0
        work_scale = out_scale * in_scale
    input_bytes = work.activation_bytes - output_bytes
    activation_bytes = input_bytes * in_scale + output_bytes * out_scale
    return replace(work, macs=work.macs * work_scale, flops=work.flops * work_scale,
                   bytes_moved=activation_bytes + work.weight_bytes * work_scale, outputs=work.outputs * out_scale,
                   columns=work.columns if input_channels is None else float(padded),
                   groups=padded if work.kind == "Conv(depthwise)" else work.groups,
                   activation_bytes=activation_bytes)


def layout_works(report: StaticReport, traits: EngineTraits) -> list[NodeWork]:
    """The layout conversions the engine inserts into this model, each reading and writing its tensor once
    (none for a model the analyser was handed in memory)."""
    tensors = report.graph.graph["tensors"]
    works = []
    for op_type, name in traits.layout.conversions:
        tensor = tensors.get(name)
        if tensor is not None and isinstance(tensor.size_bytes, int) and isinstance(tensor.elements, int):
            works.append(NodeWork(f"{op_type}({name})", LAYOUT, 0.0, 0.0, 2.0 * tensor.size_bytes,
                                  float(tensor.elements)))
    return works


def _grouped_class(per_group: float) -> str:
    if per_group <= 1:
        return "Conv(depthwise)"
    width = 2 ** int(np.log2(min(per_group, WIDEST_GROUP_CLASS)))
    return f"Conv(groups of {width}+)"


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
    # (producer class, consumer class, ran in one kernel) for each node's producers that it alone reads
    links: tuple[tuple[str, str, bool], ...] = ()
    alone: bool = False          # a single-op benchmark: profiled on its own, not inside a network

    @property
    def weight_bytes(self) -> float:
        return sum(work.weight_bytes for work in self.nodes)

    @property
    def kernel_count(self) -> int:
        """Kernels as the model counts them, in fitting and in predicting alike: one per node not fused
        into another (a network's layout conversions are one timing of many)."""
        return sum(not fused for fused in self.fused)

    def started_classes(self, weighted: bool = False) -> set[str]:
        """The classes of the nodes that start a kernel of their own (``weighted``: products with weights)."""
        return {_class_key(work, False) for work, fused in zip(self.nodes, self.fused)
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
        links = tuple((works[p].kind, works[n].kind, p in covered) for n in names for p in producers[n])
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


def fusion_kind(kind: str) -> str:
    """The kind a fusion is learned and looked up by: every convolution alike. An engine's graph fusions
    match the op, not its groups (ONNX Runtime folds a BatchNorm into any Conv); by class, a grouped
    convolution's BatchNorm, never seen after one in the calibration set, was priced as a kernel of its
    own: 22 of them in RegNetX-400MF, 16 in ResNeXt-50."""
    return "Conv" if kind.startswith("Conv(") else kind


def fuses(fusions: frozenset, producer: str, consumer: str) -> bool:
    """Whether a node of kind ``consumer`` runs inside its producer's kernel (a profile fitted before
    fusions were learned by fusion_kind holds some pairs by class)."""
    return (fusion_kind(producer), fusion_kind(consumer)) in fusions or (producer, consumer) in fusions


def observed_fusions(timings: Sequence[KernelTiming]) -> frozenset:
    """(producer, consumer) pairs of fusion kinds that ran as one kernel in at least MIN_FUSION_SHARE of
    the profiled cases where they could (the producer's output read by the consumer alone)."""
    counts: dict[tuple[str, str], list[int]] = {}
    for timing in timings:
        for producer, consumer, together in timing.links:
            entry = counts.setdefault((fusion_kind(producer), fusion_kind(consumer)), [0, 0])
            entry[0] += together
            entry[1] += 1
    return frozenset(pair for pair, (fused, total) in counts.items() if fused >= MIN_FUSION_SHARE * total)


# -- the model ----------------------------------------------------------------------------------------


def _class_key(work: NodeWork, fused: bool) -> str:
    return work.kind + ("" if work.blocked else UNBLOCKED) + (FUSED if fused else "")


@dataclass(frozen=True)
class KernelModel:
    coefficients: Mapping[str, tuple[float, ...]]   # class -> coefficients of NodeWork.terms()
    fusions: frozenset = frozenset()                # (producer, consumer) fusion kinds run as one kernel
    network_by_batch: Mapping[int, "NetworkFit"] = field(default_factory=dict)   # Σ kernels → whole network
    network: "NetworkFit" = None                    # pooled over batch sizes: for batch sizes not calibrated
    r_squared: float = float("nan")                 # of the kernel times it was fitted on
    n: int = 0                                      # kernels fitted on
    spill_from_bytes: Optional[float] = None        # activation bytes past which a kernel streams its maps
    in_network_ms: float = 0.0                      # what a kernel costs more in a network than profiled alone
    in_network_ms_per_weight_byte: float = 0.0      # and what each byte of its weights costs more there
    in_network_ms_per_spilled_byte: float = 0.0     # and each byte of its maps past spill_from_bytes

    def _coefficients(self, work: NodeWork, fused: bool) -> Optional[np.ndarray]:
        # a fused op never seen fused costs what it costs alone; an op never seen (or never seen unblocked),
        # what its kind costs
        for key in (_class_key(work, fused), _class_key(work, False), work.kind, *_fallbacks(work, self.coefficients)):
            if key in self.coefficients:
                return np.asarray(self.coefficients[key])
        return None     # a product when no product was calibrated: unknown

    def node_ms(self, work: NodeWork, fused: bool = False) -> float:
        coefficients = self._coefficients(work, False)
        if coefficients is None:
            return 0.0
        alone = float(coefficients @ work.terms(False, self.spill_from_bytes))
        if not fused:
            return alone
        # run inside its producer's kernel, a node saves a kernel and a pass over memory: it never costs more
        # than alone. A fused class is read off small differences of noisy timings (the fusion probes'
        # Conv+BN+Clip less Conv+BN): once that put MobileNetV2's fused ReLU6s at 2-3 times their cost
        # alone, and MobileNetV2, the zoo's only network with them, at +71 % held out
        return min(float(self._coefficients(work, True) @ work.terms(True, self.spill_from_bytes)), alone)

    def fused_nodes(self, report: StaticReport, works: Mapping[str, NodeWork]) -> set[str]:
        return {name for name, work in works.items()
                if any(p in works and fuses(self.fusions, works[p].kind, work.kind)
                       for p in _sole_producers(report.graph, name))}

    def kernels(self, report: StaticReport, traits: EngineTraits) -> tuple[float, int]:
        """Σ of the predicted node times, as a profiler would see them, and the number of kernels."""
        works = node_works(report, traits)
        fused = self.fused_nodes(report, works)
        layout = layout_works(report, traits) if LAYOUT in self.coefficients else []
        kernels = len(works) - len(fused) + len(layout)
        every_node = [*works.values(), *layout]
        in_network = (self.in_network_ms * kernels
                      + self.in_network_ms_per_weight_byte * sum(work.weight_bytes for work in works.values())
                      + self.in_network_ms_per_spilled_byte
                      * sum(work.spilled_bytes(self.spill_from_bytes) for work in every_node))
        return (sum(self.node_ms(work, name in fused) for name, work in works.items())
                + sum(self.node_ms(work) for work in layout) + in_network, kernels)

    def kernels_ms(self, report: StaticReport, traits: EngineTraits) -> float:
        return self.kernels(report, traits)[0]

    def latency_ms(self, report: StaticReport, batch: int, traits: EngineTraits) -> float:
        network = self.network_by_batch.get(batch, self.network or NetworkFit())
        return network.apply(*self.kernels(report, traits))


def _fallbacks(work: NodeWork, known: Mapping[str, tuple]) -> tuple[str, ...]:
    if not work.is_product:
        return (work.kind.removesuffix(STRIDED), OTHER)
    nearest = ("Conv", "MatMul") if work.kind.startswith("Conv") else ("MatMul", "Gemm", "Conv")
    return nearest + tuple(sorted(k for k in known if k in PRODUCTS))


def _columns(keys: Sequence[str], is_product: Mapping[str, bool]) -> dict[str, slice]:
    """Each class's own columns (not the spill term's: one column for every class, see fit_kernel_times)."""
    slices, start = {}, 0
    for key in keys:
        width = len(PRODUCT_TERMS if is_product[key] else OTHER_TERMS)
        slices[key] = slice(start, start + width)
        start += width
    return slices


def _in_network_identifiable(timings: Sequence[KernelTiming], weighted: bool = False) -> bool:
    """Whether the network kernels' extra cost can be told from the classes' own per-kernel constants
    (``weighted``: their extra cost per weight byte from the classes' own costs per byte): only where
    some class starts kernels both alone and in a network (a product with weights: a BatchNormalization's
    few kilobytes of parameters would set a cost then charged to a Gemm's megabytes). Otherwise (no
    single-op benchmarks, say) the column would be a sum of class constants' columns, split between
    them at random, and it is left out: each class's constant then carries it."""
    alone, in_networks = set(), set()
    for t in timings:
        (alone if t.alone else in_networks).update(t.started_classes(weighted))
    return bool(alone & in_networks)


def _gathers_from_networks(timings: Sequence[KernelTiming]) -> list[KernelTiming]:
    in_networks = {work.kind for t in timings if not t.alone for work in t.nodes}
    return [t for t in timings
            if not (t.alone and any(w.kind in GATHERS and w.kind in in_networks for w in t.nodes))]


class KernelFit(NamedTuple):
    coefficients: dict[str, tuple[float, ...]]     # class -> coefficients of NodeWork.terms()
    r_squared: float                               # of the fitted kernel times
    in_network_ms: float                           # see KernelModel.in_network_ms (0: not fitted)
    in_network_ms_per_weight_byte: float = 0.0     # see KernelModel.in_network_ms_per_weight_byte (0: not fitted)
    in_network_ms_per_spilled_byte: float = 0.0    # see KernelModel.in_network_ms_per_spilled_byte (0: not fitted)


def fit_kernel_times(timings: Sequence[KernelTiming], spill_from_bytes: Optional[float] = None) -> KernelFit:
    """Per-class coefficients by nonnegative least squares. Each kernel's squared error is divided by its
    source's total time, its own time and its source's number of kernels: the geometric mean of its
    error relative to its network and relative to itself, each source weighing alike (a 4 ms network
    as much as a 400 ms one). Relative to the network alone, a network's many short kernels hardly
    counted, and networks made of them were under-predicted (ShuffleNetV2, 168 kernels in 3 ms: −16 %).
    ``spill_from_bytes``: see the module's docstring (None: no such term); its cost per byte is one
    column for every class. The network kernels' extra cost per kernel, per weight byte and per spilled
    byte (see the module's docstring) are three more columns, shared by every class (see
    _in_network_identifiable). A gathering op (GATHERS) is fitted on the network
    kernels alone where there are some: its single-op cases then only teach a cost networks never see."""
    if not timings:
        raise ValueError("no profiled kernels to fit")
    timings = _gathers_from_networks(timings)
    is_product = {}
    for t in timings:
        for work, fused in zip(t.nodes, t.fused):
            is_product[_class_key(work, fused)] = work.is_product
    keys = sorted(is_product)
    spill = spill_from_bytes is not None
    slices = _columns(keys, is_product)
    spill_column = max(s.stop for s in slices.values())      # after every class's own columns
    classes_width = spill_column + spill
    in_network = _in_network_identifiable(timings)
    cold_weights = in_network and _in_network_identifiable(timings, weighted=True)
    spilled_in_network = in_network and spill        # the last column
    width = classes_width + in_network + cold_weights + spilled_in_network
    totals: dict[str, float] = {}
    counts: dict[str, int] = {}
    for t in timings:
        totals[t.source] = totals.get(t.source, 0.0) + t.measured_ms
        counts[t.source] = counts.get(t.source, 0) + 1
    design = np.zeros((len(timings), width))
    measured = np.array([t.measured_ms for t in timings])
    for row, t in enumerate(timings):
        for work, fused in zip(t.nodes, t.fused):
            terms = work.terms(fused, spill_from_bytes)
            design[row, slices[_class_key(work, fused)]] += terms[:len(terms) - spill]
            if spill:
                design[row, spill_column] += terms[-1]
        if in_network and not t.alone:
            design[row, classes_width] = t.kernel_count
        if cold_weights and not t.alone:
            design[row, classes_width + 1] = t.weight_bytes
        if spilled_in_network and not t.alone:
            design[row, width - 1] = design[row, spill_column]      # the same bytes, charged again in a network
    weights = 1.0 / np.sqrt([totals[t.source] * max(t.measured_ms, PROFILER_RESOLUTION_MS) * counts[t.source]
                             for t in timings])
    solution = nonnegative_least_squares(design * weights[:, None], measured * weights)
    # every class holds the one cost per spilled byte, so that a model predicts as before
    shared = (float(solution[spill_column]),) if spill else ()
    coefficients = {key: tuple(map(float, solution[s])) + shared for key, s in slices.items()}
    standalone = [np.array(c) for key, c in coefficients.items()
                  if not is_product[key] and not key.endswith(FUSED) and key != LAYOUT]
    coefficients[OTHER] = (tuple(map(float, np.median(standalone, axis=0))) if standalone
                           else (0.0,) * (len(OTHER_TERMS) + spill))
    return KernelFit(coefficients, r_squared(design @ solution, measured),
                     float(solution[classes_width]) if in_network else 0.0,
                     float(solution[classes_width + 1]) if cold_weights else 0.0,
                     float(solution[width - 1]) if spilled_in_network else 0.0)


MIN_NETWORK_SHARE = 0.5     # the overhead correction never takes more than half of the kernels' sum


@dataclass(frozen=True)
class NetworkFit:
    """From kernels to the whole network: ``scale · (Σ kernels − overhead · kernels)``."""

    overhead_ms: float = 0.0     # per kernel: what profiling adds to it (negative: the run has time between kernels)
    scale: float = 1.0

    def apply(self, kernels_ms: float, kernels: int) -> float:
        return self.scale * max(kernels_ms - self.overhead_ms * kernels, MIN_NETWORK_SHARE * kernels_ms)


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
    unprofiled run), by relative least squares of (profiled − measured)/measured on kernels/measured:
    the networks of many short kernels, where the overhead matters, are also where it can be read. One
    value for every batch size: read on batch 8 alone, where it is a small part of long kernels, a host
    that slowed down by a few percent while profiling made it 24 µs a kernel against 2 µs at batch 1.
    It is read from the run itself, not measured apart: a chain of 400 tiny kernels shows the profiler
    alone adding 3.2-3.5 µs a kernel on a 2-core x86 guest, but one calibration whose timed runs were
    slow read -0.5 µs off its networks, and the chain's value there lost four models of 48 held out."""
    x = np.array([n.profiled_kernels / n.measured_ms for n in networks])
    y = np.array([(n.profiled_ms - n.measured_ms) / n.measured_ms for n in networks])
    return float(x @ y / (x @ x)) if x.any() else 0.0


def _network_fit(networks: Sequence[NetworkTiming], kernels: Sequence[tuple[float, int]],
                 overhead: float) -> NetworkFit:
    """``kernels``: the model's (Σ kernels, kernels) for each network. Less the profiling overhead, the
    scale corrects what remains of the model's bias, as a median, so that one network whose kernels
    the model gets wrong (an op it has not seen) moves nothing."""
    fit = NetworkFit(overhead, 1.0)
    return NetworkFit(overhead, float(np.median([n.measured_ms / fit.apply(*predicted)
                                                 for n, predicted in zip(networks, kernels)])))


def fit_kernels(timings: Sequence[KernelTiming], networks: Sequence[NetworkTiming],
                spill_from_bytes: Optional[float] = None) -> KernelModel:
    """Kernel coefficients and fusions from profiled kernels, then the profiling overhead and the
    network scale per batch size from whole-network timings. ``spill_from_bytes``: where the device's
    cache gives out (spill_from_bytes in :mod:`onnxprof.predict.microbench`; None: not known)."""
    fit = fit_kernel_times(timings, spill_from_bytes)
    model = KernelModel(fit.coefficients, observed_fusions(timings), r_squared=fit.r_squared, n=len(timings),
                        spill_from_bytes=spill_from_bytes, in_network_ms=fit.in_network_ms,
                        in_network_ms_per_weight_byte=fit.in_network_ms_per_weight_byte,
                        in_network_ms_per_spilled_byte=fit.in_network_ms_per_spilled_byte)
    if not networks:
        return model
    kernels = [model.kernels(n.report, n.traits) for n in networks]
    overhead = _profiling_overhead(networks)
    by_batch = {}
    for batch in sorted({n.batch for n in networks}):
        at_batch = [i for i, n in enumerate(networks) if n.batch == batch]
        by_batch[batch] = _network_fit([networks[i] for i in at_batch], [kernels[i] for i in at_batch], overhead)
    return replace(model, network_by_batch=by_batch, network=_network_fit(networks, kernels, overhead))


def kernel_model_from_json(body: Mapping) -> KernelModel:
    return KernelModel(coefficients={k: tuple(v) for k, v in body["coefficients"].items()},
                       fusions=frozenset(tuple(pair) for pair in body["fusions"]),
                       network_by_batch={int(k): NetworkFit(*v) for k, v in body["network_by_batch"].items()},
                       network=NetworkFit(*body["network"]) if body.get("network") else None,
                       r_squared=body.get("r_squared", float("nan")), n=body.get("n", 0),
                       spill_from_bytes=body.get("spill_from_bytes"),
                       # a profile fitted before these terms existed has none
                       in_network_ms=body.get("in_network_ms", 0.0),
                       in_network_ms_per_weight_byte=body.get("in_network_ms_per_weight_byte", 0.0),
                       in_network_ms_per_spilled_byte=body.get("in_network_ms_per_spilled_byte", 0.0))


def kernel_model_json(model: Optional[KernelModel]) -> Optional[dict]:
    if model is None:
        return None
    return {"coefficients": {k: list(v) for k, v in model.coefficients.items()},
            "fusions": sorted(list(pair) for pair in model.fusions),
            "network_by_batch": {str(k): [v.overhead_ms, v.scale] for k, v in model.network_by_batch.items()},
            "network": [model.network.overhead_ms, model.network.scale] if model.network else None,
            "r_squared": model.r_squared, "n": model.n, "spill_from_bytes": model.spill_from_bytes,
            "in_network_ms": model.in_network_ms,
            "in_network_ms_per_weight_byte": model.in_network_ms_per_weight_byte,
            "in_network_ms_per_spilled_byte": model.in_network_ms_per_spilled_byte}
