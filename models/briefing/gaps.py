"""Measures a segment stopped sending while it went on sending others: a door counter down for three days while
the tills rang. Counts and sums take those days as 0, and a ratio across the two measures (conversion = sales /
visitors) reads a day of sales over no visitors, so the briefing names them beside the days with no events."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

RECENT_DAYS = 28  # the days searched for gaps, up to the last day covered
USUAL_DAYS = 56  # the days before them that tell how often a segment goes a day without a measure
# a run of days without the measure is a gap when it would happen by chance less often than this: a measure
# with a few events a day (refunds) has days without any, a door counter's twelve readings a day never does
GAP_CHANCE = 1e-3


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
    recent_start = pd.Timestamp(through) - pd.Timedelta(days=RECENT_DAYS - 1)
    searched = {"from": recent_start.date().isoformat(), "through": pd.Timestamp(through).date().isoformat()}
    if counts.empty:
        return {**searched, "days": 0, "runs": []}
    counts = counts.assign(day=pd.to_datetime(counts["day"]))
    usual_start = recent_start - pd.Timedelta(days=USUAL_DAYS)
    open_days = {segment: pd.DatetimeIndex(days.unique()) for segment, days in counts.groupby("segment_id")["day"]}
    runs: list[dict] = []
    for (segment, measure), rows in counts.groupby(["segment_id", "measure"], sort=True):
        days, held = open_days[segment], pd.DatetimeIndex(rows["day"].unique())
        before = days[(days >= usual_start) & (days < recent_start)]
        usual = rows[(rows["day"] >= usual_start) & (rows["day"] < recent_start)]
        if len(before) < USUAL_DAYS // 2 or usual.empty:
            continue  # too few days to know what is usual, or a measure it has not been sending
        absent = (len(before) - before.isin(held).sum() + 1) / (len(before) + 2)
        day_chance = max(absent, math.exp(-float(usual["event_count"].astype(float).mean())))
        missing = days[(days >= recent_start) & (days <= pd.Timestamp(through)) & ~days.isin(held)].sort_values()
        runs += [{"measure": measure, "segment_id": segment, "start": first.date().isoformat(),
                  "end": last.date().isoformat(), "days": length}
                 for first, last, length in day_runs(missing) if day_chance ** length < GAP_CHANCE]
    runs.sort(key=lambda run: (run["end"], run["segment_id"], run["measure"]), reverse=True)
    return {**searched, "days": sum(run["days"] for run in runs), "runs": runs[:max_runs]}
