"""``onnxprof report figures|findings|html`` and ``onnxprof select`` on a store of synthetic runs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.store.db import Store
from tests import synthetic_runs as synth

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


def test_figures_are_written_in_the_formats_asked(synthetic_db, tmp_path):
    out = runner.invoke(app, ["report", "figures", "--db", synthetic_db, "-o", str(tmp_path / "f"), "-f", "png"],
                        env=WIDE)
    assert out.exit_code == 0, out.output
    written = sorted(p.name for p in (tmp_path / "f").iterdir())
    assert len(written) == 10 and all(name.endswith(".png") for name in written)
    assert written[0].startswith("fig01-") and written[-1].startswith("fig10-")
    assert "no power measured" in out.output          # vgg16 ran without a meter: a note, not a crash


def test_findings_print_and_write_markdown(synthetic_db, tmp_path):
    md = tmp_path / "findings.md"
    out = runner.invoke(app, ["report", "findings", "--db", synthetic_db, "-o", str(md)], env=WIDE)
    assert out.exit_code == 0, out.output
    assert "memory.slope" in out.output and md.read_text().startswith("| finding |")


def test_select_ranks_by_accuracy_and_fails_when_nothing_qualifies(synthetic_db):
    out = runner.invoke(app, ["select", "--db", synthetic_db, "--min-fps", "30", "--max-memory", "2000"], env=WIDE)
    assert out.exit_code == 0, out.output
    lines = [line.split() for line in out.output.splitlines() if line.strip()]
    ranked = [words[0] for words in lines if words[-1] in ("best", "#2", "#3", "#4")]
    assert ranked[0] == "resnet50"          # the most accurate model above 30 fps (75.76 % top-1)
    none = runner.invoke(app, ["select", "--db", synthetic_db, "--min-fps", "1e9"], env=WIDE)
    assert none.exit_code == 1 and "no model meets every limit" in none.output
    no_limit = runner.invoke(app, ["select", "--db", synthetic_db])
    assert no_limit.exit_code == 2 and "give at least one limit" in no_limit.stderr


def test_html_report_is_one_file(synthetic_db, tmp_path):
    out = runner.invoke(app, ["report", "html", "--db", synthetic_db, "-o", str(tmp_path / "r.html"),
                              "--min-fps", "30"])
    assert out.exit_code == 0, out.output
    text = (tmp_path / "r.html").read_text()
    assert text.count("data:image/png;base64,") + text.count("<svg") >= 10 and "resnet50" in text


def test_an_empty_store_is_one_line(tmp_path):
    Store(str(tmp_path / "empty.sqlite")).close()      # these commands only read: the file must exist
    for args in (["report", "figures"], ["report", "findings"], ["report", "html"], ["select", "--min-fps", "1"]):
        out = runner.invoke(app, [*args, "--db", str(tmp_path / "empty.sqlite")])
        assert out.exit_code == 2 and out.stderr.count("\n") == 1 and "measure models first" in out.stderr
    bad = runner.invoke(app, ["report", "figures", "--db", str(tmp_path / "empty.sqlite"), "-f", "gif"])
    assert bad.exit_code == 2 and "--format" in bad.stderr


def test_run_pins_a_model_to_the_run_named_and_a_bad_run_list_is_one_line(tmp_path):
    """A later one-batch run of resnet50 loses to its full sweep by default, and wins when named."""
    path = str(tmp_path / "r.sqlite")
    with Store(path) as store:
        synth.fill(store)
        short = store.save_run(synth.record(synth.MODELS[2], batches=(1,)))
    args = ["select", "--db", path, "--min-fps", "1", "--max-memory", "1e6"]

    def resnet50_row(*extra):
        out = runner.invoke(app, [*args, *extra], env=WIDE)
        assert out.exit_code == 0, out.output
        return next(line.split() for line in out.output.splitlines() if line.split()[:1] == ["resnet50"])

    default, pinned = resnet50_row(), resnet50_row("--run", str(short))
    assert default[1] == "3" and pinned[1] == str(short)          # the run column
    assert pinned[2] == "1" and default[2] != "1"                   # the batch each could offer
    bad = runner.invoke(app, [*args, "--run", "3,,4"], env=WIDE)
    assert bad.exit_code == 2 and "--run" in bad.stderr and bad.stderr.count("\n") == 1


def test_findings_and_select_as_standard_json_and_csv(synthetic_db):
    import csv
    import io
    import json

    def strict(text):
        return json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not standard JSON"))

    findings = strict(runner.invoke(app, ["report", "findings", "--db", synthetic_db, "-f", "json"]).stdout)
    table = runner.invoke(app, ["report", "findings", "--db", synthetic_db], env=WIDE).stdout
    assert findings["schema"] == "onnxprof.findings" and findings["schema_version"] == 1
    assert all(f["key"] in table for f in findings["findings"])
    as_csv = runner.invoke(app, ["report", "findings", "--db", synthetic_db, "-f", "csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(as_csv)))
    assert [r["finding"] for r in rows] == [f["key"] for f in findings["findings"]]
    chosen = strict(runner.invoke(app, ["select", "--db", synthetic_db, "--min-fps", "30", "--max-memory", "2000",
                                        "-f", "json"]).stdout)
    assert chosen["schema"] == "onnxprof.selection"
    best = [c for c in chosen["candidates"] if c["verdict"] == "best"]
    assert [c["model"] for c in best] == ["resnet50"] and best[0]["run_id"] is not None
