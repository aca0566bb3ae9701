"""Public holidays in a daily or weekly forecast: each holiday's effect measured on its past dates, taken out
of the history before forecasting and put back on its dates ahead.

No model of the forecaster sees a holiday: a Christmas at a third of the usual orders is
an outlier in the history (pulling levels and widening intervals) and a surprise in the
forecast (a quarter's goal projected as if the shop were open). A holiday's effect is the
ratio (or, for a series that is not positive, the difference) of its day to the same
weekday around it: the mean of the medians of up to four weeks before and after, other
holidays left out, so a trend through the holiday is no effect (for a weekly series: of
its week to the four weeks either side).
It is kept only when it stands out from the same comparison made on every ordinary day
(robust z beyond ``MIN_Z`` for the mean of its past dates), so a holiday on which
nothing happens leaves the forecast alone.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field

import numpy as np

from models.forecasting.adjustment import Adjustment
from models.robust import robust_spread

NEIGHBOUR_WEEKS = 4   # same weekday up to four weeks either side: near enough for the season to hold
STEPS_PER_WEEK = {"day": 7, "week": 1}
MIN_NEIGHBOURS = 4
# robust z a holiday's mean effect must pass: at 3, 1.0% of holidays on white-noise counts were given an effect
# (2,000 series x 2 holidays), at 3.5 0.2%; real effects of a third or more stand far beyond either
MIN_Z = 3.5


@dataclass(frozen=True)
class HolidayAdjustment(Adjustment):
    """Effects of the holidays that have one, over a history and the horizon after it (logs when
    ``multiplicative``)."""

    effects: dict[str, float]  # holiday name -> ratio (multiplicative) or difference, of the holidays ahead
    measured: dict[str, float] = field(default_factory=dict)  # the same, of every holiday taken out of the history


def holiday_adjustment(y: np.ndarray, past: list[str | None], future: list[str | None],
                       grain: str = "day") -> HolidayAdjustment | None:
    """The effects of the holidays that a daily or weekly series' history shows: every one taken out of the
    history, those ahead put back on the horizon.

    A holiday not ahead is taken out too: a forecast from 20 May whose lags held Ascension's and Labour Day's
    empty days had every Thursday of the summer at a fifth of the usual (a service desk's three months ahead 20%
    short).

    Parameters
    ----------
    y : array of float
        History, oldest first (NaN where a period has no value).
    past, future : list of str or None
        The holiday(s) in each period of the history and of the horizon (None: an ordinary period).
    grain : {"day", "week"}

    Returns
    -------
    HolidayAdjustment or None
        None when no holiday has a measurable effect in the history.
    """
    y = np.asarray(y, float)
    if len(past) != len(y):
        raise ValueError(f"past names {len(past)} days, the history has {len(y)}")
    ahead = {name for name in future if name is not None}
    seen_names = {name for name in past if name is not None}
    if not seen_names:
        return None
    finite = y[np.isfinite(y)]
    multiplicative = bool(finite.size and np.all(finite > 0))
    values = np.log(np.where(y > 0, y, np.nan)) if multiplicative else y
    holiday = np.array([name is not None for name in past])
    deviation = values - _level_around(np.where(holiday, np.nan, values), STEPS_PER_WEEK[grain])
    ordinary = deviation[~holiday & np.isfinite(deviation)]
    if ordinary.size < 2 * MIN_NEIGHBOURS:
        return None
    centre = float(np.median(ordinary))
    scale = robust_spread(ordinary, centre)
    effects = {}
    for name in sorted(seen_names):
        seen = deviation[[i for i, n in enumerate(past) if n == name]]
        seen = seen[np.isfinite(seen)]
        if seen.size == 0:
            continue
        effect = float(seen.mean()) - centre
        # a constant series (no spread) takes any departure on a holiday as its effect
        if effect != 0 and (scale == 0 or abs(effect) / (scale / np.sqrt(seen.size)) > MIN_Z):
            effects[name] = effect
    if not effects:
        return None

    def shift(names: list[str | None]) -> np.ndarray:
        return np.array([effects.get(n, 0.0) if n is not None else 0.0 for n in names])

    return HolidayAdjustment(shift(past), shift(future), multiplicative,
                             {n: float(np.exp(e)) if multiplicative else e for n, e in effects.items() if n in ahead},
                             {n: float(np.exp(e)) if multiplicative else e for n, e in effects.items()})


def _level_around(values: np.ndarray, week: int) -> np.ndarray:
    """The level around each step from the values ``week`` steps apart up to ``NEIGHBOUR_WEEKS`` weeks either
    side (the same weekday of a daily series; the weeks around a weekly one), itself and NaN left out: the mean
    of the median before and the median after, so a trend or a ramp through a holiday (a market opening that
    spring) is not read as its effect; near the series' ends, with none on a side, the median of all.

    With fewer than ``MIN_NEIGHBOURS`` known values so near (a declared event of several weeks, road works
    still going on at the series' end, whose own days are left out), the nearest known ones up to twice as far
    are taken, so each of its days is measured against the weeks before it began; NaN if still too few."""
    n, reach = len(values), week * 2 * NEIGHBOUR_WEEKS
    padded = np.concatenate([np.full(reach, np.nan), values, np.full(reach, np.nan)])

    def side(sign: int) -> np.ndarray:
        """The NEIGHBOUR_WEEKS nearest known values on one side within twice that reach, nearest first."""
        found = np.column_stack([padded[reach + sign * week * k: reach + sign * week * k + n]
                                 for k in range(1, 2 * NEIGHBOUR_WEEKS + 1)])
        known = np.isfinite(found)
        return np.where(known & (np.cumsum(known, axis=1) <= NEIGHBOUR_WEEKS), found, np.nan)

    before, after = side(-1), side(1)
    near = np.arange(2 * NEIGHBOUR_WEEKS) < NEIGHBOUR_WEEKS  # within NEIGHBOUR_WEEKS weeks
    few = (np.isfinite(before[:, near]).sum(axis=1) + np.isfinite(after[:, near]).sum(axis=1)) < MIN_NEIGHBOURS
    before, after = (np.where(few[:, None] | near, found, np.nan) for found in (before, after))
    around = np.column_stack([before, after])
    counts = np.isfinite(around).sum(axis=1)
    with warnings.catch_warnings():  # a step with no neighbours (on a side) has a NaN median, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        median = np.nanmedian(around, axis=1)
        sides = (np.nanmedian(before, axis=1) + np.nanmedian(after, axis=1)) / 2
    both = np.isfinite(before).any(axis=1) & np.isfinite(after).any(axis=1)
    return np.where(counts >= MIN_NEIGHBOURS, np.where(both, sides, median), np.nan)


def periods_from_daily(daily: np.ndarray, days: list, periods: list, ahead: list,
                       names: dict) -> HolidayAdjustment | None:
    """A weekly or monthly series' holiday effects, measured on its daily series and weighed by the holiday's
    weekday.

    A holiday is seen once a year, so a weekly history of a year or two holds it once or twice, one week among
    weeks that vary by a tenth: a third of a Tuesday's deliveries lost (a tenth of the week) stays below the
    weekly test, while every daily comparison shows it. So a period's effect is taken from the days: the
    holiday's daily effect (:func:`holiday_adjustment`, with its test) times its weekday's share of the
    period (multiplicative: ``1 - share * (1 - ratio)``, a share of a week the weekday's share of the usual
    week), or the daily difference itself (additive). A declared event's days are taken the same way, each
    weighed by its weekday (a three-week fire in a month).

    Parameters
    ----------
    daily : array of float
        The daily series, oldest first (NaN where a day has no value).
    days : list of datetime.date
        The day of each daily value.
    periods, ahead : list of (first day, last day)
        The periods of the history and of the horizon.
    names : dict
        Day -> holiday name(s), for every holiday of the history's days and the horizon's.

    Returns
    -------
    HolidayAdjustment or None
        None when no holiday has a measurable daily effect.
    """
    daily = np.asarray(daily, float)
    future_days = [d for bounds in ahead for d in _days_of(bounds)]
    found = holiday_adjustment(daily, [names.get(d) for d in days], [names.get(d) for d in future_days], "day")
    if found is None:
        return None
    ordinary = np.array([names.get(d) is None for d in days]) & np.isfinite(daily)
    weekday = np.array([d.weekday() for d in days])
    means = np.array([daily[ordinary & (weekday == w)].mean() if (ordinary & (weekday == w)).any() else 0.0
                      for w in range(7)])
    if not np.isfinite(means).all() or means.sum() <= 0:
        return None
    share = means / means.sum()

    def shift(bounds: tuple) -> float:
        period = _days_of(bounds)
        hit = [(d, names.get(d)) for d in period if names.get(d) in found.measured]
        if not found.multiplicative:
            return float(sum(found.measured[n] for _, n in hit))
        # a week holds every weekday once (its shares add up to 1); a month its own mix of them
        usual = 1.0 if len(period) == 7 else sum(share[d.weekday()] for d in period)
        factor = 1.0 - sum(share[d.weekday()] * (1.0 - found.measured[n]) for d, n in hit) / usual
        return float(np.log(max(factor, 1e-3)))

    past, future = np.array([shift(p) for p in periods]), np.array([shift(p) for p in ahead])
    if not future.any() and not past.any():
        return None
    return HolidayAdjustment(past, future, found.multiplicative, found.effects, found.measured)


def _days_of(bounds: tuple) -> list[dt.date]:
    first, last = bounds
    return [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
