"""Benchmark: what the measurement harness adds per inference, against a bare ``session.run`` loop on
the same model in the same process (target: ≤ 2 % on a ~1 ms model).

Run: python scripts/bench_measure.py [--runs 2000] [--rounds 5]
Alternates bare loop and harness for several rounds and compares the medians of the per-inference
wall times (total time of the loop ÷ runs), so machine noise hits both sides alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnxprof.engines.base import EngineOptions
from onnxprof.engines.onnxruntime import OnnxRuntimeEngine
from onnxprof.measure.harness import TimingProtocol, time_batch


def mlp_model(path: Path, width: int = 1024, layers: int = 4) -> None:
    """A MatMul+Relu stack sized to run in about a millisecond on a small CPU."""
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array((rng.standard_normal((width, width)) * 0.03).astype(np.float32), f"w{i}"))
        nodes += [helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"]), helper.make_node("Relu", [f"m{i}"], [f"r{i}"])]
        x = f"r{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", width])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, path)


def bare_loop(session, feeds: dict, runs: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(runs):
        session.run(None, feeds)
    return (time.perf_counter_ns() - start) / runs / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    import onnxruntime as ort

    path = Path(tempfile.mkdtemp(prefix="onnxprof-bench-")) / "mlp.onnx"
    mlp_model(path)
    feeds = {"x": np.random.default_rng(1).standard_normal((args.batch, 1024)).astype(np.float32)}
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    protocol = TimingProtocol(warmup_runs=50, warmup_s=0.0, min_runs=args.runs, min_duration_s=0.0)
    bare, harness = [], []
    with OnnxRuntimeEngine(path, EngineOptions()) as engine:
        bare_loop(session, feeds, 200)  # warm-up of the bare session
        for _ in range(args.rounds):
            bare.append(bare_loop(session, feeds, args.runs))
            result = time_batch(engine, feeds, args.batch, protocol)
            harness.append(result.latency.total_s * 1000 / result.latency.samples)
    b, h = statistics.median(bare), statistics.median(harness)
    print(f"model: 4 × MatMul 1024×1024 + Relu, batch {args.batch}; {args.runs} runs × {args.rounds} rounds")
    print(f"bare session.run loop   {b:.4f} ms per inference (rounds: {', '.join(f'{x:.4f}' for x in bare)})")
    print(f"onnxprof harness        {h:.4f} ms per inference (rounds: {', '.join(f'{x:.4f}' for x in harness)})")
    print(f"ratio harness / bare    {h / b:.4f}  ({(h / b - 1):+.2%}; target ≤ +2 %)")


if __name__ == "__main__":
    main()
