"""Prescriptive stage: optimal reallocation of each budget that declares an `optimization` section."""

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.settings import Settings
from assets.warehouse import column_definitions, prepare, replace_table, table_exists
from models.actions import ACTION_COLUMNS, evaluate_rules, rule_metrics
from models.allocation import NOT_ESTIMATED, build_problem, constraint_rows, recommendation_rows
from models.learning import action_outcomes, action_scopes, outcomes_frame, recommendation_outcomes
from models.optimize import InfeasibleAllocation, gain_interval, optimise
from models.projections import changes_as_shares, is_additive
from models.spec import load_specs

# typed, not inferred from the rows: a run with no recommendation would make columns of type NULL, and the
# log created from them could then never take a row (a budget's first allocation failing poisoned it for good)
RECOMMENDATION_TYPES = {
    "budget_id": "varchar", "basis_period": "date", "grain": "varchar", "lever_metric": "varchar",
    "objective_metric": "varchar", "segment_id": "varchar", "current": "double", "recommended": "double",
    "change": "double", "curve_form": "varchar", "curve_intercept": "double", "curve_slope": "double",
    "curve_scale": "double", "curve_slope_low95": "double", "curve_slope_high95": "double",
    "curve_observations": "bigint", "curve_demand": "double", "expected_objective_current": "double",
    "expected_objective_recommended": "double",
    "expected_gain": "double", "expected_gain_low90": "double", "expected_gain_high90": "double", "solver": "varchar",
    "provenance": "varchar", "objective_sense": "varchar", "held_reason": "varchar", "observed_low": "double",
    "observed_high": "double", "extrapolated": "boolean"}
CONSTRAINT_TYPES = {
    "budget_id": "varchar", "basis_period": "date", "constraint_name": "varchar", "limit_value": "double",
    "used": "double", "shadow_price": "double", "is_binding": "boolean", "is_bottleneck": "boolean",
    "explanation": "varchar"}


def _history(conn, spec) -> pd.DataFrame:
    """Complete periods of the levers: lever and objective columns, and one column per limited metric."""
    opt = spec.optimization
    needed = sorted({opt.lever, opt.objective, *(b.metric for b in opt.limits)})
    long = conn.execute("""
        select period_start, segment_id, metric_id, value from main.metric_values
        where budget_id = ? and grain = ? and segment_level = ? and is_complete and list_contains(?, metric_id)
        order by period_start, segment_id""", [spec.id, opt.grain, opt.level, needed]).df()
    wide = long.pivot_table(index=["period_start", "segment_id"], columns="metric_id", values="value",
                            aggfunc="first").reset_index()
    wide = wide.dropna(subset=[opt.lever, opt.objective]) if len(wide) else wide
    if not len(wide):
        return pd.DataFrame(columns=["period_start", "segment_id", "lever", "objective", *needed])
    return wide.assign(lever=wide[opt.lever], objective=wide[opt.objective]).sort_values(
        ["period_start", "segment_id"], ignore_index=True)


@dg.asset(
    name="allocation_recommendations",
    deps=[dg.AssetKey("metric_values")],
    kinds={"python", "scipy", "duckdb"},
    owners=["team:budget-owners"],
    group_name="prescriptive",
    pool="duckdb",
    description="For budgets with an `optimization` section: response curves per lever fitted on history "
                "(statsmodels), the optimal allocation (HiGHS LP, or SLSQP for diminishing returns), the expected "
                "gain with a 90% interval, and every constraint with its shadow price and the bottleneck "
                "(tables main.allocation_recommendations and main.allocation_constraints).",
)
def allocation_recommendations(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    settings = Settings.from_env()
    recommendations, constraints, notes = [], [], []
    with duckdb.get_connection() as conn:
        prepare(conn)
        for spec in [s for s in load_specs(settings.specs_dir) if s.optimization is not None]:
            basis = None
            try:
                problem, basis = build_problem(spec, _history(conn, spec))
                allocation = optimise(problem)
            except InfeasibleAllocation as err:
                notes.append(f"{spec.id}: infeasible: {', '.join(err.conflicting)}")
                constraints += [{"budget_id": spec.id, "basis_period": basis, "constraint_name": name,
                                 "limit_value": None, "used": None, "shadow_price": None, "is_binding": None,
                                 "is_bottleneck": False, "explanation": f"infeasible: {str(err)}"}
                                for name in err.conflicting]
                continue
            except ValueError as err:
                reason = str(err).removeprefix(f"{spec.id}: ")
                notes.append(f"{spec.id}: {reason}")
                # kept beside the constraints, so the briefing can say why there is no recommendation
                constraints.append({"budget_id": spec.id, "basis_period": basis, "constraint_name": NOT_ESTIMATED,
                                    "limit_value": None, "used": None, "shadow_price": None, "is_binding": None,
                                    "is_bottleneck": False, "explanation": reason})
                continue
            recommendations += recommendation_rows(spec, problem, allocation, basis, gain_interval(problem, allocation))
            constraints += constraint_rows(spec, problem, allocation, basis)
            notes.append(f"{spec.id}: gain {allocation.gain:+.1f} {problem.outcome}/{spec.optimization.grain}; "
                         + allocation.explain(problem))
        for table, rows, types in (("allocation_recommendations", recommendations, RECOMMENDATION_TYPES),
                                   ("allocation_constraints", constraints, CONSTRAINT_TYPES)):
            replace_table(conn, f"main.{table}", pd.DataFrame(rows, columns=list(types)), types)
        # every recommendation is also kept, once per basis period, so later runs can judge it
        if table_exists(conn, "main", "allocation_log") and conn.execute(
                "select count(*) from information_schema.columns where table_schema = 'main' "
                "and table_name = 'allocation_log' and data_type = '\"NULL\"'").fetchone()[0]:
            conn.execute("drop table main.allocation_log")  # typed NULL by an earlier release: it holds no value
        conn.execute(f"create table if not exists main.allocation_log ({column_definitions(RECOMMENDATION_TYPES)})")
        for column in ("objective_sense", "held_reason", "observed_low", "observed_high", "extrapolated",
                       "curve_demand"):
            # logs written before these columns existed gain them, typed as the recommendations are
            conn.execute(f"alter table main.allocation_log add column if not exists {column} "
                         f"{RECOMMENDATION_TYPES[column]}")
        conn.execute("insert into main.allocation_log by name select * from main.allocation_recommendations r where not exists "
                     "(select 1 from main.allocation_log l where l.budget_id = r.budget_id "
                     "and l.basis_period = r.basis_period and l.segment_id = r.segment_id) order by all")
    for note in notes:
        context.log.info(note)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(recommendations),
        "summary": dg.MetadataValue.md("\n".join(f"- {n}" for n in notes) or "no budget declares an optimization"),
        "recommendations": dg.MetadataValue.md(
            pd.DataFrame(recommendations, columns=list(RECOMMENDATION_TYPES))[
                ["budget_id", "segment_id", "current", "recommended", "curve_form", "expected_gain"]].round(2).to_markdown(index=False)
            if recommendations else "(none)"),
    })


ACTIONS_DDL = """
create table if not exists main.actions (
    action_key varchar primary key,
    budget_id varchar not null,
    rule_id varchar not null,
    period_grain varchar not null,
    period_start date not null,
    segment_level varchar not null,
    segment_id varchar not null,
    condition varchar not null,
    trigger_values varchar not null,
    action_type varchar not null,
    action_target varchar,
    action_amount double,
    message varchar,
    class_kind varchar not null,
    class_type varchar not null,
    class_detail varchar,
    expected_next double,
    expected_basis varchar
)
"""
# columns added after the first release: older warehouses gain them in place
ACTIONS_MIGRATIONS = ["alter table main.actions add column if not exists expected_next double",
                      "alter table main.actions add column if not exists expected_basis varchar"]

# the expected path at decision time: the forecast, made from the firing period, of the rule's first metric
# for the segment's next period (forecasts cover the total and the first BUDGETLENS_FORECAST_LEVELS levels)
EXPECTED_SQL = """
select f.action_key, fc.value as expected_next,
       'forecast at decision time (' || fc.method || ')' as expected_basis
from _fired as f
join main.metric_forecasts as fc
  on fc.budget_id = f.budget_id and fc.metric_id = json_keys(f.trigger_values::json)[1]
 and fc.grain = f.period_grain and fc.segment_id = f.segment_id and fc.origin_period = f.period_start and fc.step = 1
"""


@dg.asset(
    name="actions",
    deps=[dg.AssetKey("metric_values"), dg.AssetKey(["raw", "rules"]), dg.AssetKey("metric_forecasts")],
    kinds={"python", "duckdb"},
    owners=["team:budget-owners"],
    group_name="prescriptive",
    pool="duckdb",
    description="Spec rules evaluated on each complete period of their grain that the latest complete reporting "
                "period covers (and since), at their scope level: every firing is recorded once in main.actions (keyed by budget, rule, period and segment) "
                "with the values that triggered it and its classification (decision: programmed focus/remove or "
                "non-programmed; action: quantity more, or quality unique/best/above-par/on-par/below-par).",
)
def actions(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    settings = Settings.from_env()
    fired = []
    with duckdb.get_connection() as conn:
        prepare(conn)
        for spec in [s for s in load_specs(settings.specs_dir) if s.rules]:
            # only the metrics the rules read: the rest of the budget's values never reach pandas
            values = conn.execute(
                "select metric_id, grain, period_start, segment_level, segment_id, value, is_complete "
                "from main.metric_values where budget_id = ? and list_contains(?, metric_id) order by all",
                [spec.id, rule_metrics(spec)]).df()
            fired.append(evaluate_rules(spec, values))
        frame = pd.concat(fired, ignore_index=True) if fired else pd.DataFrame(columns=ACTION_COLUMNS)
        conn.execute(ACTIONS_DDL)
        for statement in ACTIONS_MIGRATIONS:
            conn.execute(statement)
        conn.register("_fired", frame)
        new = conn.execute("select count(*) from _fired where action_key not in (select action_key from main.actions)").fetchone()[0]
        expected = "(select null::varchar as action_key, null::double as expected_next, null::varchar as expected_basis where false)"
        if table_exists(conn, "main", "metric_forecasts"):
            expected = f"({EXPECTED_SQL})"
        conn.execute(f"insert into main.actions by name select f.*, e.expected_next, e.expected_basis from _fired as f "
                     f"left join {expected} as e using (action_key) "
                     "where f.action_key not in (select action_key from main.actions) order by f.action_key")
        conn.unregister("_fired")
        total = conn.execute("select count(*) from main.actions").fetchone()[0]
    context.log.info(f"{len(frame)} rule firing(s) this run, {new} new")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": total, "fired_this_run": len(frame), "new_actions": new,
        "fired": dg.MetadataValue.md(frame[["budget_id", "rule_id", "period_start", "segment_id", "class_kind",
                                            "class_type"]].to_markdown(index=False) if len(frame) else "(none)"),
    })


@dg.asset(
    name="decision_outcomes",
    deps=[dg.AssetKey("actions"), dg.AssetKey("allocation_recommendations")],
    kinds={"python", "duckdb"},
    owners=["team:budget-owners"],
    group_name="prescriptive",
    pool="duckdb",
    description="What followed earlier decisions (main.decision_outcomes): each logged reallocation judged on the "
                "next period (how far it was followed, observed outcome vs what the response curves expected for "
                "the spend actually made) and each rule action against the forecast it recorded at decision time "
                "(else by difference in differences against the budget total). Rebuilt each run from "
                "main.allocation_log, main.actions and metric_values.",
)
def decision_outcomes(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    settings = Settings.from_env()
    rows = []
    with duckdb.get_connection() as conn:
        prepare(conn)
        specs = load_specs(settings.specs_dir)
        if table_exists(conn, "main", "allocation_log"):
            log = conn.execute("select * from main.allocation_log order by all").df()
            realized = pd.concat([_history(conn, s).assign(budget_id=s.id) for s in specs if s.optimization is not None]
                                 or [pd.DataFrame(columns=["budget_id", "period_start", "segment_id", "lever", "objective"])])
            rows += recommendation_outcomes(log, realized)
        if table_exists(conn, "main", "actions"):
            fired = conn.execute("select * from main.actions order by all").df()
            if len(fired):
                # only the values that judge them (at 10M events 21,000 rows in 0.02 s, not 240,000 in 0.4 s)
                conn.register("_judged", action_scopes(fired))
                values = conn.execute(
                    "select budget_id, metric_id, grain, period_start, segment_level, segment_id, value, is_complete "
                    "from main.metric_values semi join _judged using (budget_id, metric_id, grain)").df()
                conn.unregister("_judged")
                # a temperature's or a score's moves are compared in its units, not as shares
                in_units = {(s.id, m) for s in specs for m, metric in s.metrics.items()
                            if not changes_as_shares(s, metric) and not is_additive(metric)}
                rows += action_outcomes(fired, values, in_units)
        frame = outcomes_frame(rows)
        replace_table(conn, "main.decision_outcomes", frame)
    for row in rows:
        context.log.info(row["summary"])
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(rows),
        "outcomes": dg.MetadataValue.md("\n".join(f"- {r['summary']}" for r in rows) or "(nothing to judge yet)"),
    })
