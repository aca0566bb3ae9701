"""From per-document readings to one value per period and segment: synthesis, conflicts, confidence.

Each source kind (tickets, meeting notes, chat...) gives a mean and its standard
error, with the readings' variance pooled within kinds (a kind whose few
readings happen to agree is not thereby certain). The value is the
precision-weighted mean of the kinds, so the kind with more evidence weighs
more. Two kinds conflict when Welch's t-test separates them (p < 0.01) by more
than a tenth of the scale: the conflict is reported, never averaged away silently.

Confidence is the half-width of the value's 95% interval against a quarter of
the scale: 1 = exact, 0 = the interval reaches a quarter of the scale either side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

CONFLICT_P = 0.01
CONFLICT_SHARE_OF_SCALE = 0.10
MIN_PER_KIND = 3  # fewer readings than this cannot be tested for conflict


@dataclass(frozen=True)
class Synthesis:
    value: float | None
    confidence: float
    documents_used: int
    by_kind: dict[str, dict]
    conflict: str | None
    reasoning: str


def synthesise(readings: pd.DataFrame, low: float, high: float, documents: int) -> Synthesis:
    """Combine per-document values on the metric's scale.

    Parameters
    ----------
    readings : DataFrame
        One row per document with evidence: kind and value (on the scale).
    low, high : float
        The metric's scale.
    documents : int
        Documents read, with or without evidence (reported in the reasoning).

    Returns
    -------
    Synthesis
        The value (None without evidence), its confidence in [0, 1], the per-kind
        summary, the conflict (if any) and a one-line reasoning.
    """
    if readings.empty:
        return Synthesis(None, 0.0, 0, {}, None, f"none of {documents} documents carried evidence")
    span = high - low
    by_kind, means, weights = {}, [], []
    groups = {kind: g["value"].to_numpy(float) for kind, g in readings.groupby("kind", sort=True)}
    dof = len(readings) - len(groups)
    pooled_var = sum(((v - v.mean()) ** 2).sum() for v in groups.values()) / dof if dof > 0 else 0.0
    # one reading alone (or identical ones) gives no spread: assume a quarter of the scale
    pooled_sd = float(np.sqrt(pooled_var)) if pooled_var > 0 else span / 4
    for kind, values in groups.items():
        se = pooled_sd / np.sqrt(len(values))
        by_kind[kind] = {"n": int(len(values)), "mean": float(values.mean()), "se": float(se)}
        means.append(values.mean())
        weights.append(1 / se ** 2)
    weights = np.array(weights)
    value = float(np.dot(weights, means) / weights.sum())
    se = float(np.sqrt(1 / weights.sum()))
    conflict = _conflict(readings, by_kind, span)
    confidence = float(np.clip(1 - 1.96 * se / (span / 4), 0, 1))
    parts = ", ".join(f"{k} {v['mean']:.2f} (n={v['n']})" for k, v in by_kind.items())
    reasoning = (f"{len(readings)} of {documents} documents carried sentiment; by source: {parts}; "
                 f"precision-weighted value {value:.2f} ± {1.96 * se:.2f} (95%)")
    return Synthesis(value, round(confidence, 4), int(len(readings)), by_kind, conflict, reasoning)


def _conflict(readings: pd.DataFrame, by_kind: dict, span: float) -> str | None:
    kinds = [k for k, v in by_kind.items() if v["n"] >= MIN_PER_KIND]
    found = []
    for i, a in enumerate(kinds):
        for b in kinds[i + 1:]:
            xa = readings.loc[readings["kind"] == a, "value"].to_numpy(float)
            xb = readings.loc[readings["kind"] == b, "value"].to_numpy(float)
            gap = xa.mean() - xb.mean()
            if abs(gap) < CONFLICT_SHARE_OF_SCALE * span:
                continue
            p = stats.ttest_ind(xa, xb, equal_var=False).pvalue
            if np.isfinite(p) and p < CONFLICT_P:
                found.append(f"{a} {xa.mean():.2f} vs {b} {xb.mean():.2f} (Welch p={p:.1g})")
    return "; ".join(found) or None
