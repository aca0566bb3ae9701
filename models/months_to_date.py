"""The months ahead of a summed metric as its days so far say.

A month's forecast is made from the complete months, blind to the days of the month in progress: on the 22nd
of a month a cloud bill whose GPU cluster had run at three times its cost for ten days was still forecast at
$43,404 for the month, with $37,536 spent already, while the allocation line above it projected $53,768. The
month in progress is its observed days plus the daily forecast of the rest, path by path; the later months are
the monthly forecast scaled by how the month in progress is going against it, as a goal's whole months are
(:func:`models.goals._whole_months`, where that choice is measured).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from models.goals import month_in_progress, whole_months_usable
from models.projections import SeriesForecast

QUANTILES = (0.1, 0.9, 0.025, 0.975)  # lo80, hi80, lo95, hi95
SCALED = "scaled by the month in progress"  # how a later month's method says so (the briefing reads it)


def months_to_date(monthly: SeriesForecast, daily: SeriesForecast, observed: pd.DataFrame,
                   today: dt.date) -> list[dict]:
    """The month holding ``today`` and the months after it, conditioned on that month's observed days.

    Parameters
    ----------
    monthly, daily : SeriesForecast
        The metric's monthly forecast (from the last complete month) and its daily forecast (from ``today``),
        with simulated paths.
    observed : DataFrame
        The metric's daily values (``period_start``, ``value``); a day without a row counts as 0.
    today : datetime.date
        The last day of data.

    Returns
    -------
    list of dict
        Per month: ``period_start``, ``observed_to_date`` (the month in progress only, else None), ``value``
        (the mean), ``lo80``, ``hi80``, ``lo95``, ``hi95`` and ``scale`` (the month in progress's projection
        over the monthly forecast of it). The later months only when :func:`models.goals.whole_months_usable`;
        empty when the month holding ``today`` is complete or is not forecast.
    """
    progress = month_in_progress(monthly, daily, observed, today)
    if progress is None:
        return []
    first = today.replace(day=1)
    scaled = whole_months_usable(monthly, len(progress.ratios))
    rows = []
    for step, start in enumerate(monthly.starts):
        if start < first or (start > first and not scaled):
            continue
        paths = monthly.mean[step] if start == first else monthly.paths[:, step]
        lo80, hi80, lo95, hi95 = np.quantile(paths * progress.ratios, QUANTILES)
        rows.append({"period_start": start, "observed_to_date": progress.seen if start == first else None,
                     "value": float(progress.ratio * monthly.mean[step]), "lo80": float(lo80), "hi80": float(hi80),
                     "lo95": float(lo95), "hi95": float(hi95), "scale": float(progress.ratio)})
    return rows
