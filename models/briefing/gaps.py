"""Gaps in what segments send, named in the briefing beside the days with no events at all.

- A measure a segment stopped sending while it went on sending others: a door counter down for three days while
  the tills rang. Counts and sums take those days as 0, and a ratio across the two measures (conversion = sales /
  visitors) reads a day of sales over no visitors.
- A segment silent on days it usually has events while the rest of the budget had them: a clinic closed three
  days by a system outage, a store whose feed stopped. Its counts and sums take those days as 0 too.
- A segment silent since before the days searched, after regular events: a store closed, a district whose feed
  stopped in July. Its absence moves the totals, and from a month after it the two above no longer see it.
- Segments whose first events came in the briefing's period or the one before: a clinic opened; their arrival
  moves the totals, and nothing else in the briefing says so.

Forecasts leave out the silences that are over (:func:`ended_segment_gaps`), as they do a declared outage.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from models.closed_days import closed_weekdays_of

RECENT_DAYS = 28  # the days searched for gaps, up to the last day covered
USUAL_DAYS = 56  # the days before them that tell how often a segment goes a day without a measure
# a run of days without the measure is a gap when it would happen by chance less often than this: a measure
# with a few events a day (refunds) has days without any, a door counter's twelve readings a day never does
GAP_CHANCE = 1e-3
NEW_AFTER_DAYS = 28  # a segment whose first events came this long after the budget's first is new, not the data's start
# a segment silent longer than this is no longer news: not even the comparison with a year before holds its events
STOPPED_WITHIN_DAYS = 365


def day_runs(days: pd.DatetimeIndex) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
    """Consecutive calendar days as runs (first day, last day, days), oldest first; ``days`` sorted."""
    runs: list[tuple[pd.Timestamp, pd.Timestamp, int]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], day, runs[-1][2] + 1)
        else:
            runs.append((day, day, 1))
    return runs


def measure_gaps(counts: pd.DataFrame, through: dt.date, max_runs: int = 5) -> dict:
    """Runs of recent days on which a segment had events but none of a measure it usually sends.

    A day without the measure has the chance of the larger of two readings of the usual days: how often the
    segment went without it (with one absence added, so never is not impossible) and, for a measure with
    ``n`` events a day on average, a Poisson day of none, ``exp(-n)``. A run of ``k`` days is a gap when that
    chance to the power ``k`` is below ``GAP_CHANCE``; a segment with fewer than ``USUAL_DAYS / 2`` usual
    days with events is not judged.

    Parameters
    ----------
    counts : DataFrame
        segment_id, measure, day, event_count: the (leaf) segments' days with events of each measure.
    through : datetime.date
        The last day covered; days from ``RECENT_DAYS - 1`` before it through it are searched.
    max_runs : int
        How many runs to list, latest first.

    Returns
    -------
    dict
        ``from`` and ``through`` (the days searched, ISO dates), ``days`` (segment-days missing a measure, every
        gap counted) and ``runs`` (up to ``max_runs``, as ``{"measure", "segment_id", "start", "end", "days"}``,
        latest end first).
    """
    recent_start, usual_start, searched = _searched(through)
    if counts.empty:
        return {**searched, "days": 0, "runs": []}
    counts = counts.assign(day=pd.to_datetime(counts["day"]))
    open_days = {segment: pd.DatetimeIndex(days.unique()) for segment, days in counts.groupby("segment_id")["day"]}
    runs: list[dict] = []
    for (segment, measure), rows in counts.groupby(["segment_id", "measure"], sort=True):
        days, held = open_days[segment], pd.DatetimeIndex(rows["day"].unique())
        before = days[(days >= usual_start) & (days < recent_start)]
        usual = rows[(rows["day"] >= usual_start) & (rows["day"] < recent_start)]
        if len(before) < USUAL_DAYS // 2 or usual.empty:
            continue  # too few days to know what is usual, or a measure it has not been sending
        day_chance = _day_chance(before, held, float(usual["event_count"].astype(float).mean()))
        missing = days[(days >= recent_start) & (days <= pd.Timestamp(through)) & ~days.isin(held)].sort_values()
        runs += [{"measure": measure, "segment_id": segment, "start": first.date().isoformat(),
                  "end": last.date().isoformat(), "days": length}
                 for first, last, length in day_runs(missing) if day_chance ** length < GAP_CHANCE]
    runs.sort(key=lambda run: (run["end"], run["segment_id"], run["measure"]), reverse=True)
    return {**searched, "days": sum(run["days"] for run in runs), "runs": runs[:max_runs]}


def segment_gaps(counts: pd.DataFrame, through: dt.date, max_runs: int | None = 5) -> dict:
    """Runs of recent days on which a segment had no events at all while the budget had some.

    Every scope is read (a leaf's events summed to its ancestors): a clinic closed three days is told once, as
    the clinic, not as each of its departments. A scope's usual days are the budget's days with events off the
    weekdays the scope is closed (:func:`models.closed_days.closed_weekdays_of`); a day without events has the
    chance of the larger of how often it went without on its usual days before (one absence added) and a
    Poisson day of none at its mean events a day; a run of ``k`` usual days is a gap when that chance to the
    power ``k`` is below ``GAP_CHANCE``, as for :func:`measure_gaps`. A scope with fewer than ``USUAL_DAYS / 2``
    usual days before the days searched (a new one) is not judged.

    Parameters
    ----------
    counts : DataFrame
        segment_id, measure, day, event_count: the leaf segments' days with events of each measure (segment ids
        are paths, ``region/store``).
    through : datetime.date
        The last day covered; days from ``RECENT_DAYS - 1`` before it through it are searched.
    max_runs : int or None
        How many runs to list, latest first (None: all).

    Returns
    -------
    dict
        ``from`` and ``through`` (the days searched), ``days`` (usual days missed, every run counted) and ``runs``
        (up to ``max_runs``, as ``{"segment_id", "start", "end", "days", "usual_events"}``: its usual days in the
        run, from its first to its last calendar day, and its mean events a usual day before; latest end first).
        A run whose days a scope above it also missed is left to that scope.
    """
    recent_start, usual_start, searched = _searched(through)
    if counts.empty:
        return {**searched, "days": 0, "runs": []}
    leaves = counts.assign(day=pd.to_datetime(counts["day"])).groupby(["segment_id", "day"])["event_count"].sum()
    leaves = leaves[leaves.index.get_level_values("day") <= pd.Timestamp(through)]
    budget_days = pd.DatetimeIndex(leaves.index.get_level_values("day").unique()).sort_values()
    runs: list[dict] = []
    for node, rows in _with_scopes_above(leaves).groupby(level="segment_id", sort=True):
        held = pd.DatetimeIndex(rows.index.get_level_values("day"))
        usual_days = budget_days[~budget_days.day_of_week.isin(list(closed_weekdays_of(held, through)))]
        before = usual_days[(usual_days >= usual_start) & (usual_days < recent_start)]
        if len(before) < USUAL_DAYS // 2 or not before.isin(held).any() or held.max() < recent_start:
            continue  # too few usual days, or silent through all the days searched: stopped_segments tells it
        per_day = float(rows[(held >= usual_start) & (held < recent_start)].sum()) / len(before)
        day_chance = _day_chance(before, held, per_day)
        recent = usual_days[usual_days >= recent_start]
        runs += [{"segment_id": node, "start": first.date().isoformat(), "end": last.date().isoformat(),
                  "days": length, "usual_events": round(per_day, 1)}
                 for first, last, length in _silent_runs(recent, ~recent.isin(held))
                 if day_chance ** length < GAP_CHANCE]
    runs = [run for run in runs if not any(_covers(other, run) for other in runs)]
    runs.sort(key=lambda run: (run["end"], run["segment_id"]), reverse=True)
    return {**searched, "days": sum(run["days"] for run in runs), "runs": runs[:max_runs]}


def ended_segment_gaps(counts: pd.DataFrame, through: dt.date) -> list[dict]:
    """The runs of :func:`segment_gaps` after which their scope had events again, by ``through``: an outage
    over, not a segment that closed or whose data are late (a run to the last day, or to the last usual day
    before a closed one, may be either), as ``{"segment_id", "start", "end", "days", "usual_events"}``."""
    runs = segment_gaps(counts, through, max_runs=None)["runs"]
    if not runs:
        return []
    held = counts[pd.to_datetime(counts["day"]) <= pd.Timestamp(through)]
    last = _with_scopes_above(pd.to_datetime(held["day"]).groupby(held["segment_id"].to_numpy()).max()
                              .rename_axis("segment_id"), how="max")
    return [run for run in runs if last[run["segment_id"]] > pd.Timestamp(run["end"])]


def stopped_segments(last_days: pd.DataFrame, before_stop: pd.DataFrame, budget_days, through: dt.date,
                     max_listed: int = 5) -> dict:
    """The scopes that had events on their usual days, then none from before the days searched through ``through``,
    while the budget had its: a store closed, a feed that stopped. :func:`segment_gaps` judges the last
    ``RECENT_DAYS`` against the ``USUAL_DAYS`` before them, so a scope silent for longer fell out of it unnamed (a
    grants district silent since 1 August was in no briefing from October on).

    A scope's last day is its leaves' latest. Its usual days are the budget's days with events in the
    ``USUAL_DAYS`` up to it, off the weekdays it was closed (:func:`models.closed_days.closed_weekdays_of`), at
    least ``USUAL_DAYS / 2`` of them; its chance of a day without events is read from them as in
    :func:`segment_gaps`, and it is stopped when that chance to the power of the budget's usual days since is below
    ``GAP_CHANCE``, within ``STOPPED_WITHIN_DAYS`` of ``through``.

    Parameters
    ----------
    last_days : DataFrame
        segment_id, last_day: each leaf segment's last day with events on or before ``through`` (ids are paths;
        NULL for a leaf without any; other columns are ignored).
    before_stop : DataFrame
        segment_id, day, event_count: the leaves' days with events in the ``USUAL_DAYS`` up to their last day, for
        every leaf whose last day came before the days searched (others are ignored).
    budget_days : sequence of dates
        The days the budget had events (repeats allowed).
    through : datetime.date
        The last day covered.
    max_listed : int
        How many to list, latest last day first.

    Returns
    -------
    dict
        ``before`` (the first day searched: each scope's last day came before it), ``count`` and ``segments`` (up to
        ``max_listed``, as ``{"segment_id", "last_day", "days", "usual_events"}``: the budget's usual days of it
        since, and its mean events a usual day before): each the highest stopped scope (a clinic, not each of its
        departments).
    """
    recent_start, _, searched = _searched(through)
    found = {"before": searched["from"], "count": 0, "segments": []}
    last_days = last_days.dropna(subset=["last_day"]) if "last_day" in last_days else last_days.iloc[:0]
    if last_days.empty or before_stop.empty:
        return found
    last = _with_scopes_above(_leaf_days(last_days, "last_day"), how="max")
    last = last[(last < recent_start) & (last >= pd.Timestamp(through) - pd.Timedelta(days=STOPPED_WITHIN_DAYS))]
    held_days = _with_scopes_above(before_stop.assign(day=pd.to_datetime(before_stop["day"]))
                                   .groupby(["segment_id", "day"])["event_count"].sum())
    budget = pd.DatetimeIndex(pd.to_datetime(pd.Series(budget_days)).unique()).sort_values()
    budget = budget[budget <= pd.Timestamp(through)]
    stopped: dict[str, dict] = {}
    for node, stop in last.items():
        if node not in held_days.index.get_level_values("segment_id"):
            continue
        rows = held_days.xs(node, level="segment_id")
        held = pd.DatetimeIndex(rows.index)
        usual_days = budget[~budget.day_of_week.isin(list(closed_weekdays_of(held, stop)))]
        before = usual_days[(usual_days > stop - pd.Timedelta(days=USUAL_DAYS)) & (usual_days <= stop)]
        if len(before) < USUAL_DAYS // 2 or not before.isin(held).any():
            continue
        per_day = float(rows[held.isin(before)].sum()) / len(before)
        silent = int((usual_days > stop).sum())
        if _day_chance(before, held, per_day) ** silent < GAP_CHANCE:
            stopped[node] = {"segment_id": node, "last_day": stop.date().isoformat(), "days": silent,
                             "usual_events": round(per_day, 1)}
    highest = [s for node, s in stopped.items() if "/" not in node or node.rsplit("/", 1)[0] not in stopped]
    highest.sort(key=lambda s: (s["last_day"], s["segment_id"]), reverse=True)
    return {**found, "count": len(highest), "segments": highest[:max_listed]}


def new_segments(first_days: pd.DataFrame, since: dt.date, max_listed: int = 5) -> dict:
    """The scopes whose first events came on or after ``since``, ``NEW_AFTER_DAYS`` or more after the budget's.

    Parameters
    ----------
    first_days : DataFrame
        segment_id, first_day: each leaf segment's first day with events (ids are paths).
    since : datetime.date
        The first day a new scope's first events may fall on (the start of the period before the briefing's).
    max_listed : int
        How many to list, latest first.

    Returns
    -------
    dict
        ``since``, ``count`` and ``segments`` (up to ``max_listed``, as ``{"segment_id", "first_day"}``): each
        the highest new scope (a clinic opened, not each of its departments).
    """
    found = {"since": since.isoformat(), "count": 0, "segments": []}
    if first_days.empty:
        return found
    leaves = _leaf_days(first_days, "first_day")
    first = _with_scopes_above(leaves, how="min")
    latest_start = leaves.min() + pd.Timedelta(days=NEW_AFTER_DAYS)
    new = first[(first >= pd.Timestamp(since)) & (first > latest_start)]
    highest = [(node, day) for node, day in new.items() if "/" not in node or node.rsplit("/", 1)[0] not in new.index]
    highest.sort(key=lambda item: (-item[1].value, item[0]))
    listed = [{"segment_id": node, "first_day": day.date().isoformat()} for node, day in highest[:max_listed]]
    return {**found, "count": len(highest), "segments": listed}


def _searched(through: dt.date) -> tuple[pd.Timestamp, pd.Timestamp, dict]:
    """The first of the ``RECENT_DAYS`` searched up to ``through``, the first of the ``USUAL_DAYS`` before them,
    and the days searched as ISO dates (``from``, ``through``)."""
    recent_start = pd.Timestamp(through) - pd.Timedelta(days=RECENT_DAYS - 1)
    return (recent_start, recent_start - pd.Timedelta(days=USUAL_DAYS),
            {"from": recent_start.date().isoformat(), "through": pd.Timestamp(through).date().isoformat()})


def _day_chance(before: pd.DatetimeIndex, held: pd.DatetimeIndex, per_day: float) -> float:
    """The chance of a usual day without events: the larger of how often the usual days ``before`` went without
    (those not ``held``; one absence added, so never is not impossible) and a Poisson day of none at ``per_day``
    events."""
    absent = (len(before) - before.isin(held).sum() + 1) / (len(before) + 2)
    return max(absent, math.exp(-per_day))


def _leaf_days(frame: pd.DataFrame, column: str) -> pd.Series:
    """``frame``'s day ``column`` indexed by its leaves' ``segment_id``, as :func:`_with_scopes_above` reads it."""
    return pd.Series(pd.to_datetime(frame[column]).to_numpy(),
                     index=pd.Index(frame["segment_id"].to_numpy(), name="segment_id"))


def _with_scopes_above(leaves: pd.Series, how: str = "sum") -> pd.Series:
    """``leaves`` (indexed by ``segment_id``, a path, and any other keys) with every scope above a leaf (each of
    its path's prefixes) added, its value the leaves' summed or least (``how``)."""
    frame = leaves.rename("value").reset_index()
    parts = frame["segment_id"].astype(str).str.split("/")
    scopes = [frame.assign(segment_id=parts.str[:level].str.join("/"))[parts.str.len() >= level]
              for level in range(1, int(parts.str.len().max()) + 1)]
    return pd.concat(scopes, ignore_index=True).groupby(list(leaves.index.names))["value"].agg(how)


def _silent_runs(days: pd.DatetimeIndex, silent: np.ndarray) -> list[tuple[pd.Timestamp, pd.Timestamp, int]]:
    """Runs of consecutive ``days`` (usual days, so a run goes on over a closed Sunday) that are ``silent``."""
    runs: list[tuple[pd.Timestamp, pd.Timestamp, int]] = []
    for i, quiet in enumerate(silent):
        if not quiet:
            continue
        if runs and i > 0 and silent[i - 1]:
            runs[-1] = (runs[-1][0], days[i], runs[-1][2] + 1)
        else:
            runs.append((days[i], days[i], 1))
    return runs


def _covers(above: dict, below: dict) -> bool:
    """Whether ``above`` is a scope above ``below`` whose run holds ``below``'s days."""
    return (below["segment_id"].startswith(above["segment_id"] + "/") and above["start"] <= below["start"]
            and above["end"] >= below["end"])
