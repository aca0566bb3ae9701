"""Influence drift: how much of a change the declared influences explain, and whether they changed.

For a declared relationship ``x -> y`` (lag L days) the effect of x on y is
estimated by least squares on the baseline era (up to half a year ending with the
baseline period; the half-year before the current period when the data holds too
little before the baseline), on deseasonalised, shock-free days:

    y_d = a + b * x_{d-L} + g * [d in current period] * x_{d-L} + e_d

``b`` times the movement of x between the periods is the change x explains; ``g``
(the effect in the current period minus the baseline effect) is a change of the
relationship itself. Standard errors are Newey-West (daily residuals are
autocorrelated; plain OLS errors would overstate significance).

The baseline era is cut at a break in how y follows x when it holds one (a sup-F
test, below): a fuel price up a quarter in September made a half-year's effect the
old price's mostly, so a November week against the one before, both at the new
price, read the same price as a "relationship changed" of +17% and a residual
cancelling it. The effect is the one in force at the baseline.

With x near its usual level, a shift of y's own level fits ``g * x`` as well as a
changed effect does. So ``g`` is estimated a second time with the current period's
own intercept (``+ c * [d in current period]``): that "held" shift shows only in how
y follows x within the current period, and is the evidence the engine asks for
before it calls a change a changed relationship.

At a scope with slices, a changed relationship is the scope's own only as far as its slices share it
(:func:`common_share`): one building of three using a fifth more energy per degree is that building's
change, which the scope's dimension drift names, not a changed relationship of the whole campus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.multitest import multipletests

from models.drift.dimension import common_change
from models.drift.seasonal import YearlyChange

ERA_DAYS = 182
MIN_ERA_DAYS = 28
MIN_CURRENT_DAYS = 3
EFFECT_ALPHA = 0.05    # false discovery rate of the effects whose movement is attributed (see significant_effects)
CHANGE_ALPHA = 0.01    # a relationship change is a stronger claim, so a stricter level
# A break in the baseline era: the sup-F (Quandt likelihood ratio) statistic over the era's days for a break
# in the effect (1 restriction; y's level may shift at the break either way, which is no change of the
# effect), 15% trimming; 1% critical value 12.16 (Andrews 1993, as tabled by Stock & Watson). Each side keeps
# at least MIN_ERA_DAYS, so the era after a break can be fitted.
BREAK_TRIM = 0.15
BREAK_CRITICAL_F = 12.16


@dataclass
class Influence:
    """Contributions of one relationship to a change, with their evidence (``movement`` before the effect
    is judged: see :func:`significant_effects`)."""

    movement: float
    change: float
    effect: float
    effect_p: float
    effect_shift: float
    shift_p: float
    shift_se: float = float("inf")
    x1: float = float("nan")  # x's mean over the current period (lagged): what a changed effect multiplies
    # the regression's inputs, for the held shift: fitted only when asked (most relationships never are)
    _inputs: tuple | None = field(default=None, repr=False)
    _held: tuple[float, float] | None = field(default=None, repr=False)

    def held(self) -> tuple[float, float]:
        """The effect's shift with the current period's own intercept, and its standard error (inf: not
        estimable, e.g. x constant within the period)."""
        if self._held is None:
            self._held = _held_shift(*self._inputs) if self._inputs is not None else (0.0, float("inf"))
        return self._held


def influence(y: pd.Series, x: pd.Series, lag: int, days0: pd.DatetimeIndex, days1: pd.DatetimeIndex,
              excluded: pd.DatetimeIndex, additive: bool, x_yearly: YearlyChange | None = None,
              quiet: pd.DatetimeIndex | None = None) -> Influence | None:
    """Estimate what ``x`` (lagged by ``lag`` days) explains of ``y``'s change from ``days0`` to ``days1``.

    ``y`` and ``x`` are deseasonalised daily series; ``excluded`` are shock days
    of ``y`` left out of the fit. ``x_yearly`` is x's own yearly-pattern change
    between the periods (a ratio, or a difference for series that are not
    positive), taken out of x's movement so the seasonal part stays temporal;
    None when x has no yearly pattern. ``quiet`` are days on which neither series had a row (a closed
    day): left out of the fit, and out of the days an additive y's per-day movement is counted on.
    Returns None when there are too few days.
    """
    quiet = pd.DatetimeIndex([]) if quiet is None else quiet
    excluded = excluded.union(quiet)
    index = y.index
    x_lag = x.shift(lag, freq="D").reindex(index).to_numpy(float)
    values = y.to_numpy(float)
    # boolean masks over y's days instead of DataFrame filtering: same rows, a fraction of pandas' overhead
    # (the engine fits ~600 relationships a run)
    in_current = index.isin(days1)
    usable = ~index.isin(excluded) & ~np.isnan(values) & ~np.isnan(x_lag)
    in_era = _era(index, days0.max(), in_current)
    if (in_era & usable).sum() < MIN_ERA_DAYS:
        # a year-ago period at the start of the data has no half-year before it (a budget onboarded 13 months
        # ago): the half-year before the current period tells the effect instead of leaving it unestimated
        in_era = _era(index, days1.min() - pd.Timedelta(days=1), in_current)
    whole_era = in_era
    in_era = in_era & ~_before_break(values, x_lag, in_era & usable)
    era_x = x_lag[in_era & usable]
    if len(era_x) < MIN_ERA_DAYS or np.ptp(era_x) == 0:
        return None
    fit = usable & (in_era | in_current)
    fit_x, post = x_lag[fit], in_current[fit].astype(float)
    design = np.column_stack([np.ones(int(fit.sum())), fit_x, post * fit_x])
    # a source at nothing through the current period (a market closed: its spend is 0 there) leaves no shift to fit
    has_current = (in_current & usable).sum() >= MIN_CURRENT_DAYS and bool(np.any(post * fit_x))
    if not has_current:
        design = design[:, :2]
    try:
        result = OLS(values[fit], design).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    except (np.linalg.LinAlgError, ValueError):
        return None
    params, pvalues = np.asarray(result.params), np.asarray(result.pvalues)
    effect, effect_p = float(params[1]), float(pvalues[1])
    if (whole_era != in_era).any():
        # the break was chosen where the effects either side differ most, so the effect after it looks surer
        # than it is: whether there is an effect at all is judged on the whole era too (a declared influence
        # that is not there, cut at a break in noise, was otherwise found in a second store of thirty)
        effect_p = max(effect_p, _effect_p(values, x_lag, whole_era & usable))
    shift, shift_p = (float(params[2]), float(pvalues[2])) if has_current else (0.0, 1.0)
    shift_se = float(np.asarray(result.bse)[2]) if has_current else float("inf")
    # Daily means, so the periods' lengths (calendar) stay with the temporal factor; an additive y
    # (a count or sum over the period) then moves by the per-day effect times the current period's days.
    days = len(days1.difference(quiet)) if additive else 1
    # x's movement off y's shock days: a promotion that lifted transactions on its day is the event shock's, not
    # also transactions' influence (a shop's promotion day: shock +9,410 and influence +7,365, residual -8,244);
    # a period made only of shock days leaves x's movement to the shock (NaN: no movement)
    x0, x1 = (_mean_on(x_lag, index, d.difference(excluded)) for d in (days0, days1))  # NaN when x has no day there
    if x_yearly is not None:
        x0 = x0 * x_yearly.value if x_yearly.kind == "ratio" else x0 + x_yearly.value
    # what x's movement explains if the effect is real: whether it is is decided among the scope's peers
    movement = effect * (x1 - x0) * days if np.isfinite(x1 - x0) else 0.0
    change = shift * x1 * days if has_current and shift_p < CHANGE_ALPHA and np.isfinite(x1) else 0.0
    return Influence(float(movement), float(change), effect, effect_p, shift, shift_p, shift_se, float(x1),
                     (values[fit], design, post) if has_current else None)


def _before_break(y: np.ndarray, x: np.ndarray, era: np.ndarray) -> np.ndarray:
    """The era's days before a break in ``y = a + b x`` within it (a mask over y's days; none when there is no
    significant break).

    Every split point is tried at once from cumulative sums (two simple regressions each, O(n) in all, where
    ~600 relationships a run rule out a regression per day); the F statistic is shrunk by the residuals'
    lag-1 autocorrelation (daily residuals are autocorrelated, and plain F would find breaks in noise).
    """
    before = np.zeros(len(y), bool)
    positions = np.flatnonzero(era)
    n = len(positions)
    trim = max(MIN_ERA_DAYS, int(np.ceil(BREAK_TRIM * n)))
    if n < 2 * trim or n <= 4:
        return before
    yy, xx = y[positions], x[positions]
    sums = [np.concatenate([[0.0], np.cumsum(v)]) for v in (xx, yy, xx * xx, xx * yy, yy * yy)]

    def moments(s1, sx, sy, sxx, sxy, syy):
        """Centred cross-products (x x, x y, y y) of a run of days."""
        return sxx - sx * sx / s1, sxy - sx * sy / s1, syy - sy * sy / s1

    def explained(vxx, vxy):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(vxx > 0, vxy * vxy / vxx, 0.0)

    splits = np.arange(trim, n - trim + 1)
    b_xx, b_xy, b_yy = moments(splits, *(s[splits] for s in sums))
    a_xx, a_xy, a_yy = moments(n - splits, *(s[n] - s[splits] for s in sums))
    # each side its own level: one effect for both (restricted) against an effect each (free)
    free = b_yy + a_yy - explained(b_xx, b_xy) - explained(a_xx, a_xy)
    one_effect = b_yy + a_yy - explained(b_xx + a_xx, b_xy + a_xy)
    if not np.all(np.isfinite(free)) or not np.all(np.isfinite(one_effect)):
        return before
    f_stat = (one_effect - free) / np.maximum(free / (n - 4), 1e-300)
    best = int(np.argmax(f_stat))
    k = int(splits[best])
    residuals = np.concatenate([_residuals(xx[:k], yy[:k]), _residuals(xx[k:], yy[k:])])
    rho = float(np.corrcoef(residuals[:-1], residuals[1:])[0, 1]) if np.std(residuals) > 0 else 0.0
    shrink = (1 - rho) / (1 + rho) if np.isfinite(rho) and rho > 0 else 1.0
    if f_stat[best] * shrink < BREAK_CRITICAL_F:
        return before
    before[positions[:k]] = True
    return before


def _effect_p(y: np.ndarray, x: np.ndarray, days: np.ndarray) -> float:
    """The p-value of the effect of ``x`` on ``y`` over ``days`` alone (Newey-West, as the main fit)."""
    try:
        result = OLS(y[days], np.column_stack([np.ones(int(days.sum())), x[days]])).fit(
            cov_type="HAC", cov_kwds={"maxlags": 7})
    except (np.linalg.LinAlgError, ValueError):
        return 1.0
    p = float(np.asarray(result.pvalues)[1])
    return p if np.isfinite(p) else 1.0


def _residuals(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residuals of the least-squares line of ``y`` on ``x``."""
    if np.ptp(x) == 0:
        return y - y.mean()
    slope, intercept = np.polyfit(x, y, 1)
    return y - (intercept + slope * x)


def _era(index: pd.DatetimeIndex, end: pd.Timestamp, in_current: np.ndarray) -> np.ndarray:
    """Days of the ``ERA_DAYS`` ending with ``end``, the current period's left out."""
    return (index <= end) & (index > end - pd.Timedelta(days=ERA_DAYS)) & ~in_current


def significant_effects(p_values, alpha: float = EFFECT_ALPHA) -> np.ndarray:
    """Which of one relationship's effects, fitted on the scopes of one segment level, are real.

    Benjamini-Hochberg at false discovery rate ``alpha``: a level of many slices fits the effect many
    times, and at a plain 5% one slice in twenty finds an effect that is not there.
    """
    p_values = np.asarray(p_values, float)
    if not len(p_values):
        return np.zeros(0, bool)
    return multipletests(np.where(np.isfinite(p_values), p_values, 1.0), alpha, method="fdr_bh")[0]


def _held_shift(y: np.ndarray, design: np.ndarray, post: np.ndarray) -> tuple[float, float]:
    """The effect's shift and its standard error with the current period's level free to move."""
    held = np.column_stack([design, post])
    if np.linalg.matrix_rank(held) < held.shape[1]:  # x constant within the current period: not estimable
        return 0.0, float("inf")
    try:
        result = OLS(y, held).fit(cov_type="HAC", cov_kwds={"maxlags": 7})
    except (np.linalg.LinAlgError, ValueError):
        return 0.0, float("inf")
    se = float(np.asarray(result.bse)[2])
    return float(np.asarray(result.params)[2]), se if np.isfinite(se) and se > 0 else float("inf")


def held_shift_p(fits: list[Influence]) -> tuple[float, float]:
    """The held shifts of ``fits`` pooled by inverse variance: (shift, two-sided p); (0, 1) when none is estimable.

    For a scope's slices, each fitted on its own series: the relationship must change within the slices,
    where x moves more than in their sum.
    """
    usable = [held for held in (f.held() for f in fits) if np.isfinite(held[1])]
    if not usable:
        return 0.0, 1.0
    weights = np.array([1 / se ** 2 for _, se in usable])
    shift = float(np.dot(weights, [g for g, _ in usable]) / weights.sum())
    return shift, float(2 * norm.sf(abs(shift) * np.sqrt(weights.sum())))


def common_share(slices: list[Influence]) -> float:
    """The share of a scope's relationship change its slices have in common (1 when they cannot tell).

    Each slice's shift relative to its own effect is its change in how it follows x (+20%: a building using a
    fifth more energy per degree). When those differ beyond their noise (Cochran's Q at ``CHANGE_ALPHA``), the
    common change is theirs as :func:`models.drift.dimension.common_change` takes the slices' growth (their
    median; with two, the move both share), against their mean weighted by what x explains of each (effect
    x x's current level). One building of three changed: the median is about 0, and the change is that
    building's own, a dimension drift of the scope, not a changed relationship of all of it. Only slices whose
    effect is significant vote: a shift relative to an effect that is not there is noise.
    """
    rel, se, weights = [], [], []
    for fit in slices:
        if np.isfinite(fit.shift_se) and fit.shift_se > 0 and fit.effect_p < EFFECT_ALPHA and np.isfinite(fit.x1):
            rel.append(fit.effect_shift / fit.effect)
            se.append(fit.shift_se / abs(fit.effect))
            weights.append(abs(fit.effect * fit.x1))
    rel, se, weights = np.array(rel), np.array(se), np.array(weights)
    if len(rel) < 2 or weights.sum() == 0:
        return 1.0
    precision = 1 / se ** 2
    pooled = np.dot(precision, rel) / precision.sum()
    if chi2.sf(float(np.dot(precision, (rel - pooled) ** 2)), len(rel) - 1) >= CHANGE_ALPHA:
        return 1.0
    mean = float(np.dot(rel, weights) / weights.sum())
    return float(np.clip(common_change(rel, weights) / mean, 0.0, 1.0)) if mean else 1.0


def _mean_on(values: np.ndarray, index: pd.DatetimeIndex, days: pd.DatetimeIndex) -> float:
    """Mean of ``values`` (aligned with ``index``) on ``days``, missing days and NaN skipped; NaN if none.

    Summed as pandas does (missing as 0 in place, divided by the count), so the numbers match to the bit.
    """
    positions = index.get_indexer(days)
    picked = np.where(positions >= 0, values[positions], np.nan)
    known = ~np.isnan(picked)
    return float(np.where(known, picked, 0.0).sum() / known.sum()) if known.any() else float("nan")
