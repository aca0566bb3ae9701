"""A new level at the end of a forecast's history: the weeks before the origin standing apart from the weeks
before them, and holding to the origin (north's depots taking 60% more jobs from the 1st of October, a price
raised a month ago), found without being declared, so that the history before it is read at the new level.

Left as it was, a month at a new level is one point of a monthly series: a field service's jobs 25% above the
year before from October on were forecast 12-14% low for November to January, every model taking the new month
as noise around two years of the old level. The weeks after the step are read against the eight weeks before
it, each day as its change from the same weeks a year before, so the season is out of the comparison (October's
climb was last October's too). A history without that year is not read: there a season's bend and a new level
are alike.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.forecasting.episodes import clipped_to_local, level_days
from models.robust import absolute_deviations_from_medians, robust_spread

AFTER_DAYS = (14, 21, 28, 42, 56, 70, 91)  # the days at the new level screened, up to the origin
BEFORE_DAYS = 56     # the level before: eight weeks
YEAR = 364           # the same weekdays a year before
YEAR_AROUND = 14     # and the days either side of it that its level is read from
THRESHOLD = 6.0      # z against the same comparison at every earlier day: of 1,500 series without one, 1
                     # reached it (6.7: a level wandering with lag-1 persistence 0.9); see the tests
MIN_RELATIVE = 0.05  # a step smaller than 5% (of a positive series) is no news
STEP_VS_SMOOTH = 0.95  # a step on a line must leave at most 95% of a parabola's squared residuals
HOLD = 7             # days at each end of the new level whose median must sit nearer it than the old one


@dataclass(frozen=True)
class NewLevel:
    """The days from ``first`` on at ``step`` from the weeks before (in logs for a positive series)."""

    first: dt.date
    step: float
    logged: bool
    z: float

    @property
    def label(self) -> str:
        """How a forecast's method names it: "new level from 2026-10-01 (+22.0%)"."""
        size = f"{np.expm1(self.step):+.1%}" if self.logged else f"{self.step:+.4g}"
        return f"new level from {self.first.isoformat()} ({size})"

    def before(self, values: np.ndarray, days: list[dt.date]) -> np.ndarray:
        """``values`` (over ``days``) with the days before ``first`` at the new level."""
        earlier = np.array([d < self.first for d in days])
        out = np.asarray(values, float).copy()
        out[earlier] = out[earlier] * np.exp(self.step) if self.logged else out[earlier] + self.step
        return out


def new_level(y, days: list[dt.date], excluded: np.ndarray | None = None) -> NewLevel | None:
    """The level a daily history moved to in its last weeks and held to its end, or None.

    Parameters
    ----------
    y : array of float
        The daily history, oldest first, one value a day of ``days`` (NaN where a day has no value).
    days : list of datetime.date
        Consecutive days.
    excluded : array of bool, optional
        Days not to read (a declared event's, an episode's), in either year.

    Returns
    -------
    NewLevel or None
        Told when the last ``d`` days (``d`` one of ``AFTER_DAYS``) stand ``THRESHOLD`` robust standard
        deviations from the ``BEFORE_DAYS`` before them, as the same comparison goes at every earlier day of the
        history, each day read as its change from the weeks around the same weekday a year before; the step's
        day is then the best fit of two levels over those days (:func:`_change_day`), and it passes
        ``MIN_RELATIVE`` and holds at both its ends. A history without a year before its last ``2 *
        max(AFTER_DAYS)`` and ``BEFORE_DAYS`` is not read: there a season's bend and a new level are alike (a
        summer peak's descent read z 8.5).
    """
    read = level_days(y, days, YEAR + BEFORE_DAYS + 2 * max(AFTER_DAYS))
    if read is None:
        return None
    x, logged = read
    if excluded is not None:
        x = np.where(excluded, np.nan, x)
    n = len(x)
    # the change from a year before leaves the season out (October's climb was last October's too); from the four
    # weeks around its date a year before, not its one day, which would double the days' noise
    year_before = pd.Series(x).rolling(2 * YEAR_AROUND + 1, center=True, min_periods=YEAR_AROUND).median()
    d = x - np.r_[np.full(YEAR, np.nan), year_before.to_numpy()[:-YEAR]]
    # means of the days clipped around their neighbours' median: a shock's day cannot make a step, and a mean is
    # read on a third fewer days than a median (its noise: 0.029 against 0.035 of a log, measured)
    series = pd.Series(clipped_to_local(d))
    before = np.append(series.rolling(BEFORE_DAYS, min_periods=BEFORE_DAYS // 2).mean().shift(1).to_numpy(),
                       np.nan)  # before[p]: the days p - BEFORE_DAYS .. p - 1
    strongest = 0.0
    for length in AFTER_DAYS:
        after = series[::-1].rolling(length, min_periods=length // 2).mean()[::-1].to_numpy()  # days p .. p+len-1
        # rounded: two means of the same counts differ in their last bits, and a spread of them is no noise
        gap = np.round(after[: n - length + 1] - before[: n - length + 1], 9)
        null = gap[: n - 2 * length + 1]  # every earlier comparison of the same days, none holding the last ones
        null = null[np.isfinite(null)]
        if null.size < 2 * BEFORE_DAYS or not np.isfinite(gap[-1]):
            continue
        centre = float(np.median(null))
        spread = robust_spread(null, centre)
        if spread > 0 and abs(gap[-1] - centre) / spread > abs(strongest):
            strongest = (gap[-1] - centre) / spread
    if abs(strongest) < THRESHOLD:
        return None
    clipped = series.to_numpy()
    start = _change_day(clipped)
    step = _held_step(clipped, start, logged, x)
    return None if step is None or step * strongest < 0 else NewLevel(days[start], step, logged, float(strongest))


def _change_day(d: np.ndarray) -> int:
    """The first day of the new level among the last ``max(AFTER_DAYS)`` days but ``AFTER_DAYS[0]``: the one
    whose two medians, before and after, fit those days and the ``BEFORE_DAYS`` before them best (least absolute
    deviations); the earliest of equal fits. The screen's own length is no estimate of it: a step 31 days back
    reads in the last 28 days and in the last 42 alike."""
    n = len(d)
    lo = n - max(AFTER_DAYS) - BEFORE_DAYS
    candidates = np.arange(n - max(AFTER_DAYS), n - AFTER_DAYS[0] + 1)
    later = np.arange(lo, n) >= candidates[:, None]
    window = d[lo:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fits = sum(absolute_deviations_from_medians(np.where(side, window, np.nan)) for side in (later, ~later))
    return int(candidates[int(np.argmin(fits))])


def _held_step(d: np.ndarray, start: int, logged: bool, x: np.ndarray) -> float | None:
    """The step from the ``BEFORE_DAYS`` before ``start`` to the days from it on (``d``: changes from a year
    before), if it is news and holds: the first and the last ``HOLD`` known days of the new level nearer it than
    the old one, and the days themselves (``x``) stepping there the same way, better than they bend."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        old, new = np.nanmean(d[start - BEFORE_DAYS:start]), np.nanmean(d[start:])
        level = np.nanmedian(np.abs(x[start - BEFORE_DAYS:start]))
    step = float(new - old)
    if not np.isfinite(step) or abs(step) < (np.log1p(MIN_RELATIVE) if logged else MIN_RELATIVE * level):
        return None
    known = np.flatnonzero(np.isfinite(d[start:])) + start
    for ends in (known[:HOLD], known[-HOLD:]):
        if ends.size < HOLD // 2 or abs(np.median(d[ends]) - new) >= abs(np.median(d[ends]) - old):
            return None
    # the days themselves step there too, on a line: a step a year before, in a change from a year before, reads
    # as one now (the level a year ago moved, and has held since)
    window = np.arange(start - BEFORE_DAYS, len(x))
    window = window[np.isfinite(x[window])]
    t = (window - start) / BEFORE_DAYS
    stepped = np.column_stack([np.ones(window.size), t, window >= start])
    fit, stepped_sse = np.linalg.lstsq(stepped, x[window], rcond=None)[:2]
    if not (fit[2] * step > 0 and abs(fit[2]) >= abs(step) / 2):
        return None
    # and a step on a line fits them better than a parabola: a bend is none (a season that changed its shape; a
    # summer peak's descent, read without a year before, reached z 10 against the year's gentler days)
    smooth_sse = np.linalg.lstsq(np.column_stack([np.ones(window.size), t, t ** 2]), x[window], rcond=None)[1]
    return step if stepped_sse.size and smooth_sse.size and stepped_sse[0] <= STEP_VS_SMOOTH * smooth_sse[0] else None
