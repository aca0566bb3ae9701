"""Predictive stage: metric forecasts, goal tracking and constraint analysis, with a backtest.

A grain's forecasts read the data through their origin (the last complete period) and nothing after it, so a
budget's weekly and monthly forecasts only change when a period closes, a late posting lands in one, or the
spec or code change. Their inputs' reading is stored (``main.forecast_inputs``); a run whose inputs read the
same keeps that budget and grain's rows (:mod:`assets.kept_parts`) instead of forecasting again. The backtest
reads a budget's complete weekly totals, and is kept the same way (``main.backtest_inputs``) until a week closes.
"""

import datetime as dt
from dataclasses import dataclass, field

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.kept_parts import Part, Stored, code_fingerprint, stored_readings, unchanged, write_parts
from assets.settings import Settings
from assets.warehouse import prepare, replace_table
from models.briefing.gaps import RECENT_DAYS, USUAL_DAYS, ended_segment_gaps
from models.fingerprint import read_frames
from models.forecasting.backtest import rolling_origin
from models.goals import track_goals
from models.months_to_date import SCALED, months_to_date
from models.projections import (GRAIN_PERIODS, forecast_rows, forecast_scope, horizon_for, is_additive, next_period,
                                silence_events)
from models.spec import BudgetSpec, load_specs

GRAINS = ("day", "week", "month")
GOAL_GRAINS = ("day", "month")  # the budget total's forecasts goal tracking reads
FORECASTS, FORECAST_INPUTS = "main.metric_forecasts", "main.forecast_inputs"
BACKTEST_GRAIN, BACKTEST_HORIZON, BACKTEST_ORIGINS = "week", 4, 4
BACKTEST, BACKTEST_INPUTS = "main.forecast_backtest", "main.backtest_inputs"
BACKTEST_TYPES = {"budget_id": "varchar", "metric_id": "varchar", "mase": "double", "mase_seasonal_naive": "double"}
BY_BUDGET = ("budget_id",)
FORECAST_COLUMNS = ["budget_id", "metric_id", "grain", "segment_level", "segment_id", "origin_period", "step",
                    "period_start", "period_end", "value", "lo80", "hi80", "lo95", "hi95", "method",
                    "history_points", "provenance"]
FORECAST_TYPES = {column: "date" if column in ("origin_period", "period_start", "period_end") else
                  "bigint" if column in ("step", "history_points") else
                  "double" if column in ("value", "lo80", "hi80", "lo95", "hi95") else "varchar"
                  for column in FORECAST_COLUMNS}
GOAL_COLUMNS = ["budget_id", "goal_id", "kind", "metric_id", "direction", "aggregation", "window_start", "deadline",
                "as_of", "days_left", "target", "observed_to_date", "projected", "projected_lo95", "projected_hi95",
                "probability", "gap", "required_daily_rate", "current_daily_rate", "current_rate_days",
                "binding_input", "status", "data_from", "unseen_days", "provenance"]
CONSTRAINT_COLUMNS = ["budget_id", "goal_id", "input_metric", "projected", "required", "required_change",
                      "historical_p95_change", "historical_max_change", "status"]
TO_DATE_COLUMNS = ["budget_id", "metric_id", "as_of", "period_start", "observed_to_date", "value", "lo80", "hi80",
                   "lo95", "hi95", "scale", "method", "provenance"]


def complete_history(conn, spec, levels: list[str]) -> pd.DataFrame:
    """A budget's complete periods of every grain at ``levels`` (what forecasts read, and the months bench)."""
    frame = conn.execute(
        "select metric_id, grain, segment_level, segment_id, period_start, value from main.metric_values "
        "where budget_id = ? and is_complete and list_contains(?, segment_level) and metric_kind <> 'system' "
        "order by grain, segment_level, segment_id, metric_id, period_start", [spec.id, levels]).df()
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    return frame


def daily_events(conn, spec: BudgetSpec) -> pd.DataFrame:
    """Each measure's events per day at the budget total: what a goal's mean weighs its days by (here and in
    the briefing's goals so far)."""
    frame = conn.execute(
        "select measure, period_start, event_count as events from main.int_node_digests "
        "where budget_id = ? and grain = 'day' and segment_level = '_total'", [spec.id]).df()
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    return frame


def daily_members(conn, spec: BudgetSpec) -> pd.DataFrame:
    """The members each distinct count counts, per day at the budget total (``metric_id, period_start,
    member``): a goal's window counts each member once, as metric_values' weeks and months do."""
    frames = [conn.execute(
        "select ? as metric_id, period_start, segment_id as member from main.int_node_digests "
        "where budget_id = ? and grain = 'day' and measure = ? and segment_level = ? and event_count > 0",
        [metric_id, spec.id, metric.measure, metric.of]).df()
        for metric_id, metric in spec.metrics.items() if metric.kind == "base" and metric.agg == "distinct_count"]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {"metric_id": [], "period_start": [], "member": []})
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    return frame


def _backtest(spec: BudgetSpec, history: pd.DataFrame, stored: Stored) -> Part:
    """Rolling-origin scores on the budget's complete weekly totals, kept while those read the same."""
    total = history[(history.grain == BACKTEST_GRAIN) & (history.segment_level == "_total")]
    inputs = read_frames([total], salt=f"{code_fingerprint(__file__)}\nbacktest\n{spec.model_dump_json()}")
    if unchanged(stored, (spec.id,), inputs):
        return Part((spec.id,), inputs, None)
    rows = []
    for metric_id, metric in spec.metrics.items():
        if metric.kind == "derived":
            continue
        series = total[total.metric_id == metric_id].sort_values("period_start")["value"].to_numpy(float)
        for model, naive in rolling_origin(series, BACKTEST_HORIZON, GRAIN_PERIODS[BACKTEST_GRAIN], BACKTEST_ORIGINS):
            rows.append({"budget_id": spec.id, "metric_id": metric_id, "mase": model, "mase_seasonal_naive": naive})
    return Part((spec.id,), inputs, rows)


@dg.multi_asset(
    specs=[
        dg.AssetSpec("metric_forecasts", deps=[dg.AssetKey("metric_values"), dg.AssetKey("dim_segments")],
                     kinds={"python", "statsmodels", "duckdb"},
                     owners=["team:analytics"], group_name="predictive",
                     description="Forecasts of every metric at day, week and month grain for the budget total and "
                                 "the first BUDGETLENS_FORECAST_LEVELS segment levels, to the end of the latest goal: "
                                 "value with 80% and 95% intervals, labelled predicted. Derived metrics are their "
                                 "formula applied to forecast components (main.metric_forecasts); the rolling-origin "
                                 "backtest's scores per budget and metric (main.forecast_backtest)."),
        dg.AssetSpec("goal_tracking", deps=[dg.AssetKey("metric_values"), dg.AssetKey("int_node_digests")],
                     kinds={"python", "scipy", "duckdb"},
                     owners=["team:budget-owners"], group_name="predictive",
                     description="Each goal's and allocation period's projection at its deadline, probability of "
                                 "reaching the target (staying within the allocation), gap "
                                 "and required run-rate (main.goal_tracking), and the constraint analysis: the "
                                 "input values the target requires, against the changes history has shown "
                                 "(main.goal_constraints). The budget total's summed metrics' months from the "
                                 "month in progress on, conditioned on its days so far "
                                 "(main.month_forecasts_to_date)."),
    ],
    check_specs=[dg.AssetCheckSpec("backtest_beats_seasonal_naive", asset="metric_forecasts",
                                   description="Rolling-origin backtest on the budgets' own weekly totals: median "
                                               "MASE of the forecaster no worse than the seasonal naive's.")],
    pool="duckdb",
)
def predictive(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    settings = Settings.from_env()
    with duckdb.get_connection() as conn:
        prepare(conn)
        run = forecast_budgets(conn, load_specs(settings.specs_dir), settings.forecast_levels,
                               stored_readings(conn, FORECASTS, FORECAST_INPUTS),
                               stored_readings(conn, BACKTEST, BACKTEST_INPUTS, keys=BY_BUDGET))
        write_parts(conn, FORECASTS, FORECAST_INPUTS, FORECAST_TYPES, run.parts)
        write_parts(conn, BACKTEST, BACKTEST_INPUTS, BACKTEST_TYPES, run.backtest, keys=BY_BUDGET)
        forecast_count = conn.execute(f"select count(*) from {FORECASTS}").fetchall()[0][0]
        scores = conn.execute(f"select * from {BACKTEST}").df()
        replace_table(conn, "main.goal_tracking", pd.DataFrame(run.goals, columns=GOAL_COLUMNS))
        replace_table(conn, "main.goal_constraints", pd.DataFrame(run.constraints, columns=CONSTRAINT_COLUMNS))
        replace_table(conn, "main.month_forecasts_to_date", pd.DataFrame(run.to_date, columns=TO_DATE_COLUMNS))
    median_model = float(scores["mase"].median()) if len(scores) else float("nan")
    median_naive = float(scores["mase_seasonal_naive"].median()) if len(scores) else float("nan")
    by_metric = scores.groupby(["budget_id", "metric_id"]).median().reset_index() if len(scores) else scores
    goal_frame = pd.DataFrame(run.goals, columns=GOAL_COLUMNS)
    yield dg.MaterializeResult(asset_key="metric_forecasts", metadata={
        "dagster/row_count": forecast_count,
        "kept_unchanged": dg.MetadataValue.json([p.name for p in run.parts if p.rows is None]),
        "backtest_kept_unchanged": dg.MetadataValue.json([p.name for p in run.backtest if p.rows is None]),
        "backtest_median_mase": median_model,
        "backtest_median_mase_seasonal_naive": median_naive,
        "backtest_origins": len(scores),
        "backtest": dg.MetadataValue.md(by_metric.round(3).to_markdown(index=False) if len(by_metric) else "no history"),
    })
    yield dg.MaterializeResult(asset_key="goal_tracking", metadata={
        "dagster/row_count": len(run.goals),
        "goals": dg.MetadataValue.md(goal_frame[["budget_id", "goal_id", "target", "projected", "probability",
                                                 "status", "binding_input"]].round(3).to_markdown(index=False)
                                     if len(goal_frame) else "no goals"),
    })
    yield dg.AssetCheckResult(
        check_name="backtest_beats_seasonal_naive", asset_key="metric_forecasts",
        passed=bool(len(scores) == 0 or median_model <= median_naive), severity=dg.AssetCheckSeverity.WARN,
        metadata={"median_mase": median_model, "median_mase_seasonal_naive": median_naive,
                  "origins": len(scores)})


@dataclass
class PredictiveRun:
    parts: list[Part] = field(default_factory=list)
    goals: list[dict] = field(default_factory=list)
    constraints: list[dict] = field(default_factory=list)
    backtest: list[Part] = field(default_factory=list)
    to_date: list[dict] = field(default_factory=list)


def forecast_budgets(conn, specs: list[BudgetSpec], forecast_levels: int, stored: Stored,
                     scored: Stored) -> PredictiveRun:
    """Every budget's forecasts (a part per grain; kept where ``stored`` holds a reading of the same inputs),
    goal tracking, constraints and backtest scores (a part per budget, kept where ``scored`` holds the same
    reading)."""
    run = PredictiveRun()
    for spec in specs:
        levels = ["_total", *spec.segments.levels[:forecast_levels]]
        nodes = [row[0] for row in conn.execute(
            "select segment_id from main.dim_segments where budget_id = ? and segment_level <> '_total' "
            "order by segment_id", [spec.id]).fetchall()]
        history = complete_history(conn, spec, levels)
        run.backtest.append(_backtest(spec, history, scored))
        leaf_days = recent_leaf_days(conn, spec)
        totals = {}  # grain -> the budget total's (history, forecasts, origin), for its goals
        for grain in GRAINS:
            part, total = _forecast_grain(spec, grain, history, nodes, stored, leaf_days)
            if part is not None:
                run.parts.append(part)
            if total is not None:
                totals[grain] = total
        if "day" in totals:
            scope, result, last = totals["day"]
            monthly = totals["month"][1] if "month" in totals else None
            report = track_goals(spec, scope, result, last, monthly, daily_events(conn, spec),
                                 daily_members(conn, spec))
            run.goals += report.tracking
            run.constraints += report.constraints
            if monthly:
                run.to_date += _months_to_date(spec, scope, result, monthly, last)
    return run


def _months_to_date(spec: BudgetSpec, days: pd.DataFrame, daily: dict, monthly: dict, today: dt.date) -> list[dict]:
    """The budget total's summed metrics' months from the month in progress on, conditioned on its days
    (:func:`models.months_to_date.months_to_date`): what the briefing shows of the months ahead."""
    rows = []
    for metric_id, metric in spec.metrics.items():
        if not (is_additive(metric) and metric_id in daily and metric_id in monthly):
            continue
        observed = days[(days.metric_id == metric_id) & days["value"].notna()]
        for row in months_to_date(monthly[metric_id], daily[metric_id], observed, today):
            in_progress = row["observed_to_date"] is not None
            method = (f"observed to {today.isoformat()} + daily forecast of the rest" if in_progress
                      else f"{monthly[metric_id].method}, {SCALED}")
            rows.append({"budget_id": spec.id, "metric_id": metric_id, "as_of": today, **row, "method": method,
                         "provenance": "predicted"})
    return rows


def recent_leaf_days(conn, spec: BudgetSpec) -> pd.DataFrame:
    """The leaf segments' days with events of each measure, over the days :func:`measure_gaps` and
    :func:`segment_gaps` read (and 40 more: a month's briefing searches the days to its end, up to a month before
    the last day with data)."""
    return conn.execute(
        "select segment_id, measure, day, event_count from main.fct_digest_daily where budget_id = ? "
        "and day > (select max(day) from main.fct_digest_daily where budget_id = ?) - ?",
        [spec.id, spec.id, RECENT_DAYS + USUAL_DAYS + 40]).df()


def _forecast_grain(spec: BudgetSpec, grain: str, history: pd.DataFrame, nodes: list[str], stored: Stored,
                    leaf_days: pd.DataFrame):
    """One budget's forecasts at one grain, from its last complete period: the part to write (None without
    history), and the budget total's (history, forecasts, origin) when goal tracking reads them. A part whose
    inputs read as ``stored`` says is kept, and then only the total is forecast, if the goals need it.
    ``leaf_days`` (:func:`recent_leaf_days`) tell the segments' silences over by the origin's end
    (:func:`models.briefing.gaps.ended_segment_gaps`), left out of the scopes they concern."""
    at_grain = history[history.grain == grain]
    if at_grain.empty:
        return None, None
    last = at_grain["period_start"].max()
    horizon = horizon_for(spec, grain, last)
    # a week's or month's forecast reads the days through its origin's end, nothing later; a day's reads none
    days = (history[(history.grain == "day") & (history.period_start < next_period(grain, last))]
            if grain != "day" else history.iloc[:0])
    silences = silence_events(ended_segment_gaps(leaf_days, next_period(grain, last) - dt.timedelta(days=1)),
                              spec.segments.levels)
    quiet = pd.DataFrame({"silence": [e.model_dump_json() for e in silences]})
    inputs = read_frames([at_grain, days, pd.DataFrame({"node": nodes}), quiet],
                         salt=f"{code_fingerprint(__file__)}\n{grain}\n{spec.model_dump_json()}")
    rows = None if unchanged(stored, (spec.id, grain), inputs) else []
    daily = {key: frame for key, frame in days.groupby(["segment_level", "segment_id"])}
    total = None
    for (level, segment), scope in at_grain.groupby(["segment_level", "segment_id"], sort=True):
        if rows is None and not (level == "_total" and grain in GOAL_GRAINS):
            continue
        result = forecast_scope(spec, grain, scope, horizon, (level, segment), nodes,
                                daily=daily.get((level, segment)), silences=silences)
        if rows is not None:
            # every scope forecasts from the same origin, so levels stay comparable
            rows += forecast_rows(spec, grain, (level, segment), last, _from_origin(result, scope, last))
        if level == "_total":
            total = (scope, result, last)
    return Part((spec.id, grain), inputs, rows), total


def _from_origin(result, scope, last: dt.date):
    """Scopes whose history stops before the common origin (a vanished segment) get no forecast."""
    latest = scope["period_start"].max() if len(scope) else None
    return result if latest == last else {}
