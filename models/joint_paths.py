"""Joint future paths of metrics forecast one by one, so that formulas over them keep their co-movement.

Each base metric is forecast on its own, so its simulated paths know nothing of the others: activations and
signups drawn independently make an activation rate whose interval is as wide as the two uncertainties added
(measured on a SaaS budget: a weekly rate that never left 0.33-0.41 was given 0.19-0.51 eight weeks out). The
paths are therefore re-paired, without changing any one metric's distribution, so that their rank correlation
is the one their history shows (Iman and Conover, 1982: a permutation of each marginal sample that follows the
ranks of correlated normal scores).

Two pairings serve two uses. Whole paths are re-paired by their totals over the horizon, with the correlation
of the history's totals over as many periods, so a goal's window (a sum or mean along each path) sees
correlated inputs while every path stays a path. A formula's value at one step is composed from that step's
values re-paired on their own, with the correlation of single periods' changes, since a path's total says
little about one step of a stationary series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

MIN_PAIRS = 8  # fewer changes seen together than this and two metrics are taken as unrelated


def change_correlation(history: pd.DataFrame, lag: int, span: int = 1) -> np.ndarray:
    """Correlation of the metrics' changes, for normal scores.

    Parameters
    ----------
    history : DataFrame
        One column per metric, one row per period (gaps as NaN).
    lag : int
        Periods between the values compared: the season's length removes a weekly pattern both share, which
        the forecasts already carry, from what the paths must add.
    span : int, default 1
        Periods summed before comparing (sums ``span`` apart, or ``lag`` if longer). A total over many days is
        driven by what the metrics share (a level both follow), while one day's own noise averages out: the
        daily changes of signups and activations correlate about 0.65, their four-week totals' above 0.9.

    Returns
    -------
    ndarray
        A positive semi-definite matrix with unit diagonal. Spearman's rank correlation of the changes (robust
        to a few outliers) is turned into the normal scores' correlation by 2 sin(pi rho / 6); a pair with
        fewer than ``MIN_PAIRS`` changes seen together is 0.
    """
    if lag < 1 or span < 1:
        raise ValueError(f"lag and span must be at least 1, got {lag} and {span}")
    sums = history.rolling(span, min_periods=span).sum() if span > 1 else history
    changes = sums.diff(max(lag, span)).to_numpy(float)
    finite = np.isfinite(changes)
    k = changes.shape[1]
    corr = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            seen = finite[:, i] & finite[:, j]
            a, b = changes[seen, i], changes[seen, j]
            if len(a) < MIN_PAIRS or np.ptp(a) == 0 or np.ptp(b) == 0:
                continue
            rho = np.corrcoef(rankdata(a), rankdata(b))[0, 1]
            corr[i, j] = corr[j, i] = 2 * np.sin(np.pi * rho / 6) if np.isfinite(rho) else 0.0
    return _nearest_correlation(corr)


def _nearest_correlation(corr: np.ndarray) -> np.ndarray:
    """Negative eigenvalues (pairwise estimates need not agree) clipped, then the diagonal put back to 1."""
    values, vectors = np.linalg.eigh(corr)
    fixed = vectors @ np.diag(np.clip(values, 1e-10, None)) @ vectors.T
    scale = np.sqrt(np.diag(fixed))
    return fixed / np.outer(scale, scale)


def _normal_scores(corr: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Standard normal draws of ``shape``, one more axis of metrics last, correlated by ``corr``."""
    return rng.standard_normal((*shape, len(corr))) @ np.linalg.cholesky(corr + 1e-12 * np.eye(len(corr))).T


def _ranks(scores: np.ndarray, axis: int) -> np.ndarray:
    """Each value's rank (0 = lowest) along ``axis``."""
    return np.argsort(np.argsort(scores, axis=axis), axis=axis)


def pair_paths(paths: list[np.ndarray], corr: np.ndarray, seed: int) -> list[np.ndarray]:
    """Each metric's paths (rows) in a new order, so that their totals follow the normal scores' correlation
    ``corr`` in rank.

    Parameters
    ----------
    paths : list of ndarray
        One (paths, horizon) array per metric, all with the same number of paths.
    corr : ndarray
        Target correlation of the normal scores (see :func:`change_correlation`).
    seed : int

    Returns
    -------
    list of ndarray
        The same rows of each array, reordered: every metric's own paths and quantiles are unchanged.
    """
    n = _common_rows(paths)
    ranks = _ranks(_normal_scores(corr, (n,), np.random.default_rng(seed)), axis=0)
    return [p[np.argsort(np.nansum(p, axis=1), kind="stable")[ranks[:, j]]] for j, p in enumerate(paths)]


def pair_steps(paths: list[np.ndarray], corr: np.ndarray, seed: int) -> list[np.ndarray]:
    """Each metric's values re-paired step by step with rank correlation ``corr`` (rows are then no longer
    paths: use them for what one step's values compose to, not for sums along a row)."""
    n, steps = _common_rows(paths), paths[0].shape[1]
    # every step's normal scores at once: (steps, n, metrics), ranked along the paths
    ranks = _ranks(_normal_scores(corr, (steps, n), np.random.default_rng(seed)), axis=1)
    return [np.take_along_axis(np.sort(p, axis=0), ranks[:, :, j].T, axis=0) for j, p in enumerate(paths)]


def _common_rows(paths: list[np.ndarray]) -> int:
    rows = {p.shape for p in paths}
    if len(rows) != 1:
        raise ValueError(f"paths of every metric must have one shape, got {sorted(rows)}")
    return paths[0].shape[0]
