"""``onnxprof calibrate`` and ``onnxprof predict``.

Both print a table, or with ``--format json`` a standard JSON document (``schema``, ``schema_version``,
``onnxprof_version``; a number that is not finite is null), or with ``--format csv`` one row per
prediction (predict) or per held-out predictor quality (calibrate). In json and csv, progress and notes
go to stderr, so that stdout is the document alone.

calibrate shows its progress (a bar with the time left on a terminal; piped, a line per point:
``k/n, about M min left: what``), says before it starts how long its plan takes on a quiet machine,
bounds the wait for a busy machine to quieten (``--quiet-wait``), and keeps each measured point in a
checkpoint as it is measured (see :class:`onnxprof.predict.calibrate.Checkpoint`): after a Ctrl-C
(exit 130) the same command resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Optional

import typer

from onnxprof.cli.options import FormatOption, OutputOption
from onnxprof.errors import UsageError

SCHEMA_VERSION = 1
DEFAULT_CALIBRATION_SET = "resnet18,resnet34,mobilenet-v2,efficientnet-b0,squeezenet1.1,googlenet,alexnet"
DeviceOption = typer.Option(None, "--device", help="A profile file from calibrate, a stored profile's name, or a "
                                                    "published device (e.g. jetson-tx1); default: the newest profile "
                                                    "calibrated on this host with this engine and provider.")
PREDICTION_COLUMNS = ("model", "batch", "latency_ms", "latency_per_image_ms", "throughput_per_s", "peak_rss_bytes",
                      "power_w", "energy_per_image_j", "latency_error", "method", "source", "warnings")
QUALITY_COLUMNS = ("predictor", "batch", "best", "within_10pct", "spearman_rho", "rmspe", "r_squared", "models")
PIPED_LINE_S = 10.0      # piped, a line at least this often while a point takes long (waiting for a quiet machine)


class CalibrationView:
    """calibrate's progress on stderr: on a terminal a rich bar (points done of the plan, weighted by
    their budgets) with the time remaining; piped, one plain line per point measured, and one at least
    every PIPED_LINE_S while something else goes on. ``note`` prints a line above the bar."""

    def __init__(self, progress_console, notes_console, tally):
        self.err, self.notes, self.tally = progress_console, notes_console, tally
        self.live = progress_console.is_terminal
        self.what = "preparing"
        self._last_line = time.perf_counter()
        self._bar = self._task = None

    def __enter__(self) -> "CalibrationView":
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[points]}"),
                                 TimeRemainingColumn(), console=self.err, transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task(self.what, total=max(self.tally.budget_s, 1e-9),
                                            completed=self.tally.done_s, points=self._points())
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def _points(self) -> str:
        return f"{self.tally.done}/{self.tally.total} points"

    def _line(self, what: str, now: bool = False) -> None:
        from onnxprof.predict.calibrate import duration_text

        self.err.print(f"{self.tally.done}/{self.tally.total}, about {duration_text(self.tally.left_s())} left"
                       f"{'; now' if now else ':'} {what}", soft_wrap=True)
        self._last_line = time.perf_counter()

    def doing(self, what: str) -> None:
        """Before a point, or while waiting for a quiet machine."""
        self.what = what
        if self._bar is not None:
            self._bar.update(self._task, description=what)
        elif time.perf_counter() - self._last_line > PIPED_LINE_S:
            self._line(what, now=True)

    def point(self, tally, what: str) -> None:
        """After each point this run measured."""
        if self._bar is not None:
            self._bar.update(self._task, total=max(tally.budget_s, 1e-9), completed=tally.done_s,
                             points=self._points())
        else:
            self._line(what)

    def note(self, text) -> None:
        from rich.text import Text

        self.notes.print(text if isinstance(text, Text) else Text(text, style="yellow"), soft_wrap=True)


def _checkpoint_path(chosen: Optional[Path], output: Optional[Path], store, key: str) -> Path:
    """``--checkpoint``; else next to ``--output``; else next to the results database's file (or the
    default database's, for a server)."""
    if chosen is not None:
        return chosen
    if output is not None:
        return output.with_name(output.name + ".checkpoint.jsonl")
    from onnxprof.store.db import default_location

    database = store.url.database if store.url.get_backend_name() == "sqlite" and store.url.database else None
    fallback = default_location()
    folder = (Path(database).parent if database else Path(fallback).parent if "://" not in fallback
              else Path.home() / ".cache" / "onnxprof")
    return folder / f"calibration-{key}.checkpoint.jsonl"


def calibrate_command(
    models: str = typer.Option(DEFAULT_CALIBRATION_SET, "--models", help="Zoo names or .onnx paths, comma-separated."),
    batch: str = typer.Option("1,8", "--batch", "-b", help="Batch sizes to calibrate."),
    engine: str = typer.Option("onnxruntime", "--engine", "-e", help="The engine to calibrate (onnxruntime or "
                                                                      "tensorrt)."),
    provider: str = typer.Option("cpu", "--provider", "-p", help="Its execution provider (cpu, cuda, tensorrt)."),
    duration: float = typer.Option(1.0, "--duration", min=0.0, help="Minimum timed seconds per model, batch and round."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Timing rounds over the whole set (each model keeps its "
                                                          "fastest round: steadier on a busy machine)."),
    op_benchmarks: bool = typer.Option(True, "--op-benchmarks/--no-op-benchmarks",
                                       help="Also profile single-op models of common kernels (380 cases, in three "
                                            "rounds spread over the networks' rounds: about 0.2 s a case and "
                                            "round on a 2-core CPU), so the kernel model knows ops the set lacks."),
    quiet_wait: float = typer.Option(60.0, "--quiet-wait", min=0.0, metavar="SECONDS",
                                     help="At most this long in all waiting for a busy machine to quieten before "
                                          "measuring a point again; then calibrate proceeds, and the points still "
                                          "found busy are marked as taken on a busy machine."),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", metavar="FILE", help="Keep each measured point in this JSON-lines "
                                              "file as it is measured, so that a stopped calibration resumes (default: "
                                              "next to --output, else next to the results database)."),
    fresh: bool = typer.Option(False, "--fresh", help="Measure every point again, ignoring a checkpoint."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the profile to this file (to share)."),
    name: Optional[str] = typer.Option(None, "--name", help="The profile's name (default: this host)."),
    db: Optional[str] = typer.Option(None, "--db", help="Results database where the profile is stored."),
    fmt: str = FormatOption,
) -> None:
    """Measure a model set here, fit the predictors, print their held-out error, store the profile.

    Stopped (Ctrl-C, exit 130), the same command resumes: the points measured are kept in a checkpoint."""
    import socket
    from contextlib import nullcontext

    from rich.text import Text

    from onnxprof.cli.measure import EXIT_INTERRUPTED, first_interrupt_only, model_file, open_store, parse_batches
    from onnxprof.cli.options import check_format, writing
    from onnxprof.engines.base import EngineOptions
    from onnxprof.measure.harness import TimingProtocol
    from onnxprof.predict.calibrate import (MACHINE_S, Checkpoint, checkpoint_settings, collect, duration_text,
                                            fit_profile, leave_one_model_out, plan, repeatability)
    from onnxprof.engines import engine_traits
    from onnxprof.predict.microbench import measure_this_machine, spill_from_bytes
    from onnxprof.predict.opbench import OpBench
    from onnxprof.predict.power import fit_power, samples_from_runs
    from onnxprof.predict.profile import profile_json, save_profile
    from onnxprof.report.console import make_console
    from onnxprof.report.predict_tables import calibration_table

    check_format(fmt)
    batches = parse_batches(batch)
    # a bare name is a zoo network; paths end in .onnx
    chosen = [(m, model_file(m if m.endswith(".onnx") or m.startswith("zoo:") else f"zoo:{m}"))
              for m in models.split(",") if m.strip()]
    if len(chosen) < 3:
        raise UsageError("--models: calibration needs at least 3 models (each is predicted by a fit without it)")
    store = open_store(db)
    hostname = socket.gethostname()
    console = make_console(stderr=fmt != "table")          # notes: stdout for a table, else stderr
    notes: list[str] = []

    def note(text: str, style: str = "yellow") -> None:
        notes.append(text)
        view.note(Text(text, style=style))

    options = EngineOptions(provider=provider)
    protocol = TimingProtocol(min_duration_s=duration)
    op_bench = OpBench(engine, options) if op_benchmarks else None
    settings = checkpoint_settings(chosen, batches, engine, options, protocol, rounds, (), op_bench)
    where = _checkpoint_path(checkpoint, output, store, Checkpoint(None, settings).key)
    if fresh:
        where.unlink(missing_ok=True)
    kept = Checkpoint(where, settings)
    tally = plan(chosen, batches, protocol, rounds, (), op_bench, kept)
    view = CalibrationView(make_console(stderr=True), console, tally)
    if kept.other_settings:
        note(f"{where} holds a calibration of other settings: starting afresh (it is replaced)", "dim")
    if tally.reused:
        note(f"resuming: {tally.reused} of {tally.total} points already measured ({where})", "default")
    note(f"plan: {tally.total} points ({tally.describe()}); about "
         f"{duration_text(MACHINE_S + tally.budget_s - tally.done_s)} on a quiet machine, more on a busy one "
         f"(at most {quiet_wait:g} s in all waiting for it to quieten, --quiet-wait); Ctrl-C stops it, and the same "
         f"command resumes", "default")
    if op_bench is not None:
        op_bench.progress = view.doing
    try:
        with first_interrupt_only(), view:
            view.doing("measuring this machine's compute rate and memory bandwidth")
            device = measure_this_machine(engine=engine, provider=provider)
            compute, bandwidth = device.fp32_tflops * 1e12, device.memory_bandwidth_gbs * 1e9
            note(f"this machine: {compute / 1e9:.1f} GFLOP/s, {bandwidth / 1e9:.1f} GB/s through {engine}", "default")
            view.doing("preparing the single-op cases" if op_bench is not None else "analysing the models")
            with op_bench if op_bench is not None else nullcontext():
                points = collect(chosen, batches, engine, options, protocol, rounds=rounds, progress=view.doing,
                                 op_bench=op_bench, checkpoint=kept, tally=tally, on_point=view.point,
                                 quiet_wait_s=quiet_wait, note=note)
    except KeyboardInterrupt:
        kept.close()
        note(f"stopped: {tally.done} of {tally.total} points measured are kept in {where}; run the same command "
             "again to resume", "yellow")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    kept.close()
    if len({p.model for p in points}) < 3:
        raise UsageError("calibration needs at least 3 models that ran; see `onnxprof measure` for why the "
                         "others failed")
    op_timings = op_bench.timings if op_bench is not None else []
    spill = spill_from_bytes(engine_traits(engine, options))
    if spill:
        note(f"kernel model: feature maps past {spill / 1e6:.1f} MB stream from a shared cache or memory", "dim")
    results = leave_one_model_out(points, compute, bandwidth, op_timings, spill)
    spread = repeatability(points)
    if spread:
        note(spread, "dim")
    busy = [f"{p.model} batch {p.batch}" for p in points if not p.quiet]
    if busy:
        note(f"{len(busy)} of {len(points)} points found this machine busy with load from elsewhere in every round "
             f"of their timing or profile ({', '.join(busy)}): their held-out errors include it; calibrate again "
             "when the machine is quieter, or with more --rounds")
    stored_runs = [store.get_run(s.id) for s in store.list_runs()
                   if s.hostname == hostname and s.engine == engine and s.provider == provider]
    power_samples = samples_from_runs(stored_runs)
    profile = fit_profile(points, results, compute, bandwidth, name=name or hostname, engine=engine,
                          provider=provider, hostname=hostname, power=fit_power(power_samples) if power_samples else None,
                          op_timings=op_timings, spill_from_bytes=spill)
    profile_id = store.save_profile(profile.name, profile.created_at, hostname, engine, provider, profile_json(profile))
    where_saved = f"stored as profile {profile_id} ({profile.name!r}) in {store.shown}"
    if output is not None:
        with writing(output):
            save_profile(profile, output)
        where_saved += f" and written to {output}"
    kept.remove()               # the points are in the profile now
    if fmt == "json":
        typer.echo(calibration_json(points, results, profile, profile_id, store.shown, output, device, tally,
                                    notes), nl=False)
        view.note(Text(f"best predictor: {profile.best}; {where_saved}"))
    elif fmt == "csv":
        typer.echo(calibration_csv(results, profile), nl=False)
        view.note(Text(f"best predictor: {profile.best}; {where_saved}"))
    else:
        console.print(calibration_table(results, profile))
        console.print(f"best predictor: {profile.best}; {where_saved}")


def _quality_row(r, profile) -> dict:
    q = r.quality
    return {"predictor": r.predictor, "batch": r.batch, "best": r.predictor == profile.best,
            "within_10pct": q.share_within_10pct, "spearman_rho": q.spearman_rho, "rmspe": q.rmspe,
            "r_squared": q.r_squared, "models": q.n}


def calibration_json(points, results, profile, profile_id: int, stored_in: str, output: Optional[Path], device,
                     tally, notes) -> str:
    """calibrate's result as a standard JSON document (schema onnxprof.calibration): the machine's rates,
    the plan (points, reused from a checkpoint, measured by this run), each calibration point (its kept
    time, every round's, and whether the machine was found quiet), each predictor's held-out quality per
    batch size with its predictions, and the fitted memory and power models."""
    from onnxprof.measure.records import json_document

    return json_document("onnxprof.calibration", {
        "profile": {"id": profile_id, "name": profile.name, "engine": profile.engine, "provider": profile.provider,
                    "hostname": profile.hostname, "created_at": profile.created_at, "best": profile.best,
                    "stored_in": stored_in, "file": None if output is None else str(output),
                    "rmspe": dict(profile.rmspe), "share_within_10pct": dict(profile.share_within_10pct),
                    "memory_rmspe": profile.memory_rmspe, "memory": profile.memory, "power": profile.power},
        "machine": {"fp32_gflops": device.fp32_tflops * 1e3, "memory_bandwidth_gbs": device.memory_bandwidth_gbs},
        "plan": {"points": tally.total, "reused": tally.reused, "measured": tally.measured},
        "points": [{"model": p.model, "batch": p.batch, "macs_per_image": p.macs_per_image, "median_ms": p.median_ms,
                    "round_ms": list(p.round_ms), "round_spread": p.round_spread, "quiet": p.quiet,
                    "peak_rss_bytes": p.peak_rss_bytes, "profiled_layers": len(p.layers)} for p in points],
        "quality": [{**_quality_row(r, profile), "predicted_ms": dict(r.predicted_ms),
                     "measured_ms": dict(r.measured_ms)} for r in results],
        "notes": list(notes),
    }, SCHEMA_VERSION)


def calibration_csv(results, profile) -> str:
    """One row per predictor and batch size: its held-out quality, as in the table (fractions, not %)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, QUALITY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in results:
        writer.writerow({k: _csv_value(v) for k, v in _quality_row(r, profile).items()})
    return out.getvalue()


def _csv_value(value):
    if isinstance(value, float) and value != value:
        return ""
    return value


def predict_command(
    model: str = typer.Argument(..., help="An .onnx file or zoo:NAME."),
    device: Optional[str] = DeviceOption,
    batch: str = typer.Option("1", "--batch", "-b", help="Batch sizes, e.g. 1,8,64."),
    engine: str = typer.Option("onnxruntime", "--engine", "-e", help="The engine of the stored profile to use."),
    provider: str = typer.Option("cpu", "--provider", "-p", help="The provider of the stored profile to use."),
    db: Optional[str] = typer.Option(None, "--db", help="Results database holding stored profiles."),
    fmt: str = FormatOption,
    output: Optional[Path] = OutputOption,
) -> None:
    """Predicted latency, throughput, memory, power and energy per inference, without running the model."""
    from onnxprof.cli.measure import open_store, parse_batches
    from onnxprof.cli.options import check_format, writing
    from onnxprof.cost.analysis import analyze
    from onnxprof.model.shapes import ShapeBinding
    from onnxprof.predict.resolve import resolve_predictor
    from onnxprof.report.console import make_console
    from onnxprof.report.predict_tables import prediction_table

    check_format(fmt)
    batches = parse_batches(batch)
    predictor = resolve_predictor(device, open_store(db), engine=engine, provider=provider)
    if predictor is None:
        raise UsageError("--device: no profile calibrated on this host for this engine and provider; run "
                         "`onnxprof calibrate`, or name a device such as --device jetson-tx1")
    predictions = [predictor.predict(analyze(model, ShapeBinding(batch=b), check=False), b) for b in batches]
    if fmt == "table" and output is None:
        make_console().print(prediction_table(model, predictions))
        return
    if fmt == "table":
        raise UsageError("--output writes json or csv: add --format json or --format csv")
    text = prediction_json(model, device, predictions) if fmt == "json" else prediction_csv(model, predictions)
    if output is None:
        typer.echo(text, nl=False)
    else:
        with writing(output):
            output.write_text(text, encoding="utf-8")


def prediction_json(model: str, device: Optional[str], predictions) -> str:
    """predict's result as a standard JSON document (schema onnxprof.prediction): ``source`` (the line the
    table's title shows), then one object per batch size as :func:`onnxprof.predict.basic.prediction_json`
    writes it (figures, method, source, warnings, provenance; latency_error: the held-out RMSPE, a fraction)."""
    from onnxprof.measure.records import json_document
    from onnxprof.predict.basic import prediction_json as one_prediction

    return json_document("onnxprof.prediction", {
        "model": model, "device": device, "source": predictions[0].source_label if predictions else None,
        "predictions": [one_prediction(p) for p in predictions]}, SCHEMA_VERSION)


def prediction_csv(model: str, predictions) -> str:
    """One row per batch size (PREDICTION_COLUMNS); an unknown value is empty, warnings joined by "; "."""
    from onnxprof.measure.records import json_ready
    from onnxprof.predict.basic import prediction_json as one_prediction

    out = io.StringIO()
    writer = csv.DictWriter(out, PREDICTION_COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for p in predictions:
        body = json_ready(one_prediction(p))
        writer.writerow({"model": model, **body, "warnings": "; ".join(body["warnings"])})
    return out.getvalue()
