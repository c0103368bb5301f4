"""The zoo: every network against its published counts, runnable in ONNX Runtime, facts complete."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.cost.analysis import analyze, analyze_model
from onnxprof.zoo import build_model, network_names
from onnxprof.zoo.builder import ShapeOnlyWeights
from onnxprof.zoo.counts import pytorch_style_counts
from onnxprof.zoo.manifest import manifest

NAMES = network_names()
FACTS = manifest()


def test_manifest_and_registry_name_the_same_networks():
    assert sorted(NAMES) == sorted(FACTS)
    paper = {"alexnet", "bn-alexnet", "bn-nin", "enet", "googlenet", "vgg16", "vgg19", "resnet18", "resnet34",
             "resnet50", "resnet101", "resnet152", "inception-v3", "inception-v4"}
    modern = {"mobilenet-v2", "squeezenet1.1", "efficientnet-b0", "vit-b16", "bert-base", "gpt2-small"}
    assert paper | modern <= set(NAMES)


@pytest.mark.parametrize("name", sorted(FACTS))
def test_every_fact_has_a_source(name):
    facts = FACTS[name]
    for value, source in ((facts.top1, facts.top1_source), (facts.params, facts.params_source),
                          (facts.gmacs, facts.gmacs_source)):
        assert source.strip(), f"{name}: a fact without a source"
        if value is None:
            assert source.startswith("none"), f"{name}: a missing value must say why ('none ...')"
    assert 2010 <= facts.year <= 2026 and facts.family and facts.title


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


@pytest.mark.parametrize("name", [n for n in sorted(FACTS) if FACTS[n].params or FACTS[n].gmacs])
def test_counts_match_the_published_reference(name):
    facts = FACTS[name]
    params, macs = pytorch_style_counts(name)
    if facts.params:
        if facts.params_exact:
            assert params == facts.params
        else:
            assert abs(params - facts.params) / facts.params < 0.01
    if facts.gmacs:
        published = facts.gmacs
        # Published with 2–3 decimals: equal at that precision, and never more than 1 % apart.
        assert abs(macs / 1e9 - published) / published < 0.01
        if _decimals(published) == 3:
            assert round(macs / 1e9, 3) == published


@pytest.mark.parametrize("name", [n for n in sorted(FACTS) if FACTS[n].params_exact and FACTS[n].family != "BERT"
                                  and FACTS[n].family != "GPT"])
def test_folding_batchnorm_keeps_macs_and_turns_each_bn_into_a_bias(name):
    kept = analyze_model(build_model(name, weights=ShapeOnlyWeights()), check=False)
    folded = analyze_model(build_model(name, weights=ShapeOnlyWeights(), fold_bn=True), check=False)
    tensors = kept.graph.graph["tensors"]
    bn = [d for _, d in kept.graph.nodes(data=True) if d["op_type"] == "BatchNormalization"]
    channels = sum(tensors[d["inputs"][1]].elements for d in bn)
    assert folded.totals.macs == kept.totals.macs
    assert not any(n.op_type == "BatchNormalization" for n in folded.nodes) or name.startswith("bn-")
    # gamma, beta, mean and variance (4 per channel) become one bias per channel
    assert folded.parameters.elements == kept.parameters.elements - 3 * channels


def test_resnet50_folded_is_the_pytorch_export_count():
    report = analyze_model(build_model("resnet50", weights=ShapeOnlyWeights(), fold_bn=True), check=False)
    assert report.parameters.elements == 25_530_472   # counts.md: a PyTorch eval-mode export


@pytest.mark.parametrize("name", NAMES)
def test_every_network_runs_in_onnx_runtime(name, tmp_path):
    import onnxruntime as ort

    model = build_model(name)
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {}
    for i in session.get_inputs():
        shape = [1 if isinstance(d, str) or d is None else d for d in i.shape]
        if len(shape) == 2 and "int" in i.type:
            shape = [1, 8]
            feeds[i.name] = rng.integers(0, 2, shape).astype(np.int64)
        else:
            feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
    outputs = session.run(None, feeds)
    assert outputs[0].shape[0] == 1 and np.isfinite(outputs[0]).all()
    expected = model.graph.output[0].type.tensor_type.shape.dim
    assert len(outputs[0].shape) == len(expected)
    del session, model


def test_zoo_scheme_analyses_without_building_weights():
    report = analyze("zoo:vgg19")
    assert report.model.source == "zoo:vgg19" and report.complete


def test_zoo_list_json_has_the_facts_and_density():
    doc = json.loads(CliRunner().invoke(app, ["zoo", "list", "--format", "json"]).output)
    by_name = {n["name"]: n for n in doc["networks"]}
    assert set(by_name) == set(NAMES)
    resnet = by_name["resnet50"]
    assert resnet["top1"] == 75.76 and math.isclose(resnet["top1_per_mparams"], 75.76 / 25.557032)


def test_zoo_export_writes_then_reuses_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ONNXPROF_CACHE", str(tmp_path))
    runner = CliRunner()
    first = runner.invoke(app, ["zoo", "export", "squeezenet1.1", "--batch", "2", "--fold-bn"])
    assert first.exit_code == 0, first.output
    path = tmp_path / "squeezenet1.1-b2-foldbn.onnx"
    assert "written" in first.stderr and path.is_file()
    assert analyze(path).inputs[0].shape == (2, 3, 224, 224)
    second = runner.invoke(app, ["zoo", "export", "squeezenet1.1", "--batch", "2", "--fold-bn"])
    assert "cached" in second.stderr


def test_large_networks_stream_weights_to_external_data(tmp_path):
    from onnxprof.zoo.export import export

    result = export("alexnet", tmp_path / "alexnet.onnx")
    assert result.external_data and (tmp_path / "alexnet.onnx.data").stat().st_size == result.weight_bytes
    assert (tmp_path / "alexnet.onnx").stat().st_size < 1_000_000
    report = analyze(result.path)
    assert report.model.external_bytes == result.weight_bytes and report.parameters.elements == 61_100_840


@pytest.mark.parametrize("args, message", [
    (["zoo", "export"], "name the networks to export, or pass --all"),
    (["zoo", "export", "resnet18", "resnet34", "-o", "x.onnx"], "--output takes one network"),
    (["zoo", "export", "resnet51"], "no such network"),
])
def test_zoo_export_usage_errors(args, message):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and message in result.stderr


def test_installed_zoo_works_from_any_folder(tmp_path):
    script = Path(sys.executable).with_name("onnxprof")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "onnxprof"]
    done = subprocess.run(command + ["zoo", "list", "--format", "json"], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["networks"]) == len(NAMES)


def test_analyze_of_a_zoo_network_shows_its_accuracy_and_density():
    result = CliRunner().invoke(app, ["analyze", "zoo:resnet50", "--format", "json"])
    reference = json.loads(result.output)["reference"]
    assert reference["top1"] == 75.76 and reference["params"] == 25_557_032
    assert math.isclose(reference["top1_per_mparams"], 75.76 / 25.557032)
    table = CliRunner().invoke(app, ["analyze", "zoo:resnet50"], env={"COLUMNS": "160"}).output
    assert "ImageNet top-1" in table and "75.76 %" in table
