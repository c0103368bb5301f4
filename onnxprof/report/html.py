"""The whole report as one self-contained HTML file: ``onnxprof report html -o report.html``.

Sections, in order: a header (title, when generated, the device: hosts, engines, providers and
precisions of the points plus whatever the caller knows in ``device``), the per-model table, predicted
vs measured latency, the paper's findings (:mod:`onnxprof.report.findings`), the selection under the
caller's limits (:mod:`onnxprof.report.selection`, only when ``constraints`` are given) and the paper's
figures (:mod:`onnxprof.report.figures`).

The file needs nothing but itself: the CSS is a ``<style>`` block, the figures are ``data:`` URIs (PNG,
or SVG with ``figure_format="svg"``), and there is no script, font or link to fetch. Every text that
comes from data (model names, notes, reasons, the title) goes through :func:`html.escape`. A figure that
was not measured is shown as "–", never as an error.

Tables are never clipped: each sits in a ``div.wide`` that scrolls sideways (``overflow-x: auto``) when
the table is wider than the page, with the first column (the network) kept in view; headers wrap, and
only numbers do not. A figure's notes are its caption, except those the image says in its middle (a
figure or panel without data says once what would fill it; the image's alt text says it too).

Per-model table, one row per network and set-up (engine, provider, precision, host; the set-up gets its
own column when the points mix several):

* memory and latency per image are at batch 1 ("–" when batch 1 did not run);
* throughput, net power and energy per image are at the network's best batch: the successful batch
  with the highest throughput (ties: the smaller batch), named in the "best batch" column;
* memory is ``BatchPoint.memory_bytes`` (the GPU's where measured, else the process's peak RSS), in MB
  of 10^6 bytes; energy per image is gross (what the device draws), in J.
"""

from __future__ import annotations

import base64
import html
import math
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Collection, Iterable, Mapping, Optional, Sequence, Union

from onnxprof.predict.metrics import fit_quality
from onnxprof.report.dataset import BatchPoint
from onnxprof.report.figures import FigureResult, draw_all
from onnxprof.report.findings import COLUMNS as FINDING_COLUMNS, check_findings, finding_cells
from onnxprof.report.selection import Candidate, Constraints, select_models

MISSING = "–"                  # en dash: a figure that was not measured or is not known
TOLERANCE = 0.10               # predictions within ±10 % count as good (the calibration target)
FIGURE_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:1280px;
margin:1.5em auto;padding:0 1em}
h1{margin:0 0 .2em}h2{margin-top:2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
nav a{margin-right:1em}
.wide{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.6em 0;font-size:13px}
th,td{padding:.3em .5em;text-align:left;vertical-align:top}
thead th{background:#eef0f3;border-bottom:2px solid #999;vertical-align:bottom;font-size:12px;min-width:5em}
tbody td{background:#fff}tbody tr:nth-child(even) td{background:#f6f7f9}
tbody+tbody{border-top:2px solid #bbb}
th:first-child,td:first-child{position:sticky;left:0;z-index:1}
.num{text-align:right;font-variant-numeric:tabular-nums}td.num{white-space:nowrap}
.yes{color:#1a7f37;font-weight:600}.no,.off{color:#c62828;font-weight:600}.unknown{color:#9a6700}
.note{color:#555;font-size:13px}td.name{font-weight:600;color:#444}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #e4e4e4}
figcaption{font-size:13px;color:#333}figcaption ul{margin:.3em 0}
""".strip()

Setup = tuple[str, str, str, str]           # engine, provider, precision, host


@dataclass(frozen=True)
class Cell:
    """A table cell with a CSS class (``yes``, ``off`` ...); plain strings are cells without one."""
    text: str
    cls: str = ""


Row = Sequence[Union[str, Cell]]


# ---------------------------------------------------------------- small builders

def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _element(tag: str, inner_html: str, cls: str = "", id: str = "") -> str:
    """``<tag id class>inner</tag>``; ``inner_html`` is markup already (escape text with ``_esc``)."""
    attrs = (f' id="{_esc(id)}"' if id else "") + (f' class="{_esc(cls)}"' if cls else "")
    return f"<{tag}{attrs}>{inner_html}</{tag}>"


def _paragraph(text: str, cls: str = "") -> str:
    return _element("p", _esc(text), cls)


def _table(headers: Sequence[str], groups: Iterable[Sequence[Row]], numeric: Collection[int] = ()) -> str:
    """A table, numeric columns right-aligned; each group of rows is its own ``<tbody>``."""
    def cell(tag: str, column: int, value: Union[str, Cell]) -> str:
        value = value if isinstance(value, Cell) else Cell(value)
        classes = " ".join(c for c in ("num" if column in numeric else "", value.cls) if c)
        return _element(tag, _esc(value.text), classes)

    def row(tag: str, cells: Row) -> str:
        return _element("tr", "".join(cell(tag, i, v) for i, v in enumerate(cells)))

    head = _element("thead", row("th", headers)) if headers else ""
    bodies = "".join(_element("tbody", "\n".join(row("td", r) for r in rows)) for rows in groups if rows)
    return _element("div", _element("table", head + bodies), "wide")


def _facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A two-column table of name and value."""
    return _table((), [[(Cell(name, "name"), value) for name, value in pairs]])


def _fmt(value: Optional[float], spec: str, divide: float = 1.0) -> str:
    """``value / divide`` in ``spec``; "–" for None or not finite."""
    if value is None or not math.isfinite(value):
        return MISSING
    return format(value / divide, spec)


def _percent(fraction: Optional[float]) -> str:
    return MISSING if fraction is None or not math.isfinite(fraction) else f"{100 * fraction:.1f} %"


def _label(title: str, model: str) -> str:
    return title if title == model else f"{title} ({model})"


def _join(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in sorted(set(values), key=str)) or MISSING


# ---------------------------------------------------------------- grouping

def _setup(point: BatchPoint) -> Setup:
    return point.engine, point.provider, point.precision, point.hostname


def _setup_text(setup: Setup) -> str:
    engine, provider, precision, host = setup
    return f"{engine}/{provider}/{precision} on {host}"


def _groups(points: Sequence[BatchPoint]) -> dict[tuple[str, Setup], list[BatchPoint]]:
    """Points per (model, set-up) in first-seen order, each sorted by batch size."""
    groups: dict[tuple[str, Setup], list[BatchPoint]] = {}
    for point in points:
        groups.setdefault((point.model, _setup(point)), []).append(point)
    return {key: sorted(group, key=lambda p: p.batch) for key, group in groups.items()}


def _lead(several: bool, setup: Setup, point: BatchPoint) -> list[str]:
    """The first cells of a row: the network, and the set-up when the points mix several."""
    return [_label(point.title, point.model)] + ([_setup_text(setup)] if several else [])


# ---------------------------------------------------------------- sections

def _header(title: str, points: Sequence[BatchPoint], device: Mapping[str, str], generated: datetime) -> str:
    facts = [("generated", generated.isoformat(sep=" ", timespec="seconds")),
             ("hosts", _join(p.hostname for p in points)), ("engines", _join(p.engine for p in points)),
             ("providers", _join(p.provider for p in points)), ("precisions", _join(p.precision for p in points)),
             ("networks", str(len({p.model for p in points}))), ("runs", str(len({p.run_id for p in points}))),
             ("batch sizes", ", ".join(str(b) for b in sorted({p.batch for p in points})) or MISSING)]
    facts += [(str(name), str(value)) for name, value in device.items()]
    return _element("header", _element("h1", _esc(title)) + _facts(facts))


MODEL_COLUMNS = ("network", "family", "top-1 %", "parameters (M)", "G-MACs / image", "memory (MB, batch 1)",
                 "latency / image (ms, batch 1)", "throughput (images/s)", "best batch", "net power (W)",
                 "energy / image (J)", "top-1 % / M params")


def _model_row(several: bool, setup: Setup, points: Sequence[BatchPoint]) -> list[str]:
    facts = points[0]
    first = next((p for p in points if p.batch == 1 and p.ok), None)
    best = max((p for p in points if p.ok and p.throughput_per_s), key=lambda p: p.throughput_per_s, default=None)
    return _lead(several, setup, facts) + [
        facts.family, _fmt(facts.top1, ".2f"), _fmt(facts.parameters, ",.2f", 1e6),
        _fmt(facts.macs_per_image, ",.3f", 1e9),
        _fmt(first and first.memory_bytes, ",.1f", 1e6), _fmt(first and first.latency_per_image_ms, ",.3f"),
        _fmt(best and best.throughput_per_s, ",.1f"), str(best.batch) if best else MISSING,
        _fmt(best and best.net_w, ".2f"), _fmt(best and best.energy_per_image_j, ".4g"),
        _fmt(facts.top1_per_mparams, ".2f")]


def _models(groups: Mapping[tuple[str, Setup], Sequence[BatchPoint]], several: bool) -> str:
    if not groups:
        return _paragraph("No measurements.")
    headers = [*MODEL_COLUMNS[:1], *(["set-up"] if several else []), *MODEL_COLUMNS[1:]]
    rows = [_model_row(several, setup, points) for (_, setup), points in groups.items()]
    note = ("Memory and latency per image at batch 1; throughput, net power (gross − idle) and energy per image "
            "(gross) at the best batch, the one with the highest throughput. Memory is the GPU's where measured, "
            f"else the process's peak; MB are 10^6 bytes. {MISSING}: not measured or not known.")
    return _table(headers, [rows], numeric=range(2 + several, len(headers))) + _paragraph(note, "note")


def _status(point: BatchPoint) -> str:
    return point.status.replace("_", " ")


def _prediction(groups: Mapping[tuple[str, Setup], Sequence[BatchPoint]], several: bool) -> str:
    rows, predicted, measured, networks, guesses = [], [], [], set(), 0
    for (model, setup), points in groups.items():
        for p in points:
            if p.predicted_latency_ms is None and p.latency_ms is None:
                continue
            error = None
            if p.ok and p.predicted_latency_ms is not None and p.latency_ms:
                predicted.append(p.predicted_latency_ms)
                measured.append(p.latency_ms)
                networks.add((model, setup))
                error = p.predicted_latency_ms / p.latency_ms - 1
            if p.predicted_latency_ms is not None and not p.predicted_calibrated:
                guesses += 1
            rows.append(_lead(several, setup, p) + [
                str(p.batch), _fmt(p.predicted_latency_ms, ",.3f"),
                _fmt(p.latency_ms, ",.3f") if p.ok else _status(p),
                Cell(MISSING if error is None else f"{100 * error:+.1f} %",
                     "off" if error is not None and abs(error) > TOLERANCE * (1 + 1e-12) else ""),
                "; ".join((p.predicted_source or MISSING, *p.predicted_warnings))])
    if not predicted:
        return _paragraph("No latency predictions stored with these runs.")
    quality = fit_quality(predicted, measured, TOLERANCE)
    summary = _facts([("compared", f"{quality.n} batches of {len(networks)} networks"),
                      (f"within ±{100 * TOLERANCE:.0f} %", _percent(quality.share_within_10pct)),
                      ("RMSPE", _percent(quality.rmspe)),
                      ("Spearman ρ", _fmt(quality.spearman_rho, ".3f")),
                      ("R²", _fmt(quality.r_squared, ".3f"))])
    headers = ["network", *(["set-up"] if several else []), "batch", "predicted (ms)", "measured (ms)", "error",
               "prediction from"]
    note = (f"Latency of one batch as measure predicted it before running, against the median measured; "
            f"error = predicted / measured − 1, marked beyond ±{100 * TOLERANCE:.0f} %.")
    if guesses:
        note += (f" {guesses} of these predictions are uncalibrated first guesses from this machine's speed: "
                 "expect errors of tens of percent until `onnxprof calibrate` has fitted a profile here.")
    return summary + _table(headers, [rows], numeric=range(1 + several, len(headers))) + _paragraph(note, "note")


def _findings(points: Sequence[BatchPoint]) -> str:
    holds_column = FINDING_COLUMNS.index("holds")
    classes = {True: "yes", False: "no", None: "unknown"}
    rows = []
    for finding in check_findings(points):
        cells: list[Union[str, Cell]] = [MISSING if c == "-" else c for c in finding_cells(finding)]
        cells[holds_column] = Cell(cells[holds_column], classes[finding.holds])
        rows.append(cells)
    numeric = {FINDING_COLUMNS.index(c) for c in ("value", "n")}
    note = ("The findings of Canziani, Paszke & Culurciello (2016) on a Jetson TX1, checked on these "
            "measurements; the TX1's figures are in the paper column.")
    return _paragraph(note, "note") + _table(FINDING_COLUMNS, [rows], numeric)


SELECTION_COLUMNS = ("#", "network", "batch", "top-1 %", "images/s", "net power (W)", "net energy / image (J)",
                     "memory (MB)", "source", "run", "verdict")


def _candidate_row(rank: str, candidate: Candidate, verdict: str, cls: str) -> list[Union[str, Cell]]:
    c = candidate
    return [rank, _label(c.title, c.model), str(c.batch), _fmt(c.top1, ".2f"), _fmt(c.throughput_per_s, ",.1f"),
            _fmt(c.net_w, ".2f"), _fmt(c.net_energy_per_image_j, ".4g"), _fmt(c.memory_mb, ",.1f"), c.source,
            MISSING if c.run_id is None else str(c.run_id), Cell(verdict, cls)]


def _selection(points: Sequence[BatchPoint], constraints: Constraints) -> str:
    selection = select_models(points, constraints)
    chosen = [_candidate_row(str(rank), c, "best" if rank == 1 else "runner-up", "yes")
              for rank, c in enumerate(selection.chosen, 1)]
    rejected = [_candidate_row("", c, "fails: " + "; ".join(c.reasons), "no") for c in selection.rejected]
    unknown = [_candidate_row("", c, "unknown: " + "; ".join(c.reasons), "unknown") for c in selection.unknown]
    best = selection.best
    summary = (f"Best top-1 within {constraints.describe()}: "
               + (_label(best.title, best.model) + f" at batch {best.batch}" if best else "no model meets every limit")
               + f". {len(chosen)} chosen, {len(rejected)} rejected, {len(unknown)} unknown.")
    numeric = {0, *range(2, 8)}
    return _paragraph(summary) + _table(SELECTION_COLUMNS, [chosen, rejected, unknown], numeric)


def _embeddable(paths: Sequence[Path], preferred: str) -> Optional[Path]:
    """The figure's file in the preferred format, else in the other one a browser shows inline."""
    by_format = {Path(p).suffix.lstrip(".").lower(): Path(p) for p in paths}
    return next((by_format[f] for f in (preferred, *FIGURE_FORMATS) if f in by_format), None)


def _figure(figure: FigureResult, preferred: str) -> str:
    heading = f"Figure {figure.number}: {figure.title}"
    path = _embeddable(figure.paths, preferred)
    if path is None:
        image = _paragraph("(no PNG or SVG file of this figure to embed)", "note")
    else:
        mime = FIGURE_FORMATS[path.suffix.lstrip(".").lower()]
        payload = base64.b64encode(path.read_bytes()).decode("ascii")
        alt = ". ".join((heading, *figure.empty))
        image = f'<img src="data:{mime};base64,{payload}" alt="{_esc(alt)}">'
    said = figure.empty if path is not None else ()                 # what the image says in its middle
    below = [n for n in figure.notes if n not in said]
    notes = _element("ul", "".join(_element("li", _esc(n)) for n in below)) if below else ""
    caption = _element("figcaption", _element("strong", _esc(heading)) + notes)
    return _element("figure", image + caption, id=f"figure-{figure.number}")


def _figures(points: Sequence[BatchPoint], figures: Optional[Sequence[FigureResult]], preferred: str) -> str:
    if figures is None:
        with tempfile.TemporaryDirectory(prefix="onnxprof-figures-") as folder:
            return _figures(points, draw_all(points, Path(folder), formats=(preferred,)), preferred)
    return "\n".join(_figure(f, preferred) for f in figures) or _paragraph("No figures.")


# ---------------------------------------------------------------- public API

_NO_DEVICE: Mapping[str, str] = MappingProxyType({})


def render_html(points: Iterable[BatchPoint], title: str = "onnxprof report", device: Mapping[str, str] = _NO_DEVICE,
                constraints: Optional[Constraints] = None, figures: Optional[Sequence[FigureResult]] = None, *,
                figure_format: str = "png", generated: Optional[datetime] = None) -> str:
    """The report as one HTML document.

    ``device``: facts the points do not carry (CPU, GPU, driver ...), shown in the header in order.
    ``constraints``: adds the selection section. ``figures``: figures drawn already (their files must
    still exist; a PNG or SVG of each is embedded); None draws them into a temporary folder, in
    ``figure_format`` ("png" or "svg"). ``generated``: the time shown (default: now, local time)."""
    if figure_format not in FIGURE_FORMATS:
        raise ValueError(f"figure_format must be one of {', '.join(FIGURE_FORMATS)}, not {figure_format!r}")
    points = list(points)
    groups = _groups(points)
    several = len({_setup(p) for p in points}) > 1
    sections = [("models", "Networks", _models(groups, several)),
                ("prediction", "Predicted vs measured latency", _prediction(groups, several)),
                ("findings", "The paper's findings", _findings(points))]
    if constraints is not None:
        sections.append(("selection", "Selection", _selection(points, constraints)))
    sections.append(("figures", "Figures", _figures(points, figures, figure_format)))
    nav = _element("nav", " ".join(f'<a href="#{id}">{_esc(heading)}</a>' for id, heading, _ in sections))
    body = "\n".join([_header(title, points, device, generated or datetime.now().astimezone()), nav,
                      *(_element("section", _element("h2", _esc(heading)) + "\n" + inner, id=id)
                        for id, heading, inner in sections)])
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{_esc(title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def write_html(points: Iterable[BatchPoint], path: Path, **kwargs) -> Path:
    """Write :func:`render_html` of ``points`` (``kwargs`` as there) to ``path``, UTF-8; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(points, **kwargs), encoding="utf-8")
    return path
