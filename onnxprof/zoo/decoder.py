"""A decoder-only LLM in the form ONNX Runtime GenAI's model builder (and Olive) exports it, for
analysing LLM-sized graphs without downloading one.

The graph follows the builder's int4 export of a Llama/Mistral-style model: ``input_ids``,
``attention_mask`` and one key/value cache input per layer (float16, ``[batch_size, kv_heads,
past_sequence_length, head_size]``); per layer a (Skip)SimplifiedLayerNormalization, q/k/v/o and
gate/up/down projections as ``com.microsoft`` MatMulNBits (4-bit blocks, float16 scales), rotary
embeddings (RotaryEmbedding nodes, or inside the attention with ``fused_rotary``),
GroupQueryAttention over the cache, SiLU as Sigmoid·Mul; a final norm and a 4-bit lm_head. The
attention mask becomes GroupQueryAttention's ``seqlens_k`` and ``total_sequence_length`` as the
builder computes them (ReduceSum, Sub, Shape, Gather, Cast).

Every initializer lives in one external data file, written sparse: its size is real, its blocks are
never written, so a 4 GB model costs no disk and no time. Its values are meaningless; only dims,
types and layout matter to the analyzer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MS = "com.microsoft"
F16, I64, I32, U8 = TensorProto.FLOAT16, TensorProto.INT64, TensorProto.INT32, TensorProto.UINT8
B, S, P, T = "batch_size", "sequence_length", "past_sequence_length", "total_sequence_length"
EPSILON = 1e-5


@dataclass(frozen=True)
class DecoderShape:
    """The sizes of a decoder; the defaults are Mistral-7B's."""

    layers: int = 32
    hidden: int = 4096
    heads: int = 32
    kv_heads: int = 8
    intermediate: int = 14336
    vocab: int = 32000
    block_size: int = 32          # 4-bit weights share one float16 scale per block along K
    max_length: int = 4096        # rows of the rotary cos/sin caches

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads


class _Graph:
    """Nodes, value_info and external initializers as the builder writes them."""

    def __init__(self, data_file: str, value_info: bool):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[TensorProto] = []
        self.infos: list[onnx.ValueInfoProto] = []
        self.data_file, self.offset, self.with_info = data_file, 0, value_info
        self.constants: set[str] = set()

    def weight(self, name: str, dtype: int, dims: list[int]) -> str:
        """An initializer whose bytes sit at the next offset of the external data file."""
        tensor = TensorProto(name=name, data_type=dtype, dims=dims, data_location=TensorProto.EXTERNAL)
        length = int(np.prod(dims)) * (2 if dtype == F16 else 1)
        for key, value in (("location", self.data_file), ("offset", str(self.offset)), ("length", str(length))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self.offset += length
        self.initializers.append(tensor)
        return name

    def constant(self, values, scalar: bool = False) -> str:
        """An int64 Constant node, named as the builder names them, made once."""
        name = f"/model/constants/TensorProto.INT64/{'0D' if scalar else '1D'}/{values}"
        if name not in self.constants:
            array = np.array(values if scalar else [values], dtype=np.int64)
            self.nodes.append(helper.make_node("Constant", [], [name], name=name.replace("constants", "constant_nodes"),
                                               value=numpy_helper.from_array(array)))
            self.constants.add(name)
        return name

    def node(self, op_type: str, inputs: list[str], name: str, dtype: int, shape, domain: str = "",
             outputs: list[str] | None = None, **attrs) -> str:
        """Add a node; returns its first output, declared in value_info with ``dtype`` and ``shape``."""
        outputs = outputs or [f"{name}/output_0"]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name, domain=domain or None, **attrs))
        if self.with_info and shape is not False:
            self.infos.append(helper.make_tensor_value_info(outputs[0], dtype, shape))
        return outputs[0]


def decoder_model(shape: DecoderShape = DecoderShape(), data_file: str = "model.onnx.data",
                  fused_rotary: bool = False, value_info: bool = True) -> tuple[onnx.ModelProto, int]:
    """The decoder and the length of its external data file (whose name is ``data_file``)."""
    g = _Graph(data_file, value_info)
    hidden, head, kv_width = shape.hidden, shape.head_size, shape.kv_heads * shape.head_size
    inputs = [helper.make_tensor_value_info("input_ids", I64, [B, S]),
              helper.make_tensor_value_info("attention_mask", I64, [B, T])]
    if not fused_rotary:
        inputs.append(helper.make_tensor_value_info("position_ids", I64, [B, S]))
    outputs = [helper.make_tensor_value_info("logits", F16, [B, S, shape.vocab])]
    cache = [B, shape.kv_heads, P, head]
    for i in range(shape.layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.{kind}", F16, cache))
            outputs.append(helper.make_tensor_value_info(f"present.{i}.{kind}", F16, [B, shape.kv_heads, T, head]))

    seqlens_k, total = _mask_reformat(g)
    embedding = g.weight("model.embed_tokens.weight", F16, [shape.vocab, hidden])
    residual = g.node("Gather", [embedding, "input_ids"], "/model/embed_tokens/Gather", F16, [B, S, hidden])
    cos = g.weight("cos_cache", F16, [shape.max_length, head // 2])
    sin = g.weight("sin_cache", F16, [shape.max_length, head // 2])
    x, skip = None, None
    for i in range(shape.layers):
        x, residual = _norm(g, f"model.layers.{i}.input_layernorm", f"/model/layers.{i}/input_layernorm",
                            residual, skip, hidden)
        base = f"/model/layers.{i}/attn"
        q = _matmul_nbits(g, x, f"{base}/q_proj", hidden, shape.heads * head, shape.block_size)
        k = _matmul_nbits(g, x, f"{base}/k_proj", hidden, kv_width, shape.block_size)
        v = _matmul_nbits(g, x, f"{base}/v_proj", hidden, kv_width, shape.block_size)
        rotary_inputs: list[str] = []
        if fused_rotary:
            rotary_inputs = [cos, sin]
        else:
            # num_heads and rotary_embedding_dim 0: the whole head rotates, as the builder writes it
            q = g.node("RotaryEmbedding", [q, "position_ids", cos, sin], f"{base}/q_rotary/RotaryEmbedding", F16,
                       [B, S, shape.heads * head], domain=MS, interleaved=0, num_heads=0, rotary_embedding_dim=0)
            k = g.node("RotaryEmbedding", [k, "position_ids", cos, sin], f"{base}/k_rotary/RotaryEmbedding", F16,
                       [B, S, kv_width], domain=MS, interleaved=0, num_heads=0, rotary_embedding_dim=0)
        attn = g.node("GroupQueryAttention",
                      [q, k, v, f"past_key_values.{i}.key", f"past_key_values.{i}.value", seqlens_k, total,
                       *rotary_inputs],
                      f"{base}/GroupQueryAttention", F16, [B, S, shape.heads * head], domain=MS,
                      outputs=[f"{base}/GroupQueryAttention/output_0", f"present.{i}.key", f"present.{i}.value"],
                      num_heads=shape.heads, kv_num_heads=shape.kv_heads, scale=float(1 / np.sqrt(head)),
                      do_rotary=int(fused_rotary), rotary_interleaved=0)
        skip = _matmul_nbits(g, attn, f"{base}/o_proj", shape.heads * head, hidden, shape.block_size)
        x, residual = _norm(g, f"model.layers.{i}.post_attention_layernorm",
                            f"/model/layers.{i}/post_attention_layernorm", residual, skip, hidden)
        skip = _mlp(g, x, f"/model/layers.{i}/mlp", shape)
    x, _ = _norm(g, "model.norm", "/model/norm", residual, skip, hidden, last=True)
    _matmul_nbits(g, x, "/lm_head", hidden, shape.vocab, shape.block_size, output="logits")

    graph = helper.make_graph(g.nodes, "main_graph", inputs, outputs, g.initializers, value_info=g.infos)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14), helper.make_opsetid(MS, 1)],
                              producer_name="onnxruntime-genai", producer_version="0.0.0")
    model.ir_version = 7
    return model, g.offset


def write_decoder(folder: Path, layers: int = 32, hidden: int = 4096, heads: int = 32, kv_heads: int = 8,
                  intermediate: int = 14336, vocab: int = 32000, block_size: int = 32, fused_rotary: bool = False,
                  value_info: bool = True, name: str = "model.onnx") -> Path:
    """Write ``folder/name`` and its sparse external data file ``folder/name.data``; returns the model's path."""
    shape = DecoderShape(layers, hidden, heads, kv_heads, intermediate, vocab, block_size)
    if hidden % heads or heads % kv_heads:
        raise ValueError(f"hidden {hidden} must split into {heads} heads, and those into {kv_heads} key/value groups")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    data_file = f"{name}.data"
    model, length = decoder_model(shape, data_file, fused_rotary, value_info)
    path = folder / name
    onnx.save(model, path)
    with open(folder / data_file, "wb") as data:   # sparse: the size is real, no block is written
        data.truncate(length)
    return path


def _mask_reformat(g: _Graph) -> tuple[str, str]:
    """seqlens_k = ReduceSum(attention_mask) - 1 and total_sequence_length = its dim 1, both int32."""
    base = "/model/attn_mask_reformat/attn_mask_subgraph"
    summed = g.node("ReduceSum", ["attention_mask", g.constant(1)], f"{base}/ReduceSum", I64, [B, 1])
    less = g.node("Sub", [summed, g.constant(1, scalar=True)], f"{base}/Sub", I64, [B, 1])
    seqlens = g.node("Cast", [less], f"{base}/Sub/Cast", I32, [B, 1], to=I32)
    dims = g.node("Shape", ["attention_mask"], f"{base}/Shape", I64, [2])
    length = g.node("Gather", [dims, g.constant(1, scalar=True)], f"{base}/Gather", I64, [], axis=0)
    total = g.node("Cast", [length], f"{base}/Gather/Cast", I32, None, to=I32)
    return seqlens, total


def _norm(g: _Graph, weight: str, base: str, residual: str, skip: str | None, hidden: int,
          last: bool = False) -> tuple[str, str]:
    """RMS norm of the residual stream (layer 0's first norm), else of residual + skip: returns the
    normalised output and the new residual stream."""
    gamma = g.weight(f"{weight}.weight", F16, [hidden])
    if skip is None:
        out = g.node("SimplifiedLayerNormalization", [residual, gamma], f"{base}/LayerNorm", F16, [B, S, hidden],
                     outputs=[f"{base}/output_0"], epsilon=EPSILON, axis=-1, stash_type=1)
        return out, residual
    outputs = [f"{base}/output_0"] if last else [f"{base}/output_0", "", "", f"{base}/output_3"]
    out = g.node("SkipSimplifiedLayerNormalization", [residual, skip, gamma], f"{base}/SkipLayerNorm", F16,
                 [B, S, hidden], domain=MS, outputs=outputs, epsilon=EPSILON)
    if last:
        return out, residual
    if g.with_info:
        g.infos.append(helper.make_tensor_value_info(outputs[3], F16, [B, S, hidden]))
    return out, outputs[3]


def _matmul_nbits(g: _Graph, x: str, base: str, k: int, n: int, block_size: int, output: str | None = None) -> str:
    """x [.., K] times a 4-bit [K, N] weight stored transposed as [N, K/block, block/2] bytes."""
    blocks = -(-k // block_size)
    prefix = base[1:].replace("/", ".") + ".MatMulNBits"
    weight = g.weight(f"{prefix}.qweight", U8, [n, blocks, block_size // 2])
    scales = g.weight(f"{prefix}.scales", F16, [n, blocks])
    return g.node("MatMulNBits", [x, weight, scales], f"{base}/MatMulNBits", F16, [B, S, n], domain=MS,
                  outputs=[output or f"{base}/MatMulNBits/output_0"], K=k, N=n, bits=4, block_size=block_size,
                  accuracy_level=4)


def _mlp(g: _Graph, x: str, base: str, shape: DecoderShape) -> str:
    """down(SiLU(gate(x)) · up(x)), SiLU written as gate · Sigmoid(gate)."""
    width = [B, S, shape.intermediate]
    gate = _matmul_nbits(g, x, f"{base}/gate_proj", shape.hidden, shape.intermediate, shape.block_size)
    up = _matmul_nbits(g, x, f"{base}/up_proj", shape.hidden, shape.intermediate, shape.block_size)
    sigmoid = g.node("Sigmoid", [gate], f"{base}/act_fn/Sigmoid", F16, width)
    act = g.node("Mul", [gate, sigmoid], f"{base}/act_fn/Mul", F16, width)
    gated = g.node("Mul", [act, up], f"{base}/Mul", F16, width)
    return _matmul_nbits(g, gated, f"{base}/down_proj", shape.intermediate, shape.hidden, shape.block_size)
