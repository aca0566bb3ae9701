"""Goal tracking and constraint analysis from daily history and daily forecasts.

A goal's value over its window is computed the way metric_values computes any
period: counts and sums add up over the days; a mean is its events' mean, so
each day weighs by its events (a variance too: the days' variances weighed by
events, which leaves out the spread between the days' means, not in the daily
values); a minimum or maximum is the window's extreme, and a distinct count
counts each member active in the window once; a 'last' goal reads the last
day with events by the deadline; derived metrics apply their formula to the
window's component values. An 'average' goal of a count or sum is its
average per calendar day (a day without events counts as 0).
Observed days count as they are; the rest of the window comes from the
forecast's joint paths, which gives a predictive distribution of the goal's
value and so the probability of reaching the target.

Constraint analysis back-solves the target through the formula: holding every
other input at its projection, which value of this input reaches the target,
and has that input ever grown (or shrunk) that much over a stretch as long as
the time left? An input that must move beyond anything in its history makes
the route a stretch (beyond the 95th percentile) or infeasible (beyond the
maximum); the binding input is the most achievable route, and if even that one
is beyond history the goal is flagged.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from models.formula import Ref, evaluate_array, linear_terms, references
from models.member_pool import POOL_DAYS, expected_union, fit_pool
from models.projections import SeriesForecast, base_expressions, is_additive, zero_when_empty
from models.budget_periods import budget_goals
from models.spec import ALLOCATION_GOAL_PREFIX, BudgetSpec, Goal

CURRENT_RATE_DAYS = 28  # the 'current pace' of a goal: the last four weeks
WHOLE_MONTHS_HISTORY = 12  # months of history before a window's whole months come from the monthly forecast

ON_TRACK_PROBABILITY = 0.5
# Below this chance the target lies outside the projection's 95% interval: only then may history's verdict on the
# route (a stretch, infeasible) name the goal's status. A target the forecast gives 19% is at risk, not infeasible,
# whatever the few independent stretches of history say.
OUT_OF_REACH_PROBABILITY = 0.025


def _additive(spec: BudgetSpec, metric_id: str) -> bool:
    return is_additive(spec.metrics[metric_id])


def day_sum_terms(spec: BudgetSpec, metric_id: str) -> dict[str, float] | None:
    """The counts and sums a metric adds up, with their weights, when its total over days is the sum of its days'
    values: ``{metric_id: 1}`` for a count or sum, ``{hours: 40, parts: 1}`` for ``cost = 40 * hours + parts``;
    None for any other metric (a mean, a ratio, a formula with a constant)."""
    if _additive(spec, metric_id):
        return {metric_id: 1.0}
    expr = base_expressions(spec).get(metric_id)
    terms = linear_terms(expr) if expr is not None else None
    if terms is None or not all(name in spec.metrics and _additive(spec, name) for name in terms):
        return None
    return terms


def sums_its_days(spec: BudgetSpec, metric_id: str) -> bool:
    """Whether a metric's total over a window is the sum of its days' values (see :func:`day_sum_terms`)."""
    return day_sum_terms(spec, metric_id) is not None


@dataclass(frozen=True)
class MonthProgress:
    """How the month in progress is going against the monthly forecast of it (see :func:`month_in_progress`)."""

    ratio: float         # its observed days and the daily forecast's mean of the rest, over the monthly mean
    ratios: np.ndarray   # the same, path by path
    seen: float          # its observed days' total


def _whole_months(monthly: SeriesForecast, days: list[dt.date], paths: np.ndarray, means: np.ndarray,
                  today: dt.date, progress: MonthProgress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The window's whole months after ``today`` from the monthly forecast, spread evenly over their days (a
    total over them is what counts), scaled by ``progress``: how the month in progress is going against the
    monthly forecast of it (:func:`month_in_progress`); the days of a partly observed or partly covered month
    stay the daily forecast's.

    Why: a total over months summed from daily forecasts carries every day's noise and posting artefacts (a
    ledger's month-end accruals reversed on the next month's first day); the months' own series has none.
    Rolling origins on five budgets (three whole months ahead, 78 window totals): mean absolute error of the
    total 15.2% from the days, 12.1% from the months, 95% coverage 88% -> 91%. Those budgets had two years of
    months; with fewer than ``WHOLE_MONTHS_HISTORY`` the days, thirty times as many, are the better guide (a
    delivery service ten weeks old had its December projected as October's one month, with no interval).

    The months' origin is the last complete month, blind to the days since: a team whose resolution fell from
    90% to 75% four weeks before had its year's goal projected at the old rate. Scaled by the month in progress
    (its observed days and the daily forecast's rest, path by path, over the monthly forecast of it), on the
    three demo budgets and two planted ones (95 three-month windows from the 5th / 20th / 28th of a month):
    mean absolute error 10.3% -> 9.2 / 8.2 / 8.0%, 95% coverage 0.91 -> 0.95 / 0.94 / 0.93 (from the days
    alone: 10.2 / 9.3 / 8.0%, coverage 0.77 / 0.83 / 0.80).
    """
    if not whole_months_usable(monthly, paths.shape[0]):
        return paths, means
    ratio, ratios = (progress.ratio, progress.ratios) if progress is not None else (1.0, np.ones(paths.shape[0]))
    paths, means = paths.copy(), means.copy()
    index = {day: i for i, day in enumerate(days)}
    for step, start in enumerate(monthly.starts):
        month_days = [start + dt.timedelta(days=d) for d in range(calendar.monthrange(start.year, start.month)[1])]
        columns = [index.get(day) for day in month_days]
        if start <= today or any(c is None for c in columns):
            continue
        paths[:, columns] = monthly.paths[:, [step]] * ratios[:, None] / len(columns)
        means[columns] = monthly.mean[step] * ratio / len(columns)
    return paths, means


def whole_months_usable(monthly: SeriesForecast, paths: int) -> bool:
    """Whether the monthly forecast may stand for whole months ahead (see :func:`_whole_months`): a year of
    months behind it, and as many paths as the daily forecast's ``paths`` it is joined with."""
    return (monthly.history_points >= WHOLE_MONTHS_HISTORY and monthly.paths is not None
            and monthly.paths.shape[0] == paths)


def month_in_progress(monthly: SeriesForecast, daily: SeriesForecast, observed: pd.DataFrame,
                      today: dt.date) -> MonthProgress | None:
    """How the month holding ``today`` is going against the monthly forecast of it: its observed days
    (``observed``: period_start, value) and the daily forecast's rest of it, over the monthly forecast's mean;
    as a point and path by path. None when the month is complete (the months' origin) or not both forecast."""
    first = today.replace(day=1)
    step = next((i for i, start in enumerate(monthly.starts) if start == first), None)
    last = first + dt.timedelta(days=calendar.monthrange(first.year, first.month)[1] - 1)
    rest = [i for i, day in enumerate(daily.starts) if today < day <= last]
    if step is None or not monthly.mean[step] > 0 or len(rest) != (last - today).days or daily.paths is None:
        return None
    seen = float(observed.loc[(observed.period_start >= first) & (observed.period_start <= today), "value"].sum())
    return MonthProgress((seen + float(daily.mean[rest].sum())) / monthly.mean[step],
                         (seen + daily.paths[:, rest].sum(axis=1)) / monthly.mean[step], seen)


EVENT_WEIGHTED = {"mean", "variance"}  # a period's value is its events' (a mean over every event), not its days'
EXTREMES = {"min": (np.min, np.fmin), "max": (np.max, np.fmax)}  # a day's reduction, and two values' (NaN-blind)
EVENT_MEASURED = EVENT_WEIGHTED | set(EXTREMES)  # a day without events of the measure has no value to count


@dataclass(frozen=True)
class WindowInput:
    """One formula input over a goal's window.

    ``observed`` holds the window's observed days' values and ``observed_weights`` what each weighs (its events
    for a mean or variance, 1 otherwise); ``paths``, ``means`` and ``future_weights`` do the same for the
    forecast's days (their expected events: see :func:`_events_forecast` and :func:`_recent_weekdays`; a
    weight of 0 for a day expected to have none)."""
    observed: np.ndarray
    observed_weights: np.ndarray
    paths: np.ndarray
    means: np.ndarray
    future_weights: np.ndarray
    pool: float = np.nan  # a distinct count's: the members its days draw from (models.member_pool)


def _window_kind(spec: BudgetSpec, name: str, aggregation: str) -> str:
    """How an input's days combine into the window's value, the way metric_values combines a period's:
    'sum' for a count or sum's total, 'min' / 'max' for an extreme's total, 'distinct' for a distinct count's
    total (the window's union observed so far, and the members the days ahead add from its pool, see
    :func:`_window_value`), 'mean' for the rest (weighted by events for a mean or variance, so a quiet weekend
    weighs what its few events weigh)."""
    metric = spec.metrics[name]
    if aggregation == "last":
        return "last"
    if is_additive(metric):
        return "sum" if aggregation == "total" else "mean"
    if metric.kind == "base" and aggregation == "total" and metric.agg in EXTREMES:
        return metric.agg
    if metric.kind == "base" and aggregation == "total" and metric.agg == "distinct_count":
        return "distinct"
    return "mean"


def _window_inputs(spec: BudgetSpec, goal: Goal, expr, daily: pd.DataFrame, forecasts: dict[str, SeriesForecast],
                   today: dt.date, monthly: dict[str, SeriesForecast] | None,
                   events: pd.DataFrame | None, members: pd.DataFrame | None = None) -> dict[str, WindowInput]:
    """Per input: observed days in the window and their weights, and the forecast days falling inside it (a
    distinct count's total: the window's union of ``members`` as its one observed value, where given)."""
    start = goal.start or dt.date.min
    out = {}
    for name in references(expr):
        metric, kind = spec.metrics[name], _window_kind(spec, name, goal.aggregation)
        rows = daily[(daily.metric_id == name) & daily["value"].notna()]
        seen = rows[(rows.period_start >= start) & (rows.period_start <= min(goal.deadline, today))]
        days, observed = list(seen["period_start"]), seen["value"].to_numpy(float)
        if zero_when_empty(metric) and len(rows):
            # a day without a row had no events: a count of 0 that an average per day counts too
            days = _calendar_days(max(start, rows["period_start"].min()), min(goal.deadline, today))
            observed = seen.set_index("period_start")["value"].reindex(days, fill_value=0.0).to_numpy(float)
        keep = np.isfinite(observed)  # days without a value (e.g. no deliveries) do not count
        days, observed = [d for d, k in zip(days, keep) if k], observed[keep]
        pool = np.nan
        if members is not None and kind == "distinct":
            # the window counts each member once, however many of its days it was active on
            own = members[members.metric_id == name]
            active = own[own.period_start.isin(days)]
            observed = np.array([float(active["member"].nunique())]) if days else np.zeros(0)
            window_days = (goal.deadline - start).days + 1 if goal.start else POOL_DAYS
            pool = fit_pool(own, today, max(POOL_DAYS, window_days))
        f = forecasts.get(name)
        steps = [i for i, day in enumerate(f.starts) if start <= day <= goal.deadline] if f else []
        paths = f.paths[:, steps] if f is not None and steps else np.zeros((1, 0))
        means = f.mean[steps] if f is not None and steps else np.zeros(0)
        if monthly and name in monthly and goal.aggregation != "last" and is_additive(metric) and steps:
            paths, means = _whole_months(monthly[name], [f.starts[i] for i in steps], paths, means, today,
                                         month_in_progress(monthly[name], f, rows, today))
        future_days = [f.starts[i] for i in steps]
        observed_weights, future_weights = np.ones(len(observed)), np.ones(len(future_days))
        # a mean weighs its days by their events; a 'last' goal's day is the last with events
        if events is not None and metric.kind == "base" and metric.measure and (
                metric.agg in EVENT_MEASURED or kind == "last"):
            counts = _measure_events(events, metric.measure)
            observed_weights = counts.reindex(days, fill_value=0.0).to_numpy(float)
            future_weights = _events_forecast(spec, metric.measure, forecasts, future_days)
            if future_weights is None:
                future_weights = _recent_weekdays(counts, future_days, today)
            if metric.agg in EXTREMES:  # an extreme counts the days with events, each alike
                observed_weights, future_weights = (observed_weights > 0) * 1.0, (future_weights > 0) * 1.0
        out[name] = WindowInput(observed, observed_weights, paths, means, future_weights, pool)
    return out


def _calendar_days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=d) for d in range((last - first).days + 1)]


def _measure_events(events: pd.DataFrame, measure: str) -> pd.Series:
    """The measure's events per day (a day without a row had none)."""
    return events[events.measure == measure].set_index("period_start")["events"].astype(float)


def _recent_weekdays(counts: pd.Series, future_days: list[dt.date], today: dt.date,
                     recent_days: int = CURRENT_RATE_DAYS) -> np.ndarray:
    """The events expected on each day ahead where no count forecasts them: the mean of the same weekday over
    the last ``recent_days`` days, so the days a business is closed weigh nothing and a busy Monday weighs what
    recent Mondays did."""
    if counts.empty:
        return np.zeros(len(future_days))
    # a young budget's recent weeks start at its first day, not before it
    first = max(today - dt.timedelta(days=recent_days - 1), counts.index.min())
    recent = counts.reindex(_calendar_days(first, today), fill_value=0.0)
    by_weekday = recent.groupby([day.weekday() for day in recent.index]).mean()
    return np.array([by_weekday.get(day.weekday(), 0.0) for day in future_days], dtype=float)


def _events_forecast(spec: BudgetSpec, measure: str, forecasts: dict[str, SeriesForecast],
                     days: list[dt.date]) -> np.ndarray | None:
    """The forecast of the measure's events on ``days`` where the spec counts them (a count metric of the same
    measure): it carries their trend, season and holidays, which the recent weekdays' profile cannot."""
    for metric_id, metric in spec.metrics.items():
        f = forecasts.get(metric_id)
        if metric.kind == "base" and metric.agg == "count" and metric.measure == measure and f is not None:
            index = {day: i for i, day in enumerate(f.starts)}
            if all(day in index for day in days):
                return np.clip(f.mean[[index[day] for day in days]], 0.0, None)
    return None


def _window_value(kind: str, x: WindowInput, future: np.ndarray, future_weights: np.ndarray):
    """An input's value over the window from its observed days and ``future`` days (last axis = days)."""
    if kind == "last":
        # the deadline's value is that of its last day with events (expected): a closed Sunday's is no reading
        ahead, seen = np.flatnonzero(future_weights > 0), np.flatnonzero(x.observed_weights > 0)
        return future[..., ahead[-1]] if len(ahead) else (x.observed[seen[-1]] if len(seen) else np.nan)
    if kind == "sum":
        return x.observed.sum() + future.sum(axis=-1)
    if kind == "distinct" and not np.isnan(x.pool):
        seen = float(x.observed.sum())  # the window's union so far (one value)
        pool = max(x.pool, seen)
        ahead = np.where(future_weights > 0, future, 0.0)
        union = seen + (1.0 - seen / pool if np.isfinite(pool) else 1.0) * expected_union(ahead, pool)
        # whatever the pool, the window holds at least each of its days' members
        return np.fmax(union, ahead.max(axis=-1)) if ahead.shape[-1] else union
    if kind in EXTREMES or kind == "distinct":  # a distinct count without members: a day ahead adds its own
        reduce, pair = EXTREMES["max" if kind == "distinct" else kind]
        counted = future[..., future_weights > 0]
        ahead = reduce(counted, axis=-1) if counted.shape[-1] else np.full(future.shape[:-1], np.nan)
        seen = x.observed[x.observed_weights > 0]
        return pair(reduce(seen) if len(seen) else np.nan, ahead)
    weight = x.observed_weights.sum() + future_weights.sum()
    if not weight:
        return np.full(future.shape[:-1], np.nan) if future.ndim > 1 else np.nan
    # a day that weighs nothing (no events expected) adds nothing, whatever its forecast holds
    ahead = np.where(future_weights > 0, future, 0.0) @ future_weights
    return (x.observed @ x.observed_weights + ahead) / weight


def _observed(inputs: dict[str, WindowInput], kinds: dict[str, str]) -> dict[str, float]:
    """Each input's value over the window's observed days alone (NaN for an input with none yet)."""
    return {n: float(_window_value(kinds[n], x, np.zeros(0), np.zeros(0))) if len(x.observed) else np.nan
            for n, x in inputs.items()}


def _goal_window(spec: BudgetSpec, goal: Goal, daily: pd.DataFrame, forecasts: dict[str, SeriesForecast],
                 today: dt.date, monthly, events, members):
    """The goal's formula over its base inputs, each input over the window, and how each one's days combine."""
    expr = base_expressions(spec).get(goal.metric, Ref(goal.metric))
    inputs = _window_inputs(spec, goal, expr, daily, forecasts, today, monthly, events, members)
    return expr, inputs, {n: _window_kind(spec, n, goal.aggregation) for n in inputs}


def observed_to_date(spec: BudgetSpec, goal: Goal, daily: pd.DataFrame, today: dt.date,
                     events: pd.DataFrame | None = None, members: pd.DataFrame | None = None) -> float | None:
    """The goal's metric over its window's days observed through ``today``, computed as :func:`track_goal`
    computes its ``observed_to_date`` (a mean weighed by events, an extreme's extreme, a formula of its inputs'
    window values), without any forecast; None before the window has a day with a value.

    Parameters are those of :func:`track_goal`.
    """
    expr, inputs, kinds = _goal_window(spec, goal, daily, {}, today, None, events, members)
    return _f(evaluate_array(expr, _observed(inputs, kinds)))


def grows_with_days(spec: BudgetSpec, goal: Goal) -> bool:
    """True when the goal's figure adds up its days (a count or sum's total), so its value so far is a part of
    the window's and a linear pace applies; any other figure (a mean, an extreme, a ratio) is already a value of
    the whole window's kind."""
    return goal.aggregation == "total" and sums_its_days(spec, goal.metric)


def track_goal(spec: BudgetSpec, goal: Goal, daily: pd.DataFrame, forecasts: dict[str, SeriesForecast],
               today: dt.date, monthly: dict[str, SeriesForecast] | None = None,
               events: pd.DataFrame | None = None, members: pd.DataFrame | None = None) -> tuple[dict, list[dict]]:
    """Projection, probability, gap and required run-rate of one goal, plus its constraint rows.

    Parameters
    ----------
    daily : DataFrame
        Observed daily values at the budget total: ``metric_id, period_start, value``.
    forecasts : dict
        Daily total-scope forecasts from :func:`models.projections.forecast_scope`.
    today : date
        Last observed day.
    monthly : dict, optional
        Monthly total-scope forecasts: a total's whole months ahead come from them (see :func:`_whole_months`).
    events : DataFrame, optional
        Daily events of each measure at the budget total: ``measure, period_start, events``. A mean or variance
        over the window weighs each day by them (see :func:`WindowInput`); without them every day with a
        value weighs alike.
    members : DataFrame, optional
        The members a distinct count counts, per day at the budget total: ``metric_id, period_start, member``.
        A distinct count's total over the window counts each once (without them: its busiest day, which the
        union is at least).
    """
    expr, inputs, kinds = _goal_window(spec, goal, daily, forecasts, today, monthly, events, members)
    aggregation = goal.aggregation
    data_from = daily["period_start"].min() if len(daily) else None
    unseen = unseen_days(goal, data_from)
    partial = is_partial(spec, goal, unseen)
    point = {n: _window_value(kinds[n], x, x.means, x.future_weights) for n, x in inputs.items()}
    drawn = {n: _window_value(kinds[n], x, x.paths, x.future_weights) for n, x in inputs.items()}
    projected = float(evaluate_array(expr, point))
    draws = np.atleast_1d(evaluate_array(expr, drawn))
    ceiling = spec.is_ceiling(goal)
    days_left = max((goal.deadline - max(today, (goal.start or today) - dt.timedelta(days=1))).days, 0)
    finished = today >= goal.deadline
    reach = (draws <= goal.target) if ceiling else (draws >= goal.target)
    probability = float(np.mean(reach[np.isfinite(draws)])) if np.isfinite(draws).any() else None
    observed_so_far = _observed(inputs, kinds)
    observed_value = float(evaluate_array(expr, observed_so_far))
    met_at_projection = (projected <= goal.target) if ceiling else (projected >= goal.target)
    constraints = [] if finished or partial else _constraints(spec, goal, expr, inputs, kinds, point, daily,
                                                              days_left, met_at_projection, events)
    feasible = [c for c in constraints if c["status"] in ("feasible", "no change needed")]
    ranked = sorted(constraints, key=lambda c: c["difficulty"])
    binding = ranked[0]["input_metric"] if ranked else None
    if partial:
        status, probability = partial_verdict(spec, goal, observed_value, finished)
    elif not finished and aggregation == "total" and (
            (ceiling and never_falls(spec, goal.metric) and observed_value > goal.target)
            or (not ceiling and never_rises(spec, goal.metric) and observed_value < goal.target)):
        status = "infeasible"  # already past a ceiling (or below a floor) no day to come can take back
    elif finished:
        status = "achieved" if probability == 1.0 else "missed"
    elif probability is not None and probability >= ON_TRACK_PROBABILITY:
        status = "on_track"
    elif feasible:
        status = "at_risk"
    elif ranked and ranked[0]["status"] in ("stretch", "infeasible") and (
            probability is None or probability < OUT_OF_REACH_PROBABILITY):
        status = ranked[0]["status"]  # even the most achievable input must move beyond its history
    else:
        status = "at_risk"
    required_rate = None
    if sums_its_days(spec, goal.metric) and aggregation == "total" and days_left and not partial:
        required_rate = (goal.target - np.nan_to_num(observed_value)) / days_left
    rate, rate_days = _recent_rate(spec, daily, goal.metric)
    with np.errstate(all="ignore"):
        lo95, hi95 = (np.nanquantile(draws, [0.025, 0.975]) if np.isfinite(draws).any() else (np.nan, np.nan))
    row = {
        "budget_id": spec.id, "goal_id": goal.id, "kind": goal_kind(goal), "metric_id": goal.metric,
        "direction": "at_most" if ceiling else "at_least", "aggregation": aggregation,
        "window_start": goal.start, "deadline": goal.deadline, "as_of": today, "days_left": days_left,
        "target": goal.target, "observed_to_date": _f(observed_value),
        "projected": _f(projected), "projected_lo95": _f(lo95), "projected_hi95": _f(hi95),
        "probability": probability, "gap": _f(goal.target - projected),
        "required_daily_rate": _f(required_rate) if required_rate is not None else None,
        "current_daily_rate": _f(rate) if required_rate is not None else None,
        "current_rate_days": rate_days if required_rate is not None else None,
        "binding_input": binding, "status": status, "data_from": data_from if unseen else None,
        "unseen_days": unseen, "provenance": "predicted",
    }
    for c in constraints:
        c.pop("difficulty")
    return row, constraints


def never_falls(spec: BudgetSpec, metric_id: str) -> bool:
    """True for a total that can only grow as days are added: a count, a sum of a measure never below 0, a
    maximum, a distinct count (its members over the window), and a formula adding such counts and sums with
    weights not below 0 (``40 * hours + parts``)."""
    metric = spec.metrics[metric_id]
    if metric.kind != "base":
        terms = day_sum_terms(spec, metric_id)
        return terms is not None and all(w >= 0 and never_falls(spec, name) for name, w in terms.items())
    floor = spec.measures[metric.measure].min if metric.measure else None
    return metric.agg in ("count", "max", "distinct_count") or (
        metric.agg == "sum" and floor is not None and floor >= 0)


def never_rises(spec: BudgetSpec, metric_id: str) -> bool:
    """True for a total that can only fall as days are added: a minimum."""
    return spec.metrics[metric_id].agg == "min"


def partial_verdict(spec: BudgetSpec, goal: Goal, observed: float, finished: bool) -> tuple[str, float | None]:
    """A total counting only the days with data: the days before can only add to one that never falls (a count,
    a sum of a measure with a minimum of 0), so a ceiling it already passed is missed and a target it already
    reached is reached, for certain; anything else is not judged (partial_data, no chance)."""
    if never_falls(spec, goal.metric) and np.isfinite(observed):
        if spec.is_ceiling(goal) and observed > goal.target:
            return ("missed" if finished else "infeasible"), 0.0
        if not spec.is_ceiling(goal) and observed >= goal.target:
            return ("achieved" if finished else "on_track"), 1.0
    return "partial_data", None


def _recent_rate(spec: BudgetSpec, daily: pd.DataFrame, metric_id: str,
                 days: int = CURRENT_RATE_DAYS) -> tuple[float, int]:
    """A total's rate per calendar day over the last ``days`` days, and how many days that was (fewer in a young
    budget). Days without a row had no events and count as 0: a business closed at weekends runs at 5/7 of its
    weekday rate per day, which is what the days left will bring. A formula summing its days (see
    :func:`day_sum_terms`) runs at its terms' weighted rates."""
    terms = day_sum_terms(spec, metric_id)
    if terms is not None and terms != {metric_id: 1.0}:
        rates = [(weight, *_recent_rate(spec, daily, name, days)) for name, weight in terms.items()]
        return sum(w * rate for w, rate, _ in rates), max(span for _, _, span in rates)
    rows = daily[(daily.metric_id == metric_id) & daily["value"].notna()]
    if rows.empty:
        return np.nan, 0
    last = rows["period_start"].max()
    first = max(rows["period_start"].min(), last - dt.timedelta(days=days - 1))
    span = (last - first).days + 1
    return float(rows.loc[rows["period_start"] >= first, "value"].sum()) / span, span


def unseen_days(goal: Goal, first_day: dt.date | None) -> int:
    """Days of a goal's window before the data's ``first_day`` (none for a goal on the deadline's value alone)."""
    if goal.aggregation == "last" or goal.start is None or first_day is None or first_day <= goal.start:
        return 0
    return (min(first_day, goal.deadline + dt.timedelta(days=1)) - goal.start).days


def is_partial(spec: BudgetSpec, goal: Goal, unseen: int) -> bool:
    """Whether a goal's figure misses part of its target's sum: a total of a count or sum whose window began
    ``unseen`` days before the data (an average over the days with data still estimates the window's)."""
    return bool(unseen) and goal.aggregation == "total" and sums_its_days(spec, goal.metric)


def _constraints(spec, goal, expr, inputs: dict[str, WindowInput], kinds: dict[str, str], point, daily,
                 days_left, met_at_projection: bool, events: pd.DataFrame | None) -> list[dict]:
    rows = []
    for name, x in inputs.items():
        required = _solve(expr, point, name, goal.target)
        projected = point[name]
        row = {"budget_id": spec.id, "goal_id": goal.id, "input_metric": name, "projected": _f(projected),
               "required": _f(required), "required_change": None, "historical_p95_change": None,
               "historical_max_change": None, "status": "not solvable", "difficulty": np.inf}
        if required is None or not np.isfinite(projected):
            rows.append(row)
            continue
        # The change is asked of the days still to come, so compare their run-rate with history's.
        future_projected, future_required = _future_change(kinds[name], x, projected, required)
        change = future_required / future_projected - 1 if future_projected else np.inf
        values, weights = _calendar_history(spec, name, daily, events)
        p95, highest = _historical_change(values, weights, kinds[name], max(days_left, 1), up=change >= 0)
        row.update(required_change=_f(change), historical_p95_change=_f(p95), historical_max_change=_f(highest))
        if met_at_projection or abs(change) < 1e-9:
            # The projection already reaches the target: the input has this much room to spare.
            row.update(status="no change needed", difficulty=0.0)
        elif _counterproductive(spec.metrics[name], change):
            # fewer signups would lift an activation rate, but that is no plan: a route that worsens an outcome
            # is never the binding input nor what makes a goal feasible
            row.update(status="counterproductive", difficulty=np.inf)
        elif p95 is None:
            row.update(status="untested (history too short)", difficulty=abs(change) * 1e3)
        else:
            row["status"] = ("feasible" if abs(change) <= abs(p95) else
                             "stretch" if abs(change) <= abs(highest) else "infeasible")
            row["difficulty"] = abs(change) / max(abs(p95), 1e-9)
        rows.append(row)
    return rows


def _future_change(kind: str, x: WindowInput, projected: float, required: float) -> tuple[float, float]:
    """What the days left are projected to bring and what they must bring for the window to reach ``required``
    (the input's window value at the target) instead of ``projected``."""
    if kind == "last":
        return projected, required  # only the deadline's value counts: it alone moves, by the whole gap
    if kind == "sum":
        future = float(x.means.sum())
        return future, future + (required - projected)
    if kind == "distinct":
        # the members the days left add, against history's change in the days' own actives (a rough match: from
        # a pool nearly all seen, more active days add ever fewer new members)
        seen = float(x.observed.sum())
        return projected - seen, required - seen
    counted = x.future_weights > 0
    if kind in EXTREMES:
        # the days left must themselves reach the window's required extreme
        return (float(EXTREMES[kind][0](x.means[counted])) if counted.any() else projected), required
    # an average over the window: the days left carry the whole window's shortfall, in their share of its weight
    ahead = float(x.future_weights.sum())
    if not ahead:
        return projected, required
    future = float(np.where(counted, x.means, 0.0) @ x.future_weights) / ahead
    return future, future + (required - projected) * (x.observed_weights.sum() + ahead) / ahead


def _counterproductive(metric, change: float) -> bool:
    """True when reaching the goal asks ``metric`` to move in its own unfavourable direction. A lever (role
    input, such as spend favourable down) is exempt: spending more to reach more is a route, not a harm."""
    if "input" in metric.roles or metric.favourable == "neutral":
        return False
    return change < 0 if metric.favourable == "up" else change > 0


def _solve(expr, point: dict, name: str, target: float) -> float | None:
    """Value of input ``name`` that makes the formula equal ``target``, others held at ``point``."""
    def gap(x):
        return float(evaluate_array(expr, {**point, name: np.float64(x)})) - target

    base = float(point[name]) if np.isfinite(point[name]) and point[name] != 0 else 1.0
    # widening brackets: a target far beyond the projection (a goal set in the wrong unit, a runaway ratio) still
    # gets the value it would need, which then reads as infeasible rather than as "not solvable"
    brackets = [(0.0, abs(base) * factor) for factor in (2, 100, 1e4, 1e6)] + [(-abs(base) * 100, abs(base) * 100)]
    for low, high in brackets:
        try:
            g_low, g_high = gap(low), gap(high)
        except (ZeroDivisionError, FloatingPointError):
            continue
        if np.isfinite(g_low) and np.isfinite(g_high) and g_low * g_high <= 0:
            return float(brentq(gap, low, high, xtol=1e-9 * max(abs(base), 1)))
        if np.isfinite(gap(low + 1e-12 * abs(base))) and np.isfinite(g_high):
            g_low = gap(low + 1e-12 * abs(base))
            if g_low * g_high <= 0:
                return float(brentq(gap, low + 1e-12 * abs(base), high, xtol=1e-9 * max(abs(base), 1)))
    return None


def _calendar_history(spec: BudgetSpec, name: str, daily: pd.DataFrame,
                      events: pd.DataFrame | None) -> tuple[pd.Series, pd.Series | None]:
    """An input's daily history on every calendar day from its first value to its last (a count's or sum's day
    without a row at 0, any other metric's without a value NaN), and each day's events where its window value
    weighs by them (a mean or variance, with ``events`` given), else None."""
    metric = spec.metrics[name]
    series = daily[(daily.metric_id == name) & daily["value"].notna()].set_index("period_start")["value"]
    if series.empty:
        return series.astype(float), None
    days = _calendar_days(series.index.min(), series.index.max())
    values = series.astype(float).reindex(days, fill_value=0.0 if zero_when_empty(metric) else np.nan)
    if events is None or metric.kind != "base" or metric.agg not in EVENT_WEIGHTED:
        return values, None
    weights = _measure_events(events, metric.measure).reindex(days, fill_value=0.0)
    return values, weights.where(values.notna(), 0.0)


def _historical_change(values: pd.Series, weights: pd.Series | None, kind: str, window: int,
                       up: bool) -> tuple[float | None, float | None]:
    """95th percentile and extreme of the change between consecutive ``window``-day stretches of calendar days,
    each stretch's value combined from its days the way the goal's window is (see :func:`_window_kind`); days
    without a value (a closed day of a mean) leave a stretch its other days, not a gap that voids it."""
    if len(values) < 2 * window + 1:
        return None, None
    rolling = values.rolling(window, min_periods=1)
    if kind == "sum":
        stretches = rolling.sum()
    elif kind in EXTREMES:
        stretches = rolling.min() if kind == "min" else rolling.max()
    elif weights is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            stretches = (values.fillna(0.0) * weights).rolling(window).sum() / weights.rolling(window).sum()
    else:
        stretches = rolling.mean()
    stretches = stretches.to_numpy(float)[window - 1:]  # whole stretches only
    previous, current = stretches[:-window], stretches[window:]
    with np.errstate(divide="ignore", invalid="ignore"):
        changes = current / previous - 1
    changes = changes[np.isfinite(changes)]
    if not len(changes):
        return None, None
    if up:
        return float(np.quantile(changes, 0.95)), float(changes.max())
    return float(np.quantile(changes, 0.05)), float(changes.min())


def _f(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


@dataclass(frozen=True)
class GoalReport:
    tracking: list[dict]
    constraints: list[dict]


def goal_kind(goal: Goal) -> str:
    """'allocation' for an allocation period's goal, 'goal' for a declared one."""
    return "allocation" if goal.id.startswith(ALLOCATION_GOAL_PREFIX) else "goal"


def track_goals(spec: BudgetSpec, daily: pd.DataFrame, forecasts: dict[str, SeriesForecast], today: dt.date,
                monthly: dict[str, SeriesForecast] | None = None, events: pd.DataFrame | None = None,
                members: pd.DataFrame | None = None) -> GoalReport:
    """:func:`track_goal` for every declared goal of the spec and every allocation period in view."""
    tracking, constraints = [], []
    for goal in budget_goals(spec, today):
        row, rows = track_goal(spec, goal, daily, forecasts, today, monthly, events, members)
        tracking.append(row)
        constraints += rows
    return GoalReport(tracking, constraints)
