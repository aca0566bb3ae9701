"""Response curves: how a lever's spend turns into outcome, estimated from history.

Two forms, both linear in their parameters so ordinary least squares
(statsmodels) estimates them with a covariance for intervals:

- ``linear``: outcome = intercept + slope * spend
- ``log`` (diminishing returns): outcome = intercept + slope * ln(1 + spend / scale),
  with ``scale`` fixed at the median historical spend.

:func:`fit_response` picks the form with the lower AIC.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from statsmodels.regression.linear_model import OLS
from statsmodels.tools.tools import add_constant

MIN_OBSERVATIONS = 6


@dataclass(frozen=True)
class ResponseCurve:
    form: str  # "linear" or "log"
    intercept: float
    slope: float
    scale: float = 1.0
    cov: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))
    n: int = 0
    aic: float | None = None

    @classmethod
    def linear(cls, slope: float, intercept: float = 0.0) -> "ResponseCurve":
        """A known linear yield (no estimation uncertainty), e.g. one new patient per 80 spent."""
        return cls("linear", intercept, slope)

    def feature(self, spend):
        spend = np.asarray(spend, dtype=float)
        return spend if self.form == "linear" else np.log1p(spend / self.scale)

    def predict(self, spend, params: np.ndarray | None = None):
        intercept, slope = (self.intercept, self.slope) if params is None else params
        return intercept + slope * self.feature(spend)

    def marginal(self, spend):
        """d outcome / d spend: the slope, or for diminishing returns ``slope / (scale + spend)``."""
        spend = np.asarray(spend, dtype=float)
        return np.full_like(spend, self.slope) if self.form == "linear" else self.slope / (self.scale + spend)

    def slope_interval(self, level: float = 0.95) -> tuple[float, float]:
        from scipy.stats import norm

        half = norm.ppf(0.5 + level / 2) * np.sqrt(self.cov[1][1])
        return self.slope - half, self.slope + half


def _ols(feature: np.ndarray, outcome: np.ndarray):
    return OLS(outcome, add_constant(feature, has_constant="add")).fit()


def fit_response(spend, outcome) -> ResponseCurve:
    """Estimate a lever's response curve from paired history (e.g. weekly spend and customers).

    Parameters
    ----------
    spend, outcome : array-like
        Observations of the lever and its outcome, same length, at least six.

    Returns
    -------
    ResponseCurve
        The form (linear or log) with the lower AIC, its coefficients and their covariance.

    Raises
    ------
    ValueError
        Too few observations, non-finite or negative spend, or spend that never varies.
    """
    spend = np.asarray(spend, dtype=float)
    outcome = np.asarray(outcome, dtype=float)
    if spend.shape != outcome.shape or spend.ndim != 1:
        raise ValueError("spend and outcome must be one-dimensional and of the same length")
    keep = np.isfinite(spend) & np.isfinite(outcome)
    spend, outcome = spend[keep], outcome[keep]
    if len(spend) < MIN_OBSERVATIONS:
        raise ValueError(f"need at least {MIN_OBSERVATIONS} observations with both values, got {len(spend)}")
    if (spend < 0).any():
        raise ValueError("spend must not be negative")
    if np.ptp(spend) == 0:
        raise ValueError("spend never varies: its effect cannot be estimated")
    scale = float(np.median(spend[spend > 0])) if (spend > 0).any() else 1.0
    candidates = []
    for form in ("linear", "log"):
        curve = ResponseCurve(form, 0.0, 0.0, scale)
        fit = _ols(curve.feature(spend), outcome)
        cov = np.asarray(fit.cov_params())
        candidates.append(ResponseCurve(form, float(fit.params[0]), float(fit.params[1]), scale,
                                        ((cov[0, 0], cov[0, 1]), (cov[1, 0], cov[1, 1])), len(spend), float(fit.aic)))
    return min(candidates, key=lambda c: c.aic)
