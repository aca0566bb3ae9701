"""Episodes: weeks at another level that then went back to the one before.

Between a shock (days that break from the weeks either side, :mod:`.shocks`) and a level shift (a new level
that holds, :mod:`.level_shift`) lies a third way a month changes: a region's deliveries down by a third for
three weeks of road works, a campaign's leads up for a month, then back. Its weeks move the medians a shock is
judged against, so it is no shock; it ends, so it is no new level. Neither test told it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from models.robust import absolute_deviations_from_medians, rank_correlation, robust_spread

MIN_DAYS = 14        # an episode's calendar days at least: shorter runs move no 28-day median, so shocks tell them
MAX_DAYS = 63        # and at most (nine weeks): longer is a new level and, later, another
MIN_BEFORE = 14      # days with data before it (two of each weekday)
MIN_AFTER = 7        # and after it: a week back at the level before
THRESHOLD = 6.5      # z of the episode's level against the rest: the best of ~5,000 candidate spans (see the tests)
TRIM = 0.1           # Yuen's trimmed means, as for a level shift
STEP_VS_SMOOTH = 0.95
MIN_RELATIVE = 0.05
HOLD = 7             # days at each end, inside and out, whose median must sit nearer their own side's level
REFINE = 3           # days either side of the screened ends searched by least absolute deviations, and again
MAX_REFINES = 6      # around the best found, until it stays (a store's episode screened a week early, measured)
YEAR = 364           # the same weekdays a year before
SEASONAL = 0.5       # a year before's step of at least this share, the same way: a season, not an episode
MEDIAN_EFFICIENCY = np.sqrt(np.pi / 2)


@dataclass(frozen=True)
class Episode:
    """Days ``day``..``last`` at level ``during``, between ``before`` and ``after`` (medians, series units)."""

    day: pd.Timestamp    # its first day, as a level shift's
    last: pd.Timestamp
    before: float
    during: float
    after: float
    z: float
    days_before: int
    days_during: int
    days_after: int

    @property
    def relative(self) -> float | None:
        return self.during / self.before - 1 if self.before > 0 else None

    @property
    def step(self) -> float:
        return self.during - self.before


def episode(values: pd.Series, first: pd.Timestamp, last: pd.Timestamp,
            history: pd.Series | None = None) -> Episode | None:
    """The one clearest episode of ``values`` starting between ``first`` and ``last``, if any.

    Parameters
    ----------
    values : Series
        A daily series (DatetimeIndex, weekday pattern removed), NaN on days without data. Days before ``first``
        give the level before; an episode must end at least ``MIN_AFTER`` days with data before the series does.
    first, last : Timestamp
        The days an episode may begin on.
    history : Series, optional
        The same series over a longer past (a year before ``values`` at least, to tell a season): when the same
        days a year before moved the same way by ``SEASONAL`` of the episode's step or more, it is a season's
        weeks, not news.

    Returns
    -------
    Episode or None
        The span of ``MIN_DAYS`` to ``MAX_DAYS`` whose days sit at one level and the rest at another, screened by
        the spans' between-level sum of squares on winsorised values (a prefix sum, every span at once) and its
        ends moved by ``REFINE`` days to those fitting the two levels' medians best; told when, as a level
        shift is (:func:`models.drift.level_shift.level_shift`), the medians differ by ``THRESHOLD`` standard
        errors (widened when neighbouring days move together), Yuen's trimmed means agree, the two levels fit
        the days better than a parabola, each end holds its side's level, the days after sit nearer the level
        before than the level during (so the level went back), and a positive series' levels are
        ``MIN_RELATIVE`` apart. A positive series is judged on its logarithm.
    """
    known = values.dropna()
    if len(known) < MIN_BEFORE + MIN_AFTER + MIN_DAYS // 2:
        return None
    raw = known.to_numpy(float)
    positive = bool((raw > 0).all())
    x = np.log(raw) if positive else raw
    days = known.index
    starts, stops = _spans(days, first, last)
    span = _screened_span(x, starts, stops) if starts.size else None
    if span is None:
        return None
    start, stop = span
    for _ in range(MAX_REFINES):
        moved = _refined_span(x, starts, stops, start, stop)
        if moved == (start, stop):
            break
        start, stop = moved
    if len(x) - stop < MIN_AFTER:  # not over yet (or a new level: see level_shift)
        return None
    inside = np.zeros(len(x), dtype=bool)
    inside[start:stop] = True
    during, rest = float(np.median(x[inside])), float(np.median(x[~inside]))
    residuals = x - np.where(inside, during, rest)
    noise = robust_spread(residuals, 0.0) or 1e-9 * max(1.0, float(np.max(np.abs(x))))
    follow = max(0.0, rank_correlation(residuals[:-1], residuals[1:]))
    persistence = np.sqrt((1 + follow) / (1 - follow)) if follow < 1 else np.inf
    n_in, n_out = int(inside.sum()), int((~inside).sum())
    z = (during - rest) / (noise * persistence * MEDIAN_EFFICIENCY * np.sqrt(1 / n_in + 1 / n_out))
    if not abs(z) >= THRESHOLD:
        return None
    trimmed = stats.ttest_ind(x[inside], x[~inside], equal_var=False, trim=TRIM).statistic / persistence
    if not abs(trimmed) >= THRESHOLD or np.sign(trimmed) != np.sign(z):
        return None
    if positive and abs(np.expm1(during - rest)) < MIN_RELATIVE:
        return None
    if not positive and abs(during - rest) < MIN_RELATIVE * float(np.median(np.abs(x))):
        return None
    position = (days - days[0]).days.to_numpy(float)
    fit = float(np.abs(residuals).sum())
    if fit > STEP_VS_SMOOTH * np.abs(x - np.polyval(np.polyfit(position, x, 2), position)).sum():
        return None
    outer = [np.median(x[max(0, start - HOLD):start]), np.median(x[stop:stop + HOLD])]
    inner = [np.median(x[start:start + HOLD]), np.median(x[stop - HOLD:stop])]
    if not (all(abs(h - rest) < abs(h - during) for h in outer)
            and all(abs(h - during) < abs(h - rest) for h in inner)):
        return None
    # back means all the days after, not only the first week's median: three closed days in that week made a
    # region's held new level (a clinic opened) read as an episode 'back' to a level 4% below it
    before, after = float(np.median(x[:start])), float(np.median(x[stop:]))
    if not abs(after - before) < abs(after - during):
        return None
    if history is not None and _seasonal(history, days[start], days[stop - 1], during - rest, positive):
        return None
    return Episode(days[start], days[stop - 1], float(np.median(raw[:start])), float(np.median(raw[start:stop])),
                   float(np.median(raw[stop:])), float(z), start, stop - start, len(x) - stop)


def _spans(days: pd.DatetimeIndex, first: pd.Timestamp, last: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
    """Every candidate span as positions ``start`` (first day in) and ``stop`` (first day out, ``len(days)`` for
    a span to the end), as two arrays. Spans without ``MIN_AFTER`` days after them are candidates too, so that an
    episode not over yet is found as such (and not told) rather than a shorter one that is."""
    n = len(days)
    starts = np.flatnonzero((days >= first) & (days <= last) & (np.arange(n) >= MIN_BEFORE))
    start, stop = np.meshgrid(starts, np.arange(n + 1), indexing="ij")
    ordinal = days.to_numpy("datetime64[D]").astype(np.int64)
    length = np.where(stop > start, ordinal[np.maximum(stop - 1, 0)] - ordinal[start] + 1, 0)
    ok = (stop > start) & (length >= MIN_DAYS) & (length <= MAX_DAYS)
    return start[ok], stop[ok]


def _screened_span(x: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> tuple[int, int] | None:
    """The span whose mean differs most from the rest's (between-level sum of squares), on ``x`` clipped to four
    robust spreads of its median so that a shock's day cannot make a span; None when even that span's means
    differ by less than half of ``THRESHOLD`` standard errors of the day-to-day noise (differences, so two levels'
    gap does not widen it): most series, screened in a tenth of the time the spans' medians take."""
    centre = float(np.median(x))
    spread = robust_spread(x, centre)
    clipped = np.clip(x, centre - 4 * spread, centre + 4 * spread) if spread > 0 else x
    prefix = np.concatenate([[0.0], np.cumsum(clipped)])
    n, total = len(x), prefix[-1]
    size = stops - starts
    inside = prefix[stops] - prefix[starts]
    gap = inside / size - (total - inside) / (n - size)  # a span starts MIN_BEFORE days in: never all of them
    best = int(np.argmax(size * (n - size) / n * gap ** 2))
    noise = robust_spread(np.diff(x), 0.0) / np.sqrt(2)
    if noise > 0 and abs(gap[best]) < THRESHOLD / 2 * noise * np.sqrt(1 / size[best] + 1 / (n - size[best])):
        return None
    return int(starts[best]), int(stops[best])


def _refined_span(x: np.ndarray, starts: np.ndarray, stops: np.ndarray, start: int, stop: int) -> tuple[int, int]:
    """Of the spans ``starts``/``stops`` within ``REFINE`` positions of ``start``..``stop``, the one whose two
    levels' medians fit ``x`` best (least absolute deviations: means are pulled by a shock near an end, medians
    are not); the earliest of equal fits."""
    near = np.flatnonzero((np.abs(starts - start) <= REFINE) & (np.abs(stops - stop) <= REFINE))
    if near.size == 0:
        return start, stop
    # every candidate at once, the other side's days NaN (49 spans: 0.2 ms, against 1.9 one by one, measured)
    position = np.arange(len(x))
    inside = (position >= starts[near, None]) & (position < stops[near, None])
    fits = sum(absolute_deviations_from_medians(np.where(side, x, np.nan)) for side in (inside, ~inside))
    best = near[int(np.argmin(fits))]  # near is in (start, stop) order: the earliest of equal fits
    return int(starts[best]), int(stops[best])


def _seasonal(history: pd.Series, first: pd.Timestamp, last: pd.Timestamp, step: float, positive: bool) -> bool:
    """Whether the same days a year before stood apart from the weeks around them the same way, by ``SEASONAL``
    of ``step`` at least (on the logarithm for a positive series)."""
    lo, hi = first - pd.Timedelta(days=YEAR), last - pd.Timedelta(days=YEAR)
    around = history[(history.index >= lo - pd.Timedelta(days=28)) & (history.index <= hi + pd.Timedelta(days=28))]
    around = around.dropna()
    if positive:
        around = around[around > 0]
        around = np.log(around) if not around.empty else around
    inside = around[(around.index >= lo) & (around.index <= hi)]
    outside = around[(around.index < lo) | (around.index > hi)]
    if len(inside) < MIN_DAYS // 2 or len(outside) < MIN_DAYS:
        return False
    then = float(np.median(inside)) - float(np.median(outside))
    return bool(np.sign(then) == np.sign(step) and abs(then) >= SEASONAL * abs(step))
