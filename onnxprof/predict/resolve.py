"""Which predictor a command uses for a device: ``--device`` names a profile file, a stored profile or
a device with published facts; without it, the newest profile calibrated on this host with the same
engine and provider, so ``measure`` compares against the best predictor it has for the device."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Optional, Union

from onnxprof.errors import UsageError
from onnxprof.predict.profile import CalibratedProfile, PublishedDevice, load_profile, profile_from_json

Predictor = Union[CalibratedProfile, PublishedDevice]


def resolve_predictor(device: Optional[str], store=None, hostname: Optional[str] = None, engine: str = "",
                      provider: str = "") -> Optional[Predictor]:
    """The predictor for ``device`` (see the module's docstring; ``hostname`` defaults to this host);
    None when nothing fits (the caller then uses :mod:`onnxprof.predict.basic`)."""
    if device is None:
        if store is None:
            return None
        stored = store.find_profile(hostname=hostname or socket.gethostname(), engine=engine, provider=provider)
        try:
            return profile_from_json(stored.document) if stored is not None else None
        except ValueError:      # calibrated by an older onnxprof: measure on without a prediction
            return None
    if device.endswith(".json") or Path(device).is_file():
        return load_profile(Path(device))
    stored = store.find_profile(name=device) if store is not None else None
    if stored is not None:
        try:
            return profile_from_json(stored.document)
        except ValueError as exc:
            raise UsageError(f"--device {device}: {exc}") from None
    from onnxprof.predict.devices import devices

    facts = devices().get(device)
    if facts is None:
        known = ", ".join(sorted(devices()))
        raise UsageError(f"--device {device}: not a profile file, a stored profile (`onnxprof calibrate --name`) "
                         f"or a known device ({known})")
    return PublishedDevice(facts)
