"""Classical ML ops (domain ai.onnx.ml): linear models costed, trees and SVMs estimated, the rest
selection and encoding (0 FLOPs)."""

from __future__ import annotations

from onnxprof.cost.ops.factories import per_output_element
from onnxprof.cost.registry import OPAQUE, NodeContext, OpCost, register, zero_cost
from onnxprof.cost.validate import fail, required

ML = "ai.onnx.ml"


def _rows_features(ctx: NodeContext):
    shape = ctx.in_shape(0)
    if len(shape) not in (1, 2):
        fail(f"input has rank {len(shape)}; [features] or [rows, features] expected")
    return (shape[0], shape[1]) if len(shape) == 2 else (1, shape[0])


@register(["LinearClassifier", "LinearRegressor"], domain=ML, macs="rows × outputs × features",
          flops="2 × MACs + an intercept per output")
def linear_model(ctx: NodeContext) -> OpCost:
    rows, features = _rows_features(ctx)
    coefficients = len(required(ctx, "coefficients"))
    if isinstance(features, int) and (features <= 0 or coefficients % features):
        fail(f"{coefficients} coefficients do not make whole rows of {features} features")
    outputs = coefficients // features if isinstance(features, int) else 0
    macs = rows * outputs * features
    return OpCost(macs=macs, flops=2 * macs + rows * outputs)


@register(["SVMClassifier", "SVMRegressor"], domain=ML, macs="rows × support vectors × features",
          flops="2 × MACs + kernel and vote per support vector", exact=False)
def svm(ctx: NodeContext) -> OpCost:
    rows, features = _rows_features(ctx)
    vectors = len(ctx.attr("support_vectors", [])) // features if isinstance(features, int) else 0
    macs = rows * vectors * features
    return OpCost(macs=macs, flops=2 * macs + 3 * rows * vectors)


@register(["TreeEnsemble", "TreeEnsembleClassifier", "TreeEnsembleRegressor"], domain=ML,
          flops="1 per row per tree (leaf sums; the comparisons of the walk are not FLOPs)", exact=False)
def tree_ensemble(ctx: NodeContext) -> OpCost:
    rows, _ = _rows_features(ctx)
    ids = ctx.attr("nodes_treeids") or ctx.attr("tree_roots") or [0]
    trees = len(set(ids)) if ctx.attr("nodes_treeids") else len(ids)
    return OpCost(flops=rows * trees)


per_output_element("Normalizer", 3, "3 per element (norm, sum, divide)", domain=ML)
per_output_element("Scaler", 2, "2 per element (offset, scale)", domain=ML)
register(["Binarizer", "ArrayFeatureExtractor", "FeatureVectorizer", "Imputer", "OneHotEncoder"], domain=ML,
         flops="0 (selection, comparison, encoding)")(zero_cost)
register(["CastMap", "CategoryMapper", "DictVectorizer", "LabelEncoder", "ZipMap"], domain=ML,
         flops="0 (maps and strings: sizes not static)", moves=OPAQUE)(zero_cost)
