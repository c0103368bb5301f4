"""Benchmark: calibrate on zoo networks with ONNX Runtime on this CPU and print, at batch 1 and 8,
each model's held-out (leave-one-model-out) predicted and measured median latency, the share within
±10 % and Spearman ρ for the operations model (the paper's), the per-node roofline and the kernel-time
model, side by side. Timings are taken in ``--rounds`` interleaved rounds (median of rounds), so that
load from elsewhere on a shared machine lands on one round of several models, not on one model.

Run: python scripts/bench_predict.py [--models resnet18,resnet34,...] [--batches 1,8] [--duration 1] [--rounds 3]
Target (issue 7): ≥ 90 % of models within ±10 % and ρ ≥ 0.95 for the best predictor.
"""

from __future__ import annotations

import argparse

from onnxprof.measure.harness import TimingProtocol
from onnxprof.predict.calibrate import best, collect, leave_one_model_out
from onnxprof.predict.microbench import measure_this_machine
from onnxprof.zoo.export import export

DEFAULT_MODELS = ("resnet18,resnet34,resnet50,mobilenet-v2,squeezenet1.1,googlenet,efficientnet-b0,alexnet,"
                  "inception-v3,bn-nin,bn-alexnet,enet,vgg16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=DEFAULT_MODELS)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--duration", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = [n for n in args.models.split(",") if n]
    batches = [int(b) for b in args.batches.split(",")]
    device = measure_this_machine()
    compute = device.fp32_tflops * 1e12
    bandwidth = device.memory_bandwidth_gbs * 1e9
    print(f"this machine: {compute / 1e9:.1f} GFLOP/s fp32, {bandwidth / 1e9:.1f} GB/s (measured through ONNX Runtime)")
    models = [(name, export(name).path) for name in names]
    points = collect(models, batches, protocol=TimingProtocol(min_duration_s=args.duration), rounds=args.rounds,
                     progress=lambda what: print(f"  measuring {what}", flush=True))
    results = leave_one_model_out(points, compute, bandwidth)
    for batch in batches:
        rows = [r for r in results if r.batch == batch]
        if not rows:
            continue
        print(f"\nbatch {batch}: held-out predicted vs measured median latency (ms)")
        print(f"  {'model':<16}{'measured':>10}" + "".join(f"{r.predictor:>14}{'err':>7}" for r in rows))
        for model, measured in rows[0].measured_ms.items():
            cells = "".join(f"{r.predicted_ms[model]:>14.2f}{(r.predicted_ms[model] / measured - 1):>+7.0%}" for r in rows)
            print(f"  {model:<16}{measured:>10.2f}{cells}")
        for r in rows:
            q = r.quality
            print(f"  {r.predictor:<11} within ±10 %: {q.share_within_10pct:.0%}  Spearman ρ {q.spearman_rho:.3f}  "
                  f"RMSPE {q.rmspe:.1%}  (n={q.n})")
    print(f"\nbest predictor: {best(results)}  (target: ≥ 90 % within ±10 %, ρ ≥ 0.95)")


if __name__ == "__main__":
    main()
