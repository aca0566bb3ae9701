import math

import pytest

from models.units import points, reads_as_percent


@pytest.mark.parametrize("unit, values, expected", [
    ("ratio", (0.2, 0.35), True), ("probability", (1.5, -0.4), True), ("ratio", (0.2, 3.2), False),
    ("EUR", (0.2,), False), ("", (0.5,), False), ("ratio", (None, 0.3), True), ("ratio", (), True),
])
def test_a_rate_reads_as_percent_while_its_figures_are_shares(unit, values, expected):
    assert reads_as_percent(unit, *values) is expected


@pytest.mark.parametrize("difference, signed, text", [
    (0.155, False, "15.5 pts"), (0.155, True, "+15.5 pts"), (-0.0023, True, "-0.23 pts"),
    (0.00046, False, "0.046 pts"), (0.0, True, "+0.0 pts"), (-0.5, False, "-50.0 pts"), (math.nan, False, "nan pts"),
])
def test_points(difference, signed, text):
    assert points(difference, signed) == text
