"""The allocation's periods (calendar and fiscal), the metric spent against it, and their tracking as goals."""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.budget_periods import allocation_goals, period_bounds, period_label
from models.goals import track_goals
from models.projections import SeriesForecast, horizon_for
from models.spec import Allocation, SpecError, load_spec, parse_spec

SPECS = Path(__file__).resolve().parents[2] / "models" / "demo" / "specs"
MARKETING = load_spec(SPECS / "marketing_acquisition.yaml")


@pytest.mark.parametrize("period, first_month, day, bounds, label", [
    ("year", 1, dt.date(2026, 11, 24), (dt.date(2026, 1, 1), dt.date(2026, 12, 31)), "2026"),
    ("quarter", 1, dt.date(2026, 11, 24), (dt.date(2026, 10, 1), dt.date(2026, 12, 31)), "2026 Q4"),
    ("month", 4, dt.date(2027, 2, 28), (dt.date(2027, 2, 1), dt.date(2027, 2, 28)), "2027-02"),
    # a year from April: February 2027 lies in the year 2026/27, in its fourth quarter (January to March)
    ("year", 4, dt.date(2027, 2, 10), (dt.date(2026, 4, 1), dt.date(2027, 3, 31)), "FY2026/27"),
    ("quarter", 4, dt.date(2027, 2, 10), (dt.date(2027, 1, 1), dt.date(2027, 3, 31)), "FY2026/27 Q4"),
    ("quarter", 4, dt.date(2026, 4, 1), (dt.date(2026, 4, 1), dt.date(2026, 6, 30)), "FY2026/27 Q1"),
    # a year from October (the US federal year): November 2026 opens FY2026/27's first quarter
    ("quarter", 10, dt.date(2026, 11, 24), (dt.date(2026, 10, 1), dt.date(2026, 12, 31)), "FY2026/27 Q1"),
    ("quarter", 10, dt.date(2026, 9, 30), (dt.date(2026, 7, 1), dt.date(2026, 9, 30)), "FY2025/26 Q4"),
    # quarters from a month not a calendar quarter's first: February to April
    ("quarter", 2, dt.date(2027, 1, 15), (dt.date(2026, 11, 1), dt.date(2027, 1, 31)), "FY2026/27 Q4"),
    ("year", 2, dt.date(2027, 1, 15), (dt.date(2026, 2, 1), dt.date(2027, 1, 31)), "FY2026/27"),
])
def test_period_bounds_and_labels_follow_the_fiscal_year(period, first_month, day, bounds, label):
    allocation = Allocation(amount=1.0, currency="EUR", period=period, fiscal_year_start=first_month)
    assert period_bounds(allocation, day) == bounds
    assert period_label(allocation, bounds[0]) == label


def test_every_day_of_a_year_lies_in_exactly_one_period():
    for first_month in range(1, 13):
        for period in ("month", "quarter", "year"):
            allocation = Allocation(amount=1.0, currency="EUR", period=period, fiscal_year_start=first_month)
            day, seen = dt.date(2025, 1, 1), []
            while day <= dt.date(2027, 12, 31):
                start, end = period_bounds(allocation, day)
                assert start <= day <= end
                seen.append(start)
                day = end + dt.timedelta(days=1)
            lengths = {"month": 1, "quarter": 3, "year": 12}[period]
            assert all((b.year - a.year) * 12 + b.month - a.month == lengths for a, b in zip(seen, seen[1:]))


def _with_allocation(spec, **changes):
    data = spec.model_dump(by_alias=True, mode="json")
    data["allocation"] = {**data["allocation"], **changes}
    return data


def test_the_spent_metric_is_the_named_one_or_the_one_summed_metric_in_the_currency():
    assert MARKETING.allocation_metric == "spend"  # the one base sum metric in EUR (avg_price is a mean)
    usd = parse_spec(_with_allocation(MARKETING, currency="USD"), "m.yaml")
    assert usd.allocation_metric is None
    named = parse_spec(_with_allocation(MARKETING, metric="units"), "m.yaml")
    assert named.allocation_metric == "units"
    # a revenue in the currency beside the spend: spending is the one not favourable up
    data = MARKETING.model_dump(by_alias=True, mode="json")
    data["metrics"]["sales"] = {"measure": "unit_price", "agg": "sum", "step": data["metrics"]["spend"]["step"]}
    assert parse_spec(data, "m.yaml").allocation_metric == "spend"
    data["metrics"]["spend"]["favourable"] = "up"  # two alike: neither reads as the spending
    assert parse_spec(data, "m.yaml").allocation_metric is None
    # a revenue alone in the currency is no spending either (a hotel's room revenue)
    data["metrics"]["spend"]["unit"] = "hours"
    assert parse_spec(data, "m.yaml").allocation_metric is None


def test_the_spent_metric_may_be_a_formula_adding_counts_and_sums():
    """Wages and bonuses posted as two measures are one spending: so is a formula of a formula of them."""
    data = _with_allocation(MARKETING, metric="outlay")
    step = data["metrics"]["spend"]["step"]
    data["metrics"]["doubled"] = {"formula": "2 * spend", "step": step}
    data["metrics"]["outlay"] = {"formula": "doubled + units / 2", "step": step}
    spec = parse_spec(data, "m.yaml")
    assert spec.allocation_metric == "outlay"
    (goal,) = allocation_goals(spec, dt.date(2026, 11, 3))
    assert (goal.metric, goal.aggregation, goal.direction) == ("outlay", "total", "at_most")


@pytest.mark.parametrize("change, key, message", [
    ({"metric": "spned"}, "allocation.metric", "unknown metric 'spned' (did you mean 'spend'?)"),
    ({"metric": "avg_price"}, "allocation.metric", "'avg_price' must be a count or sum, or a formula adding"),
    ({"metric": "margin"}, "allocation.metric", "'margin' must be a count or sum, or a formula adding"),
    ({"fiscal_year_start": 13}, "allocation.fiscal_year_start", "less than or equal to 12"),
])
def test_a_bad_allocation_is_named_by_its_key(change, key, message):
    data = _with_allocation(MARKETING, **change)
    data["metrics"]["margin"] = {"formula": "units - spend", "step": data["metrics"]["spend"]["step"]}
    with pytest.raises(SpecError) as err:
        parse_spec(data, "m.yaml")
    assert any(p[1] == key and message in p[2] for p in err.value.problems), err.value.problems


def test_a_declared_goal_may_not_take_an_allocation_periods_id():
    data = MARKETING.model_dump(by_alias=True, mode="json")
    data["goals"][0]["id"] = "allocation_2026"
    with pytest.raises(SpecError) as err:
        parse_spec(data, "m.yaml")
    assert any(p[1] == "goals.0.id" and "are the allocation's periods" in p[2] for p in err.value.problems)


def test_the_period_before_is_tracked_only_while_the_first_report_of_the_new_one_is_under_way():
    monthly = parse_spec(_with_allocation(MARKETING, period="quarter"), "m.yaml")  # reports monthly
    ids = lambda day: [g.id for g in allocation_goals(monthly, day)]  # noqa: E731
    assert ids(dt.date(2026, 10, 3)) == ["allocation_2026_q3", "allocation_2026_q4"]
    assert ids(dt.date(2026, 11, 3)) == ["allocation_2026_q4"]
    assert ids(dt.date(2026, 12, 31)) == ["allocation_2026_q4"]  # the quarter is over: it is its own report
    (goal,) = allocation_goals(monthly, dt.date(2026, 11, 3))
    assert (goal.start, goal.deadline, goal.target, goal.metric, goal.direction) == (
        dt.date(2026, 10, 1), dt.date(2026, 12, 31), 4_000_000, "spend", "at_most")
    assert horizon_for(monthly, "day", dt.date(2026, 11, 3)) == 58  # to the quarter's end


def _certain(metric, value, starts):
    mean = np.full(len(starts), float(value))
    return SeriesForecast(metric, "test", 100, starts, mean, mean, mean, mean, mean, np.tile(mean, (10, 1)))


@pytest.mark.parametrize("daily_spend, status, probability", [(30_000.0, "on_track", 1.0), (50_000.0, "infeasible", 0.0)])
def test_an_allocation_is_a_ceiling_on_the_period_even_for_a_metric_favourable_up(daily_spend, status, probability):
    # marketing's spend is favourable neutral: a declared goal on it is a target to reach, the allocation a ceiling
    spec = parse_spec(_with_allocation(MARKETING, period="quarter", amount=3_000_000), "m.yaml")
    spec = spec.model_copy(update={"goals": []})
    today = dt.date(2026, 11, 30)
    days = pd.date_range("2026-10-01", today).date
    history = pd.DataFrame({"metric_id": "spend", "period_start": days, "value": daily_spend})
    starts = [today + dt.timedelta(d) for d in range(1, 32)]
    report = track_goals(spec, history, {"spend": _certain("spend", daily_spend, starts)}, today)
    (row,) = report.tracking
    assert (row["goal_id"], row["kind"], row["direction"]) == ("allocation_2026_q4", "allocation", "at_most")
    assert row["observed_to_date"] == 61 * daily_spend and row["projected"] == 92 * daily_spend
    assert row["probability"] == probability and row["status"] == status
    # the allowance per day left: (3,000,000 - spent) / 31
    assert row["required_daily_rate"] == pytest.approx((3_000_000 - 61 * daily_spend) / 31)
