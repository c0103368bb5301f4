"""Hostile model files, by class of defect, generated from a seed.

Each generator writes files into a folder and yields :class:`Case` records: what the file is and what
onnxprof must do with it (refuse it with one line, or analyse it, possibly with a warning). The same
generators feed the CI tests (a few hundred cases) and ``scripts/fuzz.py`` (as many as asked for).
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REFUSE, ANALYSE, EITHER = "refuse", "analyse", "either"


@dataclass(frozen=True)
class Case:
    kind: str          # the class of defect: utf8, depth, declared-data, explosion, not-a-file, bytes
    name: str
    path: Path
    expect: str        # refuse | analyse | either (random damage may or may not leave a valid model)
    warns: bool = False  # an analysed case must say what it repaired or left unknown
    args: tuple[str, ...] = ()   # extra flags for `analyze` (--no-check lets damage reach further)


def small_cnn(batch="N") -> onnx.ModelProto:
    """Conv (18 KB of weights: read by the payload-skipping parser) -> Relu -> pool -> Gemm, opset 17."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal((32, 16, 3, 3)).astype(np.float32), "conv.w"),
               numpy_helper.from_array(np.zeros(32, np.float32), "conv.b"),
               numpy_helper.from_array(rng.standard_normal((10, 32)).astype(np.float32), "fc.w"),
               numpy_helper.from_array(np.zeros(10, np.float32), "fc.b"),
               numpy_helper.from_array(np.array([0, -1], np.int64), "flat.shape")]
    nodes = [helper.make_node("Conv", ["images", "conv.w", "conv.b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
             helper.make_node("Reshape", ["p", "flat.shape"], ["f"], name="flatten"),
             helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["y"], name="fc", transB=1)]
    graph = helper.make_graph(nodes, "small_cnn", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 16, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 10])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model


def bundled_models() -> list[Path]:
    """The small real models that the onnx wheel ships with its backend tests."""
    root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    return sorted(root.rglob("model.onnx"))


# -- 1. names that are not UTF-8 ------------------------------------------------------------------

def not_utf8(folder: Path, rng: random.Random) -> Iterator[Case]:
    """Every occurrence of one name (node, tensor, domain, dim_param) swapped for bytes of the same
    length that are not UTF-8, so the file still parses and the graph still connects."""
    base = small_cnn().SerializeToString()
    model = small_cnn()
    model.graph.node[1].domain = "custom.dom"
    model.opset_import.append(helper.make_opsetid("custom.dom", 1))
    with_domain = model.SerializeToString()
    for label, data, name in [("node", base, b"relu"), ("tensor", base, b"conv.w"), ("input", base, b"images"),
                              ("dim_param", base, b"\x12\x01N"), ("graph", base, b"small_cnn"),
                              ("domain", with_domain, b"custom.dom")]:
        bad = bytes(rng.choice((0xFF, 0xFE, 0xC0, 0x80)) for _ in name.strip(b"\x12\x01"))
        replaced = name.replace(name.strip(b"\x12\x01"), bad)
        path = folder / f"utf8_{label}.onnx"
        path.write_bytes(data.replace(name, replaced))
        yield Case("utf8", label, path, EITHER if label == "domain" else ANALYSE, warns=True)


# -- 2. deep structure ----------------------------------------------------------------------------

def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def nested_if_bytes(depth: int, padding: int) -> bytes:
    """A model whose If nodes nest ``depth`` deep, written field by field (protobuf's own writer refuses
    past its depth limit); ``padding`` bytes of doc string in each body make every level large."""
    output = _field(1, b"Y")
    body = _field(1, _field(1, b"X") + _field(2, b"Y") + _field(4, b"Identity")) + _field(12, output)
    for level in range(depth):
        attribute = _field(1, b"then_branch") + _varint(20 << 3) + _varint(5) + _field(6, body)
        node = _field(1, b"C") + _field(2, b"Y") + _field(4, b"If") + _field(5, attribute)
        body = _field(1, node) + _field(2, f"b{level}".encode()) + _field(10, b"p" * padding) + _field(12, output)
    float4 = _field(1, _varint(1 << 3) + _varint(1) + _field(2, _field(1, _varint(1 << 3) + _varint(4))))
    inputs = _field(11, _field(1, b"X") + _field(2, float4)) + _field(11, _field(1, b"C") + _field(2, _field(1, _varint(1 << 3) + _varint(9))))
    graph = body + inputs
    return _varint(1 << 3) + _varint(8) + _field(7, graph) + _field(8, _varint(2 << 3) + _varint(17))


def deep_structure(folder: Path, rng: random.Random) -> Iterator[Case]:
    for depth in (40, 120, 600):
        for padding in (0, 5000):
            path = folder / f"nested_if_{depth}_{padding}.onnx"
            path.write_bytes(nested_if_bytes(depth, padding))
            yield Case("depth", f"If nested {depth} deep, {padding} B a level", path, REFUSE)
    for label, dim in [("parentheses", "(" * 3000 + "N" + ")" * 3000), ("exponent", "N**99999999"),
                       ("power of a sum", "(a+b+c+d+e+f+g+h)**8*(a+b+c+d)**8"), ("long number", "9" * 400)]:
        model = small_cnn(batch=dim)
        path = folder / f"dim_{label.replace(' ', '_')}.onnx"
        onnx.save(model, path)
        yield Case("depth", f"dim_param: {label}", path, ANALYSE)


# -- 3. data that disagrees with its declaration --------------------------------------------------

def _with_tensor(edit: Callable[[TensorProto], None], index: int = 0) -> onnx.ModelProto:
    model = small_cnn()
    edit(model.graph.initializer[index])
    return model


def declared_data(folder: Path, rng: random.Random) -> Iterator[Case]:
    edits: list[tuple[str, int, Callable[[TensorProto], None]]] = [
        ("large raw_data one byte short", 0, lambda t: setattr(t, "raw_data", t.raw_data[:-1])),
        ("large raw_data 4 bytes long", 0, lambda t: setattr(t, "raw_data", t.raw_data + b"\0" * 4)),
        ("small raw_data short", 1, lambda t: setattr(t, "raw_data", t.raw_data[:-4])),
        ("small int64 shape one value long", 4, lambda t: (t.ClearField("raw_data"), t.int64_data.extend([0, -1, 7]))),
        ("float_data for the wrong dims", 1, lambda t: (t.ClearField("raw_data"), t.float_data.extend([0.0] * 31))),
        ("data_type 0", 0, lambda t: setattr(t, "data_type", 0)),
        ("data_type 99", 2, lambda t: setattr(t, "data_type", 99)),
        ("negative dim", 3, lambda t: (t.ClearField("dims"), t.dims.extend([-10]))),
        ("dims without data", 2, lambda t: (t.ClearField("raw_data"), t.ClearField("dims"), t.dims.extend([1 << 32, 1 << 32]))),
        ("dims past int64", 2, lambda t: (t.ClearField("dims"), t.dims.extend([1 << 62, 1 << 62]))),
        ("huge dims, tiny data", 3, lambda t: (t.ClearField("dims"), t.dims.extend([1 << 32, 1 << 32]))),
    ]
    for label, index, edit in edits:
        path = folder / f"declared_{label.replace(' ', '_')}.onnx"
        onnx.save(_with_tensor(edit, index), path)
        yield Case("declared-data", label, path, REFUSE)
    for key, value in [("offset", "-1"), ("offset", "abc"), ("offset", "0x1b0"), ("length", "1\0"),
                       ("length", "-4"), ("offset", "9" * 30), ("location", "w\0.bin"), ("location", "../w.bin"),
                       ("location", "/etc/passwd"), ("length", "7")]:
        yield _external_case(folder, key, value)


def _external_case(folder: Path, key: str, value: str) -> Case:
    model = small_cnn()
    tensor = model.graph.initializer[0]
    data = tensor.raw_data
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    entries = {"location": "w.bin", "offset": "0", "length": str(len(data)), key: value}
    for k, v in entries.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = k, v
    sub = folder / f"external_{key}_{abs(hash(value)) % 10**6}"
    sub.mkdir(exist_ok=True)
    (sub / "w.bin").write_bytes(data)
    path = sub / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return Case("declared-data", f"external {key}={value!r}", path, REFUSE)


# -- 4. shape arithmetic that explodes ------------------------------------------------------------

def explosions(folder: Path, rng: random.Random) -> Iterator[Case]:
    """Models whose shape arithmetic, done naively, takes gigabytes or hours: analysed with what is
    known, never attempted."""
    n = 1 << 26
    cases = {
        "Add of a 2^26 vector": ([helper.make_node("Add", ["X", "X"], ["Y"])], [("X", [n])], [], 1),
        "Squeeze to a 2^26 vector, then Add": (
            [helper.make_node("Squeeze", ["X", "axes"], ["S"]), helper.make_node("Add", ["S", "S"], ["Y"])],
            [("X", [1, n])], [numpy_helper.from_array(np.array([0], np.int64), "axes")], 1),
        "Reshape to 2^62 x 2^62": (
            [helper.make_node("Reshape", ["X", "shape"], ["Y"])], [("X", [4])],
            [numpy_helper.from_array(np.array([1 << 62, 1 << 62], np.int64), "shape")], 2),
        "Concat of 2^26 vectors": ([helper.make_node("Concat", ["X", "X"], ["Y"], axis=0)], [("X", [n])], [], 1),
        "a 2^26 vector beside a shape read from values": (
            [helper.make_node("Add", ["X", "X"], ["A"]), helper.make_node("Shape", ["Z"], ["s"]),
             helper.make_node("Concat", ["s", "s"], ["t"], axis=0), helper.make_node("Reshape", ["A", "t"], ["Y"])],
            [("X", [n]), ("Z", [1 << 13, 1 << 13])], [], 2),
    }
    for label, (nodes, inputs, initializers, rank) in cases.items():
        graph = helper.make_graph(nodes, "explode", [helper.make_tensor_value_info(i, TensorProto.FLOAT, s) for i, s in inputs],
                                  [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["out"] * rank)], initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        path = folder / f"explode_{len(label)}_{label.split()[0]}.onnx"
        onnx.save(model, path)
        yield Case("explosion", label, path, EITHER, warns="values" in label)
    yield _sparse_constant(folder)


def _sparse_constant(folder: Path) -> Case:
    """A constant of 2^38 floats in external data: a sparse file, 1 TB long, never written."""
    elements = 1 << 38
    tensor = TensorProto(name="C", data_type=TensorProto.FLOAT, dims=[elements])
    tensor.data_location = TensorProto.EXTERNAL
    for k, v in {"location": "c.bin", "offset": "0", "length": str(4 * elements)}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = k, v
    graph = helper.make_graph([helper.make_node("Add", ["C", "C"], ["Y"])], "sparse", [],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["out"])], [tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sub = folder / "sparse_constant"
    sub.mkdir(exist_ok=True)
    with open(sub / "c.bin", "wb") as stream:
        stream.truncate(4 * elements)
    path = sub / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return Case("explosion", "external constant of 2^38 floats", path, EITHER)


# -- 6. files that are not files ------------------------------------------------------------------

def not_files(folder: Path, rng: random.Random) -> Iterator[Case]:
    fifo = folder / "fifo.onnx"
    if not fifo.exists():
        os.mkfifo(fifo)
    yield Case("not-a-file", "FIFO", fifo, REFUSE)
    yield Case("not-a-file", "character device", Path("/dev/zero"), REFUSE)
    yield Case("not-a-file", "folder", folder, REFUSE)
    empty = folder / "empty.onnx"
    empty.write_bytes(b"")
    yield Case("not-a-file", "empty file", empty, REFUSE)


# -- random damage to real models -----------------------------------------------------------------

def damaged_bytes(folder: Path, rng: random.Random, count: int) -> Iterator[Case]:
    """Byte flips, truncations and spliced runs in the small CNN and the onnx wheel's bundled models."""
    sources = [small_cnn().SerializeToString()] + [p.read_bytes() for p in bundled_models()]
    for index in range(count):
        data = bytearray(rng.choice(sources))
        how = rng.choice(("flip", "truncate", "splice", "zero"))
        if how == "flip":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif how == "truncate":
            del data[rng.randrange(1, len(data)):]
        elif how == "splice":
            start = rng.randrange(len(data))
            data[start:start] = data[rng.randrange(len(data)):][:rng.randint(1, 64)]
        else:
            start = rng.randrange(len(data))
            data[start:start + rng.randint(1, 16)] = bytes(16)[:len(data[start:start + 16])]
        path = folder / f"damaged_{index}_{how}.onnx"
        path.write_bytes(bytes(data))
        yield Case("bytes", f"{how} #{index}", path, EITHER, args=("--no-check",) if index % 2 else ())


FIXED_CLASSES = (not_utf8, deep_structure, declared_data, not_files)


# -- protobuf-level edits -------------------------------------------------------------------------

_EXTREME_INTS = (-(1 << 63), -(1 << 31), -1, 0, 1, 2, 3, 7, 1 << 31, 1 << 40, (1 << 63) - 1)


def edited_fields(folder: Path, rng: random.Random, count: int) -> Iterator[Case]:
    """One field of one message in a real model set to an extreme or foreign value: an int to a limit,
    a name to another tensor's or to nothing, a repeated field emptied or doubled, an enum out of range."""
    sources = [small_cnn()] + [onnx.load(p) for p in bundled_models()[::4]]
    for index in range(count):
        model = onnx.ModelProto()
        model.CopyFrom(rng.choice(sources))
        messages = list(_messages(model))
        for _ in range(rng.randint(1, 3)):
            message = rng.choice(messages)
            fields = [f for f in message.DESCRIPTOR.fields if f.type != f.TYPE_MESSAGE]
            if fields:
                _edit(message, rng.choice(fields), rng)
        path = folder / f"edited_{index}.onnx"
        try:
            path.write_bytes(model.SerializeToString())
        except (ValueError, TypeError):
            continue
        yield Case("fields", f"edit #{index}", path, EITHER, args=("--no-check",) if index % 2 else ())


def _messages(message):
    pending = [message]
    while pending:
        current = pending.pop()
        yield current
        for field, value in current.ListFields():
            if field.type == field.TYPE_MESSAGE:
                pending.extend(value if field.is_repeated else [value])


def _edit(message, field, rng: random.Random) -> None:
    name = field.name
    if field.is_repeated:
        values = getattr(message, name)
        choice = rng.randrange(3)
        if choice == 0 or not values:
            message.ClearField(name)
        elif choice == 1:
            values.extend(list(values))
        else:
            values[rng.randrange(len(values))] = _value(field, rng)
        return
    setattr(message, name, _value(field, rng))


def _value(field, rng: random.Random):
    if field.type == field.TYPE_STRING:
        return rng.choice(("", "x", "conv.w", "images", "N", "?", "a" * 300, "\u00e9\u4e2d", "com.microsoft"))
    if field.type == field.TYPE_BYTES:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 12)))
    if field.type in (field.TYPE_FLOAT, field.TYPE_DOUBLE):
        return rng.choice((0.0, -1.0, 1e30, float("nan"), float("inf")))
    if field.type == field.TYPE_BOOL:
        return rng.random() < 0.5
    if field.type == field.TYPE_ENUM:       # closed enums: another defined value (a wrong kind of tensor)
        return rng.choice(field.enum_type.values).number
    value = rng.choice(_EXTREME_INTS)
    if field.type in (field.TYPE_UINT64, field.TYPE_UINT32, field.TYPE_FIXED64):
        value = abs(value) % (1 << 32 if field.type == field.TYPE_UINT32 else 1 << 64)
    elif field.type == field.TYPE_INT32:
        value = max(-(1 << 31), min(value, (1 << 31) - 1))
    return value
