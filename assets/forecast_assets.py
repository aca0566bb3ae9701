"""Predictive stage: metric forecasts, goal tracking and constraint analysis, with a backtest."""

import datetime as dt

import dagster as dg
import numpy as np
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.settings import Settings
from assets.warehouse import prepare, replace_table
from models.forecasting.backtest import rolling_origin
from models.goals import track_goals
from models.projections import GRAIN_PERIODS, forecast_rows, forecast_scope, horizon_for
from models.spec import load_specs

GRAINS = ("day", "week", "month")
BACKTEST_GRAIN, BACKTEST_HORIZON, BACKTEST_ORIGINS = "week", 4, 4
FORECAST_COLUMNS = ["budget_id", "metric_id", "grain", "segment_level", "segment_id", "origin_period", "step",
                    "period_start", "period_end", "value", "lo80", "hi80", "lo95", "hi95", "method",
                    "history_points", "provenance"]
GOAL_COLUMNS = ["budget_id", "goal_id", "kind", "metric_id", "direction", "aggregation", "window_start", "deadline",
                "as_of", "days_left", "target", "observed_to_date", "projected", "projected_lo95", "projected_hi95",
                "probability", "gap", "required_daily_rate", "current_daily_rate", "current_rate_days",
                "binding_input", "status", "data_from", "unseen_days", "provenance"]
CONSTRAINT_COLUMNS = ["budget_id", "goal_id", "input_metric", "projected", "required", "required_change",
                      "historical_p95_change", "historical_max_change", "status"]


def _history(conn, spec, levels: list[str]) -> pd.DataFrame:
    frame = conn.execute(
        "select metric_id, grain, segment_level, segment_id, period_start, value from main.metric_values "
        "where budget_id = ? and is_complete and list_contains(?, segment_level) and metric_kind <> 'system' "
        "order by grain, segment_level, segment_id, metric_id, period_start", [spec.id, levels]).df()
    frame["period_start"] = pd.to_datetime(frame["period_start"]).dt.date
    return frame


def _backtest(spec, history: pd.DataFrame) -> list[dict]:
    total = history[(history.grain == BACKTEST_GRAIN) & (history.segment_level == "_total")]
    rows = []
    for metric_id, metric in spec.metrics.items():
        if metric.kind == "derived":
            continue
        series = total[total.metric_id == metric_id].sort_values("period_start")["value"].to_numpy(float)
        for model, naive in rolling_origin(series, BACKTEST_HORIZON, GRAIN_PERIODS[BACKTEST_GRAIN], BACKTEST_ORIGINS):
            rows.append({"budget_id": spec.id, "metric_id": metric_id, "mase": model, "mase_seasonal_naive": naive})
    return rows


@dg.multi_asset(
    specs=[
        dg.AssetSpec("metric_forecasts", deps=[dg.AssetKey("metric_values"), dg.AssetKey("dim_segments")],
                     kinds={"python", "statsmodels", "duckdb"},
                     owners=["team:analytics"], group_name="predictive",
                     description="Forecasts of every metric at day, week and month grain for the budget total and "
                                 "the first BUDGETLENS_FORECAST_LEVELS segment levels, to the end of the latest goal: "
                                 "value with 80% and 95% intervals, labelled predicted. Derived metrics are their "
                                 "formula applied to forecast components (main.metric_forecasts)."),
        dg.AssetSpec("goal_tracking", deps=[dg.AssetKey("metric_values")], kinds={"python", "scipy", "duckdb"},
                     owners=["team:budget-owners"], group_name="predictive",
                     description="Each goal's and allocation period's projection at its deadline, probability of "
                                 "reaching the target (staying within the allocation), gap "
                                 "and required run-rate (main.goal_tracking), and the constraint analysis: the "
                                 "input values the target requires, against the changes history has shown "
                                 "(main.goal_constraints)."),
    ],
    check_specs=[dg.AssetCheckSpec("backtest_beats_seasonal_naive", asset="metric_forecasts",
                                   description="Rolling-origin backtest on the budgets' own weekly totals: median "
                                               "MASE of the forecaster no worse than the seasonal naive's.")],
    pool="duckdb",
)
def predictive(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    settings = Settings.from_env()
    forecasts, goals, constraints, backtest = [], [], [], []
    with duckdb.get_connection() as conn:
        prepare(conn)
        for spec in load_specs(settings.specs_dir):
            levels = ["_total", *spec.segments.levels[: settings.forecast_levels]]
            nodes = [row[0] for row in conn.execute(
                "select segment_id from main.dim_segments where budget_id = ? and segment_level <> '_total'",
                [spec.id]).fetchall()]
            history = _history(conn, spec, levels)
            backtest += _backtest(spec, history)
            days = {key: rows for key, rows in history[history.grain == "day"].groupby(["segment_level", "segment_id"])}
            totals = {}  # grain -> the budget total's (history, forecasts, origin), for its goals
            for grain in GRAINS:
                at_grain = history[history.grain == grain]
                if at_grain.empty:
                    continue
                last = at_grain["period_start"].max()
                horizon = horizon_for(spec, grain, last)
                for (level, segment), scope in at_grain.groupby(["segment_level", "segment_id"], sort=True):
                    # Every scope forecasts from the same origin, so levels stay comparable.
                    scope = scope[scope.period_start <= last]
                    result = forecast_scope(spec, grain, scope, horizon, (level, segment), nodes,
                                            daily=days.get((level, segment)) if grain != "day" else None)
                    forecasts += forecast_rows(spec, grain, (level, segment), last, _from_origin(result, scope, last))
                    if level == "_total":
                        totals[grain] = (scope, result, last)
            if "day" in totals:
                scope, result, last = totals["day"]
                monthly = totals["month"][1] if "month" in totals else None
                report = track_goals(spec, scope, result, last, monthly)
                goals += report.tracking
                constraints += report.constraints
        replace_table(conn, "main.metric_forecasts", pd.DataFrame(forecasts, columns=FORECAST_COLUMNS))
        replace_table(conn, "main.goal_tracking", pd.DataFrame(goals, columns=GOAL_COLUMNS))
        replace_table(conn, "main.goal_constraints", pd.DataFrame(constraints, columns=CONSTRAINT_COLUMNS))
    scores = pd.DataFrame(backtest, columns=["budget_id", "metric_id", "mase", "mase_seasonal_naive"])
    median_model = float(scores["mase"].median()) if len(scores) else float("nan")
    median_naive = float(scores["mase_seasonal_naive"].median()) if len(scores) else float("nan")
    by_metric = scores.groupby(["budget_id", "metric_id"]).median().reset_index() if len(scores) else scores
    goal_frame = pd.DataFrame(goals, columns=GOAL_COLUMNS)
    yield dg.MaterializeResult(asset_key="metric_forecasts", metadata={
        "dagster/row_count": len(forecasts),
        "backtest_median_mase": median_model,
        "backtest_median_mase_seasonal_naive": median_naive,
        "backtest_origins": len(scores),
        "backtest": dg.MetadataValue.md(by_metric.round(3).to_markdown(index=False) if len(by_metric) else "no history"),
    })
    yield dg.MaterializeResult(asset_key="goal_tracking", metadata={
        "dagster/row_count": len(goals),
        "goals": dg.MetadataValue.md(goal_frame[["budget_id", "goal_id", "target", "projected", "probability",
                                                 "status", "binding_input"]].round(3).to_markdown(index=False)
                                     if len(goal_frame) else "no goals"),
    })
    yield dg.AssetCheckResult(
        check_name="backtest_beats_seasonal_naive", asset_key="metric_forecasts",
        passed=bool(len(scores) == 0 or median_model <= median_naive), severity=dg.AssetCheckSeverity.WARN,
        metadata={"median_mase": median_model, "median_mase_seasonal_naive": median_naive,
                  "origins": len(scores)})


def _from_origin(result, scope, last: dt.date):
    """Scopes whose history stops before the common origin (a vanished segment) get no forecast."""
    latest = scope["period_start"].max() if len(scope) else None
    return result if latest == last else {}
