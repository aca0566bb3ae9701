"""Trading days in a monthly forecast: a month's count or sum follows how many of its days the business works.

A clinic closed on Sundays and on Thanksgiving works 24 days in November 2026 and 27 in October: at the same
pace, November holds 11% fewer visits. No model of the forecaster sees the calendar, so every month ahead
was forecast alike (14,133 visits a month where the months were to hold 13,000 to 14,600), and the history's
months varied by their calendars as if by chance. As in X-13's trading-day regression, a month's calendar is
its days weighted by the business's weekday profile (the mean of each weekday over the last year, a closed
weekday near 0, the holidays it shuts on at 0); its effect is estimated, not assumed: the slope of the
months' log changes on their calendars' log changes (with a constant for a trend; Huber's robust regression),
kept when it is significant, and taken as 1 unless it differs from 1. A bill posted once a month whatever its
days has no slope and is left alone. A history of too few months to estimate the slope takes it as 1 when its
days show a flow (events on nearly every day it opens), as X-13's length-of-month prior adjustment does: a
clinic five months old forecast every month ahead alike, a December of 25 working days as a November of 23.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats

from models.forecasting.adjustment import Adjustment

# the weekday profile's window: a year, so it is the business's week, not a season's
PROFILE_DAYS = 364
# month-to-month changes the slope needs (a year's)
MIN_CHANGES = 11
# significance the slope must reach, as the other calendar tests
ALPHA = 0.01
# a flow: values on at least this share of its open days (a weekday whose profile is at least OPEN_PROFILE)
FLOW_SHARE = 0.9
OPEN_PROFILE = 0.25
MIN_FLOW_DAYS = 56  # open days a flow is judged on (eight weeks: the weekday profile's days)


@dataclass(frozen=True)
class TradingDayAdjustment(Adjustment):
    """Each month's calendar effect (logs) over a history and the horizon after it, and the slope it was
    estimated with (1: a month's value in proportion to its weighted days); ``assumed`` when too few months
    estimate it and a flow's days stand in."""

    slope: float
    assumed: bool = False

    @property
    def label(self) -> str:
        return "trading days (slope 1, assumed: too few months)" if self.assumed else \
            f"trading days (slope {self.slope:.2f})"


def weekday_profile(daily: np.ndarray, days: list[dt.date], shut: set[dt.date]) -> np.ndarray | None:
    """Each weekday's (Monday 0) mean over the last year of a daily series, the shut holidays left out,
    relative to the week's mean; None when a weekday has no value or the week holds nothing."""
    daily = np.asarray(daily, float)
    recent = slice(max(0, len(daily) - PROFILE_DAYS), len(daily))
    values, dates = daily[recent], days[recent]
    weekday = np.array([d.weekday() for d in dates])
    usable = np.isfinite(values) & np.array([d not in shut for d in dates], dtype=bool)
    means = np.array([values[usable & (weekday == k)].mean() if (usable & (weekday == k)).any() else np.nan
                      for k in range(7)])
    if not np.all(np.isfinite(means)) or np.any(means < 0) or means.mean() <= 0:
        return None
    return means / means.mean()


def calendar_weights(profile: np.ndarray, periods: list[tuple[dt.date, dt.date]], shut: set[dt.date]) -> np.ndarray:
    """Each period's days, each weighted by its weekday's share of the profile, a shut holiday counting 0."""
    first, last = min(a for a, _ in periods), max(b for _, b in periods)
    dates = np.arange(np.datetime64(first), np.datetime64(last) + 1)
    weight = profile[(dates.astype("int64") + 3) % 7]  # 1970-01-01 was a Thursday (weekday 3)
    if shut:
        weight = np.where(np.isin(dates, np.array(sorted(shut), dtype="datetime64[D]")), 0.0, weight)
    running = np.concatenate([[0.0], np.cumsum(weight)])

    def at(day: dt.date) -> int:
        return int((np.datetime64(day) - dates[0]).astype(int))

    return np.array([running[at(b) + 1] - running[at(a)] for a, b in periods])


def trading_day_adjustment(y: np.ndarray, periods: list[tuple[dt.date, dt.date]],
                           ahead: list[tuple[dt.date, dt.date]], daily: np.ndarray, days: list[dt.date],
                           shut: set[dt.date]) -> TradingDayAdjustment | None:
    """The calendar effect of a monthly count or sum, when its history shows one.

    Parameters
    ----------
    y : array of float
        The monthly values, oldest first (NaN where a month has none).
    periods, ahead : list of (first day, last day)
        The months of the history and of the horizon.
    daily : array of float
        The same scope's daily values, oldest first, over ``days`` (consecutive).
    days : list of datetime.date
    shut : set of datetime.date
        Days past and ahead on which the business shuts (its holidays; closed weekdays show in the profile).

    Returns
    -------
    TradingDayAdjustment or None
        None when the series is not positive, the history is short, or the slope is not significant.
    """
    y = np.asarray(y, float)
    if len(y) != len(periods):
        raise ValueError(f"{len(periods)} periods for {len(y)} values")
    profile = weekday_profile(daily, days, shut)
    if profile is None:
        return None
    weights = calendar_weights(profile, periods + ahead, shut)
    if np.any(weights <= 0):
        return None
    x = np.log(weights / weights[:len(periods)].mean())
    past, future = x[:len(periods)], x[len(periods):]
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.diff(np.log(np.where(y > 0, y, np.nan)))
    # a month the days do not cover whole (the data's first, begun midway) says nothing of its calendar
    finite = np.flatnonzero(np.isfinite(np.asarray(daily, float)))
    covered = np.array([len(finite) > 0 and first >= days[finite[0]] for first, _ in periods])
    usable = np.isfinite(change) & covered[1:] & covered[:-1]
    if usable.sum() < MIN_CHANGES:
        return TradingDayAdjustment(past, future, True, 1.0, assumed=True) if _flows(
            daily, days, profile, shut) else None
    if np.ptp(np.diff(past)[usable]) == 0:
        return None
    # Huber's robust fit: a month of an odd closure (a holiday it opened on once) must not flatten the slope
    fit = sm.RLM(change[usable], sm.add_constant(np.diff(past)[usable], has_constant="add"),
                 M=sm.robust.norms.HuberT()).fit()
    slope, p = float(fit.params[1]), float(fit.pvalues[1])
    if not (slope > 0 and p < ALPHA):
        return None
    # a slope that does not differ from 1 is 1, the value of a metric in proportion to its days: two such
    # metrics' ratio (spend per customer) then takes no calendar effect from their slopes' noise
    if 2 * stats.norm.sf(abs(slope - 1.0) / float(fit.bse[1])) >= ALPHA:
        slope = 1.0
    return TradingDayAdjustment(slope * past, slope * future, True, slope)


def _flows(daily: np.ndarray, days: list[dt.date], profile: np.ndarray, shut: set[dt.date]) -> bool:
    """Whether a daily series has values on ``FLOW_SHARE`` of its open days (``MIN_FLOW_DAYS`` of them at
    least) from its first value on: a clinic's visits, not a bill posted on the 1st or a sale a week."""
    daily = np.asarray(daily, float)
    finite = np.flatnonzero(np.isfinite(daily))
    if not len(finite):
        return False
    values, dates = daily[finite[0]:], days[finite[0]:]
    open_days = np.array([profile[d.weekday()] >= OPEN_PROFILE and d not in shut for d in dates], dtype=bool)
    held = np.isfinite(values) & (values > 0)
    return int(open_days.sum()) >= MIN_FLOW_DAYS and float(held[open_days].mean()) >= FLOW_SHARE
