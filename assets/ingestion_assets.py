"""Daily-partitioned ingestion: demo generator or landing files -> raw tables in DuckDB."""


import json

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.ingestion import ingest_window
from assets.settings import Settings
from assets.warehouse import prepare
from models.demo.generator import ground_truth
from models.spec import load_specs

OWNER = "team:data-engineering"
# Tables the ingestion asset maintains together (one partitioned asset: Dagster records an event
# per asset and day, so six partitioned outputs would cost six times the bookkeeping).
RAW_TABLES = {
    "events": "validated events in long format (timestamp, measure, value, lowest-level segment)",
    "quarantine": "rows that failed validation, with the reason and the original record",
    "ingestion_log": "rows received, loaded and quarantined per budget, day and source",
    "ingested_days": "every day of every window ingested, whether it had events or not",
    "segment_members": "every lowest-level segment with its ancestors",
    "documents": "free-text documents (e.g. support-ticket bodies) for qualitative metrics",
    "landing_files": "landing files seen, with content fingerprint and the days they cover",
}
DESCRIPTION = ("Daily-partitioned ingestion of every budget (demo generator or landing files). Maintains "
               + "; ".join(f"raw.{table}: {text}" for table, text in RAW_TABLES.items())
               + ". A window of days is replaced whole, so re-runs are idempotent.")


def _markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)"
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(r[h]) for h in header) + " |" for r in rows]
    return "\n".join(lines)


def build_raw_events(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The ingestion asset for ``partitions_def`` (daily; a backfill runs as one window)."""

    @dg.asset(
        key=["raw", "events"],
        description=DESCRIPTION,
        kinds={"python", "duckdb"},
        owners=[OWNER],
        group_name="ingestion",
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="duckdb",
    )
    def ingest_events(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        settings = Settings.from_env()
        specs = load_specs(settings.specs_dir)
        window = context.partition_time_window
        start, end = window.start.date(), window.end.date()
        reports = []
        with duckdb.get_connection() as conn:
            prepare(conn)
            for spec in specs:
                report = ingest_window(conn, spec, start, end, landing_dir=settings.landing_dir,
                                       history_start=settings.history_start, seed=settings.demo_seed,
                                       scale=settings.demo_scale)
                documents = (f"; documents: {report.documents} loaded, {report.documents_quarantined} quarantined"
                             if report.documents or report.documents_quarantined else "")
                context.log.info(f"{spec.id}: {report.loaded} loaded, {report.quarantined} quarantined "
                                 f"of {report.received} received{documents} in {report.seconds:.1f}s")
                if report.measures_without_column:
                    context.log.warning(f"{spec.id}: no event file of {start} .. {end} has a column for "
                                        f"{', '.join(report.measures_without_column)}: nothing of it was loaded")
                reports.append(report)
            totals = {table: conn.execute(f"select count(*) from raw.{table}").fetchone()[0] for table in RAW_TABLES}
            reasons = conn.execute(
                "select budget_id, regexp_replace(reason, ':.*', '') as reason, count(*) as rows from raw.quarantine "
                "where (day >= ? and day < ?) or day is null group by all order by rows desc, reason limit 10",
                [start, end]).fetchall()
        if any(s.source.kind == "demo" for s in specs):
            write_ground_truth(settings)
        received = sum(r.received for r in reports)
        seconds = sum(r.seconds for r in reports)
        summary = [{"budget": r.budget_id, "received": r.received, "loaded": r.loaded, "quarantined": r.quarantined,
                    "duplicates": r.duplicates, "documents": r.documents, "documents_quarantined": r.documents_quarantined,
                    "sources": r.sources, "seconds": round(r.seconds, 2)} for r in reports]
        return dg.MaterializeResult(metadata={
            "window": f"{start} .. {end}",
            "received": received,
            "loaded": sum(r.loaded for r in reports),
            "quarantined": sum(r.quarantined for r in reports),
            "events_per_second": round(received / seconds) if seconds else 0,
            "ingest_seconds": round(seconds, 3),
            "dagster/row_count": totals["events"],
            "table_rows": dg.MetadataValue.md(_markdown_table([{"table": f"raw.{t}", "rows": n} for t, n in totals.items()])),
            "per_budget": dg.MetadataValue.md(_markdown_table(summary)),
            "top_quarantine_reasons": dg.MetadataValue.md(_markdown_table(
                [{"budget": b, "reason": r, "rows": n} for b, r, n in reasons])),
        })

    return ingest_events


def write_ground_truth(settings: Settings) -> None:
    """The demo's planted phenomena, beside the briefings, for tests and the curious."""
    path = settings.output_dir / "demo_ground_truth.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ground_truth(settings.demo_seed, settings.demo_scale), indent=2) + "\n", encoding="utf-8")


@dg.asset_check(asset=dg.AssetKey(["raw", "events"]), description=(
    "received = loaded + quarantined for every budget, day and source, and the log's loaded and "
    "quarantined counts match the rows in raw.events with raw.documents and in raw.quarantine (for days "
    "still retained)."))
def ingestion_reconciles(duckdb: DuckDBResource) -> dg.AssetCheckResult:
    with duckdb.get_connection() as conn:
        prepare(conn)
        unbalanced = conn.execute(
            "select count(*) from raw.ingestion_log where received <> loaded + quarantined").fetchone()[0]
        mismatched = conn.execute("""
            with logged as (
                select budget_id, day, sum(loaded) as loaded, sum(quarantined) as quarantined
                from raw.ingestion_log where day is not null group by all
            ),
            kept as (select budget_id, min(day) as first_day from raw.events group by all),
            actual_loaded as (
                select budget_id, day, count(*) as n
                from (select budget_id, day from raw.events union all select budget_id, day from raw.documents)
                group by all
            ),
            actual_quarantined as (select budget_id, day, count(*) as n from raw.quarantine where day is not null group by all)
            select count(*) from logged l
            join kept k using (budget_id)
            left join actual_loaded e using (budget_id, day)
            left join actual_quarantined q using (budget_id, day)
            where l.day >= k.first_day
              and (coalesce(e.n, 0) <> l.loaded or coalesce(q.n, 0) <> l.quarantined)""").fetchone()[0]
        received, loaded, quarantined = conn.execute(
            "select coalesce(sum(received), 0), coalesce(sum(loaded), 0), coalesce(sum(quarantined), 0) "
            "from raw.ingestion_log").fetchone()
    return dg.AssetCheckResult(
        passed=unbalanced == 0 and mismatched == 0,
        metadata={"received": int(received), "loaded": int(loaded), "quarantined": int(quarantined),
                  "unbalanced_log_rows": int(unbalanced), "days_not_matching_tables": int(mismatched)},
    )
