"""Event shocks: days that break from both the level before and the level after them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

WINDOW = 28           # days of level on each side (medians, so a shock shorter than two weeks cannot move them)
MIN_SIDE = 7          # days needed to judge one side; with fewer after a day, only the level before counts
THRESHOLD = 4.0       # robust z beyond which a deviation is a shock


@dataclass(frozen=True)
class Shock:
    """A run of consecutive shock days with its abnormal part per day (in the series' units)."""

    first: pd.Timestamp
    last: pd.Timestamp
    abnormal: pd.Series       # day -> value minus the level expected from the days before
    peak_z: float


def shock_days(z: pd.Series, profile_expected: pd.Series, y: pd.Series, candidates: pd.DatetimeIndex,
               multiplicative: bool) -> pd.DataFrame:
    """Flag shock days among ``candidates`` with a two-sided robust residual test.

    Parameters
    ----------
    z : Series
        The deseasonalised daily series (full calendar index, NaN where missing).
    profile_expected : Series
        Weekday factor of each day (1 or 0 when there is no weekly pattern).
    y : Series
        The raw daily series, same index.
    candidates : DatetimeIndex
        Days that may be flagged (the two periods being compared).
    multiplicative : bool
        Whether the weekday factor multiplies (True) or adds to the level.

    Returns
    -------
    DataFrame
        Indexed by flagged day: ``abnormal`` (raw value minus the expected
        value from the preceding level) and ``z`` (robust z-score).
    """
    before = z.shift(1).rolling(WINDOW, min_periods=MIN_SIDE).median()
    after = z[::-1].shift(1).rolling(WINDOW, min_periods=MIN_SIDE).median()[::-1]
    deviation = z - before
    usable = deviation.dropna()
    if usable.empty:
        return pd.DataFrame(columns=["abnormal", "z"])
    centre = float(usable.median())
    scale = 1.4826 * float(np.median(np.abs(usable - centre)))
    # A constant series has no spread: any departure from it at all is a shock.
    scale = scale if scale > 0 else 1e-9 * max(1.0, float(np.abs(z).max()))
    robust = (deviation - centre) / scale
    later = (z - after - centre) / scale
    flagged = (robust.abs() > THRESHOLD) & (after.isna() | ((later.abs() > THRESHOLD) & (np.sign(later) == np.sign(robust))))
    flagged = flagged[flagged.index.isin(candidates)]
    days = flagged.index[flagged.to_numpy()]
    expected = before[days] * profile_expected[days] if multiplicative else before[days] + profile_expected[days]
    return pd.DataFrame({"abnormal": y[days] - expected, "z": robust[days]}, index=days)


def group_shocks(flags: pd.DataFrame) -> list[Shock]:
    """Consecutive flagged days (at most one quiet day between) form one shock."""
    shocks, run = [], []
    for day in flags.index:
        if run and (day - run[-1]).days > 2:
            shocks.append(_shock(flags.loc[run]))
            run = []
        run.append(day)
    if run:
        shocks.append(_shock(flags.loc[run]))
    return shocks


def _shock(frame: pd.DataFrame) -> Shock:
    return Shock(frame.index[0], frame.index[-1], frame["abnormal"], float(frame["z"].abs().max()))


def match_event(shock: Shock, events: list[dict]) -> dict | None:
    """The known event whose dates touch the shock (a day of slack either side), nearest start first."""
    hits = []
    for event in events:
        start = pd.Timestamp(event["date"])
        end = pd.Timestamp(event.get("end_date") or event["date"])
        if start <= shock.last + pd.Timedelta(days=1) and end >= shock.first - pd.Timedelta(days=1):
            hits.append((abs((start - shock.first).days), event["name"], event))
    return min(hits, key=lambda h: (h[0], h[1]))[2] if hits else None
