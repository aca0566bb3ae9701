"""Which seasonal periods a series actually shows."""

from __future__ import annotations

import numpy as np
from statsmodels.tsa.stattools import acf


def is_seasonal(y: np.ndarray, period: int, z: float = 1.645) -> bool:
    """The M4 competition's seasonality test: autocorrelation at lag ``period``.

    Parameters
    ----------
    y : array of float
        The series, oldest first.
    period : int
        Candidate period (e.g. 7 for daily data with a weekly cycle).
    z : float
        Normal quantile of the test (1.645 = 90%, as in M4).

    Returns
    -------
    bool
        True when the series is long enough (three full periods) and the
        autocorrelation at ``period`` exceeds its Bartlett limit.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    if period < 2 or n < 3 * period or np.ptp(y) == 0:
        return False
    r = acf(y, nlags=period, fft=True)
    limit = z * np.sqrt((1 + 2 * np.sum(r[1:period] ** 2)) / n)
    return bool(abs(r[period]) > limit)


def seasonal_periods(y: np.ndarray, candidates: tuple[int, ...]) -> tuple[int, ...]:
    """The candidate periods that pass :func:`is_seasonal`, shortest first."""
    return tuple(p for p in sorted(set(candidates)) if is_seasonal(y, p))
