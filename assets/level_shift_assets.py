"""Level shifts and episodes: the day each metric moved to a new level (or, for some weeks, to another) in the
period a budget's briefing covers or the one before it (main.level_shifts). A budget's shifts are kept while
what they read (its days to the period's end, its segments, its spec and the code) reads the same, as the drift
stage keeps its decompositions: a daily run inside a month finds the month's shifts as they were."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.drift_assets import covered_grain, grain_readers, load_frames, through_period
from assets.kept_parts import Part, code_fingerprint, stored_readings, unchanged, write_parts
from assets.settings import Settings
from assets.warehouse import prepare
from models.drift.level_shift import SHIFT_COLUMNS, budget_level_shifts
from models.fingerprint import read_frames
from models.spec import load_specs

SHIFTS, INPUTS = "main.level_shifts", "main.level_shift_inputs"
DATES, DOUBLES = ("period_start", "shift_day", "last_day"), ("level_before", "level_after", "relative_change", "z",
                                                              "level_back")
SHIFT_TYPES = {column: "date" if column in DATES else "double" if column in DOUBLES
               else "integer" if column.startswith("days_") else "varchar" for column in SHIFT_COLUMNS}


def shift_parts(conn, specs, stored) -> list[Part]:
    """Each budget's shifts at its briefing's grain, computed unless ``stored`` holds a reading of the same
    inputs."""
    parts = []
    for spec in specs:
        shared = load_frames(conn, spec)
        at, latest = grain_readers(conn, spec, shared)
        grain = covered_grain(spec, latest)
        period = latest(grain)
        if period is None:
            continue
        daily = through_period(at(grain), grain, period).daily
        inputs = read_frames([daily, shared.nodes], salt=f"{code_fingerprint(__file__)}\n{grain}\n{period}\n"
                                                          f"{spec.model_dump_json()}")
        rows = None if unchanged(stored, (spec.id, grain), inputs) else budget_level_shifts(
            spec, daily, shared.nodes, grain, period).to_dict("records")
        parts.append(Part((spec.id, grain), inputs, rows))
    return parts


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
                "once, where it is broadest without being diluted (main.level_shifts). A series without a new level "
                "may hold an episode instead: two to nine weeks at another level, then back to the one before "
                "(last_day, level_back and days_back set; level_after the level during it).",
)
def level_shifts(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    with duckdb.get_connection() as conn:
        prepare(conn)
        parts = shift_parts(conn, load_specs(Settings.from_env().specs_dir), stored_readings(conn, SHIFTS, INPUTS))
        write_parts(conn, SHIFTS, INPUTS, SHIFT_TYPES, parts)
        frame = conn.execute(f"select * from {SHIFTS} order by all").df()
    # numbers rounded by name: rounding the date columns too is a warning in pandas 3
    preview = frame[["budget_id", "metric_id", "segment_id", "shift_day", "last_day", "level_before", "level_after",
                     "z"]].round({"level_before": 4, "level_after": 4, "z": 4})
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(frame),
        "kept_unchanged": dg.MetadataValue.json([p.name for p in parts if p.rows is None]),
        "preview": dg.MetadataValue.md(preview.to_markdown(index=False)) if len(frame) else "no level shifts",
    })
