"""Ops whose arithmetic depends on data or on an algorithm choice: estimates, marked as such."""

from __future__ import annotations

from onnxprof.cost.ops.factories import per_output_element
from onnxprof.cost.registry import NodeContext, OpCost, register
from onnxprof.cost.validate import differ, fail
from onnxprof.symbolic import product

per_output_element(["RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike"], 2,
                   "2 per element (generate, scale and shift)", exact=False)
per_output_element("Bernoulli", 2, "2 per element (generate, compare)", exact=False)
per_output_element("ImageDecoder", 1, "1 per output element (the decoder itself is not modelled)", exact=False)
per_output_element("TfIdfVectorizer", 1, "1 per output element (n-gram counting is not modelled)", exact=False)


@register("Det", flops="2/3 · n³ per matrix (LU decomposition)", exact=False)
def det(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    if len(shape) < 2 or differ(shape[-1], shape[-2]):
        fail(f"input has shape {list(shape)}; Det takes square matrices [..., n, n]")
    n = shape[-1]
    return OpCost(flops=2 * ctx.in_elements(0) * n // 3)


@register("NonMaxSuppression", flops="6 per box pair per class (intersection over union)", exact=False)
def non_max_suppression(ctx: NodeContext) -> OpCost:
    scores = ctx.in_shape(1)                        # [batch, classes, boxes]
    return OpCost(flops=6 * scores[0] * scores[1] * scores[2] * scores[2])


@register("Multinomial", flops="per batch row: cumulative sum of the classes + a draw per sample", exact=False)
def multinomial(ctx: NodeContext) -> OpCost:
    return OpCost(flops=ctx.in_elements(0) + ctx.out_elements())


@register("SoftmaxCrossEntropyLoss", flops="softmax (5 per score) + log, pick and mean per row")
def softmax_cross_entropy(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)                         # [N, C, d1, ...]
    rows = shape[0] * product(shape[2:])
    return OpCost(flops=5 * ctx.in_elements(0) - 2 * rows + 3 * rows)


@register("NegativeLogLikelihoodLoss", flops="2 per row (negate, reduce)")
def negative_log_likelihood(ctx: NodeContext) -> OpCost:
    shape = ctx.in_shape(0)
    return OpCost(flops=2 * shape[0] * product(shape[2:]))


TRAINING = "ai.onnx.preview.training"
per_output_element("Momentum", 4, "4 per element (velocity update, step)", domain=TRAINING)
per_output_element("Adagrad", 6, "6 per element (accumulate square, root, divide, step)", domain=TRAINING)
per_output_element("Adam", 12, "12 per element (two moments, bias corrections, root, step)", domain=TRAINING)
register("Gradient", domain=TRAINING, flops="0 (the differentiated graph is not modelled: an estimate)",
         exact=False)(lambda ctx: OpCost())
