import datetime as dt

import numpy as np
import pandas as pd

from models.closed_days import RETIRED_AFTER, in_business, periods_apart


def days(first: str, last: str) -> list[dt.date]:
    return list(pd.date_range(first, last).date)


def test_a_segment_is_in_business_through_silences_no_longer_than_before_or_the_floor():
    seen = [d for d in days("2026-01-01", "2026-03-31") if not (dt.date(2026, 2, 1) <= d <= dt.date(2026, 2, 20))]
    # a 20-day refit in February: longer than the 14-day floor, so silences up to 20 days count from then on
    # (during the refit only the floor applied, read from the past alone as an incremental run sees it)
    judged = [dt.date(2025, 12, 31), dt.date(2026, 1, 10), dt.date(2026, 2, 14), dt.date(2026, 2, 16),
              dt.date(2026, 4, 20), dt.date(2026, 4, 21)]
    assert list(in_business(seen, judged, "day")) == [False, True, True, False, True, False]
    assert not in_business([], [dt.date(2026, 1, 1)], "day").any()


def test_weeks_and_months_count_their_own_periods():
    mondays = list(pd.date_range("2026-01-05", periods=10, freq="7D").date)
    after = [mondays[-1] + dt.timedelta(weeks=n) for n in (RETIRED_AFTER["week"], RETIRED_AFTER["week"] + 1)]
    assert list(in_business(mondays, after, "week")) == [True, False]
    months = [dt.date(2026, m, 1) for m in range(1, 7)]
    assert list(periods_apart("month", [dt.date(2025, 12, 1)], [dt.date(2026, 3, 1)])) == [3]
    assert list(in_business(months, [dt.date(2026, 8, 1), dt.date(2026, 9, 1)], "month")) == [True, False]
    assert isinstance(in_business(months, [], "month"), np.ndarray)


def test_dbt_ranks_by_the_same_silences():
    import yaml

    from assets.settings import DBT_PROJECT_DIR

    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["retired_after"] == RETIRED_AFTER
