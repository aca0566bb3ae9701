"""Diagnostic stage: every metric's change at every scope decomposed into the five factors."""

import dataclasses
import datetime as dt
import functools
import time
from collections.abc import Callable

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.settings import Settings
from assets.warehouse import prepare, replace_table
from models.briefing.payload import FALLBACK_GRAINS
from models.drift.engine import ATTRIBUTION_COLUMNS, BudgetFrames, decompose_budget, default_pairs
from models.spec import BudgetSpec, load_specs

# |sum of contributions - delta| allowed per decomposition, relative to max(1, |delta|) (float rounding only)
ADDITIVITY_TOLERANCE = 1e-9


def load_frames(conn, spec: BudgetSpec) -> BudgetFrames:
    """The engine's grain-independent inputs for one budget (``periods`` left empty; see :func:`at_grain`)."""
    daily = conn.execute(
        "select metric_id, segment_id, period_start, value from main.metric_values "
        "where budget_id = ? and grain = 'day' and is_complete and value is not null "
        "and metric_kind <> 'system'", [spec.id]).df()  # the LLM ledger's days run past the data
    mean_measures = sorted({m.measure for m in spec.metrics.values() if m.agg == "mean"})
    weights = conn.execute(
        "select measure, segment_id, period_start, event_count as weight from main.int_node_digests "
        "where budget_id = ? and grain = 'day' and list_contains(?, measure)", [spec.id, mean_measures]).df()
    nodes = conn.execute(
        "select segment_level, segment_id, node_value, parent_id from main.dim_segments where budget_id = ?",
        [spec.id]).df()
    text_weights = conn.execute(
        "select metric_id, grain, segment_id, period_start, documents_used as weight from raw.text_metric_values "
        "where budget_id = ? and value is not null", [spec.id]).df()
    return BudgetFrames(daily=daily, periods=pd.DataFrame(), weights=weights, nodes=nodes, text_weights=text_weights)


def at_grain(conn, spec: BudgetSpec, frames: BudgetFrames, grain: str) -> BudgetFrames:
    periods = conn.execute(
        "select metric_id, segment_id, period_start, value, is_complete from main.metric_values "
        "where budget_id = ? and grain = ? and metric_kind <> 'system'", [spec.id, grain]).df()
    return dataclasses.replace(frames, periods=periods)


def latest_complete(frames: BudgetFrames):
    total = frames.periods[(frames.periods["segment_id"] == "_total") & frames.periods["is_complete"].astype(bool)]
    return pd.to_datetime(total["period_start"]).max().date() if len(total) else None


def drift_grains(spec: BudgetSpec, extra: tuple[str, ...], latest: Callable[[str], dt.date | None]) -> list[str]:
    """The grain the budget's briefing covers (its reporting grain, or while that has no complete period yet,
    the next finer one that has) plus the configured ones, finest first."""
    covered = next((g for g in FALLBACK_GRAINS[spec.reporting_grain] if latest(g) is not None), spec.reporting_grain)
    return [g for g in ("day", "week", "month") if g == covered or g in extra]


def drift_rows(conn, specs: list[BudgetSpec], extra_grains: tuple[str, ...]) -> tuple[list[dict], dict[str, float]]:
    rows, seconds = [], {}
    for spec in specs:
        started = time.perf_counter()
        shared = load_frames(conn, spec)

        @functools.cache  # each grain's values read once, and only if asked for
        def at(grain: str) -> BudgetFrames:
            return at_grain(conn, spec, shared, grain)

        @functools.cache
        def latest(grain: str) -> dt.date | None:
            return latest_complete(at(grain))

        for grain in drift_grains(spec, extra_grains, latest):
            if latest(grain) is not None:
                rows += decompose_budget(spec, at(grain), grain, default_pairs(grain, latest(grain)))
        seconds[spec.id] = round(time.perf_counter() - started, 2)
    return rows, seconds


@dg.asset(
    name="drift_attributions",
    deps=[dg.AssetKey("metric_values"), dg.AssetKey("dim_segments")],
    kinds={"python", "statsmodels", "duckdb"},
    owners=["team:analytics"],
    group_name="diagnostic",
    pool="duckdb",
    description="Why each metric changed: for every metric, every segment scope and the latest complete period "
                "(reporting grain, plus BUDGETLENS_DRIFT_GRAINS) against the previous one and the same period a year before, the change split "
                "into temporal variance, event shocks, influence drift, dimension drift, component drift and a "
                "residual, each with its driver, evidence and the change's materiality (main.drift_attributions).",
)
def drift_attributions(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    settings = Settings.from_env()
    with duckdb.get_connection() as conn:
        prepare(conn)
        rows, seconds = drift_rows(conn, load_specs(settings.specs_dir), settings.drift_grains)
        frame = pd.DataFrame(rows, columns=ATTRIBUTION_COLUMNS)
        replace_table(conn, "main.drift_attributions", frame)
    material = frame[(frame["verdict"] == "material") & (frame["segment_id"] == "_total")]
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame),
        "decompositions": int(frame.groupby(["budget_id", "metric_id", "segment_id", "baseline"]).ngroups) if len(frame) else 0,
        "seconds_per_budget": dg.MetadataValue.json(seconds),
        "material_changes_at_total": dg.MetadataValue.md(
            material.drop_duplicates(["budget_id", "metric_id", "baseline"])[
                ["budget_id", "metric_id", "baseline", "delta", "delta_z"]].round(3).to_markdown(index=False)
            if len(material) else "none"),
    })


@dg.asset_check(asset="drift_attributions", description="Every decomposition's contributions add up to its change.")
def drift_contributions_add_up(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        broken = conn.execute(f"""
            select budget_id, metric_id, segment_id, baseline, max(delta) as delta, sum(contribution) as total
            from main.drift_attributions
            group by budget_id, metric_id, grain, segment_id, period_start, baseline
            having abs(sum(contribution) - max(delta)) > {ADDITIVITY_TOLERANCE} * greatest(1, abs(max(delta)))
                or count(distinct delta) > 1
            order by 1, 2, 3, 4""").df()
        checked = conn.execute("select count(*) from main.drift_attributions").fetchone()[0]
    return dg.AssetCheckResult(
        passed=broken.empty,
        metadata={"rows_checked": checked, "decompositions_not_adding_up": len(broken),
                  "examples": dg.MetadataValue.md(broken.head(10).to_markdown(index=False) if len(broken) else "none")})
