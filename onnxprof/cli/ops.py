"""``onnxprof ops``: every op onnxprof can cost, with its formula in words."""

from __future__ import annotations

from typing import Optional

import typer

from onnxprof.cli.options import FormatOption, check_format


def ops_command(
    domain: Optional[str] = typer.Option(None, "--domain", metavar="DOMAIN", help="Only this domain (ai.onnx, ai.onnx.ml, com.microsoft ...)."),
    fmt: str = FormatOption,
) -> None:
    """List the registered cost formulas: domain, op, MACs, FLOPs, bytes, exact or estimate."""
    from onnxprof.report.ops_table import COLUMNS, op_rows

    check_format(fmt)
    rows = op_rows(domain)
    if fmt == "json":
        import json

        typer.echo(json.dumps([dict(zip(COLUMNS, row)) for row in rows], indent=1))
    elif fmt == "csv":
        import csv
        import sys

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    else:
        from rich.table import Table

        from onnxprof.report.console import make_console

        table = Table(title=f"{len(rows)} ops with a cost formula", title_justify="left")
        for column in COLUMNS:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        make_console().print(table)
