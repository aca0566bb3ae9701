"""Settings from the environment: defaults, and clear errors for what cannot work."""

import datetime as dt

import pytest

from assets.settings import Settings, SettingsError


def test_a_budget_that_began_after_the_demos_end_runs_to_yesterday_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("BUDGETLENS_END_DATE", raising=False)
    yesterday = dt.date.today() - dt.timedelta(days=1)
    monkeypatch.setenv("BUDGETLENS_START_DATE", (yesterday - dt.timedelta(days=20)).isoformat())
    assert Settings.from_env().history_end == yesterday
    monkeypatch.setenv("BUDGETLENS_START_DATE", "2025-03-01")  # the demo's own range stays as it is
    assert Settings.from_env().history_end == dt.date(2026, 10, 31)
    monkeypatch.setenv("BUDGETLENS_END_DATE", "2025-02-01")  # set, and before the start: an error
    with pytest.raises(SettingsError, match="BUDGETLENS_END_DATE 2025-02-01 is before BUDGETLENS_START_DATE"):
        Settings.from_env()
