"""``onnxprof zoo list`` and ``onnxprof zoo export``."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from onnxprof.errors import UsageError

zoo_app = typer.Typer(help="The reference networks onnxprof builds itself: list them, export them as ONNX.",
                      no_args_is_help=True)


@zoo_app.command("list")
def list_command(
    counts: bool = typer.Option(False, "--counts", help="Also analyse each network (parameters, MACs at batch 1)."),
    fmt: str = typer.Option("table", "--format", "-f", metavar="FORMAT", help="table, json or csv."),
) -> None:
    """The zoo with its published facts: year, parameters, MACs, top-1 accuracy, sources."""
    from onnxprof.cli.options import check_format
    from onnxprof.report.zoo_table import zoo_rows

    check_format(fmt)
    rows = zoo_rows(with_counts=counts)
    if fmt == "table":
        from onnxprof.report.console import make_console

        from onnxprof.report.zoo_table import render_zoo

        render_zoo(rows, make_console(), with_counts=counts)
        return
    from onnxprof.report.zoo_table import zoo_csv, zoo_json

    typer.echo(zoo_json(rows) if fmt == "json" else zoo_csv(rows), nl=False)


@zoo_app.command("export")
def export_command(
    names: Optional[List[str]] = typer.Argument(None, metavar="NAME...", help="Network names (see `onnxprof zoo list`)."),
    all_networks: bool = typer.Option(False, "--all", help="Export every network."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE",
                                          help="File to write (one network only; missing folders are created)."),
    batch: Optional[str] = typer.Option(None, "--batch", "-b", metavar="SIZE",
                                        help="Fix the batch size (default: dynamic N)."),
    fold_bn: bool = typer.Option(False, "--fold-bn", help="Fold BatchNorm into the convolutions, as PyTorch exports do."),
    force: bool = typer.Option(False, "--force", help="Rebuild even when a cached file exists."),
) -> None:
    """Write networks as .onnx files (cached; large ones with external weight data)."""
    from rich.progress import Progress

    from onnxprof.cli.options import parse_batch, prepare_output, writing
    from onnxprof.report.console import make_console

    from onnxprof.zoo import network_names, resolve
    from onnxprof.zoo.export import export

    if all_networks == bool(names):
        raise UsageError("name the networks to export, or pass --all (not both)")
    chosen = network_names() if all_networks else [resolve(n) for n in names]
    if output is not None and len(chosen) != 1:
        raise UsageError("--output takes one network; without it files go to the zoo cache")
    size = parse_batch(batch)
    if output is not None:
        prepare_output(output)
    console = make_console(stderr=True)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("exporting", total=len(chosen))
        for name in chosen:
            progress.update(task, description=f"exporting {name}")
            if output is None:
                result = export(name, output, batch=size or "N", fold_bn=fold_bn, force=force)
            else:
                with writing(output):
                    result = export(name, output, batch=size or "N", fold_bn=fold_bn, force=force)
            state = "cached" if result.cached else "written"
            extra = f" + {result.path.name}.data" if result.external_data else ""
            console.print(f"{name}: {result.path}{extra} ({result.weight_bytes / 1e6:,.1f} MB of weights, {state})")
            progress.advance(task)
