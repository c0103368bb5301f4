"""Which convolutions ONNX Runtime's CPU provider runs in its blocked layout, which it leaves in NCHW, and
where it converts between the two.

On x86, ONNX Runtime runs convolutions, and the pooling around them, in NCHWc: channels in blocks of 8
or 16, by the CPU's vector width. A convolution whose channel counts it cannot block (ShuffleNetV2's 58
channels; 4 channels a group in ResNeXt; the narrow squeeze-and-excitation convolutions of RegNetY) is
left in NCHW and runs a different kernel: on this project's development CPU a 3×3 depthwise convolution
of 58 channels at 56×56 took 281 µs, one of 64 blocked channels 46 µs. Where a tensor enters a blocked chain the provider inserts a
ReorderInput kernel, and a ReorderOutput where it leaves for an op that wants NCHW (ShuffleNet's channel
shuffle, a squeeze-and-excitation scale, ENet's PReLU): 8–15 % of the time of EfficientNet, ShuffleNet
and ENet, in kernels that no ONNX node accounts for. A blocked tensor holds whole blocks of channels,
the rest zeros that the kernels compute on like any others: with 16-channel blocks, six 1×1
convolutions of 116 channels at 28×28 took 0.89 ms here, of 128 channels 0.82 ms, of 112 channels
0.66 ms. The kernel model predicts all three (:mod:`onnxprof.predict.kernels`).

Which nodes are left depends on channel counts, attributes and the ONNX Runtime release, so rather than
restate its rules this module asks it: it builds a session (nothing runs) with the optimised graph
written out, and reads which convolutions and pools kept their ONNX node (the blocked ones are replaced
by new nodes in the ``com.microsoft.nchwc`` domain). The model's weights are not needed: the weights of
convolutions and of the ops folded into them are zero-filled (only their shape matters to the layout),
other large tensors become inputs, so a 500 MB VGG takes a fraction of a second.
"""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from typing import Optional

import numpy as np
import onnx
from onnx import ModelProto, helper, numpy_helper

from onnxprof.engines.traits import GraphLayout
from onnxprof.model.load import has_values, load_model, tensor_nbytes

LAYOUT_DOMAIN = "com.microsoft.nchwc"
REORDER_OPS = ("ReorderInput", "ReorderOutput")
BLOCKABLE = frozenset({"Conv", "FusedConv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"})
# ops whose constant inputs the layout pass reads (filters, biases, BatchNorm statistics, scales):
# they are zero-filled; other weights are made graph inputs, so that none of the model's bytes are built
LAYOUT_INPUTS = frozenset({"Conv", "BatchNormalization", "Add", "Mul", "Sum", "Resize", "Upsample"})
LARGEST_FILLED_BYTES = 1 << 20
RESHAPES = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity")   # views: no kernel work


def padded_channels(channels: int, block: int) -> int:
    """Channels as the blocked layout holds them: rounded up to whole blocks, the rest zeros that its
    kernels compute on like any other (a 1×1 convolution to 72 channels costs what one to 80 does)."""
    return -(-channels // block) * block if block else channels


@dataclass(frozen=True)
class OptimisedGraph:
    layout: GraphLayout = GraphLayout()
    # each node whose name the optimisation made up (a fusion: "Gelu", "…/MatMulAddFusion"): its name,
    # the tensors it reads and those it writes (see _written)
    renamed: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = ()


def cpu_layout(source: str) -> GraphLayout:
    """The layout ONNX Runtime's CPU provider, with full graph optimisation, gives the model at ``source``
    (a path or ``zoo:NAME``). Empty when this CPU has no blocked kernels (then nothing is told apart),
    when ONNX Runtime is not installed, or when it cannot build the model: this is a prediction aid and
    never fails."""
    return _optimised_graph(source).layout


def renamed_kernels(source: str) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The tensors each kernel of a made-up name reads and writes in the graph ONNX Runtime's CPU
    provider runs: a fusion keeps the name of the tensor its last node wrote, and otherwise sits between
    kernels that are named, which joins its time to the ONNX nodes it ran (see measure.layers). Empty
    where the optimised graph cannot be read. Layout conversions are left out: they compute nothing."""
    return {name: (inputs, outputs) for name, inputs, outputs in _optimised_graph(source).renamed}


def _optimised_graph(source: str) -> OptimisedGraph:
    try:
        stat = os.stat(source)
        version = (stat.st_mtime_ns, stat.st_size)    # a file rewritten in place is read again
    except OSError:
        version = None                                # zoo:NAME
    return _read_optimised(str(source), version)


@functools.lru_cache(maxsize=128)
def _read_optimised(source: str, version: Optional[tuple]) -> OptimisedGraph:
    try:
        model = _weightless_copy(load_model(source, check=False).model)
    except Exception:           # noqa: BLE001 - not a file, or a model the analyser reads but cannot rebuild
        return OptimisedGraph()
    optimized = _optimized(model)
    if optimized is None:
        return OptimisedGraph()
    names = {node.name for node in model.graph.node}
    readers: dict[str, list] = {}
    for node in optimized.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    # a layout conversion computes nothing: it writes a tensor under the name of the node that made it
    renamed = tuple((node.name, tuple(node.input), _written(node, readers)) for node in optimized.graph.node
                    if node.name and node.name not in names and node.op_type not in REORDER_OPS)
    block = channel_block()
    if not block:
        return OptimisedGraph(renamed=renamed)
    # a fused convolution (FusedConv) keeps its Conv's name; a blocked one is a new node with a new name
    original = {node.name for node in model.graph.node if node.op_type in BLOCKABLE}
    unblocked = frozenset(node.name for node in optimized.graph.node
                          if node.domain != LAYOUT_DOMAIN and node.op_type in BLOCKABLE and node.name in original)
    # ReorderInput reads the NCHW tensor; ReorderOutput writes it (under the original tensor's name, or
    # a Transpose's output when it also moved the channels last)
    conversions = tuple((node.op_type, node.input[0] if node.op_type == "ReorderInput" else node.output[0])
                        for node in optimized.graph.node
                        if node.domain == LAYOUT_DOMAIN and node.op_type in REORDER_OPS)
    return OptimisedGraph(GraphLayout(unblocked, conversions, block), renamed)


def _written(node, readers: dict[str, list]) -> tuple[str, ...]:
    """The tensors a kernel writes, and those of the reshapes and layout conversions the optimiser put
    after it, which take over its original output's name (a MatMul+Add on tokens run as a 2-D Gemm
    between two Reshapes; a Gelu between blocked convolutions, whose output is converted back).
    ``readers``: each tensor's reading nodes in the optimised graph."""
    written, frontier = list(node.output), list(node.output)
    while frontier:
        following = [reader for name in frontier for reader in readers.get(name, ())
                     if reader.op_type in RESHAPES + REORDER_OPS and reader.input[0] == name]
        frontier = [name for reader in following for name in reader.output]
        written += frontier
    return tuple(written)


def cpu_blocks() -> bool:
    """Whether ONNX Runtime runs convolutions in a blocked layout on this CPU (x86: yes; Arm: no)."""
    return channel_block() > 0


@functools.lru_cache(maxsize=1)
def channel_block() -> int:
    """Channels a block of ONNX Runtime's blocked layout on this CPU (8 with AVX2, 16 with AVX-512; 0:
    none), read off the filter it writes for a 64 → 65-channel convolution: 64 + one block."""
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], "probe",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 64, 8, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 65, 8, 8])],
        [numpy_helper.from_array(np.zeros((65, 64, 1, 1), np.float32), "w")])
    optimized = _optimized(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8))
    if optimized is None:
        return 0
    filters = {tensor.name: tensor.dims for tensor in optimized.graph.initializer}
    blocked = [node for node in optimized.graph.node if node.domain == LAYOUT_DOMAIN and node.op_type == "Conv"]
    return int(filters[blocked[0].input[1]][0]) - 64 if blocked and blocked[0].input[1] in filters else 0


def _optimized(model: ModelProto) -> Optional[ModelProto]:
    """The graph ONNX Runtime's CPU provider runs, as it writes it out; None without ONNX Runtime or when
    it refuses the model (custom ops, > 2 GB, an IR version it does not read)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.optimized_model_filepath = os.path.join(scratch, "optimized.onnx")
        options.log_severity_level = 3          # it warns that the written graph is for this CPU only
        try:
            ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
            return onnx.load(options.optimized_model_filepath, load_external_data=False)
        except Exception:       # noqa: BLE001
            return None


def _weightless_copy(model: ModelProto) -> ModelProto:
    """The model with every stripped weight (an initializer or a Constant node's tensor) zero-filled (those
    the layout pass reads, and any small one) or turned into a graph input (large weights of other ops:
    fully connected layers, embeddings)."""
    copy = ModelProto()
    copy.CopyFrom(model)
    graph = copy.graph
    read_by_layout = {name for node in graph.node if node.op_type in LAYOUT_INPUTS for name in node.input}
    kept = []
    for tensor in graph.initializer:
        if has_values(tensor):
            kept.append(tensor)
            continue
        if tensor.name in read_by_layout or tensor_nbytes(tensor) <= LARGEST_FILLED_BYTES:
            dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
            kept.append(numpy_helper.from_array(np.zeros(tuple(tensor.dims), dtype), tensor.name))
        else:
            graph.input.append(helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims)))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    _fill_constants(graph)
    return copy


def _fill_constants(graph) -> None:
    """Constant nodes whose tensor was stripped as a weight's: zero-filled when small, else graph inputs."""
    nodes = []
    for node in graph.node:
        value = next((a.t for a in node.attribute if a.name == "value" and a.HasField("t")), None)
        if node.op_type != "Constant" or value is None or has_values(value):
            nodes.append(node)
        elif tensor_nbytes(value) <= LARGEST_FILLED_BYTES:
            filled = numpy_helper.from_array(np.zeros(tuple(value.dims), helper.tensor_dtype_to_np_dtype(value.data_type)))
            value.CopyFrom(filled)
            nodes.append(node)
        else:
            graph.input.append(helper.make_tensor_value_info(node.output[0], value.data_type, list(value.dims)))
    del graph.node[:]
    graph.node.extend(nodes)
