"""How a metric's figures read: a rate's (unit ``ratio`` or ``probability``) as percentages while they are
small, so that differences of them read as percentage points."""

from __future__ import annotations

import math
import re

PERCENT_UNITS = ("ratio", "probability")
CURRENCY_SIGNS = {"EUR": "€", "USD": "$", "GBP": "£"}
# a rate beyond this is no share any more (a return on spend of 3.2 reads 3.20, not 320.0%)
PERCENT_UP_TO = 1.5


def reads_as_percent(unit: str, *values: float | None) -> bool:
    """Whether figures of ``unit`` read as percentages: a rate's, while every one of ``values`` is within
    ±``PERCENT_UP_TO``."""
    return unit in PERCENT_UNITS and all(abs(v) <= PERCENT_UP_TO for v in values if v is not None)


def points(difference: float, signed: bool = False) -> str:
    """A difference of two rates in percentage points: '2.8 pts', '-0.23 pts' (two significant digits below one
    point), '+2.8 pts' when ``signed``."""
    value = difference * 100
    digits = 1 if value == 0 or abs(value) >= 1 or math.isnan(value) else 1 - math.floor(math.log10(abs(value)))
    return f"{value:{'+' if signed else ''}.{digits}f} pts"


def with_currency(text: str, unit: str | None) -> str:
    """A figure written as ``text`` (its sign first, if any) in ``unit``'s money: '-€10.2', '+AUD 4,100'; as it
    is in any other unit."""
    sign, digits = (text[0], text[1:]) if text[:1] in ("+", "-") else ("", text)
    if unit in CURRENCY_SIGNS:
        return f"{sign}{CURRENCY_SIGNS[unit]}{digits}"
    if re.fullmatch(r"[A-Z]{3}", unit or ""):  # another ISO 4217 code (the allocation's, as specs require)
        return f"{sign}{unit} {digits}"
    return text
