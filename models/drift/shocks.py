"""Event shocks: days that break from both the level before and the level after them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.robust import nan_row_medians, robust_spread

WINDOW = 28           # days of level on each side (medians, so a shock shorter than two weeks cannot move them)
MIN_SIDE = 7          # days needed to judge one side; with fewer after a day, only the level before counts
WEEK = 7
# Days with values needed for the level of the week before a day: most of it, so that a shop closed on Sundays
# (six) or at weekends (five) has one (with all seven needed it never had, and a level raised mid-month was
# judged by the level before alone: a depot's late rate up from 6% to 20% on the 20th read as "unexplained
# shock 2026-10-24..2026-10-28")
MIN_WEEK_DAYS = 4
THRESHOLD = 4.0       # robust z beyond which a deviation is a shock


@dataclass(frozen=True)
class Shock:
    """A run of consecutive shock days with its abnormal part per day (in the series' units)."""

    first: pd.Timestamp
    last: pd.Timestamp
    abnormal: pd.Series       # day -> value minus the level expected from the days before
    peak_z: float


def shock_days(z: pd.Series, profile_expected: pd.Series, y: pd.Series, candidates: pd.DatetimeIndex,
               multiplicative: bool) -> pd.DataFrame:
    """Flag shock days among ``candidates`` with a two-sided robust residual test.

    Parameters
    ----------
    z : Series
        The deseasonalised daily series (full calendar index, NaN where missing).
    profile_expected : Series
        Weekday factor of each day (1 or 0 when there is no weekly pattern).
    y : Series
        The raw daily series, same index.
    candidates : DatetimeIndex
        Days that may be flagged (the two periods being compared).
    multiplicative : bool
        Whether the weekday factor multiplies (True) or adds to the level.

    Returns
    -------
    DataFrame
        Indexed by flagged day: ``abnormal`` (raw value minus the expected
        value from the nearer of the levels before and after it, the level
        before alone near the series' end) and ``z`` (robust z-score; of a
        positive series, of its deviations as shares of the level). Near the
        end a day must also break from the week before it (the level after it
        unknown yet).
    """
    # numpy throughout: the engine tests ~900 series a run, and pandas' per-operation overhead was most of
    # this function's 1.5 ms a call (0.4 ms now, measured; same numbers to the bit)
    values = z.to_numpy(float)
    before = _trailing_median(values)
    after = _trailing_median(values[::-1])[::-1]
    week = _trailing_median(values, WEEK, MIN_WEEK_DAYS)
    # A positive series' noise grows with its level: deviations are judged as shares of the level, else a GPU
    # cluster left running at three times the cost made its own noise "unexplained shocks" against the spread
    # of the old level's days (measured on a cloud bill: a +591 USD shock on an ordinary day of the new level).
    known = values[~np.isnan(values)]
    relative = known.size > 0 and bool((known > 0).all())

    def off(level: np.ndarray) -> np.ndarray:
        return values / level - 1.0 if relative else values - level

    deviation = off(before)
    usable = deviation[~np.isnan(deviation)]
    if usable.size == 0:
        return pd.DataFrame(columns=["abnormal", "z"])
    centre = float(np.median(usable))
    scale = robust_spread(usable, centre)
    # A constant series has no spread: any departure from it at all is a shock.
    scale = scale if scale > 0 else 1e-9 * (1.0 if relative else max(1.0, float(np.nanmax(np.abs(values)))))
    robust = (deviation - centre) / scale
    later = (off(after) - centre) / scale
    # near the end, where the level after is not known yet, the level of the week before stands in for it: a
    # price raised mid-month is the new level by its last days, not a shock of theirs (the level of the 28 days
    # before, mostly the old price, said it was: "unexplained shock 2026-10-25..2026-10-28"); a spike or an
    # outage of the last days breaks from that week too
    recent = (off(week) - centre) / scale
    also = np.where(np.isnan(after), recent, later)
    flagged = (np.abs(robust) > THRESHOLD) & (
        np.isnan(also) | ((np.abs(also) > THRESHOLD) & (np.sign(also) == np.sign(robust))))
    flagged &= z.index.isin(candidates)
    # The abnormal part is measured from the nearer of the two levels: when the level itself shifts at the
    # same time (a segment gone, a price change), the shift is not the shock's, and the other factors get it.
    level = before[flagged]
    if np.isfinite(after[flagged]).any():
        other = np.where(np.isnan(after[flagged]), level, after[flagged])
        level = np.where(robust[flagged] < 0, np.minimum(level, other), np.maximum(level, other))
    factors = profile_expected.to_numpy(float)[flagged]
    expected = level * factors if multiplicative else level + factors
    return pd.DataFrame({"abnormal": y.to_numpy(float)[flagged] - expected, "z": robust[flagged]},
                        index=z.index[flagged])


def _trailing_median(values: np.ndarray, window: int = WINDOW, least: int = MIN_SIDE) -> np.ndarray:
    """Median of the ``window`` values before each position, NaN skipped; NaN with fewer than ``least``.

    The same numbers as pandas' ``shift(1).rolling(window, min_periods=least).median()``: the mean of the
    two middle values of the sorted window (:func:`models.robust.nan_row_medians`).
    """
    padded = np.concatenate([np.full(window, np.nan), values])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)[:len(values)]
    counts = window - np.isnan(windows).sum(axis=1)
    return np.where(counts >= least, nan_row_medians(windows), np.nan)


def group_shocks(flags: pd.DataFrame) -> list[Shock]:
    """Consecutive flagged days (at most one quiet day between) that break the same way form one shock
    (``flags`` sorted by day): a dip and the surge the day after (Thanksgiving, then Black Friday) are two."""
    # positional slices of arrays between the gaps: label lookups of each run's days were most of the drift
    # engine's shock time (1.3 ms a call, ~1,700 calls a run at 10M events), then DataFrame.iloc per run
    # (0.4 s of the step; measured)
    if flags.empty:
        return []
    days = flags.index.to_numpy("datetime64[D]").astype(np.int64)
    index, abnormal, z = flags.index, flags["abnormal"].to_numpy(float), np.abs(flags["z"].to_numpy(float))
    turns = np.sign(flags["z"].to_numpy(float))
    bounds = [0, *(np.flatnonzero((np.diff(days) > 2) | (turns[1:] != turns[:-1])) + 1), len(days)]
    return [Shock(index[a], index[b - 1], pd.Series(abnormal[a:b], index=index[a:b]), float(z[a:b].max()))
            for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def match_event(shock: Shock, events: list[dict]) -> dict | None:
    """The known event whose dates touch the shock, nearest start first: a declared event with a day of slack
    either side (its dates are the owner's, often a day off), a public holiday on its own date only (the
    day after Thanksgiving is not Thanksgiving)."""
    hits = []
    for event in events:
        start = pd.Timestamp(event["date"])
        end = pd.Timestamp(event.get("end_date") or event["date"])
        slack = pd.Timedelta(days=0 if event.get("kind") == "holiday" else 1)
        if start <= shock.last + slack and end >= shock.first - slack:
            hits.append((abs((start - shock.first).days), event["name"], event))
    return min(hits, key=lambda h: (h[0], h[1]))[2] if hits else None
