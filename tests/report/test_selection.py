"""Model selection under frame-rate, power, energy and memory limits, on synthetic results
(tests/synthetic_runs.py) whose figures are derived here by hand.

Per model (GMACs g, batch b): fps = 1000·b / (2·g·b + 1.5); memory MB = 200 + 5.2·Mparams + 10·b;
net power alexnet 10, resnet18 11, resnet50 12 (out of memory at 16), mobilenet-v2 11.5, vgg16 none.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from rich.console import Console

from onnxprof.measure.records import OUT_OF_MEMORY
from onnxprof.report.dataset import load_points
from onnxprof.report.selection import PREDICTED_ENGINE, Constraints, select_models, selection_table
from onnxprof.store.db import Store
from tests import synthetic_runs as synth

MODELS = {m.name: m for m in synth.MODELS}


@pytest.fixture
def points(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as store:
        synth.fill(store)
        return load_points(store)


def fps(name: str, batch: int) -> float:
    return 1000 * batch / synth.latency_ms(MODELS[name], batch)


def models(candidates) -> list[str]:
    return [c.model for c in candidates]


def test_each_model_at_its_fastest_batch_within_frame_rate_and_memory(points):
    selection = select_models(points, Constraints(min_fps=100, max_memory_mb=400))
    # memory ≤ 400 MB: resnet18 up to batch 8 (340.8 MB), resnet50 up to 4 (372.9), mobilenet-v2 all (≤ 378.2)
    assert [(c.model, c.batch) for c in selection.chosen] == [("resnet50", 4), ("mobilenet-v2", 16), ("resnet18", 8)]
    assert [c.top1 for c in selection.chosen] == [75.76, 71.878, 69.31]
    best = selection.best
    assert best.throughput_per_s == pytest.approx(fps("resnet50", 4))          # 116.9
    assert best.memory_mb == pytest.approx(synth.memory_bytes(MODELS["resnet50"], 4) / 1e6)
    assert best.net_w == 12.0 and best.source == "measured" and best.reasons == ()
    assert best.net_energy_per_image_j == pytest.approx(12.0 * synth.latency_ms(MODELS["resnet50"], 4) / 4 / 1000)
    # rejected, most accurate first, at their closest batch size (batch 1: the least memory)
    assert models(selection.rejected) == ["vgg16", "alexnet"]
    vgg16, alexnet = selection.rejected
    assert alexnet.reasons == ("527.7 MB > 400 MB at batch 1",)                # 200 + 317.7 + 10
    assert vgg16.reasons == ("30.83 fps < 100 fps at batch 1", "929.5 MB > 400 MB at batch 1")
    assert selection.unknown == []


def test_nothing_qualifies(points):
    selection = select_models(points, Constraints(min_fps=10_000))
    assert selection.chosen == [] and selection.best is None and selection.unknown == []
    assert models(selection.rejected) == ["resnet50", "mobilenet-v2", "vgg16", "resnet18", "alexnet"]
    by_model = {c.model: c for c in selection.rejected}
    # each at its highest throughput, the nearest miss
    assert by_model["mobilenet-v2"].reasons == ("1,437 fps < 10,000 fps at batch 16",)
    assert by_model["resnet50"].reasons == ("119.5 fps < 10,000 fps at batch 8",)
    assert by_model["vgg16"].reasons == ("32.22 fps < 10,000 fps at batch 16",)


def test_ties_in_accuracy_go_to_the_faster_model(points):
    tied = [replace(p, top1=70.0) if p.model in ("alexnet", "resnet18", "vgg16") else p for p in points]
    selection = select_models(tied, Constraints(batch=1))
    # at batch 1: alexnet 341.5 fps, resnet18 195.0, vgg16 30.8
    assert models(selection.chosen) == ["resnet50", "mobilenet-v2", "alexnet", "resnet18", "vgg16"]
    assert [c.batch for c in selection.chosen] == [1] * 5
    assert selection.chosen[2].throughput_per_s == pytest.approx(fps("alexnet", 1))


def test_missing_power_is_unknown_not_chosen_when_power_is_limited(points):
    selection = select_models(points, Constraints(max_power_w=11.2))
    assert [(c.model, c.batch) for c in selection.chosen] == [("resnet18", 16), ("alexnet", 16)]
    assert {c.model: c.reasons for c in selection.rejected} == {
        "resnet50": ("12 W > 11.2 W net at batch 8",), "mobilenet-v2": ("11.5 W > 11.2 W net at batch 16",)}
    assert models(selection.unknown) == ["vgg16"]
    assert selection.unknown[0].reasons == ("no net power measured at batch 16",)
    # without a power limit the same model is chosen
    assert "vgg16" in models(select_models(points, Constraints()).chosen)


def test_energy_limit_uses_net_energy_per_image(points):
    selection = select_models(points, Constraints(max_energy_j=0.010))
    # mobilenet-v2 net energy per image: 11.5 W × (0.602·b + 1.5) / b ms → 9.08 mJ at 8, 8.00 mJ at 16
    assert [(c.model, c.batch) for c in selection.chosen] == [("mobilenet-v2", 16)]
    alexnet = next(c for c in selection.rejected if c.model == "alexnet")
    assert alexnet.reasons == ("15.22 mJ > 10 mJ net per image at batch 16",)
    assert selection.unknown[0].model == "vgg16"
    assert selection.unknown[0].reasons == ("no net energy per image measured at batch 16",)
    # at 8.5 mJ the net figure (8.0 mJ) passes; the gross one, (11.5 + 1.3) W × 11.132 / 16 ms = 8.9 mJ, would not
    assert models(select_models(points, Constraints(max_energy_j=0.0085)).chosen) == ["mobilenet-v2"]


def test_out_of_memory_batches_never_qualify(points):
    at_16 = select_models(points, Constraints(batch=16))
    assert "resnet50" not in models(at_16.chosen)
    assert {c.model: c.reasons for c in at_16.rejected} == {"resnet50": ("out of memory at batch 16",)}
    # an out-of-memory batch that somehow carries figures is still never picked
    forged = [replace(p, throughput_per_s=5000.0, net_w=1.0) if p.status == OUT_OF_MEMORY else p for p in points]
    selection = select_models(forged, Constraints(min_fps=1000))
    assert models(selection.chosen) == ["mobilenet-v2"]
    resnet50 = next(c for c in selection.rejected if c.model == "resnet50")
    assert resnet50.batch == 8 and resnet50.reasons == ("119.5 fps < 1,000 fps at batch 8",)


def test_without_a_batch_each_model_runs_at_its_fastest_batch_that_fits(points):
    free = select_models(points, Constraints())
    assert {c.model: c.batch for c in free.chosen} == {
        "resnet50": 8, "mobilenet-v2": 16, "vgg16": 16, "resnet18": 16, "alexnet": 16}
    # a memory limit moves alexnet (517.7 MB + 10 MB per image) down to batch 8: 597.7 MB ≤ 600 < 677.7 at 16
    limited = select_models(points, Constraints(max_memory_mb=600))
    alexnet = next(c for c in limited.chosen if c.model == "alexnet")
    assert alexnet.batch == 8 and alexnet.throughput_per_s == pytest.approx(fps("alexnet", 8))


def test_unknown_accuracy_missing_memory_and_batches_never_run(points):
    blind = [replace(p, top1=None) if p.model == "resnet18" else p for p in points]
    selection = select_models(blind, Constraints(min_fps=100))
    assert "resnet18" not in models(selection.chosen)
    assert [c.reasons for c in selection.unknown] == [("top-1 accuracy unknown (meets the limits at batch 16)",)]

    no_memory = [replace(p, peak_rss_bytes=None) if p.model == "alexnet" else p for p in points]
    unknown = select_models(no_memory, Constraints(max_memory_mb=10_000)).unknown
    assert [(c.model, c.reasons) for c in unknown] == [("alexnet", ("no memory measured at batch 16",))]

    never = select_models(points, Constraints(batch=32))
    assert never.chosen == [] and len(never.unknown) == 5
    assert never.unknown[0].reasons == ("not run at batch 32 (ran 1, 2, 4, 8, 16)",)


def test_predicted_points_are_flagged(points):
    mixed = [replace(p, engine=PREDICTED_ENGINE) if p.model == "mobilenet-v2" else p for p in points]
    selection = select_models(mixed, Constraints(min_fps=1000))
    assert [(c.model, c.predicted, c.source) for c in selection.chosen] == [("mobilenet-v2", True, "predicted")]
    assert all(not c.predicted for c in selection.rejected)


def test_table_shows_the_choice_and_why_the_others_failed(points):
    selection = select_models(points, Constraints(min_fps=30, max_memory_mb=2000, max_power_w=11.8))
    assert models(selection.chosen) == ["mobilenet-v2", "resnet18", "alexnet"]
    table = selection_table(selection)
    assert len(table.rows) == len(selection.chosen) + len(selection.rejected) + len(selection.unknown) == 5
    console = Console(record=True, width=300)
    console.print(table)
    text = " ".join(console.export_text().split())
    assert "≥ 30 fps, ≤ 11.8 W net, ≤ 2,000 MB, at each model's best batch size" in text
    assert "best" in text and "#2" in text
    assert "fails: 12 W > 11.8 W net at batch 8" in text                 # resnet50
    assert "unknown: no net power measured at batch 16" in text          # vgg16
    nothing = selection_table(select_models(points, Constraints(min_fps=10_000)))
    assert nothing.caption.splitlines()[0] == "no model meets every limit"
