"""Single-op benchmarks: one-node models of the kernels networks are made of, at the sizes they run at,
profiled on the device so that the kernel model has seen every common op — also those none of the
calibration networks uses (ENet's PReLU, MobileNetV3's hard-swish, ConvNeXt's LayerNorm) — and
depthwise Conv → BatchNorm → activation chains, which show which activations the engine fuses into the
convolution (nn-Meter's fusion-rule detection).

Each op is built with the zoo's graph builder at a ladder of activation sizes (a stage of an ImageNet
network at batch 1, and two at batch 8; activations also at the 1×1 maps of squeeze-and-excitation
gates), profiled with the engine, and joined to its node like any
network layer. One op's sizes form one source, weighted like one network in the fit.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import onnx

from onnxprof.cost.analysis import analyze
from onnxprof.engines import engine_traits
from onnxprof.engines.base import EngineOptions
from onnxprof.measure.inputs import synthetic_feeds
from onnxprof.measure.layers import LayerRow
from onnxprof.measure.quiet import MachineProbe, Round, fastest_round
from onnxprof.predict.calibrate import profiled_rows
from onnxprof.predict.kernels import LAYOUT, KernelTiming, kernel_timings
from onnxprof.zoo.builder import GraphBuilder, constant, he_normal

# (batch, channels, height = width): the stages of an ImageNet CNN, then two at batch 8
ACTIVATIONS = ((1, 32, 112), (1, 64, 56), (1, 128, 28), (1, 256, 14), (1, 512, 7), (8, 64, 56), (8, 256, 14))
# channel counts that are not a multiple of 4, which ONNX Runtime's CPU provider does not block
# (ShuffleNetV2's 58): its convolutions and pools then run other kernels (see engines/ort_layout)
UNBLOCKED_ACTIVATIONS = ((1, 58, 56), (1, 58, 28), (1, 122, 14), (8, 58, 28))
# the 1×1 maps of squeeze-and-excitation gates (EfficientNet's 4-48 channels, MobileNetV3's up to 960)
GATE_ACTIVATIONS = ((1, 8, 1), (1, 32, 1), (1, 240, 1), (8, 32, 1), (8, 240, 1))
TOKENS = ((1, 197, 768), (1, 3136, 96), (8, 197, 768), (1, 49, 768))   # (batch, tokens, width): transformers
SIGN_RUN = 2     # feature maps change sign in runs of pixels, not at random (see _feature_map_feeds)
ROUNDS = 3       # passes over all cases; each case keeps its fastest pass (load from elsewhere only adds)


@dataclass(frozen=True)
class OpCase:
    op: str                  # the source name: one op, all its sizes
    name: str
    model: onnx.ModelProto


def _image_op(op: str, make: Callable[[GraphBuilder, str, int, int], tuple[str, list]],
              activations: Sequence[tuple[int, int, int]] = ACTIVATIONS) -> Iterator[OpCase]:
    for batch, channels, size in activations:
        b = GraphBuilder(f"{op}-{batch}x{channels}x{size}", batch=batch)
        x = b.input("x", [batch, channels, size, size])
        y, shape = make(b, x, channels, size)
        yield OpCase(op, b.name, b.build(y, shape))


def _token_op(op: str, make: Callable[[GraphBuilder, str, int], str]) -> Iterator[OpCase]:
    for batch, tokens, width in TOKENS:
        b = GraphBuilder(f"{op}-{batch}x{tokens}x{width}", batch=batch)
        x = b.input("x", [batch, tokens, width])
        yield OpCase(op, b.name, b.build(make(b, x, width), [batch, tokens, width]))


def _same(op_type: str, **attrs):
    return lambda b, x, c, s: (b.node(op_type, [x], "op", **attrs), [b.batch, c, s, s])


def _binary(op_type: str, per_channel: bool = False):
    def make(b, x, c, s):
        other = b.input("other", [b.batch, c, 1, 1] if per_channel else [b.batch, c, s, s])
        return b.node(op_type, [x, other], "op"), [b.batch, c, s, s]
    return make


def _clip(b, x, c, s):   # ReLU6, as MobileNets export it
    low, high = b.const("low", np.float32(0.0)), b.const("high", np.float32(6.0))
    return b.node("Clip", [x, low, high], "op"), [b.batch, c, s, s]


def _prelu(b, x, c, s):
    return b.node("PRelu", [x, b.param("slope", (c, 1, 1), constant(0.25))], "op"), [b.batch, c, s, s]


def _silu(b, x, c, s):   # x·sigmoid(x) (EfficientNet, YOLO): whether the engine runs it as one kernel is measured
    return b.silu(x, "op"), [b.batch, c, s, s]


def _batch_norm(b, x, c, s):
    return b.batch_norm(x, "op", c), [b.batch, c, s, s]


def _pool(op_type: str, kernel: int, stride: int, pad: int):
    def make(b, x, c, s):
        out = (s + 2 * pad - kernel) // stride + 1
        return b.node(op_type, [x], "op", kernel_shape=[kernel, kernel], strides=[stride, stride],
                      pads=[pad] * 4), [b.batch, c, out, out]
    return make


def _global_pool(b, x, c, s):
    return b.global_avg_pool(x, "op"), [b.batch, c, 1, 1]


def _concat(b, x, c, s):
    return b.concat([x, b.input("other", [b.batch, c, s, s])], "op"), [b.batch, 2 * c, s, s]


def _split(b, x, c, s):   # ShuffleNetV2's channel split
    sizes = b.const("halves", np.array([c // 2, c - c // 2], np.int64))
    halves = b.node("Split", [x, sizes], "op", outputs=2, axis=1)
    return halves[0], [b.batch, c // 2, s, s]


def _transpose(b, x, c, s):
    return b.node("Transpose", [x], "op", perm=[0, 2, 3, 1]), [b.batch, s, s, c]


def _conv(kernel: int, stride: int = 1, per_group: int = 0, dilation: int = 1, asymmetric: bool = False):
    """A c → c convolution; ``per_group`` channels in each group (1: depthwise; 0: one group)."""
    def make(b, x, c, s):
        kh, kw = (kernel, 1) if asymmetric else (kernel, kernel)
        ph, pw = dilation * (kh // 2), dilation * (kw // 2)
        y = b.conv(x, "op", c, c, (kh, kw), stride, (ph, pw), groups=c // per_group if per_group else 1,
                   dilation=dilation)
        out = (s - 1) // stride + 1
        return y, [b.batch, c, out, out]
    return make


def _gemm_cases() -> Iterator[OpCase]:
    for batch, features, outputs in ((1, 512, 1000), (1, 4096, 4096), (8, 1280, 1000), (8, 9216, 4096)):
        b = GraphBuilder(f"Gemm-{batch}x{features}x{outputs}", batch=batch)
        x = b.input("x", [batch, features])
        yield OpCase("Gemm", b.name, b.build(b.linear(x, "op", features, outputs), [batch, outputs]))


def _matmul(b, x, width):
    return b.node("MatMul", [x, b.param("w", (width, width), he_normal(width))], "op")


def _layer_norm(b, x, width):
    return b.layer_norm(x, "op", width)


IMAGE_OPS = {
    "Relu": _same("Relu"), "Sigmoid": _same("Sigmoid"), "Tanh": _same("Tanh"), "Clip": _clip,
    "LeakyRelu": _same("LeakyRelu", alpha=0.1), "HardSigmoid": _same("HardSigmoid"), "HardSwish": _same("HardSwish"),
    "Elu": _same("Elu"), "Erf": _same("Erf"), "Exp": _same("Exp"), "Softmax": _same("Softmax", axis=1),
    "PRelu": _prelu, "SiLU": _silu, "BatchNormalization": _batch_norm,
    "Add": _binary("Add"), "Mul": _binary("Mul"), "Sub": _binary("Sub"), "Div": _binary("Div"),
    "Mul (per channel)": _binary("Mul", per_channel=True),
    "MaxPool": _pool("MaxPool", 3, 2, 1), "AveragePool": _pool("AveragePool", 3, 1, 1),
    "GlobalAveragePool": _global_pool, "Concat": _concat, "Split": _split, "Transpose": _transpose,
    "Conv 1x1": _conv(1), "Conv 3x3": _conv(3), "Conv 3x3 stride 2": _conv(3, 2),
    "Conv 3x3 dilated": _conv(3, dilation=2), "Conv 5x1": _conv(5, asymmetric=True),
    "depthwise 3x3": _conv(3, per_group=1), "depthwise 5x5 stride 2": _conv(5, 2, per_group=1),
    # MobileNetV2's and EfficientNet's stages open with one: with 5x5 ones alone, the class priced
    # MobileNetV2's first at batch 1 (6 MB of maps) at 57 µs, profiled 115 µs (110 µs alone)
    "depthwise 3x3 stride 2": _conv(3, 2, per_group=1),
    **{f"grouped 3x3 ({w} per group)": _conv(3, per_group=w) for w in (2, 4, 8, 16, 32)},
    # each stage of RegNet and ResNeXt starts with one: at stride 1 alone the input bytes and the outputs
    # grow together, and the fit priced RegNetX-400MF's four at 1.7-2.1 times their profiled time
    **{f"grouped 3x3 stride 2 ({w} per group)": _conv(3, 2, per_group=w) for w in (2, 4, 8, 16, 32)},
}

UNBLOCKED_OPS = {"Conv 1x1 (unblocked channels)": _conv(1), "depthwise 3x3 (unblocked channels)": _conv(3, per_group=1),
                 "depthwise 3x3 stride 2 (unblocked channels)": _conv(3, 2, per_group=1),
                 "MaxPool (unblocked channels)": _pool("MaxPool", 3, 2, 1)}

# at the gates' sizes a kernel is all fixed cost: without them a class's constant is the intercept of cases
# of 25 000 elements and up (once 7 µs for Sigmoid, where EfficientNet's gates took 4-5 µs in all). Not
# HardSwish: alone, ONNX Runtime's CPU provider runs it as a HardSigmoid and a Mul kernel of names of its
# own, which join no ONNX node (so its IMAGE_OPS cases time nothing either; after a Conv it is fused)
GATE_OPS = {f"{op} (gate)": IMAGE_OPS[op] for op in ("SiLU", "Sigmoid", "HardSigmoid", "Relu")}

TOKEN_OPS = {"MatMul": _matmul, "LayerNormalization": _layer_norm,
             "Softmax (tokens)": lambda b, x, width: b.softmax(x, "op")}


# activations an engine may run inside the convolution before them: each is also benchmarked after a
# Conv and its BatchNorm, so that which of them fuse (and what they cost then) is measured, not assumed.
# The Conv is depthwise, as cheap as a convolution gets for its output, so that what a fused activation
# adds shows: ONNX Runtime's CPU provider runs a fused ReLU for free but a fused Clip (ReLU6) as one
# more pass over the output, +0.7 ms on MobileNetV2's 16 → 96 expansion at batch 8 (1.0 → 1.7 ms).
# After the 3×3 64 → 64 convolution these probes once used (4.4 ms at batch 8) that pass was lost in
# the noise, fused Clip came out free, and MobileNetV2 held out at batch 8 came out 10-28 % low
FUSIBLE = ("Relu", "Clip", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Elu", "PRelu")
FUSION_SIZES = (ACTIVATIONS[1], ACTIVATIONS[3], ACTIVATIONS[5])


def _after_conv(activation: str) -> Iterator[OpCase]:
    op = f"Conv+BatchNormalization+{activation}"
    for batch, channels, size in FUSION_SIZES:
        b = GraphBuilder(f"{op}-{batch}x{channels}x{size}", batch=batch)
        x = b.input("x", [batch, channels, size, size])
        y = b.conv_bn(x, "conv", "bn", channels, channels, 3, 1, 1, groups=channels)
        out, shape = IMAGE_OPS[activation](b, y, channels, size)
        yield OpCase(op, b.name, b.build(out, shape))


def op_cases(ops: Sequence[str] = ()) -> list[OpCase]:
    """Every benchmark case (or those of the named ops)."""
    cases = [case for op, make in IMAGE_OPS.items() for case in _image_op(op, make)]
    cases += [case for op, make in UNBLOCKED_OPS.items() for case in _image_op(op, make, UNBLOCKED_ACTIVATIONS)]
    cases += [case for op, make in GATE_OPS.items() for case in _image_op(op, make, GATE_ACTIVATIONS)]
    cases += [case for activation in FUSIBLE for case in _after_conv(activation)]
    cases += [case for op, make in TOKEN_OPS.items() for case in _token_op(op, make)]
    cases += list(_gemm_cases())
    return [c for c in cases if not ops or c.op in ops]


def _feature_map_feeds(report) -> dict[str, np.ndarray]:
    """Random feeds whose image-shaped inputs are constant over SIGN_RUN × SIGN_RUN blocks. Some kernels
    branch on the data: ONNX Runtime's PReLU on a CPU is about 7× slower on independent random signs
    than on runs of 8 equal signs. A network's feature maps are spatially correlated, so independent
    pixels would overstate such kernels; how much is a property of the data, not of the shape."""
    feeds = synthetic_feeds(report)
    for name, value in feeds.items():
        if value.ndim == 4 and np.issubdtype(value.dtype, np.floating):
            n, c, h, w = value.shape
            low = value[:, :, ::SIGN_RUN, ::SIGN_RUN]
            feeds[name] = np.ascontiguousarray(low.repeat(SIGN_RUN, 2).repeat(SIGN_RUN, 3)[:, :, :h, :w])
    return feeds


def _prepare(case: OpCase, folder: Path) -> tuple[Path, object, dict[str, np.ndarray]]:
    """The case's file, analysis and feeds: made once, profiled every round."""
    path = folder / f"{case.name}.onnx"
    onnx.save(case.model, path)
    report = analyze(path, check=False)     # from the file: the layout the engine picks is read from it
    return path, report, _feature_map_feeds(report)


class OpBench:
    """``with OpBench(engine, options) as bench:`` — the cases, saved and analysed once; ``run_round(probe)``
    profiles each case once between two readings of ``probe``; ``finish(probe, took_s)`` profiles again
    the cases none of whose rounds found the machine quiet (see :mod:`onnxprof.measure.quiet`) and keeps
    each case's fastest round in ``timings``. Calibration runs its rounds between the networks' rounds
    (:func:`onnxprof.predict.calibrate.collect`), so that a spell of load from elsewhere lands on one
    round of the cases, not on all of them: run first and alone, every case of one calibration ran
    24 % slower than in the eight before it, while its networks did not."""

    def __init__(self, engine: str = "onnxruntime", options: EngineOptions = EngineOptions(), ops: Sequence[str] = (),
                 progress: Callable[[str], None] = lambda _: None, rounds: int = ROUNDS):
        self.engine, self.options, self.progress, self.rounds = engine, options, progress, rounds
        self.cases = {case.name: case for case in op_cases(ops)}
        self.measured: dict[str, list[Round]] = {name: [] for name in self.cases}
        self.timings: list[KernelTiming] = []
        self.rounds_run = 0
        # called after each case is profiled: (name, its round's index, the Round, the profile's rows, when
        # it began); calibrate writes it to its checkpoint
        self.on_profiled: Callable[[str, int, Round, Sequence[LayerRow], float], None] = lambda *_: None

    def __enter__(self) -> "OpBench":
        self._folder = tempfile.TemporaryDirectory(prefix="onnxprof-ops-")
        self._prepared = {name: _prepare(case, Path(self._folder.name)) for name, case in self.cases.items()}
        return self

    def __exit__(self, *exc) -> None:
        self._folder.cleanup()

    def _timings(self, name: str, rows: Sequence[LayerRow]) -> list[KernelTiming]:
        path, report, _ = self._prepared[name]
        traits = engine_traits(self.engine, self.options, str(path))
        found = kernel_timings(rows, report, f"op:{self.cases[name].op}", traits, alone=True)
        # a lone op's reorders (the graph's input in, its output out) are left out: with their 40
        # sources in the fit, the Reorder class gave 2.3 µs a kernel against 6.5 µs from networks
        # alone, and ShuffleNetV2's and MobileNetV3's reorders half their profiled time
        return [timing for timing in found if timing.nodes[0].kind != LAYOUT]

    def _profile(self, name: str, probe: MachineProbe) -> None:
        path, report, feeds = self._prepared[name]
        profiled: list[LayerRow] = []

        def timings() -> tuple[float, tuple]:
            profiled.extend(profiled_rows(self.engine, path, self.options, feeds, report))
            found = self._timings(name, profiled)
            return _total(found), tuple(found)
        began = time.perf_counter()
        round_ = probe.around(timings)
        self.measured[name].append(round_)
        self.on_profiled(name, len(self.measured[name]) - 1, round_, tuple(profiled), began)

    def restore(self, name: str, probe_ms: tuple[float, float], rows: Sequence[LayerRow]) -> None:
        """A round of case ``name`` profiled before (a stopped calibration's checkpoint), kept as if
        profiled now: run_round skips the cases whose round it holds."""
        found = self._timings(name, rows)
        self.measured[name].append(Round(_total(found), tuple(probe_ms), tuple(found)))

    def run_round(self, probe: MachineProbe) -> None:
        done, self.rounds_run = self.rounds_run, self.rounds_run + 1
        for name in self.cases:
            if len(self.measured[name]) > done:
                continue           # restored
            self.progress(f"single-op benchmark {name} (round {done + 1} of {self.rounds})")
            self._profile(name, probe)

    def finish(self, probe: MachineProbe, rounds_took_s: float) -> list[KernelTiming]:
        probe.measure_again(self.measured, lambda name: self._profile(name, probe), rounds_took_s,
                            lambda name: self.progress(f"single-op benchmark {name}: no round ran on a quiet "
                                                       "machine; waiting to profile it again"))
        kept = {name: fastest_round(rounds_of, probe.is_quiet)[0] for name, rounds_of in self.measured.items()}
        self.timings = [timing for name in self.cases for timing in kept[name].payload]
        return self.timings


def profile_ops(engine: str = "onnxruntime", options: EngineOptions = EngineOptions(),
                progress: Callable[[str], None] = lambda _: None, ops: Sequence[str] = (),
                rounds: int = ROUNDS) -> list[KernelTiming]:
    """The kernel timings of every case (or of the named ops'), on their own: what each op costs alone,
    and, from the Conv → BatchNorm → activation chains, which activations the engine fuses. Like
    calibrate's networks, each case keeps its fastest round, and a case no round of which found the
    machine quiet is profiled again: one spell of load from elsewhere once made every Transpose case
    2–5 times slower in all three rounds."""
    started = time.perf_counter()
    with OpBench(engine, options, ops, progress, rounds) as bench, MachineProbe(options.threads) as probe:
        for _ in range(rounds):
            bench.run_round(probe)
        return bench.finish(probe, time.perf_counter() - started)


def _total(timings: Sequence[KernelTiming]) -> float:
    return sum(t.measured_ms for t in timings)
