"""A small graph builder for the zoo: framework-style node names, deterministic He-initialised weights."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 9  # what current ONNX Runtime releases accept (onnx's own default is newer)


class GraphBuilder:
    def __init__(self, name: str, seed: int = 0):
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.rng = np.random.default_rng(seed)

    # -- tensors ---------------------------------------------------------------------------------
    def input(self, name: str, shape: list, dtype: int = TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def tensor(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def he_weight(self, name: str, shape: tuple[int, ...], fan_in: int) -> str:
        std = np.float32(np.sqrt(2.0 / fan_in))
        return self.tensor(name, self.rng.standard_normal(shape, dtype=np.float32) * std)

    # -- nodes -----------------------------------------------------------------------------------
    def node(self, op_type: str, inputs: list[str], name: str, **attrs) -> str:
        output = f"{name}.out"
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=name, **attrs))
        return output

    def conv(self, x: str, name: str, cin: int, cout: int, kernel: int, stride: int = 1, pad: int = 0,
             groups: int = 1, bias: bool = False) -> str:
        fan_in = cin // groups * kernel * kernel
        inputs = [x, self.he_weight(f"{name}.weight", (cout, cin // groups, kernel, kernel), fan_in)]
        if bias:
            inputs.append(self.tensor(f"{name}.bias", np.zeros(cout, np.float32)))
        return self.node("Conv", inputs, name, kernel_shape=[kernel, kernel], strides=[stride, stride],
                         pads=[pad] * 4, group=groups)

    def batch_norm(self, x: str, name: str, channels: int, epsilon: float = 1e-5) -> str:
        stats = [
            self.tensor(f"{name}.weight", np.ones(channels, np.float32)),
            self.tensor(f"{name}.bias", np.zeros(channels, np.float32)),
            self.tensor(f"{name}.running_mean", (self.rng.standard_normal(channels) * 0.01).astype(np.float32)),
            self.tensor(f"{name}.running_var", np.ones(channels, np.float32)),
        ]
        return self.node("BatchNormalization", [x, *stats], name, epsilon=epsilon)

    def relu(self, x: str, name: str) -> str:
        return self.node("Relu", [x], name)

    def max_pool(self, x: str, name: str, kernel: int, stride: int, pad: int = 0, ceil: bool = False) -> str:
        return self.node("MaxPool", [x], name, kernel_shape=[kernel, kernel], strides=[stride, stride],
                         pads=[pad] * 4, ceil_mode=int(ceil))

    def linear(self, x: str, name: str, fin: int, fout: int) -> str:
        weight = self.tensor(f"{name}.weight", self.rng.standard_normal((fout, fin), dtype=np.float32)
                             * np.float32(np.sqrt(1.0 / fin)))
        bias = self.tensor(f"{name}.bias", np.zeros(fout, np.float32))
        return self.node("Gemm", [x, weight, bias], name, transB=1)

    # -- model -----------------------------------------------------------------------------------
    def build(self, output: str, output_shape: list) -> onnx.ModelProto:
        self.nodes[-1].output[0] = "output"
        for node in self.nodes:  # rename the last tensor to the conventional graph output name
            for i, name in enumerate(node.input):
                if name == output:
                    node.input[i] = "output"
        graph = helper.make_graph(self.nodes, self.name, self.inputs,
                                  [helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)],
                                  self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="onnxprof.zoo")
        model.ir_version = IR_VERSION
        return model
