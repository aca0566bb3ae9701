"""Level shifts: the day a daily series moved to a new level and stayed there (and, from :mod:`.episode`, the
weeks a series spent at another level before going back).

A shock breaks from the days around it and is over (:mod:`.shocks`); a level shift is the other way a period
changes: a price raised on the 1st, a depot running late from the 20th. The waterfall says how much of a
change each factor holds, not when it began; this says when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np
import pandas as pd
from scipy import stats

from models.drift.episode import Episode, episode
from models.drift.seasonal import weekday_profile
from models.event_scope import event_concerns
from models.projections import empty_periods_as_zero, is_additive, next_period
from models.robust import absolute_deviations_from_medians, rank_correlation, robust_spread
from models.spec import BudgetSpec
from models.yearly_cycle import MIN_YEARLY_DAYS, YEAR_DAYS, YEARLY_FIT_DAYS, fit_yearly_cycle

MIN_BEFORE = 14      # days with data a level before needs (two of each weekday)
MIN_AFTER = 7        # and after: a week at the new level
THRESHOLD = 6.0      # z of the step: the best of ~100 candidate days, so far beyond one test's 2 or 3
TRIM = 0.1           # share of each side's days trimmed from either end in Yuen's test of the step
# a step must fit the days at most this share as badly as a parabola: else the change is smooth (a trend, a
# season's turn; a straight line instead let 9% of yearly sine waves through as steps, measured)
STEP_VS_SMOOTH = 0.95
MIN_RELATIVE = 0.05  # a new level at least this far from the old one (a positive series): smaller is no news
HOLD = 7             # days at each end of the step whose median must sit nearer their own side's level
BEFORE_DAYS = 56     # days before the first candidate day the level before is read from
SAME_SHIFT_DAYS = 3  # shifts of one metric this close on a scope and one above or below it are one shift
MAX_PER_METRIC = 3
OWN = 0.75           # a scope below whose move of a sum or count is this share of the one above's or more: its own
BROAD = 0.5          # a scope above shifted by at least this share of a scope below's change: the shift is broad
SHIFT_COLUMNS = ["budget_id", "grain", "period_start", "metric_id", "segment_level", "segment_id", "shift_day",
                 "level_before", "level_after", "relative_change", "z", "days_before", "days_after", "event",
                 "last_day", "level_back", "days_back"]
# A median's standard error is sqrt(pi / 2) times a mean's for normal noise
MEDIAN_EFFICIENCY = np.sqrt(np.pi / 2)


@dataclass(frozen=True)
class LevelShift:
    """A series' move to a new level on ``day`` (the first day with data at it)."""

    day: pd.Timestamp
    before: float        # median of the days before (weekday pattern removed), in the series' units
    after: float         # median of the days from ``day`` on
    z: float             # the step against day-to-day noise (the medians' standard error)
    days_before: int
    days_after: int

    @property
    def relative(self) -> float | None:
        return self.after / self.before - 1 if self.before > 0 else None

    @property
    def step(self) -> float:
        return self.after - self.before


def level_shift(values: pd.Series, first: pd.Timestamp, last: pd.Timestamp) -> LevelShift | None:
    """The one clearest level shift of ``values`` starting between ``first`` and ``last``, if any.

    Parameters
    ----------
    values : Series
        A daily series (DatetimeIndex, weekday pattern already removed), NaN on days without data. The days
        before ``first`` and after ``last`` give the levels either side; none of them may be the shift's day.
    first, last : Timestamp
        The days the new level may begin on.

    Returns
    -------
    LevelShift or None
        The day that best splits the series into two levels (least absolute deviations from each side's
        median, so a short shock does not attract it), when the step between the two sides' medians
        is beyond ``THRESHOLD`` times its standard error (the days' spread around their side's median,
        widened when neighbouring days move together: a wandering level is no step) and Yuen's trimmed-mean
        test says as much (the medians of days of few events jump between a handful of values), the two
        levels fit the days better than a parabola does (``STEP_VS_SMOOTH``, else the change is smooth: a
        trend or a season turning), each end of the step holds its side's level (else it is an episode, not a
        new level) and, for a positive series, the levels are ``MIN_RELATIVE`` apart. A positive series is
        judged on its logarithm, where its noise does not grow with the level.
    """
    known = values.dropna()
    if len(known) < MIN_BEFORE + MIN_AFTER:
        return None
    raw = known.to_numpy(float)
    positive = bool((raw > 0).all())
    x = np.log(raw) if positive else raw
    days = known.index
    allowed = np.flatnonzero((days >= first) & (days <= last))
    allowed = allowed[(allowed >= MIN_BEFORE) & (allowed <= len(x) - MIN_AFTER)]
    if allowed.size == 0:
        return None
    # the split whose two sides' medians fit the days best (least absolute deviations): a shock of a few days
    # among weeks cannot move a median, so it neither attracts the day nor hides one (least squares on a running
    # median placed a level raised on the 21st on a five-day surge three weeks before it, measured)
    fits = _absolute_fits(x, allowed)
    best = int(np.argmin(fits))  # the earliest of equal fits
    split, fit = int(allowed[best]), float(fits[best])
    left, right = x[:split], x[split:]
    low, high = float(np.median(left)), float(np.median(right))
    residuals = np.concatenate([left - low, right - high])
    noise = robust_spread(residuals, 0.0)
    if noise == 0:
        noise = 1e-9 * max(1.0, float(np.max(np.abs(x))))  # a constant series: any move is a step
    # days that follow each other closely (a level wandering, not noise around it) hold less evidence than as
    # many independent days: the standard error grows by the AR(1) long-run factor of the residuals' lag-1
    # rank correlation (ranks, so that a shock's two days do not make it)
    follow = max(0.0, rank_correlation(residuals[:-1], residuals[1:]))
    persistence = np.sqrt((1 + follow) / (1 - follow)) if follow < 1 else np.inf
    z = (high - low) / (noise * persistence * MEDIAN_EFFICIENCY * np.sqrt(1 / len(left) + 1 / len(right)))
    if abs(z) < THRESHOLD:
        return None
    # the medians of days with few events take a handful of values (a campaign's conversion rate of 1-6 leads a
    # day: 0, 1/3, 1/2, 1), so they can jump with no change of level (0.29 -> 0 "at z 9.5"); the sides' trimmed
    # means, which move by every day's value, must differ as far (Yuen's test: a shock's days are trimmed)
    trimmed = stats.ttest_ind(right, left, equal_var=False, trim=TRIM).statistic / persistence
    if not abs(trimmed) >= THRESHOLD or np.sign(trimmed) != np.sign(z):
        return None
    if positive and abs(np.expm1(high - low)) < MIN_RELATIVE:
        return None
    if not positive and abs(high - low) < MIN_RELATIVE * float(np.median(np.abs(x))):
        return None
    position = (days - days[0]).days.to_numpy(float)
    smooth_fit = np.polyval(np.polyfit(position, x, 2), position)
    if fit > STEP_VS_SMOOTH * np.abs(x - smooth_fit).sum():
        return None
    held = [np.median(left[-HOLD:]), np.median(right[:HOLD]), np.median(right[-HOLD:])]
    if not (abs(held[0] - low) < abs(held[0] - high) and all(abs(h - high) < abs(h - low) for h in held[1:])):
        return None
    return LevelShift(days[split], float(np.median(raw[:split])), float(np.median(raw[split:])), float(z), len(left),
                      len(right))


def _absolute_fits(x: np.ndarray, splits: np.ndarray) -> np.ndarray:
    """Absolute deviations of ``x`` from its two sides' medians, for each second side beginning at ``splits``."""
    return _prefix_fits(x, splits) + _prefix_fits(x[::-1], len(x) - splits)


def _prefix_fits(x: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Absolute deviations of each first ``sizes`` values of ``x`` from their median (every prefix NaN-padded to one
    array)."""
    return absolute_deviations_from_medians(np.where(np.arange(len(x))[None, :] < sizes[:, None], x[None, :], np.nan))


def budget_level_shifts(spec: BudgetSpec, daily: pd.DataFrame, nodes: pd.DataFrame, grain: str,
                        period: dt.date) -> pd.DataFrame:
    """The level shifts and episodes of a budget's metrics that began in the period starting ``period`` or the one
    before it.

    Parameters
    ----------
    spec : BudgetSpec
        The budget.
    daily : DataFrame
        metric_id, segment_id, period_start, value: every metric at day grain, complete days.
    nodes : DataFrame
        segment_level, segment_id, parent_id: the segment hierarchy ('_total' at the root).
    grain, period : str, date
        The period reported on (days after it are not read).

    Returns
    -------
    DataFrame
        ``SHIFT_COLUMNS``, one row per shift: every scope's series with its weekday pattern removed (as the
        drift stage removes it, from the year before the days read) is tested by
        :func:`models.drift.episode.episode` and, without an episode, by :func:`level_shift` (``last_day``,
        ``level_back`` and ``days_back`` are an episode's, NULL for a shift; its ``level_after`` and ``days_after``
        are those during it); either found is tested again without the yearly cycle. Of the shifts of one metric
        on a scope and one above or below it within ``SAME_SHIFT_DAYS``, one is kept (:func:`_distinct`: a price
        raised everywhere is the total's, a depot's late rate its own, not its region's), at most
        ``MAX_PER_METRIC`` of them a metric. ``event`` names a declared event (not a
        holiday) that began, or ended, within ``SAME_SHIFT_DAYS`` of the shift on a scope it concerns.
    """
    first = pd.Timestamp(next_period(grain, period, -1))
    end = pd.Timestamp(next_period(grain, period, 1))
    # the days as they stood at the period's end, as the drift stage reads them: the table changes only when
    # those do, not with every later day
    daily = daily[pd.to_datetime(daily["period_start"]) < end]
    if daily.empty:
        return pd.DataFrame(columns=SHIFT_COLUMNS)
    days = pd.to_datetime(daily["period_start"])
    calendar = pd.date_range(days.min(), days.max(), freq="D")
    window = calendar >= first - pd.Timedelta(days=BEFORE_DAYS)
    if not window.any():
        return pd.DataFrame(columns=SHIFT_COLUMNS)
    level_of = dict(zip(nodes["segment_id"], nodes["segment_level"]))
    parents = {n: p for n, p in zip(nodes["segment_id"], nodes["parent_id"]) if isinstance(p, str)}
    events = [e for e in spec.known_events(calendar[0].date(), calendar[-1].date()) if e.kind != "holiday"]
    found, rates = [], {}
    additive = {m for m, metric in spec.metrics.items() if is_additive(metric)}
    positions = calendar.get_indexer(days)
    for (metric_id, node), rows in daily.groupby(["metric_id", "segment_id"], sort=True).indices.items():
        metric = spec.metrics.get(metric_id)
        if metric is None or metric.kind == "qualitative":
            continue
        inside = positions[rows] >= 0
        values = np.full(len(calendar), np.nan)
        values[positions[rows][inside]] = daily["value"].to_numpy(float)[rows][inside]
        without_rows = np.isnan(values)
        series = pd.Series(empty_periods_as_zero(metric, values), index=calendar)
        # a day without events tells nothing of the level (a closed Sunday's certain 0), as in the shock test
        adjusted = weekday_profile(series, calendar[window][0]).deseasonalise(series).where(~without_rows)
        if metric_id not in additive:
            rates[metric_id, node] = adjusted[window]
        shift = _found(adjusted, window, first, end - pd.Timedelta(days=1))
        if shift is not None:
            found.append({"metric_id": metric_id, "segment_id": node, "shift": shift})
    kept = _distinct(found, parents, additive, partial(_relative_move, rates))
    rows = []
    for item in sorted(kept, key=lambda f: (f["metric_id"], -abs(f["shift"].z))):
        shift, node = item["shift"], item["segment_id"]
        near = [e for e in events if event_concerns(node, e.level, e.segment, list(spec.segments.levels), level_of)]
        rows.append({"budget_id": spec.id, "grain": grain, "period_start": period, "metric_id": item["metric_id"],
                     "segment_level": level_of.get(node, "_total"), "segment_id": node,
                     "shift_day": shift.day.date(), "level_before": shift.before, "relative_change": shift.relative,
                     "z": shift.z, "days_before": shift.days_before,
                     "event": _matching_event(shift.day.date(), near), **_levels_after(shift)})
    return pd.DataFrame(rows, columns=SHIFT_COLUMNS)


def _levels_after(shift: LevelShift | Episode) -> dict:
    """A shift's level from its day on; an episode's level during it, its last day and the level back after."""
    if isinstance(shift, LevelShift):
        return {"level_after": shift.after, "days_after": shift.days_after}
    return {"level_after": shift.during, "days_after": shift.days_during, "last_day": shift.last.date(),
            "level_back": shift.after, "days_back": shift.days_after}


def _found(adjusted: pd.Series, window: np.ndarray, first: pd.Timestamp,
           last: pd.Timestamp) -> LevelShift | Episode | None:
    """The series' level shift or episode beginning ``first``..``last`` (an episode when both pass: its level went
    back, where a shift's days at the end only happened to sit nearer the new level, as a noisy store's did),
    tested again without the yearly cycle when one is real (fitted only then: most series have neither)."""
    for find in (lambda v: episode(v[window], first, last, v), lambda v: level_shift(v[window], first, last)):
        if find(adjusted) is not None:
            return find(_without_yearly_cycle(adjusted, adjusted.index[window][0]))
    return None


def _without_yearly_cycle(values: pd.Series, before: pd.Timestamp) -> pd.Series:
    """``values`` less the yearly cycle fitted on the days before ``before`` (up to ``YEARLY_FIT_DAYS`` of them,
    a year at least; logs of a positive series), when that cycle is real; as they are otherwise. Autumn's
    rise of a support desk's tickets, +11% in two months, was read as a new level from the 1st of September."""
    history = values[(values.index < before) & (values.index >= before - pd.Timedelta(days=YEARLY_FIT_DAYS))]
    known = history.dropna()
    if len(known) < MIN_YEARLY_DAYS or known.index[0] > before - pd.Timedelta(days=YEAR_DAYS):
        return values
    positive = bool((known > 0).all())
    origin = known.index[0]

    def day_numbers(index: pd.DatetimeIndex) -> np.ndarray:
        return ((index - origin) / pd.Timedelta(days=1)).to_numpy(float)

    cycle = fit_yearly_cycle(day_numbers(known.index), np.log(known.to_numpy()) if positive else known.to_numpy())
    if cycle is None or not cycle.significant:
        return values
    season = cycle.at(day_numbers(values.index))
    return values / np.exp(season) if positive else values - season


def _distinct(found: list[dict], parents: dict[str, str], additive: set[str],
              moved: Callable[[str, str, LevelShift | Episode], float | None] = lambda *_: None) -> list[dict]:
    """Of the shifts of one metric on a scope and one above or below it within ``SAME_SHIFT_DAYS``, the one with
    the largest |z|, or the scope above when its relative change is at least ``BROAD`` of those below it (the
    shift is broad, not one scope's diluted: a fuel price raised everywhere is the total's though each vehicle's
    cost per km, free of the mix of vehicles, shows it plainer); at most ``MAX_PER_METRIC`` a metric. Of a rate
    or mean, the scope above is broad only when the scopes beside the one below moved too: ``moved(metric,
    scope, shift)`` gives a scope's relative move over a shift's days (one clinic's no-show rate up from 10% to
    25% lifted its region's from 9% to 19%, its neighbour's stayed: the clinic's shift)."""
    kept: list[dict] = []
    for item in sorted(found, key=lambda f: (-abs(f["shift"].z), f["metric_id"], f["segment_id"])):
        same = [k for k in kept if k["metric_id"] == item["metric_id"]
                and _related(k["segment_id"], item["segment_id"], parents)
                and abs((k["shift"].day - item["shift"].day).days) <= SAME_SHIFT_DAYS]
        if not same:
            if sum(k["metric_id"] == item["metric_id"] for k in kept) < MAX_PER_METRIC:
                kept.append(item)
        elif all(_broader(item, k, parents, item["metric_id"] in additive, moved) for k in same):
            kept = [k for k in kept if k not in same] + [item]
    return kept


def _broader(above: dict, below: dict, parents: dict[str, str], additive: bool,
             moved: Callable[[str, str, LevelShift | Episode], float | None]) -> bool:
    """Whether ``above`` lies above ``below`` and moved by at least ``BROAD`` of its relative change, and, of a
    sum or count, by more than ``below``'s own move can make it: a depot with two thirds of its region's
    deliveries down 40% for three weeks moved the region by 24% (over half as much), all of it the depot's. Of
    a rate or mean, the scopes beside ``below`` under ``above`` must have moved the same way by ``BROAD`` of its
    change (their median move), when their moves are known."""
    if above["segment_id"] not in _lineage(below["segment_id"], parents):
        return False
    mine, theirs = above["shift"].relative, below["shift"].relative
    if mine is None or theirs is None or mine * theirs <= 0 or abs(mine) < BROAD * abs(theirs):
        return False
    if additive:
        return abs(below["shift"].step) < OWN * abs(above["shift"].step)
    branch = {below["segment_id"]} | _lineage(below["segment_id"], parents)
    beside = [node for node, parent in parents.items() if parent == above["segment_id"] and node not in branch]
    moves = [m for m in (moved(below["metric_id"], node, below["shift"]) for node in beside) if m is not None]
    if not moves:
        return True
    alike = float(np.median(moves))
    return alike * theirs > 0 and abs(alike) >= BROAD * abs(theirs)


def _relative_move(series: dict[tuple[str, str], pd.Series], metric_id: str, node: str,
                   shift: LevelShift | Episode) -> float | None:
    """``node``'s relative move over ``shift``'s days: the median of its days from the shift's day (to an
    episode's last) against the median of those before; None without ``MIN_BEFORE`` and ``MIN_AFTER`` days or
    a positive level before."""
    values = series.get((metric_id, node))
    if values is None:
        return None
    last = shift.last if isinstance(shift, Episode) else values.index[-1]
    before = values[values.index < shift.day].dropna()
    after = values[(values.index >= shift.day) & (values.index <= last)].dropna()
    if len(before) < MIN_BEFORE or len(after) < MIN_AFTER or not np.median(before) > 0:
        return None
    return float(np.median(after) / np.median(before) - 1)


def _related(a: str, b: str, parents: dict[str, str]) -> bool:
    """Whether one scope is the other, or lies above or below it."""
    return a == b or a in _lineage(b, parents) or b in _lineage(a, parents)


def _lineage(node: str, parents: dict[str, str]) -> set[str]:
    above = set()
    while node in parents:
        node = parents[node]
        above.add(node)
    return above


def _matching_event(day: dt.date, events: list) -> str | None:
    """The declared event that began (or ended the day before) nearest ``day``, within ``SAME_SHIFT_DAYS``."""
    hits = []
    for event in events:
        hits.append((abs((event.date - day).days), event.name))
        if event.end_date is not None:
            hits.append((abs((event.end_date + dt.timedelta(days=1) - day).days), f"after {event.name} ended"))
    hits = [h for h in hits if h[0] <= SAME_SHIFT_DAYS]
    return min(hits)[1] if hits else None
