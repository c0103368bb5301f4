"""``measure``'s sweep in a process of its own, for figures the calling process would distort.

A process that has analysed other models (a calibration holds every model's analysis) has an RSS that
says nothing of what ``onnxprof measure`` reports for one model, so the sweep runs in a child started
afresh (the "spawn" start method: no copy of the parent's memory), as Polygraphy's comparator isolates
its runs. The child runs :func:`onnxprof.measure.sweep.run_sweep` on the plan it is given, engine
options included, and holds what a ``measure`` process holds around its sweep, since all of it is part
of the RSS that ``measure`` reports: the command's modules, and the run stored as it goes in a results
database (a scratch one). The command-line parser's own work is not repeated (it loads pydantic to
read numbers): the child's peak RSS comes out 2-4 % below what ``measure`` reports (about 5 MB, on
ONNX Runtime's CPU provider).
"""

from __future__ import annotations

import importlib
import multiprocessing
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from onnxprof.engines.base import EngineOptions
from onnxprof.measure.harness import TimingProtocol
from onnxprof.measure.records import OK, RunRecord, error_line
from onnxprof.measure.sweep import SweepPlan, run_sweep

# what the measure command imports besides the sweep: the command line, its tables, the predictor
MEASURE_MODULES = ("onnxprof.cli.main", "onnxprof.cli.measure", "onnxprof.predict.resolve",
                   "onnxprof.report.measure_tables")
# memory needs no long timing: the arena has grown to its size after the first run
MEMORY_PROTOCOL = TimingProtocol(warmup_runs=1, warmup_s=0.0, min_runs=3, min_duration_s=0.0)


def sweep_in_own_process(plan: SweepPlan) -> RunRecord:
    """The run ``plan`` measures, measured in a child process (see the module). The plan must pickle: no
    meter. ChildProcessError, with the child's error in one line, when the sweep failed or the child died;
    on a KeyboardInterrupt the child is stopped."""
    if plan.meter is not None:
        raise ValueError("a sweep in a process of its own samples no power meter")
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(plan, sending), daemon=True)
    child.start()
    sending.close()             # the child's end: reading gives EOFError once the child is gone
    try:
        reply = receiving.recv()
    except EOFError:            # it died without a word
        reply = None
    except BaseException:       # stopped (a Ctrl-C): the child has nothing left to give
        child.terminate()
        raise
    finally:
        receiving.close()
        child.join()
    if reply is None:
        raise ChildProcessError(f"the sweep's process died (exit code {child.exitcode})")
    measured, result = reply
    if not measured:
        raise ChildProcessError(result)
    return result


def _child(plan: SweepPlan, sending) -> None:
    try:
        sending.send((True, stored_sweep(plan)))
    except BaseException as exc:     # its error as a line: an engine's exception need not pickle
        sending.send((False, error_line(exc)))
    finally:
        sending.close()


def stored_sweep(plan: SweepPlan) -> RunRecord:
    """What the child runs: the sweep, stored as it goes in a scratch database, as ``measure`` stores it."""
    from onnxprof.store.db import Store

    for module in MEASURE_MODULES:
        importlib.import_module(module)

    with tempfile.TemporaryDirectory() as scratch, Store(str(Path(scratch) / "runs.sqlite")) as store:
        run_id: list[int] = []
        return run_sweep(plan, on_start=lambda record: run_id.append(store.save_run(record)),
                         on_batch=lambda result, _: store.append_batch(run_id[0], result))


def peak_rss_in_own_process(path: Path, batches: Sequence[int], engine: str = "onnxruntime",
                            options: EngineOptions = EngineOptions(),
                            protocol: TimingProtocol = MEMORY_PROTOCOL) -> dict[int, int]:
    """Peak RSS in bytes by batch size, as ``onnxprof measure PATH --batch ...`` reports it, from a sweep
    in a process of its own. A batch that fails is left out; a child that fails as a whole (the engine
    cannot build the model, the child crashes) gives an empty mapping."""
    # without the profiler, whose trace would add to the RSS (and which profiles one batch size only)
    plan = SweepPlan(source=str(path), model_path=Path(path), batches=tuple(batches), engine=engine,
                     options=replace(options, profile_layers=False), protocol=protocol)
    try:
        record = sweep_in_own_process(plan)
    except ChildProcessError:
        return {}
    return {result.batch: result.memory.peak_rss_bytes for result in record.batches
            if result.status == OK and result.memory is not None and result.memory.peak_rss_bytes}
