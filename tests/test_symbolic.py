"""Integer polynomials in dimension symbols."""

from __future__ import annotations

import pytest

from onnxprof.symbolic import Poly, exact_div, format_quantity, greater, parse_dim, product

N, S = Poly.symbol("N"), Poly.symbol("S")


def test_arithmetic_collapses_to_int_when_symbols_cancel():
    assert (N * 3 - N * 3) == 0 and isinstance(N - N, int)
    assert (N + 1) * (N - 1) == N * N - 1
    assert product([N, S, 768]) == 768 * N * S


def test_substitution_binds_some_symbols():
    formula = 64 * N * S * S + 10 * N * S
    assert formula.substitute({"N": 2}) == 128 * S * S + 20 * S
    assert formula.substitute({"N": 2, "S": 3}) == 128 * 9 + 60


@pytest.mark.parametrize("a, b, expected", [
    (768 * N * S, N * S, 768), (12, 4, 3), (10, 4, None), (6 * N + 4, 2, 3 * N + 2),
    (2 * N + 2, N + 1, 2), (N * S, S * S, None),
])
def test_exact_division(a, b, expected):
    assert exact_div(a, b) == expected


@pytest.mark.parametrize("text, value", [
    ("N", N), ("s0*s1", Poly.symbol("s0") * Poly.symbol("s1")), ("2*N + 1", 2 * N + 1), ("N^2", N * N),
    ("(N+1)*2", 2 * N + 2), ("batch_size", Poly.symbol("batch_size")), ("7", 7),
    ("floor(N/2)", None), ("N +", None), ("", None),
])
def test_parse_dim(text, value):
    assert parse_dim(text) == value


def test_format_orders_terms_by_degree_and_prints_coefficients():
    assert format_quantity(10 * N * S + 64 * N * S * S - 3) == "64*N*S^2 + 10*N*S - 3"
    assert str(4_089_184_256 * N) == "4089184256*N"


def test_greater_compares_as_symbols_grow():
    assert greater(N * S * S, 1000 * N * S)
    assert greater(2 * N, N + 1000)
    assert not greater(N, N)
    assert greater(5, 3)
