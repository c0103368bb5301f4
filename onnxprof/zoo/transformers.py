"""Transformers: ViT-B/16 (torchvision), BERT-base (bert-base-uncased) and GPT-2 small (HF ``gpt2``),
with their reference layer shapes, so the same parameter counts and MACs.

Batch and sequence length stay symbolic: shapes that depend on them are computed in the graph from
``Shape`` (class-token ``Expand``, position embeddings for positions 0..S-1, the causal mask), reshapes use
``0`` to copy a dim, as PyTorch exports do. Helper literals (scales, GELU constants) are rank-0, so
they are not parameters.

- ``vit-b16``: input [N, 3, 224, 224], output logits [N, 1000]; 86,567,656 parameters,
  17,563,828,224 MACs per image (torchvision's 17.56 GFLOPS; attention matmuls included).
- ``bert-base``: inputs ``input_ids`` and ``token_type_ids`` int64 [N, S] (no attention mask input:
  every token attends to every token, as with an all-ones mask), output the pooled first token
  [N, 768] (pooler dense + Tanh); 109,482,240 parameters.
- ``gpt2-small``: input ``input_ids`` int64 [N, S] (S ≤ 1024), output logits [N, S, 50257]; causal mask
  built with ``Trilu`` from a ``ConstantOfShape`` (no [1024, 1024] buffer, so no mask parameter), LM
  head tied to ``wte``: a ``Gemm`` with ``transB=1`` reads the same initializer the embedding
  ``Gather`` reads, so it counts once; 124,439,808 parameters.
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from onnxprof.zoo.builder import GraphBuilder, normal


def _i64(values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def _f32(value: float) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)   # rank 0: a literal, not a parameter


def _dim(b: GraphBuilder, x: str, axis: int, name: str) -> str:
    """The 1-element int64 tensor [x.shape[axis]]."""
    return b.node("Shape", [x], name, start=axis, end=axis + 1)


def _split_heads(b: GraphBuilder, x: str, name: str, heads: int, head_dim: int, perm: list[int]) -> str:
    """[N, S, heads·head_dim] → [N, heads, S, head_dim] (or [N, heads, head_dim, S] for keys)."""
    shape = b.const(f"{name}.reshape.shape", _i64([0, 0, heads, head_dim]))
    y = b.node("Reshape", [x, shape], f"{name}.reshape")
    return b.node("Transpose", [y], f"{name}.transpose", perm=perm)


def _attention(b: GraphBuilder, q: str, k: str, v: str, name: str, heads: int, head_dim: int,
               mask: str = None) -> str:
    """Scaled dot-product attention on [N, S, width] projections; returns [N, S, width] (before the
    output projection). ``mask``: a boolean [S, S], True where attention is allowed."""
    q = _split_heads(b, q, f"{name}.query", heads, head_dim, [0, 2, 1, 3])
    k = _split_heads(b, k, f"{name}.key", heads, head_dim, [0, 2, 3, 1])
    v = _split_heads(b, v, f"{name}.value", heads, head_dim, [0, 2, 1, 3])
    scores = b.node("MatMul", [q, k], f"{name}.scores")                       # [N, h, S, S]
    scale = b.const(f"{name}.scale", _f32(np.sqrt(head_dim)))
    scores = b.node("Div", [scores, scale], f"{name}.scale_div")
    if mask is not None:
        fill = b.const(f"{name}.mask_value", _f32(np.finfo(np.float32).min))
        scores = b.node("Where", [mask, scores, fill], f"{name}.mask")
    probs = b.softmax(scores, f"{name}.softmax")
    context = b.node("MatMul", [probs, v], f"{name}.context")                 # [N, h, S, d]
    context = b.node("Transpose", [context], f"{name}.context.transpose", perm=[0, 2, 1, 3])
    shape = b.const(f"{name}.context.reshape.shape", _i64([0, 0, heads * head_dim]))
    return b.node("Reshape", [context, shape], f"{name}.context.reshape")


def _split3(b: GraphBuilder, x: str, name: str, width: int) -> list[str]:
    sizes = b.const(f"{name}.split.sizes", _i64([width] * 3))
    return b.node("Split", [x, sizes], f"{name}.split", outputs=3, axis=-1)


def _embedding(b: GraphBuilder, ids: str, name: str, rows: int, width: int) -> str:
    table = b.param(f"{name}.weight", (rows, width), normal(0.02))
    return b.node("Gather", [table, ids], name, axis=0)


def _positions(b: GraphBuilder, ids: str, name: str, rows: int, width: int) -> str:
    """Position embeddings of the first S positions: [S, width], S read from ``ids`` [N, S].

    The position ids 0..S-1 are CumSum(ones[S]) - 1, with ones from ConstantOfShape: a form whose
    output shape [S] the analyzer derives (a Range or a Slice with a run-time end leaves it unknown)."""
    table = b.param(f"{name}.weight", (rows, width), normal(0.02))
    seq = _dim(b, ids, 1, f"{name}.seq_len")
    ones = b.node("ConstantOfShape", [seq], f"{name}.ones", value=helper.make_tensor("value", TensorProto.INT64, [1], [1]))
    count = b.node("CumSum", [ones, b.const(f"{name}.cumsum.axis", _i64(0))], f"{name}.cumsum")
    position_ids = b.node("Sub", [count, b.const(f"{name}.one", _i64(1))], f"{name}.position_ids")
    return b.node("Gather", [table, position_ids], name, axis=0)


# -- ViT-B/16 --------------------------------------------------------------------------------------

def vit(b: GraphBuilder, patch: int = 16, resolution: int = 224, width: int = 768, layers: int = 12,
        heads: int = 12, mlp: int = 3072, classes: int = 1000):
    grid = resolution // patch
    tokens = grid * grid + 1
    x = b.image_input(resolution)
    image = x
    x = b.conv(x, "conv_proj", 3, width, patch, patch, 0, bias=True)                  # [N, 768, 14, 14]
    x = b.node("Reshape", [x, b.const("flatten.shape", _i64([0, width, grid * grid]))], "flatten")
    x = b.node("Transpose", [x], "flatten.transpose", perm=[0, 2, 1])                 # [N, 196, 768]
    cls = b.param("class_token", (1, 1, width), normal(0.02))
    batch = _dim(b, image, 0, "class_token.batch")
    target = b.concat([batch, b.const("class_token.expand.tail", _i64([1, 1]))], "class_token.expand.shape",
                      axis=0)
    cls = b.node("Expand", [cls, target], "class_token.expand")                        # [N, 1, 768]
    x = b.concat([cls, x], "encoder.concat", axis=1)                                   # [N, 197, 768]
    pos = b.param("encoder.pos_embedding", (1, tokens, width), normal(0.02))
    x = b.add(x, pos, "encoder.pos_embedding.add")
    for i in range(layers):
        p = f"encoder.layers.encoder_layer_{i}"
        y = b.layer_norm(x, f"{p}.ln_1", width, epsilon=1e-6)
        qkv = b.dense(y, f"{p}.self_attention.in_proj", width, 3 * width)
        q, k, v = _split3(b, qkv, f"{p}.self_attention.in_proj", width)
        y = _attention(b, q, k, v, f"{p}.self_attention", heads, width // heads)
        y = b.dense(y, f"{p}.self_attention.out_proj", width, width)
        x = b.add(x, y, f"{p}.add_1")
        y = b.layer_norm(x, f"{p}.ln_2", width, epsilon=1e-6)
        y = b.gelu(b.dense(y, f"{p}.mlp.0", width, mlp), f"{p}.mlp.1")
        y = b.dense(y, f"{p}.mlp.3", mlp, width)
        x = b.add(x, y, f"{p}.add_2")
    x = b.layer_norm(x, "encoder.ln", width, epsilon=1e-6)
    x = b.node("Gather", [x, b.const("class_token.index", _i64(0))], "class_token.select", axis=1)  # [N, 768]
    return b.linear(x, "heads.head", width, classes), [b.batch, classes]


# -- BERT-base -------------------------------------------------------------------------------------

def bert(b: GraphBuilder, vocab: int = 30522, width: int = 768, layers: int = 12, heads: int = 12,
         intermediate: int = 3072, positions: int = 512, types: int = 2, eps: float = 1e-12):
    ids = b.input("input_ids", [b.batch, "S"], TensorProto.INT64)
    type_ids = b.input("token_type_ids", [b.batch, "S"], TensorProto.INT64)
    words = _embedding(b, ids, "embeddings.word_embeddings", vocab, width)
    kinds = _embedding(b, type_ids, "embeddings.token_type_embeddings", types, width)
    pos = _positions(b, ids, "embeddings.position_embeddings", positions, width)
    x = b.add(b.add(words, kinds, "embeddings.add"), pos, "embeddings.add_1")
    x = b.layer_norm(x, "embeddings.LayerNorm", width, epsilon=eps)
    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = b.dense(x, f"{p}.attention.self.query", width, width)
        k = b.dense(x, f"{p}.attention.self.key", width, width)
        v = b.dense(x, f"{p}.attention.self.value", width, width)
        y = _attention(b, q, k, v, f"{p}.attention.self", heads, width // heads)
        y = b.dense(y, f"{p}.attention.output.dense", width, width)
        x = b.layer_norm(b.add(y, x, f"{p}.attention.output.add"), f"{p}.attention.output.LayerNorm", width,
                         epsilon=eps)
        y = b.gelu(b.dense(x, f"{p}.intermediate.dense", width, intermediate), f"{p}.intermediate.gelu")
        y = b.dense(y, f"{p}.output.dense", intermediate, width)
        x = b.layer_norm(b.add(y, x, f"{p}.output.add"), f"{p}.output.LayerNorm", width, epsilon=eps)
    first = b.node("Gather", [x, b.const("pooler.first_token.index", _i64(0))], "pooler.first_token", axis=1)
    pooled = b.linear(first, "pooler.dense", width, width, init=normal(0.02))
    return b.node("Tanh", [pooled], "pooler.activation"), [b.batch, width]


# -- GPT-2 small -----------------------------------------------------------------------------------

def _gelu_tanh(b: GraphBuilder, x: str, name: str) -> str:
    """GPT-2's gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))."""
    cube = b.node("Pow", [x, b.const(f"{name}.three", _f32(3.0))], f"{name}.pow")
    inner = b.add(x, b.mul(cube, b.const(f"{name}.coeff", _f32(0.044715)), f"{name}.mul_coeff"), f"{name}.add")
    inner = b.mul(inner, b.const(f"{name}.sqrt_2_over_pi", _f32(np.sqrt(2.0 / np.pi))), f"{name}.mul_scale")
    t = b.node("Tanh", [inner], f"{name}.tanh")
    t = b.add(t, b.const(f"{name}.one", _f32(1.0)), f"{name}.add_one")
    half = b.mul(x, b.const(f"{name}.half", _f32(0.5)), f"{name}.mul_half")
    return b.mul(half, t, name)


def _causal_mask(b: GraphBuilder, ids: str) -> str:
    """Boolean [S, S], True on and below the diagonal (a token sees itself and earlier tokens)."""
    seq = _dim(b, ids, 1, "causal_mask.seq_len")
    shape = b.concat([seq, seq], "causal_mask.shape", axis=0)
    ones = b.node("ConstantOfShape", [shape], "causal_mask.ones",
                  value=helper.make_tensor("value", TensorProto.FLOAT, [1], [1.0]))
    lower = b.node("Trilu", [ones], "causal_mask.trilu", upper=0)
    return b.node("Cast", [lower], "causal_mask.cast", to=TensorProto.BOOL)


def gpt2(b: GraphBuilder, vocab: int = 50257, positions: int = 1024, width: int = 768, layers: int = 12,
         heads: int = 12, eps: float = 1e-5):
    ids = b.input("input_ids", [b.batch, "S"], TensorProto.INT64)
    wte = b.param("wte.weight", (vocab, width), normal(0.02))
    x = b.node("Gather", [wte, ids], "wte", axis=0)
    x = b.add(x, _positions(b, ids, "wpe", positions, width), "embeddings.add")
    mask = _causal_mask(b, ids)
    for i in range(layers):
        p = f"h.{i}"
        y = b.layer_norm(x, f"{p}.ln_1", width, epsilon=eps)
        q, k, v = _split3(b, b.dense(y, f"{p}.attn.c_attn", width, 3 * width), f"{p}.attn.c_attn", width)
        y = _attention(b, q, k, v, f"{p}.attn", heads, width // heads, mask=mask)
        x = b.add(x, b.dense(y, f"{p}.attn.c_proj", width, width), f"{p}.attn.residual")
        y = b.layer_norm(x, f"{p}.ln_2", width, epsilon=eps)
        y = _gelu_tanh(b, b.dense(y, f"{p}.mlp.c_fc", width, 4 * width), f"{p}.mlp.act")
        x = b.add(x, b.dense(y, f"{p}.mlp.c_proj", 4 * width, width), f"{p}.mlp.residual")
    x = b.layer_norm(x, "ln_f", width, epsilon=eps)
    # Tied LM head: Gemm reads wte itself (transB), so the shared matrix counts once.
    flat = b.node("Reshape", [x, b.const("lm_head.flatten.shape", _i64([-1, width]))], "lm_head.flatten")
    logits = b.node("Gemm", [flat, wte], "lm_head", transB=1)                            # [N·S, vocab]
    shape = b.concat([b.node("Shape", [ids], "lm_head.ids_shape"), b.const("lm_head.vocab", _i64([vocab]))],
                     "lm_head.unflatten.shape", axis=0)
    return b.node("Reshape", [logits, shape], "lm_head.unflatten"), [b.batch, "S", vocab]


NETWORKS = {"vit-b16": vit, "bert-base": bert, "gpt2-small": gpt2}
