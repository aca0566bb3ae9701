"""Segment archetypes: where each segment sits on reward against risk.

Reward is the segment's recent level of a metric (by default the north star,
the mean of its last complete periods; for a metric whose favourable direction
is down, a lower level is the higher reward). Risk is the volatility of that
metric: the standard deviation of its period-to-period relative changes. The
deterministic quadrant rule splits both at the median of the level's segments
(a tie counts as high). An LLM may classify instead, from the same table; its
answer must name every segment once with one of the four archetypes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ARCHETYPES = ("high-risk/high-reward", "low-risk/high-reward", "high-risk/low-reward", "low-risk/low-reward")
TOOL_NAME = "classify_segments"
MIN_PERIODS = 4  # fewer complete periods cannot show a volatility


# The grains a budget's archetypes are profiled by, first that has enough periods: never days, whose changes
# mostly measure the weekday cycle, not a segment's risk (a daily budget's segments are profiled by week).
ARCHETYPE_GRAINS = {"month": ("month", "week"), "week": ("week",), "day": ("week",)}


def archetype_grain(complete_periods: dict[str, int], reporting_grain: str) -> str | None:
    """The grain to profile a budget's segments by: its reporting grain (weeks for a daily budget), or while a
    monthly budget has fewer than ``MIN_PERIODS`` complete months, weeks; None when none has enough yet."""
    return next((g for g in ARCHETYPE_GRAINS[reporting_grain] if complete_periods.get(g, 0) >= MIN_PERIODS), None)


def profile_segments(values: pd.DataFrame, window: int) -> pd.DataFrame:
    """Reward (recent mean) and risk (volatility of relative changes) per segment.

    Parameters
    ----------
    values : DataFrame
        segment_id, period_start, value: complete periods of one metric at one level.
    window : int
        How many of the level's latest periods to use (the same periods for every segment). A count or sum's
        periods without events need their 0 rows (:func:`models.actions.with_quiet_segments`), or a depot
        closed for two months of a quarter is judged on the weeks before it closed.

    Returns
    -------
    DataFrame
        segment_id, periods, reward, risk (segments with fewer than 4 usable periods left out).
    """
    rows = []
    # the level's latest periods, shared by every segment: a segment that stopped reporting is judged on what
    # it did in them (too little: left out), not on its own last periods from before it went quiet
    recent = sorted(values["period_start"].unique())[-window:]
    values = values[values["period_start"].isin(recent)]
    for segment, group in values.sort_values("period_start").groupby("segment_id", sort=True):
        series = group["value"].astype(float).dropna()
        changes = series.pct_change().replace([np.inf, -np.inf], np.nan).dropna()
        if len(series) < MIN_PERIODS or len(changes) < 2:
            continue
        rows.append({"segment_id": segment, "periods": len(series), "reward": float(series.mean()),
                     "risk": float(changes.std(ddof=1))})
    return pd.DataFrame(rows, columns=["segment_id", "periods", "reward", "risk"])


def quadrant_archetypes(profile: pd.DataFrame, favourable: str) -> pd.DataFrame:
    """The quadrant rule: median splits of reward (oriented by ``favourable``) and risk."""
    out = profile.copy()
    if out.empty:
        return out.assign(archetype=pd.Series(dtype=object), reward_median=np.nan, risk_median=np.nan)
    reward_median, risk_median = float(out["reward"].median()), float(out["risk"].median())
    high_reward = out["reward"] <= reward_median if favourable == "down" else out["reward"] >= reward_median
    high_risk = out["risk"] >= risk_median
    out["archetype"] = [f"{'high' if r else 'low'}-risk/{'high' if w else 'low'}-reward"
                        for r, w in zip(high_risk, high_reward)]
    return out.assign(reward_median=reward_median, risk_median=risk_median)


class Assignment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    segment_id: str
    archetype: str = Field(json_schema_extra={"enum": list(ARCHETYPES)})
    rationale: str = Field(min_length=1, max_length=400)


class Assignments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    assignments: list[Assignment] = Field(min_length=1)


def archetype_tool() -> dict:
    schema = Assignments.model_json_schema()
    item = schema.pop("$defs")["Assignment"]
    schema["properties"]["assignments"]["items"] = item
    return {"name": TOOL_NAME, "description": "Classify every segment into one archetype.", "input_schema": schema}


def check_assignments(data: dict, segments: list[str]) -> dict[str, tuple[str, str]]:
    """segment -> (archetype, rationale); raises ValueError naming what is wrong with the answer."""
    try:
        parsed = Assignments.model_validate(data)
    except ValidationError as err:
        raise ValueError("malformed: " + "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors())) from None
    out = {}
    for a in parsed.assignments:
        if a.archetype not in ARCHETYPES:
            raise ValueError(f"unknown archetype {a.archetype!r} for {a.segment_id}")
        if a.segment_id in out:
            raise ValueError(f"segment {a.segment_id} classified twice")
        out[a.segment_id] = (a.archetype, a.rationale)
    missing, unknown = sorted(set(segments) - set(out)), sorted(set(out) - set(segments))
    if missing or unknown:
        raise ValueError("; ".join(p for p in (missing and f"missing segments: {', '.join(missing)}",
                                               unknown and f"unknown segments: {', '.join(unknown)}") if p))
    return out
