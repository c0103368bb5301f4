"""Benchmark: full `onnxprof analyze` of generated MatMul+Relu chains (1k, 10k, 40k nodes), each
64×64 weight stored in the file, as a whole process (Python start-up included), with peak RSS; and a
model whose weights (2.7 GB) live in external data, which must analyse in little memory.

Run: python scripts/bench_analyze.py [--sizes 1000 10000 40000] [--external-gb 2.7] [--keep DIR]
Prints per size: wall seconds, peak RSS, the marginal seconds per 1k nodes since the previous size
(flat when time grows linearly: start-up is a constant), and for comparison in the same run the time
of onnx.load + onnx shape inference alone on the same file, with the ratio of the two.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TARGET_40K_S = 3.0
TARGET_EXTERNAL_RSS_MB = 300


def chain_model(nodes: int, width: int = 64) -> onnx.ModelProto:
    """nodes/2 × (MatMul with its own width×width weight, Relu)."""
    rng = np.random.default_rng(0)
    graph_nodes, weights, x = [], [], "x"
    for i in range(nodes // 2):
        weights.append(numpy_helper.from_array(rng.standard_normal((width, width), dtype=np.float32) * 0.1, f"w{i}"))
        graph_nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"m{i}"], name=f"block{i}.matmul"))
        graph_nodes.append(helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"block{i}.relu"))
        x = f"r{i}"
    graph = helper.make_graph(graph_nodes, f"chain{nodes}", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, width])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def external_model(folder: Path, gigabytes: float, width: int = 8192) -> Path:
    """A Gemm chain whose weights (sparse file, never written) live in one external data file."""
    layers = max(1, int(gigabytes * 1e9 // (width * width * 4)))
    nodes, weights, x, offset = [], [], "x", 0
    for i in range(layers):
        w = TensorProto(name=f"w{i}", data_type=TensorProto.FLOAT, dims=[width, width])
        w.data_location = TensorProto.EXTERNAL
        length = width * width * 4
        for key, value in (("location", "weights.bin"), ("offset", str(offset)), ("length", str(length))):
            entry = w.external_data.add()
            entry.key, entry.value = key, value
        offset += length
        weights.append(w)
        nodes.append(helper.make_node("MatMul", [x, f"w{i}"], [f"y{i}"], name=f"fc{i}"))
        x = f"y{i}"
    graph = helper.make_graph(nodes, "external", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", width])],
                              [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["N", width])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = folder / "external.onnx"
    onnx.save(model, path)
    with open(folder / "weights.bin", "wb") as f:  # sparse: the size is real, the blocks are not
        f.truncate(offset)
    return path


def run_analyze(path: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `onnxprof analyze --format json` process."""
    # VmHWM: peak resident size of this process image (ru_maxrss would include the forking parent's).
    code = ("import sys, runpy; sys.argv = ['onnxprof', 'analyze', sys.argv[1], '--format', 'json', "
            "'-o', sys.argv[2]];\ntry:\n    runpy.run_module('onnxprof', run_name='__main__')\nfinally:\n"
            "    print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(path), os.devnull], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"analyze failed on {path}: {done.stderr.strip()}")
    return elapsed, int(done.stderr.strip().splitlines()[-1]) / 1024


def onnx_baseline(path: Path) -> float:
    """onnx.load + onnx's own shape inference (data propagation on) in a fresh process."""
    code = ("import onnx, onnx.shape_inference, sys; m = onnx.load(sys.argv[1]); "
            "onnx.shape_inference.infer_shapes(m, data_prop=True)")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 40000])
    parser.add_argument("--external-gb", type=float, default=2.7)
    parser.add_argument("--keep", type=Path, help="write the generated models here instead of a temp folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="onnxprof-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"{'nodes':>7} {'file MB':>8} {'analyze s':>10} {'marginal s/1k':>14} {'peak RSS MB':>12} "
          f"{'onnx load+infer s':>18} {'ratio':>6}")
    previous = None
    for size in args.sizes:
        path = folder / f"chain{size}.onnx"
        if not path.exists():
            onnx.save(chain_model(size), path)
        seconds, rss = run_analyze(path)
        baseline = onnx_baseline(path)
        marginal = "" if previous is None else f"{(seconds - previous[1]) / (size - previous[0]) * 1000:.3f}"
        previous = (size, seconds)
        print(f"{size:>7} {path.stat().st_size / 1e6:>8.1f} {seconds:>10.2f} {marginal:>14} "
              f"{rss:>12.0f} {baseline:>18.2f} {seconds / baseline:>6.2f}")
        if size == 40000:
            verdict = "meets" if seconds <= TARGET_40K_S else "MISSES"
            print(f"        40k-node target ≤ {TARGET_40K_S:.0f} s: {verdict}")
    ext_path = external_model(folder, args.external_gb)
    seconds, rss = run_analyze(ext_path)
    weights = (folder / "weights.bin").stat().st_size / 1e9
    verdict = "meets" if rss < TARGET_EXTERNAL_RSS_MB else "MISSES"
    print(f"external data: {weights:.2f} GB of weights analysed in {seconds:.2f} s at {rss:.0f} MB peak RSS "
          f"(target < {TARGET_EXTERNAL_RSS_MB} MB: {verdict})")


if __name__ == "__main__":
    main()
