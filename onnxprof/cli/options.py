"""Options shared by the commands, defined once, and the one parser or check behind each:

- ``--batch``: :func:`parse_batches` (positive sizes, comma separated, no empty part, no repeat);
  where a command takes one size, the same parser with ``single=True``.
- ``--input``/``--dim``/``--batch``/``--inputs``: the batch a command uses is decided once, by
  :func:`onnxprof.measure.batch.choose_batches` (two flags that disagree are one line, exit 2).
- ``-o``/``--output``: :func:`writing` for a file (missing folders are created; a folder, or a path that
  cannot be written, is one line, exit 2), :func:`output_folder` for a folder of files.
- ``--db``: commands that only read refuse a database file that does not exist (:func:`require_database`,
  applied by the entry point to every reading command); writing commands create it.
- Short options mean one thing everywhere: ``-m`` is ``--model`` (never ``--meter``), ``-b`` ``--batch``,
  ``-i`` ``--input``, ``-d`` ``--dim``, ``-f`` ``--format``, ``-o`` ``--output``, ``-e`` ``--engine``,
  ``-p`` ``--provider``.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional

import typer

from onnxprof.errors import UsageError

InputOption = typer.Option(None, "--input", "-i", metavar="NAME:DIMS",
                           help="Bind an input's whole shape, e.g. images:1x3x224x224 (repeatable); its leading "
                                "dim sets the batch.")
BatchOption = typer.Option(None, "--batch", "-b", metavar="SIZE",
                           help="Bind the leading dynamic dim (the batch) of every input not bound with --input.")
DimOption = typer.Option(None, "--dim", "-d", metavar="NAME=VALUE",
                         help="Bind a named dynamic dim everywhere, e.g. sequence=128 (repeatable); --dim of the "
                              "batch symbol, e.g. N=8, sets the batch.")
FormatOption = typer.Option("table", "--format", "-f", metavar="FORMAT", help="table (rich), json or csv.")
OutputOption = typer.Option(None, "--output", "-o", metavar="FILE",
                            help="Write json/csv to this file instead of stdout (missing folders are created).")
FORMATS = ("table", "json", "csv")
# The power meters' options, shared by `measure` and `meters read`.
VisaResourceOption = typer.Option(None, "--visa-resource", metavar="RESOURCE",
                                  help="VISA resource of the instrument (visa-* meters), e.g. GPIB0::5::INSTR.")
ScopeChannelOption = typer.Option(1, "--scope-channel", min=1, metavar="N",
                                  help="Scope channel with the current probe (visa-scope).")
SupplyVoltageOption = typer.Option(None, "--supply-voltage", metavar="VOLTS",
                                   help="Volts to multiply the scope's current by (visa-scope).")
ReplayOption = typer.Option(None, "--replay", metavar="FILE.csv", help="CSV of time and watts for the replay meter.")

_SIZES = re.compile(r"[1-9]\d*(,[1-9]\d*)*")


def parse_batches(text: str, option: str = "--batch", single: bool = False) -> list[int]:
    """``1,2,4,8`` -> [1, 2, 4, 8]: positive sizes separated by commas, no empty part, no size twice
    (``single``: exactly one size). Every command's --batch goes through here."""
    given = str(text).strip()
    if single:
        if not re.fullmatch(r"[1-9]\d*", given):
            raise UsageError(f"{option} {text!r}: expected one positive size, e.g. 8")
        return [int(given)]
    if not _SIZES.fullmatch(given.replace(" ", "")):
        raise UsageError(f"{option} {text!r}: expected positive sizes separated by commas, e.g. 1,2,4,8")
    sizes = [int(part) for part in given.replace(" ", "").split(",")]
    repeated = sorted({size for size in sizes if sizes.count(size) > 1})
    if repeated:
        raise UsageError(f"{option} {text!r}: {', '.join(map(str, repeated))} given twice; name each size once")
    return sizes


def parse_run_ids(text: Optional[str], option: str = "--run") -> tuple[int, ...]:
    """``3,7`` -> (3, 7): run ids as `onnxprof results list` shows them; () when not given."""
    if text is None:
        return ()
    if not re.fullmatch(r"\s*[1-9]\d*\s*(,\s*[1-9]\d*\s*)*", text):
        raise UsageError(f"{option} {text!r}: expected run ids separated by commas, e.g. 3,7 (see onnxprof results list)")
    return tuple(dict.fromkeys(int(part) for part in text.split(",")))


def parse_batch(text: Optional[str], option: str = "--batch") -> Optional[int]:
    """One batch size (commands that take one), through :func:`parse_batches`."""
    return None if text is None else parse_batches(text, option, single=True)[0]


def parse_dims(dims: Optional[List[str]]) -> dict[str, int]:
    named: dict[str, int] = {}
    for spec in dims or []:
        match = re.fullmatch(r"([A-Za-z_][\w.:]*)=(\d+)", spec)
        if not match:
            raise UsageError(f"--dim {spec!r}: expected NAME=VALUE such as sequence=128")
        if match.group(1) in named and named[match.group(1)] != int(match.group(2)):
            raise UsageError(f"--dim {match.group(1)} is given twice, {named[match.group(1)]} and {match.group(2)}")
        named[match.group(1)] = int(match.group(2))
    return named


def parse_inputs(inputs: Optional[List[str]]) -> dict[str, tuple[int, ...]]:
    """``--input NAME:DIMS`` (repeatable; ``--shapes`` may hold several, comma separated, as trtexec)."""
    from onnxprof.model.shapes import parse_input_spec

    bound: dict[str, tuple[int, ...]] = {}
    for spec in inputs or []:
        name, dims = parse_input_spec(spec)
        if name in bound and bound[name] != dims:
            raise UsageError(f"--input {name} is given twice, with different shapes")
        bound[name] = dims
    return bound


def shape_binding(inputs: Optional[List[str]], batch: Optional[int], dims: Optional[List[str]]):
    """The binding exactly as given (no model at hand; prefer :func:`batch_choice` where there is one)."""
    from onnxprof.model.shapes import ShapeBinding

    return ShapeBinding(inputs=parse_inputs(inputs), batch=batch, dims=parse_dims(dims))


def batch_choice(model, inputs: Optional[List[str]], batch: Optional[str], dims: Optional[List[str]],
                 default: Optional[int] = None):
    """The batch a command uses on ``model`` (a ModelProto, before binding) and the shapes with it."""
    from onnxprof.measure.batch import choose_batches, model_inputs

    size = parse_batch(batch)
    return choose_batches(model_inputs(model), None if size is None else [size], parse_inputs(inputs),
                          parse_dims(dims), default=default, batch_text=batch or "")


# ------------------------------------------------------------------------------------------- output

def prepare_output(path: Path, option: str = "--output") -> None:
    """Check a file path given with -o before anything is computed: missing folders are created; a
    folder or a device in its place is one line (exit 2)."""
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name inside it")
    if path.exists() and not path.is_file():
        raise UsageError(f"{option} {path}: is not a regular file (a device, pipe or socket); give a file name")
    _make_folder(path.parent, option, path)


def _make_folder(folder: Path, option: str, shown: Path) -> None:
    if folder.is_dir():
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"{option} {shown}: {_first_file(folder)} is a file, not a folder") from None
    except OSError as exc:
        raise UsageError(f"{option} {shown}: cannot create the folder {folder} ({exc.strerror or exc})") from None


def _first_file(folder: Path) -> Path:
    """The part of ``folder`` that exists and is not a folder (what stopped mkdir)."""
    for part in (*reversed(folder.parents), folder):
        if part.exists() and not part.is_dir():
            return part
    return folder


@contextmanager
def writing(path: Path, option: str = "--output") -> Iterator[None]:
    """Writing a file given with ``-o``/``--output``: missing folders are created; a folder, a device or a
    path that cannot be written is one line (exit 2), not a traceback. Every command's output goes
    through here."""
    prepare_output(path, option)
    try:
        yield
    except IsADirectoryError:
        raise UsageError(f"{option} {path}: is a folder; give a file name inside it") from None
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None


def write_text(path: Path, text: str, option: str = "--output") -> None:
    with writing(path, option):
        path.write_text(text, encoding="utf-8")


@contextmanager
def output_folder(path: Path, option: str = "--output") -> Iterator[None]:
    """Writing files into a folder given with ``-o``: it is created (with its parents) when missing; a
    file in its place or a folder that cannot be written is one line (exit 2)."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path}: is a file; give a folder for the files")
    _make_folder(path, option, path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: cannot write into this folder")
    try:
        yield
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot write ({exc.strerror or exc})") from None


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return fmt


# ----------------------------------------------------------------------------------------- database

DB_HELP = ("Results database: a SQLite file or postgresql://... (default: $ONNXPROF_DB, else results.sqlite in "
           "the user data folder).")


def explicit_database(db: Optional[str]) -> bool:
    """Whether the user named the database (``--db`` or ``$ONNXPROF_DB``) rather than taking the default."""
    return db is not None or bool(os.environ.get("ONNXPROF_DB"))


def require_database(db: Optional[str]) -> None:
    """For a command that only reads: a named database file that does not exist is one line (exit 2) and
    is not created (a mistyped --db would otherwise read as an empty database). The default file is
    made on first use, by any command."""
    if explicit_database(db):
        from onnxprof.store.db import require_existing

        require_existing(db)
