"""Reproduce Canziani, Paszke & Culurciello (2016) on this machine: measure the zoo's ImageNet
networks at the paper's batch sizes (1, 2, 4, ..., 64), then draw its figures, check its findings and
write an HTML report.

    python scripts/reproduce_paper.py --quick            # 5 small networks at batch 1-8: a few minutes
    python scripts/reproduce_paper.py                    # every image network, batch 1-64 (hours on a CPU)
    python scripts/reproduce_paper.py --networks alexnet,resnet50 --batches 1,8,64
    python scripts/reproduce_paper.py --engine tensorrt --precision fp16 --meter jetson --idle 10   # a Jetson

Every batch is saved to the results database (``--db``; default: ``$ONNXPROF_DB`` or the user data
folder) as soon as it is measured. Re-running the same command resumes: a network already measured
completely here (same engine, provider, precision and host) is skipped, so after a Ctrl-C just run it
again. Out-of-memory batches are recorded as such and count as measured. The output folder
(``--output``, default ``paper-report/``) gets ``figures/``, ``findings.md`` and ``report.html``.
"""

from __future__ import annotations

import argparse
import shlex
import socket
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

from onnxprof.errors import OnnxprofError, UsageError

PAPER_BATCHES = (1, 2, 4, 8, 16, 32, 64)
QUICK_NETWORKS = ("alexnet", "squeezenet1.1", "mobilenet-v2", "resnet18", "googlenet")
QUICK_BATCHES = (1, 2, 4, 8)


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help=f"{', '.join(QUICK_NETWORKS)} at batch {','.join(map(str, QUICK_BATCHES))}, 0.5 s each")
    parser.add_argument("--networks", help="Comma-separated zoo names or .onnx files (default: every image network).")
    parser.add_argument("--batches", help="Batch sizes, e.g. 1,2,4,8 (default: the paper's 1,2,4,8,16,32,64).")
    parser.add_argument("--duration", type=float, help="Minimum timed seconds per batch size (default 2; quick 0.5).")
    parser.add_argument("--output", type=Path, default=Path("paper-report"), help="Folder for figures and reports.")
    parser.add_argument("--db", help="Results database: a path or postgresql://... (default: the user's).")
    parser.add_argument("--engine", default="onnxruntime", help="onnxruntime or tensorrt.")
    parser.add_argument("--provider", default="cpu", help="ONNX Runtime provider: cpu, cuda or tensorrt.")
    parser.add_argument("--precision", default="fp32", help="fp32, fp16 (GPU) or int8 (TensorRT).")
    parser.add_argument("--meter", help="Power meter: jetson, tegrastats, nvml, auto ... (default: none).")
    parser.add_argument("--idle", type=float, default=0.0, help="Seconds of idle power before each network (needs --meter).")
    return parser.parse_args(argv)


def parse_batches(text: str) -> tuple[int, ...]:
    try:
        batches = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        batches = ()
    if not batches or min(batches) < 1:
        raise UsageError(f"--batches {text!r}: expected positive sizes separated by commas, e.g. 1,2,4,8")
    return batches


def image_networks() -> list[str]:
    """The zoo's ImageNet classifiers: every network whose input is an image (not tokens)."""
    from onnxprof.zoo.manifest import manifest

    return [name for name, facts in manifest().items() if not facts.input.startswith("tokens")]


def model_source(name: str) -> str:
    """``zoo:NAME`` for a zoo network (as the zoo spells it), the absolute path for an .onnx file."""
    from onnxprof.zoo import resolve
    from onnxprof.zoo.manifest import manifest

    if name.endswith(".onnx"):
        if not Path(name).is_file():
            raise UsageError(f"--networks: {name}: no such file")
        return str(Path(name).resolve())
    key = resolve(name)                              # a one-line error listing the zoo for an unknown name
    if manifest()[key].input.startswith("tokens"):
        raise UsageError(f"--networks: {key} takes tokens, not images; the paper's networks are image classifiers")
    return f"zoo:{key}"


def measured_already(store, sources: Sequence[str], batches: Sequence[int], setup: tuple) -> dict[str, int]:
    """{source: run id} of the networks whose latest run with this set-up (engine, provider, precision,
    host) finished with a status for every batch size (out of memory included)."""
    latest = {run.model_source: run for run in store.list_runs()
              if run.model_source in sources and (run.engine, run.provider, run.precision, run.hostname) == setup}
    return {source: run.id for source, run in latest.items()
            if run.ended_at and not run.interrupted and set(batches) <= set(run.batch_sizes)}


def measure(store, sources: Sequence[str], batches: Sequence[int], args, console: Console) -> None:
    """Run the sweep on each network, every batch stored as it ends, with progress bars.
    Raises KeyboardInterrupt after storing what a Ctrl-C left (the run marked interrupted)."""
    from onnxprof.cli.measure import model_file
    from onnxprof.engines.base import EngineOptions
    from onnxprof.measure.harness import TimingProtocol, now_iso
    from onnxprof.measure.sweep import SweepPlan, run_sweep
    from onnxprof.predict.resolve import resolve_predictor
    from onnxprof.measure.records import model_name

    meter = None
    if args.meter:
        from onnxprof.meters import MeterOptions, create_meter

        meter = create_meter(args.meter, MeterOptions())
    elif args.idle:
        raise UsageError("--idle measures idle power: it needs a --meter")
    if not sources:
        return
    template = SweepPlan(source="", model_path=Path(), batches=batches, engine=args.engine,
                         options=EngineOptions(provider=args.provider, precision=args.precision, batches=tuple(batches)),
                         protocol=TimingProtocol(min_duration_s=args.duration), meter=meter, idle_s=args.idle,
                         predictor=resolve_predictor(None, store, engine=args.engine, provider=args.provider))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=console, speed_estimate_period=3600) as progress:
        overall = progress.add_task("all networks", total=len(sources) * len(batches))
        current = progress.add_task("", total=len(batches))
        for source in sources:
            name = model_name(source)
            progress.update(current, description=f"{name}: preparing", completed=0)
            plan = replace(template, source=source, model_path=model_file(source))
            run_id: list[int] = []

            def started(record, name=name) -> None:
                run_id.append(store.save_run(record))
                progress.update(current, description=f"{name} · batch {batches[0]}")

            def measured(result, prediction, name=name) -> None:
                store.append_batch(run_id[0], result)
                progress.advance(overall)
                progress.advance(current)
                position = batches.index(result.batch) + 1
                if position < len(batches):
                    progress.update(current, description=f"{name} · batch {batches[position]}")
                progress.console.print(batch_line(name, result, prediction), highlight=False)

            try:
                record = run_sweep(plan, on_batch=measured, on_start=started)
            except BaseException:       # a user error or a Ctrl-C outside the batches: close the stored run
                if run_id:
                    store.finish_run(run_id[0], now_iso(), interrupted=True)
                raise
            store.finish_run(run_id[0], record.ended_at, record.interrupted, predictions=record.predictions,
                             engine=record.engine, layers=record.layers)
            if record.interrupted:
                raise KeyboardInterrupt


def batch_line(name: str, result, prediction) -> str:
    """``resnet18 batch 8: 95.312 ms, 83.9 images/s (predicted 80.120 ms)``, or the batch's failure."""
    if result.latency is None:
        return f"{name} batch {result.batch}: {result.status.replace('_', ' ')} {result.error}".rstrip()
    predicted = f" (predicted {prediction.latency_ms:,.3f} ms)" if prediction.latency_ms else ""
    return (f"{name} batch {result.batch}: {result.latency.median_ms:,.3f} ms, "
            f"{1000 * result.batch / result.latency.median_ms:,.1f} images/s{predicted}")


def report(store, names: set[str], setup: tuple, out_dir: Path, console: Console) -> None:
    """Figures, findings (printed and in findings.md) and report.html from the stored runs."""
    from onnxprof.measure.host import host_info
    from onnxprof.report.dataset import load_points
    from onnxprof.report.figures import draw_all
    from onnxprof.report.findings import check_findings, findings_markdown, findings_table
    from onnxprof.report.html import write_html

    engine, provider, precision, host = setup
    points = [p for p in load_points(store, engine=engine, provider=provider, host=host)
              if p.model in names and p.precision == precision]
    figures = draw_all(points, out_dir / "figures")
    findings = check_findings(points)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "findings.md").write_text(findings_markdown(findings), encoding="utf-8")
    console.print(findings_table(findings))
    info = host_info()
    device = {"CPU": f"{info.cpu} ({info.cpu_count} threads)", "memory": f"{info.memory_bytes / 1e9:.1f} GB"}
    device.update({"GPU": info.gpu} if info.gpu else {})
    device.update({f"Jetson {k}": v for k, v in info.jetson.items()})
    path = write_html(points, out_dir / "report.html", title=f"Canziani et al. (2016) reproduced on {host}",
                      device=device, figures=figures)
    console.print(f"{len(figures)} figures in {out_dir / 'figures'}, findings in {out_dir / 'findings.md'}, "
                  f"report in {path}", highlight=False)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from onnxprof.measure.records import model_name
    from onnxprof.store.db import Store

    args = parse_args(argv)
    console = Console(highlight=False)
    started = time.perf_counter()
    try:
        batches = parse_batches(args.batches) if args.batches else (QUICK_BATCHES if args.quick else PAPER_BATCHES)
        names = args.networks.split(",") if args.networks else (QUICK_NETWORKS if args.quick else image_networks())
        sources = list(dict.fromkeys(model_source(n.strip()) for n in names if n.strip()))
        if args.duration is None:
            args.duration = 0.5 if args.quick else 2.0
        setup = (args.engine, "" if args.engine == "tensorrt" else args.provider, args.precision, socket.gethostname())
        with Store(args.db) as store:
            done = measured_already(store, sources, batches, setup)
            for source, run_id in done.items():
                console.print(f"{model_name(source)}: already measured here (run {run_id}), skipped")
            todo = [s for s in sources if s not in done]
            if todo:
                console.print(f"Measuring {len(todo)} of {len(sources)} networks at batch "
                              f"{','.join(map(str, batches))} with {' '.join(filter(None, setup[:3]))} on {setup[3]}; "
                              f"results in {store.shown}")
            try:
                measure(store, todo, batches, args, console)
            except KeyboardInterrupt:
                again = shlex.join([sys.executable, *sys.argv] if argv is None else ["reproduce_paper.py", *argv])
                console.print(f"Interrupted: the batches measured so far are kept in {store.shown}. "
                              f"Run the same command again to resume:\n  {again}", soft_wrap=True)
                return 130
            report(store, {model_name(s) for s in sources}, setup, args.output, console)
    except OnnxprofError as exc:
        print(f"reproduce_paper: error: {exc}", file=sys.stderr)
        return exc.exit_code
    console.print(f"Done in {time.perf_counter() - started:,.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
