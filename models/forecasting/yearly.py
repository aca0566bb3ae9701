"""A daily series' yearly cycle: taken out before forecasting, put back after.

A budget's daily series often hold one or two years: too few for a seasonal model
with a period of 365 (three cycles for the seasonality test, more for a direct
autoregression on a year of lags), yet a season of volumes is then plain to see and
a forecast to a goal's deadline months ahead crosses it. The cycle is the drift
engine's (:func:`models.yearly_cycle.fit_yearly_cycle`): two yearly harmonics (up to
ten for a sharp season, by BIC) beside a level and a linear trend, AR(1) errors, kept
only when a Wald test finds it at 1% and it forecasts held-out days better than no
cycle. The trend stays in the series for the forecaster to judge.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import statsmodels.api as sm
from scipy import stats

from models.forecasting.adjustment import Adjustment
from models.yearly_cycle import YEAR_DAYS, YEARLY_FIT_DAYS, YEARLY_HARMONICS, YearlyCycle, fit_yearly_cycle


class YearlyAdjustment(Adjustment):
    """A fitted yearly cycle over a history and the horizon after it (logs when ``multiplicative``)."""


# The cycle has to earn its place: fitted without the last VALIDATION_DAYS (at most: a year must remain before
# them), it must forecast those days better than no cycle does, with at least MIN_VALIDATION_DAYS to judge by;
# and, where the history holds a year before them, the VALIDATION_DAYS before those as well, and so on for up to
# CHECK_FOLDS spans: better in all of them together. The last 90 days alone often hold no season (a shop's
# August to November), where a cycle can only lose by chance: a fundraiser's December, twice as many gifts, was
# left out for 0.226 against 0.222 in its last 90 days' errors.
# The last span still rules a cycle out when the cycle forecasts it clearly worse (by MATERIAL_LOSS of the plain
# forecast's errors, at WORSE_T): a desk's tickets, doubled in March, had a cycle fitted to the step that lost
# 49% in the last 90 days (t 5.5) and won in the 90 before, where both forecasts carried the step's trend on.
# A sharp season's harmonics ripple a little where the season is flat: a quiet shop's August to November lost
# 5-20% (t up to 3.7) to the December they are for.
VALIDATION_DAYS = 90
MIN_VALIDATION_DAYS = 28
CHECK_FOLDS = 4
WORSE_T = float(stats.norm.ppf(0.95))
MATERIAL_LOSS = 0.25
# Errors this persistent (AR(1) coefficient around the fit) cannot tell a season from a wander over a year or
# two: a random walk's 420 days were given a cycle 74 times in 200 without this bound, once with it. Weather
# lasts, though: a temperature's anomalies run at ~0.8 a day, and at a bound of 0.8 its plain yearly wave was
# left out of 184 forecasts in 200 (730 days). Measured with ``budgetlens bench intervals --history 420,730
# --horizon 90 --series 200``, bound 0.8 -> 0.85 -> 0.9: yearly_weather (730 days) MASE 1.96 -> 1.45 -> 1.30,
# the total's interval score 1959 -> 1546 -> 1384; random_walk (420 days) 2.79 -> 2.79 -> 2.81, 4063 -> 4063 ->
# 4594 (15 walks in 200 given a cycle at 0.9); no other kind moves. 0.85 costs the walks nothing.
MAX_ERROR_RHO = 0.85
# A season's shape may be sharp (a shop's December): up to this many harmonics, chosen by BIC
# (:func:`fit_yearly_cycle`), as Prophet's default for a yearly season, once the history holds SHARP_DAYS: over
# a year and a bit, more harmonics fit the one year's wander (a random walk's 420 days were given a cycle 10 times
# in 300 with up to 10, once with 2).
MAX_HARMONICS = 10
SHARP_DAYS = 548
LEVEL_DAYS = 28  # the plain forecast the check compares: the mean of the last four weeks before the held-out days


def yearly_adjustment(y: np.ndarray, horizon: int, signed: bool = False) -> YearlyAdjustment | None:
    """The yearly cycle of a daily series, when it has one.

    A cycle must pass the Wald test of :func:`fit_yearly_cycle` and a check out of
    sample (:func:`_held_out_errors`): over one or two years a random walk's wander
    or a trend's curve is often fitted by a wave the test finds, and extrapolating such
    a wave makes the forecast worse (``budgetlens bench intervals``).

    Parameters
    ----------
    y : array of float
        Daily history, oldest first, all finite.
    horizon : int
        Days to forecast after it.
    signed : bool
        The series may go below zero whatever its history shows: seasonal by difference.

    Returns
    -------
    YearlyAdjustment or None
        None when the history is too short (a year plus ``MIN_VALIDATION_DAYS``), or the
        test or the check finds no cycle. A positive series is taken to be seasonal by
        ratio (the cycle fitted on its logs), any other by difference.
    """
    found = _validated_cycle(y, signed)
    if found is None:
        return None
    cycle, multiplicative = found
    n = len(y)
    return YearlyAdjustment(cycle.at(np.arange(n, dtype=float)), cycle.at(np.arange(n, n + horizon, dtype=float)),
                            multiplicative)


def period_cycle(daily: np.ndarray, days: list[dt.date], periods: list[tuple[dt.date, dt.date]],
                 ahead: list[tuple[dt.date, dt.date]], summed: bool, signed: bool = False,
                 by_length: bool = True) -> YearlyAdjustment | None:
    """A weekly or monthly series' yearly cycle, measured on its daily series.

    Two years hold two cycles of 12 months or 52 weeks: the seasonality test asks for three, so weekly and
    monthly forecasts of a heating bill came out flat into the winter (every month forecast at October's
    level). The days hold the same season over 700 points, where :func:`yearly_adjustment` finds and checks
    it; a period takes the mean of the cycle over its days (by ratio: of its factors), and a sum or count also
    its number of days against the history's average period (February's 28 days against 30.4).

    Parameters
    ----------
    daily : array of float
        The daily series, oldest first (NaN where a day has no value; leading ones are dropped, inner ones
        interpolated).
    days : list of datetime.date
        The day of each daily value.
    periods, ahead : list of (first day, last day)
        The periods of the weekly or monthly history, and of the horizon.
    summed : bool
        Whether a period's value is the sum of its days' (a count or sum), not a level (a mean, min or max).
    signed : bool
        The series may go below zero whatever its history shows: seasonal by difference.
    by_length : bool
        Whether a sum's period takes its number of days; False when a trading-day adjustment weighs them
        (:mod:`models.forecasting.trading_days`), as if every period had the history's average length.

    Returns
    -------
    YearlyAdjustment or None
        None when the daily series has no yearly cycle (see :func:`yearly_adjustment`).
    """
    daily = np.asarray(daily, float)
    finite = np.flatnonzero(np.isfinite(daily))
    if len(finite) == 0 or np.isinf(daily).any():
        return None
    y = daily[finite[0]:]
    index = np.arange(len(y))
    y = np.interp(index, index[np.isfinite(y)], y[np.isfinite(y)])
    found = _validated_cycle(y, signed)
    if found is None:
        return None
    cycle, multiplicative = found
    origin = days[finite[0]]
    usual_length = np.mean([(last - first).days + 1 for first, last in periods])

    def effect(first: dt.date, last: dt.date) -> float:
        t = np.arange((first - origin).days, (last - origin).days + 1, dtype=float)
        c = cycle.at(t)
        length = len(t) if by_length else usual_length
        if multiplicative:
            return float(np.log(np.mean(np.exp(c)) * (length / usual_length if summed else 1.0)))
        if not summed:
            return float(np.mean(c))
        return float(np.sum(c) if by_length else np.mean(c) * usual_length)

    return YearlyAdjustment(np.array([effect(*p) for p in periods]), np.array([effect(*p) for p in ahead]),
                            multiplicative)


def _validated_cycle(y: np.ndarray, signed: bool) -> tuple[YearlyCycle, bool] | None:
    """The cycle of a finite daily series and whether it is by ratio (fitted on logs), when it passes the test
    and the check out of sample; a scope's days serve its weekly and its monthly forecasts, so each series is
    fitted once (two fits of up to three years, ~4 ms)."""
    return _cycle_of(y.tobytes(), signed)


@functools.lru_cache(maxsize=64)
def _cycle_of(data: bytes, signed: bool) -> tuple[YearlyCycle, bool] | None:
    y = np.frombuffer(data)
    n = len(y)
    held = min(VALIDATION_DAYS, int(n - YEAR_DAYS))
    if held < MIN_VALIDATION_DAYS:
        return None
    multiplicative = not signed and bool(np.all(y > 0))
    z, t = (np.log(y) if multiplicative else y), np.arange(n, dtype=float)
    harmonics = MAX_HARMONICS if n >= SHARP_DAYS else YEARLY_HARMONICS
    gain = 0.0
    for fold in range(CHECK_FOLDS):
        split = n - held - fold * VALIDATION_DAYS
        if split < YEAR_DAYS:
            break
        early = _fit(t[:split], z[:split], harmonics)
        if early is None and fold == 0:
            return None
        if early is not None:
            cycled, plain = _held_out_errors(early, t[:split + held], z[:split + held], split)
            if fold == 0 and _clearly_worse(cycled, plain):
                return None
            gain += float(np.mean(plain) - np.mean(cycled))
    if not gain > 0:
        return None
    found = _fit(t, z, harmonics)
    return None if found is None else (found, multiplicative)


def _fit(t: np.ndarray, z: np.ndarray, harmonics: int) -> YearlyCycle | None:
    """The cycle of the last ``YEARLY_FIT_DAYS`` (recent enough for the season to still hold), if significant."""
    recent = slice(max(0, len(z) - YEARLY_FIT_DAYS), len(z))
    found = fit_yearly_cycle(t[recent], z[recent], max_harmonics=harmonics)
    return found if found is not None and found.significant and found.rho < MAX_ERROR_RHO else None


def _held_out_errors(cycle: YearlyCycle, t: np.ndarray, z: np.ndarray,
                     split: int) -> tuple[np.ndarray, np.ndarray]:
    """How well ``cycle`` forecasts the days from ``split`` on against a plain forecast: the level of the
    ``LEVEL_DAYS`` before them carried on along the trend fitted with the cycle. Their absolute errors, day by
    day, with the cycle taken out of that level and put back on the days forecast, and without. (Without the
    trend, any rising wave would beat a flat level on a trending series.)"""
    before, after = slice(split - LEVEL_DAYS, split), slice(split, len(z))
    plain = np.mean(z[before] - cycle.trend * t[before]) + cycle.trend * t[after]
    cycled = plain - np.mean(cycle.at(t[before])) + cycle.at(t[after])
    # each day's weekday effect taken out first, from the year before ``split``: a day's error is mostly its
    # weekday's (weekends at 70%), and the absolute errors of a level between weekdays and weekends grew as the
    # level fell towards the truth (a summer-peaking shop's ±20% season, p 1e-45, was left out in 4 seeds of 12)
    fitted = slice(max(0, split - int(YEAR_DAYS)), split)
    residual = z[fitted] - cycle.at(t[fitted]) - cycle.trend * t[fitted]
    weekday = t.astype(int) % 7
    effect = np.array([residual[weekday[fitted] == k].mean() for k in range(7)])
    daily = z[after] - (effect - effect.mean())[weekday[after]]
    return np.abs(daily - cycled), np.abs(daily - plain)


def _clearly_worse(cycled: np.ndarray, plain: np.ndarray) -> bool:
    """Whether a cycle's absolute errors, day by day, exceed the plain forecast's by ``MATERIAL_LOSS`` of theirs
    or more, and by more than chance at 5% (one-sided): a Diebold-Mariano test, its variance Newey-West's over a
    week of lags (a level's errors persist from day to day)."""
    loss = cycled - plain
    if not np.mean(loss) >= MATERIAL_LOSS * np.mean(plain):
        return False
    if not np.std(loss) > 0:
        return True
    fit = sm.OLS(loss, np.ones(len(loss))).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    return bool(fit.tvalues[0] > WORSE_T)
