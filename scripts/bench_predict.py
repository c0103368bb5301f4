"""Benchmark: calibrate on zoo networks with ONNX Runtime on this CPU and print, at batch 1 and 8,
each model's held-out (leave-one-model-out) predicted and measured latency, the share within ±10 %
and Spearman ρ for the operations model (the paper's), the per-node roofline and the kernel model,
side by side, then the memory model's error (peak RSS as ``onnxprof measure`` reports it). With
``--new DIR`` (ONNX files, e.g. from scripts/export_torch_models.py), every predictor is then fitted
on the whole zoo set and judged on those models, which it never saw.

Timings and profiles are taken in ``--rounds`` interleaved rounds and each model keeps its fastest,
so that load from elsewhere on a shared machine lands on one round of several models, not on one
model; a model none of whose rounds a machine probe found quiet is measured again, and those that
never found the machine quiet are listed.

Run: python scripts/bench_predict.py [--models resnet18,...] [--batches 1,8] [--rounds 3] [--new DIR]
Target (issue 7): ≥ 90 % of models within ±10 % and ρ ≥ 0.95 for the best predictor.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Sequence

from onnxprof.engines import engine_traits
from onnxprof.measure.harness import TimingProtocol
from onnxprof.predict.calibrate import (PredictorQuality, best, collect, leave_one_model_out, memory_held_out_rmspe,
                                       predict_new_models, repeatability)
from onnxprof.predict.calibration_data import CalibrationPoint
from onnxprof.predict.memory import fit_memory
from onnxprof.predict.metrics import fit_quality
from onnxprof.predict.microbench import measure_this_machine, spill_from_bytes
from onnxprof.predict.opbench import OpBench
from onnxprof.zoo.export import export

DEFAULT_MODELS = ("resnet18,resnet34,resnet50,mobilenet-v2,squeezenet1.1,googlenet,efficientnet-b0,alexnet,"
                  "inception-v3,bn-nin,bn-alexnet,enet,vgg16")


def print_results(title: str, results: Sequence[PredictorQuality]) -> None:
    for batch in sorted({r.batch for r in results}):
        rows = [r for r in results if r.batch == batch]
        print(f"\n{title}, batch {batch}: predicted vs measured latency (ms)")
        print(f"  {'model':<20}{'measured':>10}" + "".join(f"{r.predictor:>14}{'err':>7}" for r in rows))
        for model, measured in rows[0].measured_ms.items():
            cells = "".join(f"{r.predicted_ms[model]:>14.2f}{(r.predicted_ms[model] / measured - 1):>+7.0%}" for r in rows)
            print(f"  {model:<20}{measured:>10.2f}{cells}")
        for r in rows:
            q = r.quality
            print(f"  {r.predictor:<11} within ±10 %: {q.share_within_10pct:.0%}  Spearman ρ {q.spearman_rho:.3f}  "
                  f"RMSPE {q.rmspe:.1%}  (n={q.n})")
    print(f"  best: {best(results)}")


def print_memory(zoo: Sequence[CalibrationPoint], new: Sequence[CalibrationPoint]) -> None:
    samples = [s for s in (p.memory_sample() for p in zoo) if s is not None]
    if len(samples) < 2:
        return
    model = fit_memory(samples)
    held_out = memory_held_out_rmspe(zoo)
    print(f"\nmemory (peak RSS): zoo held out RMSPE {held_out:.1%}" if held_out is not None else "\nmemory (peak RSS)")
    pairs = [(p, model.predict_sample(s)) for p in new for s in [p.memory_sample()] if s is not None]
    if not pairs:
        return
    print("new models, fitted on the zoo set: predicted vs measured peak RSS (MB)")
    print(f"  {'model':<20}{'batch':>6}{'measured':>10}{'predicted':>11}{'err':>7}")
    for point, predicted in pairs:
        print(f"  {point.model:<20}{point.batch:>6}{point.peak_rss_bytes / 1e6:>10.1f}{predicted / 1e6:>11.1f}"
              f"{predicted / point.peak_rss_bytes - 1:>+7.0%}")
    q = fit_quality([p for _, p in pairs], [point.peak_rss_bytes for point, _ in pairs])
    print(f"  within ±10 %: {q.share_within_10pct:.0%}  RMSPE {q.rmspe:.1%}  (n={q.n})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new", type=Path, help="a folder of .onnx models never used for calibration")
    args = parser.parse_args()
    started = time.perf_counter()
    names = [n for n in args.models.split(",") if n]
    batches = [int(b) for b in args.batches.split(",")]
    device = measure_this_machine()
    compute = device.fp32_tflops * 1e12
    bandwidth = device.memory_bandwidth_gbs * 1e9
    print(f"this machine: {compute / 1e9:.1f} GFLOP/s fp32, {bandwidth / 1e9:.1f} GB/s (measured through ONNX Runtime)")
    protocol = TimingProtocol(min_duration_s=args.duration)

    def progress(what: str) -> None:
        print(f"  {time.perf_counter() - started:6.0f} s  measuring {what}", flush=True)

    # one collection for both sets and the single-op benchmarks: its rounds interleave them, so a few
    # minutes of load from elsewhere land on one round of every model rather than on every round of the
    # last ones timed
    new_models = [(path.stem, path) for path in sorted(args.new.glob("*.onnx"))] if args.new else []
    with OpBench(progress=progress) as op_bench:
        points = collect([(name, export(name).path) for name in names] + new_models, batches, protocol=protocol,
                         rounds=args.rounds, progress=progress, unprofiled={name for name, _ in new_models},
                         op_bench=op_bench)
    op_timings = op_bench.timings
    print(f"single-op benchmarks: {len(op_timings)} kernels")
    busy = [f"{p.model}@{p.batch}" for p in points if not p.quiet]
    print(f"points with no quiet timing or profile: {len(busy)} of {len(points)}"
          + (f" ({', '.join(busy)})" if busy else ""))
    print(repeatability(points) or "repeatability: one round each, not known")
    zoo = [p for p in points if p.model in names]
    spill = spill_from_bytes(engine_traits("onnxruntime"))
    print(f"kernel model: feature maps past {spill / 1e6:.1f} MB stream from a shared cache or memory" if spill else
          "kernel model: this host lists no CPU cache; no term for maps that outgrow it")
    print_results("zoo, leave-one-model-out", leave_one_model_out(zoo, compute, bandwidth, op_timings, spill))
    if new_models:
        print_results(f"new models ({args.new}), fitted on the zoo set",
                      predict_new_models(zoo, [p for p in points if p.model not in names], compute, bandwidth,
                                         op_timings, spill))
    print_memory(zoo, [p for p in points if p.model not in names])
    print(f"\ntarget: ≥ 90 % within ±10 %, ρ ≥ 0.95;  {time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
