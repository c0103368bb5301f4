"""The results database's tables, as SQLAlchemy Core declares them, and the migration of older files.

The same tables work on SQLite and PostgreSQL. Tables added after a database was made are created when it
is next opened (``create_all`` adds missing tables only); columns added since are added by :func:`migrate`.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import (JSON, BigInteger, Boolean, Column, Double, ForeignKey, Integer, MetaData, String, Table, Text,
                        case, inspect, text, true)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from onnxprof.measure.records import COMPLETE, INTERRUPTED, UNFINISHED, LatencyStats, MemoryMeasurement

SCHEMA_VERSION = 2          # 2: runs.status

metadata = MetaData()

_SQL_TYPES = {"int": Integer, "float": Double, "bool": Boolean}
LATENCY_FIELDS = tuple(f.name for f in dataclasses.fields(LatencyStats))
MEMORY_FIELDS = tuple(f.name for f in dataclasses.fields(MemoryMeasurement))
LATENCY_PREFIXES = ("host", "device")    # BatchResult.latency, BatchResult.device_latency


def _latency_columns(prefix: str) -> list[Column]:
    return [Column(f"{prefix}_{f.name}", _SQL_TYPES[str(f.type)], nullable=True)
            for f in dataclasses.fields(LatencyStats)]


runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("schema_version", Integer, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("ended_at", String(40), nullable=False),
    Column("interrupted", Boolean, nullable=False),
    Column("model_source", Text, nullable=False),
    Column("model_path", Text, nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("precision", String(16), nullable=False),
    Column("engine_info", JSON, nullable=False),      # EngineInfo's options, nodes_by_provider, fallback, versions
    Column("host", JSON, nullable=False),             # HostInfo
    Column("static", JSON, nullable=False),
    Column("predictions", JSON, nullable=False),      # {"batch": {figure: value}}
    Column("meter", Text, nullable=False, default=""),
    Column("idle_power_w", Double, nullable=True),
    Column("status", String(16), nullable=True),      # complete | interrupted | unfinished; NULL: before version 2
)

batches = Table(
    "batches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("batch", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("error", Text, nullable=False),
    *_latency_columns("host"),
    *_latency_columns("device"),
    Column("throughput_per_s", Double),
    Column("latency_per_image_ms", Double),
    Column("memory_measured", Boolean, nullable=False),   # tells memory=None from an all-None measurement
    *[Column(name, BigInteger) for name in MEMORY_FIELDS],
    Column("warmup_runs", Integer, nullable=False),
    Column("started_at", String(40), nullable=False),
    Column("ended_at", String(40), nullable=False),
    Column("power", JSON, nullable=True),                 # PowerFigures, when a meter was attached
)

trtexec_imports = Table(
    "trtexec_imports", metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("times_file", Text, nullable=False),
    Column("times_sha256", String(64), nullable=False),
    Column("queries", Integer, nullable=False),
    Column("profile_file", Text, nullable=False),
    Column("profile_sha256", String(64), nullable=False),
    Column("profile_iterations", Integer),
)

trtexec_layers = Table(
    "trtexec_layers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("time_ms", Double, nullable=False),
    Column("average_ms", Double, nullable=False),
    Column("median_ms", Double),
    Column("percentage", Double),
)

run_layers = Table(
    "run_layers", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("onnx_nodes", JSON, nullable=False),
    Column("op_types", JSON, nullable=False),
    Column("measured_ms", Double, nullable=False),
    Column("predicted_ms", Double),
    Column("macs", BigInteger, nullable=False),
)

profiles = Table(
    "profiles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, index=True),
    Column("created_at", String(40), nullable=False),
    Column("hostname", Text, nullable=False),
    Column("engine", String(64), nullable=False),
    Column("provider", String(64), nullable=False),
    Column("document", JSON, nullable=False),
)


def migrate(engine: Engine) -> None:
    """Columns added since a database was made: ``runs.status`` (version 2), filled for the rows already
    there from their end and flag. Two processes opening an old file at once both try; one adds it."""
    with engine.begin() as conn:
        columns = {column["name"] for column in inspect(conn).get_columns("runs")}
        if "status" in columns:
            return
        try:
            conn.execute(text("ALTER TABLE runs ADD COLUMN status VARCHAR(16)"))
        except OperationalError:
            if "status" in {column["name"] for column in inspect(conn).get_columns("runs")}:
                return                                  # the other process added it first
            raise
        if {"interrupted", "ended_at"} <= columns:
            conn.execute(runs.update().where(runs.c.status.is_(None)).values(status=case(
                (runs.c.interrupted == true(), INTERRUPTED), (runs.c.ended_at == "", UNFINISHED), else_=COMPLETE)))
