"""The paper's ten figures drawn from the synthetic store: files that open, the numbers behind them
checked against the laws in ``tests/synthetic_runs.py``, and what a reader sees: log axes labelled over
their whole range, names that never overlap, and an empty figure that says once what would fill it."""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.image import imread
from matplotlib.legend import Legend
from matplotlib.text import Annotation, Text

from onnxprof.meters import METERS
from onnxprof.report.dataset import load_points
from onnxprof.report.figures import (FAMILY_COLOURS, FIGURES, IDLE_HINT, NO_MEASUREMENTS, POWER_HINT, draw_all,
                                     draw_figure, family_colours, render, styles, series_of)
from onnxprof.report.findings import check_findings
from onnxprof.report.readable import LabelPlacer, log_ticks, plain_number
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


def texts(figure) -> list[str]:
    """Every text the finished figure shows (titles, notes, labels, tick labels), unwrapped."""
    figure.canvas.draw()
    return [" ".join(t.get_text().split()) for t in figure.findobj(Text) if t.get_visible() and t.get_text()]


def said(figure, message: str) -> int:
    """How often the figure says ``message``."""
    return sum(text.count(message) for text in texts(figure))


@pytest.fixture(scope="module")
def unmetered(tmp_path_factory):
    return stored_points(tmp_path_factory.mktemp("unmetered"), [dataclasses.replace(m, net_w=None) for m in synth.MODELS])


@pytest.mark.parametrize("number", [4, 8])
def test_power_figures_without_a_meter_say_once_which_meter_would_fill_them(unmetered, tmp_path, number):
    result = draw_figure(number, unmetered, tmp_path, dpi=DPI)
    assert result.notes == (POWER_HINT,) and result.empty == (POWER_HINT,)   # not a note per network, no "no data"
    assert all(re.search(rf"(--meter |, | or ){re.escape(m)}\b", POWER_HINT) for m in METERS)   # every meter there is
    assert "--idle" in POWER_HINT and "onnxprof meters list" in POWER_HINT
    plot = render(number, unmetered)
    assert plot.figure.axes == []                # no empty 0–1 axes
    assert said(plot.figure, POWER_HINT) == 1    # in the figure's middle, not again in the notes below
    assert not any("no data" in t for t in texts(plot.figure))
    png, _ = result.paths
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gross_power_without_an_idle_baseline_says_to_measure_idle(points):
    gross_only = [dataclasses.replace(p, net_w=None) for p in points]
    plot = render(4, gross_only)
    assert plot.notes == (IDLE_HINT,) and said(plot.figure, IDLE_HINT) == 1 and "--idle" in IDLE_HINT


def test_a_panel_without_data_says_so_beside_one_with_data(points):
    only_batch_1 = [p if p.batch == 1 else dataclasses.replace(p, net_w=None, gross_w=None) for p in points]
    plot = render(8, only_batch_1)
    with_data, empty = plot.figure.axes[:2]
    assert with_data.axison and not empty.axison
    message = "no power measurements at batch 8: measure with --meter"
    assert sum(message in t for t in texts(plot.figure)) == 1
    assert [t.get_text() for t in empty.texts if message in " ".join(t.get_text().split())]
    assert plot.data["panels"][8]["models"] == {} and len(plot.data["panels"][1]["models"]) == 4


def test_unknown_accuracy_says_which_networks_carry_one(points):
    user_models = [dataclasses.replace(p, top1=None) for p in points]
    for number in (1, 2, 9, 10):
        plot = render(number, user_models)
        (message,) = plot.empty
        assert message.startswith("no top-1 accuracy known: only the zoo's") and said(plot.figure, message) == 1


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
        assert bound["frontier_size"] == 2 and bound["frontier_r2"] == pytest.approx(1.0)
        slope = (TOP1["mobilenet-v2"] - TOP1["resnet50"]) / (fps["mobilenet-v2"] - fps["resnet50"])
        assert bound["slope"] == pytest.approx(slope)
        assert bound["intercept"] == pytest.approx(TOP1["resnet50"] - slope * fps["resnet50"])
        assert all(TOP1[k] <= bound["intercept"] + bound["slope"] * fps[k] + 1e-9 for k in MODELS)


def bound_terms(text: str) -> tuple[str, str]:
    """The intercept and slope of "top-1 ≤ 81.18 − 0.003128 × fps" as written."""
    intercept, sign, slope = re.search(r"top-1 ≤ (\S+) ([−+]) (\S+) ×", text).groups()
    return intercept, sign + slope


def test_fig9_legend_is_the_bound_the_findings_print_on_the_same_networks(points):
    """A bent frontier (three networks on it) raised over a fourth: the figure draws the findings' fit."""
    fps = {"alexnet": 900.0, "resnet18": 600.0, "resnet50": 150.0, "vgg16": 100.0, "mobilenet-v2": 700.0}
    bent = [dataclasses.replace(p, throughput_per_s=fps[p.model] * (1 + 0.1 * p.batch)) for p in points]
    plot = FIGURES[9](bent)
    for batch, ax in zip(plot.data["panels"], plot.figure.axes):
        (finding,) = [f for f in check_findings([p for p in bent if p.batch == batch]) if f.key == "accuracy.bound"]
        bound = plot.data["panels"][batch]["bound"]
        assert (bound["slope"], bound["intercept"]) == (finding.figure("slope"), finding.figure("intercept"))
        (line,) = [t.get_text() for legend in ax.findobj(Legend) for t in legend.get_texts()
                   if "upper bound" in t.get_text()]
        assert bound_terms(line) == bound_terms(finding.detail)


def test_fig9_names_the_bound_the_findings_print_when_it_is_on_other_batches(results, points):
    """ResNet-50 runs out of memory at 16: its full load is batch 8, the others' 16, neither panel's set."""
    (finding,) = [f for f in check_findings(points) if f.key == "accuracy.bound"]
    (note,) = [n for n in results[9].notes if n.startswith("the findings (accuracy.bound)")]
    assert bound_terms(note) == bound_terms(finding.detail)
    assert results[9].data["findings_bound"]["slope"] == finding.figure("slope")


def test_fig9_has_no_bound_when_one_network_is_most_accurate_and_fastest(points):
    dominant = [dataclasses.replace(p, throughput_per_s=5000.0) if p.model == "resnet50" else p for p in points]
    plot = FIGURES[9](dominant)
    assert all(panel["bound"] is None for panel in plot.data["panels"].values())
    assert any(n.startswith("no upper bound at batch 1: resnet50 is both the most accurate and the fastest")
               for n in plot.notes)
    assert not [line for ax in plot.figure.axes for line in ax.lines if "upper bound" in line.get_label()]


def test_fig10_information_density(results):
    values = results[10].data["values"]
    expected = {name: TOP1[name] / (m.parameters / 1e6) for name, m in MODELS.items()}
    assert values == pytest.approx(expected)
    assert list(values)[0] == "vgg16" and list(values)[-1] == "mobilenet-v2"


def test_no_points_give_figures_that_say_how_to_measure(tmp_path):
    results = draw_all([], tmp_path, dpi=DPI)
    assert [r.number for r in results] == list(range(1, 11))
    assert "onnxprof measure" in NO_MEASUREMENTS
    for result in results:
        assert result.notes == (NO_MEASUREMENTS,)
        png, svg = result.paths
        assert imread(png).shape[1] > imread(png).shape[0] and ET.parse(svg).getroot().tag.endswith("svg")
        plot = render(result.number, [])
        assert plot.figure.axes == [] and said(plot.figure, NO_MEASUREMENTS) == 1


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


# --- what a reader sees: log axes, names, medians ----------------------------------------------------

def visible_tick_labels(ax, axis: str = "y") -> dict[float, str]:
    """The labelled major ticks inside the axis's view, after a draw: value -> label."""
    ax.figure.canvas.draw()
    getter = ax.yaxis if axis == "y" else ax.xaxis
    low, high = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    return {tick.get_loc(): tick.label1.get_text() for tick in getter.get_major_ticks()
            if low <= tick.get_loc() <= high and tick.label1.get_visible() and tick.label1.get_text()}


def test_fig3_log_axis_is_labelled_in_every_decade_of_its_range(points):
    # predictions a hundred times below the measurements: the data spans more than three decades
    spread = [dataclasses.replace(p, predicted_latency_ms=p.latency_ms / 300 if p.latency_ms else None) for p in points]
    ax = render(3, spread).figure.axes[0]
    low, high = ax.get_ylim()
    assert math.log10(high / low) > 3
    labels = visible_tick_labels(ax)
    for decade in range(math.floor(math.log10(low)), math.floor(math.log10(high)) + 1):
        inside = [v for v in labels if 10 ** decade <= v < 10 ** (decade + 1) and low <= v <= high]
        assert inside or 10 ** (decade + 1) > high and 10 ** decade < low, (decade, labels)
    assert len(labels) >= 2 * math.floor(math.log10(high / low))     # 1-2-5: two or three per decade
    assert all(text == plain_number(value) and "e" not in text for value, text in labels.items())
    assert min(labels) / low < 2.5 and high / max(labels) < 2.5      # labelled up to both ends


def test_fig3_log_axis_within_one_decade_has_labels_below_and_above_the_middle(points):
    narrow = [dataclasses.replace(p, latency_per_image_ms=30 + 5 * p.batch + p.run_id, predicted_latency_ms=None)
              for p in points]                                   # 31–115 ms: the old axis showed 50 and 100 only
    ax = render(3, narrow).figure.axes[0]
    labels = visible_tick_labels(ax)
    assert len(labels) >= 4 and min(labels) < 50 and max(labels) > 100, labels


@pytest.mark.parametrize("low, high", [(30, 300), (45, 52), (0.02, 60), (0.5, 5000), (1e-3, 1e6), (1e-9, 1e9)])
def test_log_ticks_stay_readable_at_any_range(low, high):
    ticks = log_ticks(low, high)
    assert 3 <= len(ticks) <= 12 and ticks == sorted(ticks) and all(low <= t <= high for t in ticks)
    decades = math.log10(high / low)
    assert decades <= 1 or len(ticks) >= min(decades, 6)          # not just one label a decade apart


def crowded_points(points, n: int = 14):
    """``n`` networks with nearly the same operations, time and power: their names compete for room."""
    base = [p for p in points if p.model == "resnet18"]
    return [dataclasses.replace(p, model=f"net-{i}", title=f"Network {i:02d}", family="other",
                                macs_per_image=p.macs_per_image * (1 + 0.004 * i),
                                latency_per_image_ms=p.latency_per_image_ms * (1 + 0.003 * (i % 5)),
                                net_w=p.net_w + 0.01 * i, top1=70 + 0.05 * i,
                                throughput_per_s=p.throughput_per_s * (1 + 0.004 * i))
            for i in range(n) for p in base]


def label_boxes(figure) -> list[tuple[object, list]]:
    """Per axes: the axes and the display boxes of its point names, after a draw."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    return [(ax, [Text.get_window_extent(t, renderer) for t in ax.texts if isinstance(t, Annotation)])
            for ax in figure.axes]


@pytest.mark.parametrize("number", [2, 6, 7, 8, 9])
def test_point_names_never_overlap(points, number):
    plot = render(number, crowded_points(points) + points)
    checked = 0
    for ax, boxes in label_boxes(plot.figure):
        legends = [c.get_window_extent() for c in ax.get_children() if isinstance(c, Legend)]
        for a, b in itertools.combinations(boxes, 2):
            assert not a.overlaps(b), (number, a, b)
        for box in boxes:
            assert ax.bbox.contains(box.x0, box.y0) and ax.bbox.contains(box.x1, box.y1)   # inside the axes
            inside = [legend for legend in legends if ax.bbox.contains(*legend.p0) and ax.bbox.contains(*legend.p1)]
            assert not any(box.overlaps(legend) for legend in inside)
        checked += len(boxes)
    assert checked >= 14


def test_every_named_scatter_places_its_names(points):
    for number in (2, 6, 7, 8, 9):
        for ax in render(number, points).figure.axes:
            names = [t for t in ax.texts if isinstance(t, Annotation)]
            placers = [c for c in ax.get_children() if isinstance(c, LabelPlacer)]
            assert names and len(placers) == 1 and [label.annotation for label in placers[0].labels] == names


def test_figures_show_the_median_not_the_mean(tmp_path):
    """Runs whose mean is twice their median: time, throughput and fits use the median (as trtexec)."""
    def skewed(record):
        batches = tuple(dataclasses.replace(b, latency=dataclasses.replace(b.latency, mean_ms=2 * b.latency.median_ms),
                                            latency_per_image_ms=2 * b.latency.median_ms / b.batch,
                                            throughput_per_s=b.batch * 500.0 / b.latency.median_ms)
                        if b.latency else b for b in record.batches)
        return dataclasses.replace(record, batches=batches)

    with Store(str(tmp_path / "r.sqlite")) as store:
        for m in synth.MODELS:
            store.save_run(skewed(synth.record(m)))
        skewed_points = load_points(store)
    m = MODELS["resnet18"]
    assert FIGURES[3](skewed_points).data["series"]["resnet18"]["value"] == \
        pytest.approx([per_image_ms(m, b) for b in synth.BATCHES])
    fig7 = FIGURES[7](skewed_points)
    assert fig7.data["panels"][1]["fit"]["slope"] == pytest.approx(synth.MS_PER_GMAC)
    assert "median" in fig7.figure.axes[0].get_ylabel()
    fig9 = FIGURES[9](skewed_points)
    assert fig9.data["panels"][8]["models"]["resnet18"]["throughput"] == pytest.approx(throughput(m, 8))
    assert "median" in fig9.figure.axes[0].get_xlabel()
