"""Influence drift: how much of a change the declared influences explain, and whether they changed.

For a declared relationship ``x -> y`` (lag L days) the effect of x on y is
estimated by least squares on the baseline era (up to half a year ending with the
baseline period), on deseasonalised, shock-free days:

    y_d = a + b * x_{d-L} + g * [d in current period] * x_{d-L} + e_d

``b`` times the movement of x between the periods is the change x explains; ``g``
(the effect in the current period minus the baseline effect) is a change of the
relationship itself. Standard errors are Newey-West (daily residuals are
autocorrelated; plain OLS errors would overstate significance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS

ERA_DAYS = 182
MIN_ERA_DAYS = 28
MIN_CURRENT_DAYS = 3
EFFECT_ALPHA = 0.05    # the effect must be significant before its movement is attributed
CHANGE_ALPHA = 0.01    # a relationship change is a stronger claim, so a stricter level


@dataclass(frozen=True)
class Influence:
    """Contributions of one relationship to a change, with their evidence."""

    movement: float
    change: float
    effect: float
    effect_p: float
    effect_shift: float
    shift_p: float


def influence(y: pd.Series, x: pd.Series, lag: int, days0: pd.DatetimeIndex, days1: pd.DatetimeIndex,
              excluded: pd.DatetimeIndex, additive: bool, x_yearly=None) -> Influence | None:
    """Estimate what ``x`` (lagged by ``lag`` days) explains of ``y``'s change from ``days0`` to ``days1``.

    ``y`` and ``x`` are deseasonalised daily series; ``excluded`` are shock days
    of ``y`` left out of the fit. ``x_yearly`` is x's own yearly-pattern change
    between the periods (a ratio, or a difference for series that are not
    positive), taken out of x's movement so the seasonal part stays temporal.
    Returns None when there are too few days.
    """
    x_lag = x.shift(lag, freq="D").reindex(y.index)
    era_end = days0.max()
    era = y.index[(y.index <= era_end) & (y.index > era_end - pd.Timedelta(days=ERA_DAYS)) & ~y.index.isin(days1)]
    current = days1
    frame = pd.DataFrame({"y": y, "x": x_lag})
    frame = frame[~frame.index.isin(excluded)].dropna()
    in_era, in_current = frame.index.isin(era), frame.index.isin(current)
    if in_era.sum() < MIN_ERA_DAYS or np.ptp(frame.loc[in_era, "x"].to_numpy()) == 0:
        return None
    fit_rows = frame[in_era | in_current]
    post = fit_rows.index.isin(current).astype(float)
    design = np.column_stack([np.ones(len(fit_rows)), fit_rows["x"].to_numpy(), post * fit_rows["x"].to_numpy()])
    has_current = in_current.sum() >= MIN_CURRENT_DAYS
    if not has_current:
        design = design[:, :2]
    try:
        result = OLS(fit_rows["y"].to_numpy(), design).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    except (np.linalg.LinAlgError, ValueError):
        return None
    params, pvalues = np.asarray(result.params), np.asarray(result.pvalues)
    effect, effect_p = float(params[1]), float(pvalues[1])
    shift, shift_p = (float(params[2]), float(pvalues[2])) if has_current else (0.0, 1.0)
    # Daily means, so the periods' lengths (calendar) stay with the temporal factor; an additive y
    # (a count or sum over the period) then moves by the per-day effect times the current period's days.
    days = len(days1) if additive else 1
    x0 = float(x_lag.reindex(days0).mean())  # NaN when x has no day in the period
    x1 = float(x_lag.reindex(days1).mean())
    if x_yearly is not None:
        x0 = x0 * x_yearly[0] if x_yearly[1] == "ratio" else x0 + x_yearly[0]
    movement = effect * (x1 - x0) * days if effect_p < EFFECT_ALPHA and np.isfinite(x1 - x0) else 0.0
    change = shift * x1 * days if has_current and shift_p < CHANGE_ALPHA and np.isfinite(x1) else 0.0
    return Influence(float(movement), float(change), effect, effect_p, shift, shift_p)
