"""Entry point: the typer app, and the one place user errors become a line on stderr.

Every command's help shows readable metavars (FILE, N, SECONDS ... never typer's ``<int range>``) and
every option has help text (a test holds this over all registered commands). Commands that only read
the results database refuse a --db file that does not exist (``READING``); the others create it.

A command's module is imported when that command runs or shows its help, never at start-up: a user who
runs ``analyze`` in a loop does not pay for what ``measure``, ``calibrate`` or ``report`` import.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import MutableMapping
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Callable, Mapping

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

# name -> (module, attribute): a command function, or the typer app of a group of commands; in the
# order `onnxprof --help` lists them
COMMANDS = {
    "analyze": ("onnxprof.cli.analyze", "analyze_command"),
    "ops": ("onnxprof.cli.ops", "ops_command"),
    "measure": ("onnxprof.cli.measure", "measure_command"),
    "calibrate": ("onnxprof.cli.predict", "calibrate_command"),
    "predict": ("onnxprof.cli.predict", "predict_command"),
    "compare": ("onnxprof.cli.compare", "compare_command"),
    "select": ("onnxprof.cli.report", "select_command"),
    "zoo": ("onnxprof.cli.zoo", "zoo_app"),
    "results": ("onnxprof.cli.results", "results_app"),
    "meters": ("onnxprof.cli.meters", "meters_app"),
    "report": ("onnxprof.cli.report", "report_app"),
}
# commands that only read the results database: a --db that names no file is an error, not a new database
READING = {"compare", "predict", "select", "results list", "results show", "results export", "report figures",
           "report findings", "report html"}
_METAVARS = {int: "N", float: "NUMBER", str: "TEXT"}


def _readable(params) -> None:
    """Readable metavars where a command gave none: nothing for flags, N / NUMBER / TEXT / PATH for
    values (typer's own are ``<bool>``, ``<int range>``); no type column for arguments."""
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


def _plain_values(params) -> None:
    """Text, paths and flags without typer's pydantic validators. typer checks each value with a
    validator it builds on first use, which imports pydantic: a tenth of a second at every start, where
    a str is taken as str() takes it, a path as Path() and a flag is already a bool. Any other value, and
    every other type (numbers, choices, parsers), goes through typer's own validator."""
    if _PlainValue is None:
        return
    for param in params:
        descriptor = getattr(param, "type_descriptor", None)
        if descriptor is None or getattr(param, "_runtime_param", False) is not None:
            continue
        if descriptor.file_annotation is None and _plain_kind(descriptor) is not None:
            param._runtime_param = _PlainValue(descriptor.parameter_info, descriptor.annotation, descriptor)


def _plain_kind(descriptor):
    """str or Path (or a list of either), or bool, when ``descriptor`` has no parser or path type."""
    info, annotation = descriptor.parameter_info, descriptor.annotation
    kind = annotation.__args__[0] if getattr(annotation, "__origin__", None) is list else annotation
    if info.parser is None and info.path_type is None and (kind in (str, Path) or annotation is bool):
        return kind
    return None


try:        # typer versions that validate values with pydantic
    from typer._coercion import RuntimeParam, build_runtime_param
    from typer._param_types import coerce_cli_path
except ImportError:
    _PlainValue = None
else:
    @dataclass(frozen=True)
    class _PlainValue(RuntimeParam):
        descriptor: object = None

        def _coerce_value(self, value, param, ctx):
            kind = _plain_kind(self.descriptor)
            if kind is not self.annotation:             # a list of them
                items = value if isinstance(value, (list, tuple)) else [value]
                return [self._one(kind, item, param, ctx) for item in items]
            return self._one(kind, value, param, ctx)

        def _one(self, kind, value, param, ctx):
            if kind is str:
                return str(value)
            if kind is Path:        # typer's checks of a path (exists, file, folder ...) still apply
                return coerce_cli_path(Path(value), self.parameter_info, path_type=Path, param=param, ctx=ctx)
            if isinstance(value, bool):
                return value
            return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


class Command(TyperCommand):
    """A command with readable help, and a one-line pointer for flags another tool spells differently
    (``flag_hints``: flag -> what to give onnxprof instead)."""

    flag_hints: Mapping[str, str] = {}

    def get_params(self, ctx):
        params = super().get_params(ctx)
        _readable(params)
        _plain_values(params)
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
    @property
    def flag_hints(self) -> Mapping[str, str]:
        from onnxprof.cli.measure import FLAG_HINTS

        return FLAG_HINTS


class Group(TyperGroup):
    def get_params(self, ctx):
        params = super().get_params(ctx)
        _readable(params)
        _plain_values(params)
        return params


class _Commands(MutableMapping):
    """The root's commands by name (``COMMANDS``), each built, its module imported, when first looked up."""

    def __init__(self, added: Mapping) -> None:
        self._built = dict(added)

    def __getitem__(self, name: str):
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _build(name)
        return self._built[name]

    def __contains__(self, name) -> bool:
        return name in COMMANDS or name in self._built

    def __iter__(self):
        return iter([*COMMANDS, *(name for name in self._built if name not in COMMANDS)])

    def __len__(self) -> int:
        return len(COMMANDS.keys() | self._built.keys())

    def __setitem__(self, name: str, command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        raise TypeError("onnxprof's commands are fixed")


class RootGroup(Group):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.commands = _Commands(self.commands)


def _build(name: str):
    """The click command (or group) ``name``, made by typer from its module's function (or app)."""
    module, attribute = COMMANDS[name]
    target = getattr(import_module(module), attribute)
    holder = typer.Typer(add_completion=False)
    if isinstance(target, typer.Typer):
        _prepare_group(name, target)
        holder.add_typer(target, name=name, cls=Group)
        return typer.main.get_command(holder).commands[name]
    cls = MeasureCommand if name == "measure" else Command
    holder.command(name=name, cls=cls)(_reporting_user_errors(target, name in READING))
    return typer.main.get_command(holder)


_PREPARED: "weakref.WeakSet[typer.Typer]" = weakref.WeakSet()


def _prepare_group(name: str, group: typer.Typer) -> None:
    """Once per group's app: its commands report user errors in one line and have readable help."""
    if group in _PREPARED:
        return
    _PREPARED.add(group)
    for registered in group.registered_commands:
        full = f"{name} {registered.name or registered.callback.__name__}"
        registered.callback = _reporting_user_errors(registered.callback, full in READING)
        if registered.cls in (None, TyperCommand):
            registered.cls = Command


app = typer.Typer(
    name="onnxprof",
    help="Predict what an ONNX model costs (parameters, operations, memory), then measure it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=RootGroup,
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
    import gc

    from onnxprof.gcpause import cyclic_gc_paused

    try:
        with cyclic_gc_paused():
            app()
    finally:
        # The process ends here. Python's shutdown runs the cyclic collector over every object still
        # alive (a third of a second after analyze, more than the analysis of a small model); frozen
        # objects are left to the exit. Objects outside cycles are still freed as they were.
        gc.freeze()
