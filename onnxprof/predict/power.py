"""Power predictor fitted to measurements (Canziani et al. 2016, Figures 4 and 8).

Power at full load is nearly constant whatever the model: the paper measures 11.8 ± 0.7 W on the TX1
above idle. The model is gross power = idle + active · utilisation, with utilisation the sample's
proxy (throughput, or 1 for runs at full load) divided by the largest seen, so that full load is 1.
``active_w`` is the mean of (gross − idle) / utilisation over the samples and ``active_std_w`` its
standard deviation: the ± of the paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np

from onnxprof.measure.records import OK


@dataclass(frozen=True)
class PowerSample:
    batch: int
    utilisation: float      # a proxy of load: throughput, or 1 at full load
    gross_w: float          # measured during the runs
    idle_w: float           # measured before them

    @property
    def net_w(self) -> float:
        return self.gross_w - self.idle_w

    @property
    def measured(self) -> float:
        return self.gross_w


@dataclass(frozen=True)
class PowerModel:
    idle_w: float               # mean idle power over the samples
    active_w: float             # mean power above idle at full load
    active_std_w: float         # its standard deviation over the samples (population, ddof=0)
    full_utilisation: float     # the proxy value taken as full load (the largest seen)
    n: int

    def active_at(self, utilisation: float | None = None) -> float:
        share = 1.0 if utilisation is None else utilisation / self.full_utilisation
        return self.active_w * share

    def gross_w(self, utilisation: float | None = None) -> float:
        """Predicted gross power; at full load when no utilisation is given."""
        return self.idle_w + self.active_at(utilisation)

    def predict_sample(self, sample: PowerSample) -> float:
        return self.gross_w(sample.utilisation)

    def energy_per_inference_j(self, predicted_ms_per_image: float, utilisation: float | None = None) -> float:
        """Active (net-of-idle) energy of one image: active power × its time."""
        return self.active_at(utilisation) * predicted_ms_per_image / 1000.0


def negative_net_power(net_w: Optional[float], what: str = "measured") -> Optional[str]:
    """The warning for a net power (gross minus idle) below zero, None when there is nothing to say: a
    device cannot draw less while running than idle, so the idle baseline (``--idle``) or the meter is
    off, and every net figure built on it (power, energy, the paper's constant power) is suspect.
    ``what``: measured or predicted. Every place that computes a net power shows this beside it."""
    if net_w is None or not net_w < 0:
        return None
    return (f"negative {what} net power (−{abs(net_w):.2f} W): gross below the idle baseline, so the idle "
            "measurement or the meter is off")


def _as_power(sample) -> PowerSample:
    return sample if isinstance(sample, PowerSample) else PowerSample(*sample)


def fit_power(samples: Sequence[Union[PowerSample, tuple]]) -> PowerModel:
    rows = [_as_power(s) for s in samples]
    if not rows:
        raise ValueError("no power samples")
    utilisation = np.array([s.utilisation for s in rows], dtype=float)
    if np.any(utilisation <= 0):
        raise ValueError("utilisation must be positive")
    full = float(utilisation.max())
    active = np.array([s.net_w for s in rows], dtype=float) / (utilisation / full)
    return PowerModel(idle_w=float(np.mean([s.idle_w for s in rows])), active_w=float(active.mean()),
                      active_std_w=float(active.std()), full_utilisation=full, n=len(rows))


def samples_from_runs(records) -> list[PowerSample]:
    """Full-load power samples from stored runs (:class:`onnxprof.measure.records.RunRecord`): every
    successful batch with a measured gross power and a known idle power (``--idle``)."""
    samples = []
    for record in records:
        for result in record.batches:
            power = result.power
            if result.status != OK or power is None or power.gross_w is None:
                continue
            idle = power.idle_w if power.idle_w is not None else record.idle_power_w
            if idle is not None:
                samples.append(PowerSample(batch=result.batch, utilisation=1.0, gross_w=power.gross_w, idle_w=idle))
    return samples
