"""Activations and unary math. A transcendental function (exp, erf, tanh, pow) counts as 1 FLOP."""

from __future__ import annotations

from onnxprof.cost.ops.factories import per_output_element
from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import axis_index, text_attr
from onnxprof.symbolic import product

per_output_element(["Relu", "Tanh", "Erf", "Sqrt", "Exp", "Log", "Neg", "Abs", "Reciprocal", "Sign",
                    "Floor", "Ceil", "Round", "Softplus", "Softsign", "Sin", "Cos", "Tan", "Asin", "Acos",
                    "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "BitwiseNot"], 1, "1 per element")
per_output_element(["LeakyRelu", "PRelu", "Clip", "ThresholdedRelu"], 2,
                   "2 per element (compare, scale or clamp)")
per_output_element(["Elu", "Celu"], 4, "4 per element (compare, exp, subtract, scale)")
per_output_element("Selu", 5, "5 per element (compare, exp, subtract, two scales)")
per_output_element("Sigmoid", 4, "4 per element (negate, exp, add, reciprocal)")
per_output_element("HardSigmoid", 4, "4 per element (scale, shift, clamp low, clamp high)")
per_output_element("HardSwish", 5, "5 per element (hard sigmoid, multiply)")
per_output_element("Mish", 5, "5 per element (exp, add, log, tanh, multiply)")
per_output_element("Shrink", 2, "2 per element (compare, shift)")
per_output_element("Swish", 6, "6 per element (scale, sigmoid, multiply)")
per_output_element("SwiGLU", 7, "7 per element (swish of the gate, multiply by the value)")


@register("Gelu", flops="5 per element (erf form) or 9 (tanh approximation)")
def gelu(ctx: NodeContext) -> OpCost:
    per_element = 9 if text_attr(ctx, "approximate", "none", ("none", "tanh")) == "tanh" else 5
    return OpCost(flops=per_element * ctx.out_elements())


def _softmax_rows(ctx: NodeContext):
    shape = ctx.in_shape(0)
    axis = axis_index(ctx.attr("axis", -1 if ctx.opset >= 13 else 1), len(shape)) if shape else 0
    if ctx.opset >= 13:  # one softmax per position of the other axes
        return product(shape[:axis] + shape[axis + 1:])
    return product(shape[:axis])  # before opset 13 the input is coerced to 2-D at ``axis``


@register("Softmax", flops="5 per element - 2 per row (max, subtract, exp, sum, divide)")
def softmax(ctx: NodeContext) -> OpCost:
    rows = _softmax_rows(ctx)   # validates the axis, whose error would leave the output unsized
    return OpCost(flops=5 * ctx.out_elements() - 2 * rows)


@register("LogSoftmax", flops="5 per element - 1 per row (max, subtract, exp, sum, log, subtract)")
def log_softmax(ctx: NodeContext) -> OpCost:
    rows = _softmax_rows(ctx)
    return OpCost(flops=5 * ctx.out_elements() - rows)
