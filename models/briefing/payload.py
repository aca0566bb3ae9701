"""The briefing payload: every figure a briefing may cite, pre-computed and labelled.

The statistics do the arithmetic here; a writer (template or LLM) only weighs and
words it. Every figure carries its provenance ("observed" for values measured
from events) and, where it is a change, whether it exceeds the metric's normal
period-to-period variation.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from models.actions import rule_window
from models.allocation import NOT_ESTIMATED
from models.briefing.gaps import day_runs, measure_gaps, new_segments, segment_gaps, stopped_segments
from models.budget_periods import budget_goals, period_label
from models.closed_days import closed_weekdays_of
from models.drift.engine import ROUNDING
from models.drift.level_shift import SAME_SHIFT_DAYS
from models.drift.materiality import change_materiality, usual_change
from models.goals import (CURRENT_RATE_DAYS, goal_kind, grows_with_days, is_partial, observed_to_date,
                          partial_verdict, unseen_days)
from models.projections import YEAR_STEPS, changes_as_shares, is_additive, next_period
from models.spec import BudgetSpec, Metric
from models.units import reads_as_percent

SIGNIFICANT_DIGITS = 10  # floating-point sums carry noise in the last digits; nobody should read it


@dataclass(frozen=True)
class BriefingInputs:
    """Tables a briefing is computed from (already filtered to one budget)."""

    values: pd.DataFrame      # metric_values rows at segment_level '_total', all grains
    rankings: pd.DataFrame    # fct_segment_rankings rows of the briefing period and grain
    quality: dict             # received / loaded / quarantined / top reasons / last event
    known_events: pd.DataFrame  # event_date, end_date, name, kind, segment_level, segment_value
    actions: pd.DataFrame = field(default_factory=pd.DataFrame)      # main.actions rows of the budget
    allocation: pd.DataFrame = field(default_factory=pd.DataFrame)   # main.allocation_recommendations rows
    constraints: pd.DataFrame = field(default_factory=pd.DataFrame)  # main.allocation_constraints rows
    outcomes: pd.DataFrame = field(default_factory=pd.DataFrame)     # main.decision_outcomes rows
    goal_tracking: pd.DataFrame = field(default_factory=pd.DataFrame)     # main.goal_tracking rows
    goal_constraints: pd.DataFrame = field(default_factory=pd.DataFrame)  # main.goal_constraints rows
    forecasts: pd.DataFrame = field(default_factory=pd.DataFrame)  # main.metric_forecasts, total scope
    forecasts_to_date: pd.DataFrame = field(default_factory=pd.DataFrame)  # main.month_forecasts_to_date rows
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)  # main.drift_attributions, grain and week, all scopes
    archetypes: pd.DataFrame = field(default_factory=pd.DataFrame)  # main.segment_archetypes rows of the budget
    text_evidence: pd.DataFrame = field(default_factory=pd.DataFrame)  # raw.text_metric_values, total scope
    # each measure's events per day at the total (measure, period_start, events): what a goal's mean weighs by
    daily_events: pd.DataFrame | None = None
    # the members each distinct count counts per day at the total (metric_id, period_start, member)
    daily_members: pd.DataFrame | None = None
    # the leaf segments' days with events of each measure (segment_id, measure, day, event_count), recent ones
    measure_days: pd.DataFrame | None = None
    # each leaf segment's first day with events and its last through the briefing's period (segment_id, first_day,
    # last_day)
    segment_spans: pd.DataFrame = field(default_factory=pd.DataFrame)
    # the leaves' days with events (segment_id, day, event_count) up to the last of those silent since before the
    # days the briefing searches for gaps (models.briefing.gaps.stopped_segments)
    before_stop: pd.DataFrame = field(default_factory=pd.DataFrame)
    level_shifts: pd.DataFrame = field(default_factory=pd.DataFrame)  # main.level_shifts rows of the period


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _int(value) -> int | None:
    number = _num(value)
    return None if number is None else int(number)


def _flag(value) -> bool:
    """A table's boolean, NULL (None, NA, NaN) read as False."""
    return False if value is None or pd.isna(value) else bool(value)


def _date(value) -> str | None:
    """A table's date (or NULL, as None, NaT or NaN) as ISO text."""
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _pct(new: float | None, old: float | None, ratio_scale: bool) -> float | None:
    """Relative change, only where it means something: a positive base, on a scale whose zero is no arbitrary
    point (not a composite score: a z-scored score going from -0.09 to -0.61 is not a change of -604%; nor a
    measure that may go below zero: an outdoor temperature going from 12.8 to 10.4 C is not -18%)."""
    if new is None or old is None or old <= 0 or not ratio_scale:
        return None
    return (new - old) / old


def _assessment(change: float | None, favourable: str, verdict: str) -> str:
    """The table's word for a change, from its materiality verdict (the drift stage's rule, the same numbers)."""
    if change is None:
        return "not comparable"
    if verdict == "unknown":
        return "too little history to judge"
    if verdict != "material":
        return "within normal variation"
    if favourable == "neutral" or change == 0:
        return "changed"
    good = (change > 0) == (favourable == "up")
    return "improved" if good else "worsened"


def latest_complete_period(values: pd.DataFrame, grain: str) -> dt.date | None:
    """Start of the newest complete period at ``grain`` that has values."""
    done = values[(values["grain"] == grain) & values["is_complete"] & values["value"].notna()]
    return None if done.empty else pd.Timestamp(done["period_start"].max()).date()


# Grains a briefing may fall back to, coarsest first, while its reporting grain has no complete period yet.
FALLBACK_GRAINS = {"month": ("month", "week", "day"), "week": ("week", "day"), "day": ("day",)}


def briefing_grain(values: pd.DataFrame, reporting_grain: str) -> str:
    """The grain a briefing covers: the reporting grain, or while it has no complete period yet (a budget's
    first weeks of data), the next finer grain that has one, so the first briefing reports the latest complete
    week instead of nothing."""
    return next((g for g in FALLBACK_GRAINS[reporting_grain] if latest_complete_period(values, g) is not None),
                reporting_grain)


def _complete_series(values: pd.DataFrame, grain: str, metric_id: str) -> pd.Series:
    """A metric's values of its complete periods at ``grain``, by period start (a date), oldest first."""
    return (values[(values["grain"] == grain) & (values["metric_id"] == metric_id) & values["is_complete"]]
            .assign(period_start=lambda f: pd.to_datetime(f["period_start"]).dt.date)
            .set_index("period_start")["value"].sort_index())


def _metric_figures(spec: BudgetSpec, values: pd.DataFrame, grain: str, period: dt.date) -> list[dict]:
    figures = []
    grain_values = values[values["grain"] == grain]
    for metric_id, metric in spec.metrics.items():
        series = _complete_series(grain_values, grain, metric_id)
        series = series[series.index <= period]
        current = _num(series.get(period))
        row = grain_values[(grain_values["metric_id"] == metric_id)
                           & (pd.to_datetime(grain_values["period_start"]).dt.date == period)]
        provenance = _text(row["provenance"].iloc[0]) if "provenance" in row and len(row) else None
        confidence = _num(row["confidence"].iloc[0]) if "confidence" in row and len(row) else None
        previous_period = series.index[-2] if len(series) >= 2 and series.index[-1] == period else None
        previous = _num(series.get(previous_period)) if previous_period else None
        # the drift stage's year-ago period (52 weeks back for a week: a date a year back is not a Monday)
        year_ago_period = next_period(grain, period, -YEAR_STEPS[grain])
        year_ago = _num(series.get(year_ago_period))
        change = None if current is None or previous is None else current - previous
        # judged against the complete periods before the one reported, as the drift stage judges it
        z, verdict = (None, "unknown") if change is None else change_materiality(
            series[series.index < period].to_numpy(float), change)
        ratio_scale = changes_as_shares(spec, metric)
        figures.append({
            "metric_id": metric_id,
            "name": metric.name or metric_id.replace("_", " "),
            "unit": metric.unit,
            "kind": metric.kind,
            "step": metric.step,
            "roles": list(metric.roles),
            "classification": list(metric.classification),
            "favourable": metric.favourable,
            "is_north_star": "north_star" in metric.roles,
            "provenance": provenance or "observed",
            "value": current,
            "null_reason": None if current is not None else _null_reason(grain_values, metric_id, period),
            "previous_period_start": previous_period.isoformat() if previous_period else None,
            "previous_value": previous,
            "change": change,
            "change_pct": _pct(current, previous, ratio_scale),
            "year_ago_value": year_ago,
            "year_ago_change": None if current is None or year_ago is None else current - year_ago,
            "year_ago_change_pct": _pct(current, year_ago, ratio_scale),
            "change_z": None if z is None else round(z, 2),
            "confidence": (confidence if confidence is not None and metric.kind == "qualitative"
                           else "measured" if current is not None else "unavailable"),
            "assessment": _assessment(change, metric.favourable, verdict),
        })
    return sorted(figures, key=lambda f: (not f["is_north_star"], spec.value_chain.index(f["step"]), f["metric_id"]))


def _null_reason(grain_values: pd.DataFrame, metric_id: str, period: dt.date) -> str | None:
    row = grain_values[(grain_values["metric_id"] == metric_id)
                       & (pd.to_datetime(grain_values["period_start"]).dt.date == period)]
    return None if row.empty else row["null_reason"].iloc[0]


def _goal_progress(spec: BudgetSpec, values: pd.DataFrame, last_day: dt.date, events: pd.DataFrame | None,
                   members: pd.DataFrame | None) -> list[dict]:
    """Progress so far against each goal, observed only (forecasts come in a later stage): the figure
    goal_tracking reports as observed to date, computed the same way (:func:`models.goals.observed_to_date`)."""
    daily = values[values["grain"] == "day"].assign(period_start=lambda f: pd.to_datetime(f["period_start"]).dt.date)
    first_day = daily["period_start"].min() if len(daily) else None
    out = []
    for goal in budget_goals(spec, last_day):
        start = goal.start or first_day or last_day
        upto = min(goal.deadline, last_day)
        total_days = (goal.deadline - start).days + 1
        elapsed_days = max(min((upto - start).days + 1, total_days), 0)
        unseen = unseen_days(goal, first_day)
        actual = observed_to_date(spec, goal, daily, last_day, events, members) if elapsed_days else None
        if actual is None:
            pace_status = "not started" if last_day < start else "no data"
        else:
            pace_status = _pace(grows_with_days(spec, goal), actual, goal.target, elapsed_days / total_days,
                                spec.is_ceiling(goal), finished=last_day >= goal.deadline)
            # the days before the data are not in the figure: only what it already settles is said
            if is_partial(spec, goal, unseen) and (
                    partial_verdict(spec, goal, actual, last_day >= goal.deadline)[0] == "partial_data"):
                pace_status = "partial data"
        out.append({
            "goal_id": goal.id, "kind": goal_kind(goal), "metric_id": goal.metric, "target": goal.target,
            "aggregation": goal.aggregation, "ceiling": spec.is_ceiling(goal), "start": start.isoformat(),
            "deadline": goal.deadline.isoformat(), "observed_through": upto.isoformat(),
            "data_from": first_day.isoformat() if unseen else None, "unseen_days": unseen,
            "actual_so_far": actual, "elapsed_share": round(elapsed_days / total_days, 4) if total_days else None,
            "share_of_target": None if actual is None or goal.target == 0 else actual / goal.target,
            "status": pace_status, "provenance": "observed",
        })
    return out


def _pace(grows: bool, actual: float, target: float, elapsed: float, ceiling: bool, finished: bool) -> str:
    """On track if the observed figure, taken at its linear pace when it ``grows`` with the days (a count or
    sum's total) and as it is otherwise (a mean, an extreme, a ratio), reaches the target (stays under it when
    lower is better: a ceiling); off it, behind a target or over the pace of a ceiling; once the deadline has
    passed, achieved or missed."""
    if grows and not finished:
        projected = actual / elapsed if elapsed > 0 else actual
    else:
        projected = actual
    met = projected <= target if ceiling else projected >= target
    if finished:
        return "achieved" if met else "missed"
    return "on track" if met else "over pace" if ceiling else "behind"


def _ranked(row) -> dict:
    """A ranked segment, with how many of its level share its value (``tied``; None from before it was counted)."""
    tied = getattr(row, "segments_tied", None)
    return {"segment_id": row.segment_id, "value": _num(row.value),
            "tied": None if tied is None or pd.isna(tied) else int(tied)}


def _segments(rankings: pd.DataFrame, metric_ids: list[str], levels: list[str]) -> list[dict]:
    """Best and worst segments of the headline metrics at the top and the lowest level."""
    out = []
    shown_levels = list(dict.fromkeys([levels[0], levels[-1]]))
    for metric_id in metric_ids:
        for level in shown_levels:
            rows = rankings[(rankings["metric_id"] == metric_id) & (rankings["segment_level"] == level)]
            if rows.empty:
                continue
            top = rows[rows["is_top"]].sort_values("rank_best")
            bottom = rows[rows["is_bottom"]].sort_values("rank_worst")
            out.append({
                "metric_id": metric_id, "segment_level": level, "segments_ranked": int(rows["segments_ranked"].iloc[0]),
                "best": [_ranked(r) for r in top.itertuples()],
                "worst": [_ranked(r) for r in bottom.itertuples()],
            })
    return out


def build_payload(spec: BudgetSpec, inputs: BriefingInputs) -> dict:
    """Assemble the JSON-ready payload of one budget's briefing.

    Parameters
    ----------
    spec : BudgetSpec
        The budget.
    inputs : BriefingInputs
        Budget-total metric values, rankings of the period, data-quality figures and
        the known-events calendar.

    Returns
    -------
    dict
        Sections: budget, period, metrics (north star first), goals, segments,
        composites, data_quality, known_events. Deterministic for the same inputs.
    """
    # the spec's metrics only: system metrics (the LLM ledger) run on past the data, to the day of the calls
    inputs = dataclasses.replace(inputs, values=inputs.values[inputs.values["metric_id"].isin(list(spec.metrics))])
    grain = briefing_grain(inputs.values, spec.reporting_grain)
    period = latest_complete_period(inputs.values, grain)
    if period is None:
        return {"budget": _budget(spec), "period": None, "metrics": [], "goals": [], "segments": [],
                "composites": [], "actions": [], "decision_outcomes": [], "allocation": None,
                "what_will_happen": {"goals": [], "forecast": []}, "why_it_changed": [], "quiet_shocks": [],
                "level_shifts": [], "episodes": [],
                "latest_week": None,
                "archetypes": None,
                "data_quality": inputs.quality,
                "known_events": [],
                "notes": [f"no complete {grain} with data yet"]}
    period_end = (pd.Timestamp(period) + (pd.DateOffset(months=1) if grain == "month" else
                                           pd.Timedelta(days=7 if grain == "week" else 1))).date()
    figures = _metric_figures(spec, inputs.values, grain, period)
    _attach_text_evidence(figures, inputs.text_evidence, period)
    daily = inputs.values[inputs.values["grain"] == "day"]
    last_day = pd.Timestamp(daily["period_start"].max()).date() if not daily.empty else period_end
    # a last day the warehouse holds open though it has events was cut short (macros/metric_inputs.sql); the
    # system metrics' days run with the LLM ledger's, past the events
    measured = daily["provenance"] != "system" if "provenance" in daily else True
    on_last = daily[(pd.to_datetime(daily["period_start"]).dt.date == last_day) & measured]
    cut_short = bool(len(on_last)) and not on_last["is_complete"].astype(bool).any()
    headline = [f["metric_id"] for f in figures if f["is_north_star"] or {"output", "lagging"} & set(f["roles"])]
    events = inputs.known_events
    in_period = events[(pd.to_datetime(events["end_date"]).dt.date >= period)
                       & (pd.to_datetime(events["event_date"]).dt.date < period_end)] if len(events) else events
    progress = _goal_progress(spec, inputs.values, last_day, inputs.daily_events, inputs.daily_members)
    ahead = _predictions(spec, inputs, grain)
    why = _why_it_changed(headline, _at_grain(inputs.drift, grain), period, inputs.values, grain)
    leaf_days = pd.DataFrame() if inputs.measure_days is None else inputs.measure_days
    days_with_events = daily[daily["metric_id"].isin([m for m, x in spec.metrics.items() if x.kind == "base"])
                             & daily["value"].notna()]["period_start"]
    return _rounded({
        "budget": _budget(spec, progress, ahead["goals"]),
        "period": {"grain": grain, "start": period.isoformat(), "end": period_end.isoformat(),
                   "data_through": last_day.isoformat(), "last_day_cut_short": cut_short,
                   "reporting_grain": spec.reporting_grain},
        "metrics": figures,
        "headline_metrics": headline,
        "goals": progress,
        "segments": _segments(inputs.rankings, headline[:4], list(spec.segments.levels)),
        "composites": [
            {"metric_id": mid, "value": next((f["value"] for f in figures if f["metric_id"] == mid), None),
             "components": [{"metric_id": c.metric, "weight": c.weight, "normalize": c.normalize.method,
                             "value": next((f["value"] for f in figures if f["metric_id"] == c.metric), None)}
                            for c in m.composite.components]}
            for mid, m in spec.metrics.items() if m.composite is not None
        ],
        "actions": _current_actions(spec, inputs.actions, inputs.values, grain),
        "decision_outcomes": _latest_outcomes(inputs.outcomes),
        "allocation": _allocation(inputs.allocation, inputs.constraints),
        "why_it_changed": why,
        "quiet_shocks": _quiet_shocks(_at_grain(inputs.drift, grain), period, period_end,
                                      {m for m, metric in spec.metrics.items() if is_additive(metric)},
                                      {m for m, metric in spec.metrics.items()
                                       if metric.kind == "base" and metric.agg in ("count", "distinct_count")},
                                      {e["metric_id"] for e in why
                                       if any(c["verdict"] == "material" for c in e["comparisons"])},
                                      spec.segments.levels[0]),
        "level_shifts": _level_shifts(spec, inputs.level_shifts, grain, period),
        "episodes": _episodes(spec, inputs.level_shifts, grain, period),
        "latest_week": _latest_week(headline, inputs.drift, inputs.values, grain, period_end),
        "archetypes": _archetypes(inputs.archetypes),
        "what_will_happen": ahead,
        "data_quality": {**inputs.quality, **days_without_events(
            days_with_events, period, period_end, covered_through=period_end - dt.timedelta(days=1),
            holidays=_budget_holidays(events)),
            "measure_gaps": measure_gaps(leaf_days, period_end - dt.timedelta(days=1)),
            "segment_gaps": segment_gaps(leaf_days, period_end - dt.timedelta(days=1)),
            "stopped_segments": stopped_segments(inputs.segment_spans, inputs.before_stop, days_with_events,
                                                 period_end - dt.timedelta(days=1)),
            "new_segments": new_segments(inputs.segment_spans, next_period(grain, period, -1))},
        "known_events": [
            {"date": pd.Timestamp(r.event_date).date().isoformat(), "name": r.name, "kind": r.kind,
             "segment": None if r.segment_value is None or (isinstance(r.segment_value, float) and math.isnan(r.segment_value))
             else f"{r.segment_level}={r.segment_value}"}
            for r in in_period.itertuples()
        ],
    })


def days_without_events(days_with_data: pd.Series, period: dt.date, period_end: dt.date,
                        max_runs: int = 5, covered_through: dt.date | None = None,
                        holidays: Iterable[dt.date] = ()) -> dict:
    """Days between the first day with data and the last day covered on which no event arrived.

    Parameters
    ----------
    days_with_data : Series
        Days (dates or timestamps, repeats allowed) with at least one event.
    period, period_end : datetime.date
        The briefing's period ``[period, period_end)``.
    max_runs : int
        How many of the latest runs of consecutive missing days to list.
    covered_through : datetime.date, optional
        The last day the data covers when it is later than the last day with data (a complete period that
        ends on a closed Sunday); default the last day with data.
    holidays : iterable of datetime.date
        The budget's public holidays: a day without events on one is the business closed, as usual.

    Returns
    -------
    dict
        ``days_without_events`` (count over the history); of them ``closed_days`` on the weekdays the business
        is closed (``closed_weekdays``, see :func:`models.closed_days.closed_weekdays`) or on a holiday, as
        usual; ``days_without_events_in_period`` and ``latest_gaps`` (up to ``max_runs`` runs, latest first, as
        ``{"start", "end", "days"}``) count the others only. Counts and sums take such a day as 0; the briefing
        names them, as a late source looks the same.
    """
    days = pd.DatetimeIndex(pd.to_datetime(days_with_data).unique()).sort_values()
    if len(days) == 0:
        return {"days_without_events": 0, "closed_days": 0, "closed_weekdays": [],
                "days_without_events_in_period": 0, "latest_gaps": []}
    last = days[-1] if covered_through is None else max(days[-1], pd.Timestamp(covered_through))
    missing = pd.date_range(days[0], last, freq="D").difference(days)
    closed = closed_weekdays_of(days, last)
    usual = missing.weekday.isin(list(closed)) | missing.isin(pd.DatetimeIndex(pd.to_datetime(list(holidays))))
    unexplained = missing[~usual]
    in_period = int(((unexplained >= pd.Timestamp(period)) & (unexplained < pd.Timestamp(period_end))).sum())
    runs = [{"start": first.date().isoformat(), "end": last.date().isoformat(), "days": length}
            for first, last, length in day_runs(unexplained)[::-1][:max_runs]]  # latest first
    return {"days_without_events": len(missing), "closed_days": int(usual.sum()),
            "closed_weekdays": [calendar.day_name[d] for d in sorted(closed)],
            "days_without_events_in_period": in_period, "latest_gaps": runs}


def _budget_holidays(events: pd.DataFrame) -> list[dt.date]:
    """The public holidays of the whole budget (not one segment's) among the known events."""
    if events.empty:
        return []
    whole = events[(events["kind"] == "holiday") & events["segment_value"].isna()]
    return list(pd.to_datetime(whole["event_date"]).dt.date)


def _text(value) -> str | None:
    """SQL NULL text arrives as None, NaN or pd.NA depending on the pandas version: one None."""
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _current_actions(spec: BudgetSpec, actions: pd.DataFrame, values: pd.DataFrame, grain: str) -> list[dict]:
    """What the rules say to do now: each rule's firings in the periods the briefing covers (from the rule's
    window, :func:`models.actions.rule_window`, at the briefing's grain), not an old firing of a rule that has
    held since."""
    if actions.empty:
        return []
    conditions = spec.parsed_rules()
    starts = {rule.id: rule_window(values, rule.period, grain, conditions[rule.id].references()) for rule in spec.rules}
    keep = [starts.get(r.rule_id) is not None and pd.Timestamp(r.period_start) >= pd.Timestamp(starts[r.rule_id])
            for r in actions.itertuples()]
    latest = actions[keep]
    firings = [{"rule_id": r.rule_id, "period_grain": r.period_grain,
                "period_start": pd.Timestamp(r.period_start).date().isoformat(), "segment_id": r.segment_id,
                "condition": r.condition, "trigger_values": json.loads(r.trigger_values), "action_type": r.action_type,
                "target": _text(r.action_target),
                "amount": None if pd.isna(r.action_amount) else float(r.action_amount),
                "message": _text(r.message), "classification": {"kind": r.class_kind, "type": r.class_type,
                                                                "detail": _text(r.class_detail)},
                "needs_judgement": r.class_kind == "decision" and r.class_type == "non_programmed",
                "provenance": "rule on observed values"}
               for r in latest.sort_values(["rule_id", "segment_id", "period_start"]).itertuples()]
    return sorted(_runs(firings), key=lambda a: (a["rule_id"], a["period_start"], a["segment_id"]))


def _runs(firings: list[dict]) -> list[dict]:
    """Firings of one rule on one segment in consecutive periods as one: from its first period to its last
    (``period_last``, ``periods``), the latest trigger values and each one's range over the run. A daily rule
    under a monthly briefing that held on every day of a runaway cost was a table of eleven rows alike."""
    runs: list[dict] = []
    for firing in firings:  # sorted by rule, segment and period
        last = runs[-1] if runs else None
        same = last is not None and all(last[k] == firing[k] for k in (
            "rule_id", "segment_id", "period_grain", "action_type", "message", "classification"))
        if same and next_period(firing["period_grain"], dt.date.fromisoformat(last["period_last"])) == \
                dt.date.fromisoformat(firing["period_start"]):
            last.update(period_last=firing["period_start"], periods=last["periods"] + 1)
            for name, value in firing["trigger_values"].items():
                low, high = last["trigger_ranges"].get(name, (value, value))
                if all(isinstance(v, (int, float)) for v in (low, high, value)):
                    last["trigger_ranges"][name] = (min(low, value), max(high, value))
            last["trigger_values"] = firing["trigger_values"]
            continue
        runs.append({**firing, "period_last": firing["period_start"], "periods": 1,
                     "trigger_ranges": {k: (v, v) for k, v in firing["trigger_values"].items()}})
    for run in runs:
        run["trigger_ranges"] = {k: list(v) for k, v in run["trigger_ranges"].items()} if run["periods"] > 1 else {}
    return runs


def _latest_outcomes(outcomes: pd.DataFrame, limit: int = 10) -> list[dict]:
    """What followed the latest of each decision about each segment and metric, newest first, with how many
    earlier ones it stands for: a rule that fired on eleven days running is one line, not ten alike."""
    if outcomes.empty:
        return []
    keys = [k for k in ("decision", "segment_id", "metric_id") if k in outcomes.columns]
    ordered = outcomes.sort_values(["evaluated_period", *keys], ascending=[False] + [True] * len(keys))
    taken = ordered.groupby(keys, sort=False, dropna=False).size().rename("times")
    latest = ordered.drop_duplicates(keys).join(taken, on=keys).head(limit)
    return [{"decision": r.decision, "decided_period": pd.Timestamp(r.decided_period).date().isoformat(),
             "evaluated_period": pd.Timestamp(r.evaluated_period).date().isoformat(), "summary": r.summary,
             "earlier": int(r.times) - 1, "provenance": "observed after the decision, against the expected path"}
            for r in latest.itertuples()]


def _allocation(allocation: pd.DataFrame, constraints: pd.DataFrame) -> dict | None:
    if allocation.empty:
        if constraints.empty:
            return None
        if (constraints["constraint_name"] == NOT_ESTIMATED).all():
            return {"not_estimated": constraints["explanation"].iloc[0]}
        return {"infeasible": sorted(constraints["constraint_name"]), "explanation": constraints["explanation"].iloc[0]}
    first = allocation.iloc[0]
    neck = constraints[constraints["is_bottleneck"].fillna(False).astype(bool)] if not constraints.empty else constraints
    budget = constraints[constraints["constraint_name"] == "budget"] if not constraints.empty else constraints
    return {
        "basis_period": pd.Timestamp(first["basis_period"]).date().isoformat(), "grain": first["grain"],
        "lever_metric": first["lever_metric"], "objective_metric": first["objective_metric"],
        "objective_sense": _text(first.get("objective_sense")) or "maximise",
        "levers": [{"segment_id": r.segment_id, "current": r.current, "recommended": r.recommended,
                    "change": r.change, "curve_form": r.curve_form, "held": _text(getattr(r, "held_reason", None)),
                    "observed_low": _num(getattr(r, "observed_low", None)),
                    "observed_high": _num(getattr(r, "observed_high", None)),
                    "extrapolated": _flag(getattr(r, "extrapolated", None))}
                   for r in allocation.itertuples()],
        "budget": float(budget["limit_value"].iloc[0]) if "limit_value" in budget and len(budget) else None,
        "recommended_total": float(allocation["recommended"].sum()),
        "expected_objective_current": first["expected_objective_current"],
        "expected_objective_recommended": first["expected_objective_recommended"],
        "expected_gain": first["expected_gain"],
        "expected_gain_interval90": [first["expected_gain_low90"], first["expected_gain_high90"]],
        "interval_level": 0.9,
        # the demand the levers share, next period against the fitted periods' mean (1: fitted alone)
        "demand_ahead": _num(first.get("curve_demand")),
        "bottleneck": None if neck.empty else neck["explanation"].iloc[0],
        "provenance": "predicted (response curves fitted on history)",
    }


OTHER_MATERIAL_CHANGES = 5


def _why_it_changed(headline: list[str], drift: pd.DataFrame, period: dt.date, values: pd.DataFrame,
                    grain: str) -> list[dict]:
    """Headline metrics' waterfalls first, then the other material changes (largest |z| first).

    Each entry carries, per baseline, the change, its materiality, the usual change it was judged against, the
    total of every factor and the three largest drivers: estimates from the drift stage.
    """
    if drift.empty:
        return []
    drift = drift[pd.to_datetime(drift["period_start"]).dt.date == period]
    # each scope's row positions, not its rows: a budget has ~1,000 scopes and `_within` looks into a few
    in_period, scopes = drift, drift.groupby(["metric_id", "baseline", "segment_id"], sort=False).indices
    drift = drift[drift["segment_id"] == "_total"]
    material = drift[drift["verdict"] == "material"].assign(z=lambda d: d["delta_z"].abs().fillna(float("inf")))
    others = [m for m in material.sort_values(["z", "metric_id"], ascending=[False, True])["metric_id"].unique()
              if m not in headline][:OTHER_MATERIAL_CHANGES]
    out = []
    for metric_id in [m for m in headline if m in set(drift["metric_id"])] + others:
        rows = drift[drift["metric_id"] == metric_id]
        # judged against the complete periods before the one reported, as the drift stage judges it
        history = _complete_series(values, grain, metric_id)
        history = history[history.index < period].to_numpy(float)
        comparisons = []
        for baseline, r in rows.groupby("baseline", sort=False):
            first = r.iloc[0]
            drivers = _largest_drivers(r, 3)
            comparisons.append({
                "baseline": baseline, "baseline_start": pd.Timestamp(first["baseline_start"]).date().isoformat(),
                "value": _num(first["value"]), "baseline_value": _num(first["baseline_value"]),
                "delta": _num(first["delta"]), "delta_z": _num(first["delta_z"]), "verdict": first["verdict"],
                "usual_delta": _num(usual_change(history, 1 if baseline == "previous" else YEAR_STEPS[grain])),
                "factors": {f: _num(v) for f, v in r.groupby("factor", sort=False)["contribution"].sum().items()},
                "top_drivers": [{"factor": d.factor, "driver": _text(d.driver), "contribution": _num(d.contribution),
                                 "share_of_delta": _num(d.share_of_delta), "evidence": _text(d.evidence)}
                                for d in drivers.itertuples()],
                "within": _within(in_period, scopes, metric_id, baseline, "_total", drivers),
            })
        out.append({"metric_id": metric_id, "headline": metric_id in headline, "comparisons": comparisons,
                    "provenance": "observed change; attribution estimated by the drift stage"})
    return out


SHOCK_SPAN = re.compile(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?")
SHOCK_Z = re.compile(r"robust z (-?\d+(?:\.\d+)?)")
COMPONENT_DRIVER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*: ")  # a formula's component's shock: the component's own
MAX_SHOCKS = 5
SHOCK_CHANCE = 1e-4


def _quiet_shocks(drift: pd.DataFrame, period: dt.date, period_end: dt.date, summed: set[str], counts: set[str],
                  told: set[str], top_level: str) -> list[dict]:
    """Shocks inside the period of counts and sums whose change was within normal variation, so not narrated: a
    depot strike's two days (-232 deliveries in a month of 6,600) are no material monthly change, but an owner
    wants to hear of them.

    From the drift stage's event shocks against the previous period of the ``summed`` metrics not ``told``, at
    the total and the top level's segments, that took or added at least half of an average day of the scope's
    period on their days (a day at z 5 of a noisy count, +23% of a day, is no news in a month) and, of a count,
    that chance would give less than once in 10,000 (Poisson at the scope's average day: a rare count's day
    with 3 milestones where 0.3 is usual passes the first test and is still chance, p 0.004). A metric's shock
    is told once, where it stood out most (its robust z; the same days seen at the total and in a segment are
    one shock), and shocks of overlapping days are told together under the days of the one that stood out
    most. Largest z first, at most ``MAX_SHOCKS`` of those groups."""
    if drift.empty:
        return []
    rows = drift[(pd.to_datetime(drift["period_start"]).dt.date == period) & (drift["baseline"] == "previous")
                 & (drift["factor"] == "event_shock") & drift["metric_id"].isin(summed - told)
                 & ((drift["segment_id"] == "_total") | (drift["segment_level"] == top_level))]
    period_days = (period_end - period).days
    found = []
    for r in rows.itertuples():
        driver = str(r.driver or "")
        span, z = SHOCK_SPAN.search(driver), SHOCK_Z.search(str(r.evidence or ""))
        if span is None or z is None or not r.contribution or COMPONENT_DRIVER.match(driver):
            continue
        first, last = dt.date.fromisoformat(span[1]), dt.date.fromisoformat(span[2] or span[1])
        if not period <= first < period_end:  # a shock of the baseline period
            continue
        usual = abs(r.value) / period_days * ((last - first).days + 1)
        if abs(r.contribution) < 0.5 * usual:
            continue
        # a dip's days held at least what it took (a rare count's day of 0 where 0.86 was expected took 0.86)
        expected = max(usual, -r.contribution)
        seen = expected + r.contribution
        if r.metric_id in counts and (stats.poisson.sf(seen - 1, expected) if r.contribution > 0
                                      else stats.poisson.cdf(seen, expected)) >= SHOCK_CHANCE:
            continue
        found.append({"span": span[0], "first": first, "last": last,
                      "event": None if driver.startswith("unexplained shock") else driver[:span.start() - 2],
                      "metric_id": r.metric_id, "segment": None if r.segment_id == "_total" else r.segment_id,
                      "contribution": _num(r.contribution), "robust_z": float(z[1])})
    groups: list[dict] = []
    for shock in sorted(found, key=lambda s: (-s["robust_z"], s["metric_id"], s["span"], str(s["segment"]))):
        group = next((g for g in groups if shock["first"] <= g["last"] and shock["last"] >= g["first"]), None)
        if group is None:
            group = {"span": shock["span"], "first": shock["first"], "last": shock["last"], "event": shock["event"],
                     "metrics": []}
            groups.append(group)
        if all(m["metric_id"] != shock["metric_id"] for m in group["metrics"]):
            group["metrics"].append({k: shock[k] for k in ("metric_id", "segment", "contribution", "robust_z")})
    return [{"span": g["span"], "event": g["event"], "metrics": g["metrics"],
             "provenance": "observed days; abnormal part estimated by the drift stage"} for g in groups[:MAX_SHOCKS]]


MAX_SHIFT_DAYS = 5


def _level_shifts(spec: BudgetSpec, shifts: pd.DataFrame, grain: str, period: dt.date) -> list[dict]:
    """The diagnostic stage's level shifts of the period and the one before it, those of the same days together
    (a fuel price raised on the 1st moves the cost per km and the cost per delivery alike): at most
    ``MAX_SHIFT_DAYS`` groups, those holding the largest |z|, earliest first."""
    return _shift_groups(spec, _period_shifts(spec, shifts, grain, period, episodes=False),
                         "observed days; the day and the levels (an average day, weekday pattern removed) "
                         "estimated by the diagnostic stage")


def _episodes(spec: BudgetSpec, shifts: pd.DataFrame, grain: str, period: dt.date) -> list[dict]:
    """The diagnostic stage's episodes (weeks at another level, then back) that began in the period or the one
    before it, grouped as :func:`_level_shifts` groups shifts; each metric's ``to`` is its episode's last day."""
    return _shift_groups(spec, _period_shifts(spec, shifts, grain, period, episodes=True),
                         "observed days; the days and the levels (an average day, weekday pattern removed) "
                         "estimated by the diagnostic stage")


def _period_shifts(spec: BudgetSpec, shifts: pd.DataFrame, grain: str, period: dt.date,
                   episodes: bool) -> pd.DataFrame:
    """The rows of ``shifts`` about the spec's metrics at ``period``: its episodes (a last day) or its shifts."""
    if shifts.empty:
        return shifts
    last = shifts["last_day"] if "last_day" in shifts else pd.Series(None, index=shifts.index, dtype=object)
    return shifts[(shifts["grain"] == grain) & (pd.to_datetime(shifts["period_start"]).dt.date == period)
                  & shifts["metric_id"].isin(list(spec.metrics)) & (last.notna() == episodes)]


def _shift_groups(spec: BudgetSpec, rows: pd.DataFrame, provenance: str) -> list[dict]:
    """``rows`` (shifts or episodes) grouped by the day they began, within ``SAME_SHIFT_DAYS``: at most
    ``MAX_SHIFT_DAYS`` groups, those holding the largest |z|, earliest first."""
    if rows.empty:
        return []
    groups: list[dict] = []
    for r in rows.assign(strength=rows["z"].abs()).sort_values(["strength", "metric_id", "segment_id"],
                                                                ascending=[False, True, True]).to_dict("records"):
        day = pd.Timestamp(r["shift_day"]).date()
        group = next((g for g in groups if abs((g["day"] - day).days) <= SAME_SHIFT_DAYS), None)
        if group is None:
            group = {"day": day, "event": None, "metrics": []}
            groups.append(group)
        group["event"] = group["event"] or _text(r["event"])
        before, after, metric = _num(r["level_before"]), _num(r["level_after"]), spec.metrics[r["metric_id"]]
        # a rate's new level is told in points (a late rate from 5.3% to 20.8% is +15.5 points, not +296%)
        rate = reads_as_percent(metric.unit, before, after)
        told = {"metric_id": r["metric_id"], "segment": None if r["segment_id"] == "_total" else r["segment_id"],
                "from": day.isoformat(), "level_before": before, "level_after": after,
                "change": None if before is None or after is None else after - before,
                "change_pct": None if rate else _pct(after, before, changes_as_shares(spec, metric)), "z": _num(r["z"]),
                "days_before": _int(r["days_before"]), "days_after": _int(r["days_after"])}
        if _text(r.get("last_day")) is not None:
            told.update({"to": pd.Timestamp(r["last_day"]).date().isoformat(), "level_back": _num(r["level_back"]),
                         "days_back": _int(r["days_back"])})
        group["metrics"].append(told)
    return [{"from": g["day"].isoformat(), "event": g["event"], "metrics": g["metrics"], "provenance": provenance}
            for g in sorted(groups[:MAX_SHIFT_DAYS], key=lambda g: g["day"])]


def _at_grain(drift: pd.DataFrame, grain: str) -> pd.DataFrame:
    """The decompositions at one grain (a month and a week may start on the same day)."""
    return drift[drift["grain"] == grain] if not drift.empty else drift


def _latest_week(headline: list[str], drift: pd.DataFrame, values: pd.DataFrame, grain: str,
                 period_end: dt.date) -> dict | None:
    """What the latest complete week says after a month's briefing period: its changes, as ``why_it_changed``
    gives the month's (None for a weekly or daily briefing, or when no week ends after the period).

    A month is reported once it is complete, so a briefing read on the 22nd had said nothing of three weeks: a
    cloud bill's GPU cluster left running since the 12th showed only as an overspend to come. The drift stage
    decomposes the latest complete week too (``BUDGETLENS_DRIFT_GRAINS``); its material changes are told here.
    """
    weekly = _at_grain(drift, "week")
    if grain != "month" or weekly.empty:
        return None
    start = pd.to_datetime(weekly["period_start"]).max().date()
    if start + dt.timedelta(days=7) <= period_end:  # inside the month reported: nothing new
        return None
    return {"start": start.isoformat(), "end": (start + dt.timedelta(days=6)).isoformat(),
            "changes": _why_it_changed(headline, weekly, start, values, "week")}


def _largest_drivers(rows: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` largest contributions of one decomposition (what float sums leave of an exact zero, -4.5e-13 of
    a variance of 3,300, is no driver), a cause that reached it through several components counted once (see
    :func:`_net_of_components`)."""
    first = rows.iloc[0]
    noise = ROUNDING * max(1.0, abs(first["value"]), abs(first["baseline_value"]))
    rows = _net_of_components(rows)
    return rows[rows["contribution"].abs() > noise].assign(size=lambda d: d["contribution"].abs()).sort_values(
        ["size", "factor"], ascending=[False, True]).head(n)


# causes a formula's components share: the same season, slice or shock moves each of them
SHARED_CAUSES = ("temporal_variance", "dimension_drift", "event_shock")


def _net_of_components(rows: pd.DataFrame) -> pd.DataFrame:
    """One decomposition's rows with a cause that reached a formula through several of its components as one
    row, their contributions summed: the driver named without the component ("region=north", "yearly
    pattern"), the evidence of its largest part.

    Why: the drift stage attributes each component's change (``path`` ``cost_per_job <- jobs``), so the yearly
    season that lifts both the cost and the jobs of a cost per job reads "jobs: yearly pattern -20.5" and
    "hours: yearly pattern +11.8", "parts: +7.5", where the season moved the ratio by -1.1 (a cost per job
    with no season at all); more jobs in a cheap region read -26.4 through the jobs, where the region's mix
    moved the ratio by -12.0. A cause with one component keeps its name ("parts: region=west")."""
    if "path" not in rows.columns or not rows["factor"].isin(SHARED_CAUSES).any():
        return rows
    causes = []  # (cause, component) of each row, (None, None) where it names no component
    for factor, driver, path in zip(rows["factor"], rows["driver"], rows["path"]):
        component = path.rsplit(" <- ", 1)[-1] if isinstance(path, str) and " <- " in path else None
        prefixed = factor in SHARED_CAUSES and component and isinstance(driver, str) and \
            driver.startswith(f"{component}: ")
        causes.append((driver[len(component) + 2:], component) if prefixed else (None, None))
    keyed = rows.assign(_cause=[c for c, _ in causes], _component=[c for _, c in causes])
    shared = keyed.dropna(subset=["_cause"]).groupby(["factor", "_cause"])["_component"].transform("nunique") > 1
    netted = keyed.loc[shared[shared].index]
    if netted.empty:
        return rows
    merged = []
    for (_, name), parts in netted.groupby(["factor", "_cause"], sort=False):
        largest = parts.loc[parts["contribution"].abs().idxmax()].copy()
        largest["driver"], largest["path"] = name, None
        largest["contribution"] = parts["contribution"].sum()
        largest["share_of_delta"] = parts["share_of_delta"].sum()
        merged.append(largest)
    kept = keyed.drop(index=netted.index)
    return pd.concat([kept, pd.DataFrame(merged)]).drop(columns=["_cause", "_component"])


# a slice of a scope's children: "region=north", "late_rate: depot=n2 (rate)" (a component's slice)
SLICE = re.compile(r"^(?:(?P<metric>[A-Za-z_][A-Za-z0-9_]*): )?(?P<level>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>[^()]+?)"
                   r"(?: \((?P<effect>rate|mix|new|vanished)\))?$")


def _within(drift: pd.DataFrame, scopes: dict, metric_id: str, baseline: str, scope: str,
            drivers: pd.DataFrame) -> list[dict]:
    """Where a change's largest driver, a child segment's own change, came from inside that segment: the
    child's own largest driver, and so on down the hierarchy while that too is a child's own change ("late rate
    +0.015: region north +0.017; within north: depot n2 +0.042; within north/n2: event shock Road works
    +0.094"). A slice's mix (its share moving), a new or vanished slice, and a slice of a deeper level's values
    across the hierarchy have no decomposition of their own to look into."""
    chain = []
    while len(drivers) and drivers.iloc[0]["factor"] == "dimension_drift":
        found = SLICE.match(str(drivers.iloc[0]["driver"]))
        if found is None or found["effect"] not in (None, "rate"):
            break
        metric_id = found["metric"] or metric_id
        child = found["value"] if scope == "_total" else f"{scope}/{found['value']}"
        positions = scopes.get((metric_id, baseline, child))  # the scope's rows in ``drift``
        if positions is None or drift.iloc[positions[0]]["segment_level"] != found["level"]:
            break
        drivers = _largest_drivers(drift.iloc[positions], 1)
        if not len(drivers) or (drivers.iloc[0]["factor"] == "residual" and _text(drivers.iloc[0]["driver"]) is None):
            break  # a leaf's change that nothing explains: "within ml/gpu, residual $1,547" would say no more
        top = drivers.iloc[0]
        chain.append({"segment": child, "metric_id": metric_id, "delta": _num(top["delta"]), "factor": top["factor"],
                      "driver": _text(top["driver"]), "contribution": _num(top["contribution"])})
        scope = child
    return chain


def _attach_text_evidence(figures: list[dict], evidence: pd.DataFrame, period: dt.date) -> None:
    """What a qualitative metric's reading rests on: method, documents, conflicts between sources.

    Free text an LLM wrote from documents (its reasoning, its account of conflicts) stays in
    raw.text_metric_values for analysts and never enters the payload: a document cannot reach the
    briefing writer's prompt, so it cannot instruct it. The offline reader's text is the pipeline's own."""
    if evidence.empty:
        return
    rows = evidence[pd.to_datetime(evidence["period_start"]).dt.date == period].set_index("metric_id")
    for f in figures:
        if f["kind"] == "qualitative" and f["metric_id"] in rows.index:
            r = rows.loc[f["metric_id"]]
            own_words = r["provenance"] == "text_scored"
            f["evidence"] = {"method": r["method"], "documents_available": int(r["documents_available"]),
                             "documents_used": int(r["documents_used"]),
                             "sources_conflict": _text(r["conflict"]) is not None,
                             "conflict": _text(r["conflict"]) if own_words else None,
                             "rejected_llm_answer": _text(r["rejected"])}


def _archetypes(archetypes: pd.DataFrame) -> dict | None:
    """Segments on reward against risk, with who classified them (LLM or the quadrant rule)."""
    if archetypes.empty:
        return None
    first = archetypes.iloc[0]
    return {"segment_level": first["segment_level"], "metric_id": first["metric_id"], "grain": first["grain"],
            "latest_period": pd.Timestamp(first["latest_period"]).date().isoformat(), "method": first["method"],
            "fallback_reason": _text(first["fallback_reason"]),
            "reward_median": _num(first["reward_median"]), "risk_median": _num(first["risk_median"]),
            "provenance": "estimated (reward = recent level, risk = volatility of changes)",
            "segments": [{"segment_id": r.segment_id, "archetype": r.archetype, "rule_archetype": r.rule_archetype,
                          "reward": _num(r.reward), "risk": _num(r.risk), "periods": int(r.periods)}
                         for r in archetypes.sort_values("segment_id").itertuples()]}


def _predictions(spec: BudgetSpec, inputs: BriefingInputs, grain: str) -> dict:
    """Goal projections and the north star's forecast at the briefing's grain, else at the first finer grain that
    has one (``grain`` in the result names it): all labelled predicted."""
    constraints = inputs.goal_constraints
    goals = []
    for g in ([] if inputs.goal_tracking.empty else inputs.goal_tracking.to_dict("records")):
        rows = constraints[constraints["goal_id"] == g["goal_id"]] if not constraints.empty else constraints
        goals.append({
            "goal_id": g["goal_id"], "kind": g["kind"], "metric_id": g["metric_id"], "target": _num(g["target"]),
            "ceiling": g["direction"] == "at_most", "start": _date(g["window_start"]),
            "deadline": pd.Timestamp(g["deadline"]).date().isoformat(), "projected": _num(g["projected"]),
            "projected_low95": _num(g["projected_lo95"]), "projected_high95": _num(g["projected_hi95"]),
            "probability": _num(g["probability"]), "gap": _num(g["gap"]), "status": g["status"],
            "required_daily_rate": _num(g["required_daily_rate"]), "current_daily_rate": _num(g["current_daily_rate"]),
            "current_rate_days": _int(g.get("current_rate_days")),
            "data_from": _date(g.get("data_from")), "unseen_days": _int(g.get("unseen_days")) or 0,
            # a finished goal has none: NaN from the table, which JSON cannot carry
            "binding_input": g["binding_input"] if isinstance(g["binding_input"], str) else None,
            "provenance": "predicted (95% interval)",
            "inputs": [{"metric_id": r.input_metric, "projected": _num(r.projected), "required": _num(r.required),
                        "required_change": _num(r.required_change), "historical_p95_change": _num(r.historical_p95_change),
                        "status": r.status} for r in rows.itertuples()],
        })
    f = inputs.forecasts
    ours = f[f["metric_id"] == spec.north_star] if not f.empty else f
    # a budget with too few months to forecast its months from (models.projections.MIN_HISTORY) shows its weeks
    shown = next((g for g in FALLBACK_GRAINS[grain] if not ours.empty and (ours["grain"] == g).any()), grain)
    star = ours[ours["grain"] == shown].sort_values("period_start") if not ours.empty else ours
    if shown == "month":
        star = _to_date(star, inputs.forecasts_to_date, spec.north_star)
    return {"goals": goals, "north_star": spec.north_star, "grain": shown,
            "interval_levels": [0.8, 0.95], "current_rate_days": CURRENT_RATE_DAYS, "forecast": [
        {"period_start": pd.Timestamp(r.period_start).date().isoformat(), "value": _num(r.value),
         "low80": _num(r.lo80), "high80": _num(r.hi80), "low95": _num(r.lo95), "high95": _num(r.hi95),
         "method": r.method, "provenance": "predicted",
         **({"observed_to_date": _num(r.observed_to_date), "as_of": _date(r.as_of), "scale": _num(r.scale)}
            if _num(getattr(r, "observed_to_date", None)) is not None else {})}
        for r in star.itertuples()]}


def _to_date(star: pd.DataFrame, to_date: pd.DataFrame, metric_id: str) -> pd.DataFrame:
    """The north star's monthly forecast with the months the days so far condition (the month in progress from
    its days, the later ones scaled by it: main.month_forecasts_to_date) in place of the months' own."""
    if to_date.empty or star.empty:
        return star
    ours = to_date[to_date["metric_id"] == metric_id].assign(
        period_start=lambda f: pd.to_datetime(f["period_start"]).dt.date)
    if ours.empty:
        return star
    months = star.assign(period_start=lambda f: pd.to_datetime(f["period_start"]).dt.date)
    kept = months[~months["period_start"].isin(set(ours["period_start"]))]
    columns = ["period_start", "value", "lo80", "hi80", "lo95", "hi95", "method", "observed_to_date", "as_of", "scale"]
    return pd.concat([ours[columns], kept.reindex(columns=columns)]).sort_values("period_start")


def _rounded(value):
    """Round every float in a JSON-ready structure to SIGNIFICANT_DIGITS significant digits."""
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _budget(spec: BudgetSpec, progress: list[dict] = (), predicted: list[dict] = ()) -> dict:
    allocation = spec.allocation
    return {"id": spec.id, "name": spec.name, "owner": spec.owner,
            "allocation": {"amount": allocation.amount, "currency": allocation.currency, "period": allocation.period,
                           "fiscal_year_start": allocation.fiscal_year_start, "metric": spec.allocation_metric,
                           "periods": _allocation_periods(spec, progress, predicted)},
            "north_star": spec.north_star, "segment_levels": list(spec.segments.levels)}


def _allocation_periods(spec: BudgetSpec, progress: list[dict], predicted: list[dict]) -> list[dict]:
    """Each allocation period in view: spent so far against the allocation (observed) and, while it runs, the
    projected spending at its end with the chance of staying within (predicted), from the goal sections."""
    ahead = {g["goal_id"]: g for g in predicted}
    out = []
    for g in progress:
        if g["kind"] != "allocation":
            continue
        p = ahead.get(g["goal_id"], {})
        out.append({
            "label": period_label(spec.allocation, dt.date.fromisoformat(g["start"])), "goal_id": g["goal_id"],
            "start": g["start"], "end": g["deadline"], "observed_through": g["observed_through"],
            "spent": g["actual_so_far"], "share_of_allocation": g["share_of_target"],
            "elapsed_share": g["elapsed_share"], "finished": g["status"] in ("achieved", "missed"),
            "projected": p.get("projected"), "projected_low95": p.get("projected_low95"),
            "projected_high95": p.get("projected_high95"), "chance_within": p.get("probability"),
            "status": p.get("status", g["status"]), "data_from": g["data_from"],
        })
    return out
