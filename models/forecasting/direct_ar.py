"""Direct multi-horizon autoregression on ratios to the last value (ridge).

For each horizon h a separate linear model maps the last ``lags`` values,
expressed relative to the latest one, to the value h steps ahead relative to the
latest one. Working relative to the last value makes the model level-free (it
re-anchors after level shifts), and with ``lags`` covering one full seasonal
cycle it learns the seasonal profile and the local trend together. Positive
series are modelled in logs (ratios) unless differences fit them clearly better
in sample; others on a scale-free additive basis.

Why our own code rather than statsmodels: statsmodels has no direct
multi-horizon regression, and on M4 Weekly this model scores OWA ≈ 0.73 where
the best combination of statsmodels' damped ETS, Theta, SES and naive scores
≈ 0.90 (``budgetlens bench m4``). Being direct, every horizon's in-sample
residuals are genuine h-step errors, which gives the intervals without
simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

# Ridge penalty relative to the mean feature variance: small, only to keep the
# solve stable when lags are collinear (flat stretches, exact seasonality).
RELATIVE_PENALTY = 1e-3
# A positive series is modelled on differences instead of ratios only when their in-sample error is below
# this share of the ratios' (chosen after measuring M4 with and without it; see fit_direct_ar).
ADDITIVE_MARGIN = 0.9


@dataclass(frozen=True)
class DirectAR:
    lags: int
    log: bool
    scale: float
    coef: np.ndarray  # (lags, horizon): lags-1 relative lags + intercept
    residuals: np.ndarray  # (windows, horizon) in-sample h-step errors, transformed scale

    def predict(self, y: np.ndarray) -> np.ndarray:
        """Point forecast (original scale) from the end of ``y``."""
        return self._inverse(self._centre(y))

    def quantiles(self, y: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """Forecast quantiles (len(probabilities) × horizon) from the empirical h-step errors."""
        spread = np.quantile(self.residuals, probabilities, axis=0)
        return self._inverse(self._centre(y)[None, :] + spread)

    def error_paths(self, y: np.ndarray) -> np.ndarray:
        """One future path per historical window (windows × horizon): the centre plus that
        window's joint h-step errors, so sums over the horizon keep their correlation."""
        return self._inverse(self._centre(y)[None, :] + self.residuals)

    def _centre(self, y: np.ndarray) -> np.ndarray:
        z = self._transform(y)
        return z[-1] + (self._features(z[-self.lags:][None, :]) @ self.coef)[0]

    def _transform(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, float)
        return np.log(y) if self.log else y / self.scale

    def _inverse(self, z: np.ndarray) -> np.ndarray:
        return np.exp(z) if self.log else z * self.scale

    @staticmethod
    def _features(windows: np.ndarray) -> np.ndarray:
        relative = windows[:, :-1] - windows[:, -1:]
        return np.hstack([relative, np.ones((len(windows), 1))])


def min_length(lags: int, horizon: int) -> int:
    """Shortest history that leaves at least two windows per coefficient and as many as the horizon.

    With fewer windows than steps ahead, every window of the longest steps comes from one stretch
    barely longer than the horizon: on simulated daily series with 60 / 90 / 120 days of history and
    a horizon of half that (``budgetlens bench intervals``), the median of the other models beat the
    direct AR in MASE on 17 of 21 series kinds and in MSIS on 17, and the 95% interval of the
    horizon's total covered a random walk's 41-55% of the time against 94-97%. Histories long enough
    for two windows per coefficient at M4's horizons are not affected.
    """
    return lags + horizon + max(2 * lags, horizon)


def fit_direct_ar(y: np.ndarray, lags: int, horizon: int) -> DirectAR:
    """Fit one ridge regression per horizon on every window of the history.

    Parameters
    ----------
    y : array of float
        History, oldest first, at least :func:`min_length` long, finite.
    lags : int
        Window length (one seasonal cycle plus one is a good default).
    horizon : int
        Steps ahead.

    Returns
    -------
    DirectAR

    Notes
    -----
    A positive series is fitted twice, on ratios (logs) and on differences, and keeps ratios unless the
    differences' in-sample error is below ``ADDITIVE_MARGIN`` of theirs. On simulated daily series with a
    linear trend (``budgetlens bench intervals --history 700 --horizon 90``) ratios alone gave MASE 2.24
    and a 95% interval of the 90-day total that held it 62% of the times; with the choice 0.74 and 95%.
    M4 OWA Weekly 0.722 -> 0.726, Hourly 0.457 -> 0.456 (without the margin: 0.736 and 0.449).
    """
    y = np.asarray(y, float)
    if lags < 2 or horizon < 1:
        raise ValueError(f"lags must be >= 2 and horizon >= 1, got {lags} and {horizon}")
    if len(y) < min_length(lags, horizon):
        raise ValueError(f"direct AR with {lags} lags and horizon {horizon} needs {min_length(lags, horizon)} points, got {len(y)}")
    scale = float(np.mean(np.abs(y))) or 1.0
    additive = _fit(y, lags, horizon, False, scale)
    if not np.all(y > 0):
        return additive
    ratios = _fit(y, lags, horizon, True, 1.0)
    # Ratios suit growth that compounds; a trend that adds the same amount each step, read as ratios, keeps the
    # growth rate of its early, lower levels and overshoots. Additive only when it fits clearly better.
    return additive if _in_sample_error(additive, y) < ADDITIVE_MARGIN * _in_sample_error(ratios, y) else ratios


def _fit(y: np.ndarray, lags: int, horizon: int, log: bool, scale: float) -> DirectAR:
    z = np.log(y) if log else y / scale
    windows = sliding_window_view(z, lags + horizon)
    inputs, future = windows[:, :lags], windows[:, lags:]
    X = DirectAR._features(inputs)
    Y = future - inputs[:, -1:]
    gram = X.T @ X
    penalty = np.eye(lags) * RELATIVE_PENALTY * (np.trace(gram[:-1, :-1]) / max(lags - 1, 1) or 1.0)
    penalty[-1, -1] = 0.0  # never shrink the intercept (the drift)
    coef = np.linalg.solve(gram + penalty, X.T @ Y)
    residuals = Y - X @ coef
    # In-sample errors understate out-of-sample ones by the degrees of freedom used.
    residuals = residuals * np.sqrt(len(X) / max(len(X) - lags, 1))
    return DirectAR(lags, log, scale, coef, residuals)


def _in_sample_error(model: DirectAR, y: np.ndarray) -> float:
    """Mean symmetric relative h-step error over every window of the history (sMAPE's terms), in the
    series' own units: the same yardstick for ratios and differences."""
    horizon = model.coef.shape[1]
    inputs = sliding_window_view(model._transform(y), model.lags + horizon)[:, :model.lags]
    predicted = model._inverse(inputs[:, -1:] + DirectAR._features(inputs) @ model.coef)
    actual = sliding_window_view(y, model.lags + horizon)[:, model.lags:]
    return float(np.mean(np.abs(predicted - actual) / (np.abs(predicted) + np.abs(actual))))
