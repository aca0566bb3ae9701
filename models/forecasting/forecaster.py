"""Forecast one series: choose among candidate models by out-of-sample error.

Long histories (a full seasonal cycle of lags, with two observations per
coefficient) get the direct autoregression. Shorter ones choose by holdout:
every eligible candidate (classical models, and the direct AR on its short
fallback lags when the data before the holdout can fit it) forecasts the last
stretch of history from the data before it, and the one with the lowest RMSSE
(squared error, so the mean wins over the median: intermittent series are not
forecast as all zeros) forecasts the future. Intervals are the chosen model's
own (empirical h-step errors for the direct AR, state-space variances for ETS, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm

from models.forecasting import candidates
from models.forecasting.accuracy import rmsse
from models.forecasting.direct_ar import fit_direct_ar, min_length
from models.forecasting.seasonality import seasonal_periods

# Quantiles reported: 95% and 80% central intervals.
PROBABILITIES = np.array([0.025, 0.10, 0.90, 0.975])
POINT_ONLY = np.empty(0)  # no quantiles: a candidate's point forecast alone
# A series is intermittent when at least this share of its values are zero.
INTERMITTENT_SHARE = 0.3


@dataclass(frozen=True)
class Forecast:
    """Point forecast and central intervals, one value per step ahead."""

    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    method: str
    period: int
    holdout_rmsse: dict[str, float] = field(default_factory=dict)
    paths: np.ndarray | None = None  # (draws × horizon) joint future paths when asked for


def _direct_ar(lags: int):
    def run(y, horizon, period, probabilities):
        model = fit_direct_ar(y, lags, horizon)
        return model.predict(y), model.quantiles(y, probabilities)

    run.paths = lambda y, horizon: fit_direct_ar(y, lags, horizon).error_paths(y)
    return run


def _sample_paths(found, best, y, horizon, mean, lo95, hi95, draws: int, seed: int) -> np.ndarray:
    """Joint future paths: the direct AR's own h-step error windows, resampled; for other
    models a split normal through the 95% bounds, one shared draw per path (errors of
    level-type models persist across steps, so a path stays on its side of the mean)."""
    rng = np.random.default_rng(seed)
    sampler = getattr(found.get(best), "paths", None)
    if sampler is not None:
        pool = sampler(y, horizon)
        return pool[rng.integers(0, len(pool), size=draws)]
    z = norm.ppf(rng.uniform(0.0005, 0.9995, size=draws))[:, None]
    low, high = (mean - lo95) / 1.96, (hi95 - mean) / 1.96
    return mean[None, :] + np.where(z < 0, z * low[None, :], z * high[None, :])


def _ar_lags(n: int, horizon: int, periods: tuple[int, ...]) -> int | None:
    """One full cycle of the longest candidate period the history supports."""
    fitting = [p + 1 for p in sorted(periods, reverse=True) if p > 1 and n >= min_length(p + 1, horizon)]
    if fitting:
        return fitting[0]
    lags = max(horizon, 4) + 1
    return lags if n >= min_length(lags, horizon) else None


def _seasonal_lags(n: int, horizon: int, periods: tuple[int, ...]) -> bool:
    """Whether the direct AR's lags span a full seasonal cycle (not the short fallback)."""
    lags = _ar_lags(n, horizon, periods)
    return lags is not None and lags - 1 in periods


def _clean(y) -> np.ndarray:
    y = np.asarray(y, dtype=float).ravel()
    if np.isinf(y).any():
        raise ValueError("series contains infinite values")
    finite = np.flatnonzero(np.isfinite(y))
    if len(finite) == 0:
        raise ValueError("series has no finite values")
    y = y[finite[0]:]
    missing = np.isnan(y)
    if missing.any():  # gaps inside the history: interpolate linearly
        index = np.arange(len(y))
        y[missing] = np.interp(index[missing], index[~missing], y[~missing])
    return y


def _candidates(y: np.ndarray, horizon: int, periods: tuple[int, ...]):
    n = len(y)
    nonnegative = bool(np.all(y >= 0))
    if nonnegative and np.mean(y == 0) >= INTERMITTENT_SHARE:
        return {"croston_sba": candidates.croston_sba, "seasonal_naive": candidates.seasonal_naive}
    found = {"seasonal_naive": candidates.seasonal_naive}
    if n >= 10:
        found["damped_ets"] = candidates.damped_ets
        found["theta"] = candidates.theta
    lags = _ar_lags(n, horizon, periods)
    if lags is not None:
        found["direct_ar"] = _direct_ar(lags)
    return found


def forecast(y, horizon: int, periods: tuple[int, ...] = (), *, paths: int = 0, seed: int = 0) -> Forecast:
    """Forecast ``horizon`` steps of one series with 80% and 95% intervals.

    Parameters
    ----------
    y : array-like of float
        History, oldest first, evenly spaced. Leading missing values are
        dropped, inner ones interpolated; infinities are rejected.
    horizon : int
        Number of steps to forecast (>= 1).
    periods : tuple of int
        Candidate seasonal periods for the data's frequency (e.g. ``(7, 365)``
        for daily data); each is tested on the data before it is used.
    paths : int
        When positive, also draw this many joint future paths (for sums over
        the horizon and probabilities of reaching a goal), seeded by ``seed``.

    Returns
    -------
    Forecast
        Non-negative series get non-negative forecasts and bounds.
    """
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    horizon = int(horizon)
    y = _clean(y)
    n = len(y)
    detected = seasonal_periods(y, periods)
    season = detected[-1] if detected else 1
    if n == 1 or np.ptp(y) == 0:
        flat = np.repeat(y[-1], horizon)
        return Forecast(flat, flat, flat, flat, flat, "constant", season,
                        paths=np.tile(flat, (paths, 1)) if paths > 0 else None)

    found = _candidates(y, horizon, periods)
    scores: dict[str, float] = {}
    if "direct_ar" in found and _seasonal_lags(n, horizon, periods):
        # Enough history for a full seasonal cycle of lags: the direct AR wins
        # on average by a margin a single holdout window is too noisy to
        # overrule (M4 Weekly OWA 0.73 alone vs 0.78 with holdout selection).
        # On its short fallback lags it must earn its place in the holdout:
        # forced there, it scored M4 Weekly OWA 1.336 from the last 60 points
        # and 1.002 from the last 100 (0.973 and 0.932 chosen by holdout).
        best = "direct_ar"
    else:
        scores = _holdout_scores(y, horizon, periods, season, found) if len(found) > 1 else {}
        best = min(scores, key=scores.get) if scores else "seasonal_naive"
    best, mean, quantiles = _run(found, best, y, horizon, season)
    nonnegative = bool(np.all(y >= 0))
    if nonnegative:
        mean, quantiles = np.maximum(mean, 0), np.maximum(quantiles, 0)
    lo95, lo80, hi80, hi95 = quantiles
    lo80, hi80 = np.minimum(lo80, mean), np.maximum(hi80, mean)
    lo95, hi95 = np.minimum(lo95, lo80), np.maximum(hi95, hi80)
    sampled = None
    if paths > 0:
        sampled = _sample_paths(found, best, y, horizon, mean, lo95, hi95, paths, seed)
        sampled = np.maximum(sampled, 0) if nonnegative else sampled
    return Forecast(mean, lo80, hi80, lo95, hi95, best, season, scores, sampled)


def _run(found, name, y, horizon, season):
    try:
        return (name, *found[name](y, horizon, season, PROBABILITIES))
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        return ("seasonal_naive", *candidates.seasonal_naive(y, horizon, season, PROBABILITIES))


def _holdout_scores(y, horizon, periods, season, found) -> dict[str, float]:
    """RMSSE of each candidate on the last stretch of history, fitted on what precedes it."""
    validation = min(horizon, len(y) // 4)
    if validation < 1:
        return {}
    train, actual = y[:-validation], y[-validation:]
    scores = {}
    for name, run in _candidates(train, validation, periods).items():
        if name not in found:
            continue
        try:
            predicted, _ = run(train, validation, season, POINT_ONLY)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            continue
        score = rmsse(train, actual, predicted, season)
        if np.isfinite(score):
            scores[name] = float(score)
    return scores
