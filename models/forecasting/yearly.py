"""A daily series' yearly cycle: taken out before forecasting, put back after.

A budget's daily series often hold one or two years: too few for a seasonal model
with a period of 365 (three cycles for the seasonality test, more for a direct
autoregression on a year of lags), yet a season of volumes is then plain to see and
a forecast to a goal's deadline months ahead crosses it. The cycle is the drift
engine's (:func:`models.yearly_cycle.fit_yearly_cycle`): two yearly harmonics
beside a level and a linear trend, AR(1) errors, kept only when a Wald test finds
it at 1% and it forecasts held-out days better than no cycle. The trend stays in the
series for the forecaster to judge.
"""

from __future__ import annotations

import numpy as np

from models.forecasting.adjustment import Adjustment
from models.yearly_cycle import YEAR_DAYS, YEARLY_FIT_DAYS, YearlyCycle, fit_yearly_cycle


class YearlyAdjustment(Adjustment):
    """A fitted yearly cycle over a history and the horizon after it (logs when ``multiplicative``)."""


# The cycle has to earn its place: fitted without the last VALIDATION_DAYS (at most: a year must remain before
# them), it must forecast those days better than no cycle does, with at least MIN_VALIDATION_DAYS to judge by.
VALIDATION_DAYS = 90
MIN_VALIDATION_DAYS = 28
# Errors this persistent (AR(1) coefficient around the fit) cannot tell a season from a wander over a year or
# two: a random walk's 420 days were given a cycle 74 times in 200 without this bound, once with it.
MAX_ERROR_RHO = 0.8
LEVEL_DAYS = 28  # the plain forecast the check compares: the mean of the last four weeks before the held-out days


def yearly_adjustment(y: np.ndarray, horizon: int) -> YearlyAdjustment | None:
    """The yearly cycle of a daily series, when it has one.

    A cycle must pass the Wald test of :func:`fit_yearly_cycle` and a check out of
    sample (:func:`_forecasts_better`): over one or two years a random walk's wander
    or a trend's curve is often fitted by a wave the test finds, and extrapolating such
    a wave makes the forecast worse (``budgetlens bench intervals``).

    Parameters
    ----------
    y : array of float
        Daily history, oldest first, all finite.
    horizon : int
        Days to forecast after it.

    Returns
    -------
    YearlyAdjustment or None
        None when the history is too short (a year plus ``MIN_VALIDATION_DAYS``), or the
        test or the check finds no cycle. A positive series is taken to be seasonal by
        ratio (the cycle fitted on its logs), any other by difference.
    """
    n = len(y)
    held = min(VALIDATION_DAYS, int(n - YEAR_DAYS))
    if held < MIN_VALIDATION_DAYS:
        return None
    multiplicative = bool(np.all(y > 0))
    z, t = (np.log(y) if multiplicative else y), np.arange(n, dtype=float)
    early = _fit(t[:n - held], z[:n - held])
    if early is None or not _forecasts_better(early, t, z, n - held):
        return None
    found = _fit(t, z)
    if found is None:
        return None
    return YearlyAdjustment(found.at(t), found.at(np.arange(n, n + horizon, dtype=float)), multiplicative)


def _fit(t: np.ndarray, z: np.ndarray) -> YearlyCycle | None:
    """The cycle of the last ``YEARLY_FIT_DAYS`` (recent enough for the season to still hold), if significant."""
    recent = slice(max(0, len(z) - YEARLY_FIT_DAYS), len(z))
    found = fit_yearly_cycle(t[recent], z[recent])
    return found if found is not None and found.significant and found.rho < MAX_ERROR_RHO else None


def _forecasts_better(cycle: YearlyCycle, t: np.ndarray, z: np.ndarray, split: int) -> bool:
    """Whether ``cycle`` improves a plain forecast of the days from ``split`` on: the level of the ``LEVEL_DAYS``
    before them carried on along the trend fitted with the cycle. Their mean absolute error with the cycle taken
    out of that level and put back on the days forecast, against without. (Without the trend, any rising wave
    would beat a flat level on a trending series.)"""
    before, after = slice(split - LEVEL_DAYS, split), slice(split, len(z))
    plain = np.mean(z[before] - cycle.trend * t[before]) + cycle.trend * t[after]
    cycled = plain - np.mean(cycle.at(t[before])) + cycle.at(t[after])
    return bool(np.mean(np.abs(z[after] - cycled)) < np.mean(np.abs(z[after] - plain)))
