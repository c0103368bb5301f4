"""Entry point: the typer app, and the one place user errors become a line on stderr."""

from __future__ import annotations

import sys

import typer

from onnxprof.cli import analyze

app = typer.Typer(
    name="onnxprof",
    help="Predict what an ONNX model costs (parameters, operations, memory), then measure it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="analyze")(analyze.analyze_command)


def _print_version(value: bool) -> None:
    if value:
        from onnxprof import __version__

        typer.echo(f"onnxprof {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Show the version and exit.")) -> None:
    """Predict what an ONNX model costs (parameters, operations, memory), then measure it."""


def main() -> None:
    from onnxprof.errors import OnnxprofError
    from onnxprof.gcpause import cyclic_gc_paused

    try:
        with cyclic_gc_paused():
            app()
    except OnnxprofError as exc:
        print(f"onnxprof: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
