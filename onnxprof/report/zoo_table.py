"""The zoo's table: published facts, and optionally onnxprof's own counts beside them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from typing import Optional

from onnxprof.zoo.manifest import NetworkFacts, manifest


@dataclass(frozen=True)
class ZooRow:
    facts: NetworkFacts
    analysed_params: Optional[int] = None   # PyTorch convention (BatchNorm running statistics left out)
    analysed_macs: Optional[object] = None  # at batch 1; a formula for token models


def zoo_rows(with_counts: bool = False) -> list[ZooRow]:
    from onnxprof.zoo import network_names

    facts = manifest()
    rows = []
    for name in network_names():
        if not with_counts:
            rows.append(ZooRow(facts[name]))
            continue
        from onnxprof.zoo.counts import pytorch_style_counts

        params, macs = pytorch_style_counts(name)
        rows.append(ZooRow(facts[name], params, macs))
    return rows


def render_zoo(rows: list[ZooRow], console, with_counts: bool = False) -> None:
    from onnxprof.report.fit import NAME, NOTE, TEXT, Column, FitTable
    from onnxprof.report.units import count, si

    columns = [Column("name", NAME, key=True), Column("year", priority=2, leaves=NOTE), Column("params"),
               Column("G MACs"), Column("top-1 %"), Column("top-1 source", TEXT, priority=5, leaves=NOTE, floor=32)]
    if with_counts:
        columns += [Column("analysed params", priority=1), Column("analysed MACs", priority=1)]
    table = FitTable(f"onnxprof zoo: {len(rows)} networks", columns, pad_edge=True)
    for row in rows:
        f = row.facts
        cells = [f.name, str(f.year), si(f.params) if f.params else "–", f"{f.gmacs:g}" if f.gmacs else "–",
                 f"{f.top1:g}" if f.top1 is not None else "–", f.top1_source.split(";")[0]]
        if with_counts:
            cells += [f"{row.analysed_params:,}", count(row.analysed_macs)]
        table.add_row(*cells)
    console.print(table)


def _record(row: ZooRow) -> dict:
    from onnxprof.report.formats import quantity_json

    record = asdict(row.facts)
    record["top1_per_mparams"] = row.facts.top1_per_mparams
    if row.analysed_params is not None:
        record["analysed_params"] = row.analysed_params
        record["analysed_macs"] = quantity_json(row.analysed_macs)
    return record


def zoo_json(rows: list[ZooRow]) -> str:
    return json.dumps({"schema": "onnxprof.zoo", "schema_version": 1, "networks": [_record(r) for r in rows]},
                      indent=1) + "\n"


def zoo_csv(rows: list[ZooRow]) -> str:
    records = [_record(r) for r in rows]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in record.items()})
    return out.getvalue()
