"""Which model gives the best accuracy within my frame-rate, power, energy and memory limits?

The paper's practical question (Canziani et al. 2016, sections 3.6–3.7: a frame rate, a power or an
energy budget bound the accuracy one can reach), answered on the measured points of
:mod:`onnxprof.report.dataset`.

Limits, all optional (``Constraints``):

* ``min_fps`` — throughput (images per second) at the batch size, at least this.
* ``max_power_w`` — **net** power (gross minus the idle baseline), at most this: the paper's power
  (Figures 4 and 8), what running the model adds to the device.
* ``max_energy_j`` — **net** energy per image (J), at most this, for the same reason.
* ``max_memory_mb`` — memory in use at the batch size (``BatchPoint.memory_bytes``: the GPU's where
  measured, else the process's peak RSS), in MB of 10^6 bytes, at most this.
* ``batch`` — judge every model at this batch size only; None: each model at its batch size that meets
  every limit with the highest throughput (ties: the smaller batch).

A model lands in exactly one list of the ``Selection``:

* ``chosen`` — meets every limit and its top-1 is known; ranked by top-1 (descending), ties by
  throughput (descending), then by name.
* ``rejected`` — no batch size meets the limits: its ``reasons`` say which limits failed and by how much
  (``"12.3 fps < 30 fps at batch 1"``), at its closest batch size (the fewest failed limits, then the
  smallest relative excess). Batches that ran out of memory or failed never qualify.
* ``unknown`` — a figure a limit needs was not measured (``"no net power measured at batch 4"``: a
  missing figure never passes a limit) and no batch size fails outright; or the model meets every
  limit but its top-1 accuracy is unknown.

Predictions can be judged alongside measurements: pass them as ``BatchPoint`` rows whose ``engine`` is
``PREDICTED_ENGINE``; their candidates carry ``predicted=True`` (``source == "predicted"``).

Each candidate names the run its figures come from (``run_id``, the run
:func:`onnxprof.report.dataset.choose_runs` picked or ``--run`` named) and carries the point's
``warnings``: a negative net power (gross below idle) passes any power or energy limit, so it is said.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Optional

from rich.text import Text

from onnxprof.measure.records import OUT_OF_MEMORY
from onnxprof.report.dataset import BatchPoint, by_model
from onnxprof.report.fit import NAME, NUMBER, Column, FitTable

PREDICTED_ENGINE = "predicted"


@dataclass(frozen=True)
class Constraints:
    min_fps: Optional[float] = None          # images per second, at least
    max_power_w: Optional[float] = None      # net W (gross − idle), at most
    max_energy_j: Optional[float] = None     # net J per image, at most
    max_memory_mb: Optional[float] = None    # MB (10^6 bytes), at most
    batch: Optional[int] = None              # None: each model's best qualifying batch size

    def describe(self) -> str:
        limits = []
        if self.min_fps is not None:
            limits.append(f"≥ {_num(self.min_fps)} fps")
        if self.max_power_w is not None:
            limits.append(f"≤ {_num(self.max_power_w)} W net")
        if self.max_energy_j is not None:
            limits.append(f"≤ {_joules(self.max_energy_j)} net per image")
        if self.max_memory_mb is not None:
            limits.append(f"≤ {_num(self.max_memory_mb)} MB")
        where = f"at batch {self.batch}" if self.batch is not None else "at each model's best batch size"
        return (", ".join(limits) or "no limits") + f", {where}"


@dataclass(frozen=True)
class Candidate:
    model: str
    title: str
    batch: int
    top1: Optional[float]
    throughput_per_s: Optional[float]
    net_w: Optional[float]
    gross_w: Optional[float]
    energy_per_image_j: Optional[float]          # gross
    net_energy_per_image_j: Optional[float]      # what max_energy_j limits
    memory_mb: Optional[float]
    predicted: bool = False
    reasons: tuple[str, ...] = ()                # why rejected or unknown; empty when chosen
    run_id: Optional[int] = None                 # the run the figures come from
    warnings: tuple[str, ...] = ()               # the point's (a negative net power), and a prediction's own

    @property
    def source(self) -> str:
        return "predicted" if self.predicted else "measured"


@dataclass(frozen=True)
class Selection:
    constraints: Constraints
    chosen: list[Candidate] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)
    unknown: list[Candidate] = field(default_factory=list)

    @property
    def best(self) -> Optional[Candidate]:
        return self.chosen[0] if self.chosen else None


@dataclass(frozen=True)
class _Verdict:
    point: BatchPoint
    failures: tuple[str, ...]
    missing: tuple[str, ...]
    excess: float            # summed relative excess over the failed limits (inf: did not run)


def _num(value: float) -> str:
    """Four significant digits, never in exponent form: ``12.35``, ``1,437``, ``10,000``."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _joules(value: float) -> str:
    return f"{_num(value * 1000)} mJ" if abs(value) < 1 else f"{_num(value)} J"


def _judge(point: BatchPoint, limits: Constraints) -> _Verdict:
    b = point.batch
    if not point.ok:
        what = "out of memory" if point.status == OUT_OF_MEMORY else "failed"
        error = point.error.splitlines()[0] if point.error and point.status != OUT_OF_MEMORY else ""
        return _Verdict(point, (f"{what} at batch {b}" + (f" ({error})" if error else ""),), (), math.inf)
    failures, missing, excess = [], [], 0.0
    checks = (
        # (limit, measured, is it a lower bound, failure text, missing text)
        (limits.min_fps, point.throughput_per_s, True,
         lambda v, lim: f"{_num(v)} fps < {_num(lim)} fps at batch {b}", f"no throughput measured at batch {b}"),
        (limits.max_power_w, point.net_w, False,
         lambda v, lim: f"{_num(v)} W > {_num(lim)} W net at batch {b}", f"no net power measured at batch {b}"),
        (limits.max_energy_j, point.net_energy_per_image_j, False,
         lambda v, lim: f"{_joules(v)} > {_joules(lim)} net per image at batch {b}",
         f"no net energy per image measured at batch {b}"),
        (limits.max_memory_mb, None if point.memory_bytes is None else point.memory_bytes / 1e6, False,
         lambda v, lim: f"{_num(v)} MB > {_num(lim)} MB at batch {b}", f"no memory measured at batch {b}"),
    )
    for limit, value, lower, failure, absent in checks:
        if limit is None:
            continue
        if value is None:
            missing.append(absent)
        elif (value < limit) if lower else (value > limit):
            failures.append(failure(value, limit))
            excess += abs(value - limit) / abs(limit) if limit else math.inf
    return _Verdict(point, tuple(failures), tuple(missing), excess)


def _candidate(point: BatchPoint, reasons: tuple[str, ...] = ()) -> Candidate:
    memory = point.memory_bytes
    return Candidate(model=point.model, title=point.title, batch=point.batch, top1=point.top1,
                     throughput_per_s=point.throughput_per_s, net_w=point.net_w, gross_w=point.gross_w,
                     energy_per_image_j=point.energy_per_image_j,
                     net_energy_per_image_j=point.net_energy_per_image_j,
                     memory_mb=None if memory is None else memory / 1e6,
                     predicted=point.engine == PREDICTED_ENGINE, reasons=reasons, run_id=point.run_id,
                     warnings=point.warnings + (point.predicted_warnings if point.engine == PREDICTED_ENGINE else ()))


def _fastest(verdicts: list[_Verdict]) -> _Verdict:
    """The highest throughput; ties: measured before predicted, then the smaller batch."""
    return max(verdicts, key=lambda v: (v.point.throughput_per_s or -1.0, v.point.engine != PREDICTED_ENGINE,
                                        -v.point.batch))


def select_models(points: Iterable[BatchPoint], constraints: Constraints) -> Selection:
    """Sort every model in ``points`` into chosen, rejected or unknown under ``constraints``."""
    chosen, rejected, unknown = [], [], []
    for model, group in by_model(points).items():
        if constraints.batch is not None:
            runs = group
            group = [p for p in group if p.batch == constraints.batch]
            if not group:
                ran = ", ".join(str(p.batch) for p in runs)
                unknown.append(Candidate(model=model, title=runs[0].title, batch=constraints.batch,
                                         top1=runs[0].top1, throughput_per_s=None, net_w=None, gross_w=None,
                                         energy_per_image_j=None, net_energy_per_image_j=None, memory_mb=None,
                                         predicted=all(p.engine == PREDICTED_ENGINE for p in runs),
                                         reasons=(f"not run at batch {constraints.batch} (ran {ran})",),
                                         run_id=runs[0].run_id))
                continue
        verdicts = [_judge(p, constraints) for p in group]
        qualifying = [v for v in verdicts if v.point.ok and not v.failures and not v.missing]
        if qualifying:
            best = _fastest(qualifying).point
            if best.top1 is None:
                unknown.append(_candidate(best, (f"top-1 accuracy unknown (meets the limits at batch {best.batch})",)))
            else:
                chosen.append(_candidate(best))
            continue
        undecided = [v for v in verdicts if v.point.ok and not v.failures]
        if undecided:
            closest = _fastest(undecided)
            unknown.append(_candidate(closest.point, closest.missing))
            continue
        closest = min(verdicts, key=lambda v: (len(v.failures), v.excess, -(v.point.throughput_per_s or 0.0),
                                               v.point.batch))
        rejected.append(_candidate(closest.point, closest.failures))
    chosen.sort(key=lambda c: (-c.top1, -(c.throughput_per_s or 0.0), c.model))
    return Selection(constraints, chosen, sorted(rejected, key=_by_accuracy), sorted(unknown, key=_by_accuracy))


def _by_accuracy(candidate: Candidate) -> tuple:
    """Most accurate first, unknown accuracy last, then by name."""
    return candidate.top1 is None, -(candidate.top1 or 0.0), candidate.model


def _cell(value: Optional[float], fmt) -> str:
    return "-" if value is None else fmt(value)


def selection_table(selection: Selection) -> FitTable:
    """One table: the best model and its runner-ups, then the rejected models, then the models the data
    cannot judge, each with the run its figures come from; why each was rejected or cannot be judged, and
    any warning (a negative net power), is in the caption under it (full width, so that the table reads
    in an 80-column terminal)."""
    table = FitTable(f"Best top-1 within {selection.constraints.describe()}",
                     [Column("model", NAME, key=True), Column("run", NUMBER, priority=2), Column("batch"),
                      Column("top-1 %"), Column("fps"), Column("net W", priority=1), Column("net J/img", priority=1),
                      Column("MB", priority=1), Column("verdict", NAME)])

    def row(candidate: Candidate, verdict: str, style: str) -> None:
        c = candidate
        cells = (c.model + (" (predicted)" if c.predicted else ""), "-" if c.run_id is None else str(c.run_id),
                 str(c.batch),
                 _cell(c.top1, lambda v: f"{v:.2f}"), _cell(c.throughput_per_s, lambda v: f"{v:,.1f}"),
                 _cell(c.net_w, lambda v: f"{v:.2f}"), _cell(c.net_energy_per_image_j, _joules),
                 _cell(c.memory_mb, lambda v: f"{v:,.1f}"), verdict)
        table.add_row(*(Text(cell) for cell in cells[:-1]), Text(cells[-1], style=style))

    for rank, candidate in enumerate(selection.chosen, 1):
        row(candidate, "best" if rank == 1 else f"#{rank}", "bold green" if rank == 1 else "green")
    why = [] if selection.chosen else ["no model meets every limit"]
    for candidates, verdict, style in ((selection.rejected, "fails", "red"), (selection.unknown, "unknown", "yellow")):
        for candidate in candidates:
            row(candidate, verdict, style)
            why.append(f"{candidate.model} {verdict}: " + "; ".join(candidate.reasons))
    for candidate in (*selection.chosen, *selection.rejected, *selection.unknown):
        why.extend(f"{candidate.model} (run {candidate.run_id}) warning: {w}" for w in candidate.warnings)
    if why:
        table.caption = "\n".join(why)
    return table
