"""``onnxprof calibrate`` and ``onnxprof predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from onnxprof.errors import UsageError

DEFAULT_CALIBRATION_SET = "resnet18,resnet34,mobilenet-v2,efficientnet-b0,squeezenet1.1,googlenet,alexnet"
DeviceOption = typer.Option(None, "--device", help="A profile file from calibrate, a stored profile's name, or a "
                                                    "published device (e.g. jetson-tx1); default: the newest profile "
                                                    "calibrated on this host with this engine and provider.")


def calibrate_command(
    models: str = typer.Option(DEFAULT_CALIBRATION_SET, "--models", help="Zoo names or .onnx paths, comma-separated."),
    batch: str = typer.Option("1,8", "--batch", "-b", help="Batch sizes to calibrate."),
    engine: str = typer.Option("onnxruntime", "--engine", "-e"),
    provider: str = typer.Option("cpu", "--provider", "-p"),
    duration: float = typer.Option(1.0, "--duration", min=0.0, help="Minimum timed seconds per model, batch and round."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Timing rounds over the whole set (each model keeps its "
                                                          "fastest round: steadier on a busy machine)."),
    op_benchmarks: bool = typer.Option(True, "--op-benchmarks/--no-op-benchmarks",
                                       help="Also profile single-op models of common kernels (three rounds of about "
                                            "25 s with ONNX Runtime on a CPU, between the networks' rounds), so the "
                                            "kernel model knows ops the set lacks."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Also write the profile to this file (to share)."),
    name: Optional[str] = typer.Option(None, "--name", help="The profile's name (default: this host)."),
    db: Optional[str] = typer.Option(None, "--db", help="Results database where the profile is stored."),
) -> None:
    """Measure a model set here, fit the predictors, print their held-out error, store the profile."""
    import socket
    from contextlib import nullcontext

    from rich.text import Text

    from onnxprof.report.console import make_console

    from onnxprof.cli.measure import model_file, open_store, parse_batches
    from onnxprof.cli.options import writing
    from onnxprof.engines.base import EngineOptions
    from onnxprof.measure.harness import TimingProtocol
    from onnxprof.predict.calibrate import collect, fit_profile, leave_one_model_out, repeatability
    from onnxprof.predict.microbench import measure_this_machine, spill_from_bytes
    from onnxprof.predict.opbench import OpBench
    from onnxprof.predict.power import fit_power, samples_from_runs
    from onnxprof.predict.profile import profile_json, save_profile
    from onnxprof.report.predict_tables import calibration_table

    batches = parse_batches(batch)
    # a bare name is a zoo network; paths end in .onnx
    chosen = [(m, model_file(m if m.endswith(".onnx") or m.startswith("zoo:") else f"zoo:{m}"))
              for m in models.split(",") if m.strip()]
    if len(chosen) < 3:
        raise UsageError("--models: calibration needs at least 3 models (each is predicted by a fit without it)")
    store = open_store(db)
    hostname = socket.gethostname()
    console = make_console()
    device = measure_this_machine(engine=engine, provider=provider)
    compute, bandwidth = device.fp32_tflops * 1e12, device.memory_bandwidth_gbs * 1e9
    console.print(f"this machine: {compute / 1e9:.1f} GFLOP/s, {bandwidth / 1e9:.1f} GB/s through {engine}")
    options = EngineOptions(provider=provider)
    with console.status("measuring") as status, \
            (OpBench(engine, options, progress=status.update) if op_benchmarks else nullcontext()) as op_bench:
        points = collect(chosen, batches, engine, options, TimingProtocol(min_duration_s=duration), rounds=rounds,
                         progress=lambda what: status.update(f"measuring {what}"), op_bench=op_bench)
        if len({p.model for p in points}) < 3:
            raise UsageError("calibration needs at least 3 models that ran; see `onnxprof measure` for why the "
                             "others failed")
        op_timings = op_bench.timings if op_bench is not None else []
    spill = spill_from_bytes(engine, provider)
    if spill:
        console.print(Text(f"kernel model: feature maps past {spill / 1e6:.1f} MB stream from a shared cache or "
                           "memory", style="dim"))
    results = leave_one_model_out(points, compute, bandwidth, op_timings, spill)
    spread = repeatability(points)
    if spread:
        console.print(Text(spread, style="dim"))
    busy = [f"{p.model} batch {p.batch}" for p in points if not p.quiet]
    if busy:
        console.print(Text(f"{len(busy)} of {len(points)} points found this machine busy with load from elsewhere "
                           f"in every round of their timing or profile ({', '.join(busy)}): their held-out errors include "
                           "it; calibrate again when the machine is quieter, or with more --rounds", style="yellow"))
    stored_runs = [store.get_run(s.id) for s in store.list_runs()
                   if s.hostname == hostname and s.engine == engine and s.provider == provider]
    power_samples = samples_from_runs(stored_runs)
    profile = fit_profile(points, results, compute, bandwidth, name=name or hostname, engine=engine,
                          provider=provider, hostname=hostname, power=fit_power(power_samples) if power_samples else None,
                          op_timings=op_timings, spill_from_bytes=spill)
    console.print(calibration_table(results, profile))
    profile_id = store.save_profile(profile.name, profile.created_at, hostname, engine, provider, profile_json(profile))
    where = f"stored as profile {profile_id} ({profile.name!r}) in {store.shown}"
    if output is not None:
        with writing(output):
            save_profile(profile, output)
        where += f" and written to {output}"
    console.print(f"best predictor: {profile.best}; {where}")


def predict_command(
    model: str = typer.Argument(..., help="An .onnx file or zoo:NAME."),
    device: Optional[str] = DeviceOption,
    batch: str = typer.Option("1", "--batch", "-b", help="Batch sizes, e.g. 1,8,64."),
    engine: str = typer.Option("onnxruntime", "--engine", "-e", help="The engine of the stored profile to use."),
    provider: str = typer.Option("cpu", "--provider", "-p", help="The provider of the stored profile to use."),
    db: Optional[str] = typer.Option(None, "--db", help="Results database holding stored profiles."),
) -> None:
    """Predicted latency, throughput, memory, power and energy per inference, without running the model."""
    from onnxprof.report.console import make_console

    from onnxprof.cli.measure import open_store, parse_batches
    from onnxprof.cost.analysis import analyze
    from onnxprof.model.shapes import ShapeBinding
    from onnxprof.predict.resolve import resolve_predictor
    from onnxprof.report.predict_tables import prediction_table

    batches = parse_batches(batch)
    predictor = resolve_predictor(device, open_store(db), engine=engine, provider=provider)
    if predictor is None:
        raise UsageError("--device: no profile calibrated on this host for this engine and provider; run "
                         "`onnxprof calibrate`, or name a device such as --device jetson-tx1")
    predictions = [predictor.predict(analyze(model, ShapeBinding(batch=b), check=False), b) for b in batches]
    make_console().print(prediction_table(model, predictions))
