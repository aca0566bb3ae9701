"""Storage retention: keep raw events and hourly digests bounded, whatever the event volume.

Runs after every rollup has been built, so pruning never removes something a
rollup still needs; daily, weekly and monthly digests are kept in full.
"""


import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.settings import Settings
from assets.warehouse import prepare, table_exists


def prune(conn, raw_days: int | None, hourly_days: int | None) -> dict[str, int]:
    """Delete raw events and hourly digests older than their retention (counted back from the newest day)."""
    deleted = {"raw_events": 0, "hourly_digests": 0}
    newest = conn.execute("select max(day) from raw.events").fetchone()[0]
    if newest is None:
        return deleted
    if raw_days:
        cutoff = newest - dt.timedelta(days=raw_days - 1)
        deleted["raw_events"] = conn.execute("delete from raw.events where day < ?", [cutoff]).fetchone()[0]
    if hourly_days and table_exists(conn, "main", "fct_digest_hourly"):
        cutoff = newest - dt.timedelta(days=hourly_days - 1)
        deleted["hourly_digests"] = conn.execute("delete from main.fct_digest_hourly where day < ?", [cutoff]).fetchone()[0]
    return deleted


@dg.asset(
    name="storage_retention",
    deps=[dg.AssetKey("fct_digest_weekly"), dg.AssetKey("fct_digest_monthly"), dg.AssetKey("metric_values")],
    kinds={"python", "duckdb"},
    owners=["team:data-engineering"],
    group_name="maintenance",
    pool="duckdb",
    description="Prunes raw events older than BUDGETLENS_RAW_RETENTION_DAYS and hourly digests older than "
                "BUDGETLENS_HOURLY_RETENTION_DAYS (both unset = keep everything). Daily and coarser digests are kept.",
)
def storage_retention(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    settings = Settings.from_env()
    with duckdb.get_connection() as conn:
        prepare(conn)
        deleted = prune(conn, settings.raw_retention_days, settings.hourly_retention_days)
        kept = conn.execute("select count(*) from raw.events").fetchone()[0]
    context.log.info(f"retention pruned {deleted}")
    return dg.MaterializeResult(metadata={
        **{f"deleted_{k}": v for k, v in deleted.items()},
        "raw_events_kept": kept,
        "raw_retention_days": settings.raw_retention_days or "keep all",
        "hourly_retention_days": settings.hourly_retention_days or "keep all",
    })
