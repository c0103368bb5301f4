"""Rich tables of the predictors: calibration quality, predictions for a device, predicted vs measured."""

from __future__ import annotations

from typing import Optional, Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.text import Text

from onnxprof.report.fit import NAME, Column, FitTable
from onnxprof.report.units import megabytes, rate


def _table(title: str, columns: Sequence[Column]) -> FitTable:
    return FitTable(title, columns, box=box.HEAVY_HEAD, pad_edge=True)


def _or_dash(value: Optional[float], fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def calibration_table(results: Sequence, profile) -> RenderableType:
    """Held-out quality per latency predictor and batch size, then the memory and power fits."""
    table = _table("Held-out error (each model predicted by a fit made without it)",
                   (Column("predictor", NAME, key=True), Column("batch", key=True), Column("within ±10 %"),
                    Column("Spearman ρ", priority=1), Column("RMSPE"), Column("models", priority=2)))
    for r in results:
        q = r.quality
        marker = " (best)" if r.predictor == profile.best else ""
        table.add_row(r.predictor + marker, str(r.batch), f"{q.share_within_10pct:.0%}", f"{q.spearman_rho:.3f}",
                      f"{q.rmspe:.1%}", str(q.n))
    # the fitted formulas go below the table, one line each: in its "models" column they wrapped over six
    formulas = []
    if profile.memory is not None:
        m = profile.memory
        error = "-" if profile.memory_rmspe is None else f"{profile.memory_rmspe:.1%}"
        table.add_row("memory", "all", "", "", error, "")
        formulas.append(f"memory = {megabytes(m.floor_bytes)} + {m.conv_weight_slope:.2f} × conv weights + "
                        f"{m.weight_slope:.2f} × other weights + "
                        f"{m.activation_slope:.2f} × batch × peak activations per image")
    if profile.kernels is not None and profile.kernels.network_by_batch:
        formulas.extend(_kernel_model_lines(profile.kernels))
    if profile.power is not None:
        p = profile.power
        table.add_row("power", "all", "", "", "", "")
        formulas.append(f"power = {p.idle_w:.2f} W idle + {p.active_w:.2f} ± {p.active_std_w:.2f} W running")
    return Group(table, *(Text(f) for f in formulas))


def _kernel_model_lines(model) -> tuple[str, str]:
    """What the kernel model adds beyond its classes' coefficients, which are too many to print."""
    from onnxprof.predict.terms import describe_shared

    fits = sorted(model.network_by_batch.items())
    per_batch = ", ".join(f"×{fit.scale:.3f} at batch {batch}" for batch, fit in fits)
    overhead_ms = fits[0][1].overhead_ms        # one value for every batch size (kernels._profiling_overhead)
    shared = describe_shared(model.shared)
    return (f"kernels: {len(model.coefficients)} kernel classes from {model.n} profiled kernels "
            f"(R² {model.r_squared:.3f})" + (f"; shared: {shared}" if shared else ""),
            f"network = (Σ kernels − profiler's overhead {overhead_ms * 1e3:+.1f} µs a kernel) {per_batch}")


def prediction_table(model: str, predictions: Sequence) -> FitTable:
    # the source names the predictor and, when calibrated, its held-out error; each batch's warnings follow
    table = _table(f"{model}: {predictions[0].source_label if predictions else ''}",
                   (Column("batch", key=True), Column("latency ms"), Column("per image ms", priority=1),
                    Column("images/s"), Column("memory"), Column("power W", priority=2),
                    Column("energy/image J", priority=2)))
    for p in predictions:
        table.add_row(str(p.batch), _or_dash(p.latency_ms, ",.2f"), _or_dash(p.latency_per_image_ms, ",.2f"),
                      rate(p.throughput_per_s), "-" if p.peak_rss_bytes is None else megabytes(p.peak_rss_bytes),
                      _or_dash(p.power_w, ".2f"), _or_dash(p.energy_per_image_j, ".4f"))
    warnings = [f"batch {p.batch}: {w}" for p in predictions for w in p.warnings]
    if warnings:
        table.caption = Text("\n".join(f"warning: {w}" for w in warnings), style="yellow")
    return table


FIGURE_TEXT = {"latency_ms": ("latency", lambda v: f"{v:,.3f} ms"), "peak_rss_bytes": ("memory", megabytes)}


def comparison_tables(values: Sequence, summaries: Sequence, layers: Sequence = ()) -> list[FitTable]:
    """Predicted vs measured per model and batch, per layer when profiled (a table per model: the layer
    names need the width), then the summary metrics."""
    table = _table("Predicted vs measured", (Column("model", NAME, key=True), Column("batch", key=True),
                                             Column("figure", NAME, key=True), Column("predicted"),
                                             Column("measured"), Column("error")))
    for v in values:
        label, fmt = FIGURE_TEXT[v.figure]
        table.add_row(v.model, str(v.batch), label, fmt(v.predicted), fmt(v.measured), f"{v.error:+.1%}")
    sources = sorted({(v.model, v.source) for v in values if v.source})
    notes = [f"{model} predicted by {source}" for model, source in sources]
    notes += [f"{v.model} batch {v.batch}: warning: {w}" for v in values for w in v.warnings]
    tables = [table]
    if not summaries:
        notes.append("(a summary needs two values of a figure or more)")
    if notes:
        table.caption = "\n".join(notes)
    by_run: dict[tuple, list] = {}
    for layer in layers:
        by_run.setdefault((layer.run_id, layer.model), []).append(layer)
    for (run_id, model), rows in by_run.items():
        per_layer = _table(f"Per layer (latency): {model}, run {run_id}",
                           (Column("layer", NAME, key=True), Column("op types", NAME, priority=2),
                            Column("predicted ms"), Column("measured ms"), Column("error")))
        for layer in rows:
            guess = layer.predicted_ms
            error = "-" if guess is None or not layer.measured_ms else f"{guess / layer.measured_ms - 1:+.0%}"
            per_layer.add_row(layer.layer, "+".join(layer.op_types), _or_dash(guess, ",.4f"),
                              f"{layer.measured_ms:,.4f}", error)
        tables.append(per_layer)
    summary = _table("Summary", (Column("figure", NAME, key=True), Column("batch", key=True), Column("within ±10 %"),
                                 Column("Spearman ρ"), Column("RMSPE"), Column("R²"), Column("values")))
    for s in summaries:
        q = s.quality
        summary.add_row(FIGURE_TEXT[s.figure][0], "all" if s.batch is None else str(s.batch),
                        f"{q.share_within_10pct:.0%}", f"{q.spearman_rho:.3f}", f"{q.rmspe:.1%}",
                        f"{q.r_squared:.3f}", str(q.n))
    if summaries:
        tables.append(summary)
    return tables
