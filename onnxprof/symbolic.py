"""Integer polynomials in named dimensions (``N``, ``seq``), the type of every symbolic count.

Concrete quantities stay plain ``int`` (the fast path for bound shapes); a quantity that depends on an
unbound dimension is a :class:`Poly`. Arithmetic between the two is transparent, and results collapse
back to ``int`` when no symbol remains, so cost formulas are written once for both.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Mapping, Union

from onnxprof.model.limits import MAX_DIM_EXPONENT, MAX_DIM_NESTING, MAX_DIM_TEXT, MAX_ELEMENTS, MAX_FORMULA_TERMS

Monomial = tuple[tuple[str, int], ...]  # sorted (symbol, exponent) pairs; () is the constant term
Quantity = Union[int, "Poly"]


class Poly:
    """A polynomial with integer coefficients; immutable and hashable."""

    __slots__ = ("terms",)

    def __init__(self, terms: Mapping[Monomial, int]):
        self.terms = {m: c for m, c in terms.items() if c}

    @staticmethod
    def symbol(name: str) -> "Poly":
        return Poly({((name, 1),): 1})

    # -- construction helpers -------------------------------------------------------------------
    @staticmethod
    def _lift(value: Quantity) -> "Poly":
        return value if isinstance(value, Poly) else Poly({(): int(value)})

    def _collapse(self) -> Quantity:
        if not self.terms:
            return 0
        if len(self.terms) == 1 and () in self.terms:
            return self.terms[()]
        return self

    # -- arithmetic -----------------------------------------------------------------------------
    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, (int, Poly)):
            return NotImplemented
        terms = dict(self.terms)
        for m, c in Poly._lift(other).terms.items():
            terms[m] = terms.get(m, 0) + c
        return Poly(terms)._collapse()

    __radd__ = __add__

    def __neg__(self) -> "Poly":
        return Poly({m: -c for m, c in self.terms.items()})

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, (int, Poly)):
            return NotImplemented
        return self + (-Poly._lift(other))

    def __rsub__(self, other: Quantity) -> Quantity:
        return (-self) + other

    def __mul__(self, other: Quantity) -> Quantity:
        if isinstance(other, int):
            return Poly({m: c * other for m, c in self.terms.items()})._collapse()
        if not isinstance(other, Poly):
            return NotImplemented
        terms: dict[Monomial, int] = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in other.terms.items():
                m = _mono_mul(m1, m2)
                terms[m] = terms.get(m, 0) + c1 * c2
        return Poly(terms)._collapse()

    __rmul__ = __mul__

    # -- comparison and identity ----------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if isinstance(other, int):
            return False  # a Poly always holds a symbol (constants collapse to int)
        return isinstance(other, Poly) and self.terms == other.terms

    def __hash__(self) -> int:
        return hash(frozenset(self.terms.items()))

    def __repr__(self) -> str:
        return f"Poly({self})"

    def __str__(self) -> str:
        return format_quantity(self)

    # -- inspection -----------------------------------------------------------------------------
    def symbols(self) -> set[str]:
        return {s for m in self.terms for s, _ in m}

    def degree(self) -> int:
        return max(sum(e for _, e in m) for m in self.terms)

    def substitute(self, bindings: Mapping[str, int]) -> Quantity:
        """Evaluate the symbols that ``bindings`` names; the others stay symbolic."""
        result: Quantity = 0
        for m, c in self.terms.items():
            term: Quantity = c
            for s, e in m:
                term = term * (bindings[s] ** e if s in bindings else Poly({((s, e),): 1}))
            result = result + term
        return result


def _mono_mul(a: Monomial, b: Monomial) -> Monomial:
    if not a:
        return b
    if not b:
        return a
    powers = dict(a)
    for s, e in b:
        powers[s] = powers.get(s, 0) + e
    return tuple(sorted(powers.items()))


def exact_div(a: Quantity, b: Quantity) -> Quantity | None:
    """``a / b`` when it divides exactly into an integer polynomial, else None.

    Division by a monomial is exact when every term of ``a`` holds it (``N*S*768 / (N*S) = 768``);
    division by a polynomial of several terms is tried as ``a = q*b`` for a constant ``q``.
    """
    if isinstance(b, int):
        if b == 0:
            return None
        if isinstance(a, int):
            return a // b if a % b == 0 else None
        if all(c % b == 0 for c in a.terms.values()):
            return Poly({m: c // b for m, c in a.terms.items()})
        return None
    if len(b.terms) == 1:
        ((bm, bc),) = b.terms.items()
        out: dict[Monomial, int] = {}
        for m, c in Poly._lift(a).terms.items():
            powers = dict(m)
            for s, e in bm:
                if powers.get(s, 0) < e or c % bc:
                    return None
                powers[s] -= e
            out[tuple(sorted((s, e) for s, e in powers.items() if e))] = c // bc
        return Poly(out)._collapse()
    if isinstance(a, Poly):
        ratios = {a.terms.get(m, 0) * 1.0 / c for m, c in b.terms.items()}
        if len(ratios) == 1 and set(a.terms) == set(b.terms):
            q = next(iter(ratios))
            if q == int(q) and a == b * int(q):
                return int(q)
    return None


def is_symbolic(value: object) -> bool:
    return isinstance(value, Poly)


def substitute(value: Quantity, bindings: Mapping[str, int]) -> Quantity:
    return value.substitute(bindings) if isinstance(value, Poly) else value


def symbols_of(value: Quantity) -> set[str]:
    return value.symbols() if isinstance(value, Poly) else set()


def growth_key(value: Quantity) -> tuple[int, ...]:
    """Key ordering quantities by size as all symbols grow together: highest degree first.

    Used to pick a peak among symbolic sizes; exact for the common case of sizes linear in the batch.
    """
    if isinstance(value, int):
        return (value,)
    by_degree: dict[int, int] = {}
    for m, c in value.terms.items():
        d = sum(e for _, e in m)
        by_degree[d] = by_degree.get(d, 0) + c
    top = max(by_degree)
    return tuple(by_degree.get(d, 0) for d in range(top, -1, -1))


def greater(a: Quantity, b: Quantity) -> bool:
    """``a > b`` when both are ints; asymptotic order (see :func:`growth_key`) otherwise."""
    if isinstance(a, int) and isinstance(b, int):
        return a > b
    ka, kb = growth_key(a), growth_key(b)
    width = max(len(ka), len(kb))
    ka = (0,) * (width - len(ka)) + ka
    kb = (0,) * (width - len(kb)) + kb
    return ka > kb


def _term_order(item: tuple[Monomial, int]) -> tuple:
    m, _ = item
    return (-sum(e for _, e in m), m)


def format_quantity(value: Quantity, number=str) -> str:
    """Canonical text of a quantity: ``4089184256*N + 1000``. ``number`` formats coefficients."""
    if isinstance(value, int):
        return number(value)
    parts = []
    for m, c in sorted(value.terms.items(), key=_term_order):
        names = "*".join(s if e == 1 else f"{s}^{e}" for s, e in m)
        mag = abs(c)
        body = names if (mag == 1 and names) else (f"{number(mag)}*{names}" if names else number(mag))
        parts.append(("-" if c < 0 else "+", body))
    text = parts[0][1] if parts[0][0] == "+" else "-" + parts[0][1]
    for sign, body in parts[1:]:
        text += f" {sign} {body}"
    return text


_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_.:]*)|(\*\*|[-+*()^]))")


@lru_cache(maxsize=4096)
def parse_dim(text: str) -> Quantity | None:
    """Parse a dimension expression (``N``, ``s0*s1``, ``2*N + 1``); None if it is not one, or if it is
    larger than any real shape needs (see :mod:`onnxprof.model.limits`): such a dim is unknown."""
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.strip()
    if len(text) > MAX_DIM_TEXT:
        return None
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            return None
        pos = m.end()
        if m.group(1):
            tokens.append(("int", m.group(1)))
        elif m.group(2):
            tokens.append(("name", m.group(2)))
        else:
            tokens.append(("op", m.group(3)))
    parser = _Parser(tokens)
    try:
        value = parser.expr()
    except (IndexError, ValueError):
        return None
    return value if parser.pos == len(tokens) else None


def _bounded(value: Quantity) -> Quantity:
    """``value`` if a dimension could be that large and that complex, else ValueError."""
    terms = value.terms if isinstance(value, Poly) else {(): value}
    if len(terms) > MAX_FORMULA_TERMS or any(abs(c) > MAX_ELEMENTS for c in terms.values()):
        raise ValueError("beyond any real dimension")
    return value


class _Parser:
    """Recursive descent over the tokens; every intermediate value is bounded, so no text can make it
    recurse deeply, compute long or build huge numbers."""

    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.pos, self.depth = tokens, 0, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def expr(self) -> Quantity:
        value = self.term()
        while self.peek() in ("+", "-"):
            op = self.tokens[self.pos][1]
            self.pos += 1
            rhs = self.term()
            value = _bounded(value + rhs if op == "+" else value - rhs)
        return value

    def term(self) -> Quantity:
        value = self.power()
        while self.peek() == "*":
            self.pos += 1
            value = _bounded(value * self.power())
        return value

    def power(self) -> Quantity:
        base = self.factor()
        if self.peek() in ("^", "**"):
            self.pos += 1
            kind, text = self.tokens[self.pos]
            self.pos += 1
            if kind != "int" or int(text) > MAX_DIM_EXPONENT:
                raise ValueError("not a small integer exponent")
            result: Quantity = 1
            for _ in range(int(text)):
                result = _bounded(result * base)
            return result
        return base

    def factor(self) -> Quantity:
        kind, text = self.tokens[self.pos]
        self.pos += 1
        if kind == "int":
            return _bounded(int(text))
        if kind == "name":
            return Poly.symbol(text)
        if text == "-":
            return -1 * self.factor()
        if text == "(":
            self.depth += 1
            if self.depth > MAX_DIM_NESTING:
                raise ValueError("nested too deeply")
            value = self.expr()
            if self.peek() != ")":
                raise ValueError("unbalanced parenthesis")
            self.pos += 1
            self.depth -= 1
            return value
        raise ValueError(f"unexpected {text!r}")


def product(values) -> Quantity:
    """Product of ints and symbolic quantities (1 for none)."""
    total: Quantity = 1
    for v in values:
        total = total * v
    return total
