"""Segment archetypes: reward/risk profiles, the quadrant rule, and checks on an LLM's classification."""

import pandas as pd
import pytest

from assets.settings import DEMO_SPECS
from models.actions import with_quiet_segments
from models.archetypes import (ARCHETYPES, archetype_grain, archetype_tool, check_assignments, profile_segments,
                               quadrant_archetypes)
from models.spec import load_spec


def values(series: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"segment_id": s, "period_start": pd.Timestamp("2026-01-01") + pd.DateOffset(months=i), "value": v}
                         for s, vs in series.items() for i, v in enumerate(vs)])


def test_profile_and_quadrants_with_known_numbers():
    profile = profile_segments(values({
        "steady_big": [100, 100, 100, 100, 100], "wild_big": [100, 150, 75, 150, 25],
        "steady_small": [10, 10, 10, 10, 10.5], "wild_small": [10, 20, 10, 20, 10], "short": [1, 2]}), window=12)
    assert list(profile["segment_id"]) == ["steady_big", "steady_small", "wild_big", "wild_small"]  # short: too few
    wild = profile.set_index("segment_id").loc["wild_big"]
    assert wild["reward"] == pytest.approx(100) and wild["risk"] == pytest.approx(pd.Series([0.5, -0.5, 1.0, -5 / 6]).std())
    labels = quadrant_archetypes(profile, "up").set_index("segment_id")["archetype"]
    assert labels.to_dict() == {"steady_big": "low-risk/high-reward", "wild_big": "high-risk/high-reward",
                                "steady_small": "low-risk/low-reward", "wild_small": "high-risk/low-reward"}
    flipped = quadrant_archetypes(profile, "down").set_index("segment_id")["archetype"]
    assert flipped["steady_small"] == "low-risk/high-reward"  # lower is better for a cost


def test_window_uses_the_latest_periods():
    profile = profile_segments(values({"a": [1000, 1, 2, 3, 4, 5]}), window=4)
    assert profile["reward"].iloc[0] == pytest.approx(3.5) and profile["periods"].iloc[0] == 4


def test_a_segment_that_stopped_reporting_is_not_judged_on_its_old_periods():
    profile = profile_segments(values({"live": [10, 12, 11, 13, 12, 14, 13, 15], "gone": [50, 60, 40, 55, 45]}),
                               window=4)
    assert list(profile["segment_id"]) == ["live"]  # gone has one period among the latest four


def test_a_count_s_periods_without_events_are_zeros_of_the_segment_not_gaps():
    # a depot closed after month 4 of 8 has no rows since: its first two months without are 0 deliveries, not
    # missing, so its reward is those 6 months' mean (not its 4 open months'), and its fall to nothing is a risk;
    # after two silent months it has left (models.closed_days.in_business); one opened in month 7 is judged on
    # its own months only
    frame = values({"open": [100, 110, 100, 110, 100, 110, 100, 110], "closed": [100, 104, 98, 102]})
    frame = pd.concat([frame, values({"new": [0] * 6 + [50, 55]}).query("value > 0")])
    rows = frame.assign(grain="month", segment_level="depot", is_complete=True)
    spec = load_spec(DEMO_SPECS / "marketing_acquisition.yaml")  # new_customers: a count
    filled = with_quiet_segments(spec, rows.assign(metric_id="new_customers"), frame["period_start"].min())
    counted = profile_segments(filled, window=8).set_index("segment_id")
    assert counted.loc["closed", "reward"] == pytest.approx(404 / 6) and counted.loc["closed", "periods"] == 6
    assert counted.loc["closed", "risk"] > counted.loc["open", "risk"]
    assert "new" not in counted.index  # two weeks since it opened: too few to judge
    # a mean has no value without events: the same rows are gaps, and the closed depot its four weeks
    unfilled = with_quiet_segments(spec, rows.assign(metric_id="avg_price"), frame["period_start"].min())
    measured = profile_segments(unfilled, window=8).set_index("segment_id")
    assert measured.loc["closed", "reward"] == pytest.approx(101) and measured.loc["closed", "periods"] == 4


def test_llm_classifications_are_checked():
    tool = archetype_tool()
    assert tool["input_schema"]["properties"]["assignments"]["items"]["properties"]["archetype"]["enum"] == list(ARCHETYPES)
    good = {"assignments": [{"segment_id": "a", "archetype": ARCHETYPES[0], "rationale": "r"},
                            {"segment_id": "b", "archetype": ARCHETYPES[3], "rationale": "r"}]}
    assert check_assignments(good, ["a", "b"])["b"] == (ARCHETYPES[3], "r")
    with pytest.raises(ValueError, match="missing segments: c"):
        check_assignments(good, ["a", "b", "c"])
    with pytest.raises(ValueError, match="unknown archetype 'unicorn'"):
        check_assignments({"assignments": [{"segment_id": "a", "archetype": "unicorn", "rationale": "r"}]}, ["a"])
    with pytest.raises(ValueError, match="classified twice"):
        check_assignments({"assignments": good["assignments"] + good["assignments"][:1]}, ["a", "b"])
    with pytest.raises(ValueError, match="malformed"):
        check_assignments({"assignments": "all high"}, ["a"])


def test_a_young_monthly_budget_is_profiled_by_week_until_it_has_four_months():
    assert archetype_grain({"month": 4, "week": 17, "day": 120}, "month") == "month"
    assert archetype_grain({"month": 3, "week": 13, "day": 95}, "month") == "week"
    # never by day: daily changes mostly measure the weekday cycle
    assert archetype_grain({"month": 0, "week": 3, "day": 25}, "month") is None
    assert archetype_grain({"week": 3, "day": 25}, "week") is None
    assert archetype_grain({"week": 4, "day": 30}, "day") == "week" and archetype_grain({"day": 25}, "day") is None
