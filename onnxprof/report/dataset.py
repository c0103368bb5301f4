"""The results store as one tidy table: a row per measured (model, batch size), with the network's
published facts beside it. Figures, findings, selection and the HTML report all read this table.

A model measured several times on the same engine, provider, precision and host counts once: its
latest run wins (``latest_only``), so re-running a model replaces its figures instead of doubling them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional, Sequence

from onnxprof.measure.records import OK, RunRecord, model_name
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
            net_w=power.net_w if power else None,
            energy_per_image_j=power.energy_per_image_j if power else None,
            net_energy_per_image_j=power.net_energy_per_image_j if power else None,
            predicted_latency_ms=predicted.get("latency_ms"),
            predicted_peak_rss_bytes=predicted.get("peak_rss_bytes"),
            error=result.error))
    return points


def latest_only(runs: Iterable[tuple[int, RunRecord]]) -> list[tuple[int, RunRecord]]:
    """The newest run (highest id) of each model per engine, provider, precision and host."""
    newest: dict[tuple, tuple[int, RunRecord]] = {}
    for run_id, record in sorted(runs, key=lambda item: item[0]):
        key = (model_name(record.model_source), record.engine.engine, record.engine.provider,
               record.engine.precision, record.host.hostname)
        newest[key] = (run_id, record)
    return sorted(newest.values(), key=lambda item: item[0])


def load_points(store, run_ids: Sequence[int] = (), engine: Optional[str] = None,
                provider: Optional[str] = None, host: Optional[str] = None) -> list[BatchPoint]:
    """Points of the store's runs (all, or ``run_ids``), the latest run per model and set-up, filtered."""
    chosen = list(run_ids) or store.run_ids()
    runs = [(run_id, store.get_run(run_id)) for run_id in chosen]
    runs = [(i, r) for i, r in runs
            if (engine is None or r.engine.engine == engine) and (provider is None or r.engine.provider == provider)
            and (host is None or r.host.hostname == host)]
    facts = manifest()
    return [point for run_id, record in latest_only(runs) for point in points_of(run_id, record, facts)]


def by_model(points: Iterable[BatchPoint]) -> dict[str, list[BatchPoint]]:
    """Points grouped per model (in first-seen order), each group sorted by batch size."""
    groups: dict[str, list[BatchPoint]] = {}
    for point in points:
        groups.setdefault(point.model, []).append(point)
    return {model: sorted(group, key=lambda p: p.batch) for model, group in groups.items()}


def at_batch(points: Iterable[BatchPoint], batch: int) -> list[BatchPoint]:
    """The successful points at one batch size."""
    return [p for p in points if p.batch == batch and p.ok]
