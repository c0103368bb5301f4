"""Single-op benchmarks: sampled configurations, reproducible from a seed, each a valid model within the
bounds, covering what networks run; profiled on ONNX Runtime's CPU provider."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import onnx
import pytest

from onnxprof.cost.analysis import analyze_model
from onnxprof.measure.inputs import synthetic_feeds
from onnxprof.predict.kernel_work import REORDER
from onnxprof.predict.kernels import observed_fusions
from onnxprof.predict.opbench import (FAMILIES, MAX_ACTIVATION_BYTES, MAX_MACS, MAX_WEIGHT_BYTES, SIDES, Draw,
                                      op_cases, profile_ops, sampled)

ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def cases():
    return op_cases()


def _dims(info: onnx.ValueInfoProto) -> tuple[int, ...]:
    return tuple(d.dim_value for d in info.type.tensor_type.shape.dim)


def _inputs(case) -> list[tuple[int, ...]]:
    return [_dims(i) for i in case.model.graph.input]


def _nodes(case, op_type: str) -> list[onnx.NodeProto]:
    return [n for n in case.model.graph.node if n.op_type == op_type]


def _by_family(cases) -> dict[str, list]:
    found: dict[str, list] = {}
    for case in cases:
        found.setdefault(case.op, []).append(case)
    return found


def _attribute(node: onnx.NodeProto, name: str, default=None):
    found = [onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name]
    return found[0] if found else default


def test_a_seed_draws_the_same_cases_under_the_same_names_every_time():
    first, again = op_cases(("Conv (grouped)", "Gather")), op_cases(("Conv (grouped)", "Gather"))
    assert [c.name for c in first] == [c.name for c in again]
    assert [c.model.SerializeToString() for c in first] == [c.model.SerializeToString() for c in again]
    # a family's draws do not depend on which others are built, and another seed draws other cases
    everything = {family.op: set(sampled(family)) for family in FAMILIES}
    assert {c.name for c in first} == everything["Conv (grouped)"] | everything["Gather"]
    assert set(sampled(FAMILIES[0], seed=1)).isdisjoint(everything[FAMILIES[0].op])


def test_a_draw_past_a_bound_is_rejected():
    def relu(shape, **work):
        return Draw("", (shape,), shape, lambda b, x: b.node("Relu", [x], "op"), **work)

    # input and output of 8×64×112×112 floats: 2 × 25.7 MB; of twice the channels, 103 MB
    assert relu((8, 64, 112, 112)).within_bounds() and not relu((8, 128, 112, 112)).within_bounds()
    assert not relu((1, 8), weights=MAX_WEIGHT_BYTES // 4 + 1).within_bounds()
    assert not relu((1, 8), macs=MAX_MACS + 1).within_bounds() and relu((1, 8), macs=MAX_MACS).within_bounds()


def test_every_case_is_a_valid_model_within_the_bounds(cases):
    assert len(cases) == len({c.name for c in cases}) == sum(f.count for f in FAMILIES) <= 450
    for case in cases:
        onnx.checker.check_model(case.model, full_check=True)    # the declared output shape is the inferred one
        report = analyze_model(case.model)
        assert report.complete, case.name
        elements = sum(map(math.prod, (*_inputs(case), _dims(case.model.graph.output[0]))))
        assert 4 * elements <= MAX_ACTIVATION_BYTES, case.name
        assert report.memory.weight_bytes <= MAX_WEIGHT_BYTES and report.totals.macs <= MAX_MACS, case.name
        # every case works on what the graph is fed, not only on constants the engine would fold away
        fed = {i.name for i in case.model.graph.input}
        assert any(fed & set(n.input) for n in case.model.graph.node), case.name


def test_one_case_of_each_family_drawn_at_random_runs_on_onnx_runtime(cases):
    rng = np.random.default_rng(7)
    for members in _by_family(cases).values():
        case = members[int(rng.integers(len(members)))]
        session = ort.InferenceSession(case.model.SerializeToString(), providers=["CPUExecutionProvider"])
        (output,) = session.run(["output"], synthetic_feeds(analyze_model(case.model)))
        assert output.shape == _dims(case.model.graph.output[0]), case.name
        assert np.isfinite(output).all(), case.name


def test_the_sampled_spaces_cover_what_networks_run(cases):
    by_family = _by_family(cases)
    convolutions = [(c, n) for family in ("Conv 1x1", "Conv", "Conv (stem)", "Conv (depthwise)", "Conv (grouped)")
                    for c in by_family[family] for n in _nodes(c, "Conv")]
    kernels = {tuple(_attribute(n, "kernel_shape")) for _, n in convolutions}
    assert {(1, 1), (3, 3), (5, 5), (7, 7)} <= kernels
    assert any(h == 1 < w for h, w in kernels) and any(w == 1 < h for h, w in kernels)     # 1×k and k×1
    assert {_attribute(n, "strides")[0] for _, n in convolutions} == {1, 2}
    assert 2 in {_attribute(n, "dilations")[0] for _, n in convolutions}
    # channels a group: depthwise, 2 to 32, and dense
    per_group = {_inputs(c)[0][1] // _attribute(n, "group") for c, n in convolutions if _attribute(n, "group") > 1}
    assert {1, 2, 4, 8, 16, 32} <= per_group and any(_attribute(n, "group") == 1 for _, n in convolutions)
    channels = [_inputs(c)[0][1] for c, _ in convolutions]
    assert any(c % 4 for c in channels) and any(c % 16 == 8 for c in channels) and any(c % 16 == 0 for c in channels)
    assert min(channels) == 3 and max(channels) > 512          # the stems' images, wide late stages
    sides = {_inputs(c)[0][2] for c, _ in convolutions}
    assert min(sides) <= 14 and max(sides) >= 112 and sides - set(SIDES)
    assert {_inputs(c)[0][0] for c, _ in convolutions} == {1, 8}

    products = [(c, _inputs(c)) for c in by_family["MatMul (activations)"]]
    rank4 = [shapes for _, shapes in products if len(shapes[0]) == 4]
    assert rank4 and any(len(shapes[0]) == 3 for _, shapes in products)
    # windowed attention: many (batch·windows, heads) pairs of 7×7-token windows, as Swin runs them
    assert any(a[2] == 49 and a[0] * a[1] >= 64 for a, _ in rank4)
    assert {len(_inputs(c)[0]) for c in by_family["MatMul"]} == {2, 3, 4}
    assert {_inputs(c)[0][0] for c in by_family["MatMul (activations)"]} >= {1, 8}

    softmax_rows = [(math.prod(_inputs(c)[0][:-1]), _inputs(c)[0][-1]) for c in by_family["Softmax"]
                    if _attribute(_nodes(c, "Softmax")[0], "axis") == -1]
    assert any(rows >= 10_000 and length <= 64 for rows, length in softmax_rows)   # many short rows
    assert any(length >= 512 for _, length in softmax_rows)                         # and long ones
    assert len({_inputs(c)[0][-1] for c in by_family["LayerNormalization"]}) >= 6
    assert {len(_inputs(c)[0]) for c in by_family["Transpose"]} == {3, 4, 5, 6}
    assert {_attribute(_nodes(c, "Resize")[0], "mode") for c in by_family["Resize"]} == {b"nearest", b"linear"}
    assert {"Div", "Erf", "Add", "Mul"} <= {n.op_type for c in by_family["GELU"] for n in c.model.graph.node}
    roll = by_family["roll"][0]
    assert Counter(n.op_type for n in roll.model.graph.node) == {"Slice": 2, "Concat": 1}
    for family, op_type in (("Pad", "Pad"), ("Slice", "Slice"), ("Concat", "Concat"), ("Split", "Split"),
                            ("Gather", "Gather"), ("ReduceMean", "ReduceMean")):
        assert all(_nodes(c, op_type) for c in by_family[family]), family
    # the elementwise binaries broadcast a whole tensor, one value per channel, a parameter and a scalar
    shapes = [(len(c.model.graph.input), len(c.model.graph.initializer)) for c in by_family["Add"] + by_family["Mul"]]
    assert {(2, 0), (1, 1)} <= set(shapes)
    gates = [_inputs(c)[0] for family in by_family if family.endswith("(gate)") for c in by_family[family]]
    assert gates and all(shape[2:] == (1, 1) for shape in gates)


def test_some_sampled_convolutions_are_left_unblocked_by_onnx_runtime(tmp_path):
    """Depthwise convolutions whose channels are not a multiple of 4 run in NCHW; others are blocked: the
    sampled channel counts give the kernel model both kinds."""
    from onnxprof.engines.ort_layout import cpu_blocks, cpu_layout

    if not cpu_blocks():
        pytest.skip("ONNX Runtime has no blocked kernels on this CPU")
    unblocked = {}
    for case in op_cases(("Conv (depthwise)",)):
        path = tmp_path / f"{case.name}.onnx"
        onnx.save(case.model, path)
        unblocked[case.name] = (_inputs(case)[0][1] % 4 != 0, "op" in cpu_layout(str(path)).unblocked)
    assert {odd for odd, _ in unblocked.values()} == {True, False}
    assert all(left for odd, left in unblocked.values() if odd)


def test_single_op_benchmarks_profile_on_onnx_runtime():
    cases = op_cases(("Relu", "Pad"))
    timings = profile_ops(ops=("Relu", "Pad"), rounds=2)      # each case once: its faster round
    assert Counter(t.source for t in timings) == Counter(f"op:{case.op}" for case in cases)
    assert all(t.measured_ms > 0 and len(t.nodes) == 1 and t.fused == (False,) for t in timings)
    assert {t.nodes[0].op for t in timings} == {"Relu", "Pad"}


def test_gate_sized_cases_profile_the_fixed_cost_of_a_kernel():
    """Squeeze-and-excitation gates (C×1×1) are all fixed cost: their cases pin a class's constant."""
    gates = op_cases(("Sigmoid (gate)",))
    timings = profile_ops(ops=("Sigmoid (gate)",), rounds=1)
    assert sorted(t.nodes[0].outputs for t in timings) == sorted(float(math.prod(_inputs(c)[0])) for c in gates)
    assert all(t.measured_ms > 0 for t in timings)


def test_fusion_probes_show_what_onnx_runtime_fuses_into_a_convolution():
    timings = profile_ops(ops=("Conv+BatchNormalization+Relu", "Conv+BatchNormalization+PRelu"), rounds=1)
    fusions = observed_fusions(timings)
    assert {("Conv", "BatchNormalization"), ("BatchNormalization", "Relu")} <= fusions   # one kernel
    assert ("BatchNormalization", "PRelu") not in fusions                              # PReLU runs alone
    # a lone convolution's reorders into the blocked layout and back are left out
    assert REORDER not in {t.nodes[0].op for t in timings}
