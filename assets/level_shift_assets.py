"""Level shifts: the day each metric moved to a new level in the period a budget's briefing covers or the one
before it (main.level_shifts)."""

import functools

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from assets.drift_assets import at_grain, latest_complete, load_frames
from assets.settings import Settings
from assets.warehouse import prepare, replace_table
from models.briefing.payload import FALLBACK_GRAINS
from models.drift.level_shift import SHIFT_COLUMNS, budget_level_shifts
from models.spec import load_specs

SHIFT_TYPES = {column: "date" if column in ("period_start", "shift_day") else "double" if column in (
    "level_before", "level_after", "relative_change", "z") else "integer" if column.startswith("days_") else "varchar"
    for column in SHIFT_COLUMNS}


@dg.asset(
    name="level_shifts",
    deps=[dg.AssetKey("metric_values"), dg.AssetKey("dim_segments")],
    kinds={"python", "scipy", "duckdb"},
    owners=["team:analytics"],
    group_name="diagnostic",
    pool="duckdb",
    description="When each metric moved to a new level: for every metric and segment scope, the one clearest "
                "day in the briefing's period or the one before it from which the days held a new level (weekday "
                "pattern and, when real, the yearly cycle removed; tested against the days' noise, a smooth "
                "change and a passing episode); a shift seen on a scope and the scopes above or below it is told "
                "once, where it is broadest without being diluted (main.level_shifts).",
)
def level_shifts(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    frames = []
    with duckdb.get_connection() as conn:
        prepare(conn)
        for spec in load_specs(Settings.from_env().specs_dir):
            shared = load_frames(conn, spec)

            @functools.cache
            def latest(grain: str):
                return latest_complete(at_grain(conn, spec, shared, grain))

            grain = next((g for g in FALLBACK_GRAINS[spec.reporting_grain] if latest(g) is not None), None)
            if grain is not None:
                frames.append(budget_level_shifts(spec, shared.daily, shared.nodes, grain, latest(grain)))
        found = [f for f in frames if len(f)]
        frame = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=SHIFT_COLUMNS)
        replace_table(conn, "main.level_shifts", frame, SHIFT_TYPES)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame),
        "preview": dg.MetadataValue.md(frame[["budget_id", "metric_id", "segment_id", "shift_day", "level_before",
                                              "level_after", "z"]].round(4).to_markdown(index=False))
        if len(frame) else "no level shifts",
    })
