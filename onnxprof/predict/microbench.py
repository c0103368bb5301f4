"""Profile "this machine" by measuring it through an engine, as a model would run.

Two one-node ONNX models, built with onnx.helper and run by the chosen engine and provider:

* a square fp32 MatMul (n×n by n×n): compute rate = 2·n³ FLOPs ÷ the median run time;
* an fp32 Add of two large vectors: bandwidth = bytes read + written (3 × 4 × elements) ÷ the median run time.

Medians of repeated runs after one warm-up, each kernel within half the ``seconds`` budget. The result is
a :class:`DeviceProfile` whose measured fields are sourced "measured by onnxprof on <host> <date>"; what a
micro-benchmark cannot tell (fp16/int8 rates, power) stays None with its reason.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from onnxprof.engines.traits import EngineTraits
from onnxprof.predict.devices import DeviceProfile

OPSET = 17
CPUS = Path("/sys/devices/system/cpu")
CPU_CACHES = CPUS / "cpu0" / "cache"
# The cache level each core owns: a kernel's feature maps past what these hold for the engine's threads
# stream from a cache shared with every other core, and on a cloud guest with other tenants (whose sysfs
# lists the host's whole L3: 300 and 480 MB on two 2-core guests) from memory. Through ONNX Runtime on
# a 2-core guest with 2 MB of L2 a core, an fp32 Add ran at 96-115 GB/s on 2-4 MB, 53-56 GB/s on
# 8-64 MB and 30-36 GB/s on 256-512 MB.
PRIVATE_LEVEL = 2
# Where no such level is listed, maps stream once they pass this share of the last-level cache (its
# other half holds the weights, the next kernel's start and the other cores' work)
SPILL_SHARE = 0.5


def _model(path: Path, op: str, a_shape: list[int], b_shape: list[int], y_shape: list[int]) -> Path:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node(op, ["a", "b"], ["y"], name=op.lower())], f"microbench_{op.lower()}",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, a_shape),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, b_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="onnxprof")
    model.ir_version = 8                      # readable by older runtimes (JetPack builds) too
    onnx.save(model, str(path))
    return path


def _median_run_s(run: Callable[[], None], budget_s: float, min_runs: int = 3, max_runs: int = 200) -> float:
    """Median wall time of ``run`` over repeated calls within ``budget_s`` (at least ``min_runs``)."""
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() < deadline):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _time_model(engine_name: str, options, path: Path, feeds: dict[str, np.ndarray], budget_s: float) -> float:
    from onnxprof.engines import create_engine

    with create_engine(engine_name, path, options) as engine:
        engine.activate(feeds)
        try:
            engine.infer()                                    # warm-up: allocation, kernel choice
            clock = getattr(engine, "device_time_ms", None)
            if clock is not None and clock() is not None:     # GPU engines: time on the device clock
                times = []
                deadline = time.perf_counter() + budget_s
                while len(times) < 3 or (time.perf_counter() < deadline and len(times) < 200):
                    times.append(engine.device_time_ms() / 1000)
                return statistics.median(times)
            return _median_run_s(engine.infer, budget_s)
        finally:
            engine.deactivate()


def measure_this_machine(engine: str = "onnxruntime", provider: str = "cpu", seconds: float = 4.0,
                         matmul_size: int = 1024, add_elements: int = 1 << 24, threads: int = 0) -> DeviceProfile:
    """Measure this machine's fp32 compute rate and memory bandwidth through ``engine`` on ``provider``.

    ``seconds`` is the timing budget (half per kernel; model building and the warm-up come on top).
    ``add_elements`` fp32 elements per Add operand: 2^24 (64 MiB each) is well past any cache.
    """
    from onnxprof.engines import engine_traits
    from onnxprof.engines.base import EngineOptions

    options = EngineOptions(provider=provider, threads=threads)
    rng = np.random.default_rng(0)
    n = int(matmul_size)
    with tempfile.TemporaryDirectory(prefix="onnxprof_microbench_") as tmp:
        matmul = _model(Path(tmp) / "matmul.onnx", "MatMul", [n, n], [n, n], [n, n])
        mm_feeds = {"a": rng.standard_normal((n, n), dtype=np.float32),
                    "b": rng.standard_normal((n, n), dtype=np.float32)}
        matmul_s = _time_model(engine, options, matmul, mm_feeds, seconds / 2)
        del mm_feeds
        m = int(add_elements)
        add = _model(Path(tmp) / "add.onnx", "Add", [m], [m], [m])
        add_feeds = {"a": np.ones(m, np.float32), "b": np.ones(m, np.float32)}
        add_s = _time_model(engine, options, add, add_feeds, seconds / 2)

    gflops = 2 * n ** 3 / matmul_s / 1e9
    gbs = 3 * 4 * m / add_s / 1e9
    host = platform.node() or "this host"
    stamp = f"measured by onnxprof on {host} {datetime.date.today().isoformat()}"
    how = f"{engine}/{provider}"
    traits = engine_traits(engine, options)
    memory_gb, memory_source = _memory_gb(traits, host)
    not_measured = "none found: not measured by the micro-benchmark"
    return DeviceProfile(
        name="this-machine", title=f"{host} ({platform.machine()}, {how})",
        kind=traits.device_kind,
        fp32_tflops=gflops / 1000,
        fp32_tflops_source=f"{stamp}: fp32 MatMul {n}x{n}x{n} through {how}, 2·n³ FLOPs ÷ median "
                           f"{matmul_s * 1e3:.3f} ms ({gflops:.1f} GFLOP/s)",
        fp16_tflops=None, fp16_tflops_source=not_measured,
        int8_tops=None, int8_tops_source=not_measured,
        memory_bandwidth_gbs=gbs,
        memory_bandwidth_gbs_source=f"{stamp}: fp32 Add of {m} elements through {how}, 12 bytes read+written "
                                    f"per element ÷ median {add_s * 1e3:.3f} ms",
        memory_gb=memory_gb, memory_gb_source=memory_source,
        idle_power_w=None, idle_power_w_source="none found: power needs a meter (onnxprof meters)",
        max_power_w=None, max_power_w_source="none found: power needs a meter (onnxprof meters)",
        notes=f"{platform.processor() or platform.machine()}; sustained rates through the engine, not peaks",
    )


def _memory_gb(traits: EngineTraits, host: str) -> tuple[object, str]:
    if not traits.runs_on_host:
        return None, "none found: device memory is not read by the micro-benchmark"
    try:
        import psutil
    except ImportError:
        return None, "none found: psutil is not installed"
    return (psutil.virtual_memory().total / 1e9,
            f"psutil.virtual_memory().total on {host} {datetime.date.today().isoformat()}")


def last_level_cache_bytes(caches: Path = CPU_CACHES) -> Optional[int]:
    """The largest data or unified cache the OS lists for the first CPU (Linux sysfs); None elsewhere."""
    sizes = [size for *_, size in _data_caches(caches)]
    return max(sizes, default=None)


def private_cache_bytes(cpus: Path = CPUS, cpu_ids: Optional[Sequence[int]] = None) -> Optional[int]:
    """The data or unified caches of PRIVATE_LEVEL that serve the CPUs this process may run on (``cpu_ids``;
    None: its affinity), each counted once however many CPUs share it (Linux sysfs); None where none is listed."""
    if cpu_ids is None:
        cpu_ids = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else range(os.cpu_count() or 1)
    instances = {}
    for cpu in cpu_ids:
        for shared_by, level, size in _data_caches(cpus / f"cpu{cpu}" / "cache"):
            if level == PRIVATE_LEVEL:
                instances[shared_by or f"cpu{cpu}"] = size
    return sum(instances.values()) or None


def _data_caches(caches: Path) -> list[tuple[str, Optional[int], int]]:
    """(the CPUs sharing it, level, bytes) of each data or unified cache listed in a sysfs cache folder."""
    listed = []
    for index in caches.glob("index*"):
        try:
            if (index / "type").read_text().strip() == "Instruction":
                continue
            size = (index / "size").read_text().strip().upper()
            level = _read_or_none(index / "level")
            shared_by = _read_or_none(index / "shared_cpu_list") or ""
        except OSError:
            continue
        scale = {"K": 1 << 10, "M": 1 << 20}.get(size[-1:], 1)
        digits = size.rstrip("KM")
        if digits.isdigit():
            listed.append((shared_by, int(level) if level and level.isdigit() else None, int(digits) * scale))
    return listed


def _read_or_none(path: Path) -> Optional[str]:
    return path.read_text().strip() if path.exists() else None


def spill_from_bytes(traits: EngineTraits, cpus: Path = CPUS) -> Optional[float]:
    """Activation bytes past which a kernel's feature maps stream from a shared cache or memory
    (kernels.KernelModel), for an engine that runs on this host's CPU: what its cores' own caches hold
    (PRIVATE_LEVEL), else SPILL_SHARE of the last-level cache; None for a device or a host that lists no cache."""
    if not traits.runs_on_host:
        return None
    private = private_cache_bytes(cpus)
    if private:
        return float(private)
    cache = last_level_cache_bytes(cpus / "cpu0" / "cache")
    return SPILL_SHARE * cache if cache else None
