"""Learning from decisions: what followed each recommendation and rule action, against what was expected.

- A reallocation recommended on period P is judged on period P+1: how far it was followed
  (the actual move projected on the recommended one), the outcome observed, and the outcome the
  fitted response curves expected for the spend actually made. The gap between the two is what
  the curves got wrong; the expected effect is what the move itself should have bought.
- A rule action fired on period P is judged by difference in differences: the change of the
  rule's first metric in the flagged segment from P to P+1, minus the change of the same metric
  for the budget as a whole over the same periods (the expected path had nothing been done).
"""

from __future__ import annotations

import json
from collections.abc import Collection

import numpy as np
import pandas as pd

from models.response import ResponseCurve

OUTCOME_COLUMNS = [
    "budget_id", "decision", "decided_period", "evaluated_period", "segment_id", "metric_id", "followed_share",
    "value_at_decision", "value_after", "observed_effect", "expected_effect", "summary"]


def next_period(period: pd.Timestamp, grain: str) -> pd.Timestamp:
    period = pd.Timestamp(period)
    if grain == "day":
        return period + pd.Timedelta(days=1)
    if grain == "week":
        return period + pd.Timedelta(days=7)
    return period + pd.DateOffset(months=1)


def _curve(row) -> ResponseCurve:
    return ResponseCurve(row.curve_form, float(row.curve_intercept), float(row.curve_slope), float(row.curve_scale))


def recommendation_outcomes(log: pd.DataFrame, realized: pd.DataFrame) -> list[dict]:
    """Judge each logged recommendation on the period after its basis.

    Parameters
    ----------
    log : pandas.DataFrame
        Allocation log rows: budget_id, basis_period, grain, objective_metric, segment_id, current,
        recommended, curve_form, curve_intercept, curve_slope, curve_scale.
    realized : pandas.DataFrame
        Complete periods: budget_id, period_start, segment_id, lever, objective.
    """
    out = []
    for (budget, basis), rows in log.groupby(["budget_id", "basis_period"], sort=True):
        grain = rows["grain"].iloc[0]
        after = next_period(basis, grain)
        actual = realized[(realized["budget_id"] == budget) & (pd.to_datetime(realized["period_start"]) == after)]
        actual = actual.set_index("segment_id")
        # a lever paused at the decision and left at nothing has no row after it either: nothing spent, nothing got
        idle = rows.loc[(rows["current"] == 0) & (rows["recommended"] == 0), "segment_id"]
        missing = [s for s in idle if s not in actual.index]
        actual = pd.concat([actual, pd.DataFrame({"lever": 0.0, "objective": 0.0}, index=pd.Index(missing, name="segment_id"))])
        if len(actual) == len(missing) or not set(rows["segment_id"]) <= set(actual.index):
            continue  # the following period is not complete yet
        move = rows["recommended"].to_numpy() - rows["current"].to_numpy()
        done = actual.loc[rows["segment_id"], "lever"].to_numpy() - rows["current"].to_numpy()
        followed = float(done @ move / (move @ move)) if move @ move > 0 else None
        curves = [_curve(r) for r in rows.itertuples()]
        before = sum(float(c.predict(x)) for c, x in zip(curves, rows["current"]))
        at_actual = sum(float(c.predict(x)) for c, x in zip(curves, actual.loc[rows["segment_id"], "lever"]))
        observed = float(actual.loc[rows["segment_id"], "objective"].sum())
        metric = rows["objective_metric"].iloc[0]
        out.append({
            "budget_id": budget, "decision": "reallocation", "decided_period": pd.Timestamp(basis).date(),
            "evaluated_period": after.date(), "segment_id": "_total", "metric_id": metric,
            "followed_share": followed, "value_at_decision": before, "value_after": observed,
            "observed_effect": observed - before, "expected_effect": at_actual - before,
            "summary": (f"reallocation of {grain} {pd.Timestamp(basis).date()}: followed "
                        f"{'n/a' if followed is None else f'{followed:.0%}'}; observed {observed - before:+.1f} "
                        f"{metric} against {at_actual - before:+.1f} expected for the spend actually made"),
        })
    return out


def judged_metric(trigger_values: str) -> str | None:
    """The metric an action is judged on: the first its rule's trigger read."""
    return next(iter(json.loads(trigger_values)), None)


def action_scopes(actions: pd.DataFrame) -> pd.DataFrame:
    """The (budget_id, metric_id, grain) whose values judge ``actions``: all :func:`action_outcomes` reads."""
    return pd.DataFrame({"budget_id": actions["budget_id"], "grain": actions["period_grain"],
                         "metric_id": [judged_metric(t) for t in actions["trigger_values"]]}
                        ).dropna().drop_duplicates().reset_index(drop=True)


def action_outcomes(actions: pd.DataFrame, values: pd.DataFrame,
                    in_units: Collection[tuple[str, str]] = ()) -> list[dict]:
    """Judge each rule action on the period after it fired: against the forecast made at decision time when
    the action recorded one (``expected_next``), else by difference in differences against the budget total.

    ``values`` are metric_values rows: budget_id, metric_id, grain, period_start, segment_level,
    segment_id, value, is_complete. ``in_units`` are the (budget_id, metric_id) whose differences are taken in
    their units, not as shares (a temperature's, a score's: -14.5 to -15.1 C is no +4.1%); of any other metric
    they are shares, and an action is not judged where the segment's or the total's base is 0 or below.
    """
    out = []
    complete = values[values["is_complete"]].assign(period_start=lambda f: pd.to_datetime(f["period_start"]))
    indexed = complete.set_index(["budget_id", "metric_id", "grain", "segment_id", "period_start"])["value"]
    for a in actions.sort_values(["budget_id", "rule_id", "period_start", "segment_id"]).itertuples():
        metric = judged_metric(a.trigger_values)
        if metric is None:
            continue
        before, after = pd.Timestamp(a.period_start), next_period(a.period_start, a.period_grain)

        def value(segment, period):
            v = indexed.get((a.budget_id, metric, a.period_grain, segment, period))
            return None if v is None or pd.isna(v) else float(v)

        seg0, seg1 = value(a.segment_id, before), value(a.segment_id, after)
        tot0, tot1 = value("_total", before), value("_total", after)
        if None in (seg0, seg1, tot0, tot1):
            continue  # not complete yet
        expected = getattr(a, "expected_next", None)
        row = {"budget_id": a.budget_id, "decision": f"rule {a.rule_id}", "decided_period": before.date(),
               "evaluated_period": after.date(), "segment_id": a.segment_id, "metric_id": metric,
               "followed_share": None, "value_at_decision": seg0, "value_after": seg1}
        head = f"{a.rule_id} on {a.segment_id} ({a.period_grain} {before.date()}): {metric} {seg0:.4g} -> {seg1:.4g}"
        if expected is not None and pd.notna(expected):
            # the expected path: what was forecast at decision time for the next period
            row.update(observed_effect=seg1 - seg0, expected_effect=float(expected) - seg0,
                       summary=f"{head} against {float(expected):.4g} expected ({a.expected_basis}); "
                               f"difference {seg1 - float(expected):+.4g}")
        elif (a.budget_id, metric) in in_units:
            # no forecast for that scope: difference in differences against the budget total, in the metric's units
            seg_move, total_move = seg1 - seg0, tot1 - tot0
            row.update(observed_effect=seg_move - total_move, expected_effect=0.0,
                       summary=f"{head} ({seg_move:+.4g}) while the budget moved {total_move:+.4g}; "
                               f"relative effect {seg_move - total_move:+.4g}")
        elif seg0 > 0 and tot0 > 0:
            # the same as shares of where each stood
            seg_change, total_change = seg1 / seg0 - 1, tot1 / tot0 - 1
            row.update(observed_effect=seg_change - total_change, expected_effect=0.0,
                       summary=f"{head} ({seg_change:+.1%}) while the budget moved {total_change:+.1%}; "
                               f"relative effect {seg_change - total_change:+.1%}")
        else:
            continue  # no base to take a share of
        out.append(row)
    return out


def outcomes_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=OUTCOME_COLUMNS)
    return frame.replace({np.nan: None}) if len(frame) else frame
