"""The results database: runs and their batches, written and read with SQLAlchemy Core.

The same tables work on SQLite (the default, a file in the user's data folder) and PostgreSQL.
Latency statistics are columns (``host_*`` for the host wall clock, ``device_*`` for device events) so
that they can be queried; the engine, host, static summary and predictions are JSON.

Tables:
  runs               one row per measurement run (``schema_version`` says how it was written)
  batches            one row per batch size of a run (``position`` keeps the run's order)
  trtexec_imports    provenance of runs imported from trtexec's files
  trtexec_layers     trtexec's per-layer profile of an imported run
  run_layers         the per-layer profile of a run measured with --profile-layers, joined to ONNX nodes
  profiles           device profiles written by ``onnxprof calibrate`` (the profile file's JSON)

Tables added after a database was made are created when it is next opened (``create_all`` adds
missing tables only), so older databases keep working.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from sqlalchemy import (JSON, Boolean, Column, Double, ForeignKey, Integer, BigInteger, MetaData, String, Table,
                        Text, create_engine, event, func, select)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, OperationalError

from onnxprof.errors import OnnxprofError, first_line
from onnxprof.measure.records import (BatchResult, EngineInfo, HostInfo, LatencyStats, MemoryMeasurement, PowerFigures,
                                      RunRecord, json_ready)
from onnxprof.store.trtexec import LayerTime, TrtexecImport, TrtexecProvenance

SCHEMA_VERSION = 1
POSTGRES_EXTRA = "pip install 'onnxprof[postgres]'"

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


@dataclass(frozen=True)
class ProfileSummary:
    """One stored device profile (``onnxprof calibrate``); its ``document`` is the profile file's JSON."""

    id: int
    name: str
    created_at: str
    hostname: str
    engine: str
    provider: str
    document: Mapping[str, Any]


@dataclass(frozen=True)
class RunSummary:
    """One line of ``onnxprof results list``."""

    id: int
    started_at: str
    ended_at: str
    interrupted: bool
    model_source: str
    model_sha256: str
    engine: str
    provider: str
    precision: str
    hostname: str
    batch_sizes: tuple[int, ...]
    failed_batches: int


# ---------------------------------------------------------------------------------------- locations

def default_location() -> str:
    """``$ONNXPROF_DB``, else ``results.sqlite`` in ``$XDG_DATA_HOME/onnxprof`` (``~/.local/share``)."""
    chosen = os.environ.get("ONNXPROF_DB")
    if chosen:
        return chosen
    data_home = os.environ.get("XDG_DATA_HOME", "")
    base = Path(data_home) if os.path.isabs(data_home) else Path.home() / ".local" / "share"
    return str(base / "onnxprof" / "results.sqlite")


def database_url(location: Optional[str] = None) -> URL:
    """A SQLAlchemy URL from a URL or a plain path (a path is a SQLite file); None: the default."""
    text = default_location() if location is None else location
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser().resolve()))
    try:
        url = make_url(text)
    except ArgumentError:
        raise OnnxprofError(f"results database {text!r}: not a database URL; give a file path, "
                            "sqlite:///PATH or postgresql://USER@HOST/DATABASE") from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")   # psycopg 3, what the postgres extra installs
    return url


def _sqlite_file(url: URL) -> Optional[Path]:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.database.startswith("file:"):
        return None
    return Path(url.database)


def _make_folder(path: Path) -> None:
    folder = path.parent
    if folder.is_dir():
        return
    if folder.exists():
        raise OnnxprofError(f"results database {path}: {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OnnxprofError(f"results database {path}: cannot create the folder {folder} ({exc.strerror})") from None


def _enable_sqlite_foreign_keys(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _first_line(exc: BaseException) -> str:
    return first_line(getattr(exc, "orig", None) or exc)   # SQLAlchemy wraps the driver's error


# ---------------------------------------------------------------------------------------- conversions

def _plain(value: Any) -> Any:
    """Mappings (also read-only ones) and sequences as JSON-ready dicts and lists."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _batch_row(run_id: int, position: int, result: BatchResult) -> dict:
    row: dict[str, Any] = {"run_id": run_id, "position": position, "batch": result.batch, "status": result.status,
                           "error": result.error, "throughput_per_s": result.throughput_per_s,
                           "latency_per_image_ms": result.latency_per_image_ms,
                           "memory_measured": result.memory is not None, "warmup_runs": result.warmup_runs,
                           "started_at": result.started_at, "ended_at": result.ended_at,
                           "power": None if result.power is None else _plain(dataclasses.asdict(result.power))}
    for prefix, stats in zip(LATENCY_PREFIXES, (result.latency, result.device_latency)):
        for name in LATENCY_FIELDS:
            row[f"{prefix}_{name}"] = None if stats is None else getattr(stats, name)
    for name in MEMORY_FIELDS:
        row[name] = None if result.memory is None else getattr(result.memory, name)
    return row


def _stats_from(row: Mapping, prefix: str) -> Optional[LatencyStats]:
    if row[f"{prefix}_samples"] is None:
        return None
    return LatencyStats(**{name: row[f"{prefix}_{name}"] for name in LATENCY_FIELDS})


def _batch_from(row: Mapping) -> BatchResult:
    memory = MemoryMeasurement(**{name: row[name] for name in MEMORY_FIELDS}) if row["memory_measured"] else None
    return BatchResult(batch=row["batch"], status=row["status"], error=row["error"],
                       latency=_stats_from(row, "host"), device_latency=_stats_from(row, "device"),
                       throughput_per_s=row["throughput_per_s"], latency_per_image_ms=row["latency_per_image_ms"],
                       memory=memory, warmup_runs=row["warmup_runs"], started_at=row["started_at"],
                       ended_at=row["ended_at"], power=_power_from(row["power"]))


def _power_from(value: Optional[Mapping]) -> Optional[PowerFigures]:
    if value is None:
        return None
    return PowerFigures(**{**value, "warnings": tuple(value.get("warnings", ())), "rails_w": dict(value.get("rails_w", {}))})


def _known(cls, values: Mapping) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {key: value for key, value in values.items() if key in names}


def _engine_columns(engine: EngineInfo) -> dict:
    rest = _plain({f.name: getattr(engine, f.name) for f in dataclasses.fields(EngineInfo)
                   if f.name not in ("engine", "provider", "precision")})
    return {"engine": engine.engine, "provider": engine.provider, "precision": engine.precision, "engine_info": rest}


def _predictions_json(predictions: Mapping[int, Mapping[str, float]]) -> dict:
    return {str(batch): _plain(figures) for batch, figures in predictions.items()}


def _run_row(record: RunRecord) -> dict:
    host = _plain({f.name: getattr(record.host, f.name) for f in dataclasses.fields(HostInfo)})
    return {"schema_version": SCHEMA_VERSION, "started_at": record.started_at, "ended_at": record.ended_at,
            "interrupted": record.interrupted, "model_source": record.model_source,
            "model_path": record.model_path, "model_sha256": record.model_sha256,
            **_engine_columns(record.engine), "host": host, "static": _plain(record.static),
            "predictions": _predictions_json(record.predictions), "meter": record.meter,
            "idle_power_w": record.idle_power_w}


def _layer_from(row: Mapping):
    from onnxprof.measure.layers import LayerRow

    return LayerRow(name=row["name"], onnx_nodes=tuple(row["onnx_nodes"]), op_types=tuple(row["op_types"]),
                    measured_ms=row["measured_ms"], predicted_ms=row["predicted_ms"], macs=row["macs"])


def _record_from(row: Mapping, batch_rows: Sequence[Mapping], layer_rows: Sequence[Mapping] = ()) -> RunRecord:
    engine = EngineInfo(engine=row["engine"], provider=row["provider"], precision=row["precision"],
                        **_known(EngineInfo, row["engine_info"]))
    return RunRecord(model_source=row["model_source"], model_path=row["model_path"],
                     model_sha256=row["model_sha256"], engine=engine, host=HostInfo(**_known(HostInfo, row["host"])),
                     static=row["static"], batches=tuple(_batch_from(b) for b in batch_rows),
                     started_at=row["started_at"], ended_at=row["ended_at"], interrupted=row["interrupted"],
                     predictions={int(batch): figures for batch, figures in row["predictions"].items()},
                     meter=row["meter"] or "", idle_power_w=row["idle_power_w"],
                     layers=tuple(_layer_from(layer) for layer in layer_rows))


# ---------------------------------------------------------------------------------------- the store

class Store:
    """The results database at ``location`` (a path or a SQLAlchemy URL; None: the default file)."""

    def __init__(self, location: Optional[str] = None):
        self.url = database_url(location)
        self.shown = self.url.render_as_string(hide_password=True)
        sqlite_file = _sqlite_file(self.url)
        if sqlite_file is not None:
            _make_folder(sqlite_file)
        self._engine = self._create_engine()
        try:
            metadata.create_all(self._engine)
            with self._engine.connect() as conn:
                newest = conn.execute(select(func.max(runs.c.schema_version))).scalar()
        except DatabaseError as exc:
            self._engine.dispose()
            raise OnnxprofError(f"cannot open the results database {self.shown}: {_first_line(exc)}") from None
        if newest is not None and newest > SCHEMA_VERSION:
            self._engine.dispose()
            raise OnnxprofError(f"results database {self.shown} was written with schema version {newest}; "
                                f"this onnxprof reads up to {SCHEMA_VERSION}: upgrade onnxprof")

    def _create_engine(self) -> Engine:
        backend = self.url.get_backend_name()
        try:
            engine = create_engine(self.url)
        except NoSuchModuleError:
            raise OnnxprofError(f"results database {self.shown}: SQLAlchemy knows no database "
                                f"{self.url.drivername!r}; give a file path, sqlite:///PATH or "
                                "postgresql://USER@HOST/DATABASE") from None
        except ImportError as exc:
            if backend == "postgresql":
                raise OnnxprofError(f"results database {self.shown}: PostgreSQL needs the psycopg driver "
                                    f"({exc.name or exc} is not installed): {POSTGRES_EXTRA}") from None
            raise OnnxprofError(f"results database {self.shown}: its driver is not installed "
                                f"(no module {exc.name or exc})") from None
        except ArgumentError as exc:
            raise OnnxprofError(f"results database {self.shown}: {_first_line(exc)}") from None
        if backend == "sqlite":
            event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        return engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction: committed at the end of the block, rolled back by any exception."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except OperationalError as exc:
            raise OnnxprofError(f"results database {self.shown}: {_first_line(exc)}") from None

    # ------------------------------------------------------------------ writing

    def save_run(self, record: RunRecord) -> int:
        """Write a run and all its batches in one transaction; returns the run's id."""
        with self._transaction() as conn:
            return self._insert_run(conn, record)

    def save_trtexec(self, imported: TrtexecImport) -> int:
        """Write an imported run, its provenance and its layer profile in one transaction."""
        with self._transaction() as conn:
            run_id = self._insert_run(conn, imported.record)
            source = imported.provenance
            conn.execute(trtexec_imports.insert().values(
                run_id=run_id, times_file=source.times_file, times_sha256=source.times_sha256,
                queries=source.queries, profile_file=source.profile_file, profile_sha256=source.profile_sha256,
                profile_iterations=source.profile_iterations))
            if source.layers:
                conn.execute(trtexec_layers.insert(), [
                    {"run_id": run_id, **dataclasses.asdict(layer)} for layer in source.layers])
            return run_id

    def _insert_run(self, conn: Connection, record: RunRecord) -> int:
        run_id = conn.execute(runs.insert().values(**_run_row(record))).inserted_primary_key[0]
        for position, result in enumerate(record.batches):
            conn.execute(batches.insert().values(**_batch_row(run_id, position, result)))
        self._insert_layers(conn, run_id, record.layers)
        return run_id

    def _insert_layers(self, conn: Connection, run_id: int, layers: Sequence) -> None:
        if layers:
            conn.execute(run_layers.insert(), [
                {"run_id": run_id, "position": i, "name": layer.name, "onnx_nodes": list(layer.onnx_nodes),
                 "op_types": list(layer.op_types), "measured_ms": layer.measured_ms,
                 "predicted_ms": layer.predicted_ms, "macs": int(layer.macs)} for i, layer in enumerate(layers)])

    def save_profile(self, name: str, created_at: str, hostname: str, engine: str, provider: str,
                     document: Mapping[str, Any]) -> int:
        with self._transaction() as conn:
            return conn.execute(profiles.insert().values(
                name=name, created_at=created_at, hostname=hostname, engine=engine, provider=provider,
                document=_plain(document))).inserted_primary_key[0]

    def list_profiles(self) -> list[ProfileSummary]:
        with self._transaction() as conn:
            rows = conn.execute(select(profiles).order_by(profiles.c.id)).mappings().all()
        return [ProfileSummary(**row) for row in rows]

    def find_profile(self, name: Optional[str] = None, hostname: Optional[str] = None, engine: Optional[str] = None,
                     provider: Optional[str] = None) -> Optional[ProfileSummary]:
        """The newest stored profile matching every given field; None when there is none."""
        wanted = {"name": name, "hostname": hostname, "engine": engine, "provider": provider}
        matching = [p for p in self.list_profiles()
                    if all(value is None or getattr(p, key) == value for key, value in wanted.items())]
        return matching[-1] if matching else None

    def append_batch(self, run_id: int, result: BatchResult) -> None:
        """Add one batch to a run (its own transaction), so a sweep keeps what it measured so far."""
        with self._transaction() as conn:
            self._require(conn, run_id)
            last = conn.execute(select(func.max(batches.c.position)).where(batches.c.run_id == run_id)).scalar()
            conn.execute(batches.insert().values(**_batch_row(run_id, 0 if last is None else last + 1, result)))

    def finish_run(self, run_id: int, ended_at: str, interrupted: bool = False,
                   predictions: Optional[Mapping[int, Mapping[str, float]]] = None,
                   engine: Optional[EngineInfo] = None, layers: Sequence = ()) -> None:
        """Close a run saved before its batches: its end, and what is only known at the end (the
        predictions per batch, the engine's final facts such as which provider ran which nodes)."""
        values: dict[str, Any] = {"ended_at": ended_at, "interrupted": interrupted}
        if predictions is not None:
            values["predictions"] = _predictions_json(predictions)
        if engine is not None:
            values.update(_engine_columns(engine))
        with self._transaction() as conn:
            done = conn.execute(runs.update().where(runs.c.id == run_id).values(**values))
            if done.rowcount == 0:
                raise self._missing(run_id)
            self._insert_layers(conn, run_id, layers)

    # ------------------------------------------------------------------ reading

    def _missing(self, run_id: int) -> OnnxprofError:
        return OnnxprofError(f"no run {run_id} in the results database {self.shown}; "
                             "`onnxprof results list` shows the runs it holds")

    def _require(self, conn: Connection, run_id: int) -> Mapping:
        row = conn.execute(select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise self._missing(run_id)
        return row

    def list_runs(self) -> list[RunSummary]:
        with self._transaction() as conn:
            rows = conn.execute(select(runs.c.id, runs.c.started_at, runs.c.ended_at, runs.c.interrupted,
                                       runs.c.model_source, runs.c.model_sha256, runs.c.engine, runs.c.provider,
                                       runs.c.precision, runs.c.host).order_by(runs.c.id)).mappings().all()
            sizes: dict[int, list[int]] = {}
            failed: dict[int, int] = {}
            for run_id, batch, status in conn.execute(select(batches.c.run_id, batches.c.batch, batches.c.status)
                                                      .order_by(batches.c.run_id, batches.c.position)):
                sizes.setdefault(run_id, []).append(batch)
                failed[run_id] = failed.get(run_id, 0) + (status != "ok")
        return [RunSummary(id=row["id"], started_at=row["started_at"], ended_at=row["ended_at"],
                           interrupted=row["interrupted"], model_source=row["model_source"],
                           model_sha256=row["model_sha256"], engine=row["engine"], provider=row["provider"],
                           precision=row["precision"], hostname=str(row["host"].get("hostname", "")),
                           batch_sizes=tuple(sizes.get(row["id"], ())), failed_batches=failed.get(row["id"], 0))
                for row in rows]

    def run_ids(self) -> list[int]:
        with self._transaction() as conn:
            return list(conn.execute(select(runs.c.id).order_by(runs.c.id)).scalars())

    def get_run(self, run_id: int) -> RunRecord:
        with self._transaction() as conn:
            row = self._require(conn, run_id)
            batch_rows = conn.execute(select(batches).where(batches.c.run_id == run_id)
                                      .order_by(batches.c.position)).mappings().all()
            layer_rows = conn.execute(select(run_layers).where(run_layers.c.run_id == run_id)
                                      .order_by(run_layers.c.position)).mappings().all()
        return _record_from(row, batch_rows, layer_rows)

    def trtexec_provenance(self, run_id: int) -> Optional[TrtexecProvenance]:
        """Where an imported run came from, with its layer profile; None for runs onnxprof measured."""
        with self._transaction() as conn:
            row = conn.execute(select(trtexec_imports).where(trtexec_imports.c.run_id == run_id)).mappings().first()
            if row is None:
                return None
            layer_rows = conn.execute(select(trtexec_layers).where(trtexec_layers.c.run_id == run_id)
                                      .order_by(trtexec_layers.c.position)).mappings().all()
        layers = tuple(LayerTime(**_known(LayerTime, layer)) for layer in layer_rows)
        return TrtexecProvenance(**_known(TrtexecProvenance, row), layers=layers)

    def export(self, ids: Sequence[int] = ()) -> list[dict]:
        """JSON-ready runs (all of them when ``ids`` is empty), each with its id and schema version."""
        chosen = list(ids) or self.run_ids()
        exported = []
        for run_id in chosen:
            record = self.get_run(run_id)
            body = {"id": run_id, "schema_version": SCHEMA_VERSION, **json_ready(record)}
            provenance = self.trtexec_provenance(run_id)
            if provenance is not None:
                body["trtexec"] = json_ready(provenance)
            exported.append(body)
        return exported
