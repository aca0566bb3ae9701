"""Rules -> deterministic actions: every rule evaluated on the complete periods of its grain that the latest
report covers (:func:`rule_window`)."""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from models.closed_days import closed_weekdays_of, in_business
from models.projections import periods_between, zero_when_empty
from models.spec import BudgetSpec

ACTION_COLUMNS = [
    "action_key", "budget_id", "rule_id", "period_grain", "period_start", "segment_level", "segment_id",
    "condition", "trigger_values", "action_type", "action_target", "action_amount", "message",
    "class_kind", "class_type", "class_detail"]


def action_key(budget_id: str, rule_id: str, grain: str, period_start, segment_id: str) -> str:
    """Identity of a firing: the same rule on the same segment and period is one action, however often it runs."""
    text = f"{budget_id}|{rule_id}|{grain}|{pd.Timestamp(period_start).date().isoformat()}|{segment_id}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def rule_metrics(spec: BudgetSpec) -> list[str]:
    """Every metric the spec's rule conditions read (what :func:`evaluate_rules` needs to see)."""
    return sorted({m for condition in spec.parsed_rules().values() for m in condition.references()})


def rule_window(values: pd.DataFrame, rule_grain: str, reporting_grain: str, metrics=None):
    """First period start a rule is evaluated from, or None when its grain has no complete period.

    The start of the latest complete period at ``reporting_grain``, so that every breach in what the latest
    report covers is logged (a daily rule under a weekly briefing: each day of the week and the days since, not
    only the last one, where a one-day failure on a Thursday went unreported), or the rule's own latest complete
    period when that began earlier (a monthly rule under a weekly briefing). ``values`` are metric_values rows
    (metric_id, grain, period_start, is_complete, value), read for ``metrics`` only when given (the ones the
    rule's condition reads).
    """
    if metrics is not None:
        values = values[values["metric_id"].isin(list(metrics))]
    done = values[values["is_complete"] & values["value"].notna()]
    latest = done.loc[done["grain"] == rule_grain, "period_start"].max()
    if pd.isna(latest):
        return None
    report = done.loc[done["grain"] == reporting_grain, "period_start"].max()
    return latest if pd.isna(report) else min(latest, report)


def with_quiet_segments(spec: BudgetSpec, scoped: pd.DataFrame, first) -> pd.DataFrame:
    """The rows of the periods from ``first`` on, with a 0 for each count or sum of a segment seen before that had
    no events in a period: a store closed for renovation has no row on its closed days, and 'transactions < 150'
    never fired for it while it fired for stores open but quiet (and a segment's archetype was its open weeks'
    level). Not for a segment that has left (:func:`models.closed_days.in_business`), nor on the weekdays it
    never opens. Averages, extremes and formulas of nothing stay undecided.

    ``scoped`` holds metric_values rows of one grain and level (metric_id, grain, segment_level, segment_id,
    period_start, value, is_complete)."""
    window = scoped[scoped["period_start"] >= first]
    zero = [m for m in window["metric_id"].unique() if zero_when_empty(spec.metrics[m])]
    if window.empty or not zero:
        return window
    seen = scoped.groupby("segment_id")["period_start"]
    seen_from = seen.min()
    # every period from the first to the latest, a day on which no segment had events included (it has no row),
    # typed as the rows store them (dates, or the warehouse's timestamps)
    grain = window["grain"].iloc[0]
    as_stored = pd.Timestamp if pd.api.types.is_datetime64_any_dtype(window["period_start"]) else (lambda d: d)
    periods = [as_stored(p) for p in periods_between(grain, pd.Timestamp(window["period_start"].min()).date(),
                                                     pd.Timestamp(window["period_start"].max()).date())]
    expected = pd.MultiIndex.from_tuples(
        [(period, segment, metric) for period in periods
         for segment, since in seen_from.items() if since <= period for metric in zero],
        names=["period_start", "segment_id", "metric_id"])
    present = pd.MultiIndex.from_frame(window[["period_start", "segment_id", "metric_id"]])
    missing = expected.difference(present).to_frame(index=False)
    if not missing.empty:
        # a segment gone quiet for longer than it ever had been (a store closed for good) has left: no 0s
        in_trade = pd.Series(True, index=missing.index)
        for segment, rows in missing.groupby("segment_id"):
            in_trade[rows.index] = in_business(seen.get_group(segment), rows["period_start"], grain)
        missing = missing[in_trade]
    if not missing.empty and grain == "day":
        # a day the segment never opens is no quiet day: 'deliveries < 250' fired every Sunday of a fleet closed
        # on Sundays, for every depot
        closed = _closed_weekdays(scoped)
        missing = missing[[pd.Timestamp(day).weekday() not in closed.get(segment, set())
                           for day, segment in zip(missing["period_start"], missing["segment_id"])]]
    if missing.empty:
        return window
    filled = missing.assign(grain=grain, segment_level=window["segment_level"].iloc[0],
                            value=0.0, is_complete=True)
    return pd.concat([window, filled.reindex(columns=window.columns)], ignore_index=True)


def _closed_weekdays(daily: pd.DataFrame) -> dict[str, set[int]]:
    """Per segment, the weekdays it never opens: no row on each of the latest eight of them (see
    :func:`models.closed_days.closed_weekdays`)."""
    last = daily["period_start"].max()
    return {segment: closed_weekdays_of(rows["period_start"], last) for segment, rows in daily.groupby("segment_id")}


def evaluate_rules(spec: BudgetSpec, values: pd.DataFrame) -> pd.DataFrame:
    """Actions fired by ``spec``'s rules on the complete periods from :func:`rule_window` on.

    Parameters
    ----------
    spec : BudgetSpec
        The budget and its rules.
    values : pandas.DataFrame
        metric_values rows of the budget: metric_id, grain, period_start, segment_level,
        segment_id, value, is_complete.

    Returns
    -------
    pandas.DataFrame
        One row per firing (columns :data:`ACTION_COLUMNS`); ``trigger_values`` holds the
        values the condition saw (JSON), so a later run can measure what followed.
        A condition that cannot be decided (a value is missing) fires nothing.
    """
    rows = []
    conditions = spec.parsed_rules()
    for rule in spec.rules:
        condition = conditions[rule.id]
        level = rule.scope.level or "_total"
        scoped = values[(values["grain"] == rule.period) & (values["segment_level"] == level) & values["is_complete"]
                        & values["metric_id"].isin(condition.references())]
        if scoped.empty:
            continue
        first = rule_window(values, rule.period, spec.reporting_grain, condition.references())
        if first is None:  # complete periods whose values are all missing: nothing can be decided
            continue
        cls = rule.classification
        window = with_quiet_segments(spec, scoped, first)
        for (period, segment_id), seg in window.groupby(["period_start", "segment_id"], sort=True):
            seen = {m: (None if pd.isna(v) else float(v)) for m, v in zip(seg["metric_id"], seg["value"])}
            if condition.holds(seen) is not True:
                continue
            rows.append({
                "action_key": action_key(spec.id, rule.id, rule.period, period, segment_id),
                "budget_id": spec.id, "rule_id": rule.id, "period_grain": rule.period,
                "period_start": pd.Timestamp(period).date(), "segment_level": level, "segment_id": segment_id,
                "condition": rule.when, "trigger_values": json.dumps(seen, sort_keys=True),
                "action_type": rule.action.type, "action_target": rule.action.target,
                "action_amount": rule.action.amount, "message": rule.action.message,
                "class_kind": cls.kind, "class_type": cls.type, "class_detail": cls.detail,
            })
    return pd.DataFrame(rows, columns=ACTION_COLUMNS)
