"""Output shapes of ONNX Runtime contrib ops (com.microsoft), which ONNX's own inference does not
know. Layouts from ONNX Runtime's ContribOperators.md; symbolic dims flow through unchanged."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from onnx import NodeProto, TensorProto, helper

from onnxprof.symbolic import exact_div

Shape = Optional[tuple]
Rule = Callable[[list, dict], list]   # (input shapes, attributes) -> output shapes (None: unknown)


def _same_as_first(shapes: list, attrs: dict) -> list:
    return [shapes[0]]


def _skip_norm(shapes: list, attrs: dict) -> list:
    return [shapes[0], None, None, shapes[0]]      # output, mean, inv_std_var, input_skip_bias_sum


def _div(a, b):
    return exact_div(a, b) if a is not None and b else None


def _attention(shapes: list, attrs: dict) -> list:
    x, w = shapes[0], shapes[1]
    if x is None or w is None:
        return [None]
    sizes = attrs.get("qkv_hidden_sizes") or [_div(w[1], 3)] * 3
    return [(x[0], x[1], sizes[2])]


def _multi_head_attention(shapes: list, attrs: dict) -> list:
    q = shapes[0]
    if q is None:
        return [None]
    value = shapes[2] if len(shapes) > 2 else None
    if value is not None:
        width = value[2] if len(value) == 3 else value[1] * value[3]
    elif len(q) == 5:
        width = q[2] * q[4]
    else:
        width = q[2]
    return [(q[0], q[1], width)]


def _group_query_attention(shapes: list, attrs: dict) -> list:
    q = shapes[0]
    if q is None:
        return [None]
    heads, kv_heads = attrs.get("num_heads"), attrs.get("kv_num_heads")
    packed = len(shapes) < 2 or shapes[1] is None
    head = _div(q[2], heads + 2 * kv_heads) if packed else _div(q[2], heads)
    out = (q[0], q[1], heads * head if head is not None else None)
    past = shapes[3] if len(shapes) > 3 else None
    if past is None or past[2] is None:
        return [out]
    present = (past[0], past[1], past[2] + q[1], past[3])   # a growing cache: past + new tokens
    return [out, present, present]


def _embed_layer_norm(shapes: list, attrs: dict) -> list:
    ids, words = shapes[0], shapes[2]
    if ids is None or words is None:
        return [None]
    return [(ids[0], ids[1], words[1]), (ids[0],), (ids[0], ids[1], words[1])]


def _matmul_shape(a: Shape, b: Shape) -> Shape:
    if a is None or b is None or len(a) < 2 or len(b) < 2:
        return None
    batch_a, batch_b = a[:-2], b[:-2]
    rank = max(len(batch_a), len(batch_b))
    batch_a = (1,) * (rank - len(batch_a)) + tuple(batch_a)
    batch_b = (1,) * (rank - len(batch_b)) + tuple(batch_b)
    batch = tuple(y if x == 1 else x for x, y in zip(batch_a, batch_b))
    return batch + (a[-2], b[-1])


def _matmul_like(shapes: list, attrs: dict) -> list:
    return [_matmul_shape(shapes[0], shapes[1])]


def _fused_matmul(shapes: list, attrs: dict) -> list:
    a, b = shapes[0], shapes[1]
    if a is None or b is None:
        return [None]
    if attrs.get("transA") and len(a) >= 2:
        a = tuple(a[:-2]) + (a[-1], a[-2])
    if attrs.get("transB") and len(b) >= 2:
        b = tuple(b[:-2]) + (b[-1], b[-2])
    return [_matmul_shape(a, b)]


def _gemm(shapes: list, attrs: dict) -> list:
    a, b = shapes[0], shapes[1] if len(shapes) > 1 else None
    if a is None or b is None:
        return [None]
    m = a[1] if attrs.get("transA") else a[0]
    n = b[0] if attrs.get("transB") else b[1]
    return [(m, n)]


def _qgemm(shapes: list, attrs: dict) -> list:
    return _gemm([shapes[0], shapes[3] if len(shapes) > 3 else None], attrs)


def _matmul_nbits(shapes: list, attrs: dict) -> list:
    a = shapes[0]
    return [None if a is None else tuple(a[:-1]) + (attrs.get("N"),)]


def _conv_dims(spatial, kernel, attrs) -> Optional[tuple]:
    rank = len(spatial)
    strides = attrs.get("strides") or [1] * rank
    dilations = attrs.get("dilations") or [1] * rank
    pads = attrs.get("pads") or [0] * (2 * rank)
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    out = []
    for i, (size, k) in enumerate(zip(spatial, kernel)):
        if not isinstance(size, int) or not isinstance(k, int):
            return None
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out.append(-(-size // strides[i]))
        else:
            reach = dilations[i] * (k - 1) + 1
            pad = 0 if auto_pad == "VALID" else pads[i] + pads[i + rank]
            out.append((size + pad - reach) // strides[i] + 1)
    return tuple(out)


def _conv(x_index: int, w_index: int, channels_last_attr: bool = False, nhwc: bool = False) -> Rule:
    def rule(shapes: list, attrs: dict) -> list:
        x, w = shapes[x_index], shapes[w_index] if len(shapes) > w_index else None
        if x is None or w is None:
            return [None]
        last = nhwc or (channels_last_attr and attrs.get("channels_last"))
        kernel = attrs.get("kernel_shape") or (w[1:-1] if nhwc else w[2:])
        spatial = x[1:-1] if last else x[2:]
        dims = _conv_dims(spatial, kernel, attrs)
        if dims is None:
            return [None]
        return [(x[0], *dims, w[0]) if last else (x[0], w[0], *dims)]

    return rule


def _global_pool(shapes: list, attrs: dict) -> list:
    x = shapes[0]
    if x is None:
        return [None]
    if attrs.get("channels_last"):
        return [(x[0],) + (1,) * (len(x) - 2) + (x[-1],)]
    return [(x[0], x[1]) + (1,) * (len(x) - 2)]


def _grid_sample(shapes: list, attrs: dict) -> list:
    x, grid = shapes[0], shapes[1]
    return [None if x is None or grid is None else (x[0], x[1], *grid[1:-1])]


def _packed_attention(shapes: list, attrs: dict) -> list:
    x, w = shapes[0], shapes[1]
    if x is None or w is None:
        return [None]
    sizes = attrs.get("qkv_hidden_sizes") or [_div(w[1], 3)] * 3
    return [(x[0], sizes[2])]


RULES: dict[str, Rule] = {
    "Gelu": _same_as_first, "BiasGelu": _same_as_first, "FastGelu": _same_as_first, "QuickGelu": _same_as_first,
    "BiasAdd": _same_as_first, "RotaryEmbedding": _same_as_first, "QLinearSigmoid": _same_as_first,
    "QLinearAdd": _same_as_first, "QLinearMul": _same_as_first, "SimplifiedLayerNormalization": _same_as_first,
    "LayerNormalization": _same_as_first,
    "SkipLayerNormalization": _skip_norm, "SkipSimplifiedLayerNormalization": _skip_norm,
    "Attention": _attention, "QAttention": _attention, "PackedAttention": _packed_attention,
    "MultiHeadAttention": _multi_head_attention, "GroupQueryAttention": _group_query_attention,
    "EmbedLayerNormalization": _embed_layer_norm,
    "FusedMatMul": _fused_matmul, "MatMulIntegerToFloat": _matmul_like, "DynamicQuantizeMatMul": _matmul_like,
    "FusedGemm": _gemm, "QGemm": _qgemm, "MatMulNBits": _matmul_nbits,
    "FusedConv": _conv(0, 1), "NhwcConv": _conv(0, 1, nhwc=True), "QLinearConv": _conv(0, 3, channels_last_attr=True),
    "QLinearGlobalAveragePool": _global_pool, "GridSample": _grid_sample,
}
# Ops ONNX Runtime also registers in the default domain, where ONNX itself has no schema for them
# (LayerNormalization before opset 17): exporters for ONNX Runtime write them there.
ORT_DEFAULT_DOMAIN_OPS = frozenset({"SimplifiedLayerNormalization", "LayerNormalization"})
# Output element types that differ from the first input's.
FLOAT_OUTPUTS = {"MatMulIntegerToFloat", "DynamicQuantizeMatMul", "QAttention"}
CONTRIB_DOMAIN = "com.microsoft"


def _gather_block_quantized(shapes: list, dtypes: list, attrs: dict) -> list:
    """Gather on axis 0 of block-quantized data; uint8 data packs 8 / bits codes per byte along its
    last axis, which the output holds unpacked."""
    data, indices = shapes[0], shapes[1]
    if data is None or indices is None or attrs.get("gather_axis", 0) not in (0, -len(data)):
        return [None]
    last = data[-1]
    if dtypes[0] == TensorProto.UINT8:
        last = last * (8 // attrs.get("bits", 4))
    return [tuple(indices) + tuple(data[1:-1]) + (last,)]


# Rules that also need the inputs' element types: (input shapes, input types, attributes) -> output shapes.
TYPED_RULES: dict[str, Callable[[list, list, dict], list]] = {"GatherBlockQuantized": _gather_block_quantized}


def contrib_output_shapes(node: NodeProto, input_shapes: list, input_dtypes: Sequence[int] = ()) -> Optional[list]:
    """Output shapes of a contrib node (or of one of ORT's default-domain ops); ``input_dtypes``, 0
    where unknown, for the ops whose shapes depend on them."""
    rule = RULES.get(node.op_type)
    typed = TYPED_RULES.get(node.op_type)
    known_domain = node.domain == CONTRIB_DOMAIN or node.op_type in ORT_DEFAULT_DOMAIN_OPS
    if (rule is None and typed is None) or not known_domain:
        return None
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    try:
        if typed is not None:
            return typed(input_shapes, list(input_dtypes) + [0] * (len(input_shapes) - len(input_dtypes)), attrs)
        return rule(input_shapes, attrs)
    except (IndexError, TypeError, ZeroDivisionError):
        return None


# Ops whose outputs do not take their first input's element type: per output, the input whose type it takes
# (an int) or a fixed type (a TensorProto enum, as ("type", T)). EmbedLayerNormalization reads int32 ids
# and writes the embeddings' float type (and an int32 mask index); GatherBlockQuantized its scales' type.
_OUTPUT_DTYPES = {"EmbedLayerNormalization": (2, ("type", TensorProto.INT32), 2), "GatherBlockQuantized": (2,)}


def contrib_output_dtype(node: NodeProto, input_dtypes: list, index: int = 0) -> int:
    """The element type of output ``index`` of a contrib op, from its inputs' types (0 where unknown)."""
    if node.op_type in FLOAT_OUTPUTS:
        return TensorProto.FLOAT
    rule = _OUTPUT_DTYPES.get(node.op_type, ())
    source = rule[index] if index < len(rule) else 0
    if isinstance(source, tuple):
        return source[1]
    dtype = input_dtypes[source] if source < len(input_dtypes) else 0
    return dtype or TensorProto.FLOAT
