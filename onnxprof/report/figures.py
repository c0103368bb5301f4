"""The ten figures of Canziani, Paszke & Culurciello (2016), *An Analysis of Deep Neural Network Models
for Practical Applications*, drawn from measured results (``BatchPoint`` rows, see ``dataset.py``).

===  =======================  ==============================================================================
 #   name                     what it shows
===  =======================  ==============================================================================
 1   top1-per-network         Top-1 accuracy per network, bars in ascending order.
 2   top1-vs-operations       Top-1 vs G-ops (MACs per image); blob area ∝ parameters, size legend 5M…155M.
 3   time-vs-batch            Time per image (ms) vs batch size, log–log, a line per network.
 4   power-vs-batch           Net power (W: gross − idle) vs batch size.
 5   memory-vs-batch          Memory (MB) vs batch size.
 6   memory-vs-parameters     Memory vs parameter size (MB of weights) at batch 1 (or ``batch``), with the
                              least-squares line memory = floor + slope × parameters (paper: 200 MB, 1.30;
                              the floor is the line's intercept, so it includes the batch's activations).
 7   operations-vs-time       Time per image vs G-ops at batch 1 and at the largest batch every network ran
                              (the paper's 16), least-squares lines (slope in ms per G-op); area ∝ parameters.
 8   operations-vs-power      Net power vs G-ops at the same two batches, their mean ± standard deviation.
 9   accuracy-vs-throughput   Top-1 vs inferences per second at the same two batches; area ∝ operations;
                              the linear upper bound of the findings, the region beyond it shaded.
10   accuracy-per-parameter   Top-1 % per million parameters (information density), bars.
===  =======================  ==============================================================================

Figures 3 and 5 draw the predictions (``predicted_latency_ms``, ``predicted_peak_rss_bytes``) as dashed
lines of the network's colour. ``batch`` replaces the large batch of Figures 7–9 and the batch of Figure 6.

Times and throughputs are the median of the timed runs (``BatchPoint.latency_ms``, as trtexec reports),
never the mean; the axes say so.

Upper bound of Figure 9: the findings' own fit (``accuracy.bound`` of :mod:`onnxprof.report.findings`,
computed by ``check_findings`` on the panel's batch): the least-squares line through the Pareto frontier
(the networks that no other network beats on both accuracy and throughput), raised by its largest
residual so that no network lies above it; with two frontier points it is the line through them. When a
single network is both the most accurate and the fastest there is no trade-off and no bound (a note says
so, as the findings do). The findings print the bound over each network at full load (its batch with the
highest throughput, whatever it is); when that differs from both panels, a note gives it too. The
paper's caption greys the area beyond the bound ("exceptional accuracy or inference speed") and leaves
the suboptimal side white; so do we.

Missing data never raises: a failed batch (out of memory) or a missing measurement (no power meter) is a
gap in a line — NaN, which matplotlib does not join — and a note; unknown accuracy or operations leave
the network out of the figures that need them, with a note. Notes are printed under the figure and
returned in ``FigureResult.notes``. A figure (or a panel) without data has no empty axes: it says once,
in words, what is missing and what would fill it ("no power measurements: measure with --meter ...").

Readability (:mod:`onnxprof.report.readable`): log axes are labelled on a 1-2-5 grid over their whole
range, and the names of the blobs are placed at draw time so that no two overlap.

Colours: one hue per architecture family (``FAMILY_COLOURS``; other families take tab20b colours in
sorted order), lighter and darker shades and different markers for the members of a family.
"""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Iterable, Mapping, Optional, Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter, ScalarFormatter

from onnxprof.meters import METERS
from onnxprof.report.dataset import BatchPoint
from onnxprof.report.findings import check_findings
from onnxprof.report.readable import MAX_LABELS, label_point, legend_clear_of_labels, log_axis

# The paper's hues where it has them (ResNet pink, Inception orange ...), tab10 for the rest.
FAMILY_COLOURS: Mapping[str, str] = MappingProxyType({
    "AlexNet": "#1f77b4", "VGG": "#2ca02c", "ResNet": "#e377c2", "Inception": "#ff7f0e",
    "MobileNet": "#17becf", "SqueezeNet": "#bcbd22", "EfficientNet": "#9467bd", "ViT": "#d62728",
    "NIN": "#8c564b", "ENet": "#393b79", "BERT": "#637939", "GPT": "#843c39", "other": "#7f7f7f",
})
_SPARE_COLOURS = tuple(to_hex(c) for c in matplotlib.colormaps["tab20b"].colors[2::4])
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_SHADES = (0.0, 0.4, -0.3, 0.65, -0.45)         # >0 towards white, <0 towards black
PARAMETER_REFS = (5e6, 35e6, 65e6, 95e6, 125e6, 155e6)   # the paper's size legend
OPERATION_REFS = (1.0, 5.0, 10.0, 15.0, 20.0)            # G-ops
_AREA_PER_MPARAM = 6.0                           # pt² per million parameters
_AREA_PER_GOP = 40.0                             # pt² per G-op
_MIN_AREA = 12.0                                 # tiny networks stay visible
_NOTE_FONT = 7.5


@dataclass(frozen=True)
class FigureResult:
    number: int
    name: str                                    # slug: "top1-vs-operations"
    title: str
    paths: tuple[Path, ...]
    data: Mapping                                # the numbers behind the figure (JSON-ready)
    notes: tuple[str, ...]
    empty: tuple[str, ...] = ()                  # the notes the figure says in its middle (no data there)


@dataclass(frozen=True)
class Plot:
    """What a drawing function returns: the figure, the numbers behind it and what is missing."""
    figure: Figure
    data: Mapping
    notes: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()                  # what is missing, said in the figure itself (not again below)


@dataclass(frozen=True)
class Series:
    """One network's points on one set-up, sorted by batch size."""
    key: str                                     # the model name (plus the set-up when several are mixed)
    label: str
    family: str
    points: tuple[BatchPoint, ...]

    @property
    def facts(self) -> BatchPoint:               # top-1, parameters, MACs: the same in every point
        return self.points[0]


@dataclass(frozen=True)
class Style:
    colour: str
    marker: str


@dataclass(frozen=True)
class LinearFit:
    slope: float
    intercept: float
    r2: float
    n: int

    def __call__(self, x):
        return self.slope * np.asarray(x, dtype=float) + self.intercept


@dataclass(frozen=True)
class _Spec:
    number: int
    name: str
    title: str
    draw: Callable[..., Plot]


_SPECS: dict[int, _Spec] = {}


def _figure(number: int, name: str, title: str):
    def register(draw: Callable[..., Plot]) -> Callable[..., Plot]:
        _SPECS[number] = _Spec(number, name, title, draw)
        return draw
    return register


# ---------------------------------------------------------------- grouping, colours, fits, notes

def _setup(p: BatchPoint) -> str:
    return f"{p.hostname} {p.engine}/{p.provider}/{p.precision}"


def series_of(points: Iterable[BatchPoint]) -> dict[str, Series]:
    """Points per network in first-seen order; set-ups stay apart (and named) when several are mixed."""
    points = list(points)
    several = len({_setup(p) for p in points}) > 1
    groups: dict[tuple[str, str], list[BatchPoint]] = {}
    for p in points:
        groups.setdefault((p.model, _setup(p)), []).append(p)
    out = {}
    for (model, setup), group in groups.items():
        key, label = (f"{model} [{setup}]", f"{group[0].title} [{setup}]") if several else (model, group[0].title)
        out[key] = Series(key, label, group[0].family, tuple(sorted(group, key=lambda p: p.batch)))
    return out


def family_colours(families: Iterable[str]) -> dict[str, str]:
    """The fixed colour of each family; families outside the zoo get spare colours in sorted order."""
    families = set(families)
    spare = {f: _SPARE_COLOURS[i % len(_SPARE_COLOURS)]
             for i, f in enumerate(sorted(families - FAMILY_COLOURS.keys()))}
    return {f: FAMILY_COLOURS.get(f) or spare[f] for f in families}


def _shade(colour: str, index: int) -> str:
    rgb = np.array(to_rgb(colour))
    f = _SHADES[index % len(_SHADES)]
    return to_hex(rgb + ((1.0 if f > 0 else 0.0) - rgb) * abs(f))


def styles(series: Mapping[str, Series]) -> dict[str, Style]:
    """A family's hue for each network, a shade and a marker of its own within the family."""
    members: dict[str, list[str]] = {}
    for key, s in series.items():
        members.setdefault(s.family, []).append(key)
    palette = family_colours(members)
    return {key: Style(_shade(palette[family], i), _MARKERS[i % len(_MARKERS)])
            for family, keys in members.items() for i, key in enumerate(sorted(keys))}


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> Optional[LinearFit]:
    """Least-squares line; None with fewer than two distinct x."""
    if len(set(xs)) < 2:
        return None
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    total = float(np.sum((y - y.mean()) ** 2))
    residual = float(np.sum((y - (slope * x + intercept)) ** 2))
    return LinearFit(float(slope), float(intercept), 1.0 - residual / total if total else 1.0, len(x))


def findings_bound(points: Sequence[BatchPoint]) -> tuple[Optional[dict], str]:
    """Figure 9's upper bound: the findings' ``accuracy.bound`` on ``points`` (one fit, written once, in
    findings.py) as (slope, raised intercept, frontier R² and size), or None and the findings' reason."""
    finding = next(f for f in check_findings(points) if f.key == "accuracy.bound")
    if finding.figure("slope") is None:
        return None, finding.detail
    return {"slope": finding.figure("slope"), "intercept": finding.figure("intercept"),
            "frontier_r2": finding.figure("frontier_r2"), "frontier_size": int(finding.figure("frontier_size")),
            "holds": finding.holds}, finding.detail


class _Notes:
    """Notes grouped by reason: "out of memory at batch 16: ResNet-50, VGG-16"."""

    def __init__(self) -> None:
        self._by_reason: dict[str, list[str]] = {}

    def add(self, reason: str, label: str = "") -> None:
        labels = self._by_reason.setdefault(reason, [])
        if label and label not in labels:
            labels.append(label)

    def as_tuple(self) -> tuple[str, ...]:
        return tuple(f"{reason}: {', '.join(labels)}" if labels else reason
                     for reason, labels in self._by_reason.items())


def _status(p: BatchPoint) -> str:
    return p.status.replace("_", " ")


def _gops(p: BatchPoint) -> Optional[float]:
    return p.macs_per_image / 1e9 if p.macs_per_image is not None else None


def _mb(value: Optional[float]) -> Optional[float]:
    return value / 1e6 if value is not None else None


def _weight_mb(p: BatchPoint) -> Optional[float]:
    return _mb(p.weight_bytes if p.weight_bytes is not None else 4 * p.parameters if p.parameters else None)


Getter = Callable[[BatchPoint], Optional[float]]
_FACTS = frozenset({"top-1", "operations", "parameters", "top-1 or parameters"})   # the same at every batch


def _rows(series: Mapping[str, Series], batch: Optional[int], notes: _Notes,
          wanted: Mapping[str, tuple[str, Getter]]) -> dict[str, dict[str, float]]:
    """Each network's named values at ``batch`` (its published facts when None), noting what is missing."""
    rows = {}
    at = f" at batch {batch}" if batch is not None else ""
    for key, s in series.items():
        point = s.facts if batch is None else next((p for p in s.points if p.batch == batch), None)
        if point is None:
            notes.add(f"not measured{at}", s.label)
        elif batch is not None and not point.ok:
            notes.add(f"{_status(point)}{at}", s.label)
        else:
            values = {name: get(point) for name, (_, get) in wanted.items()}
            for noun in (wanted[n][0] for n, v in values.items() if v is None):
                notes.add(f"{noun} unknown" + ("" if noun in _FACTS else at), s.label)
            if all(v is not None for v in values.values()):
                rows[key] = values
    return rows


# ---------------------------------------------------------------- what fills an empty figure

@dataclass(frozen=True)
class _Need:
    """A value a figure needs, and what to do when no network has it."""
    get: Getter
    measured: bool                               # per batch (True) or a published fact (False)
    missing: str
    fill: str


_MEASURE = "measure the networks with onnxprof measure MODEL --batch 1,2,4,8 (or scripts/reproduce_paper.py)"
NO_MEASUREMENTS = f"no measurements: {_MEASURE}"
_POWER_FILL = ("measure with --meter " + ", ".join(METERS[:-1]) + f" or {METERS[-1]}, and --idle SECONDS for the "
               "idle baseline that net power subtracts (onnxprof meters list shows the meters this machine has)")
_IDLE_FILL = "gross power was measured but no idle baseline; measure again with --idle SECONDS (net power = gross − idle)"
POWER_HINT = f"no power measurements: {_POWER_FILL}"
IDLE_HINT = f"no net power: {_IDLE_FILL}"
_NEEDS: Mapping[str, _Need] = MappingProxyType({
    "top-1": _Need(lambda p: p.top1, False, "no top-1 accuracy known",
                   "only the zoo's ImageNet networks carry a published top-1 (onnxprof zoo list)"),
    "operations": _Need(_gops, False, "no operation counts",
                        "the counts are still formulas: bind the dynamic dimensions when measuring "
                        "(--dim NAME=VALUE or --input NAME:DIMS)"),
    "parameters": _Need(lambda p: p.parameters, False, "no parameter counts",
                        "measure the networks again: measure stores onnxprof's count with every run"),
    "latency": _Need(lambda p: p.latency_per_image_ms, True, "no latency measured", _MEASURE),
    "throughput": _Need(lambda p: p.throughput_per_s, True, "no throughput measured", _MEASURE),
    "memory": _Need(lambda p: p.memory_bytes, True, "no memory measured", _MEASURE),
    "net power": _Need(lambda p: p.net_w, True, "no power measurements", _POWER_FILL),
})


def why_empty(points: Sequence[BatchPoint], needs: Sequence[str], batch: Optional[int] = None) -> tuple[str, bool]:
    """What keeps a figure (or the panel at ``batch``) empty and what would fill it, said once; and whether
    the figure's notes still say more (False: the reason covers every network, the notes would repeat it)."""
    at = f" at batch {batch}" if batch is not None else ""
    if not points:
        return (NO_MEASUREMENTS if batch is None else f"not measured{at}: {_MEASURE}"), False
    ran = [p for p in points if p.ok]
    if not ran:
        return f"no batch ran successfully{at} (the notes say why)", True
    for name in needs:
        need = _NEEDS[name]
        if not any(need.get(p) is not None for p in (ran if need.measured else points)):
            if name == "net power" and any(p.gross_w is not None for p in ran):
                return f"no net power{at}: {_IDLE_FILL}", False
            return f"{need.missing}{at}: {need.fill}", False
    return f"no network has {' and '.join(needs)} together{at} (the notes say which lack what)", True


def _say(figure: Figure, message: str) -> None:
    """An empty figure: no axes, the message in words where the data would be."""
    for ax in list(figure.axes):
        figure.delaxes(ax)
    figure.set_size_inches(8.5, 2.2)             # one message: as wide as a one-panel figure, not as tall
    width_chars = int(figure.get_figwidth() * 72 / (10 * 0.55) * 0.85)
    figure.text(0.5, 0.5, textwrap.fill(message, width_chars), ha="center", va="center", fontsize=10,
                color="0.25", linespacing=1.5)


def _say_in(ax: Axes, message: str) -> None:
    """An empty panel beside others with data: its axes off, the message in its place."""
    ax.set_axis_off()
    width_chars = int(ax.get_position().width * ax.figure.get_figwidth() * 72 / (9 * 0.55) * 0.85)
    ax.text(0.5, 0.5, textwrap.fill(message, width_chars), transform=ax.transAxes, ha="center", va="center",
            fontsize=9, color="0.25", linespacing=1.5)


def _empty_plot(figure: Figure, points: Sequence[BatchPoint], needs: Sequence[str], notes: "_Notes", data: Mapping,
                batch: Optional[int] = None) -> Plot:
    """The figure without data: why, said once in its middle; the notes only when they say more."""
    here = [p for p in points if batch is None or p.batch == batch]
    message, more = why_empty(here, needs, batch if points else None)
    _say(figure, message)
    return Plot(figure, data, (*(notes.as_tuple() if more else ()), message), (message,))


# ---------------------------------------------------------------- drawing helpers

def _canvas(panels: int = 1, width: float = 8.5, height: float = 4.8) -> tuple[Figure, list[Axes]]:
    figure = Figure(figsize=(width if panels == 1 else 5.2 * panels + 1.5, height))
    FigureCanvasAgg(figure)                      # no pyplot: no global state, Agg renders
    return figure, list(figure.subplots(1, panels, squeeze=False, sharey=panels > 1)[0])


def _batch_axis(ax: Axes, batches: Iterable[int]) -> None:
    """Log₂ batch axis labelled at each batch size measured (a 1-2-5 grid when there are too many)."""
    ax.set_xscale("log", base=2)
    batches = sorted(set(batches))
    if len(batches) > MAX_LABELS:
        log_axis(ax.xaxis)
        return
    ax.set_xticks(batches)
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _legend_outside(ax: Axes, handles=None, **kwargs) -> None:
    """Legends go right of the axes so they never cover data."""
    if handles is not None:
        kwargs["handles"] = handles
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False,
              borderaxespad=0.0, **kwargs)


@dataclass(frozen=True)
class _Sizes:
    """What blob areas stand for (area ∝ ``field``), and the reference blobs of their legend."""
    field: str
    refs: Sequence[float]                        # the paper's 5M … 155M for parameters
    per_unit: float                              # pt² per unit of ``field``
    fmt: Callable[[float], str]
    title: str

    def area(self, value: float) -> float:
        return max(value * self.per_unit, _MIN_AREA)

    def legend(self, ax: Axes, rows: Iterable[Mapping[str, float]]) -> None:
        """Reference blobs up to the first at or above the largest network, right of the axes."""
        values = [r[self.field] for r in rows]
        if not values:
            return
        refs, step = list(self.refs), self.refs[-1] - self.refs[-2]
        while refs[-1] < max(values):
            refs.append(refs[-1] + step)
        shown = [r for r in refs if r < max(values)] + [next(r for r in refs if r >= max(values))]
        handles = [Line2D([], [], ls="", marker="o", markersize=np.sqrt(self.area(r)), color="0.75",
                          markeredgecolor="0.45", label=self.fmt(r)) for r in shown]
        kept = ax.get_legend()                   # a second legend would replace the first
        ax.legend(handles=handles, title=self.title, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7,
                  title_fontsize=7, frameon=False, borderaxespad=0.0, handletextpad=1.5,
                  labelspacing=np.sqrt(self.area(shown[-1])) / 7.0)    # keeps the largest blobs apart
        if kept is not None:
            ax.add_artist(kept)


_BY_PARAMETERS = _Sizes("parameters", PARAMETER_REFS, _AREA_PER_MPARAM / 1e6, lambda v: f"{v / 1e6:g}M", "parameters")
_BY_OPERATIONS = _Sizes("gops", OPERATION_REFS, _AREA_PER_GOP, lambda v: f"{v:g} G-Ops", "operations")


def _blobs(ax: Axes, series: Mapping[str, Series], style: Mapping[str, Style], rows: Mapping[str, Mapping],
           x: str, y: str, sizes: Optional[_Sizes] = None) -> None:
    """One blob per network, area ∝ ``sizes.field``, a grey dot at its centre and its name beside it
    (placed at draw time where it overlaps no other name, blob centre or legend)."""
    for key, row in rows.items():
        s = style[key]
        area = sizes.area(row[sizes.field]) if sizes else 40.0
        ax.scatter([row[x]], [row[y]], s=area, marker=s.marker, color=s.colour, alpha=0.65,
                   edgecolors=s.colour, linewidths=0.8, zorder=3)
        ax.scatter([row[x]], [row[y]], s=3, color="0.35", zorder=4)
        label_point(ax, series[key].label, (row[x], row[y]), radius_pt=np.sqrt(area) / 2)
    ax.margins(x=0.14, y=0.1)                    # room for the names of the outermost blobs


def _signed(value: float, spec: str) -> str:
    """A term after another: ``− 0.5``, ``+ 2`` (never ``+ -0.5``)."""
    return f"{'−' if value < 0 else '+'} {format(abs(value), spec)}"


def _fit_line(ax: Axes, fit: Optional[LinearFit], xs: Sequence[float], label: Callable[[LinearFit], str],
              notes: _Notes, at: str = "") -> None:
    if fit is None:
        notes.add(f"too few networks to fit a line{at}")
        return
    grid = np.linspace(0.0, max(xs) * 1.05, 50)
    ax.plot(grid, fit(grid), color="0.2", lw=1.0, zorder=2, label=label(fit))
    legend_clear_of_labels(ax, fontsize=7, frameon=True, framealpha=0.85)


def _finish(figure: Figure, title: str, notes: Sequence[str]) -> None:
    """Title on top, the notes in a band of their own below the axes (the figure grows to fit them)."""
    figure.suptitle(title, fontsize=11)
    width_chars = int(figure.get_figwidth() * 72 / (_NOTE_FONT * 0.55))
    text = "\n".join(textwrap.fill(f"Note: {n}", width_chars, subsequent_indent="    ") for n in notes)
    band = (text.count("\n") + 1) * _NOTE_FONT * 1.35 / 72 + 0.1 if text else 0.0
    height = figure.get_figheight()
    figure.set_figheight(height + band)
    if text:
        figure.text(0.01, 0.02 / (height + band), text, fontsize=_NOTE_FONT, ha="left", va="bottom",
                    color="#7a1f1f")
    figure.tight_layout(rect=(0.0, band / (height + band), 1.0, 1.0))


# ---------------------------------------------------------------- figure types shared by several figures

def _bars(points: Sequence[BatchPoint], name: str, get: Getter, ylabel: str, fmt: str,
          needs: Sequence[str]) -> Plot:
    """A bar per network in ascending order, coloured by family (Figures 1 and 10)."""
    series, notes = series_of(points), _Notes()
    style = styles(series)
    figure, (ax,) = _canvas()
    rows = _rows(series, None, notes, {"value": (name, get)})
    values = dict(sorted(((k, r["value"]) for k, r in rows.items()), key=lambda item: item[1]))
    data = {"values": values, "unknown": [k for k in series if k not in rows]}
    if not values:
        return _empty_plot(figure, points, needs, notes, data)
    ax.bar(range(len(values)), list(values.values()), color=[style[k].colour for k in values],
           edgecolor="0.3", linewidth=0.5)
    for i, v in enumerate(values.values()):
        ax.text(i, v, fmt.format(v), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels([series[k].label for k in values], rotation=40, ha="right", fontsize=8)
    palette = family_colours(series[k].family for k in values)
    _legend_outside(ax, [Patch(color=c, label=f) for f, c in sorted(palette.items())], title="family",
                    title_fontsize=7)
    ax.set_ylabel(ylabel)
    return Plot(figure, data, notes.as_tuple())


def _lines(points: Sequence[BatchPoint], noun: str, measured: Getter, predicted: Optional[Getter],
           ylabel: str, needs: Sequence[str], log_y: bool = False) -> Plot:
    """A line per network over batch sizes (Figures 3–5); failed or missing batches are NaN gaps."""
    series, notes = series_of(points), _Notes()
    style = styles(series)
    figure, (ax,) = _canvas()
    data, drew_prediction, guessed = {}, False, False
    for key, s in series.items():
        batches = [p.batch for p in s.points]
        values = [measured(p) if p.ok else None for p in s.points]
        for p in s.points:
            if not p.ok:
                notes.add(f"{_status(p)} at batch {p.batch} (gap)", s.label)
        missing = [p.batch for p, v in zip(s.points, values) if p.ok and v is None]
        if missing:
            every_ok = len(missing) == sum(p.ok for p in s.points)
            notes.add(f"no {noun} measured" if every_ok else f"no {noun} at batch {', '.join(map(str, missing))}",
                      s.label)
        entry: dict = {"batch": batches, "value": values}
        if any(v is not None for v in values):
            ax.plot(batches, [np.nan if v is None else v for v in values], color=style[key].colour,
                    marker=style[key].marker, markersize=4.5, lw=1.4, label=s.label)
        if predicted is not None:
            entry["predicted"] = [predicted(p) for p in s.points]
            if any(v is not None for v in entry["predicted"]):
                drew_prediction = True
                guessed |= any(not p.predicted_calibrated for p in s.points if predicted(p) is not None)
                ax.plot(batches, [np.nan if v is None else v for v in entry["predicted"]], ls="--", lw=1.1,
                        color=style[key].colour, alpha=0.9)
        data[key] = entry
    if not any(v is not None for e in data.values() for v in e["value"]):
        return _empty_plot(figure, points, needs, notes, {"series": data})
    _batch_axis(ax, (b for e in data.values() for b in e["batch"]))
    if log_y:
        ax.set_yscale("log")
        log_axis(ax.yaxis)
    else:
        ax.set_ylim(bottom=0)
    handles, _ = ax.get_legend_handles_labels()
    if drew_prediction:
        label = "predicted, uncalibrated first guess (dashed)" if guessed else "predicted, calibrated (dashed)"
        handles.append(Line2D([], [], ls="--", color="0.4", label=label))
    _legend_outside(ax, handles)
    ax.set_xlabel("Batch size [images]")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    return Plot(figure, {"series": data}, notes.as_tuple())


def panel_batches(series: Mapping[str, Series], batch: Optional[int] = None) -> tuple[int, ...]:
    """Batch 1 (or the smallest that ran) and ``batch``, else the largest batch every network ran at
    (the paper's 16, "biggest size for which all architectures can still run")."""
    ran = [{p.batch for p in s.points if p.ok} for s in series.values()]
    ran = [r for r in ran if r]
    if not ran:
        return ()
    small = 1 if any(1 in r for r in ran) else min(min(r) for r in ran)
    common = set.intersection(*ran)
    large = batch if batch is not None else max(common) if common else max(max(r) for r in ran)
    return tuple(sorted({small, large}))


PanelDraw = Callable[[Axes, Mapping[str, Series], Mapping[str, Style], int, _Notes], dict]


def _panels(points: Sequence[BatchPoint], batch: Optional[int], draw: PanelDraw, sizes: _Sizes,
            needs: Sequence[str]) -> Plot:
    """One scatter panel per batch of ``panel_batches`` (Figures 7–9), the size legend right of the last.
    A panel without data says what would fill it; when none has data, the figure says it once."""
    series, notes = series_of(points), _Notes()
    batches = panel_batches(series, batch)
    figure, axes = _canvas(max(len(batches), 1))
    style = styles(series)
    panels = {b: draw(ax, series, style, b, notes) for ax, b in zip(axes, batches)}
    data = {"batches": list(batches), "panels": panels}
    if not any(panel["models"] for panel in panels.values()):
        return _empty_plot(figure, points, needs, notes, data)
    said = []
    for ax, b in zip(axes, batches):
        largest = batch is None and len(batches) > 1 and b == batches[-1]
        ax.set_title(f"batch {b}" + (" (the largest every network ran)" if largest else ""), fontsize=9)
        ax.grid(True, alpha=0.3)
        if not panels[b]["models"]:
            message, _ = why_empty([p for p in points if p.batch == b], needs, b)
            _say_in(ax, message)
            notes.add(message)
            said.append(message)
    for ax in axes[1:]:
        ax.set_ylabel("")
    sizes.legend(next(ax for ax, b in reversed(list(zip(axes, batches))) if panels[b]["models"]),
                 (row for panel in panels.values() for row in panel["models"].values()))
    return Plot(figure, data, notes.as_tuple(), tuple(said))


# ---------------------------------------------------------------- the ten figures

_MEDIAN_MS = "Time per image [ms], median"
_MEDIAN_FPS = "Inferences per second [FPS], from the median batch time"


@_figure(1, "top1-per-network", "Top-1 accuracy per network")
def top1_per_network(points: Sequence[BatchPoint], *, batch: Optional[int] = None, predicted: bool = True) -> Plot:
    return _bars(points, "top-1", lambda p: p.top1, "Top-1 accuracy [%]", "{:.1f}", ("top-1",))


@_figure(2, "top1-vs-operations", "Top-1 accuracy vs operations, size ∝ parameters")
def top1_vs_operations(points: Sequence[BatchPoint], *, batch: Optional[int] = None, predicted: bool = True) -> Plot:
    series, notes = series_of(points), _Notes()
    figure, (ax,) = _canvas()
    rows = _rows(series, None, notes, {"gops": ("operations", _gops), "top1": ("top-1", lambda p: p.top1),
                                       "parameters": ("parameters", lambda p: p.parameters)})
    if not rows:
        return _empty_plot(figure, points, ("top-1", "operations", "parameters"), notes, {"models": rows})
    _blobs(ax, series, styles(series), rows, "gops", "top1", _BY_PARAMETERS)
    _BY_PARAMETERS.legend(ax, rows.values())
    ax.set_xlabel("Operations [G-Ops]")
    ax.set_ylabel("Top-1 accuracy [%]")
    ax.grid(True, alpha=0.3)
    return Plot(figure, {"models": rows}, notes.as_tuple())


@_figure(3, "time-vs-batch", "Time per image vs batch size")
def time_vs_batch(points: Sequence[BatchPoint], *, batch: Optional[int] = None, predicted: bool = True) -> Plot:
    return _lines(points, "latency", lambda p: p.latency_per_image_ms,
                  _per_image_prediction if predicted else None, _MEDIAN_MS, ("latency",), log_y=True)


def _per_image_prediction(p: BatchPoint) -> Optional[float]:
    return p.predicted_latency_ms / p.batch if p.predicted_latency_ms is not None else None


@_figure(4, "power-vs-batch", "Net power vs batch size")
def power_vs_batch(points: Sequence[BatchPoint], *, batch: Optional[int] = None, predicted: bool = True) -> Plot:
    plot = _lines(points, "power", lambda p: p.net_w, None, "Net power [W]", ("net power",))
    idle = [p.idle_w for p in points if p.idle_w is not None]
    if idle and plot.figure.axes:
        plot.figure.axes[0].text(0.99, 0.02, f"idle power {np.median(idle):.2f} W, not included",
                                 transform=plot.figure.axes[0].transAxes, ha="right", fontsize=7, color="0.35")
    return Plot(plot.figure, {**plot.data, "idle_w": float(np.median(idle)) if idle else None}, plot.notes,
                plot.empty)


@_figure(5, "memory-vs-batch", "Memory vs batch size")
def memory_vs_batch(points: Sequence[BatchPoint], *, batch: Optional[int] = None, predicted: bool = True) -> Plot:
    return _lines(points, "memory", lambda p: _mb(p.memory_bytes),
                  (lambda p: _mb(p.predicted_peak_rss_bytes)) if predicted else None, "Memory [MB]", ("memory",))


@_figure(6, "memory-vs-parameters", "Memory vs parameters")
def memory_vs_parameters(points: Sequence[BatchPoint], *, batch: Optional[int] = None,
                         predicted: bool = True) -> Plot:
    series, notes = series_of(points), _Notes()
    figure, (ax,) = _canvas()
    chosen = batch if batch is not None else (panel_batches(series) or (1,))[0]
    rows = _rows(series, chosen, notes, {"parameters_mb": ("parameters", _weight_mb),
                                         "memory_mb": ("memory", lambda p: _mb(p.memory_bytes))})
    fit = linear_fit([r["parameters_mb"] for r in rows.values()], [r["memory_mb"] for r in rows.values()])
    data = {"batch": chosen, "models": rows, "fit": asdict(fit) if fit else None,
            "floor_mb": fit.intercept if fit else None, "slope": fit.slope if fit else None}
    if not rows:
        return _empty_plot(figure, points, ("memory", "parameters"), notes, data, chosen)
    _blobs(ax, series, styles(series), rows, "parameters_mb", "memory_mb")
    _fit_line(ax, fit, [r["parameters_mb"] for r in rows.values()],
              lambda f: f"memory ≈ {f.intercept:.0f} MB {_signed(f.slope, '.2f')} × parameters (R² {f.r2:.3f})", notes)
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(f"Parameters [MB]  (batch {chosen})")
    ax.set_ylabel("Memory [MB]")
    ax.grid(True, alpha=0.3)
    return Plot(figure, data, notes.as_tuple())


def _operations_vs_time_panel(ax, series, style, batch, notes) -> dict:
    rows = _rows(series, batch, notes, {"gops": ("operations", _gops),
                                        "ms_per_image": ("latency", lambda p: p.latency_per_image_ms),
                                        "parameters": ("parameters", lambda p: p.parameters)})
    gops = [r["gops"] for r in rows.values()]
    fit = linear_fit(gops, [r["ms_per_image"] for r in rows.values()])
    if rows:
        _blobs(ax, series, style, rows, "gops", "ms_per_image", _BY_PARAMETERS)
        _fit_line(ax, fit, gops, lambda f: f"{f.slope:.3g} ms/G-op {_signed(f.intercept, '.3g')} ms (R² {f.r2:.3f})",
                  notes, f" at batch {batch}")
        ax.set_ylim(bottom=0)
    ax.set_xlabel("Operations [G-Ops]")
    ax.set_ylabel(_MEDIAN_MS)
    return {"models": rows, "fit": asdict(fit) if fit else None}


@_figure(7, "operations-vs-time", "Operations vs time per image, size ∝ parameters")
def operations_vs_time(points: Sequence[BatchPoint], *, batch: Optional[int] = None, predicted: bool = True) -> Plot:
    return _panels(points, batch, _operations_vs_time_panel, _BY_PARAMETERS, ("latency", "operations", "parameters"))


def _operations_vs_power_panel(ax, series, style, batch, notes) -> dict:
    rows = _rows(series, batch, notes, {"gops": ("operations", _gops), "net_w": ("net power", lambda p: p.net_w),
                                        "parameters": ("parameters", lambda p: p.parameters)})
    watts = [r["net_w"] for r in rows.values()]
    if rows:
        mean, std = float(np.mean(watts)), float(np.std(watts))
        ax.axhspan(mean - std, mean + std, color="0.9", zorder=0)
        ax.axhline(mean, color="0.4", lw=1.0, ls=":", zorder=1, label=f"mean {mean:.2f} W ± {std:.2f} W")
        legend_clear_of_labels(ax, fontsize=7)
        _blobs(ax, series, style, rows, "gops", "net_w", _BY_PARAMETERS)
        ax.set_ylim(0, max(watts) * 1.3)
    ax.set_xlabel("Operations [G-Ops]")
    ax.set_ylabel("Net power [W]")
    return {"models": rows, "mean_w": float(np.mean(watts)) if watts else None,
            "std_w": float(np.std(watts)) if watts else None}


@_figure(8, "operations-vs-power", "Operations vs net power, size ∝ parameters")
def operations_vs_power(points: Sequence[BatchPoint], *, batch: Optional[int] = None, predicted: bool = True) -> Plot:
    return _panels(points, batch, _operations_vs_power_panel, _BY_PARAMETERS, ("net power", "operations", "parameters"))


def _accuracy_vs_throughput_panel(ax, series, style, batch, notes) -> dict:
    rows = _rows(series, batch, notes, {"throughput": ("throughput", lambda p: p.throughput_per_s),
                                        "top1": ("top-1", lambda p: p.top1), "gops": ("operations", _gops)})
    if not rows:
        return {"models": rows, "bound": None}
    bound, reason = findings_bound([p for key in rows for p in series[key].points if p.batch == batch])
    _blobs(ax, series, style, rows, "throughput", "top1", _BY_OPERATIONS)
    tops = [r["top1"] for r in rows.values()]
    right = max(r["throughput"] for r in rows.values()) * 1.25
    ax.set_xlim(0, right)
    ax.set_ylim(min(tops) - 5, max(tops) + 5)
    if bound is None:
        notes.add(f"no upper bound at batch {batch}: {reason}")
    else:
        grid = np.linspace(0, right, 100)
        line = bound["slope"] * grid + bound["intercept"]
        ax.fill_between(grid, line, max(tops) + 5, where=line < max(tops) + 5, color="0.85", zorder=0,
                        label="beyond the bound")
        ax.plot(grid, line, color="0.3", lw=1.0, zorder=1,
                label=f"upper bound: top-1 ≤ {bound['intercept']:.4g} {_signed(bound['slope'], '.4g')} × FPS")
        legend_clear_of_labels(ax, fontsize=7)
    ax.set_xlabel(_MEDIAN_FPS)
    ax.set_ylabel("Top-1 accuracy [%]")
    return {"models": rows, "bound": bound}


@_figure(9, "accuracy-vs-throughput", "Accuracy vs inferences per second, size ∝ operations")
def accuracy_vs_throughput(points: Sequence[BatchPoint], *, batch: Optional[int] = None,
                           predicted: bool = True) -> Plot:
    plot = _panels(points, batch, _accuracy_vs_throughput_panel, _BY_OPERATIONS, ("throughput", "top-1", "operations"))
    full, _ = findings_bound(points) if plot.figure.axes else (None, "")
    drawn = [(p["bound"]["slope"], p["bound"]["intercept"]) for p in plot.data["panels"].values() if p["bound"]]
    if full is None or (full["slope"], full["intercept"]) in drawn:
        return plot
    note = (f"the findings (accuracy.bound) take each network at its highest throughput, whatever the batch: "
            f"top-1 ≤ {full['intercept']:.4g} {_signed(full['slope'], '.4g')} × FPS")
    return Plot(plot.figure, {**plot.data, "findings_bound": full}, (*plot.notes, note), plot.empty)


@_figure(10, "accuracy-per-parameter", "Accuracy per parameter (information density)")
def accuracy_per_parameter(points: Sequence[BatchPoint], *, batch: Optional[int] = None,
                           predicted: bool = True) -> Plot:
    return _bars(points, "top-1 or parameters", lambda p: p.top1_per_mparams,
                 "Top-1 accuracy per million parameters [% / M]", "{:.2f}", ("top-1", "parameters"))


FIGURES: Mapping[int, Callable[..., Plot]] = MappingProxyType({n: _SPECS[n].draw for n in sorted(_SPECS)})


# ---------------------------------------------------------------- writing

def render(number: int, points: Sequence[BatchPoint], batch: Optional[int] = None, predicted: bool = True) -> Plot:
    """Figure ``number`` drawn and finished as it is written: title on top, the notes below (those the
    figure says in its middle already are not repeated)."""
    if number not in _SPECS:
        raise ValueError(f"no figure {number}: the figures are {', '.join(map(str, _SPECS))}")
    spec = _SPECS[number]
    plot = spec.draw(list(points), batch=batch, predicted=predicted)
    _finish(plot.figure, f"Figure {number}: {spec.title}", [n for n in plot.notes if n not in plot.empty])
    return plot


def draw_figure(number: int, points: Sequence[BatchPoint], out_dir: Path, formats: Sequence[str] = ("png", "svg"),
                batch: Optional[int] = None, predicted: bool = True, *, dpi: int = 150) -> FigureResult:
    """Draw figure ``number`` and write it as ``fig{number:02d}-{name}.{fmt}`` for each format."""
    spec = _SPECS.get(number)
    plot = render(number, points, batch, predicted)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = tuple(out / f"fig{number:02d}-{spec.name}.{fmt}" for fmt in formats)
    for path, fmt in zip(paths, formats):
        plot.figure.savefig(path, format=fmt, dpi=dpi)
    return FigureResult(number, spec.name, spec.title, paths, plot.data, plot.notes, plot.empty)


def draw_all(points: Sequence[BatchPoint], out_dir: Path, formats: Sequence[str] = ("png", "svg"),
             predicted: bool = True, *, dpi: int = 150) -> list[FigureResult]:
    points = list(points)
    return [draw_figure(n, points, out_dir, formats, predicted=predicted, dpi=dpi) for n in FIGURES]
