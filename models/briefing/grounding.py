"""Grounding check: every number a writer puts in a briefing must be a number of the payload.

The LLM only weighs and words; it must not compute. So each figure in its text is
parsed (thousands separators, decimals, %, points (pp, pts), k / M / bn, currency signs, signs) and
looked up among the payload's values at the precision the text shows: "1.5M"
matches 1,523,000 (shown to the nearest 0.1M), "15.3%" matches 0.1532, "1,500"
matches 1,523 (trailing zeros read as rounding to at most two significant digits).
Signs are ignored (prose says "fell 12%" for -0.12). ISO dates must appear in the
payload verbatim; years must be years of payload dates. Small whole numbers (0 to
10, no unit) are counting words ("three segments") and always pass.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass

# a number not glued to a word (so "v3", "Q4", "ad_group_12" are names, not figures)
_NUMBER = re.compile(
    r"(?<![\w.])(?P<currency>[€$£])?\s?"
    r"(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<suffix>%|pp\b|pts\b|k\b|K\b|M\b|bn\b|B\b|million\b|billion\b|thousand\b))?"
    r"(?![\w])")
_ISO_DATE = re.compile(r"(?<![\w-])(\d{4})-(\d{2})(?:-(\d{2}))?(?![\w-])")
SCALES = {None: 1.0, "%": 0.01, "pp": 0.01, "pts": 0.01, "k": 1e3, "K": 1e3, "thousand": 1e3, "M": 1e6,
          "million": 1e6, "bn": 1e9, "B": 1e9, "billion": 1e9}
COUNTING_WORDS = 10  # whole numbers up to this, with no unit, are counts ("the 3 regions")
RELATIVE_SLACK = 1e-9  # float noise on top of the displayed precision


@dataclass(frozen=True)
class Figure:
    """One number as written: its text, its value and how precisely it is shown."""

    text: str
    value: float
    tolerance: float
    plain_integer: bool  # no unit, currency or decimals: may be a count or a year


@dataclass(frozen=True)
class GroundingReport:
    """The numbers found in a text and those the payload does not contain."""

    figures: tuple[str, ...]
    ungrounded: tuple[str, ...]

    @property
    def ratio(self) -> float:
        """Share of the text's numbers found in the payload (1.0 for a text without numbers)."""
        return 1.0 if not self.figures else 1 - len(self.ungrounded) / len(self.figures)


def parse_figures(text: str) -> tuple[list[Figure], list[str]]:
    """Numbers in ``text`` (dates excluded) and the ISO dates (``YYYY-MM-DD`` or ``YYYY-MM``) it cites."""
    dates = [m.group(0) for m in _ISO_DATE.finditer(text)]
    text = _ISO_DATE.sub(" ", text)
    figures = []
    for m in _NUMBER.finditer(text):
        digits, suffix = m.group("digits"), m.group("suffix")
        plain = digits.replace(",", "")
        scale = SCALES[suffix]
        if "." in plain:
            step = 10.0 ** -len(plain.split(".")[1])
        else:
            trailing = len(plain) - len(plain.rstrip("0")) if plain.strip("0") else 0
            # "1,500" may be 1,523 rounded; never coarser than two significant digits
            step = 10.0 ** max(0, min(trailing, len(plain.lstrip("0")) - 2))
        value = float(plain) * scale
        plain_integer = suffix is None and m.group("currency") is None and "." not in plain
        figures.append(Figure(m.group(0).strip(), value, 0.5 * step * scale, plain_integer))
    return figures, dates


def payload_values(payload) -> tuple[list[float], set[str], set[int]]:
    """Every number of a JSON-ready payload (also numbers inside its strings), its dates and their years."""
    numbers: list[float] = []
    dates: set[str] = set()

    def walk(node):
        if isinstance(node, bool) or node is None:
            return
        if isinstance(node, (int, float)):
            if math.isfinite(node):
                numbers.append(abs(float(node)))
        elif isinstance(node, str):
            figures, found = parse_figures(node)
            numbers.extend(abs(f.value) for f in figures)
            dates.update(found)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(payload)
    years = {int(d[:4]) for d in dates}
    dates |= {d[:7] for d in dates}
    return sorted(set(numbers)), dates, years


def check_grounding(text: str, payload) -> GroundingReport:
    """Which numbers of ``text`` are not values of ``payload`` at the precision shown.

    Parameters
    ----------
    text : str
        Generated prose (headline, sections, recommendations).
    payload : dict
        The JSON-ready payload the text was written from.

    Returns
    -------
    GroundingReport
        All figures found (dates included) and the ungrounded ones, in text order.
    """
    numbers, dates, years = payload_values(payload)
    figures, cited_dates = parse_figures(text)
    found, ungrounded = [], []
    for date in cited_dates:
        found.append(date)
        if date not in dates:
            ungrounded.append(date)
    for f in figures:
        found.append(f.text)
        if f.plain_integer and (f.value <= COUNTING_WORDS or int(f.value) in years):
            continue
        if not _near(numbers, abs(f.value), f.tolerance):
            ungrounded.append(f.text)
    return GroundingReport(tuple(found), tuple(ungrounded))


def _near(sorted_values: list[float], x: float, tolerance: float) -> bool:
    slack = tolerance + RELATIVE_SLACK * max(1.0, x)
    i = bisect.bisect_left(sorted_values, x - slack)
    return i < len(sorted_values) and sorted_values[i] <= x + slack
