"""``onnxprof meters list`` and ``onnxprof meters read``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from onnxprof.cli.options import (FormatOption, ReplayOption, ScopeChannelOption, SupplyVoltageOption,
                                  VisaResourceOption, check_format)

meters_app = typer.Typer(help="Power meters: what this machine has, and live readings.", no_args_is_help=True)


@meters_app.command("list")
def list_command(gpu_index: int = typer.Option(0, "--gpu-index", min=0, metavar="N", help="NVIDIA GPU to try.")) -> None:
    """The meters detected here, with their rails (lab instruments need --visa-resource to be tried)."""
    from rich.table import Table

    from onnxprof.report.console import make_console

    from onnxprof.meters import MeterOptions, detect

    table = Table(title="Power meters on this machine", title_justify="left")
    for column in ("meter", "available", "details"):
        table.add_column(column, overflow="fold")
    found = detect(MeterOptions(gpu_index=gpu_index))
    for name, meter, details in found:
        table.add_row(name, "yes" if meter is not None else "no", details)
    table.add_row("visa-supply, visa-scope", "?", "lab instruments: try with `onnxprof meters read visa-supply --visa-resource ...`")
    table.add_row("replay", "-", "a CSV of time and watts: `onnxprof measure ... --meter replay --replay FILE.csv`")
    console = make_console()
    console.print(table)
    if not any(meter is not None for _, meter, _ in found):
        console.print("No power meter found on this machine; measurements will carry no power figures.")


@meters_app.command("read")
def read_command(
    meter: str = typer.Argument("auto", metavar="METER", help="A meter name (see `onnxprof meters list`) or auto."),
    seconds: float = typer.Option(5.0, "--seconds", "-s", min=0.1, metavar="SECONDS", help="How long to read."),
    visa_resource: Optional[str] = VisaResourceOption,
    scope_channel: int = ScopeChannelOption,
    supply_voltage: Optional[float] = SupplyVoltageOption,
    gpu_index: int = typer.Option(0, "--gpu-index", min=0, metavar="N", help="NVIDIA GPU to read (nvml)."),
    replay: Optional[Path] = ReplayOption,
    fmt: str = FormatOption,
) -> None:
    """Live readings: current and mean power, rails, and the sample rate actually achieved."""
    from rich.live import Live

    from onnxprof.meters import MeterOptions, create_meter
    from onnxprof.report.console import make_console

    check_format(fmt)
    chosen = create_meter(meter, MeterOptions(visa_resource=visa_resource, scope_channel=scope_channel,
                                              supply_voltage=supply_voltage, gpu_index=gpu_index,
                                              replay=replay))
    if fmt != "table":
        with chosen:
            start = time.perf_counter()
            time.sleep(seconds)
            window = chosen.window(start, time.perf_counter())
        typer.echo(_window_data(chosen, window, fmt), nl=False)
        return
    console = make_console()
    with chosen:
        start = time.perf_counter()
        if console.is_terminal:
            with Live(console=console, refresh_per_second=4, transient=False) as live:
                while time.perf_counter() - start < seconds:
                    live.update(_reading_table(chosen, start))
                    time.sleep(0.25)
                live.update(_reading_table(chosen, start))
        else:    # piped or logged: one table at the end (Live would leave it without its final newline)
            time.sleep(seconds)
            console.print(_reading_table(chosen, start))
    console.print(f"{chosen.describe()}: {len(chosen.samples)} readings, {len(chosen.errors)} failed")


def _window_data(meter, window, fmt: str) -> str:
    """The reading as data: the window's figures (mean, peak, energy, rails, rate) and the meter."""
    import csv
    import io

    from onnxprof.measure.records import json_document

    if fmt == "json":
        return json_document("onnxprof.meter-reading", {"meter": meter.describe(), "readings": len(meter.samples),
                                                          "failed": len(meter.errors), "window": window})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["meter", "seconds", "samples", "sample_rate_hz", "mean_w", "peak_w", "energy_j"])
    writer.writerow([meter.name, window.end_s - window.start_s, window.samples, window.sample_rate_hz, window.mean_w,
                     window.peak_w, window.energy_j])
    return out.getvalue()


def _reading_table(meter, start: float):
    from rich.table import Table

    now = time.perf_counter()
    window = meter.window(start, now)
    latest = meter.samples[-1] if meter.samples else None
    table = Table(title=f"{meter.name} — {now - start:.1f} s", title_justify="left")
    table.add_column("")
    table.add_column("value", justify="right")
    table.add_row("power now", "-" if latest is None or latest.power_w is None else f"{latest.power_w:.3f} W")
    table.add_row("mean power", "-" if window.mean_w is None else f"{window.mean_w:.3f} W")
    table.add_row("energy", "-" if window.energy_j is None else f"{window.energy_j:.3f} J")
    table.add_row("sample rate", f"{window.sample_rate_hz:.1f} Hz (nominal {meter.nominal_rate_hz:g})")
    for rail, watts in (latest.rails_w.items() if latest is not None else ()):
        table.add_row(f"  {rail}", f"{watts:.3f} W")
    return table
