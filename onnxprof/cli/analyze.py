"""``onnxprof analyze``: the static report of one model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from onnxprof.cli.options import (BatchOption, DimOption, FormatOption, InputOption, OutputOption, batch_choice,
                                  check_format, prepare_output, writing)

DEFAULT_MODEL = "zoo:resnet50"


def analyze_command(
    model: str = typer.Argument(DEFAULT_MODEL, metavar="MODEL", help="An .onnx file or zoo:NAME (default: zoo:resnet50)."),
    inputs: Optional[List[str]] = InputOption,
    batch: Optional[str] = BatchOption,
    dims: Optional[List[str]] = DimOption,
    layers: bool = typer.Option(False, "--layers", help="List every node, not only the top 10 by MACs."),
    fmt: str = FormatOption,
    output: Optional[Path] = OutputOption,
    check: bool = typer.Option(True, "--check/--no-check", help="Run the ONNX checker on the model first."),
    device: Optional[str] = typer.Option(None, "--device", metavar="PROFILE", help="Also predict latency, memory and power on a device: "
                                                                 "a profile file, a stored profile (calibrate) or "
                                                                 "a published device such as jetson-tx1."),
) -> None:
    """Count parameters, MACs, FLOPs and memory of a model without running it."""
    from onnxprof.cost.analysis import analyze_loaded
    from onnxprof.gcpause import cyclic_gc_paused
    from onnxprof.model.load import load_model

    check_format(fmt)
    if output is not None:
        prepare_output(output)
    with cyclic_gc_paused():
        loaded = load_model(model, check=check)
        choice = batch_choice(loaded.model, inputs, batch, dims)      # the batch, from whichever flag set it
        size = choice.batches[0] if choice.batches else None
        report = analyze_loaded(loaded, choice.binding(size))
    if fmt == "table":
        from onnxprof.report.console import make_console
        from onnxprof.report.tables import render_analysis

        console = make_console()
        render_analysis(report, console, layers=layers)
        if device is not None:
            _render_prediction(model, report, device, size or 1, console)
        return
    from onnxprof.report.formats import analysis_csv, analysis_json

    text = analysis_json(report) if fmt == "json" else analysis_csv(report)
    if output is None:
        typer.echo(text, nl=False)
    else:
        with writing(output):
            output.write_text(text, encoding="utf-8")


def _render_prediction(model: str, report, device: str, batch: int, console) -> None:
    """The static report's counts turned into time, memory and power on ``device``."""
    from onnxprof.cli.measure import open_store
    from onnxprof.errors import UsageError
    from onnxprof.predict.resolve import resolve_predictor
    from onnxprof.report.predict_tables import prediction_table

    try:
        prediction = resolve_predictor(device, open_store(None)).predict(report, batch)
    except ValueError:       # symbolic costs: a dimension is still unbound
        raise UsageError("--device: the prediction needs every dimension bound; give --batch and --dim NAME=SIZE") from None
    console.print(prediction_table(model, [prediction]))
