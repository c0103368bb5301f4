"""``onnxprof measure``: run a model over a batch sweep and show predicted vs measured.

Exit codes: 0 when every batch size was measured, or the ones not measured ran out of memory (how a
sweep ends on a small board) while at least one was measured; 1 when a batch size failed inside the
engine, or none was measured at all (what was measured is still reported and saved, and one line on
stderr says which batches failed); 2 for a user's error; 130 after Ctrl-C (the finished batches
saved). Further Ctrl-Cs while the run is being saved are ignored, so that the save completes.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import List, Optional

import typer

from onnxprof.cli.options import DimOption, InputOption
from onnxprof.errors import OnnxprofError, UsageError

EXIT_FAILED = 1                 # a batch failed in the engine, or nothing was measured
EXIT_INTERRUPTED = 130          # 128 + SIGINT, as a shell reports a Ctrl-C


def parse_batches(text: str) -> list[int]:
    """``1,2,4,8`` -> [1, 2, 4, 8]."""
    try:
        batches = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        batches = []
    if not batches or any(b < 1 for b in batches):
        raise UsageError(f"--batch {text!r}: expected positive sizes separated by commas, e.g. 1,2,4,8")
    return batches


def measure_command(
    model: str = typer.Argument("zoo:resnet18", help="An .onnx file or zoo:NAME."),
    engine: str = typer.Option("onnxruntime", "--engine", "-e", help="onnxruntime or tensorrt."),
    provider: str = typer.Option("cpu", "--provider", "-p", help="ONNX Runtime provider: cpu, cuda or tensorrt."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, fp16 (GPU) or int8 (TensorRT, QDQ models)."),
    batch: str = typer.Option("1", "--batch", "-b", help="Batch sizes, e.g. 1,2,4,8,16,32,64 (the paper's sweep)."),
    inputs: Optional[List[str]] = InputOption,
    dims: Optional[List[str]] = DimOption,
    inputs_file: Optional[Path] = typer.Option(None, "--inputs", help="Feed real data from an .npz (arrays named like the inputs)."),
    iterations: int = typer.Option(10, "--iterations", min=1, help="Minimum timed runs per batch size."),
    duration: float = typer.Option(3.0, "--duration", min=0.0, help="Minimum timed seconds per batch size."),
    warmup: int = typer.Option(10, "--warmup", min=0, help="Minimum warm-up runs."),
    warmup_time: float = typer.Option(0.2, "--warmup-time", min=0.0, help="Minimum warm-up seconds."),
    threads: int = typer.Option(0, "--threads", min=0, help="ONNX Runtime intra-op threads (0: its default)."),
    optimization: str = typer.Option("all", "--optimization", help="ONNX Runtime graph optimisation: disable, basic, extended, all."),
    device_id: int = typer.Option(0, "--device-id", min=0, help="GPU index."),
    workspace: int = typer.Option(1024, "--workspace", min=1, help="TensorRT builder workspace, MB."),
    include_transfers: bool = typer.Option(False, "--include-transfers", help="Time host-device copies too."),
    allow_fallback: bool = typer.Option(False, "--allow-fallback", help="Accept nodes falling back to another provider."),
    profile_layers: bool = typer.Option(False, "--profile-layers", help="Per-layer times from the engine's profiler."),
    meter: Optional[str] = typer.Option(None, "--meter", "-m", help="Power meter: visa-supply, visa-scope, jetson, tegrastats, nvml, replay or auto."),
    visa_resource: Optional[str] = typer.Option(None, "--visa-resource", help="VISA resource of the instrument, e.g. GPIB0::5::INSTR."),
    scope_channel: int = typer.Option(1, "--scope-channel", min=1, help="Scope channel with the current probe."),
    supply_voltage: Optional[float] = typer.Option(None, "--supply-voltage", help="Volts to multiply the scope's current by."),
    replay: Optional[Path] = typer.Option(None, "--replay", help="CSV of time and watts for --meter replay."),
    replay_offset: Optional[float] = typer.Option(None, "--replay-offset", help="Seconds to add to the CSV's times to reach this run's clock."),
    idle: float = typer.Option(0.0, "--idle", min=0.0, help="Seconds of idle power measured before the sweep (net power = gross - idle)."),
    min_rate: Optional[float] = typer.Option(None, "--min-rate", help="Sample rate (Hz) the load needs; windows below it are flagged."),
    device: Optional[str] = typer.Option(None, "--device", help="Predict with this profile file, stored profile or "
                                                                "published device (default: the newest profile "
                                                                "calibrated here for this engine and provider)."),
    db: Optional[str] = typer.Option(None, "--db", help="Results database: a path or postgresql://... (default: user data dir)."),
    save: bool = typer.Option(True, "--save/--no-save", help="Store the run in the results database."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the JSON record to this file."),
) -> None:
    """Run the model with ONNX Runtime or TensorRT; latency, throughput and memory per batch size."""
    from rich.text import Text

    from onnxprof.report.console import make_console

    from onnxprof.cli.options import shape_binding
    from onnxprof.engines.base import EngineOptions
    from onnxprof.measure.harness import TimingProtocol
    from onnxprof.measure.sweep import SweepPlan, run_sweep, runs_on_host
    from onnxprof.predict.resolve import resolve_predictor
    from onnxprof.report.measure_tables import render_batch, render_engine, render_summary

    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r}: choose table or json")
    batches = parse_batches(batch)
    if profile_layers and len(batches) > 1:
        raise UsageError("--profile-layers profiles one batch size: give a single --batch")
    binding = shape_binding(inputs, None, dims)
    if inputs_file is not None:
        from onnxprof.files import regular_file

        regular_file(inputs_file, "an .npz of input arrays")
    path = model_file(model)
    options = EngineOptions(provider=provider, precision=precision, threads=threads, optimization=optimization,
                            device_id=device_id, workspace_mb=workspace, include_transfers=include_transfers,
                            allow_fallback=allow_fallback, batches=tuple(batches), profile_layers=profile_layers)
    plan = SweepPlan(source=model, model_path=path, batches=batches if inputs_file is None else batches[:1],
                     engine=engine, options=options,
                     protocol=TimingProtocol(warmup_runs=warmup, warmup_s=warmup_time, min_runs=iterations,
                                             min_duration_s=duration),
                     inputs=dict(binding.inputs or {}), dims=dict(binding.dims or {}), inputs_file=inputs_file)
    if meter is not None:
        from onnxprof.meters import MeterOptions, create_meter

        plan = replace(plan, meter=create_meter(meter, MeterOptions(
            visa_resource=visa_resource, scope_channel=scope_channel, supply_voltage=supply_voltage,
            gpu_index=device_id, replay=replay, replay_offset=replay_offset, min_rate_hz=min_rate)), idle_s=idle)
    elif idle:
        raise UsageError("--idle measures idle power: it needs a --meter")
    console = make_console(stderr=fmt == "json" and output is None)
    if plan.meter is not None and plan.meter.name == "nvml" and runs_on_host(plan):
        console.print(Text(f"the nvml meter reads GPU {device_id}'s power while the model runs on the CPU: "
                           "its power and energy are the GPU's, not the model's (use --meter visa-supply or a "
                           "board's sensors for the CPU, or --provider cuda)", style="yellow"))
    store = open_store(db) if save else None
    # stored profiles are looked up where runs are saved (in --db also with --no-save)
    profiles = store if store is not None or db is None else open_store(db)
    plan = replace(plan, predictor=resolve_predictor(device, profiles, engine=engine, provider=provider))
    run_id: list[int] = []

    def started(record) -> None:
        render_engine(record.engine, console)
        if store is not None:
            run_id.append(store.save_run(record))

    def measured(result, prediction) -> None:
        render_batch(result, prediction, console)
        if store is not None:
            store.append_batch(run_id[0], result)

    with first_interrupt_only():
        try:
            record = run_sweep(plan, on_batch=measured, on_start=started)
        except (KeyboardInterrupt, OnnxprofError) as stopped:
            if store is not None and run_id:    # what was appended stays, the run marked as stopped early
                from onnxprof.measure.harness import now_iso

                store.finish_run(run_id[0], now_iso(), interrupted=True)
            if isinstance(stopped, OnnxprofError):
                raise
            console.print(Text("interrupted before the first batch: nothing measured", style="yellow"))
            raise typer.Exit(EXIT_INTERRUPTED) from None
        if store is not None and run_id:
            store.finish_run(run_id[0], record.ended_at, record.interrupted, predictions=record.predictions,
                             engine=record.engine, layers=record.layers, results=record.batches)
        _report(record, console, run_id, fmt, output)
    raise typer.Exit(exit_code(record))


def _report(record, console, run_id: list[int], fmt: str, output: Optional[Path]) -> None:
    from onnxprof.report.measure_tables import render_summary

    if record.layers:
        from onnxprof.report.measure_tables import render_layers

        render_layers(record.layers, console)
    render_summary(record, console, run_id[0] if run_id else None)
    if fmt == "json" or output is not None:
        from onnxprof.report.run_json import run_json

        text = run_json(record, run_id[0] if run_id else None)
        if output is not None:
            try:
                output.write_text(text, encoding="utf-8")
            except OSError as exc:      # the run is saved already; only the file is missing
                raise UsageError(f"--output {output}: cannot be written ({exc.strerror})") from None
        else:
            typer.echo(text, nl=False)
    failed = failure_line(record)
    if failed:
        typer.echo(f"onnxprof: error: {failed}", err=True)


def exit_code(record) -> int:
    """0, 1 (a batch failed in the engine, or nothing measured) or 130 (interrupted): see the module."""
    from onnxprof.measure.records import FAILED, OK

    if record.interrupted:
        return EXIT_INTERRUPTED
    if any(b.status == FAILED for b in record.batches) or not any(b.status == OK for b in record.batches):
        return EXIT_FAILED
    return 0


def failure_line(record) -> str:
    """One line saying which batch sizes were not measured, when some failed or none was measured."""
    from onnxprof.measure.records import OK

    if record.interrupted or exit_code(record) == 0:
        return ""
    missed = [b for b in record.batches if b.status != OK]
    sizes = ", ".join(f"{b.batch} ({b.status.replace('_', ' ')})" for b in missed)
    if len(missed) == len(record.batches):
        return f"no batch size was measured: {sizes or 'none ran'}"
    return f"{len(missed)} of {len(record.batches)} batch sizes not measured: {sizes}"


@contextmanager
def first_interrupt_only():
    """The first Ctrl-C stops the sweep (KeyboardInterrupt, as usual); later ones are ignored until the
    process exits, so that saving and reporting what was measured is not cut short. A SIGINT already
    ignored (a background job) stays ignored; off the main thread, signals cannot be handled at all."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        yield
        return
    seen: list[int] = []

    def on_interrupt(signum, _frame) -> None:
        if not seen:
            seen.append(signum)
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        # once interrupted, the process is on its way out: a further Ctrl-C must not cut that short
        signal.signal(signal.SIGINT, signal.SIG_IGN if seen else previous)


def model_file(model: str) -> Path:
    """The .onnx file to run: the path itself, or a zoo network exported to the cache."""
    if model.startswith("zoo:"):
        from onnxprof.zoo.export import export

        return export(model[4:]).path
    from onnxprof.errors import ModelError
    from onnxprof.files import regular_file

    return regular_file(model, "an .onnx model (or zoo:NAME)", ModelError)


def open_store(db: Optional[str]):
    """The results database (``--db``, else the default file)."""
    from onnxprof.store.db import Store

    return Store(db)
