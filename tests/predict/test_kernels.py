"""The kernel model: node terms by hand, coefficients recovered from synthetic kernel times, fusions
learned from which nodes ran in one kernel, and the network scale (the single-op benchmarks: test_opbench)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Optional

import numpy as np
import onnx
import pytest
from onnx import helper

from onnxprof.engines.traits import EngineTraits, GraphLayout
from onnxprof.measure.layers import LayerRow
from onnxprof.predict.kernel_work import KernelClass, NodeWork, group_width, node_works
from onnxprof.predict.kernels import (OTHER, Design, KernelModel, KernelTiming, NetworkTiming, fit_kernel_times,
                                      fit_kernels, kernel_model_from_json, kernel_model_json, kernel_timings,
                                      observed_fusions)
from onnxprof.predict.microbench import spill_from_bytes
from onnxprof.predict.terms import (OTHER_TERMS, PRODUCT_TERMS, SHARED_TERMS, Work, class_terms, describe_shared,
                                    shared_terms)
from onnxprof.zoo import build_for_analysis
from onnxprof.zoo.builder import GraphBuilder
from tests.builders import analyze, make_model, weight

PLAIN = EngineTraits()      # an engine that keeps the model's layout, off the host (a GPU's)
CONV, RELU, ADD = KernelClass("Conv"), KernelClass("Relu"), KernelClass("Add")
FUSED_RELU = KernelClass("Relu", fused=True)
DEPTHWISE = KernelClass("Conv", group_width=1)


def _values(work: NodeWork, fused: bool = False, spill: Optional[float] = None) -> dict[str, float]:
    """Its class terms' values, by name."""
    return {t.name: t.value(Work(work, fused, spill)) for t in class_terms(work)}


def _cost(work: NodeWork, coefficients, fused: bool = False) -> float:
    return sum(coefficients[name] * value for name, value in _values(work, fused).items())


def _product(macs=0.0, patches=0.0, outputs=0.0, weights=0.0, bytes=0.0, kernel=0.0) -> dict[str, float]:
    return dict(macs=macs, patches=patches, outputs=outputs, weights=weights, bytes=bytes, kernel=kernel)


def _other(flops=0.0, bytes=0.0, kernel=0.0) -> dict[str, float]:
    return dict(flops=flops, bytes=bytes, kernel=kernel)


def _conv_relu_model(channels: int = 8, size: int = 10, group: int = 1):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1], group=group),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Add", ["r", "x"], ["y"], name="add")]
    return make_model(nodes, [("x", [1, channels, size, size])], [("y", [1, channels, size, size])],
                      [weight("w", (channels, channels // group, 3, 3))])


def test_product_terms_are_macs_patches_outputs_and_weights():
    works = node_works(analyze(_conv_relu_model()), PLAIN)
    conv = works["conv"]
    # 8 → 8 channels, 3×3, 10×10 output: m = 8 columns, k = 8·9 = 72, n = 100 positions
    assert conv.kernel_class == CONV and conv.is_product and conv.columns == 8 and conv.outputs == 800
    macs = 800 * 72
    # macs, n·k, m·n, m·k; bytes: input and output maps and the weights, 4 bytes a float; one kernel
    assert _values(conv) == pytest.approx(_product(macs, 100 * 72, 800, 8 * 72, 4 * (800 + 800 + 8 * 8 * 9), 1.0))
    grouped = node_works(analyze(_conv_relu_model(group=4)), PLAIN)["conv"]
    # 4 groups of 2 → 2 channels: m = 2, k = 2·9 = 18; patches g·n·k = 4·100·18, weights g·m·k = 4·2·18
    assert grouped.kernel_class == KernelClass("Conv", group_width=2) and grouped.columns == 2
    assert grouped.kernel_class.label() == "Conv(groups of 2+)"
    assert [_values(grouped)[n] for n in ("macs", "patches", "outputs", "weights")] == \
        pytest.approx([800 * 18, 4 * 100 * 18, 800, 4 * 2 * 18])
    depthwise = node_works(analyze(_conv_relu_model(group=8)), PLAIN)["conv"]
    assert depthwise.kernel_class == DEPTHWISE and depthwise.kernel_class.label() == "Conv(depthwise)"
    assert [_values(depthwise)[n] for n in ("macs", "patches", "outputs", "weights")] == \
        pytest.approx([800 * 9, 800 * 9, 800, 8 * 9])
    relu = works["relu"]
    assert relu.kernel_class == RELU and not relu.is_product
    assert _values(relu) == pytest.approx(_other(800, 2 * 800 * 4, 1.0))
    # run inside its producer's kernel it starts none: no per-kernel constant
    assert _values(relu, fused=True) == pytest.approx(_other(800, 2 * 800 * 4, 0.0))


def test_grouped_convolutions_are_classed_by_their_channels_a_group():
    """1 (depthwise), then powers of two up to 32: a dense convolution has none."""
    assert [group_width(c) for c in (0.5, 1, 2, 3, 4, 7, 8, 24, 32, 64, 512)] == [1, 1, 2, 2, 4, 4, 8, 16, 32, 32, 32]
    for channels, group, width in ((64, 64, 1), (64, 32, 2), (64, 16, 4), (64, 8, 8), (64, 4, 16), (64, 2, 32),
                                   (128, 2, 32), (48, 4, 8), (64, 1, 0)):
        conv = node_works(analyze(_conv_relu_model(channels=channels, size=6, group=group)), PLAIN)["conv"]
        assert conv.kernel_class == KernelClass("Conv", group_width=width), (channels, group)
        assert conv.columns == channels / group and conv.groups == group


def test_kernel_classes_print_and_fall_back_nearest_first():
    unblocked = KernelClass("Conv", group_width=4, blocked=False, fused=True)
    assert unblocked.label() == "Conv(groups of 4+) [unblocked] (fused)"
    assert KernelClass("Softmax", strided=True).label() == "Softmax (axis not last)"
    # the same class alone, then blocked, then the dense convolution and the matrix product
    assert unblocked.fallbacks() == (unblocked, replace(unblocked, fused=False), KernelClass("Conv", group_width=4),
                                     CONV, KernelClass("MatMul"))
    assert KernelClass("Gemm").fallbacks() == (KernelClass("Gemm"), KernelClass("MatMul"), KernelClass("Conv"))
    # not a product: alone, blocked, then over the last axis
    softmax = KernelClass("Softmax", strided=True, blocked=False, fused=True)
    assert softmax.fallbacks() == (softmax, replace(softmax, fused=False), KernelClass("Softmax", strided=True),
                                   KernelClass("Softmax"))


TRUE = {CONV: _product(2e-7, 1e-7, 5e-7, 3e-6, 1e-8, 0.01), RELU: _other(0.0, 2e-8, 0.004),
        FUSED_RELU: _other(0.0, 1e-9, 0.0), ADD: _other(1e-7, 1e-8, 0.003)}
IN_NETWORK_MS = 0.002       # what each network kernel costs beyond the same kernel profiled alone
COLD_WEIGHT_MS = 5e-9       # and what each byte of its weights costs beyond it


def _conv(name: str, rng) -> NodeWork:
    m, n, k = (int(v) for v in rng.integers([8, 49, 27], [512, 12544, 4608]))
    moved = 4.0 * (m * n + int(rng.integers(1e3, 1e6)))     # output + input (not a sum of the other terms)
    return NodeWork(name, CONV, m * n * k, 2.0 * m * n * k, moved + 4.0 * m * k, m * n, m, activation_bytes=moved)


def _synthetic_timings(seed: int = 0) -> list[KernelTiming]:
    """Kernels of known cost: in networks, random convolutions, half of them with a fused ReLU, and
    standalone ReLUs, each IN_NETWORK_MS and COLD_WEIGHT_MS a byte of its weights dearer than alone;
    alone, convolutions, ReLUs and Adds."""
    rng = np.random.default_rng(seed)
    timings = []
    for i in range(40):
        conv = _conv(f"c{i}", rng)
        m, n = conv.columns, conv.outputs / conv.columns
        relu = NodeWork(f"r{i}", RELU, 0, m * n, 4.0 * (m * n + int(rng.integers(1e3, 1e6))), m * n)
        assert conv.weight_bytes == 4.0 * m * (conv.macs / conv.outputs) and relu.weight_bytes == 0
        cost = _cost(conv, TRUE[CONV]) + IN_NETWORK_MS + COLD_WEIGHT_MS * conv.weight_bytes
        if i % 2:
            timings.append(KernelTiming((conv,), (False,), cost, source=f"net{i % 4}"))
        else:
            cost += _cost(relu, TRUE[FUSED_RELU], fused=True)
            timings.append(KernelTiming((conv, relu), (False, True), cost, source=f"net{i % 4}"))
        timings.append(KernelTiming((relu,), (False,), _cost(relu, TRUE[RELU]) + IN_NETWORK_MS, source=f"net{i % 4}"))
        for kernel_class in (RELU, ADD):
            alone = NodeWork(f"{kernel_class.op}{i}", kernel_class, 0, float(rng.integers(1e3, 1e6)),
                             float(rng.integers(1e4, 1e7)), float(rng.integers(1e3, 1e6)))
            timings.append(KernelTiming((alone,), (False,), _cost(alone, TRUE[kernel_class]), f"op:{kernel_class.op}",
                                        alone=True))
        if i % 4 == 0:
            alone = _conv(f"Conv{i}", rng)
            timings.append(KernelTiming((alone,), (False,), _cost(alone, TRUE[CONV]), "op:Conv", alone=True))
    return timings


def test_fit_recovers_the_coefficients_of_each_class():
    fit = fit_kernel_times(_synthetic_timings())
    for kernel_class, values in TRUE.items():
        assert fit.coefficients[kernel_class] == pytest.approx(values, rel=1e-4, abs=1e-12), kernel_class.label()
    assert fit.r_squared == pytest.approx(1.0)
    # the ReLUs and convolutions profiled both alone and in networks tell the network kernels' extra cost,
    # a kernel and a weight byte, from each class's own
    assert fit.shared["in_network_kernel"] == pytest.approx(IN_NETWORK_MS, rel=1e-4)
    assert fit.shared["in_network_weight_bytes"] == pytest.approx(COLD_WEIGHT_MS, rel=1e-4)
    # no cache threshold: no spill term, in a network or not
    assert set(fit.shared) == {"in_network_kernel", "in_network_weight_bytes"}
    # an op class never seen costs the median of the standalone non-product classes
    assert fit.coefficients[OTHER] == pytest.approx({name: float(np.median([TRUE[RELU][name], TRUE[ADD][name]]))
                                                     for name in TRUE[RELU]})


def test_the_in_network_constant_is_fitted_only_where_a_class_runs_both_alone_and_in_a_network():
    timings = _synthetic_timings()
    networks_only = [t for t in timings if not t.alone]
    disjoint = [t for t in timings if not t.alone and t.nodes[0].op == "Conv"] + \
               [t for t in timings if t.alone and t.nodes[0].op == "Add"]
    for without in (networks_only, disjoint):
        fit = fit_kernel_times(without)
        assert "in_network_kernel" not in fit.shared and "in_network_weight_bytes" not in fit.shared
        # each class's own constant carries it instead: the network kernels are fitted all the same
        model = KernelModel(fit.coefficients, fit.shared)
        for t in without:
            predicted = sum(model.node_ms(w, f) + model.in_network_ms(w, f) for w, f in zip(t.nodes, t.fused))
            assert predicted == pytest.approx(t.measured_ms, rel=1e-3)


def test_the_cost_of_cold_weights_is_fitted_only_where_a_class_with_weights_runs_alone_too():
    """Without convolutions alone, only the ReLUs tell the network kernels from the single-op cases: the
    constant is still fitted; the weights' cost falls to the convolutions' own cost per weight (their
    weight bytes are 4 × m·k), and the network kernels are fitted all the same."""
    timings = [t for t in _synthetic_timings() if t.source != "op:Conv"]
    fit = fit_kernel_times(timings)
    assert fit.shared["in_network_kernel"] == pytest.approx(IN_NETWORK_MS, rel=1e-4)
    assert "in_network_weight_bytes" not in fit.shared
    assert fit.coefficients[CONV]["weights"] == pytest.approx(TRUE[CONV]["weights"] + 4 * COLD_WEIGHT_MS, rel=1e-4)
    # nor do a few parameters of an op that is not a product (a PReLU's slopes), alone and in networks
    with_slopes = [replace(t, nodes=tuple(replace(w, activation_bytes=w.bytes_moved - 256.0) if w.op == "Relu" else w
                                          for w in t.nodes)) for t in timings]
    assert any(w.weight_bytes > 0 for t in with_slopes if t.alone for w in t.nodes)
    assert "in_network_weight_bytes" not in fit_kernel_times(with_slopes).shared


def test_a_lookup_reads_no_weights_whole():
    """A Gather reads the rows it looks up, not its table: none of it counts as weights to fetch again."""
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"], name="lookup"),
             helper.make_node("MatMul", ["e", "w"], ["y"], name="project")]
    model = make_model(nodes, [("ids", [4], onnx.TensorProto.INT64)], [("y", [4, 16])],
                       [weight("table", (1000, 64)), weight("w", (64, 16))])
    works = node_works(analyze(model), PLAIN)
    assert works["lookup"].weight_bytes == 0.0
    assert works["project"].weight_bytes == 64 * 16 * 4


def _softmax_model(op_type: str, axis: int, opset: int):
    nodes = [helper.make_node(op_type, ["x"], ["y"], name="softmax", axis=axis)]
    return make_model(nodes, [("x", [2, 21, 8, 8])], [("y", [2, 21, 8, 8])], opset=opset)


def test_a_softmax_over_an_axis_other_than_the_last_has_a_class_of_its_own():
    """Over the channels of a 4-D map (opset 13 on) it gathers strided elements; over the last axis, or
    before opset 13 (the input read as a matrix from the axis on, rows contiguous), it does not."""
    for op_type in ("Softmax", "LogSoftmax"):
        for axis, opset, strided in ((1, 17, True), (-3, 13, True), (-1, 17, False), (3, 17, False), (1, 11, False)):
            work = node_works(analyze(_softmax_model(op_type, axis, opset)), PLAIN)["softmax"]
            assert work.kernel_class == KernelClass(op_type, strided=strided), (op_type, axis, opset)
    # a model that never saw one prices it as its op, not as the median of every op class
    work = node_works(analyze(_softmax_model("Softmax", 1, 17)), PLAIN)["softmax"]
    model = KernelModel({KernelClass("Softmax"): _other(1e-6, 0.0, 0.01), OTHER: _other(0.0, 0.0, 5.0)})
    assert model.node_ms(work) == pytest.approx(1e-6 * work.flops + 0.01)
    strided = KernelModel({**model.coefficients, KernelClass("Softmax", strided=True): _other(0.0, 1e-6, 0.0)})
    assert strided.node_ms(work) == pytest.approx(1e-6 * work.bytes_moved)


def test_the_spill_term_counts_activation_bytes_past_the_threshold():
    conv = node_works(analyze(_conv_relu_model()), PLAIN)["conv"]
    # in and out: 8 channels of 10×10 fp32 each, 3200 bytes; the 8·8·3·3 weights (2304 bytes) are not streamed
    assert conv.activation_bytes == 6400 and conv.bytes_moved == 6400 + 2304 and conv.weight_bytes == 2304
    spilled = next(t for t in SHARED_TERMS if t.name == "spilled_bytes")
    assert spilled.value(Work(conv, False, 1000.0)) == 5400
    assert spilled.value(Work(conv, False, 1e6)) == 0.0 and spilled.value(Work(conv, False, None)) == 0.0
    assert _values(conv, spill=1000.0) == _values(conv)      # the class's own terms never read it
    # it needs the host's caches: without a threshold neither it nor its in-network twin is a term
    assert [t.name for t in shared_terms(spill_known=False)] == ["in_network_kernel", "in_network_weight_bytes"]
    assert {t.name for t in shared_terms(spill_known=True)} == {t.name for t in SHARED_TERMS}


def _depthwise(maps: float) -> NodeWork:
    return NodeWork("d", DEPTHWISE, 9 * maps / 8, 18 * maps / 8, maps, maps / 8, 1, 64, activation_bytes=maps)


def test_kernels_whose_maps_outgrow_the_cache_are_fitted_past_the_knee():
    """Depthwise kernels at 1e-7 ms a byte in cache and 4e-7 ms more a byte past 16 MB, as batch 8
    ran them on a 32 MB cache: one cost per byte fits the small ones and misses the large ones."""
    spill_from = 16e6
    sizes = [1e5 * 2 ** i for i in range(8)] + [25e6, 48e6]
    timings = [KernelTiming((_depthwise(b),), (False,), 1e-7 * b + 0.005 + 4e-7 * max(0.0, b - spill_from),
                            f"net{i % 3}") for i, b in enumerate(sizes)]
    fit = fit_kernel_times(timings, spill_from)
    assert fit.shared["spilled_bytes"] == pytest.approx(4e-7, rel=1e-3)
    knee = KernelModel(fit.coefficients, fit.shared, spill_from_bytes=spill_from)
    linear = KernelModel(fit_kernel_times(timings).coefficients)
    for t in timings:
        assert knee.node_ms(t.nodes[0]) == pytest.approx(t.measured_ms, rel=1e-3)
    assert linear.node_ms(_depthwise(48e6)) < 0.8 * timings[-1].measured_ms


def _elementwise(op: str, maps: float) -> NodeWork:
    """An elementwise op over ``maps`` bytes of feature maps, no weights."""
    return NodeWork(op.lower(), KernelClass(op), 0.0, maps / 8, maps, maps / 8, activation_bytes=maps)


def test_a_spilled_byte_costs_every_class_alike():
    """Adds profiled past the cache show what a spilled byte costs (4e-7 ms on top of 1e-7); Sigmoids were
    only profiled in it. A Sigmoid on 48 MB of maps streams them all the same (EfficientNet-B0's
    Sigmoid·Mul on 115 MB at batch 8 ran at the memory's rate), so it pays the Adds' cost per spilled byte."""
    spill_from = 16e6

    def time_ms(maps: float) -> float:
        return 1e-7 * maps + 0.005 + 4e-7 * max(0.0, maps - spill_from)
    adds = [1e5 * 2 ** i for i in range(8)] + [25e6, 48e6, 64e6]
    sigmoids = [1.5e5 * 2 ** i for i in range(7)]
    timings = [KernelTiming((_elementwise(op, b),), (False,), time_ms(b), f"net{i % 3}")
               for op, sizes in (("Add", adds), ("Sigmoid", sigmoids)) for i, b in enumerate(sizes)]
    fit = fit_kernel_times(timings, spill_from)
    model = KernelModel(fit.coefficients, fit.shared, spill_from_bytes=spill_from)
    assert model.node_ms(_elementwise("Sigmoid", 48e6)) == pytest.approx(time_ms(48e6), rel=1e-3)
    assert model.node_ms(_elementwise("Sigmoid", 1e6)) == pytest.approx(time_ms(1e6), rel=1e-3)


def _adds_alone_and_in_networks(spill_from: float, extra_ms: float, per_kernel_ms: float) -> list[KernelTiming]:
    """Adds alone, 1e-7 ms a byte more past ``spill_from``; in networks, ``extra_ms`` a byte more again
    and ``per_kernel_ms`` a kernel."""
    def alone_ms(maps: float) -> float:
        return 1e-7 * maps + 0.005 + 1e-7 * max(0.0, maps - spill_from)
    sizes = [1e5 * 2 ** i for i in range(8)] + [25e6, 48e6, 64e6]
    timings = [KernelTiming((_elementwise("Add", b),), (False,), alone_ms(b), "op:Add", alone=True) for b in sizes]
    return timings + [KernelTiming((_elementwise("Add", b),), (False,),
                                   alone_ms(b) + per_kernel_ms + extra_ms * max(0.0, b - spill_from), f"net{i % 3}")
                      for i, b in enumerate(sizes)]


def test_maps_past_the_cache_cost_more_a_byte_in_a_network_than_alone():
    """Adds alone, run over and over, find their maps in the shared cache: 1e-7 ms a byte more past 16 MB.
    In a network the kernel before wrote them: 3e-7 ms a byte more again, besides 2 µs a kernel. The fit
    tells the two apart, and a network's kernels are priced at the network's law."""
    spill_from, extra_ms, per_kernel_ms = 16e6, 3e-7, 0.002
    timings = _adds_alone_and_in_networks(spill_from, extra_ms, per_kernel_ms)
    fit = fit_kernel_times(timings, spill_from)
    assert fit.shared["in_network_spilled_bytes"] == pytest.approx(extra_ms, rel=1e-3)
    assert fit.shared["spilled_bytes"] == pytest.approx(1e-7, rel=1e-3)
    assert fit.shared["in_network_kernel"] == pytest.approx(per_kernel_ms, rel=1e-3)
    body = json.loads(json.dumps(kernel_model_json(fit_kernels(timings, [], spill_from))))
    assert body["shared"]["in_network_spilled_bytes"] == pytest.approx(extra_ms, rel=1e-3)
    model = kernel_model_from_json(body)
    for t in timings:
        work = t.nodes[0]
        predicted = model.node_ms(work) + (0.0 if t.alone else model.in_network_ms(work))
        assert predicted == pytest.approx(t.measured_ms, rel=1e-3)


def test_an_engine_off_the_host_gets_no_term_that_needs_the_hosts_caches():
    """A GPU provider or TensorRT has no spill threshold: its fit has no spill term, in a network or not,
    however large the maps; the same kernels on the host get both."""
    device = EngineTraits(runs_on_host=False)
    assert spill_from_bytes(device) is None
    timings = _adds_alone_and_in_networks(16e6, 3e-7, 0.002) + _synthetic_timings()
    on_device = fit_kernels(timings, [], spill_from_bytes(device))
    assert on_device.spill_from_bytes is None
    assert set(on_device.shared) == {t.name for t in SHARED_TERMS if not t.host_only}
    on_host = fit_kernels(timings, [], 16e6)
    assert set(on_host.shared) == {t.name for t in SHARED_TERMS}
    # nor does a spill coefficient count without a threshold
    big = _elementwise("Add", 64e6)
    stray = replace(on_device, shared={**on_device.shared, "spilled_bytes": 1.0, "in_network_spilled_bytes": 1.0})
    assert stray.node_ms(big) == on_device.node_ms(big) and stray.in_network_ms(big) == on_device.in_network_ms(big)
    # and no blocked layout: every channel as ONNX counts it (a 20 → 40 1×1 convolution at 14×14)
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    report = analyze(make_model(nodes, [("x", [1, 20, 14, 14])], [("y", [1, 40, 14, 14])],
                                [weight("w", (40, 20, 1, 1))]))
    assert device.layout == GraphLayout() and device.layout.block == 0
    conv = node_works(report, device)["conv"]
    assert conv.macs == 14 * 14 * 40 * 20 and conv.columns == 40 and conv.outputs == 14 * 14 * 40
    assert conv.bytes_moved == 4 * (14 * 14 * (20 + 40) + 40 * 20)


def _conv_relu_rows() -> list[LayerRow]:
    return [LayerRow("conv_relu", ("conv", "relu"), ("Conv", "Relu"), 1.0, None, 0),
            LayerRow("add", ("add",), ("Add",), 0.1, None, 0),
            LayerRow("ReorderOutput", (), (), 0.05, None, 0)]         # inserted by the engine: no node


def test_fusions_are_learned_from_the_profile_and_applied_to_new_models():
    report = analyze(_conv_relu_model())
    # the engine ran Conv+ReLU as one kernel and the Add alone
    timings = kernel_timings(_conv_relu_rows(), report, "net@1", PLAIN)
    assert [t.fused for t in timings] == [(False, True), (False,)]
    assert timings[0].classes() == (CONV, FUSED_RELU) and timings[1].classes() == (ADD,)
    assert timings[0].links == (("Conv", "Relu", True),) and timings[1].links == (("Relu", "Add", False),)
    model = fit_kernels(timings, [])
    assert model.fusions == {("Conv", "Relu")}        # (Relu, Add) ran apart
    bigger = analyze(_conv_relu_model(channels=16, size=20))
    works = node_works(bigger, PLAIN)
    assert model.fused_nodes(bigger, works) == {"relu"}
    expected = sum(model.node_ms(works[n], n == "relu") + model.in_network_ms(works[n], n == "relu")
                   for n in ("conv", "relu", "add"))
    assert model.kernels(bigger, PLAIN) == pytest.approx((expected, 2))
    # a pair fuses when it ran as one kernel at least half the times it could: once in two, not once in three
    ran = {together: KernelTiming((works["relu"],), (together,), 0.1, "net@1", (("Conv", "Relu", together),))
           for together in (True, False)}
    assert observed_fusions([ran[True], ran[False]]) == {("Conv", "Relu")}
    assert observed_fusions([ran[True], ran[False], ran[False]]) == frozenset()


def _conv_bn_relu_model(group: int):
    b = GraphBuilder(f"conv_bn_relu_g{group}", batch=1)
    x = b.input("x", [1, 8, 10, 10])
    return b.build(b.relu(b.conv_bn(x, "conv", "bn", 8, 8, 3, 1, 1, groups=group), "relu"), [1, 8, 10, 10])


def test_a_fusion_seen_after_one_kind_of_convolution_applies_to_every_kind():
    """The engine folds a BatchNorm into any Conv: learned on a dense one, it holds for grouped and
    depthwise ones, blocked or not, which the calibration set never had."""
    dense = analyze(_conv_bn_relu_model(group=1))
    rows = [LayerRow("conv_bn_relu", ("conv", "bn", "relu"), ("Conv", "BatchNormalization", "Relu"), 1.0, None, 0)]
    model = fit_kernels(kernel_timings(rows, dense, "net@1", PLAIN), [])
    assert model.fusions == {("Conv", "BatchNormalization"), ("BatchNormalization", "Relu")}
    unblocked = EngineTraits(layout=GraphLayout(unblocked=frozenset({"conv"})))
    for group, width in ((2, 4), (4, 2), (8, 1)):
        grouped = analyze(_conv_bn_relu_model(group=group))
        for traits, blocked in ((PLAIN, True), (unblocked, False)):
            works = node_works(grouped, traits)
            assert works["conv"].kernel_class == KernelClass("Conv", group_width=width, blocked=blocked)
            assert model.fused_nodes(grouped, works) == {"bn", "relu"}
            assert model.kernels(grouped, traits)[1] == 1                 # one kernel, as the engine runs it


def test_a_concat_is_priced_as_networks_run_it_when_they_profiled_some():
    """Single-op Concat cases at 1e-7 ms a byte (inputs left in cache by their last run), network ones at
    2e-7 (inputs that other kernels wrote): with network Concats to learn from, the cases are left out."""
    def concat(size: float) -> NodeWork:
        return NodeWork("cat", KernelClass("Concat"), 0.0, 0.0, size, size / 8)
    sizes = (1e5, 4e5, 1.6e6, 6.4e6)
    alone = [KernelTiming((concat(b),), (False,), 1e-7 * b + 0.01, "op:Concat", alone=True) for b in sizes]
    in_networks = [KernelTiming((concat(b),), (False,), 2e-7 * b + 0.01, f"net{i}@1") for i, b in enumerate(sizes)]
    networks_taught = KernelModel(fit_kernel_times(alone + in_networks).coefficients)
    assert networks_taught.node_ms(concat(3e6)) == pytest.approx(2e-7 * 3e6 + 0.01, rel=1e-3)
    cases_only = KernelModel(fit_kernel_times(alone).coefficients)     # no network had one: the cases teach it
    assert cases_only.node_ms(concat(3e6)) == pytest.approx(1e-7 * 3e6 + 0.01, rel=1e-3)


def test_each_predicted_kernel_costs_the_in_network_constant_once():
    """conv → relu → add: three kernels, or two when the ReLU runs inside the convolution's kernel."""
    report = analyze(_conv_relu_model())
    classes = KernelModel(dict(TRUE))
    for fusions, kernels in ((frozenset(), 3), (frozenset({("Conv", "Relu")}), 2)):
        alone_ms, counted = replace(classes, fusions=fusions).kernels(report, PLAIN)
        assert counted == kernels
        in_network = replace(classes, fusions=fusions, shared={"in_network_kernel": 0.5})
        assert in_network.kernels(report, PLAIN) == pytest.approx((alone_ms + 0.5 * kernels, kernels))
        # the convolution's 8·8·3·3 fp32 weights, once whatever the fusions
        cold = replace(in_network, shared={"in_network_kernel": 0.5, "in_network_weight_bytes": 1e-4})
        assert cold.kernels(report, PLAIN) == pytest.approx((alone_ms + 0.5 * kernels + 1e-4 * 8 * 8 * 9 * 4, kernels))


def _unfused_kernels() -> list[tuple]:
    """Three conv → relu → add networks, each with the Σ and number of its kernels as a model fitted on
    the synthetic timings predicts them (no fusions known: conv, relu and add each a kernel)."""
    plain = fit_kernels(_synthetic_timings(), [])
    reports = [analyze(_conv_relu_model(channels=c, size=s)) for c, s in ((8, 10), (16, 20), (32, 14))]
    return [(report, *plain.kernels(report, PLAIN)) for report in reports]


def _scaled_networks() -> list[NetworkTiming]:
    """Profiling adds 0.01 ms to each kernel at every batch size; the run is 1.25 × the model's kernels
    less that overhead at batch 1, 0.8 × at batch 8."""
    networks = []
    for report, predicted, kernels in _unfused_kernels():
        assert kernels == 3
        for batch, ratio in ((1, 1.25), (8, 0.8)):
            measured = ratio * (predicted - 0.01 * kernels)
            networks.append(NetworkTiming(report, batch, measured, measured + 0.01 * kernels, kernels, PLAIN))
    return networks


def test_network_fit_reads_the_profiling_overhead_then_the_scale():
    networks = _scaled_networks()
    model = fit_kernels(_synthetic_timings(), networks)
    assert model.network_by_batch[1].overhead_ms == pytest.approx(0.01, rel=1e-6)
    assert model.network_by_batch[8].overhead_ms == pytest.approx(0.01, rel=1e-6)
    assert model.network_by_batch[1].scale == pytest.approx(1.25, rel=1e-6)
    assert model.network_by_batch[8].scale == pytest.approx(0.8, rel=1e-6)
    report = networks[2].report
    predicted, kernels = model.kernels(report, PLAIN)
    assert model.latency_ms(report, 1, PLAIN) == pytest.approx(1.25 * (predicted - 0.01 * kernels))
    assert model.latency_ms(report, 4, PLAIN) == pytest.approx(model.network.apply(predicted, kernels))  # pooled
    assert kernel_model_from_json(kernel_model_json(model)) == model


def test_profiling_overhead_is_read_where_kernels_are_short():
    """Batch 8's profiles ran 10 % slow as a whole (a busier host), which batch 8 alone would read as a
    per-kernel overhead many times the real one; read over both batch sizes, its long kernels barely
    move the value batch 1's short kernels give."""
    networks = []
    for report, predicted, kernels in _unfused_kernels():
        short = predicted - 0.01 * kernels
        networks.append(NetworkTiming(report, 1, short, short + 0.01 * kernels, kernels))
        long = 8 * predicted
        networks.append(NetworkTiming(report, 8, long, 1.10 * long + 0.01 * kernels, kernels))
    batch8_alone = fit_kernels(_synthetic_timings(), [n for n in networks if n.batch == 8])
    assert batch8_alone.network_by_batch[8].overhead_ms > 0.015     # what batch 8 alone reads
    model = fit_kernels(_synthetic_timings(), networks)
    assert model.network_by_batch[8].overhead_ms == model.network_by_batch[1].overhead_ms
    assert model.network_by_batch[8].overhead_ms == pytest.approx(0.01, rel=0.05)


def test_network_scale_is_the_median_ratio():
    model = KernelModel({CONV: _product(macs=1e-6, kernel=0.1), RELU: _other(bytes=1e-8, kernel=0.01),
                         ADD: _other(bytes=1e-8, kernel=0.01)})
    reports = [analyze(_conv_relu_model(channels=c, size=s)) for c, s in ((8, 10), (16, 20), (32, 14))]
    # one network 4× off (an op the model has not seen) does not move the others
    networks = [NetworkTiming(r, 1, ratio * model.kernels_ms(r, PLAIN), model.kernels_ms(r, PLAIN) * ratio, 3)
                for r, ratio in zip(reports, (1.2, 1.25, 4.0))]
    fitted = fit_kernels(_synthetic_timings(), networks)
    assert fitted.network_by_batch[1].overhead_ms == 0.0
    ratios = [n.measured_ms / fitted.kernels_ms(n.report, PLAIN) for n in networks]
    assert fitted.network_by_batch[1].scale == pytest.approx(float(np.median(ratios)))


def test_a_network_of_many_short_kernels_is_fitted_in_relative_terms():
    """Four long kernels that a linear cost fits only to a few percent (the last one runs 5 % fast) and
    forty short ones of 10 µs, in one network: fitted relative to the network alone, the long kernels'
    misfit pulled the per-kernel constant 15 % off the short kernels' time; relative to each kernel
    too, the short kernels are fitted within 2 % and the long ones stay within 5 %."""
    def relu(bytes_moved: float) -> NodeWork:
        return NodeWork("r", RELU, 0, 0.0, bytes_moved, bytes_moved / 4)
    long = [(1e8, 1.0), (2e8, 2.0), (3e8, 3.0), (4e8, 3.8)]
    short = [(1e4, 0.01)] * 40
    timings = [KernelTiming((relu(b),), (False,), ms, "net") for b, ms in long + short]
    model = KernelModel(fit_kernel_times(timings).coefficients)
    assert model.node_ms(relu(1e4)) == pytest.approx(0.01, rel=0.02)
    assert all(model.node_ms(relu(b)) == pytest.approx(ms, rel=0.05) for b, ms in long)


def test_a_fused_op_never_costs_more_than_alone():
    clip_class = KernelClass("Clip")
    model = KernelModel({clip_class: _other(0.0, 1e-8, 0.002), replace(clip_class, fused=True): _other(1e-5, 0.0, 0.0)})
    clip = NodeWork("c", clip_class, 0, 1000, 8000, 1000)
    assert model.node_ms(clip) == pytest.approx(8000e-8 + 0.002)
    assert model.node_ms(clip, fused=True) == pytest.approx(8000e-8 + 0.002)     # 0.01 ms fitted: capped
    small = KernelModel({clip_class: _other(0.0, 1e-8, 0.002), replace(clip_class, fused=True): _other(1e-9, 0.0, 0.0)})
    assert small.node_ms(clip, fused=True) == pytest.approx(1000e-9)             # below alone: as fitted


def test_unseen_fused_op_costs_what_it_costs_alone_less_the_kernel():
    model = KernelModel({RELU: _other(0.0, 1e-8, 0.002), OTHER: _other(0.0, 0.0, 1.0)})
    relu = NodeWork("r", RELU, 0, 100, 800, 100)
    assert model.node_ms(relu) == pytest.approx(800e-8 + 0.002)
    assert model.node_ms(relu, fused=True) == pytest.approx(800e-8)    # it runs in its producer's kernel
    assert model.node_ms(NodeWork("s", KernelClass("Softsign"), 0, 100, 800, 100)) == 1.0
    conv = NodeWork("c", DEPTHWISE, 900, 1800, 4000, 100, 1, 100)
    assert model.node_ms(conv) == 0.0                  # no product calibrated: nothing to go on
    with_conv = KernelModel({**model.coefficients, CONV: _product(macs=1e-3, kernel=0.5)})
    assert with_conv.node_ms(conv) == pytest.approx(0.9 + 0.5)   # depthwise never seen: priced as a Conv
    # with no convolution nor matrix product calibrated, any product's coefficients
    with_gemm = KernelModel({**model.coefficients, KernelClass("Gemm"): _product(bytes=1e-4, kernel=0.25)})
    assert with_gemm.node_ms(conv) == pytest.approx(4000e-4 + 0.25)


def test_an_unblocked_convolution_has_its_own_class_or_costs_what_a_blocked_one_does():
    depthwise = _product(kernel=0.01)
    blocked = NodeWork("c", DEPTHWISE, 900, 1800, 4000, 100, 1, 100)
    unblocked = replace(blocked, kernel_class=replace(DEPTHWISE, blocked=False))
    model = KernelModel({DEPTHWISE: depthwise})
    assert model.node_ms(unblocked) == model.node_ms(blocked) == pytest.approx(0.01)   # never seen unblocked
    slower = KernelModel({DEPTHWISE: depthwise, replace(DEPTHWISE, blocked=False): _product(kernel=0.08)})
    assert slower.node_ms(unblocked) == pytest.approx(0.08) and slower.node_ms(blocked) == pytest.approx(0.01)


def test_fit_keeps_blocked_and_unblocked_convolutions_apart():
    true = {DEPTHWISE: _product(macs=1e-7, kernel=0.005),
            replace(DEPTHWISE, blocked=False): _product(macs=8e-7, kernel=0.01)}
    timings = []
    for i, outputs in enumerate((1e4, 5e4, 2e5, 8e5)):
        for kernel_class, coefficients in true.items():
            work = NodeWork(f"d{i}{kernel_class.blocked}", kernel_class, 9 * outputs, 18 * outputs, 8 * outputs,
                            outputs, 1, 64)
            timings.append(KernelTiming((work,), (False,), _cost(work, coefficients), f"op:{kernel_class.label()}",
                                        alone=True))
    fit = fit_kernel_times(timings)     # a depthwise filter's terms are collinear: compare times
    assert set(true) <= set(fit.coefficients) and fit.r_squared == pytest.approx(1.0)
    model = KernelModel(fit.coefficients)
    for timing in timings:
        assert model.node_ms(timing.nodes[0]) == pytest.approx(timing.measured_ms, rel=1e-4), timing.source


def test_the_design_the_json_and_the_printout_are_built_from_the_term_lists():
    """A column for each of a class's terms in their declared order, then one for each shared term; the
    network-only ones empty for a single-op benchmark. The fitted coefficients, their JSON and the
    printed line name the same terms."""
    works = node_works(analyze(_conv_relu_model()), PLAIN)
    conv, relu = works["conv"], works["relu"]
    design = Design({CONV: slice(0, 6), FUSED_RELU: slice(6, 9)}, {CONV: PRODUCT_TERMS, FUSED_RELU: OTHER_TERMS},
                    SHARED_TERMS)
    assert design.width == 6 + 3 + 4
    timing = KernelTiming((conv, relu), (False, True), 1.0, "net@1")
    row = design.row(timing, 1000.0)
    assert list(row[:6]) == [_values(conv)[t.name] for t in PRODUCT_TERMS]
    assert list(row[6:9]) == [800.0, 6400.0, 0.0]              # the fused ReLU's flops, bytes, no kernel
    # spilled past 1000 bytes: 5400 of the convolution's maps and 5400 of the ReLU's; one kernel started;
    # the convolution's 2304 bytes of weights
    assert list(row[9:]) == [10800.0, 1.0, 2304.0, 10800.0]
    assert list(design.row(replace(timing, alone=True), 1000.0)[9:]) == [10800.0, 0.0, 0.0, 0.0]

    # with fusions learned from a profile, and a threshold: every term fitted
    rows = [LayerRow("conv_bn_relu", ("conv", "bn", "relu"), ("Conv", "BatchNormalization", "Relu"), 1.0, None, 0)]
    fused = kernel_timings(rows, analyze(_conv_bn_relu_model(group=1)), "net@1", PLAIN)
    model = fit_kernels(_synthetic_timings() + fused, _scaled_networks(), spill_from_bytes=1e5)
    assert model.fusions == {("Conv", "BatchNormalization"), ("BatchNormalization", "Relu")}
    assert set(model.shared) == {t.name for t in SHARED_TERMS}
    for kernel_class, coefficients in model.coefficients.items():
        terms = PRODUCT_TERMS if kernel_class.is_product else OTHER_TERMS
        assert list(coefficients) == [t.name for t in terms], kernel_class.label()
    body = json.loads(json.dumps(kernel_model_json(model)))
    named = {name for entry in body["classes"] for name in entry["coefficients"]}
    assert named == {t.name for t in PRODUCT_TERMS + OTHER_TERMS} and set(body["shared"]) == set(model.shared)
    printed = describe_shared(model.shared)
    assert all(t.meaning in printed for t in SHARED_TERMS)
    assert describe_shared({"in_network_kernel": 0.002}) == "+2.0 µs a kernel inside a network"
    assert describe_shared({"spilled_bytes": 4e-7, "in_network_weight_bytes": 5e-9}) == \
        "+400.0 µs a MB of maps past the cores' caches, +5.0 µs a MB of weights inside a network"

    # read back, it predicts a real network as it did, to the last bit
    restored = kernel_model_from_json(body)
    assert restored == model
    for batch in (1, 8):
        report = analyze(build_for_analysis("mobilenet-v2"), batch=batch)
        assert restored.latency_ms(report, batch, PLAIN) == model.latency_ms(report, batch, PLAIN) > 0


def test_a_product_with_nothing_to_multiply_is_fitted_beside_its_class():
    """An empty KV cache's MatMul (4 × 0 by 0 × 16) writes its output and multiplies nothing: no product
    terms. It must not stop the fit of the MatMuls that have them."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"], name="full"),
             helper.make_node("MatMul", ["e", "v"], ["y"], name="empty")]
    report = analyze(make_model(nodes, [("x", [4, 32]), ("e", [4, 0])], [("h", [4, 16]), ("y", [4, 16])],
                                [weight("w", (32, 16)), weight("v", (0, 16))]))
    works = node_works(report, PLAIN)
    assert works["full"].is_product and not works["empty"].is_product
    assert works["full"].kernel_class == works["empty"].kernel_class == KernelClass("MatMul")
    rows = [LayerRow("full", ("full",), ("MatMul",), 0.01, None, 0),
            LayerRow("empty", ("empty",), ("MatMul",), 0.003, None, 0)]
    fit = fit_kernel_times(kernel_timings(rows, report, "net@1", PLAIN))
    assert list(fit.coefficients[KernelClass("MatMul")]) == [t.name for t in PRODUCT_TERMS]
    assert KernelModel(fit.coefficients, fit.shared).node_ms(works["full"]) == pytest.approx(0.01, rel=1e-3)


def test_a_node_fed_by_a_view_in_its_kernel_is_not_fused():
    """Flatten → Gemm joined into one row: the Flatten moves nothing, so the Gemm runs alone."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["f"], name="flat", axis=1),
             helper.make_node("Gemm", ["f", "w"], ["y"], name="fc", transB=1)]
    report = analyze(make_model(nodes, [("x", [1, 8, 2, 2])], [("y", [1, 4])], [weight("w", (4, 32))]))
    rows = [LayerRow("relu", ("relu",), ("Relu",), 0.01, None, 0),
            LayerRow("fc", ("flat", "fc"), ("Flatten", "Gemm"), 0.05, None, 0)]
    assert [t.fused for t in kernel_timings(rows, report, "net@1", PLAIN)] == [(False,), (False,)]
