"""Which predictor a command uses for a device: ``--device`` names a profile file, a stored profile or
a device with published facts; without it, the stored profile calibrated on this host with the same
engine and provider that has the lowest held-out error (``Store.find_profiles``; not the newest: a
quick calibration does not replace a better one), so ``measure`` compares against the best predictor
it has for the device.

What it returns is a :class:`ResolvedPredictor`: the profile or device, and the provenance every one of
its predictions carries (``Prediction.provenance``): where it comes from, the held-out error, the
calibrated batch sizes and models, and the warnings of each prediction — a batch size outside the
calibrated ones (extrapolation), a model family the profile never saw, a negative predicted net power.
"""

from __future__ import annotations

import math
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Union

from onnxprof.errors import UsageError
from onnxprof.predict.basic import CALIBRATED, PUBLISHED, Prediction, Provenance
from onnxprof.predict.power import negative_net_power
from onnxprof.predict.profile import CalibratedProfile, PublishedDevice, load_profile, profile_from_json

Predictor = Union[CalibratedProfile, PublishedDevice]


def calibrated_batches(profile: CalibratedProfile) -> tuple[int, ...]:
    """The batch sizes a profile was fitted at."""
    return tuple(sorted({int(b) for b in profile.batches}))


def _finite(value: Optional[float]) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def provenance_of(predictor: Predictor) -> Provenance:
    """What every prediction of ``predictor`` rests on (before its own warnings)."""
    if isinstance(predictor, CalibratedProfile):
        return Provenance(CALIBRATED, name=predictor.name, held_out_error=_finite(predictor.rmspe.get(predictor.best)),
                          calibrated_batches=calibrated_batches(predictor),
                          calibrated_models=tuple(predictor.models))
    facts = getattr(predictor, "facts", None)
    return Provenance(PUBLISHED, name=str(getattr(facts, "title", "") or getattr(facts, "name", "") or ""))


def _family(model: str) -> Optional[str]:
    from onnxprof.zoo.manifest import manifest

    network = manifest().get(model)
    return network.family if network is not None else None


def prediction_warnings(provenance: Provenance, model: str, batch: int,
                        predicted_net_w: Optional[float] = None) -> tuple[str, ...]:
    """The warnings of one prediction of ``model`` at ``batch`` from a predictor of ``provenance``."""
    warnings = []
    if provenance.calibrated:
        batches = provenance.calibrated_batches
        if batches and not min(batches) <= batch <= max(batches):
            warnings.append(f"extrapolated: batch {batch} is outside the calibrated batches "
                            f"{min(batches)}–{max(batches)}; the held-out error does not cover it")
        models = provenance.calibrated_models
        if models and model and model not in models:
            families = {f for f in (_family(m) for m in models) if f is not None}
            family = _family(model)
            if family is None:
                warnings.append(f"{model} was not among the {len(models)} calibrated models and is not a zoo "
                                "network: its error may differ from the held-out error")
            elif family not in families:
                warnings.append(f"model family {family} was never calibrated (calibrated: "
                                f"{', '.join(sorted(families)) or ', '.join(models)}): its error may differ "
                                "from the held-out error")
    negative = negative_net_power(predicted_net_w, "predicted")
    if negative:
        warnings.append(negative)
    return tuple(warnings)


@dataclass(frozen=True)
class ResolvedPredictor:
    """A profile or a device with published facts whose predictions carry their provenance. Every other
    attribute (``roofline``, ``name``, ``best`` ...) is the wrapped predictor's."""

    predictor: Predictor
    provenance: Provenance

    def predict(self, report, batch: int) -> Prediction:
        from onnxprof.measure.records import model_name

        prediction = self.predictor.predict(report, batch)
        power = getattr(self.predictor, "power", None)
        net = power.active_at() if power is not None and isinstance(self.predictor, CalibratedProfile) else None
        model = model_name(report.model.source) if getattr(report, "model", None) is not None else ""
        warnings = prediction_warnings(self.provenance, model, batch, net)
        return replace(prediction, provenance=replace(self.provenance, warnings=warnings))

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("predictor", "provenance"):
            raise AttributeError(name)
        return getattr(self.predictor, name)


def resolved(predictor: Optional[Predictor]) -> Optional[ResolvedPredictor]:
    """``predictor`` with its provenance (None stays None; an already resolved one is returned as is)."""
    if predictor is None or isinstance(predictor, ResolvedPredictor):
        return predictor
    return ResolvedPredictor(predictor, provenance_of(predictor))


def resolve_predictor(device: Optional[str], store=None, hostname: Optional[str] = None, engine: str = "",
                      provider: str = "") -> Optional[ResolvedPredictor]:
    """The predictor for ``device`` (see the module's docstring; ``hostname`` defaults to this host);
    None when nothing fits (the caller then uses :mod:`onnxprof.predict.basic`)."""
    if device is None:
        if store is None:
            return None
        for stored in store.find_profiles(hostname=hostname or socket.gethostname(), engine=engine,
                                          provider=provider):
            try:
                return resolved(profile_from_json(stored.document))
            except ValueError:      # calibrated by an older onnxprof: the next best, else no prediction
                continue
        return None
    if device.endswith(".json") or Path(device).is_file():
        return resolved(load_profile(Path(device)))
    stored = store.find_profile(name=device) if store is not None else None
    if stored is not None:
        try:
            return resolved(profile_from_json(stored.document))
        except ValueError as exc:
            raise UsageError(f"--device {device}: {exc}") from None
    from onnxprof.predict.devices import devices

    facts = devices().get(device)
    if facts is None:
        known = ", ".join(sorted(devices()))
        raise UsageError(f"--device {device}: not a profile file, a stored profile (`onnxprof calibrate --name`) "
                         f"or a known device ({known})")
    return resolved(PublishedDevice(facts))
