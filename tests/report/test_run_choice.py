"""Which run a report reads for a model (issue 27, item 4): a complete sweep before a later one-batch run,
an interrupted or unfinished one; ``pinned`` (``--run``) picks explicitly; every row names its run."""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.console import Console

from onnxprof.errors import OnnxprofError, UsageError
from onnxprof.measure.records import OK
from onnxprof.report.dataset import (RunChoice, by_model, choose_run_ids, choose_runs, latest_only, load_points,
                                     record_choice)
from onnxprof.report.findings import check_findings
from onnxprof.report.selection import Constraints, select_models, selection_table
from onnxprof.store.db import MissingRun, Store
from tests import synthetic_runs as synth

RESNET18 = synth.MODELS[1]


@pytest.fixture
def store(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as opened:
        yield opened


@pytest.fixture
def sweep_then_one_batch(store):
    """resnet18: a sweep at batch 1, 2, 4, then a later --profile-layers run at batch 1 only."""
    others = [store.save_run(synth.record(m)) for m in synth.MODELS if m is not RESNET18]
    sweep = store.save_run(synth.record(RESNET18, batches=(1, 2, 4)))
    profiled = store.save_run(replace(synth.record(RESNET18, batches=(1,)), started_at="2026-11-26T00:00:00+00:00"))
    return others, sweep, profiled


def test_a_later_one_batch_run_does_not_replace_the_sweep(store, sweep_then_one_batch):
    others, sweep, profiled = sweep_then_one_batch
    resnet18 = by_model(load_points(store))["resnet18"]
    assert {p.run_id for p in resnet18} == {sweep} and [p.batch for p in resnet18] == [1, 2, 4]
    assert choose_run_ids(store) == sorted([*others, sweep])
    selection = select_models(load_points(store), Constraints(min_fps=1))
    chosen = {c.model: c for c in selection.chosen}
    assert chosen["resnet18"].run_id == sweep
    console = Console(record=True, width=200)
    console.print(selection_table(selection))
    row = next(line for line in console.export_text().splitlines() if line.strip().startswith("resnet18"))
    assert row.split()[1] == str(sweep)
    found = {f.key: f for f in check_findings(load_points(store))}
    assert sweep in found["memory.slope"].runs and profiled not in found["memory.slope"].runs


def test_run_pins_the_given_run(store, sweep_then_one_batch):
    others, sweep, profiled = sweep_then_one_batch
    resnet18 = by_model(load_points(store, pinned=[profiled]))["resnet18"]
    assert {p.run_id for p in resnet18} == {profiled} and [p.batch for p in resnet18] == [1]
    assert len(by_model(load_points(store, pinned=[profiled]))) == len(synth.MODELS)     # the others stay
    with pytest.raises(MissingRun, match="no run 999"):
        load_points(store, pinned=[999])
    with pytest.raises(UsageError, match=f"--run {profiled}: measured with onnxruntime/cpu"):
        load_points(store, provider="cuda", pinned=[profiled])


def test_an_unfinished_newer_run_is_skipped_and_an_interrupted_one_ranks_below_complete(store):
    sweep = store.save_run(synth.record(RESNET18, batches=(1, 2, 4)))
    store.save_run(replace(synth.record(RESNET18), ended_at=""))                 # killed: unfinished, 5 batches
    interrupted = store.save_run(replace(synth.record(RESNET18), interrupted=True))   # Ctrl-C, 5 batches
    assert store.run_status(interrupted) == "interrupted"
    assert {p.run_id for p in load_points(store)} == {sweep}
    # among unfinished runs named explicitly, the rule still ranks complete first
    assert choose_run_ids(store, run_ids=store.run_ids(unfinished=True)) == [sweep]


def test_more_batch_sizes_that_ran_then_the_newest(store):
    five = store.save_run(synth.record(synth.MODELS[2]))                  # resnet50: batch 16 out of memory, 4 ran
    four = store.save_run(synth.record(synth.MODELS[2], batches=(1, 2, 4, 8)))     # 4 ran too, fewer tried
    assert {p.run_id for p in load_points(store)} == {five}
    again = store.save_run(synth.record(synth.MODELS[2]))                 # the same sweep again: newest wins
    assert {p.run_id for p in load_points(store)} == {again} and four < again


def test_the_rule_on_records_and_summaries_agrees(store, sweep_then_one_batch):
    records = [(run_id, store.get_run(run_id)) for run_id in store.run_ids()]
    assert [i for i, _ in latest_only(records)] == choose_run_ids(store)
    choice = record_choice(*records[0])
    assert isinstance(choice, RunChoice) and choice.status == "complete"
    assert choice.ok_batches == sum(b.status == OK for b in records[0][1].batches)
    assert choose_runs([]) == []


def test_missing_explicit_run_ids_are_one_line(store):
    with pytest.raises(OnnxprofError, match="no run 7"):
        choose_run_ids(store, run_ids=[7])


def test_points_carry_run_status_and_prediction_source(store):
    from onnxprof.predict.basic import Provenance

    record = synth.record(RESNET18, batches=(1,))
    stored = {1: {"latency_ms": 5.0, "method": "profile lab",
                  "provenance": Provenance("calibrated", name="lab", held_out_error=0.1, calibrated_batches=(1, 8),
                                           warnings=("extrapolated: test",))}}
    run_id = store.save_run(replace(record, predictions=stored))
    point = load_points(store)[0]
    assert point.run_id == run_id and point.run_status == "complete"
    assert point.predicted_calibrated and point.predicted_source.startswith("calibrated profile lab")
    assert point.predicted_warnings == ("extrapolated: test",)
    older = store.save_run(replace(synth.record(synth.MODELS[0], batches=(1,)),
                                   predictions={1: {"latency_ms": 5.0, "method": "MACs ÷ 1 G MAC/s"}}))
    old_point = next(p for p in load_points(store) if p.run_id == older)
    assert old_point.predicted_source == "MACs ÷ 1 G MAC/s" and not old_point.predicted_calibrated


def test_a_negative_net_power_is_flagged_on_the_point_and_the_candidate(store):
    below = synth.SyntheticModel("resnet18", 1.814, 11_689_512, -2.3)
    run_id = store.save_run(synth.record(below, batches=(1,)))
    point = load_points(store)[0]
    assert point.net_w == pytest.approx(-2.3) and point.warnings
    assert point.warnings[0].startswith("negative measured net power (−2.30 W)")
    selection = select_models([point], Constraints(max_power_w=5))
    candidate = (selection.chosen + selection.unknown + selection.rejected)[0]
    assert candidate.run_id == run_id and candidate.warnings == point.warnings
    console = Console(record=True, width=300)
    console.print(selection_table(selection))
    assert f"resnet18 (run {run_id}) warning: negative measured net power" in console.export_text()
