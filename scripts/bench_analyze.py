"""Benchmark: `onnxprof analyze` as a user runs it (the console script, a whole process), each figure a
ratio against its reference timed side by side in the same run, runs interleaved, medians:

- a model of a few nodes against a bare ``python -c "import onnx; onnx.load(path)"`` (target ≤ 1.15×);
- MatMul+Relu chains of 1k, 10k and 40k nodes (each 64×64 weight stored in the file) against onnxsim's
  whole process (target ≤ 0.40× at 40k), and the seconds each 1k nodes adds from one size to the next
  (equal when time grows linearly: start-up is a constant);
- a 32-layer decoder LLM (KV-cache inputs, GroupQueryAttention, 4-bit MatMulNBits, 4.3 GB of external
  weights) with symbolic batch, sequence and past lengths: seconds against a bare onnx.load of its graph,
  and peak RSS (target < 300 MB);
- onnx-tool's profile of the same files, where onnx-tool is installed (onnxsim too is optional).

``--breakdown`` prints instead where one analyze process spends its time on each model (the table of
docs/performance.md): interpreter start, imports, then each pass, timed inside the process with the
imports that happen during a pass counted as imports.

Figures assume compiled bytecode, as an installed package has it: where this shell disables bytecode
files, every process here caches them in a folder of the run instead (the same for every tool).

Run: python scripts/bench_analyze.py [--rounds 7] [--large-rounds 3] [--sizes 1000 10000 40000]
     [--keep DIR] [--breakdown] [--format json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SMALL_TARGET = 1.15             # × a bare onnx.load process
CHAIN_TARGET = 0.40             # × onnxsim's process, at 40k nodes
DECODER_RSS_TARGET_MB = 300
LINEAR_TOLERANCE = 1.25         # the last step's CPU seconds per 1k nodes within this factor of the first's
PYTHON = sys.executable


# ----------------------------------------------------------------------------------------------- models

def small_model() -> onnx.ModelProto:
    """Conv, Relu, GlobalAveragePool, Flatten, Gemm: a model of a few nodes, as a unit test would write."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3), dtype=np.float32), "conv.w"),
               numpy_helper.from_array(np.zeros(8, np.float32), "conv.b"),
               numpy_helper.from_array(rng.standard_normal((10, 8), dtype=np.float32), "fc.w"),
               numpy_helper.from_array(np.zeros(10, np.float32), "fc.b")]
    nodes = [helper.make_node("Conv", ["x", "conv.w", "conv.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "small",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], weights)
    return _versioned(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def chain_model(nodes: int, width: int = 64) -> onnx.ModelProto:
    """nodes/2 × (MatMul with its own width×width weight, Relu)."""
    rng = np.random.default_rng(0)
    graph_nodes, weights, x = [], [], "x"
    for i in range(nodes // 2):
        weights.append(numpy_helper.from_array(rng.standard_normal((width, width), dtype=np.float32) * 0.1, f"w{i}"))
        graph_nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"block{i}.matmul"))
        graph_nodes.append(helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"block{i}.relu"))
        x = f"r{i}"
    graph = helper.make_graph(graph_nodes, f"chain{nodes}",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, width])], weights)
    return _versioned(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def _versioned(model: onnx.ModelProto) -> onnx.ModelProto:
    model.ir_version = 9
    return model


def _saved(folder: Path, name: str, build) -> Path:
    path = folder / name
    if not path.exists():
        onnx.save(build(), path)
    return path


def resnet50(folder: Path, env: dict) -> Path:
    """ResNet-50 from onnxprof's zoo, exported as a user would."""
    path = folder / "resnet50.onnx"
    if not path.exists():
        subprocess.run([*onnxprof_command(), "zoo", "export", "resnet50", "-o", str(path)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    return path


def decoder(folder: Path) -> Optional[Path]:
    """The 32-layer decoder LLM with sparse external weights; None where this onnxprof has no generator."""
    try:
        from onnxprof.zoo.decoder import write_decoder
    except ImportError:
        return None
    path = folder / "decoder" / "model.onnx"
    return path if path.exists() else write_decoder(folder / "decoder")


# ------------------------------------------------------------------------------------------- processes

class Failed(Exception):
    """A process ended with an error."""


@dataclass(frozen=True)
class Run:
    seconds: float              # wall
    cpu_seconds: float          # user + system: what load from elsewhere on the machine changes least
    peak_rss_mb: float


def onnxprof_command() -> list[str]:
    """The console script installed beside this Python, which is what a user runs."""
    script = Path(PYTHON).with_name("onnxprof")
    return [str(script)] if script.exists() else [PYTHON, "-m", "onnxprof"]


def child_environment(folder: Path) -> dict:
    """This environment, with bytecode cached (in ``folder``) where the shell turned bytecode files off."""
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None or sys.flags.dont_write_bytecode:
        env["PYTHONPYCACHEPREFIX"] = str(folder / "bytecode")
    return env


# A small process that starts the command and reports its wall and CPU seconds, peak RSS (KB) and exit code. A
# process's peak RSS counts, from before its exec, the process that started it: this launcher, not the
# benchmark, which holds the large models it wrote.
LAUNCHER = """
import os, sys, time
devnull = os.open(os.devnull, os.O_WRONLY)
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, usage.ru_utime + usage.ru_stime, usage.ru_maxrss,
      os.waitstatus_to_exitcode(status))
"""


def run(command: Sequence[str], env: dict) -> Run:
    """Wall and CPU seconds and peak resident memory of one process; its output is discarded."""
    done = subprocess.run([PYTHON, "-I", "-S", "-c", LAUNCHER, *command], env=env, capture_output=True, text=True)
    seconds, cpu, rss_kb, code = done.stdout.split()
    if int(code):
        error = done.stderr.strip().splitlines()
        raise Failed(f"exit {code}: {' '.join(command)}: {error[-1] if error else ''}")
    return Run(float(seconds), float(cpu), int(rss_kb) / 1024)


def side_by_side(commands: dict[str, list[str]], rounds: int, env: dict) -> dict[str, Run]:
    """Each command once to warm caches, then ``rounds`` interleaved rounds (the order turning each
    round); per command the median seconds and the highest peak RSS."""
    for command in commands.values():
        run(command, env)
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    names = list(commands)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            runs[name].append(run(commands[name], env))
    return {name: Run(statistics.median(x.seconds for x in got), statistics.median(x.cpu_seconds for x in got),
                      max(x.peak_rss_mb for x in got))
            for name, got in runs.items()}


def references(path: Path) -> dict[str, list[str]]:
    """onnxsim and onnx-tool on ``path``, those that are installed."""
    found = {}
    if _importable("onnxsim"):
        script = Path(PYTHON).with_name("onnxsim")
        found["onnxsim"] = [*([str(script)] if script.exists() else [PYTHON, "-m", "onnxsim"]),
                            str(path), str(path.with_suffix(".sim.onnx"))]
    if _importable("onnx_tool"):
        found["onnx-tool"] = [PYTHON, "-c", "import sys, onnx_tool; onnx_tool.model_profile(sys.argv[1])", str(path)]
    return found


@functools.lru_cache(maxsize=None)
def _importable(module: str) -> bool:
    return subprocess.run([PYTHON, "-c", f"import {module}"], capture_output=True).returncode == 0


def bare_load(path: Path, external_data: bool = True) -> list[str]:
    code = f"import onnx; onnx.load({str(path)!r}{'' if external_data else ', load_external_data=False'})"
    return [PYTHON, "-c", code]


# ---------------------------------------------------------------------------------------------- figures

@dataclass(frozen=True)
class Figure:
    name: str
    reference: str
    onnxprof: Run
    against: Run                # the reference's run
    target: str = ""
    meets: Optional[bool] = None
    nodes: int = 0              # a chain's size

    @property
    def ratio(self) -> float:
        return self.onnxprof.seconds / self.against.seconds

    @property
    def cpu_ratio(self) -> float:
        return self.onnxprof.cpu_seconds / self.against.cpu_seconds


def figures(folder: Path, sizes: Sequence[int], rounds: int, large_rounds: int, env: dict,
            notes: list[str]) -> list[Figure]:
    analyze = onnxprof_command() + ["analyze"]
    out: list[Figure] = []

    small = _saved(folder, "small.onnx", small_model)
    got = side_by_side({"onnxprof": analyze + [str(small)], "onnx.load": bare_load(small)}, rounds, env)
    figure = Figure("few-node model", "onnx.load", got["onnxprof"], got["onnx.load"], f"≤{SMALL_TARGET:.2f}×")
    out.append(replace(figure, meets=figure.ratio <= SMALL_TARGET))

    for size in sizes:
        path = _saved(folder, f"chain{size}.onnx", lambda: chain_model(size))
        others = references(path) or {"onnx.load": bare_load(path)}
        got = side_by_side({"onnxprof": analyze + [str(path)], **others}, large_rounds, env)
        for name in others:
            figure = Figure(f"chain {size // 1000}k nodes", name, got["onnxprof"], got[name], nodes=size)
            if size == max(sizes) and name == "onnxsim":
                figure = replace(figure, target=f"≤{CHAIN_TARGET:.2f}×", meets=figure.ratio <= CHAIN_TARGET)
            out.append(figure)
    if "onnxsim" not in references(folder / "small.onnx"):
        notes.append("onnxsim is not installed: chains against onnx.load only (pip install onnxsim)")
    if not _importable("onnx_tool"):
        notes.append("onnx-tool is not installed: no onnx-tool figures")

    path = decoder(folder)
    if path is None:
        notes.append("this onnxprof has no decoder generator (onnxprof.zoo.decoder): no LLM figure")
        return out
    try:
        got = side_by_side({"onnxprof": analyze + [str(path)], "onnx.load": bare_load(path, external_data=False)},
                           large_rounds, env)
    except Failed as exc:
        notes.append(f"decoder LLM: {exc}")
    else:
        rss = got["onnxprof"].peak_rss_mb
        out.append(Figure("32-layer decoder LLM", "onnx.load", got["onnxprof"], got["onnx.load"],
                          f"<{DECODER_RSS_TARGET_MB} MB", rss < DECODER_RSS_TARGET_MB))
    return out


def growth(out: Sequence[Figure]) -> list[tuple[int, int, float, float]]:
    """(from, to, wall seconds, CPU seconds) per 1k nodes between consecutive chain sizes. The growth is
    judged on CPU seconds: a 1k-node chain takes about a second, so one slow wall-clock run from load
    elsewhere would move its step more than the step itself."""
    runs = {f.nodes: f.onnxprof for f in out if f.nodes}
    ordered = sorted(runs)
    return [(a, b, (runs[b].seconds - runs[a].seconds) / (b - a) * 1000,
             (runs[b].cpu_seconds - runs[a].cpu_seconds) / (b - a) * 1000) for a, b in zip(ordered, ordered[1:])]


def print_figures(out: Sequence[Figure], steps, notes: Sequence[str]) -> None:
    print(f"{'':<20}{'onnxprof':>8} {'reference':<10}{'ref s':>6}{'ratio':>7}{'cpu':>6}{'peak':>6}  target")
    print(f"{'':<20}{'s':>8} {'':<10}{'':>6}{'':>7}{'ratio':>6}{'MB':>6}")
    for f in out:
        verdict = "" if f.meets is None else (" met" if f.meets else " MISSED")
        print(f"{f.name:<20}{f.onnxprof.seconds:>8.2f} {f.reference:<10}{f.against.seconds:>6.2f}{f.ratio:>7.2f}"
              f"{f.cpu_ratio:>6.2f}{f.onnxprof.peak_rss_mb:>6.0f}  {f.target}{verdict}")
    for a, b, wall, cpu in steps:
        print(f"chain {a // 1000}k → {b // 1000}k: {wall:.3f} s, {cpu:.3f} CPU s per 1k nodes")
    if len(steps) >= 2:
        ratio = steps[-1][3] / steps[0][3]
        verdict = "met" if ratio <= LINEAR_TOLERANCE else "MISSED"
        print(f"growth in CPU s: last step / first = {ratio:.2f} (linear: ≤ {LINEAR_TOLERANCE}) {verdict}")
    for note in notes:
        print(f"note: {note}")


# -------------------------------------------------------------------------------------------- breakdown

# phase -> the functions whose time it is (module, attribute), less the phases they call; what no phase
# names (typer, binding the shapes, the shape passes' loop) is "other"
PHASES = (
    ("parse", "onnxprof.model.wire", "load_without_payloads"),
    ("loader's checks", "onnxprof.model.load", "prepare_model"),
    ("checker", "onnxprof.model.load", "_check_model"),
    ("ONNX shape inference", "onnxprof.model.shapes", "_onnx_infer"),
    ("symbolic pass", "onnxprof.model.values", "refine_shapes"),
    ("symbolic pass", "onnxprof.model.shapes", "collect_types"),
    ("graph build", "onnxprof.model.graph", "build_graph"),
    ("costing, validation", "onnxprof.cost.analysis", "cost_nodes"),
    ("liveness", "onnxprof.cost.memory", "activation_peak"),
    ("report assembly", "onnxprof.cost.analysis", "summarize"),
    ("rendering", "onnxprof.report.tables", "render_analysis"),
)
ROWS = ("interpreter start", "imports: onnx", "imports: the rest", *dict.fromkeys(p for p, _, _ in PHASES),
        "other", "exit")

# Run inside the analysed process (python -X importtime): marks on stderr when it starts, enters and
# leaves a phase and ends; importtime's lines between the marks say what was imported meanwhile.
CHILD = r"""
import sys, time
print(f"@start {time.time()!r}", file=sys.stderr, flush=True)
import functools, importlib

def timed(phase, function):
    @functools.wraps(function)
    def timed_phase(*args, **kwargs):
        print(f"@enter {phase} {time.perf_counter()!r}", file=sys.stderr, flush=True)
        try:
            return function(*args, **kwargs)
        finally:
            print(f"@leave {phase} {time.perf_counter()!r}", file=sys.stderr, flush=True)
    return timed_phase

for phase, module_name, attribute in PHASES:
    module = importlib.import_module(module_name)
    original = getattr(module, attribute, None)
    if original is None:
        print(f"@missing {module_name}.{attribute}", file=sys.stderr, flush=True)
        continue
    for loaded in list(sys.modules.values()):     # every module that imported it by name
        if getattr(loaded, "__name__", "").startswith("onnxprof") and getattr(loaded, attribute, None) is original:
            setattr(loaded, attribute, timed(phase, original))
sys.argv = ["onnxprof", "analyze", sys.argv[1]]
from onnxprof.cli.main import main
try:
    main()
except SystemExit as done:
    if done.code:
        raise
print(f"@end {time.time()!r}", file=sys.stderr, flush=True)
"""


def breakdown_once(path: Path, env: dict) -> tuple[float, dict[str, float], set[str]]:
    """Whole-process seconds and seconds by row of one analyze process on ``path``. Rows: interpreter
    start (to the first line of the program, site's imports included), the imports after it, each
    phase less the imports and phases within it, exit, and 'other', what is left (typer, binding the
    shapes, the loop around the shape passes)."""
    code = f"PHASES = {PHASES!r}\n{CHILD}"
    spawned = time.time()
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-X", "importtime", "-c", code, str(path)], env=env, capture_output=True, text=True)
    total = time.perf_counter() - start
    ended = time.time()
    if done.returncode:
        raise Failed(f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1]}")
    rows = dict.fromkeys(ROWS, 0.0)
    missing: set[str] = set()
    stack: list[list] = []          # [phase, entered at, seconds of the phases and imports within it]
    started = False
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|", 2)
            if started and name.strip() == "onnx":
                rows["imports: onnx"] = int(cumulative) / 1e6      # what a bare onnx.load imports too
            if not started or not cumulative.strip().isdigit() or name.startswith("  "):
                continue            # site's imports, the header, or an import nested in another
            rows["imports: the rest"] += int(cumulative) / 1e6
            if stack:
                stack[-1][2] += int(cumulative) / 1e6
            continue
        mark, _, value = line.partition(" ")
        if mark == "@start":
            rows["interpreter start"], started = float(value) - spawned, True
        elif mark == "@enter":
            phase, at = value.rsplit(" ", 1)
            stack.append([phase, float(at), 0.0])
        elif mark == "@leave":
            phase, at = value.rsplit(" ", 1)
            _, entered, within = stack.pop()
            spent = float(at) - entered
            rows[phase] += spent - within
            if stack:
                stack[-1][2] += spent
        elif mark == "@end":
            rows["exit"] = ended - float(value)
        elif mark == "@missing":
            missing.add(value)
    rows["imports: the rest"] -= rows["imports: onnx"]
    rows["other"] = total - sum(rows.values())
    return total, rows, missing


def breakdown(models: dict[str, Path], rounds: int, env: dict) -> dict[str, dict[str, float]]:
    """Per model, the rows of its median run (by whole-process seconds), with 'total'."""
    table = {}
    for label, path in models.items():
        try:
            breakdown_once(path, env)                   # warm: bytecode and the page cache
        except Failed as exc:
            print(f"note: {label}: {exc}", file=sys.stderr)
            continue
        runs = sorted((breakdown_once(path, env) for _ in range(rounds)), key=lambda r: r[0])
        total, rows, missing = runs[len(runs) // 2]
        for name in missing:
            print(f"note: {name} no longer exists; its time is in 'other'", file=sys.stderr)
        table[label] = {**rows, "total": total}
    return table


def print_breakdown(table: dict[str, dict[str, float]]) -> None:
    labels = list(table)
    print(f"{'seconds':<22}" + "".join(f"{label:>9}" for label in labels))
    for row in (*ROWS, "total"):
        print(f"{row:<22}" + "".join(f"{table[label][row]:>9.3f}" for label in labels))


# ------------------------------------------------------------------------------------------------- main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 40000], help="chain sizes (nodes)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds for the few-node model")
    parser.add_argument("--large-rounds", type=int, default=3, help="interleaved rounds for chains and the decoder")
    parser.add_argument("--keep", type=Path, help="write the generated models here instead of a temp folder")
    parser.add_argument("--breakdown", action="store_true", help="where analyze spends its time, per model")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="onnxprof-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    env = child_environment(folder)
    try:
        if args.breakdown:
            models = {"few-node": _saved(folder, "small.onnx", small_model)}
            for size in args.sizes:
                models[f"{size // 1000}k"] = _saved(folder, f"chain{size}.onnx", lambda: chain_model(size))
            models["resnet50"] = resnet50(folder, env)
            llm = decoder(folder)
            if llm is not None:
                models["decoder"] = llm
            table = breakdown(models, args.large_rounds, env)
            if args.format == "json":
                print(json.dumps({"schema": "onnxprof.bench-analyze-breakdown", "seconds": table}, indent=1))
            else:
                print_breakdown(table)
            return
        notes: list[str] = []
        if env.get("PYTHONPYCACHEPREFIX") == str(folder / "bytecode"):
            notes.append("bytecode is off in this shell: each process caches it in the run's folder")
        out = figures(folder, args.sizes, args.rounds, args.large_rounds, env, notes)
        steps = growth(out)
        if args.format == "json":
            print(json.dumps({"schema": "onnxprof.bench-analyze",
                              "figures": [{**asdict(f), "ratio": f.ratio, "cpu_ratio": f.cpu_ratio} for f in out],
                              "seconds_per_1k_nodes": [{"from": a, "to": b, "seconds": w, "cpu_seconds": c}
                                                       for a, b, w, c in steps],
                              "notes": notes}, indent=1))
        else:
            print_figures(out, steps, notes)
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
