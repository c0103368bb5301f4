"""Humane numbers for tables: SI prefixes (K = 10^3) for counts, decimal MB for bytes, medians for times."""

from __future__ import annotations

from typing import Optional

from onnxprof.symbolic import Poly, Quantity, format_quantity

_PREFIXES = ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def si(value: float) -> str:
    """``4089184256`` -> ``4.089 G``; below a thousand the exact number."""
    for scale, prefix in _PREFIXES:
        if abs(value) >= scale:
            return f"{value / scale:.4g}\u00a0{prefix}"  # no-break space: tables wrap between terms only
    return f"{value:g}" if isinstance(value, float) else str(value)


def megabytes(value: float) -> str:
    """Bytes in decimal megabytes (1 MB = 10^6 B, as the README says): ``307.88 MB``; below 10 kB in bytes.

    The one formatter of a byte count in every table and line onnxprof prints (file, weights, peak RSS,
    a predicted memory): the same run never reads MB in one place and MiB in another."""
    return f"{value / 1e6:,.2f}\u00a0MB" if abs(value) >= 1e4 else f"{value:,.0f}\u00a0B"


def latency_ms(result) -> Optional[float]:
    """A measured batch's latency: the median of its timed runs (trtexec's statistic), on the device's
    clock when the engine has one, else the host's. The one statistic of every measured time and rate."""
    stats = result.device_latency or result.latency
    return None if stats is None else stats.median_ms


def per_second(batch: int, latency: Optional[float]) -> Optional[float]:
    """Images a second at ``batch`` images per ``latency`` milliseconds (a median, see :func:`latency_ms`)."""
    return None if not latency or latency <= 0 else 1000.0 * batch / latency


def per_image_ms(batch: int, latency: Optional[float]) -> Optional[float]:
    return None if latency is None or batch <= 0 else latency / batch


def rate(value: Optional[float]) -> str:
    """A throughput (images a second) or images per joule: ``1,234.5``; ``-`` when unknown."""
    return "-" if value is None else f"{value:,.1f}"


def count(value: Optional[Quantity]) -> str:
    """A count, symbolic or not: ``4.089 G*N``; ``-`` when unknown."""
    return "-" if value is None else format_quantity(value, si).replace(" *", "·").replace("*", "·")


def size(value: Optional[Quantity]) -> str:
    return "-" if value is None else format_quantity(value, megabytes).replace(" *", "·").replace("*", "·")


def at_unit_symbols(value: Quantity) -> Quantity:
    """The value with every remaining symbol set to 1: for ratios and ordering of symbolic counts."""
    return value.substitute({s: 1 for s in value.symbols()}) if isinstance(value, Poly) else value


def ratio(numerator: Optional[Quantity], denominator: Optional[Quantity]) -> Optional[float]:
    if numerator is None or denominator is None:
        return None
    den = at_unit_symbols(denominator)
    return at_unit_symbols(numerator) / den if den else None


def shape_text(shape) -> str:
    """``N×3×224×224``; ``?`` for an unknown dim or rank, ``scalar`` for rank 0."""
    if shape is None:
        return "?"
    if not shape:
        return "scalar"
    return "×".join("?" if d is None else format_quantity(d) for d in shape)
