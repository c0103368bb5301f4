"""A graph builder for the zoo: framework-style node names, deterministic initialisation with
realistic magnitudes, and three ways to hold weights:

- ``MemoryWeights``: numpy values inside the model (small networks, tests that run inference);
- ``ExternalWeights``: values streamed to one external data file as they are made (VGG-19's 550 MB
  never sit in memory at once);
- ``ShapeOnlyWeights``: dims and type only, no values — what the analyzer needs, built in milliseconds.

Every value is drawn from a generator seeded by (seed, tensor name), so the three agree and a
network's weights do not depend on the order layers are built in.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 9  # what current ONNX Runtime releases accept (onnx's own default is newer)
Init = Callable[[np.random.Generator, tuple], np.ndarray]
Pair = Union[int, Sequence[int]]


def he_normal(fan_in: int) -> Init:
    """Kaiming/He normal for ReLU layers: std = sqrt(2 / fan_in)."""
    return lambda rng, shape: (rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in)))


def normal(std: float) -> Init:
    return lambda rng, shape: rng.standard_normal(shape, dtype=np.float32) * np.float32(std)


def uniform(low: float, high: float) -> Init:
    return lambda rng, shape: rng.uniform(low, high, shape).astype(np.float32)


def constant(value: float) -> Init:
    return lambda rng, shape: np.full(shape, value, np.float32)


class MemoryWeights:
    def add(self, name: str, array: Callable[[], np.ndarray], shape: tuple) -> TensorProto:
        return numpy_helper.from_array(array(), name)


class ShapeOnlyWeights:
    def add(self, name: str, array: Callable[[], np.ndarray], shape: tuple) -> TensorProto:
        return TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape))


class ExternalWeights:
    """Streams each tensor's bytes to ``folder/location`` as it is made."""

    def __init__(self, folder: Path, location: str):
        self.location = location
        self.file = open(Path(folder) / location, "wb")
        self.offset = 0

    def add(self, name: str, array: Callable[[], np.ndarray], shape: tuple) -> TensorProto:
        data = np.ascontiguousarray(array(), dtype=np.float32).tobytes()
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(shape),
                             data_location=TensorProto.EXTERNAL)
        for key, value in (("location", self.location), ("offset", str(self.offset)), ("length", str(len(data)))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self.file.write(data)
        self.offset += len(data)
        return tensor

    def close(self) -> None:
        self.file.close()


def _pair(value: Pair) -> list[int]:
    return [value, value] if isinstance(value, int) else list(value)


class GraphBuilder:
    """Builds one network. Layer helpers return the name of their output tensor."""

    def __init__(self, name: str, weights=None, seed: int = 0, fold_bn: bool = False, batch: Union[str, int] = "N"):
        self.name = name
        self.weights = weights or MemoryWeights()
        self.seed = seed
        self.fold_bn = fold_bn
        self.batch = batch
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self._names: set[str] = set()

    # -- tensors ---------------------------------------------------------------------------------
    def input(self, name: str, shape: list, dtype: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def image_input(self, resolution: int, channels: int = 3) -> str:
        return self.input("input", [self.batch, channels, resolution, resolution])

    def values(self, name: str, shape: tuple, init: Init) -> np.ndarray:
        """The tensor's values, reproducible from its name alone."""
        rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        return init(rng, tuple(shape))

    def param(self, name: str, shape: Sequence[int], init: Init) -> str:
        shape = tuple(int(d) for d in shape)
        self.initializers.append(self.weights.add(name, lambda: self.values(name, shape, init), shape))
        return name

    def computed(self, name: str, shape: Sequence[int], make: Callable[[], np.ndarray]) -> str:
        """A parameter whose values come from other values (BatchNorm folded into a conv)."""
        shape = tuple(int(d) for d in shape)
        self.initializers.append(self.weights.add(name, make, shape))
        return name

    def const(self, name: str, array: np.ndarray) -> str:
        """A small constant (shapes, axes): always stored in the model."""
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    # -- nodes -----------------------------------------------------------------------------------
    def node(self, op_type: str, inputs: list[str], name: str, outputs: int = 1, domain: str = "", **attrs):
        if name in self._names:
            raise ValueError(f"node name {name!r} used twice")
        self._names.add(name)
        names = [f"{name}.out"] if outputs == 1 else [f"{name}.out{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, names, name=name, domain=domain, **attrs))
        return names[0] if outputs == 1 else names

    def conv(self, x: str, name: str, cin: int, cout: int, kernel: Pair, stride: Pair = 1, pad: Pair = 0,
             groups: int = 1, bias: bool = False, dilation: Pair = 1) -> str:
        kh, kw = _pair(kernel)
        fan_in = cin // groups * kh * kw
        inputs = [x, self.param(f"{name}.weight", (cout, cin // groups, kh, kw), he_normal(fan_in))]
        if bias:
            inputs.append(self.param(f"{name}.bias", (cout,), constant(0.0)))
        ph, pw = _pair(pad)
        return self.node("Conv", inputs, name, kernel_shape=[kh, kw], strides=_pair(stride), pads=[ph, pw, ph, pw],
                         group=groups, dilations=_pair(dilation))

    def batch_norm(self, x: str, name: str, channels: int, epsilon: float = 1e-5) -> str:
        stats = [self.param(f"{name}.{part}", (channels,), init) for part, init in _BN_INITS]
        return self.node("BatchNormalization", [x, *stats], name, epsilon=epsilon)

    def conv_bn(self, x: str, name: str, bn_name: str, cin: int, cout: int, kernel: Pair, stride: Pair = 1,
                pad: Pair = 0, groups: int = 1, bias: bool = False, epsilon: float = 1e-5, dilation: Pair = 1) -> str:
        """Conv then BatchNorm; with ``fold_bn`` one Conv with the BatchNorm folded in, as PyTorch
        exports it (weights scaled per output channel, a bias added)."""
        if not self.fold_bn:
            y = self.conv(x, name, cin, cout, kernel, stride, pad, groups, bias, dilation)
            return self.batch_norm(y, bn_name, cout, epsilon)
        kh, kw = _pair(kernel)
        shape = (cout, cin // groups, kh, kw)
        weight_init = he_normal(cin // groups * kh * kw)

        def folded(part: str) -> np.ndarray:
            gamma, beta, mean, var = (self.values(f"{bn_name}.{p}", (cout,), init) for p, init in _BN_INITS)
            scale = gamma / np.sqrt(var + np.float32(epsilon))
            if part == "weight":
                return (self.values(f"{name}.weight", shape, weight_init) * scale[:, None, None, None]).astype(np.float32)
            conv_bias = self.values(f"{name}.bias", (cout,), constant(0.0)) if bias else np.float32(0)
            return ((conv_bias - mean) * scale + beta).astype(np.float32)

        inputs = [x, self.computed(f"{name}.weight", shape, lambda: folded("weight")),
                  self.computed(f"{name}.bias", (cout,), lambda: folded("bias"))]
        ph, pw = _pair(pad)
        return self.node("Conv", inputs, name, kernel_shape=[kh, kw], strides=_pair(stride), pads=[ph, pw, ph, pw],
                         group=groups, dilations=_pair(dilation))

    def linear(self, x: str, name: str, fin: int, fout: int, bias: bool = True, init: Optional[Init] = None) -> str:
        """A fully connected layer on [batch, features] (Gemm, PyTorch's weight layout)."""
        inputs = [x, self.param(f"{name}.weight", (fout, fin), init or normal(np.sqrt(1.0 / fin)))]
        if bias:
            inputs.append(self.param(f"{name}.bias", (fout,), constant(0.0)))
        return self.node("Gemm", inputs, name, transB=1)

    def dense(self, x: str, name: str, fin: int, fout: int, bias: bool = True) -> str:
        """A fully connected layer on [..., features] (MatMul + Add, as PyTorch exports nn.Linear)."""
        y = self.node("MatMul", [x, self.param(f"{name}.weight", (fin, fout), normal(np.sqrt(1.0 / fin)))],
                      f"{name}.matmul")
        if not bias:
            return y
        return self.node("Add", [y, self.param(f"{name}.bias", (fout,), constant(0.0))], f"{name}.add")

    def relu(self, x: str, name: str) -> str:
        return self.node("Relu", [x], name)

    def max_pool(self, x: str, name: str, kernel: Pair, stride: Pair, pad: Pair = 0, ceil: bool = False) -> str:
        ph, pw = _pair(pad)
        return self.node("MaxPool", [x], name, kernel_shape=_pair(kernel), strides=_pair(stride), pads=[ph, pw, ph, pw],
                         ceil_mode=int(ceil))

    def avg_pool(self, x: str, name: str, kernel: Pair, stride: Pair, pad: Pair = 0, ceil: bool = False,
                 count_include_pad: bool = True) -> str:
        ph, pw = _pair(pad)
        return self.node("AveragePool", [x], name, kernel_shape=_pair(kernel), strides=_pair(stride),
                         pads=[ph, pw, ph, pw], ceil_mode=int(ceil), count_include_pad=int(count_include_pad))

    def global_avg_pool(self, x: str, name: str) -> str:
        return self.node("GlobalAveragePool", [x], name)

    def flatten(self, x: str, name: str) -> str:
        return self.node("Flatten", [x], name, axis=1)

    def concat(self, xs: list[str], name: str, axis: int = 1) -> str:
        return self.node("Concat", xs, name, axis=axis)

    def add(self, a: str, b: str, name: str) -> str:
        return self.node("Add", [a, b], name)

    def mul(self, a: str, b: str, name: str) -> str:
        return self.node("Mul", [a, b], name)

    def sigmoid(self, x: str, name: str) -> str:
        return self.node("Sigmoid", [x], name)

    def silu(self, x: str, name: str) -> str:
        return self.mul(x, self.sigmoid(x, f"{name}.sigmoid"), name)

    def gelu(self, x: str, name: str) -> str:
        """Exact (erf) GELU as opset 17 exports it: x · 0.5 · (1 + erf(x / √2))."""
        half = self.const(f"{name}.half", np.float32(0.5))
        root2 = self.const(f"{name}.sqrt2", np.float32(np.sqrt(2.0)))
        one = self.const(f"{name}.one", np.float32(1.0))
        erf = self.node("Erf", [self.node("Div", [x, root2], f"{name}.div")], f"{name}.erf")
        shifted = self.node("Add", [erf, one], f"{name}.add")
        return self.node("Mul", [self.node("Mul", [x, shifted], f"{name}.mul"), half], name)

    def layer_norm(self, x: str, name: str, width: int, epsilon: float = 1e-5) -> str:
        scale = self.param(f"{name}.weight", (width,), constant(1.0))
        bias = self.param(f"{name}.bias", (width,), constant(0.0))
        return self.node("LayerNormalization", [x, scale, bias], name, axis=-1, epsilon=epsilon)

    def softmax(self, x: str, name: str, axis: int = -1) -> str:
        return self.node("Softmax", [x], name, axis=axis)

    # -- model -----------------------------------------------------------------------------------
    def build(self, output: str, output_shape: list) -> onnx.ModelProto:
        """The model with ``output`` renamed to the graph output ``output``."""
        for node in self.nodes:
            node.output[:] = ["output" if o == output else o for o in node.output]
            node.input[:] = ["output" if i == output else i for i in node.input]
        graph = helper.make_graph(self.nodes, self.name, self.inputs,
                                  [helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)],
                                  self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="onnxprof.zoo")
        model.ir_version = IR_VERSION
        return model


# BatchNorm statistics of a trained-looking network: scale near 1, small shift and mean, variance near 1.
_BN_INITS = (("weight", uniform(0.8, 1.2)), ("bias", normal(0.05)), ("running_mean", normal(0.05)),
             ("running_var", uniform(0.8, 1.2)))
