import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from models.months_to_date import months_to_date
from models.projections import SeriesForecast

TODAY = dt.date(2026, 11, 22)
MONTHS = [dt.date(2026, 11, 1), dt.date(2026, 12, 1), dt.date(2027, 1, 1)]
REST = [TODAY + dt.timedelta(days=d) for d in range(1, 41)]  # Nov 23 .. Jan 1


def forecast(starts, paths, history_points=24):
    paths = np.asarray(paths, float)
    mean = paths.mean(axis=0)
    return SeriesForecast("cost", "damped_ets", history_points, starts, mean, mean, mean, mean, mean, paths)


def test_the_month_in_progress_is_its_days_and_the_later_months_are_scaled_by_it():
    """A cost forecast at 300 for November from October has run at 20 a day for 22 days (440) and is forecast at
    20 or 40 a day for the other 8 (two paths): November is 600 or 760, and each later month takes the same
    ratio of its own forecast, path by path."""
    observed = pd.DataFrame({"period_start": [MONTHS[0] + dt.timedelta(days=d) for d in range(22)], "value": 20.0})
    daily = forecast(REST, [np.full(40, 20.0), np.full(40, 40.0)])
    monthly = forecast(MONTHS, [[300.0, 310.0, 320.0], [300.0, 330.0, 320.0]])
    rows = months_to_date(monthly, daily, observed, TODAY)
    assert [r["period_start"] for r in rows] == MONTHS
    november, december = rows[0], rows[1]
    assert november["observed_to_date"] == 440.0
    assert november["value"] == pytest.approx(680.0) and november["scale"] == pytest.approx(680 / 300)
    assert (november["lo95"], november["hi95"]) == pytest.approx((600 + 0.025 * 160, 760 - 0.025 * 160))
    # December: 310 x 2.0 on the first path, 330 x 2.533 on the second; its mean is the mean's ratio
    assert december["observed_to_date"] is None
    assert december["value"] == pytest.approx(320 * 680 / 300)
    assert december["hi95"] == pytest.approx(620 + 0.975 * (330 * 760 / 300 - 620))


def test_months_after_it_need_a_year_of_months_and_a_complete_month_needs_nothing():
    observed = pd.DataFrame({"period_start": [MONTHS[0] + dt.timedelta(days=d) for d in range(22)], "value": 20.0})
    daily = forecast(REST, [np.full(40, 20.0)])
    monthly = forecast(MONTHS, [[300.0, 310.0, 320.0]])
    young = dataclasses.replace(monthly, history_points=11)
    assert [r["period_start"] for r in months_to_date(young, daily, observed, TODAY)] == MONTHS[:1]
    # the last day of a month: the monthly forecast starts after it, nothing is in progress
    assert months_to_date(forecast(MONTHS[1:], [[310.0, 320.0]]), daily, observed, dt.date(2026, 11, 30)) == []
