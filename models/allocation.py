"""From a budget's history to an allocation problem, and from its solution to table rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pandas as pd

from models.optimize import Allocation, Lever, MetricLimit, Problem, Ratio
from models.response import ResponseCurve, fit_responses
from models.spec import BudgetSpec, LeverBounds

NOT_ESTIMATED = "not estimated"  # the constraint row of a budget whose allocation could not be worked out


def build_problem(spec: BudgetSpec, history: pd.DataFrame) -> tuple[Problem, dt.date]:
    """The spec's optimisation problem with response curves fitted on ``history``.

    Parameters
    ----------
    spec : BudgetSpec
        A budget with an ``optimization`` section.
    history : pandas.DataFrame
        Complete periods at the section's grain and level: period_start, segment_id,
        lever (spend) and objective (outcome) columns, and one column per limited metric.

    Returns
    -------
    (Problem, datetime.date)
        The problem, with each lever's current value taken from the latest period (the basis).
    """
    opt = spec.optimization
    if opt is None:
        raise ValueError(f"budget {spec.id!r} has no optimization section")
    periods = sorted(history["period_start"].unique())[-opt.history_periods:]
    recent = history[history["period_start"].isin(periods)]
    if len(periods) < 6:
        raise ValueError(f"{spec.id}: need at least 6 complete {opt.grain}s of history, have {len(periods)}")
    basis = periods[-1]
    # every lever's curves of the objective and each limited metric, with the demand the levers share; the
    # lever's own total responds to itself exactly
    fitted = {metric_id: fit_responses(recent["period_start"], recent["segment_id"], recent["lever"], recent[column])
              for metric_id, column in {opt.objective: "objective", **{b.metric: b.metric for b in opt.limits}}.items()
              if metric_id != opt.lever}

    def curve(segment_id: str, metric_id: str) -> ResponseCurve:
        if metric_id == opt.lever:
            return ResponseCurve.linear(1.0)
        curves, errors = fitted[metric_id]
        if segment_id in errors:
            raise ValueError(errors[segment_id])
        return curves[segment_id]

    segment_ids = sorted(recent["segment_id"].unique())
    named = {key: segment_path(spec, key, segment_ids, "optimization.bounds") for key in opt.bounds}
    named |= {key: segment_path(spec, key, segment_ids, "optimization.ratios")
              for r in opt.ratios for key in (r.numerator, r.denominator)}
    bounded = {named[key]: bounds for key, bounds in opt.bounds.items()}
    if len(bounded) < len(opt.bounds):
        raise ValueError(f"{spec.id}: optimization.bounds names one segment twice (by its value and its path)")
    levers, limit_curves = [], {bound.metric: {} for bound in opt.limits}
    for segment_id, rows in recent.groupby("segment_id", sort=True):
        rows = rows.sort_values("period_start")
        bounds = bounded.get(segment_id) or LeverBounds()
        current = rows.loc[rows["period_start"] == basis, "lever"]
        current = float(current.iloc[0]) if len(current) else 0.0
        in_basis = bool((rows["period_start"] == basis).any())
        try:
            response = curve(segment_id, opt.objective)
            limits = {metric_id: curve(segment_id, metric_id) for metric_id in limit_curves}
            unfit = None
        except ValueError as err:  # a market opened last quarter, a spend never varied: held, not blocking the rest
            response = _as_observed(rows, basis, "objective")
            limits = {metric_id: ResponseCurve.linear(1.0) if metric_id == opt.lever
                      else _as_observed(rows, basis, metric_id) for metric_id in limit_curves}
            unfit = str(err)
        for metric_id, curves in limit_curves.items():
            curves[segment_id] = limits[metric_id]
        # what the decision rests on: the objective's response, or, when the lever is its own objective (spend
        # minimised), its response in the metrics whose floors it has to reach
        floors = [b.metric for b in opt.limits if b.min is not None]
        decisive = {opt.objective: response} if opt.objective != opt.lever or not floors else {
            metric_id: limit_curves[metric_id][segment_id] for metric_id in floors}
        held = _held_reason(spec, segment_id, decisive, in_basis, unfit, bounded=segment_id in bounded)
        observed = (float(rows["lever"].min()), float(rows["lever"].max()))
        low, high = (_hold_at(current, bounds),) * 2 if held else (bounds.min, bounds.max)
        levers.append(Lever(segment_id, response, current=current, minimum=low, maximum=high,
                            step=None if held else bounds.step, held=held, observed=observed))
    budget = opt.budget if opt.budget is not None else sum(l.current for l in levers)
    if not opt.extrapolate:
        levers = within_history(levers, budget)
    problem = Problem(tuple(levers), budget=budget, capacity=opt.capacity,
                      ratios=tuple(Ratio(named[r.numerator], named[r.denominator], r.max_ratio) for r in opt.ratios),
                      outcome=opt.objective, spend=opt.lever, sense=opt.sense,
                      limits=tuple(MetricLimit(b.metric, limit_curves[b.metric], maximum=b.max, minimum=b.min)
                                   for b in opt.limits))
    return problem, pd.Timestamp(basis).date()


def within_history(levers: list[Lever], budget: float) -> list[Lever]:
    """Each movable lever kept between the lowest and highest spend its curves were fitted on (inside its own
    bounds): a curve fitted on weeks of 340-620 hours says little about 0 or 2,600, where a linear fit's
    intercept and slope would be taken at their word. A delivery fleet's optimiser, free, cut two depots to 0
    and gave a third four times its busiest week: predicted +339 deliveries a week, in truth -350.

    An owner's bound outside that range wins over it. When the budget cannot be spent inside the ranges (an
    explicit budget above every highest spend, or below every lowest), the history's edges are stretched by
    one common factor just far enough, and the levers taken beyond them are marked extrapolated as usual.
    """
    movable = {l.name: l for l in levers if l.held is None and l.observed is not None}
    ranges = {}
    for name, lever in movable.items():
        seen_low, seen_high = lever.observed
        low = max(lever.minimum, seen_low)
        high = seen_high if lever.maximum is None else min(lever.maximum, seen_high)
        if low > high:  # an owner's bound beyond the history: the bound is the decision, held at its nearest
            low = high = lever.minimum if lever.minimum > seen_high else lever.maximum
        ranges[name] = (low, high)
    fixed = sum(l.minimum for l in levers if l.name not in ranges)
    lows, highs = sum(r[0] for r in ranges.values()), sum(r[1] for r in ranges.values())
    if lows > 0 and lows + fixed > budget:
        factor = max(0.0, budget - fixed) / lows
        ranges = {name: (low * factor, high) for name, (low, high) in ranges.items()}
    elif 0 < highs < budget - fixed:
        factor = (budget - fixed) / highs
        ranges = {name: (low, high * factor) for name, (low, high) in ranges.items()}

    def inside_bounds(lever: Lever, low: float, high: float) -> Lever:
        return dataclasses.replace(lever, minimum=max(low, lever.minimum),
                                   maximum=high if lever.maximum is None else min(high, lever.maximum))

    return [inside_bounds(l, *ranges[l.name]) if l.name in ranges else l for l in levers]


def segment_path(spec: BudgetSpec, name: str, segment_ids: list[str], where: str) -> str:
    """The segment of the optimisation's level that ``name`` means: its path (``north/n1``), or its own value
    (``n1``) when no other segment of the level has that value. ``where`` names the spec key in errors."""
    if name in segment_ids:
        return name
    matches = [] if "/" in name else [s for s in segment_ids if s.rsplit("/", 1)[-1] == name]
    if len(matches) > 1:
        raise ValueError(f"{spec.id}: {where} names {name!r}, which is {len(matches)} {spec.optimization.level} "
                         f"segments ({', '.join(matches)}): give its path")
    if not matches:
        raise ValueError(f"{spec.id}: {where} names segments without history: {name} (the "
                         f"{spec.optimization.level} segments are {', '.join(segment_ids)})")
    return matches[0]


def _held_reason(spec: BudgetSpec, segment_id: str, responses: dict[str, ResponseCurve], in_basis: bool,
                 unfit: str | None = None, bounded: bool = False) -> str | None:
    """Why a lever stays where it is, or None when the optimiser may move it.

    Three cases where history cannot support moving money: the segment had no lever spend in the basis period
    (paused or gone: funding it again is the owner's call, made by giving it bounds), its response could not
    be estimated at all (``unfit``: too few periods, a spend that never varied), and no response the
    decision rests on (metric -> curve) has a slope distinguishable from zero (95% interval includes 0),
    where the optimiser would otherwise chase noise, e.g. cut a lever to nothing on a negative slope that is
    only a trend.
    """
    opt = spec.optimization
    if not in_basis and not bounded:
        return (f"no {opt.lever} in the basis period: not funded again (give it optimization.bounds to "
                "consider it)")
    if unfit is not None:
        return f"no response curve ({unfit}): kept at its current {opt.lever}"
    intervals = {metric_id: curve.slope_interval(0.95) for metric_id, curve in responses.items()}
    if all(low <= 0 <= high for low, high in intervals.values()):
        shown = "; ".join(f"{metric_id} to {opt.lever}: slope 95% interval {low:.3g} to {high:.3g}"
                          for metric_id, (low, high) in intervals.items())
        return f"no measurable response ({shown}, includes 0): kept at its current {opt.lever}"
    return None


def _as_observed(rows: pd.DataFrame, basis, column: str) -> ResponseCurve:
    """The response of a lever held for want of an estimate: at its held spend, what the basis period observed
    (nothing when the segment had no row then), flat since the spend does not move."""
    seen = rows.loc[rows["period_start"] == basis, column].dropna()
    return ResponseCurve("linear", float(seen.iloc[0]) if len(seen) else 0.0, 0.0, n=len(rows))


def _hold_at(current: float, bounds: LeverBounds) -> float:
    """The current value, moved inside the lever's bounds and onto its steps."""
    low, high = bounds.min, bounds.max
    if bounds.step:  # the nearest whole step, and the bounds taken to the whole steps inside them
        current = bounds.step * round(current / bounds.step)
        low = bounds.step * math.ceil(low / bounds.step - 1e-9)
        high = None if high is None else bounds.step * math.floor(high / bounds.step + 1e-9)
    value = max(current, low)
    return min(value, high) if high is not None else value


def recommendation_rows(spec: BudgetSpec, problem: Problem, allocation: Allocation, basis: dt.date,
                        gain: tuple[float, float]) -> list[dict]:
    """One row per lever: current vs recommended, with its fitted curve."""
    rows = []
    for lever in problem.levers:
        low, high = lever.curve.slope_interval(0.95)
        seen_low, seen_high = lever.observed or (None, None)
        recommended = allocation.recommended[lever.name]
        rows.append({
            "budget_id": spec.id, "basis_period": basis, "grain": spec.optimization.grain,
            "lever_metric": problem.spend, "objective_metric": problem.outcome, "segment_id": lever.name,
            "current": allocation.current[lever.name], "recommended": allocation.recommended[lever.name],
            "change": allocation.recommended[lever.name] - allocation.current[lever.name],
            "curve_form": lever.curve.form, "curve_intercept": lever.curve.intercept, "curve_slope": lever.curve.slope,
            "curve_scale": lever.curve.scale,
            "curve_slope_low95": low, "curve_slope_high95": high, "curve_observations": lever.curve.n,
            "curve_demand": lever.curve.demand,
            "expected_objective_current": allocation.current_outcome,
            "expected_objective_recommended": allocation.expected_outcome,
            "expected_gain": allocation.gain, "expected_gain_low90": gain[0], "expected_gain_high90": gain[1],
            "solver": allocation.solver, "provenance": "predicted", "objective_sense": problem.sense,
            "held_reason": lever.held, "observed_low": seen_low, "observed_high": seen_high,
            "extrapolated": _outside(recommended, lever.observed) and recommended != lever.current,
        })
    return rows


def _outside(value: float, observed: tuple[float, float] | None) -> bool:
    """Whether ``value`` lies beyond the range a curve was fitted on (by more than rounding): what the curve
    says there is extrapolation, a log curve's intercept taken at its word (a negative count of patients)."""
    if observed is None:
        return False
    low, high = observed
    slack = 1e-9 * max(1.0, abs(low), abs(high))
    return value < low - slack or value > high + slack


def constraint_rows(spec: BudgetSpec, problem: Problem, allocation: Allocation, basis: dt.date) -> list[dict]:
    """One row per constraint: limit, use, shadow price, binding, and which one is the bottleneck."""
    neck = allocation.bottleneck
    return [{"budget_id": spec.id, "basis_period": basis, "constraint_name": c.name, "limit_value": c.limit,
             "used": c.used, "shadow_price": c.shadow_price, "is_binding": c.binding,
             "is_bottleneck": neck is not None and c.name == neck.name,
             "explanation": allocation.explain(problem) if neck is not None and c.name == neck.name else None}
            for c in allocation.constraints]
