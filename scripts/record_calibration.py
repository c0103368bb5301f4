"""Record a calibration collection as test data: time and profile a named set of models and the single-op
cases with calibrate's collect on this host, and write what was measured, with each model's graph
without its weights and the host's facts, to one gzipped file (onnxprof.predict.recording). The tests
in tests/predict/test_recorded_accuracy.py fit the predictors on part of it and judge them on the rest.

Each model is tagged with the set it belongs to: the zoo networks of each ``--zoo [LABEL=]NAMES`` with
its LABEL (zoo without one), the .onnx files of each ``--folder LABEL=DIR`` with its LABEL (e.g. tuning,
heldout). Before it writes, it checks
that the recording rebuilds every point's kernel timings and every op case's exactly as measured.

Run: python scripts/record_calibration.py --zoo resnet18,mobilenet-v2 --folder tuning=DIR \\
         --folder heldout=DIR --batches 1,8 --rounds 3 --output tests/data/calibration/NAME.json.gz
Add --checkpoint FILE to resume a recording that was stopped (the same command, run again).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.errors import OnnxprofError
from onnxprof.measure.harness import TimingProtocol
from onnxprof.predict.calibrate import MACHINE_S, Checkpoint, checkpoint_settings, collect, duration_text, plan
from onnxprof.predict.microbench import measure_this_machine, spill_from_bytes
from onnxprof.predict.opbench import ROUNDS, OpBench
from onnxprof.predict.recording import host_facts, rebuild, record, write_recording
from onnxprof.zoo import resolve
from onnxprof.zoo.export import export

PROG = "record_calibration"
ZOO = "zoo"          # the set of zoo networks named without one
INTERRUPTED = 130    # the exit status of a run stopped by Ctrl-C, as onnxprof calibrate's


def fail(message: str) -> None:
    sys.exit(f"{PROG}: error: {message}")


def chosen_models(zoo: list[str], folders: list[str]) -> tuple[list[tuple[str, Path]], dict[str, str]]:
    """(name, file) of every model, and each name's set."""
    models, labels = [], {}

    def add(name: str, path: Path, label: str) -> None:
        if name in labels:
            fail(f"two models are named {name!r} (a model's name is its zoo name or its file's stem)")
        models.append((name, path))
        labels[name] = label

    for entry in zoo:
        label, sep, names = entry.rpartition("=")
        for name in (n.strip() for n in names.split(",") if n.strip()):
            key = resolve(name)
            add(key, export(key).path, label if sep else ZOO)
    for entry in folders:
        label, sep, folder = entry.partition("=")
        if not sep or not label or not folder:
            fail(f"--folder {entry!r}: expected LABEL=DIR, e.g. heldout=models/heldout")
        files = sorted(Path(folder).glob("*.onnx"))
        if not files:
            fail(f"--folder {entry!r}: no .onnx files in {folder}")
        for path in files:
            add(path.stem, path, label)
    return models, labels


def batches_of(text: str) -> list[int]:
    try:
        batches = [int(b) for b in text.split(",") if b.strip()]
    except ValueError:
        batches = []
    if not batches or min(batches) < 1:
        fail(f"--batches {text!r}: expected positive batch sizes separated by commas, e.g. 1,8")
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", action="append", default=[], metavar="[LABEL=]NAMES",
                        help=f"zoo networks separated by commas, in the set LABEL ({ZOO}) (repeatable)")
    parser.add_argument("--folder", action="append", default=[], metavar="LABEL=DIR",
                        help="every .onnx file in DIR, in the set LABEL (repeatable)")
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the networks (3)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds of timing per point and round (1)")
    parser.add_argument("--op-rounds", type=int, default=ROUNDS, help=f"rounds over the single-op cases ({ROUNDS})")
    parser.add_argument("--ops", default="", help="only these single-op families, separated by commas")
    parser.add_argument("--no-op-benchmarks", action="store_true", help="record no single-op cases")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    parser.add_argument("--checkpoint", type=Path, help="keep each point as it is measured, to resume")
    parser.add_argument("--output", type=Path, required=True, help="the recording to write (.json.gz)")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    args = parser.parse_args()
    if args.rounds < 1 or args.op_rounds < 1 or args.duration <= 0:
        fail("--rounds and --op-rounds must be at least 1, --duration positive")
    batches = batches_of(args.batches)
    try:
        models, labels = chosen_models(args.zoo, args.folder)
    except OnnxprofError as exc:
        fail(str(exc))
    if not models:
        fail("no models: name zoo networks (--zoo) or folders of .onnx files (--folder LABEL=DIR)")

    engine, options = "onnxruntime", EngineOptions(threads=args.threads)
    protocol = TimingProtocol(min_duration_s=args.duration)
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    op_bench = None if args.no_op_benchmarks else OpBench(engine, options, ops, rounds=args.op_rounds)
    if op_bench is not None and not op_bench.cases:
        fail(f"--ops {args.ops!r}: no single-op cases of those families")
    settings = checkpoint_settings(models, batches, engine, options, protocol, args.rounds, (), op_bench)
    checkpoint = Checkpoint(args.checkpoint, settings)
    tally = plan(models, batches, protocol, args.rounds, (), op_bench, checkpoint)
    counts = Counter(labels.values())
    sets = ", ".join(f"{n} {label}" for label, n in counts.items())
    print(f"models: {len(models)} ({sets}); batches {','.join(map(str, batches))}; {args.rounds} rounds")
    print(f"plan: {tally.total} points ({tally.describe()}); about "
          f"{duration_text(MACHINE_S + tally.budget_s - tally.done_s)} on a quiet machine"
          + (f"; {tally.reused} already measured ({args.checkpoint})" if tally.reused else ""), flush=True)
    if args.dry_run:
        return
    started = time.perf_counter()

    def progress(what: str) -> None:       # before each measurement, and when one is taken again
        print(f"  [{tally.done}/{tally.total} done, about {duration_text(tally.left_s())} left] {what}", flush=True)

    try:
        device = measure_this_machine(engine=engine, threads=args.threads)
        compute, bandwidth = device.fp32_tflops * 1e12, device.memory_bandwidth_gbs * 1e9
        spill = spill_from_bytes(engine_traits(engine, options))
        print(f"this machine: {compute / 1e9:.1f} GFLOP/s, {bandwidth / 1e9:.1f} GB/s through {engine}; feature "
              f"maps spill past {spill / 1e6:.1f} MB" if spill else "this host lists no CPU cache", flush=True)
        with op_bench if op_bench is not None else nullcontext():
            points = collect(models, batches, engine, options, protocol, rounds=args.rounds, op_bench=op_bench,
                             checkpoint=checkpoint, tally=tally, progress=progress, note=print)
    except KeyboardInterrupt:
        checkpoint.close()
        print(f"{PROG}: stopped; {tally.done} of {tally.total} points measured"
              + (f", kept in {args.checkpoint}: the same command resumes" if args.checkpoint else ""), file=sys.stderr)
        sys.exit(INTERRUPTED)
    except OnnxprofError as exc:
        fail(str(exc))
    recording = record(points, checkpoint, models, labels, host_facts(engine, options, compute, bandwidth, spill),
                       op_bench)
    checkpoint.close()
    rebuilt = rebuild(recording)
    if [p.kernels for p in rebuilt.points] != [p.kernels for p in points] or (
            op_bench is not None and list(rebuilt.op_timings) != list(op_bench.timings)):
        fail("the recording does not rebuild the kernel timings measured; not written")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_recording(recording, args.output)
    checkpoint.remove()          # its points are in the recording
    missing = sorted({name for name, _ in models} - {p.model for p in points})
    print(f"wrote {args.output}: {len(points)} points of {len(recording.models)} models, "
          f"{len(recording.op_cases)} single-op cases, {args.output.stat().st_size / 1e6:.2f} MB, "
          f"in {duration_text(time.perf_counter() - started)}"
          + (f"; left out (failed to run): {', '.join(missing)}" if missing else ""))
    busy = [f"{p.model}@{p.batch}" for p in points if not p.quiet]
    if busy:
        print(f"{len(busy)} points found the machine busy in every round: {', '.join(busy)}")


if __name__ == "__main__":
    main()
