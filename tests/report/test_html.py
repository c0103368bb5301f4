"""The HTML report on the synthetic results (tests/synthetic_runs.py), parsed back with html.parser."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest

from onnxprof.predict.metrics import fit_quality
from onnxprof.report import html as report_html
from onnxprof.report.dataset import load_points
from onnxprof.report.figures import FIGURES, POWER_HINT, draw_all, draw_figure
from onnxprof.report.findings import COLUMNS, check_findings
from onnxprof.report.html import MISSING, render_html, write_html
from onnxprof.report.selection import Constraints
from onnxprof.store.db import Store
from tests import synthetic_runs as synth

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
WHEN = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
LIMITS = Constraints(min_fps=100, max_power_w=11.2)     # resnet18 and alexnet pass; the rest fail


@dataclass
class Table:
    section: str
    rows: list[list[str]] = field(default_factory=list)

    def records(self) -> list[dict[str, str]]:
        header, *body = self.rows
        return [dict(zip(header, row)) for row in body]

    def record(self, **match: str) -> dict[str, str]:
        found = [r for r in self.records() if all(r.get(k) == v for k, v in match.items())]
        assert len(found) == 1, (match, self.rows)
        return found[0]


class Page(HTMLParser):
    """Every tag with its attributes, the tables per section, and nesting errors."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.tables: list[Table] = []
        self.errors: list[str] = []
        self.open: list[str] = []
        self.section = ""
        self.cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag not in VOID:
            self.open.append(tag)
        if tag == "section":
            self.section = attrs.get("id", "")
        elif tag == "table":
            self.tables.append(Table(self.section))
        elif tag == "tr":
            self.tables[-1].rows.append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.open[-1] if self.open else 'nothing'}>")
            return
        self.open.pop()
        if tag in ("td", "th"):
            self.tables[-1].rows[-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "section":
            self.section = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)

    def in_section(self, section: str) -> list[Table]:
        return [t for t in self.tables if t.section == section]

    def named(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.tags if name == tag]


def parse(text: str) -> Page:
    page = Page(text)
    assert page.errors == [] and page.open == [], (page.errors, page.open)
    return page


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    with Store(str(tmp_path_factory.mktemp("store") / "r.sqlite")) as store:
        synth.fill(store)
        return load_points(store)


@pytest.fixture(scope="module")
def figures(points, tmp_path_factory):
    return draw_all(points, tmp_path_factory.mktemp("figures"), formats=("png",))


@pytest.fixture(scope="module")
def report(points, figures) -> str:
    return render_html(points, title="Synthetic bench", device={"GPU": "none", "CPU": "test cpu"},
                       constraints=LIMITS, figures=figures, generated=WHEN)


@pytest.fixture(scope="module")
def page(report) -> Page:
    return parse(report)


def ms(value: float) -> str:
    return f"{value:,.3f}"


# --- the document -----------------------------------------------------------------------------------

def test_the_report_is_one_well_formed_document_with_every_section(report, page):
    assert report.startswith("<!DOCTYPE html>")
    assert [a["id"] for a in page.named("section")] == ["models", "prediction", "findings", "selection", "figures"]
    assert [a["href"] for a in page.named("a")] == ["#models", "#prediction", "#findings", "#selection", "#figures"]
    assert {"meta", "style", "table", "figure"} <= {tag for tag, _ in page.tags}
    assert "<title>Synthetic bench</title>" in report


def test_nothing_is_fetched_from_elsewhere(report, page):
    assert not re.search(r"https?://", report)
    assert not {"script", "link", "iframe", "object"} & {tag for tag, _ in page.tags}
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith(("data:", "#")), (tag, name, value)
    assert "@import" not in report and "url(" not in report


def test_the_header_names_the_device(page):
    facts = dict(row for row in page.tables[0].rows)
    assert facts["hosts"] == "bench-1" and facts["engines"] == "onnxruntime"
    assert facts["providers"] == "cpu" and facts["precisions"] == "fp32"
    assert facts["networks"] == "5" and facts["batch sizes"] == "1, 2, 4, 8, 16"
    assert facts["GPU"] == "none" and facts["CPU"] == "test cpu"
    assert facts["generated"] == "2026-11-25 12:00:00+00:00"


# --- the tables -------------------------------------------------------------------------------------

def test_the_model_table_holds_the_synthetic_figures(page):
    (table,) = page.in_section("models")
    resnet18 = table.record(network="ResNet-18 (resnet18)")
    model, best = synth.MODELS[1], 16
    assert resnet18["family"] == "ResNet" and resnet18["top-1 %"] == "69.31"
    assert resnet18["parameters (M)"] == "11.69" and resnet18["G-MACs / image"] == "1.814"
    assert resnet18["latency / image (ms, batch 1)"] == ms(2.0 * 1.814 + 1.5) == "5.128"
    assert resnet18["memory (MB, batch 1)"] == f"{synth.memory_bytes(model, 1) / 1e6:,.1f}" == "270.8"
    assert resnet18["best batch"] == "16"
    assert resnet18["throughput (images/s)"] == f"{1000 * best / synth.latency_ms(model, best):,.1f}" == "268.7"
    assert resnet18["net power (W)"] == "11.00"
    assert resnet18["energy / image (J)"] == f"{(synth.IDLE_W + 11.0) * synth.latency_ms(model, best) / best / 1000:.4g}"
    assert resnet18["top-1 % / M params"] == f"{69.31 / 11.689512:.2f}"
    # resnet50 ran out of memory at 16: its best batch is 8
    assert table.record(network="ResNet-50 (resnet50)")["best batch"] == "8"
    assert len(table.records()) == len(synth.MODELS)


def css_rules() -> list[tuple[list[str], dict[str, str]]]:
    """The style sheet as (selectors, declarations)."""
    rules = []
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", report_html.CSS):
        declarations = dict(d.split(":", 1) for d in body.split(";") if ":" in d)
        rules.append(([s.strip() for s in selectors.split(",")],
                      {k.strip(): v.strip() for k, v in declarations.items()}))
    return rules


def test_tables_scroll_sideways_or_wrap_instead_of_being_clipped(report):
    # every table sits in a container that scrolls when the table is wider than the page ...
    assert report.count("<table") == report.count('<div class="wide"><table>') >= 5
    wide = [d for selectors, d in css_rules() if ".wide" in selectors]
    assert wide and all(d.get("overflow-x") == "auto" for d in wide)
    for selectors, declarations in css_rules():
        # ... nothing clips it or fixes a width in pixels ...
        assert declarations.get("overflow") not in ("hidden", "clip"), selectors
        assert declarations.get("overflow-x") in (None, "auto", "scroll"), selectors
        if any(re.search(r"\b(table|th|td|thead|tbody|tr)\b|\.wide|\.num", s) for s in selectors):
            assert not any(re.search(r"\d\s*px", declarations.get(k, "")) for k in ("width", "max-width")), selectors
        # ... and headers wrap: only numbers in cells stay on one line
        if declarations.get("white-space") == "nowrap":
            assert all(s.startswith("td") for s in selectors), selectors
    # the network's name stays in view while the numbers scroll
    assert any("td:first-child" in selectors and d.get("position") == "sticky" for selectors, d in css_rules())


def test_a_figure_without_power_says_what_would_fill_it_once(points):
    unmetered = [replace(p, net_w=None, gross_w=None, idle_w=None, energy_per_image_j=None,
                         net_energy_per_image_j=None) for p in points]
    text = render_html(unmetered, generated=WHEN)
    page = parse(text)
    alts = {attrs["alt"].split(".")[0]: attrs["alt"] for attrs in page.named("img")}
    for number in (4, 8):
        figure = re.search(rf'<figure id="figure-{number}">.*?</figure>', text, re.S).group(0)
        assert "<li>" not in figure                 # the image says it; the caption does not repeat it
        assert POWER_HINT in next(alt for heading, alt in alts.items() if heading.startswith(f"Figure {number}:"))
    assert text.count("no power measurements") == 2 and "no data" not in text


def test_missing_power_shows_a_dash(page):
    (table,) = page.in_section("models")
    vgg = table.record(network="VGG-16 (vgg16)")
    assert vgg["net power (W)"] == MISSING and vgg["energy / image (J)"] == MISSING
    assert vgg["latency / image (ms, batch 1)"] == ms(synth.latency_ms(synth.MODELS[4], 1))


def test_nothing_known_is_dashes_not_an_exception(points):
    blank = [replace(p, top1=None, parameters=None, macs_per_image=None, weight_bytes=None, latency_ms=None,
                     latency_per_image_ms=None, throughput_per_s=None, peak_rss_bytes=None, gpu_used_bytes=None,
                     gross_w=None, idle_w=None, net_w=None, energy_per_image_j=None,
                     net_energy_per_image_j=None, predicted_latency_ms=None) for p in points]
    page = parse(render_html(blank, constraints=LIMITS, figures=[]))
    (table,) = page.in_section("models")
    for record in table.records():
        assert [v for k, v in record.items() if k not in ("network", "family")] == [MISSING] * 10
    assert page.in_section("prediction") == []         # no table, a sentence
    parse(render_html([], constraints=LIMITS, figures=[]))


def test_predicted_against_measured_latency(page, points):
    summary, table = page.in_section("prediction")
    row = table.record(network="ResNet-18 (resnet18)", batch="1")
    assert row["predicted (ms)"] == ms(5.128 * 1.1) and row["measured (ms)"] == "5.128"
    assert row["error"] == "+10.0 %"
    oom = table.record(network="ResNet-50 (resnet50)", batch="16")
    assert oom["measured (ms)"] == "out of memory" and oom["error"] == MISSING
    compared = [p for p in points if p.ok]
    quality = fit_quality([p.predicted_latency_ms for p in compared], [p.latency_ms for p in compared])
    facts = dict(summary.rows)
    assert facts["compared"] == f"{len(compared)} batches of 5 networks"
    assert facts["within ±10 %"] == "100.0 %" and quality.share_within_10pct == 1.0
    assert facts["RMSPE"] == f"{100 * quality.rmspe:.1f} %" == "10.0 %"
    assert facts["Spearman ρ"] == f"{quality.spearman_rho:.3f}" == "1.000"


def test_an_error_beyond_ten_percent_is_marked(points):
    off = [replace(p, predicted_latency_ms=p.latency_ms * 1.5) if p.model == "vgg16" and p.ok else p for p in points]
    text = render_html(off, figures=[])
    (table,) = [t for t in parse(text).in_section("prediction") if t.rows[0][0] == "network"]
    assert table.record(network="VGG-16 (vgg16)", batch="4")["error"] == "+50.0 %"
    assert text.count('class="num off"') == sum(p.model == "vgg16" and p.ok for p in points)


def test_the_findings_are_an_html_table(page, points, report):
    (table,) = page.in_section("findings")
    assert tuple(table.rows[0]) == COLUMNS
    findings = check_findings(points)
    assert [r["finding"] for r in table.records()] == [f.key for f in findings]
    assert table.record(finding="memory.slope")["holds"] == "yes"
    assert "| ---" not in report


def test_the_selection_lists_chosen_rejected_and_unknown(page, points):
    (table,) = page.in_section("selection")
    assert table.record(network="ResNet-18 (resnet18)")["verdict"] == "best"
    assert table.record(network="AlexNet (alexnet)")["verdict"] == "runner-up"
    assert table.record(network="MobileNetV2 (mobilenet-v2)")["verdict"] == "fails: 11.5 W > 11.2 W net at batch 16"
    unknown = parse(render_html(points, constraints=Constraints(max_power_w=50), figures=[]))
    (table,) = unknown.in_section("selection")
    assert table.record(network="VGG-16 (vgg16)")["verdict"].startswith("unknown: no net power measured")


def test_no_constraints_no_selection(points):
    page = parse(render_html(points, figures=[]))
    assert "selection" not in [a["id"] for a in page.named("section")]


def test_several_set_ups_get_a_column(tmp_path):
    with Store(str(tmp_path / "r.sqlite")) as store:
        synth.fill(store, synth.MODELS[:2])
        store.save_run(synth.record(synth.MODELS[1], hostname="jetson"))
        points = load_points(store)
    (table,) = parse(render_html(points, figures=[])).in_section("models")
    assert table.rows[0][:2] == ["network", "set-up"]
    assert {r["set-up"] for r in table.records() if r["network"] == "ResNet-18 (resnet18)"} == {
        "onnxruntime/cpu/fp32 on bench-1", "onnxruntime/cpu/fp32 on jetson"}


# --- escaping ---------------------------------------------------------------------------------------

def test_names_from_files_are_escaped(points):
    evil = '<script>alert("x")</script>'
    renamed = [replace(p, model=evil, title=evil, family=evil) if p.model == "resnet18" else p for p in points]
    text = render_html(renamed, title="<b>A & B</b>", device={"<i>gpu</i>": "<img src=x>"}, constraints=LIMITS,
                       figures=[])
    page = parse(text)
    assert "<script" not in text.lower() and "<b>" not in text and "<i>" not in text and "<img" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "<title>&lt;b&gt;A &amp; B&lt;/b&gt;</title>" in text
    (table,) = page.in_section("models")
    assert table.record(network=evil)["family"] == evil          # the text survives the escaping
    assert dict(page.tables[0].rows)["<i>gpu</i>"] == "<img src=x>"


# --- the figures ------------------------------------------------------------------------------------

def test_every_figure_is_embedded_as_a_png(page, figures):
    images = page.named("img")
    assert len(images) == len(figures) == len(FIGURES)
    for attrs, figure in zip(images, figures):
        prefix = "data:image/png;base64,"
        assert attrs["src"].startswith(prefix)
        data = base64.b64decode(attrs["src"][len(prefix):], validate=True)
        assert data[:8] == PNG_MAGIC and data == figure.paths[0].read_bytes()
        assert attrs["alt"] == f"Figure {figure.number}: {figure.title}"


def test_figure_notes_are_captions(report, figures):
    notes = [n for f in figures for n in f.notes]
    assert "no power measured: VGG-16" in notes
    for note in notes:
        assert f"<li>{note}</li>" in report


def test_figures_are_drawn_into_a_temporary_folder_when_not_given(points, monkeypatch):
    calls = []

    def one_figure(points, out_dir, formats):
        calls.append((out_dir, formats))
        return [draw_figure(1, points, out_dir, formats)]

    monkeypatch.setattr(report_html, "draw_all", one_figure)
    text = render_html(points, figure_format="svg")
    ((folder, formats),) = calls
    assert formats == ("svg",) and not folder.exists()
    (image,) = parse(text).named("img")
    prefix = "data:image/svg+xml;base64,"
    assert image["src"].startswith(prefix)
    assert b"<svg" in base64.b64decode(image["src"][len(prefix):])
    with pytest.raises(ValueError):
        render_html(points, figure_format="pdf")


def test_write_html(points, figures, tmp_path):
    path = write_html(points, tmp_path / "out" / "report.html", figures=figures, generated=WHEN)
    assert path == tmp_path / "out" / "report.html"
    assert path.read_text(encoding="utf-8") == render_html(points, figures=figures, generated=WHEN)


def test_a_prediction_says_where_it_came_from_and_a_first_guess_is_called_one(points):
    calibrated = [replace(p, predicted_source="calibrated profile lab (held-out error 7 %)", predicted_calibrated=True)
                  for p in points]
    text = render_html(calibrated, figures=[])
    (table,) = [t for t in parse(text).in_section("prediction") if t.rows[0][0] == "network"]
    assert table.record(network="ResNet-18 (resnet18)", batch="1")["prediction from"] == \
        "calibrated profile lab (held-out error 7 %)"
    assert "first guesses" not in text
    guessed = [replace(p, predicted_source="uncalibrated first guess", predicted_warnings=("batch 64 extrapolated",))
               if p.model == "vgg16" else replace(p, predicted_calibrated=True) for p in points]
    text = render_html(guessed, figures=[])
    (table,) = [t for t in parse(text).in_section("prediction") if t.rows[0][0] == "network"]
    assert table.record(network="VGG-16 (vgg16)", batch="4")["prediction from"] == \
        "uncalibrated first guess; batch 64 extrapolated"
    shown = sum(p.model == "vgg16" and p.predicted_latency_ms is not None for p in points)
    assert f"{shown} of these predictions are uncalibrated first guesses" in text
