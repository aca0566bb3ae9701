"""Metric forecasts for a budget: base metrics forecast, derived metrics composed.

Base and composite metrics are forecast series by series (:func:`forecast`);
derived metrics are never forecast on their own: their point forecast is their
formula applied to the components' point forecasts, and their intervals come
from the formula applied to the components' joint future paths. So a forecast
CAC is always forecast spend / forecast new customers. The components' paths,
simulated one metric at a time, are re-paired to the rank correlation of their
history's changes first (:mod:`models.joint_paths`), so a rate of two metrics
that move together is not given the spread of both.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.budget_periods import budget_goals
from models.closed_days import closed_holidays, closed_weekdays, shut
from models.event_scope import event_concerns
from models.formula import evaluate_array, references, substitute
from models.forecasting import forecast
from models.forecasting.forecaster import nested_bands
from models.forecasting.episodes import past_episodes
from models.forecasting.shocks import past_shocks
from models.forecasting.holidays import holiday_adjustment, periods_from_daily
from models.forecasting.new_level import NewLevel, new_level
from models.forecasting.trading_days import trading_day_adjustment
from models.forecasting.yearly import period_cycle
from models.joint_paths import MIN_PAIRS, change_correlation, pair_paths, pair_steps
from models.spec import BudgetSpec, KnownEvent, Metric

# Seasonal periods worth testing at each grain, and the horizon when no goal asks for more.
GRAIN_PERIODS = {"day": (7, 365), "week": (52,), "month": (12,)}
DEFAULT_HORIZON = {"day": 28, "week": 13, "month": 6}
# The same period a year before, in whole periods: 364 days and 52 weeks keep the weekday
YEAR_STEPS = {"day": 364, "week": 52, "month": 12}
PATHS = 1000
# periods of history a metric needs to be forecast: one period's value, repeated with a band of no width, was a
# certain forecast of a budget's every month ahead
MIN_HISTORY = 3
# Grains whose forecasts take public holidays into account (a month's holidays are its season's).
HOLIDAY_GRAINS = ("day", "week")
# Additive aggregates: a period's value is the sum of its days' values.
ADDITIVE = {"count", "sum"}
ZERO_WHEN_EMPTY = ADDITIVE | {"distinct_count"}  # aggregates whose value over no events is 0
# Aggregates whose period value follows its days' level, so a week or month takes its season from the days
# (a variance's or a distinct count's does not).
CYCLED = ADDITIVE | {"mean", "min", "max"}


def next_period(grain: str, start: dt.date, steps: int = 1) -> dt.date:
    """Start of the period ``steps`` after the one starting at ``start``."""
    if grain == "day":
        return start + dt.timedelta(days=steps)
    if grain == "week":
        return start + dt.timedelta(weeks=steps)
    month = start.month - 1 + steps
    return dt.date(start.year + month // 12, month % 12 + 1, 1)


def periods_between(grain: str, first, last) -> list:
    """Every period start from ``first`` to ``last`` (inclusive), a period without data included."""
    periods = []
    while first <= last:
        periods.append(first)
        first = next_period(grain, first)
    return periods


def horizon_for(spec: BudgetSpec, grain: str, last_start: dt.date) -> int:
    """Steps from the period after ``last_start`` to the end of the latest goal or allocation period (at least
    the default)."""
    steps = DEFAULT_HORIZON[grain]
    # a week's or month's data may run on to the end of the next, incomplete period: its allocation periods too
    today = last_start if grain == "day" else next_period(grain, last_start, 2) - dt.timedelta(days=1)
    for goal in budget_goals(spec, today):
        needed = 0
        while next_period(grain, last_start, needed + 1) <= goal.deadline:
            needed += 1
        steps = max(steps, needed)
    return steps


def series_seed(*parts: object) -> int:
    """A stable seed per series (Python's hash() is salted per process)."""
    return zlib.crc32("|".join(map(str, parts)).encode())


def base_expressions(spec: BudgetSpec) -> dict:
    """Each derived metric's formula with derived references inlined down to forecastable metrics."""
    formulas = spec.parsed_formulas()
    return {metric: substitute(expr, formulas) for metric, expr in formulas.items()}


@dataclass(frozen=True)
class SeriesForecast:
    metric_id: str
    method: str
    history_points: int
    starts: list[dt.date]
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    paths: np.ndarray


def forecast_scope(spec: BudgetSpec, grain: str, history: pd.DataFrame, horizon: int,
                   scope: tuple[str, str], nodes: Iterable[str] = (),
                   daily: pd.DataFrame | None = None, trading_days: bool = True,
                   silences: Iterable[KnownEvent] = ()) -> dict[str, SeriesForecast]:
    """Forecast every metric of one segment scope at one grain.

    Parameters
    ----------
    spec : BudgetSpec
    grain : {"day", "week", "month"}
    history : DataFrame
        Complete periods of this scope and grain: ``metric_id, period_start, value``.
    horizon : int
        Steps to forecast after the last complete period.
    scope : (segment_level, segment_id)
        Seeds the paths and picks the holidays about it.
    nodes : iterable of str
        Every segment path of the budget, to tell which segments' holidays concern ``scope``.
    daily : pandas.DataFrame, optional
        For weekly and monthly forecasts: the scope's complete days (same columns), whose yearly cycle weeks
        and months shorter than three years take (see :func:`models.forecasting.yearly.period_cycle`), and
        whose holiday effects a count's or sum's weeks take (see
        :func:`models.forecasting.holidays.periods_from_daily`), and whose calendar a count's or sum's months
        take (see :mod:`models.forecasting.trading_days`).
    trading_days : bool
        False: months forecast as if their days were alike (what ``budgetlens bench months`` compares with).
    silences : iterable of KnownEvent
        Segments' days without events that are over (:func:`silence_events`): left out of the history of every
        scope they concern, as a declared outage over by the origin is. Left in, a clinic's three days closed by
        an outage put its months ahead up to 6.4% off.

    Returns
    -------
    dict of metric id → SeriesForecast (metrics with fewer than ``MIN_HISTORY`` periods of history are left
    out).
    """
    wide = history.pivot_table(index="period_start", columns="metric_id", values="value", aggfunc="first")
    if wide.empty:
        return {}
    # Every calendar period from the first to the last, so gaps are seen (and interpolated) as gaps.
    last = wide.index.max()
    calendar = periods_between(grain, wide.index.min(), last)
    wide = wide.reindex(calendar)
    starts = [next_period(grain, last, step) for step in range(1, horizon + 1)]
    days = _daily_series(spec, daily) if grain != "day" and daily is not None and not daily.empty else None
    day_series = days if grain != "day" else _daily_series(spec, history)
    nodes = list(nodes)
    silences = [e for e in silences if event_concerns(scope[1], e.level, e.segment, spec.segments.levels, nodes)]
    spec = spec.model_copy(update={"events": [*spec.events, *silences]}) if silences else spec
    # the events about this scope: another segment's outage neither names this scope's episodes nor hides its days
    about = [e for e in spec.events if event_concerns(scope[1], e.level, e.segment, spec.segments.levels, nodes)]
    # the history's undeclared episodes (a three-week outage) are left out as a declared event that is over is
    episodes = _episode_events(spec, day_series, about)
    # so are its undeclared shocks (five days at a third less), none on a day its holidays or events name
    shocks = _shock_events(spec, day_series, [*_known_about(spec, day_series, scope[1], nodes), *episodes])
    spec = spec.model_copy(update={"events": [*spec.events, *episodes, *shocks]}) if episodes or shocks else spec
    # and a new level its last weeks hold (60% more jobs since the 1st) is where its whole history is read
    levels = _new_levels(spec, day_series, [*about, *episodes, *shocks])
    as_seen = wide
    if levels:
        wide, days = _at_new_levels(spec, grain, wide, days, day_series[1], levels)
    has_holidays = spec.holidays or any(e.last_day is not None for e in spec.events)
    names = (holiday_names(spec, grain, calendar, starts, scope[1], nodes)
             if grain in HOLIDAY_GRAINS and has_holidays else None)
    # the days' holidays: a count's or sum's weeks take their effects, its months the ones it shuts on
    day_names = (_day_holiday_names(spec, grain, days[1], starts, scope[1], nodes)
                 if days is not None and grain != "day" and has_holidays else None)
    # the declared events' days alone: what a count's or sum's months take effects from, and what the days'
    # yearly cycle is read without
    event_days = (_day_holiday_names(spec, grain, days[1], starts, scope[1], nodes, holidays=False)
                  if day_names is not None else {})
    result: dict[str, SeriesForecast] = {}
    seen: dict[str, np.ndarray] = {}
    for metric_id, metric in spec.metrics.items():
        if metric.kind == "derived" or metric_id not in wide or wide[metric_id].notna().sum() < MIN_HISTORY:
            continue
        # Float sums differ in their last digits with the order rows were added (an incremental
        # warehouse vs a rebuild); optimisers amplify that, so the forecast sees 10 significant digits.
        values = _significant(wide[metric_id].to_numpy(float))
        values = seen[metric_id] = empty_periods_as_zero(metric, values)
        from_days = {"week": day_names, "month": event_days}.get(grain)
        if from_days and is_additive(metric) and metric_id in days[0]:
            holidays = periods_from_daily(days[0][metric_id], days[1], _bounds(grain, calendar), _bounds(grain, starts),
                                          from_days)
        else:
            holidays = holiday_adjustment(values, *names, grain=grain) if names is not None else None
        signed = may_go_below_zero(spec, metric)
        floor = 0.0 if not signed and np.nanmin(values) >= 0 else -np.inf
        metric_days = _without_events(metric_id, days, event_days) if days is not None else None
        yearly = (_yearly_from_days(metric_id, metric, grain, metric_days, calendar, starts, signed)
                  if days is not None else None)
        adjusted = values if holidays is None else holidays.remove(values)
        trading = None
        if (trading_days and grain == "month" and days is not None and is_additive(metric) and not signed
                and metric_id in days[0]):
            # a declared event's empty days (an outage's) are not days the business shuts: they came out of the months
            # with the event's measured effect above (taken out twice, a site's months ahead came out 6-7% high)
            shut_days = _shut_days(days[0][metric_id], days[1], day_names or {}) - set(event_days)
            yearly_flat = _yearly_from_days(metric_id, metric, grain, metric_days, calendar, starts, signed,
                                            by_length=False)
            trading = trading_day_adjustment(adjusted if yearly_flat is None else yearly_flat.remove(adjusted),
                                             _bounds(grain, calendar), _bounds(grain, starts),
                                             metric_days[0][metric_id], days[1], shut_days)
            if trading is not None:
                plain, yearly, adjusted = adjusted, yearly_flat, trading.remove(adjusted)
        seed = series_seed(spec.id, metric_id, grain, *scope)
        f = forecast(adjusted if yearly is None else yearly.remove(adjusted), horizon, GRAIN_PERIODS[grain],
                     paths=PATHS, seed=seed, signed=signed)
        if yearly is not None:
            blind = forecast(adjusted, horizon, GRAIN_PERIODS[grain], paths=PATHS, seed=seed, signed=signed)
            f = _as_uncertain_as(yearly.restored(f, floor, "yearly cycle of the days"), blind, floor)
        if trading is not None:
            # the calendar sharpens the months' point forecasts, not their certainty: their errors are mostly
            # the level's moves, which the calendar's share of the history's swings had stood in for in the bands
            # (rolling origins, demo and clinic: 95% coverage 0.81 -> 0.71 with the adjusted series' own bands)
            f = _as_uncertain_as(trading.restored(f, floor, trading.label),
                                 forecast(plain, horizon, GRAIN_PERIODS[grain], seed=seed, signed=signed), floor)
        if holidays is not None:
            f = holidays.restored(f, floor, _holidays_label(spec, holidays, {e.name for e in episodes},
                                                            {e.name for e in silences}, {e.name for e in shocks}))
        if metric_id in levels:
            # a level read off the last weeks sharpens where the series is headed, not how sure that is: the
            # demo's csat, 11.6% down since August, had 95% bands of +-0.03 a month ahead and December fell outside
            as_seen_values = empty_periods_as_zero(metric, _significant(as_seen[metric_id].to_numpy(float)))
            f = _as_uncertain_as(f, forecast(as_seen_values, horizon, GRAIN_PERIODS[grain], paths=PATHS, seed=seed,
                                             signed=signed), floor)
        if grain == "day" and zero_when_empty(metric):
            closed = closed_weekdays(values, calendar)
            shut_on = closed_holidays(values, calendar, names[0], closed) if names is not None else set()
            f = shut(f, starts, closed, (names[1] if names is not None else [], shut_on))
        method = f.method + (f" + {levels[metric_id].label}" if metric_id in levels else "")
        result[metric_id] = SeriesForecast(metric_id, method, int(np.isfinite(values).sum()), starts,
                                           f.mean, f.lo80, f.hi80, f.lo95, f.hi95, f.paths)
    composed = {m: e for m, e in base_expressions(spec).items() if all(n in result for n in references(e))}
    stepwise = _pair_inputs(spec, grain, scope, result, seen, composed)
    for metric_id, expr in composed.items():
        inputs = references(expr)
        mean = np.broadcast_to(evaluate_array(expr, {name: result[name].mean for name in inputs}), (horizon,))
        drawn = np.broadcast_to(evaluate_array(expr, {name: stepwise.get(name, result[name].paths)
                                                      for name in inputs}), (PATHS, horizon))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # a step where every draw is undefined (a ratio on a closed day) has undefined bands, as meant
            warnings.simplefilter("ignore", RuntimeWarning)
            quantiles = np.nanquantile(drawn, [0.025, 0.1, 0.9, 0.975], axis=0)
        # the formula of the means can lie outside the draws (a cost per customer of a day's one or two
        # customers: draws with none are undefined and left out): the bands then reach it, in order
        lo95, lo80, hi80, hi95 = nested_bands(mean, *quantiles)
        result[metric_id] = SeriesForecast(
            metric_id, "composed: " + " ".join(sorted(inputs)), min(result[n].history_points for n in inputs),
            starts, mean, lo80, hi80, lo95, hi95, drawn)
    return result


def _pair_inputs(spec: BudgetSpec, grain: str, scope: tuple[str, str], result: dict[str, SeriesForecast],
                 seen: dict[str, np.ndarray], composed: dict) -> dict[str, np.ndarray]:
    """Re-pair the paths of the metrics formulas combine with the correlation of their history's changes:
    ``result``'s paths in place (whole paths, for goals' windows), and step-by-step pairings returned for
    composing each step's value (see :mod:`models.joint_paths`)."""
    names = sorted({n for e in composed.values() for n in references(e) if len(references(e)) > 1})
    if len(names) < 2:
        return {}
    history = pd.DataFrame({n: seen[n] for n in names})
    season = GRAIN_PERIODS[grain][0]
    lag = season if len(history) >= 3 * season + MIN_PAIRS else 1
    horizon = result[names[0]].paths.shape[1]
    # totals over the horizon, as far as the history holds enough of them
    span = max(1, min(horizon, (len(history) - MIN_PAIRS) // 2))
    seed = series_seed(spec.id, "joint", grain, *scope)
    paired = pair_paths([result[n].paths for n in names], change_correlation(history, lag, span), seed)
    for name, paths in zip(names, paired):
        result[name] = dataclasses.replace(result[name], paths=paths)
    return dict(zip(names, pair_steps(paired, change_correlation(history, lag), seed + 1)))


def is_additive(metric: Metric) -> bool:
    """Whether a period's value is the sum of its days' values (a count or sum)."""
    return metric.kind == "base" and metric.agg in ADDITIVE


def zero_when_empty(metric: Metric) -> bool:
    """Whether the metric is 0 over a period without events (a count, sum or distinct count), not undefined."""
    return metric.kind == "base" and metric.agg in ZERO_WHEN_EMPTY


def may_go_below_zero(spec: BudgetSpec, metric: Metric) -> bool:
    """Whether the spec lets a base metric's value go below zero (its measure's declared minimum is negative: a
    temperature), so forecasts are not held at zero where its history happened to stay above it."""
    if metric.kind != "base" or metric.agg in ("count", "distinct_count", "variance") or metric.measure is None:
        return False
    low = spec.measures[metric.measure].min
    return low is not None and low < 0


def changes_as_shares(spec: BudgetSpec, metric: Metric) -> bool:
    """Whether a metric's changes may be read as percentages: not a composite score's (a z-scored score going from
    -0.09 to -0.61 is not a change of -604%) nor a metric's that may go below zero (an outdoor temperature going
    from 12.8 to 10.4 C is not -18%)."""
    return metric.kind != "composite" and not may_go_below_zero(spec, metric)


def empty_periods_as_zero(metric: Metric, values: np.ndarray) -> np.ndarray:
    """A count's, sum's or distinct count's series with its periods without a row (no events: a B2B budget's
    closed weekends) at 0 from its first value on, not gaps to interpolate; other metrics' as they are."""
    if not zero_when_empty(metric):
        return values
    seen = np.flatnonzero(np.isfinite(values))
    if not seen.size:
        return values
    filled = values.copy()
    filled[seen[0]:] = np.nan_to_num(values[seen[0]:], nan=0.0)
    return filled


def _holidays_label(spec: BudgetSpec, holidays, episodes: set[str], silences: set[str] = frozenset(),
                    shocks: set[str] = frozenset()) -> str:
    """What a forecast's method says of its holidays: those ahead with their names ("holidays (Christmas Day)",
    or "known events (...)" when a declared event in force is among them), else that the history's were left
    out of what the models saw (the past holidays, known events, ``episodes``, segments' ``silences`` or
    ``shocks`` among them)."""
    found = episodes | silences | shocks
    declared = {e.name for e in spec.events if e.kind != "holiday"} - found
    if not holidays.effects:
        left_out = [label for label, names in (("holidays", set(holidays.measured) - declared - found),
                                               ("known events", declared), ("episodes", episodes),
                                               ("silent segments", silences), ("shocks", shocks))
                    if names & set(holidays.measured)]
        return f"past {' and '.join(left_out)} left out"
    return f"{'known events' if declared & set(holidays.effects) else 'holidays'} ({', '.join(holidays.effects)})"


def silence_events(runs: Iterable[dict], levels: list[str]) -> list[KnownEvent]:
    """Segments' runs of days without events that are over (:func:`models.briefing.gaps.ended_segment_gaps`) as
    events of kind outage about the segment (its path), for :func:`forecast_scope`."""
    return [KnownEvent(date=dt.date.fromisoformat(run["start"]), end_date=dt.date.fromisoformat(run["end"]),
                       name=f"{run['segment_id']} without events {run['start']} to {run['end']}", kind="outage",
                       level=levels[run["segment_id"].count("/")], segment=run["segment_id"]) for run in runs]


def _episode_events(spec: BudgetSpec, days: tuple[dict[str, np.ndarray], list[dt.date]] | None,
                    events: Iterable[KnownEvent]) -> list[KnownEvent]:
    """The episodes of a scope's daily history (:func:`models.forecasting.episodes.past_episodes`) in any metric
    forecast on its own, overlapping ones joined, as events over by the origin; none that overlaps the days of
    one of ``events`` (the declared ones about the scope), which names them already."""
    if days is None:
        return []
    series, day_list = days
    spans = sorted((e.first, e.last) for values in _on_their_own(spec, series).values()
                   for e in past_episodes(values, day_list))
    declared = _spans(events)
    joined: list[list[dt.date]] = []
    for first, last in spans:
        if joined and first <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], last)
        else:
            joined.append([first, last])
    return [KnownEvent(date=first, end_date=last, name=f"unusual days {first.isoformat()} to {last.isoformat()}")
            for first, last in joined if not any(a <= last and first <= b for a, b in declared)]


def _known_about(spec: BudgetSpec, days: tuple[dict[str, np.ndarray], list[dt.date]] | None, node: str,
                 nodes: list[str]) -> list[KnownEvent]:
    """The declared events and public holidays of a scope's days that concern it."""
    if days is None or not days[1]:
        return []
    return [e for e in spec.known_events(days[1][0], days[1][-1])
            if event_concerns(node, e.level, e.segment, spec.segments.levels, nodes)]


def _shock_events(spec: BudgetSpec, days: tuple[dict[str, np.ndarray], list[dt.date]] | None,
                  events: Iterable[KnownEvent]) -> list[KnownEvent]:
    """The shock days of a scope's daily history (:func:`models.forecasting.shocks.past_shocks`) in any metric
    forecast on its own, one event a day (each day's effect its own), as events over by the origin; none on the
    days of one of ``events`` (the scope's holidays, declared events and episodes), which name them already."""
    if days is None:
        return []
    series, day_list = days
    found = sorted({d for values in _on_their_own(spec, series).values() for d in past_shocks(values, day_list)})
    declared = _spans(events)
    return [KnownEvent(date=d, name=f"shock {d.isoformat()}") for d in found
            if not any(a <= d <= b for a, b in declared)]


def _new_levels(spec: BudgetSpec, days: tuple[dict[str, np.ndarray], list[dt.date]] | None,
                events: Iterable[KnownEvent]) -> dict[str, NewLevel]:
    """Each metric forecast on its own whose daily history ends at a new level
    (:func:`models.forecasting.new_level.new_level`), read without the days of ``events`` (the declared ones
    about the scope and its episodes)."""
    if days is None:
        return {}
    series, day_list = days
    spans = _spans(events)
    excluded = np.array([any(a <= d <= b for a, b in spans) for d in day_list]) if spans else None
    found = {m: new_level(values, day_list, excluded) for m, values in _on_their_own(spec, series).items()}
    return {m: level for m, level in found.items() if level is not None}


def _on_their_own(spec: BudgetSpec, series: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The daily series of the metrics forecast on their own: not a formula of others', nor read from text."""
    return {m: values for m, values in series.items() if spec.metrics[m].kind not in ("derived", "qualitative")}


def _spans(events: Iterable[KnownEvent]) -> list[tuple[dt.date, dt.date]]:
    """The first and last days of the events that are over on a last day (not a price change or launch that
    lasts from its date on)."""
    return [(e.date, e.last_day) for e in events if e.last_day is not None]


def _at_new_levels(spec: BudgetSpec, grain: str, wide: pd.DataFrame,
                   days: tuple[dict[str, np.ndarray], list[dt.date]] | None, day_list: list[dt.date],
                   levels: dict[str, NewLevel]) -> tuple[pd.DataFrame, tuple | None]:
    """The history (``wide``, a grain's periods, and ``days``, the days its weeks and months read) with the days
    before each metric's new level at that level. A count's or sum's week or month moves by what its days
    moved; any other metric's by the share of its days before the new level."""
    wide = wide.copy()
    days = (dict(days[0]), days[1]) if days is not None else None
    starts = _dates(wide.index)
    # each day's period among the history's, by its start (-1 before the first and after the last one's end: the
    # days run on to the origin's end, a period not yet complete)
    period = np.searchsorted(np.array(starts), np.array(day_list), side="right") - 1
    period[np.array(day_list) >= next_period(grain, starts[-1])] = -1
    counted = np.bincount(period[period >= 0], minlength=len(starts))  # each period's days read
    for metric_id, level in levels.items():
        if metric_id not in wide:
            continue
        values = wide[metric_id].to_numpy(float)
        if grain == "day":
            wide[metric_id] = level.before(values, starts)
            continue
        before = np.array(day_list) < level.first
        share = np.ones(len(starts))  # a period wholly before the days read is wholly before the new level
        early = np.bincount(period[period >= 0], weights=before[period >= 0], minlength=len(starts))
        share[counted > 0] = early[counted > 0] / counted[counted > 0]
        moved = values + share * (level.before(values, [level.first - dt.timedelta(days=1)] * len(values)) - values)
        raw = days[0].get(metric_id) if days is not None else None
        if raw is not None and is_additive(spec.metrics[metric_id]):
            shift = level.before(raw, day_list) - raw  # what each day moved, 0 from the new level on
            known = (period >= 0) & np.isfinite(shift)
            added = np.bincount(period[known], weights=shift[known], minlength=len(starts))
            moved = np.where(counted > 0, values + added, moved)
        wide[metric_id] = moved
        if raw is not None:
            days[0][metric_id] = level.before(raw, day_list)
    return wide, days


def _dates(periods: list) -> list[dt.date]:
    return [pd.Timestamp(p).date() for p in periods]


def _daily_series(spec: BudgetSpec, daily: pd.DataFrame) -> tuple[dict[str, np.ndarray], list[dt.date]]:
    """A scope's daily series (metric -> values over its days, no day missing) and those days."""
    # unstack, not pivot_table, which groups to aggregate where a day holds one value of each metric: 1.9 ms
    # instead of 3.0 for 8 metrics over 700 days (measured)
    keys = ["period_start", "metric_id"]
    wide = daily.drop_duplicates(keys).set_index(keys)["value"].unstack()
    days = [d.date() for d in pd.date_range(min(wide.index), max(wide.index), freq="D")]
    wide = wide.reindex(days)
    series = {m: empty_periods_as_zero(spec.metrics[m], wide[m].to_numpy(float)) for m in wide.columns
              if m in spec.metrics}
    return series, days


def _without_events(metric_id: str, days: tuple[dict[str, np.ndarray], list[dt.date]],
                    event_days: dict) -> tuple[dict[str, np.ndarray], list[dt.date]]:
    """A scope's days of one metric with the declared events' measured effects taken out (``event_days``: see
    :func:`_day_holiday_names`), as :func:`_yearly_from_days` reads them; as they are when none has one."""
    series, day_list = days
    if metric_id not in series or not event_days:
        return days
    found = holiday_adjustment(series[metric_id], [event_days.get(d) for d in day_list], [], "day")
    return ({metric_id: series[metric_id] if found is None else found.remove(series[metric_id])}, day_list)


def _bounds(grain: str, starts: list) -> list[tuple[dt.date, dt.date]]:
    """The first and last day of each period starting at ``starts``."""
    return [(d, next_period(grain, d) - dt.timedelta(days=1)) for d in _dates(starts)]


def _shut_days(y: np.ndarray, days: list[dt.date], day_names: dict) -> set[dt.date]:
    """The days, past and ahead (``day_names``: see :func:`_day_holiday_names`), of the holidays on which the
    daily series ``y`` (over ``days``) was always 0 (see :func:`models.closed_days.closed_holidays`)."""
    shut_names = closed_holidays(y, days, [day_names.get(d) for d in days], closed_weekdays(y, days))
    return {d for d, name in day_names.items() if name in shut_names}


def _yearly_from_days(metric_id: str, metric: Metric, grain: str, days: tuple[dict[str, np.ndarray], list[dt.date]],
                      calendar: list, starts: list, signed: bool, by_length: bool = True):
    """A weekly or monthly series' yearly cycle from its days, while it is too short for the forecaster to see
    the season itself (three cycles: :func:`models.forecasting.seasonality.is_seasonal`)."""
    series, day_list = days
    if metric.kind != "base" or metric.agg not in CYCLED or metric_id not in series:
        return None
    if len(calendar) >= 3 * GRAIN_PERIODS[grain][0]:
        return None
    return period_cycle(series[metric_id], day_list, _bounds(grain, calendar), _bounds(grain, starts),
                        summed=is_additive(metric), signed=signed, by_length=by_length)


def _as_uncertain_as(f, blind, floor: float):
    """``f`` with bands no narrower than ``blind``'s (the forecast without the yearly cycle), around ``f``'s own
    point forecast, and its paths spread to match. A cycle read off one or two years sharpens where the months
    are headed, not how sure that is: the demo's months forecast with it from March to October 2026 missed by
    a fifth less, yet their 95% bands held 70% of the months (89% without it) until kept this wide."""
    def wider(band, blind_band, below: bool):
        reach = f.mean - (blind.mean - blind_band) if below else f.mean + (blind_band - blind.mean)
        return np.maximum(np.fmin(band, reach) if below else np.fmax(band, reach), floor)

    lo95, hi95 = wider(f.lo95, blind.lo95, True), wider(f.hi95, blind.hi95, False)
    paths = f.paths
    if paths is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            stretch = np.where(f.hi95 > f.lo95, (hi95 - lo95) / (f.hi95 - f.lo95), 1.0)
        paths = np.maximum(f.mean + (paths - f.mean) * np.maximum(stretch, 1.0), floor)
    return dataclasses.replace(f, lo95=lo95, hi95=hi95, paths=paths, lo80=wider(f.lo80, blind.lo80, True),
                               hi80=wider(f.hi80, blind.hi80, False))


def _day_holiday_names(spec: BudgetSpec, grain: str, days: list[dt.date], starts: list, node: str,
                       nodes: Iterable[str], holidays: bool = True) -> dict:
    """Day -> holiday name(s) about ``node``, for the daily history's days and the days of the weeks or months
    ahead (starting at ``starts``): what weekly forecasts take holiday effects from, monthly ones shut days
    (``holidays`` False: the declared events alone, what monthly forecasts and the days' yearly cycle take)."""
    periods = _bounds(grain, starts)
    first, last = periods[0][0], periods[-1][1]
    ahead = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
    past_names, future_names = holiday_names(spec, "day", days, ahead, node, nodes, holidays)
    return {d: n for d, n in zip(days + ahead, past_names + future_names) if n is not None}


def holiday_names(spec: BudgetSpec, grain: str, periods: list, ahead: list, node: str = "_total",
                  nodes: Iterable[str] = (), holidays: bool = True) -> tuple[list, list]:
    """The holiday(s) about ``node`` (names joined) in each of ``periods`` and of ``ahead`` (starts at
    ``grain``, day or week); None for a period without one. A segment's calendar concerns that segment, the
    ones under it and the ones above it (see :func:`models.event_scope.event_concerns`).

    Declared events that pass (an end date, or a kind that is not a lasting change) are named too: on their
    days so far and ahead while in force at the history's end, on their past days once over. ``holidays``
    False leaves the public holidays out."""
    periods, ahead = [pd.Timestamp(d).date() for d in periods], [pd.Timestamp(d).date() for d in ahead]
    nodes = list(nodes)
    last_day = next_period(grain, periods[-1]) - dt.timedelta(days=1)
    on: dict[dt.date, set[str]] = {}
    for event in spec.known_events(periods[0], next_period(grain, ahead[-1]) - dt.timedelta(days=1)):
        if not event_concerns(node, event.level, event.segment, spec.segments.levels, nodes):
            continue
        if event.kind == "holiday":
            if not holidays:
                continue
            days = [event.date]
        elif event.end_date is not None and event.date <= last_day < event.end_date:
            # a declared event in force at the forecast's origin (road works to the month's end): measured on its
            # days so far like a holiday on its past dates, carried to its end and not past it
            days = [d.date() for d in pd.date_range(event.date, event.end_date, freq="D")]
        elif event.last_day is not None and event.last_day <= last_day:
            # one over by the origin (a warehouse fire's three weeks a year ago): left out of what the models
            # see, as a holiday's dates are; seen, it blurred the days' yearly cycle and this November's month
            # came out 11-12% high (tests/models/test_goals.py)
            days = [d.date() for d in pd.date_range(event.date, event.last_day, freq="D")]
        else:
            continue
        # a holiday's substitute day off (Boxing Day (observed) on the Monday) is the holiday itself to the business
        label = event.name.replace(" (observed)", "") if event.kind == "holiday" else event.name
        for day in days:
            on.setdefault(day - dt.timedelta(days=day.weekday()) if grain == "week" else day, set()).add(label)

    def name(start: dt.date) -> str | None:
        return ", ".join(sorted(on[start])) if start in on else None

    return [name(d) for d in periods], [name(d) for d in ahead]


def forecast_rows(spec: BudgetSpec, grain: str, scope: tuple[str, str], last_start: dt.date,
                  forecasts: dict[str, SeriesForecast]) -> list[dict]:
    """Rows of ``main.metric_forecasts`` for one scope and grain."""
    rows = []
    for metric_id, f in forecasts.items():
        for step, start in enumerate(f.starts):
            end = next_period(grain, start) - dt.timedelta(days=1)
            rows.append({
                "budget_id": spec.id, "metric_id": metric_id, "grain": grain, "segment_level": scope[0],
                "segment_id": scope[1], "origin_period": last_start, "step": step + 1, "period_start": start,
                "period_end": end, "value": _finite(f.mean[step]), "lo80": _finite(f.lo80[step]),
                "hi80": _finite(f.hi80[step]), "lo95": _finite(f.lo95[step]), "hi95": _finite(f.hi95[step]),
                "method": f.method, "history_points": f.history_points, "provenance": "predicted"})
    return rows


def _significant(values: np.ndarray, digits: int = 10) -> np.ndarray:
    with np.errstate(all="ignore"):
        magnitude = np.where(np.isfinite(values) & (values != 0), np.floor(np.log10(np.abs(values))), 0)
    scale = 10.0 ** (digits - 1 - magnitude)
    return np.round(values * scale) / scale


def _finite(value: float) -> float | None:
    value = float(value)
    return value if np.isfinite(value) else None
