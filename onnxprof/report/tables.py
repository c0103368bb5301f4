"""The terminal report of ``onnxprof analyze``, drawn with rich."""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from onnxprof.cost.analysis import COUNTED, INVALID, UNKNOWN_SHAPE, NodeReport, StaticReport, walk_nodes
from onnxprof.report.fit import NAME, NOTE, NUMBER, TEXT, Column, FitTable
from onnxprof.report.units import at_unit_symbols, count, megabytes, ratio, shape_text, si, size
from onnxprof.symbolic import growth_key

TOP_LAYERS = 10
MAX_NAMED = 10


def render_analysis(report: StaticReport, console: Console, layers: bool = False) -> None:
    console.print(_header(report))
    console.print(_tensors(report))
    console.print(_summary(report))
    console.print(_op_types(report))
    if layers:
        console.print(_layers(report.nodes, f"All {len(report.nodes)} nodes"))
    else:
        ranked = sorted((n for n in report.nodes if n.status == COUNTED and n.macs),
                        key=lambda n: growth_key(n.macs), reverse=True)[:TOP_LAYERS]
        if ranked:
            console.print(_layers(ranked, f"Top {len(ranked)} layers by MACs (--layers for every node)"))
    for line in _notes(report):
        console.print(line)


def _header(report: StaticReport) -> Panel:
    m = report.model
    opsets = ", ".join(f"{d} {v}" for d, v in m.opsets.items())
    # Styled as Text, never markup: a model or graph name may hold brackets, and consoles read no markup.
    text = Text.assemble((m.source, "bold"), "  graph ", (m.graph_name or "-", "cyan"), f"  {m.nodes} nodes\n",
                         f"IR {m.ir_version} · opsets {opsets} · producer {m.producer or '-'}")
    if m.file_bytes:
        extra = f" + {megabytes(m.external_bytes)} external data" if m.external_bytes else ""
        text.append(f"\nfile {megabytes(m.file_bytes)}{extra}")
    return Panel(text, title="onnxprof analyze", expand=False)


def _tensors(report: StaticReport) -> FitTable:
    table = FitTable("Inputs and outputs", [Column("", NAME), Column("name", NAME, key=True), Column("dtype", NAME, 1),
                                            Column("shape", NAME), Column("size", NUMBER, 2)])
    for role, tensors in (("input", report.inputs), ("output", report.outputs)):
        for t in tensors:
            table.add_row(role, t.name, t.dtype, shape_text(t.shape), size(t.size_bytes))
    return table


def _summary(report: StaticReport) -> FitTable:
    p, mem, totals = report.parameters, report.memory, report.totals
    table = FitTable("Summary", [Column("", NAME, key=True, style="bold"), Column("", NUMBER),
                                 Column("", TEXT, style="dim")], show_header=False)
    dtypes = ", ".join(f"{d.dtype} {si(d.elements)}" for d in p.by_dtype)
    table.add_row("Parameters", si(p.elements), f"{p.elements:,} in {p.tensors} tensors ({dtypes or 'none'})")
    table.add_row("MACs", count(totals.macs), "multiply-accumulates (the paper's operations)"
                  + _dtype_split(totals.macs_by_dtype))
    table.add_row("FLOPs", count(totals.flops), "all arithmetic: 2 × MACs + the rest")
    table.add_row("Weights", megabytes(mem.weight_bytes), f"parameters {megabytes(p.bytes)}")
    peak_note = f"during {mem.peak_at}" if mem.peak_at else "the inputs alone"
    if mem.unknown_tensors:
        peak_note += f"; {mem.unknown_tensors} tensors of unknown size left out"
    table.add_row("Peak activations", size(mem.peak_activation_bytes), peak_note)
    table.add_row("Bytes moved", size(totals.bytes_moved), "read + written by all nodes")
    intensity = ratio(totals.flops, totals.bytes_moved)
    where = f" (at {', '.join(s + '=1' for s in report.symbols)})" if report.symbols else ""
    table.add_row("Arithmetic intensity", "-" if intensity is None else f"{intensity:.2f}", f"FLOPs per byte{where}")
    facts = report.reference
    if facts is not None and facts.top1 is not None:
        density = facts.top1_per_mparams
        table.add_row("ImageNet top-1", f"{facts.top1:g} %", (f"{density:.2f} % per M parameters; " if density else "")
                      + facts.top1_source.split(";")[0])
    counted = sum(1 for n in report.nodes if n.status == COUNTED)
    status = Text(f"{counted} / {len(report.nodes)}", style="green" if report.complete else "yellow")
    table.add_row("Nodes counted", status, "complete" if report.complete else "totals are lower bounds, see below")
    return table


def _dtype_split(shares) -> str:
    """`` (float16 3.2 G, int8 1.1 G)`` when the arithmetic runs in more than one type."""
    if len(shares) < 2:
        return ""
    return " (" + ", ".join(f"{dtype} {count(value)}" for dtype, value in shares.items()) + ")"


def _op_types(report: StaticReport) -> FitTable:
    table = FitTable("By op type", [Column("op", NAME, key=True), Column("nodes"), Column("MACs"), Column("FLOPs"),
                                    Column("% FLOPs", priority=2, leaves=NOTE), Column("params", priority=1)])
    ranked = sorted(report.op_types, key=lambda o: growth_key(o.flops), reverse=True)
    for o in ranked:
        share = ratio(o.flops, report.totals.flops)
        name = _op_name(o.domain, o.op_type)
        nodes = str(o.count) if o.counted == o.count else f"{o.count} ({o.count - o.counted} uncounted)"
        table.add_row(name, nodes, count(o.macs), count(o.flops), "-" if share is None else f"{share:.1%}",
                      si(o.params) if o.params else "")
    return table


def _layers(nodes: list[NodeReport] | tuple[NodeReport, ...], title: str) -> FitTable:
    # FLOP/B is FLOPs over bytes moved (both in the JSON): the first to leave a narrow console
    table = FitTable(title, [Column("node", NAME, key=True), Column("op", NAME), Column("output shape", NAME, 2),
                             Column("MACs"), Column("FLOPs", priority=1), Column("params", priority=2),
                             Column("FLOP/B", priority=3, leaves=NOTE)])
    for n in nodes:
        shapes = ", ".join(shape_text(s) for s in n.output_shapes)
        if n.status != COUNTED:
            style = "red" if n.status == INVALID else "yellow"
            table.add_row(n.name, n.op_type, shapes, Text(n.status.replace("_", " "), style=style), "",
                          si(n.params) if n.params else "", "")
            continue
        moved = n.bytes_read + n.bytes_written
        intensity = ratio(n.flops, moved)
        table.add_row(n.name, n.op_type, shapes, count(n.macs), count(n.flops), si(n.params) if n.params else "",
                      "" if intensity is None or not at_unit_symbols(moved) else f"{intensity:.1f}")
        for sub in n.subgraphs:   # If branches, Loop/Scan bodies: one execution each
            table.add_row(Text(f"  ↳ {sub.attribute}", style="dim"), "", Text("one run", style="dim"),
                          count(sub.macs), count(sub.flops), "", "")
    return table


def _notes(report: StaticReport) -> list[Text]:
    """The notes under the tables, each a styled Text (names in them are data, never markup)."""
    notes = [Text(f"Warning: {w}", style="yellow") for w in report.warnings]
    if report.invalid_nodes:
        notes.append(_invalid_note(report))
    if report.symbols:
        names = ", ".join(report.symbols)
        notes.append(Text(f"Totals are formulas in {names}; bind them with --batch N, --input NAME:DIMS "
                          f"or --dim NAME=VALUE.", style="dim"))
    if report.uncounted_ops:
        ops = ", ".join(f"{_op_name(u.domain, u.op_type)} ×{u.count}" for u in report.uncounted_ops)
        notes.append(Text(f"No cost formula for: {ops}. These nodes are not in the totals.", style="yellow"))
    downstream = {path for path, n in walk_nodes(report.nodes) if n.status == UNKNOWN_SHAPE and n.reason} \
        if report.invalid_nodes else set()
    unresolved = [name for name in report.unknown_shape_nodes if name not in downstream]
    if unresolved:
        notes.append(Text(f"Shapes unknown, not counted: {_named(unresolved)}. "
                          "Binding the inputs' dynamic dims (--input, --dim) may resolve them.", style="yellow"))
    if downstream:
        names = [name for name in report.unknown_shape_nodes if name in downstream]
        notes.append(Text(f"Shapes derive from invalid nodes, not counted: {_named(names)}.", style="yellow"))
    return notes


def _op_name(domain: str, op_type: str) -> str:
    return op_type if domain == "ai.onnx" else f"{domain}::{op_type}"


def _named(names: list[str]) -> str:
    more = len(names) - MAX_NAMED
    return ", ".join(names[:MAX_NAMED]) + (f" and {more} more" if more > 0 else "")


def _invalid_note(report: StaticReport) -> Text:
    """Each invalid node with its reason: the model cannot run as written, and nothing is counted for them."""
    shown = report.invalid_nodes[:MAX_NAMED]
    lines = [f"  {n.name} ({_op_name(n.domain, n.op_type)}): {n.reason}" for n in shown]
    more = len(report.invalid_nodes) - len(shown)
    if more > 0:
        lines.append(f"  and {more} more")
    return Text(f"Invalid nodes, not counted ({len(report.invalid_nodes)}): they contradict their op's definition, "
                "so the model cannot run as written.\n" + "\n".join(lines), style="red")
