"""Every table of every command at 80 and 200 columns and piped: no number or name is cut.

The check is generated, not hand-listed: every :class:`~onnxprof.report.fit.FitTable` a command renders
is recorded with the width it was given, and each of its number and name cells (each name of a list of
names) must appear whole on one line of the output, unless its column was declared to leave a narrow
console with a note that says so. The names the command's JSON holds (models, nodes, layers) must appear
whole too, no line may pass the width, and no table may end a value with an ellipsis. A rich Table
rendered outside the mechanism fails the test.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import onnx
import pytest
from onnx import helper
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.measure.layers import LayerRow
from onnxprof.report import fit
from onnxprof.report.fit import NAME, NAMES, NOTE, NUMBER, FitTable
from onnxprof.store.db import Store
from tests import synthetic_runs as synth
from tests.builders import make_model, weight
from tests.cost.test_models import resnet_style_model
from tests.store.test_store import make_record
from tests.store.test_trtexec import PROFILE, TIMES

# names as PyTorch's exporter writes them, and one as long as a transformer's
NODE_NAMES = ("/layer1/layer1.0/conv1/Conv", "/layer1/layer1.0/relu/Relu", "/layer1/layer1.0/conv2/Conv",
              "/layer4/layer4.1/downsample/downsample.0/Conv", "/model/encoder/layer.11/attention/output/dense/MatMul")
FAST = ["--duration", "0", "--iterations", "5", "--warmup", "1", "--warmup-time", "0"]
WIDTHS = (80, 200, None)        # None: piped, no COLUMNS (rich's 80)


def long_named_model():
    nodes, inits, x = [], [], "input.1"
    for i, name in enumerate(NODE_NAMES[:4]):
        if name.endswith("Relu"):
            nodes.append(helper.make_node("Relu", [x], [f"t{i}"], name=name))
        else:
            nodes.append(helper.make_node("Conv", [x, f"w{i}"], [f"t{i}"], name=name, pads=[1, 1, 1, 1]))
            inits.append(weight(f"w{i}", [16, 16, 3, 3]))
        x = f"t{i}"
    nodes += [helper.make_node("Flatten", [x], ["flat"], name="/Flatten"),
              helper.make_node("MatMul", ["flat", "fc"], ["logits"], name=NODE_NAMES[4])]
    inits.append(weight("fc", [16 * 8 * 8, 10]))
    return make_model(nodes, [("input.1", ["batch_size", 16, 8, 8])], [("logits", ["batch_size", 10])], inits)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A long-named model, and a database with every kind of run: measured with layers, a failed batch, a
    trtexec import with its profile, synthetic runs for the findings."""
    folder = tmp_path_factory.mktemp("tables")
    model = folder / "resnet50-pytorch-export.onnx"
    onnx.save(long_named_model(), model)
    db = str(folder / "runs.sqlite")
    layers = tuple(LayerRow(f"fused {name}", (name, name.rsplit("/", 1)[0] + "/Relu"), ("Conv", "Relu"), 1.25 * i,
                            0.9 * i, 118013952) for i, name in enumerate(NODE_NAMES, 1))
    with Store(db) as store:
        store.save_run(replace(make_record(), layers=layers, model_source=str(model)))
        synth.fill(store)
    trtexec = folder / "resnet_style.onnx"
    onnx.save(resnet_style_model(), trtexec)
    for args in (["results", "import-trtexec", "--model", str(trtexec), "--times", str(TIMES), "--profile",
                  str(PROFILE), "--batch", "4", "--db", db],
                 ["measure", str(model), "--batch", "2", *FAST, "--profile-layers", "--db", db]):
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 0, done.output
    with Store(db) as store:
        ids = [str(i) for i in store.run_ids()]
    return {"model": str(model), "db": db, "ids": ids}


# each command, and the JSON whose names its table must show whole: (command, json command, names in the JSON)
def _node_names(doc):
    return [n["name"] for n in doc["nodes"]]


def _run_names(doc):
    return [r["model_source"] for r in doc["runs"]] + [layer["name"] for r in doc["runs"]
                                                       for layer in (r.get("trtexec") or {}).get("layers", ())]


COMMANDS = {
    "analyze --layers": (lambda w: ["analyze", w["model"], "--layers", "--batch", "1"],
                         lambda w: ["analyze", w["model"], "--batch", "1", "-f", "json"], _node_names),
    "analyze --device": (lambda w: ["analyze", w["model"], "--batch", "8", "--device", "jetson-tx1"], None, None),
    "zoo list": (lambda w: ["zoo", "list"], lambda w: ["zoo", "list", "-f", "json"],
                 lambda doc: [n["name"] for n in doc["networks"]]),
    "results list": (lambda w: ["results", "list", "--db", w["db"]], lambda w: ["results", "export", "--db", w["db"]],
                     lambda doc: [r["model_source"] for r in doc["runs"]]),
    "results show": (lambda w: ["results", "show", *w["ids"], "--db", w["db"]],
                     lambda w: ["results", "export", "--db", w["db"]], _run_names),
    "compare --layers": (lambda w: ["compare", "--layers", *w["ids"], "--db", w["db"]],
                         lambda w: ["compare", "--layers", *w["ids"], "--db", w["db"], "-f", "json"],
                         lambda doc: [layer["layer"] for layer in doc["layers"]] + [v["model"] for v in doc["values"]]),
    "predict": (lambda w: ["predict", w["model"], "--device", "jetson-tx1", "--batch", "1,8,64", "--db", w["db"]],
                None, None),
    "measure": (lambda w: ["measure", w["model"], "--batch", "2", *FAST, "--profile-layers", "--no-save"],
                None, None),
}
COMMANDS["report findings"] = (lambda w: ["report", "findings", "--db", w["db"]], None, None)
CASES = list(COMMANDS)


@pytest.fixture
def rendered(monkeypatch):
    """Every FitTable rendered, with its width; every rich Table rendered outside a FitTable."""
    seen, stray = [], []
    render_fit, render_table = FitTable.__rich_console__, Table.__rich_console__

    def recording_fit(self, console, options):
        seen.append((self, options.max_width))
        yield from render_fit(self, console, options)

    def recording_table(self, console, options):
        if not getattr(self, "_fitted", False):
            stray.append(self)
        yield from render_table(self, console, options)

    def marking(self, *args, **kwargs):
        table = make_table(self, *args, **kwargs)
        table._fitted = True
        return table

    make_table = FitTable._table
    monkeypatch.setattr(FitTable, "__rich_console__", recording_fit)
    monkeypatch.setattr(FitTable, "_table", marking)
    monkeypatch.setattr(Table, "__rich_console__", recording_table)
    return seen, stray


def _whole(value: str, lines: list[str]) -> bool:
    """``value`` on one line, not part of a longer token (a table's borders and spaces around it)."""
    pattern = re.compile(r"(?:^|(?<=[\s│┃]))" + re.escape(value) + r"(?=$|[\s│┃:])")
    return any(pattern.search(line) for line in lines)


def check_tables(seen, lines: list[str], width: int) -> int:
    """Each number and name cell of each table rendered appears whole; returns how many were checked."""
    checked = 0
    for table, given in seen:
        _, left = table.layout(Console(width=given), given)
        noted = {i for i in left if table.columns[i].how_it_leaves == NOTE}
        for row in table.rows:
            for i, column in enumerate(table.columns):
                if i in noted or column.kind not in (NUMBER, NAME, NAMES):
                    continue
                plain = fit._text(row[i]).plain
                values = plain.split() if column.kind == NAMES else [v.strip() for v in plain.split("\n")]
                for value in filter(None, values):
                    assert _whole(value, lines), f"{column.header!r} cell {value!r} is not whole at {width} columns"
                    checked += 1
    return checked


@pytest.mark.parametrize("width", WIDTHS, ids=lambda w: f"{w or 'piped'}")
@pytest.mark.parametrize("name", CASES)
def test_no_number_or_name_is_cut(world, rendered, name, width):
    command, json_command, json_names = COMMANDS[name]
    seen, stray = rendered
    result = CliRunner().invoke(app, command(world), env={"COLUMNS": None if width is None else str(width)})
    assert result.exit_code == 0, result.output
    width = width or 80
    lines = result.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, f"{len(too_wide)} lines wider than {width}: {too_wide[:3]}"
    assert "…" not in result.stdout
    assert seen, "no table rendered"
    assert not stray, f"{len(stray)} rich Table(s) rendered outside FitTable: {[t.title for t in stray]}"
    assert check_tables(seen, lines, width) > 0
    if json_command is not None:
        doc = json.loads(CliRunner().invoke(app, json_command(world)).stdout)
        names = json_names(doc)
        assert names
        cut = [n for n in names if not _whole(n, lines)]
        assert not cut, f"names in the JSON not whole in the table at {width} columns: {cut}"
