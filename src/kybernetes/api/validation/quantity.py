"""Resource quantities (``k8s.io/apimachinery/pkg/api/resource``), just enough for validation.

``parse`` turns ``"500m"``/``"1Gi"``/``"1e3"`` into an exact ``Fraction`` (rounded up to nano units, as
upstream), raising ``ValueError`` with upstream's message; ``canonical`` renders the value the way
``Quantity.String()`` does (``"0.5"`` -> ``"500m"``, ``"1024Mi"`` -> ``"1Gi"``), which is what upstream
prints in validation messages.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

FORMAT_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_RE = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_BY_EXP = {v: k for k, v in _DECIMAL.items()}
_BINARY_BY_EXP = {v: k for k, v in _BINARY.items()}


def _split(text: str) -> tuple[Fraction, str]:
    m = _RE.match(text.strip())
    if not m or not text:
        raise ValueError(FORMAT_ERROR)
    num, suffix = m.group(1), m.group(2)
    try:
        value = Fraction(num)
    except ValueError:
        raise ValueError("unable to parse quantity's numeric part") from None
    if num.count(".") > 1:
        raise ValueError("unable to parse quantity's numeric part")
    if suffix in _BINARY:
        return value * (2 ** _BINARY[suffix]), "BinarySI"
    if suffix in _DECIMAL:
        return value * Fraction(10) ** _DECIMAL[suffix], "DecimalSI"
    if suffix[:1] in ("e", "E"):
        try:
            exp = int(suffix[1:])
        except ValueError:
            raise ValueError("unable to parse quantity's suffix") from None
        return value * Fraction(10) ** exp, "DecimalExponent"
    raise ValueError("unable to parse quantity's suffix")


def _ceil_nano(value: Fraction) -> Fraction:
    return Fraction(math.ceil(value * 10**9), 10**9)


def parse(value: str | int | float | None) -> Fraction:
    """The exact value of a quantity; ``ValueError`` with upstream's message if malformed.

    JSON ``null`` is the zero quantity, as ``Quantity.UnmarshalJSON`` decodes it."""
    if value is None:
        return Fraction(0)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(FORMAT_ERROR)
    if isinstance(value, int | float):
        return _ceil_nano(Fraction(value))
    return _ceil_nano(_split(value)[0])


def is_valid(value: object) -> bool:
    try:
        parse(value)  # type: ignore[arg-type]  # any JSON value may arrive here; a non-quantity raises TypeError
    except (ValueError, TypeError):
        return False
    return True


def canonical(value: str | int | float | None) -> str:
    """``Quantity.String()`` of a quantity given on the wire."""
    if value is None:
        return "0"
    if isinstance(value, int | float) and not isinstance(value, bool):
        amount, fmt = _ceil_nano(Fraction(value)), "DecimalSI"
    else:
        raw, fmt = _split(str(value))
        amount = _ceil_nano(raw)
    if amount == 0:
        return "0"
    sign = "-" if amount < 0 else ""
    mag = abs(amount)
    if fmt == "BinarySI":
        if mag < 1024 or mag.denominator != 1:
            fmt = "DecimalSI"
        else:
            n, exp = int(mag), 0
            while n % 1024 == 0 and exp < 60:
                n //= 1024
                exp += 10
            return f"{sign}{n}{_BINARY_BY_EXP.get(exp, '')}"
    # decimal: mantissa * 10**exp, exp a multiple of 3, as large as possible while exact.
    exp = -9
    n = int(mag * 10**9)
    while n % 1000 == 0 and exp < 18:
        n //= 1000
        exp += 3
    if fmt == "DecimalExponent":
        return f"{sign}{n}" + (f"e{exp}" if exp else "")
    return f"{sign}{n}{_DECIMAL_BY_EXP[exp]}"
