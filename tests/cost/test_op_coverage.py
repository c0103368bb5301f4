"""Coverage: every ONNX schema has an entry, the op table is current, and graphs nobody here wrote —
the onnx package's bundled models and its per-operator test cases — analyse without a hole."""

from __future__ import annotations

import glob
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.cost.analysis import analyze, analyze_model
from onnxprof.cost.registry import all_entries, lookup
from onnxprof.report.ops_table import ops_markdown

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
BUNDLED = sorted(glob.glob(str(DATA / "*" / "**" / "*.onnx"), recursive=True))


@pytest.mark.parametrize("domain", ["", "ai.onnx.ml"])
def test_every_schema_of_the_installed_onnx_has_an_entry(domain):
    names = {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == domain}
    missing = sorted(n for n in names if lookup(domain or "ai.onnx", n) is None)
    assert len(names) > 15 and missing == []


def test_docs_op_table_is_current():
    path = Path(__file__).resolve().parents[2] / "docs" / "ops.md"
    assert path.read_text() == ops_markdown(), "run: python scripts/gen_ops_doc.py"


def test_ops_command_lists_the_registry():
    result = CliRunner().invoke(app, ["ops", "--format", "csv", "--domain", "com.microsoft"])
    rows = result.output.strip().splitlines()
    assert rows[0] == "domain,op,MACs,FLOPs,bytes,exact"
    assert len(rows) - 1 == sum(1 for e in all_entries() if e.domain == "com.microsoft") >= 29
    assert any(r.startswith("com.microsoft,MatMulNBits,") for r in rows)


def test_the_bundled_models_are_there():
    assert {Path(p).relative_to(DATA).parts[0] for p in BUNDLED} >= {"light", "pytorch-converted", "pytorch-operator", "simple"}


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: os.path.relpath(p, DATA))
def test_bundled_model_is_counted_completely(path):
    report = analyze(path)
    assert report.uncounted_ops == () and report.unknown_shape_nodes == () and report.invalid_nodes == ()


def _hand_macs(path: str) -> int:
    """MACs from the layer shapes, worked out with onnx's own shape inference, not onnxprof's."""
    model = onnx.shape_inference.infer_shapes(onnx.load(path), data_prop=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in (*model.graph.input, *model.graph.value_info, *model.graph.output)}
    total = 0
    for node in model.graph.node:
        if node.op_type == "Conv":
            out, w = shapes[node.output[0]], shapes[node.input[1]]
            total += int(np.prod(out)) * int(np.prod(w[1:]))         # each output: C/group × kernel
        elif node.op_type == "Gemm":
            a = shapes[node.input[0]]
            total += int(np.prod(shapes[node.output[0]])) * a[1]
    return total


@pytest.mark.parametrize("name, published_gmacs", [
    ("light_resnet50", 4.089), ("light_vgg19", 19.632), ("light_bvlc_alexnet", None), ("light_inception_v1", None),
    ("light_densenet121", None), ("light_squeezenet", None), ("light_zfnet512", None), ("light_shufflenet", None),
    ("light_inception_v2", None),
])
def test_light_cnn_macs_agree_with_the_layer_shapes(name, published_gmacs):
    path = str(DATA / "light" / f"{name}.onnx")
    report = analyze(path)
    assert report.totals.macs == _hand_macs(path)
    if published_gmacs:
        assert round(report.totals.macs / 1e9, 3) == published_gmacs   # torchvision's published count


def test_light_models_build_weights_at_run_time_and_they_still_count():
    # Their weights are ConstantOfShape outputs; AlexNet and VGG-19 have well-known parameter counts.
    assert analyze(str(DATA / "light" / "light_bvlc_alexnet.onnx")).parameters.elements == 60_965_224
    assert analyze(str(DATA / "light" / "light_vgg19.onnx")).parameters.elements == 143_667_240


def test_every_operator_test_case_of_onnx_analyses():
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    assert len(cases) > 1000
    uncounted, invalid = set(), []
    for case in cases:
        report = analyze_model(case.model, check=False, name=case.name)   # raises on any formula bug
        uncounted |= {(u.domain, u.op_type) for u in report.uncounted_ops}
        invalid += [(case.name, i.name, i.reason) for i in report.invalid_nodes]
    assert {domain for domain, _ in uncounted} <= {"ai.onnx.preview"}
    assert invalid == []   # onnx's own cases are valid models: no check may reject one
