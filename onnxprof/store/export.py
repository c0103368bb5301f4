"""Stored runs as files: a versioned JSON document, or CSV with one row per batch.

Both are standard: the runs come from ``json_ready`` (non-finite numbers as null, empty CSV cells),
and the JSON is written with ``allow_nan=False`` so that a NaN that slipped past it is a bug, not a
file other tools cannot read.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Sequence

from onnxprof.measure.records import json_document
from onnxprof.store.schema import LATENCY_FIELDS, LATENCY_PREFIXES, MEMORY_FIELDS

RESULTS_SCHEMA = "onnxprof.results"
RESULTS_SCHEMA_VERSION = 1

RUN_COLUMNS = ("run_id", "run_started_at", "model_source", "model_sha256", "engine", "provider", "precision",
               "hostname", "interrupted", "run_status")
BATCH_COLUMNS = ("batch", "status", "error",
                 *[f"{prefix}_{name}" for prefix in LATENCY_PREFIXES for name in LATENCY_FIELDS],
                 "throughput_per_s", "latency_per_image_ms", *MEMORY_FIELDS, "warmup_runs", "started_at", "ended_at")
CSV_COLUMNS = RUN_COLUMNS + BATCH_COLUMNS


def results_json(runs: Sequence[dict]) -> str:
    """``runs`` as ``Store.export`` gives them."""
    return json_document(RESULTS_SCHEMA, {"runs": list(runs)}, RESULTS_SCHEMA_VERSION)


def _batch_cells(batch: dict) -> dict[str, Any]:
    cells = {name: batch[name] for name in ("batch", "status", "error", "throughput_per_s", "latency_per_image_ms",
                                            "warmup_runs", "started_at", "ended_at")}
    for prefix, key in zip(LATENCY_PREFIXES, ("latency", "device_latency")):
        stats = batch[key] or {}
        for name in LATENCY_FIELDS:
            cells[f"{prefix}_{name}"] = stats.get(name)
    memory = batch["memory"] or {}
    for name in MEMORY_FIELDS:
        cells[name] = memory.get(name)
    return cells


def results_csv(runs: Sequence[dict]) -> str:
    """One row per batch; a run without batches still gets one row (its batch cells empty)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for run in runs:
        head = {"run_id": run["id"], "run_started_at": run["started_at"], "model_source": run["model_source"],
                "model_sha256": run["model_sha256"], "engine": run["engine"]["engine"],
                "provider": run["engine"]["provider"], "precision": run["engine"]["precision"],
                "hostname": run["host"]["hostname"], "interrupted": run["interrupted"],
                "run_status": run["status"]}
        for batch in run["batches"] or [{}]:
            cells = _batch_cells(batch) if batch else {}
            writer.writerow({**head, **{k: "" if v is None else v for k, v in cells.items()}})
    return out.getvalue()
