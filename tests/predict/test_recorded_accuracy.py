"""The latency predictor held to a stated accuracy on recorded calibrations (tests/data/calibration/, written
by scripts/record_calibration.py; see onnxprof.predict.recording): fitted on the sets it may be fitted and
tuned on, it must predict the models it never saw at least as well as the floors below. Nothing is timed
here: the recordings hold the measurements, so a change that makes the predictor worse fails wherever
the tests run."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from onnxprof.predict.calibrate import PredictorQuality, predict_new_models
from onnxprof.predict.metrics import share_within
from onnxprof.predict.recording import RecordedCollection, load_collection

DATA = Path(__file__).resolve().parents[1] / "data" / "calibration"
RECORDINGS = sorted(DATA.glob("*.json.gz"))
PREDICTOR = "kernels"              # the predictor calibrate picks on this CPU; the one the floors hold
FITTED = ("zoo", "tuning")         # the sets the predictor may be fitted and tuned on
HELD_OUT = ("heldout",)            # never fitted or tuned on: how well it generalises
SPLIT_FITTED, SPLIT_JUDGED = ("zoo",), ("tuning",)   # within the tuning side: the zoo alone predicting the rest


@dataclass(frozen=True)
class Floor:
    within_10pct: float            # the share of models predicted within ±10 % of their measured time
    within_25pct: float
    spearman_rho: float            # does it order the models as they measured?


# Per recording (its file's name less .json.gz) and batch size: what the predictor gave on it, with no margin,
# so that any change that makes it worse on these measurements fails; raise a floor when it improves.
HELD_OUT_FLOORS = {             # fitted on FITTED, predicting HELD_OUT (24 models)
    "epyc-2core": {1: Floor(18 / 24, 22 / 24, 0.989), 8: Floor(19 / 24, 23 / 24, 0.989)},
}
SPLIT_FLOORS = {                # fitted on SPLIT_FITTED, predicting SPLIT_JUDGED (11 models)
    "epyc-2core": {1: Floor(10 / 11, 11 / 11, 0.981), 8: Floor(10 / 11, 11 / 11, 0.999)},
}


@functools.lru_cache(maxsize=None)
def _collection(path: Path) -> RecordedCollection:
    return load_collection(path)


def _name(path: Path) -> str:
    return path.name.removesuffix(".json.gz")


def _judged(collection: RecordedCollection, fitted: tuple[str, ...], judged: tuple[str, ...]
            ) -> dict[int, PredictorQuality]:
    data = collection.data(*fitted)
    results = predict_new_models(data.points, collection.labelled(*judged), data.compute_flops_per_s,
                                 data.bandwidth_bytes_per_s, data.op_timings, data.spill_from_bytes)
    return {r.batch: r for r in results if r.predictor == PREDICTOR}


def _shortfalls(results: dict[int, PredictorQuality], floors: dict[int, Floor]) -> list[str]:
    """A line for each batch size whose accuracy fell below its floor (with every model's error)."""
    lines = []
    assert set(results) == set(floors), f"batch sizes recorded {sorted(results)}, floors stated {sorted(floors)}"
    for batch, floor in floors.items():
        r = results[batch]
        models = list(r.measured_ms)
        got = Floor(r.quality.share_within_10pct,
                    share_within([r.predicted_ms[m] for m in models], [r.measured_ms[m] for m in models], 0.25),
                    r.quality.spearman_rho)
        if (got.within_10pct < floor.within_10pct or got.within_25pct < floor.within_25pct
                or not got.spearman_rho >= floor.spearman_rho):
            errors = ", ".join(f"{m} {r.predicted_ms[m] / r.measured_ms[m] - 1:+.0%}" for m in models)
            lines.append(f"batch {batch}: {got} below {floor} ({errors})")
    return lines


def test_every_recording_has_its_sets_and_its_floors():
    assert RECORDINGS, f"no recorded calibration in {DATA}"
    for path in RECORDINGS:
        assert _name(path) in HELD_OUT_FLOORS and _name(path) in SPLIT_FLOORS, f"{path.name}: state its floors"
        sets = set(_collection(path).labels.values())
        assert sets >= set(FITTED) | set(HELD_OUT), f"{path.name} holds the sets {sorted(sets)}"
        assert _collection(path).op_timings, f"{path.name} holds no single-op cases"


@pytest.mark.parametrize("path", RECORDINGS, ids=_name)
def test_the_predictor_fitted_on_the_tuning_side_predicts_the_held_out_models(path):
    results = _judged(_collection(path), FITTED, HELD_OUT)
    assert not _shortfalls(results, HELD_OUT_FLOORS[_name(path)])


@pytest.mark.parametrize("path", RECORDINGS, ids=_name)
def test_the_predictor_fitted_on_the_zoo_predicts_the_tuning_set(path):
    results = _judged(_collection(path), SPLIT_FITTED, SPLIT_JUDGED)
    assert not _shortfalls(results, SPLIT_FLOORS[_name(path)])
