"""FitTable: numbers and names are never cut, whatever the width; what leaves a narrow table says so."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table

from onnxprof.report.fit import BELOW, NAME, NAMES, NOTE, TEXT, Column, FitTable
from onnxprof.report.units import latency_ms, megabytes, per_image_ms, per_second

NAMES_ = ("/layer1/layer1.0/conv1/Conv", "/model/encoder/layer.11/attention/output/dense/MatMul", "x")
NUMBERS = ("115.6\N{NO-BREAK SPACE}M", "231.2\N{NO-BREAK SPACE}M", "36.86\N{NO-BREAK SPACE}K", "131.9")


def layers() -> FitTable:
    table = FitTable("All 3 nodes", [Column("node", NAME, key=True), Column("op", NAME), Column("output shape", NAME, 2),
                                     Column("MACs"), Column("FLOPs", priority=1), Column("params", priority=2),
                                     Column("FLOP/B", priority=3, leaves=NOTE),
                                     Column("remark", TEXT, 4, leaves=BELOW)])
    for name in NAMES_:
        table.add_row(name, "Conv", "1×64×56×56", *NUMBERS, "a long free text remark that wraps between its words")
    return table


def render(renderable, width: int) -> list[str]:
    console = Console(width=width, record=True, markup=False)
    console.print(renderable)
    return console.export_text().splitlines()


@pytest.mark.parametrize("width", [200, 120, 80, 60, 45])
def test_numbers_and_names_are_whole_at_any_width(width):
    lines = render(layers(), width)
    assert all(cell_len(line) <= width for line in lines)
    assert not any("…" in line for line in lines)
    text = "\n".join(lines)
    for value in (*NAMES_[:1], "1×64×56×56", *NUMBERS[:3]):
        assert any(value in line for line in lines), (value, text)
    if width >= 60:
        assert any(NAMES_[1] in line for line in lines), text
    # FLOP/B leaves first, with a note naming it; the remark is listed under the table, row by row
    if "131.9" not in text:
        assert f"Left out to fit {width} columns: FLOP/B" in text.replace("\n", " ")


def test_rich_alone_cuts_what_fit_keeps():
    """The bug this mechanism exists for: rich's table ends cut cells with an ellipsis at 80 columns."""
    plain = Table()
    for header in ("node", "op", "output shape", "MACs", "FLOPs", "params", "FLOP/B"):
        plain.add_column(header)
    for name in NAMES_:
        plain.add_row(name, "Conv", "1×64×56×56", *NUMBERS)
    assert "…" in "\n".join(render(plain, 80))
    assert not any("…" in line for line in render(layers(), 80))


def test_a_wide_table_stacks_the_name_and_lists_text_below():
    lines = render(layers(), 80)
    at = lines.index(NAMES_[1])                           # the long name on a line of its own...
    assert "115.6" in lines[at + 1] and "Conv" in lines[at + 1]   # ...its numbers under it
    assert any(line.startswith("  x: a long free text remark") for line in lines)


def test_wide_console_keeps_one_table_in_one_line_per_row():
    lines = render(layers(), 200)
    row = next(line for line in lines if NAMES_[1] in line)
    assert all(value in row for value in NUMBERS) and "a long free text remark" in row


def test_a_number_column_that_cannot_stay_continues_below_with_the_key():
    table = FitTable("wide", [Column("name", NAME, key=True), *(Column(f"figure {i}", priority=i) for i in range(1, 9))])
    table.add_row("resnet50", *(f"{1000 + i:,}.125" for i in range(1, 9)))
    lines = render(table, 60)
    assert any("wide (continued)" in line for line in lines)
    text = "\n".join(lines)
    assert all(f"{1000 + i:,}.125" in text for i in range(1, 9))
    assert sum("resnet50" in line for line in lines) >= 2       # the key beside the continued columns


def test_names_wrap_between_names_only():
    table = FitTable(None, [Column("kernel", NAME, key=True), Column("nodes", NAMES), Column("ms")])
    table.add_row("k", ", ".join(NAMES_[:1] * 4), "1.000")
    lines = render(table, 50)
    assert sum(NAMES_[0] in line for line in lines) == 4
    assert all(cell_len(line) <= 50 for line in lines)


def test_a_value_wider_than_the_console_folds_never_ellipsis():
    table = FitTable(None, [Column("name", NAME), Column("value")])
    table.add_row("n" * 90, "12.5")
    lines = render(table, 40)
    assert all(cell_len(line) <= 40 for line in lines) and "…" not in "".join(lines)
    assert "".join(line.strip() for line in lines).count("n") == 90 + 1   # + the header's


def test_one_unit_and_one_statistic():
    from onnxprof.measure.records import BatchResult, LatencyStats

    def stats(median, mean):
        return LatencyStats(10, 1.0, median, mean, median, median, median, median, median, 0.0, 0.0, False)

    host_only = BatchResult(8, "ok", latency=stats(10.0, 12.5))
    on_device = BatchResult(8, "ok", latency=stats(10.0, 12.5), device_latency=stats(8.0, 9.0))
    assert latency_ms(host_only) == 10.0 and latency_ms(on_device) == 8.0        # medians, never means
    assert per_second(8, 10.0) == 800.0 and per_image_ms(8, 10.0) == 1.25
    assert per_second(8, None) is None and per_second(8, 0.0) is None
    assert megabytes(307_880_000) == "307.88\N{NO-BREAK SPACE}MB"                  # 10^6 bytes, not 2^20
    assert megabytes(3 * 2**31) == "6,442.45\N{NO-BREAK SPACE}MB"
