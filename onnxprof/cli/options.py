"""Options shared by the commands that read a model, defined once."""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from onnxprof.errors import UsageError

InputOption = typer.Option(None, "--input", "-i", metavar="NAME:DIMS",
                           help="Bind an input's shape, e.g. images:1x3x224x224 (repeatable).")
BatchOption = typer.Option(None, "--batch", "-b", min=1, help="Bind the leading dynamic dim of every input.")
DimOption = typer.Option(None, "--dim", "-d", metavar="NAME=VALUE",
                         help="Bind a named dynamic dim everywhere, e.g. sequence=128 (repeatable).")
FormatOption = typer.Option("table", "--format", "-f", help="table (rich), json or csv.")
OutputOption = typer.Option(None, "--output", "-o", help="Write json/csv to this file instead of stdout.")
FORMATS = ("table", "json", "csv")


def shape_binding(inputs: Optional[List[str]], batch: Optional[int], dims: Optional[List[str]]):
    from onnxprof.model.shapes import ShapeBinding, parse_input_spec

    bound_inputs = dict(parse_input_spec(spec) for spec in inputs or [])
    named: dict[str, int] = {}
    for spec in dims or []:
        match = re.fullmatch(r"([A-Za-z_][\w.:]*)=(\d+)", spec)
        if not match:
            raise UsageError(f"--dim {spec!r}: expected NAME=VALUE such as sequence=128")
        named[match.group(1)] = int(match.group(2))
    return ShapeBinding(inputs=bound_inputs, batch=batch, dims=named)


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Writing ``--output``: a file that cannot be written is one line, not a traceback."""
    try:
        yield
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot write ({exc.strerror or exc})") from None


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt
