"""Rich tables of the predictors: calibration quality, predictions for a device, predicted vs measured."""

from __future__ import annotations

from typing import Optional, Sequence

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from onnxprof.report.units import megabytes


def _table(title: str, columns: Sequence[str], first_left: bool = True) -> Table:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 and first_left else "right")
    return table


def _or_dash(value: Optional[float], fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def calibration_table(results: Sequence, profile) -> RenderableType:
    """Held-out quality per latency predictor and batch size, then the memory and power fits."""
    table = _table("Held-out error (each model predicted by a fit made without it)",
                   ("predictor", "batch", "within ±10 %", "Spearman ρ", "RMSPE", "models"))
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
    fits = sorted(model.network_by_batch.items())
    per_batch = ", ".join(f"×{fit.scale:.3f} at batch {batch}" for batch, fit in fits)
    overhead_ms = fits[0][1].overhead_ms        # one value for every batch size (kernels._profiling_overhead)
    return (f"kernels: {len(model.coefficients)} op classes from {model.n} profiled kernels "
            f"(R² {model.r_squared:.3f}); inside a network {model.in_network_ms * 1e3:+.1f} µs a kernel, "
            f"{model.in_network_ms_per_weight_byte * 1e9:+.1f} µs a MB of weights and "
            f"{model.in_network_ms_per_spilled_byte * 1e9:+.1f} µs a MB of maps past the cores' caches",
            f"network = (Σ kernels − profiler's overhead {overhead_ms * 1e3:+.1f} µs a kernel) {per_batch}")


def prediction_table(model: str, predictions: Sequence) -> Table:
    # the method names the predictor and, when calibrated, its held-out error
    table = _table(f"{model}: {predictions[0].method if predictions else ''}", ("batch", "latency ms", "per image ms", "images/s", "memory MB", "power W",
                           "energy/image J"), first_left=False)
    for p in predictions:
        table.add_row(str(p.batch), _or_dash(p.latency_ms, ",.2f"), _or_dash(p.latency_per_image_ms, ",.2f"),
                      _or_dash(p.throughput_per_s, ",.1f"),
                      _or_dash(None if p.peak_rss_bytes is None else p.peak_rss_bytes / 1e6, ",.1f"),
                      _or_dash(p.power_w, ".2f"), _or_dash(p.energy_per_image_j, ".4f"))
    return table


FIGURE_TEXT = {"latency_ms": ("latency", lambda v: f"{v:,.3f} ms"), "peak_rss_bytes": ("memory", megabytes)}


def comparison_tables(values: Sequence, summaries: Sequence, layers: Sequence = ()) -> list[Table]:
    """Predicted vs measured per model and batch, per layer when profiled, then the summary metrics."""
    table = _table("Predicted vs measured", ("model", "batch", "figure", "predicted", "measured", "error"))
    for v in values:
        label, fmt = FIGURE_TEXT[v.figure]
        table.add_row(v.model, str(v.batch), label, fmt(v.predicted), fmt(v.measured), f"{v.error:+.1%}")
    tables = [table]
    if not summaries:
        table.caption = "(a summary needs two values of a figure or more)"
    if layers:
        per_layer = _table("Per layer (latency)", ("model", "layer", "op types", "predicted ms", "measured ms", "error"))
        for layer in layers:
            guess = layer.predicted_ms
            error = "-" if guess is None or not layer.measured_ms else f"{guess / layer.measured_ms - 1:+.0%}"
            per_layer.add_row(layer.model, layer.layer, "+".join(layer.op_types), _or_dash(guess, ",.4f"),
                              f"{layer.measured_ms:,.4f}", error)
        tables.append(per_layer)
    summary = _table("Summary", ("figure", "batch", "within ±10 %", "Spearman ρ", "RMSPE", "R²", "values"))
    for s in summaries:
        q = s.quality
        summary.add_row(FIGURE_TEXT[s.figure][0], "all" if s.batch is None else str(s.batch),
                        f"{q.share_within_10pct:.0%}", f"{q.spearman_rho:.3f}", f"{q.rmspe:.1%}",
                        f"{q.r_squared:.3f}", str(q.n))
    if summaries:
        tables.append(summary)
    return tables
