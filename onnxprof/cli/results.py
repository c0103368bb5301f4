"""``onnxprof results list|show|export|import-trtexec``: the runs kept in the results database.

A run is complete, interrupted (Ctrl-C; its finished batches kept) or unfinished (it never wrote its
end: killed, or still running); ``list`` and ``show`` say which, ``export`` writes it as ``status``.
A run whose stored rows are damaged is listed as such; ``show`` and ``export`` leave it out with one
line on stderr naming it, and exit with code 2 when it was a run the user named.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from onnxprof.errors import OnnxprofError, UsageError

results_app = typer.Typer(help="The results database: list, show and export stored runs; import trtexec's.",
                          no_args_is_help=True)

DbOption = typer.Option(None, "--db", metavar="PATH|URL",
                        help="A SQLite file or a database URL (postgresql://...). Default: $ONNXPROF_DB, else "
                             "results.sqlite in $XDG_DATA_HOME/onnxprof (~/.local/share/onnxprof).")
EXPORT_FORMATS = ("json", "csv")
EXPORT_HINT = "a wider terminal or `onnxprof results export`"   # shows what a narrow table left out


def _open(db: Optional[str]):
    from onnxprof.store.db import Store

    return Store(db)


def _store_errors():
    """The errors of one run that ``show`` and ``export`` report and go past (others end the command)."""
    from onnxprof.store.db import DamagedRun, MissingRun

    return DamagedRun, MissingRun


def _ms(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:,.3f}"


def _bytes(value: Optional[int]) -> str:
    from onnxprof.report.units import megabytes

    return "–" if value is None else megabytes(value)


def _engine_text(engine: str, provider: str) -> str:
    return f"{engine}/{provider}" if provider else engine


def _status_words(status: str) -> str:
    """What a run's date is followed by: nothing for a complete run."""
    from onnxprof.measure.records import COMPLETE, UNFINISHED

    if status == UNFINISHED:
        return "unfinished: killed or still running"
    return "" if status == COMPLETE else status


def _complain(problem: OnnxprofError, severity: str = "error") -> None:
    typer.echo(f"onnxprof: {severity}: {problem}", err=True)


@results_app.command("list")
def list_command(db: Optional[str] = DbOption) -> None:
    """Every stored run: id, date, model, engine, precision, batch sizes, host."""
    from rich.text import Text

    from onnxprof.report.console import make_console
    from onnxprof.report.fit import BELOW, NAME, NAMES, Column, FitTable

    with _open(db) as store:
        summaries = store.list_runs()
        shown = store.shown
    console = make_console()
    if not summaries:
        console.print(f"No runs in {shown} yet: `onnxprof measure` or `onnxprof results import-trtexec` adds them.")
        return
    # a run's state (damaged, unfinished) is listed under a narrow table; the model name goes above its row
    table = FitTable(f"Runs in {shown}", [Column("id", key=True), Column("date", NAME),
                                          Column("", NAMES, 3, leaves=BELOW), Column("model", NAME, key=True),
                                          Column("engine", NAME, 1), Column("precision", NAME, 1),
                                          Column("batches", NAMES), Column("host", NAME, 2)],
                     label=lambda cells: f"run {cells[0]}", hint=EXPORT_HINT)
    for run in summaries:
        sizes = ", ".join(str(size) for size in run.batch_sizes) or "–"
        if run.failed_batches:
            sizes += f" ({run.failed_batches} not ok)"
        words = "damaged" if run.damage else _status_words(run.status)
        table.add_row(str(run.id), run.started_at[:19].replace("T", " "), f"({words})" if words else "",
                      run.model_source, _engine_text(run.engine, run.provider), run.precision, sizes,
                      run.hostname or "?")
    console.print(table)
    for run in summaries:
        if run.damage:
            console.print(Text(f"run {run.id} is damaged: {run.damage}", style="yellow"), highlight=False)


@results_app.command("show")
def show_command(ids: List[int] = typer.Argument(..., help="Run ids (see `onnxprof results list`)."),
                 db: Optional[str] = DbOption) -> None:
    """A table per run: latency statistics, throughput and memory of each batch size (rates from the median)."""
    from rich.text import Text

    from onnxprof.report.console import make_console
    from onnxprof.report.fit import NAME, NOTE, Column, FitTable
    from onnxprof.report.units import latency_ms, per_image_ms, per_second, rate

    console = make_console()
    unreadable = False
    with _open(db) as store:
        for run_id in ids:
            try:
                record = store.get_run(run_id)
                provenance = store.trtexec_provenance(run_id)
            except _store_errors() as problem:    # say so, show the others
                _complain(problem)
                unreadable = True
                continue
            engine = _engine_text(record.engine.engine, record.engine.provider)
            title = (f"Run {run_id}: {record.model_source} · {engine} · {record.engine.precision} · "
                     f"{record.host.hostname or '?'} · {record.started_at[:19].replace('T', ' ')}"
                     + (f" · {_status_words(record.status)}" if _status_words(record.status) else ""))
            device = any(b.device_latency is not None for b in record.batches)
            # per image and throughput from the median (the device's where there is one), as measure prints them
            table = FitTable(title, [Column("batch", key=True), Column("status", NAME),
                                     Column("median ms"), Column("mean ms", priority=3, leaves=NOTE),
                                     Column("p90 ms", priority=2),
                                     Column("p99 ms", priority=2),
                                     *((Column("device median ms", priority=1),) if device else ()),
                                     Column("per image ms", priority=1),
                                     Column((record.static or {}).get("throughput_unit", "images/s")),
                                     Column("peak RSS", priority=1)], hint=EXPORT_HINT)
            for b in record.batches:
                stats = b.latency
                median = latency_ms(b)
                row = [str(b.batch), b.status,
                       *(_ms(None if stats is None else getattr(stats, name))
                         for name in ("median_ms", "mean_ms", "p90_ms", "p99_ms"))]
                if device:
                    row.append(_ms(None if b.device_latency is None else b.device_latency.median_ms))
                row += [_ms(per_image_ms(b.batch, median)),
                        "–" if median is None else rate(per_second(b.batch, median)),
                        _bytes(None if b.memory is None else b.memory.peak_rss_bytes)]
                table.add_row(*row)
            console.print(table)
            for b in record.batches:      # free text under the table, where it may wrap
                if b.error:
                    console.print(Text(f"  batch {b.batch} {b.status}: {b.error}", style="yellow"))
            noisy = [str(b.batch) for b in record.batches if b.latency is not None and b.latency.noisy]
            if noisy:
                console.print(f"Noisy timings (coefficient of variation above 2.5 %) at batch {', '.join(noisy)}.")
            if provenance is not None and provenance.layers:
                console.print(_layer_table(provenance))
    if unreadable:
        raise typer.Exit(2)


def _layer_table(provenance):
    from onnxprof.report.fit import NAME, NOTE, Column, FitTable

    top = sorted(provenance.layers, key=lambda layer: layer.time_ms, reverse=True)[:10]
    table = FitTable(f"trtexec profile: top {len(top)} of {len(provenance.layers)} layers "
                     f"({provenance.profile_iterations} iterations)",
                     [Column("layer", NAME, key=True), Column("average ms", priority=2), Column("median ms"),
                      Column("share", priority=1, leaves=NOTE)], hint=EXPORT_HINT)
    for layer in top:
        table.add_row(layer.name, _ms(layer.average_ms), _ms(layer.median_ms),
                      "–" if layer.percentage is None else f"{layer.percentage:.1f} %")
    return table


@results_app.command("export")
def export_command(ids: Optional[List[int]] = typer.Argument(None, help="Run ids (default: every run)."),
                   fmt: str = typer.Option("json", "--format", "-f", help="json or csv (one row per batch)."),
                   output: Optional[Path] = typer.Option(None, "--output", "-o", help="File to write (default: stdout)."),
                   db: Optional[str] = DbOption) -> None:
    """Stored runs as a versioned JSON document or as CSV."""
    from onnxprof.store.export import results_csv, results_json

    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format {fmt!r}: choose json or csv")
    with _open(db) as store:
        runs, unreadable = _readable_runs(store, ids or ())
    text = results_json(runs) if fmt == "json" else results_csv(runs)
    if output is None:
        typer.echo(text, nl=False)
    else:
        from onnxprof.cli.options import write_text

        write_text(output, text)
    if unreadable and ids:
        raise typer.Exit(2)


def _readable_runs(store, ids: List[int]) -> tuple[list[dict], bool]:
    """The runs that can be read, and whether any could not: each of those is one line on stderr (an
    error for a run the user named, a warning for one left out of "every run")."""
    runs, unreadable = [], False
    for run_id in ids or store.run_ids(unfinished=True):
        try:
            runs.append(store.export_run(run_id))
        except _store_errors() as problem:
            _complain(problem, "error" if ids else "warning: left out")
            unreadable = True
    return runs, unreadable


@results_app.command("import-trtexec")
def import_trtexec_command(
    model: str = typer.Option(..., "--model", "-m", help="The .onnx model trtexec ran."),
    times: str = typer.Option(..., "--times", help="The file trtexec wrote with --exportTimes."),
    profile: Optional[str] = typer.Option(None, "--profile", help="The file trtexec wrote with --exportProfile."),
    batch: int = typer.Option(1, "--batch", "-b", min=1, help="The batch size trtexec ran (its files do not say)."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, fp16 or int8, as built by trtexec."),
    host: str = typer.Option("", "--host", help="Name of the machine trtexec ran on."),
    db: Optional[str] = DbOption,
) -> None:
    """Store a trtexec run (--exportTimes, optionally --exportProfile) as a run of engine 'tensorrt (trtexec)'."""
    from onnxprof.store.trtexec import import_trtexec

    if precision not in ("fp32", "fp16", "int8", "best"):
        raise UsageError(f"--precision {precision!r}: choose fp32, fp16, int8 or best")
    imported = import_trtexec(model, times, profile, batch=batch, precision=precision, hostname=host)
    with _open(db) as store:
        run_id = store.save_trtexec(imported)
    stats = imported.record.batches[0].latency
    typer.echo(f"stored run {run_id}: {imported.provenance.queries} queries at batch {batch}, "
               f"median {stats.median_ms:.3f} ms, {len(imported.provenance.layers)} profiled layers")


@results_app.command("delete")
def delete_command(ids: List[int] = typer.Argument(..., help="Run ids (see `onnxprof results list`)."),
                   db: Optional[str] = DbOption) -> None:
    """Delete stored runs with their batches and layer profiles. Asks nothing; prints each run deleted.
    An id that is not stored is one line and exit code 2, and nothing is deleted."""
    with _open(db) as store:
        deleted = store.delete_runs(ids)       # MissingRun: one line, exit code 2
    for run in deleted:
        sizes = ", ".join(str(size) for size in run.batch_sizes) or "no batches"
        typer.echo(f"deleted run {run.id}: {run.model_source} · {_engine_text(run.engine, run.provider)} · "
                   f"{run.precision} · {run.hostname or '?'} · {run.started_at[:19].replace('T', ' ')} · "
                   f"batch {sizes}" + (f" · {run.status}" if run.status != "complete" else ""))
