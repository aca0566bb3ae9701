"""Shocks in a forecast's history: one to a dozen days that broke from the level before and after them and were
over, found without being declared, so that they are left out of what the models see as an episode's weeks are
(:mod:`models.forecasting.episodes`, which takes two weeks and more).

Seen by the models, five days of a cold store at a third less cost made them read its level as likely to drop a
third any day: the 95% interval of its quarter's cost was +-24% where the days' noise was 1%. Over 60 seeded daily
histories with a dip of 2-7 days at 25-50% less, the next 60 days' total came out 1.3% low (median) and its 95%
interval 7.9% of it wide; left out, 0.5% low and 6.1% wide, as from the same histories without the dip.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from models.forecasting.episodes import HOLD, MIN_AFTER, MIN_BEFORE, MIN_DAYS, SIDE_DAYS, YEAR, level_days
from models.robust import robust_spread

MAX_DAYS = MIN_DAYS - 1  # a longer run is an episode's to find
THRESHOLD = 6.0  # robust z from both sides' levels: see the tests for the rate on histories without a shock
EXTEND = 3.0  # a run's days beside it that pass this z the same way are its too (a shock's milder first day)
MIN_RELATIVE = 0.1  # a positive series' shock moves it by a tenth at least: smaller is no news to a forecast
SEASONAL = 0.5  # the same dates a year before or after apart the same way by this share of z: the calendar's
TRIMMED_SD = 0.789  # the standard deviation of a normal over its middle 90%, as a share of its whole one
MIN_HISTORY = 2 * SIDE_DAYS + 7  # known days a history needs before its shocks are looked for


def past_shocks(y, days: list[dt.date]) -> list[dt.date]:
    """The days of a daily history that were shocks: each ``THRESHOLD`` robust standard deviations from the level
    of the ``SIDE_DAYS`` before it and, the same way, from the level of those after it.

    Parameters
    ----------
    y : array of float
        The daily history, oldest first, one value a day of ``days`` (NaN where a day has no value).
    days : list of datetime.date
        Consecutive days.

    Returns
    -------
    list of datetime.date
        Oldest first. A positive series is read on its logarithm (a shock is then a share of the level, and must
        pass ``MIN_RELATIVE`` of it), its weekday pattern taken out and its closed weekdays left out
        (:func:`models.forecasting.episodes.level_days`). A run of days that break the same way (one quiet day
        between allowed) is found when one of them passes ``THRESHOLD``, with its days beside it that pass
        ``EXTEND``; a run longer than ``MAX_DAYS`` is an episode's. A day needs ``MIN_AFTER`` known days after
        it (the level went back: the history's last days may be a new level's first) and ``MIN_BEFORE`` before
        it, and the ``HOLD`` days either side of a run must sit at their side's level (not the middle of a longer
        spell). A run whose dates a year before or after stood apart the same way is the calendar's (a closed
        Christmas) and stays in the history.
    """
    read = level_days(y, days, MIN_HISTORY)
    if read is None:
        return []
    x, logged = read
    series = pd.Series(x)
    before = series.rolling(SIDE_DAYS, min_periods=MIN_BEFORE).median().shift(1).to_numpy()
    after = series[::-1].rolling(SIDE_DAYS, min_periods=MIN_AFTER).median()[::-1].shift(-1).to_numpy()
    from_before, from_after = x - before, x - after
    usable = from_before[np.isfinite(from_before)]
    if usable.size < SIDE_DAYS:
        return []
    centre = float(np.median(usable))
    scale = max(robust_spread(usable, centre), _trimmed_spread(usable))
    if scale == 0:
        return []  # a constant series: the holiday and the episode tests have nothing to measure a day against
    z_before, z_after = (from_before - centre) / scale, (from_after - centre) / scale
    with np.errstate(invalid="ignore"):
        # the nearer of the two levels: a day on the far side of a level shift is no shock of either
        z = np.where(np.sign(z_before) == np.sign(z_after), np.sign(z_before) * np.minimum(abs(z_before), abs(z_after)),
                     0.0)
        step = np.where(np.abs(from_before) < np.abs(from_after), from_before, from_after)
    big = np.abs(step) >= (MIN_RELATIVE if logged else 0.0)
    flagged = np.isfinite(z) & (np.abs(z) >= EXTEND) & big
    found: list[dt.date] = []
    for first, last in _runs(np.flatnonzero(flagged), np.sign(z)):
        if (np.max(np.abs(z[first:last + 1])) < THRESHOLD or last - first + 1 > MAX_DAYS
                or not _alone(x, first, last, before[first], after[last]) or _calendar(z, first, last)):
            continue
        found += [days[i] for i in range(first, last + 1) if flagged[i]]
    return found


def _trimmed_spread(values: np.ndarray) -> float:
    """The standard deviation of the values between their 5th and 95th percentiles, on a normal's scale. A
    median absolute deviation of small counts is a whole number: 1 for a day's 4 or 5 churned customers, whose
    spread is 2.1, and a day of 14 read as 6.7 deviations (two-year histories of counts of 5 a day, measured)."""
    low, high = np.quantile(values, [0.05, 0.95])
    middle = values[(values >= low) & (values <= high)]
    return float(np.std(middle)) / TRIMMED_SD if middle.size > 1 else 0.0


def _runs(positions: np.ndarray, signs: np.ndarray) -> list[tuple[int, int]]:
    """Flagged positions a day apart at most (one quiet day between) that break the same way, as (first, last)."""
    runs: list[list[int]] = []
    for i in positions:
        if runs and i - runs[-1][1] <= 2 and signs[i] == signs[runs[-1][1]]:
            runs[-1][1] = int(i)
        else:
            runs.append([int(i), int(i)])
    return [(a, b) for a, b in runs]


def _alone(x: np.ndarray, first: int, last: int, level_before: float, level_after: float) -> bool:
    """Whether the ``HOLD`` days either side of the run sit nearer their side's level than the run's: the middle
    of three weeks at half stands apart from the four weeks either side of each of its days, and is no shock."""
    during = np.nanmedian(x[first:last + 1])
    for outside, level in ((x[max(0, first - HOLD):first], level_before), (x[last + 1:last + 1 + HOLD], level_after)):
        if not np.isfinite(outside).any():
            return False
        held = np.nanmedian(outside)
        if abs(held - during) <= abs(held - level):
            return False
    return True


def _calendar(z: np.ndarray, first: int, last: int) -> bool:
    """Whether the run's days a year before or after (the same weekdays, or the same dates a day or two on)
    stood apart the same way by ``SEASONAL`` of its largest z.

    Unlike an episode's weeks, a run whose year cannot be compared is left out all the same: a few days are too
    few to carry a season, and a day's holiday recurring on them is one the owner can declare."""
    sign, size = np.sign(z[first]), np.max(np.abs(z[first:last + 1]))
    for offset in (-YEAR - 2, -YEAR - 1, -YEAR, YEAR, YEAR + 1, YEAR + 2):
        then = z[max(0, first + offset):max(0, last + offset + 1)]
        if np.isfinite(then).any() and np.nanmax(sign * then) >= SEASONAL * size:
            return True
    return False
