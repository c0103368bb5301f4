"""``onnxprof analyze``: the static report of one model."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from onnxprof.cli.options import (BatchOption, DimOption, FormatOption, InputOption, OutputOption, check_format,
                                  shape_binding)

DEFAULT_MODEL = "zoo:resnet50"


def analyze_command(
    model: str = typer.Argument(DEFAULT_MODEL, help="An .onnx file or zoo:NAME (default: zoo:resnet50)."),
    inputs: Optional[List[str]] = InputOption,
    batch: Optional[int] = BatchOption,
    dims: Optional[List[str]] = DimOption,
    layers: bool = typer.Option(False, "--layers", help="List every node, not only the top 10 by MACs."),
    fmt: str = FormatOption,
    output: Optional[Path] = OutputOption,
    check: bool = typer.Option(True, "--check/--no-check", help="Run the ONNX checker on the model first."),
) -> None:
    """Count parameters, MACs, FLOPs and memory of a model without running it."""
    from onnxprof.cost.analysis import analyze

    check_format(fmt)
    report = analyze(model, shape_binding(inputs, batch, dims), check=check)
    if fmt == "table":
        from rich.console import Console

        from onnxprof.report.tables import render_analysis

        render_analysis(report, Console(), layers=layers)
        return
    from onnxprof.report.formats import analysis_csv, analysis_json

    text = analysis_json(report) if fmt == "json" else analysis_csv(report)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
