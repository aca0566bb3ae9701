"""The spec catalogue: budget specs validated and written as tables dbt reads."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from assets.catalog import write_catalog
from assets.settings import Settings
from models.catalog import CATALOG_TABLES
from models.spec import load_specs

OWNER = "team:analytics-engineering"
DESCRIPTIONS = {
    "budgets": "One row per budget spec (owner, allocation, clock, segment levels, value chain, north star).",
    "metric_catalog": "Every metric with its definition; derived formulas compiled to SQL.",
    "metric_components": "Weighted, normalised components of composite scores.",
    "metric_relationships": "Typed edges of the metrics tree (deterministic, compositional, probabilistic, causal).",
    "segment_attributes": "Attributes of segment values for query-time grouping.",
    "goals": "Goals (metric, target, deadline).",
    "rules": "Rules (condition -> action), validated at load.",
    "known_events": "Calendar of known events (launches, price changes, outages) and the public holidays of the "
                    "specs' holiday calendars.",
}


@dg.multi_asset(
    name="budget_catalog",
    specs=[dg.AssetSpec(["raw", table], description=DESCRIPTIONS[table], kinds={"python", "duckdb"},
                        owners=[OWNER], group_name="specs")
           for table in [*CATALOG_TABLES, "known_events"]],
    pool="duckdb",
    can_subset=False,
)
def budget_catalog(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    """Validate every budget spec in the spec folder and replace the catalogue tables."""
    settings = Settings.from_env()
    specs = load_specs(settings.specs_dir)
    context.log.info(f"{len(specs)} budget spec(s) from {settings.specs_dir}: {', '.join(s.id for s in specs)}")
    # holidays from the first day kept to the end of next year (forecasts reach past the data)
    last = dt.date(max(settings.history_end, dt.date.today()).year + 1, 12, 31)
    with duckdb.get_connection() as conn:
        counts = write_catalog(conn, specs, settings.history_start, last)
    for table, rows in counts.items():
        yield dg.MaterializeResult(asset_key=["raw", table], metadata={
            "dagster/row_count": rows, "spec_folder": str(settings.specs_dir)})
