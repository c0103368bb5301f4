"""Hostile model files through `onnxprof analyze`: a one-line refusal (exit 2) or an analysis, never a
traceback, a hang or a memory blow-up; what was repaired or bounded is said in the report."""

from __future__ import annotations

import json
import os
import random

import onnx
import pytest
from onnx import TensorProto

from tests.robustness import hostile_models as hostile
from tests.robustness.outcomes import ANALYSED, REFUSED, analyse_in_child, analyse_in_process

SEED = 20261207


def _cases(generator, *args):
    folder = _cases.root / generator.__name__
    folder.mkdir(parents=True, exist_ok=True)
    return list(generator(folder, random.Random(SEED), *args))


@pytest.fixture(scope="module", autouse=True)
def _case_folder(tmp_path_factory):
    _cases.root = tmp_path_factory.mktemp("hostile")


def _check(case: hostile.Case, outcome) -> None:
    allowed = {hostile.REFUSE: {REFUSED}, hostile.ANALYSE: {ANALYSED}, hostile.EITHER: {REFUSED, ANALYSED}}
    assert outcome.kind in allowed[case.expect], f"{case.kind} / {case.name}: {outcome.kind} {outcome.detail}\n" \
                                                 f"{outcome.stderr[-2000:]}"
    if outcome.kind == ANALYSED and case.warns:
        assert json.loads(outcome.stdout)["warnings"], f"{case.name}: analysed without a warning"


@pytest.mark.parametrize("generator", hostile.FIXED_CLASSES, ids=lambda g: g.__name__)
def test_every_hostile_file_of_a_class_is_refused_in_one_line_or_analysed(generator):
    for case in _cases(generator):
        _check(case, analyse_in_process(case.path, args=case.args))


def test_non_utf8_names_are_shown_with_replacement_characters_in_the_table_too():
    (case,) = [c for c in _cases(hostile.not_utf8) if c.name == "node"]
    outcome = analyse_in_process(case.path, fmt="table")
    assert outcome.kind == ANALYSED and "\ufffd" in outcome.stdout and "not UTF-8" in outcome.stdout


def test_randomly_damaged_models_never_end_in_a_traceback():
    for case in _cases(hostile.damaged_bytes, 150):
        _check(case, analyse_in_process(case.path, args=case.args))


def test_models_with_one_field_set_to_an_extreme_or_foreign_value_never_end_in_a_traceback():
    for case in _cases(hostile.edited_fields, 200):
        _check(case, analyse_in_process(case.path, args=case.args))


def test_a_shape_input_of_two_billion_entries_is_refused_within_the_native_memory_cap(tmp_path):
    """ONNX's shape inference of Expand-8 would build an output of 2^31 dims (24 GB and counting)."""
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Expand", ["X", "shape"], ["Y"])], "g",
        [onnx.helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 1]),
         onnx.helper.make_tensor_value_info("shape", TensorProto.INT64, [1 << 31])],
        [onnx.helper.make_tensor_value_info("Y", TensorProto.FLOAT, [3, 3, 3])])
    path = tmp_path / "expand.onnx"
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 9)])
    model.ir_version = 4
    onnx.save(model, path)
    outcome = analyse_in_child(path, args=("--no-check",))
    assert outcome.kind == REFUSED and "shape inference needs more than" in outcome.stderr


def test_shape_arithmetic_that_would_explode_stays_bounded():
    """Each case runs as its own process capped at 3 GB of address space: finished, not killed."""
    for case in _cases(hostile.explosions):
        outcome = analyse_in_child(case.path, args=case.args)
        _check(case, outcome)
        if case.name == "Add of a 2^26 vector":     # its shapes need no propagation: counted exactly
            assert json.loads(outcome.stdout)["totals"]["flops"] == 1 << 26


def test_a_dim_formula_too_large_to_compute_is_an_unknown_dim_not_a_number():
    (case,) = [c for c in _cases(hostile.deep_structure) if c.name == "dim_param: exponent"]
    report = json.loads(analyse_in_process(case.path).stdout)
    assert report["inputs"][0]["shape"][0] is None


def test_a_symlinked_model_reads_its_external_data_beside_the_link_as_onnx_runtime_does(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = hostile.small_cnn()
    tensor = model.graph.initializer[0]
    data = tensor.raw_data
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in {"location": "w.bin", "length": str(len(data))}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    (tmp_path / "real").mkdir()
    (tmp_path / "link").mkdir()
    (tmp_path / "real" / "model.onnx").write_bytes(model.SerializeToString())
    (tmp_path / "real" / "w.bin").write_bytes(data)
    link = tmp_path / "link" / "model.onnx"
    os.symlink(tmp_path / "real" / "model.onnx", link)
    refused = analyse_in_process(link)
    with pytest.raises(Exception):      # ONNX Runtime does not find it beside its target either
        ort.InferenceSession(str(link), providers=["CPUExecutionProvider"])
    (tmp_path / "link" / "w.bin").write_bytes(data)
    ort.InferenceSession(str(link), providers=["CPUExecutionProvider"])
    assert refused.kind == REFUSED and "w.bin" in refused.stderr
    assert analyse_in_process(link).kind == ANALYSED


def test_a_payload_left_unread_is_still_checked_against_its_dims(tmp_path):
    """The parser skips payloads over 4 KB; a file whose weight lost its last byte is refused by name."""
    model = hostile.small_cnn()
    weight = model.graph.initializer[0]
    assert len(weight.raw_data) > 4096
    weight.raw_data = weight.raw_data[:-1]
    path = tmp_path / "short.onnx"
    onnx.save(model, path)
    outcome = analyse_in_process(path)
    assert outcome.kind == REFUSED and "'conv.w'" in outcome.stderr and "18431 bytes" in outcome.stderr
