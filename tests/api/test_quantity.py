"""Resource quantities, parsed exactly as Kubernetes does."""

from __future__ import annotations

from fractions import Fraction

import pytest

from cluster.api import quantity


@pytest.mark.parametrize(
    ("text", "millis", "units"),
    [
        ("500m", 500, 1),
        ("1", 1000, 1),
        ("1.5", 1500, 2),
        ("0.1", 100, 1),
        ("128Mi", 128 * 2**20 * 1000, 128 * 2**20),
        ("1Gi", 2**30 * 1000, 2**30),
        ("1k", 1_000_000, 1000),
        ("2e3", 2_000_000, 2000),
        ("1E-3", 1, 1),
        ("100u", 1, 1),  # rounds up
        ("+3", 3000, 3),
        ("0", 0, 0),
    ],
)
def test_parse(text: str, millis: int, units: int) -> None:
    assert quantity.milli_value(text) == millis
    assert quantity.value(text) == units


def test_exact_arithmetic() -> None:
    assert quantity.parse("0.1") + quantity.parse("0.2") == Fraction(3, 10)


@pytest.mark.parametrize("text", ["", "lots", "1.2.3", "5 Mi", "1MB", "Mi", "1e999", 5, ["1"], None])
def test_rejects(text: object) -> None:
    for _ in range(2):  # a refusal is not remembered as a value
        with pytest.raises(quantity.QuantityError):
            quantity.parse(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("count", "text"), [(128 * 2**20, "128Mi"), (1536 * 1024, "1536Ki"), (1000, "1000"), (0, "0")]
)
def test_format_bytes(count: int, text: str) -> None:
    assert quantity.format_bytes(count) == text


def test_format_millicores() -> None:
    assert quantity.format_millicores(2000) == "2"
    assert quantity.format_millicores(250) == "250m"
