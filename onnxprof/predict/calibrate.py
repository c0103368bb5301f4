"""Calibration: measure a set of models on this device with measure's protocol and per-layer profiles,
then fit the predictors and judge them by leave-one-model-out error (each model predicted by a fit
made without it)."""

from __future__ import annotations

import hashlib
import json
import socket
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Collection, Optional, Sequence

import numpy as np

from onnxprof import __version__
from onnxprof.cost.analysis import analyze
from onnxprof.engines import create_engine, engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.measure.harness import TimingProtocol, time_batch
from onnxprof.measure.inputs import synthetic_feeds
from onnxprof.measure.isolated import peak_rss_in_own_process
from onnxprof.measure.layers import LayerRow
from onnxprof.measure.profiled import MIN_PROFILED_RUNS, PROFILE_S, PROFILED_RUNS, profiled_rows
from onnxprof.measure.quiet import MachineProbe, Round, fastest_round
from onnxprof.measure.records import OK, json_ready
from onnxprof.model.shapes import ShapeBinding
from onnxprof.measure.harness import now_iso
from onnxprof.predict.calibration_data import CalibrationData, CalibrationPoint, network_point
from onnxprof.predict.kernels import KernelTiming
from onnxprof.predict.memory import MemorySample, fit_memory
from onnxprof.predict.metrics import TOLERANCE, FitQuality, fit_quality, leave_one_out, rmspe
from onnxprof.predict.power import PowerModel
from onnxprof.predict.predictors import PREDICTORS, fit_predictors
from onnxprof.predict.profile import CalibratedProfile

if TYPE_CHECKING:
    from onnxprof.predict.opbench import OpBench

# The plan's points, each one measurement: a network's timing or profile in one round, a single-op case's
# profile in one round, a model's memory. What each takes on a quiet machine, roughly (2-core x86 VM,
# ONNX Runtime's CPU provider), for the duration stated before a calibration starts and the progress
# bar's weights; the time left shown while it runs scales them by how fast the points measured so far went.
TIMING, PROFILE, OP, MEMORY = "timing", "profile", "op", "memory"
SESSION_S = 0.2          # an engine session's build, per timing or profile
PROBE_S = 0.1            # the machine probe's two readings around each measurement
OP_CASE_S = 0.12         # a single-op case: its session and PROFILED_RUNS runs
MEMORY_S = 4.0           # measure's sweep in a process of its own (interpreter, imports, a few runs)
MACHINE_S = 6.0          # measure_this_machine before the points (its 4 s of kernels and their builds)
CHECKPOINT_SCHEMA = "onnxprof.calibration-checkpoint"
CHECKPOINT_VERSION = 1


def point_budget_s(kind: str, protocol: TimingProtocol = TimingProtocol(min_duration_s=1.0)) -> float:
    """What one point of ``kind`` takes on a quiet machine, roughly (see SESSION_S and the others)."""
    if kind == TIMING:
        return protocol.warmup_s + protocol.min_duration_s + SESSION_S + PROBE_S
    if kind == PROFILE:
        return PROFILE_S + SESSION_S + PROBE_S
    return OP_CASE_S + PROBE_S if kind == OP else MEMORY_S


@dataclass
class Tally:
    """Where a calibration stands: its plan's points (``total``, their budgets ``budget_s``), those
    reused from a checkpoint, those measured by this run, and those dropped (a model that failed)."""

    total: int
    budget_s: float
    counts: dict = field(default_factory=dict)     # kind -> (points, budget of one)
    reused: int = 0
    reused_s: float = 0.0
    measured: int = 0
    measured_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def done(self) -> int:
        return self.reused + self.measured

    @property
    def done_s(self) -> float:
        return self.reused_s + self.measured_s

    def advance(self, budget_s: float) -> None:
        self.measured, self.measured_s = self.measured + 1, self.measured_s + budget_s

    def drop(self, budget_s: float) -> None:
        self.total, self.budget_s = self.total - 1, self.budget_s - budget_s

    def left_s(self) -> float:
        """The budgets of the points left, scaled by how much longer than their budgets this run's
        points took (on a busy machine, several times): the time left, as far as it can be told."""
        left = max(0.0, self.budget_s - self.done_s)
        if self.measured_s <= 0:
            return left
        return left * (time.perf_counter() - self.started) / self.measured_s

    def describe(self) -> str:
        names = {TIMING: "network timings", PROFILE: "network profiles", OP: "single-op profiles",
                 MEMORY: "memory runs"}
        parts = [f"{n} {names[kind]} of ~{_seconds(each)}" for kind, (n, each) in self.counts.items() if n]
        return ", ".join(parts)


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def duration_text(seconds: float) -> str:
    """About how long: seconds under 1.5 min, then minutes."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def plan(models: Sequence[tuple[str, Path]], batches: Sequence[int],
         protocol: TimingProtocol = TimingProtocol(min_duration_s=1.0), rounds: int = 1,
         unprofiled: Collection[str] = (), op_bench: Optional["OpBench"] = None,
         checkpoint: Optional["Checkpoint"] = None) -> Tally:
    """The points :func:`collect` measures, their budgets, and those a checkpoint holds already."""
    keys = [(name, batch) for name, _ in models for batch in batches]
    steps = [(kind, key, r) for r in range(rounds) for key in keys
             for kind in ((TIMING,) if key[0] in unprofiled else (TIMING, PROFILE))]
    if op_bench is not None:
        steps += [(OP, (name,), r) for r in range(op_bench.rounds) for name in op_bench.cases]
    steps += [(MEMORY, (name,), 0) for name in dict(models)]
    each = {kind: point_budget_s(kind, protocol) for kind in (TIMING, PROFILE, OP, MEMORY)}
    counts = {kind: (sum(step[0] == kind for step in steps), each[kind]) for kind in each}
    tally = Tally(len(steps), sum(each[kind] for kind, _, _ in steps), counts)
    if checkpoint is not None:
        reused = [kind for kind, key, r in steps if r < len(checkpoint.of(kind, *key))]
        tally.reused, tally.reused_s = len(reused), sum(each[kind] for kind in reused)
    return tally


class Checkpoint:
    """The points of a calibration measured so far, kept so that a stopped calibration resumes.

    A JSON-lines file: a header (``schema`` onnxprof.calibration-checkpoint, ``schema_version``,
    ``onnxprof_version``, ``settings`` and their hash ``settings_key``), then one line per point as it
    is measured (``point``: timing, profile, op or memory; its model and batch or case; ``ms``, the probe's
    readings around it ``probe_ms``, a profile's ``rows``, a model's ``peak_rss_bytes`` by batch, and the
    ``seconds`` it took). Standard JSON; each line is flushed as it is written, so a Ctrl-C or a kill
    loses at most the point being measured. A file whose settings differ (other models, batches, engine
    options, timing protocol, rounds, single-op cases, host or onnxprof version) is not read, and is
    replaced once the first point is measured. ``path`` None: kept in memory only."""

    def __init__(self, path: Optional[Path], settings: Optional[dict] = None):
        self.path = None if path is None else Path(path)
        self.settings = settings or {}
        self.key = hashlib.sha256(json.dumps(self.settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
        self.records: list[dict] = []
        self.other_settings = False       # a checkpoint of other settings is there (replaced when written)
        self._index: dict[tuple, list[dict]] = {}
        self._matching_header = False
        self._file: Optional[IO[str]] = None
        if self.path is not None:
            self._read()

    def _read(self) -> None:
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError):
            self.other_settings = True
            return
        header = _json_line(lines[0]) if lines else None
        if not (isinstance(header, dict) and header.get("schema") == CHECKPOINT_SCHEMA
                and header.get("settings_key") == self.key):
            self.other_settings = bool(lines)
            return
        self._matching_header = True
        for record in map(_json_line, lines[1:]):      # a last line cut short by a kill is skipped
            if isinstance(record, dict) and record.get("point") in (TIMING, PROFILE, OP, MEMORY):
                self._keep(record)

    def _keep(self, record: dict) -> None:
        self.records.append(record)
        self._index.setdefault(_record_key(record), []).append(record)

    def of(self, kind: str, *key) -> list[dict]:
        """The points of ``kind`` for ``key`` (model and batch, a case, a model), in the order measured."""
        return self._index.get((kind, *key), [])

    def add(self, record: dict) -> None:
        record = json_ready(record)
        if self.path is not None:
            if self._file is None:
                self._open()
            self._file.write(json.dumps(record, allow_nan=False) + "\n")
            self._file.flush()
        self._keep(record)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self._matching_header:
            data = self.path.read_bytes()
            if not data.endswith(b"\n"):            # a last line cut short (by a kill) goes
                with self.path.open("r+b") as cut:
                    cut.truncate(data.rfind(b"\n") + 1)
            self._file = self.path.open("a", encoding="utf-8")
            return
        self._file = self.path.open("w", encoding="utf-8")
        header = {"schema": CHECKPOINT_SCHEMA, "schema_version": CHECKPOINT_VERSION,
                  "onnxprof_version": __version__, "settings_key": self.key, "settings": self.settings}
        self._file.write(json.dumps(json_ready(header), allow_nan=False, default=str) + "\n")
        self._matching_header, self.other_settings = True, False

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def remove(self) -> None:
        """Once the profile is saved: the points are in it, the checkpoint is done with."""
        self.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def _json_line(line: str):
    try:
        return json.loads(line)
    except ValueError:
        return None


def _record_key(record: dict) -> tuple:
    kind = record["point"]
    if kind in (TIMING, PROFILE):
        return kind, record.get("model"), record.get("batch")
    return kind, record.get("case" if kind == OP else "model")


def checkpoint_settings(models: Sequence[tuple[str, Path]], batches: Sequence[int], engine: str,
                        options: EngineOptions, protocol: TimingProtocol, rounds: int,
                        unprofiled: Collection[str] = (), op_bench: Optional["OpBench"] = None) -> dict:
    """What must be the same for a checkpoint's points to be reused: the model files (path, size,
    modification time), batches, engine and its options, timing protocol, rounds, single-op cases and
    their rounds, host and onnxprof version."""
    def file_facts(path: Path) -> list:
        try:
            stat = Path(path).stat()
            return [str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns]
        except OSError:
            return [str(path), None, None]
    cases = None if op_bench is None else hashlib.sha256("\n".join(op_bench.cases).encode()).hexdigest()[:16]
    return {"models": [[name, *file_facts(path)] for name, path in models], "batches": list(batches),
            "engine": engine, "options": json.loads(json.dumps(json_ready(options), default=str)),
            "protocol": json_ready(protocol), "rounds": rounds, "unprofiled": sorted(unprofiled),
            "op_bench": None if op_bench is None else {"rounds": op_bench.rounds, "cases": len(op_bench.cases),
                                                       "cases_sha256": cases},
            "hostname": socket.gethostname(), "onnxprof_version": __version__}


def row_from_json(row: dict) -> LayerRow:
    return LayerRow(row["name"], tuple(row["onnx_nodes"]), tuple(row["op_types"]), row["measured_ms"],
                    row["predicted_ms"], row["macs"])


@dataclass(frozen=True)
class PredictorQuality:
    predictor: str
    batch: int
    predicted_ms: dict                # model -> held-out prediction
    measured_ms: dict
    quality: FitQuality


def _timed(engine: str, path: Path, options: EngineOptions, feeds, batch: int, protocol: TimingProtocol):
    with create_engine(engine, path, replace(options, profile_layers=False)) as timed:
        return time_batch(timed, feeds, batch, protocol)


def collect(models: Sequence[tuple[str, Path]], batches: Sequence[int], engine: str = "onnxruntime",
            options: EngineOptions = EngineOptions(), protocol: TimingProtocol = TimingProtocol(min_duration_s=1.0),
            progress: Callable[[str], None] = lambda _: None, rounds: int = 1, unprofiled: Collection[str] = (),
            op_bench: Optional["OpBench"] = None, checkpoint: Optional[Checkpoint] = None,
            tally: Optional[Tally] = None, on_point: Callable[[Tally, str], None] = lambda tally, what: None,
            quiet_wait_s: Optional[float] = None, note: Callable[[str], None] = lambda _: None
            ) -> list[CalibrationPoint]:
    """Time and profile every (model, batch) ``rounds`` times, round-robin over the set, then measure each
    model's peak RSS as ``onnxprof measure`` reports it, in a process of its own (the calibrating process
    holds every model's analysis, so its own RSS is no guide: it put the fitted floor 100 MB too high).

    Rounds interleave the models so that a spell of load from elsewhere on a shared machine lands on
    one round of several models rather than on every run of one. Each point keeps its fastest timing
    and, separately, its profile whose kernels sum least: load from elsewhere only ever adds time, so
    the least disturbed round is the closest to the device's own speed (one disturbed profile once
    made ENet's kernels sum to 1.7 times its timed run). A machine probe (:mod:`onnxprof.measure.quiet`)
    is read before and after each; a point none of whose timings (or profiles) had both readings
    quiet is measured again once the probe says the machine has quietened, up to MEASURE_AGAIN times and
    MEASURE_AGAIN_SHARE of the rounds' time for the timings (as much again for the profiles), and all
    waits for a quiet machine together within ``quiet_wait_s`` (None: no bound; once spent, ``note``
    says so and the points still found busy stay marked as such). A (model, batch) that fails in any
    round is left out. Models named in ``unprofiled`` are only timed (they are to be predicted, not
    fitted on). An entered ``op_bench``'s rounds are spread over the networks' rounds, before each,
    under the same probe; its timings are in ``op_bench.timings`` after.

    Every measurement is written to ``checkpoint`` as it is made, and those it holds already (a stopped
    calibration with the same settings) are reused, not measured again. ``tally`` (default: :func:`plan`)
    counts the plan's points; ``on_point(tally, what)`` is called after each point this run measures."""
    checkpoint = checkpoint if checkpoint is not None else Checkpoint(None)
    tally = tally if tally is not None else plan(models, batches, protocol, rounds, unprofiled, op_bench, checkpoint)
    reports = {(name, batch): analyze(path, ShapeBinding(batch=batch), check=False)
               for name, path in models for batch in batches}
    feeds = {key: synthetic_feeds(report) for key, report in reports.items()}
    paths = dict(models)
    timings: dict[tuple, list[Round]] = {key: [] for key in reports}
    profiles: dict[tuple, list[Round]] = {key: [] for key in reports if key[0] not in unprofiled}
    min_runs = max(MIN_PROFILED_RUNS, -(-PROFILED_RUNS // rounds))
    failed: set[tuple] = set()
    tried = {(kind, key): 0 for key in reports for kind in (TIMING, PROFILE)}   # rounds done, failed ones too
    budget = {kind: point_budget_s(kind, protocol) for kind in (TIMING, PROFILE, OP, MEMORY)}
    earlier_s = sum(record.get("seconds") or 0.0 for record in checkpoint.records if record["point"] != MEMORY)
    for key in reports:                # what a stopped calibration measured already
        for record in checkpoint.of(TIMING, *key):
            tried[(TIMING, key)] += 1
            if record.get("ms") is None:
                failed.add(key)
            else:
                timings[key].append(Round(record["ms"], tuple(record["probe_ms"])))
        if key in profiles:
            for record in checkpoint.of(PROFILE, *key):
                tried[(PROFILE, key)] += 1
                profiles[key].append(Round(record["ms"], tuple(record["probe_ms"]),
                                           tuple(row_from_json(row) for row in record["rows"])))

    def measured(kind: str, key: tuple, began: float, round_: Optional[Round], **more) -> None:
        checkpoint.add({"point": kind, "model": key[0], "batch": key[1], "ms": None if round_ is None else round_.ms,
                        "probe_ms": None if round_ is None else round_.probe_ms, **more,
                        "seconds": time.perf_counter() - began})
        tried[(kind, key)] += 1

    def time_point(key: tuple) -> None:
        def timed() -> Optional[tuple[float, tuple]]:
            result = _timed(engine, paths[key[0]], options, feeds[key], key[1], protocol)
            return (result.latency.median_ms, ()) if result.status == OK else None
        began = time.perf_counter()
        round_ = probe.around(timed)
        if round_ is None:
            failed.add(key)
        else:
            timings[key].append(round_)
        measured(TIMING, key, began, round_)

    def profile_point(key: tuple) -> None:
        def profiled() -> tuple[float, tuple]:
            rows = profiled_rows(engine, paths[key[0]], options, feeds[key], reports[key], min_runs)
            return _profiled_ms(rows), tuple(rows)
        began = time.perf_counter()
        round_ = probe.around(profiled)
        profiles[key].append(round_)
        measured(PROFILE, key, began, round_, rows=round_.payload)

    def op_profiled(name: str, round_number: int, round_: Round, rows: Sequence[LayerRow], began: float) -> None:
        checkpoint.add({"point": OP, "case": name, "ms": round_.ms, "probe_ms": round_.probe_ms, "rows": rows,
                        "seconds": time.perf_counter() - began})
        if round_number < op_bench.rounds:
            tally.advance(budget[OP])
            on_point(tally, f"single-op benchmark {name} (round {round_number + 1} of {op_bench.rounds})")

    def budget_spent(waited_s: float) -> None:
        note(f"waited {waited_s:.0f} s in all for this machine to quieten (--quiet-wait): proceeding; the points "
             "still found busy are kept as taken on a busy machine")

    with MachineProbe(options.threads, quiet_wait_s, budget_spent) as probe:
        probe.readings.extend(reading for record in checkpoint.records for reading in record.get("probe_ms") or ())
        if op_bench is not None:
            for record in checkpoint.records:
                if record["point"] == OP and record.get("case") in op_bench.cases:
                    op_bench.restore(record["case"], tuple(record["probe_ms"]),
                                     [row_from_json(row) for row in record["rows"]])
            op_bench.on_profiled = op_profiled
        started = time.perf_counter()
        tally.started = started
        for round_number in range(rounds):
            of_rounds = f" (round {round_number + 1} of {rounds})" if rounds > 1 else ""
            for _ in range(_op_rounds_before(op_bench, round_number, rounds)):
                op_bench.run_round(probe)
            for key in reports:
                for kind, measure in ((TIMING, time_point), (PROFILE, profile_point)):
                    if (kind == PROFILE and key not in profiles) or tried[(kind, key)] > round_number:
                        continue       # not profiled, or measured before (the checkpoint)
                    if key in failed:
                        tally.drop(budget[kind])
                        continue
                    what = f"{key[0]} batch {key[1]}{' profile' if kind == PROFILE else ''}{of_rounds}"
                    progress(what)
                    measure(key)
                    tally.advance(budget[kind])
                    on_point(tally, what)
        took_s = time.perf_counter() - started + earlier_s
        for rounds_of, measure, what in ((timings, time_point, "timing"), (profiles, profile_point, "profile")):
            probe.measure_again({key: m for key, m in rounds_of.items() if key not in failed}, measure, took_s,
                                lambda key: progress(f"{key[0]} batch {key[1]}: no {what} ran on a quiet machine; "
                                                     "waiting to measure again"))
        if op_bench is not None:
            op_bench.finish(probe, took_s)
        kept = {key: fastest_round(timings[key], probe.is_quiet) for key in reports if key not in failed}
        kept_profiles = {key: fastest_round(rounds_of, probe.is_quiet) for key, rounds_of in profiles.items()
                         if key not in failed}
    memory: dict[tuple[str, int], int] = {}
    for name, path in models:
        done = checkpoint.of(MEMORY, name)
        if not done:
            what = f"{name}: memory, as onnxprof measure reports it"
            progress(what)
            began = time.perf_counter()
            peaks = peak_rss_in_own_process(path, batches, engine, options)
            checkpoint.add({"point": MEMORY, "model": name, "peak_rss_bytes": {str(b): v for b, v in peaks.items()},
                            "seconds": time.perf_counter() - began})
            tally.advance(budget[MEMORY])
            on_point(tally, what)
            done = checkpoint.of(MEMORY, name)
        memory.update({(name, int(b)): v for b, v in done[0]["peak_rss_bytes"].items()})
    points = []
    for key, (timing, timing_quiet) in kept.items():
        profile, profile_quiet = kept_profiles.get(key, (None, True))
        report, rows = reports[key], list(profile.payload) if profile else []
        traits = engine_traits(engine, options, str(paths[key[0]]))
        points.append(network_point(key[0], key[1], report, timing.ms, rows, traits, memory.get(key),
                                    timing_quiet and profile_quiet, [r.ms for r in timings[key]]))
    return points


def _op_rounds_before(op_bench: Optional["OpBench"], network_round: int, network_rounds: int) -> int:
    """How many of the op bench's rounds run before the networks' round ``network_round``: as evenly
    as they go (3 over 3 network rounds: one before each; 3 over 1: all three before it)."""
    if op_bench is None:
        return 0
    share = lambda upto: op_bench.rounds * upto // network_rounds
    return share(network_round + 1) - share(network_round)


def _profiled_ms(rows: Sequence[LayerRow]) -> float:
    return sum(row.measured_ms for row in rows)


def _predictions(data: CalibrationData, points: Sequence[CalibrationPoint]
                          ) -> dict[tuple[str, int], dict[str, float]]:
    """Every registered predictor, fitted on ``data``, predicting each of ``points``."""
    fitted = fit_predictors(data)
    return {(p.model, p.batch): {name: predictor.latency_ms(p.report, p.batch, p.traits)
                                 for name, predictor in fitted.items()} for p in points}


def leave_one_model_out(points: Sequence[CalibrationPoint], compute_flops_per_s: float,
                        bandwidth_bytes_per_s: float, op_timings: Sequence[KernelTiming] = (),
                        spill_from_bytes: Optional[float] = None) -> list[PredictorQuality]:
    """Held-out predictions per batch size for every latency predictor: each model is predicted by
    fits made without any of its points (the single-op benchmarks stay: they are not a model).
    ``spill_from_bytes``: see kernels.fit_kernels."""
    data = CalibrationData(tuple(points), compute_flops_per_s, bandwidth_bytes_per_s, tuple(op_timings),
                           spill_from_bytes)
    predicted: dict[tuple[str, int], dict[str, float]] = {}
    for held_out in dict.fromkeys(p.model for p in points):
        predicted.update(_predictions(data.without(held_out), [p for p in points if p.model == held_out]))
    return _qualities(points, predicted)


def predict_new_models(calibration: Sequence[CalibrationPoint], new: Sequence[CalibrationPoint],
                       compute_flops_per_s: float, bandwidth_bytes_per_s: float,
                       op_timings: Sequence[KernelTiming] = (), spill_from_bytes: Optional[float] = None
                       ) -> list[PredictorQuality]:
    """Every predictor fitted on the calibration points, judged on models it never saw (``new``: measured
    the same way; their profiles are not used)."""
    data = CalibrationData(tuple(calibration), compute_flops_per_s, bandwidth_bytes_per_s, tuple(op_timings),
                           spill_from_bytes)
    return _qualities(new, _predictions(data, new))


def _qualities(points: Sequence[CalibrationPoint], predicted: dict[tuple[str, int], dict[str, float]]
               ) -> list[PredictorQuality]:
    results = []
    for batch in sorted({p.batch for p in points}):
        measured = {p.model: p.median_ms for p in points if p.batch == batch}
        for name in PREDICTORS:
            preds = {model: predicted[(model, batch)][name] for model in measured}
            results.append(PredictorQuality(name, batch, preds, measured,
                                            fit_quality(list(preds.values()), list(measured.values()))))
    return results


def repeatability(points: Sequence[CalibrationPoint]) -> Optional[str]:
    """One line on how well each point's two fastest timed rounds agreed (CalibrationPoint.round_spread),
    per batch size: the median gap, and how many points' gaps pass ±10 %, since a predictor cannot be
    judged within ±10 % of a measurement that does not repeat within it. None: no point had two rounds."""
    spreads: dict[int, list[float]] = {}
    for point in points:
        if (spread := point.round_spread) is not None:
            spreads.setdefault(point.batch, []).append(spread)
    if not spreads:
        return None
    medians = ", ".join(f"{float(np.median(s)):.1%} at batch {batch}" for batch, s in sorted(spreads.items()))
    wide = sum(spread > TOLERANCE for s in spreads.values() for spread in s)
    return (f"repeatability: a point's second-fastest timed round ran a median {medians} slower than its "
            f"fastest; {wide} of {sum(map(len, spreads.values()))} points more than {TOLERANCE:.0%}")


def memory_held_out_rmspe(points: Sequence[CalibrationPoint]) -> Optional[float]:
    """Held-out RMSPE of the memory model (None with fewer than three models measured)."""
    groups: dict[str, list[MemorySample]] = {}
    for point in points:
        sample = point.memory_sample()
        if sample is not None:
            groups.setdefault(point.model, []).append(sample)
    if len(groups) < 3:
        return None
    held_out = leave_one_out(groups, fit_memory, lambda model, sample: model.predict_sample(sample))
    predicted = np.concatenate([p for p, _ in held_out.values()])
    measured = np.concatenate([m for _, m in held_out.values()])
    return rmspe(predicted, measured)


def fit_profile(points: Sequence[CalibrationPoint], results: Sequence[PredictorQuality], compute_flops_per_s: float,
                bandwidth_bytes_per_s: float, name: str, engine: str, provider: str, hostname: str,
                power: Optional[PowerModel] = None, op_timings: Sequence[KernelTiming] = (),
                spill_from_bytes: Optional[float] = None) -> CalibratedProfile:
    """Every predictor fitted on all the points, with the held-out errors of ``results``."""
    data = CalibrationData(tuple(points), compute_flops_per_s, bandwidth_bytes_per_s, tuple(op_timings),
                           spill_from_bytes)
    memory_samples = [s for s in (p.memory_sample() for p in points) if s is not None]
    by_predictor: dict[str, list[PredictorQuality]] = {}
    for r in results:
        by_predictor.setdefault(r.predictor, []).append(r)
    return CalibratedProfile(
        name=name, engine=engine, provider=provider, predictors=fit_predictors(data),
        best=best(results) or next(iter(PREDICTORS)),
        rmspe={p: float(np.mean([r.quality.rmspe for r in rs])) for p, rs in by_predictor.items()},
        share_within_10pct={p: float(np.mean([r.quality.share_within_10pct for r in rs]))
                            for p, rs in by_predictor.items()},
        models=tuple(dict.fromkeys(p.model for p in points)), batches=tuple(sorted({p.batch for p in points})),
        memory=fit_memory(memory_samples) if len(memory_samples) >= 2 else None,
        memory_rmspe=memory_held_out_rmspe(points), power=power, hostname=hostname, created_at=now_iso())


def best(results: Sequence[PredictorQuality]) -> Optional[str]:
    """The predictor with the highest mean share within ±10 %; among those less than one model's share
    behind it, the one with the lowest mean RMSPE (with 3 models, 67 % against 66 % within ±10 % says
    nothing, while 25 % against 8 % RMSPE does)."""
    scores: dict[str, list] = {}
    for r in results:
        scores.setdefault(r.predictor, []).append((r.quality.share_within_10pct, r.quality.rmspe, r.quality.n))
    if not scores:
        return None
    share = {name: float(np.mean([s[0] for s in rows])) for name, rows in scores.items()}
    error = {name: float(np.mean([s[1] for s in rows])) for name, rows in scores.items()}
    one_model = 1.0 / max(1, min(s[2] for rows in scores.values() for s in rows))
    close = [name for name in scores if share[name] > max(share.values()) - one_model + 1e-9]
    return min(close, key=lambda name: (error[name], -share[name]))
