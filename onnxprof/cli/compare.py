"""``onnxprof compare``: predicted vs measured for stored runs, with the calibration's metrics."""

from __future__ import annotations

import json
from typing import List, Optional

import typer

from onnxprof.cli.options import FormatOption, check_format
from onnxprof.errors import UsageError

SCHEMA = "onnxprof.compare"
SCHEMA_VERSION = 1


def compare_command(
    runs: Optional[List[int]] = typer.Argument(None, help="Run ids (default: the latest run of each model)."),
    device: Optional[str] = typer.Option(None, "--device", help="Predict again with this profile file, stored "
                                                                 "profile or published device (default: the "
                                                                 "predictions stored with each run)."),
    layers: bool = typer.Option(False, "--layers", help="Also compare per layer (runs measured with --profile-layers)."),
    fmt: str = FormatOption,
    db: Optional[str] = typer.Option(None, "--db", help="Results database."),
) -> None:
    """Show predicted against measured latency and memory for stored runs."""
    from onnxprof.cli.measure import open_store
    from onnxprof.measure.records import json_ready
    from onnxprof.predict.accuracy import compare_layers, compare_run, summarise
    from onnxprof.predict.resolve import resolve_predictor
    from onnxprof.report.dataset import latest_only

    check_format(fmt)
    with open_store(db) as store:
        chosen = [(run_id, store.get_run(run_id)) for run_id in (runs or store.run_ids())]
        predictor = resolve_predictor(device, store) if device is not None else None
    if not runs:
        chosen = latest_only(chosen)
    values = [v for run_id, record in chosen for v in compare_run(run_id, record, predictor)]
    if not values:
        raise UsageError("no run with both a prediction and a measurement to compare; measure some models first "
                         "(`onnxprof measure zoo:resnet18`)")
    per_layer = [row for run_id, record in chosen for row in compare_layers(run_id, record, predictor)] if layers else []
    summaries = summarise(values)
    if fmt == "json":
        typer.echo(json.dumps({"schema": SCHEMA, "schema_version": SCHEMA_VERSION,
                               "values": [{**json_ready(v), "error": v.error} for v in values],
                               "layers": json_ready(per_layer), "summary": json_ready(summaries)}, indent=1))
    elif fmt == "csv":
        import csv
        import sys

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["run_id", "model", "batch", "figure", "predicted", "measured", "error", "method", "source",
                         "warnings"])
        for v in values:
            writer.writerow([v.run_id, v.model, v.batch, v.figure, repr(v.predicted), repr(v.measured),
                             repr(v.error), v.method, v.source, "; ".join(v.warnings)])
    else:
        from onnxprof.report.console import make_console
        from onnxprof.report.predict_tables import comparison_tables

        console = make_console()
        for table in comparison_tables(values, summaries, per_layer):
            console.print(table)
