"""A measurement run as JSON (the same record the results store exports): standard JSON, non-finite
numbers written as null (``json_ready``)."""

from __future__ import annotations

from typing import Optional

from onnxprof.measure.records import RunRecord, json_document, json_ready
from onnxprof.predict.basic import predictions_with_sources

SCHEMA_VERSION = 1


def run_dict(record: RunRecord, run_id: Optional[int] = None) -> dict:
    """The run, each batch's prediction with its ``source`` and ``warnings`` (``basic.with_source``)."""
    body = json_ready(record)
    body["predictions"] = predictions_with_sources(body.get("predictions"))
    return {"id": run_id, "status": record.status, **body}


def run_json(record: RunRecord, run_id: Optional[int] = None) -> str:
    return json_document("onnxprof.measurement", {"run": run_dict(record, run_id)}, SCHEMA_VERSION)
