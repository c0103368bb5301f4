"""The held-out networks of export_torch_models.py (its ``--set heldout``), which the latency predictor is
never fitted or tuned on: families unlike both the zoo and the tuning set.

Vision transformers with plain and with windowed attention, hybrids of convolution and attention,
dense-prediction heads, other input sizes, NAS-style mobile nets, and re-parameterised plain nets in their
deploy form. Each follows its paper and reference definition layer for layer; a network that was shrunk to
run in about a second at batch 8 on a small CPU says so in its source line. Every reshape fixes each size
but the leading one, so the batch stays symbolic without Shape nodes in the graph; only ViT's class token and
the exporter's GroupNorm read the batch from the input's shape, as their reference exports do.

Run through export_torch_models.py: python scripts/export_torch_models.py --set heldout --output DIR
"""

from __future__ import annotations

import itertools
import math
from functools import partial
from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from export_torch_models import (CLASSES, V3_BN, Bottleneck, Classifier, Spec, SqueezeExcite, conv_bn,
                                 make_divisible, mobilenet_v3)


# ---------------------------------------------------------------------------------------------------------
# Transformer parts

def mlp(dim: int, hidden: int, act: Callable[[], nn.Module] = nn.GELU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), act(), nn.Linear(hidden, dim))


class Permute(nn.Module):
    def __init__(self, *dims: int):
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(*self.dims)


class Tokens(nn.Module):
    """NCHW map to a (N, H·W, C) token sequence."""

    def __init__(self, channels: int, tokens: int):
        super().__init__()
        self.channels, self.tokens = channels, tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(-1, self.channels, self.tokens).transpose(1, 2)


class SelfAttention(nn.Module):
    """Multi-head self-attention as ViT, Swin and MobileViT write it: one qkv projection, softmax(QKᵀ/√d + bias)
    times V, an output projection. Swin's shifted windows add a mask per window position (`windows` of them)."""

    def __init__(self, dim: int, heads: int, tokens: int, windows: int = 1):
        super().__init__()
        self.heads, self.tokens, self.windows, self.head_dim = heads, tokens, windows, dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, bias: Optional[torch.Tensor] = None,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        t, h = self.tokens, self.heads
        q, k, v = self.qkv(x).reshape(-1, t, 3, h, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if bias is not None:
            attn = attn + bias
        if mask is not None:
            attn = (attn.reshape(-1, self.windows, h, t, t) + mask.unsqueeze(1)).reshape(-1, h, t, t)
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, t, h * self.head_dim)
        return self.proj(x)


class EncoderLayer(nn.Module):
    """Pre-norm transformer layer: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, tokens: int, hidden: int, act: Callable[[], nn.Module] = nn.GELU,
                 eps: float = 1e-6):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = SelfAttention(dim, heads, tokens)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = mlp(dim, hidden, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


# ---------------------------------------------------------------------------------------------------------
# ViT with DeiT's widths (Dosovitskiy et al. 2021, Touvron et al. 2021)

class VisionTransformer(nn.Module):
    """16×16 patches, a class token, learned position embeddings, pre-norm encoder layers, head on the class token."""

    def __init__(self, dim: int, depth: int, heads: int, patch: int = 16, image: int = 224):
        super().__init__()
        patches = (image // patch) ** 2
        self.patch_embed = nn.Sequential(nn.Conv2d(3, dim, patch, patch), Tokens(dim, patches))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, patches + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*(EncoderLayer(dim, heads, patches + 1, 4 * dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        # The class token is repeated over the batch, which a symbolic batch can only take from the input's shape.
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


# ---------------------------------------------------------------------------------------------------------
# Swin Transformer (Liu et al. 2021), torchvision's swin_t layer for layer

def relative_position_index(window: int) -> torch.Tensor:
    """Row of Swin's relative-position bias table for each pair of positions in a window (T × T, T = window²)."""
    coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
    return relative[:, :, 0] * (2 * window - 1) + relative[:, :, 1]


def shifted_window_mask(resolution: int, window: int, shift: int) -> torch.Tensor:
    """-100 between positions of one window that were not neighbours before the cyclic shift (windows × T × T)."""
    region = torch.zeros(resolution, resolution)
    cuts = ((0, -window), (-window, -shift), (-shift, None))
    for label, (rows, cols) in enumerate(itertools.product(cuts, cuts)):
        region[rows[0]:rows[1], cols[0]:cols[1]] = label
    n = resolution // window
    region = region.reshape(n, window, n, window).permute(0, 2, 1, 3).reshape(n * n, window * window)
    return torch.where(region.unsqueeze(1) != region.unsqueeze(2), -100.0, 0.0)


class SwinBlock(nn.Module):
    """On an NHWC map: x + (shifted) window attention with relative-position bias of LN(x), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int, resolution: int, window: int, shift: int):
        super().__init__()
        if window >= resolution:     # one window covers the map, so there is nothing to shift (torchvision's rule)
            window, shift = resolution, 0
        self.dim, self.resolution, self.window, self.shift = dim, resolution, window, shift
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, window * window, (resolution // window) ** 2)
        self.bias_table = nn.Parameter(torch.randn((2 * window - 1) ** 2, heads) * 0.02)
        self.register_buffer("bias_index", relative_position_index(window).flatten(), persistent=False)
        self.register_buffer("mask", shifted_window_mask(resolution, window, shift) if shift else None,
                             persistent=False)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = mlp(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.window_attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))

    def window_attention(self, x: torch.Tensor) -> torch.Tensor:
        r, w, s, c = self.resolution, self.window, self.shift, self.dim
        n = r // w
        if s:
            x = torch.roll(x, (-s, -s), (1, 2))
        x = x.reshape(-1, n, w, n, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, w * w, c)
        bias = self.bias_table[self.bias_index].reshape(w * w, w * w, -1).permute(2, 0, 1)
        x = self.attn(x, bias, self.mask)
        x = x.reshape(-1, n, n, w, w, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, r, r, c)
        return torch.roll(x, (s, s), (1, 2)) if s else x


class PatchMerging(nn.Module):
    """Each 2×2 neighbourhood's features concatenated (4C), LayerNorm, linear to 2C."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat((x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]), -1)
        return self.reduction(self.norm(x))


def swin(dim: int, depths: tuple[int, ...], heads: tuple[int, ...], window: int = 7, image: int = 224) -> nn.Module:
    layers = [nn.Conv2d(3, dim, 4, 4), Permute(0, 2, 3, 1), nn.LayerNorm(dim)]
    resolution = image // 4
    for i, (depth, h) in enumerate(zip(depths, heads)):
        layers += [SwinBlock(dim, h, resolution, window, window // 2 if j % 2 else 0) for j in range(depth)]
        if i < len(depths) - 1:
            layers.append(PatchMerging(dim))
            dim, resolution = 2 * dim, resolution // 2
    layers += [nn.LayerNorm(dim), Permute(0, 3, 1, 2), Classifier(dim)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# Inverted residuals: MobileViT's MV2, EfficientNet, ProxylessNAS, FBNet

class InvertedResidual(nn.Module):
    """1×1 expansion (left out at ratio 1 unless `always_expand`), k×k depthwise, optional squeeze-excitation
    (SiLU, as EfficientNet's), linear 1×1 projection; residual when the shape is kept (MobileNetV2 and the NAS
    nets built from it)."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, expand: int = 6,
                 act: Callable[[], nn.Module] = nn.ReLU6, se_squeeze: int = 0, bn: Optional[dict] = None,
                 always_expand: bool = False):
        super().__init__()
        bn = bn or {}
        mid = cin * expand
        layers = [conv_bn(cin, mid, act=act, **bn)] if expand != 1 or always_expand else []
        layers.append(conv_bn(mid, mid, kernel, stride, groups=mid, act=act, **bn))
        if se_squeeze:
            layers.append(SqueezeExcite(mid, se_squeeze, act=nn.SiLU))
        layers.append(conv_bn(mid, cout, act=None, **bn))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


# ---------------------------------------------------------------------------------------------------------
# MobileViT-XS and -S (Mehta & Rastegari 2022), ml-cvnets' definition, 256×256 input

class MobileViTBlock(nn.Module):
    """Local 3×3 conv and 1×1 projection to d; unfold into the 4 pixel positions of 2×2 patches (one sequence of
    patches each), transformer layers, fold back; 1×1 projection, concatenated with the input, 3×3 fusion conv."""

    def __init__(self, channels: int, dim: int, depth: int, resolution: int, heads: int = 4):
        super().__init__()
        self.dim, self.patches = dim, resolution // 2
        self.local = nn.Sequential(conv_bn(channels, channels, 3, act=nn.SiLU), nn.Conv2d(channels, dim, 1, bias=False))
        self.transformer = nn.Sequential(*(EncoderLayer(dim, heads, self.patches ** 2, 2 * dim, nn.SiLU, 1e-5)
                                           for _ in range(depth)), nn.LayerNorm(dim))
        self.project = conv_bn(dim, channels, act=nn.SiLU)
        self.fuse = conv_bn(2 * channels, channels, 3, act=nn.SiLU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, d = self.patches, self.dim
        y = self.local(x).reshape(-1, d, n, 2, n, 2).permute(0, 3, 5, 2, 4, 1).reshape(-1, n * n, d)
        y = self.transformer(y)
        y = y.reshape(-1, 2, 2, n, n, d).permute(0, 5, 3, 1, 4, 2).reshape(-1, d, 2 * n, 2 * n)
        return self.fuse(torch.cat((x, self.project(y)), 1))


def mobilevit(widths: tuple[int, ...], dims: tuple[int, int, int], last: int, image: int = 256) -> nn.Module:
    def mv2(cin: int, cout: int, stride: int) -> nn.Module:
        return InvertedResidual(cin, cout, 3, stride, 4, nn.SiLU)

    layers = [conv_bn(3, 16, 3, 2, act=nn.SiLU), mv2(16, widths[0], 1),
              mv2(widths[0], widths[1], 2), mv2(widths[1], widths[1], 1), mv2(widths[1], widths[1], 1)]
    resolution = image // 4
    for cin, cout, dim, depth in zip(widths[1:], widths[2:], dims, (2, 4, 3)):
        resolution //= 2
        layers += [mv2(cin, cout, 2), MobileViTBlock(cout, dim, depth, resolution)]
    layers += [conv_bn(widths[-1], last, act=nn.SiLU), Classifier(last)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# Attention with narrow keys and a learned position bias: LeViT (Graham et al. 2021), EfficientFormer (Li et al. 2022)

def attention_bias_index(queries: int, keys: int, stride: int) -> tuple[torch.Tensor, int]:
    """One learned bias per head for each distinct (|Δrow|, |Δcol|) between a query on a `queries`² grid (`stride`
    times coarser) and a key on a `keys`² grid: the (Q, K) index into the biases and the number of offsets."""
    offsets: dict[tuple[int, int], int] = {}
    index = [[offsets.setdefault((abs(qy * stride - ky), abs(qx * stride - kx)), len(offsets))
              for ky, kx in itertools.product(range(keys), repeat=2)]
             for qy, qx in itertools.product(range(queries), repeat=2)]
    return torch.tensor(index), len(offsets)


class BiasedAttention(nn.Module):
    """Queries and keys of key_dim and values of value_dim per head from one projection (or, when `stride`
    subsamples the queries, keys and values from one and queries from the subsampled grid), softmax(QKᵀ/√d +
    position bias) times V, then the optional activation and the output projection."""

    def __init__(self, dim: int, out_dim: int, key_dim: int, heads: int, value_dim: int, resolution: int,
                 linear: Callable[[int, int, int], nn.Module], act: Optional[Callable[[], nn.Module]] = None,
                 stride: int = 1):
        super().__init__()
        self.dim, self.key_dim, self.value_dim, self.heads, self.stride = dim, key_dim, value_dim, heads, stride
        self.resolution, self.q_resolution = resolution, (resolution - 1) // stride + 1
        self.scale = key_dim ** -0.5
        keys, queries = resolution ** 2, self.q_resolution ** 2
        if stride == 1:
            self.qkv = linear(dim, heads * (2 * key_dim + value_dim), keys)
        else:
            self.kv = linear(dim, heads * (key_dim + value_dim), keys)
            self.q = linear(dim, heads * key_dim, queries)
        self.proj = nn.Sequential(*([act()] if act else []), linear(heads * value_dim, out_dim, queries))
        index, offsets = attention_bias_index(self.q_resolution, resolution, stride)
        self.biases = nn.Parameter(torch.randn(heads, offsets) * 0.02)
        self.register_buffer("bias_index", index, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, kd, vd, r, s = self.heads, self.key_dim, self.value_dim, self.resolution, self.stride
        keys, queries = r * r, self.q_resolution ** 2
        if s == 1:
            q, k, v = self.qkv(x).reshape(-1, keys, h, 2 * kd + vd).permute(0, 2, 1, 3).split([kd, kd, vd], 3)
        else:
            k, v = self.kv(x).reshape(-1, keys, h, kd + vd).permute(0, 2, 1, 3).split([kd, vd], 3)
            grid = x.reshape(-1, r, r, self.dim)[:, ::s, ::s].reshape(-1, queries, self.dim)
            q = self.q(grid).reshape(-1, queries, h, kd).permute(0, 2, 1, 3)
        attn = (q @ k.transpose(-2, -1)) * self.scale + self.biases[:, self.bias_index]
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(-1, queries, h * vd)
        return self.proj(x)


class LinearNorm(nn.Module):
    """LeViT's Linear_BN: a Linear without bias, then BatchNorm over the features of every token."""

    def __init__(self, cin: int, cout: int, tokens: int):
        super().__init__()
        self.cout, self.tokens = cout, tokens
        self.linear = nn.Linear(cin, cout, bias=False)
        self.norm = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.linear(x).reshape(-1, self.cout)).reshape(-1, self.tokens, self.cout)


class Residual(nn.Sequential):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + super().forward(x)


def levit_mlp(dim: int, tokens: int) -> nn.Module:
    return Residual(LinearNorm(dim, 2 * dim, tokens), nn.Hardswish(), LinearNorm(2 * dim, dim, tokens))


class LeViT(nn.Module):
    """Four stride-2 3×3 conv stem, then three stages of attention (keys of key_dim, values ×2) and MLP (×2)
    blocks with BatchNorm and Hardswish, attention that subsamples the queries between stages; two heads averaged."""

    def __init__(self, dims: tuple[int, int, int], heads: tuple[int, int, int], depths: tuple[int, int, int],
                 key_dim: int, image: int = 224):
        super().__init__()
        act, d = nn.Hardswish, dims[0]
        self.stem = nn.Sequential(conv_bn(3, d // 8, 3, 2, act=act), conv_bn(d // 8, d // 4, 3, 2, act=act),
                                  conv_bn(d // 4, d // 2, 3, 2, act=act), conv_bn(d // 2, d, 3, 2, act=None))
        resolution = image // 16
        self.tokens = Tokens(d, resolution ** 2)
        blocks: list[nn.Module] = []
        for i, (dim, h, depth) in enumerate(zip(dims, heads, depths)):
            tokens = resolution ** 2
            for _ in range(depth):
                blocks += [Residual(BiasedAttention(dim, dim, key_dim, h, 2 * key_dim, resolution, LinearNorm, act)),
                           levit_mlp(dim, tokens)]
            if i < len(dims) - 1:
                blocks.append(BiasedAttention(dim, dims[i + 1], key_dim, dim // key_dim, 4 * key_dim, resolution,
                                              LinearNorm, act, stride=2))
                resolution = (resolution - 1) // 2 + 1
                blocks.append(levit_mlp(dims[i + 1], resolution ** 2))
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.BatchNorm1d(dims[-1]), nn.Linear(dims[-1], CLASSES))
        self.head_dist = nn.Sequential(nn.BatchNorm1d(dims[-1]), nn.Linear(dims[-1], CLASSES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.tokens(self.stem(x))).mean(1)
        return (self.head(x) + self.head_dist(x)) / 2


class PoolMixer(nn.Module):
    """EfficientFormer's conv-stage block: x + s₁·(AvgPool3×3(x) - x), then x + s₂·MLP(x), its MLP two 1×1
    convs with BatchNorm and GELU."""

    def __init__(self, dim: int):
        super().__init__()
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.mlp = nn.Sequential(nn.Conv2d(dim, 4 * dim, 1), nn.BatchNorm2d(4 * dim), nn.GELU(),
                                 nn.Conv2d(4 * dim, dim, 1), nn.BatchNorm2d(dim))
        self.scale1 = nn.Parameter(torch.full((dim, 1, 1), 1e-5))
        self.scale2 = nn.Parameter(torch.full((dim, 1, 1), 1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.scale1 * (self.pool(x) - x)
        return x + self.scale2 * self.mlp(x)


class AttentionMixer(nn.Module):
    """EfficientFormer's last-stage block on tokens: x + s₁·attention(LN(x)), then x + s₂·MLP(LN(x))."""

    def __init__(self, dim: int, resolution: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = BiasedAttention(dim, dim, 32, 8, 128, resolution, lambda cin, cout, _: nn.Linear(cin, cout))
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = mlp(dim, 4 * dim)
        self.scale1 = nn.Parameter(torch.full((dim,), 1e-5))
        self.scale2 = nn.Parameter(torch.full((dim,), 1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.scale1 * self.attn(self.norm1(x))
        return x + self.scale2 * self.mlp(self.norm2(x))


class EfficientFormer(nn.Module):
    """Two stride-2 conv stem, four stages of pooling blocks with conv downsampling between them, the last
    stage's final blocks attention on tokens; LayerNorm, mean over tokens, two heads averaged."""

    def __init__(self, widths: tuple[int, ...], depths: tuple[int, ...], attention_blocks: int, image: int = 224):
        super().__init__()
        layers = [conv_bn(3, widths[0] // 2, 3, 2), conv_bn(widths[0] // 2, widths[0], 3, 2)]
        for i, (width, depth) in enumerate(zip(widths, depths)):
            if i:
                layers.append(conv_bn(widths[i - 1], width, 3, 2, act=None))
            layers += [PoolMixer(width) for _ in range(depth - (attention_blocks if i == len(widths) - 1 else 0))]
        resolution = image // 32
        layers.append(Tokens(widths[-1], resolution ** 2))
        layers += [AttentionMixer(widths[-1], resolution) for _ in range(attention_blocks)]
        layers.append(nn.LayerNorm(widths[-1]))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], CLASSES)
        self.head_dist = nn.Linear(widths[-1], CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).mean(1)
        return (self.head(x) + self.head_dist(x)) / 2


# ---------------------------------------------------------------------------------------------------------
# Dense prediction on a ResNet-18 backbone: semantic FPN (Kirillov et al. 2019), DeepLabV3 (Chen et al. 2017)

class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, 3, stride, dilation=dilation),
                                  conv_bn(cout, cout, 3, act=None, dilation=dilation))
        self.downsample = conv_bn(cin, cout, 1, stride, act=None) if stride != 1 or cin != cout else None
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + (x if self.downsample is None else self.downsample(x)))


class ResNet18Features(nn.Module):
    """ResNet-18's stem and four stages, returning each stage's output (strides 4, 8, 16, 32); `dilate_last`
    keeps the last stage at stride 16 with dilation 2, as DeepLab does."""

    def __init__(self, dilate_last: bool = False):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        stages, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            dilation = 2 if dilate_last and cout == 512 else 1
            stride = 1 if dilation > 1 else stride
            stages.append(nn.Sequential(BasicBlock(cin, cout, stride, dilation), BasicBlock(cout, cout, 1, dilation)))
            cin = cout
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


def upsample(factor: int, mode: str = "bilinear") -> nn.Upsample:
    return nn.Upsample(scale_factor=factor, mode=mode, align_corners=False if mode == "bilinear" else None)


class SemanticFPN(nn.Module):
    """FPN (1×1 laterals, nearest 2× upsampling added top-down, 3×3 outputs), then per level 3×3 conv-GroupNorm-
    ReLU-bilinear 2× steps down to stride 4, summed, 1×1 to the classes, bilinear 4× back to the input size."""

    def __init__(self, fpn: int = 128, head: int = 128, classes: int = 21):
        super().__init__()
        self.backbone = ResNet18Features()
        self.lateral = nn.ModuleList(nn.Conv2d(c, fpn, 1) for c in (64, 128, 256, 512))
        self.output = nn.ModuleList(nn.Conv2d(fpn, fpn, 3, padding=1) for _ in range(4))
        scale_heads = []
        for level in range(4):
            steps: list[nn.Module] = []
            for j in range(max(level, 1)):
                steps += [nn.Conv2d(fpn if j == 0 else head, head, 3, padding=1, bias=False), nn.GroupNorm(32, head),
                          nn.ReLU()]
                if level:
                    steps.append(upsample(2))
            scale_heads.append(nn.Sequential(*steps))
        self.scale_heads = nn.ModuleList(scale_heads)
        self.classifier = nn.Sequential(nn.Conv2d(head, classes, 1), upsample(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = [lateral(c) for lateral, c in zip(self.lateral, self.backbone(x))]
        for i in (2, 1, 0):
            p[i] = p[i] + F.interpolate(p[i + 1], scale_factor=2, mode="nearest")
        y = self.scale_heads[0](self.output[0](p[0]))
        for head, output, level in zip(self.scale_heads[1:], self.output[1:], p[1:]):
            y = y + head(output(level))
        return self.classifier(y)


class ASPP(nn.Module):
    """Atrous spatial pyramid pooling: a 1×1 conv, dilated 3×3 convs, and image pooling (global average, 1×1 conv,
    spread back over the map), concatenated and projected by a 1×1 conv."""

    def __init__(self, cin: int, cout: int, rates: tuple[int, ...], size: int):
        super().__init__()
        self.size = size
        self.branches = nn.ModuleList([conv_bn(cin, cout)] + [conv_bn(cin, cout, 3, dilation=r) for r in rates])
        self.pooling = nn.Sequential(nn.AdaptiveAvgPool2d(1), conv_bn(cin, cout))
        self.project = conv_bn((len(rates) + 2) * cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A scale rather than a size, so the Resize needs no Shape of the input
        pooled = F.interpolate(self.pooling(x), scale_factor=self.size, mode="bilinear", align_corners=False)
        return self.project(torch.cat([branch(x) for branch in self.branches] + [pooled], 1))


class DeepLabV3(nn.Module):
    """Backbone at output stride 16, ASPP, 3×3 conv, 1×1 to the classes, bilinear 16× to the input size."""

    def __init__(self, image: int, width: int = 256, rates: tuple[int, ...] = (6, 12, 18), classes: int = 21):
        super().__init__()
        self.backbone = ResNet18Features(dilate_last=True)
        self.head = nn.Sequential(ASPP(512, width, rates, image // 16), conv_bn(width, width, 3),
                                  nn.Conv2d(width, classes, 1), upsample(16))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)[-1])


# ---------------------------------------------------------------------------------------------------------
# U-Net (Ronneberger et al. 2015) with padded convolutions and BatchNorm, as most reimplementations have it

class UNet(nn.Module):
    """Four max-pool steps down and four 2×2 transposed-conv steps up, each level two 3×3 conv-BN-ReLU, the
    skip connections concatenated."""

    def __init__(self, base: int, classes: int = 2):
        super().__init__()
        w = [base * 2 ** i for i in range(5)]

        def double_conv(cin: int, cout: int) -> nn.Module:
            return nn.Sequential(conv_bn(cin, cout, 3), conv_bn(cout, cout, 3))

        self.down = nn.ModuleList([double_conv(3, w[0])] + [double_conv(w[i], w[i + 1]) for i in range(4)])
        self.up = nn.ModuleList(nn.ConvTranspose2d(w[i + 1], w[i], 2, 2) for i in reversed(range(4)))
        self.merge = nn.ModuleList(double_conv(2 * w[i], w[i]) for i in reversed(range(4)))
        self.out = nn.Conv2d(w[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(F.max_pool2d(x, 2) if i else x)
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(self.up, self.merge):
            x = merge(torch.cat((skips.pop(), up(x)), 1))
        return self.out(x)


# ---------------------------------------------------------------------------------------------------------
# YOLOv5 v6+ (Ultralytics): CSP backbone with SPPF, PANet neck, anchor head decoded as its ONNX export is

YOLO_BN = {"eps": 1e-3, "momentum": 0.03}


def yolo_conv(cin: int, cout: int, kernel: int = 1, stride: int = 1) -> nn.Module:
    return conv_bn(cin, cout, kernel, stride, act=nn.SiLU, **YOLO_BN)


class CSPBlock(nn.Module):
    """YOLOv5's C3: two 1×1 branches, one through n bottlenecks (1×1 then 3×3, residual if `shortcut`),
    concatenated, then a 1×1 conv."""

    def __init__(self, cin: int, cout: int, n: int, shortcut: bool = True):
        super().__init__()
        mid = cout // 2
        self.cv1, self.cv2, self.cv3 = yolo_conv(cin, mid), yolo_conv(cin, mid), yolo_conv(2 * mid, cout)
        self.m = nn.Sequential(*((Residual if shortcut else nn.Sequential)(yolo_conv(mid, mid), yolo_conv(mid, mid, 3))
                                 for _ in range(n)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    """1×1 conv, three chained 5×5 max pools, all four maps concatenated, 1×1 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.cv1, self.cv2 = yolo_conv(cin, cin // 2), yolo_conv(cin * 2, cout)
        self.pool = nn.MaxPool2d(5, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.pool(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Detect(nn.Module):
    """Per level a 1×1 conv to 3 anchors × (5 + classes), sigmoid, centres and sizes decoded against the grid and
    the anchors, every level's boxes concatenated: (N, boxes, 5 + classes)."""

    ANCHORS = ((10, 13, 16, 30, 33, 23), (30, 61, 62, 45, 59, 119), (116, 90, 156, 198, 373, 326))

    def __init__(self, channels: tuple[int, int, int], image: int, classes: int = 80):
        super().__init__()
        self.outputs, self.sizes, self.strides = classes + 5, [], (8, 16, 32)
        self.convs = nn.ModuleList(nn.Conv2d(c, 3 * self.outputs, 1) for c in channels)
        for i, stride in enumerate(self.strides):
            n = image // stride
            self.sizes.append(n)
            y, x = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
            self.register_buffer(f"grid{i}", torch.stack((x, y), 2).expand(1, 3, n, n, 2).float() - 0.5,
                                 persistent=False)
            anchors = torch.tensor(self.ANCHORS[i], dtype=torch.float32).reshape(1, 3, 1, 1, 2)
            self.register_buffer(f"anchor_grid{i}", anchors.expand(1, 3, n, n, 2).contiguous(), persistent=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        boxes = []
        for i, (x, conv, n, stride) in enumerate(zip(features, self.convs, self.sizes, self.strides)):
            y = conv(x).reshape(-1, 3, self.outputs, n, n).permute(0, 1, 3, 4, 2).sigmoid()
            xy, wh, scores = y.split((2, 2, self.outputs - 4), 4)
            xy = (xy * 2 + getattr(self, f"grid{i}")) * stride
            wh = (wh * 2) ** 2 * getattr(self, f"anchor_grid{i}")
            boxes.append(torch.cat((xy, wh, scores), 4).reshape(-1, 3 * n * n, self.outputs))
        return torch.cat(boxes, 1)


class YOLOv5(nn.Module):
    def __init__(self, depth: float, width: float, image: int):
        super().__init__()

        def c(channels: int) -> int:
            return math.ceil(channels * width / 8) * 8

        def n(repeats: int) -> int:
            return max(round(repeats * depth), 1)

        self.stem = nn.Sequential(yolo_conv(3, c(64), 6, 2), yolo_conv(c(64), c(128), 3, 2),
                                  CSPBlock(c(128), c(128), n(3)), yolo_conv(c(128), c(256), 3, 2),
                                  CSPBlock(c(256), c(256), n(6)))     # P3, stride 8
        self.p4 = nn.Sequential(yolo_conv(c(256), c(512), 3, 2), CSPBlock(c(512), c(512), n(9)))
        self.p5 = nn.Sequential(yolo_conv(c(512), c(1024), 3, 2), CSPBlock(c(1024), c(1024), n(3)),
                                SPPF(c(1024), c(1024)), yolo_conv(c(1024), c(512)))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.top_down4 = nn.Sequential(CSPBlock(c(1024), c(512), n(3), False), yolo_conv(c(512), c(256)))
        self.top_down3 = CSPBlock(c(512), c(256), n(3), False)
        self.down3, self.bottom_up4 = yolo_conv(c(256), c(256), 3, 2), CSPBlock(c(512), c(512), n(3), False)
        self.down4, self.bottom_up5 = yolo_conv(c(512), c(512), 3, 2), CSPBlock(c(1024), c(1024), n(3), False)
        self.detect = Detect((c(256), c(512), c(1024)), image)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p3 = self.stem(x)
        p4 = self.p4(p3)
        p5 = self.p5(p4)
        t4 = self.top_down4(torch.cat((self.up(p5), p4), 1))
        out3 = self.top_down3(torch.cat((self.up(t4), p3), 1))
        out4 = self.bottom_up4(torch.cat((self.down3(out3), t4), 1))
        out5 = self.bottom_up5(torch.cat((self.down4(out4), p5), 1))
        return self.detect([out3, out4, out5])


# ---------------------------------------------------------------------------------------------------------
# Other input sizes: ResNet-26-D (He et al. 2019, timm's resnet26d), EfficientNet-B1/B2 (Tan & Le 2019)

def resnet_d(blocks: tuple[int, ...]) -> nn.Module:
    """Deep 3×3 stem (32, 32, 64), bottlenecks with the stride on the 3×3, average-pool then 1×1 shortcuts."""
    layers = [conv_bn(3, 32, 3, 2), conv_bn(32, 32, 3), conv_bn(32, 64, 3), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for planes, n, stride in zip((64, 128, 256, 512), blocks, (1, 2, 2, 2)):
        for i in range(n):
            block = Bottleneck(cin, planes, stride if i == 0 else 1, 1, 64)
            if i == 0 and stride > 1:
                block.downsample = nn.Sequential(nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False),
                                                 conv_bn(cin, planes * 4, act=None))
            layers.append(block)
            cin = planes * 4
    layers.append(Classifier(cin))
    return nn.Sequential(*layers)


def efficientnet(width: float, depth: float) -> nn.Module:
    # (expansion, kernel, stride, in, out, repeats) of B0, scaled in width and depth as torchvision does
    stages = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
              (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]
    bn = {"eps": 1e-3}

    def ch(channels: int) -> int:
        return make_divisible(channels * width, 8)

    layers = [conv_bn(3, ch(32), 3, 2, act=nn.SiLU, **bn)]
    for expand, kernel, stride, cin, cout, n in stages:
        for i in range(math.ceil(n * depth)):
            block_in = ch(cin) if i == 0 else ch(cout)
            layers.append(InvertedResidual(block_in, ch(cout), kernel, stride if i == 0 else 1, expand, nn.SiLU,
                                           se_squeeze=max(1, block_in // 4), bn=bn))
    last = 4 * ch(320)
    layers += [conv_bn(ch(320), last, act=nn.SiLU, **bn), Classifier(last)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# NAS-style mobile nets: ProxylessNAS-Mobile (Cai et al. 2019), FBNet-C (Wu et al. 2019), MobileNetV3-Small,
# GhostNet (Han et al. 2020)

def mobile_net(stem: int, blocks: list[tuple[int, int, int, int]], last: int, act: Callable[[], nn.Module],
               bn: Optional[dict] = None, always_expand: bool = False) -> nn.Module:
    """3×3 stride-2 stem, inverted residuals given as (out, kernel, stride, expansion), 1×1 conv to `last`,
    classifier."""
    bn = bn or {}
    layers, cin = [conv_bn(3, stem, 3, 2, act=act, **bn)], stem
    for cout, kernel, stride, expand in blocks:
        layers.append(InvertedResidual(cin, cout, kernel, stride, expand, act, bn=bn, always_expand=always_expand))
        cin = cout
    layers += [conv_bn(cin, last, act=act, **bn), Classifier(last)]
    return nn.Sequential(*layers)


def proxylessnas_mobile() -> nn.Module:
    # The searched blocks (pytorchcv's table of the released model), the zero (skipped) ones left out
    blocks = [(16, 3, 1, 1), (32, 5, 2, 3), (32, 3, 1, 3), (40, 7, 2, 3), (40, 3, 1, 3), (40, 5, 1, 3),
              (40, 5, 1, 3), (80, 7, 2, 6), (80, 5, 1, 3), (80, 5, 1, 3), (80, 5, 1, 3), (96, 5, 1, 6),
              (96, 5, 1, 3), (96, 5, 1, 3), (96, 5, 1, 3), (192, 7, 2, 6), (192, 7, 1, 6), (192, 7, 1, 3),
              (192, 7, 1, 3), (320, 7, 1, 6)]
    return mobile_net(32, blocks, 1280, nn.ReLU6, bn={"eps": 1e-3})


def fbnet_c() -> nn.Module:
    # timm's fbnetc_100 arch_def, expanded per block (its 1×1 expansion is kept at ratio 1)
    blocks = [(16, 3, 1, 1), (24, 3, 2, 6), (24, 3, 1, 1), (24, 3, 1, 1), (32, 5, 2, 6), (32, 5, 1, 3),
              (32, 5, 1, 6), (32, 3, 1, 6), (64, 5, 2, 6), (64, 5, 1, 3), (64, 5, 1, 6), (64, 5, 1, 6),
              (112, 5, 1, 6), (112, 5, 1, 6), (112, 5, 1, 6), (112, 5, 1, 3), (184, 5, 2, 6), (184, 5, 1, 6),
              (184, 5, 1, 6), (184, 5, 1, 6), (352, 3, 1, 6)]
    return mobile_net(16, blocks, 1984, nn.ReLU, always_expand=True)


def mobilenet_v3_small() -> nn.Module:
    re, hs = nn.ReLU, nn.Hardswish
    # (in, kernel, expanded, out, squeeze-excite, activation, stride): Table 2 of the paper
    setting = [(16, 3, 16, 16, True, re, 2), (16, 3, 72, 24, False, re, 2), (24, 3, 88, 24, False, re, 1),
               (24, 5, 96, 40, True, hs, 2), (40, 5, 240, 40, True, hs, 1), (40, 5, 240, 40, True, hs, 1),
               (40, 5, 120, 48, True, hs, 1), (48, 5, 144, 48, True, hs, 1), (48, 5, 288, 96, True, hs, 2),
               (96, 5, 576, 96, True, hs, 1), (96, 5, 576, 96, True, hs, 1)]
    return mobilenet_v3(setting, 576, 1024)


class GhostModule(nn.Module):
    """Half the output channels from a 1×1 conv, the other half from a cheap 3×3 depthwise conv on those."""

    def __init__(self, cin: int, cout: int, relu: bool):
        super().__init__()
        self.cout, half, act = cout, math.ceil(cout / 2), nn.ReLU if relu else None
        self.primary = conv_bn(cin, half, act=act)
        self.cheap = conv_bn(half, half, 3, groups=half, act=act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.primary(x)
        return torch.cat((y, self.cheap(y)), 1)[:, :self.cout]


class GhostBottleneck(nn.Module):
    """Ghost module, stride-2 depthwise conv when downsampling, optional squeeze-excitation, linear ghost module;
    shortcut by depthwise and 1×1 convs when the shape changes."""

    def __init__(self, cin: int, mid: int, cout: int, kernel: int, stride: int, se: bool):
        super().__init__()
        layers: list[nn.Module] = [GhostModule(cin, mid, relu=True)]
        if stride > 1:
            layers.append(conv_bn(mid, mid, kernel, stride, groups=mid, act=None))
        if se:
            layers.append(SqueezeExcite(mid, make_divisible(mid * 0.25, 4), gate=nn.Hardsigmoid))
        layers.append(GhostModule(mid, cout, relu=False))
        self.body = nn.Sequential(*layers)
        self.shortcut = None if cin == cout and stride == 1 else nn.Sequential(
            conv_bn(cin, cin, kernel, stride, groups=cin, act=None), conv_bn(cin, cout, act=None))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


def ghostnet() -> nn.Module:
    # (kernel, expanded, out, squeeze-excite, stride): the paper's Table 1 at width 1.0
    setting = [(3, 16, 16, 0, 1), (3, 48, 24, 0, 2), (3, 72, 24, 0, 1), (5, 72, 40, 1, 2), (5, 120, 40, 1, 1),
               (3, 240, 80, 0, 2), (3, 200, 80, 0, 1), (3, 184, 80, 0, 1), (3, 184, 80, 0, 1), (3, 480, 112, 1, 1),
               (3, 672, 112, 1, 1), (5, 672, 160, 1, 2), (5, 960, 160, 0, 1), (5, 960, 160, 1, 1),
               (5, 960, 160, 0, 1), (5, 960, 160, 1, 1)]
    layers, cin = [conv_bn(3, 16, 3, 2)], 16
    for kernel, mid, cout, se, stride in setting:
        layers.append(GhostBottleneck(cin, mid, cout, kernel, stride, bool(se)))
        cin = cout
    layers += [conv_bn(cin, 960), nn.AdaptiveAvgPool2d(1), nn.Conv2d(960, 1280, 1), nn.ReLU(), nn.Flatten(1),
               nn.Linear(1280, CLASSES)]
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# Re-parameterised plain nets, exported in deploy form: RepVGG (Ding et al. 2021), MobileOne (Vasu et al. 2023)

def fold_norm(weight: torch.Tensor, norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel and bias of a bias-free convolution followed by inference BatchNorm."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return weight * scale.reshape(-1, 1, 1, 1), norm.bias - norm.running_mean * scale


class RepConv(nn.Module):
    """A k×k convolution trained as a sum of branches: `branches` k×k conv-BN, a 1×1 conv-BN when k > 1 and
    `scale`, and BatchNorm on the identity when the shape is kept; then the activation. reparameterize() merges
    the branches into the one k×k convolution with bias that the deployed network runs."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, branches: int = 1,
                 scale: bool = True):
        super().__init__()
        self.cin, self.cout, self.kernel, self.stride, self.groups = cin, cout, kernel, stride, groups
        self.convs = nn.ModuleList(conv_bn(cin, cout, kernel, stride, groups, act=None) for _ in range(branches))
        self.scale = conv_bn(cin, cout, 1, stride, groups, act=None) if scale and kernel > 1 else None
        self.identity = nn.BatchNorm2d(cin) if cin == cout and stride == 1 else None
        self.fused: Optional[nn.Conv2d] = None
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            return self.act(self.fused(x))
        y = self.convs[0](x)
        for branch in [*self.convs[1:], self.scale, self.identity]:
            if branch is not None:
                y = y + branch(x)
        return self.act(y)

    @torch.no_grad()
    def reparameterize(self) -> None:
        k, pad = self.kernel, self.kernel // 2
        pairs = [fold_norm(conv.weight, norm) for conv, norm in self.convs]
        if self.scale is not None:
            weight, bias = fold_norm(self.scale[0].weight, self.scale[1])
            pairs.append((F.pad(weight, [pad] * 4), bias))
        if self.identity is not None:
            per_group = self.cin // self.groups
            identity = torch.zeros(self.cout, per_group, k, k)
            identity[torch.arange(self.cout), torch.arange(self.cout) % per_group, pad, pad] = 1
            pairs.append(fold_norm(identity, self.identity))
        self.fused = nn.Conv2d(self.cin, self.cout, k, self.stride, pad, groups=self.groups)
        self.fused.weight.copy_(sum(w for w, _ in pairs))
        self.fused.bias.copy_(sum(b for _, b in pairs))
        self.convs, self.scale, self.identity = nn.ModuleList(), None, None


def repvgg(multipliers: tuple[float, float], blocks: tuple[int, ...]) -> nn.Module:
    a, b = multipliers
    widths = [int(64 * a), int(128 * a), int(256 * a), int(512 * b)]
    cin = min(64, int(64 * a))
    layers: list[nn.Module] = [RepConv(3, cin, 3, 2)]
    for cout, n in zip(widths, blocks):
        for i in range(n):
            layers.append(RepConv(cin, cout, 3, 2 if i == 0 else 1))
            cin = cout
    layers.append(Classifier(cin))
    return nn.Sequential(*layers)


def mobileone_s0(branches: int = 4) -> nn.Module:
    """Each block a 3×3 depthwise then a 1×1 RepConv, four conv branches each; widths ×0.75, ×1, ×1, ×2."""
    widths, blocks = (48, 128, 256, 1024), (2, 8, 10, 1)
    cin = 48
    layers: list[nn.Module] = [RepConv(3, cin, 3, 2)]
    for cout, n in zip(widths, blocks):
        for i in range(n):
            stride = 2 if i == 0 else 1
            layers += [RepConv(cin, cin, 3, stride, groups=cin, branches=branches),
                       RepConv(cin, cout, 1, branches=branches)]
            cin = cout
    layers.append(Classifier(cin))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------
# Registry

def sized(image: int) -> tuple[int, int]:
    return (image, image)


HELDOUT: dict[str, Spec] = {
    # vision transformers
    "deit-tiny": Spec(partial(VisionTransformer, 192, 12, 3), "vision transformer", 5.72, 1.26,
                      "DeiT-Ti/16, Touvron et al. 2021 (timm)"),
    "deit-small": Spec(partial(VisionTransformer, 384, 12, 6), "vision transformer", 22.05, 4.61,
                       "DeiT-S/16, Touvron et al. 2021 (timm)"),
    "swin-t": Spec(partial(swin, 96, (2, 2, 6, 2), (3, 6, 12, 24)), "windowed attention", 28.29, 4.49,
                   "torchvision swin_t (Liu et al. 2021: 4.5 G)"),
    "swin-mini": Spec(partial(swin, 64, (2, 2, 6, 2), (2, 4, 8, 16)), "windowed attention", None, None,
                      "Swin-T at widths 64-512 (2/3): not published"),
    # hybrids of convolution and attention
    "mobilevit-xs": Spec(partial(mobilevit, (32, 48, 64, 80, 96), (96, 120, 144), 384), "conv-attention hybrid",
                         2.32, 1.1, "MobileViT-XS, Mehta & Rastegari 2022 (timm)", sized(256)),
    "mobilevit-s": Spec(partial(mobilevit, (32, 64, 96, 128, 160), (144, 192, 240), 640), "conv-attention hybrid",
                        5.58, 2.0, "MobileViT-S, Mehta & Rastegari 2022 (timm)", sized(256)),
    "efficientformer-l1": Spec(partial(EfficientFormer, (48, 96, 224, 448), (3, 2, 6, 4), 1),
                               "conv-attention hybrid", 12.3, 1.3, "EfficientFormer-L1, Li et al. 2022"),
    "levit-192": Spec(partial(LeViT, (192, 288, 384), (3, 5, 6), (4, 4, 4), 32), "conv-attention hybrid",
                      11.0, 0.658, "LeViT-192, Graham et al. 2021"),
    # dense prediction
    "fpn-seg-r18": Spec(SemanticFPN, "dense prediction", None, None,
                        "Panoptic FPN semantic head, FPN 128 (paper 256)", sized(256)),
    "deeplabv3-r18": Spec(partial(DeepLabV3, 224), "dense prediction", None, None,
                          "DeepLabV3 ASPP 256, rates 6/12/18, stride 16"),
    "unet-16": Spec(partial(UNet, 16), "dense prediction", None, None,
                    "U-Net at 1/4 of its widths (16-256), BatchNorm", sized(256)),
    "yolov5s-320": Spec(partial(YOLOv5, 0.33, 0.50, 320), "dense prediction", 7.23, 2.06,
                        "YOLOv5s v6, 8.25 G at 640 scaled by area", sized(320)),
    "yolov5s-416": Spec(partial(YOLOv5, 0.33, 0.50, 416), "dense prediction", 7.23, 3.49,
                        "YOLOv5s v6, 8.25 G at 640 scaled by area", sized(416)),
    # other input sizes
    "resnet26d-160": Spec(partial(resnet_d, (2, 2, 2, 2)), "other input size", 16.01, 1.33,
                          "timm resnet26d, 2.6 G at 224 scaled by area", sized(160)),
    "resnet26d-288": Spec(partial(resnet_d, (2, 2, 2, 2)), "other input size", 16.01, 4.30,
                          "timm resnet26d, 2.6 G at 224 scaled by area", sized(288)),
    "efficientnet-b1": Spec(partial(efficientnet, 1.0, 1.1), "other input size", 7.79, 0.70,
                            "Tan & Le 2019; torchvision efficientnet_b1", sized(240)),
    "efficientnet-b2": Spec(partial(efficientnet, 1.1, 1.2), "other input size", 9.11, 1.0,
                            "Tan & Le 2019; torchvision efficientnet_b2", sized(260)),
    # NAS-style mobile nets
    "proxylessnas-mobile": Spec(proxylessnas_mobile, "NAS mobile", 4.08, 0.32, "Cai et al. 2019"),
    "fbnet-c": Spec(fbnet_c, "NAS mobile", 5.5, 0.375, "Wu et al. 2019; timm fbnetc_100"),
    "mobilenet-v3-small": Spec(mobilenet_v3_small, "NAS mobile", 2.54, 0.056, "Howard et al. 2019; torchvision"),
    "ghostnet-1.0": Spec(ghostnet, "NAS mobile", 5.2, 0.141, "Han et al. 2020"),
    # re-parameterised plain nets, deploy form
    "repvgg-a0": Spec(partial(repvgg, (0.75, 2.5), (2, 4, 14, 1)), "re-parameterised", 8.30, 1.36,
                      "deploy form; Ding et al. 2021 (1.4 G)"),
    "repvgg-b0": Spec(partial(repvgg, (1.0, 2.5), (4, 6, 16, 1)), "re-parameterised", 14.33, 3.06,
                      "deploy form; Ding et al. 2021 (3.1 G)"),
    "mobileone-s0": Spec(mobileone_s0, "re-parameterised", 2.1, 0.275, "deploy form; Vasu et al. 2023"),
}
