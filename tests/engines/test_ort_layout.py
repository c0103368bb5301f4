"""Which convolutions ONNX Runtime's CPU provider leaves unblocked and where it inserts reorders, read from
the graph it optimises; and how the kernel model prices them."""

from __future__ import annotations

import onnx
import pytest
from onnx import helper

from onnxprof.cost.analysis import analyze
from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.engines.ort_layout import (LAYOUT_DOMAIN, GraphLayout, _optimized, channel_block, cpu_blocks, cpu_layout,
                                         padded_channels)
from onnxprof.measure.layers import LayerRow
from onnxprof.engines.traits import EngineTraits
from onnxprof.predict.kernel_work import REORDER, KernelClass, layout_works, node_works
from onnxprof.predict.kernels import OTHER, KernelModel, fit_kernel_times, kernel_timings
from tests.builders import make_model, weight

pytest.importorskip("onnxruntime")
needs_blocked_kernels = pytest.mark.skipif(not cpu_blocks(), reason="ONNX Runtime has no blocked kernels on this CPU")


def _on_cpu(path):
    return engine_traits("onnxruntime", EngineOptions(), str(path))


def _two_branches(path, narrow_channels: int = 58, size: int = 14):
    """A 64-channel 1×1 convolution (blockable) beside a depthwise one of ``narrow_channels``, at size × size."""
    nodes = [helper.make_node("Conv", ["a", "w"], ["wide_out"], name="wide"),
             helper.make_node("Conv", ["b", "d"], ["narrow_out"], name="narrow", group=narrow_channels,
                              pads=[1, 1, 1, 1])]
    model = make_model(nodes, [("a", [1, 64, size, size]), ("b", [1, narrow_channels, size, size])],
                       [("wide_out", [1, 64, size, size]), ("narrow_out", [1, narrow_channels, size, size])],
                       [weight("w", (64, 64, 1, 1)), weight("d", (narrow_channels, 1, 3, 3))])
    onnx.save(model, path)
    return path


@needs_blocked_kernels
def test_a_channel_count_the_provider_cannot_block_leaves_its_convolution_in_nchw(tmp_path):
    path = _two_branches(tmp_path / "branches.onnx")
    layout = cpu_layout(str(path))
    assert layout.unblocked == {"narrow"}
    # the wide convolution is blocked: its input converted in, its output converted back for the graph
    assert sorted(layout.conversions) == [("ReorderInput", "a"), ("ReorderOutput", "wide_out")]
    works = node_works(analyze(path, check=False), _on_cpu(path))
    assert works["narrow"].kernel_class == KernelClass("Conv", group_width=1, blocked=False)
    assert works["wide"].kernel_class == KernelClass("Conv")
    reorders = layout_works(analyze(path, check=False), _on_cpu(path))
    # each reads and writes its tensor once: 2 × 64·14·14 floats
    assert [w.bytes_moved for w in reorders] == [2 * 64 * 14 * 14 * 4] * 2
    assert {w.kernel_class for w in reorders} == {KernelClass(REORDER)}
    assert sorted(w.name for w in reorders) == ["ReorderInput(a)", "ReorderOutput(wide_out)"]
    # an engine off the host, in the model's own layout, inserts none and blocks nothing
    assert layout_works(analyze(path, check=False), EngineTraits()) == []
    assert all(w.kernel_class.blocked for w in node_works(analyze(path, check=False), EngineTraits()).values())


@needs_blocked_kernels
def test_a_model_rewritten_in_place_is_read_again(tmp_path):
    path = tmp_path / "branches.onnx"
    assert cpu_layout(str(_two_branches(path, narrow_channels=58))).unblocked == {"narrow"}
    assert cpu_layout(str(_two_branches(path, narrow_channels=64))).unblocked == frozenset()


def test_channels_round_up_to_whole_blocks():
    assert [padded_channels(c, 16) for c in (16, 24, 40, 72, 116, 128)] == [16, 32, 48, 80, 128, 128]
    assert [padded_channels(c, 8) for c in (24, 40, 72, 116)] == [24, 40, 72, 120]
    assert padded_channels(72, 0) == 72      # no blocked layout: nothing padded


def _odd_channels(path):
    """A 3 → 24 stem, a 1×1 convolution 24 → 72, a 3×3 depthwise one on 72 and a 1×1 one 72 → 40:
    channel counts MobileNetV3 has, none of them a multiple of 16."""
    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"], name="stem", pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["a", "w1"], ["b"], name="expand"),
             helper.make_node("Conv", ["b", "w2"], ["c"], name="depthwise", group=72, pads=[1, 1, 1, 1]),
             helper.make_node("Conv", ["c", "w3"], ["y"], name="project")]
    model = make_model(nodes, [("x", [1, 3, 14, 14])], [("y", [1, 40, 14, 14])],
                       [weight("w0", (24, 3, 3, 3)), weight("w1", (72, 24, 1, 1)), weight("w2", (72, 1, 3, 3)),
                        weight("w3", (40, 72, 1, 1))])
    onnx.save(model, path)
    return model


@needs_blocked_kernels
def test_a_blocked_convolution_works_on_whole_blocks_of_channels(tmp_path):
    path = tmp_path / "odd.onnx"
    _odd_channels(path)
    block, up, positions = channel_block(), lambda c: padded_channels(c, channel_block()), 14 * 14
    assert block in (8, 16) and cpu_layout(str(path)).block == block
    works = node_works(analyze(path, check=False), _on_cpu(path))
    # the stem reads its 3-channel input as it is; every other channel count is padded to whole blocks
    assert works["stem"].macs == positions * up(24) * 3 * 9
    assert works["expand"].macs == positions * up(72) * up(24)
    assert works["depthwise"].macs == positions * up(72) * 9 and works["depthwise"].groups == up(72)
    assert works["project"].macs == positions * up(40) * up(72)
    assert works["expand"].columns == up(72) and works["expand"].outputs == positions * up(72)
    # bytes: the padded input and output maps, and the padded filter, 4 bytes a float
    assert works["expand"].bytes_moved == 4 * (positions * up(24) + positions * up(72) + up(72) * up(24))
    assert works["expand"].activation_bytes == 4 * positions * (up(24) + up(72))


@needs_blocked_kernels
def test_the_padded_channels_are_those_of_the_filters_onnx_runtime_writes(tmp_path):
    model = _odd_channels(tmp_path / "odd.onnx")
    works = node_works(analyze(tmp_path / "odd.onnx", check=False), _on_cpu(tmp_path / "odd.onnx"))
    optimized = _optimized(model)
    filters = {tensor.name: tuple(tensor.dims) for tensor in optimized.graph.initializer}
    written = sorted(filters[node.input[1]] for node in optimized.graph.node
                     if node.domain == LAYOUT_DOMAIN and node.op_type == "Conv")
    # (output channels, input channels a group, kernel height, kernel width), as the model counts them
    kernel_sizes = {"stem": 3, "expand": 1, "depthwise": 3, "project": 1}
    counted = sorted((int(works[name].columns * works[name].groups), int(works[name].macs / works[name].outputs / k ** 2),
                      k, k) for name, k in kernel_sizes.items())
    assert written == counted


def test_what_onnx_runtime_cannot_build_has_no_layout(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    assert cpu_layout(str(garbage)) == GraphLayout() and cpu_layout(str(tmp_path / "missing.onnx")) == GraphLayout()


def _reorder_rows(first_ms: float, second_ms: float) -> list[LayerRow]:
    """A profile of _two_branches: ONNX Runtime names its reorder kernels by a number, not by a node."""
    return [LayerRow("ReorderInput_1", (), (), first_ms, None, 0),
            LayerRow("wide_nchwc", ("wide",), ("Conv",), 0.02, None, 0),
            LayerRow("ReorderOutput_2", (), (), second_ms, None, 0),
            LayerRow("narrow", ("narrow",), ("Conv",), 0.03, None, 0)]


@needs_blocked_kernels
def test_reorder_kernels_are_fitted_together_and_predicted_only_once_fitted(tmp_path):
    path = _two_branches(tmp_path / "branches.onnx")
    report, traits = analyze(path, check=False), _on_cpu(path)
    timings = kernel_timings(_reorder_rows(0.004, 0.006), report, "net@1", traits)
    reorder = next(t for t in timings if t.nodes[0].op == REORDER)
    assert len(reorder.nodes) == 2 and reorder.measured_ms == pytest.approx(0.010)   # both rows, one timing
    assert reorder.classes() == (KernelClass(REORDER),) * 2 and reorder.fused == (False, False)
    # on three sizes of the model, 1e-8 ms a byte and 2 µs a kernel: the class is recovered from the sums
    sized = []
    for size in (7, 14, 28):
        other = _two_branches(tmp_path / f"branches{size}.onnx", size=size)
        total_ms = 1e-8 * 2 * (2 * 64 * size * size * 4) + 2 * 0.002
        sized += [t for t in kernel_timings(_reorder_rows(0.4 * total_ms, 0.6 * total_ms), analyze(other, check=False),
                                            f"net{size}@1", _on_cpu(other)) if t.nodes[0].op == REORDER]
    fit = fit_kernel_times(sized)
    assert fit.coefficients[KernelClass(REORDER)] == pytest.approx({"flops": 0.0, "bytes": 1e-8, "kernel": 0.002})
    # the conversions teach nothing about the ops never seen
    assert fit.coefficients[OTHER] == {"flops": 0.0, "bytes": 0.0, "kernel": 0.0}
    conv = {"macs": 1e-9, "patches": 0.0, "outputs": 0.0, "weights": 0.0, "bytes": 0.0, "kernel": 0.001}
    without = KernelModel({KernelClass("Conv"): conv, KernelClass("Conv", group_width=1): conv})
    reorders = {"flops": 0.0, "bytes": 1e-8, "kernel": 0.002}
    with_reorders = KernelModel({**without.coefficients, KernelClass(REORDER): reorders})
    sum_without, kernels_without = without.kernels(report, traits)
    sum_with, kernels_with = with_reorders.kernels(report, traits)
    assert kernels_with == kernels_without + 2
    assert sum_with - sum_without == pytest.approx(2 * (1e-8 * 2 * 64 * 14 * 14 * 4 + 0.002))


@needs_blocked_kernels
def test_the_cpu_pads_a_convolution_to_whole_blocks_and_a_device_does_not(tmp_path):
    """A 1×1 convolution from 20 to 40 channels at 14×14: ONNX Runtime's CPU provider blocks it and
    computes whole blocks (48 × 32 with 16-channel blocks, 40 × 24 with 8); a GPU provider runs the
    model's own layout, every channel as ONNX counts it."""
    path = tmp_path / "conv.onnx"
    onnx.save(make_model([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], [("x", [1, 20, 14, 14])],
                         [("y", [1, 40, 14, 14])], [weight("w", (40, 20, 1, 1))]), path)
    report, up = analyze(path, check=False), lambda c: padded_channels(c, channel_block())
    on_cpu = node_works(report, _on_cpu(path))["conv"]
    assert on_cpu.kernel_class == KernelClass("Conv") and _on_cpu(path).runs_on_host
    assert on_cpu.macs == 14 * 14 * up(40) * up(20) > 14 * 14 * 40 * 20 and on_cpu.columns == up(40)
    on_gpu_traits = engine_traits("onnxruntime", EngineOptions(provider="cuda"), str(path))
    assert not on_gpu_traits.runs_on_host and on_gpu_traits.layout.block == 0
    on_gpu = node_works(report, on_gpu_traits)["conv"]
    assert on_gpu.macs == 14 * 14 * 40 * 20 and on_gpu.columns == 40 and on_gpu.outputs == 14 * 14 * 40
    assert layout_works(report, on_gpu_traits) == [] and len(layout_works(report, _on_cpu(path))) == 2


def test_engines_state_their_traits_without_building_anything(tmp_path):
    from onnxprof.engines import engine_traits
    from onnxprof.engines.base import EngineOptions
    from onnxprof.engines.traits import EngineTraits

    path = _two_branches(tmp_path / "model.onnx", narrow_channels=58)
    on_cpu = engine_traits("onnxruntime", EngineOptions(), str(path))
    assert on_cpu.runs_on_host and on_cpu.device_kind == "cpu"
    assert on_cpu.layout.unblocked == ({"narrow"} if cpu_blocks() else frozenset())
    assert engine_traits("onnxruntime", EngineOptions()).layout == GraphLayout()     # no model: no layout
    # a GPU provider or TensorRT runs on the device, in the model's own layout: no host cache, no blocks
    for name, provider in (("onnxruntime", "cuda"), ("onnxruntime", "tensorrt"), ("tensorrt", "cpu")):
        assert engine_traits(name, EngineOptions(provider=provider), str(path)) == EngineTraits()
