"""Humane numbers for tables: SI prefixes (K = 10^3) for counts, decimal MB for bytes."""

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
    return f"{value / 1e6:,.2f}\u00a0MB" if abs(value) >= 1e4 else f"{value:,.0f}\u00a0B"


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
