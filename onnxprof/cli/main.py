"""Entry point: the typer app, and the one place user errors become a line on stderr.

Every command's help shows readable metavars (FILE, N, SECONDS ... never typer's ``<int range>``) and
every option has help text (a test holds this over all registered commands). Commands that only read
the results database refuse a --db file that does not exist (``READING``); the others create it.
"""

from __future__ import annotations

import functools
from typing import Callable, Mapping

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

from onnxprof.cli import analyze, compare, measure, ops, predict, report
from onnxprof.cli.results import results_app
from onnxprof.cli.meters import meters_app
from onnxprof.cli.zoo import zoo_app

# commands that only read the results database: a --db that names no file is an error, not a new database
READING = {"compare", "predict", "select", "results list", "results show", "results export", "report figures",
           "report findings", "report html"}
_METAVARS = {int: "N", float: "NUMBER", str: "TEXT"}


def _readable(params) -> None:
    """Readable metavars where a command gave none: nothing for flags, N / NUMBER / TEXT / PATH for
    values (typer's own are ``<bool>``, ``<int range>``); no type column for arguments."""
    from pathlib import Path

    for param in params:
        if isinstance(param, TyperArgument):
            param.display_type_rich = lambda ctx: None
            continue
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
            continue
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        inner = getattr(annotation, "__args__", (annotation,))
        kind = next((t for t in inner if t is not type(None)), annotation)
        param.metavar = "PATH" if isinstance(kind, type) and issubclass(kind, Path) else _METAVARS.get(kind, "VALUE")


class Command(TyperCommand):
    """A command with readable help, and a one-line pointer for flags another tool spells differently
    (``flag_hints``: flag -> what to give onnxprof instead)."""

    flag_hints: Mapping[str, str] = {}

    def get_params(self, ctx):
        params = super().get_params(ctx)
        _readable(params)
        return params

    def parse_args(self, ctx, args):
        for token in args:
            if token == "--":
                break
            flag = token.split("=", 1)[0]
            if flag in self.flag_hints:
                typer.echo(f"onnxprof: error: {flag}: {self.flag_hints[flag]}", err=True)
                ctx.exit(2)
        return super().parse_args(ctx, args)


class MeasureCommand(Command):
    flag_hints = measure.FLAG_HINTS


class Group(TyperGroup):
    def get_params(self, ctx):
        params = super().get_params(ctx)
        _readable(params)
        return params


app = typer.Typer(
    name="onnxprof",
    help="Predict what an ONNX model costs (parameters, operations, memory), then measure it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)


def _reporting_user_errors(command: Callable, reads_store: bool = False) -> Callable:
    """A user's mistake ends the command with one line on stderr and exit code 2, no traceback. So does
    an input that exhausts the stack or memory past the bounds the readers check (docs/robustness.md).
    ``reads_store``: the command only reads the results database, so a --db that names no file is one
    of those mistakes."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        from onnxprof.errors import OnnxprofError

        try:
            if reads_store:
                from onnxprof.cli.options import require_database

                require_database(kwargs.get("db"))
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


def _command(name: str, callback: Callable, cls: type = Command) -> None:
    app.command(name=name, cls=cls)(_reporting_user_errors(callback, name in READING))


_command("analyze", analyze.analyze_command)
_command("ops", ops.ops_command)
_command("measure", measure.measure_command, MeasureCommand)
_command("calibrate", predict.calibrate_command)
_command("predict", predict.predict_command)
_command("compare", compare.compare_command)
_command("select", report.select_command)
for _name, _group in (("zoo", zoo_app), ("results", results_app), ("meters", meters_app), ("report", report.report_app)):
    for _registered in _group.registered_commands:
        _full = f"{_name} {_registered.name or _registered.callback.__name__}"
        _registered.callback = _reporting_user_errors(_registered.callback, _full in READING)
        if _registered.cls in (None, TyperCommand):
            _registered.cls = Command
    app.add_typer(_group, name=_name, cls=Group)


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
