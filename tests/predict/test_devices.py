"""Device profiles: every fact sourced, units plausible, lookups; and the measured "this machine" profile."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from importlib import resources

import pytest

from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.errors import UsageError
from onnxprof.predict.devices import KINDS, NONE_FOUND, VALUE_FIELDS, DeviceProfile, device, devices

JETSONS = {"jetson-tx1", "jetson-tx2", "jetson-nano", "jetson-xavier-nx", "jetson-agx-xavier",
           "jetson-orin-nano-8gb", "jetson-agx-orin-64gb"}


def _raw_entries() -> list[dict]:
    text = resources.files("onnxprof.predict").joinpath("devices.json").read_text(encoding="utf-8")
    return json.loads(text)["devices"]


def test_table_has_the_jetsons_and_some_gpus():
    table = devices()
    assert JETSONS <= set(table)
    assert sum(p.kind == "gpu" for p in table.values()) >= 5
    assert all(p.kind in KINDS for p in table.values())


def test_names_are_unique_and_keys_match():
    names = [entry["name"] for entry in _raw_entries()]
    assert len(names) == len(set(names))
    assert all(name == profile.name for name, profile in devices().items())


@pytest.mark.parametrize("name", sorted(n["name"] for n in _raw_entries()))
def test_every_field_has_a_source(name):
    profile = device(name)
    assert profile.title
    for field in VALUE_FIELDS:
        value, source = getattr(profile, field), getattr(profile, field + "_source")
        assert isinstance(source, str) and source.strip(), f"{name}.{field} has no source"
        if value is None:
            assert source.startswith(NONE_FOUND), f"{name}.{field} is null but its source is {source!r}"
        else:
            assert isinstance(value, (int, float)) and value > 0, f"{name}.{field} = {value!r}"
            assert not source.startswith(NONE_FOUND), f"{name}.{field} has a value but says {source!r}"


def test_entries_carry_exactly_the_dataclass_fields():
    fields = {f.name for f in dataclasses.fields(DeviceProfile)}
    for entry in _raw_entries():
        assert set(entry) == fields, entry["name"]


def test_units_are_plausible():
    for profile in devices().values():
        if profile.fp32_tflops is not None:
            assert 0.1 <= profile.fp32_tflops <= 200, profile.name          # TFLOPS, not GFLOPS or FLOPS
        if profile.fp16_tflops is not None and profile.fp32_tflops is not None:
            assert profile.fp16_tflops >= profile.fp32_tflops, profile.name
        if profile.memory_bandwidth_gbs is not None:
            assert 10 <= profile.memory_bandwidth_gbs <= 10_000, profile.name  # GB/s
        if profile.memory_gb is not None:
            assert 1 <= profile.memory_gb <= 256, profile.name              # GB, not bytes
        if profile.max_power_w is not None:
            assert 1 <= profile.max_power_w <= 1_000, profile.name
        if profile.idle_power_w is not None and profile.max_power_w is not None:
            assert profile.idle_power_w < profile.max_power_w, profile.name


def test_tx1_matches_the_paper_and_its_datasheet():
    tx1 = device("jetson-tx1")
    assert tx1.kind == "jetson"
    assert tx1.fp32_tflops == pytest.approx(0.512, rel=0.05)
    assert tx1.fp16_tflops == pytest.approx(1.0, rel=0.05)          # the paper's "1 T-Flop/s"
    assert tx1.memory_gb == 4
    assert tx1.memory_bandwidth_gbs == pytest.approx(25.6)
    assert tx1.idle_power_w == pytest.approx(1.30)
    assert tx1.max_power_w == pytest.approx(1.30 + 11.8)
    assert "Canziani" in tx1.idle_power_w_source
    assert tx1.fp32_macs_per_s == pytest.approx(0.256e12, rel=0.05)


def test_data_centre_gpus_are_ordered_as_published():
    assert device("h100-sxm").fp32_tflops > device("a100-40gb-sxm").fp32_tflops > device("t4").fp32_tflops
    assert device("h100-sxm").memory_bandwidth_gbs > device("a100-40gb-sxm").memory_bandwidth_gbs
    assert device("jetson-tx1").ridge_flops_per_byte == pytest.approx(512e9 / 25.6e9)


def test_unknown_device_names_the_available_ones():
    with pytest.raises(UsageError) as info:
        device("nope")
    message = str(info.value)
    assert "'nope'" in message
    for name in ("jetson-tx1", "h100-sxm", "rtx-4090"):
        assert name in message


def test_profiles_are_frozen_and_cached():
    assert devices() is devices()
    with pytest.raises(dataclasses.FrozenInstanceError):
        device("jetson-tx1").fp32_tflops = 1.0


def test_measure_this_machine_through_the_engine():
    pytest.importorskip("onnxruntime")
    from onnxprof.predict.microbench import measure_this_machine

    start = time.perf_counter()
    profile = measure_this_machine(seconds=0.5, matmul_size=256, add_elements=1 << 20)
    elapsed = time.perf_counter() - start
    assert elapsed < 10
    assert isinstance(profile, DeviceProfile)
    assert profile.name == "this-machine" and profile.kind == "cpu"
    # positive and physically sane: between 0.1 GFLOP/s and 100 TFLOPS; 0.1 GB/s to 10 TB/s
    assert 1e-4 < profile.fp32_tflops < 100
    assert 0.1 < profile.memory_bandwidth_gbs < 10_000
    assert profile.fp32_tflops_source.startswith("measured by onnxprof on ")
    assert profile.memory_bandwidth_gbs_source.startswith("measured by onnxprof on ")
    assert "MatMul 256x256x256" in profile.fp32_tflops_source
    assert profile.memory_gb is not None and profile.memory_gb > 0.1
    for field in ("fp16_tflops", "int8_tops", "idle_power_w", "max_power_w"):
        assert getattr(profile, field) is None
        assert getattr(profile, field + "_source").startswith(NONE_FOUND)


def test_microbench_models_are_valid_onnx(tmp_path):
    import onnx

    from onnxprof.predict.microbench import _model

    path = _model(tmp_path / "m.onnx", "MatMul", [4, 4], [4, 4], [4, 4])
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["MatMul"]


def test_unknown_engine_is_a_user_error():
    from onnxprof.engines.base import EngineUnavailable
    from onnxprof.predict.microbench import measure_this_machine

    with pytest.raises(EngineUnavailable):
        measure_this_machine(engine="nope", seconds=0.1, matmul_size=8, add_elements=8)


def _cache_tree(root, cpu: int, caches: dict) -> None:
    """A fake /sys/devices/system/cpu/cpuN/cache: {index: (type, size, level, CPUs sharing it)}."""
    for index, (kind, size, level, shared_by) in caches.items():
        folder = root / f"cpu{cpu}" / "cache" / f"index{index}"
        folder.mkdir(parents=True)
        for name, text in (("type", kind), ("size", size), ("level", level), ("shared_cpu_list", shared_by)):
            if text is not None:
                (folder / name).write_text(text + "\n")


def test_the_spill_threshold_is_what_the_cores_own_caches_hold(tmp_path):
    from onnxprof.predict.microbench import last_level_cache_bytes, private_cache_bytes, spill_from_bytes

    for cpu in (0, 1):      # two cores with 2 MB of L2 each, one 32 MB L3 between them
        _cache_tree(tmp_path, cpu, {0: ("Data", "48K", "1", str(cpu)), 1: ("Instruction", "64M", "2", str(cpu)),
                                    2: ("Unified", "2048K", "2", str(cpu)), 3: ("Unified", "32768K", "3", "0-1")})
    assert last_level_cache_bytes(tmp_path / "cpu0" / "cache") == 32 << 20    # the instruction cache is not counted
    assert private_cache_bytes(tmp_path, [0, 1]) == 4 << 20
    assert private_cache_bytes(tmp_path, [1]) == 2 << 20                    # a process allowed one core
    on_host, on_gpu = engine_traits("onnxruntime"), engine_traits("onnxruntime", EngineOptions(provider="cuda"))
    assert spill_from_bytes(on_host, tmp_path) == (4 << 20 if len(os.sched_getaffinity(0)) > 1 else 2 << 20)
    assert spill_from_bytes(on_gpu, tmp_path) is None       # a GPU's maps are not in this cache
    assert spill_from_bytes(engine_traits("tensorrt"), tmp_path) is None
    assert spill_from_bytes(on_host, tmp_path / "absent") is None


def test_hyperthreads_sharing_a_cache_count_it_once_and_a_host_listing_no_levels_uses_half_its_largest(tmp_path):
    from onnxprof.predict.microbench import SPILL_SHARE, private_cache_bytes, spill_from_bytes

    threads = tmp_path / "threads"
    for cpu in (0, 1):
        _cache_tree(threads, cpu, {0: ("Unified", "1024K", "2", "0-1")})
    assert private_cache_bytes(threads, [0, 1]) == 1 << 20
    unlevelled = tmp_path / "unlevelled"
    _cache_tree(unlevelled, 0, {0: ("Data", "32K", None, None), 1: ("Unified", "16M", None, None)})
    assert private_cache_bytes(unlevelled, [0]) is None
    assert SPILL_SHARE == 0.5 and spill_from_bytes(engine_traits("onnxruntime"), unlevelled) == 8 << 20
