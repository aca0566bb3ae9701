"""Response curves: how a lever's spend turns into outcome, estimated from history.

Two forms, both linear in their parameters so ordinary least squares
(statsmodels) estimates them with a covariance for intervals:

- ``linear``: outcome = intercept + slope * spend
- ``log`` (diminishing returns): outcome = intercept + slope * ln(1 + spend / scale),
  with ``scale`` fixed at the median historical spend.

:func:`fit_response` picks the form with the lower AIC. :func:`fit_responses` fits several levers at once
with a demand they share period by period (a season, a trend) and gives their curves at the next period's.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import null_space
from scipy.stats import f as f_distribution
from statsmodels.regression.linear_model import OLS

from models.forecasting.forecaster import forecast

MIN_OBSERVATIONS = 6
MAX_ROUNDS = 200  # alternating least squares for the shared demand: the probes converged in 30-45 rounds
SHARED_DEMAND_P = 0.05  # a shared demand is read only where it explains the periods beyond chance (F test)


@dataclass(frozen=True)
class ResponseCurve:
    form: str  # "linear" or "log"
    intercept: float
    slope: float
    scale: float = 1.0
    cov: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))
    n: int = 0
    aic: float | None = None
    demand: float = 1.0  # the period's shared demand the curve is at, against the fitted periods' mean

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
    spend, outcome, _ = _usable(spend, outcome)
    return _fit_at(np.ones(len(spend)), spend, outcome)  # a demand of 1 every period: intercept and slope


def fit_responses(periods, segments, spend, outcome) -> tuple[dict[str, ResponseCurve], dict[str, str]]:
    """Estimate several levers' response curves with the demand they share, and give them at the next period's.

    Each period's outcome of lever ``c`` is ``d_t * (intercept_c + slope_c * f_c(spend))``: the curve of
    :func:`fit_response` (its form by AIC) scaled by a demand ``d_t`` common to every lever in period ``t`` (a
    season, a trend, a launch felt everywhere), estimated by alternating least squares with mean 1 over the
    periods, and read only where an F test tells it from chance (``SHARED_DEMAND_P``): where every lever's
    spend follows the season and the outcomes follow the spend, the spend explains the periods. Fitted alone, a
    curve reads the demand as its lever's doing when spend follows the season, and speaks for the fitted
    periods' average demand: weekly customers bought by three channels in a rising season were expected 14-20%
    below what the next week brought (five seeds); with the demand shared and forecast one period on
    (:func:`models.forecasting.forecaster.forecast`), within 3%.

    Parameters
    ----------
    periods : array-like
        Each observation's period (sortable labels; the last is the latest).
    segments : array-like of str
        Each observation's lever.
    spend, outcome : array-like of float
        Each observation's lever value and outcome.

    Returns
    -------
    (dict of segment -> ResponseCurve, dict of segment -> str)
        The curves at the next period's demand (``demand`` its ratio to the fitted periods' mean), and for the
        segments that cannot be fitted (too few observations, a spend that never varies) why not. With fewer
        than two fitted segments, too few observations to spare a demand for each period, or a demand not told
        from chance, every curve is fitted alone (:func:`fit_response`, demand 1).
    """
    frame = pd.DataFrame({"period": np.asarray(periods), "segment": np.asarray(segments, dtype=object),
                          "spend": np.asarray(spend, dtype=float), "outcome": np.asarray(outcome, dtype=float)})
    data, errors = {}, {}
    for segment, rows in frame.groupby("segment", sort=True):
        try:
            x, y, keep = _usable(rows["spend"].to_numpy(), rows["outcome"].to_numpy())
        except ValueError as err:
            errors[segment] = str(err)
            continue
        data[segment] = (rows["period"].to_numpy()[keep], x, y)
    alone = {segment: _fit_at(np.ones(len(y)), x, y) for segment, (_, x, y) in data.items()}
    labels = np.unique(np.concatenate([p for p, _, _ in data.values()])) if data else np.array([])
    n, spare = sum(len(y) for _, _, y in data.values()), len(labels) - 1
    if len(data) < 2 or n - 2 * len(data) - spare < len(data):
        return alone, errors
    index = {segment: np.searchsorted(labels, p) for segment, (p, _, _) in data.items()}
    demand = np.ones(len(labels))
    for _ in range(MAX_ROUNDS):
        fits = {segment: _fit_at(demand[index[segment]], x, y) for segment, (_, x, y) in data.items()}
        # each period's demand given the curves: least squares of the outcomes on what the curves expect
        seen, expected = np.zeros(len(labels)), np.zeros(len(labels))
        for segment, (_, x, y) in data.items():
            at = fits[segment].predict(x)
            np.add.at(seen, index[segment], y * at)
            np.add.at(expected, index[segment], at * at)
        updated = np.where(expected > 0, seen / np.where(expected > 0, expected, 1.0), 1.0)
        updated = np.maximum(updated, 1e-6 * max(updated.max(), 1e-6))  # a demand is positive
        updated /= updated.mean()
        done = np.abs(updated - demand).max() < 1e-9
        demand = updated
        if done:
            break
    fits = {segment: _fit_at(demand[index[segment]], x, y) for segment, (_, x, y) in data.items()}
    if _demand_p_value(data, index, demand, fits, alone) >= SHARED_DEMAND_P:
        return alone, errors
    predicted = forecast(demand, 1)
    ahead, spread = float(predicted.mean[0]), float(predicted.hi95[0] - predicted.lo95[0]) / (2 * 1.959964)
    ahead, spread = (ahead, spread) if np.isfinite(ahead) and ahead > 0 and np.isfinite(spread) else (
        float(demand[-1]), 0.0)
    # the curves' covariance is the joint least squares' (Gauss-Newton, each lever's rows weighted by its own
    # residual variance, the demands held at mean 1), not each curve's given the demands, which read them as
    # known (planted slopes' 95% intervals held 90% of them); the next period's demand is a forecast, whose
    # variance scales the parameters too (the delta method, the two taken as independent)
    joint = _joint_cov(data, index, demand, fits, len(labels))

    def at_ahead(segment: str, fit: ResponseCurve) -> ResponseCurve:
        params = np.array([fit.intercept, fit.slope])
        cov = joint[segment] * ahead ** 2 + spread ** 2 * np.outer(params, params)
        return dataclasses.replace(fit, intercept=fit.intercept * ahead, slope=fit.slope * ahead, demand=ahead,
                                   cov=((cov[0, 0], cov[0, 1]), (cov[1, 0], cov[1, 1])))

    return {segment: at_ahead(segment, fit) for segment, fit in fits.items()}, errors


def _demand_p_value(data: dict, index: dict, demand: np.ndarray, fits: dict, alone: dict) -> float:
    """The F test of a demand shared by the levers against none (every period's demand 1), each lever's rows
    weighted by its residual variance fitted alone."""
    without, within = 0.0, 0.0
    for segment, (_, x, y) in data.items():
        residuals = y - alone[segment].predict(x)
        variance = _variance(residuals)
        without += residuals @ residuals / variance
        shared = y - demand[index[segment]] * fits[segment].predict(x)
        within += shared @ shared / variance
    restrictions = len(demand) - 1
    dof = sum(len(y) for _, _, y in data.values()) - 2 * len(data) - restrictions
    if within <= 0:
        return 0.0
    return float(f_distribution.sf(max(without - within, 0.0) / restrictions / (within / dof), restrictions, dof))


def _joint_cov(data: dict, index: dict, demand: np.ndarray, fits: dict, periods: int) -> dict[str, np.ndarray]:
    """Each lever's (intercept, slope) covariance from the joint fit of the demands and every curve."""
    segments = list(data)
    width = periods + 2 * len(segments)
    blocks, dof = [], sum(len(y) for _, _, y in data.values()) - width + 1
    for k, segment in enumerate(segments):
        _, x, y = data[segment]
        fit, at = fits[segment], demand[index[segment]]
        jac = np.zeros((len(y), width))
        jac[np.arange(len(y)), index[segment]] = fit.predict(x)  # d outcome / d demand of its period
        jac[:, periods + 2 * k] = at
        jac[:, periods + 2 * k + 1] = at * fit.feature(x)
        blocks.append(jac / np.sqrt(_variance(y - at * fit.predict(x))))
    jac = np.vstack(blocks)
    # the demands' mean is fixed at 1: the parameters move in the space orthogonal to that constraint
    free = null_space(np.concatenate([np.ones(periods), np.zeros(2 * len(segments))])[None, :])
    cov = free @ np.linalg.pinv(free.T @ jac.T @ jac @ free) @ free.T
    # the per-lever variances were each read on its own residuals' degrees of freedom; the demands took theirs
    cov *= (len(jac) - 2 * len(segments)) / max(dof, 1)
    return {segment: cov[periods + 2 * k: periods + 2 * k + 2, periods + 2 * k: periods + 2 * k + 2]
            for k, segment in enumerate(segments)}


def _variance(residuals: np.ndarray) -> float:
    """A curve's residual variance (its two parameters taken), kept above 0 for a curve that fits exactly."""
    return max(residuals @ residuals / max(len(residuals) - 2, 1), 1e-12)


def _usable(spend, outcome) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The observations with both values, validated; and which of the given ones they are."""
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
    return spend, outcome, keep


def _scale(spend: np.ndarray) -> float:
    return float(np.median(spend[spend > 0])) if (spend > 0).any() else 1.0


def _cov(fit) -> tuple[tuple[float, float], tuple[float, float]]:
    cov = np.asarray(fit.cov_params())
    return (cov[0, 0], cov[0, 1]), (cov[1, 0], cov[1, 1])


def _fit_at(demand: np.ndarray, spend: np.ndarray, outcome: np.ndarray) -> ResponseCurve:
    """The curve (form by AIC) of ``outcome = demand * (intercept + slope * feature(spend))``, demand known."""
    scale = _scale(spend)
    candidates = []
    for form in ("linear", "log"):
        feature = ResponseCurve(form, 0.0, 0.0, scale).feature(spend)
        fit = OLS(outcome, np.column_stack([demand, demand * feature])).fit()
        candidates.append(ResponseCurve(form, float(fit.params[0]), float(fit.params[1]), scale, _cov(fit),
                                        len(spend), float(fit.aic)))
    return min(candidates, key=lambda c: c.aic)
