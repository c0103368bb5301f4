"""The paper's findings, checked on stored measurements.

Canziani, Paszke & Culurciello (2016) state four findings for 14 ImageNet networks on a Jetson TX1; this
module fits the same relationships to the points of :mod:`onnxprof.report.dataset` and says whether each
one holds on the measured device. The paper's TX1 figures are copied below as constants (the paper is not
read at run time); each cites the section or figure it comes from.

Methods and thresholds ("holds" is ``None`` when there is not enough data, never an exception):

``power.batch`` — power is independent of batch size (Figure 4, section 3.3)
    Per network with net power at two or more batch sizes: the coefficient of variation (sample standard
    deviation, ``ddof=1``, over the mean) of net power across its batch sizes. The statistic is the
    median over networks, because the paper itself calls power "mostly independent" and names two low
    outliers (AlexNet at batch 1, VGG at batch 2); the worst network is named in the detail.
    Holds when the median CV ≤ ``POWER_MAX_CV`` (0.10).
``power.architecture`` — power is independent of the architecture (Figure 8, section 3.6)
    Net power of each network at full load — the largest batch size it ran successfully with net power —
    and the CV (sample std, ``ddof=1``) across networks. Holds when CV ≤ ``POWER_MAX_CV`` (0.10); the
    paper's 11.8 ± 0.7 W is a CV of 0.059.
``memory.floor`` and ``memory.slope`` — memory is a static floor plus a line in the parameters (Figure 6)
    Least-squares line (``np.polyfit``, degree 1) of memory at batch 1 (``BatchPoint.memory_bytes``: the
    GPU's where measured, else the process's peak RSS) against the model's weight bytes as onnxprof
    counted them (``weight_bytes``; 4 × parameters — float32 — where a run lacks it). The intercept is the
    floor in MB (10^6 bytes), the slope is bytes of memory per weight byte. The paper's 1.30 is per
    megabyte of parameters (Torch7 float32 weights), so the two slopes compare directly.
    Both hold when R² ≥ ``MEMORY_MIN_R2`` (0.90) and the figure is positive (a floor above zero, a
    slope above zero); the TX1 values (200 MB, 1.30) depend on device and runtime and are shown, not
    required.
``operations.time@bN`` — operations are a reliable estimate of inference time (Figure 7, section 3.5)
    One finding per batch size N that three or more networks ran: the line of time per image (ms,
    median batch latency / N) against operations per image (GMACs, the paper's operations), as the
    paper's Figure 7 plots it (batch 1 and 16 there). The value is R²; the slope (ms per GMAC) and
    intercept are in the detail and in ``figures``. Holds when R² ≥ ``OPERATIONS_MIN_R2`` (0.90).
``accuracy.bound`` — a linear upper bound of accuracy by inferences per second (Figure 9, section 3.7)
    Each network at full load (its successful batch with the highest throughput). The Pareto frontier is
    the networks no other network beats in both top-1 and throughput; ``np.polyfit`` fits a line
    top-1 = a + b·fps through the frontier, and the intercept is then raised by the largest residual of
    any network, so that the line bounds every network. The value is the slope b (top-1 points per
    inference/s). Holds when b < 0 (accuracy is traded for speed) and, with three or more frontier
    points, the frontier fit's R² ≥ ``BOUND_MIN_R2`` (0.90); two frontier points give an exact line.
    A single frontier network (the most accurate is also the fastest) means there is no trade-off: False.
``accuracy.hyperbola`` — accuracy and inference time are in a hyperbolic relationship (sections 3.1, 3.7)
    The paper derives the hyperbola from the linear throughput bound, so the form is
    top-1 = a + b / t with t the time per image at full load (ms); fitted with ``np.polyfit`` on 1/t over
    every network with a known top-1. The value is R² (of top-1). Holds when b < 0 (accuracy grows with
    time and flattens) and R² ≥ ``HYPERBOLA_MIN_R2`` (0.50: the paper's networks scatter below the bound,
    Figure 9, so the general trend is looser than the frontier).

Enough points to judge. A finding computed from fewer points than it needs is not judged: ``holds`` is
None and its verdict reads "not enough points (n=2, needs 4)", never yes or no. The minimums (``needed``
on each finding), chosen so that noise alone rarely passes the threshold:

* ``power.batch``: a CV per network from ``MIN_BATCH_SIZES`` (3) batch sizes (the sample std of two values
  is their difference alone), over ``MIN_NETWORKS`` (3) such networks.
* ``power.architecture``: ``MIN_NETWORKS`` (3) networks.
* ``memory.*`` and ``operations.time@bN``: ``MIN_LINE_POINTS`` (4) networks. R² ≥ 0.90 from unrelated
  points happens 20 % of the time with 3 points, 5 % with 4 (R² ~ Beta(1/2, (n−2)/2)).
* ``accuracy.bound``: ``MIN_NETWORKS`` networks and ``MIN_FRONTIER`` (3) on the frontier: a line through two
  frontier points is exact, so it says nothing of linearity (its slope and intercept are still given).
* ``accuracy.hyperbola``: ``MIN_HYPERBOLA_POINTS`` (5) networks: its threshold (R² ≥ 0.50, b < 0) is met
  by unrelated points 14 % of the time with 4, 9 % with 5.

Negative net power (gross below the idle baseline: the baseline or the meter is off) is flagged in the
power findings' ``warnings`` and detail, naming the network and batch; the values are kept in the
statistic, which is then not to be trusted. Each finding names the runs its points come from (``runs``).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from typing import Iterable, Optional, Sequence, Union

import numpy as np
from rich.text import Text

from onnxprof.predict.metrics import r_squared
from onnxprof.report.dataset import BatchPoint, by_model
from onnxprof.report.fit import NUMBER, TEXT, Column, FitTable

# --- the paper's Jetson TX1 figures (Canziani, Paszke & Culurciello 2016) ---------------------------
PAPER_IDLE_W = 1.30              # section 3.3 (Figure 4 caption) and section 3.6: idle power of the TX1 board
PAPER_NET_POWER_W = 11.8         # section 3.6 (Figure 8): net power at full utilisation, all networks
PAPER_NET_POWER_STD_W = 0.7      # section 3.6: its standard deviation across networks
PAPER_MEMORY_FLOOR_MB = 200.0    # section 3.4 (Figure 6): memory never drops below 200 MB
PAPER_MEMORY_SLOPE = 1.30        # section 3.4 (Figure 6): linear in the parameters' size with slope 1.30
PAPER_OPERATIONS_BATCHES = (1, 16)   # Figure 7: operations vs time per image at batch 1 and 16

# --- thresholds for "holds" and the points needed to judge (see the module docstring) ---------------
MIN_NETWORKS = 3
MIN_BATCH_SIZES = 3
MIN_LINE_POINTS = 4
MIN_FRONTIER = 3
MIN_HYPERBOLA_POINTS = 5
POWER_MAX_CV = 0.10
MEMORY_MIN_R2 = 0.90
OPERATIONS_MIN_R2 = 0.90
BOUND_MIN_R2 = 0.90
HYPERBOLA_MIN_R2 = 0.50

PaperValue = Union[str, float]


@dataclass(frozen=True)
class Finding:
    """One statistic checked against the paper. ``holds`` is None when the data cannot decide."""

    key: str
    claim: str
    statistic_name: str
    value: Optional[float]
    paper_value: PaperValue
    holds: Optional[bool]
    detail: str
    n: int                                           # networks the statistic was computed over (the bound
                                                     # through too few frontier networks: those)
    figures: tuple[tuple[str, float], ...] = ()      # further fitted numbers (slope, intercept, R², ...)
    needed: int = 0                                  # the points it needs to be judged (module docstring)
    runs: tuple[int, ...] = ()                       # the runs its points come from
    warnings: tuple[str, ...] = ()                   # e.g. a negative net power

    def figure(self, name: str) -> Optional[float]:
        return dict(self.figures).get(name)

    @property
    def verdict(self) -> str:
        """yes, no, "not enough points (n=2, needs 4)", or "cannot judge" (enough points, no fit)."""
        if self.holds is not None:
            return "yes" if self.holds else "no"
        if self.n < self.needed or not self.needed:
            return f"not enough points (n={self.n}" + (f", needs {self.needed})" if self.needed else ")")
        return "cannot judge"


@dataclass(frozen=True)
class _Line:
    slope: float
    intercept: float
    r2: float


def _line(x: Sequence[float], y: Sequence[float]) -> Optional[_Line]:
    """Least-squares line y = slope·x + intercept, with R²; None when x does not vary."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xs.size < 2 or np.ptp(xs) == 0:
        return None
    slope, intercept = np.polyfit(xs, ys, 1)
    return _Line(float(slope), float(intercept), r_squared(np.polyval([slope, intercept], xs), ys))


def _signed(value: float) -> str:
    """``-0.5`` -> ``− 0.5``, for a term after another: ``a − 0.5 × x``."""
    return f"{'−' if value < 0 else '+'} {abs(value):.4g}"


def _cv(values: Sequence[float]) -> float:
    """Coefficient of variation: sample standard deviation (ddof=1) over the mean."""
    array = np.asarray(values, dtype=float)
    return float(np.std(array, ddof=1) / np.mean(array))


def _missing(key: str, claim: str, statistic: str, paper: PaperValue, detail: str, n: int = 0,
             needed: int = MIN_NETWORKS, runs: tuple[int, ...] = (), warnings: tuple[str, ...] = ()) -> Finding:
    return Finding(key, claim, statistic, None, paper, None, detail, n, needed=needed, runs=runs, warnings=warnings)


def _short(n: int, what: str, needed: int = MIN_NETWORKS) -> str:
    return f"not enough points: {what} for {n} network{'s' if n != 1 else ''}; needs {needed}"


def _runs(points: Iterable[BatchPoint]) -> tuple[int, ...]:
    return tuple(sorted({p.run_id for p in points}))


def _negative_power(points: Iterable[BatchPoint]) -> tuple[str, ...]:
    """One warning per network and batch whose net power is below zero (see power.negative_net_power)."""
    return tuple(f"{p.model} at batch {p.batch} (run {p.run_id}): {w}" for p in points for w in p.warnings)


# --- (1) power --------------------------------------------------------------------------------------

def _power_batch(groups: dict[str, list[BatchPoint]]) -> Finding:
    key, claim, statistic = "power.batch", "power is independent of batch size", "median CV of net power over batch sizes"
    paper = "mostly independent (Figure 4)"
    cvs, used = {}, []
    for model, points in groups.items():
        powered = [p for p in points if p.ok and p.net_w is not None]
        if len({p.batch for p in powered}) >= MIN_BATCH_SIZES:
            cvs[model] = _cv([p.net_w for p in powered])
            used.extend(powered)
    if not any(p.net_w is not None for ps in groups.values() for p in ps):
        return _missing(key, claim, statistic, paper, "no net power measured (no power meter, or no idle baseline)")
    warnings = _negative_power(used)
    if len(cvs) < MIN_NETWORKS:
        return _missing(key, claim, statistic, paper,
                        _short(len(cvs), f"net power at {MIN_BATCH_SIZES} or more batch sizes"), len(cvs),
                        runs=_runs(used), warnings=warnings)
    median = float(statistics.median(cvs.values()))
    worst = max(cvs, key=cvs.get)
    detail = (f"per-network CV (sample std / mean) of net power over batch sizes; median {median:.3f}, "
              f"worst {worst} {cvs[worst]:.3f}; holds at ≤ {POWER_MAX_CV}")
    return Finding(key, claim, statistic, median, paper, median <= POWER_MAX_CV, detail,
                   len(cvs), (("median_cv", median), ("max_cv", cvs[worst])), needed=MIN_NETWORKS,
                   runs=_runs(used), warnings=warnings)


def _power_architecture(groups: dict[str, list[BatchPoint]]) -> Finding:
    key, claim, statistic = "power.architecture", "power is independent of the architecture", "CV of net power across networks at full load"
    paper_cv = PAPER_NET_POWER_STD_W / PAPER_NET_POWER_W
    paper = f"{PAPER_NET_POWER_W} ± {PAPER_NET_POWER_STD_W} W net (CV {paper_cv:.3f}; section 3.6)"
    full_load = {}
    for model, points in groups.items():
        powered = [p for p in points if p.ok and p.net_w is not None]
        if powered:
            full_load[model] = max(powered, key=lambda p: p.batch)
    if not full_load:
        return _missing(key, claim, statistic, paper, "no net power measured (no power meter, or no idle baseline)")
    used = list(full_load.values())
    warnings = _negative_power(used)
    if len(full_load) < MIN_NETWORKS:
        return _missing(key, claim, statistic, paper, _short(len(full_load), "net power"), len(full_load),
                        runs=_runs(used), warnings=warnings)
    watts = [p.net_w for p in full_load.values()]
    mean, std = float(np.mean(watts)), float(np.std(watts, ddof=1))
    cv = std / mean
    detail = (f"net power at each network's largest batch: {mean:.2f} ± {std:.2f} W (sample std), "
              f"range {min(watts):.2f}–{max(watts):.2f} W; paper {PAPER_NET_POWER_W} ± {PAPER_NET_POWER_STD_W} W; "
              f"holds at CV ≤ {POWER_MAX_CV}")
    return Finding(key, claim, statistic, cv, paper, cv <= POWER_MAX_CV, detail, len(watts),
                   (("mean_w", mean), ("std_w", std)), needed=MIN_NETWORKS, runs=_runs(used), warnings=warnings)


# --- (2) memory -------------------------------------------------------------------------------------

def _memory(groups: dict[str, list[BatchPoint]]) -> list[Finding]:
    claim = "memory is a static floor plus a line in the parameters' size"
    floor_key, floor_stat = "memory.floor", "floor (MB) of memory at batch 1 vs weight bytes"
    slope_key, slope_stat = "memory.slope", "slope of memory at batch 1 vs weight bytes"
    sizes, memory, fallback, used = [], [], 0, []
    for points in groups.values():
        first = next((p for p in points if p.batch == 1 and p.ok and p.memory_bytes is not None), None)
        if first is None:
            continue
        weight = first.weight_bytes if first.weight_bytes is not None else (
            4 * first.parameters if first.parameters is not None else None)
        if weight is None:
            continue
        fallback += first.weight_bytes is None
        used.append(first)
        sizes.append(float(weight))
        memory.append(float(first.memory_bytes))
    runs = _runs(used)
    if len(sizes) < MIN_LINE_POINTS:
        detail = _short(len(sizes), "memory at batch 1 with a known weight size", MIN_LINE_POINTS)
        return [_missing(floor_key, claim, floor_stat, PAPER_MEMORY_FLOOR_MB, detail, len(sizes), MIN_LINE_POINTS, runs),
                _missing(slope_key, claim, slope_stat, PAPER_MEMORY_SLOPE, detail, len(sizes), MIN_LINE_POINTS, runs)]
    fit = _line(sizes, memory)
    if fit is None:
        detail = "every network has the same weight size: no line to fit"
        return [_missing(floor_key, claim, floor_stat, PAPER_MEMORY_FLOOR_MB, detail, len(sizes), MIN_LINE_POINTS, runs),
                _missing(slope_key, claim, slope_stat, PAPER_MEMORY_SLOPE, detail, len(sizes), MIN_LINE_POINTS, runs)]
    floor_mb = fit.intercept / 1e6
    linear = fit.r2 >= MEMORY_MIN_R2
    how = ("weight bytes as counted" if not fallback else
           f"weight bytes as counted ({fallback} from 4 × parameters)")
    common = (f"memory = {floor_mb:.1f} MB + {fit.slope:.3f} × weights ({how}); R² {fit.r2:.3f} "
              f"(needs ≥ {MEMORY_MIN_R2}); paper {PAPER_MEMORY_FLOOR_MB:.0f} MB floor, slope {PAPER_MEMORY_SLOPE:.2f}")
    figures = (("floor_mb", floor_mb), ("slope", fit.slope), ("r2", fit.r2))
    return [Finding(floor_key, claim, floor_stat, floor_mb, PAPER_MEMORY_FLOOR_MB, linear and floor_mb > 0,
                    common, len(sizes), figures, needed=MIN_LINE_POINTS, runs=runs),
            Finding(slope_key, claim, slope_stat, fit.slope, PAPER_MEMORY_SLOPE, linear and fit.slope > 0,
                    common, len(sizes), figures, needed=MIN_LINE_POINTS, runs=runs)]


# --- (3) operations and time ------------------------------------------------------------------------

def _operations(points: Sequence[BatchPoint]) -> list[Finding]:
    claim = "the number of operations is a reliable estimate of inference time"
    statistic = "R² of time per image vs operations"
    paper = "linear (Figure 7, batch 1 and 16)"
    usable = [p for p in points if p.ok and p.macs_per_image and p.latency_per_image_ms is not None]
    batches = sorted({p.batch for p in usable})
    out = []
    for batch in batches:
        here = {p.model: p for p in usable if p.batch == batch}     # the latest point per model
        key = f"operations.time@b{batch}"
        runs = _runs(here.values())
        if len(here) < MIN_LINE_POINTS:
            if batch in PAPER_OPERATIONS_BATCHES:
                out.append(_missing(key, claim, statistic, paper,
                                    _short(len(here), f"time and operations at batch {batch}", MIN_LINE_POINTS),
                                    len(here), MIN_LINE_POINTS, runs))
            continue
        gmacs = [p.macs_per_image / 1e9 for p in here.values()]
        ms = [p.latency_per_image_ms for p in here.values()]
        fit = _line(gmacs, ms)
        if fit is None:
            out.append(_missing(key, claim, statistic, paper, "every network has the same operation count", len(here),
                                MIN_LINE_POINTS, runs))
            continue
        detail = (f"batch {batch}: time per image = {fit.slope:.4g} ms per GMAC × GMACs + {fit.intercept:.4g} ms; "
                  f"holds at R² ≥ {OPERATIONS_MIN_R2}")
        out.append(Finding(key, claim, statistic, fit.r2, paper, fit.r2 >= OPERATIONS_MIN_R2, detail, len(here),
                           (("slope_ms_per_gmac", fit.slope), ("intercept_ms", fit.intercept), ("batch", batch)),
                           needed=MIN_LINE_POINTS, runs=runs))
    if not out:
        known = any(p.macs_per_image for p in points)
        most = max((len({p.model for p in usable if p.batch == b}) for b in batches), default=0)
        why = (f"not enough points: no batch size with time and operations for {MIN_LINE_POINTS} networks"
               if known else "operation counts unknown (still formulas, or no successful batch)")
        out.append(_missing("operations.time", claim, statistic, paper, why, most if known else 0, MIN_LINE_POINTS,
                            _runs(usable)))
    return out


# --- (4) accuracy and throughput --------------------------------------------------------------------

def _frontier(fps: np.ndarray, top1: np.ndarray) -> np.ndarray:
    """Indices of the networks no other network beats in both throughput and accuracy."""
    keep = []
    for i in range(fps.size):
        dominated = np.any((fps >= fps[i]) & (top1 >= top1[i]) & ((fps > fps[i]) | (top1 > top1[i])))
        if not dominated:
            keep.append(i)
    return np.array(keep, dtype=int)


def _accuracy(groups: dict[str, list[BatchPoint]]) -> list[Finding]:
    bound_key, bound_claim = "accuracy.bound", "accuracy has a linear upper bound in inferences per second"
    bound_stat, bound_paper = "slope of the bound (top-1 % per inference/s)", "negative linear upper bound (Figure 9)"
    hyp_key, hyp_claim = "accuracy.hyperbola", "accuracy and inference time are in a hyperbolic relationship"
    hyp_stat, hyp_paper = "R² of top-1 = a + b / time per image", "hyperbolic (sections 3.1, 3.7; conclusions)"
    best: dict[str, BatchPoint] = {}
    unknown_accuracy = 0
    for model, points in groups.items():
        timed = [p for p in points if p.ok and p.throughput_per_s]
        if not timed:
            continue
        if timed[0].top1 is None:
            unknown_accuracy += 1
            continue
        best[model] = max(timed, key=lambda p: p.throughput_per_s)
    runs = _runs(best.values())
    if len(best) < MIN_NETWORKS:
        detail = _short(len(best), "top-1 and throughput")
        if unknown_accuracy:
            detail += f" ({unknown_accuracy} with unknown accuracy)"
        return [_missing(bound_key, bound_claim, bound_stat, bound_paper, detail, len(best), runs=runs),
                _missing(hyp_key, hyp_claim, hyp_stat, hyp_paper, detail, len(best), MIN_HYPERBOLA_POINTS, runs)]
    names = list(best)
    fps = np.array([best[m].throughput_per_s for m in names], dtype=float)
    top1 = np.array([best[m].top1 for m in names], dtype=float)
    return [replace(_bound(bound_key, bound_claim, bound_stat, bound_paper, names, fps, top1), runs=runs),
            replace(_hyperbola(hyp_key, hyp_claim, hyp_stat, hyp_paper, fps, top1), runs=runs)]


def _bound(key, claim, statistic, paper, names, fps, top1) -> Finding:
    n = len(names)
    front = _frontier(fps, top1)
    front_names = ", ".join(names[i] for i in front[np.argsort(fps[front])])
    fit = _line(fps[front], top1[front])
    if fit is None:
        detail = (f"{front_names} is both the most accurate and the fastest network at full load: "
                  "no accuracy–speed trade-off")
        return Finding(key, claim, statistic, None, paper, False, detail, n, needed=MIN_NETWORKS)
    residual = top1 - (fit.slope * fps + fit.intercept)
    intercept = fit.intercept + max(0.0, float(residual.max()))
    judged = front.size >= MIN_FRONTIER
    holds = (fit.slope < 0 and fit.r2 >= BOUND_MIN_R2) if judged else None
    detail = (f"each network at its highest throughput; line through the Pareto frontier ({front_names}), "
              f"raised to bound all {n}: top-1 ≤ {intercept:.4g} {_signed(fit.slope)} × fps; frontier R² {fit.r2:.3f}"
              + (f" (needs ≥ {BOUND_MIN_R2})" if judged else
                 f"; not enough points: {front.size} on the frontier make an exact line, needs {MIN_FRONTIER}"))
    return Finding(key, claim, statistic, fit.slope, paper, holds, detail, int(front.size) if not judged else n,
                   (("slope", fit.slope), ("intercept", intercept), ("frontier_r2", fit.r2),
                    ("frontier_size", float(front.size))), needed=MIN_FRONTIER if not judged else MIN_NETWORKS)


def _hyperbola(key, claim, statistic, paper, fps, top1) -> Finding:
    ms_per_image = 1000.0 / fps
    fit = _line(1.0 / ms_per_image, top1)
    if fit is None:
        return _missing(key, claim, statistic, paper, "every network has the same time per image", int(fps.size),
                        MIN_HYPERBOLA_POINTS)
    judged = fps.size >= MIN_HYPERBOLA_POINTS
    holds = (fit.slope < 0 and fit.r2 >= HYPERBOLA_MIN_R2) if judged else None
    detail = (f"each network at its highest throughput: top-1 = {fit.intercept:.4g} {_signed(fit.slope)} / (ms per image); "
              + (f"holds when b < 0 and R² ≥ {HYPERBOLA_MIN_R2}" if judged else
                 f"not enough points: {fps.size} networks, needs {MIN_HYPERBOLA_POINTS}"))
    return Finding(key, claim, statistic, fit.r2, paper, holds, detail, int(fps.size),
                   (("a", fit.intercept), ("b", fit.slope), ("r2", fit.r2)), needed=MIN_HYPERBOLA_POINTS)


# --- public API -------------------------------------------------------------------------------------

def check_findings(points: Iterable[BatchPoint]) -> list[Finding]:
    """The paper's findings on ``points`` (as from :func:`onnxprof.report.dataset.load_points`), in the
    paper's order: power, memory, operations → time, accuracy vs throughput."""
    points = list(points)
    groups = by_model(points)
    return [_power_batch(groups), _power_architecture(groups), *_memory(groups), *_operations(points),
            *_accuracy(groups)]


COLUMNS = ("finding", "claim", "statistic", "value", "paper (TX1)", "holds", "n", "runs", "detail")


def _value(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.4g}"


def _paper(value: PaperValue) -> str:
    return value if isinstance(value, str) else f"{value:g}"


def runs_text(runs: Sequence[int]) -> str:
    """``1, 3–5, 9``; "-" for none."""
    if not runs:
        return "-"
    spans, start, last = [], runs[0], runs[0]
    for run in list(runs[1:]) + [None]:
        if run is not None and run == last + 1:
            last = run
            continue
        spans.append(str(start) if start == last else f"{start}–{last}")
        if run is not None:
            start = last = run
    return ", ".join(spans)


def finding_cells(finding: Finding) -> tuple[str, ...]:
    detail = finding.detail + "".join(f"; warning: {w}" for w in finding.warnings)
    return (finding.key, finding.claim, finding.statistic_name, _value(finding.value), _paper(finding.paper_value),
            finding.verdict, str(finding.n), runs_text(finding.runs), detail)


def findings_table(findings: Sequence[Finding]) -> FitTable:
    """Four columns so that it reads in an 80-column terminal: the finding (its claim and, dimmed, the
    statistic and detail under it; wrapping text), the value here, the paper's, and whether it holds."""
    table = FitTable("The paper's findings on these measurements",
                     [Column("finding", TEXT, floor=30), Column("here", NUMBER), Column("paper (TX1)", TEXT),
                      Column("holds", TEXT, floor=8)])
    styles = {True: "green", False: "red", None: "yellow"}
    for finding in findings:
        described = Text(f"{finding.key}: ", style="bold")      # Text: no rich markup read from the cells
        described.append(finding.claim)
        described.append(f"\n{finding.statistic_name} (n={finding.n}; runs {runs_text(finding.runs)}); "
                         f"{finding.detail}", style="dim")
        for warning in finding.warnings:
            described.append(f"\nwarning: {warning}", style="yellow")
        table.add_row(described, Text(_value(finding.value)), Text(_paper(finding.paper_value)),
                      Text(finding.verdict, style=styles[finding.holds]))
    return table


def findings_markdown(findings: Sequence[Finding]) -> str:
    """A Markdown table with the same columns as :func:`findings_table`."""
    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(COLUMNS) + " |",
             "| " + " | ".join("---:" if c in ("value", "n") else "---" for c in COLUMNS) + " |"]
    lines += ["| " + " | ".join(escape(cell) for cell in finding_cells(f)) + " |" for f in findings]
    return "\n".join(lines) + "\n"
