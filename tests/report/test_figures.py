"""The paper's ten figures drawn from the synthetic store: files that open, and the numbers behind them
checked against the laws in ``tests/synthetic_runs.py``."""

from __future__ import annotations

import dataclasses
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread

from onnxprof.report.dataset import load_points
from onnxprof.report.figures import (FAMILY_COLOURS, FIGURES, draw_all, draw_figure, family_colours,
                                     pareto_frontier, styles, series_of, upper_bound)
from onnxprof.store.db import Store
from onnxprof.zoo.manifest import manifest
from tests import synthetic_runs as synth

DPI = 40                                         # small files, fast tests
TOP1 = {"alexnet": 54.61, "resnet18": 69.31, "resnet50": 75.76, "mobilenet-v2": 71.878, "vgg16": 70.62}
MODELS = {m.name: m for m in synth.MODELS}
NAMES = {1: "top1-per-network", 2: "top1-vs-operations", 3: "time-vs-batch", 4: "power-vs-batch",
         5: "memory-vs-batch", 6: "memory-vs-parameters", 7: "operations-vs-time", 8: "operations-vs-power",
         9: "accuracy-vs-throughput", 10: "accuracy-per-parameter"}


def stored_points(tmp_path, models=synth.MODELS):
    with Store(str(tmp_path / "r.sqlite")) as store:
        synth.fill(store, models)
        return load_points(store)


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    return stored_points(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("figures")


@pytest.fixture(scope="module")
def results(points, out_dir):
    return {r.number: r for r in draw_all(points, out_dir, dpi=DPI)}


def per_image_ms(model: synth.SyntheticModel, batch: int) -> float:
    return synth.latency_ms(model, batch) / batch


def throughput(model: synth.SyntheticModel, batch: int) -> float:
    return 1000 * batch / synth.latency_ms(model, batch)


def assert_valid_files(result, out_dir):
    assert [p.name for p in result.paths] == [f"fig{result.number:02d}-{result.name}.{fmt}" for fmt in ("png", "svg")]
    png, svg = result.paths
    assert png.parent == out_dir and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(png).shape[:2]
    assert 150 <= height <= 600 and 300 <= width <= 900 and width > height
    assert ET.parse(svg).getroot().tag.endswith("svg")


def test_every_figure_is_written_as_png_and_svg(results, out_dir):
    assert list(FIGURES) == list(range(1, 11))
    assert {n: r.name for n, r in results.items()} == NAMES
    for result in results.values():
        assert_valid_files(result, out_dir)
    assert len({r.title for r in results.values()}) == 10


def test_fig1_top1_per_network_in_ascending_order(results):
    data = results[1].data
    assert data["values"] == TOP1 and list(data["values"]) == sorted(TOP1, key=TOP1.get)
    assert data["unknown"] == [] and results[1].notes == ()


def test_fig2_top1_vs_operations(results):
    models = results[2].data["models"]
    assert set(models) == set(MODELS)
    for name, m in MODELS.items():
        assert models[name] == pytest.approx({"gops": m.gmacs, "top1": TOP1[name], "parameters": m.parameters})


def test_fig3_time_per_image_with_predictions_and_an_out_of_memory_gap(results, points):
    series = results[3].data["series"]
    for name, m in MODELS.items():
        expected = [None if m.oom_from and b >= m.oom_from else pytest.approx(per_image_ms(m, b))
                    for b in synth.BATCHES]
        assert series[name]["batch"] == list(synth.BATCHES) and series[name]["value"] == expected
        # predictions are per batch (1.1 × latency) and drawn per image, also where the run failed
        assert series[name]["predicted"] == pytest.approx([1.1 * per_image_ms(m, b) for b in synth.BATCHES])
    assert any("out of memory at batch 16" in n and "ResNet-50" in n for n in results[3].notes)
    # the drawn line stops: NaN at batch 16, not a point and not an interpolation
    ax = FIGURES[3](points).figure.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    (resnet50,) = [line for line in ax.lines if line.get_label() == "ResNet-50"]
    assert list(resnet50.get_xdata()) == list(synth.BATCHES) and math.isnan(resnet50.get_ydata()[-1])
    assert np.isfinite(resnet50.get_ydata()[:-1]).all()
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(dashed) == len(MODELS) and {to_hex(line.get_color()) for line in dashed} == \
        {to_hex(line.get_color()) for line in ax.lines if line.get_linestyle() == "-"}


def test_predictions_can_be_left_out(points):
    plot = FIGURES[3](points, predicted=False)
    assert "predicted" not in plot.data["series"]["alexnet"]
    assert not [line for line in plot.figure.axes[0].lines if line.get_linestyle() == "--"]


def test_fig4_net_power_with_a_note_for_the_network_without_a_meter(results, points):
    series, notes = results[4].data["series"], results[4].notes
    assert series["vgg16"]["value"] == [None] * len(synth.BATCHES)
    assert "no power measured: VGG-16" in notes
    assert series["alexnet"]["value"] == [10.0] * len(synth.BATCHES)
    assert series["resnet50"]["value"] == [12.0] * 4 + [None]
    assert results[4].data["idle_w"] == synth.IDLE_W
    labels = [line.get_label() for line in FIGURES[4](points).figure.axes[0].lines]
    assert "VGG-16" not in labels and "AlexNet" in labels


def test_fig4_without_any_power_meter_is_still_written(tmp_path):
    unmetered = [dataclasses.replace(m, net_w=None) for m in synth.MODELS]
    result = draw_figure(4, stored_points(tmp_path, unmetered), tmp_path / "out", dpi=DPI)
    assert_valid_files(result, tmp_path / "out")
    assert "no data" in result.notes
    (missing,) = [n for n in result.notes if n.startswith("no power measured")]
    assert all(f"{title}" in missing for title in ("AlexNet", "ResNet-18", "VGG-16"))


def test_fig5_memory_per_batch(results):
    series = results[5].data["series"]
    m = MODELS["resnet18"]
    assert series["resnet18"]["value"] == pytest.approx([synth.memory_bytes(m, b) / 1e6 for b in synth.BATCHES])
    assert series["resnet50"]["value"][-1] is None
    assert series["resnet18"]["predicted"] == [None] * len(synth.BATCHES)   # the store predicts no memory


@pytest.mark.parametrize("batch", [None, 4])
def test_fig6_memory_vs_parameters_floor_and_slope(points, tmp_path, batch):
    data = draw_figure(6, points, tmp_path, formats=("png",), batch=batch, dpi=DPI).data
    chosen = batch or 1                          # the paper's batch 1 unless asked
    assert data["batch"] == chosen
    assert data["slope"] == pytest.approx(synth.WEIGHT_SLOPE)
    assert data["floor_mb"] == pytest.approx((synth.FLOOR_BYTES + synth.ACTIVATION_BYTES_PER_IMAGE * chosen) / 1e6)
    assert data["fit"]["r2"] == pytest.approx(1.0)
    assert data["models"]["vgg16"]["parameters_mb"] == pytest.approx(4 * MODELS["vgg16"].parameters / 1e6)


def test_fig7_operations_vs_time_slopes_at_batch_1_and_the_largest_common_batch(results):
    data = results[7].data
    assert data["batches"] == [1, 8]             # resnet50 runs out of memory at 16
    for batch, panel in data["panels"].items():
        assert panel["fit"]["slope"] == pytest.approx(synth.MS_PER_GMAC)
        assert panel["fit"]["intercept"] == pytest.approx(synth.INTERCEPT_MS / batch)
        assert panel["models"]["vgg16"]["ms_per_image"] == pytest.approx(per_image_ms(MODELS["vgg16"], batch))


def test_fig7_at_a_chosen_batch_notes_the_network_that_did_not_run(points, tmp_path):
    result = draw_figure(7, points, tmp_path, formats=("png",), batch=16, dpi=DPI)
    panel = result.data["panels"][16]
    assert "resnet50" not in panel["models"] and len(panel["models"]) == 4
    assert panel["fit"]["intercept"] == pytest.approx(synth.INTERCEPT_MS / 16)
    assert "out of memory at batch 16: ResNet-50" in result.notes


def test_fig8_net_power_is_flat_across_operations(results):
    for batch, panel in results[8].data["panels"].items():
        assert set(panel["models"]) == set(MODELS) - {"vgg16"}
        watts = [m.net_w for m in synth.MODELS if m.net_w is not None]
        assert panel["mean_w"] == pytest.approx(np.mean(watts)) and panel["std_w"] == pytest.approx(np.std(watts))
        assert f"net power unknown at batch {batch}: VGG-16" in results[8].notes


def test_fig9_upper_bound_through_the_frontier(results):
    for batch, panel in results[9].data["panels"].items():
        fps = {name: throughput(m, batch) for name, m in MODELS.items()}
        assert {k: v["throughput"] for k, v in panel["models"].items()} == pytest.approx(fps)
        bound = panel["bound"]
        # MobileNetV2 is the fastest and ResNet-50 the most accurate: every other network is beaten by one
        assert bound["frontier"] == ["resnet50", "mobilenet-v2"]
        slope = (TOP1["mobilenet-v2"] - TOP1["resnet50"]) / (fps["mobilenet-v2"] - fps["resnet50"])
        assert bound["slope"] == pytest.approx(slope) and bound["raised_by"] == pytest.approx(0, abs=1e-9)
        assert bound["intercept"] == pytest.approx(TOP1["resnet50"] - slope * fps["resnet50"])
        assert all(TOP1[k] <= bound["intercept"] + bound["slope"] * fps[k] + 1e-9 for k in MODELS)


def test_upper_bound_is_raised_over_a_bent_frontier():
    xy = {"a": (1.0, 10.0), "b": (2.0, 9.5), "c": (3.0, 8.5), "d": (4.0, 6.0), "slow-and-worse": (1.5, 5.0)}
    assert pareto_frontier(xy) == ["a", "b", "c", "d"]
    bound = upper_bound(xy)
    slope, intercept = np.polyfit([1, 2, 3, 4], [10, 9.5, 8.5, 6], 1)
    assert bound["slope"] == pytest.approx(slope) and bound["raised_by"] > 0
    gaps = [bound["intercept"] + bound["slope"] * x - y for x, y in xy.values()]
    assert min(gaps) == pytest.approx(0, abs=1e-9)     # touches the frontier, nothing above
    # one network better on both counts: the line is fitted to all and raised to it
    assert upper_bound({"best": (5.0, 10.0), "x": (1.0, 2.0), "y": (2.0, 1.0)})["frontier"] == ["best"]
    assert upper_bound({"only": (1.0, 1.0)}) is None


def test_fig10_information_density(results):
    values = results[10].data["values"]
    expected = {name: TOP1[name] / (m.parameters / 1e6) for name, m in MODELS.items()}
    assert values == pytest.approx(expected)
    assert list(values)[0] == "vgg16" and list(values)[-1] == "mobilenet-v2"


def test_no_points_give_figures_that_say_no_data(tmp_path):
    results = draw_all([], tmp_path, dpi=DPI)
    assert [r.number for r in results] == list(range(1, 11))
    for result in results:
        assert "no data" in result.notes
        assert_valid_files(result, tmp_path)


def test_colours_follow_the_family_in_every_figure(points):
    assert {f.family for f in manifest().values()} <= set(FAMILY_COLOURS)
    style = styles(series_of(points))
    assert style["resnet18"] != style["resnet50"]            # members of a family differ ...
    bars = FIGURES[1](points).figure.axes[0].patches
    lines = {line.get_label(): to_hex(line.get_color()) for line in FIGURES[3](points).figure.axes[0].lines}
    for name, bar in zip(sorted(TOP1, key=TOP1.get), bars):   # ... and look alike everywhere
        assert to_hex(bar.get_facecolor()) == style[name].colour == lines[points_title(points, name)]
    assert style["alexnet"].colour == FAMILY_COLOURS["AlexNet"]
    # families outside the zoo get spare colours in sorted order, whatever else is drawn
    assert family_colours(["zeta", "alpha"])["alpha"] == family_colours(["VGG", "alpha"])["alpha"]
    assert family_colours(["zeta", "alpha"])["zeta"] not in FAMILY_COLOURS.values()


def points_title(points, model):
    return next(p.title for p in points if p.model == model)


def test_points_from_several_set_ups_stay_apart(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as store:
        store.save_run(synth.record(MODELS["resnet18"], hostname="a"))
        store.save_run(synth.record(MODELS["resnet18"], hostname="b"))
        points = load_points(store)
    series = FIGURES[3](points).data["series"]
    assert len(series) == 2 and all(key.startswith("resnet18 [") for key in series)


def test_unknown_figure_number():
    with pytest.raises(ValueError, match="no figure 11"):
        draw_figure(11, [], "unused")
