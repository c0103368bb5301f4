"""Machine-readable output: JSON (versioned schema) and CSV (one row per node).

In JSON every count is an exact integer; a count that depends on an unbound dimension is an object
``{"formula": "4089184256*N", "terms": [{"coefficient": 4089184256, "powers": {"N": 1}}]}``.
Each node has a ``status`` (counted, no_formula, unknown_shape, invalid) and a ``reason``: why it is
invalid, or which invalid node its shapes derive from; ``invalid_nodes`` lists the invalid ones by
qualified name, and ``complete`` is false when any node is not counted.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from typing import Any

from onnxprof import __version__
from onnxprof.cost.analysis import NodeReport, StaticReport
from onnxprof.report.units import ratio, shape_text
from onnxprof.symbolic import Poly, format_quantity

SCHEMA_VERSION = 1
NODE_COLUMNS = ("name", "op_type", "domain", "status", "macs", "flops", "params", "bytes_read",
                "bytes_written", "output_shapes", "output_bytes", "reason")


def quantity_json(value: Any) -> Any:
    if isinstance(value, Poly):
        terms = [{"coefficient": c, "powers": dict(m)} for m, c in value.terms.items()]
        return {"formula": format_quantity(value), "terms": terms}
    return value


_SCALARS = (int, float, str, bool, type(None))
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """Dataclasses, containers and quantities as JSON-ready values (the report's graph left out)."""
    kind = type(value)
    if kind is float and not math.isfinite(value):
        return None              # standard JSON has no NaN or Infinity: null is "no number"
    if kind in _SCALARS:
        return value
    if kind is Poly:
        return quantity_json(value)
    names = _FIELD_NAMES.get(kind)
    if names is None and dataclasses.is_dataclass(value):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value) if f.name != "graph")
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return [_plain(v) for v in value]


def _dims(shape) -> Any:
    return None if shape is None else [d if d is None or isinstance(d, int) else format_quantity(d) for d in shape]


def _node_json(node: NodeReport) -> dict:
    # Written out rather than through _plain: 40k-node graphs spend most of their JSON time here.
    return {"name": node.name, "op_type": node.op_type, "domain": node.domain, "status": node.status,
            "reason": node.reason,
            "macs": quantity_json(node.macs), "flops": quantity_json(node.flops),
            "bytes_read": quantity_json(node.bytes_read), "bytes_written": quantity_json(node.bytes_written),
            "params": node.params, "compute_dtype": node.compute_dtype, "output_shapes": [_dims(shape) for shape in node.output_shapes],
            "output_bytes": [quantity_json(size) for size in node.output_bytes],
            "subgraphs": [{"attribute": sub.attribute, "macs": quantity_json(sub.macs), "flops": quantity_json(sub.flops),
                           "nodes": [_node_json(inner) for inner in sub.nodes]} for sub in node.subgraphs]}


def analysis_json(report: StaticReport) -> str:
    body = {f.name: _plain(getattr(report, f.name)) for f in dataclasses.fields(report) if f.name not in ("graph", "nodes")}
    if report.reference is not None:
        body["reference"]["top1_per_mparams"] = report.reference.top1_per_mparams
    for section, records in (("inputs", report.inputs), ("outputs", report.outputs)):
        for plain, record in zip(body[section], records):
            plain["shape"] = _dims(record.shape)  # dims as in ONNX: int, a symbol's formula, or null
    body["nodes"] = [_node_json(node) for node in report.nodes]
    body["totals"]["bytes_moved"] = quantity_json(report.totals.bytes_moved)
    body["totals"]["arithmetic_intensity"] = ratio(report.totals.flops, report.totals.bytes_moved)
    body["complete"] = report.complete
    document = {"schema": "onnxprof.analysis", "schema_version": SCHEMA_VERSION, "onnxprof_version": __version__,
                **body}
    return json.dumps(document, allow_nan=False) + "\n"  # compact: the C encoder, fast on 40k-node graphs


def analysis_csv(report: StaticReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(NODE_COLUMNS)
    for node in report.nodes:
        row = []
        for column in NODE_COLUMNS:
            value = getattr(node, column)
            if column == "output_shapes":
                value = " ".join(shape_text(shape) for shape in value)
            elif column == "output_bytes":
                value = " ".join("?" if size is None else format_quantity(size) for size in value)
            row.append("" if value is None else format_quantity(value) if isinstance(value, Poly) else value)
        writer.writerow(row)
    return out.getvalue()
