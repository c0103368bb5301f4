"""What each node of a model asks of the device, as the kernel model sees it: its kernel class, a small
typed key, and the quantities its terms are made of, in the layout the engine gives the model."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Optional

import numpy as np

from onnxprof.cost.analysis import StaticReport
from onnxprof.engines.ort_layout import padded_channels
from onnxprof.engines.traits import EngineTraits
from onnxprof.predict.latency import working_nodes

# engines pick a grouped convolution's kernel by its channels a group: a width that fills the vector
# registers runs several times faster than one that does not, so widths are classes of their own, in
# powers of two up to this one
WIDEST_GROUP = 32
PRODUCT_OPS = frozenset({"Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum"})
SOFTMAX_OPS = frozenset({"Softmax", "LogSoftmax"})
LOOKUPS = frozenset({"Gather", "GatherElements", "GatherND"})   # read only the rows they look up in their table
BLOCKED_POOLS = frozenset({"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"})
REORDER = "Reorder"          # the layout conversions an engine inserts (no ONNX node of their own)


@dataclass(frozen=True, order=True)
class KernelClass:
    """Kernels that cost alike per unit of work: one set of coefficients each."""

    op: str                      # ONNX op type (REORDER for an engine's layout conversions)
    group_width: int = 0         # a grouped convolution's channels a group (1: depthwise); 0: dense or no Conv
    strided: bool = False        # a softmax over an axis other than the last: it gathers strided elements
    blocked: bool = True         # False: an op the engine could block left in the plain layout
    fused: bool = False          # run inside its producer's kernel

    @property
    def is_product(self) -> bool:
        return self.op in PRODUCT_OPS

    def alone(self) -> "KernelClass":
        return replace(self, fused=False)

    def label(self) -> str:
        """As tables print it: ``Conv(groups of 4+) [unblocked] (fused)``."""
        width = self.group_width
        text = self.op + ("(depthwise)" if width == 1 else f"(groups of {width}+)" if width else "")
        return (text + (" (axis not last)" if self.strided else "") + ("" if self.blocked else " [unblocked]")
                + (" (fused)" if self.fused else ""))

    def fallbacks(self) -> tuple["KernelClass", ...]:
        """Where its coefficients come from when it was never measured, nearest first: the same class
        run alone, then blocked, then (not a product) over the last axis; a product then falls back on
        the dense convolution and matrix product."""
        alone = self.alone()
        blocked = replace(alone, blocked=True)
        nearest = [self, alone, blocked]
        if self.is_product:
            nearest += [KernelClass(op) for op in (("Conv", "MatMul") if self.op.startswith("Conv")
                                                   else ("MatMul", "Gemm", "Conv"))]
        else:
            nearest.append(replace(blocked, strided=False))
        return tuple(dict.fromkeys(nearest))


def group_width(per_group: float) -> int:
    """The class of a grouped convolution of ``per_group`` channels a group: 1 (depthwise), 2, 4 … WIDEST_GROUP."""
    if per_group <= 1:
        return 1
    return 2 ** int(np.log2(min(per_group, WIDEST_GROUP)))


@dataclass(frozen=True)
class NodeWork:
    """What one ONNX node (or one layout conversion) asks of the device."""

    name: str
    kernel_class: KernelClass
    macs: float
    flops: float
    bytes_moved: float
    outputs: float               # output elements
    columns: float = 0.0         # m: output channels a group (Conv) or output features (MatMul); 0: not a product
    groups: int = 1
    activation_bytes: Optional[float] = None    # bytes moved less the weights read (None: all of them)

    @property
    def op(self) -> str:
        return self.kernel_class.op

    @property
    def weight_bytes(self) -> float:
        """The weights it reads (a lookup's table is not read whole: none)."""
        if self.activation_bytes is None or self.op in LOOKUPS:
            return 0.0
        return self.bytes_moved - self.activation_bytes

    @property
    def is_product(self) -> bool:
        return self.kernel_class.is_product and self.macs > 0 and self.columns > 0 and self.outputs > 0

    def spilled_bytes(self, spill_from_bytes: Optional[float]) -> float:
        """Its feature maps' bytes past ``spill_from_bytes`` (None: no such threshold, none)."""
        if spill_from_bytes is None:
            return 0.0
        streamed = self.bytes_moved if self.activation_bytes is None else self.activation_bytes
        return max(0.0, streamed - spill_from_bytes)


def node_works(report: StaticReport, traits: EngineTraits) -> dict[str, NodeWork]:
    """Every counted node that does work (views such as Reshape move no bytes and are left out), as the
    engine runs it: in a blocked layout a convolution or pool works on whole blocks (see _in_blocks)."""
    layout = traits.layout
    tensors, weights = report.graph.graph["tensors"], report.graph.graph["weights"]
    works = {}
    for node, _, flops, moved in working_nodes(report):
        data = report.graph.nodes[node.name]
        op = data["op_type"]
        shape = node.output_shapes[0] if node.output_shapes else None
        outputs = float(np.prod(shape)) if shape and all(isinstance(d, int) for d in shape) else 0.0
        columns, groups, width = 0.0, 1, 0
        if op in PRODUCT_OPS and shape:
            convolution = op.startswith("Conv") and len(shape) > 1
            groups = int(data["attributes"].get("group", 1)) if convolution else 1
            columns = float(shape[1] if convolution else shape[-1]) / groups
            width = group_width(columns) if groups > 1 else 0
        strided = op in SOFTMAX_OPS and _over_strided_axis(data, len(shape or ()), report.graph.graph["opsets"])
        kernel_class = KernelClass(op, width, strided, blocked=node.name not in layout.unblocked)
        weights_read = sum(tensors[name].size_bytes or 0 for name in data["inputs"] if name in weights)
        work = NodeWork(node.name, kernel_class, float(node.macs or 0), flops, moved, outputs, columns, groups,
                        activation_bytes=max(0.0, moved - weights_read))
        # grouped convolutions the engine blocks have whole blocks a group already: nothing to pad
        depthwise_or_dense = op == "Conv" and width in (0, 1)
        if (layout.block and kernel_class.blocked and len(shape or ()) > 1
                and (op in BLOCKED_POOLS or depthwise_or_dense)):
            input_shape = tensors[data["inputs"][0]].shape
            work = _in_blocks(work, int(shape[1]), int(input_shape[1]) if op == "Conv" and width == 0 else None,
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
    """The work of a convolution or pool run in a blocked layout, whose channels are padded to whole
    blocks (ort_layout.padded_channels): with 16-channel blocks a 1×1 convolution from 40 to 120
    channels computes 48 × 128. ``channels``: the output's; ``input_channels``: a dense convolution's
    (None: a depthwise convolution or a pool, whose input has its output's channels). An input
    narrower than a block is read as it is."""
    padded = padded_channels(channels, block)
    out_scale = padded / channels
    if input_channels is None:          # the input is padded like the output; the work per output is not
        in_scale, work_scale = out_scale, out_scale
    else:
        in_scale = padded_channels(input_channels, block) / input_channels if input_channels >= block else 1.0
        work_scale = out_scale * in_scale
    input_bytes = work.activation_bytes - output_bytes
    activation_bytes = input_bytes * in_scale + output_bytes * out_scale
    depthwise = work.kernel_class.group_width == 1
    return replace(work, macs=work.macs * work_scale, flops=work.flops * work_scale,
                   bytes_moved=activation_bytes + work.weight_bytes * work_scale, outputs=work.outputs * out_scale,
                   columns=work.columns if input_channels is None else float(padded),
                   groups=padded if depthwise else work.groups, activation_bytes=activation_bytes)


def layout_works(report: StaticReport, traits: EngineTraits) -> list[NodeWork]:
    """The layout conversions the engine inserts into this model, each reading and writing its tensor once."""
    tensors = report.graph.graph["tensors"]
    works = []
    for op_type, name in traits.layout.conversions:
        tensor = tensors.get(name)
        if tensor is not None and isinstance(tensor.size_bytes, int) and isinstance(tensor.elements, int):
            works.append(NodeWork(f"{op_type}({name})", KernelClass(REORDER), 0.0, 0.0, 2.0 * tensor.size_bytes,
                                  float(tensor.elements)))
    return works
