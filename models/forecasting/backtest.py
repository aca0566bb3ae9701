"""Rolling-origin backtest: how the forecaster would have done on a series' own past."""

from __future__ import annotations

import numpy as np

from models.forecasting.accuracy import mase
from models.forecasting.candidates import seasonal_naive
from models.forecasting.forecaster import PROBABILITIES, forecast


def rolling_origin(y, horizon: int, periods: tuple[int, ...], origins: int = 4,
                   min_history: int = 8) -> list[tuple[float, float]]:
    """MASE of the forecaster and of the seasonal naive at the last ``origins`` origins.

    Origins step back one horizon at a time; each forecast sees only the data
    before its origin. The scale is the in-sample one-step naive error, so the
    two MASEs of an origin are directly comparable (ratio < 1: the forecaster
    beats the seasonal naive).

    Returns
    -------
    list of (forecaster MASE, seasonal naive MASE), oldest origin first.
    """
    y = np.asarray(y, float)
    y = y[np.isfinite(y)]
    season = max((p for p in periods if len(y) > 2 * p), default=1)
    scores = []
    for k in range(origins, 0, -1):
        cut = len(y) - k * horizon
        if cut < min_history:
            continue
        history, actual = y[:cut], y[cut:cut + horizon]
        predicted = forecast(history, len(actual), periods).mean
        naive, _ = seasonal_naive(history, len(actual), season, PROBABILITIES)
        scores.append((mase(history, actual, predicted, 1), mase(history, actual, naive, 1)))
    return [s for s in scores if all(np.isfinite(s))]
