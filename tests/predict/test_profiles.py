"""Profile files, predictions from a profile, power samples and the stored-run comparison."""

from __future__ import annotations

import json
import math
from typing import Optional

import pytest
import onnx
from onnx import helper
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.errors import UsageError
from onnxprof.predict.accuracy import compare_run, summarise
from onnxprof.predict.kernel_work import KernelClass
from onnxprof.predict.kernels import KernelModel, NetworkFit
from onnxprof.predict.terms import OTHER_TERMS, PRODUCT_TERMS
from onnxprof.predict.latency import LinearFit, OperationsModel, RooflineModel
from onnxprof.predict.memory import MemoryModel
from onnxprof.predict.power import PowerModel, samples_from_runs
from onnxprof.predict.profile import CalibratedProfile, load_profile, save_profile
from onnxprof.store.db import Store
from tests import synthetic_runs as synth
from tests.builders import analyze, make_model, weight

COMPUTE, BANDWIDTH = 1e11, 1e10
ROOF = RooflineModel(COMPUTE, BANDWIDTH, {"Conv": 0.5, "Conv(grouped)": 0.05, "MatMul": 0.8}, 0.0, 0.25, 0.9, 40)


def _product(*values: float) -> dict[str, float]:
    return {term.name: value for term, value in zip(PRODUCT_TERMS, values, strict=True)}


def _other(*values: float) -> dict[str, float]:
    return {term.name: value for term, value in zip(OTHER_TERMS, values, strict=True)}


OPERATIONS = OperationsModel(LinearFit(2e-9, 1.5, 0.99, 10), {8: LinearFit(1.9e-9, 3.0, 0.98, 5)}, 0.99, 10)


def _profile(operations: OperationsModel = OPERATIONS, kernels: Optional[KernelModel] = None,
             **extra) -> CalibratedProfile:
    predictors = {"operations": operations, "roofline": ROOF, **({"kernels": kernels} if kernels else {})}
    fields = dict(name="lab", engine="onnxruntime", provider="cpu", predictors=predictors, best="operations",
                  rmspe={"operations": 0.2, "kernels": 0.07}, share_within_10pct={"operations": 0.5, "kernels": 0.8},
                  models=("a", "b", "c"), batches=(1, 8))
    return CalibratedProfile(**{**fields, **extra})


def test_profile_file_round_trip_keeps_every_predictor(tmp_path):
    kernels = KernelModel({KernelClass("Conv"): _product(1e-9, 0.0, 2e-9, 0.0, 1e-10, 0.01),
                           KernelClass("Conv", group_width=1, blocked=False, fused=True): _product(*(2e-9,) * 6),
                           KernelClass("other"): _other(0.0, 1e-9, 0.002)},
                          {"spilled_bytes": 3e-10, "in_network_kernel": 0.004, "in_network_weight_bytes": 1.4e-8},
                          frozenset({("Conv", "Relu")}), {1: NetworkFit(0.005, 1.1), 8: NetworkFit(-0.01, 0.9)},
                          NetworkFit(0.0, 1.0), 0.97, 300, spill_from_bytes=16e6)
    full = _profile(kernels=kernels, best="kernels", memory=MemoryModel(2e8, 1.3, 1.1, 0.9, 12, ("weights",)),
                    memory_rmspe=0.05, power=PowerModel(1.3, 11.8, 0.7, 1.0, 14), hostname="box",
                    created_at="2026-11-25T00:00:00+00:00")
    for profile in (full, _profile()):
        path = tmp_path / "p.json"
        save_profile(profile, path)
        assert load_profile(path) == profile
    document = json.loads(path.read_text())
    assert document["schema_version"] == 6 and set(document["profile"]["predictors"]) == {"operations", "roofline"}


def test_a_profile_of_another_schema_is_one_line_naming_it(tmp_path):
    """Written by an older onnxprof (or a newer one): a clear refusal, not a wrong prediction."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")]
    model = tmp_path / "fc.onnx"
    onnx.save(make_model(nodes, [("x", [1, 16])], [("y", [1, 16])], [weight("w", (16, 16))]), model)
    path = tmp_path / "old.json"
    save_profile(_profile(), path)
    document = json.loads(path.read_text())
    db = tmp_path / "r.sqlite"
    with Store(str(db)):
        pass
    for version, line in ((5, f"--device {path}: written by an older onnxprof (schema 5); run onnxprof calibrate "
                                "again"),
                          (7, f"--device {path}: written by a newer onnxprof (schema 7; this one reads 6): "
                                "upgrade onnxprof")):
        path.write_text(json.dumps({**document, "schema_version": version}))
        with pytest.raises(UsageError) as refused:
            load_profile(path)
        assert str(refused.value) == line
        done = CliRunner().invoke(app, ["predict", str(model), "--device", str(path), "--db", str(db)])
        assert done.exit_code == 2 and done.stderr == f"onnxprof: error: {line}\n" and not done.stdout


def test_a_profile_without_its_best_predictor_or_with_an_unknown_one_is_not_readable(tmp_path):
    path = tmp_path / "p.json"
    save_profile(_profile(best="kernels"), path)        # no kernel model in it
    with pytest.raises(UsageError, match="not a readable device profile .its best predictor kernels is not among"):
        load_profile(path)
    document = json.loads(path.read_text())
    document["profile"]["predictors"]["guess"] = {}
    path.write_text(json.dumps(document))
    with pytest.raises(UsageError, match="unknown latency predictor guess"):
        load_profile(path)


def test_profile_predicts_memory_power_and_energy():
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")]
    report = analyze(make_model(nodes, [("x", [4, 256])], [("y", [4, 256])], [weight("w", (256, 256))]), batch=4)
    profile = _profile(memory=MemoryModel(2e8, 1.3, 1.1), power=PowerModel(1.3, 10.0, 0.5, 1.0, 3))
    p = profile.predict(report, 4)
    assert p.latency_ms == pytest.approx(2e-9 * 256 * 256 * 4 + 1.5)     # batch 4 was not calibrated: pooled line
    activations = report.memory.peak_activation_bytes
    assert p.peak_rss_bytes == int(2e8 + 1.3 * 256 * 256 * 4 + 1.1 * activations)
    assert p.power_w == pytest.approx(11.3)
    assert p.energy_per_image_j == pytest.approx(11.3 * p.latency_ms / 4 / 1000)
    assert p.latency_error == 0.2


def test_profile_predicts_the_memory_of_convolution_weights_with_their_slope():
    nodes = [helper.make_node("Conv", ["x", "k"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["f"], name="flat"),
             helper.make_node("MatMul", ["f", "w"], ["y"], name="fc")]
    report = analyze(make_model(nodes, [("x", [2, 3, 8, 8])], [("y", [2, 10])],
                                [weight("k", [16, 3, 3, 3]), weight("w", [16 * 6 * 6, 10])]), batch=2)
    memory = MemoryModel(1e8, 1.0, 2.0, conv_weight_slope=2.5)
    p = _profile(memory=memory).predict(report, 2)
    fully_connected, convolution = 4 * 576 * 10, 4 * 16 * 27
    assert p.peak_rss_bytes == int(1e8 + 1.0 * fully_connected + 2.5 * convolution
                                   + 2.0 * report.memory.peak_activation_bytes)


def test_power_samples_come_from_runs_with_a_meter_and_an_idle_figure():
    records = [synth.record(m) for m in synth.MODELS]
    samples = samples_from_runs(records)
    with_power = [m for m in synth.MODELS if m.net_w is not None]
    assert len(samples) == sum(len([b for b in synth.BATCHES if m.oom_from is None or b < m.oom_from])
                               for m in with_power)
    assert {round(s.net_w, 9) for s in samples} == {m.net_w for m in with_power}


# -- compare ------------------------------------------------------------------------------------------

OK_BATCHES = sum(len([b for b in synth.BATCHES if m.oom_from is None or b < m.oom_from]) for m in synth.MODELS)


@pytest.fixture
def filled(tmp_path):
    path = tmp_path / "r.sqlite"
    with Store(str(path)) as store:
        ids = synth.fill(store)
    return str(path), ids


def test_compare_uses_the_predictions_stored_with_each_run(filled):
    db, ids = filled
    with Store(db) as store:
        values = [v for run_id in ids for v in compare_run(run_id, store.get_run(run_id))]
    assert len(values) == OK_BATCHES and {v.figure for v in values} == {"latency_ms"}
    assert all(v.error == pytest.approx(0.10) for v in values)       # the synthetic runs predicted 1.1 × measured
    overall = [s for s in summarise(values) if s.batch is None][0]
    assert overall.quality.rmspe == pytest.approx(0.10) and overall.quality.spearman_rho == pytest.approx(1.0)


def test_compare_command_formats_and_errors(filled, tmp_path):
    db, _ = filled
    runner = CliRunner()
    out = runner.invoke(app, ["compare", "--db", db, "-f", "json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.output)
    assert body["schema"] == "onnxprof.compare" and len(body["values"]) == OK_BATCHES
    assert {s["batch"] for s in body["summary"]} == {1, 2, 4, 8, 16, None}
    csv_out = runner.invoke(app, ["compare", "1", "--db", db, "-f", "csv"])
    assert csv_out.output.splitlines()[0].startswith("run_id,model,batch") and len(csv_out.output.splitlines()) == 6
    with Store(str(tmp_path / "empty.sqlite")):
        pass
    empty = runner.invoke(app, ["compare", "--db", str(tmp_path / "empty.sqlite")])
    assert empty.exit_code == 2 and "no run with both a prediction and a measurement" in empty.stderr
    missing = runner.invoke(app, ["compare", "--db", str(tmp_path / "none.sqlite")])    # a read: nothing created
    assert missing.exit_code == 2 and "no such file" in missing.stderr and not (tmp_path / "none.sqlite").exists()
    bad = runner.invoke(app, ["compare", "--db", db, "-f", "xml"])
    assert bad.exit_code == 2 and "--format" in bad.stderr


def test_calibration_table_prints_each_fitted_formula_on_one_line():
    from rich.console import Console

    from onnxprof.report.predict_tables import calibration_table

    kernels = KernelModel({KernelClass("Conv"): _product(*(1e-9,) * 6), KernelClass("Relu"): _other(0.0, 1e-9, 0.002),
                           KernelClass("other"): _other(0.0, 1e-9, 0.002)},
                          {"in_network_kernel": 0.0047, "in_network_weight_bytes": 1.41e-8,
                           "in_network_spilled_bytes": 2.5e-9},
                          network_by_batch={1: NetworkFit(0.0024, 1.031), 8: NetworkFit(0.0024, 1.019)},
                          r_squared=0.987, n=1971)
    profile = _profile(memory=MemoryModel(2e8, 0.95, 1.6, conv_weight_slope=3.2), memory_rmspe=0.054,
                       power=PowerModel(1.3, 10.0, 0.5, 1.0, 3), kernels=kernels)
    console = Console(width=200, record=True)
    console.print(calibration_table([], profile))
    lines = [line.rstrip() for line in console.export_text().splitlines()]
    assert any("│ memory" in line and "5.4%" in line for line in lines)
    assert ("memory = 200.00\N{NO-BREAK SPACE}MB + 3.20 × conv weights + 0.95 × other weights "
            "+ 1.60 × batch × peak activations per image") in lines
    assert "power = 1.30 W idle + 10.00 ± 0.50 W running" in lines
    assert ("kernels: 3 kernel classes from 1971 profiled kernels (R² 0.987); shared: +4.7 µs a kernel inside a "
            "network, +14.1 µs a MB of weights inside a network, +2.5 µs a MB of spilled maps inside a network"
            ) in lines
    assert "network = (Σ kernels − profiler's overhead +2.4 µs a kernel) ×1.031 at batch 1, ×1.019 at batch 8" in lines


def test_undefined_fits_are_written_as_standard_json_and_read_back_undefined(tmp_path):
    """A fit through too few points has no R², a predictor never held out no error: null in the file."""
    nan = float("nan")
    operations = OperationsModel(LinearFit(2e-9, 1.5, nan, 2), {8: LinearFit(1.9e-9, 3.0, nan, 1)}, nan, 2)
    kernels = KernelModel({KernelClass("Conv"): _product(1e-9, 0.0, 2e-9, 0.0, 0.0, 0.0)}, {}, frozenset(), {}, None,
                          nan, 3)
    path = tmp_path / "p.json"
    save_profile(_profile(operations=operations, kernels=kernels, rmspe={"operations": nan, "kernels": 0.07}), path)
    json.loads(path.read_text(), parse_constant=lambda name: pytest.fail(f"{name} in the profile file"))
    loaded = load_profile(path)
    operations = loaded.predictors["operations"]
    assert math.isnan(operations.r_squared) and math.isnan(operations.by_batch[8].r_squared)
    assert math.isnan(loaded.kernels.r_squared) and math.isnan(loaded.rmspe["operations"])
    assert loaded.rmspe["kernels"] == 0.07 and loaded.memory_rmspe is None
