"""Which grains the drift stage decomposes: the one the briefing covers, plus the configured ones."""

import datetime as dt

from assets.drift_assets import drift_grains
from models.spec import load_spec
from tests.models.test_briefing import DEMO_SPECS

SPEC = load_spec(DEMO_SPECS / "marketing_acquisition.yaml")  # reports by month
SOME_DAY = dt.date(2026, 10, 5)


def test_the_reporting_grain_and_the_configured_ones_finest_first():
    assert SPEC.reporting_grain == "month"
    assert drift_grains(SPEC, ("week",), lambda grain: SOME_DAY) == ["week", "month"]
    assert drift_grains(SPEC, (), lambda grain: SOME_DAY) == ["month"]


def test_before_a_first_complete_month_the_grain_the_briefing_falls_back_to():
    asked = []

    def latest(grain):
        asked.append(grain)
        return SOME_DAY if grain == "day" else None

    assert drift_grains(SPEC, (), latest) == ["day"]
    assert asked == ["month", "week", "day"]
    assert drift_grains(SPEC, (), lambda grain: None) == ["month"]  # nothing complete: nothing to fall back to
