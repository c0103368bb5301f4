"""``onnxprof report figures|findings|html`` and ``onnxprof select``: the paper's analysis of the runs
in the results database."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from onnxprof.cli.options import (DB_HELP, FormatOption, check_format, output_folder, parse_batch, prepare_output,
                                  writing)
from onnxprof.errors import UsageError

report_app = typer.Typer(help="The paper's analysis of stored runs: figures, findings, an HTML report.",
                         no_args_is_help=True)

DbOption = typer.Option(None, "--db", metavar="PATH|URL", help=DB_HELP + " It must exist: these commands only read it.")
EngineFilter = typer.Option(None, "--engine", "-e", metavar="ENGINE", help="Only runs with this engine.")
ProviderFilter = typer.Option(None, "--provider", "-p", metavar="PROVIDER", help="Only runs with this provider.")
HostFilter = typer.Option(None, "--host", metavar="HOST", help="Only runs measured on this host.")
RunChoice = typer.Option(None, "--run", metavar="ID[,ID...]",
                         help="Use these runs for their models (see `onnxprof results list`); by default each model's "
                              "most complete finished run.")
FIGURE_FORMATS = ("png", "svg")


def stored_points(db: Optional[str], engine: Optional[str], provider: Optional[str], host: Optional[str],
                  runs: Optional[str] = None) -> list:
    """One run of each model (filtered; the most complete finished one unless ``runs`` names it) as points;
    a clear error when there is nothing to analyse."""
    from onnxprof.cli.measure import open_store
    from onnxprof.cli.options import parse_run_ids
    from onnxprof.report.dataset import load_points

    with open_store(db, reading=True) as store:
        points = load_points(store, engine=engine, provider=provider, host=host, pinned=parse_run_ids(runs))
        shown = store.shown
    if not points:
        raise UsageError(f"no runs to analyse in {shown}" + (" with those filters" if engine or provider or host else "")
                         + ": measure models first, e.g. `onnxprof measure zoo:resnet18 --batch 1,2,4,8` or "
                           "`python scripts/reproduce_paper.py --quick`")
    return points


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [f for f in chosen if f not in FIGURE_FORMATS]
    if bad or not chosen:
        raise UsageError(f"--format {text!r}: choose png, svg or png,svg")
    return chosen


@report_app.command("figures")
def figures_command(
    output: Path = typer.Option(Path("figures"), "--output", "-o", metavar="FOLDER",
                                help="Folder for the figure files (created when missing)."),
    formats: str = typer.Option("png,svg", "--format", "-f", metavar="FORMATS", help="png, svg or png,svg."),
    predicted: bool = typer.Option(True, "--predicted/--measured-only", help="Draw predicted series beside measured."),
    db: Optional[str] = DbOption, engine: Optional[str] = EngineFilter, provider: Optional[str] = ProviderFilter,
    host: Optional[str] = HostFilter,
    runs: Optional[str] = RunChoice,
) -> None:
    """Draw the paper's figures 1–10 from the stored runs."""
    from onnxprof.report.console import make_console
    from onnxprof.report.figures import draw_all
    from onnxprof.report.fit import NAMES, NUMBER, TEXT, Column, FitTable

    chosen = _formats(formats)
    points = stored_points(db, engine, provider, host, runs)
    with output_folder(output):
        results = draw_all(points, output, chosen, predicted=predicted)
    # file names are what a user opens next: never cut; the notes wrap, then move below the table
    table = FitTable(f"Figures in {output}", [Column("figure", NUMBER, key=True), Column("title", TEXT, priority=1),
                                              Column("files", NAMES), Column("notes", TEXT, priority=2, leaves="below")])
    for r in results:
        table.add_row(str(r.number), r.title, " ".join(p.name for p in r.paths), "; ".join(r.notes) or "-")
    make_console().print(table)


@report_app.command("findings")
def findings_command(
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE",
                                          help="Also write the table as Markdown here (missing folders are created)."),
    db: Optional[str] = DbOption, engine: Optional[str] = EngineFilter, provider: Optional[str] = ProviderFilter,
    host: Optional[str] = HostFilter,
    runs: Optional[str] = RunChoice,
    fmt: str = FormatOption,
) -> None:
    """Check the paper's four findings on the stored runs, next to the paper's TX1 figures."""
    from onnxprof.report.console import make_console
    from onnxprof.report.findings import check_findings, findings_markdown, findings_table
    from onnxprof.report.paper_data import findings_csv, findings_json

    check_format(fmt)
    if output is not None:
        prepare_output(output)
    findings = check_findings(stored_points(db, engine, provider, host, runs))
    if fmt == "table":
        make_console().print(findings_table(findings))
    else:
        typer.echo(findings_json(findings) if fmt == "json" else findings_csv(findings), nl=False)
    if output is not None:
        with writing(output):
            output.write_text(findings_markdown(findings))


def constraints_of(min_fps: Optional[float], max_power: Optional[float], max_energy: Optional[float],
                   max_memory: Optional[float], batch: Optional[str]):
    from onnxprof.report.selection import Constraints

    return Constraints(min_fps=min_fps, max_power_w=max_power, max_energy_j=max_energy, max_memory_mb=max_memory,
                       batch=parse_batch(batch))


MinFps = typer.Option(None, "--min-fps", min=0.0, metavar="FPS", help="Frames (images) per second, at least.")
MaxPower = typer.Option(None, "--max-power", min=0.0, metavar="WATTS", help="Net power (W above idle), at most.")
MaxEnergy = typer.Option(None, "--max-energy", min=0.0, metavar="JOULES", help="Net energy per image (J), at most.")
MaxMemory = typer.Option(None, "--max-memory", min=0.0, metavar="MB", help="Memory in use (MB), at most.")
BatchLimit = typer.Option(None, "--batch", "-b", metavar="SIZE", help="Judge at this batch size (default: each model's best).")


@report_app.command("html")
def html_command(
    output: Path = typer.Option(Path("report.html"), "--output", "-o", metavar="FILE",
                                help="The HTML file to write (missing folders are created)."),
    title: str = typer.Option("onnxprof report", "--title", metavar="TEXT", help="The report's title."),
    min_fps: Optional[float] = MinFps, max_power: Optional[float] = MaxPower, max_energy: Optional[float] = MaxEnergy,
    max_memory: Optional[float] = MaxMemory, batch: Optional[str] = BatchLimit,
    db: Optional[str] = DbOption, engine: Optional[str] = EngineFilter, provider: Optional[str] = ProviderFilter,
    host: Optional[str] = HostFilter,
    runs: Optional[str] = RunChoice,
) -> None:
    """One self-contained HTML file: device, per-model table, predicted vs measured, findings, selection,
    figures (embedded; it opens with no network)."""
    from onnxprof.report.html import write_html

    limits = (min_fps, max_power, max_energy, max_memory)
    constraints = constraints_of(*limits, batch) if any(v is not None for v in limits) else None
    prepare_output(output)
    points = stored_points(db, engine, provider, host, runs)
    with writing(output):
        write_html(points, output, title=title, constraints=constraints)
    typer.echo(f"report written to {output}")


def select_command(
    min_fps: Optional[float] = MinFps, max_power: Optional[float] = MaxPower, max_energy: Optional[float] = MaxEnergy,
    max_memory: Optional[float] = MaxMemory, batch: Optional[str] = BatchLimit,
    db: Optional[str] = DbOption, engine: Optional[str] = EngineFilter, provider: Optional[str] = ProviderFilter,
    host: Optional[str] = HostFilter,
    runs: Optional[str] = RunChoice,
    fmt: str = FormatOption,
) -> None:
    """The models that meet frame-rate, power, energy and memory limits, ranked by accuracy, with why
    the others failed."""
    from onnxprof.report.console import make_console
    from onnxprof.report.paper_data import selection_csv, selection_json
    from onnxprof.report.selection import select_models, selection_table

    check_format(fmt)
    limits = (min_fps, max_power, max_energy, max_memory)
    if all(v is None for v in limits):
        raise UsageError("give at least one limit: --min-fps, --max-power, --max-energy or --max-memory")
    selection = select_models(stored_points(db, engine, provider, host, runs), constraints_of(*limits, batch))
    if fmt == "table":
        make_console().print(selection_table(selection))
    else:
        typer.echo(selection_json(selection) if fmt == "json" else selection_csv(selection), nl=False)
    if not selection.chosen:
        raise typer.Exit(1)
