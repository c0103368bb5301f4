"""``onnxprof calibrate`` and ``onnxprof predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from onnxprof.errors import UsageError


def calibrate_command(
    models: str = typer.Option("resnet18,resnet34,mobilenet-v2,efficientnet-b0,squeezenet1.1,googlenet,alexnet", "--models",
                               help="Zoo names or .onnx paths, comma-separated."),
    batch: str = typer.Option("1,8", "--batch", "-b", help="Batch sizes to calibrate."),
    engine: str = typer.Option("onnxruntime", "--engine", "-e"),
    provider: str = typer.Option("cpu", "--provider", "-p"),
    duration: float = typer.Option(1.0, "--duration", min=0.0, help="Minimum timed seconds per model and batch."),
    output: Path = typer.Option(Path("device-profile.json"), "--output", "-o", help="Where to write the profile."),
    name: Optional[str] = typer.Option(None, "--name", help="The profile's name (default: this host)."),
) -> None:
    """Measure a model set here, fit the predictors, print their held-out error, save the profile."""
    import socket

    from rich.console import Console
    from rich.table import Table

    from onnxprof.cli.measure import model_file, parse_batches
    from onnxprof.engines.base import EngineOptions
    from onnxprof.measure.harness import TimingProtocol
    from onnxprof.predict.calibrate import best, collect, leave_one_model_out
    from onnxprof.predict.latency import OpsSample, fit_operations, fit_roofline
    from onnxprof.predict.microbench import measure_this_machine
    from onnxprof.predict.profile import CalibratedProfile, save_profile

    batches = parse_batches(batch)
    # a bare name is a zoo network; paths end in .onnx
    chosen = [(m, model_file(m if m.endswith(".onnx") or m.startswith("zoo:") else f"zoo:{m}"))
              for m in models.split(",") if m.strip()]
    if len(chosen) < 3:
        raise UsageError("--models: calibration needs at least 3 models (each is predicted by a fit without it)")
    console = Console()
    device = measure_this_machine(engine=engine, provider=provider)
    compute, bandwidth = device.fp32_tflops * 1e12, device.memory_bandwidth_gbs * 1e9
    console.print(f"this machine: {compute / 1e9:.1f} GFLOP/s, {bandwidth / 1e9:.1f} GB/s through {engine}")
    with console.status("measuring") as status:
        points = collect(chosen, batches, engine, EngineOptions(provider=provider),
                         TimingProtocol(min_duration_s=duration), progress=lambda what: status.update(f"measuring {what}"))
    results = leave_one_model_out(points, compute, bandwidth)
    table = Table(title="Held-out error (each model predicted by a fit made without it)", title_justify="left")
    for column in ("predictor", "batch", "within ±10 %", "Spearman ρ", "RMSPE", "models"):
        table.add_column(column, justify="left" if column == "predictor" else "right")
    for r in results:
        q = r.quality
        table.add_row(r.predictor, str(r.batch), f"{q.share_within_10pct:.0%}", f"{q.spearman_rho:.3f}",
                      f"{q.rmspe:.1%}", str(q.n))
    console.print(table)
    chosen_best = best(results)
    rmspe = {p: sum(r.quality.rmspe for r in results if r.predictor == p) / len(batches) for p in ("operations", "roofline")}
    share = {p: sum(r.quality.share_within_10pct for r in results if r.predictor == p) / len(batches)
             for p in ("operations", "roofline")}
    profile = CalibratedProfile(
        name=name or socket.gethostname(), engine=engine, provider=provider,
        operations=fit_operations([OpsSample(p.macs_per_image, p.batch, p.median_ms) for p in points], per_batch=True),
        roofline=fit_roofline([layer for p in points for layer in p.layers], compute, bandwidth),
        best=chosen_best, rmspe=rmspe, share_within_10pct=share, models=tuple(m for m, _ in chosen))
    save_profile(profile, output)
    console.print(f"best predictor: {chosen_best}; profile written to {output}")


def predict_command(
    model: str = typer.Argument(..., help="An .onnx file or zoo:NAME."),
    device: str = typer.Option(..., "--device", help="A device name (see devices.json) or a profile file from calibrate."),
    batch: str = typer.Option("1", "--batch", "-b", help="Batch sizes, e.g. 1,8,64."),
) -> None:
    """Predicted latency, throughput, memory and energy per inference, without running the model."""
    from rich.console import Console
    from rich.table import Table

    from onnxprof.cli.measure import parse_batches
    from onnxprof.cost.analysis import analyze
    from onnxprof.model.shapes import ShapeBinding
    from onnxprof.predict.profile import held_out_error, load_profile, uncalibrated_roofline

    batches = parse_batches(batch)
    profile, facts = None, None
    if device.endswith(".json"):
        profile = load_profile(Path(device))
        roofline = profile.roofline
    else:
        from onnxprof.predict.devices import device as device_facts

        facts = device_facts(device)
        if not facts.fp32_tflops or not facts.memory_bandwidth_gbs:
            raise UsageError(f"--device {device}: its published compute or bandwidth is unknown; calibrate instead")
        roofline = uncalibrated_roofline(facts.fp32_tflops * 1e12, facts.memory_bandwidth_gbs * 1e9)
    error = held_out_error(profile)
    table = Table(title=f"{model} on {device}" + (f" (held-out RMSPE {error:.0%})" if error is not None else
                                                   " (uncalibrated: roofline at half the published peak)"),
                  title_justify="left")
    for column in ("batch", "latency ms", "per image ms", "images/s", "weights + activations MB", "energy/image J"):
        table.add_column(column, justify="right")
    for b in batches:
        report = analyze(model, ShapeBinding(batch=b), check=False)
        if profile is not None and profile.best == "operations":
            latency = profile.operations.predict(float(report.totals.macs) / b, b)
        else:
            latency = roofline.predict_total(report)
        memory = report.memory.weight_bytes + report.memory.peak_activation_bytes
        power = facts.max_power_w if facts is not None else None
        energy = power * latency / 1000 / b if power else None
        table.add_row(str(b), f"{latency:,.2f}", f"{latency / b:,.2f}", f"{1000 * b / latency:,.1f}",
                      f"{memory / 1e6:,.1f}", "-" if energy is None else f"{energy:.4f}")
    Console().print(table)
