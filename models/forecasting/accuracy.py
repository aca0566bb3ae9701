"""Forecast accuracy as the M4 competition scores it (sMAPE, MASE, OWA, MSIS, coverage)."""

from __future__ import annotations

import numpy as np
from statsmodels.tsa.seasonal import seasonal_decompose

from models.forecasting.seasonality import is_seasonal


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE in percent: mean of 200·|y − ŷ| / (|y| + |ŷ|)."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    denominator = np.abs(actual) + np.abs(predicted)
    terms = np.where(denominator == 0, 0.0, 200 * np.abs(actual - predicted) / np.where(denominator == 0, 1, denominator))
    return float(np.mean(terms))


def naive_scale(history: np.ndarray, period: int) -> float:
    """Mean absolute in-sample error of the seasonal naive forecast (MASE's denominator)."""
    history = np.asarray(history, float)
    m = period if len(history) > period else 1
    return float(np.mean(np.abs(history[m:] - history[:-m])))


def mase(history: np.ndarray, actual: np.ndarray, predicted: np.ndarray, period: int) -> float:
    """Mean absolute scaled error against the in-sample seasonal naive."""
    scale = naive_scale(history, period)
    error = float(np.mean(np.abs(np.asarray(actual, float) - np.asarray(predicted, float))))
    return error / scale if scale > 0 else (0.0 if error == 0 else np.inf)


def rmsse(history: np.ndarray, actual: np.ndarray, predicted: np.ndarray, period: int) -> float:
    """Root mean squared scaled error (M5's measure): rewards the mean, which sums and plans need."""
    history = np.asarray(history, float)
    m = period if len(history) > period else 1
    scale = float(np.mean((history[m:] - history[:-m]) ** 2))
    error = float(np.mean((np.asarray(actual, float) - np.asarray(predicted, float)) ** 2))
    return float(np.sqrt(error / scale)) if scale > 0 else (0.0 if error == 0 else np.inf)


def interval_score(actual, lower, upper, alpha: float = 0.05) -> np.ndarray:
    """Interval score of a (1 − alpha) interval: its width plus 2/alpha times how far the actual falls outside."""
    actual, lower, upper = (np.asarray(a, float) for a in (actual, lower, upper))
    return (upper - lower) + 2 / alpha * (lower - actual) * (actual < lower) + 2 / alpha * (actual - upper) * (actual > upper)


def msis(history, actual, lower, upper, period: int, alpha: float = 0.05) -> float:
    """Mean scaled interval score of a (1 − alpha) interval."""
    scale = naive_scale(history, period)
    return float(np.mean(interval_score(actual, lower, upper, alpha))) / scale if scale > 0 else np.inf


def coverage(actual, lower, upper) -> float:
    """Share of actual values inside [lower, upper]."""
    actual = np.asarray(actual, float)
    return float(np.mean((actual >= np.asarray(lower, float)) & (actual <= np.asarray(upper, float))))


def naive2(history: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """M4's Naive2 benchmark: naive on the series seasonally adjusted by classical
    multiplicative decomposition when the 90% seasonality test passes."""
    history = np.asarray(history, float)
    n = len(history)
    if period > 1 and is_seasonal(history, period) and np.all(history > 0):
        index = seasonal_decompose(history, model="multiplicative", period=period).seasonal[:period]
        adjusted = history / index[np.arange(n) % period]
        return adjusted[-1] * index[np.arange(n, n + horizon) % period]
    return np.repeat(history[-1], horizon)


def owa(smape_value: float, mase_value: float, smape_naive2: float, mase_naive2: float) -> float:
    """Overall weighted average: ½·(sMAPE/sMAPE_Naive2 + MASE/MASE_Naive2)."""
    return 0.5 * (smape_value / smape_naive2 + mase_value / mase_naive2)
