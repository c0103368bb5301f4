"""predict's and calibrate's machine-readable output, calibrate's checkpoint (a stopped calibration
resumes without measuring its points again) and its bounded wait for a quiet machine. Real runs on
tiny models with ONNX Runtime's CPU provider: a calibration of three two-layer MLPs at batch 1 takes
some 15 s, most of it the machine's micro-benchmark and the memory runs."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onnxprof.cli.main import app
from onnxprof.measure.harness import TimingProtocol
from onnxprof.predict.calibrate import OP, Checkpoint, checkpoint_settings, collect, plan
from onnxprof.predict.opbench import OpBench
from onnxprof.report.units import megabytes, rate
from tests.predict.test_calibrate import _mlp

REPO = Path(__file__).resolve().parents[2]
QUICK = TimingProtocol(warmup_runs=2, warmup_s=0, min_runs=5, min_duration_s=0)


def _models(folder: Path) -> list[tuple[str, Path]]:
    return [(f"m{w}", _mlp(folder / f"m{w}.onnx", w, 2)) for w in (64, 128, 192)]


def _strict_json(text: str):
    """Standard JSON only: NaN or Infinity is refused."""
    def refuse(constant):
        raise ValueError(f"non-standard JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


# ------------------------------------------------------------------------------------------- predict

def test_predict_json_has_the_schema_and_the_numbers_of_the_table(tmp_path):
    model = str(_mlp(tmp_path / "m.onnx", 256, 2))
    runner = CliRunner()
    args = ["predict", model, "--device", "jetson-tx1", "--batch", "1,8"]
    env = {"XDG_DATA_HOME": str(tmp_path), "ONNXPROF_DB": None}
    table = runner.invoke(app, args, env={**env, "COLUMNS": "200"})
    done = runner.invoke(app, args + ["--format", "json"], env=env)
    assert table.exit_code == 0 and done.exit_code == 0, (table.output, done.output)
    body = _strict_json(done.stdout)
    assert body["schema"] == "onnxprof.prediction" and body["schema_version"] == 1 and body["onnxprof_version"]
    assert [p["batch"] for p in body["predictions"]] == [1, 8] and body["device"] == "jetson-tx1"
    rows = table.stdout.splitlines()
    for p in body["predictions"]:       # as the table formats them
        assert any(f"{p['latency_ms']:,.2f}" in row and rate(p["throughput_per_s"]) in row
                   and megabytes(p["peak_rss_bytes"]) in row for row in rows), (p, table.stdout)
    assert body["source"] == body["predictions"][0]["source"] and body["source"] in " ".join(table.stdout.split())
    assert body["predictions"][0]["provenance"]["kind"] == "published"
    assert body["predictions"][1]["latency_ms"] > body["predictions"][0]["latency_ms"]


def test_predict_csv_one_row_per_batch_and_output_file(tmp_path):
    model = str(_mlp(tmp_path / "m.onnx", 128, 2))
    out = tmp_path / "deep" / "p.csv"
    done = CliRunner().invoke(app, ["predict", model, "--device", "jetson-tx1", "--batch", "1,2,4", "-f", "csv",
                                    "-o", str(out)], env={"XDG_DATA_HOME": str(tmp_path), "ONNXPROF_DB": None})
    assert done.exit_code == 0 and done.stdout == "", done.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [int(r["batch"]) for r in rows] == [1, 2, 4] and {r["model"] for r in rows} == {model}
    assert all(float(r["latency_ms"]) > 0 for r in rows) and all(r["source"].startswith("published") for r in rows)
    bad = CliRunner().invoke(app, ["predict", model, "--device", "jetson-tx1", "-f", "xml"],
                             env={"XDG_DATA_HOME": str(tmp_path), "ONNXPROF_DB": None})
    assert bad.exit_code == 2 and "--format" in bad.output


# ------------------------------------------------------------------------------------------- checkpoint

def test_checkpoint_of_other_settings_is_not_read_and_a_cut_line_is_skipped(tmp_path):
    models = _models(tmp_path)
    path = tmp_path / "c.jsonl"
    settings = checkpoint_settings(models, [1], "onnxruntime", __import__("onnxprof.engines.base").engines.base
                                   .EngineOptions(), QUICK, 1)
    first = Checkpoint(path, settings)
    first.add({"point": "timing", "model": "m64", "batch": 1, "ms": 0.5, "probe_ms": (1.0, float("nan")),
               "seconds": 0.1})
    first.close()
    with path.open("a") as f:
        f.write('{"point": "timing", "model": "m128", "ba')           # a kill in the middle of a line
    again = Checkpoint(path, settings)
    assert [r["model"] for r in again.records] == ["m64"] and again.of("timing", "m64", 1)[0]["probe_ms"][1] is None
    assert plan(models, [1], QUICK, 1, checkpoint=again).reused == 1
    again.add({"point": "timing", "model": "m128", "batch": 1, "ms": 0.7, "probe_ms": (1.0, 1.0), "seconds": 0.1})
    again.close()
    assert [r["model"] for r in Checkpoint(path, settings).records] == ["m64", "m128"]
    for line in path.read_text().splitlines():
        _strict_json(line)
    other = Checkpoint(path, {**settings, "rounds": 3})
    assert other.records == [] and other.other_settings


def test_a_stopped_collection_resumes_without_measuring_its_points_again(tmp_path):
    """Stopped by a KeyboardInterrupt from the progress hook after 3 points (inside the single-op
    round), the same collection measures only the rest, op cases included."""
    models = _models(tmp_path)
    path = tmp_path / "c.jsonl"

    def bench():
        return OpBench(ops=("Relu",), rounds=1)

    def interrupt_after(k):
        def on_point(tally, what):
            seen.append(what)
            if tally.done == k:
                raise KeyboardInterrupt
        return on_point

    seen: list[str] = []
    with bench() as op_bench, pytest.raises(KeyboardInterrupt):
        settings = checkpoint_settings(models, [1], "onnxruntime", op_bench.options, QUICK, 1, op_bench=op_bench)
        collect(models, [1], protocol=QUICK, op_bench=op_bench, checkpoint=Checkpoint(path, settings),
                on_point=interrupt_after(3))
    assert len(seen) == 3 and all("single-op" in what for what in seen)
    kept = Checkpoint(path, settings)
    assert len(kept.records) == 3 and {r["point"] for r in kept.records} == {OP}

    seen.clear()
    with bench() as op_bench:
        tally = plan(models, [1], QUICK, 1, op_bench=op_bench, checkpoint=kept)
        cases = len(op_bench.cases)
        assert cases > 3 and (tally.reused, tally.total) == (3, cases + 3 * 2 + 3)   # 3 timings and profiles, 3 memory
        points = collect(models, [1], protocol=QUICK, op_bench=op_bench, checkpoint=kept, tally=tally,
                         on_point=interrupt_after(-1))
        assert len(op_bench.timings) >= cases and {t.source for t in op_bench.timings} == {"op:Relu"}
    assert tally.measured == len(seen) == tally.total - 3 and tally.done == tally.total
    assert sum("single-op" in what for what in seen) == cases - 3
    assert [(p.model, p.batch) for p in points] == [(m, 1) for m, _ in models]


def _calibrate(tmp_path: Path, *more: str) -> subprocess.Popen:
    """calibrate of the three MLPs (made once: a model file written again is another setting)."""
    if not (tmp_path / "m64.onnx").exists():
        tmp_path.mkdir(parents=True, exist_ok=True)
        _models(tmp_path)
    paths = ",".join(str(tmp_path / f"m{w}.onnx") for w in (64, 128, 192))
    command = [sys.executable, "-m", "onnxprof", "calibrate", "--models", paths, "--batch", "1", "--duration", "0",
               "--rounds", "1", "--no-op-benchmarks", "--db", str(tmp_path / "r.sqlite"),
               "-o", str(tmp_path / "profile.json"), "--format", "json", *more]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"})


def _read_until(process: subprocess.Popen, prefix: str, lines: list[str]) -> None:
    for line in process.stderr:
        lines.append(line)
        if line.startswith(prefix):
            return
    raise AssertionError("".join(lines))


def test_ctrl_c_keeps_the_points_and_the_same_command_resumes(tmp_path):
    first = _calibrate(tmp_path)
    lines: list[str] = []
    _read_until(first, "3/9, ", lines)      # piped: a line per point, "k/n, about M s left: what"
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    err = "".join(lines) + err
    assert first.returncode == 130 and out == "", err
    assert "plan: 9 points (3 network timings" in err and "on a quiet machine" in err
    checkpoint = tmp_path / "profile.json.checkpoint.jsonl"
    kept = len(checkpoint.read_text().splitlines()) - 1
    assert kept >= 3 and f"stopped: {kept} of 9 points measured are kept in {checkpoint}" in err.replace("\n", " ")
    assert not (tmp_path / "profile.json").exists()

    second = _calibrate(tmp_path)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    assert f"resuming: {kept} of 9 points already measured" in err
    body = _strict_json(out)
    assert body["schema"] == "onnxprof.calibration" and body["schema_version"] == 1 and body["onnxprof_version"]
    assert body["plan"] == {"points": 9, "reused": kept, "measured": 9 - kept}
    assert [line.split(",")[0] for line in err.splitlines() if "left:" in line] == \
        [f"{k}/9" for k in range(kept + 1, 10)]         # only the points not measured before
    assert len(body["points"]) == 3 and all(p["median_ms"] > 0 for p in body["points"])
    assert {(q["predictor"], q["batch"]) for q in body["quality"]} == {(p, 1) for p in ("operations", "roofline",
                                                                                        "kernels")}
    assert (tmp_path / "profile.json").is_file() and not checkpoint.exists()     # done with: removed


def _busy_calibration(tmp_path: Path) -> tuple[int, str, str]:
    """calibrate --quiet-wait 0, with spinning processes from its first point measured on until it says
    it waited (or ends)."""
    process = _calibrate(tmp_path, "--quiet-wait", "0")
    lines: list[str] = []
    _read_until(process, "1/9, ", lines)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(2 * (os.cpu_count() or 1))]
    try:
        for line in process.stderr:      # the spinners stop once it said so
            lines.append(line)
            if line.startswith("waited "):
                break
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
    out, err = process.communicate(timeout=300)
    return process.returncode, out, "".join(lines) + err


def test_quiet_wait_budget_spent_on_a_busy_machine_proceeds_and_says_so(tmp_path):
    """Spinning processes start once the first point is measured; the probe then finds the machine busy
    and, with --quiet-wait 0, calibrate does not wait: it says so once, proceeds, and marks the points.
    The probe judges against its quietest reading: where load from elsewhere (this machine is shared)
    already slowed the first points as much, it finds nothing busy; that is tried twice, then skipped."""
    for attempt in range(2):
        started = time.perf_counter()
        returncode, out, err = _busy_calibration(tmp_path / str(attempt))
        assert returncode == 0, err
        body = _strict_json(out)
        said = " ".join(err.split()).count("waited 0 s in all for this machine to quieten (--quiet-wait): proceeding")
        if all(p["quiet"] for p in body["points"]):      # the probe saw no difference: nothing to wait for
            assert said == 0, err
            continue
        assert said == 1, err
        assert any("(--quiet-wait)" in n for n in body["notes"]) and len(body["points"]) == 3
        assert "points found this machine busy" in err
        assert time.perf_counter() - started < 120
        return
    pytest.skip("load from elsewhere slowed this machine as much before the spinners started as after")


def test_calibrate_csv_is_one_row_per_predictor_and_batch(tmp_path):
    runner = CliRunner()
    paths = ",".join(str(path) for _, path in _models(tmp_path))
    done = runner.invoke(app, ["calibrate", "--models", paths, "--batch", "1", "--duration", "0", "--rounds", "1",
                               "--no-op-benchmarks", "--db", str(tmp_path / "r.sqlite"), "-f", "csv",
                               "--checkpoint", str(tmp_path / "c.jsonl")])
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["predictor"], r["batch"]) for r in rows] == [(p, "1") for p in ("operations", "roofline", "kernels")]
    assert sum(r["best"] == "True" for r in rows) == 1 and all(0 <= float(r["within_10pct"]) <= 1 for r in rows)
    assert not (tmp_path / "c.jsonl").exists()
