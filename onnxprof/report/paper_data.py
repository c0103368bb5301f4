"""The paper's findings and a model selection as data: JSON (versioned, standard) and CSV.

The same figures the tables show: a finding's value, the paper's, its verdict and the runs it rests on;
a candidate's figures, its verdict and why.
"""

from __future__ import annotations

import csv
import io
from typing import Sequence

from onnxprof.measure.records import json_document, json_ready
from onnxprof.report.findings import COLUMNS, Finding, finding_cells
from onnxprof.report.selection import Candidate, Selection

SCHEMA_VERSION = 1
CANDIDATE_COLUMNS = ("verdict", "model", "run_id", "batch", "top1", "throughput_per_s", "net_w", "gross_w",
                     "energy_per_image_j", "net_energy_per_image_j", "memory_mb", "predicted", "reasons", "warnings")


def findings_json(findings: Sequence[Finding]) -> str:
    return json_document("onnxprof.findings", {"findings": [
        {**json_ready(f), "verdict": f.verdict} for f in findings]}, SCHEMA_VERSION)


def findings_csv(findings: Sequence[Finding]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(finding_cells(f) for f in findings)
    return out.getvalue()


def _verdicts(selection: Selection) -> list[tuple[str, Candidate]]:
    return ([("best" if rank == 1 else "runner-up", c) for rank, c in enumerate(selection.chosen, 1)]
            + [("fails", c) for c in selection.rejected] + [("unknown", c) for c in selection.unknown])


def selection_json(selection: Selection) -> str:
    return json_document("onnxprof.selection", {
        "constraints": json_ready(selection.constraints), "limits": selection.constraints.describe(),
        "candidates": [{"verdict": verdict, **json_ready(c)} for verdict, c in _verdicts(selection)]},
        SCHEMA_VERSION)


def selection_csv(selection: Selection) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CANDIDATE_COLUMNS)
    for verdict, c in _verdicts(selection):
        writer.writerow([verdict, c.model, c.run_id, c.batch, c.top1, c.throughput_per_s, c.net_w, c.gross_w,
                         c.energy_per_image_j, c.net_energy_per_image_j, c.memory_mb, c.predicted,
                         "; ".join(c.reasons), "; ".join(c.warnings)])
    return out.getvalue()
