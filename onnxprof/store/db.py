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
missing tables only), so older databases keep working; columns added since are added then too
(``store.schema.migrate``).

A run's ``status`` is written twice: ``unfinished`` when a sweep stores its run before the first batch,
``complete`` or ``interrupted`` by ``finish_run`` at its end. A run killed before its end (SIGKILL, a
power cut) stays ``unfinished``: listed as such, and left out of ``run_ids()`` (what reports and
selection read by default). Rows written before schema version 2 have no status: it is read from their
end (none: unfinished) and ``interrupted``.

Reading is defensive (``store.rows``): a row whose values do not fit its columns makes its run
"damaged", one line naming the row and column, and every other run still reads. A database whose
file SQLite cannot read (a damaged page) is one line naming the file and what to do.
"""

from __future__ import annotations

import dataclasses
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence

from sqlalchemy import and_, create_engine, delete, event, func, or_, select
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, NoSuchModuleError, ProgrammingError

from onnxprof.errors import OnnxprofError, first_line
from onnxprof.measure.records import (COMPLETE, INTERRUPTED, RUN_STATUSES, UNFINISHED, BatchResult, EngineInfo,
                                      HostInfo, LatencyStats, MemoryMeasurement, PowerFigures, RunRecord, json_ready)
from onnxprof.store.rows import DamagedRow, checked, raw_select, require_kind
from onnxprof.store.schema import (LATENCY_FIELDS, LATENCY_PREFIXES, MEMORY_FIELDS, SCHEMA_VERSION, batches,
                                   metadata, migrate, profiles, run_layers, runs, trtexec_imports, trtexec_layers)
from onnxprof.store.trtexec import LayerTime, TrtexecImport, TrtexecProvenance

POSTGRES_EXTRA = "pip install 'onnxprof[postgres]'"


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

    @property
    def held_out_error(self) -> Optional[float]:
        """The held-out RMSPE (a fraction) of the profile's best latency predictor, as its document
        states it; None when unknown (too few models held out, or not a profile this onnxprof reads)."""
        body = self.document.get("profile") if isinstance(self.document, Mapping) else None
        if not isinstance(body, Mapping) or not isinstance(body.get("rmspe"), Mapping):
            return None
        error = body["rmspe"].get(body.get("best"))
        if isinstance(error, bool) or not isinstance(error, (int, float)) or not math.isfinite(error) or error < 0:
            return None
        return float(error)


def _profile_rank(profile: ProfileSummary) -> tuple:
    error = profile.held_out_error
    return (error is None, error if error is not None else 0.0, -profile.id)


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
    status: str = COMPLETE            # complete | interrupted | unfinished (records.RUN_STATUSES)
    damage: str = ""                  # why the run cannot be read, when its rows are damaged


class MissingRun(OnnxprofError):
    """No run with the id asked for."""


class DamagedRun(OnnxprofError):
    """A stored run that cannot be read: one of its rows does not fit its columns."""

    def __init__(self, run_id: int, shown: str, problem: str):
        super().__init__(f"run {run_id} in the results database {shown} is damaged ({problem}); "
                         "export the other runs, or repair or delete its rows")
        self.run_id = run_id
        self.problem = problem


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


def _prepare_sqlite_connection(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
    # text that is not UTF-8 (a damaged or foreign row) reads as U+FFFD rather than failing the whole query
    dbapi_connection.text_factory = _utf8_or_replaced


def _utf8_or_replaced(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _first_line(exc: BaseException) -> str:
    return first_line(getattr(exc, "orig", None) or exc)   # SQLAlchemy wraps the driver's error


def _database_problem(shown: str, exc: DatabaseError, opening: bool = False) -> OnnxprofError:
    """One line for a database error; a file SQLite cannot read (a damaged page, not a database at all)
    says what to do about it."""
    line = _first_line(exc)
    where = f"cannot open the results database {shown}" if opening else f"results database {shown}"
    if type(exc) is DatabaseError or "malformed" in line or "not a database" in line:
        return OnnxprofError(f"{where}: the file is damaged or not a database ({line}); restore it from a backup, "
                             "or move it aside (a new one is then made) and recover its runs with "
                             "`sqlite3 FILE .recover`")
    return OnnxprofError(f"{where}: {line}")


# ---------------------------------------------------------------------------------------- conversions

def _plain(value: Any) -> Any:
    """Mappings (also read-only ones), dataclasses (a prediction's provenance) and sequences as JSON-ready
    dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
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


def _stats_from(row: Mapping, prefix: str, where: str) -> Optional[LatencyStats]:
    if row[f"{prefix}_samples"] is None:
        return None
    values = {name: row[f"{prefix}_{name}"] for name in LATENCY_FIELDS}
    empty = [name for name, value in values.items() if value is None]
    if empty:
        raise DamagedRow(f"{where}: column {prefix}_{empty[0]!r} is empty while {prefix}_samples is not")
    return LatencyStats(**values)


def _batch_from(row: Mapping) -> BatchResult:
    where = f"batches row {row['id']}"
    memory = MemoryMeasurement(**{name: row[name] for name in MEMORY_FIELDS}) if row["memory_measured"] else None
    power = row["power"]
    return BatchResult(batch=row["batch"], status=row["status"], error=row["error"],
                       latency=_stats_from(row, "host", where), device_latency=_stats_from(row, "device", where),
                       throughput_per_s=row["throughput_per_s"], latency_per_image_ms=row["latency_per_image_ms"],
                       memory=memory, warmup_runs=row["warmup_runs"], started_at=row["started_at"],
                       ended_at=row["ended_at"], power=None if power is None else _power_from(power, f"{where}: power"))


def _power_from(value: Any, where: str) -> PowerFigures:
    fields = _from_json(PowerFigures, value, where)
    return PowerFigures(**{**fields, "warnings": tuple(require_kind(fields.get("warnings", []), list, where)),
                           "rails_w": dict(require_kind(fields.get("rails_w", {}), dict, where))})


def _from_json(cls, value: Any, where: str, given: tuple[str, ...] = ()) -> dict:
    """The fields of ``cls`` found in a JSON object (but those ``given`` from columns); DamagedRow when it
    is not an object or lacks a required field."""
    fields = {key: item for key, item in _known(cls, require_kind(value, dict, where)).items() if key not in given}
    required = [f.name for f in dataclasses.fields(cls) if f.name not in given
                and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in fields]
    if missing:
        raise DamagedRow(f"{where} lacks {missing[0]!r}")
    return fields


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

    where = f"run_layers row {row['id']}"
    return LayerRow(name=row["name"], onnx_nodes=tuple(require_kind(row["onnx_nodes"], list, f"{where}: onnx_nodes")),
                    op_types=tuple(require_kind(row["op_types"], list, f"{where}: op_types")),
                    measured_ms=row["measured_ms"], predicted_ms=row["predicted_ms"], macs=row["macs"])


def _predictions_from(value: Any, where: str) -> dict[int, Mapping[str, float]]:
    predictions = {}
    for batch, figures in require_kind(value, dict, where).items():
        if not batch.isdigit():
            raise DamagedRow(f"{where}: key {batch!r} is not a batch size")
        predictions[int(batch)] = require_kind(figures, dict, f"{where}: batch {batch}")
    return predictions


def _status_of(row: Mapping) -> str:
    """The stored status; for rows written before it existed, what their end and flag say."""
    if row["status"] in RUN_STATUSES:
        return row["status"]
    if row["interrupted"]:
        return INTERRUPTED
    return COMPLETE if row["ended_at"] else UNFINISHED


def _record_from(row: Mapping, batch_rows: Sequence[Mapping], layer_rows: Sequence[Mapping] = ()) -> RunRecord:
    where = f"runs row {row['id']}"
    engine = EngineInfo(engine=row["engine"], provider=row["provider"], precision=row["precision"],
                        **_from_json(EngineInfo, row["engine_info"], f"{where}: engine_info",
                                     given=("engine", "provider", "precision")))
    unfinished = _status_of(row) == UNFINISHED       # the record's own status then says so too
    return RunRecord(model_source=row["model_source"], model_path=row["model_path"],
                     model_sha256=row["model_sha256"], engine=engine,
                     host=HostInfo(**_from_json(HostInfo, row["host"], f"{where}: host")),
                     static=require_kind(row["static"], dict, f"{where}: static"),
                     batches=tuple(_batch_from(b) for b in batch_rows),
                     started_at=row["started_at"], ended_at="" if unfinished else row["ended_at"],
                     interrupted=row["interrupted"] and not unfinished,
                     predictions=_predictions_from(row["predictions"], f"{where}: predictions"),
                     meter=row["meter"] or "", idle_power_w=row["idle_power_w"],
                     layers=tuple(_layer_from(layer) for layer in layer_rows))


def require_existing(location: Optional[str]) -> None:
    """A SQLite database that does not exist is an error, checked without opening (and so creating) it:
    what a command that only reads asks for, so that a mistyped --db does not read as "no runs"."""
    sqlite_file = _sqlite_file(database_url(location))
    if sqlite_file is not None and not sqlite_file.exists():
        raise OnnxprofError(f"results database {sqlite_file}: no such file (only commands that store "
                            "runs create one); check --db or $ONNXPROF_DB")


# ---------------------------------------------------------------------------------------- the store

class Store:
    """The results database at ``location`` (a path or a SQLAlchemy URL; None: the default file)."""

    def __init__(self, location: Optional[str] = None, must_exist: bool = False):
        """``must_exist``: a SQLite file that does not exist is an error, not a new empty database (what a
        command that only reads asks for: a mistyped --db must not read as "no runs")."""
        self.url = database_url(location)
        self.shown = self.url.render_as_string(hide_password=True)
        if must_exist:
            require_existing(location)
        sqlite_file = _sqlite_file(self.url)
        if sqlite_file is not None:
            _make_folder(sqlite_file)
        self._engine = self._create_engine()
        try:
            metadata.create_all(self._engine)
            migrate(self._engine)
            with self._engine.connect() as conn:
                newest = conn.execute(select(func.max(runs.c.schema_version))).scalar()
        except DatabaseError as exc:
            self._engine.dispose()
            raise _database_problem(self.shown, exc, opening=True) from None
        if isinstance(newest, int) and newest > SCHEMA_VERSION:
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
            event.listen(engine, "connect", _prepare_sqlite_connection)
        return engine

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """One transaction: committed at the end of the block, rolled back by any exception. The
        database's own errors (locked, full, damaged) are one line; a malformed statement is a bug."""
        try:
            with self._engine.begin() as conn:
                yield conn
        except ProgrammingError:
            raise
        except DatabaseError as exc:
            raise _database_problem(self.shown, exc) from None

    # ------------------------------------------------------------------ writing

    def save_run(self, record: RunRecord) -> int:
        """Write a run and all its batches in one transaction; returns the run's id. A record without an
        end (a sweep about to start) is stored as unfinished until ``finish_run``."""
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
        run_id = conn.execute(runs.insert().values(**_run_row(record), status=record.status)).inserted_primary_key[0]
        self._insert_batches(conn, run_id, record.batches)
        self._insert_layers(conn, run_id, record.layers)
        return run_id

    def _insert_batches(self, conn: Connection, run_id: int, results: Sequence[BatchResult]) -> None:
        for position, result in enumerate(results):
            conn.execute(batches.insert().values(**_batch_row(run_id, position, result)))

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
        """Every stored profile; a damaged one is an error naming it (skipping it would silently pick
        an older profile to predict with)."""
        with self._transaction() as conn:
            rows = conn.execute(raw_select(profiles).order_by(profiles.c.id)).mappings().all()
        try:
            return [ProfileSummary(**checked(profiles, row)) for row in rows]
        except DamagedRow as exc:
            raise DamagedRow(f"results database {self.shown}: {exc}; delete that row or calibrate again") from None

    def find_profiles(self, name: Optional[str] = None, hostname: Optional[str] = None,
                      engine: Optional[str] = None, provider: Optional[str] = None) -> list[ProfileSummary]:
        """The stored profiles matching every given field, the one to use first: by ``name``, the newest
        of that name (calibrating again under a name replaces it); otherwise the lowest held-out error
        (``ProfileSummary.held_out_error``), a profile without one last, ties to the newer. Never simply
        the newest: a quick calibration does not replace a better profile."""
        wanted = {"name": name, "hostname": hostname, "engine": engine, "provider": provider}
        matching = [p for p in self.list_profiles()
                    if all(value is None or getattr(p, key) == value for key, value in wanted.items())]
        if name is not None:
            return matching[::-1]
        return sorted(matching, key=_profile_rank)

    def find_profile(self, name: Optional[str] = None, hostname: Optional[str] = None, engine: Optional[str] = None,
                     provider: Optional[str] = None) -> Optional[ProfileSummary]:
        """The profile to use among those matching every given field (see ``find_profiles``); None when
        there is none."""
        ranked = self.find_profiles(name=name, hostname=hostname, engine=engine, provider=provider)
        return ranked[0] if ranked else None

    def append_batch(self, run_id: int, result: BatchResult) -> None:
        """Add one batch to a run (its own transaction), so a sweep keeps what it measured so far."""
        with self._transaction() as conn:
            self._require(conn, run_id)
            last = conn.execute(select(func.max(batches.c.position)).where(batches.c.run_id == run_id)).scalar()
            conn.execute(batches.insert().values(**_batch_row(run_id, 0 if last is None else last + 1, result)))

    def finish_run(self, run_id: int, ended_at: str, interrupted: bool = False,
                   predictions: Optional[Mapping[int, Mapping[str, float]]] = None,
                   engine: Optional[EngineInfo] = None, layers: Sequence = (),
                   results: Optional[Sequence[BatchResult]] = None) -> None:
        """Close a run saved before its batches: its end and status, and what is only known at the end
        (the predictions per batch, the engine's final facts such as which provider ran which nodes).
        ``results``, when given, are the run's batches in full: they replace those appended so far (an
        append cut short by Ctrl-C is then not lost), in the same transaction as the end."""
        if not ended_at:
            raise ValueError("finish_run needs the run's end time")
        values: dict[str, Any] = {"ended_at": ended_at, "interrupted": interrupted,
                                  "status": INTERRUPTED if interrupted else COMPLETE}
        if predictions is not None:
            values["predictions"] = _predictions_json(predictions)
        if engine is not None:
            values.update(_engine_columns(engine))
        with self._transaction() as conn:
            done = conn.execute(runs.update().where(runs.c.id == run_id).values(**values))
            if done.rowcount == 0:
                raise self._missing(run_id)
            if results is not None:
                conn.execute(delete(batches).where(batches.c.run_id == run_id))
                self._insert_batches(conn, run_id, results)
            self._insert_layers(conn, run_id, layers)

    def delete_runs(self, run_ids: Sequence[int]) -> list[RunSummary]:
        """Delete runs with their batches, layer profiles and trtexec provenance, all in one
        transaction; returns what was deleted (as ``list_runs`` showed it). A missing id is MissingRun
        and nothing is deleted."""
        wanted = list(dict.fromkeys(run_ids))
        known = {summary.id: summary for summary in self.list_runs() if summary.id in set(wanted)}
        missing = [run_id for run_id in wanted if run_id not in known]
        if missing:
            raise self._missing(missing[0])
        with self._transaction() as conn:
            for table in (batches, run_layers, trtexec_layers, trtexec_imports):   # also without ON DELETE CASCADE
                conn.execute(delete(table).where(table.c.run_id.in_(wanted)))
            conn.execute(delete(runs).where(runs.c.id.in_(wanted)))
        return [known[run_id] for run_id in wanted]

    # ------------------------------------------------------------------ reading

    def _missing(self, run_id: int) -> MissingRun:
        return MissingRun(f"no run {run_id} in the results database {self.shown}; "
                             "`onnxprof results list` shows the runs it holds")

    def _require(self, conn: Connection, run_id: int) -> Mapping:
        row = conn.execute(raw_select(runs).where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise self._missing(run_id)
        return row

    def list_runs(self) -> list[RunSummary]:
        """Every run, in id order; a run whose rows are damaged is listed with ``damage`` saying why."""
        with self._transaction() as conn:
            rows = conn.execute(raw_select(runs, *SUMMARY_COLUMNS).order_by(runs.c.id)).mappings().all()
            sizes: dict[int, list[int]] = {}
            failed: dict[int, int] = {}
            damaged: dict[int, str] = {}
            for raw in conn.execute(raw_select(batches, "id", "run_id", "batch", "status")
                                    .order_by(batches.c.run_id, batches.c.position)).mappings():
                try:
                    row = checked(batches, raw)
                except DamagedRow as exc:
                    damaged.setdefault(raw["run_id"], str(exc))
                    continue
                sizes.setdefault(row["run_id"], []).append(row["batch"])
                failed[row["run_id"]] = failed.get(row["run_id"], 0) + (row["status"] != "ok")
        return [_summary(raw, tuple(sizes.get(raw["id"], ())), failed.get(raw["id"], 0), damaged.get(raw["id"], ""))
                for raw in rows]

    def run_ids(self, unfinished: bool = False) -> list[int]:
        """The ids of the finished runs (complete or interrupted), what reports and selection read by
        default; with ``unfinished``, also those that never wrote their end (killed, or still running)."""
        query = select(runs.c.id).order_by(runs.c.id)
        if not unfinished:
            query = query.where(or_(runs.c.status.in_((COMPLETE, INTERRUPTED)),
                                    and_(runs.c.status.is_(None), runs.c.ended_at != "")))
        with self._transaction() as conn:
            return list(conn.execute(query).scalars())

    def get_run(self, run_id: int) -> RunRecord:
        """The run as it was stored; DamagedRun when one of its rows does not fit its columns."""
        with self._transaction() as conn:
            raw = self._require(conn, run_id)
            batch_rows = conn.execute(raw_select(batches).where(batches.c.run_id == run_id)
                                      .order_by(batches.c.position)).mappings().all()
            layer_rows = conn.execute(raw_select(run_layers).where(run_layers.c.run_id == run_id)
                                      .order_by(run_layers.c.position)).mappings().all()
        try:
            return _record_from(checked(runs, raw), [checked(batches, b) for b in batch_rows],
                                [checked(run_layers, layer) for layer in layer_rows])
        except DamagedRow as exc:
            raise DamagedRun(run_id, self.shown, str(exc)) from None

    def run_status(self, run_id: int) -> str:
        """complete, interrupted or unfinished."""
        with self._transaction() as conn:
            return _status_of(self._require(conn, run_id))

    def trtexec_provenance(self, run_id: int) -> Optional[TrtexecProvenance]:
        """Where an imported run came from, with its layer profile; None for runs onnxprof measured."""
        with self._transaction() as conn:
            row = conn.execute(raw_select(trtexec_imports).where(trtexec_imports.c.run_id == run_id)).mappings().first()
            if row is None:
                return None
            layer_rows = conn.execute(raw_select(trtexec_layers).where(trtexec_layers.c.run_id == run_id)
                                      .order_by(trtexec_layers.c.position)).mappings().all()
        try:
            layers = tuple(LayerTime(**_known(LayerTime, checked(trtexec_layers, layer))) for layer in layer_rows)
            return TrtexecProvenance(**_known(TrtexecProvenance, checked(trtexec_imports, row)), layers=layers)
        except DamagedRow as exc:
            raise DamagedRun(run_id, self.shown, str(exc)) from None

    def export_run(self, run_id: int) -> dict:
        """One run, JSON-ready, with its id, schema version and status (DamagedRun when it cannot be read)."""
        from onnxprof.predict.basic import predictions_with_sources

        record = self.get_run(run_id)
        body = {"id": run_id, "schema_version": SCHEMA_VERSION, "status": record.status, **json_ready(record)}
        body["predictions"] = predictions_with_sources(body["predictions"])     # each with its source and warnings
        provenance = self.trtexec_provenance(run_id)
        if provenance is not None:
            body["trtexec"] = json_ready(provenance)
        return body

    def export(self, ids: Sequence[int] = ()) -> list[dict]:
        """JSON-ready runs (every stored one, unfinished too, when ``ids`` is empty)."""
        return [self.export_run(run_id) for run_id in (list(ids) or self.run_ids(unfinished=True))]


SUMMARY_COLUMNS = ("id", "started_at", "ended_at", "interrupted", "status", "model_source", "model_sha256", "engine",
                    "provider", "precision", "host")


def _summary(raw: Mapping, sizes: tuple[int, ...], failed: int, damage: str) -> RunSummary:
    """A line of the listing; a damaged runs row still gives one, with what can be read of it."""
    try:
        row = checked(runs, raw)
        hostname = str(require_kind(row["host"], dict, f"runs row {raw['id']}: host").get("hostname", ""))
    except DamagedRow as exc:
        return RunSummary(id=raw["id"], **{name: _text(raw[name]) for name in _SUMMARY_TEXT}, interrupted=False,
                          hostname="", batch_sizes=sizes, failed_batches=failed, status=UNFINISHED, damage=str(exc))
    return RunSummary(id=row["id"], **{name: row[name] for name in _SUMMARY_TEXT}, interrupted=row["interrupted"],
                      hostname=hostname, batch_sizes=sizes, failed_batches=failed, status=_status_of(row),
                      damage=damage)


_SUMMARY_TEXT = ("started_at", "ended_at", "model_source", "model_sha256", "engine", "provider", "precision")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
