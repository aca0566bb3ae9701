"""Why did a metric change? Every change split into five estimated factors plus a residual.

For one metric, one segment scope and one pair of periods, the change
``delta = value(current) - value(baseline)`` is written as a waterfall of signed
contributions that add up to ``delta`` exactly:

* **temporal_variance** -- what the weekday make-up, the length of the periods and
  the yearly cycle, when the history shows one, predict (:mod:`.seasonal`);
* **event_shock** -- days that break from the level before and after them, matched
  to the spec's known events (:mod:`.shocks`);
* **influence_drift** -- movements of declared influences times their estimated
  effect, and shifts of the effect itself (:mod:`.influence`);
* **dimension_drift** -- what particular slices did beyond the common movement: the
  scope's children, or a deeper level's values across the hierarchy when they tell the
  change better (:mod:`.dimension`, ``DriftEngine._chosen_slicing``);
* **component_drift** -- for formulas and composite scores, the components whose own
  change none of the above explains, down to the base metrics (Shapley values over
  every component x factor move, :mod:`.shapley`);
* **residual** -- the rest (for a base metric: the change nothing above explains).

Base metrics are decomposed on their own daily series. A ratio of two counts or sums
(``orders / leads``, ``1000 * cost / requests``) is too: it is the denominator-weighted
average of its slices' ratios, so it is decomposed like a mean, its slices splitting
into mix and rate, and the common movement left at the end goes to its numerator and
denominator by the logs of their own unexplained changes (``DriftEngine.ratio_pieces``). Through
its inputs instead, one move of both (an outage halving leads and orders alike, traffic
shifting to a channel) would show as two large opposite pieces of a ratio that did not
move. Any other formula's change is the Shapley attribution of its base inputs' factor
moves through the formula, so a factor of a product is that factor's effect on the
product, not on an input.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from models.drift.dimension import (additive_drift, average_drift, bonferroni_logp, rate_shift_logp, relative_common,
                                    share_shift_logp)
from models.drift.influence import (CHANGE_ALPHA, EFFECT_ALPHA, Influence, common_share, held_shift_p, influence,
                                    significant_effects)
from models.drift.materiality import MATERIAL_Z, change_materiality
from models.drift.seasonal import Profile, YearlyChange, temporal_change, weekday_profile, yearly_change
from models.drift.shapley import shapley
from models.drift.shocks import group_shocks, match_event, shock_days
from models.event_scope import event_concerns
from models.formula import evaluate_array, ratio_parts, references, substitute
from models.projections import YEAR_STEPS, empty_periods_as_zero, is_additive, next_period
from models.spec import LASTING_KINDS, BudgetSpec, Metric
from models.units import points, reads_as_percent, with_currency
from models.yearly_cycle import YEARLY_FIT_DAYS

FACTORS = ("temporal_variance", "event_shock", "influence_drift", "dimension_drift", "component_drift", "residual")
TOP_SLICES = 5
# A slice's contribution smaller than this share of the largest slice value is rounding (sums taken in another
# order give 1e-14 where the exact answer is 0), not a change: kept, it would make a slice appear or not
# depending on the order rows were stored in.
ROUNDING = 1e-9
# A deeper level's values slice a scope instead of its children only when tests at this level say they tell
# the change better (see _chosen_slicing): the children are the hierarchy the owner chose.
SLICING_ALPHA = 0.01
# |z| a change needs for its residual to be named after a declared lasting event it coincides with (two-sided
# 5%): the owner told of the event, so less than MATERIAL_Z's bar, yet more than any month's wobble
EVENT_Z = 2.0
STEP_DAYS = 14  # days either side of such an event's date the step is tested on: two of each weekday
ATTRIBUTION_COLUMNS = [
    "budget_id", "metric_id", "grain", "segment_level", "segment_id", "period_start", "baseline", "baseline_start",
    "value", "baseline_value", "delta", "factor", "driver", "path", "contribution", "share_of_delta", "evidence",
    "confidence", "delta_z", "verdict"]


@dataclass(frozen=True)
class Slicing:
    """One way to slice a scope: a segment level, its slices (key -> the nodes it sums) and their labels."""

    level: str
    groups: dict[str, tuple[str, ...]]
    labels: dict[str, str]
    child_of: dict[str, str]  # each node of the slices -> the scope's child it lies under


@dataclass(frozen=True)
class Pair:
    """Two periods of one grain: the baseline (``start0``) and the current one (``start1``)."""

    label: str
    grain: str
    start0: dt.date
    start1: dt.date

    @property
    def days0(self) -> pd.DatetimeIndex:
        return _days(self.grain, self.start0)

    @property
    def days1(self) -> pd.DatetimeIndex:
        return _days(self.grain, self.start1)


@dataclass
class Piece:
    factor: str
    driver: str | None
    contribution: float
    evidence: str | None = None
    confidence: float | None = None
    path: str | None = None
    leaf: str | None = field(default=None, repr=False)


def default_pairs(grain: str, latest: dt.date) -> list[Pair]:
    """The latest complete period against the previous one and against the same period a year before."""
    return [Pair("previous", grain, next_period(grain, latest, -1), latest),
            Pair("year_ago", grain, next_period(grain, latest, -YEAR_STEPS[grain]), latest)]


@functools.lru_cache(maxsize=4096)  # every decomposition asks for the same few periods' days
def _days(grain: str, start: dt.date) -> pd.DatetimeIndex:
    end = next_period(grain, start, 1)
    return pd.date_range(start, end - dt.timedelta(days=1), freq="D")


@functools.lru_cache(maxsize=1024)
def _pair_days(pair: Pair) -> pd.DatetimeIndex:
    return pair.days0.union(pair.days1)


@functools.lru_cache(maxsize=1024)
def _cycle_apart(pair: Pair) -> bool:
    """Whether the pair's periods lie at different points of the yearly cycle (not a year-on-year pair)."""
    return pair.days1.max() - pd.DateOffset(years=1) < pair.days0.min()


@dataclass(frozen=True)
class BudgetFrames:
    """What the engine reads for one budget (all pure data frames).

    ``daily``: metric_id, segment_id, period_start, value -- every metric at day grain, complete days.
    ``periods``: metric_id, segment_id, period_start, value, is_complete -- every metric at the analysis grain.
    ``weights``: measure, segment_id, period_start, weight -- daily event counts of the measures of mean metrics.
    ``nodes``: segment_level, segment_id, node_value, parent_id -- the segment hierarchy ('_total' at the root).
    ``text_weights``: metric_id, grain, segment_id, period_start, weight -- documents with evidence behind each
    reading of a qualitative metric (its slices' weights).
    """

    daily: pd.DataFrame
    periods: pd.DataFrame
    weights: pd.DataFrame
    nodes: pd.DataFrame
    text_weights: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["metric_id", "grain", "segment_id", "period_start", "weight"]))


class DriftEngine:
    """Decompositions of one budget's metrics at one grain; caches per-series estimates across pairs."""

    def __init__(self, spec: BudgetSpec, frames: BudgetFrames, grain: str):
        self.spec, self.grain = spec, grain
        daily = frames.daily
        days = pd.to_datetime(daily["period_start"])
        self.calendar = pd.date_range(days.min(), days.max(), freq="D") if len(daily) else pd.DatetimeIndex([])
        # the declared events and the public holidays of the days analysed, as match_event reads them
        self._events = [e.model_dump() for e in (spec.known_events(self.calendar[0].date(), self.calendar[-1].date())
                                                  if len(self.calendar) else spec.events)]
        # each series' rows as (calendar positions, values): placing them on the calendar is one assignment
        positions, values = self.calendar.get_indexer(days), daily["value"].astype(float).to_numpy()
        self._daily = {key: (positions[rows], values[rows])
                       for key, rows in daily.groupby(["metric_id", "segment_id"], sort=False).indices.items()}
        periods = frames.periods.copy()
        periods["period_start"] = pd.to_datetime(periods["period_start"]).dt.date
        self._periods = {key: grp.set_index("period_start") for key, grp in periods.groupby(["metric_id", "segment_id"], sort=False)}
        # every series' complete periods in time order, for materiality: one sort of the whole frame, not a
        # filter and a sort per series (1.3 ms a decomposition at 10M events, measured)
        complete = periods[periods["is_complete"].astype(bool)].sort_values("period_start", kind="stable")
        days = pd.to_datetime(complete["period_start"]).to_numpy("datetime64[D]")
        values = complete["value"].astype(float).to_numpy()
        found = complete.groupby(["metric_id", "segment_id"], sort=False).indices
        none = (np.empty(0, "datetime64[D]"), np.empty(0))
        self._history = {key: (days[found[key]], values[found[key]]) if key in found else none
                         for key in self._periods}
        weights = frames.weights
        positions = self.calendar.get_indexer(pd.to_datetime(weights["period_start"]))
        values = weights["weight"].astype(float).to_numpy()
        self._weights = {key: (positions[rows], values[rows])
                         for key, rows in weights.groupby(["measure", "segment_id"], sort=False).indices.items()}
        text = frames.text_weights[frames.text_weights["grain"] == grain]
        self._text_weights = {(m, seg, pd.Timestamp(p).date()): float(w) for m, seg, p, w in
                              zip(text["metric_id"], text["segment_id"], text["period_start"], text["weight"])}
        nodes = frames.nodes
        self.level_of = dict(zip(nodes["segment_id"], nodes["segment_level"]))
        self.value_of = dict(zip(nodes["segment_id"], nodes["node_value"]))
        self.children: dict[str, list[str]] = {}
        for node, parent in zip(nodes["segment_id"], nodes["parent_id"]):
            if isinstance(parent, str):
                self.children.setdefault(parent, []).append(node)
        self.formulas = spec.parsed_formulas()
        self.expressions = {m: substitute(e, self.formulas) for m, e in self.formulas.items()}
        # ratios of two additive base metrics: decomposed like means (see the module docstring)
        self.ratios = {m: parts for m, e in self.expressions.items() if (parts := ratio_parts(e)) is not None
                       and all(is_additive(spec.metrics[name]) for name in parts[:2])}
        self._nonnegative: dict[tuple[str, str], bool] = {}
        self.relationships = {}
        for rel in spec.relationships:
            self.relationships.setdefault(rel.target, []).append(rel)
        self._series, self._profiles, self._adjusted, self._flags, self._base = {}, {}, {}, {}, {}
        self._arrays, self._weight_arrays, self._positions, self._influences = {}, {}, {}, {}
        self._period_values: dict[tuple[str, str], dict[dt.date, float]] = {}
        self._slicing_cache: dict[str, list[Slicing]] = {}
        self._effects: dict[tuple, tuple[dict[str, bool], int]] = {}
        self._yearlies: dict[tuple, YearlyChange | None] = {}

    # --- data access ------------------------------------------------------------------

    def series(self, metric: str, node: str) -> pd.Series:
        key = (metric, node)
        if key not in self._series:
            values = self._on_calendar(self._daily.get(key), np.nan)
            if metric in self.spec.metrics:
                # a missing day would leave a closed weekend's pattern unseen and an extra Saturday read as a day
                values = empty_periods_as_zero(self.spec.metrics[metric], values)
            self._series[key] = pd.Series(values, index=self.calendar)
        return self._series[key]

    def _on_calendar(self, rows: tuple[np.ndarray, np.ndarray] | None, missing: float) -> np.ndarray:
        """One series' (positions, values) as an array over the calendar, ``missing`` on the other days."""
        out = np.full(len(self.calendar), missing)
        if rows is not None:
            inside = rows[0] >= 0  # weights of days beyond the metrics' calendar have no place on it
            out[rows[0][inside]] = rows[1][inside]
        return out

    # Positional reads: the daily series are aligned on one calendar, so a period's days are positions in
    # it; reading arrays there instead of reindexing Series took drift from 16 s to 10 s (demo, 1M events).

    def values(self, metric: str, node: str) -> np.ndarray:
        """The daily series over the calendar and one trailing NaN (what position -1 reads)."""
        key = (metric, node)
        if key not in self._arrays:
            self._arrays[key] = np.append(self.series(metric, node).to_numpy(float), np.nan)
        return self._arrays[key]

    def _adjusted_values(self, metric: str, node: str, before: pd.Timestamp) -> np.ndarray:
        key = ("adjusted", metric, node, before)
        if key not in self._arrays:
            self._arrays[key] = np.append(self._deseasonalised(metric, node, before).to_numpy(float), np.nan)
        return self._arrays[key]

    def _weight_values(self, measure: str, node: str) -> np.ndarray:
        """Daily event counts over the calendar (0 where none) and one trailing 0."""
        key = (measure, node)
        if key not in self._weight_arrays:
            w = self._on_calendar(self._weights.get(key), 0.0)
            self._weight_arrays[key] = np.append(np.where(np.isnan(w), 0.0, w), 0.0)
        return self._weight_arrays[key]

    def positions(self, days: pd.DatetimeIndex) -> np.ndarray:
        """Calendar positions of ``days`` (-1 for a day outside the calendar)."""
        key = tuple(days.asi8)
        if key not in self._positions:
            self._positions[key] = self.calendar.get_indexer(days)
        return self._positions[key]

    def _kept(self, days: pd.DatetimeIndex, flags: pd.DataFrame) -> np.ndarray:
        """Positions of the days of a period that are not shock days."""
        pos = self.positions(days)
        return pos[~days.isin(flags.index)] if len(flags) else pos

    def period_value(self, metric: str, node: str, start: dt.date) -> float:
        key = (metric, node)
        if key not in self._period_values:
            frame = self._periods.get(key)
            self._period_values[key] = {} if frame is None else {
                day: float(value) for day, value in zip(frame.index, frame["value"])
                if value is not None and pd.notna(value)}
        return self._period_values[key].get(start, float("nan"))

    # --- one base metric --------------------------------------------------------------

    def _profile(self, metric: str, node: str, before: pd.Timestamp) -> Profile:
        key = (metric, node, before)
        if key not in self._profiles:
            self._profiles[key] = weekday_profile(self.series(metric, node), before)
        return self._profiles[key]

    def _deseasonalised(self, metric: str, node: str, before: pd.Timestamp) -> pd.Series:
        key = (metric, node, before)
        if key not in self._adjusted:
            self._adjusted[key] = self._profile(metric, node, before).deseasonalise(self.series(metric, node))
        return self._adjusted[key]

    def _shock_flags(self, metric: str, node: str, pair: Pair) -> pd.DataFrame:
        """Shock days of the pair's two periods; the series is tested once for every pair sharing a profile."""
        before = pd.Timestamp(pair.start1)
        key = (metric, node, before)
        if key not in self._flags:
            profile = self._profile(metric, node, before)
            y = self.series(metric, node)
            factors = pd.Series(profile.at(y.index), index=y.index)
            # days without events are no evidence of a shock either way, and a closed day's certain 0 would
            # shrink the spread the open days are judged by (a false shock on a busy Friday, measured)
            tested = self._deseasonalised(metric, node, before).where(~self._without_rows(metric, node))
            self._flags[key] = shock_days(tested, factors, y, y.index, profile.mode == "multiplicative")
        flags = self._flags[key]
        return flags[flags.index.isin(_pair_days(pair))]

    def base_pieces(self, metric_id: str, node: str, pair: Pair) -> list[Piece] | None:
        """The factors of a base (or composite-free) metric's change; None if a value is missing."""
        key = (metric_id, node, pair)
        if key in self._base:
            return self._base[key]
        v0 = self.period_value(metric_id, node, pair.start0)
        v1 = self.period_value(metric_id, node, pair.start1)
        if not (np.isfinite(v0) and np.isfinite(v1)):
            self._base[key] = None
            return None
        metric = self.spec.metrics[metric_id]
        additive = is_additive(metric)
        profile = self._profile(metric_id, node, pd.Timestamp(pair.start1))
        flags = self._shock_flags(metric_id, node, pair)
        days0, days1 = pair.days0, pair.days1
        weights = self._weighted(metric_id, node)[1] if self._averaged(metric_id, metric, node) else None
        pieces = self._shock_pieces(flags, self.values(metric_id, node), weights, node, days0, days1, additive)
        pieces += self._temporal_pieces(metric_id, node, profile, flags, pair, additive)
        pieces += self._influence_pieces(metric_id, node, pair)
        dimension, sliced_by, relative = self._dimension_pieces(metric_id, metric, node, flags, pair)
        pieces += dimension
        rest = (v1 - v0) - sum(p.contribution for p in pieces)
        if abs(rest) <= ROUNDING * max(abs(v0), abs(v1), *(abs(p.contribution) for p in pieces)):
            rest = 0.0  # the factors explain it all: what is left is the order floats were summed in
        # the slices' common move beyond what the factors before took: a staff cost whose every region grew by its
        # month's extra day (+3.6%), all of it the calendar's, read "residual -1,293 (common movement, +3.6% each)"
        # (to 9 digits first: a sum's last bits differ between an incremental and a rebuilt history, and a share of
        # exactly -0.5365 was "-0.537" in one and "-0.536" in the other)
        # a sum's slices, or an average's whose common movement is a percentage, move by a share of their level
        in_percent = additive or relative
        worded = sliced_by and rest and (v0 or not in_percent)
        share = float(f"{(rest / v0 if in_percent else rest):.9g}") if worded else None
        moved = None
        if share:  # a rate's slices that did not move in proportion moved by points (churn risk: +2.8 pts each)
            moved = (f"{share:+.1%}" if in_percent else points(share, signed=True)
                     if reads_as_percent(metric.unit, v0, v1, share) else with_currency(f"{share:+.3g}", metric.unit))
        common = f"common movement of the {sliced_by} slices, {moved} each" if moved else None
        # a residual that is most of nothing, a sliver of the change, or of a change well within the metric's
        # usual ones (an outdoor temperature's month at a building back from renovation, z -0.8) is not what the
        # event did; a declared event is told, so a change it coincides with needs a lower bar than "material"
        around = (None if rest == 0 or abs(rest) < 0.25 * abs(v1 - v0)
                  or self.materiality(metric_id, node, pair, v1 - v0, EVENT_Z)[1] != "material"
                  else self._lasting_event(metric_id, node, pair, np.sign(rest)))
        # slices moving together since a price change is the change's doing: both are named, the event first
        driver = "; ".join(part for part in (around and around[0], common) if part) or None
        pieces.append(Piece("residual", driver, rest,
                            "what the factors above leave" + (
                                "; the slices' common movement is part of it" if common else "") + (
                                f"; it coincides with a declared event in force through the {around[1]}, not in the "
                                f"{'baseline' if around[1] == 'period' else 'period'} (not estimated: a lasting event "
                                "is no shock against the days around it)" if around else "")))
        self._base[key] = pieces
        return pieces

    def _lasting_event(self, metric_id: str, node: str, pair: Pair, sign: float) -> tuple[str, str] | None:
        """A declared event about the scope (no public holiday) in force over at least half of one period's days and
        under half of the other's, and which period that is: ("during <event> (<dates>)", "period") when the
        current period (road works at a depot for a month: each week of it is as late as the one before, so it is
        no shock, yet it is what a year's change coincides with), ("since <event> (<dates>) ended", "baseline")
        when the baseline (a building back from two months of renovation). A price change or a launch without an
        end date lasts from its date on: ("since <event> (<date>)", "period") when it falls after the baseline and by
        the period's last day and the metric stepped that way on its date (a price raised on 15 October: the month's
        mean price moved with it; search spend raised on 1 October did not step on the 15th, see
        :func:`_stepped_on`)."""
        for event in sorted(self._events, key=lambda e: (e["date"], e["name"])):
            # about the scope itself or a segment it lies in: a depot's road works are not its region's story
            if event.get("kind") == "holiday" or not event_concerns(
                    node, event["level"], event["segment"], self.spec.segments.levels, self.level_of, below=False):
                continue
            if event.get("end_date") is None and event.get("kind") in LASTING_KINDS:
                start = pd.Timestamp(event["date"])
                if pair.days0.max() < start <= pair.days1.max() and _stepped_on(
                        self.values(metric_id, node), int(self.calendar.searchsorted(start)),
                        int(self.positions(pair.days1)[-1]), sign):
                    return f"since {event['name']} ({event['date']})", "period"
                continue
            span = pd.date_range(event["date"], event.get("end_date") or event["date"], freq="D")
            dates = f"{event['name']} ({event['date']}..{event.get('end_date') or event['date']})"
            in0, in1 = (len(days.intersection(span)) for days in (pair.days0, pair.days1))
            if 2 * in1 >= len(pair.days1) > 2 * in0:
                return f"during {dates}", "period"
            if 2 * in0 >= len(pair.days0) > 2 * in1:
                return f"since {dates} ended", "baseline"
        return None

    def _shock_pieces(self, flags, y: np.ndarray, weights: np.ndarray | None, node, days0, days1,
                      additive) -> list[Piece]:
        """Each shock's abnormal part in the two periods: summed for a sum or count; for a mean or ratio
        weighted by the day's weight (a day of few orders moves the period's cost per order little, however
        far its own value jumps); otherwise averaged over the period's days."""
        pieces = []
        if weights is not None:
            n0, n1 = (float(weights[self.positions(days)].sum()) for days in (days0, days1))
        else:
            n0, n1 = (int(np.count_nonzero(~np.isnan(y[self.positions(days)]))) for days in (days0, days1))
        n0, n1 = n0 or 1, n1 or 1
        known = np.flatnonzero(~np.isnan(y))
        last_day = self.calendar[known[-1]] if len(known) else None
        for shock in group_shocks(flags):
            # calendar positions, not pandas label lookups (most of this step's time at 10M events, measured)
            where, abnormal = self.positions(shock.abnormal.index), shock.abnormal.to_numpy(float)
            if weights is not None:
                abnormal = abnormal * weights[where]
            in1 = float(abnormal[np.isin(where, self.positions(days1))].sum())
            in0 = float(abnormal[np.isin(where, self.positions(days0))].sum())
            contribution = (in1 - in0) if additive else (in1 / n1 - in0 / n0)
            event = match_event(shock, self._events_for(node))
            span = f"{shock.first:%Y-%m-%d}" + (f"..{shock.last:%Y-%m-%d}" if shock.last != shock.first else "")
            # days that break from the level before them up to the period's end (the engine sees no later day) may
            # be a new level's first days: a GPU cluster left running read "unexplained shock" for its first four
            to_end = last_day is not None and shock.last >= last_day - pd.Timedelta(days=1)
            driver = (f"{event['name']} ({span})" if event else f"unexplained shock {span}"
                      + (" to the period's end (or a new level)" if to_end else ""))
            pieces.append(Piece("event_shock", driver, contribution, f"robust z {shock.peak_z:.1f}"
                                + ("" if event else "; no known event matches")
                                + ("; no later day weighed to tell a shock from a new level" if to_end else ""), None))
        return pieces

    def _yearly(self, metric_id: str, node: str, pair: Pair) -> YearlyChange | None:
        """The change the series' yearly cycle predicts between the pair's periods (cached: influences ask
        for their sources'); None for a year-on-year pair, whose periods are the same days of the cycle."""
        key = (metric_id, node, pair)
        if key not in self._yearlies:
            found = None
            if _cycle_apart(pair):
                before = pd.Timestamp(pair.start1)
                start, end = self.calendar.searchsorted([before - pd.Timedelta(days=YEARLY_FIT_DAYS), before])
                found = yearly_change(self._deseasonalised(metric_id, node, before).iloc[start:end], pair.days0,
                                      pair.days1, self._profile(metric_id, node, before).mode == "multiplicative")
            self._yearlies[key] = found
        return self._yearlies[key]

    def _source_yearly(self, metric_id: str, node: str, pair: Pair) -> YearlyChange | None:
        """An influence's own yearly pattern, taken out of its movement only when it is one."""
        found = self._yearly(metric_id, node, pair)
        return found if found and found.significant else None

    def _temporal_pieces(self, metric_id, node, profile, flags, pair: Pair, additive) -> list[Piece]:
        days0, days1 = pair.days0, pair.days1
        clean0 = self._adjusted_values(metric_id, node, pd.Timestamp(pair.start1))[self._kept(days0, flags)]
        level = float(np.nanmean(clean0)) if (~np.isnan(clean0)).any() else float("nan")
        found = self._yearly(metric_id, node, pair)
        # a cycle within day-to-day noise is no pattern to expect again: it predicts nothing
        yearly = found.value if found and found.significant else None
        calendar, seasonal = temporal_change(profile, level, yearly, days0, days1, additive)
        weekly = (f"weekday pattern (Kruskal-Wallis {_p(profile.p_value)})" if profile.mode != "none"
                  else "no weekday pattern")
        confidence = 1 - profile.p_value if profile.mode != "none" and profile.p_value is not None else None
        pieces = [Piece("temporal_variance", "weekday mix and calendar", calendar, weekly, confidence)]
        if found:
            said = f"{found.value - 1:+.1%}" if found.kind == "ratio" else f"{found.value:+.4g}"
            fitted = f"a yearly cycle fitted on {found.days} days before the period (Wald {_p(found.p_value)})"
            evidence = (f"{fitted} predicts {said}" if found.significant
                        else f"no yearly pattern: {fitted} would predict {said}, within day-to-day noise")
            pieces.append(Piece("temporal_variance", "yearly pattern", seasonal, evidence,
                                1 - found.p_value if found.significant else None))
        return pieces

    def _influence_fit(self, metric_id: str, node: str, rel, pair: Pair) -> Influence | None:
        """One declared relationship fitted on one scope's own series (cached: a parent asks its slices)."""
        key = (metric_id, node, rel.source, rel.lag_days, pair)
        if key not in self._influences:
            before = pd.Timestamp(pair.start1)
            found = None
            if self.series(rel.source, node).notna().sum() > 0:
                # a day on which neither had a row (a fleet's closed Sunday) tells nothing of how one follows the
                # other; deseasonalised, it became a made-up point (0 less Sunday's usual 0: 472 EUR of fuel at
                # 3,685 km) that tilted the fuel cost per km of a week's change from 0.16 to 0.18, and a week's
                # movement is counted on its open days
                source = self._without_rows(rel.source, node)
                lagged = np.concatenate([np.ones(min(rel.lag_days, len(source)), bool), source])[:len(source)]
                neither = self._without_rows(metric_id, node) & lagged
                found = influence(self._deseasonalised(metric_id, node, before),
                                  self._deseasonalised(rel.source, node, before), rel.lag_days, pair.days0,
                                  pair.days1, self._shock_flags(metric_id, node, pair).index,
                                  is_additive(self.spec.metrics[metric_id]), self._source_yearly(rel.source, node, pair),
                                  quiet=self.calendar[neither].union(  # and days past the data's end
                                      _pair_days(pair).difference(self.calendar)))
            self._influences[key] = found
        return self._influences[key]

    def _without_rows(self, metric: str, node: str) -> np.ndarray:
        """Whether the series had no row (no events) on each calendar day."""
        key = ("without rows", metric, node)
        if key not in self._arrays:
            self._arrays[key] = np.isnan(self._on_calendar(self._daily.get((metric, node)), np.nan))
        return self._arrays[key]

    def _effect_is_real(self, metric_id: str, node: str, rel, pair: Pair) -> tuple[bool, int]:
        """Whether the relationship's effect at this scope holds among the scopes of its segment level, and
        how many were fitted (cached per level)."""
        level = self.level_of.get(node, "_total")
        key = (metric_id, level, rel.source, rel.lag_days, pair)
        if key not in self._effects:
            peers = [n for n, lvl in self.level_of.items() if lvl == level] if node in self.level_of else [node]
            fits = {n: f for n in peers if (f := self._influence_fit(metric_id, n, rel, pair)) is not None}
            real = significant_effects([f.effect_p for f in fits.values()])
            self._effects[key] = ({n: bool(r) for n, r in zip(fits, real)}, len(fits))
        verdicts, fitted = self._effects[key]
        return verdicts.get(node, False), fitted

    def _influence_pieces(self, metric_id, node, pair: Pair) -> list[Piece]:
        pieces = []
        for rel in self.relationships.get(metric_id, []):
            found = self._influence_fit(metric_id, node, rel, pair)
            if found is None:
                continue
            label = f"{rel.source} -> {metric_id}" + (f" (lag {rel.lag_days}d)" if rel.lag_days else "")
            real, peers = self._effect_is_real(metric_id, node, rel, pair)
            pieces.append(Piece("influence_drift", f"{label}: movement", found.movement if real else 0.0,
                                f"effect {found.effect:.4g} per unit, {_p(found.effect_p)}" + (
                                    "" if real or found.effect_p >= EFFECT_ALPHA else
                                    f"; not significant among {peers} {self.level_of.get(node, 'total')} slices "
                                    f"(false discovery rate {EFFECT_ALPHA:.0%})"), 1 - found.effect_p))
            change, evidence, confidence = self._relationship_change(metric_id, node, rel, pair)
            share = self._common_share(metric_id, node, rel, pair) if change else 0.0
            if not share:
                continue
            if share < 1:
                evidence += (f"; {share:.0%} of it common to the {self._children_level(node)} slices, the rest "
                             "their own (dimension drift)")
            pieces.append(Piece("influence_drift", f"{label}: relationship changed", share * change, evidence,
                                confidence))
        return pieces

    def _children_fits(self, metric_id: str, node: str, rel, pair: Pair) -> list[Influence]:
        return [f for f in (self._influence_fit(metric_id, c, rel, pair) for c in self.children.get(node, []))
                if f is not None]

    def _relationship_change(self, metric_id: str, node: str, rel, pair: Pair) -> tuple[float, str, float]:
        """What a changed relationship adds to the scope's change, with its evidence (0 when unchanged).

        A changed relationship must show within the period (in the slices, where x moves more than in their
        sum), else it is only y's level moving while x sat near its usual level."""
        found = self._influence_fit(metric_id, node, rel, pair)
        if found is None or not found.change:
            return 0.0, "", 0.0
        slices = self._children_fits(metric_id, node, rel, pair)
        held, held_p = held_shift_p(slices or [found])
        if held_p >= CHANGE_ALPHA or np.sign(held) != np.sign(found.effect_shift):
            return 0.0, "", 0.0
        ratio = found.effect_shift / found.effect if found.effect else float("nan")
        within = f"{len(slices)} slices" if slices else "the period's days"
        return found.change, (f"effect shifted by {found.effect_shift:+.4g} per unit ({ratio:+.0%}), "
                              f"{_p(found.shift_p)}; within {within} {_p(held_p)}"), 1 - max(found.shift_p, held_p)

    def _common_share(self, metric_id: str, node: str, rel, pair: Pair) -> float:
        """The share of the scope's relationship change that is its slices' common change (1 for a leaf): one
        slice's change is that slice's own, left to the dimension drift (see influence.common_share)."""
        slices = self._children_fits(metric_id, node, rel, pair)
        return common_share(slices) if slices else 1.0

    def _children_level(self, node: str) -> str:
        children = self.children.get(node, [])
        return self.level_of.get(children[0], "child") if children else "child"

    def _slicings(self, node: str) -> list[Slicing]:
        """Ways to slice a scope: its children first, then each deeper level's values across the hierarchy
        (only levels with a value under more than one child: a level nested in the children is reached by
        looking into each child)."""
        if node not in self._slicing_cache:
            out, children = [], self.children.get(node, [])
            if children:
                out.append(Slicing(self.level_of[children[0]], {c: (c,) for c in children},
                                   {c: self.value_of.get(c, c) for c in children}, {c: c for c in children}))
            frontier = [(c, g) for c in children for g in self.children.get(c, [])]
            while frontier:
                groups: dict[str, list[str]] = {}
                for _, d in frontier:
                    groups.setdefault(str(self.value_of.get(d, d)), []).append(d)
                child_of = {d: c for c, d in frontier}
                if any(len({child_of[d] for d in ns}) > 1 for ns in groups.values()):
                    out.append(Slicing(self.level_of[frontier[0][1]], {v: tuple(ns) for v, ns in sorted(groups.items())},
                                       {v: v for v in groups}, child_of))
                frontier = [(c, g) for c, d in frontier for g in self.children.get(d, [])]
            self._slicing_cache[node] = out
        return self._slicing_cache[node]

    def _weighted(self, metric_id: str, node: str) -> tuple[np.ndarray, np.ndarray]:
        """Daily (value x weight, weight) of an average over the calendar (and a trailing 0): a mean's average
        and its event count, or a ratio's scaled numerator and its denominator (0 where none)."""
        key = ("weighted", metric_id, node)
        if key not in self._arrays:
            if metric_id in self.ratios:
                numerator, denominator, constant = self.ratios[metric_id]
                a, b = self.values(numerator, node), self.values(denominator, node)
                self._arrays[key] = (constant * np.where(np.isfinite(a), a, 0.0), np.where(np.isfinite(b), b, 0.0))
            else:
                r = self.values(metric_id, node)
                w = self._weight_values(self.spec.metrics[metric_id].measure, node)
                ok = np.isfinite(r) & (w > 0)
                self._arrays[key] = (np.where(ok, r * w, 0.0), np.where(ok, w, 0.0))
        return self._arrays[key]

    def _averaged(self, metric_id: str, metric: Metric, node: str) -> bool:
        """Whether a scope's value is a weighted average of its slices' values: a base mean, or a ratio of
        counts or sums whose denominator is never negative here nor in any slice below."""
        if metric.kind == "base":
            return metric.agg == "mean"
        if metric_id not in self.ratios:
            return False
        key = (metric_id, node)
        if key not in self._nonnegative:
            denominator = self.ratios[metric_id][1]
            below, ok = [node], True
            while below and ok:
                n = below.pop()
                ok = not (self.values(denominator, n) < 0).any()
                below += self.children.get(n, [])
            self._nonnegative[key] = ok
        return self._nonnegative[key]

    def _node_days(self, metric_id: str, metric: Metric, nodes: list[str], keep: np.ndarray):
        """Nodes x kept days: (values, None) of a sum or count (0 where none); (average x weight, weight)
        of a mean or a ratio."""
        if is_additive(metric):
            values = np.array([self.values(metric_id, n)[keep] for n in nodes])
            return np.where(np.isfinite(values), values, 0.0), None
        weighted = [self._weighted(metric_id, n) for n in nodes]
        return np.array([x[keep] for x, _ in weighted]), np.array([w[keep] for _, w in weighted])

    @staticmethod
    def _moved_apart(days: tuple, groups: list[list[int]], proportional: bool) -> float:
        """Log p-value that slices (each the sum of some nodes of ``days``) moved alike (:mod:`.dimension`);
        averages with a natural zero (``proportional``) by the common movement their periods read best by."""
        member = np.zeros((len(groups), len(days[0][0])))
        for i, rows in enumerate(groups):
            member[i, rows] = 1.0
        def slices(side):
            x, w = side
            if w is None:
                return member @ x, None
            total = member @ w
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(total > 0, (member @ x) / np.where(total > 0, total, 1.0), np.nan), total
        (x0, w0), (x1, w1) = slices(days[0]), slices(days[1])
        if w0 is None:
            return share_shift_logp(x0, x1)
        relative = False
        if proportional:  # by the slices' averages over each period
            sums = [(np.nansum(member @ x, 1), (member @ w).sum(1)) for x, w in days]
            with np.errstate(invalid="ignore", divide="ignore"):
                (r0, t0), (r1, t1) = ((np.where(t > 0, v / np.where(t > 0, t, 1.0), np.nan), t) for v, t in sums)
            relative = relative_common(r0, r1, t0, t1)
        return rate_shift_logp((x0, x1), (w0, w1), relative)

    @classmethod
    def _moved_apart_within(cls, days: tuple, outer: list[str], inner: list[str], proportional: bool) -> float:
        """Log p-value that inside every outer slice the inner slices moved alike (``outer`` and ``inner``:
        each node's slice in either slicing; Bonferroni over the outer slices with more than one inner)."""
        cells: dict[str, dict[str, list[int]]] = {}
        for row, (o, i) in enumerate(zip(outer, inner)):
            cells.setdefault(o, {}).setdefault(i, []).append(row)
        return bonferroni_logp([cls._moved_apart(days, list(c.values()), proportional)
                                for c in cells.values() if len(c) > 1])

    def _chosen_slicing(self, metric_id, metric, node, keep0, keep1) -> tuple[Slicing, str]:
        """The children, unless a deeper level's values tell the change better: their slices moved apart
        (at 1%, adjusted for the deeper levels tried), they moved apart inside the children too, and inside
        each of them the children moved alike. Then that level, and a note saying why."""
        slicings = self._slicings(node)
        children, alpha, chosen = slicings[0], np.log(SLICING_ALPHA), None
        proportional = _from_natural_zero(self.spec, metric)
        for deeper in slicings[1:]:
            nodes = list(deeper.child_of)
            value = {n: v for v, ns in deeper.groups.items() for n in ns}
            days = (self._node_days(metric_id, metric, nodes, keep0), self._node_days(metric_id, metric, nodes, keep1))
            by_value = [value[n] for n in nodes]
            by_child = [deeper.child_of[n] for n in nodes]
            row = {n: i for i, n in enumerate(nodes)}
            groups = [[row[n] for n in ns] for ns in deeper.groups.values()]
            apart = min(0.0, self._moved_apart(days, groups, proportional) + np.log(len(slicings) - 1))
            if apart >= alpha or (chosen and apart >= chosen[1]):
                continue
            inside_children = self._moved_apart_within(days, by_child, by_value, proportional)
            children_inside = self._moved_apart_within(days, by_value, by_child, proportional)
            if inside_children < alpha and children_inside >= alpha:
                chosen = (deeper, apart, children_inside)
        if chosen is None:
            return children, ""
        deeper, apart, children_inside = chosen
        return deeper, (f"; the {deeper.level} slices across the hierarchy moved apart ({_p(float(np.exp(apart)))}), "
                        f"and within each of them the {children.level} slices did not "
                        f"({_p(float(np.exp(children_inside)))})")

    def _dimension_pieces(self, metric_id, metric: Metric, node, flags,
                          pair: Pair) -> tuple[list[Piece], str | None, bool]:
        """The slices' own changes, the level of the slices when they share a common movement (None if
        none), and whether an average's common movement is a percentage of each slice's level."""
        days0, days1 = pair.days0, pair.days1
        additive = is_additive(metric)
        if not self.children.get(node) or not (additive or self._averaged(metric_id, metric, node)):
            return [], None, False
        keep0, keep1 = self._kept(days0, flags), self._kept(days1, flags)
        if len(keep0) == 0 or len(keep1) == 0:
            return [], None, False
        scale0, scale1 = len(days0) / len(keep0), len(days1) / len(keep1)
        slicing, why = self._chosen_slicing(metric_id, metric, node, keep0, keep1)
        level, groups = slicing.level, slicing.groups
        if additive:
            v0 = pd.Series({g: sum(np.nansum(self.values(metric_id, n)[keep0]) for n in ns) * scale0
                            for g, ns in groups.items()})
            v1 = pd.Series({g: sum(np.nansum(self.values(metric_id, n)[keep1]) for n in ns) * scale1
                            for g, ns in groups.items()})
            # what a slice's declared influences explain is theirs, not the slice's own
            v1 = v1 - pd.Series({g: sum(self._influence_total(metric_id, n, node, pair) for n in ns)
                                 for g, ns in groups.items()})
            drift = additive_drift(v0[v0 != 0], v1[v1 != 0])
            rows = [(g, r.contribution, r.effect) for g, r in drift.iterrows()]
            values = [v0, v1]
            # slices the metric never touches (staff rows under "service=admin" for a count of visits) are none
            slices = len(drift)
        else:
            parts = {}
            for g, ns in groups.items():
                for side, keep in ((0, keep0), (1, keep1)):
                    weighted, total = 0.0, 0.0
                    for n in ns:
                        x, w = self._weighted(metric_id, n)
                        weighted, total = weighted + x[keep].sum(), total + float(w[keep].sum())
                    parts[(g, side)] = (float(weighted / total) if total else np.nan, total)
            frame = {f"{k}{s}": pd.Series({g: parts[(g, s)][i] for g in groups})
                     for s in (0, 1) for k, i in (("r", 0), ("w", 1))}
            drift = average_drift(frame["r0"], frame["r1"], frame["w0"], frame["w1"],
                                  proportional=_from_natural_zero(self.spec, metric))
            rows = [(g, r.mix, "mix" if r.effect == "change" else r.effect) for g, r in drift.iterrows()]
            rows += [(g, r.rate, "rate") for g, r in drift.iterrows() if r.effect == "change"]
            values = [frame["r0"], frame["r1"]]
            slices = int(((frame["w0"] > 0) | (frame["w1"] > 0)).sum())
        common = drift.attrs["common"]
        rows = _beyond_rounding(rows, *values)
        pieces = [Piece("dimension_drift", f"{level}={slicing.labels[g]}"
                        + ("" if effect == "change" else f" ({effect})"), value,
                        f"slice-specific change beyond the common movement of {slices} {level} slices{why}")
                  for g, value, effect in rows[:TOP_SLICES]]
        rest = rows[TOP_SLICES:]
        if rest:
            pieces.append(Piece("dimension_drift", f"{len(rest)} other {level} slices", sum(r[1] for r in rest),
                                "slice-specific changes, smaller each"))
        return pieces, (level if common else None), bool(drift.attrs.get("relative"))

    def _influence_total(self, metric_id: str, slice_node: str, scope: str, pair: Pair) -> float:
        """What the scope's declared influences take of one of its slices' change: the slice's movements, and
        of its changed relationships the share the scope holds common (the rest is the slice's own)."""
        total = 0.0
        for rel in self.relationships.get(metric_id, []):
            found = self._influence_fit(metric_id, slice_node, rel, pair)
            if found is None:
                continue
            if self._effect_is_real(metric_id, slice_node, rel, pair)[0]:
                total += found.movement
            change = self._relationship_change(metric_id, slice_node, rel, pair)[0]
            if change:
                total += self._common_share(metric_id, scope, rel, pair) * change
        return float(total)

    def _events_for(self, node: str) -> list[dict]:
        """Known events about this scope, one of its ancestors or one of its descendants."""
        return [event for event in self._events
                if event_concerns(node, event["level"], event["segment"], self.spec.segments.levels, self.level_of)]

    # --- formulas and composites ---------------------------------------------------------

    def _function(self, metric_id: str, node: str):
        """(leaves, vectorised function of the leaves' values) for a derived or composite metric."""
        metric = self.spec.metrics[metric_id]
        if metric.kind == "derived":
            expr = self.expressions[metric_id]
            leaves = sorted(set(references(expr)))
            return leaves, lambda X: evaluate_array(expr, {leaf: X[:, i] for i, leaf in enumerate(leaves)})
        parts = []
        for comp in metric.composite.components:
            expr = self.expressions.get(comp.metric)
            parts.append((comp, expr))
        leaves = sorted({r for comp, expr in parts for r in (references(expr) if expr is not None else [comp.metric])})
        norms = [self._normaliser(comp, node) for comp, _ in parts]

        def func(X):
            values = {leaf: X[:, i] for i, leaf in enumerate(leaves)}
            total = np.zeros(X.shape[0])
            for (comp, expr), norm in zip(parts, norms):
                raw = evaluate_array(expr, values) if expr is not None else values[comp.metric]
                total = total + comp.weight * norm(raw)
            return total
        return leaves, func

    def _normaliser(self, comp, node):
        method = comp.normalize.method
        if method == "range":
            lo, hi = comp.normalize.min, comp.normalize.max
            return lambda v: np.clip((v - lo) / (hi - lo), 0.0, 1.0)
        if method == "zscore":
            mean, sd = self._zscore_moments(comp.metric, node)
            return lambda v: (v - mean) / sd if sd and np.isfinite(sd) else np.full_like(v, np.nan)
        return lambda v: v

    def _zscore_moments(self, metric_id: str, node: str) -> tuple[float, float]:
        """Mean and standard deviation of a component's periods, the ones its z-score is taken against."""
        frame = self._periods.get((metric_id, node))
        history = frame["value"].astype(float).dropna() if frame is not None else pd.Series(dtype=float)
        return float(history.mean()), float(history.std(ddof=1)) if len(history) > 1 else float("nan")

    def composed_pieces(self, metric_id: str, node: str, pair: Pair) -> list[Piece] | None:
        leaves, func = self._function(metric_id, node)
        x0 = np.array([self.period_value(leaf, node, pair.start0) for leaf in leaves])
        x1 = np.array([self.period_value(leaf, node, pair.start1) for leaf in leaves])
        v0 = self.period_value(metric_id, node, pair.start0)
        v1 = self.period_value(metric_id, node, pair.start1)
        if not (np.all(np.isfinite(x0)) and np.all(np.isfinite(x1)) and np.isfinite(v0) and np.isfinite(v1)):
            return None
        groups: list[tuple[int, str, list[Piece]]] = []
        for i, leaf in enumerate(leaves):
            pieces = self.base_pieces(leaf, node, pair)
            if pieces is None:
                return None
            by_factor: dict[str, list[Piece]] = {}
            for piece in pieces:
                factor = "component_drift" if piece.factor == "residual" else piece.factor
                by_factor.setdefault(factor, []).append(piece)
            for factor, members in by_factor.items():
                if sum(p.contribution for p in members) != 0:
                    groups.append((i, factor, members))
        moves = np.zeros((len(groups), len(leaves)))
        for g, (i, _, members) in enumerate(groups):
            moves[g, i] = sum(p.contribution for p in members)
        values = shapley(func, x0, moves, seed=0)
        paths = self._paths(metric_id)
        out: list[Piece] = []
        if len(groups) and not np.all(np.isfinite(values)):
            out.append(Piece("residual", None, v1 - v0, "the formula is undefined between the two periods' values"))
            return out
        for (i, factor, members), value in zip(groups, values):
            leaf = leaves[i]
            if factor == "component_drift":
                out.append(Piece(factor, leaf, float(value), "change of the component that no other factor explains",
                                 path=paths.get(leaf), leaf=leaf))
                continue
            raw = np.array([p.contribution for p in members])
            shares = raw / raw.sum() if raw.sum() != 0 else np.full(len(raw), 1 / len(raw))
            for piece, share in zip(members, shares):
                out.append(Piece(factor, f"{leaf}: {piece.driver}", float(value * share), piece.evidence,
                                 piece.confidence, path=paths.get(leaf), leaf=leaf))
        out.append(Piece("residual", None, (v1 - v0) - sum(p.contribution for p in out),
                         "difference between the formula's attribution and the stored values (rounding)"))
        return out

    def _paths(self, metric_id: str) -> dict[str, str]:
        """Leaf base metric -> the chain of components from ``metric_id`` down to it."""
        found: dict[str, list[str]] = {}

        def walk(name: str, trail: list[str]) -> None:
            metric = self.spec.metrics[name]
            if metric.kind == "base":
                found.setdefault(name, []).append(" <- ".join(trail))
                return
            refs = (references(self.formulas[name]) if metric.kind == "derived"
                    else [c.metric for c in metric.composite.components])
            for ref in dict.fromkeys(refs):
                walk(ref, trail + [ref])

        walk(metric_id, [metric_id])
        return {leaf: "; ".join(chains) for leaf, chains in found.items()}

    # --- one decomposition ------------------------------------------------------------

    def pieces(self, metric_id: str, node: str, pair: Pair) -> list[Piece] | None:
        metric = self.spec.metrics[metric_id]
        if metric.kind == "base":
            return self.base_pieces(metric_id, node, pair)
        if metric.kind == "qualitative":
            return self.text_pieces(metric_id, node, pair)
        if self._averaged(metric_id, metric, node):
            return self.ratio_pieces(metric_id, node, pair)
        if metric.kind == "composite":
            found = self.composite_pieces(metric_id, node, pair)
            if found is not None:
                return found
        return self.composed_pieces(metric_id, node, pair)

    def composite_pieces(self, metric_id: str, node: str, pair: Pair) -> list[Piece] | None:
        """A composite through its components: a weighted sum of normalised components, and where every
        normalisation is a straight line over the two periods' values (a z-score, none, a range both values lie
        inside) its change is exactly the sum of weight x slope x each component's change, so each component's
        own waterfall, scaled, is the composite's. None otherwise (a range clipping a value), for the Shapley
        route over base metrics, which split a ratio component (fees / net_sales) into large offsetting halves
        (a marketplace health score: +67 and -67 for a change under 2)."""
        metric = self.spec.metrics[metric_id]
        v0, v1 = self.period_value(metric_id, node, pair.start0), self.period_value(metric_id, node, pair.start1)
        if not (np.isfinite(v0) and np.isfinite(v1)):
            return None
        scaled = []
        for comp in metric.composite.components:
            slope = self._normalised_slope(comp, node, pair)
            sub = None if slope is None else self.pieces(comp.metric, node, pair)
            if sub is None:
                return None
            scaled.append((comp.metric, comp.weight * slope, sub))
        out: list[Piece] = []
        for name, scale, sub in scaled:
            for piece in sub:
                if piece.contribution == 0:
                    continue
                factor = "component_drift" if piece.factor == "residual" else piece.factor
                out.append(Piece(factor, f"{name}: {piece.driver}" if piece.driver else name,
                                 scale * piece.contribution, piece.evidence, piece.confidence,
                                 path=f"{metric_id} <- " + (piece.path or name), leaf=piece.leaf or name))
        out.append(Piece("residual", None, (v1 - v0) - sum(p.contribution for p in out),
                         "difference between the composite's stored values and its components' (rounding)"))
        return out

    def _normalised_slope(self, comp, node: str, pair: Pair) -> float | None:
        """How much the normalised component moves per unit of the component over the pair's two values, when
        that is one number: 1 as is, 1 / sd for a z-score, 1 / (max - min) for a range both values lie inside."""
        method = comp.normalize.method
        if method == "none":
            return 1.0
        if method == "zscore":
            sd = self._zscore_moments(comp.metric, node)[1]
            return 1.0 / sd if np.isfinite(sd) and sd > 0 else None
        lo, hi = comp.normalize.min, comp.normalize.max
        values = [self.period_value(comp.metric, node, start) for start in (pair.start0, pair.start1)]
        return 1.0 / (hi - lo) if all(lo <= v <= hi for v in values) else None

    def ratio_pieces(self, metric_id: str, node: str, pair: Pair) -> list[Piece] | None:
        """A ratio decomposed on its own daily series like a mean; the common movement left at the end goes to
        the components whose own change nothing explains, split by those changes' logs (the logarithmic mean
        Divisia index: a ratio's log change is its numerator's minus its denominator's).

        A component's own unexplained change is the residual of its own waterfall (its common movement beyond
        the calendar, the yearly pattern, shocks and influences): a season moving spend and orders alike
        leaves cost per order alone and is no component's. The split is made only where it reads as it
        should: both components' changes defined, their net of the common movement's sign, and neither share
        beyond twice the whole. Where both moved nearly alike the shares would be large and opposite, and
        where they point the other way they say nothing of the rest; then it stays residual, its evidence
        giving both changes."""
        pieces = self.base_pieces(metric_id, node, pair)
        if pieces is None:
            return None
        *factors, rest = pieces
        if not rest.contribution:
            return pieces
        numerator, denominator, _ = self.ratios[metric_id]
        own = {}
        for name in (numerator, denominator):
            before, theirs = self.period_value(name, node, pair.start0), self.base_pieces(name, node, pair)
            change = theirs[-1].contribution / before if theirs is not None and before > 0 else np.nan
            own[name] = np.log1p(change) if change > -1 else np.nan
        up, down = own[numerator], -own[denominator]
        moved = (f"{numerator} {np.expm1(up):+.1%}, {denominator} {np.expm1(-down):+.1%} beyond what their own "
                 "factors explain")
        net = up + down
        if not (np.isfinite(net) and net != 0 and np.sign(net) == np.sign(rest.contribution)
                and max(abs(up), abs(down)) <= 2 * abs(net)):
            return factors + [Piece("residual", rest.driver, rest.contribution, f"{rest.evidence}; {moved}, "
                                    "which does not tell which of them moved what is left")]
        paths = self._paths(metric_id)
        why = f"the ratio's common movement{f' ({rest.driver})' if rest.driver else ''}, split by log changes: {moved}"
        return factors + [Piece("component_drift", name, rest.contribution * share / net, why,
                                path=paths.get(name), leaf=name)
                          for name, share in ((numerator, up), (denominator, down)) if share != 0]

    def text_pieces(self, metric_id: str, node: str, pair: Pair) -> list[Piece] | None:
        """A qualitative metric's change: readings only exist per period, so the total's change splits into
        its read slices' mix and slice-specific changes (documents with evidence as weights) and a residual."""
        v0 = self.period_value(metric_id, node, pair.start0)
        v1 = self.period_value(metric_id, node, pair.start1)
        if not (np.isfinite(v0) and np.isfinite(v1)):
            return None
        level = self.spec.metrics[metric_id].text.level
        slices = [n for n, lvl in self.level_of.items() if lvl == level] if node == "_total" and level else []
        pieces = []
        if slices:
            def side(start):
                r = pd.Series({c: self.period_value(metric_id, c, start) for c in slices})
                w = pd.Series({c: self._text_weights.get((metric_id, c, start), 0.0) for c in slices})
                return r, w
            (r0, w0), (r1, w1) = side(pair.start0), side(pair.start1)
            drift = average_drift(r0, r1, w0, w1)
            rows = [(c, r.mix, "mix" if r.effect == "change" else r.effect) for c, r in drift.iterrows()]
            rows += [(c, r.rate, "rate") for c, r in drift.iterrows() if r.effect == "change"]
            pieces = [Piece("dimension_drift", f"{level}={self.value_of.get(c, c)} ({effect})", value,
                            f"readings of {len(slices)} {level} slices weighted by documents with evidence")
                      for c, value, effect in _beyond_rounding(rows, r0, r1)]
        pieces.append(Piece("residual", None, (v1 - v0) - sum(p.contribution for p in pieces),
                            "read from text: no daily series to split further"))
        return pieces

    def materiality(self, metric_id: str, node: str, pair: Pair, delta: float,
                    threshold: float = MATERIAL_Z) -> tuple[float | None, str]:
        """Robust z of the change against history's changes over the same distance (or one period)."""
        found = self._history.get((metric_id, node))
        if found is None:
            return None, "unknown"
        days, values = found
        history = values[:np.searchsorted(days, np.datetime64(pair.start1, "D"))]  # periods before the current
        return change_materiality(history, delta, 1 if pair.label == "previous" else YEAR_STEPS[pair.grain],
                                  short_lag=7 if pair.grain == "day" else 1, threshold=threshold)

    def decompose(self, metric_id: str, node: str, pair: Pair) -> list[dict]:
        """Waterfall rows of one metric x scope x pair (empty when a value is missing, or when the scope never
        held the base metric at all: visits under the clinic's staff rows, service=admin, were 0 -> 0 in 26 rows
        a segment, every factor "not estimated")."""
        through = int(self.positions(pair.days1)[-1]) + 1  # the data as they stood at the period's end
        if self.spec.metrics[metric_id].kind == "base" and not np.any(
                np.nan_to_num(self.values(metric_id, node)[:through])):
            return []
        pieces = self.pieces(metric_id, node, pair)
        if pieces is None:
            return []
        v0 = self.period_value(metric_id, node, pair.start0)
        v1 = self.period_value(metric_id, node, pair.start1)
        delta = v1 - v0
        z, verdict = self.materiality(metric_id, node, pair, delta)
        present = {p.factor for p in pieces}
        pieces = pieces + [Piece(f, None, 0.0, "not estimated to contribute") for f in FACTORS if f not in present]
        pieces.sort(key=lambda p: (FACTORS.index(p.factor), -abs(p.contribution), p.driver or ""))
        return [{
            "budget_id": self.spec.id, "metric_id": metric_id, "grain": pair.grain,
            "segment_level": self.level_of.get(node, "_total"), "segment_id": node,
            "period_start": pair.start1, "baseline": pair.label, "baseline_start": pair.start0,
            "value": v1, "baseline_value": v0, "delta": delta, "factor": p.factor, "driver": p.driver,
            "path": p.path, "contribution": p.contribution,
            "share_of_delta": p.contribution / delta if delta else None,
            "evidence": p.evidence, "confidence": p.confidence, "delta_z": z, "verdict": verdict,
        } for p in pieces]


def _from_natural_zero(spec: BudgetSpec, metric: Metric) -> bool:
    """Whether an average's values count from a natural zero, so that slices may share a change by a common
    percentage: a ratio's, or a mean's of a measure whose declared minimum is 0 or none; not a temperature's
    (below 0) nor a 1-5 score's (above 0: from 2 to 3 is no +50%)."""
    if metric.kind != "base" or metric.measure is None:
        return True
    low = spec.measures[metric.measure].min
    return low is None or low == 0


def _p(value: float) -> str:
    """A p-value as evidence: below double precision's resolution it is a bound, not "p=0"."""
    return "p<1e-16" if value < 1e-16 else f"p={value:.3g}"


def _stepped_on(values: np.ndarray, at: int, last: int, sign: float) -> bool:
    """Whether the daily ``values`` from position ``at`` (two weeks, to ``last`` at most) moved the ``sign`` way
    from the two weeks before it (Welch's test at ``SLICING_ALPHA``; two steady levels apart are a step)."""
    before, after = values[max(0, at - STEP_DAYS):at], values[at:min(last + 1, at + STEP_DAYS)]
    before, after = before[np.isfinite(before)], after[np.isfinite(after)]
    if len(before) < 2 or len(after) < 2 or np.sign(after.mean() - before.mean()) != sign:
        return False
    spread = np.var(before, ddof=1) / len(before) + np.var(after, ddof=1) / len(after)
    if spread == 0:
        return True
    return bool(stats.ttest_ind(after, before, equal_var=False).pvalue < SLICING_ALPHA)


def _beyond_rounding(rows: list[tuple], *values: pd.Series) -> list[tuple]:
    """Slice rows ``(slice, contribution, effect)`` whose contribution is more than rounding of the largest
    slice value in ``values``, largest contribution first."""
    sizes = np.abs(np.concatenate([np.asarray(v, dtype=float) for v in values]))
    tolerance = ROUNDING * sizes[np.isfinite(sizes)].max(initial=0.0)
    return sorted((r for r in rows if not abs(r[1]) <= tolerance), key=lambda r: (-abs(r[1]), r[0], r[2]))


def decompose_budget(spec: BudgetSpec, frames: BudgetFrames, grain: str, pairs: list[Pair],
                     metrics: list[str] | None = None, scopes: list[str] | None = None) -> list[dict]:
    """Every metric x scope x pair of one budget (defaults: all metrics, every segment node and the total)."""
    engine = DriftEngine(spec, frames, grain)
    metrics = metrics or list(spec.metrics)
    scopes = scopes or ["_total", *sorted(s for s in engine.level_of if s != "_total")]
    rows = []
    for node in scopes:
        for metric_id in metrics:
            for pair in pairs:
                rows += engine.decompose(metric_id, node, pair)
    return rows
