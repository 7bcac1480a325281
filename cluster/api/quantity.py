"""Kubernetes resource quantities ("500m", "128Mi", "1.5", "2e3"), parsed exactly.

Quantities are kept as strings in the API objects (as users wrote them) and parsed on use into a
`Fraction`, so "0.1" + "0.2" CPUs is exactly "300m". Callers want integers in base units:
`milli_value` for CPU (millicores), `value` for memory (bytes); both round up, as Kubernetes does.
"""

from __future__ import annotations

import functools
import math
import re
from fractions import Fraction

_MULTIPLIERS: dict[str, Fraction] = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE](?P<exponent>[+-]?[0-9]+))?$"
)
QUANTITY_FORMAT_HINT = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity."""


def parse(text: str) -> Fraction:
    """The exact value of a quantity, in base units (cores, bytes)."""
    if not isinstance(text, str):
        raise QuantityError(QUANTITY_FORMAT_HINT)
    return _parse(text)


@functools.lru_cache(maxsize=4096)  # the API server validates every pod's few, repeated requests
def _parse(text: str) -> Fraction:
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise QuantityError(QUANTITY_FORMAT_HINT)
    number = Fraction(match["number"])
    if match["exponent"] is not None:
        exponent = int(match["exponent"])
        if abs(exponent) > 30:
            raise QuantityError("quantity exponent out of range")
        return number * Fraction(10) ** exponent
    return number * _MULTIPLIERS[match["suffix"] or ""]


@functools.lru_cache(maxsize=4096)  # a cluster's pods repeat a few requests ("100m", "128Mi")
def milli_value(text: str) -> int:
    """Thousandths of the quantity, rounded up: CPU "250m" -> 250, "1" -> 1000."""
    return math.ceil(parse(text) * 1000)


@functools.lru_cache(maxsize=4096)
def value(text: str) -> int:
    """The quantity rounded up to a whole unit: memory "128Mi" -> 134217728."""
    return math.ceil(parse(text))


def format_millicores(millicores: int) -> str:
    """CPU for people: whole cores when exact ("2"), millicores otherwise ("250m")."""
    return str(millicores // 1000) if millicores % 1000 == 0 else f"{millicores}m"


def format_bytes(count: int) -> str:
    """Memory for people, in the largest binary unit that divides it exactly ("128Mi", "1536Ki")."""
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        unit = int(_MULTIPLIERS[suffix])
        if count and count % unit == 0:
            return f"{count // unit}{suffix}"
    return str(count)
