"""Entry point: the typer app, and the one place user errors become a line on stderr."""

from __future__ import annotations

import functools
from typing import Callable

import typer

from onnxprof.cli import analyze, compare, measure, ops, predict, report
from onnxprof.cli.results import results_app
from onnxprof.cli.meters import meters_app
from onnxprof.cli.zoo import zoo_app

app = typer.Typer(
    name="onnxprof",
    help="Predict what an ONNX model costs (parameters, operations, memory), then measure it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _reporting_user_errors(command: Callable) -> Callable:
    """A user's mistake ends the command with one line on stderr and exit code 2, no traceback. So does
    an input that exhausts the stack or memory past the bounds the readers check (docs/robustness.md)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        from onnxprof.errors import OnnxprofError

        try:
            return command(*args, **kwargs)
        except OnnxprofError as exc:
            typer.echo(f"onnxprof: error: {exc}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except RecursionError:
            typer.echo("onnxprof: error: the input is nested too deeply to follow; simplify the model or file",
                       err=True)
            raise typer.Exit(2) from None
        except MemoryError:
            typer.echo("onnxprof: error: ran out of memory on this input; it declares sizes far beyond this "
                       "machine's memory", err=True)
            raise typer.Exit(2) from None

    return run


app.command(name="analyze")(_reporting_user_errors(analyze.analyze_command))
app.command(name="ops")(_reporting_user_errors(ops.ops_command))
app.command(name="measure")(_reporting_user_errors(measure.measure_command))
app.command(name="calibrate")(_reporting_user_errors(predict.calibrate_command))
app.command(name="predict")(_reporting_user_errors(predict.predict_command))
app.command(name="compare")(_reporting_user_errors(compare.compare_command))
app.command(name="select")(_reporting_user_errors(report.select_command))
for _name, _group in (("zoo", zoo_app), ("results", results_app), ("meters", meters_app), ("report", report.report_app)):
    for _command in _group.registered_commands:
        _command.callback = _reporting_user_errors(_command.callback)
    app.add_typer(_group, name=_name)


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
    from onnxprof.gcpause import cyclic_gc_paused

    with cyclic_gc_paused():
        app()
