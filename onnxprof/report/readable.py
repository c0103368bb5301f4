"""Figures a reader can read: log axes labelled over their whole range, point labels that never overlap.

``log_axis(axis)``
    A logarithmic axis whose labels are plain numbers on a 1-2-5 grid (``ReadableLogLocator``) at any
    range: 1-1.5-2-3-5-7 inside a decade or two, 1-2-5 over up to about four decades, then 1-3 and whole
    decades (every k-th when there are very many); less than a decade gets 1-1.2-1.5-2-2.5-3-4-5-6-7-8,
    and a range too narrow even for that evenly spaced round numbers. Unlabelled minor ticks at 2…9.

``label_point(ax, text, xy, radius_pt)``
    A point's name that an artist of the axes (``LabelPlacer``) places at draw time, when the layout and
    the renderer's text sizes are final. Each name in turn, in the order added, takes the cheapest of
    24 directions × 13 rings of positions around its point (right first, then the diagonals, above,
    below, left; rings further out): overlapping a name placed before it, a point's centre, a legend
    inside the axes or the axes' edge costs most, a leader line through a name next, then the area of
    other markers covered and the distance from the point. A name further out than the first rings, or
    nearer to another point than to its own, gets a thin leader line to its point. A legend placed
    "best" (``legend_clear_of_labels``) is fixed where it is before the names are placed, so that it does
    not move onto them. Every scatter with names in ``figures.py`` uses this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.legend import Legend
from matplotlib.lines import Line2D
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, LogLocator, Locator, MaxNLocator, NullFormatter
from matplotlib.transforms import Bbox

# ---------------------------------------------------------------- log axes

_MANTISSAS = ((1.0, 1.5, 2.0, 3.0, 5.0, 7.0), (1.0, 2.0, 5.0), (1.0, 3.0), (1.0,))
_DENSE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)     # less than a decade in view
MAX_LABELS = 12
MIN_LABELS = 4


def log_ticks(vmin: float, vmax: float, max_labels: int = MAX_LABELS, min_labels: int = MIN_LABELS) -> list[float]:
    """Tick values for a log axis from ``vmin`` to ``vmax``: the densest 1-2-5-like grid with at most
    ``max_labels`` ticks, whole decades (every k-th) beyond that; below ``min_labels`` a denser grid, and
    evenly spaced round numbers when even that has fewer than three."""
    vmin, vmax = sorted((float(vmin), float(vmax)))
    if not (math.isfinite(vmin) and math.isfinite(vmax)) or vmax <= 0:
        return []
    vmin = max(vmin, vmax * 1e-30)
    lo, hi = math.floor(math.log10(vmin)), math.ceil(math.log10(vmax))
    slack = 1e-9 * (vmax - vmin)

    def grid(mantissas: Sequence[float], step: int = 1) -> list[float]:
        values = (float(f"{m}e{e}") for e in range(lo, hi + 1) if e % step == 0 for m in mantissas)
        return [v for v in values if vmin - slack <= v <= vmax + slack]

    ticks = next((t for t in (grid(m) for m in _MANTISSAS) if len(t) <= max_labels), None)
    if ticks is None:                            # very many decades: every k-th decade
        step = math.ceil((hi - lo + 1) / max_labels)
        ticks = grid((1.0,), step)
    if len(ticks) < min_labels:                  # under a decade: 1, 1.2, 1.5, 2, 2.5, 3, 4 ...
        dense = grid(_DENSE)
        ticks = dense if len(ticks) < len(dense) <= max_labels else ticks
    if len(ticks) < 3:                           # a narrow range: evenly spaced, still round, numbers
        even = [float(v) for v in MaxNLocator(nbins=min_labels, steps=[1, 2, 2.5, 5, 10]).tick_values(vmin, vmax)]
        ticks = [v for v in even if vmin - slack <= v <= vmax + slack and v > 0]
    return ticks


class ReadableLogLocator(Locator):
    """Major ticks of :func:`log_ticks` over the axis's current view."""

    def __init__(self, max_labels: int = MAX_LABELS, min_labels: int = MIN_LABELS):
        self.max_labels, self.min_labels = max_labels, min_labels

    def __call__(self):
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin, vmax):
        return log_ticks(vmin, vmax, self.max_labels, self.min_labels)


def plain_number(value: float, _pos=None) -> str:
    """0.02, 1.5, 300, 20000, 2e+06: no scientific notation from 1e-4 up to 1e6."""
    return f"{value:.6g}" if value == 0 or 1e-4 <= abs(value) < 1e6 else f"{value:.0e}"


def log_axis(axis: Axis) -> None:
    """Make ``axis`` (``ax.yaxis`` of a log-scaled axes) readable over its whole range."""
    axis.set_major_locator(ReadableLogLocator())
    axis.set_major_formatter(FuncFormatter(plain_number))
    axis.set_minor_locator(LogLocator(subs=tuple(range(2, 10))))
    axis.set_minor_formatter(NullFormatter())


# ---------------------------------------------------------------- point labels

_ANGLES = (0, 40, -40, 90, -90, 180, 140, -140, 20, -20, 160, -160, 65, -65, 115, -115,
           10, -10, 30, -30, 170, -170, 150, -150)
_RINGS_PT = (2.0, 6.0, 12.0, 20.0, 30.0, 42.0, 56.0, 72.0, 90.0, 110.0, 135.0, 165.0, 200.0)  # beyond the radius
_LEADER_FROM_PT = 8.0                            # labels further out than this get a line to their point
_POINT_HALF_PT = 4.0                             # the part of a point that labels keep clear of
_PAD_PT = 1.0
_HARD = 1e6                                      # cost per pt² over a label, a point's centre or a legend
_OUTSIDE = 1e6                                   # ... outside the axes
_CROSSING = 1e5                                  # a leader through a label (less than a tenth of a pt² of overlap)
_SOFT = 1.0                                      # cost per pt² over another marker
_DISTANCE = 0.3                                  # cost per pt² of the distance² from the point


@dataclass
class _Label:
    annotation: Annotation
    xy: tuple[float, float]
    radius_pt: float
    leader: Line2D                               # from the point to the label, drawn when needed


def _alignment(angle: float) -> tuple[str, str]:
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    ha = "left" if c > 0.25 else "right" if c < -0.25 else "center"
    va = "bottom" if s > 0.25 else "top" if s < -0.25 else "center"
    return ha, va


def _overlaps(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Area each of ``boxes`` (n × 4: x0, y0, x1, y1) shares with all of ``others`` (m × 4), summed: (n,)."""
    if not len(others):
        return np.zeros(len(boxes))
    w = np.minimum(boxes[:, None, 2], others[None, :, 2]) - np.maximum(boxes[:, None, 0], others[None, :, 0])
    h = np.minimum(boxes[:, None, 3], others[None, :, 3]) - np.maximum(boxes[:, None, 1], others[None, :, 1])
    return (np.clip(w, 0, None) * np.clip(h, 0, None)).sum(axis=1)


def _gaps(boxes: np.ndarray, point) -> np.ndarray:
    """Distance from ``point`` to each box (0 inside): (n,)."""
    dx = np.maximum.reduce([boxes[:, 0] - point[0], np.zeros(len(boxes)), point[0] - boxes[:, 2]])
    dy = np.maximum.reduce([boxes[:, 1] - point[1], np.zeros(len(boxes)), point[1] - boxes[:, 3]])
    return np.hypot(dx, dy)


def _crossings(starts: np.ndarray, ends: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Whether each segment (n × 2 starts and ends) passes through each of ``boxes`` (m × 4): (n, m)."""
    if not len(starts) or not len(boxes):
        return np.zeros((len(starts), len(boxes)), dtype=bool)
    p, d = starts[:, None, :], (ends - starts)[:, None, :]
    low, high = boxes[None, :, :2], boxes[None, :, 2:]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1, t2 = (low - p) / d, (high - p) / d
    inside = (p >= low) & (p <= high)                # a segment parallel to an axis: inside the slab or not
    near = np.where(d == 0, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    far = np.where(d == 0, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    enter = np.maximum(near.max(axis=2), 0.0)
    leave = np.minimum(far.min(axis=2), 1.0)
    return enter <= leave


# the candidates, in search order: ring (pt beyond the point's radius), direction, alignment
_RING = np.repeat(np.array(_RINGS_PT), len(_ANGLES))
_COS = np.tile(np.cos(np.radians(_ANGLES)), len(_RINGS_PT))
_SIN = np.tile(np.sin(np.radians(_ANGLES)), len(_RINGS_PT))
_ALIGN = [_alignment(angle) for angle in _ANGLES] * len(_RINGS_PT)
_FX = np.array([{"left": 0.0, "center": 0.5, "right": 1.0}[ha] for ha, _ in _ALIGN])
_FY = np.array([{"bottom": 0.0, "center": 0.5, "top": 1.0}[va] for _, va in _ALIGN])


class LabelPlacer(Artist):
    """Places the point labels of one axes when the axes is drawn (see the module's docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.set_zorder(-1e6)                    # drawn before the labels it moves
        self.set_in_layout(False)
        self.labels: list[_Label] = []
        self.legends: list[Legend] = []          # legends placed "best": fixed where they are at the first draw
        self.placed: list[Bbox] = []             # the label boxes of the last draw, in display units

    def add(self, annotation: Annotation, xy: tuple[float, float], radius_pt: float, leader: Line2D) -> None:
        self.labels.append(_Label(annotation, (float(xy[0]), float(xy[1])), float(radius_pt), leader))

    def draw(self, renderer) -> None:
        if self.get_visible() and self.axes is not None:
            self.place(renderer)

    def _fix_legends(self, renderer) -> None:
        """A "best" legend would move after the labels it should keep clear of: fix it where it is now."""
        for legend in self.legends:
            corner = legend.get_window_extent(renderer).p0
            fixed = tuple(float(v) for v in self.axes.transAxes.inverted().transform(corner))
            (getattr(legend, "set_loc", None) or legend._set_loc)(fixed)     # set_loc: matplotlib ≥ 3.8
        self.legends = []

    def place(self, renderer) -> list[Bbox]:
        """Move every label to its spot; returns their boxes (display units, in the order added)."""
        ax = self.axes
        self._fix_legends(renderer)
        pt = renderer.points_to_pixels(1.0)
        centres = np.array([ax.transData.transform(label.xy) for label in self.labels]).reshape(-1, 2)
        shown = [i for i, c in enumerate(centres) if np.isfinite(c).all() and ax.bbox.contains(*c)]
        half = _POINT_HALF_PT * pt
        radii = np.array([0.8 * label.radius_pt * pt for label in self.labels])
        dots = np.hstack([centres - half, centres + half])
        marks = np.hstack([centres - radii[:, None], centres + radii[:, None]])
        legends = np.array([child.get_window_extent(renderer).extents for child in ax.get_children()
                            if isinstance(child, Legend) and child.get_visible()]).reshape(-1, 4)
        frame = np.array([ax.bbox.extents])
        boxes, starts, ends = np.empty((0, 4)), np.empty((0, 2)), np.empty((0, 2))    # placed so far
        self.placed = []
        for i in shown:
            others = [j for j in shown if j != i]
            label = self.labels[i]
            extent = Text.get_window_extent(label.annotation, renderer)
            pad = _PAD_PT * pt
            width, height = extent.width + 2 * pad, extent.height + 2 * pad
            distance = (label.radius_pt + _RING) * pt
            x0 = centres[i, 0] + distance * _COS - width * _FX
            y0 = centres[i, 1] + distance * _SIN - height * _FY
            spots = np.column_stack([x0, y0, x0 + width, y0 + height])
            own = _gaps(spots, centres[i])
            nearer = np.zeros(len(spots), dtype=bool)
            for j in others:
                nearer |= _gaps(spots, centres[j]) < own + 2 * pt
            leader = (_RING > _LEADER_FROM_PT) | nearer
            middles = (spots[:, :2] + spots[:, 2:]) / 2
            hard = np.vstack([legends, dots[others], boxes])
            area = pt * pt                       # overlaps are in pixels²; costs are per pt²
            cost = (_DISTANCE * _RING ** 2
                    + (_HARD * _overlaps(spots, hard) + _SOFT * _overlaps(spots, marks[others])
                       + _OUTSIDE * (width * height - _overlaps(spots, frame))) / area
                    + _CROSSING * _crossings(starts, ends, spots).sum(axis=0)
                    + _CROSSING * leader * _crossings(middles, np.repeat(centres[i][None], len(spots), 0),
                                                      boxes).sum(axis=1))
            k = int(np.argmin(cost))                 # the first of the cheapest, in search order
            ha, va = _ALIGN[k]
            annotation = label.annotation
            annotation.xyann = (float(distance[k] / pt * _COS[k]), float(distance[k] / pt * _SIN[k]))
            annotation.set_horizontalalignment(ha)
            annotation.set_verticalalignment(va)
            _lead(label.leader, centres[i], middles[k], spots[k], ax) if leader[k] else label.leader.set_data([], [])
            boxes = np.vstack([boxes, spots[k]])
            if leader[k]:
                starts, ends = np.vstack([starts, middles[k]]), np.vstack([ends, centres[i]])
            self.placed.append(Bbox.from_extents(*(spots[k] + [pad, pad, -pad, -pad])))
        return self.placed


def _lead(line: Line2D, centre: np.ndarray, middle: np.ndarray, box: np.ndarray, ax: Axes) -> None:
    """Draw ``line`` from the point at ``centre`` to where it meets the label's ``box`` (display units)."""
    d = middle - centre
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.nanmax(np.where(d != 0, (np.where(d > 0, box[:2], box[2:]) - centre) / d, 0.0))
    end = centre + d * float(np.clip(t, 0.0, 1.0))
    x, y = ax.transData.inverted().transform(np.array([centre, end])).T
    line.set_data(x, y)


def placer_of(ax: Axes) -> LabelPlacer:
    """The axes's label placer, added on first use."""
    found: Optional[LabelPlacer] = next((c for c in ax.get_children() if isinstance(c, LabelPlacer)), None)
    if found is None:
        found = LabelPlacer()
        ax.add_artist(found)
    return found


def label_point(ax: Axes, text: str, xy: tuple[float, float], radius_pt: float = 3.0, fontsize: float = 6.5,
                **kwargs) -> Annotation:
    """A label for the point at ``xy`` (data units; ``radius_pt``: how far its marker reaches), placed
    at draw time so that it overlaps no other label, point or legend of the axes."""
    annotation = ax.annotate(text, xy, xytext=(radius_pt + _RINGS_PT[0], 0.0), textcoords="offset points",
                             fontsize=fontsize, ha="left", va="center", zorder=5, **kwargs)
    annotation.set_in_layout(False)              # placed inside the axes: the layout need not make room
    leader = Line2D([], [], color="0.45", lw=0.6, zorder=3.5, label="_leader")
    leader.set_in_layout(False)
    ax.add_line(leader)
    placer_of(ax).add(annotation, xy, radius_pt, leader)
    return annotation


def legend_clear_of_labels(ax: Axes, **kwargs) -> Legend:
    """``ax.legend(loc="best", ...)`` that the point labels of ``ax`` keep clear of."""
    legend = ax.legend(loc="best", **kwargs)
    placer_of(ax).legends.append(legend)
    return legend
