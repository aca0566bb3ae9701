"""Shocks found in a forecast's daily history (models/forecasting/shocks.py), and left out of what forecasts see."""

import datetime as dt

import numpy as np
import pandas as pd

from models.forecasting.shocks import MAX_DAYS, past_shocks
from models.projections import forecast_scope
from models.spec import parse_spec
from tests.models.daily_histories import DAYS, expected_daily, ordinary_means


def test_a_few_days_at_half_the_level_are_found_to_the_day():
    """Two to seven days at 40-60% of a seasonal count of 200 or 2,000 a day, anywhere but the last weeks."""
    rng = np.random.default_rng(7)
    for _ in range(20):
        y = expected_daily(float(rng.choice([200, 2000])))
        first, length = int(rng.integers(60, 650)), int(rng.integers(2, 8))
        y[first:first + length] *= rng.uniform(0.4, 0.6)
        found = past_shocks(rng.poisson(y).astype(float), DAYS)
        assert found == DAYS[first:first + length], (DAYS[first], length, found)


def test_a_spike_and_a_dip_of_a_series_that_is_not_positive_are_found():
    """A margin that goes below zero: read on its differences, a day at +15 and two at -15 where the noise is 2."""
    rng = np.random.default_rng(3)
    y = rng.normal(0, 2, len(DAYS)) + 3 * np.sin(np.arange(len(DAYS)) * 2 * np.pi / 365)
    y[200] += 15
    y[500:502] -= 15
    assert past_shocks(y, DAYS) == [DAYS[200], DAYS[500], DAYS[501]]


def test_histories_without_a_shock_seldom_have_one():
    """Two years of counts from 5 to 20,000 a day, with or without a yearly cycle, a trend, and a level that
    wanders (an AR(1) of the logarithm). Of 1,500 such series 14 had a day taken for a shock, one of them two (a
    day of 12 where 30 were due: a Poisson count's tail); here at most 3 of 150, none with more than one day."""
    rng = np.random.default_rng(2026)
    found = []
    for k, level, phi, mean in ordinary_means(rng, 150):
        days = past_shocks(rng.poisson(mean).astype(float), DAYS)
        assert len(days) <= 1, (k, level, phi, days)
        found += days
    assert len(found) <= 3, found


def test_a_closed_christmas_every_year_is_the_calendar_not_a_shock():
    """Christmas Day at a fifth of the usual in both years stays in the history (forecasts keep the season);
    in one year only, it is a shock."""
    christmas = np.array([(d.month, d.day) == (12, 25) for d in DAYS])
    rng = np.random.default_rng(5)
    assert past_shocks(rng.poisson(expected_daily(400) * np.where(christmas, 0.2, 1.0)).astype(float), DAYS) == []
    once = christmas & (np.array([d.year for d in DAYS]) == 2025)
    assert past_shocks(rng.poisson(expected_daily(400) * np.where(once, 0.2, 1.0)).astype(float), DAYS) == [
        dt.date(2025, 12, 25)]


def test_a_new_level_a_dip_not_over_and_an_episode_are_no_shocks():
    """A price raised on 1 June that holds, a dip in the history's last five days (it may be a new level's
    first), three weeks at half (the episode test's): none is a shock."""
    rng = np.random.default_rng(11)
    day = np.array(DAYS)
    for factor in (np.where(day >= dt.date(2025, 6, 1), 1.3, 1.0),
                   np.where(day >= dt.date(2026, 10, 27), 0.5, 1.0),
                   np.where((day >= dt.date(2025, 11, 3)) & (day <= dt.date(2025, 11, 3) + dt.timedelta(MAX_DAYS + 7)),
                            0.5, 1.0)):
        assert past_shocks(rng.poisson(expected_daily(400) * factor).astype(float), DAYS) == []


def test_a_shop_closed_on_sundays_has_its_shock_found_on_open_days():
    """Sundays at 0 every week are the shop's hours, left out; three weekdays at 40% are the shock."""
    sunday = np.array([d.weekday() == 6 for d in DAYS])
    y = expected_daily(300) * np.where(sunday, 0.0, 1.0)
    y[400:403] *= 0.4
    found = past_shocks(np.random.default_rng(4).poisson(y).astype(float), DAYS)
    assert found == [d for d in DAYS[400:403] if d.weekday() != 6]


def test_a_short_history_or_a_constant_one_has_none():
    assert past_shocks(np.full(60, 5.0), DAYS[:60]) == []
    assert past_shocks(np.full(400, 5.0), DAYS[:400]) == []


def _store():
    return parse_spec({
        "id": "store", "name": "Cold store", "owner": "tests", "reporting_grain": "month",
        "allocation": {"amount": 1e6, "currency": "EUR", "period": "year"}, "value_chain": ["use"],
        "segments": {"levels": ["site"]}, "measures": {"kwh": {"min": 0}},
        "metrics": {"kwh": {"measure": "kwh", "agg": "sum", "step": "use", "roles": ["north_star"]}},
        "source": {"kind": "demo", "scenario": "planted_shop"}})


def test_forecasts_leave_a_shock_out_and_come_out_as_from_a_history_without_it():
    """A cold store's daily energy (weekday pattern, 4% noise) with two to seven days at 25-50% less, undeclared.
    Seen by the models, over 60 histories the next 60 days' total came out 1.3% low (median; 1.7% off in
    absolute median) and its 95% interval 7.9% of it wide; left out, 0.5% low, 1.0% off and 6.1% wide, as from
    the same histories without the dip (0.5%, 0.9%, 6.2%). Here over 12: the method says so, and the total
    comes within 1% of the one forecast without the dip, its interval within a tenth as wide."""
    spec, horizon = _store(), 60
    weekday = np.array([1.1, 1.05, 1.0, 1.0, 1.05, 0.9, 0.9])
    for seed in range(12):
        rng = np.random.default_rng(seed)
        n, length, depth = int(rng.integers(150, 400)), int(rng.integers(2, 8)), rng.uniform(0.25, 0.5)
        days = [dt.date(2026, 11, 1) - dt.timedelta(n - k) for k in range(n)]
        y = np.array([500 * weekday[d.weekday()] for d in days]) * np.exp(rng.normal(0, 0.04, n))
        first = n - int(rng.integers(10, 100))
        dipped = y.copy()
        dipped[first:first + length] *= 1 - depth
        totals = {}
        for label, values in (("clean", y), ("dipped", dipped)):
            history = pd.DataFrame({"metric_id": "kwh", "period_start": days, "value": values})
            f = forecast_scope(spec, "day", history, horizon, ("_total", "_total"))["kwh"]
            totals[label] = (f.mean.sum(), *np.quantile(f.paths.sum(axis=1), [0.025, 0.975]))
            if label == "dipped":
                assert f.method.endswith("+ past shocks left out"), f.method
        (clean, lo0, hi0), (dip, lo1, hi1) = totals["clean"], totals["dipped"]
        assert abs(dip / clean - 1) < 0.01, (seed, dip, clean)
        assert abs((hi1 - lo1) / (hi0 - lo0) - 1) < 0.1, (seed, hi1 - lo1, hi0 - lo0)
