"""Tiny models for the tests, built with onnx.helper."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxprof.cost.analysis import NodeReport, StaticReport, analyze_model

F32 = TensorProto.FLOAT


def weight(name: str, shape, dtype=np.float32, value: float = 0.1) -> TensorProto:
    return numpy_helper.from_array(np.full(shape, value, dtype=dtype), name)


def ints(name: str, values) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=np.int64), name)


def make_model(nodes, inputs, outputs, initializers=(), opset: int = 17, ir_version: int = 9,
               value_info=()) -> onnx.ModelProto:
    """``inputs``/``outputs``: (name, shape) or (name, shape, dtype); shape None leaves it unknown."""

    def infos(specs):
        return [helper.make_tensor_value_info(s[0], s[2] if len(s) > 2 else F32, s[1]) for s in specs]

    graph = helper.make_graph(nodes, "test", infos(inputs), infos(outputs), list(initializers),
                              value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    return model


def one_node(op_type: str, inputs, output_shape=None, initializers=(), opset: int = 17, n_outputs: int = 1,
             **attrs) -> NodeReport:
    """Analyse a model of one node; ``inputs`` as in make_model, initializers named among them."""
    names = [spec[0] for spec in inputs] + [t.name for t in initializers]
    outputs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, names, outputs, name="node", **attrs)
    undefined = TensorProto.UNDEFINED  # let inference give the output its type
    model = make_model([node], inputs, [(o, output_shape if i == 0 else None, undefined) for i, o in enumerate(outputs)],
                       initializers, opset=opset)
    report = analyze(model)
    assert len(report.nodes) == 1
    return report.nodes[0]


def analyze(model: onnx.ModelProto, **binding) -> StaticReport:
    from onnxprof.model.shapes import ShapeBinding

    return analyze_model(model, ShapeBinding(**binding), check=False)
