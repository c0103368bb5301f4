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
from typing import Iterator, List, Optional

import typer

from onnxprof.cli.options import (DB_HELP, DimOption, InputOption, ReplayOption, ScopeChannelOption,
                                  SupplyVoltageOption, VisaResourceOption, parse_batches, writing)
from onnxprof.errors import OnnxprofError, UsageError
from onnxprof.measure.model_file import model_file

EXIT_FAILED = 1                 # a batch failed in the engine, or nothing was measured
EXIT_INTERRUPTED = 130          # 128 + SIGINT, as a shell reports a Ctrl-C
PRECISIONS = ("fp32", "fp16", "int8")

# trtexec flags onnxprof has no same-meaning spelling for: one line saying what to give instead
# (the ones that mean the same are accepted as they are: --shapes, --fp16, --int8, --iterations,
# --duration, --warmUp, --workspace, --exportTimes; see `onnxprof measure --help`)
FLAG_HINTS = {
    "--loadInputs": "onnxprof reads real inputs from an .npz: --inputs FILE.npz (arrays named like the inputs)",
    "--exportProfile": "onnxprof writes its per-layer profile with --profile-layers into the run's JSON "
                       "(-f json or --output FILE)",
    "--dumpProfile": "use --profile-layers (per-layer times, joined to the ONNX nodes)",
    "--noDataTransfers": "onnxprof times without host-device copies unless --include-transfers is given",
    "--avgRuns": "onnxprof reports the distribution of every timed run (median, mean, p90, p99), not averages",
    "--best": "choose one precision: --fp16, --int8 or --precision fp32|fp16|int8",
    "--minShapes": "give the batch sizes to run with --batch; the TensorRT profile is built to cover them",
    "--optShapes": "give the batch sizes to run with --batch; the TensorRT profile is built to cover them",
    "--maxShapes": "give the batch sizes to run with --batch; the TensorRT profile is built to cover them",
    "--memPoolSize": "give the TensorRT workspace in MB with --workspace MB",
    "--saveEngine": "onnxprof caches TensorRT engines itself (by model, precision, batch sizes and GPU)",
    "--loadEngine": "onnxprof runs .onnx models; it caches the TensorRT engines it builds",
    "-m": "-m means --model in onnxprof; the power meter is --meter NAME",
}


def measure_command(
    model: str = typer.Argument("zoo:resnet18", metavar="MODEL", help="An .onnx file or zoo:NAME."),
    engine: str = typer.Option("onnxruntime", "--engine", "-e", metavar="ENGINE", help="onnxruntime or tensorrt."),
    provider: str = typer.Option("cpu", "--provider", "-p", metavar="PROVIDER",
                                 help="ONNX Runtime provider: cpu, cuda or tensorrt."),
    precision: Optional[str] = typer.Option(None, "--precision", metavar="PRECISION",
                                            help="fp32 (default), fp16 (GPU) or int8 (TensorRT, QDQ models)."),
    fp16: bool = typer.Option(False, "--fp16", help="As trtexec: the same as --precision fp16."),
    int8: bool = typer.Option(False, "--int8", help="As trtexec: the same as --precision int8."),
    batch: Optional[str] = typer.Option(None, "--batch", "-b", metavar="SIZES",
                                        help="Batch sizes, e.g. 1,2,4,8,16,32,64 (the paper's sweep). Default: the "
                                             "batch --input, --dim N=... or --inputs sets, else 1; flags that "
                                             "disagree are an error."),
    inputs: Optional[List[str]] = InputOption,
    shapes: Optional[List[str]] = typer.Option(None, "--shapes", metavar="NAME:DIMS,...",
                                               help="As trtexec: input shapes, comma separated, e.g. "
                                                    "input:8x3x224x224,mask:8x128 (the same as --input)."),
    dims: Optional[List[str]] = DimOption,
    inputs_file: Optional[Path] = typer.Option(None, "--inputs", metavar="FILE.npz",
                                               help="Feed real data from an .npz (arrays named like the inputs; "
                                                    "their shapes set the batch). trtexec: --loadInputs."),
    iterations: int = typer.Option(10, "--iterations", min=1, metavar="N",
                                   help="Minimum timed runs per batch size (as trtexec's --iterations)."),
    duration: float = typer.Option(3.0, "--duration", min=0.0, metavar="SECONDS",
                                   help="Minimum timed seconds per batch size (as trtexec's --duration)."),
    warmup: Optional[float] = typer.Option(None, "--warmup", "--warmUp", min=0.0, metavar="MS",
                                           help="Minimum warm-up time in milliseconds, as trtexec's --warmUp "
                                                "(default 200)."),
    warmup_runs: int = typer.Option(10, "--warmup-runs", min=0, metavar="N",
                                    help="Minimum warm-up runs, besides the time (trtexec has none)."),
    warmup_time: Optional[float] = typer.Option(None, "--warmup-time", min=0.0, metavar="SECONDS", hidden=True,
                                                help="Old spelling: warm-up seconds; with it, --warmup counts runs "
                                                     "as it used to (use --warmup MS and --warmup-runs N)."),
    threads: int = typer.Option(0, "--threads", min=0, metavar="N",
                                help="ONNX Runtime intra-op threads (0: its default)."),
    optimization: str = typer.Option("all", "--optimization", metavar="LEVEL",
                                     help="ONNX Runtime graph optimisation: disable, basic, extended, all."),
    device_id: int = typer.Option(0, "--device-id", min=0, metavar="N", help="GPU index (trtexec: --device N)."),
    workspace: int = typer.Option(1024, "--workspace", min=1, metavar="MB",
                                  help="TensorRT builder workspace in MB (as trtexec's --workspace)."),
    include_transfers: bool = typer.Option(False, "--include-transfers",
                                           help="Time host-device copies too (trtexec times them unless "
                                                "--noDataTransfers)."),
    allow_fallback: bool = typer.Option(False, "--allow-fallback", help="Accept nodes falling back to another provider."),
    profile_layers: bool = typer.Option(False, "--profile-layers",
                                        help="Per-layer times from the engine's profiler, joined to the ONNX nodes "
                                             "(trtexec: --dumpProfile)."),
    export_times: Optional[Path] = typer.Option(None, "--exportTimes", "--export-times", metavar="FILE",
                                                help="As trtexec: write every timed run's latencyMs and computeMs "
                                                     "as JSON (one batch size; `results import-trtexec` reads it)."),
    meter: Optional[str] = typer.Option(None, "--meter", metavar="METER",
                                        help="Power meter: visa-supply, visa-scope, jetson, tegrastats, nvml, replay "
                                             "or auto."),
    visa_resource: Optional[str] = VisaResourceOption,
    scope_channel: int = ScopeChannelOption,
    supply_voltage: Optional[float] = SupplyVoltageOption,
    replay: Optional[Path] = ReplayOption,
    replay_offset: Optional[float] = typer.Option(None, "--replay-offset", metavar="SECONDS",
                                                  help="Seconds to add to the CSV's times to reach this run's clock."),
    idle: float = typer.Option(0.0, "--idle", min=0.0, metavar="SECONDS",
                               help="Seconds of idle power measured before the sweep (net power = gross - idle)."),
    min_rate: Optional[float] = typer.Option(None, "--min-rate", metavar="HZ",
                                             help="Sample rate (Hz) the load needs; windows below it are flagged."),
    device: Optional[str] = typer.Option(None, "--device", metavar="PROFILE",
                                         help="Predict with this profile file, stored profile or published device "
                                              "(default: the profile calibrated here for this engine and provider "
                                              "with the lowest held-out error). The GPU index is --device-id."),
    db: Optional[str] = typer.Option(None, "--db", metavar="PATH|URL", help=DB_HELP),
    save: bool = typer.Option(True, "--save/--no-save", help="Store the run in the results database."),
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT", help="table or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE",
                                          help="Write the JSON record to this file (missing folders are created)."),
) -> None:
    """Run the model with ONNX Runtime or TensorRT; latency, throughput and memory per batch size.

    trtexec users: --shapes, --fp16, --int8, --iterations, --duration, --warmUp (ms), --workspace and
    --exportTimes mean what they mean to trtexec."""
    from rich.text import Text

    from onnxprof.report.console import make_console

    from onnxprof.cli.options import parse_dims, parse_inputs, prepare_output
    from onnxprof.engines.base import EngineOptions
    from onnxprof.measure.sweep import SweepPlan, run_sweep, runs_on_host
    from onnxprof.predict.resolve import resolve_predictor
    from onnxprof.report.measure_tables import render_batch, render_engine

    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r}: choose table or json")
    batches = parse_batches(batch) if batch is not None else None
    chosen_precision = precision_of(precision, fp16, int8)
    protocol = timing_protocol(iterations, duration, warmup, warmup_runs, warmup_time)
    if device is not None and device.strip().isdigit():
        raise UsageError(f"--device {device}: names a device profile; the GPU index is --device-id {device.strip()} "
                         "(trtexec's --device)")
    bound = parse_inputs([*(inputs or []), *trtexec_shapes(shapes)])
    named = parse_dims(dims)
    for path, option in ((output, "--output"), (export_times, "--exportTimes")):
        if path is not None:
            prepare_output(path, option)    # before the run: a bad path is not found after minutes of timing
    if inputs_file is not None:
        from onnxprof.files import regular_file

        regular_file(inputs_file, "an .npz of input arrays")
    path = model_file(model)
    options = EngineOptions(provider=provider, precision=chosen_precision, threads=threads, optimization=optimization,
                            device_id=device_id, workspace_mb=workspace, include_transfers=include_transfers,
                            allow_fallback=allow_fallback, batches=tuple(batches or ()), profile_layers=profile_layers)
    plan = SweepPlan(source=model, model_path=path, batches=batches, engine=engine, options=options, protocol=protocol,
                     inputs=bound, dims=named, inputs_file=inputs_file)
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
    # stored profiles are looked up where runs are saved (in --db also with --no-save, which only reads it)
    profiles = store if store is not None or db is None else open_store(db, reading=True)
    plan = replace(plan, predictor=resolve_predictor(device, profiles, engine=engine, provider=provider))
    run_id: list[int] = []
    times: list[dict] = []
    unit: list[str] = []

    def started(record) -> None:
        render_engine(record.engine, console)
        unit.append(record.static.get("throughput_unit", "images/s"))
        if store is not None:
            with interrupts.writing_store():
                run_id.append(store.save_run(record))

    def measured(result, prediction) -> None:
        render_batch(result, prediction, console, unit[0] if unit else "images/s")
        if store is not None:
            with interrupts.writing_store():
                store.append_batch(run_id[0], result)

    def timed(_batch, host_ms, device_ms) -> None:
        times.extend(trtexec_times(host_ms, device_ms))

    with first_interrupt_only() as interrupts:
        try:
            record = run_sweep(plan, on_batch=measured, on_start=started,
                               on_times=timed if export_times is not None else None)
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
        if export_times is not None and times:
            import json

            with writing(export_times, "--exportTimes"):
                export_times.write_text(json.dumps(times, indent=1) + "\n", encoding="utf-8")
        _report(record, console, run_id, fmt, output)
    raise typer.Exit(exit_code(record))


def precision_of(precision: Optional[str], fp16: bool, int8: bool) -> str:
    """--precision, or trtexec's --fp16/--int8 (one precision: they must not disagree)."""
    flags = [name for name, given in (("fp16", fp16), ("int8", int8)) if given]
    if len(flags) > 1:
        raise UsageError("--fp16 and --int8: onnxprof builds one precision; give one of them")
    if precision is not None and precision not in PRECISIONS:
        raise UsageError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    if flags and precision is not None and precision != flags[0]:
        raise UsageError(f"--precision {precision} and --{flags[0]} disagree; give one of them")
    return flags[0] if flags else precision or "fp32"


def timing_protocol(iterations: int, duration: float, warmup_ms: Optional[float], warmup_runs: int,
                    warmup_time: Optional[float]):
    """The timing flags, as trtexec reads them: --warmup/--warmUp in milliseconds, --iterations and
    --duration (seconds) minimums. A command line written with the old --warmup-time SECONDS keeps its
    meaning: there, --warmup counted runs."""
    from onnxprof.measure.harness import TimingProtocol

    if warmup_time is not None:
        runs = warmup_runs if warmup_ms is None else int(warmup_ms)
        return TimingProtocol(warmup_runs=runs, warmup_s=warmup_time, min_runs=iterations, min_duration_s=duration)
    return TimingProtocol(warmup_runs=warmup_runs, warmup_s=(200.0 if warmup_ms is None else warmup_ms) / 1000.0,
                          min_runs=iterations, min_duration_s=duration)


def trtexec_shapes(shapes: Optional[List[str]]) -> list[str]:
    """trtexec's ``--shapes=a:1x3x224x224,'b':1x128`` as --input specs (names may be quoted)."""
    specs = []
    for text in shapes or []:
        for part in text.split(","):
            name, sep, dims = part.strip().rpartition(":")
            if not part.strip():
                raise UsageError(f"--shapes {text!r}: an empty shape between commas")
            specs.append(f"{name.strip(chr(39) + chr(34))}{sep}{dims}")
    return specs


def trtexec_times(host_ms, device_ms) -> list[dict]:
    """Per-run times in the shape of trtexec's --exportTimes: ``latencyMs`` the run's host wall time,
    ``computeMs`` its device time (the host time where the engine has no device clock)."""
    device = device_ms if len(device_ms) == len(host_ms) else host_ms
    return [{"latencyMs": float(h), "computeMs": float(d)} for h, d in zip(host_ms, device)]


def _report(record, console, run_id: list[int], fmt: str, output: Optional[Path]) -> None:
    from onnxprof.report.measure_tables import render_summary

    if record.layers:
        from onnxprof.report.measure_tables import render_layers

        render_layers(record.layers, console)
    render_summary(record, console, run_id[0] if run_id else None)
    if fmt == "json" or output is not None:
        from onnxprof.report.run_json import run_json

        text = run_json(record, run_id[0] if run_id else None)
        if output is not None:      # the run is saved already; only the file can be missing
            with writing(output):
                output.write_text(text, encoding="utf-8")
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


class _Interrupts:
    """The first Ctrl-C stops the sweep (KeyboardInterrupt, as usual), but not inside a write to the store:
    there it is held until the write is done, so that a run is never left half-written (a transaction cut
    by KeyboardInterrupt leaves the session unusable for the save that follows). Later Ctrl-Cs are
    ignored until the process exits, so that saving and reporting what was measured is not cut short."""

    def __init__(self) -> None:
        self.seen = False
        self.held = False
        self.writing = 0

    def on_signal(self, _signum, _frame) -> None:
        if self.seen:
            return
        self.seen = True
        if self.writing:
            self.held = True
        else:
            raise KeyboardInterrupt

    @contextmanager
    def writing_store(self) -> Iterator[None]:
        self.writing += 1
        try:
            yield
        finally:
            self.writing -= 1
        if self.held and not self.writing:
            self.held = False
            raise KeyboardInterrupt


@contextmanager
def first_interrupt_only() -> Iterator[_Interrupts]:
    """Install :class:`_Interrupts` for the sweep. A SIGINT already ignored (a background job) stays ignored;
    off the main thread, signals cannot be handled at all."""
    interrupts = _Interrupts()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
        yield interrupts
        return
    previous = signal.signal(signal.SIGINT, interrupts.on_signal)
    try:
        yield interrupts
    finally:
        # once interrupted, the process is on its way out: a further Ctrl-C must not cut that short
        signal.signal(signal.SIGINT, signal.SIG_IGN if interrupts.seen else previous)


def open_store(db: Optional[str], reading: bool = False):
    """The results database (``--db``, else the default file). ``reading``: the command only reads it,
    so a database named with --db or $ONNXPROF_DB that does not exist is an error, not created."""
    from onnxprof.cli.options import explicit_database
    from onnxprof.store.db import Store

    return Store(db, must_exist=reading and explicit_database(db))
