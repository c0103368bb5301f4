"""The results store as one tidy table: a row per measured (model, batch size), with the network's
published facts beside it. Figures, findings, selection and the HTML report all read this table.

A model measured several times on the same engine, provider, precision and host counts once, from one
run chosen by one rule (``choose_runs``, used by every report): a complete run before an interrupted one
(unfinished runs are not read unless named), then the run with the most batch sizes measured
successfully, then the one with the most batch sizes, then the newest. So a one-batch
``--profile-layers`` run, a replay test or an interrupted sweep does not replace a model's full sweep;
a newer full sweep does. ``load_points(..., pinned=[ID, ...])`` uses the named runs instead (``--run``).
Every point names its run (``run_id``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from onnxprof.errors import UsageError
from onnxprof.measure.records import COMPLETE, INTERRUPTED, OK, UNFINISHED, RunRecord, model_name
from onnxprof.predict.basic import provenance_from_json
from onnxprof.predict.power import negative_net_power
from onnxprof.zoo.manifest import NetworkFacts, manifest


@dataclass(frozen=True)
class BatchPoint:
    """One batch size of one run, with everything the paper plots against it."""

    run_id: int
    model: str                              # zoo name, or the file's stem
    title: str                              # the name shown in figures
    family: str                             # colour group (zoo family; "other" for user models)
    engine: str
    provider: str
    precision: str
    hostname: str
    batch: int
    status: str                             # ok | out_of_memory | failed
    top1: Optional[float]                   # published ImageNet top-1 %, when known
    parameters: Optional[int]               # onnxprof's count (elements of weight tensors)
    macs_per_image: Optional[float]         # None when the count is still a formula
    weight_bytes: Optional[int]
    latency_ms: Optional[float] = None      # median time of one batch
    latency_per_image_ms: Optional[float] = None
    throughput_per_s: Optional[float] = None
    peak_rss_bytes: Optional[int] = None    # this process during the batch (the paper's memory)
    gpu_used_bytes: Optional[int] = None
    gross_w: Optional[float] = None
    idle_w: Optional[float] = None
    net_w: Optional[float] = None
    energy_per_image_j: Optional[float] = None
    net_energy_per_image_j: Optional[float] = None
    predicted_latency_ms: Optional[float] = None    # what measure predicted for this batch
    predicted_peak_rss_bytes: Optional[float] = None
    error: str = ""
    run_status: str = COMPLETE              # the run's: complete | interrupted | unfinished
    predicted_source: str = ""              # where the prediction came from (Provenance.label, else its method)
    predicted_calibrated: bool = False      # whether that was a calibrated profile
    predicted_warnings: tuple[str, ...] = ()    # the prediction's own (extrapolated, family never calibrated ...)
    warnings: tuple[str, ...] = ()          # the measurement's: a negative net power

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def memory_bytes(self) -> Optional[int]:
        """Memory in use for this batch: the GPU's where there is one, else the process's peak."""
        return self.gpu_used_bytes if self.gpu_used_bytes is not None else self.peak_rss_bytes

    @property
    def top1_per_mparams(self) -> Optional[float]:
        """Information density (Figure 10): top-1 % per million parameters."""
        return self.top1 / (self.parameters / 1e6) if self.top1 is not None and self.parameters else None


def _per_image(value, batch: int) -> Optional[float]:
    return float(value) / batch if isinstance(value, (int, float)) and batch > 0 else None


def points_of(run_id: int, record: RunRecord, facts: Mapping[str, NetworkFacts]) -> list[BatchPoint]:
    """The run's batches as points; failed batches are kept (with their status) so figures show gaps."""
    name = model_name(record.model_source)
    network = facts.get(name)
    static = record.static
    analysed = int(static.get("analysed_batch") or (record.batches[0].batch if record.batches else 1))
    parameters = static.get("parameters")
    points = []
    for result in record.batches:
        latency = result.latency
        memory = result.memory
        power = result.power
        predicted = record.predictions.get(result.batch, {}) or record.predictions.get(str(result.batch), {})
        provenance = provenance_from_json(predicted.get("provenance"))
        net_w = power.net_w if power else None
        negative = negative_net_power(net_w)
        points.append(BatchPoint(
            run_id=run_id, model=name, title=network.title if network else name,
            family=network.family if network else "other", engine=record.engine.engine,
            provider=record.engine.provider, precision=record.engine.precision,
            hostname=record.host.hostname, batch=result.batch, status=result.status,
            top1=network.top1 if network else None,
            parameters=parameters if isinstance(parameters, int) else None,
            macs_per_image=_per_image(static.get("macs"), analysed),
            weight_bytes=static.get("weight_bytes") if isinstance(static.get("weight_bytes"), int) else None,
            latency_ms=latency.median_ms if latency else None,
            latency_per_image_ms=latency.median_ms / result.batch if latency else None,
            throughput_per_s=1000.0 * result.batch / latency.median_ms if latency and latency.median_ms > 0 else None,
            peak_rss_bytes=memory.peak_rss_bytes if memory else None,
            gpu_used_bytes=memory.gpu_used_bytes if memory else None,
            gross_w=power.gross_w if power else None, idle_w=power.idle_w if power else record.idle_power_w,
            net_w=net_w,
            energy_per_image_j=power.energy_per_image_j if power else None,
            net_energy_per_image_j=power.net_energy_per_image_j if power else None,
            predicted_latency_ms=predicted.get("latency_ms"),
            predicted_peak_rss_bytes=predicted.get("peak_rss_bytes"),
            error=result.error, run_status=record.status,
            predicted_source=provenance.label if provenance else str(predicted.get("method") or ""),
            predicted_calibrated=bool(provenance and provenance.calibrated),
            predicted_warnings=provenance.warnings if provenance else (),
            warnings=(negative,) if negative else ()))
    return points


# how a run's status ranks in the choice (higher first); a damaged run (unknown status) ranks last
STATUS_PREFERENCE = {COMPLETE: 2, INTERRUPTED: 1, UNFINISHED: 0}


@dataclass(frozen=True)
class RunChoice:
    """What the choice of a model's run looks at: its set-up, status and batch sizes."""

    run_id: int
    setup: tuple                 # (model, engine, provider, precision, host): one run each is used
    status: str
    ok_batches: int              # batch sizes measured successfully
    batches: int                 # batch sizes tried

    @property
    def preference(self) -> tuple:
        """Larger is preferred: complete, then the most batch sizes that ran, the most tried, the newest."""
        return STATUS_PREFERENCE.get(self.status, -1), self.ok_batches, self.batches, self.run_id


def record_choice(run_id: int, record: RunRecord) -> RunChoice:
    setup = (model_name(record.model_source), record.engine.engine, record.engine.provider, record.engine.precision,
             record.host.hostname)
    return RunChoice(run_id, setup, record.status, len({b.batch for b in record.batches if b.status == OK}),
                     len({b.batch for b in record.batches}))


def summary_choice(summary) -> RunChoice:
    """The same from a line of ``Store.list_runs`` (no need to read the run's batches)."""
    setup = (model_name(summary.model_source), summary.engine, summary.provider, summary.precision, summary.hostname)
    tried = len(set(summary.batch_sizes))
    return RunChoice(summary.id, setup, "" if summary.damage else summary.status,
                     max(0, len(summary.batch_sizes) - summary.failed_batches) if tried else 0, tried)


def choose_runs(choices: Iterable[RunChoice]) -> list[RunChoice]:
    """The one rule every report uses: per model and set-up, the run with the highest ``preference``
    (complete, most batch sizes that ran, most tried, newest); in run id order."""
    best: dict[tuple, RunChoice] = {}
    for choice in choices:
        if choice.setup not in best or choice.preference > best[choice.setup].preference:
            best[choice.setup] = choice
    return sorted(best.values(), key=lambda c: c.run_id)


def latest_only(runs: Iterable[tuple[int, RunRecord]]) -> list[tuple[int, RunRecord]]:
    """The chosen run (``choose_runs``, no longer simply the newest) of each model per engine, provider,
    precision and host, from runs already read. The name is kept for its callers."""
    runs = list(runs)
    by_id = dict(runs)
    return [(c.run_id, by_id[c.run_id]) for c in choose_runs(record_choice(i, r) for i, r in runs)]


def choose_run_ids(store, run_ids: Sequence[int] = (), engine: Optional[str] = None,
                   provider: Optional[str] = None, host: Optional[str] = None,
                   pinned: Sequence[int] = ()) -> list[int]:
    """The runs a report reads, one per model and set-up (``choose_runs``) among the finished runs (or
    ``run_ids``) that pass the filters. ``pinned`` runs (``--run``) are used whatever the rule says, each
    in place of its model's chosen run; an unknown id is MissingRun, one outside the filters a UsageError."""
    summaries = {s.id: s for s in store.list_runs()}
    for run_id in [*run_ids, *pinned]:
        if run_id not in summaries:
            store.run_status(run_id)            # MissingRun: one line naming the id

    def passes(summary) -> bool:
        return ((engine is None or summary.engine == engine) and (provider is None or summary.provider == provider)
                and (host is None or summary.hostname == host))

    for run_id in pinned:
        if not passes(summaries[run_id]):
            s = summaries[run_id]
            raise UsageError(f"--run {run_id}: measured with {s.engine}/{s.provider} on {s.hostname or '?'}, "
                             "outside the --engine/--provider/--host filters")
    candidates = [summaries[i] for i in (list(run_ids) or store.run_ids()) if passes(summaries[i])]
    chosen = {c.setup: c.run_id for c in choose_runs(summary_choice(s) for s in candidates)}
    for run_id in pinned:
        chosen[summary_choice(summaries[run_id]).setup] = run_id
    return sorted(set(chosen.values()))


def load_points(store, run_ids: Sequence[int] = (), engine: Optional[str] = None,
                provider: Optional[str] = None, host: Optional[str] = None,
                pinned: Sequence[int] = ()) -> list[BatchPoint]:
    """Points of one run per model and set-up (``choose_run_ids``: the rule, or the ``pinned`` runs),
    among the store's finished runs (or ``run_ids``), filtered by engine, provider and host."""
    facts = manifest()
    return [point for run_id in choose_run_ids(store, run_ids, engine, provider, host, pinned)
            for point in points_of(run_id, store.get_run(run_id), facts)]


def by_model(points: Iterable[BatchPoint]) -> dict[str, list[BatchPoint]]:
    """Points grouped per model (in first-seen order), each group sorted by batch size."""
    groups: dict[str, list[BatchPoint]] = {}
    for point in points:
        groups.setdefault(point.model, []).append(point)
    return {model: sorted(group, key=lambda p: p.batch) for model, group in groups.items()}


def at_batch(points: Iterable[BatchPoint], batch: int) -> list[BatchPoint]:
    """The successful points at one batch size."""
    return [p for p in points if p.batch == batch and p.ok]
