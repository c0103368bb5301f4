"""The terminal report of ``onnxprof measure``: predicted and measured side by side, per batch."""

from __future__ import annotations

from typing import Optional

from rich.console import Console
from rich.text import Text

from onnxprof.measure.records import OK, BatchResult, EngineInfo, RunRecord
from onnxprof.predict.basic import Prediction
from onnxprof.report.fit import NAME, NAMES, NOTE, Column, FitTable
from onnxprof.report.units import latency_ms, megabytes, per_image_ms, per_second, rate


def render_engine(info: EngineInfo, console: Console) -> None:
    placed = ", ".join(f"{provider} {count}" for provider, count in info.nodes_by_provider.items()) or "-"
    line = Text.assemble((info.engine, "bold"), f" {info.provider} {info.precision} · nodes by provider: {placed}")
    if info.fallback:
        line.append("  (fallback: not all nodes run on the provider asked for)", style="yellow")
    console.print(line)


def render_batch(result: BatchResult, prediction: Optional[Prediction], console: Console,
                 unit: str = "images/s") -> None:
    """``unit``: what the throughput counts (images/s for an image model, samples/s otherwise)."""
    title = f"batch {result.batch}"
    if result.status != OK:
        console.print(Text(f"{title}: {result.status.replace('_', ' ')} — {result.error}", style="yellow"))
        return
    lat = result.latency
    table = FitTable(title, [Column("", NAME, key=True), Column("predicted"), Column("measured"),
                             Column("error", priority=1, leaves=NOTE)])
    measured_ms = latency_ms(result)     # the median, and so is every figure derived from it
    rows = [
        ("latency per batch (median)", prediction and prediction.latency_ms, measured_ms, _ms),
        ("latency per image (median)", prediction and prediction.latency_per_image_ms,
         per_image_ms(result.batch, measured_ms), _ms),
        (f"throughput ({unit}, median)", prediction and prediction.throughput_per_s,
         per_second(result.batch, measured_ms), rate),
        ("peak RSS", prediction and prediction.peak_rss_bytes, result.memory and result.memory.peak_rss_bytes, megabytes),
    ]
    power = result.power
    if power is not None:
        rows += [
            ("power (mean, gross)", prediction and prediction.power_w, power.gross_w, _watts),
            ("power (net of idle)", None, power.net_w, _watts),
            ("energy per image", prediction and prediction.energy_per_image_j, power.energy_per_image_j, _joules),
            ("images per joule", None, power.images_per_j, rate),
        ]
    for label, predicted, measured, fmt in rows:
        table.add_row(label, "-" if predicted is None else fmt(predicted), "-" if measured is None else fmt(measured),
                      _error(predicted, measured))
    if prediction is not None:
        caption = Text(f"predicted: {prediction.source_label}")
        for warning in prediction.warnings:     # extrapolated past the calibration, an uncalibrated family ...
            caption.append(f"\nwarning: {warning}", style="yellow")
        table.caption = caption
    console.print(table)
    if power is not None:
        note = power.missing and f"power missing: {power.missing}"
        for message in ([note] if note else []) + list(power.warnings):
            console.print(Text(f"  {power.meter}: {message}", style="yellow"))
    spread = (f"median {lat.median_ms:.3f} · p90 {lat.p90_ms:.3f} · p99 {lat.p99_ms:.3f} · min {lat.min_ms:.3f} "
              f"· max {lat.max_ms:.3f} ms · cv {lat.cv:.1%} · {lat.samples} runs in {lat.total_s:.1f} s")
    console.print(Text(spread, style="yellow" if lat.noisy else "dim"))
    if lat.noisy:
        console.print(Text(f"  noisy: the coefficient of variation {lat.cv:.1%} is above 2.5 %; "
                           "close other programs or lengthen --duration", style="yellow"))


def render_summary(record: RunRecord, console: Console, run_id: Optional[int] = None) -> None:
    kept = sum(1 for b in record.batches if b.status == OK)
    where = f"saved as run {run_id}" if run_id is not None else "not saved"
    if record.interrupted:
        console.print(Text(f"interrupted: {kept} finished batch(es) kept, {where}", style="yellow"))
    else:
        console.print(Text(f"{kept} of {len(record.batches)} batch sizes measured, {where}", style="dim"))


def _ms(value: float) -> str:
    return f"{value:,.3f} ms"


def _watts(value: float) -> str:
    return f"{value:,.3f} W"


def _joules(value: float) -> str:
    return f"{value * 1000:,.3f} mJ" if abs(value) < 1 else f"{value:,.3f} J"


def _error(predicted, measured) -> str:
    if not predicted or not measured:
        return "-"
    return f"{(predicted - measured) / measured:+.0%}"


def render_layers(rows, console: Console, top: int = 25) -> None:
    """Per-layer measured vs predicted, slowest first; a fused kernel is one row with its ONNX nodes."""
    total = sum(r.measured_ms for r in rows) or 1.0
    table = FitTable(f"Layers by measured time (top {min(top, len(rows))} of {len(rows)} kernels)",
                     [Column("kernel", NAME, key=True), Column("ONNX nodes", NAMES, priority=1),
                      Column("measured"), Column("share", priority=2, leaves=NOTE), Column("predicted", priority=1),
                      Column("error", priority=3, leaves=NOTE)])
    for row in sorted(rows, key=lambda r: r.measured_ms, reverse=True)[:top]:
        nodes = (", ".join(row.onnx_nodes) if len(row.onnx_nodes) <= 3
                 else f"{row.onnx_nodes[0]} and {len(row.onnx_nodes) - 1} more")
        table.add_row(row.name, f"{nodes} [{'+'.join(row.op_types)}]", _ms(row.measured_ms),
                      f"{row.measured_ms / total:.1%}", "-" if row.predicted_ms is None else _ms(row.predicted_ms),
                      _error(row.predicted_ms, row.measured_ms))
    console.print(table)
