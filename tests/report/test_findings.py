"""The paper's findings checked on synthetic results whose laws are known (tests/synthetic_runs.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from rich.console import Console

from onnxprof.report.dataset import BatchPoint, load_points
from onnxprof.report.findings import (COLUMNS, PAPER_MEMORY_FLOOR_MB, PAPER_MEMORY_SLOPE, PAPER_NET_POWER_STD_W,
                                      PAPER_NET_POWER_W, Finding, check_findings, finding_cells, findings_markdown,
                                      findings_table)
from onnxprof.store.db import Store
from tests import synthetic_runs as synth


@pytest.fixture
def points(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as store:
        synth.fill(store)
        return load_points(store)


def by_key(findings: list[Finding]) -> dict[str, Finding]:
    keys = [f.key for f in findings]
    assert len(keys) == len(set(keys)), keys
    return {f.key: f for f in findings}


def point(model: str, batch: int, top1, ms_per_image: float, **figures) -> BatchPoint:
    """A measured point made by hand: ``ms_per_image`` sets latency and throughput."""
    return BatchPoint(run_id=1, model=model, title=model, family="other", engine="onnxruntime", provider="cpu",
                      precision="fp32", hostname="h", batch=batch, status="ok", top1=top1,
                      parameters=figures.pop("parameters", 1_000_000), macs_per_image=figures.pop("macs", 1e9),
                      weight_bytes=figures.pop("weight_bytes", 4_000_000), latency_ms=ms_per_image * batch,
                      latency_per_image_ms=ms_per_image, throughput_per_s=1000.0 / ms_per_image, **figures)


# --- the synthetic laws, derived by hand ------------------------------------------------------------

def test_paper_constants_are_the_tx1_figures():
    assert (PAPER_NET_POWER_W, PAPER_NET_POWER_STD_W) == (11.8, 0.7)          # section 3.6
    assert (PAPER_MEMORY_FLOOR_MB, PAPER_MEMORY_SLOPE) == (200.0, 1.30)       # section 3.4, Figure 6


def test_power_is_the_same_at_every_batch_size_and_close_across_networks(points):
    found = by_key(check_findings(points))
    batch = found["power.batch"]
    assert batch.value == 0.0 and batch.holds is True
    assert batch.n == 4                                  # vgg16 ran without a power meter
    across = found["power.architecture"]
    # full load: alexnet, resnet18, mobilenet-v2 at batch 16, resnet50 at batch 8 (16 ran out of memory)
    watts = (10.0, 11.0, 12.0, 11.5)
    mean = sum(watts) / 4                                                  # 11.125
    sample_std = math.sqrt(sum((w - mean) ** 2 for w in watts) / 3)        # ddof=1: 0.8539
    assert across.value == pytest.approx(sample_std / mean)                # 0.07676, not population 0.06647
    assert across.value == pytest.approx(0.0767562, abs=1e-6)
    assert across.figure("mean_w") == pytest.approx(11.125)
    assert across.holds is True and across.n == 4
    assert "11.8 ± 0.7" in across.paper_value


def test_power_across_networks_is_taken_at_full_load(points):
    # an under-used device draws less at batch 1 (the paper's AlexNet, Figure 4): that must not count
    idle_at_1 = {"alexnet": 3.0, "resnet18": 9.0, "resnet50": 4.0, "mobilenet-v2": 8.0}
    low = [replace(p, net_w=idle_at_1[p.model]) if p.batch == 1 and p.net_w is not None else p for p in points]
    across = by_key(check_findings(low))["power.architecture"]
    assert across.value == pytest.approx(0.0767562, abs=1e-6) and across.holds is True


def test_memory_floor_and_slope_are_the_synthetic_law_at_batch_1(points):
    found = by_key(check_findings(points))
    floor, slope = found["memory.floor"], found["memory.slope"]
    floor_mb = (synth.FLOOR_BYTES + synth.ACTIVATION_BYTES_PER_IMAGE * 1) / 1e6     # 210 MB
    assert floor.value == pytest.approx(floor_mb, rel=1e-6)
    assert slope.value == pytest.approx(synth.WEIGHT_SLOPE, rel=1e-6)
    assert floor.figure("r2") == pytest.approx(1.0, abs=1e-9)
    assert floor.holds is True and slope.holds is True
    assert floor.n == slope.n == 5                       # memory needs no power meter: vgg16 counts
    assert floor.paper_value == 200.0 and slope.paper_value == 1.30


def test_operations_predict_time_per_image_at_every_batch_size(points):
    found = by_key(check_findings(points))
    assert [k for k in found if k.startswith("operations")] == [f"operations.time@b{b}" for b in synth.BATCHES]
    for b in synth.BATCHES:
        f = found[f"operations.time@b{b}"]
        # time per image = MS_PER_GMAC · GMACs + INTERCEPT_MS / b
        assert f.value == pytest.approx(1.0, abs=1e-9) and f.holds is True
        assert f.figure("slope_ms_per_gmac") == pytest.approx(synth.MS_PER_GMAC)
        assert f.figure("intercept_ms") == pytest.approx(synth.INTERCEPT_MS / b, abs=1e-9)
        assert f.n == (4 if b == 16 else 5)              # resnet50 ran out of memory at 16


def test_accuracy_bound_runs_through_the_pareto_frontier(points):
    found = by_key(check_findings(points))
    bound = found["accuracy.bound"]
    top1 = {p.model: p.top1 for p in points}
    models = {m.name: m for m in synth.MODELS}
    # full load: each network's highest throughput — resnet50 at batch 8, the others at batch 16
    fps = {name: 1000 * b / synth.latency_ms(models[name], b)
           for name, b in (("alexnet", 16), ("resnet18", 16), ("resnet50", 8), ("mobilenet-v2", 16), ("vgg16", 16))}
    # mobilenet-v2 is the fastest, resnet50 the most accurate; every other network is beaten by one of them
    slope = (top1["mobilenet-v2"] - top1["resnet50"]) / (fps["mobilenet-v2"] - fps["resnet50"])
    assert bound.value == pytest.approx(slope) and slope < 0
    assert bound.figure("frontier_size") == 2
    intercept = top1["resnet50"] - slope * fps["resnet50"]
    assert bound.figure("intercept") == pytest.approx(intercept)
    assert all(top1[m] <= bound.figure("intercept") + slope * fps[m] + 1e-9 for m in fps)
    # two frontier networks make an exact line: not judged (the line is still given, for Figure 9)
    assert bound.holds is None and bound.n == 2 and bound.verdict == "not enough points (n=2, needs 3)"
    assert "2 on the frontier" in bound.detail and bound.runs == (1, 2, 3, 4, 5)


def test_hyperbola_recovers_accuracy_a_plus_b_over_time():
    times = (2.0, 4.0, 8.0, 16.0, 32.0)          # ms per image
    pts = [point(f"net{i}", 1, 80.0 - 20.0 / t, t) for i, t in enumerate(times)]
    found = by_key(check_findings(pts))
    hyperbola = found["accuracy.hyperbola"]
    assert hyperbola.figure("a") == pytest.approx(80.0) and hyperbola.figure("b") == pytest.approx(-20.0)
    assert hyperbola.value == pytest.approx(1.0) and hyperbola.holds is True
    # the same law is linear in throughput: top-1 = 80 − 0.02 · fps, and every network is on the frontier
    bound = found["accuracy.bound"]
    assert bound.value == pytest.approx(-0.02) and bound.figure("frontier_size") == 5
    assert bound.figure("frontier_r2") == pytest.approx(1.0) and bound.holds is True


def test_the_bound_ignores_networks_below_the_frontier():
    frontier = [point("a", 1, 80.0, 10.0), point("b", 1, 75.0, 5.0), point("c", 1, 70.0, 2.5)]   # 100, 200, 400 fps
    below = [point("d", 1, 60.0, 8.0), point("e", 1, 50.0, 4.0)]
    bound = by_key(check_findings(frontier + below))["accuracy.bound"]
    assert bound.figure("frontier_size") == 3
    # least squares through (100, 80), (200, 75), (400, 70): slope −1500 / 46,666.7 = −9/280, intercept 82.5,
    # R² 1 − 1.786/50 = 0.964; raised by the largest residual, 5/7 at 100 fps
    slope = bound.value
    assert slope == pytest.approx(-9 / 280)
    assert bound.figure("frontier_r2") == pytest.approx(1 - (25 / 14) / 50) and bound.holds is True
    assert bound.figure("intercept") == pytest.approx(82.5 + 5 / 7)
    assert all(p.top1 <= bound.figure("intercept") + slope * p.throughput_per_s + 1e-9 for p in frontier + below)


# --- noisy data: the findings do not hold -----------------------------------------------------------

def test_power_that_varies_with_batch_size_or_network_does_not_hold(points):
    wobble = {1: 0.6, 2: 1.0, 4: 1.4, 8: 0.8, 16: 1.2}          # sample CV of these factors: sqrt(0.1) = 0.316
    noisy = [replace(p, net_w=p.net_w * wobble[p.batch]) if p.net_w is not None else p for p in points]
    batch = by_key(check_findings(noisy))["power.batch"]
    assert batch.value == pytest.approx(math.sqrt(0.1)) and batch.holds is False

    spread = {"alexnet": 5.0, "resnet18": 11.0, "resnet50": 20.0, "mobilenet-v2": 8.0}
    apart = [replace(p, net_w=spread[p.model]) if p.net_w is not None else p for p in points]
    found = by_key(check_findings(apart))
    assert found["power.batch"].holds is True
    mean = 11.0
    cv = math.sqrt(sum((w - mean) ** 2 for w in spread.values()) / 3) / mean
    assert found["power.architecture"].value == pytest.approx(cv) and cv > 0.10
    assert found["power.architecture"].holds is False


def test_memory_unrelated_to_weights_does_not_hold(points):
    scrambled = {"alexnet": 300e6, "resnet18": 900e6, "resnet50": 250e6, "mobilenet-v2": 800e6, "vgg16": 400e6}
    noisy = [replace(p, peak_rss_bytes=int(scrambled[p.model])) if p.batch == 1 else p for p in points]
    found = by_key(check_findings(noisy))
    assert found["memory.floor"].figure("r2") < 0.9
    assert found["memory.floor"].holds is False and found["memory.slope"].holds is False


def test_time_unrelated_to_operations_does_not_hold(points):
    scrambled = {"alexnet": 40.0, "resnet18": 3.0, "resnet50": 12.0, "mobilenet-v2": 25.0, "vgg16": 9.0}
    noisy = [replace(p, latency_per_image_ms=scrambled[p.model]) if p.batch == 1 and p.ok else p for p in points]
    found = by_key(check_findings(noisy))
    assert found["operations.time@b1"].value < 0.9 and found["operations.time@b1"].holds is False
    assert found["operations.time@b16"].holds is True          # the other batch sizes keep the law


def test_no_trade_off_when_one_network_is_fastest_and_most_accurate():
    pts = [point("best", 1, 80.0, 1.0), point("b", 1, 70.0, 5.0), point("c", 1, 60.0, 2.0), point("d", 1, 65.0, 10.0),
           point("e", 1, 50.0, 20.0)]
    found = by_key(check_findings(pts))
    assert found["accuracy.bound"].holds is False and found["accuracy.bound"].value is None
    assert "no accuracy–speed trade-off" in found["accuracy.bound"].detail
    # faster networks are the more accurate here: b > 0, the paper's hyperbola does not hold
    assert found["accuracy.hyperbola"].figure("b") > 0 and found["accuracy.hyperbola"].holds is False


# --- missing data: holds is None, never an exception ------------------------------------------------

def test_no_power_meter_leaves_power_undecided(points):
    unpowered = [replace(p, net_w=None, gross_w=None) for p in points]
    found = by_key(check_findings(unpowered))
    for key in ("power.batch", "power.architecture"):
        assert found[key].holds is None and found[key].value is None
        assert "no net power measured" in found[key].detail


def test_fewer_than_three_networks_leave_every_finding_undecided(points):
    two = [p for p in points if p.model in ("alexnet", "resnet18")]
    findings = check_findings(two)
    assert findings and all(f.holds is None for f in findings)
    assert all(f.verdict.startswith("not enough points (n=") for f in findings)
    assert all("not enough points" in f.detail or "no net power" in f.detail for f in findings)
    assert {f.n for f in findings} <= {0, 2}


def test_unknown_accuracy_and_unknown_operations_leave_their_findings_undecided(points):
    blind = [replace(p, top1=None, macs_per_image=None) for p in points]
    found = by_key(check_findings(blind))
    for key in ("accuracy.bound", "accuracy.hyperbola"):
        assert found[key].holds is None and "5 with unknown accuracy" in found[key].detail
    assert found["operations.time"].holds is None and "operation counts unknown" in found["operations.time"].detail
    assert found["memory.slope"].holds is True           # memory needs neither


def test_nothing_at_all():
    findings = check_findings([])
    assert {f.key for f in findings} == {"power.batch", "power.architecture", "memory.floor", "memory.slope",
                                         "operations.time", "accuracy.bound", "accuracy.hyperbola"}
    assert all(f.holds is None and f.n == 0 for f in findings)


# --- rendering --------------------------------------------------------------------------------------

def test_table_and_markdown_carry_every_finding(points):
    findings = check_findings(points)
    table = findings_table(findings)
    assert [c.header for c in table.columns] == ["finding", "here", "paper (TX1)", "holds"]
    assert len(table.rows) == len(findings)
    console = Console(record=True, width=400)
    console.print(table)
    text = console.export_text()
    assert "power.architecture" in text and "0.07676" in text and "yes" in text

    markdown = findings_markdown(findings)
    lines = markdown.strip().splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |"
    assert len(lines) == len(findings) + 2
    assert lines[2].startswith("| power.batch | power is independent of batch size |")
    row = next(line for line in lines if line.startswith("| memory.slope "))
    assert "| 1.3 | 1.3 | yes | 5 | 1–5 |" in row


def test_markdown_escapes_pipes_and_shows_undecided():
    odd = Finding("x", "a | b", "s", None, "p", None, "left | right", 0)
    line = findings_markdown([odd]).splitlines()[2]
    assert line == "| x | a \\| b | s | - | p | not enough points (n=0) | 0 | - | left \\| right |"
    console = Console(record=True, width=200)
    console.print(findings_table([replace(odd, detail="[bold]not markup[/]")]))
    assert "[bold]not markup[/]" in console.export_text()


# --- enough points to judge --------------------------------------------------------------------------

def test_a_fit_through_too_few_points_is_not_judged():
    # three networks on an exact line: R² = 1, but three points do not make a line trustworthy (needs 4)
    pts = [point(f"n{i}", 1, None, 2.0 * g + 1.0, macs=g * 1e9, weight_bytes=int(w), peak_rss_bytes=int(1e8 + 2 * w))
           for i, (g, w) in enumerate(((1.0, 4e6), (2.0, 8e6), (4.0, 2e7)))]
    found = by_key(check_findings(pts))
    for key in ("operations.time@b1", "memory.floor", "memory.slope"):
        assert found[key].holds is None and found[key].verdict == "not enough points (n=3, needs 4)", key
    four = pts + [point("n3", 1, None, 17.0, macs=8e9, weight_bytes=40_000_000, peak_rss_bytes=int(1e8 + 8e7))]
    found = by_key(check_findings(four))
    assert found["operations.time@b1"].holds is True and found["operations.time@b1"].verdict == "yes"
    assert found["memory.slope"].holds is True and found["memory.slope"].needed == 4


def test_power_over_two_batch_sizes_is_not_enough_for_a_cv(points):
    two_sizes = [p for p in points if p.batch in (1, 2)]
    batch = by_key(check_findings(two_sizes))["power.batch"]
    assert batch.holds is None and batch.verdict == "not enough points (n=0, needs 3)"
    assert "3 or more batch sizes" in batch.detail


def test_a_hyperbola_through_four_networks_is_not_judged():
    times = (2.0, 4.0, 8.0, 16.0)
    found = by_key(check_findings([point(f"net{i}", 1, 80.0 - 20.0 / t, t) for i, t in enumerate(times)]))
    hyperbola = found["accuracy.hyperbola"]
    assert hyperbola.value == pytest.approx(1.0) and hyperbola.holds is None
    assert hyperbola.verdict == "not enough points (n=4, needs 5)"
    assert found["accuracy.bound"].holds is True          # four networks on the frontier: judged


def test_negative_net_power_is_flagged_with_its_network_and_run(points):
    below_idle = [replace(p, net_w=-2.3, warnings=("negative measured net power (−2.30 W): gross below the idle "
                                                    "baseline, so the idle measurement or the meter is off",))
                  if p.model == "alexnet" and p.net_w is not None else p for p in points]
    found = by_key(check_findings(below_idle))
    for key in ("power.batch", "power.architecture"):
        assert found[key].warnings and all(w.startswith("alexnet at batch") for w in found[key].warnings), key
        assert "−2.30 W" in found[key].warnings[0]
    cells = dict(zip(COLUMNS, finding_cells(found["power.architecture"])))
    assert "warning: alexnet at batch 16 (run 1)" in cells["detail"]
    console = Console(record=True, width=300)
    console.print(findings_table([found["power.architecture"]]))
    assert "negative measured net power" in console.export_text()
    assert not by_key(check_findings(points))["power.batch"].warnings


def test_each_finding_names_its_runs(points):
    found = by_key(check_findings(points))
    assert found["memory.slope"].runs == (1, 2, 3, 4, 5)
    assert found["power.architecture"].runs == (1, 2, 3, 4)          # vgg16 (run 5) ran without a meter
    console = Console(record=True, width=400)
    console.print(findings_table([found["memory.slope"]]))
    assert "runs 1–5" in console.export_text()
