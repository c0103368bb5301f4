"""onnxprof's own counts of a zoo network, in the convention the published figures use."""

from __future__ import annotations

from onnxprof.symbolic import Quantity


def pytorch_style_counts(name: str, fold_bn: bool = False) -> tuple[int, Quantity]:
    """(parameters without BatchNorm running statistics, MACs at batch 1) — PyTorch's convention:
    running mean and variance are buffers there, not parameters."""
    from onnxprof.cost.analysis import analyze_model
    from onnxprof.zoo import build_model
    from onnxprof.zoo.builder import ShapeOnlyWeights

    model = build_model(name, weights=ShapeOnlyWeights(), fold_bn=fold_bn)
    report = analyze_model(model, check=False, name=f"zoo:{name}")
    tensors = report.graph.graph["tensors"]
    running = sum(tensors[data["inputs"][i]].elements for _, data in report.graph.nodes(data=True)
                  if data["op_type"] == "BatchNormalization" for i in (3, 4))
    macs = report.totals.macs
    macs = macs.substitute({"N": 1}) if hasattr(macs, "substitute") else macs
    return report.parameters.elements - running, macs
