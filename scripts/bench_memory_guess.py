"""Benchmark: how far the memory that `onnxprof measure` predicts without a calibration is from the
peak RSS it then measures, with ONNX Runtime on this CPU. Side by side, per model and batch size:

- ``weights+act``: the process before the engine + weights + peak activations (the guess before
  onnxprof knew what ONNX Runtime adds);
- ``default``: the process + predict.basic.ONNXRUNTIME_CPU_MEMORY (what `measure` prints now);
- ``fitted``: the process + a memory model fitted on this run's zoo models (leave-one-model-out for
  the zoo; on the whole zoo for ``--new`` models), i.e. what the default would be if fitted here.

Each model is measured by measure's sweep in a process of its own (measure.isolated.sweep_in_own_process).
The default was fitted on 8 of the zoo models, so its zoo figures are partly in-sample; ``--new``
models (e.g. from scripts/export_torch_models.py) are outside every fit.

Run: python scripts/bench_memory_guess.py [--models resnet18,...] [--batches 1,8] [--new DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

from bench_predict import DEFAULT_MODELS
from onnxprof.cost.analysis import analyze
from onnxprof.measure.isolated import MEMORY_PROTOCOL, sweep_in_own_process
from onnxprof.measure.records import OK
from onnxprof.measure.sweep import SweepPlan
from onnxprof.model.shapes import ShapeBinding
from onnxprof.predict.basic import ONNXRUNTIME_CPU_MEMORY, engine_bytes
from onnxprof.predict.memory import MemoryModel, MemorySample, conv_weight_bytes, fit_memory
from onnxprof.predict.metrics import fit_quality
from onnxprof.zoo.export import export

GUESSES = ("weights+act", "default", "fitted")
# the guess before the default: each weight and activation byte once, nothing for the engine itself
WEIGHTS_AND_ACTIVATIONS = MemoryModel(floor_bytes=0.0, weight_slope=1.0, activation_slope=1.0, conv_weight_slope=1.0)


def measured_samples(name: str, path: Path, batches: Sequence[int]) -> list[tuple[str, MemorySample, float]]:
    """(model, sample, process bytes) per batch that measure ran: the sample's measured bytes are what
    the engine added over the process before it (the command's own prediction less the default's part)."""
    try:
        run = sweep_in_own_process(SweepPlan(str(path), path, tuple(batches), protocol=MEMORY_PROTOCOL))
    except Exception as exc:
        print(f"  {name}: the sweep failed ({exc}); left out")
        return []
    samples = []
    for result in run.batches:
        batch, peak = result.batch, result.memory.peak_rss_bytes if result.memory else None
        predicted = run.predictions[batch]["peak_rss_bytes"]
        if result.status != OK or not peak or predicted is None:
            continue
        report = analyze(path, ShapeBinding(batch=batch), check=False)
        process = predicted - engine_bytes(report, batch, ONNXRUNTIME_CPU_MEMORY)
        samples.append((name, MemorySample(report.memory.weight_bytes, report.memory.peak_activation_bytes / batch,
                                           batch, peak - process, conv_weight_bytes(report)), process))
    return samples


def guesses(sample: MemorySample, process: float, fitted: MemoryModel) -> dict[str, float]:
    return {"weights+act": process + WEIGHTS_AND_ACTIVATIONS.predict_sample(sample),
            "default": process + ONNXRUNTIME_CPU_MEMORY.predict_sample(sample),
            "fitted": process + fitted.predict_sample(sample)}


def print_group(title: str, rows: Sequence[tuple[str, MemorySample, float, dict]]) -> None:
    print(f"\n{title}: predicted vs measured peak RSS (MB)")
    print(f"  {'model':<20}{'batch':>6}{'measured':>10}" + "".join(f"{g:>13}{'err':>6}" for g in GUESSES))
    for name, sample, process, predicted in rows:
        measured = process + sample.measured_bytes
        print(f"  {name:<20}{sample.batch:>6}{measured / 1e6:>10.1f}"
              + "".join(f"{predicted[g] / 1e6:>13.1f}{predicted[g] / measured - 1:>+6.0%}" for g in GUESSES))
    for batch in sorted({sample.batch for _, sample, _, _ in rows}):
        chosen = [(s, p, g) for _, s, p, g in rows if s.batch == batch]
        measured = [p + s.measured_bytes for s, p, _ in chosen]
        cells = []
        for guess in GUESSES:
            q = fit_quality([g[guess] for _, _, g in chosen], measured)
            cells.append(f"{guess} {q.share_within_10pct:.0%} within ±10 %, RMSPE {q.rmspe:.1%}")
        print(f"  batch {batch}: " + ";  ".join(cells))


def describe(model: MemoryModel) -> str:
    return (f"floor {model.floor_bytes / 1e6:.0f} MB, convolution weights ×{model.conv_weight_slope:.2f}, "
            f"other weights ×{model.weight_slope:.2f}, activations ×{model.activation_slope:.2f} per image")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--new", type=Path, help="a folder of .onnx models outside the default's fit")
    args = parser.parse_args()
    started = time.perf_counter()
    batches = [int(b) for b in args.batches.split(",")]
    zoo = [s for name in args.models.split(",") if name for s in measured_samples(name, export(name).path, batches)]
    new_paths = sorted(args.new.glob("*.onnx")) if args.new else []
    new = [s for path in new_paths for s in measured_samples(path.stem, path, batches)]
    if len({name for name, _, _ in zoo}) < 3:
        raise SystemExit("fewer than 3 zoo models measured: nothing to fit")
    held_out = []
    for name, sample, process in zoo:
        fitted = fit_memory([s for other, s, _ in zoo if other != name])
        held_out.append((name, sample, process, guesses(sample, process, fitted)))
    print_group("zoo models (fitted: leave-one-model-out)", held_out)
    whole = fit_memory([s for _, s, _ in zoo])
    if new:
        print_group("new models (fitted: on the whole zoo)", [(n, s, p, guesses(s, p, whole)) for n, s, p in new])
    print(f"\ndefault: {describe(ONNXRUNTIME_CPU_MEMORY)}\nfitted on this run's zoo: {describe(whole)}")
    print(f"took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
