"""A yearly cycle fitted to a daily series: harmonics beside a level and a trend, AR(1) errors, a Wald test.

Shared by the drift engine (the change a season predicts between two periods) and the
forecaster (a season taken out before forecasting and put back after).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from models.robust import robust_spread

YEAR_DAYS = 365.25
YEARLY_HARMONICS = 2   # a yearly wave and its half-year overtone: a smooth season, not every month's noise
YEARLY_FIT_DAYS = 3 * 364  # history the yearly cycle is fitted on: recent enough for the season to still hold
MIN_YEARLY_DAYS = 300  # days with a value needed to fit it
YEARLY_ALPHA = 0.01    # Wald level at which the cycle is taken to be real
GLS_ITERATIONS = 6     # of the AR(1) error fit
OUTLIER_Z = 5.0        # residuals beyond this robust z are shocks, left out of the second fit


def yearly_design(t: np.ndarray, harmonics: int = YEARLY_HARMONICS) -> np.ndarray:
    """Level, linear trend (per year) and the first ``harmonics`` yearly harmonics at day numbers ``t``."""
    angle = 2 * np.pi * t[:, None] * np.arange(1, harmonics + 1)[None, :] / YEAR_DAYS
    return np.column_stack([np.ones_like(t), t / YEAR_DAYS, np.sin(angle), np.cos(angle)])


def _rounding(y: np.ndarray) -> float:
    """A spread of residuals below this is rounding of ``y``'s values: the fit is exact."""
    return 1e-10 * max(1.0, float(np.max(np.abs(y))))


def ar1_gls_wald(y: np.ndarray, X: np.ndarray, tested: np.ndarray) -> tuple[np.ndarray, float, float] | None:
    """Least squares with AR(1) errors, and the F-test that the ``tested`` coefficients are all zero.

    The same numbers as statsmodels' ``GLSAR(y, X, rho=1).iterative_fit(GLS_ITERATIONS)`` followed by
    ``wald_test(..., use_f=True)`` (tested to 1e-8), written out because the drift engine fits one per
    series and scope: 0.37 ms a fit of 700 days instead of 1.77 ms (555 fits on the 10M-event demo).

    Returns
    -------
    (params, p_value, rho) or None
        ``rho`` the AR(1) coefficient of the errors the last fit whitened with. None when the whitened
        design is rank-deficient or leaves no degrees of freedom.
    """
    rho = 0.0
    last = None
    for i in range(GLS_ITERATIONS):
        wy, wX = y[1:] - rho * y[:-1], X[1:] - rho * X[:-1]   # whitening drops the first day, as GLSAR does
        params, _, rank, _ = np.linalg.lstsq(wX, wy, rcond=None)
        if rank < X.shape[1]:
            return None
        with np.errstate(divide="ignore", invalid="ignore"):
            converged = last is not None and np.max(np.abs(last - params) / np.abs(last)) < 1e-4
        e = y - X @ params
        e = e - e.mean()
        if i == GLS_ITERATIONS - 1 or converged or not (e @ e) > 0:
            break
        last = params
        # Yule-Walker, lag covariances divided by n - k ("adjusted"), as statsmodels' yule_walker
        rho = float((e[1:] @ e[:-1]) / (len(e) - 1) / ((e @ e) / len(e)))
    df = len(wy) - X.shape[1]
    if df <= 0:
        return None
    scale = float(np.sum((wy - wX @ params) ** 2)) / df
    r = params[tested]
    if not np.sqrt(scale) > _rounding(y):   # an exact fit: the coefficients are certain
        return params, float(not np.any(np.abs(r) > 10 * _rounding(y))), rho
    try:
        cov = scale * np.linalg.inv(wX.T @ wX)[np.ix_(tested, tested)]
        f = float(r @ np.linalg.solve(cov, r)) / len(tested)
    except np.linalg.LinAlgError:
        return None
    return params, float(special.fdtrc(len(tested), df, f)), rho   # fdtrc: the F survival function


@dataclass(frozen=True)
class YearlyCycle:
    """A yearly cycle fitted to day numbers: its harmonics' coefficients and the test that they are not zero."""

    beta: np.ndarray  # sine and cosine coefficients of each harmonic, as ``yearly_design`` orders them
    p_value: float    # Wald test that they are all zero
    days: int         # days it was fitted on (shocks left out)
    trend: float      # the linear trend fitted beside it, per day
    rho: float        # AR(1) coefficient of the errors around the fit

    @property
    def significant(self) -> bool:
        return self.p_value < YEARLY_ALPHA

    def at(self, t: np.ndarray) -> np.ndarray:
        """The cycle's value at day numbers ``t`` (the fit's own origin)."""
        return yearly_design(np.asarray(t, dtype=float), self.harmonics)[:, 2:] @ self.beta

    @property
    def harmonics(self) -> int:
        return len(self.beta) // 2


def fit_yearly_cycle(t: np.ndarray, y: np.ndarray, min_days: int = MIN_YEARLY_DAYS,
                     max_harmonics: int = YEARLY_HARMONICS) -> YearlyCycle | None:
    """A level, a linear trend and yearly harmonics fitted with AR(1) errors.

    Days far off a first least-squares fit (a robust z beyond ``OUTLIER_Z``: shocks) are
    dropped, then the harmonics are fitted again with AR(1) errors by feasible GLS and
    tested together (Wald F): a series without a season still wobbles over a year, and
    that wobble is no pattern to expect again. AR(1) GLS rather than OLS with HAC errors:
    the harmonics are smooth regressors, for which HAC tests reject far too often
    (measured on white noise: 11-13% at a 5% level; this 3.8%).

    Parameters
    ----------
    t : array of float
        Day numbers of the values (any origin; the cycle is read at the same numbers).
    y : array of float
        The values (logs for a series seasonal by ratio), all finite.
    min_days : int
        Fewest days left after dropping shocks.
    max_harmonics : int
        The most harmonics the cycle may have. From ``YEARLY_HARMONICS`` up to it, the number is chosen by the
        Bayesian information criterion of the fits on the same days, whitened for AR(1) errors (the shocks are
        those off the fit with the most). A shop's December, three weeks at a third more, is no smooth wave:
        two harmonics spread it over October to February, and its days, far off such a wave, were dropped as
        shocks.

    Returns
    -------
    YearlyCycle or None
        None with fewer than ``min_days`` days or a rank-deficient design.
    """
    if len(y) < min_days:
        return None
    X = yearly_design(t, max_harmonics)
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    centre = float(np.median(resid))
    deviation = np.abs(resid - centre)
    spread = robust_spread(resid, centre)
    exact = not spread > _rounding(y)   # no day of an exact fit is a shock
    keep = np.ones(len(y), bool) if exact else deviation <= OUTLIER_Z * spread
    if keep.sum() < min_days:
        return None
    X = yearly_design(t[keep], _harmonics_by_bic(t[keep], y[keep], max_harmonics))
    found = ar1_gls_wald(y[keep], X, np.arange(2, X.shape[1]))
    if found is None:
        return None
    params, p_value, rho = found
    return YearlyCycle(params[2:], p_value, int(keep.sum()), float(params[1]) / YEAR_DAYS, rho)


def _harmonics_by_bic(t: np.ndarray, y: np.ndarray, max_harmonics: int) -> int:
    """The number of harmonics, from ``YEARLY_HARMONICS`` to ``max_harmonics``, whose fit has the least BIC.

    The errors' AR(1) coefficient is estimated once, around the fit with the most harmonics, and every
    candidate is fitted to the same whitened days: nested, one QR decomposition gives them all (a GLS fit
    for each took four times as long as the forecast of a two-year series).
    """
    if max_harmonics <= YEARLY_HARMONICS:
        return YEARLY_HARMONICS
    X = yearly_design(t, max_harmonics)
    # harmonic by harmonic: level, trend, sin 1, cos 1, sin 2, cos 2, ...
    X = X[:, [0, 1, *np.ravel([(2 + i, 2 + max_harmonics + i) for i in range(max_harmonics)])]]
    e = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    e = e - e.mean()
    rho = float((e[1:] @ e[:-1]) / (len(e) - 1) / ((e @ e) / len(e))) if e @ e > 0 else 0.0
    wy, wX = y[1:] - rho * y[:-1], X[1:] - rho * X[:-1]
    q = np.linalg.qr(wX)[0]
    explained = np.cumsum((q.T @ wy) ** 2)
    n = len(wy)
    floor = n * _rounding(y) ** 2   # an exact fit's residuals are rounding
    best, best_bic = YEARLY_HARMONICS, np.inf
    for harmonics in range(YEARLY_HARMONICS, max_harmonics + 1):
        columns = 2 + 2 * harmonics
        rss = max(float(wy @ wy - explained[columns - 1]), floor)
        bic = n * np.log(rss / n) + columns * np.log(n)
        if bic < best_bic:   # ties keep the fewer
            best, best_bic = harmonics, bic
    return best
