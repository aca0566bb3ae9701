"""Dimension drift: the part of a change that belongs to particular segments.

Additive metrics (counts, sums) are the sum of their slices: every slice is
expected to move with the common growth rate (the median of the slices' growth,
robust to the slices that drive the change; slices under 1% of the total are too
noisy to vote), and what a slice does beyond that is its own. The median is not
weighted: one slice holding most of the volume must not define "common". Two
slices cannot outvote each other: their median is their midpoint, which would
split one slice's move half into "common" and show the still slice moving the
other way; with two, the common movement is what both share (the smaller move
when they move the same way, none when they move apart).
Averages (means) are count-weighted means of their slices' averages, so a change
splits exactly (Kitagawa, symmetric weights) into a mix
effect (slices gaining or losing weight) and a rate effect; the rate effect beyond
the common rate change is the slice's own. The common rate change is a shift every
slice makes or, where the averages have a natural zero, a percentage every slice
makes, whichever leaves the slices less of their own (a fuel price +15% moves a
truck's cost per km, 0.42, by 0.063 and a van's, 0.18, by 0.027: one common +15%,
not a truck-specific change). New slices contribute all they bring,
vanished slices all they took away.

A scope can be sliced by its children or, across the hierarchy, by the values of
any deeper level (all ``service=surgery`` leaves of every site together). Whether
slices moved apart is tested on their daily values (:func:`share_shift_logp`,
:func:`rate_shift_logp`); the engine compares slicings with these tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats


MIN_VOTING_SHARE = 0.01


def common_change(values: np.ndarray, weights: np.ndarray) -> float:
    """The change the slices holding at least 1% of the weight share (0 when none vote).

    The median of their changes; with exactly two voters, the median of the two and no
    change at all, i.e. the move both share.
    """
    weights = np.where(np.isfinite(weights), weights, 0.0)
    total = weights.sum()
    ok = np.isfinite(values) & (weights > 0) & (weights >= MIN_VOTING_SHARE * total)
    voters = values[ok]
    if len(voters) == 2:
        voters = np.append(voters, 0.0)
    return float(np.median(voters)) if len(voters) else 0.0


def additive_drift(v0: pd.Series, v1: pd.Series) -> pd.DataFrame:
    """Slice-specific change of an additive metric.

    Parameters
    ----------
    v0, v1 : Series
        Slice values in the baseline and current periods (index: slice id;
        a slice missing from one side is new or vanished).

    Returns
    -------
    DataFrame
        Per slice: ``contribution`` (its change beyond the common growth),
        ``effect`` (change / new / vanished); ``attrs["common"]`` the common growth rate.
    """
    slices = v0.index.union(v1.index)
    a, b = v0.reindex(slices).fillna(0.0), v1.reindex(slices).fillna(0.0)
    base = a.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = np.where(base > 0, (b.to_numpy(float) - base) / base, np.nan)
    common = common_change(growth, base)
    contribution = (b - a) - common * a
    effect = np.where(~slices.isin(v0.index) | (a == 0), "new", np.where(~slices.isin(v1.index) | (b == 0), "vanished", "change"))
    # a slice both absent before and after carries nothing
    effect = np.where((a == 0) & (b == 0), "change", effect)
    out = pd.DataFrame({"contribution": contribution.to_numpy(float), "effect": effect}, index=slices)
    out.attrs["common"] = common
    return out


def _present_shares(r: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which slices have an average on one side (weight and a finite value), and their shares of its weight."""
    present = (w > 0) & np.isfinite(r)
    kept = np.where(present, w, 0.0)
    return present, kept / max(kept.sum(), 1e-300)


def relative_common(r0: np.ndarray, r1: np.ndarray, w0: np.ndarray, w1: np.ndarray) -> bool:
    """Whether slices' averages share a percentage change rather than a shift.

    Parameters
    ----------
    r0, r1 : ndarray
        Slice averages before and after (NaN where a slice has none).
    w0, w1 : ndarray
        The slices' weights before and after. Slices with an average on both sides vote, weighted by their
        mean share of the two sides' weight (those under 1% do not vote, as in :func:`common_change`).

    Returns
    -------
    bool
        True when every voting slice's average was positive before and the common percentage change leaves
        the slices less of their own (the weighted sum of absolute departures, in the metric's units) than
        the common shift does. Both are one-parameter models of the same changes, so the smaller departure
        is the better reading; a tie (one slice moving alone: both commons 0) keeps the shift.
    """
    (present0, s0), (present1, s1) = _present_shares(r0, w0), _present_shares(r1, w1)
    weights = np.where(present0 & present1, (s0 + s1) / 2, 0.0)
    vote = (weights > 0) & (weights >= MIN_VOTING_SHARE * weights.sum())
    if vote.sum() < 2 or np.any(r0[vote] <= 0):
        return False
    change, w, base = r1[vote] - r0[vote], weights[vote], r0[vote]
    shifted = np.sum(w * np.abs(change - common_change(change, w)))
    scaled = np.sum(w * np.abs(change - common_change(change / base, w) * base))
    return bool(scaled < shifted)


def average_drift(r0: pd.Series, r1: pd.Series, w0: pd.Series, w1: pd.Series,
                  proportional: bool = False) -> pd.DataFrame:
    """Mix and slice-specific rate effects of a weighted average.

    Parameters
    ----------
    r0, r1 : Series
        Slice averages (index: slice id).
    w0, w1 : Series
        Slice weights (e.g. event counts), same index convention.
    proportional : bool
        Whether the averages have a natural zero, so their common change may be a percentage
        (:func:`relative_common`); a temperature's may not.

    Returns
    -------
    DataFrame
        Per slice: ``mix``, ``rate`` (beyond the common rate change) and ``effect``;
        ``attrs["common"]`` the common rate change, ``attrs["relative"]`` whether it is a fraction
        of each slice's average before (else a shift in the metric's units).
    """
    slices = r0.index.union(r1.index).union(w0.index).union(w1.index)
    w0 = w0.reindex(slices).fillna(0.0).to_numpy(float)
    w1 = w1.reindex(slices).fillna(0.0).to_numpy(float)
    r0 = r0.reindex(slices).to_numpy(float)
    r1 = r1.reindex(slices).to_numpy(float)
    (present0, s0), (present1, s1) = _present_shares(r0, w0), _present_shares(r1, w1)
    v0, v1 = float(np.nansum(s0 * np.where(present0, r0, 0))), float(np.nansum(s1 * np.where(present1, r1, 0)))
    # a slice present on one side only is valued at its one known average
    r_mid = np.where(present0 & present1, (r0 + r1) / 2, np.where(present0, r0, np.where(present1, r1, 0.0)))
    both = present0 & present1
    mix = (s1 - s0) * (r_mid - (v0 + v1) / 2)
    w_mid = np.where(both, (s0 + s1) / 2, 0.0)
    rate_change = np.where(both, r1 - r0, np.nan)
    relative = proportional and relative_common(r0, r1, w0, w1)
    with np.errstate(divide="ignore", invalid="ignore"):
        common = common_change(rate_change / r0, w_mid) if relative else common_change(rate_change, w_mid)
    expected = common * r0 if relative else common
    rate = np.where(both, w_mid * (rate_change - expected), 0.0)
    effect = np.where(present1 & ~present0, "new", np.where(present0 & ~present1, "vanished", "change"))
    out = pd.DataFrame({"mix": mix, "rate": rate, "effect": effect}, index=slices)
    out.attrs["common"], out.attrs["relative"] = common, relative
    return out


def _welch_logp(x0: np.ndarray, x1: np.ndarray) -> np.ndarray:
    """Per row: the log two-sided p-value of Welch's t test that the mean over the finite days did not
    change (NaN where a side has fewer than two finite days or no spread at all).

    Written out rather than ``scipy.stats.ttest_ind(equal_var=False)``: slicings are ranked by these
    p-values, which underflow to 0 for strong moves, so the log is needed; and every row (slice) is
    tested at once over its own finite days, where scipy's ``nan_policy="omit"`` goes row by row."""
    n0, n1 = np.isfinite(x0).sum(1), np.isfinite(x1).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows of fewer than two days: NaN, as intended
        a, b = np.nanvar(x0, 1, ddof=1) / n0, np.nanvar(x1, 1, ddof=1) / n1
        t = np.abs(np.nanmean(x1, 1) - np.nanmean(x0, 1)) / np.sqrt(a + b)
        dof = (a + b) ** 2 / (a ** 2 / (n0 - 1) + b ** 2 / (n1 - 1))
    ok = (n0 >= 2) & (n1 >= 2) & (a + b > 0) & np.isfinite(t)
    out = np.full(len(t), np.nan)
    out[ok] = np.log(2.0) + stats.t.logsf(t[ok], dof[ok])
    return out


def bonferroni_logp(logps) -> float:
    """The smallest of several log p-values, adjusted for how many there are (0 when there are none)."""
    tested = np.asarray(logps, float)
    tested = tested[np.isfinite(tested)]
    return float(min(0.0, np.log(len(tested)) + tested.min())) if len(tested) else 0.0


def _slice_logp(logp: np.ndarray) -> float:
    """The Bonferroni-adjusted smallest p-value of the slices' own tests, as a log (0 unless at least two
    slices were tested).

    The slices of one scope are tied (shares and pulls add up to a constant every day), so a joint
    chi-square of their statistics would count one move as many; the smallest p-value, adjusted for how
    many slices were tested, asks the question dimension drift answers: did some slice move apart?
    """
    return bonferroni_logp(logp) if np.isfinite(logp).sum() > 1 else 0.0


def _shares(x: np.ndarray) -> np.ndarray:
    """Each slice's share of the days' total (NaN on days whose total is not positive)."""
    x = np.where(np.isfinite(x), x, 0.0)
    total = x.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, x / np.where(total > 0, total, 1.0), np.nan)


def share_shift_logp(x0: np.ndarray, x1: np.ndarray) -> float:
    """Log p-value that slices kept their shares of an additive total from one period to the next.

    Parameters
    ----------
    x0, x1 : ndarray, shape (slices, days)
        Daily slice values (NaN where none) on the compared days of the baseline and the current period.

    Returns
    -------
    float
        The log of the smallest of the slices' Welch p-values on their daily shares, Bonferroni-adjusted
        for the number of slices tested. Shares, not values, so that the weekday and yearly pattern every
        slice shares cancels. 0 (p = 1) when fewer than two slices or two days a period can be compared.
    """
    return _slice_logp(_welch_logp(_shares(np.asarray(x0, float)), _shares(np.asarray(x1, float))))


def rate_shift_logp(r: tuple[np.ndarray, np.ndarray], w: tuple[np.ndarray, np.ndarray],
                    relative: bool = False) -> float:
    """Log p-value that the slices of a weighted average kept their pull on it from one period to the next.

    Parameters
    ----------
    r : (ndarray, ndarray), each of shape (slices, days)
        Daily slice averages (NaN on days without weight) in the baseline and the current period.
    w : (ndarray, ndarray), same shapes
        Daily slice weights (event counts).
    relative : bool
        Whether the slices' common movement is a percentage (:func:`relative_common`): then each pull is
        measured against the day's mean as a fraction of it, ``share * (average / mean - 1)``, which a
        change in every average by one percentage leaves still.

    Returns
    -------
    float
        As :func:`share_shift_logp`, of each slice's daily pull ``share * (average - the day's mean)``.
        A slice's pull moves when its weight's share moves while its average differs from the rest (mix)
        or when its average moves unlike the others (rate); a weight shift between slices of equal
        averages, or a change every slice makes, leaves it still.
    """
    def pull(r, w):
        r, w = np.asarray(r, float), np.asarray(w, float)
        w = np.where(np.isfinite(r) & (w > 0), w, 0.0)
        shares = _shares(w)
        mean = np.nansum(shares * np.where(w > 0, r, 0.0), 0)
        if relative:
            with np.errstate(invalid="ignore", divide="ignore"):
                away = np.where(mean > 0, r / np.where(mean > 0, mean, 1.0) - 1.0, np.nan)
        else:
            away = r - mean
        return np.where(w > 0, shares * away, np.where(np.isfinite(shares), 0.0, np.nan))
    return _slice_logp(_welch_logp(pull(r[0], w[0]), pull(r[1], w[1])))
