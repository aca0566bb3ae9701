"""Is a change beyond a metric's normal variation? One rule, read by the drift stage and the briefing alike."""

from __future__ import annotations

import numpy as np

from models.robust import robust_spread

MATERIAL_Z = 3.0        # |z| of the change against history's changes (3: noise across many metrics stays quiet)
MIN_CHANGES = 4         # history changes needed before judging materiality
# A spread over a long lag from a handful of changes is a guess: five weeks of a growing budget's year-on-year
# changes within 440 of each other (a median absolute deviation needs only three close values) made a year's
# +8,561 a "z -7.9" while its weeks swing by thousands. That spread is shrunk toward a noise scale read from the
# changes over the short lag (one period, or a week of days), which are many, as if those were this many changes
# more. The scale is of those changes' own changes, over the square root of 3 (for noise alone the same as the
# short changes' spread: a second difference has three times a change's variance, so a level's drift and a
# season's swing, which the short changes carry, are mostly gone): a campus's monthly energy swings a third with
# the seasons, and a building's chiller fault of +16% on a year before was "z 2.5" against the months' swings.
# Simulated (20 months, yearly swing 30%, noise 3%, 400 series): a +15% year on year found 3% -> 49% of the
# time, a false alarm 0% -> 1%; without a season or with 8% noise both stay within 2 points of before.
PRIOR_CHANGES = 4
# A change within this share of the metric's level is the rounding of its inputs, however steady its history: a
# price of 0.33 EUR/kWh summed from costs written to four decimals moved by 0.0000002 in a month, "z -5.0"
# against months that moved by less.
ROUNDING_SHARE = 1e-6


def change_materiality(history, delta: float, lag: int = 1, short_lag: int = 1,
                       threshold: float = MATERIAL_Z) -> tuple[float | None, str]:
    """Robust z of a change against the history's own changes over the same distance.

    Parameters
    ----------
    history : array_like
        The metric's complete periods before the current one, oldest first (NaN where a
        period has no value; changes across it are left out).
    delta : float
        The change to judge: current value minus the baseline's.
    lag : int, default 1
        Periods between baseline and current (1: the previous period; 52 weeks or 12
        months: a year). With fewer than ``MIN_CHANGES`` changes at that lag, changes
        over one period stand in.
    short_lag : int, default 1
        The lag whose changes steady the spread of a longer lag's few (``PRIOR_CHANGES``, from the spread of
        their own changes over the same lag, over the square root of 3): one period, or seven for days, whose
        changes from one day to the next are the weekday cycle's.
    threshold : float, default MATERIAL_Z
        The ``|z|`` beyond which a change is material.

    Returns
    -------
    z : float or None
        ``(delta - median) / spread`` of the history's changes (spread: 1.4826 times
        their median absolute deviation, see :func:`models.robust.robust_spread`; over a
        long lag, its square averaged with the short lag's spread's, weighted by the
        number of changes and ``PRIOR_CHANGES``); None when there are too few of them or
        they never vary.
    verdict : str
        ``material`` when ``|z| > threshold`` (or, against changes that never vary,
        when ``delta`` differs from them) and ``delta`` differs from their median by more than
        ``ROUNDING_SHARE`` of the history's median level, ``normal variation`` otherwise,
        ``unknown`` with fewer than ``MIN_CHANGES`` changes.
    """
    values = np.asarray(history, dtype=float)
    changes, lag = _judged_changes(values, lag)
    if len(changes) < MIN_CHANGES or not np.isfinite(delta):
        return None, "unknown"
    centre = float(np.median(changes))
    spread = robust_spread(changes, centre)
    short = _changes(values, short_lag) if lag > short_lag else np.empty(0)
    second = short[short_lag:] - short[:-short_lag] if len(short) > short_lag else np.empty(0)
    if len(second) >= MIN_CHANGES:
        prior = robust_spread(second, float(np.median(second))) / np.sqrt(3.0)
        spread = float(np.sqrt((len(changes) * spread ** 2 + PRIOR_CHANGES * prior ** 2) / (len(changes) + PRIOR_CHANGES)))
    known = values[np.isfinite(values)]
    rounding = abs(delta - centre) <= ROUNDING_SHARE * float(np.median(np.abs(known)))
    if spread == 0:
        return None, "material" if not rounding else "normal variation"
    z = (delta - centre) / spread
    return float(z), "material" if abs(z) > threshold and not rounding else "normal variation"


def usual_change(history, lag: int = 1) -> float | None:
    """The median of the history's changes that :func:`change_materiality` judges a change against (None with
    too few): what a year's change usually is, for a change that is unusual for being small."""
    changes, _ = _judged_changes(np.asarray(history, dtype=float), lag)
    return float(np.median(changes)) if len(changes) >= MIN_CHANGES else None


def _judged_changes(values: np.ndarray, lag: int) -> tuple[np.ndarray, int]:
    """The changes over ``lag`` periods, or over one when there are too few of those, and the lag used."""
    if lag < 1:
        raise ValueError(f"lag must be at least 1, got {lag}")
    changes = _changes(values, lag)
    return (changes, lag) if len(changes) >= MIN_CHANGES else (_changes(values, 1), 1)


def _changes(values: np.ndarray, lag: int) -> np.ndarray:
    """``values[i] - values[i - lag]`` where both are known."""
    diffs = values[lag:] - values[:-lag] if len(values) > lag else np.empty(0)
    return diffs[~np.isnan(diffs)]
