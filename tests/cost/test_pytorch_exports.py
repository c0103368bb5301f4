"""Graphs exported by PyTorch itself (skipped where torch is not installed: it is not a test extra).

torchvision does not install here, so ResNet-50 is written out with torchvision's layer shapes.
"""

from __future__ import annotations

import pytest

from onnxprof.cost.analysis import analyze
from onnxprof.symbolic import Poly

torch = pytest.importorskip("torch")
nn = torch.nn


class Bottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * 4
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet50(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64)
        self.relu, self.maxpool = nn.ReLU(), nn.MaxPool2d(3, 2, 1)
        stages, cin = [], 64
        for stage, (blocks, width) in enumerate(zip([3, 4, 6, 3], [64, 128, 256, 512])):
            layers = []
            for i in range(blocks):
                layers.append(Bottleneck(cin, width, 2 if stage and i == 0 else 1))
                cin = width * 4
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.avgpool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(2048, 1000)

    def forward(self, x):
        x = self.layers(self.maxpool(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _trained_looking(model: nn.Module) -> nn.Module:
    # Distinct BatchNorm statistics, so the biases folded into the convs are distinct tensors too
    # (the exporter shares identical initializers, which would then count once).
    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            for t in (module.weight.data, module.bias.data, module.running_mean):
                t.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    return model.eval()


@pytest.fixture(scope="module")
def resnet50_export(tmp_path_factory):
    path = tmp_path_factory.mktemp("torch") / "resnet50.onnx"
    torch.onnx.export(_trained_looking(ResNet50()), (torch.randn(1, 3, 224, 224),), str(path), opset_version=17,
                      dynamo=False, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch_size"}, "logits": {0: "batch_size"}})
    return path


def test_resnet50_export_matches_torchvision_macs(resnet50_export):
    report = analyze(resnet50_export)
    assert report.complete
    assert report.totals.macs == 4_089_184_256 * Poly.symbol("batch_size")
    # BatchNorm folded into the convs: torchvision's 25,557,032 less gamma and beta (2 per channel)
    # plus one bias per channel = 25,557,032 - 26,560.
    assert report.parameters.elements == 25_530_472


def test_resnet50_export_with_bound_batch(resnet50_export):
    from onnxprof.model.shapes import ShapeBinding

    report = analyze(resnet50_export, ShapeBinding(batch=16))
    assert report.totals.macs == 16 * 4_089_184_256
    assert report.symbols == ()


def test_transformer_encoder_export_has_the_quadratic_term(tmp_path):
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(1000, 64)
            self.layer = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True, dropout=0.0)

        def forward(self, ids):
            return self.layer(self.embed(ids))

    path = tmp_path / "encoder.onnx"
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    torch.onnx.export(Encoder().eval(), (torch.randint(0, 1000, (2, 16)),), str(path), opset_version=18, dynamo=True,
                      dynamic_shapes={"ids": {0: batch, 1: seq}})
    report = analyze(path)
    b, s = Poly.symbol("batch"), Poly.symbol("seq")
    assert report.complete
    # q·kᵀ and attn·v: 2 × heads 4 × head_dim 16 per (query, key) pair; projections: 64×192 (qkv),
    # 64×64 (out), 64×128 and 128×64 (feed-forward) per token.
    assert report.totals.macs == 2 * 64 * b * s * s + (64 * 192 + 64 * 64 + 2 * 64 * 128) * b * s


class TinyViT(nn.Module):
    """ViT with 16×16 patches at 224×224 (196 patches + a class token), width 64, 4 heads, 2 layers."""

    def __init__(self, width: int = 64, layers: int = 2):
        super().__init__()
        self.patch = nn.Conv2d(3, width, 16, 16)
        self.cls = nn.Parameter(torch.randn(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, 197, width))
        layer = nn.TransformerEncoderLayer(width, 4, 128, batch_first=True, dropout=0.0, activation="gelu",
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.head = nn.Linear(width, 1000)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.encoder(x)[:, 0])


# patch conv 196 × 64 × 768; per layer: qkv 197·64·192, scores and weighted sum 4 heads × 197² × 32,
# output projection 197·64·64, feed-forward 2 × 197·64·128; head 64 × 1000.
VIT_MACS = 196 * 64 * 768 + 2 * (197 * 64 * 192 + 4 * 197 * 197 * 32 + 197 * 64 * 64 + 2 * 197 * 64 * 128) + 64_000


@pytest.mark.parametrize("dynamo", [True, False])
def test_vit_export_counts_match_the_architecture(tmp_path, dynamo):
    path = tmp_path / "vit.onnx"
    model, image = TinyViT().eval(), torch.randn(2, 3, 224, 224)
    if dynamo:
        torch.onnx.export(model, (image,), str(path), opset_version=18, dynamo=True,
                          dynamic_shapes={"x": {0: torch.export.Dim("batch")}})
    else:
        torch.onnx.export(model, (image,), str(path), opset_version=17, dynamo=False, input_names=["x"],
                          dynamic_axes={"x": {0: "batch"}})
    report = analyze(path)
    assert report.complete
    assert report.totals.macs == VIT_MACS * Poly.symbol("batch")
