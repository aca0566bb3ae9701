"""Episodes in a forecast's history: weeks at another level that then went back (a warehouse's three weeks at
half its orders, a month's campaign), found without being declared, so that they are left out of what the
models see as a declared event's days are (:func:`models.projections.holiday_names`).

Seen by the models, a three-week outage last November took the days' yearly cycle with it, and this November's
month came out 11-12% high. The drift stage's episode test (:mod:`models.drift.episode`) reads one month against
the weeks before it, on a level that holds; a history of years has a season under it, which read as one level
made those weeks' residuals follow each other and hid the outage (z 3.9 where 6.5 is asked). So here each span
is read against the four weeks either side of it: their mean leaves a trend or a season's slope where the span
is, a season's hump is fitted by a parabola as well as by the step and is no episode, and neither is a span whose
same weekdays a year before or after stood apart the same way.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.closed_days import closed_weekdays
from models.robust import MAD_TO_SD, absolute_deviations_from_medians, nan_row_medians, robust_spread

MIN_DAYS, MAX_DAYS = 14, 63  # an episode's days, as the drift stage's: shorter is a holiday's or a shock's
SIDE_DAYS = 28       # the days either side a span is read against
MIN_BEFORE = 14      # known days the side before needs (two of each weekday)
MIN_AFTER = 7        # and the side after: a week back at the level before
THRESHOLD = 7.0      # z against its length's spans: of 1,500 two-year series none reached it (see the tests)
BACK = 1.0           # the sides apart by at most the step: the level went back (a shift's are two steps apart)
MIN_RELATIVE = 0.05  # a step smaller than 5% (of a positive series) is no news
STEP_VS_SMOOTH = 0.95  # a line and the step must fit within 95% of a parabola's absolute residuals
REFINE = 3           # days either side of a span's ends searched for the best fit
MAX_REFINES = 6      # and again around the best found, until it stays
HOLD = 7             # days at each end, inside and out, whose median must sit nearer their own side's level
YEAR = 364           # the same weekdays a year before or after
SEASONAL = 0.5       # the other year's span apart the same way by this share of the step: the season's
YEARLY_DAYS = 365 + SIDE_DAYS  # a history this long may hold a season an episode must be told from
# the lengths screened: every one to three weeks, every third day beyond (refining moves the ends to the days;
# screening every length took twice the time and found the same spans, measured)
LENGTHS = np.r_[np.arange(MIN_DAYS, 22), np.arange(22, MAX_DAYS + 1, 3)]
MAX_JUDGED = 6       # spans judged a series, best first (a season's humps are judged and set aside)


@dataclass(frozen=True)
class PastEpisode:
    """Days ``first``..``last`` at ``step`` from the days around them (in logs for a positive series)."""

    first: dt.date
    last: dt.date
    step: float
    z: float


def past_episodes(y, days: list[dt.date]) -> list[PastEpisode]:
    """The episodes of a daily history: spans of ``MIN_DAYS`` to ``MAX_DAYS`` at another level than the
    ``SIDE_DAYS`` either side of them, which agree with each other (the level went back).

    Parameters
    ----------
    y : array of float
        The daily history, oldest first, one value a day of ``days`` (NaN where a day has no value).
    days : list of datetime.date
        Consecutive days.

    Returns
    -------
    list of PastEpisode
        Oldest first. A span is told when its mean (values clipped to four spreads of the 15 days around them,
        so a shock's day cannot make one) is ``THRESHOLD`` robust standard deviations from the mean of its sides'
        medians, as the spans of its length go, its ends moved by ``REFINE`` days at a time to fit best; its
        step passes ``MIN_RELATIVE``, a line and its step fit it and its sides better than a parabola does,
        each end holds its side's level, and the same weekdays a year before or after did not stand apart the
        same way (with a history long enough to hold a season and neither year to compare, it is not told).
        A positive series is read on its logarithm, its weekday pattern taken out; closed weekdays are left out.
    """
    read = level_days(y, days, 2 * SIDE_DAYS + MIN_DAYS)
    if read is None:
        return []
    x, logged = read
    found, judged = [], []
    spans = _passing_spans(x)
    for _ in range(MAX_JUDGED):
        starts, stops, zs, weights = spans
        free = np.ones(len(starts), dtype=bool)
        for first, last in judged:
            free &= (stops <= first) | (starts >= last)
        if not free.any():
            break
        # of the spans that pass, the one of most weight (step times the root of its days): a true span's inner
        # part passes too, against sides that then hold some of its days; its ends then move out to the days
        best = int(np.argmax(np.where(free, weights, -np.inf)))
        start, stop = int(starts[best]), int(stops[best])
        judged.append((start, stop))  # and where it moves to: a flat series' spans all moved to one
        for _ in range(MAX_REFINES):
            moved = _refined(x, start, stop)
            if moved == (start, stop):
                break
            start, stop = moved
        judged.append((start, stop))
        known = np.flatnonzero(np.isfinite(x[start:stop]))
        if known.size == 0:
            continue
        start, stop = start + int(known[0]), start + int(known[-1]) + 1  # from and to a known day (not a Sunday shut)
        step = _confirmed(x, start, stop, logged)
        if step is not None:
            found.append(PastEpisode(days[start], days[stop - 1], step, float(zs[best])))
            x[start:stop] = np.nan
            spans = _passing_spans(x)
    return sorted(found, key=lambda e: e.first)


def level_days(y, days: list[dt.date], least: int) -> tuple[np.ndarray, bool] | None:
    """A daily history as its level reads: on logs for a positive series (a step is then a share), its weekday
    pattern taken out, closed weekdays NaN; with whether it was logged. None with fewer than ``least`` known
    days or none apart."""
    y = np.asarray(y, float)
    if len(y) != len(days):
        raise ValueError(f"{len(y)} values for {len(days)} days")
    if len(y) < least:
        return None
    x = y.copy()
    weekday = np.array([d.weekday() for d in days])
    closed = closed_weekdays(y, days)
    if closed:
        x[np.isin(weekday, sorted(closed))] = np.nan
    known = np.isfinite(x)
    if known.sum() < least:
        return None
    logged = bool(np.all(x[known] > 0))
    if logged:
        x = np.log(x)
    elif np.ptp(x[known]) == 0:
        return None
    return x - _weekday_pattern(x, weekday), logged


def clipped_to_local(x: np.ndarray) -> np.ndarray:
    """``x`` clipped to four spreads of day-to-day noise around the median of the 15 days around each day, so a
    shock's day cannot make a span or a step of its own."""
    local = pd.Series(x).rolling(15, center=True, min_periods=5).median().to_numpy()
    changes = np.diff(x)
    noise = robust_spread(changes[np.isfinite(changes)], 0.0) / np.sqrt(2)
    return np.clip(x, local - 4 * noise, local + 4 * noise) if noise > 0 else x


def _weekday_pattern(x: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Each day's weekday effect: the weekday's median departure from the 29 days around it, centred on 0."""
    departure = x - pd.Series(x).rolling(29, center=True, min_periods=7).median().to_numpy()
    effect = np.array([np.nanmedian(departure[weekday == k]) if np.isfinite(departure[weekday == k]).any()
                       else 0.0 for k in range(7)])
    return (effect - effect.mean())[weekday]


def _passing_spans(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every span (start, stop, z, weight) ``THRESHOLD`` standard errors or more from its sides, whose sides
    agree (the level went back). Every span at once: prefix sums for the spans' means, rolling medians for their
    sides (2 ms for two years, measured)."""
    n = len(x)
    series = pd.Series(x)
    known = np.isfinite(x)
    if known.sum() < 2 * SIDE_DAYS + MIN_DAYS:
        return np.array([], int), np.array([], int), np.array([]), np.array([])
    clipped = clipped_to_local(x)
    have = np.isfinite(clipped)
    total = np.concatenate([[0.0], np.cumsum(np.where(have, clipped, 0.0))])
    count = np.concatenate([[0], np.cumsum(have)])
    before = np.append(series.rolling(SIDE_DAYS, min_periods=MIN_BEFORE).median().shift(1).to_numpy(), np.nan)
    after = np.append(series[::-1].rolling(SIDE_DAYS, min_periods=MIN_AFTER).median()[::-1].to_numpy(), np.nan)
    start, stop = np.meshgrid(np.arange(n), LENGTHS, indexing="ij")
    stop = np.minimum(start + stop, n)
    inside = count[stop] - count[start]
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = (total[stop] - total[start]) / inside - (before[start] + after[stop]) / 2
    valid = (inside >= (stop - start) / 2) & (stop - start >= MIN_DAYS) & np.isfinite(gap)
    # each length's gaps over every start are its own null: their robust spread is the standard error, whatever
    # the noise (a count's, a wandering level's, a season's curvature left by the sides), and an episode is one
    # of a few outliers among them. A day-to-day noise with lag-1 persistence, as the drift stage reads it,
    # gave a tenth of two-year series with a wandering level an episode (1,500 series, measured)
    by_length = np.where(valid, gap, np.nan).T  # one row a length: one sort of each (a median each took 5 ms)
    centre = nan_row_medians(by_length)
    deviation = np.abs(by_length - centre[:, None])
    spread = MAD_TO_SD * nan_row_medians(deviation)
    with warnings.catch_warnings():  # a length with no valid span has no spread, as meant
        warnings.simplefilter("ignore", RuntimeWarning)
        # as robust_spread: where most spans sit on the centre (a constant series), their root mean square
        spread = np.where(spread > 0, spread, np.sqrt(np.nanmean(deviation ** 2, axis=1)))
    spread[valid.sum(axis=0) < 2 * SIDE_DAYS] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (gap - centre) / spread
    ok = (valid & np.isfinite(z) & (np.abs(before[start] - after[stop]) <= BACK * np.abs(gap))
          & (np.abs(z) >= THRESHOLD))
    weight = np.abs(gap - centre) * np.sqrt(inside)
    return start[ok], stop[ok], z[ok], weight[ok]


def _refined(x: np.ndarray, start: int, stop: int) -> tuple[int, int]:
    """The ends within ``REFINE`` days of ``start``..``stop`` whose two levels' medians fit the span and its
    sides best (least absolute deviations: a shock near an end pulls a mean, not a median); the earliest of
    equal fits. Every candidate at once, the other side's days NaN (one by one took 2.8 ms, measured)."""
    lo, hi = max(0, start - SIDE_DAYS), min(len(x), stop + SIDE_DAYS)
    firsts, lasts = np.meshgrid(np.arange(max(lo + 1, start - REFINE), start + REFINE + 1),
                                np.arange(stop - REFINE, min(hi - 1, stop + REFINE) + 1), indexing="ij")
    keep = (lasts - firsts >= MIN_DAYS).ravel()
    firsts, lasts = firsts.ravel()[keep], lasts.ravel()[keep]
    if firsts.size == 0:
        return start, stop
    position = np.arange(lo, hi)
    inside = (position >= firsts[:, None]) & (position < lasts[:, None])
    window = x[lo:hi]
    fits = sum(absolute_deviations_from_medians(np.where(side, window, np.nan)) for side in (inside, ~inside))
    best = int(np.argmin(fits))
    return int(firsts[best]), int(lasts[best])


def _confirmed(x: np.ndarray, start: int, stop: int, logged: bool) -> float | None:
    """The span's step from its sides when it passes the tests beyond its z (see :func:`past_episodes`), else
    None. Read again here: the ends may have moved since the span was screened."""
    lo, hi = max(0, start - SIDE_DAYS), min(len(x), stop + SIDE_DAYS)
    before, after = x[lo:start], x[stop:hi]
    if np.isfinite(before).sum() < MIN_BEFORE or np.isfinite(after).sum() < MIN_AFTER:
        return None
    sides = np.nanmedian(before), np.nanmedian(after)
    rest, during = float(np.mean(sides)), float(np.nanmedian(x[start:stop]))
    step = during - rest
    if abs(sides[0] - sides[1]) > BACK * abs(step) or abs(step) < MIN_RELATIVE * (1.0 if logged else abs(rest)):
        return None  # not back at the level before; or too small to matter (of the level, or of the values' size)
    window, position = x[lo:hi], np.arange(lo, hi)
    inside = (position >= start) & (position < stop)
    if _fit(window, position, inside) > STEP_VS_SMOOTH * _fit(window, position, (position - start) ** 2):
        return None
    with np.errstate(all="ignore"):
        outer = [np.nanmedian(x[max(0, start - HOLD):start]), np.nanmedian(x[stop:stop + HOLD])]
        inner = [np.nanmedian(x[start:start + HOLD]), np.nanmedian(x[stop - HOLD:stop])]
    if not (all(abs(h - rest) < abs(h - during) for h in outer)
            and all(abs(h - during) < abs(h - rest) for h in inner)):
        return None
    return None if _seasonal(x, start, stop, step) else step


def _fit(window: np.ndarray, position: np.ndarray, third: np.ndarray) -> float:
    """Absolute residuals of a least-squares line plus ``third`` through the window's known values: the span's
    step on a slope (a season's, on the way down in November) against a parabola, a season's hump."""
    known = np.isfinite(window)
    design = np.column_stack([np.ones(known.sum()), position[known] - position[0], third[known]]).astype(float)
    coefficients = np.linalg.lstsq(design, window[known], rcond=None)[0]
    return float(np.abs(window[known] - design @ coefficients).sum())


def _seasonal(x: np.ndarray, start: int, stop: int, step: float) -> bool:
    """Whether the same weekdays a year before or after stood apart from their sides the same way, by
    ``SEASONAL`` of ``step`` at least; True also when the history is long enough to hold a season and neither
    year can be compared, so a season's weeks are never taken for an episode."""
    compared = False
    for offset in (-YEAR, YEAR):
        a, b = max(0, start + offset), min(len(x), stop + offset)
        span = x[a:b]
        sides = [side for side in (x[max(0, a - SIDE_DAYS):a], x[b:b + SIDE_DAYS])
                 if np.isfinite(side).sum() >= MIN_AFTER]
        if b - a <= 0 or np.isfinite(span).sum() < MIN_DAYS // 2 or not sides:
            continue
        compared = True  # on the days the history holds of that year's span and its sides, one side if need be
        then = np.nanmean(span) - np.mean([np.nanmedian(side) for side in sides])
        if np.sign(then) == np.sign(step) and abs(then) >= SEASONAL * abs(step):
            return True
    return not compared and len(x) >= YEARLY_DAYS
