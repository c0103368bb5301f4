"""How good a fitted predictor is, and the small least-squares helper the fits share.

Errors are fractions, not percent: an RMSPE of 0.05 is 5 %, and ``share_within(..., tolerance=0.10)``
counts predictions within ±10 % of the measurement (the design's calibration target).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Callable, Mapping, Sequence, TypeVar

import numpy as np

S = TypeVar("S")     # one sample (a fit's input row)
M = TypeVar("M")     # a fitted model

TOLERANCE = 0.10     # ±10 %: the design's calibration target, which share_within counts


@dataclass(frozen=True)
class FitQuality:
    r_squared: float
    rmspe: float                  # root-mean-square percentage error, as a fraction (0.05 = 5 %)
    share_within_10pct: float     # fraction of predictions within ±10 % of the measurement
    spearman_rho: float           # rank correlation: does the predictor order the models right?
    n: int


def _pair(pred: Sequence[float], meas: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p, m = np.asarray(pred, dtype=float).ravel(), np.asarray(meas, dtype=float).ravel()
    if p.shape != m.shape:
        raise ValueError(f"{p.size} predictions for {m.size} measurements")
    if p.size == 0:
        raise ValueError("no samples")
    return p, m


def r_squared(pred: Sequence[float], meas: Sequence[float]) -> float:
    """Coefficient of determination 1 − SS_res / SS_tot of predictions against measurements
    (can be negative for a predictor worse than the measurements' mean; nan when they are all equal)."""
    p, m = _pair(pred, meas)
    total = float(np.sum((m - m.mean()) ** 2))
    residual = float(np.sum((m - p) ** 2))
    if total == 0.0:
        return 1.0 if residual == 0.0 else float("nan")
    return 1.0 - residual / total


def rmspe(pred: Sequence[float], meas: Sequence[float]) -> float:
    """sqrt(mean(((pred − meas) / meas)²)), a fraction. Measurements must be non-zero."""
    p, m = _pair(pred, meas)
    if np.any(m == 0):
        raise ValueError("a measurement of zero has no percentage error")
    return float(np.sqrt(np.mean(((p - m) / m) ** 2)))


def share_within(pred: Sequence[float], meas: Sequence[float], tolerance: float = TOLERANCE) -> float:
    """The fraction of predictions with |pred − meas| ≤ tolerance·|meas|."""
    p, m = _pair(pred, meas)
    return float(np.mean(np.abs(p - m) <= tolerance * np.abs(m) * (1 + 1e-12)))


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """1-based ranks; tied values share the mean of the ranks they span."""
    x = np.asarray(values, dtype=float).ravel()
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])     # first index of each tie run
    ends = np.r_[starts[1:], x.size]                                       # one past its last
    mean_rank = (starts + 1 + ends) / 2.0                                  # mean of ranks starts+1 .. ends
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman's ρ: the Pearson correlation of the average ranks (nan when either side is constant)."""
    x, y = _pair(a, b)
    rx, ry = average_ranks(x), average_ranks(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denominator = float(np.sqrt(np.sum(rx * rx) * np.sum(ry * ry)))
    return float(np.sum(rx * ry)) / denominator if denominator else float("nan")


def fit_quality(pred: Sequence[float], meas: Sequence[float], tolerance: float = TOLERANCE) -> FitQuality:
    p, m = _pair(pred, meas)
    return FitQuality(r_squared=r_squared(p, m), rmspe=rmspe(p, m), share_within_10pct=share_within(p, m, tolerance),
                      spearman_rho=spearman(p, m) if p.size > 1 else float("nan"), n=int(p.size))


def leave_one_out(groups: Mapping[str, Sequence[S]], fit: Callable[[list[S]], M],
                  predict: Callable[[M, S], float],
                  measured: Callable[[S], float] = attrgetter("measured")) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Cross-validation by model: for each group (one model's samples), fit on every other group and
    predict the held-out one. Returns group -> (predicted, measured), arrays in the group's sample order.

    ``measured`` reads a sample's measured value; the default reads the ``measured`` property every
    sample type of this package has."""
    if len(groups) < 2:
        raise ValueError("leave-one-out needs at least two groups")
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for held in groups:
        model = fit([s for name, samples in groups.items() if name != held for s in samples])
        out[held] = (np.array([predict(model, s) for s in groups[held]], dtype=float),
                     np.array([measured(s) for s in groups[held]], dtype=float))
    return out


def nonnegative_least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """min ‖a·x − b‖ subject to x ≥ 0 (Lawson–Hanson active set; columns are scaled to unit norm first
    so that coefficients of very different magnitudes — bytes and a constant — are treated alike)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float).ravel()
    rows, cols = a.shape
    norms = np.linalg.norm(a, axis=0)
    norms[norms == 0] = 1.0
    a = a / norms
    tol = 10 * np.finfo(float).eps * max(rows, cols) * max(1.0, float(np.abs(a).sum(axis=0).max()))
    passive = np.zeros(cols, dtype=bool)
    x = np.zeros(cols)
    w = a.T @ (b - a @ x)
    for _ in range(3 * cols + 3):
        if passive.all() or w[~passive].max() <= tol:
            break
        candidates = np.where(passive, -np.inf, w)
        passive[int(np.argmax(candidates))] = True
        while True:
            s = np.zeros(cols)
            s[passive] = np.linalg.lstsq(a[:, passive], b, rcond=None)[0]
            if s[passive].min() > tol:
                break
            blocking = passive & (s <= tol) & (x - s > 0)
            alpha = float(np.min(x[blocking] / (x[blocking] - s[blocking]))) if blocking.any() else 0.0
            x = x + alpha * (s - x)
            passive &= x > tol
            if not passive.any():
                s = np.zeros(cols)
                break
        x = s
        x[~passive] = 0.0
        w = a.T @ (b - a @ x)
    return np.maximum(x, 0.0) / norms
