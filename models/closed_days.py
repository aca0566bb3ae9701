"""Weekdays a business never opens: forecast as the 0 they always are, and no bad day for a daily rule.

A shop closed on Sundays has a count of 0 on every Sunday. The forecaster's models learn the weekly
pattern but not its certainty: a fleet closed on Sundays was forecast 28 deliveries a Sunday with a 95%
interval up to 142, which also crept into every total over the horizon (goals). A weekday whose last
``CLOSED_WEEKS`` dates were all exactly 0, while other days were not, is closed: its days ahead are 0, bands
and paths alike. Eight weeks, so a quiet spell of a month is not read as a closure (a wrong 0 with no
interval is a stronger claim than the week-completeness rule, which four weeks settle and a late file
corrects); and only when the other days are rarely 0, so eight zeros could not be chance: an intermittent
series (a team's milestones, a day in ten) has eight empty Saturdays 43% of the time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

CLOSED_WEEKS = 8
# chance, for the open days' share of zeros, of a weekday's dates all being 0 that still counts as chance
# (1% over the seven weekdays tested)
CHANCE = 0.01 / 7


def closed_weekdays(y: np.ndarray, days: list[dt.date], weeks: int = CLOSED_WEEKS) -> set[int]:
    """The weekdays (Monday 0) whose latest ``weeks`` dates in a daily history were all exactly 0.

    Parameters
    ----------
    y : array of float
        Daily history, oldest first (NaN where a day has no value).
    days : list of datetime.date
        The day of each value, consecutive.
    weeks : int
        How many of a weekday's latest dates must all be 0.

    Returns
    -------
    set of int
        Empty when the history is shorter than ``weeks`` weeks, or when the other days are 0 often enough
        for such a run to be chance (intermittent demand).
    """
    y = np.asarray(y, float)
    if len(y) != len(days):
        raise ValueError(f"{len(days)} days for {len(y)} values")
    if len(y) < 7 * weeks:
        return set()
    recent = y[-7 * weeks:]
    empty = [i for i in range(7) if np.all(recent[i::7] == 0)]
    if not empty or len(empty) == 7:
        return set()
    others = np.concatenate([recent[i::7] for i in range(7) if i not in empty])
    others = others[np.isfinite(others)]
    if others.size == 0 or float(np.mean(others == 0)) ** weeks >= CHANCE:
        return set()  # the other days are often 0 too: eight empty dates are no sign of a closure
    return {days[len(y) - 7 * weeks + i].weekday() for i in empty}


def closed_weekdays_of(days_with_rows, last) -> set[int]:
    """:func:`closed_weekdays` of a business known by the days it had rows (events) on, from the first of them
    to ``last``: a day without one counts 0."""
    days = pd.DatetimeIndex(pd.to_datetime(days_with_rows).unique())
    calendar = pd.date_range(days.min(), pd.Timestamp(last), freq="D")
    return closed_weekdays(calendar.isin(days).astype(float), list(calendar.date))


def closed_holidays(y: np.ndarray, days: list[dt.date], past: list[str | None], closed: set[int]) -> set[str]:
    """The holidays a business shuts on: every past date of theirs on an open weekday was exactly 0, while the
    other open days are 0 so rarely that this could not be chance (``CHANCE``, as for a closed weekday).

    Without it a closed Christmas took an effect measured as a difference, which a series that may go below 0
    (a ledger with credit notes) carried below 0: -£988 of spending forecast on a day no one posts.

    Parameters
    ----------
    y : array of float
        Daily history, oldest first (NaN where a day has no value).
    days : list of datetime.date
        The day of each value.
    past : list of str or None
        The holiday on each day (None: an ordinary day).
    closed : set of int
        The weekdays the business is closed (:func:`closed_weekdays`): their dates say nothing of a holiday.
    """
    y = np.asarray(y, float)
    open_day = np.array([day.weekday() not in closed for day in days]) & np.isfinite(y)
    ordinary = open_day & np.array([name is None for name in past])
    if not ordinary.any():
        return set()
    zero_share = float(np.mean(y[ordinary] == 0))
    found = set()
    for name in {n for n in past if n is not None}:
        seen = y[open_day & np.array([n == name for n in past])]
        if seen.size and np.all(seen == 0) and zero_share ** seen.size < CHANCE:
            found.add(name)
    return found


def shut(forecast, starts: list[dt.date], closed: set[int], holidays: tuple[list[str | None], set[str]]):
    """``forecast`` (any dataclass with ``mean``, bands and ``paths`` by step) with the steps on ``closed``
    weekdays at 0, and those of the shut holidays (``holidays``: the holiday on each step ahead, and the names
    of those the business shuts on, see :func:`closed_holidays`)."""
    ahead, shut_names = holidays
    shut_steps = np.array([day.weekday() in closed for day in starts])
    if shut_names:
        shut_steps |= np.array([name in shut_names for name in ahead])
    if not shut_steps.any():
        return forecast
    changes = {name: np.where(shut_steps, 0.0, getattr(forecast, name))
               for name in ("mean", "lo80", "hi80", "lo95", "hi95")}
    if forecast.paths is not None:
        changes["paths"] = np.where(shut_steps[None, :], 0.0, forecast.paths)
    return dataclasses.replace(forecast, **changes)


# Periods of silence a segment may keep and still be in business, whatever its history: a fortnight's refit of a
# shop, a month of a weekly series, two months of a monthly one. dbt reads the same numbers (var retired_after).
RETIRED_AFTER = {"day": 14, "week": 4, "month": 2}


def periods_apart(grain: str, earlier, later) -> np.ndarray:
    """How many ``grain`` periods each of ``later`` lies after ``earlier`` (period starts, array-like)."""
    a, b = pd.DatetimeIndex(pd.to_datetime(earlier)), pd.DatetimeIndex(pd.to_datetime(later))
    if grain == "month":
        return np.asarray((b.year - a.year) * 12 + (b.month - a.month))
    return np.asarray((b - a).days // (7 if grain == "week" else 1))


def in_business(seen, periods, grain: str) -> np.ndarray:
    """Whether a segment known by the periods it had rows in (``seen``) was still in business in each of
    ``periods``: it had a row then, or its silence up to that period is no longer than the longest one it had
    kept before (or ``RETIRED_AFTER`` periods). Read from the past of each period alone, so an incremental run
    and a rebuild agree.

    A store that closed for good is no longer the worst store with £0 every day from then on, nor a 0 that
    fires 'transactions < 150'; one closed on Sundays, or for Christmas week, still counts its 0.

    Parameters
    ----------
    seen : array-like of dates
        Period starts with a row for the segment.
    periods : array-like of dates
        Period starts to judge (none before the first of ``seen`` is in business).
    grain : {'day', 'week', 'month'}
    """
    seen = pd.DatetimeIndex(pd.to_datetime(pd.Series(seen)).drop_duplicates().sort_values())
    periods = pd.DatetimeIndex(pd.to_datetime(pd.Series(periods)))
    if seen.empty:
        return np.zeros(len(periods), bool)
    # the longest run of empty periods between two seen ones, up to each seen period
    runs = np.concatenate([[0], periods_apart(grain, seen[:-1], seen[1:]) - 1])
    longest = np.maximum.accumulate(runs)
    last = np.searchsorted(seen.values, periods.values, side="right") - 1
    known = last >= 0
    silence = np.zeros(len(periods), int)
    silence[known] = periods_apart(grain, seen[last[known]], periods[known])
    allowed = np.maximum(longest[np.clip(last, 0, None)], RETIRED_AFTER[grain])
    return known & (silence <= allowed)
