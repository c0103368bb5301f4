"""Reading stored rows defensively: each value checked against its column before a record is built.

A database can be hand-edited, written by another tool or damaged: text where a number belongs, JSON
that does not parse, bytes where text belongs. The driver's own conversions would raise half-way
through a listing; here rows are read raw (no SQLAlchemy result processing) and each value is checked,
so one bad row becomes a ``DamagedRow`` naming its table, row and column, and the others still read.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from sqlalchemy import JSON, BigInteger, Boolean, Double, Integer, Select, String, Table, Text, select, type_coerce
from sqlalchemy.types import NullType

from onnxprof.errors import OnnxprofError

MAX_JSON_DEPTH = 64         # deeper than any record onnxprof writes; bounds the parser's recursion
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')     # a string (skipped whole) or a bracket


class DamagedRow(OnnxprofError):
    """A stored row whose values do not fit its columns."""


def raw_select(table: Table, *columns: str) -> Select:
    """SELECT of ``columns`` (all when none are named) with the driver's values as they are."""
    chosen = [table.c[name] for name in columns] if columns else list(table.c)
    return select(*[type_coerce(column, NullType()).label(column.name) for column in chosen])


def checked(table: Table, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The row's values as their columns' Python types; DamagedRow for the first that is not one."""
    where = f"{table.name} row {raw.get('id', '?')}"
    values = {}
    for name, value in raw.items():
        column = table.c[name]
        if value is None:
            if not column.nullable and not column.primary_key:
                raise DamagedRow(f"{where}: column {name!r} is empty")
            values[name] = None
            continue
        values[name] = _typed(column.type, value, f"{where}: column {name!r}")
    return values


def _typed(kind: Any, value: Any, where: str) -> Any:
    if isinstance(kind, JSON):
        return parse_json(value, where) if isinstance(value, (str, bytes)) else value   # PostgreSQL parses json itself
    if isinstance(kind, Boolean):
        if isinstance(value, bool) or (isinstance(value, int) and value in (0, 1)):
            return bool(value)
        raise DamagedRow(f"{where} holds {_shown(value)}, not true or false")
    if isinstance(kind, (Integer, BigInteger)):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise DamagedRow(f"{where} holds {_shown(value)}, not a whole number")
    if isinstance(kind, Double):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise DamagedRow(f"{where} holds {_shown(value)}, not a number")
    if isinstance(kind, (String, Text)):
        if isinstance(value, str):
            return value
        raise DamagedRow(f"{where} holds {_shown(value)}, not text")
    return value


def parse_json(text: str | bytes, where: str) -> Any:
    """A JSON column's text, parsed; DamagedRow when it is not JSON or nests past MAX_JSON_DEPTH."""
    if nests_too_deep(text):
        raise DamagedRow(f"{where} holds JSON nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DamagedRow(f"{where} holds {_shown(text)}, not JSON ({str(exc).splitlines()[0]})") from None


def nests_too_deep(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether brackets in JSON text nest past ``limit`` (brackets inside strings skipped), found without
    parsing: the standard parser recurses once a level and fails past Python's recursion limit."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKENS.finditer(text):
        ch = token.group()
        if ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def require_kind(value: Any, kind: type, where: str) -> Any:
    """``value`` when it is a ``kind`` (dict, list...) as parsed from a JSON column; DamagedRow otherwise."""
    if not isinstance(value, kind):
        raise DamagedRow(f"{where} holds {_shown(value)}, not a JSON {'object' if kind is dict else 'array'}")
    return value


def _shown(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"
